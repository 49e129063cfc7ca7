//! What the card shows between reads of the whole conversation: the card as last built is
//! kept with the conversation and brought up to date by each messages page a sync reads;
//! what changes often (last reply, first response) goes to Slack at most once per
//! `COALESCE_SECS`, what matters at once (status, assignee) at once.

use crate::app::App;
use crate::chat::blocks::card::{urgent_part, Card};
use crate::chat::blocks::messages::sender_name;
use crate::domain::{Direction, Message, ThreadMap};

/// At most one coalesced `chat.update` per card in this many seconds: Slack's `chat.update`
/// is tier 3, about 50 a minute per workspace (contracts/slack.md), shared by every card.
pub const COALESCE_SECS: i64 = 30;

/// Brings `card` up to date with `messages` (oldest first; ones seen before change nothing):
/// the first visitor message's time, the first agent answer after it, the latest message.
pub fn apply_messages(card: &mut Card, messages: &[Message]) {
    for m in messages.iter().filter(|m| m.is_chat()) {
        let at = m.created_at_ms;
        match m.direction {
            Some(Direction::FromVisitor) if card.first_in_ms.is_none() && at > 0 => {
                card.first_in_ms = Some(at);
            }
            Some(Direction::FromAgent) if card.first_response_secs.is_none() => {
                if let Some(i) = card.first_in_ms.filter(|i| at >= *i) {
                    card.first_response_secs = Some((at - i) / 1000);
                }
            }
            _ => {}
        }
        let secs = at.div_euclid(1000);
        if card.last_reply.as_ref().is_none_or(|(_, t)| secs >= *t) {
            card.last_reply = Some((sender_name(m), secs));
        }
    }
}

/// The card kept with the conversation, when it can be read.
pub fn kept_card(map: &ThreadMap) -> Option<Card> {
    map.card
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
}

/// A message the inbox took from Slack (an agent's reply): put on the kept card, and its
/// coalesced update set due, so the sweep shows it without the inbox being read when it
/// reports the message back. Best effort: the next sync of the conversation catches up.
pub async fn note_sent(app: &App, portal: &str, thread: &str, sent: &Message) {
    let now = app.clock.now_secs();
    // A concurrent writer (a sync) wins the version; the reply is put on what it saved.
    for _ in 0..3 {
        let Ok(Some(map)) = app.records.get_thread(portal, thread).await else {
            return;
        };
        let Some(next) = with_sent(map, sent, now) else {
            return;
        };
        match app.records.save_thread(&next).await {
            Ok(Some(_)) => return,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(portal, conversation = thread, error = %e, "reply not noted on the card");
                return;
            }
        }
    }
    tracing::info!(
        portal,
        conversation = thread,
        "reply not noted: the conversation kept changing; its next sync shows it"
    );
}

/// The mapping with an answer sent from Slack on it: the visitor's wait ended (and its
/// timer), the card's last reply and first response due. None when nothing changes.
fn with_sent(mut map: ThreadMap, sent: &Message, now: i64) -> Option<ThreadMap> {
    let waited = map.wait.is_some();
    map.note_message(sent, now);
    if map.wait.is_none() {
        map.wait_due_at = None;
    }
    let card_due = kept_card(&map).and_then(|mut card| {
        apply_messages(&mut card, std::slice::from_ref(sent));
        card.waiting_since = map.wait.as_ref().map(|w| w.since);
        match when_to_show(&map.status, &card, map.card_shown_at, now) {
            Show::Nothing => None,
            Show::Now => Some((card, now)),
            Show::At(at) => Some((card, at)),
        }
    });
    if card_due.is_none() && !(waited && map.wait.is_none()) {
        return None;
    }
    Some(match card_due {
        Some((card, due)) => ThreadMap {
            card: serde_json::to_string(&card).ok(),
            card_due_at: Some(map.card_due_at.map_or(due, |d| d.min(due))),
            ..map
        },
        None => map,
    })
}

/// When the card must go to Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// Slack shows this already.
    Nothing,
    Now,
    /// Only what may wait changed: at this time (epoch s), by a later sync or the sweep.
    At(i64),
}

/// `shown_key`: the key of the card Slack shows (`Card::key`), `shown_at` when it went.
pub fn when_to_show(shown_key: &str, card: &Card, shown_at: i64, now: i64) -> Show {
    if card.key() == shown_key {
        return Show::Nothing;
    }
    if urgent_part(shown_key) != card.urgent_key() || now - shown_at >= COALESCE_SECS {
        return Show::Now;
    }
    Show::At(shown_at + COALESCE_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::blocks::card::Person;
    use crate::domain::MessageKind;

    fn card() -> Card {
        Card {
            portal_id: "1".into(),
            thread_id: "2".into(),
            first_message: "Hi".into(),
            visitor: "Vera".into(),
            status: "OPEN".into(),
            page: None,
            assignee: None,
            contact_owner: None,
            inbox_url: "https://app.hubspot.com/x".into(),
            assignee_available: None,
            last_reply: None,
            first_response_secs: None,
            first_in_ms: None,
            waiting_since: None,
        }
    }

    fn msg(id: &str, at_ms: i64, dir: Direction) -> Message {
        Message {
            id: id.into(),
            kind: MessageKind::Chat,
            created_at: String::new(),
            created_at_ms: at_ms,
            text: Some("t".into()),
            rich_text: None,
            direction: Some(dir),
            senders: vec![],
            sent_by_app: None,
            attachments: vec![],
            reply_route: Default::default(),
        }
    }

    #[test]
    fn messages_give_first_response_and_last_reply_and_repeat_harmlessly() {
        let mut c = card();
        let page = [
            msg("a", 10_000, Direction::FromVisitor),
            msg("b", 25_000, Direction::FromVisitor),
            msg("c", 70_000, Direction::FromAgent),
        ];
        apply_messages(&mut c, &page);
        assert_eq!(c.first_in_ms, Some(10_000));
        assert_eq!(c.first_response_secs, Some(60));
        assert_eq!(c.last_reply.as_ref().map(|r| r.1), Some(70));
        // The same page again, then an older one: nothing moves back.
        let before = c.clone();
        apply_messages(&mut c, &page);
        apply_messages(&mut c, &page[..1]);
        assert_eq!(c, before);
        // An agent message before any visitor message is no first response.
        let mut d = card();
        apply_messages(&mut d, &[msg("x", 5_000, Direction::FromAgent)]);
        assert_eq!(d.first_response_secs, None);
    }

    #[test]
    fn status_and_assignee_show_at_once_the_rest_at_most_every_30_seconds() {
        let shown = card();
        let key = shown.key();
        assert_eq!(when_to_show(&key, &shown, 100, 101), Show::Nothing);
        let mut replied = shown.clone();
        replied.last_reply = Some(("Vera".into(), 101));
        assert_eq!(when_to_show(&key, &replied, 100, 101), Show::At(130));
        assert_eq!(when_to_show(&key, &replied, 100, 130), Show::Now);
        let mut closed = replied.clone();
        closed.status = "CLOSED".into();
        assert_eq!(when_to_show(&key, &closed, 100, 101), Show::Now);
        let mut assigned = shown.clone();
        assigned.assignee = Some(Person {
            user_id: Some("7".into()),
            ..Default::default()
        });
        assert_eq!(when_to_show(&key, &assigned, 100, 101), Show::Now);
        // A key stored before keys had an urgent part: shown at once, once.
        assert_eq!(when_to_show("OPEN||||", &replied, 100, 101), Show::Now);
    }
}
