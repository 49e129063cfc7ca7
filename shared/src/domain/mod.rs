//! Plain domain types shared by the flows: installs, thread mappings, identities.

mod conversation;
mod files;
mod wait;
pub use conversation::*;
pub use files::SlackFile;
pub use wait::{
    duration_text, is_user_group_id, next_hour, on_message, AlertDefaults, AlertSettings, DueNow,
    Wait, WaitTimes,
};

use crate::support::secret::Secret;

/// How the bundle reaches one HubSpot portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubSpotAuth {
    /// A private-app token (single portal, from settings).
    PrivateApp { token: Secret },
    /// OAuth tokens of the public app; `expires_at` in epoch seconds.
    OAuth {
        access_token: Secret,
        refresh_token: Secret,
        expires_at: i64,
    },
}

/// Whether an install may post, and if not why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallStatus {
    Active,
    /// Posting failed in a way only an admin can fix (app not in channel, channel archived).
    NeedsAttention {
        reason: String,
    },
    /// Uninstalled or tokens revoked: nothing is posted and no token is kept.
    Inactive,
}

impl InstallStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            InstallStatus::Active => "active",
            InstallStatus::NeedsAttention { .. } => "needs_attention",
            InstallStatus::Inactive => "inactive",
        }
    }
}

/// Where an install came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallSource {
    /// Defined by settings (single-workspace mode).
    Settings,
    OAuth,
}

/// One portal connected to one Slack workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    pub portal_id: String,
    pub team_id: String,
    pub channel_id: Option<String>,
    /// A private channel an admin chose that the app is not in yet: it becomes `channel_id`
    /// when the app is invited (`member_joined_channel`); until then `channel_id` is kept.
    pub pending_channel_id: Option<String>,
    pub notifications_on: bool,
    /// Reaction shortcuts on cards (✅ closes, 👀 assigns); an admin turns them off in the
    /// Home tab.
    pub reactions_on: bool,
    /// None once the install is deactivated (tokens removed).
    pub bot_token: Option<Secret>,
    /// With Slack token rotation on: when `bot_token` expires and how it is renewed.
    pub bot_rotation: Option<SlackRotation>,
    pub bot_user_id: Option<String>,
    pub hubspot: Option<HubSpotAuth>,
    pub status: InstallStatus,
    pub source: InstallSource,
    pub installer_user_id: Option<String>,
    pub last_delivery_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    /// Optimistic-concurrency version (0 for an install not read from the store): a change
    /// is saved only over the version it was made to (`Records::update_install`), so the
    /// worker's health writes and an admin's Home-tab change never undo each other.
    pub version: i64,
    /// Response alerts, escalation and the digest as an admin set them (Home tab).
    pub alerts: AlertSettings,
    /// The install's own timers (digest, reconciliation) on the timer index.
    pub timers: InstallTimers,
}

/// When an install's timed work is next due.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstallTimers {
    /// The next reconciliation with the inbox (epoch s; 0: at the next sweep).
    pub reconcile_at: i64,
    /// How far the last reconciliation read the inbox's activity (epoch ms; 0: not yet).
    pub reconciled_to_ms: i64,
    /// The next digest (epoch s), when the install has one.
    pub digest_at: Option<i64>,
}

impl InstallTimers {
    pub fn due_at(&self) -> i64 {
        self.digest_at
            .map_or(self.reconcile_at, |d| d.min(self.reconcile_at))
    }
}

/// Slack token rotation (the app's `token_rotation_enabled`): the bot token lasts 12 hours
/// (`expires_in`) and is renewed with the refresh token, which is replaced on each renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackRotation {
    pub refresh_token: Secret,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Install {
    /// Whether notifications may be posted now.
    pub fn can_post(&self) -> bool {
        self.status == InstallStatus::Active
            && self.notifications_on
            && self.bot_token.is_some()
            && self.channel_id.is_some()
    }
}

/// The Slack side of one inbox conversation (thread).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThreadMap {
    pub portal_id: String,
    pub thread_id: String,
    pub team_id: String,
    pub channel_id: String,
    /// The notification's ts: the Slack thread's parent.
    pub parent_ts: String,
    /// The inbox message id of the first visitor message (shown in the notification).
    pub first_message_id: Option<String>,
    /// Ordering cursor: the inbox message most recently mirrored into the thread
    /// (`created_at` ms, id), so messages are posted in order and once.
    pub cursor_at: i64,
    pub cursor_id: String,
    /// The ids of the messages handled last, newest last (at most 100): a message that turns
    /// up in the inbox shortly after a newer one is still posted, once.
    pub recent_ids: Vec<String>,
    pub status: String,
    pub assignee: Option<String>,
    /// Optimistic-concurrency version: each save must name the version it read.
    pub version: i64,
    /// The inbox the conversation was in at the last sync (routing by inbox).
    pub inbox_id: Option<String>,
    /// Earlier notifications of this conversation, oldest first, as (channel, parent ts):
    /// it moved to an inbox routed to another channel. Replies there still reach it.
    pub earlier: Vec<(String, String)>,
    /// The last move is not announced in the earlier thread yet.
    pub move_notice_pending: bool,
    /// The thread's `associatedContactId` when the CRM did not know it: a visitor id, which
    /// HubSpot's definition says cannot be used to find a contact. Not asked again while
    /// the thread carries that id; a new id (the visitor became a contact) is looked up.
    pub not_a_contact: Option<String>,
    /// The inbox's `after` token of the messages page that holds the cursor: the next sync
    /// reads from there, so a visitor message costs one page however long the conversation
    /// (contracts/hubspot.md: messages are paged by `after`). None: from the first page.
    pub page_after: Option<String>,
    /// When the thread itself (status, assignee, inbox) was last read from the inbox (epoch
    /// s): a message-only event trusts what is stored for `REFRESH_SECS` after that.
    pub refreshed_at: i64,
    /// The card as last built (JSON of `Card`, encrypted in the table: it holds the
    /// visitor's first message), so a message-only event updates it without the inbox.
    pub card: Option<String>,
    /// When the card last went to Slack (epoch s), and when a coalesced update of what
    /// changes often (last reply, first response) is due; None when nothing is pending.
    pub card_shown_at: i64,
    pub card_due_at: Option<i64>,
    /// Where a reply from Slack goes (the latest visitor message's channel and senders).
    pub reply_to: Option<ReplyTo>,
    /// A visitor waiting for an answer, and whether an agent has answered here before.
    pub wait: Option<Wait>,
    pub answered: bool,
    /// When the wait's alert or escalation is due (epoch s), as the settings said when the
    /// wait began; the timer job reads them again before acting.
    pub wait_due_at: Option<i64>,
    /// The first response: when the visitor's first message came and how long the answer
    /// took (epoch s, s), for the digest's figures.
    pub first_response: Option<(i64, i64)>,
    /// The alert settings of the conversation's inbox as last read (routing by inbox).
    pub inbox_alerts: Option<AlertSettings>,
}

impl ThreadMap {
    /// The soonest timer of the conversation: its card's coalesced update or its wait.
    pub fn due_at(&self) -> Option<i64> {
        match (self.card_due_at, self.wait_due_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Brings the waiting state up to date with `m` (oldest first), and the first response.
    pub fn note_message(&mut self, m: &Message, now: i64) {
        let before = self.wait.clone();
        on_message(&mut self.wait, &mut self.answered, m, now);
        if let (Some(w), None) = (&before, &self.wait) {
            if w.first && self.first_response.is_none() {
                let at = if m.created_at_ms > 0 {
                    m.created_at_ms.div_euclid(1000)
                } else {
                    now
                };
                self.first_response = Some((w.since, (at - w.since).max(0)));
            }
        }
    }

    /// The channel a Slack message of this conversation with timestamp `ts` is in: Slack
    /// timestamps grow, so it is the channel of the last notification posted at or before it.
    pub fn channel_of(&self, ts: &str) -> &str {
        let t = |x: &str| x.parse::<f64>().unwrap_or(0.0);
        if t(ts) >= t(&self.parent_ts) {
            return &self.channel_id;
        }
        self.earlier
            .iter()
            .rev()
            .find(|(_, p)| t(ts) >= t(p))
            .or(self.earlier.first())
            .map(|(c, _)| c.as_str())
            .unwrap_or(&self.channel_id)
    }
}

/// An inbox routed to its own Slack channel (the install's channel is the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRoute {
    pub portal_id: String,
    pub inbox_id: String,
    pub channel_id: String,
    pub set_by: String,
    pub set_at: i64,
    /// The inbox's own alert settings, over the install's.
    pub alerts: AlertSettings,
}

/// A Slack user mapped to an inbox (HubSpot) user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMap {
    pub team_id: String,
    pub slack_user_id: String,
    pub portal_id: String,
    /// HubSpot user id (an agent's actor id is `A-{user_id}`).
    pub inbox_user_id: String,
    pub email: String,
    pub mapped_at: i64,
}

/// An agent's availability as last set from Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    pub portal_id: String,
    pub inbox_user_id: String,
    pub available: bool,
    pub updated_at: i64,
    pub slack_user_id: Option<String>,
}

/// OAuth `state`: single use, bound to a portal, expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthState {
    pub nonce: String,
    pub portal_id: Option<String>,
    pub provider: String,
    pub expires_at: i64,
}

/// A delivery that failed for good: kept, never dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub portal_id: String,
    pub id: String,
    pub conversation_id: Option<String>,
    pub job: String,
    pub error: String,
    pub at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_conversations_messages_are_found_in_the_channel_of_their_time() {
        let map = ThreadMap {
            portal_id: "P".into(),
            thread_id: "T".into(),
            team_id: "T1".into(),
            channel_id: "C3".into(),
            parent_ts: "1700000300.000001".into(),
            first_message_id: None,
            cursor_at: 0,
            cursor_id: String::new(),
            status: String::new(),
            assignee: None,
            version: 3,
            inbox_id: None,
            earlier: vec![
                ("C1".into(), "1700000100.000001".into()),
                ("C2".into(), "1700000200.000001".into()),
            ],
            move_notice_pending: false,
            not_a_contact: None,
            ..Default::default()
        };
        assert_eq!(map.channel_of("1700000100.000009"), "C1");
        assert_eq!(map.channel_of("1700000199.999999"), "C1");
        assert_eq!(map.channel_of("1700000200.000001"), "C2");
        assert_eq!(map.channel_of("1700000300.000001"), "C3");
        assert_eq!(map.channel_of("1700000400.5"), "C3");
        // Before every parent (or unparsable): the first channel.
        assert_eq!(map.channel_of("1600000000.000001"), "C1");
        let unmoved = ThreadMap {
            earlier: vec![],
            ..map
        };
        assert_eq!(unmoved.channel_of("1600000000.000001"), "C3");
    }
}
