//! The Home tab's Block Kit: the connection, its health and, for those who may change them,
//! the settings (contracts/slack.md: a view holds at most 100 blocks).

use serde_json::{json, Value};

use crate::chat::blocks::limits;
use crate::chat::text::escape;
use crate::domain::{Install, InstallSource, InstallStatus};

pub const ACTION_CHANNEL: &str = "home_channel";

/// A workspace admin confirms a channel shared with other organisations (value: its id).
pub const ACTION_CHANNEL_SHARED: &str = "home_channel_shared";

pub const ACTION_NOTIFICATIONS: &str = "home_notifications";

pub const ACTION_DISCONNECT: &str = "home_disconnect";

/// Reaction shortcuts on cards on or off (value `on` / `off`).
pub const ACTION_REACTIONS: &str = "home_reactions";

/// Routing by inbox: the select of inbox N has action id `home_route:N`.
pub const ACTION_ROUTE_PREFIX: &str = "home_route:";

/// Alert settings: `home_alert:<field>` for the install, `home_alert:<field>:<inbox>` for a
/// routed inbox; fields `first`, `next`, `escalate`, `target`, `digest` (install only).
pub const ACTION_ALERT_PREFIX: &str = "home_alert:";

/// At most this many routed inboxes get alert settings of their own in the Home tab.
const MAX_INBOX_ALERTS: usize = 10;

/// The waits an admin can pick (seconds; 0: off).
const WAIT_CHOICES: &[u32] = &[0, 60, 120, 180, 300, 600, 900, 1200, 1800, 2700, 3600];

/// At most this many inboxes are listed (a Home tab holds at most 100 blocks).
const MAX_ROUTED_INBOXES: usize = 40;

pub fn is_home_action(action_id: &str) -> bool {
    matches!(
        action_id,
        ACTION_CHANNEL
            | ACTION_CHANNEL_SHARED
            | ACTION_NOTIFICATIONS
            | ACTION_REACTIONS
            | ACTION_DISCONNECT
    ) || action_id.starts_with(ACTION_ROUTE_PREFIX)
        || action_id.starts_with(ACTION_ALERT_PREFIX)
}

/// What the alert settings show besides the install's own: the deployment's defaults, the
/// routed inboxes (with their names) and the workspace's user groups (empty when Slack
/// did not list them: the `usergroups:read` scope is missing on older installs).
#[derive(Debug, Clone)]
pub struct AlertsView {
    pub defaults: crate::domain::AlertDefaults,
    pub inboxes: Vec<(crate::domain::InboxRoute, String)>,
    pub groups: Vec<(String, String)>,
}

fn option(text: &str, value: &str) -> Value {
    json!({"text": plain(text), "value": value})
}

fn wait_select(action: String, set: Option<u32>, default: u32, label: &str) -> Value {
    let name = |s: u32| {
        if s == 0 {
            "off".to_string()
        } else {
            crate::domain::duration_text(i64::from(s))
        }
    };
    let mut options = vec![option(
        &format!("{label}: default ({})", name(default)),
        "default",
    )];
    for c in WAIT_CHOICES {
        options.push(option(&format!("{label}: {}", name(*c)), &c.to_string()));
    }
    // A value set another way (the environment's choices differ): shown as it is.
    if let Some(s) = set.filter(|s| !WAIT_CHOICES.contains(s)) {
        options.push(option(&format!("{label}: {}", name(s)), &s.to_string()));
    }
    let initial = match set {
        Some(s) => options
            .iter()
            .find(|o| o["value"] == json!(s.to_string()))
            .cloned(),
        None => options.first().cloned(),
    };
    let mut sel = json!({"type": "static_select", "action_id": action, "placeholder": plain(label), "options": options});
    if let Some(i) = initial {
        sel["initial_option"] = i;
    }
    sel
}

fn target_select(action: String, set: Option<&str>, groups: &[(String, String)]) -> Value {
    let mut options = vec![
        option("Escalate to: default (@here)", "default"),
        option("Escalate to: @here", "here"),
        option("Escalate to: @channel", "channel"),
    ];
    // Slack's static_select holds at most 100 options.
    for (id, handle) in groups.iter().take(90) {
        let (h, _) = crate::chat::text::truncate_chars(handle, 40);
        options.push(option(&format!("Escalate to: @{h}"), id));
    }
    if let Some(s) = set.filter(|s| !options.iter().any(|o| o["value"] == json!(s))) {
        options.push(option(&format!("Escalate to: {s}"), s));
    }
    let initial = options
        .iter()
        .find(|o| o["value"] == json!(set.unwrap_or("default")))
        .cloned();
    let mut sel = json!({"type": "static_select", "action_id": action, "placeholder": plain("Escalate to"), "options": options});
    if let Some(i) = initial {
        sel["initial_option"] = i;
    }
    sel
}

fn digest_select(set: Option<i8>, default: Option<u8>) -> Value {
    let name = |h: Option<u8>| h.map_or("off".to_string(), |h| format!("{h:02}:00 UTC"));
    let mut options = vec![
        option(&format!("Digest: default ({})", name(default)), "default"),
        option("Digest: off", "off"),
    ];
    for h in 0..24u8 {
        options.push(option(
            &format!("Digest: {}", name(Some(h))),
            &h.to_string(),
        ));
    }
    let want = match set {
        None => "default".to_string(),
        Some(h) if (0..24).contains(&h) => h.to_string(),
        Some(_) => "off".to_string(),
    };
    let initial = options.iter().find(|o| o["value"] == json!(want)).cloned();
    let mut sel = json!({"type": "static_select", "action_id": format!("{ACTION_ALERT_PREFIX}digest"), "placeholder": plain("Digest"), "options": options});
    if let Some(i) = initial {
        sel["initial_option"] = i;
    }
    sel
}

fn alert_blocks(i: &Install, a: &AlertsView) -> Vec<Value> {
    let d = &a.defaults;
    let s = &i.alerts;
    let mut blocks = vec![json!({"type": "section", "text": mrkdwn(
        "*Waiting visitors*\nWhen a visitor waits this long for a first reply (or for a reply to a later message), the thread says so and the assignee gets a direct message; after the escalation time the channel is told, with a mention. The digest sums up the day in the notification channel."
    )})];
    blocks.push(json!({"type": "actions", "block_id": "home_alerts", "elements": [
        wait_select(format!("{ACTION_ALERT_PREFIX}first"), s.first_response_secs, d.first_response_secs, "First reply"),
        wait_select(format!("{ACTION_ALERT_PREFIX}next"), s.next_response_secs, d.next_response_secs, "Next reply"),
        wait_select(format!("{ACTION_ALERT_PREFIX}escalate"), s.escalate_secs, d.escalate_secs, "Escalate"),
        target_select(format!("{ACTION_ALERT_PREFIX}target"), s.escalate_to.as_deref(), &a.groups),
        digest_select(s.digest_hour_utc, d.digest_hour_utc),
    ]}));
    for (route, name) in a.inboxes.iter().take(MAX_INBOX_ALERTS) {
        let r = &route.alerts;
        let inbox = &route.inbox_id;
        let (n, _) = crate::chat::text::truncate_chars(name, 150);
        blocks.push(json!({"type": "context", "elements": [mrkdwn(format!(
            "*{}* (its own channel <#{}>): unset means as above", escape(&n), route.channel_id
        ))]}));
        let inherited = |v: Option<u32>, env: u32| v.unwrap_or(env);
        blocks.push(json!({"type": "actions", "block_id": format!("home_alerts:{inbox}"), "elements": [
            wait_select(format!("{ACTION_ALERT_PREFIX}first:{inbox}"), r.first_response_secs, inherited(s.first_response_secs, d.first_response_secs), "First reply"),
            wait_select(format!("{ACTION_ALERT_PREFIX}next:{inbox}"), r.next_response_secs, inherited(s.next_response_secs, d.next_response_secs), "Next reply"),
            wait_select(format!("{ACTION_ALERT_PREFIX}escalate:{inbox}"), r.escalate_secs, inherited(s.escalate_secs, d.escalate_secs), "Escalate"),
            target_select(format!("{ACTION_ALERT_PREFIX}target:{inbox}"), r.escalate_to.as_deref(), &a.groups),
        ]}));
    }
    blocks
}

/// What the "Channels by inbox" section shows: the portal's inboxes (or why they could not
/// be listed) and the routes set.
#[derive(Debug, Clone)]
pub struct Routing {
    pub inboxes: Result<Vec<crate::domain::InboxInfo>, String>,
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

/// Epoch seconds as `YYYY-MM-DD HH:MM UTC` (the fallback of Slack's `<!date>`).
pub fn utc(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (y, m, d) = crate::support::clock::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

fn date(ts: i64) -> String {
    format!("<!date^{ts}^{{date_short_pretty}} at {{time}}|{}>", utc(ts))
}

pub fn mrkdwn(text: impl Into<String>) -> Value {
    json!({"type": "mrkdwn", "text": text.into()})
}

pub fn plain(text: &str) -> Value {
    json!({"type": "plain_text", "text": text})
}

/// The button a workspace admin confirms a channel shared with other organisations with,
/// behind a dialog that says what it means.
pub fn confirm_shared_channel(channel: &str) -> Value {
    json!({"type": "actions", "block_id": "home_shared_confirm", "elements": [{
        "type": "button",
        "action_id": ACTION_CHANNEL_SHARED,
        "text": plain("Use this shared channel (admins)"),
        "value": channel,
        "style": "danger",
        "confirm": {
            "title": plain("Post chats to a shared channel?"),
            "text": plain("People in the other organisations of this channel will read every chat posted there: visitors' messages, names and internal notes."),
            "confirm": plain("Use it"),
            "deny": plain("Cancel"),
            "style": "danger"
        }
    }]})
}

/// The Home tab. `install` None: this workspace is not connected (any more).
pub fn view(
    install: Option<&Install>,
    manage: bool,
    notice: Option<&str>,
    install_url: &str,
    routing: Option<&Routing>,
    alerts: Option<&AlertsView>,
) -> Value {
    let mut blocks = vec![json!({"type": "header", "text": plain("HubSpot inbox → Slack")})];
    if let Some(n) = notice {
        // Our own text, with Slack markup of ours: kept whole unless absurdly long.
        let (n, _) = crate::chat::text::truncate_chars(n, limits::TEXT - 30);
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
            format!(
                ":warning: Needs attention: {}",
                crate::chat::text::escape_and_truncate(reason, 500).0
            )
        }
        InstallStatus::Inactive => ":red_circle: Disconnected".to_string(),
    };
    blocks.push(json!({"type": "section", "fields": [
        mrkdwn(format!("*HubSpot portal*\n{}", escape(&i.portal_id))),
        mrkdwn(format!("*Channel*\n{channel}")),
        mrkdwn(format!("*Notifications*\n{}", if i.notifications_on { "On" } else { "Off" })),
        mrkdwn(format!("*Status*\n{status}")),
        mrkdwn(format!("*Last delivery*\n{}", i.last_delivery_at.map(date).unwrap_or_else(|| "None yet".into()))),
        mrkdwn(format!("*Last error*\n{}", i.last_error.as_deref().map(|e| crate::chat::text::escape_and_truncate(e, 500).0).unwrap_or_else(|| "None".into()))),
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
    // ✅ closes and 👀 assigns, on cards, for linked agents.
    buttons.push(if i.reactions_on {
        json!({"type": "button", "action_id": ACTION_REACTIONS, "value": "off", "text": plain("Turn reaction shortcuts off")})
    } else {
        json!({"type": "button", "action_id": ACTION_REACTIONS, "value": "on", "text": plain("Turn reaction shortcuts on")})
    });
    if i.source == InstallSource::OAuth {
        buttons.push(json!({
            "type": "button", "action_id": ACTION_DISCONNECT, "value": "disconnect", "style": "danger",
            "text": plain("Disconnect"),
            "confirm": {
                "title": plain("Disconnect from HubSpot?"),
                // A confirmation dialog's text is plain_text (Block Kit's confirm object).
                "text": plain("Notifications stop, the app's tokens are revoked and deleted, and the links between chats and Slack threads are removed. You can install again later."),
                "confirm": plain("Disconnect"),
                "deny": plain("Cancel"),
                "style": "danger"
            }
        }));
    }
    blocks.push(json!({"type": "actions", "block_id": "home_actions", "elements": buttons}));
    if let Some(a) = alerts {
        blocks.push(json!({"type": "divider"}));
        blocks.extend(alert_blocks(i, a));
    }
    if let Some(r) = routing {
        blocks.push(json!({"type": "divider"}));
        blocks.extend(routing_blocks(r, i.channel_id.as_deref()));
    }
    json!({"type": "home", "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::secret::Secret;

    const REFUSED: &str = "Only the installer may change these settings.";

    fn install() -> Install {
        Install {
            portal_id: "22761544".into(),
            team_id: "T1".into(),
            channel_id: Some("C1".into()),
            pending_channel_id: None,
            notifications_on: true,
            reactions_on: true,
            bot_token: Some(Secret::new("xoxb-1")),
            bot_rotation: None,
            bot_user_id: Some("UBOT".into()),
            hubspot: None,
            status: InstallStatus::Active,
            source: InstallSource::OAuth,
            installer_user_id: Some("UADMIN".into()),
            last_delivery_at: Some(1_764_237_600),
            last_error: Some("slack <!channel> & co".into()),
            created_at: 0,
            version: 1,
            alerts: Default::default(),
            timers: Default::default(),
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
        let ro = view(
            Some(&install()),
            false,
            Some(REFUSED),
            "https://x",
            None,
            None,
        )
        .to_string();
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
        let v = view(Some(&i), true, None, "https://x", None, None).to_string();
        assert!(v.contains("SLACK_CHANNEL_ID"));
        assert!(v.contains(ACTION_NOTIFICATIONS));
        assert!(!v.contains("conversations_select"));
        assert!(!v.contains(ACTION_DISCONNECT));
    }

    #[test]
    fn inboxes_get_a_channel_select_each_escaped_and_capped() {
        use crate::domain::InboxInfo;
        let inbox = |id: &str, name: &str| InboxInfo {
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
                alerts: Default::default(),
            }],
        };
        let v = view(Some(&install()), true, None, "u", Some(&routing), None).to_string();
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
        let v = view(Some(&install()), true, None, "u", Some(&many), None);
        assert!(
            v["blocks"].as_array().unwrap().len() <= 100,
            "Slack's limit"
        );
        assert!(v.to_string().contains("20 more inboxes are not listed"));
        let failed = Routing {
            inboxes: Err("hubspot 503".into()),
            routes: vec![],
        };
        let v = view(Some(&install()), true, None, "u", Some(&failed), None).to_string();
        assert!(v.contains("could not be listed (hubspot 503)"), "{v}");
    }

    #[test]
    fn not_connected_points_at_the_install_page() {
        let v = view(None, true, None, "https://x/slack/install", None, None).to_string();
        assert!(v.contains("not connected"));
        assert!(v.contains("https://x/slack/install"));
        let mut i = install();
        i.status = InstallStatus::Inactive;
        assert!(view(Some(&i), true, None, "u", None, None)
            .to_string()
            .contains("not connected"));
    }
}
