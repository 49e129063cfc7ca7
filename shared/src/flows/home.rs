//! The app's Home tab in Slack: the connection (portal, channel, notifications, health) and,
//! for the installer or a workspace admin, its settings: the channel (Slack's channel
//! picker), notifications off and on, disconnect. Everyone else sees it read-only.
//!
//! `app_home_opened` and every settings click become jobs (`PublishHome`, `HomeAction`):
//! the edge only acknowledges.

use serde_json::{json, Value};

use crate::app::App;
use crate::chat::slack::SlackError;
use crate::chat::text::escape;
use crate::domain::{Install, InstallSource, InstallStatus};
use crate::queue::JobError;
use crate::services::install::{check_channel, ChannelCheck};
use crate::support::secret::Secret;

pub const ACTION_CHANNEL: &str = "home_channel";
pub const ACTION_NOTIFICATIONS: &str = "home_notifications";
pub const ACTION_DISCONNECT: &str = "home_disconnect";
/// Routing by inbox: the select of inbox N has action id `home_route:N`.
pub const ACTION_ROUTE_PREFIX: &str = "home_route:";
/// At most this many inboxes are listed (a Home tab holds at most 100 blocks).
const MAX_ROUTED_INBOXES: usize = 40;

pub const REFUSED: &str = "Only the person who installed the app or a workspace admin can change these settings. Nothing changed.";

pub fn is_home_action(action_id: &str) -> bool {
    matches!(
        action_id,
        ACTION_CHANNEL | ACTION_NOTIFICATIONS | ACTION_DISCONNECT
    ) || action_id.starts_with(ACTION_ROUTE_PREFIX)
}

/// What the "Channels by inbox" section shows: the portal's inboxes (or why they could not
/// be listed) and the routes set.
#[derive(Debug, Clone)]
pub struct Routing {
    pub inboxes: Result<Vec<crate::inbox::hubspot::Inbox>, String>,
    pub routes: Vec<crate::domain::InboxRoute>,
}

fn routing_blocks(r: &Routing, default_channel: Option<&str>) -> Vec<Value> {
    let default = match default_channel {
        Some(c) => format!("<#{c}>"),
        None => "the notification channel".into(),
    };
    let mut blocks = vec![json!({"type": "section", "text": mrkdwn(format!(
        "*Channels by inbox*\nEach HubSpot inbox can post to its own channel; the others use {default}. Pick {default} again to send an inbox back to it. A conversation moved to another inbox follows it, with a note in its old thread."
    ))})];
    let inboxes = match &r.inboxes {
        Ok(i) => i,
        Err(e) => {
            blocks.push(json!({"type": "context", "elements": [mrkdwn(format!(
                ":warning: The inboxes could not be listed ({}); try again later.", escape(e)
            ))]}));
            return blocks;
        }
    };
    if inboxes.is_empty() {
        blocks
            .push(json!({"type": "context", "elements": [mrkdwn("No inboxes found in HubSpot.")]}));
    }
    for inbox in inboxes.iter().take(MAX_ROUTED_INBOXES) {
        let route = r.routes.iter().find(|x| x.inbox_id == inbox.id);
        let now = match route {
            Some(x) => format!("<#{}>", x.channel_id),
            None => format!("{default} (default)"),
        };
        let name = if inbox.name.is_empty() {
            format!("Inbox {}", inbox.id)
        } else {
            inbox.name.clone()
        };
        let mut select = json!({
            "type": "conversations_select",
            "action_id": format!("{ACTION_ROUTE_PREFIX}{}", inbox.id),
            "placeholder": plain("Pick a channel"),
            "filter": {"include": ["public", "private"], "exclude_bot_users": true, "exclude_external_shared_channels": true}
        });
        if let Some(c) = route
            .map(|x| &x.channel_id)
            .or(default_channel.map(str::to_string).as_ref())
        {
            select["initial_conversation"] = json!(c);
        }
        blocks.push(json!({
            "type": "section",
            "text": mrkdwn(format!("*{}*\n{now}", escape(&crate::chat::text::truncate_chars(&name, 150).0))),
            "accessory": select
        }));
    }
    if inboxes.len() > MAX_ROUTED_INBOXES {
        blocks.push(json!({"type": "context", "elements": [mrkdwn(format!(
            "{} more inboxes are not listed here; they use the default channel.",
            inboxes.len() - MAX_ROUTED_INBOXES
        ))]}));
    }
    blocks
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

/// Epoch seconds as `YYYY-MM-DD HH:MM UTC` (the fallback of Slack's `<!date>`).
fn utc(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

fn date(ts: i64) -> String {
    format!("<!date^{ts}^{{date_short_pretty}} at {{time}}|{}>", utc(ts))
}

fn mrkdwn(text: impl Into<String>) -> Value {
    json!({"type": "mrkdwn", "text": text.into()})
}

fn plain(text: &str) -> Value {
    json!({"type": "plain_text", "text": text})
}

/// The Home tab. `install` None: this workspace is not connected (any more).
pub fn view(
    install: Option<&Install>,
    manage: bool,
    notice: Option<&str>,
    install_url: &str,
    routing: Option<&Routing>,
) -> Value {
    let mut blocks = vec![json!({"type": "header", "text": plain("HubSpot inbox → Slack")})];
    if let Some(n) = notice {
        blocks
            .push(json!({"type": "section", "text": mrkdwn(format!(":information_source: {n}"))}));
    }
    let Some(i) = install.filter(|i| i.status != InstallStatus::Inactive) else {
        blocks.push(json!({"type": "section", "text": mrkdwn(format!(
            "This workspace is not connected to a HubSpot inbox. To connect one, open <{install_url}|the install page>."
        ))}));
        return json!({"type": "home", "blocks": blocks});
    };
    let channel = match &i.channel_id {
        Some(c) => format!("<#{c}>"),
        None => "_none yet_".into(),
    };
    let status = match &i.status {
        InstallStatus::Active if i.channel_id.is_some() && i.notifications_on => {
            ":large_green_circle: Working".to_string()
        }
        InstallStatus::Active if i.channel_id.is_none() => {
            ":white_circle: Waiting for a channel".to_string()
        }
        InstallStatus::Active => ":white_circle: Paused (notifications off)".to_string(),
        InstallStatus::NeedsAttention { reason } => {
            format!(":warning: Needs attention: {}", escape(reason))
        }
        InstallStatus::Inactive => ":red_circle: Disconnected".to_string(),
    };
    blocks.push(json!({"type": "section", "fields": [
        mrkdwn(format!("*HubSpot portal*\n{}", escape(&i.portal_id))),
        mrkdwn(format!("*Channel*\n{channel}")),
        mrkdwn(format!("*Notifications*\n{}", if i.notifications_on { "On" } else { "Off" })),
        mrkdwn(format!("*Status*\n{status}")),
        mrkdwn(format!("*Last delivery*\n{}", i.last_delivery_at.map(date).unwrap_or_else(|| "None yet".into()))),
        mrkdwn(format!("*Last error*\n{}", i.last_error.as_deref().map(|e| escape(&crate::chat::text::truncate_chars(e, 500).0)).unwrap_or_else(|| "None".into()))),
    ]}));
    if let Some(p) = &i.pending_channel_id {
        blocks.push(json!({"type": "section", "text": mrkdwn(format!(
            ":hourglass_flowing_sand: Waiting for the app to be invited to the private channel <#{p}>: type `/invite` there and add the app. Notifications move there as soon as it is in."
        ))}));
    }
    let installed_by = match &i.installer_user_id {
        Some(u) => format!("Installed by <@{u}>."),
        None if i.source == InstallSource::Settings => {
            "Connected by this deployment's settings (single-workspace mode).".into()
        }
        None => "Installed by OAuth.".into(),
    };
    blocks.push(json!({"type": "context", "elements": [mrkdwn(installed_by)]}));
    blocks.push(json!({"type": "divider"}));
    if !manage {
        let who = match &i.installer_user_id {
            Some(u) => format!("<@{u}> or a workspace admin"),
            None => "A workspace admin".into(),
        };
        blocks.push(json!({"type": "context", "elements": [mrkdwn(format!(
            ":lock: {who} can change these settings."
        ))]}));
        return json!({"type": "home", "blocks": blocks});
    }
    if i.source == InstallSource::Settings {
        blocks.push(json!({"type": "section", "text": mrkdwn(
            "*Notification channel*\nSet by this deployment's settings (`SLACK_CHANNEL_ID`); ask its operator to change it."
        )}));
    } else {
        let mut select = json!({
            "type": "conversations_select",
            "action_id": ACTION_CHANNEL,
            "placeholder": plain("Pick a channel"),
            "filter": {"include": ["public", "private"], "exclude_bot_users": true, "exclude_external_shared_channels": true}
        });
        if let Some(c) = &i.channel_id {
            select["initial_conversation"] = json!(c);
        }
        blocks.push(json!({
            "type": "section",
            "block_id": "home_channel_block",
            "text": mrkdwn("*Notification channel*\nNew live chats are posted here."),
            "accessory": select
        }));
    }
    let mut buttons = vec![if i.notifications_on {
        json!({"type": "button", "action_id": ACTION_NOTIFICATIONS, "value": "off", "text": plain("Turn notifications off")})
    } else {
        json!({"type": "button", "action_id": ACTION_NOTIFICATIONS, "value": "on", "style": "primary", "text": plain("Turn notifications on")})
    }];
    if i.source == InstallSource::OAuth {
        buttons.push(json!({
            "type": "button", "action_id": ACTION_DISCONNECT, "value": "disconnect", "style": "danger",
            "text": plain("Disconnect"),
            "confirm": {
                "title": plain("Disconnect from HubSpot?"),
                "text": mrkdwn("Notifications stop, the app's tokens are revoked and deleted, and the links between chats and Slack threads are removed. You can install again later."),
                "confirm": plain("Disconnect"),
                "deny": plain("Cancel"),
                "style": "danger"
            }
        }));
    }
    blocks.push(json!({"type": "actions", "block_id": "home_actions", "elements": buttons}));
    if let Some(r) = routing {
        blocks.push(json!({"type": "divider"}));
        blocks.extend(routing_blocks(r, i.channel_id.as_deref()));
    }
    json!({"type": "home", "blocks": blocks})
}

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
    let Some(install) = app
        .records
        .install_for_team(team)
        .await
        .map_err(store_err)?
    else {
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
    publish_view(app, &install, &bot, user, manage, notice).await
}

async fn publish_view(
    app: &App,
    install: &Install,
    bot: &Secret,
    user: &str,
    manage: bool,
    notice: Option<&str>,
) -> Result<(), JobError> {
    let routing = if manage && install.status != InstallStatus::Inactive {
        Some(load_routing(app, install).await)
    } else {
        None
    };
    let mut v = view(
        Some(install),
        manage,
        notice,
        &install_url(app),
        routing.as_ref(),
    );
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

/// The portal's inboxes and its routes, for the Home tab (a failure is shown, not fatal).
async fn load_routing(app: &App, install: &Install) -> Routing {
    let routes = app
        .records
        .list_routes(&install.portal_id)
        .await
        .unwrap_or_default();
    let mut install = install.clone();
    let inboxes = match crate::services::tokens::hubspot_token(app, &mut install).await {
        Ok(Some(token)) => app
            .hubspot
            .list_inboxes(&token)
            .await
            .map_err(|e| e.to_string()),
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
    let now = if available.is_empty() {
        "nobody (as set from Slack)".to_string()
    } else {
        available.join(", ")
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
    let Some(mut install) = app
        .records
        .install_for_team(team)
        .await
        .map_err(store_err)?
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
        return publish_view(app, &install, &bot, user, false, Some(REFUSED)).await;
    }
    let notice = match action {
        ACTION_CHANNEL if install.source == InstallSource::Settings => {
            "The channel is set by this deployment's settings; nothing changed.".to_string()
        }
        ACTION_CHANNEL if value.is_empty() => "Pick a channel.".to_string(),
        ACTION_CHANNEL => match check_channel(app, &bot, value).await {
            ChannelCheck::Ready { .. } => {
                let Some(i) = change(app, &portal, |i| {
                    i.channel_id = Some(value.to_string());
                    i.pending_channel_id = None;
                    if matches!(i.status, InstallStatus::NeedsAttention { .. }) {
                        i.status = InstallStatus::Active;
                    }
                })
                .await?
                else {
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
            );
            if let Err(e) = app.slack.publish_home(&bot, user, &v).await {
                tracing::warn!(team, error = %e, "last home tab not published");
            }
            return crate::services::install::disconnect(
                app,
                &install,
                &format!("disconnected from the Home tab by {user}"),
            )
            .await;
        }
        other => {
            tracing::info!(team, action = other, "unknown home action ignored");
            return Ok(());
        }
    };
    publish_view(app, &install, &bot, user, true, Some(&notice)).await
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
        ChannelCheck::Ready { .. } => {
            app.records
                .set_route(&crate::domain::InboxRoute {
                    portal_id: portal.clone(),
                    inbox_id: inbox.to_string(),
                    channel_id: channel.to_string(),
                    set_by: user.to_string(),
                    set_at: app.clock.now_secs(),
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
        ChannelCheck::Ready { .. } | ChannelCheck::NeedsInvite => Ok(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn install() -> Install {
        Install {
            portal_id: "22761544".into(),
            team_id: "T1".into(),
            channel_id: Some("C1".into()),
            pending_channel_id: None,
            notifications_on: true,
            bot_token: Some(Secret::new("xoxb-1")),
            bot_user_id: Some("UBOT".into()),
            hubspot: None,
            status: InstallStatus::Active,
            source: InstallSource::OAuth,
            installer_user_id: Some("UADMIN".into()),
            last_delivery_at: Some(1_764_237_600),
            last_error: Some("slack <!channel> & co".into()),
            created_at: 0,
            version: 1,
        }
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_764_237_600), "2025-11-27 10:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn managers_get_the_controls_and_others_a_read_only_view() {
        let v = view(
            Some(&install()),
            true,
            None,
            "https://x/slack/install",
            None,
        )
        .to_string();
        for s in [
            "22761544",
            "<#C1>",
            "Working",
            "<!date^1764237600^",
            "slack &lt;!channel&gt; &amp; co",
            ACTION_CHANNEL,
            "\"initial_conversation\":\"C1\"",
            "Turn notifications off",
            ACTION_DISCONNECT,
        ] {
            assert!(v.contains(s), "{s} in {v}");
        }
        let ro = view(Some(&install()), false, Some(REFUSED), "https://x", None).to_string();
        assert!(ro.contains(REFUSED));
        assert!(ro.contains("<@UADMIN> or a workspace admin can change"));
        for s in [ACTION_CHANNEL, ACTION_NOTIFICATIONS, ACTION_DISCONNECT] {
            assert!(!ro.contains(s), "{s} in {ro}");
        }
    }

    #[test]
    fn settings_installs_cannot_change_channel_or_disconnect() {
        let mut i = install();
        i.source = InstallSource::Settings;
        i.installer_user_id = None;
        let v = view(Some(&i), true, None, "https://x", None).to_string();
        assert!(v.contains("SLACK_CHANNEL_ID"));
        assert!(v.contains(ACTION_NOTIFICATIONS));
        assert!(!v.contains("conversations_select"));
        assert!(!v.contains(ACTION_DISCONNECT));
    }

    #[test]
    fn inboxes_get_a_channel_select_each_escaped_and_capped() {
        use crate::inbox::hubspot::Inbox;
        let inbox = |id: &str, name: &str| Inbox {
            id: id.into(),
            name: name.into(),
            archived: false,
        };
        let routing = Routing {
            inboxes: Ok(vec![inbox("1", "Sales <!here>"), inbox("2", "")]),
            routes: vec![crate::domain::InboxRoute {
                portal_id: "P".into(),
                inbox_id: "1".into(),
                channel_id: "C9".into(),
                set_by: "U".into(),
                set_at: 0,
            }],
        };
        let v = view(Some(&install()), true, None, "u", Some(&routing)).to_string();
        assert!(
            v.contains("home_route:1") && v.contains("home_route:2"),
            "{v}"
        );
        assert!(
            v.contains("Sales &lt;!here&gt;") && !v.contains("<!here>"),
            "{v}"
        );
        assert!(
            v.contains("Inbox 2") && v.contains("<#C1> (default)"),
            "{v}"
        );
        assert!(v.contains("\"initial_conversation\":\"C9\""), "{v}");
        assert!(is_home_action("home_route:1") && !is_home_action("home_routeX"));
        let many = Routing {
            inboxes: Ok((0..60).map(|n| inbox(&n.to_string(), "x")).collect()),
            routes: vec![],
        };
        let v = view(Some(&install()), true, None, "u", Some(&many));
        assert!(
            v["blocks"].as_array().unwrap().len() <= 100,
            "Slack's limit"
        );
        assert!(v.to_string().contains("20 more inboxes are not listed"));
        let failed = Routing {
            inboxes: Err("hubspot 503".into()),
            routes: vec![],
        };
        let v = view(Some(&install()), true, None, "u", Some(&failed)).to_string();
        assert!(v.contains("could not be listed (hubspot 503)"), "{v}");
    }

    #[test]
    fn not_connected_points_at_the_install_page() {
        let v = view(None, true, None, "https://x/slack/install", None).to_string();
        assert!(v.contains("not connected"));
        assert!(v.contains("https://x/slack/install"));
        let mut i = install();
        i.status = InstallStatus::Inactive;
        assert!(view(Some(&i), true, None, "u", None)
            .to_string()
            .contains("not connected"));
    }
}
