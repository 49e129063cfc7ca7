//! `/hs-chat-away`, `/hs-chat-available` (and `/hs-chat-available status`): the agent's
//! availability in the inbox (the CRM users object's `hs_availability_status`,
//! contracts/hubspot.md), recorded in the store with the time. Always answered privately.

use serde_json::{json, Value};

use crate::app::App;
use crate::domain::Availability;
use crate::queue::{Job, JobError};
use crate::services::agents::{inbox_user_for, live_install};

pub const CMD_AWAY: &str = "/hs-chat-away";
pub const CMD_AVAILABLE: &str = "/hs-chat-available";

pub const USAGE: &str = "Usage: `/hs-chat-away` sets you away in the HubSpot inbox, `/hs-chat-available` sets you available, `/hs-chat-available status` shows your availability and who on the team is available.";

fn ephemeral(text: &str) -> Value {
    json!({"response_type": "ephemeral", "text": text})
}

/// What the command asks for, or None for a usage message.
pub fn intent(cmd: &str, text: &str) -> Option<&'static str> {
    match (cmd, text.trim().to_ascii_lowercase().as_str()) {
        (CMD_AWAY, "") => Some("away"),
        (CMD_AVAILABLE, "") => Some("available"),
        (CMD_AVAILABLE, "status") => Some("status"),
        _ => None,
    }
}

/// A slash command as Slack sent it (parsed at the edge).
#[derive(Debug, Clone, Copy)]
pub struct Command<'a> {
    pub team_id: &'a str,
    pub user_id: &'a str,
    pub command: &'a str,
    pub text: &'a str,
    pub response_url: &'a str,
}

/// The immediate (within 3 s) answer; the work continues on the queue and answers through
/// `response_url`.
pub async fn acknowledge(app: &App, cmd: &Command<'_>) -> Value {
    let Some(what) = intent(cmd.command, cmd.text) else {
        tracing::info!(team = %cmd.team_id, command = %cmd.command, "unknown command or arguments; usage shown");
        return ephemeral(USAGE);
    };
    // No store call before the answer (issue: API economy): the worker reads the install
    // and answers a workspace that is not connected through `response_url`.
    let job = Job::SlashCommand {
        team_id: cmd.team_id.to_string(),
        user_id: cmd.user_id.to_string(),
        command: cmd.command.to_string(),
        text: cmd.text.to_string(),
        response_url: cmd.response_url.to_string(),
    };
    let key = format!("{}:{}:{}", cmd.team_id, cmd.user_id, cmd.response_url);
    if let Err(e) = app.queue.enqueue(job, &key).await {
        tracing::error!(team = %cmd.team_id, error = %e, "could not queue command");
        return ephemeral(
            "Sorry, that could not be done right now. Nothing changed; try again in a minute.",
        );
    }
    ephemeral(match what {
        "away" => "Setting you to away in the HubSpot inbox…",
        "available" => "Setting you to available in the HubSpot inbox…",
        _ => "Looking up availability…",
    })
}

/// Runs a queued command and answers through `response_url`.
pub async fn run(
    app: &App,
    team: &str,
    user: &str,
    command: &str,
    text: &str,
    response_url: &str,
    attempt: u32,
) -> Result<(), JobError> {
    let respond = |text: String| async move {
        let body = json!({"response_type": "ephemeral", "replace_original": true, "text": text});
        if let Err(e) = app.slack.respond(response_url, &body).await {
            tracing::warn!(team, error = %e, "could not answer the command");
        }
    };
    let Some(what) = intent(command, text) else {
        respond(USAGE.into()).await;
        return Ok(());
    };
    let Some((install, bot, mut hs)) = live_install(app, team).await? else {
        respond("This Slack workspace is not connected to a HubSpot inbox.".into()).await;
        return Ok(());
    };
    let Some(agent) = inbox_user_for(app, &install, &bot, &hs, user).await? else {
        respond(crate::services::clicks::NOT_LINKED.into()).await;
        return Ok(());
    };
    if what == "status" {
        let uid = agent.inbox_user_id.as_str();
        let mine =
            crate::services::tokens::call(app, &install.portal_id, &mut hs, move |t| async move {
                app.inbox.availability(&t, uid).await
            })
            .await;
        let team_list = app
            .records
            .list_availability(&install.portal_id)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;
        let me = match mine {
            Ok(Some(true)) => "You are *available*.".to_string(),
            Ok(Some(false)) => "You are *away*.".to_string(),
            Ok(None) => "The inbox does not say whether you are available.".to_string(),
            Err(e) => format!("The inbox could not be asked about your availability ({e})."),
        };
        let available: Vec<String> = team_list
            .iter()
            .filter(|a| a.available)
            .map(|a| match &a.slack_user_id {
                Some(u) => format!("<@{u}>"),
                None => format!("HubSpot user {}", a.inbox_user_id),
            })
            .collect();
        let others = if available.is_empty() {
            "Nobody has set themselves available from Slack.".to_string()
        } else {
            format!(
                "Available: {}",
                crate::chat::blocks::limits::join_capped(&available, ", ", 3000)
            )
        };
        respond(format!("{me}\n{others}")).await;
        return Ok(());
    }
    let available = what == "available";
    let uid = agent.inbox_user_id.as_str();
    if let Err(e) =
        crate::services::tokens::call(app, &install.portal_id, &mut hs, move |t| async move {
            app.inbox.set_availability(&t, uid, available).await
        })
        .await
    {
        // One retry, then a plain answer; the store is written only after the inbox agreed.
        if e.is_retryable() && attempt < 2 {
            return Err(crate::services::failures::hubspot_failure(e));
        }
        tracing::error!(team, portal = %install.portal_id, inbox_user = %agent.inbox_user_id, error = %e, "availability not changed");
        respond(format!("Your availability was not changed: the HubSpot inbox answered with an error ({e}). Try again in a minute.")).await;
        return Ok(());
    }
    app.records
        .put_availability(&Availability {
            portal_id: install.portal_id.clone(),
            inbox_user_id: agent.inbox_user_id.clone(),
            available,
            updated_at: app.clock.now_secs(),
            slack_user_id: Some(user.to_string()),
        })
        .await
        .map_err(|e| JobError::retry(e.to_string()))?;
    tracing::info!(team, portal = %install.portal_id, inbox_user = %agent.inbox_user_id, available, "availability set");
    respond(if available {
        "You are now *available* for chats in the HubSpot inbox.".into()
    } else {
        "You are now *away* in the HubSpot inbox.".into()
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents() {
        assert_eq!(intent(CMD_AWAY, ""), Some("away"));
        assert_eq!(intent(CMD_AVAILABLE, "  "), Some("available"));
        assert_eq!(intent(CMD_AVAILABLE, "Status"), Some("status"));
        assert_eq!(intent(CMD_AWAY, "now"), None);
        assert_eq!(intent("/hs-chat-foo", ""), None);
    }
}
