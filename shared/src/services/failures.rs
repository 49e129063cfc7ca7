//! How a Slack or HubSpot failure is classified for the queue (retry, retry later, give up),
//! and the admin told when they must act.

use std::time::Duration;

use crate::app::App;
use crate::chat::slack::{Class, SlackError};
use crate::domain::{InboxError, Install, InstallStatus};
use crate::queue::JobError;

/// Maps a HubSpot failure to what the queue should do.
pub fn hubspot_failure(e: InboxError) -> JobError {
    match e {
        // The portal's daily cap lifts only the next day: retrying every few seconds would
        // spend the attempts for nothing. The job is kept (a dead letter, with the
        // conversation) and the install's last error tells the admin in the Home tab.
        InboxError::RateLimited { daily: true, .. } => JobError::Fatal(format!(
            "{e}: the portal's daily HubSpot API limit is reached; this delivery is kept and can be replayed tomorrow"
        )),
        // The Node SDK waits 10 s per attempt on the ten-second policy (contracts/hubspot.md).
        InboxError::RateLimited { .. } => JobError::Retry {
            reason: e.to_string(),
            after: Some(Duration::from_secs(10)),
        },
        // A call not wrapped in `tokens::call` met an expired or revoked token: the job's
        // next attempt refreshes it on its first (wrapped) call.
        InboxError::Unauthorized => JobError::retry(e.to_string()),
        e if e.is_retryable() => JobError::retry(e.to_string()),
        e => JobError::Fatal(e.to_string()),
    }
}

/// Maps a Slack failure to what the queue should do, marking the install when an admin
/// must act (contracts/slack.md error codes).
pub async fn slack_failure(app: &App, install: &Install, e: SlackError) -> JobError {
    if let SlackError::RateLimited { retry_after_secs } = e {
        return JobError::Retry {
            reason: e.to_string(),
            after: Some(Duration::from_secs(retry_after_secs)),
        };
    }
    if e.is_retryable() {
        return JobError::retry(e.to_string());
    }
    let code = e.code().unwrap_or("").to_string();
    let class = e.class();
    let advice = match (class, code.as_str()) {
        (Class::ChannelUnusable, "not_in_channel") => Some("The app is not in the notification channel. Invite it with /invite @app in the channel."),
        (Class::ChannelUnusable, "is_archived") => Some("The notification channel is archived. Unarchive it or pick another channel."),
        (Class::ChannelUnusable, _) => Some("The notification channel no longer exists or the app cannot see it. Pick another channel."),
        _ => None,
    };
    if let Some(advice) = advice {
        let marked = app
            .records
            .update_install(&install.portal_id, |i| {
                i.status = InstallStatus::NeedsAttention {
                    reason: advice.to_string(),
                };
                i.last_error = Some(format!("{code}: {advice}"));
                true
            })
            .await;
        if let Err(se) = marked {
            tracing::error!(portal = %install.portal_id, error = %se, "could not mark install as needing attention");
        }
        tracing::error!(portal = %install.portal_id, team = %install.team_id, code = %code, "install needs attention");
        tell_admin(app, install, advice).await;
        return JobError::Fatal(format!("slack {code}: {advice}"));
    }
    if class == Class::AuthGone {
        if let Err(se) = app
            .records
            .deactivate_install(&install.portal_id, app.clock.now_secs())
            .await
        {
            tracing::error!(portal = %install.portal_id, error = %se, "could not deactivate install");
        }
        tracing::error!(portal = %install.portal_id, team = %install.team_id, code = %code, "slack token no longer valid; install deactivated");
        return JobError::Fatal(format!("slack {code}: install deactivated"));
    }
    JobError::Fatal(e.to_string())
}

/// Tells the installing admin, in a direct message from the app, what to fix.
pub async fn tell_admin(app: &App, install: &Install, advice: &str) {
    let (Some(user), Some(token)) = (&install.installer_user_id, &install.bot_token) else {
        return;
    };
    let text = format!(
        ":warning: Chat notifications for HubSpot portal {} stopped: {advice}",
        install.portal_id
    );
    if let Err(e) = app.slack.post_message(token, user, None, &text, None).await {
        tracing::warn!(portal = %install.portal_id, error = %e, "could not tell the admin");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ten_second_limit_waits_and_the_daily_one_is_kept() {
        let ten = InboxError::RateLimited {
            policy: "TEN_SECONDLY_ROLLING".into(),
            daily: false,
        };
        assert!(matches!(
            hubspot_failure(ten),
            JobError::Retry { after: Some(d), .. } if d == Duration::from_secs(10)
        ));
        let daily = InboxError::RateLimited {
            policy: "DAILY".into(),
            daily: true,
        };
        assert!(!daily.is_retryable());
        assert!(matches!(hubspot_failure(daily), JobError::Fatal(m) if m.contains("daily")));
    }
}
