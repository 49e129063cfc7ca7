//! CRM: owners (agents by user id, email or owner id), a contact's owner, and the users
//! object's availability.

use serde::Deserialize;
use serde_json::json;

use super::versions::{OBJECTS, OWNERS};
use super::wire::{null_default, CrmObject, OwnerWire};
use super::{none_if_not_found, parse, segment, HubSpotApi, HubSpotError};
use crate::domain::{Agent, Contact};
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

    /// `GET {OBJECTS}/contacts/{id}?properties=hubspot_owner_id&propertiesWithHistory=
    /// hs_analytics_last_url`: the owner id, and the last page seen as of `as_of_ms` (the
    /// latest value of `hs_analytics_last_url` at or before it; contracts/
    /// hubspot-platform-2026.md: no API gives the page a chat started on). 404 (a visitor id
    /// that is no contact yet, as the thread definition warns) -> None. One call for both.
    pub async fn contact(
        &self,
        token: &Secret,
        contact_id: &str,
        as_of_ms: i64,
    ) -> Result<Option<Contact>, HubSpotError> {
        let url = format!(
            "{}{OBJECTS}/contacts/{}",
            self.base,
            segment(contact_id, "contact")?
        );
        let req = self.http.get(url).bearer_auth(token.expose()).query(&[
            ("properties", "hubspot_owner_id"),
            ("propertiesWithHistory", "hs_analytics_last_url"),
        ]);
        let Some(bytes) = none_if_not_found(self.execute("contact", req).await)? else {
            return Ok(None);
        };
        let object: CrmObject = parse("contact", &bytes)?;
        Ok(Some(Contact {
            owner_id: object.property("hubspot_owner_id"),
            last_page_seen: (as_of_ms > 0)
                .then(|| object.value_as_of("hs_analytics_last_url", as_of_ms))
                .flatten(),
        }))
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
