//! What a Slack call can fail with, and which failures a retry may cure
//! (contracts/slack.md error codes).

/// What a Slack `error` code means for the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Transient: wait and try again (`fatal_error` may have posted: `post_message`
    /// checks before the retry posts again).
    Retry,
    /// The payload itself was refused; the same request would be refused again: report
    /// what broke, and send it another way (plain text).
    PayloadRefused,
    /// The channel cannot take posts from the app: an admin must act (invite, unarchive,
    /// pick another); a routed inbox's channel loses its route.
    ChannelUnusable,
    /// The bot token is gone: the install is deactivated.
    AuthGone,
    /// The message is not there (deleted in Slack).
    MessageGone,
    /// The bot may not do this to that message (an agent's own).
    NotTheAppsMessage,
    /// Anything else: not retried, kept as a dead letter.
    Other,
}

/// Every Slack `error` code the bundle acts on, with where Slack documents it
/// (api.slack.com/methods/<method>, "Errors"; contracts/slack.md). One table: the flows and
/// services ask `SlackError::class`, never match codes of their own.
pub const CODES: &[(&str, Class, &str)] = &[
    (
        "ratelimited",
        Class::Retry,
        "HTTP 429 with Retry-After, every method",
    ),
    (
        "rate_limited",
        Class::Retry,
        "HTTP 200 ok:false on some methods (chat.postMessage)",
    ),
    ("internal_error", Class::Retry, "every method"),
    (
        "fatal_error",
        Class::Retry,
        "chat.postMessage: may have posted; checked before a repost",
    ),
    ("service_unavailable", Class::Retry, "every method"),
    ("request_timeout", Class::Retry, "every method"),
    (
        "invalid_blocks",
        Class::PayloadRefused,
        "chat.postMessage, chat.update",
    ),
    (
        "invalid_blocks_format",
        Class::PayloadRefused,
        "chat.postMessage, chat.update",
    ),
    (
        "msg_too_long",
        Class::PayloadRefused,
        "chat.postMessage, chat.update",
    ),
    (
        "invalid_attachments",
        Class::PayloadRefused,
        "chat.postMessage, chat.update",
    ),
    ("not_in_channel", Class::ChannelUnusable, "chat.postMessage"),
    (
        "channel_not_found",
        Class::ChannelUnusable,
        "chat.postMessage, conversations.info",
    ),
    (
        "is_archived",
        Class::ChannelUnusable,
        "chat.postMessage, conversations.join",
    ),
    ("token_revoked", Class::AuthGone, "every method"),
    // Token rotation: an access token past its 12 hours. The delivery is retried, and the
    // retry renews the token first (services::slack_token).
    ("token_expired", Class::Retry, "every method"),
    // Token rotation: the refresh token was spent or revoked; only a reinstall helps.
    ("invalid_refresh_token", Class::AuthGone, "oauth.v2.access"),
    ("invalid_auth", Class::AuthGone, "every method"),
    ("account_inactive", Class::AuthGone, "every method"),
    ("not_authed", Class::AuthGone, "every method"),
    (
        "message_not_found",
        Class::MessageGone,
        "chat.update, chat.delete",
    ),
    (
        "cant_delete_message",
        Class::NotTheAppsMessage,
        "chat.delete",
    ),
    (
        "cant_update_message",
        Class::NotTheAppsMessage,
        "chat.update",
    ),
];

/// The class of an `error` code (`Other` when the table does not name it).
pub fn class_of(code: &str) -> Class {
    CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or(Class::Other, |(_, class, _)| *class)
}

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
            SlackError::Api { code } => class_of(code) == Class::Retry,
            SlackError::Unexpected(_) => false,
        }
    }

    /// What the error means (`CODES`); rate limits, server and transport failures are
    /// `Retry`.
    pub fn class(&self) -> Class {
        match self {
            SlackError::Api { code } => class_of(code),
            e if e.is_retryable() => Class::Retry,
            _ => Class::Other,
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
