//! Logging set-up: JSON lines in Lambda (CloudWatch parses them), compact text locally.
//! What may be logged: ids (portal, conversation, team, channel, user), decisions, error
//! codes. Never a token, a secret, a signature or a message body.

use tracing_subscriber::{fmt, EnvFilter};

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// JSON logs, one object per line, no ANSI colours (for Lambda).
pub fn init_json() {
    let _ = fmt()
        .json()
        .with_env_filter(filter())
        .with_current_span(false)
        .with_target(false)
        .without_time() // CloudWatch stamps each line
        .with_ansi(false)
        .try_init();
}

/// Human-readable logs for the local runner; `LOG_FORMAT=json` switches to JSON.
pub fn init_local() {
    if std::env::var("LOG_FORMAT").as_deref() == Ok("json") {
        let _ = fmt()
            .json()
            .with_env_filter(filter())
            .with_ansi(false)
            .try_init();
    } else {
        let _ = fmt()
            .with_env_filter(filter())
            .with_target(false)
            .try_init();
    }
}
