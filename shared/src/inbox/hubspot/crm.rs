//! CRM: owners (agents by user id, email or owner id), a contact's owner, and the users
//! object's availability.

use serde::Deserialize;
use serde_json::json;

use super::versions::{OBJECTS, OWNERS};
use super::wire::{null_default, CrmObject, OwnerWire};
use super::{none_if_not_found, parse, segment, HubSpotApi, HubSpotError};
use crate::domain::Agent;
use crate::support::secret::Secret;

impl HubSpotApi {
    /// `GET {OWNERS}/{userId}?idProperty=userId`; 404 -> None.
    pub async fn owner_by_user_id(
        &self,
        token: &Secret,
        user_id: &str,
    ) -> Result<Option<Agent>, HubSpotError> {
        let url = format!("{}{OWNERS}/{}", self.base, segment(user_id, "user")?);
        let req = self
            .http
            .get(url)
            .bearer_auth(token.expose())
            .query(&[("idProperty", "userId")]);
        let bytes = none_if_not_found(self.execute("owner_by_user_id", req).await)?;
        bytes
            .map(|b| parse::<OwnerWire>("owner_by_user_id", &b).map(Agent::from))
            .transpose()
    }

    /// `GET {OWNERS}?email=...`: the first non-archived result.
    pub async fn owner_by_email(
        &self,
        token: &Secret,
        email: &str,
    ) -> Result<Option<Agent>, HubSpotError> {
        #[derive(Deserialize)]
        struct Owners {
            #[serde(default, deserialize_with = "null_default")]
            results: Vec<OwnerWire>,
        }
        let url = format!("{}{OWNERS}", self.base);
        let req = self
            .http
            .get(url)
            .bearer_auth(token.expose())
            .query(&[("email", email)]);
        let bytes = self.execute("owner_by_email", req).await?;
        let owners: Owners = parse("owner_by_email", &bytes)?;
        Ok(owners
            .results
            .into_iter()
            .find(|o| !o.archived)
            .map(Agent::from))
    }

    /// `GET {OWNERS}/{id}`; 404 -> None.
    pub async fn owner_by_id(
        &self,
        token: &Secret,
        owner_id: &str,
    ) -> Result<Option<Agent>, HubSpotError> {
        let url = format!("{}{OWNERS}/{}", self.base, segment(owner_id, "owner")?);
        let req = self.http.get(url).bearer_auth(token.expose());
        let bytes = none_if_not_found(self.execute("owner_by_id", req).await)?;
        bytes
            .map(|b| parse::<OwnerWire>("owner_by_id", &b).map(Agent::from))
            .transpose()
    }

    /// `GET {OBJECTS}/contacts/{id}?properties=hubspot_owner_id`: the owner id; empty or
    /// 404 (e.g. a visitor id with no contact yet) -> None.
    pub async fn contact_owner_id(
        &self,
        token: &Secret,
        contact_id: &str,
    ) -> Result<Option<String>, HubSpotError> {
        let url = format!(
            "{}{OBJECTS}/contacts/{}",
            self.base,
            segment(contact_id, "contact")?
        );
        let req = self
            .http
            .get(url)
            .bearer_auth(token.expose())
            .query(&[("properties", "hubspot_owner_id")]);
        let Some(bytes) = none_if_not_found(self.execute("contact_owner_id", req).await)? else {
            return Ok(None);
        };
        let object: CrmObject = parse("contact_owner_id", &bytes)?;
        Ok(object.property("hubspot_owner_id"))
    }

    /// Sets the agent's availability on the CRM users object:
    /// `PATCH {OBJECTS}/users/{userId}?idProperty=hs_internal_user_id` with
    /// `{"properties":{"hs_availability_status":"available"|"away"}}`. `user_id` is the HubSpot
    /// user id (the number in the actor id `A-<userId>`, the owners' `userId`), which the users
    /// object stores as `hs_internal_user_id`; the object's own `id` is a different,
    /// portal-local number, hence `idProperty`.
    pub async fn set_availability(
        &self,
        token: &Secret,
        user_id: &str,
        available: bool,
    ) -> Result<(), HubSpotError> {
        let url = format!("{}{OBJECTS}/users/{}", self.base, segment(user_id, "user")?);
        let value = if available { "available" } else { "away" };
        let req = self
            .http
            .patch(url)
            .bearer_auth(token.expose())
            .query(&[("idProperty", "hs_internal_user_id")])
            .json(&json!({ "properties": { "hs_availability_status": value } }));
        self.execute("set_availability", req).await.map(drop)
    }

    /// Reads `hs_availability_status` from the CRM users object (same addressing as
    /// `set_availability`): `available` -> Some(true), `away` -> Some(false), empty, missing,
    /// another value or 404 -> None.
    pub async fn get_availability(
        &self,
        token: &Secret,
        user_id: &str,
    ) -> Result<Option<bool>, HubSpotError> {
        let url = format!("{}{OBJECTS}/users/{}", self.base, segment(user_id, "user")?);
        let req = self.http.get(url).bearer_auth(token.expose()).query(&[
            ("idProperty", "hs_internal_user_id"),
            ("properties", "hs_availability_status"),
        ]);
        let Some(bytes) = none_if_not_found(self.execute("get_availability", req).await)? else {
            return Ok(None);
        };
        let object: CrmObject = parse("get_availability", &bytes)?;
        Ok(
            match object
                .property("hs_availability_status")
                .map(|s| s.to_ascii_lowercase())
                .as_deref()
            {
                Some("available") => Some(true),
                Some("away") => Some(false),
                _ => None,
            },
        )
    }
}
