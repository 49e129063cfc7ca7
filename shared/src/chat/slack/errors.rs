//! What a Slack call can fail with, and which failures a retry may cure
//! (contracts/slack.md error codes).

/// Slack `error` codes that are worth retrying later.
// contracts/slack.md: `ratelimited` comes with HTTP 429 and `Retry-After`; some methods
// answer `rate_limited` with HTTP 200 instead. Both are waited out.
pub(super) const RETRYABLE_CODES: &[&str] = &[
    "ratelimited",
    "rate_limited",
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
