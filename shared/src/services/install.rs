//! The install's life cycle shared by the connect flow and the Home tab: checking a channel
//! an admin picked, and disconnecting.

use crate::app::App;
use crate::chat::slack::SlackError;
use crate::domain::{HubSpotAuth, Install, InstallStatus};
use crate::queue::JobError;
use crate::support::secret::Secret;

/// Whether the app can post in a channel an admin picked.
#[derive(Debug)]
pub enum ChannelCheck {
    /// The app is in the channel (joined now if it is public).
    Ready {
        name: String,
    },
    /// A private channel the app is not in (Slack answers `channel_not_found` for those:
    /// with `groups:read` a bot sees only the private channels it is in; the id came from
    /// Slack's own picker, so the channel exists). The admin must invite the app.
    NeedsInvite,
    Archived,
    /// Shared with other organisations (Slack Connect): everyone there would read every
    /// chat, so it is used only once a workspace admin confirms it.
    ExternallyShared {
        name: String,
    },
    Failed(SlackError),
}

/// Checks a picked channel: exists, not archived, not shared with other organisations, the
/// app a member (joining a public channel itself; `conversations.join` needs
/// `channels:join`, contracts/slack.md).
pub async fn check_channel(app: &App, bot: &Secret, channel: &str) -> ChannelCheck {
    check(app, bot, channel, false).await
}

/// `check_channel` for a channel a workspace admin confirmed although it is shared with
/// other organisations.
pub async fn check_confirmed_shared_channel(
    app: &App,
    bot: &Secret,
    channel: &str,
) -> ChannelCheck {
    check(app, bot, channel, true).await
}

async fn check(app: &App, bot: &Secret, channel: &str, shared_confirmed: bool) -> ChannelCheck {
    let info = match app.slack.conversation_info(bot, channel).await {
        Ok(i) => i,
        Err(e) if e.code() == Some("channel_not_found") => return ChannelCheck::NeedsInvite,
        Err(e) => return ChannelCheck::Failed(e),
    };
    if info.is_archived {
        return ChannelCheck::Archived;
    }
    if info.is_ext_shared && !shared_confirmed {
        return ChannelCheck::ExternallyShared { name: info.name };
    }
    if info.is_member {
        return ChannelCheck::Ready { name: info.name };
    }
    if info.is_private {
        return ChannelCheck::NeedsInvite;
    }
    match app.slack.join_conversation(bot, channel).await {
        Ok(()) => {
            tracing::info!(channel, "joined the public channel");
            ChannelCheck::Ready { name: info.name }
        }
        Err(e) if e.code() == Some("is_archived") => ChannelCheck::Archived,
        Err(e) if e.code() == Some("method_not_supported_for_channel_type") => {
            ChannelCheck::NeedsInvite
        }
        Err(e) => ChannelCheck::Failed(e),
    }
}

/// Disconnects an install: revokes the Slack bot token (`auth.revoke`) and the HubSpot
/// grant of an OAuth install (its refresh token, `/oauth/2026-03/token/revoke`), then deletes every
/// item of the portal (install and its tokens, team pointer, thread and message mappings,
/// users, availability, dead letters), so nothing more is posted and a later install
/// starts clean. A token Slack already considers gone is fine; a transient failure is
/// retried before anything is deleted. `by` is the Slack user who asked for it (None: the
/// inbox side ended it); when that is not the installer, the installer is told first, while
/// the bot token still works.
pub async fn disconnect(
    app: &App,
    install: &Install,
    why: &str,
    by: Option<&str>,
) -> Result<(), JobError> {
    let portal = &install.portal_id;
    let installer = install.installer_user_id.as_deref();
    if let (Some(by), Some(installer), Some(bot)) = (by, installer, &install.bot_token) {
        if by != installer {
            let text = format!(
                ":electric_plug: <@{by}> disconnected HubSpot portal {portal} from this workspace: nothing more is posted, and the app's tokens and links were deleted. To connect it again, install from {}/slack/install.",
                app.settings.public_base_url
            );
            if let Err(e) = app
                .slack
                .post_message(bot, installer, None, &text, None)
                .await
            {
                if e.is_retryable() {
                    return Err(JobError::retry(format!("telling the installer: {e}")));
                }
                tracing::warn!(portal = %portal, error = %e, "could not tell the installer of the disconnect");
            }
        }
    }
    if let Some(bot) = &install.bot_token {
        match app.slack.auth_revoke(bot).await {
            Ok(()) => {
                tracing::info!(portal = %portal, team = %install.team_id, "slack token revoked")
            }
            Err(e) if e.class() == crate::chat::slack::Class::AuthGone => {}
            Err(e) if e.is_retryable() => {
                return Err(JobError::retry(format!("auth.revoke: {e}")));
            }
            Err(e) => {
                tracing::warn!(portal = %portal, error = %e, "slack token not revoked; deleting it anyway")
            }
        }
    }
    if let (Some(HubSpotAuth::OAuth { refresh_token, .. }), Some(client_id)) =
        (&install.hubspot, &app.settings.hubspot_client_id)
    {
        match app
            .inbox
            .revoke(
                client_id,
                &app.settings.hubspot_client_secret,
                refresh_token,
            )
            .await
        {
            Ok(()) => tracing::info!(portal = %portal, "hubspot refresh token revoked"),
            Err(e) if e.is_retryable() => {
                return Err(JobError::retry(format!("hubspot token revoke: {e}")));
            }
            // Already revoked, or the app uninstalled at HubSpot: nothing is left to end.
            Err(e) => {
                tracing::warn!(portal = %portal, error = %e, "hubspot refresh token not revoked; deleting it anyway")
            }
        }
    }
    let n = app
        .records
        .delete_portal_data(portal)
        .await
        .map_err(|e| JobError::retry(e.to_string()))?;
    tracing::warn!(portal = %portal, team = %install.team_id, user = by.unwrap_or(""), installer = installer.unwrap_or(""), why, items = n, "disconnected: tokens and mappings deleted");
    Ok(())
}

/// The app was removed from a channel. Posts there would still succeed (`chat:write.public`)
/// but replies would no longer reach the app, so nothing is posted there any more: the
/// install's own channel marks the install as needing attention, a routed inbox's channel
/// loses its route (its chats go to the install's channel), and whoever set it is told.
pub async fn channel_lost(app: &App, team: &str, channel: &str) -> Result<(), JobError> {
    let store_err = |e: crate::store::StoreError| JobError::retry(e.to_string());
    let Some(install) = crate::services::slack_token::install_for_team(app, team).await? else {
        return Ok(());
    };
    let portal = install.portal_id.clone();
    if install.channel_id.as_deref() == Some(channel) {
        let advice = format!("The app was removed from the notification channel <#{channel}>, so replies there no longer reach it. Invite it back with `/invite` in that channel, or pick another channel in the app's Home tab.");
        let marked = app
            .records
            .update_install(&portal, |i| {
                if i.channel_id.as_deref() != Some(channel) {
                    return false;
                }
                i.status = InstallStatus::NeedsAttention {
                    reason: advice.clone(),
                };
                i.last_error = Some(format!("channel_left: {advice}"));
                true
            })
            .await
            .map_err(store_err)?;
        if marked.is_some_and(|i| i.channel_id.as_deref() == Some(channel)) {
            tracing::error!(portal = %portal, team, channel, "the app was removed from the notification channel; install needs attention");
            crate::services::failures::tell_admin(app, &install, &advice).await;
        }
    }
    for route in app.records.list_routes(&portal).await.map_err(store_err)? {
        if route.channel_id != channel {
            continue;
        }
        app.records
            .delete_route(&portal, &route.inbox_id)
            .await
            .map_err(store_err)?;
        tracing::warn!(portal = %portal, team, channel, inbox = %route.inbox_id, "the app was removed from a routed inbox's channel; route removed");
        if let Some(bot) = &install.bot_token {
            let text = format!(":warning: The app was removed from <#{channel}>, where HubSpot inbox {} posted its chats: they go to the notification channel now. Route the inbox again from the app's Home tab once the app is back in a channel for it.", route.inbox_id);
            if let Err(e) = app
                .slack
                .post_message(bot, &route.set_by, None, &text, None)
                .await
            {
                tracing::warn!(portal = %portal, error = %e, "could not tell who routed the inbox");
            }
        }
    }
    Ok(())
}

/// Whether `user` is a workspace admin or owner (`users.info`), the only ones who may
/// confirm a channel shared with other organisations.
pub async fn is_workspace_admin(app: &App, bot: &Secret, user: &str) -> Result<bool, SlackError> {
    let u = app.slack.user_info(bot, user).await?;
    Ok(!u.deleted && !u.is_bot && (u.is_admin || u.is_owner))
}

/// Whether `user` may change the install's settings: its installer, or a workspace admin
/// or owner (`users.info` `is_admin`/`is_owner`).
pub async fn can_manage(
    app: &App,
    install: &Install,
    bot: &Secret,
    user: &str,
) -> Result<bool, SlackError> {
    if install.installer_user_id.as_deref() == Some(user) {
        return Ok(true);
    }
    is_workspace_admin(app, bot, user).await
}
