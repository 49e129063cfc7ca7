//! HubSpot client: Conversations v3 (threads, messages, actors), owners, contacts, the CRM
//! users object (agent availability) and OAuth tokens.
//!
//! One `reqwest::Client` is shared per process; this client holds a clone of it and the base URL
//! (`https://api.hubapi.com` in production, a wiremock server in tests). No retries happen here:
//! errors are classified (`HubSpotError::is_retryable`) for the caller's queue. Tokens,
//! Authorization headers and request bodies are never logged.
//!
//! Parsing is lenient: HubSpot omits fields its spec calls required and sends ids sometimes as
//! numbers, sometimes as strings.

use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use crate::support::http::{describe_json_error, error_chain};
use crate::support::secret::Secret;

/// Per-request timeout (connect + response + body).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// An upload carries a whole file (up to `reply::MAX_FILE_BYTES`).
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// The file manager folder agents' files from Slack are uploaded to (created on first use).
pub const FILES_FOLDER: &str = "/conversations-from-slack";
/// Page size for message listing.
const PAGE_LIMIT: &str = "100";
/// At most this many pages of messages per thread (5,000 messages).
const MAX_PAGES: usize = 50;
/// HubSpot error messages are kept to this many characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// Path segments keep only unreserved characters; everything else is percent-encoded, so an id
/// can never change the path or add a query.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, thiserror::Error)]
pub enum HubSpotError {
    /// HTTP 429 (`errorType: RATE_LIMIT`, `policyName`).
    #[error("hubspot rate limited ({policy})")]
    RateLimited { policy: String },
    /// HTTP 401: expired or revoked token (refresh, then retry).
    #[error("hubspot rejected the token (401)")]
    Unauthorized,
    /// HTTP 404.
    #[error("hubspot: not found")]
    NotFound,
    /// Other 4xx. `category` = errors[0].subCategory, else `category`, else a non-"error"
    /// `status` (OAuth errors like BAD_REFRESH_TOKEN); `message` = `message`.
    #[error("hubspot api error: HTTP {status}: {category}")]
    Api {
        status: u16,
        category: String,
        message: String,
    },
    /// HTTP 5xx.
    #[error("hubspot server error: HTTP {status}")]
    Server { status: u16 },
    /// Connect, timeout or body errors (never includes the URL).
    #[error("hubspot request failed: {0}")]
    Transport(String),
    /// Unparsable body, wrong status class, missing fields.
    #[error("unexpected hubspot response: {0}")]
    Unexpected(String),
}

impl HubSpotError {
    /// Whether a later retry may succeed: rate limits, server and transport failures.
    /// (`Unauthorized` needs a token refresh first, which the caller does.)
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            HubSpotError::RateLimited { .. }
                | HubSpotError::Server { .. }
                | HubSpotError::Transport(_)
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Types

/// A conversations inbox.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inbox {
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub archived: bool,
}

/// A conversations thread.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thread {
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    /// `OPEN` or `CLOSED`.
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    #[serde(default, deserialize_with = "null_default")]
    pub archived: bool,
    #[serde(default, deserialize_with = "de_opt_id")]
    pub inbox_id: Option<String>,
    /// A contact id, or a visitor id when no contact exists yet.
    #[serde(default, deserialize_with = "de_opt_id")]
    pub associated_contact_id: Option<String>,
    /// `1000` for live chat.
    #[serde(default, deserialize_with = "de_opt_id")]
    pub original_channel_id: Option<String>,
    #[serde(default, deserialize_with = "de_opt_id")]
    pub original_channel_account_id: Option<String>,
    /// An actor id like `A-2620022`.
    #[serde(default, deserialize_with = "de_opt_id")]
    pub assigned_to: Option<String>,
    #[serde(default, deserialize_with = "de_opt_id")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "de_opt_id")]
    pub latest_message_timestamp: Option<String>,
}

/// One message of a thread (any type: MESSAGE, COMMENT, WELCOME_MESSAGE, ASSIGNMENT, ...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "MessageWire")]
pub struct Message {
    pub id: String,
    pub type_: String,
    /// RFC 3339 text as sent.
    pub created_at: String,
    /// `created_at` in milliseconds since the epoch; 0 if unparsable.
    pub created_at_ms: i64,
    pub text: Option<String>,
    pub rich_text: Option<String>,
    /// `INCOMING` (from the visitor) or `OUTGOING` (from an agent).
    pub direction: Option<String>,
    pub channel_id: Option<String>,
    pub channel_account_id: Option<String>,
    pub senders: Vec<Participant>,
    pub recipients: Vec<Participant>,
    pub client: Option<MessageClient>,
    pub attachments: Vec<Value>,
    /// Fetch `.../original-content` when not `NOT_TRUNCATED`.
    pub truncation_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageWire {
    #[serde(deserialize_with = "de_id")]
    id: String,
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    type_: String,
    #[serde(default, deserialize_with = "de_opt_id")]
    created_at: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    rich_text: Option<String>,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default, deserialize_with = "de_opt_id")]
    channel_id: Option<String>,
    #[serde(default, deserialize_with = "de_opt_id")]
    channel_account_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    senders: Vec<Participant>,
    #[serde(default, deserialize_with = "null_default")]
    recipients: Vec<Participant>,
    #[serde(default)]
    client: Option<MessageClient>,
    #[serde(default, deserialize_with = "null_default")]
    attachments: Vec<Value>,
    #[serde(default)]
    truncation_status: Option<String>,
}

impl From<MessageWire> for Message {
    fn from(w: MessageWire) -> Self {
        let created_at = w.created_at.unwrap_or_default();
        let created_at_ms = timestamp_ms(&created_at);
        Message {
            id: w.id,
            type_: w.type_,
            created_at,
            created_at_ms,
            text: w.text,
            rich_text: w.rich_text,
            direction: w.direction,
            channel_id: w.channel_id,
            channel_account_id: w.channel_account_id,
            senders: w.senders,
            recipients: w.recipients,
            client: w.client,
            attachments: w.attachments,
            truncation_status: w.truncation_status,
        }
    }
}

/// `client` of a message: `INTEGRATION` with our app id means we sent it (echo prevention).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageClient {
    /// HUBSPOT, INTEGRATION, SYSTEM or UNKNOWN.
    #[serde(default)]
    pub client_type: Option<String>,
    #[serde(default, deserialize_with = "de_opt_id")]
    pub integration_app_id: Option<String>,
}

/// A sender or recipient of a message. Also the recipient of an `OutgoingMessage`, where it
/// serializes as `{actorId, deliveryIdentifiers}` (`name` and the singular
/// `deliveryIdentifier` are left out when None).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// `A-<userId>`, `V-<contactId>`, `I-<appId>`, `S-hubspot`.
    #[serde(
        default,
        deserialize_with = "de_opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub actor_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_identifier: Option<DeliveryIdentifier>,
    #[serde(default, deserialize_with = "null_default")]
    pub delivery_identifiers: Vec<DeliveryIdentifier>,
}

/// `{type, value}`, e.g. `CHANNEL_SPECIFIC_OPAQUE_ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryIdentifier {
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub type_: String,
    #[serde(default, deserialize_with = "de_id_or_empty")]
    pub value: String,
}

/// A conversations actor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Actor {
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
}

/// A CRM owner. An agent's actor id is `A-{user_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    #[serde(default, deserialize_with = "de_opt_id")]
    pub user_id: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub archived: bool,
}

impl Owner {
    /// "First Last", else the email, else "Owner {id}".
    pub fn display_name(&self) -> String {
        let parts: Vec<&str> = [&self.first_name, &self.last_name]
            .into_iter()
            .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
            .collect();
        if !parts.is_empty() {
            return parts.join(" ");
        }
        match self
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            Some(email) => email.to_string(),
            None => format!("Owner {}", self.id),
        }
    }
}

/// The body of `POST .../threads/{threadId}/messages`, serialized exactly like the contract's
/// valid example: `type, text, richText?, senderActorId, channelId, channelAccountId,
/// attachments, recipients`. `attachments` is always sent (`[]` when empty). For a `COMMENT`,
/// empty `channelId`/`channelAccountId` and an empty `recipients` list are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingMessage {
    /// `MESSAGE` or `COMMENT`.
    #[serde(rename = "type")]
    pub type_: String,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rich_text: Option<String>,
    /// The agent's `A-<userId>`.
    pub sender_actor_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel_account_id: String,
    pub attachments: Vec<Value>,
    /// Each `{actorId, deliveryIdentifiers}`; see `Participant::as_recipient`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<Participant>,
}

impl Participant {
    /// The recipient for a reply to this participant (the sender of the latest incoming
    /// message): its actor id and its delivery identifiers (`deliveryIdentifiers`, else the
    /// single `deliveryIdentifier`), serialized as the contract's `recipients[]` entry.
    pub fn as_recipient(&self) -> Participant {
        let delivery_identifiers = if self.delivery_identifiers.is_empty() {
            self.delivery_identifier.iter().cloned().collect()
        } else {
            self.delivery_identifiers.clone()
        };
        Participant {
            actor_id: self.actor_id.clone(),
            name: None,
            delivery_identifier: None,
            delivery_identifiers,
        }
    }
}

/// OAuth tokens. `Debug` redacts both tokens.
#[derive(Debug, Clone)]
pub struct HubSpotTokens {
    pub access_token: Secret,
    pub refresh_token: Secret,
    /// Seconds (access tokens last 30 minutes).
    pub expires_in: i64,
    pub hub_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Client

#[derive(Clone)]
pub struct HubSpotApi {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
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
        }
    }

    #[cfg(test)]
    fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn thread_url(&self, thread_id: &str) -> Result<String, HubSpotError> {
        Ok(format!(
            "{}/conversations/v3/conversations/threads/{}",
            self.base,
            segment(thread_id, "thread")?
        ))
    }

    pub async fn get_thread(
        &self,
        token: &Secret,
        thread_id: &str,
    ) -> Result<Thread, HubSpotError> {
        let url = self.thread_url(thread_id)?;
        let req = self.http.get(url).bearer_auth(token.expose());
        let bytes = self.execute("get_thread", req).await?;
        parse("get_thread", &bytes)
    }

    /// The portal's inboxes that are not archived (`GET /conversations/v3/conversations/inboxes`,
    /// `{results: [{id, name, type, archived}], paging}`), following `paging.next.after` up to
    /// 10 pages, sorted by name.
    pub async fn list_inboxes(&self, token: &Secret) -> Result<Vec<Inbox>, HubSpotError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default, deserialize_with = "null_default")]
            results: Vec<Inbox>,
            #[serde(default)]
            paging: Option<serde_json::Value>,
        }
        let url = format!("{}/conversations/v3/conversations/inboxes", self.base);
        let mut inboxes = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..10 {
            let mut query = vec![("limit", PAGE_LIMIT.to_string())];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let req = self
                .http
                .get(&url)
                .bearer_auth(token.expose())
                .query(&query);
            let bytes = self.execute("list_inboxes", req).await?;
            let page: Page = parse("list_inboxes", &bytes)?;
            inboxes.extend(page.results.into_iter().filter(|i| !i.archived));
            let next = page
                .paging
                .as_ref()
                .and_then(|p| p.pointer("/next/after"))
                .and_then(|a| {
                    a.as_str()
                        .map(str::to_string)
                        .or_else(|| a.as_i64().map(|n| n.to_string()))
                })
                .filter(|a| !a.is_empty() && after.as_deref() != Some(a.as_str()));
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        inboxes.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        inboxes.dedup_by(|a, b| a.id == b.id);
        Ok(inboxes)
    }

    /// All messages of a thread, following `paging.next.after` (100 a page, at most 50 pages),
    /// sorted by (createdAt, id) ascending, duplicates removed.
    pub async fn list_messages(
        &self,
        token: &Secret,
        thread_id: &str,
    ) -> Result<Vec<Message>, HubSpotError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default, deserialize_with = "null_default")]
            results: Vec<Message>,
            #[serde(default)]
            paging: Option<Paging>,
        }
        #[derive(Deserialize)]
        struct Paging {
            #[serde(default)]
            next: Option<Next>,
        }
        #[derive(Deserialize)]
        struct Next {
            #[serde(default, deserialize_with = "de_opt_id")]
            after: Option<String>,
        }

        let url = format!("{}/messages", self.thread_url(thread_id)?);
        let mut messages = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut query = vec![("limit", PAGE_LIMIT.to_string())];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let req = self
                .http
                .get(&url)
                .bearer_auth(token.expose())
                .query(&query);
            let bytes = self.execute("list_messages", req).await?;
            let page: Page = parse("list_messages", &bytes)?;
            messages.extend(page.results);
            pages += 1;
            let next = page
                .paging
                .and_then(|p| p.next)
                .and_then(|n| n.after)
                .filter(|a| !a.is_empty());
            match next {
                // A cursor that does not move would loop forever.
                Some(n) if after.as_deref() != Some(n.as_str()) => {
                    if pages >= MAX_PAGES {
                        tracing::warn!(pages, "hubspot list_messages: page cap reached, stopping");
                        break;
                    }
                    after = Some(n);
                }
                _ => break,
            }
        }
        messages.sort_by(|a, b| {
            a.created_at_ms
                .cmp(&b.created_at_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        messages.dedup_by(|a, b| a.id == b.id);
        Ok(messages)
    }

    pub async fn get_message(
        &self,
        token: &Secret,
        thread_id: &str,
        message_id: &str,
    ) -> Result<Message, HubSpotError> {
        let url = format!(
            "{}/messages/{}",
            self.thread_url(thread_id)?,
            segment(message_id, "message")?
        );
        let req = self.http.get(url).bearer_auth(token.expose());
        let bytes = self.execute("get_message", req).await?;
        parse("get_message", &bytes)
    }

    /// `GET /conversations/v3/conversations/actors/{actorId}`.
    pub async fn get_actor(&self, token: &Secret, actor_id: &str) -> Result<Actor, HubSpotError> {
        let url = format!(
            "{}/conversations/v3/conversations/actors/{}",
            self.base,
            segment(actor_id, "actor")?
        );
        let req = self.http.get(url).bearer_auth(token.expose());
        let bytes = self.execute("get_actor", req).await?;
        parse("get_actor", &bytes)
    }

    /// `GET /crm/v3/owners/{userId}?idProperty=userId`; 404 -> None.
    pub async fn owner_by_user_id(
        &self,
        token: &Secret,
        user_id: &str,
    ) -> Result<Option<Owner>, HubSpotError> {
        let url = format!("{}/crm/v3/owners/{}", self.base, segment(user_id, "user")?);
        let req = self
            .http
            .get(url)
            .bearer_auth(token.expose())
            .query(&[("idProperty", "userId")]);
        let bytes = none_if_not_found(self.execute("owner_by_user_id", req).await)?;
        bytes.map(|b| parse("owner_by_user_id", &b)).transpose()
    }

    /// `GET /crm/v3/owners?email=...`: the first non-archived result.
    pub async fn owner_by_email(
        &self,
        token: &Secret,
        email: &str,
    ) -> Result<Option<Owner>, HubSpotError> {
        #[derive(Deserialize)]
        struct Owners {
            #[serde(default, deserialize_with = "null_default")]
            results: Vec<Owner>,
        }
        let url = format!("{}/crm/v3/owners", self.base);
        let req = self
            .http
            .get(url)
            .bearer_auth(token.expose())
            .query(&[("email", email)]);
        let bytes = self.execute("owner_by_email", req).await?;
        let owners: Owners = parse("owner_by_email", &bytes)?;
        Ok(owners.results.into_iter().find(|o| !o.archived))
    }

    /// `GET /crm/v3/owners/{id}`; 404 -> None.
    pub async fn owner_by_id(
        &self,
        token: &Secret,
        owner_id: &str,
    ) -> Result<Option<Owner>, HubSpotError> {
        let url = format!(
            "{}/crm/v3/owners/{}",
            self.base,
            segment(owner_id, "owner")?
        );
        let req = self.http.get(url).bearer_auth(token.expose());
        let bytes = none_if_not_found(self.execute("owner_by_id", req).await)?;
        bytes.map(|b| parse("owner_by_id", &b)).transpose()
    }

    /// `GET /crm/v3/objects/contacts/{id}?properties=hubspot_owner_id`: the owner id; empty or
    /// 404 (e.g. a visitor id with no contact yet) -> None.
    pub async fn contact_owner_id(
        &self,
        token: &Secret,
        contact_id: &str,
    ) -> Result<Option<String>, HubSpotError> {
        let url = format!(
            "{}/crm/v3/objects/contacts/{}",
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

    /// `POST .../threads/{threadId}/messages`; answers 201 with the created message.
    pub async fn send_message(
        &self,
        token: &Secret,
        thread_id: &str,
        msg: &OutgoingMessage,
    ) -> Result<Message, HubSpotError> {
        let url = format!("{}/messages", self.thread_url(thread_id)?);
        let req = self.http.post(url).bearer_auth(token.expose()).json(msg);
        let bytes = self.execute("send_message", req).await?;
        parse("send_message", &bytes)
    }

    /// `POST /files/v3/files` (multipart, scope `files`): uploads a file for a message's
    /// `attachments` (`{type: FILE, fileId}`) and returns its id. Not in contracts/: from
    /// HubSpot's reference, developers.hubspot.com/docs/api-reference/files-files-v3 (upload
    /// file) and .../conversations-conversations-v3 (send a message to a thread). `PRIVATE`: other people's files are never public or
    /// indexable; the inbox gives the visitor a signed link.
    pub async fn upload_file(
        &self,
        token: &Secret,
        name: &str,
        mimetype: Option<&str>,
        data: bytes::Bytes,
    ) -> Result<String, HubSpotError> {
        #[derive(Deserialize)]
        struct Uploaded {
            #[serde(deserialize_with = "de_id")]
            id: String,
        }
        let len = data.len() as u64;
        let part =
            reqwest::multipart::Part::stream_with_length(data, len).file_name(name.to_string());
        let part = match mimetype {
            Some(m) => part.mime_str(m).map_err(|_| {
                HubSpotError::Unexpected("the file's type is not a MIME type".into())
            })?,
            None => part,
        };
        let form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("fileName", name.to_string())
            .text("folderPath", FILES_FOLDER)
            .text("options", json!({"access": "PRIVATE"}).to_string());
        let req = self
            .http
            .post(format!("{}/files/v3/files", self.base))
            .bearer_auth(token.expose())
            .multipart(form);
        let bytes = self
            .execute_within("upload_file", req, UPLOAD_TIMEOUT)
            .await?;
        let up: Uploaded = parse("upload_file", &bytes)?;
        Ok(up.id)
    }

    /// `GET /files/v3/files/{fileId}` (scope `files`): a file's size in bytes, for an
    /// attachment the inbox describes by id, name and URL only. None when unknown or gone.
    pub async fn file_size(
        &self,
        token: &Secret,
        file_id: &str,
    ) -> Result<Option<u64>, HubSpotError> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            size: Option<u64>,
        }
        let url = format!("{}/files/v3/files/{}", self.base, segment(file_id, "file")?);
        let req = self.http.get(url).bearer_auth(token.expose());
        let Some(bytes) = none_if_not_found(self.execute("file_size", req).await)? else {
            return Ok(None);
        };
        Ok(parse::<File>("file_size", &bytes)?.size)
    }

    /// `PATCH .../threads/{threadId}` with `{"status": ...}` (`OPEN`/`CLOSED`).
    pub async fn update_thread_status(
        &self,
        token: &Secret,
        thread_id: &str,
        status: &str,
    ) -> Result<(), HubSpotError> {
        let url = self.thread_url(thread_id)?;
        let req = self
            .http
            .patch(url)
            .bearer_auth(token.expose())
            .json(&json!({ "status": status }));
        self.execute("update_thread_status", req).await.map(drop)
    }

    /// Sets the agent's availability on the CRM users object:
    /// `PATCH /crm/v3/objects/users/{userId}?idProperty=hs_internal_user_id` with
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
        let url = format!(
            "{}/crm/v3/objects/users/{}",
            self.base,
            segment(user_id, "user")?
        );
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
        let url = format!(
            "{}/crm/v3/objects/users/{}",
            self.base,
            segment(user_id, "user")?
        );
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

    /// `POST /oauth/v1/token`, `grant_type=authorization_code`.
    pub async fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &Secret,
        redirect_uri: &str,
        code: &str,
    ) -> Result<HubSpotTokens, HubSpotError> {
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
    ) -> Result<HubSpotTokens, HubSpotError> {
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
    ) -> Result<HubSpotTokens, HubSpotError> {
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
        Ok(HubSpotTokens {
            access_token: Secret::new(access_token),
            refresh_token,
            expires_in: wire.expires_in.unwrap_or(1800),
            hub_id: wire.hub_id,
        })
    }

    /// Sends a request and classifies the answer; returns the body of a 2xx answer.
    async fn execute(
        &self,
        op: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<bytes::Bytes, HubSpotError> {
        self.execute_within(op, req, self.timeout).await
    }

    async fn execute_within(
        &self,
        op: &'static str,
        req: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<bytes::Bytes, HubSpotError> {
        let resp = req.timeout(timeout).send().await.map_err(|e| {
            let err = transport(e);
            tracing::debug!(op, error = %err, "hubspot request failed");
            err
        })?;
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

/// Turns a non-2xx answer into an error.
fn classify(status: u16, body: &[u8]) -> HubSpotError {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct ErrorBody {
        #[serde(default)]
        status: Option<Value>,
        #[serde(default)]
        message: Option<Value>,
        #[serde(default)]
        category: Option<Value>,
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
        429 => HubSpotError::RateLimited {
            policy: text(&parsed.policy_name).unwrap_or_else(|| "unknown".into()),
        },
        401 => HubSpotError::Unauthorized,
        404 => HubSpotError::NotFound,
        400..=499 => {
            let sub_category = parsed
                .errors
                .as_ref()
                .and_then(|e| e.first())
                .and_then(|e| e.get("subCategory"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|s| !s.is_empty());
            let category = sub_category
                .or_else(|| text(&parsed.category))
                .or_else(|| text(&parsed.status).filter(|s| !s.eq_ignore_ascii_case("error")))
                .unwrap_or_else(|| "UNKNOWN".into());
            let message: String = text(&parsed.message)
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

fn none_if_not_found<T>(r: Result<T, HubSpotError>) -> Result<Option<T>, HubSpotError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(HubSpotError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

fn parse<T: serde::de::DeserializeOwned>(op: &str, bytes: &[u8]) -> Result<T, HubSpotError> {
    serde_json::from_slice(bytes)
        .map_err(|e| HubSpotError::Unexpected(format!("{op}: {}", describe_json_error(&e))))
}

/// One path segment, percent-encoded; empty, `.` and `..` are refused.
fn segment(id: &str, what: &str) -> Result<String, HubSpotError> {
    if id.is_empty() || id == "." || id == ".." {
        return Err(HubSpotError::Unexpected(format!("invalid {what} id")));
    }
    Ok(utf8_percent_encode(id, SEGMENT).to_string())
}

/// A CRM object: `{id, properties: {name: value}}`.
#[derive(Deserialize)]
struct CrmObject {
    #[serde(default, deserialize_with = "null_default")]
    properties: serde_json::Map<String, Value>,
}

impl CrmObject {
    /// A property as text; null or empty -> None.
    fn property(&self, name: &str) -> Option<String> {
        match self.properties.get(name)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lenient deserialization helpers

/// A number or a string as a String.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdRepr {
    Str(String),
    Int(i64),
    UInt(u64),
    Float(f64),
}

impl IdRepr {
    fn into_string(self) -> String {
        match self {
            IdRepr::Str(s) => s,
            IdRepr::Int(n) => n.to_string(),
            IdRepr::UInt(n) => n.to_string(),
            IdRepr::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => (f as i64).to_string(),
            IdRepr::Float(f) => f.to_string(),
        }
    }
}

/// A required id sent as a number or a string.
fn de_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    IdRepr::deserialize(d).map(IdRepr::into_string)
}

/// An optional id sent as a number, a string or null; empty strings become None.
fn de_opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<IdRepr>::deserialize(d)?
        .map(IdRepr::into_string)
        .filter(|s| !s.is_empty()))
}

/// A number or string value; null -> "".
fn de_id_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<IdRepr>::deserialize(d)?
        .map(IdRepr::into_string)
        .unwrap_or_default())
}

/// null -> the type's default (for fields that may be missing or null).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Timestamps

/// Milliseconds since the epoch of a `createdAt`: RFC 3339 text, or a bare number of
/// milliseconds; 0 when unparsable.
pub fn timestamp_ms(s: &str) -> i64 {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().unwrap_or(0);
    }
    parse_rfc3339_ms(s).unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to milliseconds since the epoch. Fractions beyond
/// milliseconds are truncated. `t`, `z` and a space separator are accepted too.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            part.iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')),
        )
    };
    let year = num(0, 4)?;
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    let hour = num(11, 2)?;
    let minute = num(14, 2)?;
    let second = num(17, 2)?;
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset_secs = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = num(i + 1, 2)?;
            let om = num(i + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(secs * 1000 + millis)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    const TOKEN: &str = "pat-na1-secret-token-0000";
    const THREADS: &str = "/conversations/v3/conversations/threads";

    fn token() -> Secret {
        Secret::new(TOKEN)
    }

    fn bearer() -> wiremock::matchers::HeaderExactMatcher {
        header("authorization", format!("Bearer {TOKEN}").as_str())
    }

    async fn setup() -> (MockServer, HubSpotApi) {
        let server = MockServer::start().await;
        let api = HubSpotApi::new(reqwest::Client::new(), &server.uri());
        (server, api)
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

    /// A MESSAGE shaped like real HubSpot answers: numeric ids, fields the spec calls required
    /// missing (no `richText`, no `truncationStatus`), extra fields.
    fn real_message(id: &str, created_at: &str) -> Value {
        json!({
            "type": "MESSAGE",
            "id": id,
            "conversationsThreadId": 3624100517u64,
            "createdAt": created_at,
            "updatedAt": created_at,
            "createdBy": "V-1401",
            "client": {"clientType": "HUBSPOT"},
            "senders": [{
                "actorId": "V-1401",
                "name": "Visitor",
                "deliveryIdentifier": {"type": "CHANNEL_SPECIFIC_OPAQUE_ID",
                    "value": "0232d1661ef84248bd4923cce9d3b917"},
                "senderField": null
            }],
            "recipients": [],
            "archived": false,
            "text": "Hello, I need help",
            "attachments": [],
            "channelId": 1000,
            "channelAccountId": 148662,
            "direction": "INCOMING"
        })
    }

    #[tokio::test]
    async fn get_thread_parses_numeric_and_string_ids() {
        let (server, api) = setup().await;
        Mock::given(method("GET"))
            .and(path(format!("{THREADS}/3624100517")))
            .and(bearer())
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": 3624100517u64,
                "createdAt": "2022-12-07T00:32:13.743Z",
                "status": "OPEN",
                "originalChannelId": 1000,
                "originalChannelAccountId": "148662",
                "latestMessageTimestamp": "2022-12-07T00:32:22.223Z",
                "spam": false,
                "inboxId": 147959634,
                "associatedContactId": 1401,
                "archived": false,
                "assignedTo": "A-2620022",
                "threadAssociations": {"associatedTicketId": "1234"}
            })))
            .expect(1)
            .mount(&server)
            .await;
        let t = api.get_thread(&token(), "3624100517").await.unwrap();
        assert_eq!(
            t,
            Thread {
                id: "3624100517".into(),
                status: "OPEN".into(),
                archived: false,
                inbox_id: Some("147959634".into()),
                associated_contact_id: Some("1401".into()),
                original_channel_id: Some("1000".into()),
                original_channel_account_id: Some("148662".into()),
                assigned_to: Some("A-2620022".into()),
                created_at: Some("2022-12-07T00:32:13.743Z".into()),
                latest_message_timestamp: Some("2022-12-07T00:32:22.223Z".into()),
            }
        );
    }

    #[test]
    fn a_sparse_thread_parses() {
        let t: Thread = serde_json::from_value(json!({"id": "1", "archived": null})).unwrap();
        assert_eq!(t.status, "");
        assert!(!t.archived && t.assigned_to.is_none() && t.inbox_id.is_none());
    }

    #[tokio::test]
    async fn get_message_parses_a_real_shaped_payload() {
        let (server, api) = setup().await;
        let mut body = real_message(
            "5bc511c6161c41ba811829eb460a83b8",
            "2022-12-07T00:32:22.223Z",
        );
        body["client"] = json!({"clientType": "INTEGRATION", "integrationAppId": 1098266});
        body["truncationStatus"] = json!("NOT_TRUNCATED");
        Mock::given(method("GET"))
            .and(path(format!(
                "{THREADS}/3624100517/messages/5bc511c6161c41ba811829eb460a83b8"
            )))
            .and(bearer())
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
        let m = api
            .get_message(&token(), "3624100517", "5bc511c6161c41ba811829eb460a83b8")
            .await
            .unwrap();
        assert_eq!(m.id, "5bc511c6161c41ba811829eb460a83b8");
        assert_eq!(m.type_, "MESSAGE");
        assert_eq!(m.created_at, "2022-12-07T00:32:22.223Z");
        assert_eq!(m.created_at_ms, 1_670_373_142_223);
        assert_eq!(m.text.as_deref(), Some("Hello, I need help"));
        assert_eq!(m.rich_text, None);
        assert_eq!(m.direction.as_deref(), Some("INCOMING"));
        assert_eq!(m.channel_id.as_deref(), Some("1000"));
        assert_eq!(m.channel_account_id.as_deref(), Some("148662"));
        assert_eq!(m.truncation_status.as_deref(), Some("NOT_TRUNCATED"));
        assert_eq!(
            m.client,
            Some(MessageClient {
                client_type: Some("INTEGRATION".into()),
                integration_app_id: Some("1098266".into()),
            })
        );
        assert_eq!(m.senders.len(), 1);
        let s = &m.senders[0];
        assert_eq!(s.actor_id.as_deref(), Some("V-1401"));
        assert_eq!(s.name.as_deref(), Some("Visitor"));
        assert_eq!(
            s.delivery_identifier,
            Some(DeliveryIdentifier {
                type_: "CHANNEL_SPECIFIC_OPAQUE_ID".into(),
                value: "0232d1661ef84248bd4923cce9d3b917".into(),
            })
        );
        assert!(m.recipients.is_empty() && m.attachments.is_empty());
    }

    #[test]
    fn system_messages_with_few_fields_parse() {
        let m: Message = serde_json::from_value(json!({
            "id": 42, "type": "THREAD_STATUS_CHANGE", "createdAt": "2023-01-01T00:00:00Z",
            "newStatus": "CLOSED", "client": {"clientType": "SYSTEM"}
        }))
        .unwrap();
        assert_eq!(m.id, "42");
        assert_eq!(m.created_at_ms, 1_672_531_200_000);
        assert!(m.senders.is_empty() && m.text.is_none() && m.channel_id.is_none());
        let m: Message = serde_json::from_value(json!({"id": "x", "senders": null})).unwrap();
        assert_eq!((m.created_at.as_str(), m.created_at_ms), ("", 0));
    }

    #[tokio::test]
    async fn list_messages_follows_paging_and_sorts() {
        let (server, api) = setup().await;
        let url = format!("{THREADS}/77/messages");
        // Page 1 (no `after`): newest first and a tie on createdAt.
        Mock::given(method("GET"))
            .and(path(url.as_str()))
            .and(bearer())
            .and(query_param("limit", "100"))
            .and(|r: &Request| !r.url.query_pairs().any(|(k, _)| k == "after"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "results": [
                    real_message("m4", "2023-01-01T12:00:04Z"),
                    real_message("m2b", "2023-01-01T12:00:02.000Z"),
                    real_message("m2a", "2023-01-01T12:00:02Z"),
                ],
                "paging": {"next": {"after": "cursor-2", "link": "?after=cursor-2"}}
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(url.as_str()))
            .and(bearer())
            .and(query_param("limit", "100"))
            .and(query_param("after", "cursor-2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "results": [
                    real_message("m3", "2023-01-01T13:00:03+01:00"),
                    real_message("m1", "2023-01-01T12:00:01.500Z"),
                ]
            })))
            .expect(1)
            .mount(&server)
            .await;
        let ms = api.list_messages(&token(), "77").await.unwrap();
        let ids: Vec<&str> = ms.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["m1", "m2a", "m2b", "m3", "m4"]);
    }

    #[tokio::test]
    async fn list_messages_stops_at_the_page_cap() {
        let (server, api) = setup().await;
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = counter.clone();
        Mock::given(method("GET"))
            .and(path(format!("{THREADS}/9/messages")))
            .respond_with(move |_: &Request| {
                let n = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                ResponseTemplate::new(200).set_body_json(json!({
                    "results": [real_message(&format!("m{n:03}"), "2023-01-01T00:00:00Z")],
                    "paging": {"next": {"after": format!("c{}", n + 1)}}
                }))
            })
            .mount(&server)
            .await;
        let ms = api.list_messages(&token(), "9").await.unwrap();
        assert_eq!(ms.len(), MAX_PAGES);
        assert_eq!(counter.load(std::sync::atomic::Ordering::SeqCst), MAX_PAGES);
    }

    #[tokio::test]
    async fn get_actor_happy_path() {
        let (server, api) = setup().await;
        Mock::given(method("GET"))
            .and(path("/conversations/v3/conversations/actors/A-2620022"))
            .and(bearer())
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "A-2620022", "type": "AGENT", "name": "Ana Agent",
                "email": "ana@example.com", "avatar": "https://x/avatar.png"
            })))
            .expect(1)
            .mount(&server)
            .await;
        let a = api.get_actor(&token(), "A-2620022").await.unwrap();
        assert_eq!(
            a,
            Actor {
                id: "A-2620022".into(),
                name: Some("Ana Agent".into()),
                email: Some("ana@example.com".into()),
                avatar: Some("https://x/avatar.png".into()),
            }
        );
    }

    fn owner_json() -> Value {
        json!({
            "id": "41629779", "email": "ana@example.com", "type": "PERSON",
            "firstName": "Ana", "lastName": "Agent", "userId": 2620022,
            "userIdIncludingInactive": 2620022, "createdAt": "2019-12-25T13:01:35.228Z",
            "updatedAt": "2023-08-22T13:40:26.790Z", "archived": false
        })
    }

    #[tokio::test]
    async fn owner_by_user_id_happy_path_and_404() {
        let (server, api) = setup().await;
        Mock::given(method("GET"))
            .and(path("/crm/v3/owners/2620022"))
            .and(query_param("idProperty", "userId"))
            .and(bearer())
            .respond_with(ResponseTemplate::new(200).set_body_json(owner_json()))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/crm/v3/owners/999"))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({
                "status": "error", "message": "Owner not found", "category": "OBJECT_NOT_FOUND"
            })))
            .mount(&server)
            .await;
        let o = api
            .owner_by_user_id(&token(), "2620022")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            o,
            Owner {
                id: "41629779".into(),
                user_id: Some("2620022".into()),
                email: Some("ana@example.com".into()),
                first_name: Some("Ana".into()),
                last_name: Some("Agent".into()),
                archived: false,
            }
        );
        assert_eq!(o.display_name(), "Ana Agent");
        assert_eq!(api.owner_by_user_id(&token(), "999").await.unwrap(), None);
    }

    #[tokio::test]
    async fn owner_by_email_takes_the_first_non_archived() {
        let (server, api) = setup().await;
        let mut archived = owner_json();
        archived["id"] = json!("1");
        archived["archived"] = json!(true);
        Mock::given(method("GET"))
            .and(path("/crm/v3/owners"))
            .and(query_param("email", "ana+x@example.com"))
            .and(bearer())
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "results": [archived, owner_json()]
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/crm/v3/owners"))
            .and(query_param("email", "nobody@example.com"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
            .expect(1)
            .mount(&server)
            .await;
        let o = api
            .owner_by_email(&token(), "ana+x@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(o.id, "41629779");
        assert_eq!(
            api.owner_by_email(&token(), "nobody@example.com")
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn owner_by_id_happy_path_and_404() {
        let (server, api) = setup().await;
        Mock::given(method("GET"))
            .and(path("/crm/v3/owners/41629779"))
            .and(bearer())
            .respond_with(ResponseTemplate::new(200).set_body_json(owner_json()))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/crm/v3/owners/5"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        let o = api
            .owner_by_id(&token(), "41629779")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(o.user_id.as_deref(), Some("2620022"));
        assert_eq!(api.owner_by_id(&token(), "5").await.unwrap(), None);
        // The request carried no idProperty.
        let reqs = server.received_requests().await.unwrap();
        assert!(reqs[0].url.query().is_none());
    }

    #[test]
    fn owner_display_name_fallbacks() {
        let mut o: Owner = serde_json::from_value(json!({"id": 7})).unwrap();
        assert_eq!(o.display_name(), "Owner 7");
        o.email = Some("a@b.c".into());
        assert_eq!(o.display_name(), "a@b.c");
        o.last_name = Some("Solo".into());
        assert_eq!(o.display_name(), "Solo");
    }

    #[tokio::test]
    async fn contact_owner_id_happy_path_empty_and_404() {
        let (server, api) = setup().await;
        for (id, owner) in [
            ("1401", json!("41629779")),
            ("1402", json!("")),
            ("1403", Value::Null),
        ] {
            Mock::given(method("GET"))
                .and(path(format!("/crm/v3/objects/contacts/{id}")))
                .and(query_param("properties", "hubspot_owner_id"))
                .and(bearer())
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "id": id,
                    "properties": {"hubspot_owner_id": owner, "hs_object_id": id},
                    "archived": false
                })))
                .expect(1)
                .mount(&server)
                .await;
        }
        Mock::given(method("GET"))
            .and(path("/crm/v3/objects/contacts/777"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        assert_eq!(
            api.contact_owner_id(&token(), "1401")
                .await
                .unwrap()
                .as_deref(),
            Some("41629779")
        );
        assert_eq!(api.contact_owner_id(&token(), "1402").await.unwrap(), None);
        assert_eq!(api.contact_owner_id(&token(), "1403").await.unwrap(), None);
        assert_eq!(api.contact_owner_id(&token(), "777").await.unwrap(), None);
    }

    #[tokio::test]
    async fn send_message_body_equals_the_contract_example() {
        let (server, api) = setup().await;
        // The contract's valid example body, verbatim.
        let expected = r#"{"type":"MESSAGE","text":"hi","richText":"<div>hi</div>","senderActorId":"A-2620022","channelId":"1000","channelAccountId":"148662","attachments":[],"recipients":[{"actorId":"V-1401","deliveryIdentifiers":[{"type":"CHANNEL_SPECIFIC_OPAQUE_ID","value":"0232d1661ef84248bd4923cce9d3b917"}]}]}"#;
        let incoming: Message =
            serde_json::from_value(real_message("in1", "2022-12-07T00:32:22.223Z")).unwrap();
        let msg = OutgoingMessage {
            type_: "MESSAGE".into(),
            text: "hi".into(),
            rich_text: Some("<div>hi</div>".into()),
            sender_actor_id: "A-2620022".into(),
            channel_id: incoming.channel_id.clone().unwrap(),
            channel_account_id: incoming.channel_account_id.clone().unwrap(),
            attachments: vec![],
            recipients: vec![incoming.senders[0].as_recipient()],
        };
        // Byte for byte, including key order.
        assert_eq!(serde_json::to_string(&msg).unwrap(), expected);
        let mut created = real_message("out1", "2022-12-07T00:33:00.000Z");
        created["direction"] = json!("OUTGOING");
        created["text"] = json!("hi");
        Mock::given(method("POST"))
            .and(path(format!("{THREADS}/3624100517/messages")))
            .and(bearer())
            .and(header("content-type", "application/json"))
            .and(body_json(serde_json::from_str::<Value>(expected).unwrap()))
            .respond_with(ResponseTemplate::new(201).set_body_json(created))
            .expect(1)
            .mount(&server)
            .await;
        let m = api
            .send_message(&token(), "3624100517", &msg)
            .await
            .unwrap();
        assert_eq!(m.id, "out1");
        assert_eq!(m.direction.as_deref(), Some("OUTGOING"));
    }

    #[test]
    fn a_comment_leaves_out_empty_channel_fields() {
        let msg = OutgoingMessage {
            type_: "COMMENT".into(),
            text: "note".into(),
            rich_text: None,
            sender_actor_id: "A-1".into(),
            channel_id: String::new(),
            channel_account_id: String::new(),
            attachments: vec![],
            recipients: vec![],
        };
        assert_eq!(
            serde_json::to_value(&msg).unwrap(),
            json!({"type": "COMMENT", "text": "note", "senderActorId": "A-1", "attachments": []})
        );
    }

    #[tokio::test]
    async fn update_thread_status_patches_the_thread() {
        let (server, api) = setup().await;
        Mock::given(method("PATCH"))
            .and(path(format!("{THREADS}/55")))
            .and(bearer())
            .and(body_json(json!({"status": "CLOSED"})))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"id": "55", "status": "CLOSED"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        api.update_thread_status(&token(), "55", "CLOSED")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn set_availability_patches_the_users_object() {
        let (server, api) = setup().await;
        for value in ["available", "away"] {
            Mock::given(method("PATCH"))
                .and(path("/crm/v3/objects/users/2620022"))
                .and(query_param("idProperty", "hs_internal_user_id"))
                .and(bearer())
                .and(body_json(
                    json!({"properties": {"hs_availability_status": value}}),
                ))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "id": "207838823235",
                    "properties": {"hs_availability_status": value,
                        "hs_internal_user_id": "2620022"},
                    "archived": false
                })))
                .expect(1)
                .mount(&server)
                .await;
        }
        api.set_availability(&token(), "2620022", true)
            .await
            .unwrap();
        api.set_availability(&token(), "2620022", false)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn get_availability_reads_the_property() {
        let (server, api) = setup().await;
        for (user, value) in [
            ("1", json!("available")),
            ("2", json!("away")),
            ("3", json!("")),
            ("4", Value::Null),
        ] {
            Mock::given(method("GET"))
                .and(path(format!("/crm/v3/objects/users/{user}")))
                .and(query_param("idProperty", "hs_internal_user_id"))
                .and(query_param("properties", "hs_availability_status"))
                .and(bearer())
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "id": "207838823235",
                    "properties": {"hs_availability_status": value},
                    "archived": false
                })))
                .expect(1)
                .mount(&server)
                .await;
        }
        Mock::given(method("GET"))
            .and(path("/crm/v3/objects/users/5"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        assert_eq!(
            api.get_availability(&token(), "1").await.unwrap(),
            Some(true)
        );
        assert_eq!(
            api.get_availability(&token(), "2").await.unwrap(),
            Some(false)
        );
        assert_eq!(api.get_availability(&token(), "3").await.unwrap(), None);
        assert_eq!(api.get_availability(&token(), "4").await.unwrap(), None);
        assert_eq!(api.get_availability(&token(), "5").await.unwrap(), None);
    }

    #[tokio::test]
    async fn exchange_code_posts_the_form_and_redacts_tokens() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/oauth/v1/token"))
            .and(form_is(&[
                ("grant_type", "authorization_code"),
                ("client_id", "cid-1"),
                ("client_secret", "csecret-1"),
                ("redirect_uri", "https://example.com/hubspot/oauth"),
                ("code", "code-1"),
            ]))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "bearer",
                "refresh_token": "rt-very-secret-1",
                "access_token": "at-very-secret-1",
                "expires_in": 1800,
                "hub_id": 22761544,
                "user_id": 2620022,
                "scopes": ["conversations.read"]
            })))
            .expect(1)
            .mount(&server)
            .await;
        let t = api
            .exchange_code(
                "cid-1",
                &Secret::new("csecret-1"),
                "https://example.com/hubspot/oauth",
                "code-1",
            )
            .await
            .unwrap();
        assert_eq!(t.access_token.expose(), "at-very-secret-1");
        assert_eq!(t.refresh_token.expose(), "rt-very-secret-1");
        assert_eq!(t.expires_in, 1800);
        assert_eq!(t.hub_id.as_deref(), Some("22761544"));
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("very-secret"), "{dbg}");
        // No Authorization header on the token endpoint.
        let reqs = server.received_requests().await.unwrap();
        assert!(reqs[0].headers.get("authorization").is_none());
    }

    #[tokio::test]
    async fn refresh_posts_the_form() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/oauth/v1/token"))
            .and(form_is(&[
                ("grant_type", "refresh_token"),
                ("client_id", "cid-1"),
                ("client_secret", "csecret-1"),
                ("refresh_token", "rt-old"),
            ]))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "at-new", "expires_in": 1799, "token_type": "bearer"
            })))
            .expect(1)
            .mount(&server)
            .await;
        let t = api
            .refresh("cid-1", &Secret::new("csecret-1"), &Secret::new("rt-old"))
            .await
            .unwrap();
        assert_eq!(t.access_token.expose(), "at-new");
        assert_eq!(t.refresh_token.expose(), "rt-old");
        assert_eq!(t.expires_in, 1799);
        assert_eq!(t.hub_id, None);
    }

    #[tokio::test]
    async fn refresh_with_a_bad_token_is_an_api_error() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/oauth/v1/token"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token",
                "correlationId": "abc"
            })))
            .mount(&server)
            .await;
        let err = api
            .refresh("c", &Secret::new("s"), &Secret::new("rt"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, HubSpotError::Api { status: 400, category, .. } if category == "BAD_REFRESH_TOKEN"),
            "{err:?}"
        );
        assert!(!err.is_retryable());
    }

    #[tokio::test]
    async fn http_401_is_unauthorized() {
        let (server, api) = setup().await;
        Mock::given(method("GET"))
            .and(path(format!("{THREADS}/1")))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({
                "status": "error", "message": "Authentication credentials not found.",
                "category": "INVALID_AUTHENTICATION"
            })))
            .mount(&server)
            .await;
        let err = api.get_thread(&token(), "1").await.unwrap_err();
        assert!(matches!(err, HubSpotError::Unauthorized), "{err:?}");
        assert!(!err.is_retryable());
    }

    #[tokio::test]
    async fn http_404_is_not_found_for_a_thread() {
        let (server, api) = setup().await;
        Mock::given(method("GET"))
            .and(path(format!("{THREADS}/2")))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({
                "status": "error", "message": "Thread not found", "category": "OBJECT_NOT_FOUND"
            })))
            .mount(&server)
            .await;
        let err = api.get_thread(&token(), "2").await.unwrap_err();
        assert!(matches!(err, HubSpotError::NotFound), "{err:?}");
    }

    #[tokio::test]
    async fn http_429_is_rate_limited_with_the_policy() {
        let (server, api) = setup().await;
        Mock::given(method("GET"))
            .and(path(format!("{THREADS}/3")))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("X-HubSpot-RateLimit-Max", "110")
                    .set_body_json(json!({
                        "status": "error",
                        "message": "You have reached your ten_secondly_rolling limit.",
                        "errorType": "RATE_LIMIT",
                        "correlationId": "c7a3f2a2",
                        "policyName": "TEN_SECONDLY_ROLLING",
                        "groupName": "publicapi:oauth"
                    })),
            )
            .mount(&server)
            .await;
        let err = api.get_thread(&token(), "3").await.unwrap_err();
        assert!(
            matches!(&err, HubSpotError::RateLimited { policy } if policy == "TEN_SECONDLY_ROLLING"),
            "{err:?}"
        );
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn http_400_carries_the_sub_category() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path(format!("{THREADS}/4/messages")))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "status": "error",
                "message": "Sender actor type is not supported",
                "correlationId": "x",
                "category": "VALIDATION_ERROR",
                "errors": [{
                    "subCategory": "ConversationsApiError.UNSUPPORTED_ACTOR_TYPE",
                    "message": "Sender actor type is not supported"
                }]
            })))
            .mount(&server)
            .await;
        let msg = OutgoingMessage {
            type_: "MESSAGE".into(),
            text: "hi".into(),
            rich_text: None,
            sender_actor_id: "V-1".into(),
            channel_id: "1000".into(),
            channel_account_id: "1".into(),
            attachments: vec![],
            recipients: vec![],
        };
        let err = api.send_message(&token(), "4", &msg).await.unwrap_err();
        match &err {
            HubSpotError::Api {
                status,
                category,
                message,
            } => {
                assert_eq!(*status, 400);
                assert_eq!(category, "ConversationsApiError.UNSUPPORTED_ACTOR_TYPE");
                assert_eq!(message, "Sender actor type is not supported");
            }
            other => panic!("{other:?}"),
        }
        assert!(!err.is_retryable());
        // Without `errors`, the top-level category is used.
        assert!(matches!(
            classify(403, br#"{"status":"error","message":"m","category":"MISSING_SCOPES"}"#),
            HubSpotError::Api { status: 403, category, .. } if category == "MISSING_SCOPES"
        ));
    }

    #[tokio::test]
    async fn http_5xx_is_a_server_error() {
        let (server, api) = setup().await;
        Mock::given(method("GET"))
            .and(path(format!("{THREADS}/5")))
            .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
            .mount(&server)
            .await;
        let err = api.get_thread(&token(), "5").await.unwrap_err();
        assert!(
            matches!(err, HubSpotError::Server { status: 502 }),
            "{err:?}"
        );
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn a_non_json_success_is_unexpected() {
        let (server, api) = setup().await;
        Mock::given(method("GET"))
            .and(path(format!("{THREADS}/6")))
            .respond_with(ResponseTemplate::new(200).set_body_string("not json"))
            .mount(&server)
            .await;
        let err = api.get_thread(&token(), "6").await.unwrap_err();
        assert!(matches!(err, HubSpotError::Unexpected(_)), "{err:?}");
        assert!(!err.is_retryable());
    }

    #[tokio::test]
    async fn connection_refused_is_a_retryable_transport_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let api = HubSpotApi::new(reqwest::Client::new(), &format!("http://127.0.0.1:{port}"));
        let err = api.get_thread(&token(), "1").await.unwrap_err();
        assert!(matches!(err, HubSpotError::Transport(_)), "{err:?}");
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
        Mock::given(method("GET"))
            .and(path("/conversations/v3/conversations/actors/A-1"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": "A-1", "name": "Slow"}))
                    .set_delay(Duration::from_millis(1500)),
            )
            .mount(&server)
            .await;
        let a = api.get_actor(&token(), "A-1").await.unwrap();
        assert_eq!(a.name.as_deref(), Some("Slow"));
    }

    #[tokio::test]
    async fn a_timeout_is_a_retryable_transport_error() {
        let (server, api) = setup().await;
        let api = api.with_timeout(Duration::from_millis(200));
        Mock::given(method("GET"))
            .and(path("/conversations/v3/conversations/actors/A-1"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": "A-1"}))
                    .set_delay(Duration::from_millis(1000)),
            )
            .mount(&server)
            .await;
        let err = api.get_actor(&token(), "A-1").await.unwrap_err();
        assert!(matches!(err, HubSpotError::Transport(_)), "{err:?}");
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn ids_cannot_escape_their_path_segment() {
        let (server, api) = setup().await;
        Mock::given(method("GET"))
            .and(path("/conversations/v3/conversations/actors/a%2Fb%3Fc"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "a/b?c"})))
            .expect(1)
            .mount(&server)
            .await;
        assert_eq!(api.get_actor(&token(), "a/b?c").await.unwrap().id, "a/b?c");
        assert!(matches!(
            api.get_thread(&token(), "").await,
            Err(HubSpotError::Unexpected(_))
        ));
        assert!(matches!(
            api.get_thread(&token(), "..").await,
            Err(HubSpotError::Unexpected(_))
        ));
    }

    #[test]
    fn rfc3339_parser() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2023-01-01T12:34:56Z"),
            Some(1_672_576_496_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2023-01-01T12:34:56.123Z"),
            Some(1_672_576_496_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2023-01-01T12:34:56.1Z"),
            Some(1_672_576_496_100)
        );
        assert_eq!(
            parse_rfc3339_ms("2023-01-01T12:34:56.123456789Z"),
            Some(1_672_576_496_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2023-01-01T12:34:56+00:00"),
            Some(1_672_576_496_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2023-01-01T14:34:56.5+02:00"),
            Some(1_672_576_496_500)
        );
        assert_eq!(
            parse_rfc3339_ms("2023-01-01T10:04:56-02:30"),
            Some(1_672_576_496_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2022-12-07T00:32:22.223Z"),
            Some(1_670_373_142_223)
        );
        for bad in [
            "",
            "garbage",
            "2023-01-01",
            "2023-01-01T12:34:56",
            "2023-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-01-01T24:00:00Z",
            "2023-01-01T12:34:56.Z",
            "2023-01-01T12:34:56Zjunk",
            "2023-01-01T12:34:56+0000",
            "２０２３-01-01T12:34:56Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
            assert_eq!(timestamp_ms(bad), 0, "{bad}");
        }
        assert_eq!(timestamp_ms("1670373142223"), 1_670_373_142_223);
    }

    #[test]
    fn ids_parse_from_numbers_and_strings() {
        let p: Participant = serde_json::from_value(json!({
            "actorId": 12, "deliveryIdentifiers": [{"type": "HS_EMAIL_ADDRESS", "value": "a@b.c"}]
        }))
        .unwrap();
        assert_eq!(p.actor_id.as_deref(), Some("12"));
        let r = p.as_recipient();
        assert_eq!(r.delivery_identifiers.len(), 1);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"actorId": "12", "deliveryIdentifiers": [{"type": "HS_EMAIL_ADDRESS", "value": "a@b.c"}]})
        );
        let a: Actor = serde_json::from_value(json!({"id": 1.0e3})).unwrap();
        assert_eq!(a.id, "1000");
        assert!(serde_json::from_value::<Actor>(json!({"id": null})).is_err());
    }

    #[tokio::test]
    async fn a_file_is_uploaded_private_into_the_slack_folder() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/files/v3/files"))
            .and(bearer())
            .respond_with(
                ResponseTemplate::new(201)
                    .set_body_json(json!({"id": 183541231, "access": "PRIVATE"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let id = api
            .upload_file(
                &token(),
                "report.pdf",
                Some("application/pdf"),
                bytes::Bytes::from_static(b"%PDF-1.7 body"),
            )
            .await
            .unwrap();
        assert_eq!(id, "183541231");
        let req = &server.received_requests().await.unwrap()[0];
        let ctype = req.headers["content-type"].to_str().unwrap();
        assert!(
            ctype.starts_with("multipart/form-data; boundary="),
            "{ctype}"
        );
        let body = String::from_utf8_lossy(&req.body);
        for want in [
            "name=\"file\"; filename=\"report.pdf\"",
            "Content-Type: application/pdf",
            "%PDF-1.7 body",
            "name=\"fileName\"\r\n\r\nreport.pdf",
            "name=\"folderPath\"\r\n\r\n/conversations-from-slack",
            "name=\"options\"\r\n\r\n{\"access\":\"PRIVATE\"}",
        ] {
            assert!(body.contains(want), "{want} in {body}");
        }
    }

    #[tokio::test]
    async fn an_upload_without_the_files_scope_is_an_api_error() {
        let (server, api) = setup().await;
        Mock::given(method("POST"))
            .and(path("/files/v3/files"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({
                "status": "error", "message": "This app hasn't been granted all required scopes to make this call.",
                "category": "MISSING_SCOPES", "errors": [{"message": "One or more of the following scopes are required.", "context": {"requiredGranularScopes": ["files"]}}]
            })))
            .mount(&server)
            .await;
        let err = api
            .upload_file(&token(), "a.png", None, bytes::Bytes::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, HubSpotError::Api { status: 403, category, .. } if category == "MISSING_SCOPES"),
            "{err:?}"
        );
        assert!(!err.is_retryable());
    }
}
