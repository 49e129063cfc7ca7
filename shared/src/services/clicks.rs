//! Answering a click on a card: privately to the clicker (its `response_url`), the live
//! install the button's portal belongs to, and what a flow hands back to have the card
//! redrawn.

use serde_json::json;

use crate::app::App;
use crate::domain::Install;
use crate::queue::JobError;
use crate::services::agents::live_install;
use crate::support::secret::Secret;

/// What an agent is told when only linked agents may do what they asked (a click, a
/// reaction, a command).
pub const NOT_LINKED: &str = "Nothing changed: your Slack account is not linked to a HubSpot user. Click *Claim* on a conversation assigned to you, or make your Slack profile email the same as your HubSpot login.";

/// Answers a click privately through its `response_url` (nothing when there is none).
pub async fn answer_click(app: &App, team: &str, response_url: &str, text: String) {
    if response_url.is_empty() {
        return;
    }
    let body = json!({"response_type": "ephemeral", "replace_original": false, "text": text});
    if let Err(e) = app.slack.respond(response_url, &body).await {
        tracing::warn!(team, error = %e, "could not answer the click");
    }
}

/// The live install of `team` (with its tokens) when it is the portal a button names;
/// otherwise the clicker is told why and there is none.
pub async fn install_for_click(
    app: &App,
    team: &str,
    portal: &str,
    response_url: &str,
    not_connected: &str,
) -> Result<Option<(Install, Secret, Secret)>, JobError> {
    let Some(live) = live_install(app, team).await? else {
        answer_click(app, team, response_url, not_connected.to_string()).await;
        return Ok(None);
    };
    if live.0.portal_id != portal {
        let other =
            "That conversation belongs to a HubSpot account this workspace is not connected to.";
        answer_click(app, team, response_url, other.to_string()).await;
        return Ok(None);
    }
    Ok(Some(live))
}

/// A conversation whose card must be redrawn after an action from Slack (the edge hands it
/// to the inbox-to-Slack sync, so this flow does not call that one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardChanged {
    pub portal_id: String,
    pub thread_id: String,
}
