//! Slack Web API client: the handful of methods the bundle uses.
//!
//! One `reqwest::Client` is shared per process; this client only holds a clone of it and the
//! base URL (`https://slack.com/api` in production, a wiremock server in tests). No retries
//! happen here: errors are classified (`SlackError::is_retryable`) so the caller's queue can
//! decide. Tokens, Authorization headers, request bodies and URLs are never logged.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::support::http::{describe_json_error, error_chain};
use crate::support::secret::Secret;

/// Per-request timeout (connect + response + body).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A file download may take longer than an API call (files up to `reply::MAX_FILE_BYTES`).
const FILE_TIMEOUT: Duration = Duration::from_secs(30);
/// Where Slack serves files (`url_private_download`); tests point it at wiremock.
pub const DEFAULT_SLACK_FILES_URL: &str = "https://files.slack.com";

/// Slack `error` codes that are worth retrying later.
const RETRYABLE_CODES: &[&str] = &[
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// HTTP 429; `Retry-After` seconds (1 when absent or unparsable).
    #[error("slack rate limited; retry after {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    /// HTTP 200 with `ok: false`; `code` is the `error` field.
    #[error("slack api error: {code}")]
    Api { code: String },
    /// HTTP 5xx.
    #[error("slack server error: HTTP {status}")]
    Server { status: u16 },
    /// Connect, timeout or body errors (never includes the URL).
    #[error("slack request failed: {0}")]
    Transport(String),
    /// Non-JSON body, other 4xx, missing fields.
    #[error("unexpected slack response: {0}")]
    Unexpected(String),
}

impl SlackError {
    /// Whether a later retry may succeed (rate limits, server and transport failures, and the
    /// `ok:false` codes Slack uses for transient trouble).
    pub fn is_retryable(&self) -> bool {
        match self {
            SlackError::RateLimited { .. }
            | SlackError::Server { .. }
            | SlackError::Transport(_) => true,
            SlackError::Api { code } => RETRYABLE_CODES.contains(&code.as_str()),
            SlackError::Unexpected(_) => false,
        }
    }

    /// The Slack `error` code of an `Api` error.
    pub fn code(&self) -> Option<&str> {
        match self {
            SlackError::Api { code } => Some(code),
            _ => None,
        }
    }
}

/// Why a shared file could not be fetched from Slack.
#[derive(Debug, thiserror::Error)]
pub enum FileFetchError {
    /// The URL is not on Slack's file host: the bot token is never sent anywhere else.
    #[error("the file is not on Slack's file host")]
    ForeignHost,
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// Slack would not give the file (an error status, or its sign-in page instead of the
    /// file, which is what a token without `files:read` gets).
    #[error("slack did not give the file: {0}")]
    Refused(String),
    /// Rate limits, server and transport failures (`is_retryable`).
    #[error(transparent)]
    Slack(#[from] SlackError),
}

impl FileFetchError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, FileFetchError::Slack(e) if e.is_retryable())
    }
}

/// A Slack user as `users.info` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackUser {
    pub id: String,
    pub name: String,
    /// profile.display_name, else profile.real_name, else real_name, else name.
    pub display_name: String,
    /// Needs the `users:read.email` scope.
    pub email: Option<String>,
    pub is_bot: bool,
    pub deleted: bool,
    pub is_admin: bool,
    pub is_owner: bool,
}

/// A conversation as `conversations.info` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackChannel {
    pub id: String,
    /// Empty for direct messages.
    pub name: String,
    pub is_private: bool,
    pub is_archived: bool,
    pub is_member: bool,
}

/// `auth.test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthTest {
    pub team_id: String,
    pub user_id: String,
    pub bot_id: Option<String>,
}

/// `oauth.v2.access` (bot install). `Debug` redacts the token.
#[derive(Debug, Clone)]
pub struct SlackOAuth {
    pub access_token: Secret,
    pub bot_user_id: String,
    pub app_id: String,
    pub team_id: String,
    pub team_name: String,
    pub authed_user_id: String,
    pub scope: String,
    pub incoming_webhook_channel_id: Option<String>,
}

#[derive(Clone)]
pub struct SlackApi {
    http: reqwest::Client,
    base: String,
    files_base: String,
    timeout: Duration,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApi")
            .field("base", &self.base)
            .finish()
    }
}

impl SlackApi {
    pub fn new(http: reqwest::Client, base_url: &str) -> Self {
        SlackApi {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            files_base: DEFAULT_SLACK_FILES_URL.into(),
            timeout: REQUEST_TIMEOUT,
        }
    }

    /// Where shared files are fetched from (`SLACK_FILES_URL`).
    pub fn with_files_url(mut self, files_url: &str) -> Self {
        self.files_base = files_url.trim_end_matches('/').to_string();
        self
    }

    /// Whether `url` is on Slack's file host, the only place the bot token goes with a file
    /// request. A prefix match including the `/` after the host, so `files.slack.com.evil`
    /// and `files.slack.com@evil` do not pass.
    pub fn is_file_url(&self, url: &str) -> bool {
        url.strip_prefix(self.files_base.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    }

    /// GET a shared file's `url_private_download` with the bot token (scope `files:read`), at
    /// most `max_bytes` of it. `mimetype` is what Slack said the file is: an HTML answer to a
    /// file that is not HTML is Slack's sign-in page, not the file.
    pub async fn download_file(
        &self,
        token: &Secret,
        url: &str,
        mimetype: Option<&str>,
        max_bytes: u64,
    ) -> Result<bytes::Bytes, FileFetchError> {
        if !self.is_file_url(url) {
            return Err(FileFetchError::ForeignHost);
        }
        // reqwest drops the Authorization header if a redirect leaves the host.
        let mut resp = self
            .http
            .get(url)
            .bearer_auth(token.expose())
            .timeout(FILE_TIMEOUT)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        tracing::debug!(
            method = "file download",
            status = status.as_u16(),
            "slack answered"
        );
        if status.as_u16() == 429 {
            let retry_after_secs = retry_after(resp.headers());
            return Err(SlackError::RateLimited { retry_after_secs }.into());
        }
        if status.is_server_error() {
            return Err(SlackError::Server {
                status: status.as_u16(),
            }
            .into());
        }
        if !status.is_success() {
            return Err(FileFetchError::Refused(format!("HTTP {}", status.as_u16())));
        }
        let html = |m: &str| m.trim_start().to_ascii_lowercase().starts_with("text/html");
        let served_html = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(html);
        if served_html && !mimetype.is_some_and(html) {
            return Err(FileFetchError::Refused(
                "a web page instead of the file (the app may lack files:read)".into(),
            ));
        }
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(FileFetchError::TooLarge { limit: max_bytes });
        }
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if (buf.len() + chunk.len()) as u64 > max_bytes {
                return Err(FileFetchError::TooLarge { limit: max_bytes });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    #[cfg(test)]
    fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn url(&self, method: &str) -> String {
        format!("{}/{}", self.base, method)
    }

    /// POST {base}/{method} with JSON body and `Authorization: Bearer <token>`; returns the whole
    /// JSON on ok:true.
    pub async fn call(
        &self,
        method: &str,
        token: &Secret,
        body: &Value,
    ) -> Result<Value, SlackError> {
        let req = self
            .http
            .post(self.url(method))
            .bearer_auth(token.expose())
            .json(body);
        self.execute(method, req).await
    }

    /// POST form-encoded, for the read methods that take form parameters (users.info,
    /// conversations.info, ...). Same answer handling as `call`.
    pub async fn call_form(
        &self,
        method: &str,
        token: &Secret,
        form: &[(&str, &str)],
    ) -> Result<Value, SlackError> {
        let req = self
            .http
            .post(self.url(method))
            .bearer_auth(token.expose())
            .form(form);
        self.execute(method, req).await
    }

    /// chat.postMessage; returns the message `ts`. Always sends `text` (the notification
    /// fallback) and turns unfurling off; never sends `link_names` or `parse`.
    pub async fn post_message(
        &self,
        token: &Secret,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        blocks: Option<&Value>,
    ) -> Result<String, SlackError> {
        let mut body = json!({
            "channel": channel,
            "text": text,
            "unfurl_links": false,
            "unfurl_media": false,
        });
        if let Some(ts) = thread_ts {
            body["thread_ts"] = json!(ts);
        }
        if let Some(blocks) = blocks {
            body["blocks"] = blocks.clone();
        }
        let v = self.call("chat.postMessage", token, &body).await?;
        str_field(&v, "ts")
            .map(str::to_string)
            .ok_or_else(|| SlackError::Unexpected("chat.postMessage: no ts in response".into()))
    }

    /// chat.update. With `blocks: None` Slack keeps the message's previous blocks; pass
    /// `Some(&json!([]))` to remove them.
    pub async fn update_message(
        &self,
        token: &Secret,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Option<&Value>,
    ) -> Result<(), SlackError> {
        let mut body = json!({ "channel": channel, "ts": ts, "text": text });
        if let Some(blocks) = blocks {
            body["blocks"] = blocks.clone();
        }
        self.call("chat.update", token, &body).await.map(drop)
    }

    /// chat.postEphemeral.
    pub async fn post_ephemeral(
        &self,
        token: &Secret,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        text: &str,
        blocks: Option<&Value>,
    ) -> Result<(), SlackError> {
        let mut body = json!({ "channel": channel, "user": user, "text": text });
        if let Some(ts) = thread_ts {
            body["thread_ts"] = json!(ts);
        }
        if let Some(blocks) = blocks {
            body["blocks"] = blocks.clone();
        }
        self.call("chat.postEphemeral", token, &body)
            .await
            .map(drop)
    }

    /// chat.delete; `message_not_found` counts as success (already gone).
    pub async fn delete_message(
        &self,
        token: &Secret,
        channel: &str,
        ts: &str,
    ) -> Result<(), SlackError> {
        let body = json!({ "channel": channel, "ts": ts });
        match self.call("chat.delete", token, &body).await {
            Ok(_) => Ok(()),
            Err(SlackError::Api { code }) if code == "message_not_found" => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// chat.getPermalink: a link to a message (no scope needed).
    pub async fn permalink(
        &self,
        token: &Secret,
        channel: &str,
        ts: &str,
    ) -> Result<String, SlackError> {
        let v = self
            .call_form(
                "chat.getPermalink",
                token,
                &[("channel", channel), ("message_ts", ts)],
            )
            .await?;
        parse_field(&v, "permalink", "chat.getPermalink")
    }

    /// users.info.
    pub async fn user_info(&self, token: &Secret, user: &str) -> Result<SlackUser, SlackError> {
        let v = self
            .call_form("users.info", token, &[("user", user)])
            .await?;
        let wire: UserWire = parse_field(&v, "user", "users.info")?;
        Ok(wire.into_user())
    }

    /// conversations.info.
    pub async fn conversation_info(
        &self,
        token: &Secret,
        channel: &str,
    ) -> Result<SlackChannel, SlackError> {
        let v = self
            .call_form("conversations.info", token, &[("channel", channel)])
            .await?;
        let wire: ChannelWire = parse_field(&v, "channel", "conversations.info")?;
        Ok(SlackChannel {
            id: wire.id,
            name: wire.name.unwrap_or_default(),
            is_private: wire.is_private.unwrap_or(false),
            is_archived: wire.is_archived.unwrap_or(false),
            is_member: wire.is_member.unwrap_or(false),
        })
    }

    /// conversations.join (public channels only).
    pub async fn join_conversation(&self, token: &Secret, channel: &str) -> Result<(), SlackError> {
        self.call_form("conversations.join", token, &[("channel", channel)])
            .await
            .map(drop)
    }

    /// views.publish (the Home tab).
    pub async fn publish_home(
        &self,
        token: &Secret,
        user: &str,
        view: &Value,
    ) -> Result<(), SlackError> {
        let body = json!({ "user_id": user, "view": view });
        self.call("views.publish", token, &body).await.map(drop)
    }

    /// auth.test.
    pub async fn auth_test(&self, token: &Secret) -> Result<AuthTest, SlackError> {
        let v = self.call_form("auth.test", token, &[]).await?;
        let wire: AuthTestWire = serde_json::from_value(v).map_err(|e| {
            SlackError::Unexpected(format!("auth.test: {}", describe_json_error(&e)))
        })?;
        Ok(AuthTest {
            team_id: wire.team_id,
            user_id: wire.user_id,
            bot_id: wire.bot_id.filter(|s| !s.is_empty()),
        })
    }

    /// auth.revoke.
    pub async fn auth_revoke(&self, token: &Secret) -> Result<(), SlackError> {
        self.call_form("auth.revoke", token, &[]).await.map(drop)
    }

    /// oauth.v2.access with HTTP Basic client authentication (form: code, redirect_uri).
    pub async fn oauth_v2_access(
        &self,
        client_id: &str,
        client_secret: &Secret,
        code: &str,
        redirect_uri: &str,
    ) -> Result<SlackOAuth, SlackError> {
        let req = self
            .http
            .post(self.url("oauth.v2.access"))
            .basic_auth(client_id, Some(client_secret.expose()))
            .form(&[("code", code), ("redirect_uri", redirect_uri)]);
        let v = self.execute("oauth.v2.access", req).await?;
        // The answer holds the token: never put serde's text (which may quote values) in errors.
        let wire: OAuthWire = serde_json::from_value(v).map_err(|_| {
            SlackError::Unexpected(
                "oauth.v2.access: response does not have the expected shape".into(),
            )
        })?;
        let access_token = wire
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SlackError::Unexpected("oauth.v2.access: no access_token".into()))?;
        let team = wire.team.unwrap_or_default();
        let team_id = team
            .id
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SlackError::Unexpected("oauth.v2.access: no team.id".into()))?;
        Ok(SlackOAuth {
            access_token: Secret::new(access_token),
            bot_user_id: wire.bot_user_id.unwrap_or_default(),
            app_id: wire.app_id.unwrap_or_default(),
            team_id,
            team_name: team.name.unwrap_or_default(),
            authed_user_id: wire.authed_user.and_then(|u| u.id).unwrap_or_default(),
            scope: wire.scope.unwrap_or_default(),
            incoming_webhook_channel_id: wire
                .incoming_webhook
                .and_then(|w| w.channel_id)
                .filter(|c| !c.is_empty()),
        })
    }

    /// POST JSON to a `response_url` (slash commands, interactions). No token: the URL is the
    /// credential, so it is never logged. 2xx is success unless the body is JSON `ok:false`.
    pub async fn respond(&self, response_url: &str, body: &Value) -> Result<(), SlackError> {
        const WHAT: &str = "response_url";
        let resp = self
            .http
            .post(response_url)
            .json(body)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if status.as_u16() == 429 {
            let retry_after_secs = retry_after(resp.headers());
            tracing::debug!(method = WHAT, status = 429, "slack rate limited");
            return Err(SlackError::RateLimited { retry_after_secs });
        }
        let bytes = resp.bytes().await.map_err(transport)?;
        let code = error_code_of(&bytes);
        tracing::debug!(
            method = WHAT,
            status = status.as_u16(),
            code = code.as_deref(),
            "slack answered"
        );
        if status.is_server_error() {
            return Err(SlackError::Server {
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Err(SlackError::Unexpected(match code {
                Some(code) => format!("{WHAT}: HTTP {} ({code})", status.as_u16()),
                None => format!("{WHAT}: HTTP {}", status.as_u16()),
            }));
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            if v.get("ok").and_then(Value::as_bool) == Some(false) {
                return Err(SlackError::Api {
                    code: code.unwrap_or_else(|| "unknown_error".into()),
                });
            }
        }
        Ok(())
    }

    /// Sends a Web API request and classifies the answer.
    async fn execute(
        &self,
        method: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<Value, SlackError> {
        let resp = req.timeout(self.timeout).send().await.map_err(|e| {
            let err = transport(e);
            tracing::debug!(method, error = %err, "slack request failed");
            err
        })?;
        let status = resp.status();
        if status.as_u16() == 429 {
            let retry_after_secs = retry_after(resp.headers());
            tracing::debug!(method, status = 429, retry_after_secs, "slack rate limited");
            return Err(SlackError::RateLimited { retry_after_secs });
        }
        if status.is_server_error() {
            tracing::debug!(method, status = status.as_u16(), "slack server error");
            return Err(SlackError::Server {
                status: status.as_u16(),
            });
        }
        let bytes = resp.bytes().await.map_err(transport)?;
        if !status.is_success() {
            let code = error_code_of(&bytes);
            tracing::debug!(
                method,
                status = status.as_u16(),
                code = code.as_deref(),
                "slack http error"
            );
            return Err(SlackError::Unexpected(match code {
                Some(code) => format!("{method}: HTTP {} ({code})", status.as_u16()),
                None => format!("{method}: HTTP {}", status.as_u16()),
            }));
        }
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|_| SlackError::Unexpected(format!("{method}: response is not JSON")))?;
        match v.get("ok").and_then(Value::as_bool) {
            Some(true) => {
                tracing::debug!(method, status = status.as_u16(), "slack ok");
                Ok(v)
            }
            Some(false) => {
                let code = str_field(&v, "error")
                    .unwrap_or("unknown_error")
                    .to_string();
                tracing::debug!(method, status = status.as_u16(), code = %code, "slack api error");
                Err(SlackError::Api { code })
            }
            None => Err(SlackError::Unexpected(format!(
                "{method}: response has no \"ok\" field"
            ))),
        }
    }
}

/// A reqwest error as text, without the URL (which may carry a response_url or query), with
/// its source chain for context.
fn transport(e: reqwest::Error) -> SlackError {
    SlackError::Transport(error_chain(e.without_url()))
}

/// `Retry-After` in seconds; 1 when absent or unparsable (HTTP-date forms included).
fn retry_after(headers: &reqwest::header::HeaderMap) -> u64 {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1)
}

/// The Slack error code in a body: JSON `error` field, or a bare code like `expired_url`.
fn error_code_of(bytes: &[u8]) -> Option<String> {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return str_field(&v, "error").map(str::to_string);
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let looks_like_code = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    (looks_like_code && text != "ok").then(|| text.to_string())
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn parse_field<T: serde::de::DeserializeOwned>(
    v: &Value,
    key: &str,
    method: &str,
) -> Result<T, SlackError> {
    let field = v
        .get(key)
        .ok_or_else(|| SlackError::Unexpected(format!("{method}: no \"{key}\" in response")))?;
    T::deserialize(field)
        .map_err(|e| SlackError::Unexpected(format!("{method}: {}", describe_json_error(&e))))
}

#[derive(Deserialize)]
struct UserWire {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    real_name: Option<String>,
    #[serde(default)]
    deleted: Option<bool>,
    #[serde(default)]
    is_bot: Option<bool>,
    #[serde(default)]
    is_admin: Option<bool>,
    #[serde(default)]
    is_owner: Option<bool>,
    #[serde(default)]
    profile: Option<ProfileWire>,
}

#[derive(Deserialize, Default)]
struct ProfileWire {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    real_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

impl UserWire {
    fn into_user(self) -> SlackUser {
        let profile = self.profile.unwrap_or_default();
        let name = self.name.unwrap_or_default();
        let non_empty = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let display_name = non_empty(&profile.display_name)
            .or_else(|| non_empty(&profile.real_name))
            .or_else(|| non_empty(&self.real_name))
            .unwrap_or_else(|| name.clone());
        SlackUser {
            id: self.id,
            name,
            display_name,
            email: profile.email.filter(|e| !e.is_empty()),
            is_bot: self.is_bot.unwrap_or(false),
            deleted: self.deleted.unwrap_or(false),
            is_admin: self.is_admin.unwrap_or(false),
            is_owner: self.is_owner.unwrap_or(false),
        }
    }
}

#[derive(Deserialize)]
struct ChannelWire {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    is_private: Option<bool>,
    #[serde(default)]
    is_archived: Option<bool>,
    #[serde(default)]
    is_member: Option<bool>,
}

#[derive(Deserialize)]
struct AuthTestWire {
    team_id: String,
    user_id: String,
    #[serde(default)]
    bot_id: Option<String>,
}

#[derive(Deserialize)]
struct OAuthWire {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    bot_user_id: Option<String>,
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    team: Option<IdName>,
    #[serde(default)]
    authed_user: Option<IdName>,
    #[serde(default)]
    incoming_webhook: Option<WebhookWire>,
}

#[derive(Deserialize, Default)]
struct IdName {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct WebhookWire {
    #[serde(default)]
    channel_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{basic_auth, body_json, header, method, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    const TOKEN: &str = "xoxb-test-token-123";

    fn token() -> Secret {
        Secret::new(TOKEN)
    }

    async fn setup() -> (MockServer, SlackApi) {
        let server = MockServer::start().await;
        let api = SlackApi::new(reqwest::Client::new(), &server.uri());
        (server, api)
    }

    fn ok(extra: Value) -> ResponseTemplate {
        let mut body = json!({ "ok": true });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        ResponseTemplate::new(200).set_body_json(body)
    }

    /// Matches a form-encoded body with exactly these fields (any order).
    struct FormIs(Vec<(String, String)>);

    fn form_is(fields: &[(&str, &str)]) -> FormIs {
        FormIs(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    impl wiremock::Match for FormIs {
        fn matches(&self, req: &Request) -> bool {
            let is_form = req
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            let Ok(mut got) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&req.body)
            else {
                return false;
            };
            let mut want = self.0.clone();
            got.sort();
            want.sort();
            is_form && got == want
        }
    }

    fn bearer() -> wiremock::matchers::HeaderExactMatcher {
        header("authorization", format!("Bearer {TOKEN}").as_str())
    }

    #[tokio::test]
    async fn call_returns_the_whole_json() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/some.method"))
            .and(bearer())
            .and(header("content-type", "application/json"))
            .and(body_json(json!({"a": 1})))
            .respond_with(ok(json!({"x": {"y": 2}})))
            .expect(1)
            .mount(&server)
            .await;
        let v = api
            .call("some.method", &token(), &json!({"a": 1}))
            .await
            .unwrap();
        assert_eq!(v, json!({"ok": true, "x": {"y": 2}}));
    }

    #[tokio::test]
    async fn post_message_sends_fallback_text_and_no_unfurls() {
        let (server, api) = setup().await;
        let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]);
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .and(bearer())
            .and(body_json(json!({
                "channel": "C123",
                "thread_ts": "1700000000.000100",
                "text": "hi &lt;there&gt;",
                "blocks": blocks,
                "unfurl_links": false,
                "unfurl_media": false,
            })))
            .respond_with(ok(json!({"channel": "C123", "ts": "1700000001.000200"})))
            .expect(1)
            .mount(&server)
            .await;
        let ts = api
            .post_message(
                &token(),
                "C123",
                Some("1700000000.000100"),
                "hi &lt;there&gt;",
                Some(&blocks),
            )
            .await
            .unwrap();
        assert_eq!(ts, "1700000001.000200");
    }

    #[tokio::test]
    async fn post_message_top_level_without_blocks() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .and(bearer())
            .and(body_json(json!({
                "channel": "C1",
                "text": "plain",
                "unfurl_links": false,
                "unfurl_media": false,
            })))
            .respond_with(ok(json!({"ts": "1.2"})))
            .expect(1)
            .mount(&server)
            .await;
        assert_eq!(
            api.post_message(&token(), "C1", None, "plain", None)
                .await
                .unwrap(),
            "1.2"
        );
    }

    #[tokio::test]
    async fn post_message_without_ts_is_unexpected() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(ok(json!({})))
            .mount(&server)
            .await;
        let err = api
            .post_message(&token(), "C1", None, "x", None)
            .await
            .unwrap_err();
        assert!(matches!(err, SlackError::Unexpected(_)), "{err:?}");
        assert!(!err.is_retryable());
    }

    #[tokio::test]
    async fn update_message_happy_path() {
        let (server, api) = setup().await;
        let blocks = json!([{"type": "divider"}]);
        Mock::given(method("POST"))
            .and(path("/chat.update"))
            .and(bearer())
            .and(body_json(json!({
                "channel": "C1", "ts": "1.2", "text": "new", "blocks": blocks
            })))
            .respond_with(ok(json!({"channel": "C1", "ts": "1.2"})))
            .expect(1)
            .mount(&server)
            .await;
        api.update_message(&token(), "C1", "1.2", "new", Some(&blocks))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn post_ephemeral_happy_path() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/chat.postEphemeral"))
            .and(bearer())
            .and(body_json(json!({
                "channel": "C1", "user": "U1", "thread_ts": "1.2", "text": "only you"
            })))
            .respond_with(ok(json!({"message_ts": "1.3"})))
            .expect(1)
            .mount(&server)
            .await;
        api.post_ephemeral(&token(), "C1", "U1", Some("1.2"), "only you", None)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn delete_message_happy_path_and_already_gone() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/chat.delete"))
            .and(bearer())
            .and(body_json(json!({"channel": "C1", "ts": "1.2"})))
            .respond_with(ok(json!({"channel": "C1", "ts": "1.2"})))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/chat.delete"))
            .and(body_json(json!({"channel": "C1", "ts": "9.9"})))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": false, "error": "message_not_found"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/chat.delete"))
            .and(body_json(json!({"channel": "C1", "ts": "8.8"})))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": false, "error": "cant_delete_message"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        api.delete_message(&token(), "C1", "1.2").await.unwrap();
        api.delete_message(&token(), "C1", "9.9").await.unwrap();
        let err = api.delete_message(&token(), "C1", "8.8").await.unwrap_err();
        assert_eq!(err.code(), Some("cant_delete_message"));
    }

    #[tokio::test]
    async fn user_info_posts_a_form_and_parses_the_user() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/users.info"))
            .and(bearer())
            .and(form_is(&[("user", "U123")]))
            .respond_with(ok(json!({"user": {
                "id": "U123", "team_id": "T1", "name": "ana", "real_name": "Ana Real",
                "deleted": false, "is_bot": false, "is_admin": true, "is_owner": false,
                "tz": "Europe/Lisbon",
                "profile": {"display_name": "", "real_name": "Ana Profile", "email": "ana@example.com"}
            }})))
            .expect(1)
            .mount(&server)
            .await;
        let user = api.user_info(&token(), "U123").await.unwrap();
        assert_eq!(
            user,
            SlackUser {
                id: "U123".into(),
                name: "ana".into(),
                display_name: "Ana Profile".into(),
                email: Some("ana@example.com".into()),
                is_bot: false,
                deleted: false,
                is_admin: true,
                is_owner: false,
            }
        );
    }

    #[test]
    fn display_name_fallbacks() {
        let parse = |v: Value| serde_json::from_value::<UserWire>(v).unwrap().into_user();
        let u = parse(json!({"id": "U1", "name": "n", "real_name": "R",
            "profile": {"display_name": "D", "real_name": "P"}}));
        assert_eq!(u.display_name, "D");
        let u = parse(
            json!({"id": "U1", "name": "n", "real_name": "R", "profile": {"display_name": ""}}),
        );
        assert_eq!(u.display_name, "R");
        // Bots and old accounts may omit nearly everything.
        let u = parse(json!({"id": "B1", "name": "bot", "is_bot": true}));
        assert_eq!(u.display_name, "bot");
        assert!(u.is_bot && u.email.is_none() && !u.deleted);
    }

    #[tokio::test]
    async fn conversation_info_parses_the_channel() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/conversations.info"))
            .and(bearer())
            .and(form_is(&[("channel", "C9")]))
            .respond_with(ok(json!({"channel": {
                "id": "C9", "name": "support", "is_channel": true, "is_private": true,
                "is_archived": false, "is_member": true, "created": 1449252889
            }})))
            .expect(1)
            .mount(&server)
            .await;
        let ch = api.conversation_info(&token(), "C9").await.unwrap();
        assert_eq!(
            ch,
            SlackChannel {
                id: "C9".into(),
                name: "support".into(),
                is_private: true,
                is_archived: false,
                is_member: true,
            }
        );
    }

    #[tokio::test]
    async fn join_conversation_happy_path() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/conversations.join"))
            .and(bearer())
            .and(form_is(&[("channel", "C9")]))
            .respond_with(ok(json!({"channel": {"id": "C9"}})))
            .expect(1)
            .mount(&server)
            .await;
        api.join_conversation(&token(), "C9").await.unwrap();
    }

    #[tokio::test]
    async fn publish_home_happy_path() {
        let (server, api) = setup().await;
        let view = json!({"type": "home", "blocks": [{"type": "divider"}]});
        Mock::given(method("POST"))
            .and(path("/views.publish"))
            .and(bearer())
            .and(body_json(json!({"user_id": "U1", "view": view})))
            .respond_with(ok(json!({"view": {"id": "V1"}})))
            .expect(1)
            .mount(&server)
            .await;
        api.publish_home(&token(), "U1", &view).await.unwrap();
    }

    #[tokio::test]
    async fn auth_test_happy_path() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/auth.test"))
            .and(bearer())
            .respond_with(ok(json!({
                "url": "https://x.slack.com/", "team": "X", "user": "bot",
                "team_id": "T1", "user_id": "U0BOT", "bot_id": "B1", "is_enterprise_install": false
            })))
            .expect(1)
            .mount(&server)
            .await;
        let a = api.auth_test(&token()).await.unwrap();
        assert_eq!(
            a,
            AuthTest {
                team_id: "T1".into(),
                user_id: "U0BOT".into(),
                bot_id: Some("B1".into()),
            }
        );
    }

    #[tokio::test]
    async fn auth_revoke_happy_path() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/auth.revoke"))
            .and(bearer())
            .respond_with(ok(json!({"revoked": true})))
            .expect(1)
            .mount(&server)
            .await;
        api.auth_revoke(&token()).await.unwrap();
    }

    #[tokio::test]
    async fn oauth_v2_access_uses_basic_auth_and_redacts_the_token() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/oauth.v2.access"))
            .and(basic_auth("123.456", "client-secret-xyz"))
            .and(form_is(&[
                ("code", "the-code"),
                ("redirect_uri", "https://example.com/slack/oauth"),
            ]))
            .respond_with(ok(json!({
                "access_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
                "token_type": "bot",
                "scope": "commands,chat:write",
                "bot_user_id": "U0KRQLJ9H",
                "app_id": "A0KRD7HC3",
                "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"},
                "enterprise": null,
                "is_enterprise_install": false,
                "authed_user": {"id": "U1234", "scope": "", "token_type": "user"},
                "incoming_webhook": {"channel": "#support", "channel_id": "C05002EAE",
                    "configuration_url": "https://x", "url": "https://hooks.slack.com/x"}
            })))
            .expect(1)
            .mount(&server)
            .await;
        let secret = Secret::new("client-secret-xyz");
        let o = api
            .oauth_v2_access(
                "123.456",
                &secret,
                "the-code",
                "https://example.com/slack/oauth",
            )
            .await
            .unwrap();
        assert_eq!(
            o.access_token.expose(),
            "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
        );
        assert_eq!(o.bot_user_id, "U0KRQLJ9H");
        assert_eq!(o.app_id, "A0KRD7HC3");
        assert_eq!(o.team_id, "T9TK3CUKW");
        assert_eq!(o.team_name, "Slack Softball Team");
        assert_eq!(o.authed_user_id, "U1234");
        assert_eq!(o.scope, "commands,chat:write");
        assert_eq!(o.incoming_webhook_channel_id.as_deref(), Some("C05002EAE"));
        let dbg = format!("{o:?}");
        assert!(!dbg.contains("xoxb-"), "{dbg}");
        // No bearer token was sent, only the client credentials.
        let reqs = server.received_requests().await.unwrap();
        let auth = reqs[0]
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(auth.starts_with("Basic "));
    }

    #[tokio::test]
    async fn oauth_v2_access_invalid_code() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/oauth.v2.access"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": false, "error": "invalid_code"})),
            )
            .mount(&server)
            .await;
        let err = api
            .oauth_v2_access("1", &Secret::new("s"), "c", "https://r")
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("invalid_code"));
        assert!(!err.is_retryable());
    }

    #[tokio::test]
    async fn respond_posts_json_to_the_response_url() {
        let (server, api) = setup().await;
        let body = json!({"response_type": "ephemeral", "text": "done", "replace_original": true});
        Mock::given(method("POST"))
            .and(path("/commands/T1/123/abc"))
            .and(body_json(body.clone()))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/commands/T1/123/expired"))
            .respond_with(ResponseTemplate::new(404).set_body_string("expired_url"))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/commands/T1/123/broken"))
            .respond_with(ResponseTemplate::new(500))
            .mount(&server)
            .await;
        let base = server.uri();
        api.respond(&format!("{base}/commands/T1/123/abc"), &body)
            .await
            .unwrap();
        // No token is attached to response_url calls.
        let reqs = server.received_requests().await.unwrap();
        assert!(reqs[0].headers.get("authorization").is_none());
        let err = api
            .respond(&format!("{base}/commands/T1/123/expired"), &body)
            .await
            .unwrap_err();
        match &err {
            SlackError::Unexpected(m) => {
                assert!(m.contains("404") && m.contains("expired_url"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert!(!err.is_retryable());
        let err = api
            .respond(&format!("{base}/commands/T1/123/broken"), &body)
            .await
            .unwrap_err();
        assert!(matches!(err, SlackError::Server { status: 500 }));
    }

    #[tokio::test]
    async fn http_429_is_rate_limited_with_retry_after() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/chat.update"))
            .respond_with(ResponseTemplate::new(429))
            .mount(&server)
            .await;
        let err = api
            .post_message(&token(), "C1", None, "x", None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SlackError::RateLimited {
                    retry_after_secs: 7
                }
            ),
            "{err:?}"
        );
        assert!(err.is_retryable());
        let err = api
            .update_message(&token(), "C1", "1.2", "x", None)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            SlackError::RateLimited {
                retry_after_secs: 1
            }
        ));
    }

    #[tokio::test]
    async fn ok_false_is_an_api_error_with_its_code() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": false, "error": "not_in_channel"})),
            )
            .mount(&server)
            .await;
        let err = api
            .post_message(&token(), "C1", None, "x", None)
            .await
            .unwrap_err();
        assert!(matches!(&err, SlackError::Api { code } if code == "not_in_channel"));
        assert_eq!(err.code(), Some("not_in_channel"));
        assert!(!err.is_retryable());
        assert_eq!(err.to_string(), "slack api error: not_in_channel");
    }

    #[test]
    fn transient_api_codes_are_retryable() {
        for code in RETRYABLE_CODES {
            assert!(SlackError::Api {
                code: code.to_string()
            }
            .is_retryable());
        }
        assert!(!SlackError::Api {
            code: "invalid_auth".into()
        }
        .is_retryable());
        assert!(!SlackError::Unexpected("x".into()).is_retryable());
        assert_eq!(SlackError::Server { status: 502 }.code(), None);
    }

    #[tokio::test]
    async fn http_503_is_a_server_error() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(ResponseTemplate::new(503).set_body_string("<html>down</html>"))
            .mount(&server)
            .await;
        let err = api
            .post_message(&token(), "C1", None, "x", None)
            .await
            .unwrap_err();
        assert!(matches!(err, SlackError::Server { status: 503 }), "{err:?}");
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn other_4xx_and_non_json_are_unexpected() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(ResponseTemplate::new(400).set_body_string("bad"))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/chat.update"))
            .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
            .mount(&server)
            .await;
        let err = api
            .post_message(&token(), "C1", None, "x", None)
            .await
            .unwrap_err();
        assert!(matches!(err, SlackError::Unexpected(_)), "{err:?}");
        assert!(!err.is_retryable());
        let err = api
            .update_message(&token(), "C1", "1", "x", None)
            .await
            .unwrap_err();
        assert!(matches!(err, SlackError::Unexpected(_)), "{err:?}");
    }

    #[tokio::test]
    async fn connection_refused_is_a_retryable_transport_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let api = SlackApi::new(
            reqwest::Client::new(),
            &format!("http://127.0.0.1:{port}/api"),
        );
        let err = api
            .post_message(&token(), "C1", None, "x", None)
            .await
            .unwrap_err();
        assert!(matches!(err, SlackError::Transport(_)), "{err:?}");
        assert!(err.is_retryable());
        let text = err.to_string();
        assert!(
            !text.contains(TOKEN) && !text.contains("127.0.0.1"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_slow_answer_within_the_timeout_succeeds() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(ok(json!({"ts": "5.5"})).set_delay(Duration::from_millis(1500)))
            .mount(&server)
            .await;
        let ts = api
            .post_message(&token(), "C1", None, "x", None)
            .await
            .unwrap();
        assert_eq!(ts, "5.5");
    }

    #[tokio::test]
    async fn a_timeout_is_a_retryable_transport_error() {
        let (server, api) = setup().await;
        let api = api.with_timeout(Duration::from_millis(200));
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(ok(json!({"ts": "5.5"})).set_delay(Duration::from_millis(1000)))
            .mount(&server)
            .await;
        let err = api
            .post_message(&token(), "C1", None, "x", None)
            .await
            .unwrap_err();
        assert!(matches!(err, SlackError::Transport(_)), "{err:?}");
        assert!(err.is_retryable());
    }

    #[test]
    fn debug_of_the_client_shows_no_secrets() {
        let api = SlackApi::new(reqwest::Client::new(), "https://slack.com/api/");
        assert_eq!(api.base, "https://slack.com/api");
        assert!(format!("{api:?}").contains("slack.com"));
    }

    #[test]
    fn the_token_goes_with_file_requests_to_slacks_file_host_only() {
        let api = SlackApi::new(reqwest::Client::new(), "https://slack.com/api");
        assert!(api.is_file_url("https://files.slack.com/files-pri/T1-F1/download/a.png"));
        for url in [
            "https://files.slack.com.evil.example/x",
            "https://files.slack.com@evil.example/x",
            "http://files.slack.com/x",
            "https://files.slack.com",
            "https://evil.example/https://files.slack.com/x",
            "",
        ] {
            assert!(!api.is_file_url(url), "{url}");
        }
        let local = api.with_files_url("http://127.0.0.1:9/");
        assert!(local.is_file_url("http://127.0.0.1:9/files-pri/a"));
        assert!(!local.is_file_url("http://127.0.0.1:90/files-pri/a"));
    }

    #[tokio::test]
    async fn a_file_is_downloaded_with_the_bot_token_within_the_limit() {
        let (server, api) = setup().await;
        let api = api.with_files_url(&server.uri());
        Mock::given(method("GET"))
            .and(path("/files-pri/T1-F1/download/a.png"))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_raw(vec![7u8; 300], "image/png"))
            .mount(&server)
            .await;
        let url = format!("{}/files-pri/T1-F1/download/a.png", server.uri());
        let got = api
            .download_file(&token(), &url, Some("image/png"), 1000)
            .await
            .unwrap();
        assert_eq!(got.as_ref(), &[7u8; 300][..]);
        // Over the limit: refused, whether or not the length is announced.
        assert!(matches!(
            api.download_file(&token(), &url, Some("image/png"), 299)
                .await,
            Err(FileFetchError::TooLarge { limit: 299 })
        ));
        // Elsewhere: nothing is requested there at all.
        let other = MockServer::start().await;
        let foreign = format!("{}/files-pri/T1-F1/download/a.png", other.uri());
        assert!(matches!(
            api.download_file(&token(), &foreign, None, 1000).await,
            Err(FileFetchError::ForeignHost)
        ));
        assert!(other.received_requests().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn slacks_sign_in_page_and_errors_are_not_taken_for_the_file() {
        let (server, api) = setup().await;
        let api = api.with_files_url(&server.uri());
        let answer = |status: u16, ctype: &str| {
            ResponseTemplate::new(status).set_body_raw("<html>sign in</html>", ctype)
        };
        for (p, r) in [
            ("/page", answer(200, "text/html; charset=utf-8")),
            ("/gone", answer(404, "text/plain")),
            (
                "/busy",
                answer(429, "text/plain").insert_header("retry-after", "7"),
            ),
            ("/down", answer(503, "text/plain")),
        ] {
            Mock::given(method("GET"))
                .and(path(p))
                .respond_with(r)
                .mount(&server)
                .await;
        }
        let get = |p: &str, mime: Option<&'static str>| {
            let url = format!("{}{p}", server.uri());
            let api = api.clone();
            async move { api.download_file(&token(), &url, mime, 1000).await }
        };
        let page = get("/page", Some("application/pdf")).await.unwrap_err();
        assert!(matches!(page, FileFetchError::Refused(_)) && !page.is_retryable());
        // An HTML file is an HTML file.
        assert!(get("/page", Some("text/html")).await.is_ok());
        let gone = get("/gone", None).await.unwrap_err();
        assert!(matches!(gone, FileFetchError::Refused(_)) && !gone.is_retryable());
        let busy = get("/busy", None).await.unwrap_err();
        assert!(
            matches!(
                busy,
                FileFetchError::Slack(SlackError::RateLimited {
                    retry_after_secs: 7
                })
            ) && busy.is_retryable()
        );
        assert!(get("/down", None).await.unwrap_err().is_retryable());
    }
}
