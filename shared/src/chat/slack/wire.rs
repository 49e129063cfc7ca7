//! Slack's answers: the types the client returns, and the JSON they are read from.

use serde::Deserialize;

use crate::support::secret::Secret;

/// A Slack user as `users.info` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackUser {
    pub id: String,
    pub name: String,
    /// profile.display_name, else profile.real_name, else real_name, else name.
    pub display_name: String,
    /// Needs the `users:read.email` scope.
    pub email: Option<String>,
    pub is_bot: bool,
    pub deleted: bool,
    pub is_admin: bool,
    pub is_owner: bool,
}

/// A conversation as `conversations.info` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackChannel {
    pub id: String,
    /// Empty for direct messages.
    pub name: String,
    pub is_private: bool,
    pub is_archived: bool,
    pub is_member: bool,
    /// Shared with another organisation (Slack Connect), or about to be: people outside
    /// the workspace read it.
    pub is_ext_shared: bool,
}

/// `auth.test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthTest {
    pub team_id: String,
    pub user_id: String,
    pub bot_id: Option<String>,
}

/// `oauth.v2.access` (bot install). `Debug` redacts the token.
#[derive(Debug, Clone)]
pub struct SlackOAuth {
    pub access_token: Secret,
    pub bot_user_id: String,
    pub app_id: String,
    pub team_id: String,
    pub team_name: String,
    pub authed_user_id: String,
    pub scope: String,
    pub incoming_webhook_channel_id: Option<String>,
    /// With token rotation on: the refresh token and the access token's lifetime (seconds).
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<i64>,
}

/// A renewed bot token (token rotation): `oauth.v2.access` with `grant_type=refresh_token`.
#[derive(Debug, Clone)]
pub struct SlackRenewed {
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub expires_in: i64,
}

#[derive(Deserialize)]
pub(super) struct UserWire {
    pub(super) id: String,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) real_name: Option<String>,
    #[serde(default)]
    pub(super) deleted: Option<bool>,
    #[serde(default)]
    pub(super) is_bot: Option<bool>,
    #[serde(default)]
    pub(super) is_admin: Option<bool>,
    #[serde(default)]
    pub(super) is_owner: Option<bool>,
    #[serde(default)]
    pub(super) profile: Option<ProfileWire>,
}

#[derive(Deserialize, Default)]
pub(super) struct ProfileWire {
    #[serde(default)]
    pub(super) display_name: Option<String>,
    #[serde(default)]
    pub(super) real_name: Option<String>,
    #[serde(default)]
    pub(super) email: Option<String>,
}

impl UserWire {
    pub(super) fn into_user(self) -> SlackUser {
        let profile = self.profile.unwrap_or_default();
        let name = self.name.unwrap_or_default();
        let non_empty = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let display_name = non_empty(&profile.display_name)
            .or_else(|| non_empty(&profile.real_name))
            .or_else(|| non_empty(&self.real_name))
            .unwrap_or_else(|| name.clone());
        SlackUser {
            id: self.id,
            name,
            display_name,
            email: profile.email.filter(|e| !e.is_empty()),
            is_bot: self.is_bot.unwrap_or(false),
            deleted: self.deleted.unwrap_or(false),
            is_admin: self.is_admin.unwrap_or(false),
            is_owner: self.is_owner.unwrap_or(false),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ChannelWire {
    pub(super) id: String,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) is_private: Option<bool>,
    #[serde(default)]
    pub(super) is_archived: Option<bool>,
    #[serde(default)]
    pub(super) is_member: Option<bool>,
    #[serde(default)]
    pub(super) is_ext_shared: Option<bool>,
    #[serde(default)]
    pub(super) is_pending_ext_shared: Option<bool>,
}

#[derive(Deserialize)]
pub(super) struct AuthTestWire {
    pub(super) team_id: String,
    pub(super) user_id: String,
    #[serde(default)]
    pub(super) bot_id: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct OAuthWire {
    #[serde(default)]
    pub(super) access_token: Option<String>,
    #[serde(default)]
    pub(super) scope: Option<String>,
    #[serde(default)]
    pub(super) bot_user_id: Option<String>,
    #[serde(default)]
    pub(super) app_id: Option<String>,
    #[serde(default)]
    pub(super) team: Option<IdName>,
    #[serde(default)]
    pub(super) authed_user: Option<IdName>,
    #[serde(default)]
    pub(super) incoming_webhook: Option<WebhookWire>,
    #[serde(default)]
    pub(super) refresh_token: Option<String>,
    #[serde(default)]
    pub(super) expires_in: Option<i64>,
}

#[derive(Deserialize, Default)]
pub(super) struct IdName {
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WebhookWire {
    #[serde(default)]
    pub(super) channel_id: Option<String>,
}
