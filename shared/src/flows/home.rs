//! The app's Home tab in Slack: the connection (portal, channel, notifications, health) and,
//! for the installer or a workspace admin, its settings: the channel (Slack's channel
//! picker), notifications off and on, disconnect. Everyone else sees it read-only.
//!
//! `app_home_opened` and every settings click become jobs (`PublishHome`, `HomeAction`):
//! the edge only acknowledges.

use serde_json::{json, Value};

use crate::app::App;
use crate::chat::blocks::home::{
    confirm_shared_channel, mrkdwn, utc, view, AlertsView, Routing, ACTION_ALERT_PREFIX,
    ACTION_CHANNEL, ACTION_CHANNEL_SHARED, ACTION_DISCONNECT, ACTION_NOTIFICATIONS,
    ACTION_REACTIONS, ACTION_ROUTE_PREFIX,
};
use crate::domain::{
    is_user_group_id, next_hour, AlertSettings, Install, InstallSource, InstallStatus,
};
use crate::queue::JobError;
use crate::services::install::{
    can_manage, check_channel, check_confirmed_shared_channel, is_workspace_admin, ChannelCheck,
};
use crate::support::secret::Secret;

pub const REFUSED: &str = "Only the person who installed the app or a workspace admin can change these settings. Nothing changed.";

fn install_url(app: &App) -> String {
    format!("{}/slack/install", app.settings.public_base_url)
}

fn store_err(e: crate::store::StoreError) -> JobError {
    JobError::retry(e.to_string())
}

/// Publishes `user`'s Home tab (nothing to publish with when the workspace has no token).
pub async fn publish(
    app: &App,
    team: &str,
    user: &str,
    notice: Option<&str>,
) -> Result<(), JobError> {
    let Some(install) = crate::services::slack_token::install_for_team(app, team).await? else {
        tracing::info!(team, "home tab not published: no install for this team");
        return Ok(());
    };
    let Some(bot) = install.bot_token.clone() else {
        tracing::info!(team, "home tab not published: the install has no token");
        return Ok(());
    };
    let manage = match can_manage(app, &install, &bot, user).await {
        Ok(m) => m,
        Err(e) if e.is_retryable() => return Err(JobError::retry(e.to_string())),
        Err(e) => {
            tracing::warn!(team, user, error = %e, "could not tell whether the user is an admin; showing the home tab read-only");
            false
        }
    };
    publish_view(app, &install, &bot, user, manage, notice, None).await
}

async fn publish_view(
    app: &App,
    install: &Install,
    bot: &Secret,
    user: &str,
    manage: bool,
    notice: Option<&str>,
    confirm_shared: Option<&str>,
) -> Result<(), JobError> {
    let routing = if manage && install.status != InstallStatus::Inactive {
        Some(load_routing(app, install).await)
    } else {
        None
    };
    let alerts = match &routing {
        Some(r) => Some(alerts_view(app, bot, r).await),
        None => None,
    };
    let mut v = view(
        Some(install),
        manage,
        notice,
        &install_url(app),
        routing.as_ref(),
        alerts.as_ref(),
    );
    if let (Some(channel), Some(blocks)) = (confirm_shared, v["blocks"].as_array_mut()) {
        // Right under the notice that explains it.
        blocks.insert(2.min(blocks.len()), confirm_shared_channel(channel));
    }
    if install.status != InstallStatus::Inactive {
        if let (Some(section), Some(blocks)) = (
            availability_section(app, install, user).await,
            v["blocks"].as_array_mut(),
        ) {
            blocks.insert(1.min(blocks.len()), section);
        }
    }
    match app.slack.publish_home(bot, user, &v).await {
        Ok(()) => {
            tracing::info!(team = %install.team_id, user, manage, "home tab published");
            Ok(())
        }
        Err(e) => Err(crate::services::failures::slack_failure(app, install, e).await),
    }
}

/// The alert settings' choices: the routed inboxes by name, the workspace's user groups
/// (none when Slack refuses: an install from before `usergroups:read` was asked for).
async fn alerts_view(app: &App, bot: &Secret, r: &Routing) -> AlertsView {
    let names: std::collections::HashMap<&str, &str> = match &r.inboxes {
        Ok(i) => i.iter().map(|i| (i.id.as_str(), i.name.as_str())).collect(),
        Err(_) => Default::default(),
    };
    let inboxes = r
        .routes
        .iter()
        .map(|route| {
            let name = names
                .get(route.inbox_id.as_str())
                .filter(|n| !n.is_empty())
                .map_or_else(|| format!("Inbox {}", route.inbox_id), |n| n.to_string());
            (route.clone(), name)
        })
        .collect();
    let groups = match app.slack.user_groups(bot).await {
        Ok(g) => g,
        Err(e) => {
            tracing::info!(error = %e, "user groups not listed for the home tab");
            vec![]
        }
    };
    AlertsView {
        defaults: app.settings.alerts,
        inboxes,
        groups,
    }
}

/// One alert setting from the Home tab: `field` of the install, or of a routed `inbox`.
/// Answers the install as saved and what to tell the admin, or why nothing changed.
async fn set_alert(
    app: &App,
    portal: &str,
    field: &str,
    inbox: Option<&str>,
    value: &str,
) -> Result<Result<(Install, String), String>, JobError> {
    let secs = |v: &str| -> Result<Option<u32>, String> {
        match v {
            "default" => Ok(None),
            v => v
                .parse::<u32>()
                .ok()
                .filter(|s| *s <= 86_400)
                .map(Some)
                .ok_or_else(|| "That is not a time the app knows. Nothing changed.".to_string()),
        }
    };
    let apply = |a: &mut AlertSettings| -> Result<(), String> {
        match field {
            "first" => a.first_response_secs = secs(value)?,
            "next" => a.next_response_secs = secs(value)?,
            "escalate" => a.escalate_secs = secs(value)?,
            "target" => {
                a.escalate_to = match value {
                    "default" => None,
                    "here" | "channel" => Some(value.to_string()),
                    id if is_user_group_id(id) => Some(id.to_string()),
                    _ => return Err("That is not a user group. Nothing changed.".into()),
                }
            }
            "digest" if inbox.is_none() => {
                a.digest_hour_utc = match value {
                    "default" => None,
                    "off" => Some(-1),
                    h => match h.parse::<i8>() {
                        Ok(h) if (0..24).contains(&h) => Some(h),
                        _ => return Err("That is not an hour. Nothing changed.".into()),
                    },
                }
            }
            _ => return Err("That setting is not known. Nothing changed.".into()),
        }
        Ok(())
    };
    if let Some(inbox) = inbox {
        let Some(mut route) = app
            .records
            .route_for(portal, inbox)
            .await
            .map_err(store_err)?
        else {
            return Ok(Err(format!(
                "Inbox {inbox} has no channel of its own any more; its chats follow the settings above. Nothing changed."
            )));
        };
        if let Err(e) = apply(&mut route.alerts) {
            return Ok(Err(e));
        }
        app.records.set_route(&route).await.map_err(store_err)?;
        let Some(install) = app.records.get_install(portal).await.map_err(store_err)? else {
            return Ok(Err("This workspace is no longer connected.".into()));
        };
        return Ok(Ok((
            install,
            format!("Saved for inbox {inbox}: chats waiting from now on follow it."),
        )));
    }
    let mut refused = None;
    let now = app.clock.now_secs();
    let saved = app
        .records
        .update_install(portal, |i| {
            let mut a = i.alerts.clone();
            if let Err(e) = apply(&mut a) {
                refused = Some(e);
                return false;
            }
            if a == i.alerts {
                return false;
            }
            i.alerts = a;
            // The digest's time follows its hour at once; the sweep sends it then.
            let hour = i.alerts.digest_hour(app.settings.alerts.digest_hour_utc);
            i.timers.digest_at = hour.map(|h| next_hour(now, h));
            true
        })
        .await
        .map_err(store_err)?;
    if let Some(e) = refused {
        return Ok(Err(e));
    }
    let Some(install) = saved else {
        return Ok(Err("This workspace is no longer connected.".into()));
    };
    Ok(Ok((
        install,
        "Saved: chats waiting from now on follow it.".into(),
    )))
}

/// The portal's inboxes and its routes, for the Home tab (a failure is shown, not fatal).
async fn load_routing(app: &App, install: &Install) -> Routing {
    let routes = app
        .records
        .list_routes(&install.portal_id)
        .await
        .unwrap_or_default();
    let mut install = install.clone();
    let inboxes = match crate::services::tokens::hubspot_token(app, &mut install).await {
        Ok(Some(token)) => app.inbox.inboxes(&token).await.map_err(|e| e.to_string()),
        Ok(None) => Err("no HubSpot token".into()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = &inboxes {
        tracing::warn!(portal = %install.portal_id, error = %e, "inboxes not listed for the home tab");
    }
    Routing { inboxes, routes }
}

/// The viewer's availability (as last set from Slack) and who is available now.
async fn availability_section(app: &App, install: &Install, user: &str) -> Option<Value> {
    let list = app
        .records
        .list_availability(&install.portal_id)
        .await
        .ok()?;
    let me = app
        .records
        .user_for_slack(&install.team_id, user)
        .await
        .ok()
        .flatten();
    let mine = me
        .as_ref()
        .and_then(|m| list.iter().find(|a| a.inbox_user_id == m.inbox_user_id));
    let you = match (&me, mine) {
        (None, _) => {
            "not linked to a HubSpot user yet (click *Claim* on a conversation assigned to you)"
                .to_string()
        }
        (Some(_), Some(a)) => format!(
            "{} since {}",
            if a.available { "*available*" } else { "*away*" },
            utc(a.updated_at)
        ),
        (Some(_), None) => "not set from Slack yet".to_string(),
    };
    let available: Vec<String> = list
        .iter()
        .filter(|a| a.available)
        .map(|a| match &a.slack_user_id {
            Some(u) => format!("<@{u}>"),
            None => format!("HubSpot user {}", a.inbox_user_id),
        })
        .collect();
    // However many agents: the section stays within Slack's text limit.
    let now = if available.is_empty() {
        "nobody (as set from Slack)".to_string()
    } else {
        crate::chat::blocks::limits::join_capped(&available, ", ", 2000)
    };
    Some(json!({"type": "section", "text": mrkdwn(format!(
        "*Availability*\nYou: {you}\nAvailable now: {now}\nUse `/hs-chat-away` and `/hs-chat-available` to change yours."
    ))}))
}

/// A settings click in the Home tab.
pub async fn act(
    app: &App,
    team: &str,
    user: &str,
    action: &str,
    value: &str,
) -> Result<(), JobError> {
    let Some(mut install) = crate::services::slack_token::install_for_team(app, team)
        .await?
        .filter(|i| i.status != InstallStatus::Inactive)
    else {
        tracing::info!(
            team,
            action,
            "home action for a workspace with no install; ignored"
        );
        return Ok(());
    };
    let Some(bot) = install.bot_token.clone() else {
        return Ok(());
    };
    let manage = match can_manage(app, &install, &bot, user).await {
        Ok(m) => m,
        Err(e) if e.is_retryable() => return Err(JobError::retry(e.to_string())),
        Err(e) => {
            tracing::warn!(team, user, error = %e, "could not tell whether the user is an admin; refusing");
            false
        }
    };
    let portal = install.portal_id.clone();
    if !manage {
        tracing::warn!(team, portal = %portal, user, action, "home settings change refused: not the installer or an admin");
        return publish_view(app, &install, &bot, user, false, Some(REFUSED), None).await;
    }
    let mut confirm = None;
    let notice = match action {
        ACTION_CHANNEL | ACTION_CHANNEL_SHARED if install.source == InstallSource::Settings => {
            "The channel is set by this deployment's settings; nothing changed.".to_string()
        }
        ACTION_CHANNEL if value.is_empty() => "Pick a channel.".to_string(),
        ACTION_CHANNEL_SHARED => match is_workspace_admin(app, &bot, user).await {
            Ok(true) => match check_confirmed_shared_channel(app, &bot, value).await {
                ChannelCheck::Ready { .. } => {
                    let Some(i) = set_channel(app, &portal, value).await? else {
                        return Ok(());
                    };
                    install = i;
                    tracing::warn!(team, portal = %portal, user, channel = value, "channel shared with other organisations confirmed by a workspace admin");
                    format!("Done: new live chats are posted to <#{value}>, which people in other organisations can read.")
                }
                ChannelCheck::NeedsInvite => format!("<#{value}> is private and the app is not in it: type `/invite` there and add the app, then pick it again. Nothing changed."),
                other => channel_refused(team, &portal, value, other)?,
            },
            Ok(false) => {
                tracing::warn!(team, portal = %portal, user, channel = value, "shared channel confirmation refused: not a workspace admin");
                format!("Only a workspace admin can confirm <#{value}>, a channel shared with other organisations. Nothing changed.")
            }
            Err(e) if e.is_retryable() => return Err(JobError::retry(e.to_string())),
            Err(e) => {
                tracing::warn!(team, user, error = %e, "could not tell whether the user is a workspace admin; refusing");
                "Nothing changed: Slack could not say whether you are a workspace admin.".to_string()
            }
        },
        ACTION_CHANNEL => match check_channel(app, &bot, value).await {
            ChannelCheck::ExternallyShared { .. } => {
                tracing::warn!(team, portal = %portal, user, channel = value, "picked channel is shared with other organisations; waiting for an admin's confirmation");
                confirm = Some(value.to_string());
                format!("<#{value}> is shared with other organisations (Slack Connect), so people outside this workspace would read every chat there. Nothing changed. Pick another channel, or a workspace admin can confirm this one below.")
            }
            ChannelCheck::Ready { .. } => {
                let Some(i) = set_channel(app, &portal, value).await? else {
                    return Ok(());
                };
                install = i;
                tracing::info!(team, portal = %portal, user, channel = value, "notification channel changed");
                format!("Done: new live chats are posted to <#{value}>.")
            }
            ChannelCheck::NeedsInvite => {
                let Some(i) = change(app, &portal, |i| {
                    i.pending_channel_id = Some(value.to_string());
                })
                .await?
                else {
                    return Ok(());
                };
                install = i;
                tracing::info!(team, portal = %portal, user, channel = value, "private channel chosen; waiting for the app to be invited");
                let until = match &install.channel_id {
                    Some(c) => format!("Until then they keep going to <#{c}>."),
                    None => "Until then nothing is posted.".into(),
                };
                format!("<#{value}> is private and the app is not in it: type `/invite` in that channel and add the app. Notifications move there as soon as it is in. {until}")
            }
            other => channel_refused(team, &portal, value, other)?,
        },
        alert if alert.starts_with(ACTION_ALERT_PREFIX) => {
            let rest = &alert[ACTION_ALERT_PREFIX.len()..];
            let (field, inbox) = match rest.split_once(':') {
                Some((f, i)) => (f, Some(i)),
                None => (rest, None),
            };
            match set_alert(app, &portal, field, inbox, value).await? {
                Ok((i, said)) => {
                    install = i;
                    tracing::info!(team, portal = %portal, user, field, inbox = inbox.unwrap_or(""), value, "alert setting changed");
                    said
                }
                Err(refused) => refused,
            }
        }
        route if route.starts_with(ACTION_ROUTE_PREFIX) => {
            let inbox = &route[ACTION_ROUTE_PREFIX.len()..];
            route_inbox(app, &install, &bot, user, inbox, value).await?
        }
        ACTION_NOTIFICATIONS => {
            let on = value == "on";
            let Some(i) = change(app, &portal, |i| i.notifications_on = on).await? else {
                return Ok(());
            };
            install = i;
            tracing::info!(team, portal = %portal, user, on, "notifications switched");
            if on {
                "Notifications are on.".to_string()
            } else {
                "Notifications are off: new chats are not posted until you turn them on again."
                    .to_string()
            }
        }
        ACTION_REACTIONS => {
            let on = value == "on";
            let Some(i) = change(app, &portal, |i| i.reactions_on = on).await? else {
                return Ok(());
            };
            install = i;
            tracing::info!(team, portal = %portal, user, on, "reaction shortcuts switched");
            if on {
                "Reaction shortcuts are on: on a card, ✅ closes the conversation (removing it reopens) and 👀 assigns it to you.".to_string()
            } else {
                "Reaction shortcuts are off: reactions on cards change nothing.".to_string()
            }
        }
        ACTION_DISCONNECT if install.source == InstallSource::Settings => {
            "This connection is defined by the deployment's settings and cannot be disconnected here; ask its operator.".to_string()
        }
        ACTION_DISCONNECT => {
            // The last view, published while the token still works.
            let v = view(
                None,
                true,
                Some(&format!("<@{user}> disconnected HubSpot portal {portal}: nothing more is posted, and the app's tokens and links were deleted.")),
                &install_url(app),
                None,
                None,
            );
            if let Err(e) = app.slack.publish_home(&bot, user, &v).await {
                tracing::warn!(team, error = %e, "last home tab not published");
            }
            return crate::services::install::disconnect(
                app,
                &install,
                "disconnected from the Home tab",
                Some(user),
            )
            .await;
        }
        other => {
            tracing::info!(team, action = other, "unknown home action ignored");
            return Ok(());
        }
    };
    publish_view(
        app,
        &install,
        &bot,
        user,
        true,
        Some(&notice),
        confirm.as_deref(),
    )
    .await
}

/// The notification channel, set to a checked channel.
async fn set_channel(app: &App, portal: &str, channel: &str) -> Result<Option<Install>, JobError> {
    change(app, portal, |i| {
        i.channel_id = Some(channel.to_string());
        i.pending_channel_id = None;
        if matches!(i.status, InstallStatus::NeedsAttention { .. }) {
            i.status = InstallStatus::Active;
        }
    })
    .await
}

/// Applies an admin's change to the install as stored now (not as read before the Slack
/// calls), so a delivery's health write in between is kept, and so is this change. None when
/// the install was removed meanwhile.
async fn change(
    app: &App,
    portal: &str,
    mut f: impl FnMut(&mut Install),
) -> Result<Option<Install>, JobError> {
    app.records
        .update_install(portal, |i| {
            f(i);
            true
        })
        .await
        .map_err(store_err)
}

/// Routes `inbox` to `channel` (checked like the notification channel), or back to the
/// default when `channel` is the install's channel. Returns what to tell the admin.
async fn route_inbox(
    app: &App,
    install: &Install,
    bot: &Secret,
    user: &str,
    inbox: &str,
    channel: &str,
) -> Result<String, JobError> {
    let portal = &install.portal_id;
    let team = &install.team_id;
    if inbox.is_empty() || inbox.len() > 64 || !inbox.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok("That inbox is not valid; nothing changed.".into());
    }
    if channel.is_empty() {
        return Ok("Pick a channel.".into());
    }
    if install.channel_id.as_deref() == Some(channel) {
        app.records
            .delete_route(portal, inbox)
            .await
            .map_err(store_err)?;
        tracing::info!(team = %team, portal = %portal, user, inbox, "inbox routed back to the default channel");
        return Ok(format!(
            "Done: new live chats from inbox {inbox} go to <#{channel}>, the notification channel."
        ));
    }
    Ok(match check_channel(app, bot, channel).await {
        ChannelCheck::ExternallyShared { .. } => format!(
            "<#{channel}> is shared with other organisations (Slack Connect), so people outside this workspace would read the chats of inbox {inbox}. Nothing changed; pick a channel of this workspace only."
        ),
        ChannelCheck::Ready { .. } => {
            // The inbox's alert settings stay with it when its channel changes.
            let alerts = app
                .records
                .route_for(portal, inbox)
                .await
                .map_err(store_err)?
                .map(|r| r.alerts)
                .unwrap_or_default();
            app.records
                .set_route(&crate::domain::InboxRoute {
                    portal_id: portal.clone(),
                    inbox_id: inbox.to_string(),
                    channel_id: channel.to_string(),
                    set_by: user.to_string(),
                    set_at: app.clock.now_secs(),
                    alerts,
                })
                .await
                .map_err(store_err)?;
            tracing::info!(team = %team, portal = %portal, user, inbox, channel, "inbox routed to its own channel");
            format!("Done: new live chats from inbox {inbox} go to <#{channel}>.")
        }
        ChannelCheck::NeedsInvite => format!(
            "<#{channel}> is private and the app is not in it: type `/invite` there and add the app, then pick it again. Nothing changed."
        ),
        other => channel_refused(team, portal, channel, other)?,
    })
}

/// What to tell an admin whose chosen channel is archived or could not be checked (a
/// transient failure is retried instead).
fn channel_refused(
    team: &str,
    portal: &str,
    channel: &str,
    check: ChannelCheck,
) -> Result<String, JobError> {
    match check {
        ChannelCheck::Archived => Ok(format!(
            "<#{channel}> is archived, so nothing changed. Pick another channel."
        )),
        ChannelCheck::Failed(e) if e.is_retryable() => Err(JobError::retry(e.to_string())),
        ChannelCheck::Failed(e) => {
            tracing::warn!(team, portal, channel, error = %e, "chosen channel could not be checked");
            Ok(format!(
                "<#{channel}> could not be checked ({}), so nothing changed.",
                e.code().unwrap_or("error")
            ))
        }
        ChannelCheck::Ready { .. }
        | ChannelCheck::NeedsInvite
        | ChannelCheck::ExternallyShared { .. } => Ok(String::new()),
    }
}
