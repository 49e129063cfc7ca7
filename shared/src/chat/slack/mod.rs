//! Slack Web API client: the handful of methods the bundle uses.
//!
//! One `reqwest::Client` is shared per process; this client only holds a clone of it and the
//! base URL (`https://slack.com/api` in production, a wiremock server in tests). No retries
//! happen here: errors are classified (`SlackError::is_retryable`) so the caller's queue can
//! decide. Tokens, Authorization headers, request bodies and URLs are never logged.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::http::{describe_json_error, error_chain};
use crate::support::secret::Secret;

/// Per-request timeout (connect + response + body).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A file download may take longer than an API call (files up to `reply::MAX_FILE_BYTES`).
const FILE_TIMEOUT: Duration = Duration::from_secs(30);
/// Where Slack serves files (`url_private_download`); tests point it at wiremock.
/// A random key for one post (16 hex chars).
fn post_key() -> String {
    let mut b = [0u8; 8];
    // A key that cannot be random still tells posts apart within a run.
    if getrandom::fill(&mut b).is_err() {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        b = N
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_be_bytes();
    }
    hex::encode(b)
}

/// The message metadata type of the app's posts that carry a key (`post_message_keyed`).
pub const METADATA_EVENT: &str = "hubspot_inbox_post";
pub const DEFAULT_SLACK_FILES_URL: &str = "https://files.slack.com";

mod errors;
mod pacing;
#[cfg(test)]
mod tests;
mod wire;

pub use errors::*;
pub use pacing::SlackLimits;
use wire::*;
pub use wire::{AuthTest, SlackChannel, SlackOAuth, SlackRenewed, SlackUser};

#[derive(Clone)]
pub struct SlackApi {
    http: reqwest::Client,
    base: String,
    files_base: String,
    timeout: Duration,
    pacer: std::sync::Arc<pacing::Pacer>,
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
            pacer: std::sync::Arc::new(pacing::Pacer::new(SlackLimits::default())),
        }
    }

    /// Paces posts and updates by these rates instead of Slack's published ones.
    pub fn with_limits(mut self, limits: SlackLimits) -> Self {
        self.pacer = std::sync::Arc::new(pacing::Pacer::new(limits));
        self
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
        let channel = body.get("channel").and_then(Value::as_str);
        match self
            .pacer
            .reserve(token.expose(), method, channel, std::time::Instant::now())
        {
            Ok(wait) if wait.is_zero() => {}
            Ok(wait) => {
                tracing::debug!(method, wait_ms = wait.as_millis() as u64, "slack pacing");
                tokio::time::sleep(wait).await;
            }
            // Too long to wait here: the queue tries again then.
            Err(retry_after_secs) => return Err(SlackError::RateLimited { retry_after_secs }),
        }
        let req = self
            .http
            .post(self.url(method))
            .bearer_auth(token.expose())
            .json(body);
        let res = self.execute(method, req).await;
        if let Err(SlackError::RateLimited { retry_after_secs }) = &res {
            self.pacer.closed(
                token.expose(),
                method,
                channel,
                *retry_after_secs,
                std::time::Instant::now(),
            );
        }
        res
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
        // `fatal_error` may have posted (contracts/slack.md): each post carries a key, and
        // after that error the channel (or thread) is checked for it before the caller's
        // retry posts again.
        let key = post_key();
        match self
            .post_message_keyed(token, channel, thread_ts, text, blocks, Some(&key))
            .await
        {
            Err(e) if e.code() == Some("fatal_error") => {
                match self.find_posted(token, channel, thread_ts, &key).await {
                    Ok(Some(ts)) => {
                        tracing::warn!(channel, ts = %ts, "slack answered fatal_error but had posted; not posted again");
                        Ok(ts)
                    }
                    Ok(None) => Err(e),
                    Err(check) => {
                        tracing::warn!(channel, error = %check, "could not check a post after fatal_error");
                        Err(e)
                    }
                }
            }
            other => other,
        }
    }

    /// chat.postMessage carrying `key` in its message metadata, so that after a
    /// `fatal_error` (which may have posted, contracts/slack.md) `find_posted` can tell
    /// whether it did before the post is tried again.
    pub async fn post_message_keyed(
        &self,
        token: &Secret,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        blocks: Option<&Value>,
        key: Option<&str>,
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
        if let Some(key) = key {
            body["metadata"] = json!({"event_type": METADATA_EVENT, "event_payload": {"key": key}});
        }
        let v = self.call("chat.postMessage", token, &body).await?;
        str_field(&v, "ts")
            .map(str::to_string)
            .ok_or_else(|| SlackError::Unexpected("chat.postMessage: no ts in response".into()))
    }

    /// chat.postMessage as a thread reply also sent to the channel (`reply_broadcast`), for
    /// what the whole channel must see (an escalation). Mentions in `text` are Slack's own
    /// syntax (`<!here>`, `<!subteam^ID>`), put there by the caller, never user text.
    pub async fn post_broadcast(
        &self,
        token: &Secret,
        channel: &str,
        thread_ts: &str,
        text: &str,
    ) -> Result<String, SlackError> {
        let body = json!({
            "channel": channel,
            "thread_ts": thread_ts,
            "reply_broadcast": true,
            "text": text,
            "unfurl_links": false,
            "unfurl_media": false,
        });
        let v = self.call("chat.postMessage", token, &body).await?;
        str_field(&v, "ts")
            .map(str::to_string)
            .ok_or_else(|| SlackError::Unexpected("chat.postMessage: no ts in response".into()))
    }

    /// The ts of the app's message carrying `key` (see `post_message_keyed`): among a
    /// thread's replies (`conversations.replies`) or the channel's latest messages
    /// (`conversations.history`, the last 100), with their metadata. None when not there.
    pub async fn find_posted(
        &self,
        token: &Secret,
        channel: &str,
        thread_ts: Option<&str>,
        key: &str,
    ) -> Result<Option<String>, SlackError> {
        let v = match thread_ts {
            Some(ts) => {
                self.call_form(
                    "conversations.replies",
                    token,
                    &[
                        ("channel", channel),
                        ("ts", ts),
                        ("limit", "200"),
                        ("include_all_metadata", "true"),
                    ],
                )
                .await?
            }
            None => {
                self.call_form(
                    "conversations.history",
                    token,
                    &[
                        ("channel", channel),
                        ("limit", "100"),
                        ("include_all_metadata", "true"),
                    ],
                )
                .await?
            }
        };
        Ok(v["messages"].as_array().and_then(|ms| {
            ms.iter()
                .find(|m| {
                    m.pointer("/metadata/event_type").and_then(Value::as_str)
                        == Some(METADATA_EVENT)
                        && m.pointer("/metadata/event_payload/key")
                            .and_then(Value::as_str)
                            == Some(key)
                })
                .and_then(|m| m["ts"].as_str().map(str::to_string))
        }))
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
    /// `files.info` (scope `files:read`): a file shared from a Slack Connect channel, which
    /// the message event describes only by id (`file_access: check_file_info`). A file
    /// Slack hides or keeps elsewhere comes back without a URL.
    pub async fn file_info(
        &self,
        token: &Secret,
        file: &str,
    ) -> Result<crate::domain::SlackFile, SlackError> {
        let v = self
            .call_form("files.info", token, &[("file", file)])
            .await?;
        let mut f = crate::domain::SlackFile::from_slack(&v["file"]);
        if f.id.is_empty() {
            f.id = file.to_string();
        }
        // Described now: nothing more to ask of files.info.
        f.check_info = false;
        Ok(f)
    }

    /// users.lookupByEmail (scope `users:read.email`): the member with that email, or None
    /// (`users_not_found`).
    pub async fn lookup_by_email(
        &self,
        token: &Secret,
        email: &str,
    ) -> Result<Option<SlackUser>, SlackError> {
        match self
            .call_form("users.lookupByEmail", token, &[("email", email)])
            .await
        {
            Ok(v) => {
                let wire: UserWire = parse_field(&v, "user", "users.lookupByEmail")?;
                Ok(Some(wire.into_user()))
            }
            Err(SlackError::Api { code }) if code == "users_not_found" => Ok(None),
            Err(e) => Err(e),
        }
    }

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
            is_ext_shared: wire.is_ext_shared.unwrap_or(false)
                || wire.is_pending_ext_shared.unwrap_or(false),
        })
    }

    /// conversations.join (public channels only).
    pub async fn join_conversation(&self, token: &Secret, channel: &str) -> Result<(), SlackError> {
        self.call_form("conversations.join", token, &[("channel", channel)])
            .await
            .map(drop)
    }

    /// usergroups.list (scope `usergroups:read`): the workspace's user groups that are not
    /// disabled, as (id, handle), for the escalation target.
    pub async fn user_groups(&self, token: &Secret) -> Result<Vec<(String, String)>, SlackError> {
        let v = self.call_form("usergroups.list", token, &[]).await?;
        let groups = v
            .get("usergroups")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|g| g.get("date_delete").and_then(Value::as_i64).unwrap_or(0) == 0)
                    .filter_map(|g| {
                        let id = g.get("id")?.as_str()?;
                        let handle = g.get("handle").and_then(Value::as_str).unwrap_or(id);
                        crate::domain::is_user_group_id(id)
                            .then(|| (id.to_string(), handle.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(groups)
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
            refresh_token: wire
                .refresh_token
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            expires_in: wire.expires_in.filter(|e| *e > 0),
        })
    }

    /// Renews a rotating bot token: `oauth.v2.access` with `grant_type=refresh_token` (client
    /// credentials by HTTP Basic, as for the code exchange). Slack answers a new access token
    /// and a new refresh token; the old refresh token is spent.
    pub async fn oauth_v2_refresh(
        &self,
        client_id: &str,
        client_secret: &Secret,
        refresh_token: &Secret,
    ) -> Result<SlackRenewed, SlackError> {
        let req = self
            .http
            .post(self.url("oauth.v2.access"))
            .basic_auth(client_id, Some(client_secret.expose()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
            ]);
        let v = self.execute("oauth.v2.access", req).await?;
        let wire: OAuthWire = serde_json::from_value(v).map_err(|_| {
            SlackError::Unexpected(
                "oauth.v2.access (refresh): response does not have the expected shape".into(),
            )
        })?;
        match (wire.access_token, wire.refresh_token, wire.expires_in) {
            (Some(a), Some(r), Some(e)) if !a.is_empty() && !r.is_empty() && e > 0 => {
                Ok(SlackRenewed {
                    access_token: Secret::new(a),
                    refresh_token: Secret::new(r),
                    expires_in: e,
                })
            }
            _ => Err(SlackError::Unexpected(
                "oauth.v2.access (refresh): no access_token, refresh_token or expires_in".into(),
            )),
        }
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
