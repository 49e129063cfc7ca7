//! The notification card: what it shows (`Card`) and its Block Kit (contracts/slack.md
//! limits: text 3000, button text 75, value 2000).

use serde_json::{json, Value};

use crate::chat::blocks::limits;
use crate::chat::text as slack_text;

pub const ACTION_REPLY_IN_INBOX: &str = "reply_in_inbox";

pub const ACTION_CLAIM: &str = "claim";

pub const ACTION_CLOSE: &str = "close_conversation";

pub const ACTION_REOPEN: &str = "reopen_conversation";

/// Assign the conversation to the clicking agent (value: `portal|thread|expected`, the
/// assignee the card showed, `-` for none: a click on a card that is out of date is refused).
pub const ACTION_ASSIGN_ME: &str = "assign_me";

/// Assign it to the Slack user picked in the select (its block id carries
/// `reassign|portal|thread|expected`).
pub const ACTION_REASSIGN: &str = "reassign";

/// Unassign it (value as for Assign to me).
pub const ACTION_UNASSIGN: &str = "unassign";

/// The reactions that act on a card: close (added) / reopen (removed), and assign to me.
pub const REACTION_CLOSE: &str = "white_check_mark";
pub const REACTION_ASSIGN_ME: &str = "eyes";

pub fn is_shortcut(reaction: &str) -> bool {
    matches!(reaction, REACTION_CLOSE | REACTION_ASSIGN_ME)
}

/// The context of an assignment button: `portal|thread|expected`.
pub fn assign_value(portal: &str, thread: &str, expected: Option<&str>) -> String {
    format!("{portal}|{thread}|{}", expected.unwrap_or("-"))
}

/// The reassign select's value for the job: its block's context and the picked user, as
/// `portal|thread|expected|user` (empty when the block is not ours).
pub fn reassign_value(block_id: &str, picked: &str) -> String {
    match block_id.strip_prefix("reassign|") {
        Some(ctx) if !picked.is_empty() => format!("{ctx}|{picked}"),
        _ => String::new(),
    }
}

/// What an assignment click names: (portal, thread, expected assignee, picked Slack user).
/// Ids are checked to be plain (digits, or Slack's upper-case ids), so nothing else travels.
pub fn parse_assign_value(v: &str) -> Option<(String, String, Option<String>, Option<String>)> {
    let parts: Vec<&str> = v.split('|').collect();
    let plain =
        |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let (portal, thread, expected, picked) = match parts.as_slice() {
        [p, t, e] => (*p, *t, *e, None),
        [p, t, e, u] => (*p, *t, *e, Some(*u)),
        _ => return None,
    };
    if !plain(portal) || !plain(thread) || !(expected == "-" || plain(expected)) {
        return None;
    }
    if picked.is_some_and(|u| !plain(u)) {
        return None;
    }
    Some((
        portal.to_string(),
        thread.to_string(),
        (expected != "-").then(|| expected.to_string()),
        picked.map(str::to_string),
    ))
}

/// Slack text objects hold at most 3000 characters (contracts/slack.md, Block Kit).
pub const MAX_TEXT: usize = limits::TEXT;
/// Names (visitors, agents, owners) are cut to this many chars wherever they are shown.
pub const NAME: usize = 200;

/// Separates a card key's urgent part from the rest (a byte no status or id holds).
const LAZY: char = '\u{1f}';

/// The urgent part of a key made by `Card::key` (all of a key made before the split).
pub fn urgent_part(key: &str) -> &str {
    key.split(LAZY).next().unwrap_or(key)
}

/// The assignee as the card shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Person {
    pub user_id: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub slack_user: Option<String>,
}

/// Everything the notification card shows (kept with the conversation as JSON, so a card
/// can be brought up to date without reading the inbox again).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Card {
    pub portal_id: String,
    pub thread_id: String,
    pub first_message: String,
    pub visitor: String,
    pub status: String,
    pub page: Option<String>,
    pub assignee: Option<Person>,
    pub contact_owner: Option<String>,
    pub inbox_url: String,
    pub assignee_available: Option<bool>,
    /// Who wrote the latest message (visitor or agent) and when (epoch seconds).
    pub last_reply: Option<(String, i64)>,
    /// Seconds from the visitor's first message to the first agent answer.
    pub first_response_secs: Option<i64>,
    /// When the visitor's first message came (epoch ms): not shown, kept so the first
    /// response time can be told from a later page of messages.
    #[serde(default)]
    pub first_in_ms: Option<i64>,
    /// Since when a visitor has waited for an answer (epoch s), while they do.
    #[serde(default)]
    pub waiting_since: Option<i64>,
}

/// "2m 5s", "1h 3m", "45s".
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

impl Card {
    /// A compact fingerprint of what is shown, to know when `chat.update` is needed: what
    /// must show at once (`urgent_key`), then what may wait for a coalesced update.
    pub fn key(&self) -> String {
        format!(
            "{}{LAZY}{}|{}|{}",
            self.urgent_key(),
            self.last_reply
                .as_ref()
                .map(|(w, t)| format!("{w}@{t}"))
                .unwrap_or_default(),
            self.first_response_secs
                .map(|s| s.to_string())
                .unwrap_or_default(),
            self.waiting_since
                .map(|s| s.to_string())
                .unwrap_or_default()
        )
    }

    /// Status, assignee and what the Claim button depends on: shown as soon as it changes.
    pub fn urgent_key(&self) -> String {
        let a = self.assignee.as_ref();
        format!(
            "{}|{}|{}|{}",
            self.status,
            a.and_then(|p| p.user_id.clone()).unwrap_or_default(),
            a.and_then(|p| p.slack_user.clone()).unwrap_or_default(),
            self.assignee_available
                .map(|b| b.to_string())
                .unwrap_or_default(),
        )
    }

    pub fn fallback_text(&self) -> String {
        let (first, _) = slack_text::escape_and_truncate(&self.first_message, 200);
        format!(
            "New live chat from {}: {first}",
            slack_text::escape_and_truncate(&self.visitor, NAME).0
        )
    }

    /// The card as plain text, for when Slack refuses its blocks: who, what, the state and
    /// the way to the inbox.
    pub fn plain_text(&self) -> String {
        let (first, _) = slack_text::escape_and_truncate(&self.first_message, 2000);
        let assignee = match &self.assignee {
            Some(p) => slack_text::escape_and_truncate(&p.name, NAME).0,
            None => "unassigned".into(),
        };
        format!(
            ":speech_balloon: New live chat from *{}*: {first}\nStatus: {} · Assignee: {assignee} · <{}|Reply in Inbox>",
            slack_text::escape_and_truncate(&self.visitor, NAME).0,
            match self.status.as_str() {
                "" => "OPEN",
                s => s,
            },
            self.inbox_url
        )
    }

    /// Block Kit blocks (contracts/slack.md limits: text 3000, button text 75, value 2000).
    pub fn blocks(&self) -> Value {
        // Quote marks and the link count against the limit: the quote is cut as a whole
        // (contracts/slack.md, Block Kit; a 279-line message once became 3,000+ chars).
        let escaped = slack_text::escape(&self.first_message);
        let mut quote = escaped
            .lines()
            .map(|l| format!(">{l}"))
            .collect::<Vec<_>>()
            .join("\n");
        if quote.is_empty() {
            quote = ">_(no text)_".into();
        }
        if quote.chars().count() > MAX_TEXT {
            let link = format!("\n<{}|Read the whole message in the inbox>", self.inbox_url);
            let (cut, _) = slack_text::truncate_escaped(&quote, MAX_TEXT - link.chars().count());
            quote = cut + &link;
        }
        let status = match self.status.as_str() {
            "CLOSED" => ":white_check_mark: Closed",
            "OPEN" | "" => ":large_green_circle: Open",
            other => other,
        };
        let assignee = match &self.assignee {
            None => "Unassigned".to_string(),
            Some(p) => {
                let who = match &p.slack_user {
                    Some(u) => format!("<@{u}>"),
                    None => slack_text::escape_and_truncate(&p.name, NAME).0,
                };
                match self.assignee_available {
                    Some(true) => format!("{who} (available)"),
                    Some(false) => format!("{who} (away)"),
                    None => who,
                }
            }
        };
        let mut fields = vec![
            json!({"type": "mrkdwn", "text": format!("*Status*\n{status}")}),
            json!({"type": "mrkdwn", "text": format!("*Assignee*\n{assignee}")}),
        ];
        if let Some(owner) = &self.contact_owner {
            fields.push(json!({"type": "mrkdwn", "text": format!("*Contact owner*\n{}", slack_text::escape_and_truncate(owner, NAME).0)}));
        }
        if let Some(page) = &self.page {
            let (p, _) = slack_text::escape_and_truncate(page, 500);
            fields.push(json!({"type": "mrkdwn", "text": format!("*Last page seen*\n{p}")}));
        }
        if let Some((who, at)) = &self.last_reply {
            // Slack renders the date in each reader's own time zone.
            fields.push(json!({"type": "mrkdwn", "text": format!("*Last reply*\n{} · <!date^{at}^{{date_short_pretty}} {{time}}|{at}>", slack_text::escape_and_truncate(who, NAME).0)}));
        }
        if let Some(secs) = self.first_response_secs {
            fields.push(json!({"type": "mrkdwn", "text": format!("*First response*\n{}", human_duration(secs))}));
        }
        if let Some(at) = self.waiting_since.filter(|_| self.status != "CLOSED") {
            fields.push(json!({"type": "mrkdwn", "text": format!(":hourglass_flowing_sand: *Waiting for a reply*\nsince <!date^{at}^{{time}}|{at}>")}));
        }
        let closed = self.status == "CLOSED";
        let mut buttons = vec![
            json!({
                "type": "button",
                "action_id": ACTION_REPLY_IN_INBOX,
                "text": {"type": "plain_text", "text": "Reply in Inbox"},
                "url": self.inbox_url,
            }),
            json!({
                "type": "button",
                "action_id": if closed { ACTION_REOPEN } else { ACTION_CLOSE },
                "text": {"type": "plain_text", "text": if closed { "Reopen" } else { "Close" }},
                "value": format!("{}|{}", self.portal_id, self.thread_id),
            }),
        ];
        if let Some(p) = &self.assignee {
            if let (None, Some(uid), Some(email)) = (&p.slack_user, &p.user_id, &p.email) {
                let value = claim_value(&self.portal_id, &self.thread_id, uid, email);
                // A value Slack would refuse (an absurd email) leaves the button out.
                if value.chars().count() <= limits::BUTTON_VALUE {
                    let (label, _) =
                        slack_text::truncate_chars(&format!("Claim {email}"), limits::BUTTON_TEXT);
                    buttons.push(json!({
                        "type": "button",
                        "action_id": ACTION_CLAIM,
                        "text": {"type": "plain_text", "text": label},
                        "value": value,
                    }));
                }
            }
        }
        // Assigning, for linked agents (checked on click): to me, to someone picked, nobody.
        let expected = self.assignee.as_ref().and_then(|p| p.user_id.as_deref());
        let ctx = assign_value(&self.portal_id, &self.thread_id, expected);
        let mut assigning = vec![];
        if !closed {
            assigning.push(json!({
                "type": "button",
                "action_id": ACTION_ASSIGN_ME,
                "text": {"type": "plain_text", "text": "Assign to me"},
                "value": ctx,
            }));
            assigning.push(json!({
                "type": "users_select",
                "action_id": ACTION_REASSIGN,
                "placeholder": {"type": "plain_text", "text": if expected.is_some() { "Reassign to…" } else { "Assign to…" }},
            }));
            if expected.is_some() {
                assigning.push(json!({
                    "type": "button",
                    "action_id": ACTION_UNASSIGN,
                    "text": {"type": "plain_text", "text": "Unassign"},
                    "value": ctx,
                }));
            }
        }
        let mut blocks = vec![
            json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(":speech_balloon: *New live chat* from *{}*", slack_text::escape_and_truncate(&self.visitor, NAME).0)}}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": quote}}),
            json!({"type": "section", "fields": fields}),
            json!({"type": "actions", "block_id": "conversation_actions", "elements": buttons}),
        ];
        if !assigning.is_empty() {
            blocks.push(json!({"type": "actions", "block_id": format!("reassign|{ctx}"), "elements": assigning}));
        }
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("HubSpot conversation {} · replies in this thread go to the visitor", self.thread_id)}]}));
        Value::Array(blocks)
    }
}

/// The Claim button's value: `portal|thread|user_id|email`.
pub fn claim_value(portal: &str, thread: &str, user_id: &str, email: &str) -> String {
    format!("{portal}|{thread}|{user_id}|{email}")
}

/// Parses a Claim button's value.
pub fn parse_claim_value(v: &str) -> Option<(String, String, String, String)> {
    let mut it = v.splitn(4, '|');
    let (p, t, u, e) = (it.next()?, it.next()?, it.next()?, it.next()?);
    (!p.is_empty() && !t.is_empty() && !u.is_empty() && e.contains('@'))
        .then(|| (p.into(), t.into(), u.into(), e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> Card {
        Card {
            portal_id: "1".into(),
            thread_id: "9".into(),
            first_message: "Hi <!channel> & <https://evil|bank>".into(),
            visitor: "Eve <@U1>".into(),
            status: "OPEN".into(),
            page: None,
            assignee: Some(Person {
                user_id: Some("7".into()),
                name: "Ann".into(),
                email: Some("ann@example.com".into()),
                slack_user: None,
            }),
            contact_owner: Some("Bob".into()),
            inbox_url: "https://app.hubspot.com/live-messages/1/inbox/9".into(),
            assignee_available: None,
            last_reply: None,
            first_response_secs: None,
            first_in_ms: None,
            waiting_since: None,
        }
    }

    #[test]
    fn card_escapes_visitor_text_and_offers_claim() {
        let b = card().blocks().to_string();
        assert!(!b.contains("<!channel>"));
        assert!(!b.contains("<@U1>"));
        assert!(!b.contains("<https://evil"));
        assert!(b.contains("Claim ann@example.com"));
        assert!(b.contains("1|9|7|ann@example.com"));
        assert!(b.contains("\"url\":\"https://app.hubspot.com/live-messages/1/inbox/9\""));
    }

    #[test]
    fn mapped_assignee_has_no_claim_and_is_mentioned() {
        let mut c = card();
        c.assignee.as_mut().unwrap().slack_user = Some("U77".into());
        let b = c.blocks().to_string();
        assert!(!b.contains("Claim"));
        assert!(b.contains("<@U77>"));
        assert_ne!(c.key(), card().key());
    }

    #[test]
    fn long_first_message_is_cut_with_a_link() {
        let mut c = card();
        c.first_message = "é".repeat(10_000);
        let blocks = c.blocks();
        let quote = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(quote.chars().count() <= MAX_TEXT);
        assert!(quote.contains("Read the whole message"));
    }

    #[test]
    fn claim_values_round_trip() {
        let v = claim_value("1", "9", "7", "a@b.c");
        assert_eq!(
            parse_claim_value(&v),
            Some(("1".into(), "9".into(), "7".into(), "a@b.c".into()))
        );
        assert_eq!(parse_claim_value("1|9|7"), None);
        assert_eq!(parse_claim_value("1|9|7|nomail"), None);
    }
}
