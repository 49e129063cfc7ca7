//! A visitor left waiting: the conversation's timer, when due, says so in the thread, tells
//! the assignee in a direct message, and later escalates to the channel, each once per
//! wait. The wait itself is kept by the sync (`ThreadMap::note_message`); an answer from
//! Slack or from the inbox, or closing the chat, ends it.

use crate::app::App;
use crate::chat::blocks::card::Card;
use crate::chat::text::escape;
use crate::domain::{duration_text, AlertSettings, Install, ThreadMap, WaitTimes};
use crate::queue::JobError;
use crate::services::failures::slack_failure;
use crate::support::secret::Secret;

/// The environment's times, under the install's settings, under the inbox's.
pub fn settings(install: &Install, inbox: Option<&AlertSettings>) -> AlertSettings {
    let base = install.alerts.clone();
    inbox.map_or(base.clone(), |i| i.over(&base))
}

pub fn times(app: &App, s: &AlertSettings) -> WaitTimes {
    let d = app.settings.alerts;
    s.times(&WaitTimes {
        first_response: d.first_response_secs,
        next_response: d.next_response_secs,
        escalate: d.escalate_secs,
    })
}

/// After a sync has noted its messages: when the wait's next alert is due, by the settings
/// the sync knows (the install's and the inbox's as last read). Closed: no wait.
pub fn schedule(app: &App, install: &Install, map: &mut ThreadMap, card: &Card) {
    if card.status == "CLOSED" {
        map.wait = None;
    }
    let s = settings(install, map.inbox_alerts.as_ref());
    map.wait_due_at = map.wait.as_ref().and_then(|w| w.next_at(&times(app, &s)));
}

/// The timer fired: what of the wait is due goes out, and the next time is set. A post
/// that fails is retried with the job; what went out before it is not sent again (the
/// flags are saved only with the job's final write, so a retry may repeat the thread line
/// once, never the escalation after it went).
pub async fn act(
    app: &App,
    install: &Install,
    bot: &Secret,
    mut map: ThreadMap,
    card: &Card,
    now: i64,
) -> Result<ThreadMap, JobError> {
    // The inbox's settings as they are now (an admin may have changed them).
    let inbox_alerts = match &map.inbox_id {
        Some(inbox) => app
            .records
            .route_for(&map.portal_id, inbox)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?
            .map(|r| r.alerts)
            .filter(|a| !a.is_empty()),
        None => None,
    };
    map.inbox_alerts = inbox_alerts.clone();
    let s = settings(install, inbox_alerts.as_ref());
    let t = times(app, &s);
    if card.status == "CLOSED" {
        map.wait = None;
    }
    let Some(mut wait) = map.wait.clone() else {
        map.wait_due_at = None;
        return Ok(map);
    };
    let due = wait.due(&t, now);
    let waited = duration_text(now - wait.since);
    let visitor = escape(&card.visitor);
    if due.alert {
        let line = format!(
            ":hourglass_flowing_sand: {visitor} has waited {waited} for {}.",
            if wait.first {
                "a first reply"
            } else {
                "a reply"
            }
        );
        if let Err(e) = app
            .slack
            .post_message(bot, &map.channel_id, Some(&map.parent_ts), &line, None)
            .await
        {
            return Err(slack_failure(app, install, e).await);
        }
        tell_assignee(app, install, bot, &map, card, &waited).await;
        wait.alerted = true;
        tracing::info!(portal = %map.portal_id, conversation = %map.thread_id, waited_secs = now - wait.since, first = wait.first, "waiting visitor: alert sent");
    }
    if due.escalate {
        let text = format!(
            "{} {visitor} has waited {waited} and nobody has answered yet. Can someone take this chat?",
            s.escalation_mention()
        );
        if let Err(e) = app
            .slack
            .post_broadcast(bot, &map.channel_id, &map.parent_ts, &text)
            .await
        {
            // The alert above went: kept, so a retry does not send it again.
            map.wait = Some(wait);
            map.wait_due_at = map.wait.as_ref().and_then(|w| w.next_at(&t));
            tracing::warn!(portal = %map.portal_id, conversation = %map.thread_id, "escalation not posted; retried at the next sweep");
            let _ = slack_failure(app, install, e).await;
            return Ok(map);
        }
        wait.escalated = true;
        tracing::info!(portal = %map.portal_id, conversation = %map.thread_id, waited_secs = now - wait.since, "waiting visitor: escalated");
    }
    map.wait_due_at = wait.next_at(&t);
    map.wait = Some(wait);
    Ok(map)
}

/// A direct message to the assignee: their linked Slack user, else the Slack user with
/// their HubSpot email. Best effort: the thread line has gone already.
async fn tell_assignee(
    app: &App,
    install: &Install,
    bot: &Secret,
    map: &ThreadMap,
    card: &Card,
    waited: &str,
) {
    let Some(person) = &card.assignee else {
        return;
    };
    let user = match (&person.slack_user, &person.email) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(email)) => match app.slack.lookup_by_email(bot, email).await {
            Ok(u) => u.map(|u| u.id),
            Err(e) => {
                tracing::warn!(portal = %install.portal_id, conversation = %map.thread_id, error = %e, "assignee not found in Slack; no direct message");
                None
            }
        },
        (None, None) => None,
    };
    let Some(user) = user else {
        return;
    };
    let link = match app
        .slack
        .permalink(bot, &map.channel_id, &map.parent_ts)
        .await
    {
        Ok(l) => format!("<{l}|the chat's thread>"),
        Err(_) => format!("<#{}>", map.channel_id),
    };
    let text = format!(
        ":hourglass_flowing_sand: {} has waited {waited} for a reply in a chat assigned to you: {link}",
        escape(&card.visitor)
    );
    // Posting to a user id opens the app's direct message with them (chat:write).
    if let Err(e) = app.slack.post_message(bot, &user, None, &text, None).await {
        tracing::warn!(portal = %install.portal_id, conversation = %map.thread_id, error = %e, "direct message to the assignee not sent");
    }
}
