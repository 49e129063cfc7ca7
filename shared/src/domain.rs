//! Plain domain types shared by the flows: installs, thread mappings, identities.

use crate::secret::Secret;

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
    /// None once the install is deactivated (tokens removed).
    pub bot_token: Option<Secret>,
    pub bot_user_id: Option<String>,
    pub hubspot: Option<HubSpotAuth>,
    pub status: InstallStatus,
    pub source: InstallSource,
    pub installer_user_id: Option<String>,
    pub last_delivery_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub status: String,
    pub assignee: Option<String>,
    /// Optimistic-concurrency version: each save must name the version it read.
    pub version: i64,
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
