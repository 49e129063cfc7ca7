//! OAuth: the code exchange, refresh, and the portal a token belongs to.

use serde::Deserialize;

use super::wire::de_opt_id;
use super::{segment, HubSpotApi, HubSpotError};
use crate::domain::InboxTokens;
use crate::support::secret::Secret;

impl HubSpotApi {
    /// `POST /oauth/v1/token`, `grant_type=authorization_code`.
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

    /// `POST /oauth/v1/token`, `grant_type=refresh_token`. If the answer carries no
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

    /// `GET /oauth/v1/access-tokens/{token}`: the portal (`hub_id`) an access token belongs
    /// to, for a token answer that did not name it.
    pub async fn token_hub_id(&self, access_token: &Secret) -> Result<String, HubSpotError> {
        #[derive(Deserialize)]
        struct InfoWire {
            #[serde(default, deserialize_with = "de_opt_id")]
            hub_id: Option<String>,
        }
        let url = format!(
            "{}/oauth/v1/access-tokens/{}",
            self.base,
            segment(access_token.expose(), "token")?
        );
        let bytes = self.execute("token_info", self.http.get(url)).await?;
        let info: InfoWire = serde_json::from_slice(&bytes).map_err(|_| {
            HubSpotError::Unexpected("token_info: response does not have the expected shape".into())
        })?;
        info.hub_id
            .ok_or_else(|| HubSpotError::Unexpected("token_info: no hub_id".into()))
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
        let url = format!("{}/oauth/v1/token", self.base);
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
