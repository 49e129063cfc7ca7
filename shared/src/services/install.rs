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
    Failed(SlackError),
}

/// Checks a picked channel: exists, not archived, the app a member (joining a public
/// channel itself; `conversations.join` needs `channels:join`, contracts/slack.md).
pub async fn check_channel(app: &App, bot: &Secret, channel: &str) -> ChannelCheck {
    let info = match app.slack.conversation_info(bot, channel).await {
        Ok(i) => i,
        Err(e) if e.code() == Some("channel_not_found") => return ChannelCheck::NeedsInvite,
        Err(e) => return ChannelCheck::Failed(e),
    };
    if info.is_archived {
        return ChannelCheck::Archived;
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
/// retried before anything is deleted.
pub async fn disconnect(app: &App, install: &Install, why: &str) -> Result<(), JobError> {
    let portal = &install.portal_id;
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
    tracing::warn!(portal = %portal, team = %install.team_id, why, items = n, "disconnected: tokens and mappings deleted");
    Ok(())
}

/// The app was removed from a channel. Posts there would still succeed (`chat:write.public`)
/// but replies would no longer reach the app, so nothing is posted there any more: the
/// install's own channel marks the install as needing attention, a routed inbox's channel
/// loses its route (its chats go to the install's channel), and whoever set it is told.
pub async fn channel_lost(app: &App, team: &str, channel: &str) -> Result<(), JobError> {
    let store_err = |e: crate::store::StoreError| JobError::retry(e.to_string());
    let Some(install) = app
        .records
        .install_for_team(team)
        .await
        .map_err(store_err)?
    else {
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
    let u = app.slack.user_info(bot, user).await?;
    Ok(!u.deleted && !u.is_bot && (u.is_admin || u.is_owner))
}
