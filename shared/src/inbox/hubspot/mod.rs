//! The `Inbox` port on HubSpot's Conversations Inbox: Conversations v3 (`conversations`),
//! owners, contacts and the users object (`crm`), the file manager (`files`), OAuth
//! (`oauth`), and HubSpot's JSON (`wire`). This file holds the transport: one request,
//! its answer classified.
//!
//! One `reqwest::Client` is shared per process; this client holds a clone of it and the base URL
//! (`https://api.hubapi.com` in production, a wiremock server in tests). No retries happen here:
//! errors are classified (`HubSpotError::is_retryable`) for the caller's queue. Tokens,
//! Authorization headers and request bodies are never logged.

use std::time::Duration;

use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::{
    Agent, Contact, Conversation, InboxError, InboxInfo, InboxTokens, Message, OutgoingMessage,
    Status,
};
use crate::inbox::Inbox;
use crate::support::http::{describe_json_error, error_chain};
use crate::support::secret::Secret;

mod conversations;
mod crm;
mod files;
mod oauth;
mod pacing;
pub mod wire;

#[cfg(test)]
mod tests;

pub use files::FILES_FOLDER;
pub use wire::{parse_message, user_id_of_actor, LIVE_CHAT_CHANNEL};

/// The adapter's errors are the port's.
pub type HubSpotError = InboxError;

/// The date-based API versions, one per API family (contracts/hubspot-platform-2026.md:
/// v1 to v3 are unsupported from September 2027; each version lives 18 months). Moving to
/// the next one is a change here. Conversations has no 2026-03; note its segment order.
pub mod versions {
    pub const CONVERSATIONS: &str = "/conversations/conversations/2026-09";
    pub const OWNERS: &str = "/crm/owners/2026-03";
    pub const OBJECTS: &str = "/crm/objects/2026-03";
    pub const FILES: &str = "/files/2026-03";
    pub const OAUTH: &str = "/oauth/2026-03";
}
use versions::*;

/// Per-request timeout (connect + response + body).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// An upload carries a whole file (up to `reply::MAX_FILE_BYTES`).
pub(crate) const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Page size for message listing.
pub(crate) const PAGE_LIMIT: &str = "100";
/// At most this many pages of messages per thread (5,000 messages).
pub(crate) const MAX_PAGES: usize = 50;
/// HubSpot error messages are kept to this many characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// Path segments keep only unreserved characters; everything else is percent-encoded, so an id
/// can never change the path or add a query.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Clone)]
pub struct HubSpotApi {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
    pacer: std::sync::Arc<pacing::Pacer>,
}

impl std::fmt::Debug for HubSpotApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotApi")
            .field("base", &self.base)
            .finish()
    }
}

impl HubSpotApi {
    pub fn new(http: reqwest::Client, base_url: &str) -> Self {
        HubSpotApi {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            timeout: REQUEST_TIMEOUT,
            pacer: Default::default(),
        }
    }

    /// Spreads this process's requests of a token over HubSpot's ten-second window, at most
    /// `per_10s` until an answer gives the window's size (0: by the headers only).
    pub fn with_budget(mut self, per_10s: u64) -> Self {
        self.pacer = std::sync::Arc::new(pacing::Pacer::with_budget(per_10s));
        self
    }

    /// Milliseconds this client has waited for rate-limit windows to roll.
    pub fn paced_ms(&self) -> u64 {
        self.pacer.waited_ms()
    }

    #[cfg(test)]
    fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(crate) fn thread_url(&self, thread_id: &str) -> Result<String, HubSpotError> {
        Ok(format!(
            "{}{CONVERSATIONS}/threads/{}",
            self.base,
            segment(thread_id, "thread")?
        ))
    }

    /// Sends a request and classifies the answer; returns the body of a 2xx answer.
    pub(crate) async fn execute(
        &self,
        op: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<bytes::Bytes, HubSpotError> {
        self.execute_within(op, req, self.timeout).await
    }

    pub(crate) async fn execute_within(
        &self,
        op: &'static str,
        req: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<bytes::Bytes, HubSpotError> {
        let req = req.timeout(timeout).build().map_err(transport)?;
        let auth = req.headers().get(reqwest::header::AUTHORIZATION).cloned();
        let slot = self.pacer.before(auth.as_ref()).await;
        let resp = self.http.execute(req).await;
        self.pacer.settle(slot);
        let resp = resp.map_err(|e| {
            let err = transport(e);
            tracing::debug!(op, error = %err, "hubspot request failed");
            err
        })?;
        self.pacer.after(auth.as_ref(), resp.headers());
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(transport)?;
        if (200..300).contains(&status) {
            tracing::debug!(op, status, "hubspot ok");
            return Ok(bytes);
        }
        let err = classify(status, &bytes);
        tracing::debug!(op, status, error = %err, "hubspot error");
        Err(err)
    }
}

#[async_trait]
impl Inbox for HubSpotApi {
    async fn conversation(&self, token: &Secret, id: &str) -> Result<Conversation, InboxError> {
        self.get_thread(token, id).await
    }
    async fn messages(
        &self,
        token: &Secret,
        conversation: &str,
    ) -> Result<Vec<Message>, InboxError> {
        self.list_messages(token, conversation).await
    }
    async fn messages_from(
        &self,
        token: &Secret,
        conversation: &str,
        from: Option<&str>,
    ) -> Result<(Vec<Message>, Option<String>), InboxError> {
        self.list_messages_from(token, conversation, from).await
    }
    async fn send(
        &self,
        token: &Secret,
        conversation: &str,
        msg: &OutgoingMessage,
    ) -> Result<Message, InboxError> {
        self.send_message(token, conversation, msg).await
    }
    async fn set_status(
        &self,
        token: &Secret,
        conversation: &str,
        status: &Status,
    ) -> Result<(), InboxError> {
        self.update_thread_status(token, conversation, status.as_str())
            .await
    }
    async fn assign(
        &self,
        token: &Secret,
        conversation: &str,
        agent_user_id: Option<&str>,
    ) -> Result<(), InboxError> {
        self.set_assignee(token, conversation, agent_user_id).await
    }
    async fn inboxes(&self, token: &Secret) -> Result<Vec<InboxInfo>, InboxError> {
        self.list_inboxes(token).await
    }
    async fn active_since(
        &self,
        token: &Secret,
        after_ms: i64,
        max: usize,
    ) -> Result<Vec<Conversation>, InboxError> {
        self.list_active_threads(token, after_ms, max).await
    }
    async fn agent_by_user_id(
        &self,
        token: &Secret,
        user_id: &str,
    ) -> Result<Option<Agent>, InboxError> {
        self.owner_by_user_id(token, user_id).await
    }
    async fn agent_by_email(
        &self,
        token: &Secret,
        email: &str,
    ) -> Result<Option<Agent>, InboxError> {
        self.owner_by_email(token, email).await
    }
    async fn agent_by_id(&self, token: &Secret, id: &str) -> Result<Option<Agent>, InboxError> {
        self.owner_by_id(token, id).await
    }
    async fn contact(
        &self,
        token: &Secret,
        contact_id: &str,
        as_of_ms: i64,
    ) -> Result<Option<Contact>, InboxError> {
        HubSpotApi::contact(self, token, contact_id, as_of_ms).await
    }
    async fn availability(
        &self,
        token: &Secret,
        user_id: &str,
    ) -> Result<Option<bool>, InboxError> {
        self.get_availability(token, user_id).await
    }
    async fn set_availability(
        &self,
        token: &Secret,
        user_id: &str,
        available: bool,
    ) -> Result<(), InboxError> {
        HubSpotApi::set_availability(self, token, user_id, available).await
    }
    async fn upload_file(
        &self,
        token: &Secret,
        name: &str,
        mimetype: Option<&str>,
        data: bytes::Bytes,
    ) -> Result<String, InboxError> {
        HubSpotApi::upload_file(self, token, name, mimetype, data).await
    }
    async fn file_size(&self, token: &Secret, file_id: &str) -> Result<Option<u64>, InboxError> {
        HubSpotApi::file_size(self, token, file_id).await
    }
    async fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &Secret,
        redirect_uri: &str,
        code: &str,
    ) -> Result<InboxTokens, InboxError> {
        HubSpotApi::exchange_code(self, client_id, client_secret, redirect_uri, code).await
    }
    async fn refresh(
        &self,
        client_id: &str,
        client_secret: &Secret,
        refresh_token: &Secret,
    ) -> Result<InboxTokens, InboxError> {
        HubSpotApi::refresh(self, client_id, client_secret, refresh_token).await
    }
    async fn token_portal(
        &self,
        client_id: &str,
        client_secret: &Secret,
        access_token: &Secret,
    ) -> Result<String, InboxError> {
        self.token_hub_id(client_id, client_secret, access_token)
            .await
    }
    async fn revoke(
        &self,
        client_id: &str,
        client_secret: &Secret,
        refresh_token: &Secret,
    ) -> Result<(), InboxError> {
        self.revoke_refresh_token(client_id, client_secret, refresh_token)
            .await
    }
}

/// Turns a non-2xx answer into an error. OAuth 2026-03 answers as RFC 6749 does (`error`,
/// `error_description`, read first); the other APIs with HubSpot's error body (`category`,
/// `subCategory`, `errors[].subCategory`, `message`; older answers `status`), and a 429 with
/// `policyName` (contracts/hubspot.md, hubspot-platform-2026.md).
fn classify(status: u16, body: &[u8]) -> HubSpotError {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct ErrorBody {
        #[serde(default)]
        error: Option<Value>,
        #[serde(default, rename = "error_description")]
        error_description: Option<Value>,
        #[serde(default)]
        status: Option<Value>,
        #[serde(default)]
        message: Option<Value>,
        #[serde(default)]
        category: Option<Value>,
        #[serde(default)]
        sub_category: Option<Value>,
        #[serde(default)]
        policy_name: Option<Value>,
        #[serde(default)]
        errors: Option<Vec<Value>>,
    }
    let text = |v: &Option<Value>| {
        v.as_ref()
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    match status {
        429 => {
            let policy = text(&parsed.policy_name).unwrap_or_else(|| "unknown".into());
            HubSpotError::RateLimited {
                daily: policy.eq_ignore_ascii_case("DAILY"),
                policy,
            }
        }
        401 => HubSpotError::Unauthorized,
        404 => HubSpotError::NotFound,
        400..=499 => {
            let detail_sub_category = parsed
                .errors
                .as_ref()
                .and_then(|e| e.first())
                .and_then(|e| e.get("subCategory"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|s| !s.is_empty());
            let category = text(&parsed.error)
                .or_else(|| text(&parsed.sub_category))
                .or(detail_sub_category)
                .or_else(|| text(&parsed.category))
                .or_else(|| text(&parsed.status).filter(|s| !s.eq_ignore_ascii_case("error")))
                .unwrap_or_else(|| "UNKNOWN".into());
            let message: String = text(&parsed.error_description)
                .or_else(|| text(&parsed.message))
                .unwrap_or_default()
                .chars()
                .take(MAX_MESSAGE_CHARS)
                .collect();
            HubSpotError::Api {
                status,
                category,
                message,
            }
        }
        500..=599 => HubSpotError::Server { status },
        _ => HubSpotError::Unexpected(format!("HTTP {status}")),
    }
}

fn transport(e: reqwest::Error) -> HubSpotError {
    HubSpotError::Transport(error_chain(e.without_url()))
}

pub(crate) fn none_if_not_found<T>(r: Result<T, HubSpotError>) -> Result<Option<T>, HubSpotError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(HubSpotError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    op: &str,
    bytes: &[u8],
) -> Result<T, HubSpotError> {
    serde_json::from_slice(bytes)
        .map_err(|e| HubSpotError::Unexpected(format!("{op}: {}", describe_json_error(&e))))
}

/// One path segment, percent-encoded; empty, `.` and `..` are refused.
pub(crate) fn segment(id: &str, what: &str) -> Result<String, HubSpotError> {
    if id.is_empty() || id == "." || id == ".." {
        return Err(HubSpotError::Unexpected(format!("invalid {what} id")));
    }
    Ok(utf8_percent_encode(id, SEGMENT).to_string())
}
