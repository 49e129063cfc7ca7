//! OAuth 2026-03 (contracts/hubspot-platform-2026.md; v1 ends on 2027-02-16): the code
//! exchange, refresh, introspection (the portal a token belongs to) and revocation, all
//! `POST`s of a form with the client's credentials in the body, never a token in a URL.

use serde::Deserialize;

use super::versions::OAUTH;
use super::wire::de_opt_id;
use super::{HubSpotApi, HubSpotError};
use crate::domain::InboxTokens;
use crate::support::secret::Secret;

impl HubSpotApi {
    /// `POST /oauth/2026-03/token`, `grant_type=authorization_code`.
    pub async fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &Secret,
        redirect_uri: &str,
        code: &str,
    ) -> Result<InboxTokens, HubSpotError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("client_secret", client_secret.expose()),
            ("redirect_uri", redirect_uri),
            ("code", code),
        ];
        self.token_request("exchange_code", &form, None).await
    }

    /// `POST /oauth/2026-03/token`, `grant_type=refresh_token`. If the answer carries no
    /// refresh token, the one passed in stays valid and is returned.
    pub async fn refresh(
        &self,
        client_id: &str,
        client_secret: &Secret,
        refresh_token: &Secret,
    ) -> Result<InboxTokens, HubSpotError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("client_secret", client_secret.expose()),
            ("refresh_token", refresh_token.expose()),
        ];
        self.token_request("refresh", &form, Some(refresh_token))
            .await
    }

    /// `POST /oauth/2026-03/token/introspect`: the portal (`hub_id`) an access token
    /// belongs to, for a token answer that did not name it. An inactive token is refused.
    pub async fn token_hub_id(
        &self,
        client_id: &str,
        client_secret: &Secret,
        access_token: &Secret,
    ) -> Result<String, HubSpotError> {
        #[derive(Deserialize)]
        struct InfoWire {
            #[serde(default)]
            active: Option<bool>,
            #[serde(default, deserialize_with = "de_opt_id")]
            hub_id: Option<String>,
        }
        let form = [
            ("client_id", client_id),
            ("client_secret", client_secret.expose()),
            ("token", access_token.expose()),
            ("token_type_hint", "access_token"),
        ];
        let req = self
            .http
            .post(format!("{}{OAUTH}/token/introspect", self.base))
            .form(&form);
        let bytes = self.execute("token_introspect", req).await?;
        let info: InfoWire = serde_json::from_slice(&bytes).map_err(|_| {
            HubSpotError::Unexpected(
                "token_introspect: response does not have the expected shape".into(),
            )
        })?;
        if info.active == Some(false) {
            return Err(HubSpotError::Unexpected(
                "token_introspect: the token is not active".into(),
            ));
        }
        info.hub_id
            .ok_or_else(|| HubSpotError::Unexpected("token_introspect: no hub_id".into()))
    }

    /// `POST /oauth/2026-03/token/revoke` for a refresh token (a disconnect: the portal's
    /// grant ends at HubSpot too). Any 2xx is success (the definition names none).
    pub async fn revoke_refresh_token(
        &self,
        client_id: &str,
        client_secret: &Secret,
        refresh_token: &Secret,
    ) -> Result<(), HubSpotError> {
        let form = [
            ("client_id", client_id),
            ("client_secret", client_secret.expose()),
            ("token", refresh_token.expose()),
            ("token_type_hint", "refresh_token"),
        ];
        let req = self
            .http
            .post(format!("{}{OAUTH}/token/revoke", self.base))
            .form(&form);
        self.execute("token_revoke", req).await.map(drop)
    }

    async fn token_request(
        &self,
        op: &'static str,
        form: &[(&str, &str)],
        previous_refresh: Option<&Secret>,
    ) -> Result<InboxTokens, HubSpotError> {
        #[derive(Deserialize)]
        struct TokenWire {
            #[serde(default)]
            access_token: Option<String>,
            #[serde(default)]
            refresh_token: Option<String>,
            #[serde(default)]
            expires_in: Option<i64>,
            #[serde(default, deserialize_with = "de_opt_id")]
            hub_id: Option<String>,
        }
        let url = format!("{}{OAUTH}/token", self.base);
        let req = self.http.post(url).form(form);
        let bytes = self.execute(op, req).await?;
        // The answer holds tokens: never put serde's text (which may quote values) in errors.
        let wire: TokenWire = serde_json::from_slice(&bytes).map_err(|_| {
            HubSpotError::Unexpected(format!(
                "{op}: token response does not have the expected shape"
            ))
        })?;
        let access_token = wire
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| HubSpotError::Unexpected(format!("{op}: no access_token")))?;
        let refresh_token = match wire.refresh_token.filter(|t| !t.is_empty()) {
            Some(t) => Secret::new(t),
            None => previous_refresh
                .cloned()
                .ok_or_else(|| HubSpotError::Unexpected(format!("{op}: no refresh_token")))?,
        };
        Ok(InboxTokens {
            access_token: Secret::new(access_token),
            refresh_token,
            expires_in: wire.expires_in.unwrap_or(1800),
            portal_id: wire.hub_id,
        })
    }
}
