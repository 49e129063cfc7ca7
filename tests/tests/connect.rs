//! Connecting by OAuth, end to end over real HTTP: the install chain (HubSpot OAuth, then
//! Slack OAuth v2 with its channel picker), refused states, denied consent, failed code
//! exchanges, a private channel without the app, Home tab settings (admin and not),
//! disconnect, and HubSpot token refresh (before expiry, on a 401, once under concurrency,
//! and a revoked refresh token). wiremock stands in for Slack and HubSpot.

use integration_tests::harness::*;
use reqwest::Url;
use serde_json::{json, Value};
use shared::domain::{HubSpotAuth, InstallSource, InstallStatus};
use wiremock::matchers::{basic_auth, body_string_contains, header, method, path, path_regex};
use wiremock::{Mock, Request, ResponseTemplate};

const SLACK_CLIENT_ID: &str = "1111.2222";
const SLACK_CLIENT_SECRET: &str = "slack-client-secret-xyz";
const HS_CLIENT_ID: &str = "hs-client-id-0123";
const HS_APP_URL: &str = "https://app.hubspot.test";
const SLACK_OAUTH_URL: &str = "https://slack.test/oauth/v2/authorize";

const PORTAL2: &str = "50505050";
const TEAM2: &str = "T0OAUTH001";
const BOT2: &str = "xoxb-oauth-bot-token-9f8e7d6c";
const BOT2_USER: &str = "U0BOTOAUTH";
const HS_ACCESS: &str = "hs-access-token-aaaa1111";
const HS_ACCESS_NEW: &str = "hs-access-token-bbbb2222";
const HS_REFRESH: &str = "hs-refresh-token-cccc3333";
const INSTALLER: &str = "U0INSTALL1";
const ADMIN: &str = "U0ADMIN001";
const MEMBER: &str = "U0MEMBER01";
const PUBLIC_CH: &str = "C0PUBLIC01";
const OTHER_CH: &str = "C0OTHER001";
const ARCHIVED_CH: &str = "C0ARCHIVE1";
const PRIVATE_CH: &str = "C0PRIVATE1";
const T: &str = "3624100517";
const FORM: &str = "application/x-www-form-urlencoded";

/// A form-encoded body as pairs.
fn form_of(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    Url::parse(&format!("http://form.test/?{text}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn form_map(body: &[u8]) -> std::collections::HashMap<String, String> {
    form_of(body).into_iter().collect()
}

fn oauth_settings() -> Vec<(&'static str, String)> {
    vec![
        ("SLACK_CLIENT_ID", SLACK_CLIENT_ID.into()),
        ("SLACK_CLIENT_SECRET", SLACK_CLIENT_SECRET.into()),
        ("HUBSPOT_CLIENT_ID", HS_CLIENT_ID.into()),
        ("HUBSPOT_APP_URL", HS_APP_URL.into()),
        ("SLACK_OAUTH_URL", SLACK_OAUTH_URL.into()),
    ]
}

async fn env_with(opts: Opts) -> Env {
    let e = start(opts).await;
    slack_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    slack_basics(&e).await;
    e
}

/// OAuth installs only (no single-workspace install), embedded store.
async fn env() -> Env {
    env_with(Opts {
        single_workspace: false,
        extra: oauth_settings(),
        ..Default::default()
    })
    .await
}

fn ok(v: Value) -> ResponseTemplate {
    let mut body = json!({"ok": true});
    for (k, x) in v.as_object().cloned().unwrap_or_default() {
        body[k] = x;
    }
    ResponseTemplate::new(200).set_body_json(body)
}

fn slack_error(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": code}))
}

fn channel(id: &str, name: &str, private: bool, member: bool, archived: bool) -> Value {
    json!({"channel": {"id": id, "name": name, "is_channel": !private, "is_private": private,
        "is_member": member, "is_archived": archived}})
}

async fn admin_user(e: &Env, id: &str, admin: bool) {
    Mock::given(method("POST"))
        .and(path("/users.info"))
        .and(body_string_contains(format!("user={id}")))
        .respond_with(ok(json!({"user": {"id": id, "name": id, "is_admin": admin,
            "is_owner": false, "is_bot": false, "deleted": false, "profile": {"display_name": id}}})))
        .mount(&e.slack)
        .await;
}

/// Slack's OAuth, channels, home tab, revoke; HubSpot's token endpoint.
async fn slack_basics(e: &Env) {
    Mock::given(method("POST"))
        .and(path("/oauth.v2.access"))
        .and(basic_auth(SLACK_CLIENT_ID, SLACK_CLIENT_SECRET))
        .and(body_string_contains("code=sl-code"))
        .respond_with(oauth_answer(PUBLIC_CH))
        .with_priority(5)
        .mount(&e.slack)
        .await;
    for (id, answer) in [
        (
            PUBLIC_CH,
            ok(channel(PUBLIC_CH, "support", false, false, false)),
        ),
        (
            OTHER_CH,
            ok(channel(OTHER_CH, "chats", false, false, false)),
        ),
        (
            ARCHIVED_CH,
            ok(channel(ARCHIVED_CH, "old", false, false, true)),
        ),
        // A bot sees only the private channels it is in.
        (PRIVATE_CH, slack_error("channel_not_found")),
    ] {
        Mock::given(method("POST"))
            .and(path("/conversations.info"))
            .and(body_string_contains(format!("channel={id}")))
            .respond_with(answer)
            .with_priority(5)
            .mount(&e.slack)
            .await;
    }
    for m in ["/conversations.join", "/views.publish", "/auth.revoke"] {
        Mock::given(method("POST"))
            .and(path(m))
            .respond_with(ok(json!({})))
            .with_priority(5)
            .mount(&e.slack)
            .await;
    }
    admin_user(e, ADMIN, true).await;
    admin_user(e, MEMBER, false).await;
    admin_user(e, INSTALLER, false).await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .respond_with(|r: &Request| {
            let form = form_of(&r.body);
            let get = |k: &str| {
                form.iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            match get("grant_type").as_str() {
                "authorization_code" if get("code") == "hs-code" => {
                    ResponseTemplate::new(200).set_body_json(json!({
                        "token_type": "bearer", "access_token": HS_ACCESS,
                        "refresh_token": HS_REFRESH, "expires_in": 1800, "hub_id": PORTAL2.parse::<i64>().unwrap()
                    }))
                }
                "refresh_token" if get("refresh_token") == HS_REFRESH => {
                    ResponseTemplate::new(200).set_body_json(json!({
                        "token_type": "bearer", "access_token": HS_ACCESS_NEW,
                        "refresh_token": HS_REFRESH, "expires_in": 1800
                    }))
                }
                _ => ResponseTemplate::new(400).set_body_json(
                    json!({"status": "BAD_AUTH_CODE", "message": "missing or unknown auth code"}),
                ),
            }
        })
        .with_priority(5)
        .mount(&e.hubspot)
        .await;
}

fn oauth_answer(webhook_channel: &str) -> ResponseTemplate {
    ok(oauth_json(webhook_channel))
}

fn oauth_json(webhook_channel: &str) -> Value {
    json!({
        "access_token": BOT2, "token_type": "bot", "scope": "commands,chat:write",
        "bot_user_id": BOT2_USER, "app_id": "A0APP00002",
        "team": {"id": TEAM2, "name": "Acme Support"}, "enterprise": null, "is_enterprise_install": false,
        "authed_user": {"id": INSTALLER, "scope": "", "token_type": "user"},
        "incoming_webhook": {"channel": "#x", "channel_id": webhook_channel,
            "configuration_url": "https://acme.slack.com/services/B1", "url": "https://hooks.slack.com/services/T/B/x"}
    })
}

/// A client that does not follow redirects: each step of the chain is looked at.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

/// A GET as the installing admin's browser makes it: with the cookies the runner set.
async fn get(e: &Env, path_and_query: &str) -> Page {
    let mut req = no_redirects().get(e.url(path_and_query));
    if let Some(c) = e.cookie_header() {
        req = req.header("cookie", c);
    }
    let r = req.send().await.unwrap();
    e.keep_cookies(r.headers());
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let body = r.text().await.unwrap();
    Page {
        status,
        location,
        body,
    }
}

fn enc(s: &str) -> String {
    percent(s)
}

/// Steps 1-4: install page, HubSpot consent, HubSpot callback. Returns the Slack state.
async fn through_hubspot(e: &Env) -> String {
    let p = get(e, "/hubspot/install").await;
    assert_eq!(p.status, 302, "{}", p.body);
    let to = p.location.unwrap();
    assert!(
        to.starts_with(&format!("{HS_APP_URL}/oauth/authorize?")),
        "{to}"
    );
    let state = query(&to)["state"].clone();
    let p = get(
        e,
        &format!("/hubspot/oauth/callback?code=hs-code&state={}", enc(&state)),
    )
    .await;
    assert_eq!(p.status, 302, "{}", p.body);
    let to = p.location.unwrap();
    assert!(to.starts_with(&format!("{SLACK_OAUTH_URL}?")), "{to}");
    query(&to)["state"].clone()
}

/// The whole chain; returns the final page.
async fn install(e: &Env) -> Page {
    let state = through_hubspot(e).await;
    let p = get(
        e,
        &format!("/slack/oauth/callback?code=sl-code&state={}", enc(&state)),
    )
    .await;
    e.drain().await;
    p
}

fn webhook_for(portal: &str, kind: &str) -> Value {
    let mut ev = event(kind, T, json!({}));
    ev["portalId"] = json!(portal.parse::<i64>().unwrap());
    json!([ev])
}

async fn new_chat(e: &Env) {
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[message_json("m1", 1, "INCOMING", "Hello there")],
    );
    let r = e
        .post_webhook(&webhook_for(PORTAL2, "conversation.creation"))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
}

fn envelope(event_id: &str, ev: Value) -> Value {
    json!({
        "token": "t", "team_id": TEAM2, "api_app_id": "A0APP00002", "type": "event_callback",
        "event_id": event_id, "event_time": 1700000200, "event": ev,
        "authorizations": [{"team_id": TEAM2, "user_id": BOT2_USER, "is_bot": true, "is_enterprise_install": false}]
    })
}

/// A click in the Home tab, as Slack posts it (no message, no response_url).
fn home_click(user: &str, action: Value) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": user, "team_id": TEAM2},
        "api_app_id": "A0APP00002", "token": "t",
        "container": {"type": "view", "view_id": "V0HOME0001"},
        "trigger_id": "1700000300.1.a",
        "team": {"id": TEAM2, "domain": "acme"},
        "view": {"id": "V0HOME0001", "type": "home", "blocks": []},
        "actions": [action]
    });
    format!("payload={}", percent(&payload.to_string()))
}

fn pick(channel: &str, ts: &str) -> Value {
    json!({"type": "conversations_select", "action_id": "home_channel", "block_id": "home_channel_block",
        "selected_conversation": channel, "action_ts": ts})
}

fn button(action_id: &str, value: &str, ts: &str) -> Value {
    json!({"type": "button", "action_id": action_id, "block_id": "home_actions", "value": value,
        "text": {"type": "plain_text", "text": "x"}, "action_ts": ts})
}

async fn click(e: &Env, user: &str, action: Value) {
    let r = e
        .post_slack("/slack/interactions", FORM, &home_click(user, action))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
}

async fn install2(e: &Env) -> shared::domain::Install {
    e.runner
        .app
        .records
        .get_install(PORTAL2)
        .await
        .unwrap()
        .expect("install")
}

fn bearer(r: &Request) -> String {
    r.headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn hubspot_thread_auth(e: &Env) -> Vec<String> {
    e.hubspot
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == format!("{THREADS}/{T}"))
        .map(bearer)
        .collect()
}

async fn token_grants(e: &Env) -> Vec<String> {
    e.hubspot
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/oauth/2026-03/token")
        .map(|r| form_map(&r.body).remove("grant_type").unwrap_or_default())
        .collect()
}

// ------------------------------------------------------------------------------ tests ----

#[tokio::test]
async fn the_whole_install_chain_connects_the_portal_to_the_picked_channel() {
    let dump = std::env::temp_dir().join(format!("connect-dump-{}-{}.json", std::process::id(), T));
    let _ = std::fs::remove_file(&dump);
    let mut extra = oauth_settings();
    extra.push(("EMBEDDED_STORE_PATH", dump.to_string_lossy().to_string()));
    let e = env_with(Opts {
        single_workspace: false,
        extra,
        ..Default::default()
    })
    .await;

    // The install page explains and links to the start.
    let p = get(&e, "/slack/install").await;
    assert_eq!(p.status, 200);
    assert!(p
        .body
        .contains("<h1>Connect your HubSpot inbox to Slack</h1>"));
    assert!(p
        .body
        .contains("href=\"https://hooks.example.test/hubspot/install\""));

    // HubSpot's consent page: our client id, redirect URL, the contract's scopes, a state.
    let p = get(&e, "/hubspot/install").await;
    assert_eq!(p.status, 302);
    let to = p.location.unwrap();
    let q = query(&to);
    assert_eq!(q["client_id"], HS_CLIENT_ID);
    assert_eq!(
        q["redirect_uri"],
        "https://hooks.example.test/hubspot/oauth/callback"
    );
    assert_eq!(
        q["scope"],
        "oauth conversations.read conversations.write crm.objects.owners.read crm.objects.contacts.read crm.objects.users.read crm.objects.users.write"
    );
    assert!(to.contains("scope=oauth%20conversations.read%20conversations.write"));
    assert_eq!(q["optional_scope"], "files");
    let hs_state = q["state"].clone();
    assert!(hs_state.starts_with("v1.hubspot."), "{hs_state}");

    // Back from HubSpot: the code is exchanged, and on to Slack with a state for the portal.
    let p = get(
        &e,
        &format!(
            "/hubspot/oauth/callback?code=hs-code&state={}",
            enc(&hs_state)
        ),
    )
    .await;
    assert_eq!(p.status, 302, "{}", p.body);
    let exchange = e.hubspot_calls("POST", "/oauth/2026-03/token").await;
    assert_eq!(exchange.len(), 1);
    let form = form_map(
        &e.hubspot
            .received_requests()
            .await
            .unwrap()
            .iter()
            .find(|r| r.url.path() == "/oauth/2026-03/token")
            .unwrap()
            .body,
    );
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["client_id"], HS_CLIENT_ID);
    assert_eq!(form["client_secret"], HUBSPOT_SECRET);
    assert_eq!(
        form["redirect_uri"],
        "https://hooks.example.test/hubspot/oauth/callback"
    );
    assert_eq!(form["code"], "hs-code");
    let to = p.location.unwrap();
    let q = query(&to);
    assert_eq!(q["client_id"], SLACK_CLIENT_ID);
    assert_eq!(
        q["redirect_uri"],
        "https://hooks.example.test/slack/oauth/callback"
    );
    let manifest: Value = serde_json::from_str(include_str!("../../manifest.json")).unwrap();
    let scopes: Vec<String> = manifest["oauth_config"]["scopes"]["bot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(q["scope"], scopes.join(","));
    let sl_state = q["state"].clone();
    assert!(
        sl_state.starts_with("v1.slack.") && sl_state.contains(&format!(".{PORTAL2}.")),
        "{sl_state}"
    );
    // Between the two consents the HubSpot tokens wait in the table, encrypted.
    let between = std::fs::read_to_string(&dump).unwrap();
    assert!(between.contains("STATE#"));
    assert!(!between.contains(HS_ACCESS) && !between.contains(HS_REFRESH));

    // Back from Slack: the bot token, the channel checked and joined, the install written.
    let p = get(
        &e,
        &format!(
            "/slack/oauth/callback?code=sl-code&state={}",
            enc(&sl_state)
        ),
    )
    .await;
    e.drain().await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("<h1>HubSpot and Slack are connected</h1>"));
    assert!(p.body.contains(
        "HubSpot portal 50505050 is connected to the Slack workspace &quot;Acme Support&quot;."
    ));
    assert!(p
        .body
        .contains("New live chats will be posted to #support."));
    assert!(p.body.contains("Home tab"));
    let access = e.slack_calls("oauth.v2.access").await;
    assert_eq!(access.len(), 1);
    let reqs = e.slack.received_requests().await.unwrap();
    let oauth_form = form_of(
        &reqs
            .iter()
            .find(|r| r.url.path() == "/oauth.v2.access")
            .unwrap()
            .body,
    );
    assert!(oauth_form.contains(&(
        "redirect_uri".into(),
        "https://hooks.example.test/slack/oauth/callback".into()
    )));
    let joins: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.url.path() == "/conversations.join")
        .collect();
    assert_eq!(joins.len(), 1);
    assert_eq!(bearer(joins[0]), format!("Bearer {BOT2}"));
    assert!(String::from_utf8_lossy(&joins[0].body).contains(PUBLIC_CH));

    let i = install2(&e).await;
    assert_eq!(i.team_id, TEAM2);
    assert_eq!(i.channel_id.as_deref(), Some(PUBLIC_CH));
    assert_eq!(i.pending_channel_id, None);
    assert_eq!(i.bot_token.as_ref().unwrap().expose(), BOT2);
    assert_eq!(i.bot_user_id.as_deref(), Some(BOT2_USER));
    assert_eq!(i.installer_user_id.as_deref(), Some(INSTALLER));
    assert_eq!(i.source, InstallSource::OAuth);
    assert_eq!(i.status, InstallStatus::Active);
    assert!(i.notifications_on);
    match i.hubspot.unwrap() {
        HubSpotAuth::OAuth {
            access_token,
            refresh_token,
            expires_at,
        } => {
            assert_eq!(access_token.expose(), HS_ACCESS);
            assert_eq!(refresh_token.expose(), HS_REFRESH);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            assert!((expires_at - now - 1800).abs() < 30, "{expires_at}");
        }
        other => panic!("{other:?}"),
    }
    // The installer's Home tab was published.
    let homes = e.slack_calls("views.publish").await;
    assert_eq!(homes.len(), 1);
    assert_eq!(homes[0]["user_id"], INSTALLER);
    assert!(homes[0]["view"].to_string().contains(PORTAL2));

    // A table dump shows no token; the state was consumed.
    let dump_text = std::fs::read_to_string(&dump).unwrap();
    for secret in [BOT2, HS_ACCESS, HS_REFRESH] {
        assert!(!dump_text.contains(secret), "{secret} in the table dump");
    }
    assert!(dump_text.contains("v1:"));
    assert!(!dump_text.contains("STATE#"), "{dump_text}");

    // The new install posts: bot token to Slack, the OAuth access token to HubSpot.
    new_chat(&e).await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["channel"], PUBLIC_CH);
    assert_eq!(
        hubspot_thread_auth(&e).await,
        vec![format!("Bearer {HS_ACCESS}")]
    );
    assert!(install2(&e).await.last_delivery_at.is_some());
    let _ = std::fs::remove_file(&dump);
}

#[tokio::test]
async fn the_install_chain_on_dynamodb_leaves_no_token_in_a_table_scan() {
    let e = env_with(Opts {
        single_workspace: false,
        dynamo: true,
        extra: oauth_settings(),
        ..Default::default()
    })
    .await;
    let p = install(&e).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let shared::config::StoreSettings::Dynamo { table, .. } = &e.runner.app.settings.store else {
        panic!("not on DynamoDB")
    };
    let scan = integration_tests::stores::dynamodb_client()
        .await
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let items = format!("{:?}", scan.items());
    assert!(items.contains("INSTALL#50505050"), "{items}");
    for secret in [BOT2, HS_ACCESS, HS_REFRESH] {
        assert!(!items.contains(secret), "{secret} in the table scan");
    }
}

#[tokio::test]
async fn forged_reused_and_expired_states_are_refused_with_a_page_that_says_so() {
    let e = env().await;
    let state = through_hubspot(&e).await;

    // Forged: the signature altered, a state of our format signed with another key, and
    // the HubSpot step's state at the Slack callback.
    let mut forged = state.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let other_key = shared::support::secret::Secret::new("f".repeat(64));
    let foreign = shared::flows::connect::encode_state(
        &other_key,
        "slack",
        "abcd",
        Some(PORTAL2),
        4_000_000_000,
    );
    for s in [forged.as_str(), foreign.as_str(), "nonsense"] {
        let p = get(
            &e,
            &format!("/slack/oauth/callback?code=sl-code&state={}", enc(s)),
        )
        .await;
        assert_eq!(p.status, 400);
        assert!(
            p.body.contains("<h1>This install link is not valid</h1>"),
            "{}",
            p.body
        );
        assert!(p.body.contains("Nothing was connected."));
        assert!(p.body.contains("Start the install again"));
    }
    let hs_step = {
        let p = get(&e, "/hubspot/install").await;
        query(&p.location.unwrap())["state"].clone()
    };
    let p = get(
        &e,
        &format!("/slack/oauth/callback?code=sl-code&state={}", enc(&hs_step)),
    )
    .await;
    assert!(p.body.contains("This install link is not valid"));
    assert!(e.slack_calls("oauth.v2.access").await.is_empty());

    // The genuine state works once, then is refused as used.
    let p = get(
        &e,
        &format!("/slack/oauth/callback?code=sl-code&state={}", enc(&state)),
    )
    .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let p = get(
        &e,
        &format!("/slack/oauth/callback?code=sl-code&state={}", enc(&state)),
    )
    .await;
    assert_eq!(p.status, 400);
    assert!(
        p.body
            .contains("<h1>This install link was already used</h1>"),
        "{}",
        p.body
    );
    assert_eq!(e.slack_calls("oauth.v2.access").await.len(), 1);

    // Expired: correctly signed and stored, but older than its 10 minutes.
    let app = &e.runner.app;
    let past = app.clock.now_secs() - 5;
    app.records
        .put_oauth_state(&shared::domain::OAuthState {
            nonce: "0123456789abcdef".into(),
            portal_id: Some(PORTAL2.into()),
            provider: "slack".into(),
            expires_at: past,
        })
        .await
        .unwrap();
    let expired = shared::flows::connect::encode_state(
        &app.settings.oauth_state_key,
        "slack",
        "0123456789abcdef",
        Some(PORTAL2),
        past,
    );
    let p = get(
        &e,
        &format!("/slack/oauth/callback?code=sl-code&state={}", enc(&expired)),
    )
    .await;
    assert_eq!(p.status, 400);
    assert!(
        p.body.contains("<h1>This install link has expired</h1>"),
        "{}",
        p.body
    );
    assert!(p.body.contains("valid for 10 minutes"));
    // And at the HubSpot step too.
    let p = get(
        &e,
        &format!(
            "/hubspot/oauth/callback?code=hs-code&state={}",
            enc(&forged)
        ),
    )
    .await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("This install link is not valid"));
    assert_eq!(e.slack_calls("oauth.v2.access").await.len(), 1);
}

#[tokio::test]
async fn denied_consent_connects_nothing_and_spends_the_state() {
    let e = env().await;
    // At Slack.
    let state = through_hubspot(&e).await;
    let p = get(
        &e,
        &format!(
            "/slack/oauth/callback?error=access_denied&state={}",
            enc(&state)
        ),
    )
    .await;
    assert_eq!(p.status, 403);
    assert!(
        p.body.contains("<h1>The app was not allowed</h1>"),
        "{}",
        p.body
    );
    assert!(p
        .body
        .contains("You chose not to allow the app in Slack, so nothing was connected"));
    assert!(e.slack_calls("oauth.v2.access").await.is_empty());
    assert!(e
        .runner
        .app
        .records
        .get_install(PORTAL2)
        .await
        .unwrap()
        .is_none());
    // The pending HubSpot tokens went with the state: the link cannot finish later.
    let p = get(
        &e,
        &format!("/slack/oauth/callback?code=sl-code&state={}", enc(&state)),
    )
    .await;
    assert!(p.body.contains("already used"), "{}", p.body);
    // At HubSpot.
    let p = get(&e, "/hubspot/install").await;
    let hs_state = query(&p.location.unwrap())["state"].clone();
    let p = get(
        &e,
        &format!(
            "/hubspot/oauth/callback?error=access_denied&state={}",
            enc(&hs_state)
        ),
    )
    .await;
    assert_eq!(p.status, 403);
    assert!(p.body.contains("You chose not to allow the app in HubSpot"));
    assert_eq!(
        e.hubspot_calls("POST", "/oauth/2026-03/token").await.len(),
        1
    );
}

#[tokio::test]
async fn a_failed_code_exchange_shows_a_page_and_connects_nothing() {
    let e = env().await;
    // HubSpot refuses the code.
    let p = get(&e, "/hubspot/install").await;
    let hs_state = query(&p.location.unwrap())["state"].clone();
    let p = get(
        &e,
        &format!(
            "/hubspot/oauth/callback?code=wrong-code&state={}",
            enc(&hs_state)
        ),
    )
    .await;
    assert_eq!(p.status, 502);
    assert!(
        p.body
            .contains("<h1>The install could not be finished</h1>"),
        "{}",
        p.body
    );
    assert!(p.body.contains("HubSpot did not complete the connection"));
    assert!(p.body.contains("BAD_AUTH_CODE"));
    assert!(p.body.contains("Start the install again"));
    // Slack refuses the code.
    Mock::given(method("POST"))
        .and(path("/oauth.v2.access"))
        .respond_with(slack_error("invalid_code"))
        .with_priority(1)
        .mount(&e.slack)
        .await;
    let state = through_hubspot(&e).await;
    let p = get(
        &e,
        &format!("/slack/oauth/callback?code=sl-code&state={}", enc(&state)),
    )
    .await;
    assert_eq!(p.status, 502);
    assert!(p
        .body
        .contains("Slack did not complete the connection (slack api error: invalid_code)"));
    assert!(e
        .runner
        .app
        .records
        .get_install(PORTAL2)
        .await
        .unwrap()
        .is_none());
    assert!(e
        .runner
        .app
        .records
        .install_for_team(TEAM2)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_private_channel_without_the_app_waits_for_the_invite() {
    let e = env().await;
    Mock::given(method("POST"))
        .and(path("/oauth.v2.access"))
        .respond_with(oauth_answer(PRIVATE_CH))
        .with_priority(1)
        .mount(&e.slack)
        .await;
    let p = install(&e).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p
        .body
        .contains("the channel you picked is private, and the app is not in it yet"));
    assert!(p.body.contains("type /invite and add the app"));
    assert!(p.body.contains(&format!(
        "https://slack.com/app_redirect?team={TEAM2}&amp;channel={PRIVATE_CH}"
    )));
    assert!(e.slack_calls("conversations.join").await.is_empty());
    let i = install2(&e).await;
    assert_eq!(i.channel_id, None);
    assert_eq!(i.pending_channel_id.as_deref(), Some(PRIVATE_CH));
    // Nothing is posted until the app is in the channel.
    new_chat(&e).await;
    assert!(e.slack_calls("chat.postMessage").await.is_empty());
    // Someone else joining changes nothing; the app being invited makes it the channel.
    for (id, user) in [("Ev0JOIN0001", MEMBER), ("Ev0JOIN0002", BOT2_USER)] {
        let r = e
            .post_event(&envelope(
                id,
                json!({"type": "member_joined_channel", "user": user, "channel": PRIVATE_CH,
                    "channel_type": "G", "team": TEAM2, "inviter": INSTALLER, "event_ts": "1700000300.000001"}),
            ))
            .await;
        assert_eq!(r.status().as_u16(), 200);
        e.drain().await;
        let i = install2(&e).await;
        if user == MEMBER {
            assert_eq!(i.channel_id, None);
        } else {
            assert_eq!(i.channel_id.as_deref(), Some(PRIVATE_CH));
            assert_eq!(i.pending_channel_id, None);
        }
    }
    // The installer's Home tab is refreshed, and the next chat is posted there.
    assert_eq!(e.slack_calls("views.publish").await.len(), 2);
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[
            message_json("m1", 1, "INCOMING", "Hello there"),
            message_json("m2", 2, "INCOMING", "Anyone?"),
        ],
    );
    e.post_webhook(&webhook_for(PORTAL2, "conversation.newMessage"))
        .await;
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert!(!posts.is_empty());
    assert!(
        posts.iter().all(|p| p["channel"] == PRIVATE_CH),
        "{posts:?}"
    );
}

#[tokio::test]
async fn the_home_tab_shows_the_connection_and_only_admins_change_it() {
    let e = env().await;
    install(&e).await;
    new_chat(&e).await;
    // Opening the Home tab: the connection and health; a member sees it read-only.
    for (id, user) in [("Ev0HOME0001", MEMBER), ("Ev0HOME0002", INSTALLER)] {
        e.post_event(&envelope(
            id,
            json!({"type": "app_home_opened", "user": user, "channel": "D0DM", "tab": "home", "event_ts": "1.1"}),
        ))
        .await;
        e.drain().await;
    }
    let homes = e.slack_calls("views.publish").await;
    let member_view = homes.iter().rev().find(|h| h["user_id"] == MEMBER).unwrap();
    let v = member_view["view"].to_string();
    assert!(v.contains(PORTAL2) && v.contains(&format!("<#{PUBLIC_CH}>")) && v.contains("Working"));
    assert!(v.contains("<!date^"), "last delivery shown: {v}");
    assert!(v.contains(&format!("<@{INSTALLER}> or a workspace admin can change")));
    assert!(!v.contains("home_channel") && !v.contains("home_disconnect"));
    let installer_view = homes
        .iter()
        .rev()
        .find(|h| h["user_id"] == INSTALLER)
        .unwrap();
    let v = installer_view["view"].to_string();
    assert!(
        v.contains("home_channel")
            && v.contains("home_notifications")
            && v.contains("home_disconnect")
    );

    // A member may not change anything.
    let before = install2(&e).await;
    click(&e, MEMBER, pick(OTHER_CH, "1700000400.000001")).await;
    click(
        &e,
        MEMBER,
        button("home_notifications", "off", "1700000400.000002"),
    )
    .await;
    click(
        &e,
        MEMBER,
        button("home_disconnect", "disconnect", "1700000400.000003"),
    )
    .await;
    assert_eq!(install2(&e).await, before);
    assert!(e.slack_calls("auth.revoke").await.is_empty());
    let homes = e.slack_calls("views.publish").await;
    let last = homes.last().unwrap();
    assert_eq!(last["user_id"], MEMBER);
    assert!(last["view"].to_string().contains(
        "Only the person who installed the app or a workspace admin can change these settings."
    ));
    let infos = e.slack_calls("conversations.info").await;
    assert!(!format!("{infos:?}").contains(OTHER_CH));

    // The installer moves notifications to another public channel: checked, joined, saved.
    click(&e, INSTALLER, pick(OTHER_CH, "1700000400.000004")).await;
    let i = install2(&e).await;
    assert_eq!(i.channel_id.as_deref(), Some(OTHER_CH));
    let joins = e.slack.received_requests().await.unwrap();
    assert!(joins.iter().any(|r| r.url.path() == "/conversations.join"
        && String::from_utf8_lossy(&r.body).contains(OTHER_CH)));
    let last = e.slack_calls("views.publish").await.pop().unwrap();
    assert_eq!(last["user_id"], INSTALLER);
    assert!(last["view"].to_string().contains(&format!(
        "Done: new live chats are posted to <#{OTHER_CH}>."
    )));
    // An archived channel is refused, nothing saved.
    click(&e, INSTALLER, pick(ARCHIVED_CH, "1700000400.000005")).await;
    assert_eq!(install2(&e).await.channel_id.as_deref(), Some(OTHER_CH));
    let last = e.slack_calls("views.publish").await.pop().unwrap();
    assert!(last["view"]
        .to_string()
        .contains("is archived, so nothing changed"));

    // A private channel the app is not in: kept as pending, the current channel stays.
    click(&e, INSTALLER, pick(PRIVATE_CH, "1700000400.000008")).await;
    let i = install2(&e).await;
    assert_eq!(i.channel_id.as_deref(), Some(OTHER_CH));
    assert_eq!(i.pending_channel_id.as_deref(), Some(PRIVATE_CH));
    let v = e.slack_calls("views.publish").await.pop().unwrap()["view"].to_string();
    assert!(v.contains("is private and the app is not in it"), "{v}");
    assert!(
        v.contains(&format!("Until then they keep going to <#{OTHER_CH}>.")),
        "{v}"
    );
    assert!(v.contains("Waiting for the app to be invited"), "{v}");

    // A workspace admin (not the installer) switches notifications off, then on.
    click(
        &e,
        ADMIN,
        button("home_notifications", "off", "1700000400.000006"),
    )
    .await;
    assert!(!install2(&e).await.notifications_on);
    let posted = e.slack_calls("chat.postMessage").await.len();
    e.inbox.set(
        &thread_json("999", "1000", "OPEN", None),
        &[message_json("x1", 1, "INCOMING", "Hi")],
    );
    let mut ev = event("conversation.creation", "999", json!({}));
    ev["portalId"] = json!(PORTAL2.parse::<i64>().unwrap());
    e.post_webhook(&json!([ev])).await;
    e.drain().await;
    assert_eq!(
        e.slack_calls("chat.postMessage").await.len(),
        posted,
        "nothing posted while off"
    );
    let last = e.slack_calls("views.publish").await.pop().unwrap();
    assert_eq!(last["user_id"], ADMIN);
    assert!(last["view"].to_string().contains("Turn notifications on"));
    click(
        &e,
        ADMIN,
        button("home_notifications", "on", "1700000400.000007"),
    )
    .await;
    assert!(install2(&e).await.notifications_on);
}

async fn joins_of(e: &Env, channel: &str) -> usize {
    e.slack
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| {
            r.url.path() == "/conversations.join"
                && String::from_utf8_lossy(&r.body).contains(channel)
        })
        .count()
}

#[tokio::test]
async fn a_channel_shared_with_other_organisations_waits_for_a_workspace_admin() {
    const SHARED_CH: &str = "C0SHARED01";
    let e = env().await;
    Mock::given(method("POST"))
        .and(path("/conversations.info"))
        .and(body_string_contains(format!("channel={SHARED_CH}")))
        .respond_with(ok(json!({"channel": {"id": SHARED_CH, "name": "partners",
            "is_channel": true, "is_private": false, "is_member": false, "is_archived": false,
            "is_ext_shared": true, "is_shared": true}})))
        .with_priority(1)
        .mount(&e.slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth.v2.access"))
        .respond_with(oauth_answer(SHARED_CH))
        .with_priority(1)
        .mount(&e.slack)
        .await;
    // Picked on Slack's consent page: not set, and the page says why.
    let p = install(&e).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.body
            .contains("#partners, is shared with other organisations"),
        "{}",
        p.body
    );
    assert_eq!(install2(&e).await.channel_id, None);
    assert_eq!(joins_of(&e, SHARED_CH).await, 0);

    // Picked in the Home tab: refused, with a confirmation for admins.
    click(&e, INSTALLER, pick(SHARED_CH, "1700000410.000001")).await;
    assert_eq!(install2(&e).await.channel_id, None);
    let v = e.slack_calls("views.publish").await.pop().unwrap()["view"].to_string();
    assert!(
        v.contains("is shared with other organisations (Slack Connect)"),
        "{v}"
    );
    assert!(v.contains("home_channel_shared"), "{v}");
    // The installer is not a workspace admin: may not confirm.
    click(
        &e,
        INSTALLER,
        button("home_channel_shared", SHARED_CH, "1700000410.000002"),
    )
    .await;
    assert_eq!(install2(&e).await.channel_id, None);
    let v = e.slack_calls("views.publish").await.pop().unwrap()["view"].to_string();
    assert!(v.contains("Only a workspace admin can confirm"), "{v}");
    assert_eq!(joins_of(&e, SHARED_CH).await, 0);
    // A workspace admin confirms: joined and set.
    click(
        &e,
        ADMIN,
        button("home_channel_shared", SHARED_CH, "1700000410.000003"),
    )
    .await;
    assert_eq!(install2(&e).await.channel_id.as_deref(), Some(SHARED_CH));
    assert_eq!(joins_of(&e, SHARED_CH).await, 1);
    let v = e.slack_calls("views.publish").await.pop().unwrap()["view"].to_string();
    assert!(
        v.contains("which people in other organisations can read"),
        "{v}"
    );
}

/// oauth.v2.access for an app with token rotation on: the code exchange and each renewal.
/// Renewal N answers access token `xoxe.xoxb-rotated-N` and refresh token `xoxe-1-refresh-N`.
async fn rotating_tokens(e: &Env, refused: bool) {
    let mut first = oauth_json(PUBLIC_CH);
    first["ok"] = json!(true);
    first["access_token"] = json!("xoxe.xoxb-rotated-0");
    first["refresh_token"] = json!("xoxe-1-refresh-0");
    first["expires_in"] = json!(43200);
    Mock::given(method("POST"))
        .and(path("/oauth.v2.access"))
        .and(body_string_contains("code=sl-code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .with_priority(1)
        .mount(&e.slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth.v2.access"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(move |r: &Request| {
            if refused {
                return slack_error("invalid_refresh_token");
            }
            let form = form_map(&r.body);
            let n: u32 = form["refresh_token"]
                .trim_start_matches("xoxe-1-refresh-")
                .parse()
                .unwrap_or(99);
            ok(
                json!({"access_token": format!("xoxe.xoxb-rotated-{}", n + 1), "token_type": "bot",
                "refresh_token": format!("xoxe-1-refresh-{}", n + 1), "expires_in": 43200,
                "team": {"id": TEAM2, "name": "Acme Support"}, "bot_user_id": BOT2_USER}),
            )
        })
        .with_priority(1)
        .mount(&e.slack)
        .await;
}

async fn refreshes(e: &Env) -> Vec<std::collections::HashMap<String, String>> {
    e.slack
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/oauth.v2.access")
        .map(|r| form_map(&r.body))
        .filter(|f| f.get("grant_type").map(String::as_str) == Some("refresh_token"))
        .collect()
}

/// Brings the stored token's expiry to `secs` from now.
async fn expire_slack_token_in(e: &Env, secs: i64) {
    let now = e.runner.app.clock.now_secs();
    e.runner
        .app
        .records
        .update_install(PORTAL2, |i| {
            if let Some(r) = i.bot_rotation.as_mut() {
                r.expires_at = now + secs;
            }
            true
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_rotating_slack_token_is_renewed_once_before_it_expires() {
    let e = env().await;
    rotating_tokens(&e, false).await;
    install(&e).await;
    let i = install2(&e).await;
    let r = i.bot_rotation.clone().expect("rotation kept");
    assert_eq!(r.refresh_token.expose(), "xoxe-1-refresh-0");
    let now = e.runner.app.clock.now_secs();
    assert!(
        (r.expires_at - now - 43200).abs() < 60,
        "{}",
        r.expires_at - now
    );
    // Fresh: used as it is.
    new_chat(&e).await;
    assert!(refreshes(&e).await.is_empty());
    let bearer_of = |p: &Request| bearer(p);
    let posts: Vec<String> = e
        .slack
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/chat.postMessage")
        .map(bearer_of)
        .collect();
    assert!(
        posts.iter().all(|b| b == "Bearer xoxe.xoxb-rotated-0"),
        "{posts:?}"
    );

    // Two minutes left: the next deliveries renew it first, once however many there are.
    expire_slack_token_in(&e, 120).await;
    for n in 0..4 {
        e.post_event(&envelope(
            &format!("Ev0ROT000{n}"),
            json!({"type": "app_home_opened", "user": INSTALLER, "channel": "D0DM", "tab": "home", "event_ts": format!("2.{n}")}),
        ))
        .await;
    }
    e.post_webhook(&webhook_for(PORTAL2, "conversation.newMessage"))
        .await;
    e.drain().await;
    let grants = refreshes(&e).await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0]["refresh_token"], "xoxe-1-refresh-0");
    let i = install2(&e).await;
    assert_eq!(
        i.bot_token.as_ref().map(|t| t.expose()),
        Some("xoxe.xoxb-rotated-1")
    );
    assert_eq!(
        i.bot_rotation.as_ref().map(|r| r.refresh_token.expose()),
        Some("xoxe-1-refresh-1")
    );
    let last = e
        .slack
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .rfind(|r| r.url.path() == "/views.publish")
        .unwrap();
    assert_eq!(bearer(&last), "Bearer xoxe.xoxb-rotated-1");
    // Neither token is in the table in the clear.
    let raw = e
        .runner
        .app
        .records
        .store()
        .get(&format!("INSTALL#{PORTAL2}"), "INSTALL")
        .await
        .unwrap()
        .unwrap();
    let dump = format!("{raw:?}");
    assert!(!dump.contains("xoxe"), "{dump}");
}

#[tokio::test]
async fn a_refused_slack_refresh_token_deactivates_the_install() {
    let e = env().await;
    rotating_tokens(&e, true).await;
    install(&e).await;
    expire_slack_token_in(&e, 10).await;
    e.post_webhook(&webhook_for(PORTAL2, "conversation.creation"))
        .await;
    e.drain().await;
    assert_eq!(refreshes(&e).await.len(), 1);
    let i = install2(&e).await;
    assert_eq!(i.status, InstallStatus::Inactive);
    assert!(i.bot_token.is_none() && i.bot_rotation.is_none());
}

#[tokio::test]
async fn disconnect_revokes_deletes_and_stops_posting_and_a_reinstall_starts_clean() {
    let e = env().await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&e.hubspot)
        .await;
    install(&e).await;
    new_chat(&e).await;
    let app = &e.runner.app;
    assert!(app.records.get_thread(PORTAL2, T).await.unwrap().is_some());
    click(
        &e,
        ADMIN,
        button("home_disconnect", "disconnect", "1700000500.000001"),
    )
    .await;

    // HubSpot's grant ended too: the refresh token revoked (OAuth 2026-03), by form.
    let hs_revokes: Vec<Request> = e
        .hubspot
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/oauth/2026-03/token/revoke")
        .collect();
    assert_eq!(hs_revokes.len(), 1);
    let form = form_map(&hs_revokes[0].body);
    assert_eq!(form["token"], HS_REFRESH);
    assert_eq!(form["token_type_hint"], "refresh_token");
    assert_eq!(form["client_id"], HS_CLIENT_ID);
    assert_eq!(form["client_secret"], HUBSPOT_SECRET);

    // Slack's token revoked, with the bot token.
    let revokes: Vec<Request> = e
        .slack
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/auth.revoke")
        .collect();
    assert_eq!(revokes.len(), 1);
    assert_eq!(bearer(&revokes[0]), format!("Bearer {BOT2}"));
    // The last Home tab says so.
    let last = e.slack_calls("views.publish").await.pop().unwrap();
    assert!(last["view"]
        .to_string()
        .contains("disconnected HubSpot portal 50505050"));
    // The installer, who did not do it, is told in Slack, with the bot's token before it
    // was revoked.
    let dms: Vec<Value> = e
        .slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p["channel"] == INSTALLER)
        .collect();
    assert_eq!(dms.len(), 1, "{dms:?}");
    let text = dms[0]["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("<@{ADMIN}> disconnected HubSpot portal 50505050")),
        "{text}"
    );
    let order: Vec<String> = e
        .slack
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .filter(|p| p == "/auth.revoke" || p == "/chat.postMessage")
        .collect();
    assert_eq!(
        order.last().map(String::as_str),
        Some("/auth.revoke"),
        "{order:?}"
    );
    // Everything of the portal is gone.
    assert!(app.records.get_install(PORTAL2).await.unwrap().is_none());
    assert!(app.records.install_for_team(TEAM2).await.unwrap().is_none());
    assert!(app.records.get_thread(PORTAL2, T).await.unwrap().is_none());
    assert!(app
        .records
        .store()
        .query_portal_index(&format!("PORTAL#{PORTAL2}"))
        .await
        .unwrap()
        .is_empty());
    // Nothing is posted any more.
    let posted = e.slack_calls("chat.postMessage").await.len();
    let hs_calls = e.hubspot.received_requests().await.unwrap().len();
    e.post_webhook(&webhook_for(PORTAL2, "conversation.newMessage"))
        .await;
    e.drain().await;
    assert_eq!(e.slack_calls("chat.postMessage").await.len(), posted);
    assert_eq!(e.hubspot.received_requests().await.unwrap().len(), hs_calls);

    // Installing again starts clean: a new install, a new notification.
    let p = install(&e).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let i = install2(&e).await;
    assert_eq!(i.channel_id.as_deref(), Some(PUBLIC_CH));
    assert_eq!(i.last_delivery_at, None);
    assert!(app.records.get_thread(PORTAL2, T).await.unwrap().is_none());
    new_chat(&e).await;
    assert_eq!(e.slack_calls("chat.postMessage").await.len(), posted + 1);
}

#[tokio::test]
async fn an_access_token_about_to_expire_is_refreshed_before_use() {
    let e = env().await;
    // This code's tokens live 60 s: inside the 5-minute margin.
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": HS_ACCESS, "refresh_token": HS_REFRESH, "expires_in": 60, "hub_id": 50505050
        })))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    install(&e).await;
    new_chat(&e).await;
    assert_eq!(
        token_grants(&e).await,
        vec!["authorization_code", "refresh_token"]
    );
    let refresh = e.hubspot.received_requests().await.unwrap();
    let refresh = refresh
        .iter()
        .filter(|r| r.url.path() == "/oauth/2026-03/token")
        .nth(1)
        .unwrap();
    let form = form_map(&refresh.body);
    assert_eq!(form["refresh_token"], HS_REFRESH);
    assert_eq!(form["client_id"], HS_CLIENT_ID);
    assert_eq!(form["client_secret"], HUBSPOT_SECRET);
    // Every inbox call used the new token, and the install keeps it.
    assert_eq!(
        hubspot_thread_auth(&e).await,
        vec![format!("Bearer {HS_ACCESS_NEW}")]
    );
    let Some(HubSpotAuth::OAuth {
        access_token,
        expires_at,
        ..
    }) = install2(&e).await.hubspot
    else {
        panic!()
    };
    assert_eq!(access_token.expose(), HS_ACCESS_NEW);
    assert!(expires_at > e.runner.app.clock.now_secs() + 1700);
    assert_eq!(e.slack_calls("chat.postMessage").await.len(), 1);
}

#[tokio::test]
async fn a_401_refreshes_the_token_and_the_call_is_made_once_more() {
    let e = env().await;
    install(&e).await;
    // HubSpot no longer accepts the (unexpired) access token.
    Mock::given(method("GET"))
        .and(path_regex(format!("^{THREADS}/")))
        .and(header(
            "authorization",
            format!("Bearer {HS_ACCESS}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"status": "error", "message": "expired", "category": "EXPIRED_AUTHENTICATION"}),
        ))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    new_chat(&e).await;
    assert_eq!(
        hubspot_thread_auth(&e).await,
        vec![
            format!("Bearer {HS_ACCESS}"),
            format!("Bearer {HS_ACCESS_NEW}")
        ]
    );
    assert_eq!(
        token_grants(&e).await,
        vec!["authorization_code", "refresh_token"]
    );
    assert_eq!(e.slack_calls("chat.postMessage").await.len(), 1);
    assert!(e
        .runner
        .app
        .records
        .list_dead_letters(PORTAL2)
        .await
        .unwrap()
        .is_empty());
    // The install keeps the new token.
    let Some(HubSpotAuth::OAuth { access_token, .. }) = install2(&e).await.hubspot else {
        panic!()
    };
    assert_eq!(access_token.expose(), HS_ACCESS_NEW);
}

#[tokio::test]
async fn concurrent_refreshes_spend_the_refresh_token_once() {
    let e = env().await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": HS_ACCESS, "refresh_token": HS_REFRESH, "expires_in": 10, "hub_id": 50505050
        })))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    // A slow refresh, so the callers overlap; each refresh gives a new access token.
    let n = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(move |_: &Request| {
            let k = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": format!("hs-access-new-{k}"), "refresh_token": HS_REFRESH, "expires_in": 1800}))
                .set_delay(std::time::Duration::from_millis(600))
        })
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    install(&e).await;
    let app = e.runner.app.clone();
    let stale = install2(&e).await;
    let mut tasks = vec![];
    for _ in 0..6 {
        let app = app.clone();
        let mut i = stale.clone();
        tasks.push(tokio::spawn(async move {
            shared::services::tokens::hubspot_token(&app, &mut i).await
        }));
    }
    for t in tasks {
        let token = t.await.unwrap().unwrap().unwrap();
        assert_eq!(token.expose(), "hs-access-new-1");
    }
    assert_eq!(
        token_grants(&e).await,
        vec!["authorization_code", "refresh_token"]
    );
    // Two 401s with the same rejected token: one refresh (the second sees the new token).
    let rejected = shared::support::secret::Secret::new("hs-access-new-1");
    let (a, b) = tokio::join!(
        shared::services::tokens::refresh(&app, PORTAL2, Some(&rejected)),
        shared::services::tokens::refresh(&app, PORTAL2, Some(&rejected)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    let HubSpotAuth::OAuth { access_token, .. } = a else {
        panic!()
    };
    assert_eq!(access_token.expose(), "hs-access-new-2");
    assert_eq!(token_grants(&e).await.len(), 3);
}

#[tokio::test]
async fn a_revoked_refresh_token_means_the_inbox_uninstalled_the_app() {
    let e = env().await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": HS_ACCESS, "refresh_token": HS_REFRESH, "expires_in": 10, "hub_id": 50505050
        })))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"}),
        ))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    install(&e).await;
    new_chat(&e).await;
    // The installer is told, the Slack token revoked, the portal's data deleted.
    let dms = e.slack_calls("chat.postMessage").await;
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert_eq!(dms[0]["channel"], INSTALLER);
    assert!(dms[0]["text"].as_str().unwrap().contains("removed the app"));
    assert_eq!(e.slack_calls("auth.revoke").await.len(), 1);
    assert!(e
        .runner
        .app
        .records
        .get_install(PORTAL2)
        .await
        .unwrap()
        .is_none());
    assert!(hubspot_thread_auth(&e).await.is_empty());
}

#[tokio::test]
async fn a_private_app_portal_installs_only_from_the_operators_one_time_link() {
    let e = env_with(Opts {
        single_workspace: false,
        extra: private_app_settings(),
        ..Default::default()
    })
    .await;
    let p = get(&e, "/slack/install").await;
    assert!(p
        .body
        .contains("reaches portal 50505050 with its private app"));
    // Anyone may open the install route: without the operator's link it starts nothing and
    // writes nothing (no state item, no cookie).
    for q in [
        "",
        "?link=",
        "?link=0123",
        &format!("?link={}", "a".repeat(64)),
    ] {
        let p = get(&e, &format!("/hubspot/install{q}")).await;
        assert_eq!(p.status, 403, "{q}: {}", p.body);
        assert!(
            p.body.contains("one-time link") || p.body.contains("not valid any more"),
            "{q}: {}",
            p.body
        );
        assert!(p.location.is_none());
    }
    assert!(
        e.cookies.lock().unwrap().is_empty(),
        "no cookie for a refused start"
    );
    assert!(e
        .runner
        .app
        .records
        .get_install(PORTAL2)
        .await
        .unwrap()
        .is_none());

    // The operator makes a link; its first use goes on to Slack.
    let link = shared::flows::connect::make_install_link(&e.runner.app, 3600)
        .await
        .unwrap();
    let token = link.split("link=").nth(1).unwrap().to_string();
    assert_eq!(token.len(), 64);
    let p = get(&e, &format!("/hubspot/install?link={token}")).await;
    assert_eq!(p.status, 302, "{}", p.body);
    let to = p.location.unwrap();
    assert!(to.starts_with(SLACK_OAUTH_URL), "{to}");
    let state = query(&to)["state"].clone();
    assert!(state.contains(&format!(".{PORTAL2}.")));
    // The state names the link by its digest, never the link itself.
    assert!(!state.contains(&token));
    // Opening the link again before the install ends is fine (a chat app's link preview
    // fetches it too); only finishing the install spends it.
    let p2 = get(&e, &format!("/hubspot/install?link={token}")).await;
    assert_eq!(p2.status, 302);
    let p = get(
        &e,
        &format!("/slack/oauth/callback?code=sl-code&state={}", enc(&state)),
    )
    .await;
    assert_eq!(p.status, 200, "{}", p.body);
    e.drain().await;
    let i = install2(&e).await;
    assert_eq!(
        i.hubspot,
        Some(HubSpotAuth::PrivateApp {
            token: shared::support::secret::Secret::new("pat-na1-private-app-token")
        })
    );
    assert!(e
        .hubspot_calls("POST", "/oauth/2026-03/token")
        .await
        .is_empty());
    new_chat(&e).await;
    assert_eq!(
        hubspot_thread_auth(&e).await,
        vec!["Bearer pat-na1-private-app-token".to_string()]
    );
    // Spent: neither the link nor the second state it gave finishes another install.
    let p = get(&e, &format!("/hubspot/install?link={token}")).await;
    assert_eq!(p.status, 403);
    assert!(p.body.contains("not valid any more"), "{}", p.body);
    let state2 = query(&p2.location.unwrap())["state"].clone();
    let p = get(
        &e,
        &format!("/slack/oauth/callback?code=sl-code&state={}", enc(&state2)),
    )
    .await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("already used"), "{}", p.body);
    // No HubSpot OAuth here: its callback says what is missing.
    let p = get(&e, "/hubspot/oauth/callback?code=x&state=y").await;
    assert_eq!(p.status, 503);
    assert!(p.body.contains("HUBSPOT_CLIENT_ID"));
}

fn private_app_settings() -> Vec<(&'static str, String)> {
    vec![
        ("SLACK_CLIENT_ID", SLACK_CLIENT_ID.into()),
        ("SLACK_CLIENT_SECRET", SLACK_CLIENT_SECRET.into()),
        ("SLACK_OAUTH_URL", SLACK_OAUTH_URL.into()),
        ("HUBSPOT_PORTAL_ID", PORTAL2.into()),
        ("HUBSPOT_ACCESS_TOKEN", "pat-na1-private-app-token".into()),
    ]
}

#[tokio::test]
async fn an_operator_link_expires_and_is_refused_outside_private_app_mode() {
    let e = env_with(Opts {
        single_workspace: false,
        extra: private_app_settings(),
        ..Default::default()
    })
    .await;
    // Valid for a second: past that it starts nothing.
    let link = shared::flows::connect::make_install_link(&e.runner.app, 1)
        .await
        .unwrap();
    let token = link.split("link=").nth(1).unwrap().to_string();
    assert_eq!(
        get(&e, &format!("/hubspot/install?link={token}"))
            .await
            .status,
        302
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let p = get(&e, &format!("/hubspot/install?link={token}")).await;
    assert_eq!(p.status, 403, "{}", p.body);
    // A public app has no operator links.
    let o = env().await;
    let err = shared::flows::connect::make_install_link(&o.runner.app, 3600)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("private-app mode"), "{err}");
}

#[tokio::test]
async fn single_workspace_mode_keeps_working_beside_oauth_installs() {
    let e = env_with(Opts {
        extra: oauth_settings(),
        ..Default::default()
    })
    .await;
    let p = install(&e).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let app = &e.runner.app;
    let sw = app.records.get_install(PORTAL).await.unwrap().unwrap();
    assert_eq!(sw.source, InstallSource::Settings);
    assert_eq!(sw.channel_id.as_deref(), Some(CHANNEL));
    assert_eq!(install2(&e).await.team_id, TEAM2);
    // The single-workspace portal cannot be installed by OAuth too.
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .and(body_string_contains("code=sw-code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "x", "refresh_token": "y", "expires_in": 1800, "hub_id": PORTAL
        })))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    let p = get(&e, "/hubspot/install").await;
    let state = query(&p.location.unwrap())["state"].clone();
    let p = get(
        &e,
        &format!("/hubspot/oauth/callback?code=sw-code&state={}", enc(&state)),
    )
    .await;
    assert_eq!(p.status, 409);
    assert!(p.body.contains("single-workspace mode"));
    assert_eq!(app.records.get_install(PORTAL).await.unwrap().unwrap(), sw);
    // Both post.
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[message_json("m1", 1, "INCOMING", "Hello there")],
    );
    e.post_webhook(&json!([event("conversation.creation", T, json!({}))]))
        .await;
    e.post_webhook(&webhook_for(PORTAL2, "conversation.creation"))
        .await;
    e.drain().await;
    let channels: Vec<Value> = e
        .slack_calls("chat.postMessage")
        .await
        .iter()
        .map(|p| p["channel"].clone())
        .collect();
    assert!(
        channels.contains(&json!(CHANNEL)) && channels.contains(&json!(PUBLIC_CH)),
        "{channels:?}"
    );
}

#[tokio::test]
async fn a_workspace_connected_to_another_portal_is_not_taken_over() {
    let e = env().await;
    install(&e).await;
    let other = HubSpotAuth::PrivateApp {
        token: shared::support::secret::Secret::new("pat-other"),
    };
    // A state for another portal (as HubSpot's step would issue), then Slack's consent for
    // the same workspace.
    let app = &e.runner.app;
    let exp = app.clock.now_secs() + 600;
    app.records
        .put_oauth_state_with_auth(
            &shared::domain::OAuthState {
                nonce: "feedfacefeedface".into(),
                portal_id: Some("777".into()),
                provider: "slack".into(),
                expires_at: exp,
            },
            Some(&other),
        )
        .await
        .unwrap();
    let state = shared::flows::connect::encode_state(
        &app.settings.oauth_state_key,
        "slack",
        "feedfacefeedface",
        Some("777"),
        exp,
    );
    // Opened in the browser the link was made for.
    let binding =
        shared::flows::connect::browser_binding(&app.settings.oauth_state_key, &state).unwrap();
    e.cookies.lock().unwrap().insert(
        shared::flows::connect::browser_cookie_name(&state).unwrap(),
        binding,
    );
    let p = get(
        &e,
        &format!("/slack/oauth/callback?code=sl-code&state={}", enc(&state)),
    )
    .await;
    assert_eq!(p.status, 409);
    assert!(p.body.contains("is connected to HubSpot portal 50505050"));
    assert!(app.records.get_install("777").await.unwrap().is_none());
    assert_eq!(install2(&e).await.team_id, TEAM2);
}

#[tokio::test]
async fn without_oauth_settings_the_routes_name_what_is_missing() {
    let e = env_with(Opts::default()).await;
    for p in [
        "/slack/install",
        "/hubspot/install",
        "/slack/oauth/callback",
        "/hubspot/oauth/callback",
    ] {
        let r = get(&e, p).await;
        assert_eq!(r.status, 503, "{p}");
        assert!(
            r.body
                .contains("<h1>Installing is not set up on this deployment</h1>"),
            "{p}"
        );
        assert!(
            r.body.contains("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"),
            "{p}"
        );
        assert!(r.body.contains("HUBSPOT_CLIENT_ID"), "{p}");
        assert!(r.body.contains("single-workspace mode"), "{p}");
    }
    // A callback opened on its own.
    let e = env().await;
    let r = get(&e, "/slack/oauth/callback").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("This page needs an install link"));
}

#[test]
fn the_manifest_declares_what_the_bundle_uses_and_the_script_fills_its_urls() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let m: Value = serde_json::from_str(include_str!("../../manifest.json")).unwrap();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        strings(&m["oauth_config"]["scopes"]["bot"]),
        shared::flows::connect::SLACK_BOT_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        strings(&m["settings"]["event_subscriptions"]["bot_events"]),
        [
            "message.channels",
            "message.groups",
            "app_home_opened",
            "member_joined_channel",
            "app_uninstalled",
            "tokens_revoked",
            "member_left_channel",
            "channel_left",
            "group_left",
            "reaction_added",
            "reaction_removed"
        ]
    );
    let commands: Vec<&str> = m["features"]["slash_commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        [
            shared::flows::availability::CMD_AWAY,
            shared::flows::availability::CMD_AVAILABLE
        ]
    );
    assert_eq!(m["features"]["app_home"]["home_tab_enabled"], true);
    assert_eq!(m["settings"]["interactivity"]["is_enabled"], true);
    assert_eq!(m["settings"]["socket_mode_enabled"], false);
    // It asks for `incoming-webhook` (the consent page's channel picker): the feature is on.
    assert_eq!(
        m["settings"]["incoming_webhooks"]["incoming_webhooks_enabled"],
        true
    );
    assert_eq!(m["settings"]["token_rotation_enabled"], false);
    // The placeholder URLs name our routes.
    let routes: Vec<&str> = shared::edge::routes::routes()
        .iter()
        .map(|r| r.path)
        .collect();
    for u in [
        m["settings"]["event_subscriptions"]["request_url"].clone(),
        m["settings"]["interactivity"]["request_url"].clone(),
        m["oauth_config"]["redirect_urls"][0].clone(),
        m["features"]["slash_commands"][0]["url"].clone(),
    ] {
        let p = Url::parse(u.as_str().unwrap()).unwrap().path().to_string();
        assert!(routes.contains(&p.as_str()), "{p}");
    }

    // scripts/manifest.sh fills them from describe-stacks output, from a file or stdin.
    let script = format!("{root}/scripts/manifest.sh");
    let sample = format!("{root}/tests/fixtures/describe-stacks.json");
    let base = "https://abc123.execute-api.eu-west-1.amazonaws.com";
    let from_file = std::process::Command::new("bash")
        .args([&script, &sample])
        .output()
        .unwrap();
    assert!(
        from_file.status.success(),
        "{}",
        String::from_utf8_lossy(&from_file.stderr)
    );
    let from_stdin = std::process::Command::new("bash")
        .arg(&script)
        .stdin(std::fs::File::open(&sample).unwrap())
        .output()
        .unwrap();
    assert_eq!(from_file.stdout, from_stdin.stdout);
    let filled: Value = serde_json::from_slice(&from_file.stdout).unwrap();
    assert_eq!(
        filled["settings"]["event_subscriptions"]["request_url"],
        format!("{base}/slack/events")
    );
    assert_eq!(
        filled["settings"]["interactivity"]["request_url"],
        format!("{base}/slack/interactions")
    );
    assert_eq!(
        filled["oauth_config"]["redirect_urls"],
        json!([format!("{base}/slack/oauth/callback")])
    );
    for c in filled["features"]["slash_commands"].as_array().unwrap() {
        assert_eq!(c["url"], format!("{base}/slack/commands"));
    }
    assert!(!String::from_utf8_lossy(&from_file.stdout).contains("your-api.example.com"));
    // The rest is the manifest unchanged.
    assert_eq!(
        filled["oauth_config"]["scopes"],
        m["oauth_config"]["scopes"]
    );
    // A missing output is named.
    let bad = std::process::Command::new("bash")
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(br#"{"Stacks":[{"Outputs":[]}]}"#)?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("SlackCommandsUrl"));
}

#[test]
fn the_install_link_script_runs_the_command_with_the_stacks_table_secret_and_url() {
    let root = env!("CARGO_MANIFEST_DIR").trim_end_matches("/tests");
    let run = |args: &[&str]| {
        std::process::Command::new("bash")
            .arg(format!("{root}/scripts/install-link.sh"))
            .args(args)
            .output()
            .unwrap()
    };
    let sample = format!("{root}/tests/fixtures/describe-stacks.json");
    let out = run(&["--dry-run", &sample, "900"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "TABLE_NAME=hubspot-slack-Table-1ABC2DEF3GHI\n\
         SECRET_ARN=arn:aws:secretsmanager:eu-west-1:123456789012:secret:hubspot-slack-AbCdEf\n\
         PUBLIC_BASE_URL=https://abc123.execute-api.eu-west-1.amazonaws.com\n\
         cargo run --release -q -p local-runner -- install-link 900\n"
    );
    // A stack without the outputs, or a bad lifetime, is refused before anything runs.
    let dir = std::env::temp_dir().join(format!("install-link-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let partial = dir.join("partial.json");
    std::fs::write(&partial, r#"[{"OutputKey":"TableName","OutputValue":"t"}]"#).unwrap();
    let out = run(&["--dry-run", partial.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SecretArn is missing"));
    let out = run(&["--dry-run", &sample, "soon"]);
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn the_portal_is_asked_of_hubspot_when_the_token_answer_does_not_name_it() {
    let e = env().await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "bearer", "access_token": HS_ACCESS, "refresh_token": HS_REFRESH, "expires_in": 1800
        })))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    // OAuth 2026-03's introspection: a form POST with the client's credentials; the token
    // goes in the body, never in the URL.
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token/introspect"))
        .and(body_string_contains(format!("token={HS_ACCESS}").as_str()))
        .and(body_string_contains("token_type_hint=access_token"))
        .and(body_string_contains("client_secret="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "active": true, "token_use": "access_token", "hub_id": 50505050, "app_id": 1098266,
            "scopes": ["conversations.read"], "expires_in": 1790, "user_id": 123,
            "token_type": "bearer", "is_private_distribution": false
        })))
        .expect(1)
        .mount(&e.hubspot)
        .await;
    let p = install(&e).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(install2(&e).await.team_id, TEAM2);
    let reqs = e.hubspot.received_requests().await.unwrap_or_default();
    assert!(
        reqs.iter().all(|r| !r.url.as_str().contains(HS_ACCESS)),
        "a token in a URL"
    );
}

#[tokio::test]
async fn a_leaked_install_link_cannot_be_finished_in_another_browser() {
    let e = env().await;
    let jar = |e: &Env| e.cookies.lock().unwrap().clone();
    let set_jar = |e: &Env, j: std::collections::HashMap<String, String>| {
        *e.cookies.lock().unwrap() = j;
    };
    // The admin starts the install: the redirect to HubSpot sets the browser's cookie.
    let p = get(&e, "/hubspot/install").await;
    assert_eq!(p.status, 302);
    let admins = jar(&e);
    assert_eq!(admins.len(), 1);
    assert!(
        admins.keys().all(|k| k.starts_with("hs_slack_install_")),
        "{admins:?}"
    );
    let hs_state = query(&p.location.unwrap())["state"].clone();
    let callback = format!(
        "/hubspot/oauth/callback?code=hs-code&state={}",
        enc(&hs_state)
    );

    // Someone else opens the same link: with no cookie, or a made-up one.
    set_jar(&e, Default::default());
    let p = get(&e, &callback).await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(p.body.contains("belongs to another browser"), "{}", p.body);
    let forged = admins.keys().map(|k| (k.clone(), "0".repeat(64))).collect();
    set_jar(&e, forged);
    assert_eq!(get(&e, &callback).await.status, 400);
    // Nothing was exchanged, and the link still works in the admin's browser.
    assert!(token_grants(&e).await.is_empty());
    set_jar(&e, admins.clone());
    let p = get(&e, &callback).await;
    assert_eq!(p.status, 302, "{}", p.body);
    let sl_state = query(&p.location.unwrap())["state"].clone();

    // The Slack step is bound the same way, to a cookie set with its redirect.
    let slack_callback = format!(
        "/slack/oauth/callback?code=sl-code&state={}",
        enc(&sl_state)
    );
    let admins = jar(&e);
    assert_eq!(admins.len(), 2, "{admins:?}");
    set_jar(&e, Default::default());
    assert_eq!(get(&e, &slack_callback).await.status, 400);
    assert!(e
        .runner
        .app
        .records
        .get_install(PORTAL2)
        .await
        .unwrap()
        .is_none());
    set_jar(&e, admins);
    let p = get(&e, &slack_callback).await;
    e.drain().await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(install2(&e).await.team_id, TEAM2);
}

#[tokio::test]
async fn the_install_cookie_is_http_only_lax_and_short_lived() {
    let e = env().await;
    let r = no_redirects()
        .get(e.url("/hubspot/install"))
        .send()
        .await
        .unwrap();
    let c = r
        .headers()
        .get("set-cookie")
        .expect("a cookie")
        .to_str()
        .unwrap()
        .to_string();
    for attr in ["HttpOnly", "SameSite=Lax", "Max-Age=600", "Path=/"] {
        assert!(c.contains(attr), "{attr} missing: {c}");
    }
    // PUBLIC_BASE_URL is https here: the cookie only travels over TLS.
    assert!(c.contains("Secure"), "{c}");
}

#[tokio::test]
async fn a_connected_portal_is_never_moved_to_another_workspace_by_an_install() {
    let e = env().await;
    install(&e).await;
    new_chat(&e).await;
    let before = install2(&e).await;
    assert_eq!(before.team_id, TEAM2);
    // Someone runs the install again for the same portal and finishes it in their own
    // workspace (Slack answers with another team for that consent).
    Mock::given(method("POST"))
        .and(path("/oauth.v2.access"))
        .and(body_string_contains("code=sl-code-elsewhere"))
        .respond_with(ok(json!({
            "access_token": "xoxb-attacker-bot-token", "token_type": "bot", "scope": "commands,chat:write",
            "bot_user_id": "U0BOTEVIL1", "app_id": "A0APP00002",
            "team": {"id": "T0EVIL0001", "name": "Elsewhere <Inc>"}, "enterprise": null,
            "authed_user": {"id": "U0EVIL0001", "scope": "", "token_type": "user"}
        })))
        .with_priority(1)
        .mount(&e.slack)
        .await;
    let state = through_hubspot(&e).await;
    let p = get(
        &e,
        &format!(
            "/slack/oauth/callback?code=sl-code-elsewhere&state={}",
            enc(&state)
        ),
    )
    .await;
    e.drain().await;
    assert_eq!(p.status, 409, "{}", p.body);
    assert!(
        p.body.contains("connected to another Slack workspace")
            && p.body.contains("disconnects it"),
        "{}",
        p.body
    );
    // Nothing of the current install changed: same workspace, token, channel, mappings.
    let after = install2(&e).await;
    assert_eq!(after.team_id, TEAM2);
    assert_eq!(after.bot_token, before.bot_token);
    assert_eq!(after.channel_id, before.channel_id);
    assert_eq!(after.installer_user_id, before.installer_user_id);
    assert!(e
        .runner
        .app
        .records
        .get_thread(PORTAL2, T)
        .await
        .unwrap()
        .is_some());
    // Only the attempt's own new token was revoked, never the current one.
    let revoked: Vec<String> = e
        .slack
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/auth.revoke")
        .map(bearer)
        .collect();
    assert_eq!(revoked, vec!["Bearer xoxb-attacker-bot-token".to_string()]);
    // The current installer is told, in their workspace.
    let dms: Vec<Value> = e
        .slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p["channel"] == INSTALLER)
        .collect();
    assert_eq!(dms.len(), 1, "{dms:?}");
    let text = dms[0]["text"].as_str().unwrap();
    assert!(
        text.contains("tried to connect HubSpot portal 50505050"),
        "{text}"
    );
    assert!(text.contains("Elsewhere &lt;Inc&gt;"), "{text}");
    // Chats still go to the current workspace.
    let posts = e.slack_calls("chat.postMessage").await.len();
    e.post_webhook(&webhook_for(PORTAL2, "conversation.newMessage"))
        .await;
    e.drain().await;
    assert!(e.slack_calls("chat.postMessage").await.len() >= posts);
    assert!(e
        .runner
        .app
        .records
        .install_for_team("T0EVIL0001")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_reinstall_by_a_member_refreshes_tokens_but_keeps_the_installer_and_channel() {
    let e = env().await;
    install(&e).await;
    let before = install2(&e).await;
    assert_eq!(before.installer_user_id.as_deref(), Some(INSTALLER));
    assert_eq!(before.channel_id.as_deref(), Some(PUBLIC_CH));
    admin_user(&e, MEMBER, false).await;
    admin_user(&e, ADMIN, true).await;
    // A member who may add apps installs again and picks another channel.
    let answer = |user: &str, code: &str| {
        let user = user.to_string();
        Mock::given(method("POST"))
            .and(path("/oauth.v2.access"))
            .and(body_string_contains(format!("code={code}")))
            .respond_with(ok(json!({
                "access_token": "xoxb-refreshed-bot-token", "token_type": "bot", "scope": "commands,chat:write",
                "bot_user_id": BOT2_USER, "app_id": "A0APP00002",
                "team": {"id": TEAM2, "name": "Acme Support"}, "enterprise": null,
                "authed_user": {"id": user, "scope": "", "token_type": "user"},
                "incoming_webhook": {"channel": "#chats", "channel_id": OTHER_CH,
                    "configuration_url": "https://acme.slack.com/services/B2", "url": "https://hooks.slack.com/services/T/B/y"}
            })))
            .with_priority(1)
    };
    answer(MEMBER, "sl-code-member").mount(&e.slack).await;
    let state = through_hubspot(&e).await;
    let p = get(
        &e,
        &format!(
            "/slack/oauth/callback?code=sl-code-member&state={}",
            enc(&state)
        ),
    )
    .await;
    e.drain().await;
    assert_eq!(p.status, 200, "{}", p.body);
    let after = install2(&e).await;
    assert_eq!(after.installer_user_id.as_deref(), Some(INSTALLER));
    assert_eq!(after.channel_id.as_deref(), Some(PUBLIC_CH));
    assert_eq!(
        after
            .bot_token
            .as_ref()
            .map(|t| t.expose().to_string())
            .as_deref(),
        Some("xoxb-refreshed-bot-token")
    );
    // The installer is told who reinstalled it.
    let dms: Vec<Value> = e
        .slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p["channel"] == INSTALLER)
        .collect();
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert!(dms[0]["text"]
        .as_str()
        .unwrap()
        .contains(&format!("<@{MEMBER}>")));
    assert!(dms[0]["text"]
        .as_str()
        .unwrap()
        .contains("channel is unchanged"));
    // And so is the member, of what their install did not change.
    let theirs: Vec<Value> = e
        .slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p["channel"] == MEMBER)
        .collect();
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert!(theirs[0]["text"]
        .as_str()
        .unwrap()
        .contains(&format!("<@{INSTALLER}> remains its installer")));

    // A workspace admin's reinstall may change both.
    answer(ADMIN, "sl-code-admin").mount(&e.slack).await;
    let state = through_hubspot(&e).await;
    let p = get(
        &e,
        &format!(
            "/slack/oauth/callback?code=sl-code-admin&state={}",
            enc(&state)
        ),
    )
    .await;
    e.drain().await;
    assert_eq!(p.status, 200, "{}", p.body);
    let after = install2(&e).await;
    assert_eq!(after.installer_user_id.as_deref(), Some(ADMIN));
    assert_eq!(after.channel_id.as_deref(), Some(OTHER_CH));
    let told: Vec<String> = e
        .slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p["channel"] == ADMIN || p["channel"] == INSTALLER)
        .map(|p| p["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        told.iter()
            .any(|t| t.contains("(a workspace admin) installed the app again")),
        "{told:?}"
    );
    assert!(
        told.iter().any(|t| t.contains("are now its installer")),
        "{told:?}"
    );
}

#[tokio::test]
async fn an_error_page_never_shows_the_links_error_text() {
    let e = env().await;
    let p = get(
        &e,
        "/slack/oauth/callback?error=Your+account+is+locked.+Call+%2B1-555-0100+now&state=x",
    )
    .await;
    assert_eq!(p.status, 403, "{}", p.body);
    assert!(
        p.body.contains("ended the install with an error"),
        "{}",
        p.body
    );
    assert!(
        !p.body.contains("555") && !p.body.contains("locked"),
        "{}",
        p.body
    );
}
