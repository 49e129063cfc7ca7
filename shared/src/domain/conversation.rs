//! Conversations as the flows see them, whatever inbox holds them: the conversation, its
//! messages, the agents, and what the inbox answers when a call fails. The inbox adapter
//! (`inbox::hubspot`) turns its platform's JSON into these and back.

use crate::support::secret::Secret;

/// Open or closed, as the inbox says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    Open,
    Closed,
    /// A status this code does not know, shown as it is.
    Other(String),
}

impl Status {
    /// `OPEN`, `CLOSED`, or the unknown status's own text (what the card shows).
    pub fn as_str(&self) -> &str {
        match self {
            Status::Open => "OPEN",
            Status::Closed => "CLOSED",
            Status::Other(s) => s,
        }
    }
}

/// A conversation in the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Conversation {
    pub id: String,
    pub status: Status,
    pub archived: bool,
    /// The inbox (of the portal's several) it is in, when known.
    pub inbox_id: Option<String>,
    /// The contact, or the visitor when no contact exists yet.
    pub contact_id: Option<String>,
    /// Whether it started as a website live chat (the only ones posted to Slack).
    pub live_chat: bool,
    /// The inbox's name for the channel it started in, for logs ("unknown" when not given).
    pub channel: String,
    /// The assigned agent's user id.
    pub assignee_user_id: Option<String>,
    /// Marked as spam in the inbox: not a chat to post.
    pub spam: bool,
    /// When it started, in milliseconds since the epoch; 0 when unknown.
    pub created_at_ms: i64,
    /// When its latest message came (epoch ms; 0: not given).
    pub latest_message_ms: i64,
}

/// What the card shows of the visitor's CRM contact.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    /// The contact's owner (an agent's owner id).
    pub owner_id: Option<String>,
    /// The last page the contact had seen when the chat started, when the CRM knows it.
    pub last_page_seen: Option<String>,
}

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// A chat message between the visitor and an agent.
    Chat,
    /// An internal note, never seen by the visitor.
    Note,
    /// Anything else the inbox keeps in the thread (welcome messages, assignments, ...).
    Other(String),
}

/// Who a chat message is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    FromVisitor,
    FromAgent,
}

/// A sender or recipient. `id` and `delivery` are the inbox's own identifiers, carried back
/// unchanged when a reply is addressed to this participant.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Participant {
    pub id: Option<String>,
    pub name: Option<String>,
    pub delivery: Vec<Delivery>,
}

/// One way the inbox reaches a participant (`kind`, `value`), opaque to the flows.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    pub kind: String,
    pub value: String,
}

/// Where an answer to a message goes (the inbox's channel and channel account), opaque to
/// the flows.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ReplyRoute {
    pub channel_id: Option<String>,
    pub channel_account_id: Option<String>,
}

/// What a message carries besides its text, by kind (the definitions' union tagged by `type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// A file, shown as a link; its size when known.
    File {
        file_id: Option<String>,
        name: Option<String>,
        url: Option<String>,
        size: Option<u64>,
    },
    /// A shared location.
    Location {
        name: Option<String>,
        url: Option<String>,
    },
    /// A shared contact card.
    Contact { name: Option<String> },
    /// The choices the visitor was offered, by label.
    QuickReplies { labels: Vec<String> },
    /// Content the inbox itself cannot show.
    Unsupported,
    /// Not content (message headers, template and social metadata): not shown.
    Metadata,
    /// A kind this code does not know.
    Other { kind: String },
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub kind: MessageKind,
    /// RFC 3339 text as the inbox sent it.
    pub created_at: String,
    /// `created_at` in milliseconds since the epoch; 0 if unparsable.
    pub created_at_ms: i64,
    pub text: Option<String>,
    pub rich_text: Option<String>,
    pub direction: Option<Direction>,
    pub senders: Vec<Participant>,
    /// The integration app that sent it through the API, when one did (echo prevention).
    pub sent_by_app: Option<String>,
    pub attachments: Vec<Attachment>,
    pub reply_route: ReplyRoute,
}

impl Message {
    pub fn is_chat(&self) -> bool {
        self.kind == MessageKind::Chat
    }

    pub fn is_note(&self) -> bool {
        self.kind == MessageKind::Note
    }

    /// A chat message from the visitor.
    pub fn is_from_visitor(&self) -> bool {
        self.is_chat() && self.direction == Some(Direction::FromVisitor)
    }
}

/// Where an agent's reply goes: the channel of the visitor's latest message and its senders
/// (those with an id), as the inbox named them. Kept with the conversation as it is
/// mirrored, so a reply from Slack does not read the conversation's messages first.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ReplyTo {
    pub route: ReplyRoute,
    pub recipients: Vec<Participant>,
}

impl ReplyTo {
    pub fn of(visitor_message: &Message) -> ReplyTo {
        ReplyTo {
            route: visitor_message.reply_route.clone(),
            recipients: visitor_message
                .senders
                .iter()
                .filter(|s| s.id.is_some())
                .cloned()
                .collect(),
        }
    }
}

/// A message an agent sends from Slack: to the visitor, or as an internal note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub note: bool,
    pub text: String,
    pub rich_text: Option<String>,
    /// The sending agent's user id.
    pub agent_user_id: String,
    /// From the visitor's latest message (left out for a note).
    pub reply_route: ReplyRoute,
    /// The visitor, from their latest message (none for a note).
    pub recipients: Vec<Participant>,
    /// Files uploaded to the inbox first (`Inbox::upload_file`).
    pub file_ids: Vec<String>,
}

/// An inbox user (an agent, or a contact's owner).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Agent {
    /// The inbox's id of the person as an owner (what a contact's owner names).
    pub id: String,
    /// The user id (what a conversation's assignee names), when the person has one.
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub archived: bool,
}

impl Agent {
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

/// One of a portal's inboxes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InboxInfo {
    pub id: String,
    pub name: String,
    pub archived: bool,
}

/// Tokens from an OAuth exchange or refresh. `Debug` redacts both tokens.
#[derive(Debug, Clone)]
pub struct InboxTokens {
    pub access_token: Secret,
    pub refresh_token: Secret,
    /// Seconds (HubSpot's access tokens last 30 minutes).
    pub expires_in: i64,
    /// The portal the tokens are for, when the answer names it.
    pub portal_id: Option<String>,
}

/// Why an inbox call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboxError {
    /// Rate limited (HubSpot: HTTP 429, `policyName`). `daily`: the portal's daily cap, which
    /// only the next day lifts; otherwise the ten-second window.
    #[error("hubspot rate limited ({policy})")]
    RateLimited { policy: String, daily: bool },
    /// Expired or revoked token (refresh, then retry).
    #[error("hubspot rejected the token (401)")]
    Unauthorized,
    #[error("hubspot: not found")]
    NotFound,
    /// Other 4xx. `category` = the inbox's error category (HubSpot: errors[0].subCategory,
    /// else `category`, else a non-"error" `status` such as BAD_REFRESH_TOKEN).
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

impl InboxError {
    /// Whether a later retry may succeed: rate limits, server and transport failures.
    /// (`Unauthorized` needs a token refresh first, which the caller does.)
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            InboxError::RateLimited { daily: false, .. }
                | InboxError::Server { .. }
                | InboxError::Transport(_)
        )
    }
}
