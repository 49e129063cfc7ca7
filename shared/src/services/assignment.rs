//! Telling an agent in Slack that a conversation was assigned to them: shared by the sync
//! (an assignment made in the inbox, or by someone else from Slack) and nothing else; an
//! agent's own Assign to me is never told (the assign flow records it first).

use serde_json::{json, Value};

use crate::app::App;
use crate::chat::blocks::card::Card;
use crate::chat::blocks::limits;
use crate::chat::text as slack_text;
use crate::domain::{Install, ThreadMap};
use crate::support::secret::Secret;

/// The Slack user of the card's assignee: the one linked to that inbox user, else the
/// workspace member whose email is the assignee's HubSpot email. None when neither is.
async fn slack_user_of(app: &App, install: &Install, bot: &Secret, card: &Card) -> Option<String> {
    let person = card.assignee.as_ref()?;
    if let Some(u) = &person.slack_user {
        return Some(u.clone());
    }
    let email = person.email.as_deref().filter(|e| e.contains('@'))?;
    match app.slack.lookup_by_email(bot, email).await {
        Ok(Some(u)) if !u.deleted && !u.is_bot => Some(u.id),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(portal = %install.portal_id, error = %e, "assignee not looked up in Slack");
            None
        }
    }
}

/// The direct message: who the chat is from, its first message, a link to the Slack thread
/// and Reply in Inbox.
pub fn message(card: &Card, thread_link: &str) -> (String, Value) {
    let visitor = slack_text::escape_and_truncate(&card.visitor, 200).0;
    let (first, _) = slack_text::escape_and_truncate(&card.first_message, 1500);
    let quote = first
        .lines()
        .map(|l| format!(">{l}"))
        .collect::<Vec<_>>()
        .join("\n");
    let text = format!(":inbox_tray: A live chat from *{visitor}* was assigned to you.");
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})];
    if !quote.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": quote}}));
    }
    blocks.push(json!({"type": "actions", "block_id": "assigned_links", "elements": [
        {"type": "button", "action_id": "open_thread", "text": {"type": "plain_text", "text": "Open the thread"}, "url": thread_link},
        {"type": "button", "action_id": crate::chat::blocks::card::ACTION_REPLY_IN_INBOX, "text": {"type": "plain_text", "text": "Reply in Inbox"}, "url": card.inbox_url},
    ]}));
    let fallback = format!("A live chat from {visitor} was assigned to you: {thread_link}");
    let (fallback, _) = slack_text::truncate_chars(&fallback, limits::MESSAGE_TEXT);
    (fallback, Value::Array(blocks))
}

/// Tells the card's assignee (when Slack knows who that is). Failures are logged: the
/// assignment itself is done, and the card shows it.
pub async fn tell_assignee(
    app: &App,
    install: &Install,
    bot: &Secret,
    map: &ThreadMap,
    card: &Card,
) {
    let Some(user) = slack_user_of(app, install, bot, card).await else {
        tracing::info!(portal = %map.portal_id, conversation = %map.thread_id, "assignee has no Slack user; not told");
        return;
    };
    let link = match app
        .slack
        .permalink(bot, &map.channel_id, &map.parent_ts)
        .await
    {
        Ok(l) => l,
        Err(_) => format!(
            "https://slack.com/app_redirect?team={}&channel={}",
            install.team_id, map.channel_id
        ),
    };
    let (text, blocks) = message(card, &link);
    match app
        .slack
        .post_message(bot, &user, None, &text, Some(&blocks))
        .await
    {
        Ok(_) => {
            tracing::info!(portal = %map.portal_id, conversation = %map.thread_id, slack_user = %user, "assignee told")
        }
        Err(e) => {
            tracing::warn!(portal = %map.portal_id, conversation = %map.thread_id, error = %e, "assignee not told")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_stays_within_slacks_limits_and_shows_visitor_text_inert() {
        let card = Card {
            portal_id: "1".into(),
            thread_id: "2".into(),
            first_message: "a\n".repeat(4000) + "<!channel> <https://evil.example|bank>",
            visitor: "Eve <!here>".repeat(50),
            status: "OPEN".into(),
            page: None,
            assignee: None,
            contact_owner: None,
            inbox_url: "https://app.hubspot.com/live-messages/1/inbox/2".into(),
            assignee_available: None,
            last_reply: None,
            first_response_secs: None,
            first_in_ms: None,
            waiting_since: None,
        };
        let (text, blocks) = message(&card, "https://acme.slack.com/archives/C1/p1");
        limits::check(&blocks, false).unwrap();
        assert!(text.chars().count() <= limits::MESSAGE_TEXT);
        let all = blocks.to_string();
        assert!(
            !all.contains("<!here>") && !all.contains("<!channel>"),
            "{all}"
        );
        let short = Card {
            first_message: "Hello <b>".into(),
            visitor: "Ann".into(),
            ..card
        };
        let (_, blocks) = message(&short, "https://x/y");
        assert!(blocks.to_string().contains(">Hello &lt;b&gt;"));
    }
}
