//! HubSpot's JSON, as the Conversations, CRM and OAuth APIs send and take it, and its
//! translation to and from the domain's conversations, messages and agents.
//!
//! Parsing is lenient: HubSpot omits fields its spec calls required and sends ids sometimes as
//! numbers, sometimes as strings.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use crate::domain::{
    Agent, Attachment, Conversation, Delivery, Direction, InboxInfo, Message, MessageKind,
    OutgoingMessage, Participant, ReplyRoute, Status,
};

/// HubSpot's channel id for live chat (contracts/hubspot.md); only these are posted.
pub const LIVE_CHAT_CHANNEL: &str = "1000";

/// A conversations inbox.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboxWire {
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
pub struct ThreadWire {
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    /// `OPEN` or `CLOSED`.
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    #[serde(default, deserialize_with = "null_default")]
    pub archived: bool,
    /// Required by the definition; absent in older answers (then not spam).
    #[serde(default, deserialize_with = "null_default")]
    pub spam: bool,
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
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageWire {
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub type_: String,
    #[serde(default, deserialize_with = "de_opt_id")]
    pub created_at: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub rich_text: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default, deserialize_with = "de_opt_id")]
    pub channel_id: Option<String>,
    #[serde(default, deserialize_with = "de_opt_id")]
    pub channel_account_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub senders: Vec<ParticipantWire>,
    #[serde(default, deserialize_with = "null_default")]
    pub recipients: Vec<ParticipantWire>,
    #[serde(default)]
    pub client: Option<MessageClient>,
    #[serde(default, deserialize_with = "null_default")]
    pub attachments: Vec<Value>,
    #[serde(default)]
    pub truncation_status: Option<String>,
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

/// A sender or recipient of a message. Also a recipient of an `OutgoingWire`, where it
/// serializes as `{actorId, deliveryIdentifiers}` (`name` and the singular
/// `deliveryIdentifier` are left out when None).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantWire {
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
pub struct OwnerWire {
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

/// The body of `POST .../threads/{threadId}/messages`, serialized exactly like the contract's
/// valid example: `type, text, richText?, senderActorId, channelId, channelAccountId,
/// attachments, recipients`. `attachments` is always sent (`[]` when empty). A `COMMENT`
/// carries `type, text, richText?, attachments` only (the definition's PublicCommentEgg).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingWire {
    /// `MESSAGE` or `COMMENT`.
    #[serde(rename = "type")]
    pub type_: String,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rich_text: Option<String>,
    /// The agent's `A-<userId>` (a MESSAGE only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_actor_id: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel_account_id: String,
    pub attachments: Vec<Value>,
    /// Each `{actorId, deliveryIdentifiers}`; see `Participant::as_recipient`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<ParticipantWire>,
}

/// A CRM object: `{id, properties: {name: value}}`.
#[derive(Deserialize)]
pub(super) struct CrmObject {
    #[serde(default, deserialize_with = "null_default")]
    properties: serde_json::Map<String, Value>,
    /// `{name: [{value, timestamp, sourceType, ...}]}` (ValueWithTimestamp).
    #[serde(
        default,
        deserialize_with = "null_default",
        rename = "propertiesWithHistory"
    )]
    history: serde_json::Map<String, Value>,
}

impl CrmObject {
    /// A property's value as it stood at `as_of_ms`: the latest non-empty one of its history
    /// stamped at or before then.
    pub(super) fn value_as_of(&self, name: &str, as_of_ms: i64) -> Option<String> {
        self.history
            .get(name)?
            .as_array()?
            .iter()
            .filter_map(|v| {
                let at = parse_rfc3339_ms(v.get("timestamp")?.as_str()?)?;
                let value = v.get("value")?.as_str()?.trim();
                (at <= as_of_ms && !value.is_empty()).then(|| (at, value.to_string()))
            })
            .max_by_key(|(at, _)| *at)
            .map(|(_, v)| v)
    }

    /// A property as text; null or empty -> None.
    pub(super) fn property(&self, name: &str) -> Option<String> {
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
pub(super) fn de_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    IdRepr::deserialize(d).map(IdRepr::into_string)
}

/// An optional id sent as a number, a string or null; empty strings become None.
pub(super) fn de_opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<IdRepr>::deserialize(d)?
        .map(IdRepr::into_string)
        .filter(|s| !s.is_empty()))
}

/// A number or string value; null -> "".
pub(super) fn de_id_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<IdRepr>::deserialize(d)?
        .map(IdRepr::into_string)
        .unwrap_or_default())
}

/// null -> the type's default (for fields that may be missing or null).
pub(super) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
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

// ---------------------------------------------------------------------------------------------
// To and from the domain

/// `A-123` or `123` -> `123`: the user id in an agent's actor id.
pub fn user_id_of_actor(actor: &str) -> Option<String> {
    let id = actor.strip_prefix("A-").unwrap_or(actor);
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_string())
}

impl From<ThreadWire> for Conversation {
    fn from(w: ThreadWire) -> Self {
        let status = match w.status.as_str() {
            "OPEN" | "" => Status::Open,
            "CLOSED" => Status::Closed,
            other => Status::Other(other.to_string()),
        };
        Conversation {
            live_chat: w.original_channel_id.as_deref() == Some(LIVE_CHAT_CHANNEL),
            channel: w
                .original_channel_id
                .unwrap_or_else(|| "unknown".to_string()),
            assignee_user_id: w
                .assigned_to
                .as_deref()
                .filter(|a| !a.is_empty())
                .and_then(user_id_of_actor),
            id: w.id,
            status,
            archived: w.archived,
            inbox_id: w.inbox_id,
            contact_id: w.associated_contact_id,
            spam: w.spam,
            created_at_ms: w.created_at.as_deref().map(timestamp_ms).unwrap_or(0),
            latest_message_ms: w
                .latest_message_timestamp
                .as_deref()
                .map(timestamp_ms)
                .unwrap_or(0),
        }
    }
}

impl From<ParticipantWire> for Participant {
    fn from(w: ParticipantWire) -> Self {
        // `deliveryIdentifiers`, else the single `deliveryIdentifier`.
        let delivery = if w.delivery_identifiers.is_empty() {
            w.delivery_identifier.into_iter().collect()
        } else {
            w.delivery_identifiers
        };
        Participant {
            id: w.actor_id,
            name: w.name,
            delivery: delivery
                .into_iter()
                .map(|d| Delivery {
                    kind: d.type_,
                    value: d.value,
                })
                .collect(),
        }
    }
}

impl ParticipantWire {
    /// A reply's recipient: `{actorId, deliveryIdentifiers}` (the send-message contract).
    pub fn recipient(p: &Participant) -> ParticipantWire {
        ParticipantWire {
            actor_id: p.id.clone(),
            name: None,
            delivery_identifier: None,
            delivery_identifiers: p
                .delivery
                .iter()
                .map(|d| DeliveryIdentifier {
                    type_: d.kind.clone(),
                    value: d.value.clone(),
                })
                .collect(),
        }
    }
}

/// An attachment by its `type` (the 2026-09 definitions: `FILE`, `LOCATION`, `CONTACT`,
/// `QUICK_REPLIES`, `UNSUPPORTED_CONTENT`, and metadata kinds). An untyped one with a
/// `fileId` is taken as a file, as older answers sent them; ids as text or numbers.
fn attachment(a: &Value) -> Attachment {
    let text = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
    let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
    let file_id = match a.get("fileId") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    match kind {
        "FILE" => Attachment::File {
            file_id,
            name: text("name").or_else(|| text("fileName")),
            url: text("url"),
            size: a.get("size").and_then(Value::as_u64),
        },
        "" if file_id.is_some() => Attachment::File {
            file_id,
            name: text("name").or_else(|| text("fileName")),
            url: text("url"),
            size: a.get("size").and_then(Value::as_u64),
        },
        "LOCATION" => Attachment::Location {
            name: text("name").or_else(|| text("address")),
            url: text("url"),
        },
        "CONTACT" => Attachment::Contact {
            name: a.pointer("/contactProfile/name").and_then(|n| {
                n.as_str().map(str::to_string).or_else(|| {
                    let parts: Vec<&str> = ["firstName", "lastName"]
                        .iter()
                        .filter_map(|k| n.get(*k).and_then(Value::as_str))
                        .filter(|s| !s.trim().is_empty())
                        .collect();
                    (!parts.is_empty()).then(|| parts.join(" "))
                })
            }),
        },
        "QUICK_REPLIES" => Attachment::QuickReplies {
            labels: a
                .get("quickReplies")
                .and_then(Value::as_array)
                .map(|qs| {
                    qs.iter()
                        .filter_map(|q| {
                            q.get("label")
                                .or_else(|| q.get("value"))
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        "UNSUPPORTED_CONTENT" => Attachment::Unsupported,
        "MESSAGE_HEADER" | "WHATSAPP_TEMPLATE_METADATA" | "SOCIAL_MEDIA_METADATA" => {
            Attachment::Metadata
        }
        "" => Attachment::Other {
            kind: "unknown".into(),
        },
        other => Attachment::Other {
            kind: other.to_string(),
        },
    }
}

impl From<MessageWire> for Message {
    fn from(w: MessageWire) -> Self {
        let created_at = w.created_at.unwrap_or_default();
        let created_at_ms = timestamp_ms(&created_at);
        let kind = match w.type_.as_str() {
            "MESSAGE" => MessageKind::Chat,
            "COMMENT" => MessageKind::Note,
            other => MessageKind::Other(other.to_string()),
        };
        let direction = match w.direction.as_deref() {
            Some("INCOMING") => Some(Direction::FromVisitor),
            Some("OUTGOING") => Some(Direction::FromAgent),
            _ => None,
        };
        // `client.clientType` INTEGRATION with an app id: sent through the API by that app.
        let sent_by_app = w
            .client
            .filter(|c| c.client_type.as_deref() == Some("INTEGRATION"))
            .and_then(|c| c.integration_app_id);
        Message {
            id: w.id,
            kind,
            created_at,
            created_at_ms,
            text: w.text,
            rich_text: w.rich_text,
            direction,
            senders: w.senders.into_iter().map(Participant::from).collect(),
            sent_by_app,
            attachments: w.attachments.iter().map(attachment).collect(),
            reply_route: ReplyRoute {
                channel_id: w.channel_id,
                channel_account_id: w.channel_account_id,
            },
        }
    }
}

/// A message as HubSpot's API returns it, in the domain's words (also for the fuzz target).
pub fn parse_message(bytes: &[u8]) -> Result<Message, serde_json::Error> {
    serde_json::from_slice::<MessageWire>(bytes).map(Message::from)
}

impl From<OwnerWire> for Agent {
    fn from(w: OwnerWire) -> Self {
        Agent {
            id: w.id,
            user_id: w.user_id,
            email: w.email,
            first_name: w.first_name,
            last_name: w.last_name,
            archived: w.archived,
        }
    }
}

impl From<InboxWire> for InboxInfo {
    fn from(w: InboxWire) -> Self {
        InboxInfo {
            id: w.id,
            name: w.name,
            archived: w.archived,
        }
    }
}

impl From<&OutgoingMessage> for OutgoingWire {
    fn from(m: &OutgoingMessage) -> Self {
        // Uploaded files go by id (the send-message definition: `{type: FILE, fileId}`).
        let attachments = m
            .file_ids
            .iter()
            .map(|id| json!({"type": "FILE", "fileId": id}))
            .collect();
        if m.note {
            // A COMMENT (PublicCommentEgg) has only `type`, `text`, `richText`, `attachments`.
            return OutgoingWire {
                type_: "COMMENT".into(),
                text: m.text.clone(),
                rich_text: m.rich_text.clone(),
                sender_actor_id: None,
                channel_id: String::new(),
                channel_account_id: String::new(),
                attachments,
                recipients: vec![],
            };
        }
        OutgoingWire {
            type_: "MESSAGE".into(),
            text: m.text.clone(),
            rich_text: m.rich_text.clone(),
            sender_actor_id: Some(format!("A-{}", m.agent_user_id)),
            channel_id: m.reply_route.channel_id.clone().unwrap_or_default(),
            channel_account_id: m.reply_route.channel_account_id.clone().unwrap_or_default(),
            attachments,
            recipients: m
                .recipients
                .iter()
                .map(ParticipantWire::recipient)
                .collect(),
        }
    }
}
