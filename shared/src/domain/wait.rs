//! A visitor waiting for an answer: when the wait began, whether anyone has answered in the
//! conversation before (a first or a next response), and which of its alert and escalation
//! have gone out. Pure rules; the timer sweep and the sync act on them.

use serde::{Deserialize, Serialize};

use crate::domain::{Direction, Message};

/// The environment's defaults for response alerts, escalation, the digest and the
/// reconciliation sweep (issue: never leave a visitor waiting), from
/// `FIRST_RESPONSE_ALERT_SECS` and the rest (crate::config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertDefaults {
    /// `FIRST_RESPONSE_ALERT_SECS` (300; 0: off).
    pub first_response_secs: u32,
    /// `NEXT_RESPONSE_ALERT_SECS` (600; 0: off).
    pub next_response_secs: u32,
    /// `ESCALATE_AFTER_SECS` (900; 0: off).
    pub escalate_secs: u32,
    /// `DIGEST_HOUR_UTC` (0-23; unset: no digest).
    pub digest_hour_utc: Option<u8>,
    /// `RECONCILE_EVERY_SECS` (600; 0: never).
    pub reconcile_every_secs: u32,
}

impl Default for AlertDefaults {
    fn default() -> Self {
        AlertDefaults {
            first_response_secs: 300,
            next_response_secs: 600,
            escalate_secs: 900,
            digest_hour_utc: None,
            reconcile_every_secs: 600,
        }
    }
}

/// One unanswered stretch of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wait {
    /// Epoch seconds of the oldest visitor message not answered yet.
    pub since: i64,
    /// Nobody has answered in this conversation yet: a first-response wait.
    pub first: bool,
    #[serde(default)]
    pub alerted: bool,
    #[serde(default)]
    pub escalated: bool,
}

/// How long a visitor may wait before the alert and the escalation, in seconds (0: off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimes {
    pub first_response: u32,
    pub next_response: u32,
    pub escalate: u32,
}

/// What an admin set in the Home tab, for the install or one routed inbox; None: as the
/// level above says (a routed inbox: the install; the install: the environment).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AlertSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_response_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_secs: Option<u32>,
    /// Who an escalation mentions: `here`, `channel`, or a Slack user group id (`S…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<String>,
    /// The digest's hour (0-23, UTC), or -1 for none (install level only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_hour_utc: Option<i8>,
}

impl AlertSettings {
    /// These settings, falling back to `base` for what they leave unset.
    pub fn over(&self, base: &AlertSettings) -> AlertSettings {
        AlertSettings {
            first_response_secs: self.first_response_secs.or(base.first_response_secs),
            next_response_secs: self.next_response_secs.or(base.next_response_secs),
            escalate_secs: self.escalate_secs.or(base.escalate_secs),
            escalate_to: self
                .escalate_to
                .clone()
                .or_else(|| base.escalate_to.clone()),
            digest_hour_utc: self.digest_hour_utc.or(base.digest_hour_utc),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == AlertSettings::default()
    }

    /// The times, with `defaults` for what is unset.
    pub fn times(&self, defaults: &WaitTimes) -> WaitTimes {
        WaitTimes {
            first_response: self.first_response_secs.unwrap_or(defaults.first_response),
            next_response: self.next_response_secs.unwrap_or(defaults.next_response),
            escalate: self.escalate_secs.unwrap_or(defaults.escalate),
        }
    }

    /// The digest's hour: this setting's, else `default` (the environment's); None: no digest.
    pub fn digest_hour(&self, default: Option<u8>) -> Option<u8> {
        match self.digest_hour_utc {
            Some(h) if (0..24).contains(&h) => Some(h as u8),
            Some(_) => None,
            None => default,
        }
    }

    /// The mention an escalation carries (Slack's special mentions, contracts/slack.md).
    pub fn escalation_mention(&self) -> String {
        match self.escalate_to.as_deref() {
            Some("channel") => "<!channel>".into(),
            Some(id) if is_user_group_id(id) => format!("<!subteam^{id}>"),
            _ => "<!here>".into(),
        }
    }
}

/// The next `hour`:00 UTC after `now` (epoch s).
pub fn next_hour(now: i64, hour: u8) -> i64 {
    let day = now.div_euclid(86_400) * 86_400;
    let at = day + i64::from(hour) * 3600;
    if at > now {
        at
    } else {
        at + 86_400
    }
}

/// A Slack user group id as Slack writes them (`S` and upper-case letters and digits).
pub fn is_user_group_id(id: &str) -> bool {
    id.len() > 1
        && id.len() <= 20
        && id.starts_with('S')
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// What is due for a wait at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DueNow {
    pub alert: bool,
    pub escalate: bool,
}

impl Wait {
    /// When the alert goes, unless it went already or is off.
    pub fn alert_at(&self, t: &WaitTimes) -> Option<i64> {
        let after = if self.first {
            t.first_response
        } else {
            t.next_response
        };
        (!self.alerted && after > 0).then(|| self.since + i64::from(after))
    }

    /// When the escalation goes, unless it went already or is off.
    pub fn escalate_at(&self, t: &WaitTimes) -> Option<i64> {
        (!self.escalated && t.escalate > 0).then(|| self.since + i64::from(t.escalate))
    }

    /// The next time something is due for this wait.
    pub fn next_at(&self, t: &WaitTimes) -> Option<i64> {
        match (self.alert_at(t), self.escalate_at(t)) {
            (Some(a), Some(e)) => Some(a.min(e)),
            (a, e) => a.or(e),
        }
    }

    pub fn due(&self, t: &WaitTimes, now: i64) -> DueNow {
        DueNow {
            alert: self.alert_at(t).is_some_and(|a| a <= now),
            escalate: self.escalate_at(t).is_some_and(|e| e <= now),
        }
    }
}

/// A conversation's waiting state after one more message (messages taken oldest first): a
/// visitor's chat message starts a wait unless one runs, an agent's answer (from Slack or
/// from the inbox) ends it. Notes and system messages change nothing. `answered`: whether
/// an agent has answered in the conversation, kept with it. `now` stands in for a message
/// time the inbox did not give.
pub fn on_message(wait: &mut Option<Wait>, answered: &mut bool, m: &Message, now: i64) {
    if !m.is_chat() {
        return;
    }
    match m.direction {
        Some(Direction::FromVisitor) if wait.is_none() => {
            let at = if m.created_at_ms > 0 {
                m.created_at_ms.div_euclid(1000)
            } else {
                now
            };
            *wait = Some(Wait {
                since: at,
                first: !*answered,
                alerted: false,
                escalated: false,
            });
        }
        Some(Direction::FromAgent) => {
            *wait = None;
            *answered = true;
        }
        _ => {}
    }
}

/// How long, for people: "45 s", "5 min", "1 h 20 min".
pub fn duration_text(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 60 {
        return format!("{secs} s");
    }
    let mins = secs / 60;
    if mins < 60 {
        return format!("{mins} min");
    }
    match mins % 60 {
        0 => format!("{} h", mins / 60),
        m => format!("{} h {m} min", mins / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageKind;

    fn msg(at_s: i64, dir: Direction, kind: MessageKind) -> Message {
        Message {
            id: format!("m{at_s}"),
            kind,
            created_at: String::new(),
            created_at_ms: at_s * 1000,
            text: Some("t".into()),
            rich_text: None,
            direction: Some(dir),
            senders: vec![],
            sent_by_app: None,
            attachments: vec![],
            reply_route: Default::default(),
        }
    }

    const T: WaitTimes = WaitTimes {
        first_response: 300,
        next_response: 600,
        escalate: 900,
    };

    #[test]
    fn a_wait_runs_from_the_oldest_unanswered_visitor_message_to_an_answer() {
        let (mut w, mut answered) = (None, false);
        on_message(
            &mut w,
            &mut answered,
            &msg(100, Direction::FromVisitor, MessageKind::Chat),
            0,
        );
        on_message(
            &mut w,
            &mut answered,
            &msg(150, Direction::FromVisitor, MessageKind::Chat),
            0,
        );
        let first = w.clone().expect("waiting");
        assert_eq!((first.since, first.first), (100, true));
        assert_eq!(first.alert_at(&T), Some(400));
        assert_eq!(first.escalate_at(&T), Some(1000));
        assert_eq!(first.next_at(&T), Some(400));
        // A note is not an answer.
        on_message(
            &mut w,
            &mut answered,
            &msg(200, Direction::FromAgent, MessageKind::Note),
            0,
        );
        assert!(w.is_some());
        on_message(
            &mut w,
            &mut answered,
            &msg(300, Direction::FromAgent, MessageKind::Chat),
            0,
        );
        assert_eq!(w, None);
        assert!(answered);
        on_message(
            &mut w,
            &mut answered,
            &msg(400, Direction::FromVisitor, MessageKind::Chat),
            0,
        );
        let next = w.expect("waiting again");
        assert!(!next.first);
        assert_eq!(next.alert_at(&T), Some(1000));
    }

    #[test]
    fn what_went_or_is_off_is_not_due_again() {
        let mut w = Wait {
            since: 0,
            first: true,
            alerted: false,
            escalated: false,
        };
        assert_eq!(w.due(&T, 299), DueNow::default());
        assert_eq!(
            w.due(&T, 300),
            DueNow {
                alert: true,
                escalate: false
            }
        );
        w.alerted = true;
        assert_eq!(w.next_at(&T), Some(900));
        assert!(w.due(&T, 900).escalate);
        w.escalated = true;
        assert_eq!(w.next_at(&T), None);
        let off = WaitTimes {
            first_response: 0,
            next_response: 0,
            escalate: 0,
        };
        let fresh = Wait {
            alerted: false,
            escalated: false,
            ..w
        };
        assert_eq!(fresh.next_at(&off), None);
    }

    #[test]
    fn a_routed_inbox_falls_back_to_the_install_and_the_install_to_the_environment() {
        let install = AlertSettings {
            first_response_secs: Some(120),
            escalate_to: Some("S0ABC123".into()),
            ..Default::default()
        };
        let inbox = AlertSettings {
            escalate_secs: Some(0),
            ..Default::default()
        };
        let s = inbox.over(&install);
        assert_eq!(
            s.times(&T),
            WaitTimes {
                first_response: 120,
                next_response: 600,
                escalate: 0
            }
        );
        assert_eq!(s.escalation_mention(), "<!subteam^S0ABC123>");
        assert_eq!(AlertSettings::default().escalation_mention(), "<!here>");
        // Anything else is not put into a mention as it is.
        let odd = AlertSettings {
            escalate_to: Some("S1><!channel".into()),
            ..Default::default()
        };
        assert_eq!(odd.escalation_mention(), "<!here>");
    }

    #[test]
    fn the_next_digest_hour_is_always_ahead() {
        let day = 20_000 * 86_400;
        assert_eq!(next_hour(day + 3600, 9), day + 9 * 3600);
        assert_eq!(next_hour(day + 9 * 3600, 9), day + 86_400 + 9 * 3600);
        assert_eq!(next_hour(day + 10 * 3600, 9), day + 86_400 + 9 * 3600);
        let off = AlertSettings {
            digest_hour_utc: Some(-1),
            ..Default::default()
        };
        assert_eq!(off.digest_hour(Some(9)), None);
        assert_eq!(AlertSettings::default().digest_hour(Some(9)), Some(9));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_text(42), "42 s");
        assert_eq!(duration_text(300), "5 min");
        assert_eq!(duration_text(3600), "1 h");
        assert_eq!(duration_text(4800), "1 h 20 min");
        assert_eq!(duration_text(-5), "0 s");
    }
}
