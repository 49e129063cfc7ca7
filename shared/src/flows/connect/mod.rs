//! Installing by OAuth, and disconnecting.
//!
//! The chain an inbox admin follows:
//!
//! 1. `GET /slack/install`: the install page (what happens, a link to start).
//! 2. `GET /hubspot/install`: with a HubSpot public app (`HUBSPOT_CLIENT_ID`), a redirect to
//!    HubSpot's consent page with the scopes of contracts/hubspot.md; in private-app mode
//!    (`HUBSPOT_PORTAL_ID` + `HUBSPOT_ACCESS_TOKEN`) straight on to step 4.
//! 3. `GET /hubspot/oauth/callback`: the code is exchanged for tokens, and the portal is
//!    known (`hub_id`). The tokens wait, encrypted, on the Slack step's state item.
//! 4. A redirect to Slack's OAuth v2 consent page (bot scopes of `SLACK_BOT_SCOPES`, which
//!    include `incoming-webhook` so Slack shows its channel picker).
//! 5. `GET /slack/oauth/callback`: `oauth.v2.access`, the channel checked (and joined when
//!    public), the install written (tokens encrypted by `records`), the success page.
//!
//! Every `state` is `v1.<provider>.<nonce>.<portal>.<expires_at>.<hmac>`: signed with a key
//! derived from `TOKEN_ENCRYPTION_KEY` (so a forged or altered one is refused without a
//! store read), bound to the portal (the Slack step's), expiring after 10 minutes, and
//! single use (the nonce's `STATE#` item is consumed by a conditional delete).

use http::StatusCode;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::app::App;
use crate::chat::slack::SlackOAuth;
use crate::domain::{HubSpotAuth, Install, InstallSource, InstallStatus};
use crate::queue::Job;
use crate::services::install::{check_channel, ChannelCheck};
use crate::support::http::{Request, Response};
use crate::support::secret::Secret;

mod pages;
mod state;

pub use pages::page;
use pages::Page;
pub use state::{
    browser_binding, browser_cookie_name, decode_state, encode_state, make_install_link,
    InstallLinkError, StateProblem, BROWSER_COOKIE, INSTALL_LINK_TTL_SECS,
};
use state::{
    claim_hubspot_state, consume_link_state, consume_state, link_slack_state, new_hubspot_state,
    new_slack_state, redirect_bound, state_refused, LinkProblem,
};

/// The bot scopes asked for at install: those of contracts/slack.md "App manifest", plus
/// `incoming-webhook`, which makes Slack's consent page show its channel picker (the
/// webhook itself is not used). manifest.json declares the same list (a test checks).
pub const SLACK_BOT_SCOPES: &[&str] = &[
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:read",
    "groups:read",
    "channels:join",
    "channels:history",
    "groups:history",
    "users:read",
    "users:read.email",
    // An agent's file shared in a thread is fetched to be sent on to the visitor.
    "files:read",
    // Reaction shortcuts on cards (reaction_added, reaction_removed).
    "reactions:read",
    // The escalation target: a user group picked in the Home tab.
    "usergroups:read",
    "incoming-webhook",
];

/// HubSpot scopes (contracts/hubspot.md, "OAuth"): `oauth` (every app's, as HubSpot's
/// project samples list it), the inbox, owners, contacts, and the users object for
/// availability. hubspot-app/*/src/app/app-hsmeta.json lists the same
/// (tests/tests/hubspot_project.rs).
pub const HUBSPOT_SCOPES: &[&str] = &[
    "oauth",
    "conversations.read",
    "conversations.write",
    "crm.objects.owners.read",
    "crm.objects.contacts.read",
    "crm.objects.users.read",
    "crm.objects.users.write",
];

/// Asked for, not required (HubSpot's `optional_scope`): `files` uploads an agent's file from
/// Slack for the visitor. A portal that does not grant it still installs; its agents are told
/// their files were not sent.
pub const HUBSPOT_OPTIONAL_SCOPES: &[&str] = &["files"];

/// How long an install link (a `state`) stays valid.
pub const STATE_TTL_SECS: i64 = 600;
pub const PROVIDER_HUBSPOT: &str = "hubspot";
pub const PROVIDER_SLACK: &str = "slack";

/// The steps of an install, each a page or a redirect (the edge maps its routes to them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SlackInstall,
    SlackCallback,
    HubSpotInstall,
    HubSpotCallback,
}

pub async fn handle(app: &App, step: Step, req: &Request) -> Response {
    match step {
        Step::SlackInstall => install_page(app),
        Step::HubSpotInstall => hubspot_install(app, req).await,
        Step::HubSpotCallback => hubspot_callback(app, req).await,
        Step::SlackCallback => slack_callback(app, req).await,
    }
}

// ------------------------------------------------------------------ configuration ----

/// How the HubSpot side is reached, when OAuth installs are possible at all.
enum HubSpotMode<'a> {
    PublicApp {
        client_id: &'a str,
    },
    PrivateApp {
        portal_id: &'a str,
        token: &'a Secret,
    },
}

struct Configured<'a> {
    slack_client_id: &'a str,
    slack_client_secret: &'a Secret,
    hubspot: HubSpotMode<'a>,
}

/// What OAuth needs, or the names of the missing settings.
fn configured(app: &App) -> Result<Configured<'_>, Vec<&'static str>> {
    let s = &app.settings;
    let hubspot = match (&s.hubspot_client_id, &s.private_app) {
        (Some(client_id), _) => Some(HubSpotMode::PublicApp { client_id }),
        (None, Some(p)) => Some(HubSpotMode::PrivateApp {
            portal_id: &p.portal_id,
            token: &p.token,
        }),
        (None, None) => None,
    };
    match (&s.slack_client_id, &s.slack_client_secret, hubspot) {
        (Some(id), Some(secret), Some(hubspot)) => Ok(Configured {
            slack_client_id: id,
            slack_client_secret: secret,
            hubspot,
        }),
        (id, _, hubspot) => {
            let mut missing = vec![];
            if id.is_none() {
                missing
                    .push("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (the Slack app's credentials)");
            }
            if hubspot.is_none() {
                missing.push("HUBSPOT_CLIENT_ID (a HubSpot public app), or HUBSPOT_PORTAL_ID with HUBSPOT_ACCESS_TOKEN (a private app)");
            }
            Err(missing)
        }
    }
}

fn not_configured(app: &App, missing: &[&str]) -> Response {
    tracing::warn!(missing = %missing.join("; "), "OAuth install asked for but not configured");
    let mut p = Page::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Installing is not set up on this deployment",
    )
    .text(
        "The operator of this deployment has not configured installing by OAuth. Missing settings:",
    )
    .list(missing.iter().map(|m| m.to_string()).collect());
    if app.settings.single_workspace.is_some() {
        p = p.text("This deployment runs in single-workspace mode: its HubSpot portal, Slack workspace and channel come from its settings, and it is already connected.");
    }
    p.text("Ask the operator to add these settings to the bundle's secret (see the README, \"Connecting by OAuth\").")
        .render()
}

fn redirect_uri(app: &App, path: &str) -> String {
    format!("{}{path}", app.settings.public_base_url)
}

/// Query-string values: everything but unreserved characters percent-encoded (spaces as
/// `%20`, which HubSpot's space-separated `scope` expects).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY)))
        .collect();
    format!("{base}?{}", q.join("&"))
}

// --------------------------------------------------------------------------- state ----

pub(super) fn store_failed(app: &App, e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "store unavailable during an install");
    Page::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "The install could not be finished",
    )
    .text("The app could not save the connection just now. Nothing was connected; please try again in a minute.")
    .start_again(app)
    .render()
}

// -------------------------------------------------------------------------- routes ----

fn install_page(app: &App) -> Response {
    let c = match configured(app) {
        Ok(c) => c,
        Err(missing) => return not_configured(app, &missing),
    };
    let first = match c.hubspot {
        HubSpotMode::PublicApp { .. } => "Allow the app in HubSpot: sign in and choose the portal whose inbox you want in Slack.".to_string(),
        HubSpotMode::PrivateApp { portal_id, .. } => format!("HubSpot: this deployment reaches portal {portal_id} with its private app, so there is nothing to allow there."),
    };
    Page::new(StatusCode::OK, "Connect your HubSpot inbox to Slack")
        .text("New website chats from the HubSpot inbox are posted to a Slack channel, and agents answer them from the message's thread.")
        .steps(vec![
            first,
            "Add the app to your Slack workspace and pick the channel for chat notifications. A public channel is joined automatically; for a private one, invite the app afterwards.".into(),
            "Later, open the app's Home tab in Slack to change the channel, turn notifications off and on, or disconnect.".into(),
        ])
        .text("You need to be an admin of the HubSpot portal and allowed to add apps to the Slack workspace. Each step's link is valid for 10 minutes.")
        .link(
            &format!("{}/hubspot/install", app.settings.public_base_url),
            "Start connecting",
        )
        .render()
}

async fn hubspot_install(app: &App, req: &Request) -> Response {
    let c = match configured(app) {
        Ok(c) => c,
        Err(missing) => return not_configured(app, &missing),
    };
    match c.hubspot {
        HubSpotMode::PublicApp { client_id } => {
            let state = new_hubspot_state(app);
            let scope = HUBSPOT_SCOPES.join(" ");
            let optional_scope = HUBSPOT_OPTIONAL_SCOPES.join(" ");
            let redirect = redirect_uri(app, "/hubspot/oauth/callback");
            // contracts/hubspot.md, "OAuth": the authorize URL and its parameters.
            let url = with_query(
                &format!("{}/oauth/authorize", app.settings.hubspot_app_url),
                &[
                    ("client_id", client_id),
                    ("redirect_uri", &redirect),
                    ("scope", &scope),
                    ("optional_scope", &optional_scope),
                    ("state", &state),
                ],
            );
            tracing::info!("install started: to HubSpot's consent page");
            redirect_bound(app, &url, &state)
        }
        HubSpotMode::PrivateApp { portal_id, .. } => {
            if let Some(r) = single_workspace_conflict(app, portal_id) {
                return r;
            }
            // The deployment's own portal: only with a one-time link its operator made, so
            // nobody else can bind that portal to a workspace of theirs.
            let q = req.query_params();
            let state = match link_slack_state(app, portal_id, q.get("link")).await {
                Ok(s) => s,
                Err(Err(e)) => return store_failed(app, e),
                Err(Ok(problem)) => return link_refused(portal_id, problem),
            };
            to_slack(app, &c, portal_id, state)
        }
    }
}

/// Private-app mode without a valid operator link: nothing started, nothing written.
fn link_refused(portal: &str, problem: LinkProblem) -> Response {
    tracing::warn!(
        portal,
        link_given = matches!(problem, LinkProblem::UnknownOrUsed),
        "install refused: no valid one-time install link"
    );
    let (title, first) = match problem {
        LinkProblem::Missing => (
            "Installing here needs a one-time link",
            "This deployment connects its own HubSpot portal, so an install can only start from a one-time link made by its operator.",
        ),
        LinkProblem::UnknownOrUsed => (
            "This install link is not valid any more",
            "One-time install links work once and expire; this one was already used, has expired, or was not made by this deployment's operator.",
        ),
    };
    Page::new(StatusCode::FORBIDDEN, title)
        .text(first)
        .text("Nothing was connected. If you run this deployment, make a link with the local runner's install-link command (see the README, \"Private-app mode\"); otherwise ask its operator for one.")
        .render()
}

/// Step 4: the redirect to Slack's consent page, the HubSpot side waiting behind `state`.
fn to_slack(app: &App, c: &Configured<'_>, portal: &str, state: String) -> Response {
    let redirect = redirect_uri(app, "/slack/oauth/callback");
    let scope = SLACK_BOT_SCOPES.join(",");
    let url = with_query(
        &app.settings.slack_oauth_url,
        &[
            ("client_id", c.slack_client_id),
            ("scope", &scope),
            ("redirect_uri", &redirect),
            ("state", &state),
        ],
    );
    tracing::info!(portal, "install continues: to Slack's consent page");
    redirect_bound(app, &url, &state)
}

fn single_workspace_conflict(app: &App, portal: &str) -> Option<Response> {
    let sw = app.settings.single_workspace.as_ref()?;
    if sw.portal_id != portal {
        return None;
    }
    tracing::warn!(
        portal,
        "OAuth install refused: the portal is the single-workspace one"
    );
    Some(
        Page::new(StatusCode::CONFLICT, "This portal is already connected")
            .text(&format!("HubSpot portal {portal} is connected by this deployment's own settings (single-workspace mode), so it cannot also be installed here. Nothing was changed."))
            .render(),
    )
}

/// The consent was not given (`error=access_denied`) or the provider reported another error.
async fn denied(
    app: &App,
    req: &Request,
    provider: &str,
    error: &str,
    state: Option<&String>,
) -> Response {
    // Spend the Slack step's state, so the pending HubSpot tokens (or the operator's link)
    // leave the table now. The HubSpot step's state has nothing stored to spend.
    if let Some(state) = state.filter(|_| provider == PROVIDER_SLACK) {
        let private =
            configured(app).is_ok_and(|c| matches!(c.hubspot, HubSpotMode::PrivateApp { .. }));
        if private {
            let _ = consume_link_state(app, req, state).await;
        } else {
            let _ = consume_state(app, req, provider, state).await;
        }
    }
    let who = if provider == PROVIDER_SLACK {
        "Slack"
    } else {
        "HubSpot"
    };
    // The `error` parameter is anyone's text: it is logged (cut, code characters only) and
    // never shown, so a crafted link cannot put words on our page.
    let code: String = error
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    tracing::info!(
        provider,
        error = %code,
        "install not allowed by the user or the provider"
    );
    let (title, text) = if error == "access_denied" {
        (
            "The app was not allowed".to_string(),
            format!("You chose not to allow the app in {who}, so nothing was connected and nothing was kept."),
        )
    } else {
        (
            "The install did not finish".to_string(),
            format!("{who} ended the install with an error. Nothing was connected."),
        )
    };
    Page::new(StatusCode::FORBIDDEN, &title)
        .text(&text)
        .start_again(app)
        .render()
}

fn bad_link(app: &App) -> Response {
    Page::new(StatusCode::BAD_REQUEST, "This page needs an install link")
        .text("This address is where HubSpot and Slack send you back during an install; opened on its own it does nothing.")
        .start_again(app)
        .render()
}

fn exchange_failed(app: &App, who: &str, reason: &str) -> Response {
    tracing::error!(provider = who, reason, "OAuth code exchange failed");
    Page::new(StatusCode::BAD_GATEWAY, "The install could not be finished")
        .text(&format!(
            "{who} did not complete the connection ({reason}). Nothing was connected."
        ))
        .start_again(app)
        .render()
}

async fn hubspot_callback(app: &App, req: &Request) -> Response {
    let c = match configured(app) {
        Ok(c) => c,
        Err(missing) => return not_configured(app, &missing),
    };
    let HubSpotMode::PublicApp { client_id } = c.hubspot else {
        return not_configured(app, &["HUBSPOT_CLIENT_ID (a HubSpot public app)"]);
    };
    let q = req.query_params();
    if let Some(error) = q.get("error") {
        return denied(app, req, PROVIDER_HUBSPOT, error, q.get("state")).await;
    }
    let (Some(code), Some(state)) = (q.get("code"), q.get("state")) else {
        return bad_link(app);
    };
    if let Err(r) = claim_hubspot_state(app, req, state).await {
        return r;
    }
    let redirect = redirect_uri(app, "/hubspot/oauth/callback");
    let tokens = match app
        .inbox
        .exchange_code(
            client_id,
            &app.settings.hubspot_client_secret,
            &redirect,
            code,
        )
        .await
    {
        Ok(t) => t,
        Err(e) => return exchange_failed(app, "HubSpot", &e.to_string()),
    };
    let portal = match tokens.portal_id.clone() {
        Some(p) => p,
        None => match app
            .inbox
            .token_portal(
                client_id,
                &app.settings.hubspot_client_secret,
                &tokens.access_token,
            )
            .await
        {
            Ok(p) => p,
            Err(e) => return exchange_failed(app, "HubSpot", &e.to_string()),
        },
    };
    if let Some(r) = single_workspace_conflict(app, &portal) {
        return r;
    }
    let auth = HubSpotAuth::OAuth {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_at: app.clock.now_secs() + tokens.expires_in,
    };
    tracing::info!(portal = %portal, "HubSpot allowed the app");
    match new_slack_state(app, &portal, &auth).await {
        Ok(state) => to_slack(app, &c, &portal, state),
        Err(e) => store_failed(app, e),
    }
}

async fn slack_callback(app: &App, req: &Request) -> Response {
    let c = match configured(app) {
        Ok(c) => c,
        Err(missing) => return not_configured(app, &missing),
    };
    let q = req.query_params();
    if let Some(error) = q.get("error") {
        return denied(app, req, PROVIDER_SLACK, error, q.get("state")).await;
    }
    let (Some(code), Some(state)) = (q.get("code"), q.get("state")) else {
        return bad_link(app);
    };
    let (portal, auth) = match c.hubspot {
        // Private-app mode: the state spends the operator's link; the token is the settings'.
        HubSpotMode::PrivateApp { token, .. } => match consume_link_state(app, req, state).await {
            Ok(p) => (
                p,
                HubSpotAuth::PrivateApp {
                    token: token.clone(),
                },
            ),
            Err(r) => return r,
        },
        HubSpotMode::PublicApp { .. } => {
            match consume_state(app, req, PROVIDER_SLACK, state).await {
                Ok((Some(p), Some(a))) => (p, a),
                Ok(_) => return state_refused(app, PROVIDER_SLACK, StateProblem::Forged),
                Err(r) => return r,
            }
        }
    };
    let redirect = redirect_uri(app, "/slack/oauth/callback");
    let oauth = match app
        .slack
        .oauth_v2_access(c.slack_client_id, c.slack_client_secret, code, &redirect)
        .await
    {
        Ok(o) => o,
        Err(e) => return exchange_failed(app, "Slack", &e.to_string()),
    };
    let team = oauth.team_id.clone();
    let previous = match app.records.get_install(&portal).await {
        Ok(p) => p,
        Err(e) => return store_failed(app, e),
    };
    // A portal connected to a workspace is never moved to another by an install: whoever
    // holds an install link (or may add apps somewhere) would otherwise take its chats.
    if let Some(current) = previous.as_ref().filter(|p| {
        p.team_id != team
            && p.status != InstallStatus::Inactive
            && p.source != InstallSource::Settings
    }) {
        return rebinding_refused(app, current, &oauth).await;
    }
    // One Slack workspace feeds from one portal (the TEAM# pointer).
    match app.records.install_for_team(&team).await {
        Ok(Some(other)) if other.portal_id != portal && other.status != InstallStatus::Inactive => {
            tracing::warn!(portal = %portal, team = %team, other = %other.portal_id, "install refused: the workspace is connected to another portal");
            return Page::new(StatusCode::CONFLICT, "This Slack workspace is already connected")
                .text(&format!("The workspace {} is connected to HubSpot portal {}. Disconnect it first from the app's Home tab in Slack, then install again. Nothing was changed.", display_team(&oauth.team_name, &team), other.portal_id))
                .render();
        }
        Ok(Some(other)) if other.portal_id != portal => {
            // An uninstalled (inactive) install of another portal in this workspace: gone.
            if let Err(e) = app.records.delete_portal_data(&other.portal_id).await {
                return store_failed(app, e);
            }
        }
        Ok(_) => {}
        Err(e) => return store_failed(app, e),
    }
    if let Some(r) = previous
        .as_ref()
        .filter(|p| p.source == InstallSource::Settings)
        .and_then(|_| single_workspace_conflict(app, &portal))
    {
        return r;
    }
    // Reconnecting the same workspace keeps its conversations; anything else starts clean.
    let keep = previous
        .clone()
        .filter(|p| p.team_id == team && p.status != InstallStatus::Inactive);
    if let Some(prev) = previous.as_ref().filter(|_| keep.is_none()) {
        if prev.team_id != team {
            if let Some(old) = &prev.bot_token {
                if let Err(e) = app.slack.auth_revoke(old).await {
                    tracing::warn!(portal = %portal, error = %e, "old workspace's token not revoked");
                }
            }
        }
        match app.records.delete_portal_data(&portal).await {
            Ok(n) => {
                tracing::info!(portal = %portal, items = n, "previous install removed before reinstalling")
            }
            Err(e) => return store_failed(app, e),
        }
    }
    // A reinstall in the same workspace by someone who may not manage the install (not its
    // installer, not a workspace admin) refreshes the tokens and keeps who installed it and
    // where it posts.
    let by = oauth.authed_user_id.clone();
    let limited = match &keep {
        Some(k)
            if k.installer_user_id.is_some()
                && k.installer_user_id.as_deref() != Some(by.as_str()) =>
        {
            !crate::services::install::can_manage(app, k, &oauth.access_token, &by)
                .await
                .unwrap_or(false)
        }
        _ => false,
    };
    let now = app.clock.now_secs();
    let mut install = Install {
        portal_id: portal.clone(),
        team_id: team.clone(),
        channel_id: keep.as_ref().and_then(|k| k.channel_id.clone()),
        pending_channel_id: None,
        notifications_on: keep.as_ref().is_none_or(|k| k.notifications_on),
        reactions_on: keep.as_ref().is_none_or(|k| k.reactions_on),
        bot_token: Some(oauth.access_token.clone()),
        // Token rotation on: the token lasts `expires_in` and is renewed before then.
        bot_rotation: match (&oauth.refresh_token, oauth.expires_in) {
            (Some(refresh_token), Some(expires_in)) => Some(crate::domain::SlackRotation {
                refresh_token: refresh_token.clone(),
                expires_at: now + expires_in,
            }),
            _ => None,
        },
        bot_user_id: Some(oauth.bot_user_id.clone()).filter(|b| !b.is_empty()),
        hubspot: Some(auth),
        status: InstallStatus::Active,
        source: InstallSource::OAuth,
        installer_user_id: Some(oauth.authed_user_id.clone()).filter(|u| !u.is_empty()),
        last_delivery_at: keep.as_ref().and_then(|k| k.last_delivery_at),
        last_error: None,
        created_at: keep.as_ref().map_or(now, |k| k.created_at),
        // Numbering goes on from what was stored, so no earlier reader's version comes back.
        version: previous.as_ref().map_or(0, |p| p.version),
        // An admin's alert settings outlive a reinstall, as the channel does.
        alerts: keep.as_ref().map(|k| k.alerts.clone()).unwrap_or_default(),
        timers: keep.as_ref().map(|k| k.timers.clone()).unwrap_or_default(),
    };
    // The channel picked on Slack's consent page (incoming-webhook), checked before it is
    // saved.
    let picked = oauth
        .incoming_webhook_channel_id
        .clone()
        .filter(|_| !limited);
    let check = match &picked {
        Some(ch) => Some(check_channel(app, &oauth.access_token, ch).await),
        None => None,
    };
    match (&picked, &check) {
        (Some(ch), Some(ChannelCheck::Ready { .. })) => install.channel_id = Some(ch.clone()),
        (Some(ch), Some(ChannelCheck::NeedsInvite)) => {
            install.pending_channel_id = Some(ch.clone())
        }
        (None, _) => {
            install.pending_channel_id = keep.as_ref().and_then(|k| k.pending_channel_id.clone())
        }
        _ => {}
    }
    if limited {
        if let Some(k) = &keep {
            install.installer_user_id = k.installer_user_id.clone();
            install.channel_id = k.channel_id.clone();
            install.pending_channel_id = k.pending_channel_id.clone();
        }
    }
    if let Err(e) = app.records.put_install(&install).await {
        return store_failed(app, e);
    }
    if let Some(k) = keep
        .as_ref()
        .filter(|k| k.installer_user_id.as_deref() != Some(by.as_str()))
    {
        // Every reinstall is told to the one who installed it.
        tracing::warn!(portal = %portal, team = %team, user = %by, installer = k.installer_user_id.as_deref().unwrap_or(""), settings_kept = limited, "reinstalled by someone else");
        if let Some(installer) = &k.installer_user_id {
            let text = if limited {
                format!(":information_source: <@{by}> installed the app again for HubSpot portal {portal}. Its tokens were refreshed; you remain its installer and its channel is unchanged.")
            } else {
                format!(":information_source: <@{by}> (a workspace admin) installed the app again for HubSpot portal {portal} and is now its installer.")
            };
            if let Err(e) = app
                .slack
                .post_message(&oauth.access_token, installer, None, &text, None)
                .await
            {
                tracing::warn!(portal = %portal, error = %e, "could not tell the installer of the reinstall");
            }
            // And the one who reinstalled: what their install did and did not change.
            let theirs = if limited {
                format!(":information_source: You installed the app again for HubSpot portal {portal}. Its tokens were refreshed; <@{installer}> remains its installer and the channel is unchanged (only its installer or a workspace admin changes those).")
            } else {
                format!(":information_source: You installed the app again for HubSpot portal {portal} and are now its installer (before: <@{installer}>, who has been told).")
            };
            if let Err(e) = app
                .slack
                .post_message(&oauth.access_token, &by, None, &theirs, None)
                .await
            {
                tracing::warn!(portal = %portal, error = %e, "could not tell the reinstaller");
            }
        }
    }
    tracing::info!(portal = %portal, team = %team, channel = install.channel_id.as_deref().unwrap_or(""), pending_channel = install.pending_channel_id.as_deref().unwrap_or(""), installer = install.installer_user_id.as_deref().unwrap_or(""), "installed");
    if let Some(user) = &install.installer_user_id {
        let job = Job::PublishHome {
            team_id: team.clone(),
            user_id: user.clone(),
        };
        let key = format!("install:{team}:{user}:{now}");
        if let Err(e) = app.queue.enqueue(job, &key).await {
            tracing::warn!(team = %team, error = %e, "home tab not queued; it is published when opened");
        }
    }
    success_page(&install, &oauth.team_name, &oauth.app_id, picked, check)
}

/// An install of a portal that is connected to another workspace: refused with a page that
/// says how to move it, nothing of the current install changed, its installer told. The
/// bot token this attempt just got in the new workspace is revoked, so the app is not left
/// installed there with nothing behind it.
async fn rebinding_refused(app: &App, current: &Install, oauth: &SlackOAuth) -> Response {
    let portal = &current.portal_id;
    let by = oauth.authed_user_id.as_str();
    tracing::warn!(portal = %portal, team = %oauth.team_id, user = by, current_team = %current.team_id, "install refused: the portal is connected to another Slack workspace");
    if let Err(e) = app.slack.auth_revoke(&oauth.access_token).await {
        tracing::warn!(portal = %portal, team = %oauth.team_id, error = %e, "the refused attempt's bot token was not revoked");
    }
    // The current install's token, renewed first if it rotates and is due.
    let mut current = current.clone();
    if let Err(e) = crate::services::slack_token::fresh(app, &mut current).await {
        tracing::warn!(portal = %portal, error = %e, "current install's slack token not renewed");
    }
    if let (Some(user), Some(bot)) = (&current.installer_user_id, &current.bot_token) {
        let text = format!(
            ":warning: Someone tried to connect HubSpot portal {portal} to another Slack workspace ({}, by user {}). It was refused and nothing changed here. To move the portal on purpose, disconnect it first from this app's Home tab, then install it in the other workspace.",
            crate::chat::text::escape(&display_team(&oauth.team_name, &oauth.team_id)),
            crate::chat::text::escape(by)
        );
        if let Err(e) = app.slack.post_message(bot, user, None, &text, None).await {
            tracing::warn!(portal = %portal, error = %e, "could not tell the installer of the refused install");
        }
    }
    Page::new(StatusCode::CONFLICT, "This HubSpot portal is connected to another Slack workspace")
        .text(&format!("HubSpot portal {} already sends its chats to another Slack workspace, so it was not connected here, and nothing changed there. To move it: in the workspace that has it, the person who installed the app or a workspace admin disconnects it from the app's Home tab; then install it here again. They have been told of this attempt.", portal))
        .render()
}

fn display_team(name: &str, id: &str) -> String {
    if name.is_empty() {
        id.to_string()
    } else {
        format!("\"{name}\"")
    }
}

fn success_page(
    install: &Install,
    team_name: &str,
    app_id: &str,
    picked: Option<String>,
    check: Option<ChannelCheck>,
) -> Response {
    let team = &install.team_id;
    let mut p = Page::new(StatusCode::OK, "HubSpot and Slack are connected").text(&format!(
        "HubSpot portal {} is connected to the Slack workspace {}.",
        install.portal_id,
        display_team(team_name, team)
    ));
    let open_channel =
        |ch: &str| format!("https://slack.com/app_redirect?team={team}&channel={ch}");
    p = match (picked, check) {
        (Some(_), Some(ChannelCheck::Ready { name })) => p.text(&format!(
            "New live chats will be posted to #{name}. Agents answer a chat by replying in its message's thread."
        )),
        (Some(ch), Some(ChannelCheck::NeedsInvite)) => p
            .text("One more step: the channel you picked is private, and the app is not in it yet. In that channel, type /invite and add the app. Notifications start as soon as the app is in the channel.")
            .link(&open_channel(&ch), "Open the channel in Slack"),
        (Some(_), Some(ChannelCheck::ExternallyShared { name })) => {
            tracing::warn!(portal = %install.portal_id, channel = %name, "picked channel is shared with other organisations; not set");
            p.text(&format!(
                "The channel you picked, #{name}, is shared with other organisations (Slack Connect), so people outside your workspace would read every chat. It was not set. Pick another channel in the app's Home tab, or a workspace admin can confirm this one there."
            ))
        }
        (Some(_), Some(ChannelCheck::Archived)) => p.text(
            "The channel you picked is archived, so no channel is set yet. Pick one in the app's Home tab in Slack.",
        ),
        (Some(_), Some(ChannelCheck::Failed(e))) => {
            tracing::warn!(portal = %install.portal_id, error = %e, "picked channel could not be checked");
            p.text("The channel you picked could not be checked just now, so no channel is set yet. Pick one in the app's Home tab in Slack.")
        }
        _ => match &install.channel_id {
            Some(ch) => p.text(&format!("Notifications keep going to the channel they went to before ({ch}).")),
            None => p.text("No channel was picked. Pick the channel for notifications in the app's Home tab in Slack."),
        },
    };
    p = p.text("To change the channel, turn notifications off and on, or disconnect, open the app's Home tab in Slack.");
    if !app_id.is_empty() {
        p = p.link(
            &format!("https://slack.com/app_redirect?app={app_id}&team={team}"),
            "Open the app in Slack",
        );
    }
    p.render()
}

// ------------------------------------------------------------------------ channels ----

// ---------------------------------------------------------------------- disconnect ----

// --------------------------------------------------------------------------- pages ----

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Secret {
        Secret::new("k".repeat(64))
    }

    #[test]
    fn state_round_trips_and_binds_step_and_portal() {
        let s = encode_state(&key(), PROVIDER_SLACK, "abc", Some("22761544"), 2000);
        assert_eq!(
            decode_state(&key(), &s, PROVIDER_SLACK, 1000),
            Ok(("abc".into(), Some("22761544".into())))
        );
        // The other step's callback refuses it.
        assert_eq!(
            decode_state(&key(), &s, PROVIDER_HUBSPOT, 1000),
            Err(StateProblem::Forged)
        );
        let h = encode_state(&key(), PROVIDER_HUBSPOT, "n", None, 2000);
        assert_eq!(
            decode_state(&key(), &h, PROVIDER_HUBSPOT, 1000),
            Ok(("n".into(), None))
        );
    }

    #[test]
    fn altered_foreign_or_expired_states_are_refused() {
        let s = encode_state(&key(), PROVIDER_SLACK, "abc", Some("1"), 2000);
        let other_portal = s.replacen(".1.", ".2.", 1);
        assert_eq!(
            decode_state(&key(), &other_portal, PROVIDER_SLACK, 1000),
            Err(StateProblem::Forged)
        );
        assert_eq!(
            decode_state(&Secret::new("other"), &s, PROVIDER_SLACK, 1000),
            Err(StateProblem::Forged)
        );
        for junk in ["", "x", "v1.slack.a.b.c", &format!("{s}.x")] {
            assert_eq!(
                decode_state(&key(), junk, PROVIDER_SLACK, 1000),
                Err(StateProblem::Forged),
                "{junk}"
            );
        }
        assert_eq!(
            decode_state(&key(), &s, PROVIDER_SLACK, 2001),
            Err(StateProblem::Expired)
        );
        assert!(decode_state(&key(), &s, PROVIDER_SLACK, 2000).is_ok());
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            with_query(
                "https://x/a",
                &[("scope", "a.b c:d"), ("r", "https://h/p?q=1")]
            ),
            "https://x/a?scope=a.b%20c%3Ad&r=https%3A%2F%2Fh%2Fp%3Fq%3D1"
        );
    }

    #[test]
    fn pages_escape_and_are_accessible() {
        let r = Page::new(StatusCode::OK, "A <b> title")
            .text("x < y & \"z\"")
            .link("/p?a=1&b=2", "Go")
            .render();
        assert!(r.body.starts_with("<!doctype html>"));
        assert!(r.body.contains("<html lang=\"en\">"));
        assert!(r.body.contains("<title>A &lt;b&gt; title</title>"));
        assert!(r.body.contains("<h1>A &lt;b&gt; title</h1>"));
        assert!(r.body.contains("<p>x &lt; y &amp; &quot;z&quot;</p>"));
        assert!(r.body.contains("href=\"/p?a=1&amp;b=2\""));
        assert!(!r.body.contains("<script"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    }
}
