//! The install pages in a real browser: headless Chromium follows the whole redirect chain
//! (install route -> HubSpot consent -> our callback -> Slack consent -> our callback) and
//! we read the page it ends on. The consent pages are stand-ins that send the browser
//! straight back, as HubSpot and Slack do once the admin clicks Allow (or Cancel).
//!
//! Needs Chromium (Debian's `chromium`; `CHROMIUM` names another binary), so these tests
//! are ignored by a plain `cargo test`; `scripts/test.sh` installs Chromium and runs them
//! with `--ignored`.

use std::time::{Duration, Instant};

use integration_tests::harness::*;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PORTAL2: &str = "50505050";
const TEAM2: &str = "T0OAUTH001";

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// Loads `url` in headless Chromium and returns the DOM of the page it ends on.
async fn dump_dom(url: &str) -> String {
    dump_dom_with(url, &[]).await
}

/// `dump_dom` with more Chromium flags (`--virtual-time-budget=N`: the page's own scripts
/// run N ms of page time first).
async fn dump_dom_with(url: &str, extra: &[&str]) -> String {
    let url = url.to_string();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let profile = std::env::temp_dir().join(format!(
            "chromium-profile-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::create_dir_all(&profile);
        // tooling.md: the flags that run headless here (as root, without a GPU or network).
        let mut child = std::process::Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                &format!("--user-data-dir={}", profile.display()),
            ])
            .args(&extra)
            .args(["--dump-dom", &url])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} (install Debian's chromium): {e}", chromium()));
        let started = Instant::now();
        loop {
            if child.try_wait().expect("waiting for chromium").is_some() {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("chromium did not finish loading {url} in 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().expect("chromium output");
        let _ = std::fs::remove_dir_all(&profile);
        String::from_utf8_lossy(&out.stdout).to_string()
    })
    .await
    .expect("chromium task")
}

/// The runner with PUBLIC_BASE_URL = its own address, and consent pages that redirect
/// straight back (`slack_answer` is what Slack's page appends: a code, or a refusal).
async fn env(slack_answer: &'static str) -> (Env, MockServer) {
    let consent = MockServer::start().await;
    for (p, answer) in [
        ("/oauth/authorize", "code=hs-code"),
        ("/slack/oauth/v2/authorize", slack_answer),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(move |r: &Request| {
                let q: std::collections::HashMap<String, String> =
                    r.url.query_pairs().into_owned().collect();
                let back = format!(
                    "{}?{answer}&state={}",
                    q.get("redirect_uri").cloned().unwrap_or_default(),
                    q.get("state").cloned().unwrap_or_default()
                );
                ResponseTemplate::new(302).insert_header("location", back.as_str())
            })
            .mount(&consent)
            .await;
    }
    let e = start(Opts {
        single_workspace: false,
        base_url_is_runner: true,
        extra: vec![
            ("SLACK_CLIENT_ID", "1111.2222".into()),
            ("SLACK_CLIENT_SECRET", "slack-client-secret".into()),
            ("HUBSPOT_CLIENT_ID", "hs-client-id".into()),
            ("HUBSPOT_APP_URL", consent.uri()),
            (
                "SLACK_OAUTH_URL",
                format!("{}/slack/oauth/v2/authorize", consent.uri()),
            ),
        ],
        ..Default::default()
    })
    .await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "hs-access", "refresh_token": "hs-refresh", "expires_in": 1800, "hub_id": 50505050
        })))
        .mount(&e.hubspot)
        .await;
    let ok = |v: serde_json::Value| {
        let mut b = json!({"ok": true});
        for (k, x) in v.as_object().cloned().unwrap_or_default() {
            b[k] = x;
        }
        ResponseTemplate::new(200).set_body_json(b)
    };
    for (p, answer) in [
        (
            "/oauth.v2.access",
            ok(json!({
                "access_token": "xoxb-browser-bot", "bot_user_id": "U0BOT2", "app_id": "A0APP2",
                "team": {"id": TEAM2, "name": "Acme Support"}, "authed_user": {"id": "U0INSTALL1"},
                "incoming_webhook": {"channel_id": "C0PUBLIC01"}
            })),
        ),
        (
            "/conversations.info",
            ok(json!({"channel": {"id": "C0PUBLIC01", "name": "support",
            "is_private": false, "is_member": false, "is_archived": false}})),
        ),
        ("/conversations.join", ok(json!({}))),
        ("/views.publish", ok(json!({}))),
    ] {
        Mock::given(method("POST"))
            .and(path(p))
            .respond_with(answer)
            .mount(&e.slack)
            .await;
    }
    (e, consent)
}

fn text_of(dom: &str) -> String {
    // Entities as the pages write them, for readable assertions.
    dom.replace("&quot;", "\"").replace("&amp;", "&")
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/test.sh runs it"]
async fn chromium_follows_the_install_chain_to_the_success_page() {
    let (e, consent) = env("code=sl-code").await;

    // The install page.
    let dom = dump_dom(&e.url("/slack/install")).await;
    assert!(dom.contains("<html lang=\"en\">"), "{dom}");
    assert!(
        dom.contains("<title>Connect your HubSpot inbox to Slack</title>"),
        "{dom}"
    );
    assert!(
        dom.contains("<h1>Connect your HubSpot inbox to Slack</h1>"),
        "{dom}"
    );
    assert!(
        dom.contains(&format!("href=\"{}/hubspot/install\"", e.runner.url())),
        "{dom}"
    );
    assert!(dom.contains(">Start connecting</a>"), "{dom}");

    // The chain, from the install route to the page it ends on.
    let dom = text_of(&dump_dom(&e.url("/hubspot/install")).await);
    assert!(
        dom.contains("<h1>HubSpot and Slack are connected</h1>"),
        "{dom}"
    );
    assert!(
        dom.contains(
            "HubSpot portal 50505050 is connected to the Slack workspace \"Acme Support\"."
        ),
        "{dom}"
    );
    assert!(
        dom.contains("New live chats will be posted to #support."),
        "{dom}"
    );
    assert!(dom.contains("open the app's Home tab in Slack"), "{dom}");

    // Every hop happened, in order, with the runner's own callback URLs.
    let hops: Vec<String> = consent
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.to_string())
        .collect();
    assert_eq!(hops.len(), 2, "{hops:?}");
    let hs = reqwest::Url::parse(&hops[0]).unwrap();
    assert_eq!(hs.path(), "/oauth/authorize");
    let q: std::collections::HashMap<String, String> = hs.query_pairs().into_owned().collect();
    assert_eq!(
        q["redirect_uri"],
        format!("{}/hubspot/oauth/callback", e.runner.url())
    );
    assert_eq!(q["client_id"], "hs-client-id");
    let sl = reqwest::Url::parse(&hops[1]).unwrap();
    assert_eq!(sl.path(), "/slack/oauth/v2/authorize");
    let q: std::collections::HashMap<String, String> = sl.query_pairs().into_owned().collect();
    assert_eq!(
        q["redirect_uri"],
        format!("{}/slack/oauth/callback", e.runner.url())
    );
    assert!(q["state"].contains(&format!(".{PORTAL2}.")));
    assert_eq!(
        e.hubspot_calls("POST", "/oauth/2026-03/token").await.len(),
        1
    );
    assert_eq!(e.slack_calls("oauth.v2.access").await.len(), 1);
    let install = e
        .runner
        .app
        .records
        .get_install(PORTAL2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(install.team_id, TEAM2);
    assert_eq!(install.channel_id.as_deref(), Some("C0PUBLIC01"));

    // The last link opened in another browser (a shared link; each dump_dom is a fresh
    // profile): refused before anything is looked at, and it says why. (The same browser
    // opening it again is told it was already used: tests/tests/connect.rs.)
    let again = format!(
        "{}/slack/oauth/callback?code=sl-code&state={}",
        e.runner.url(),
        q["state"]
    );
    let dom = dump_dom(&again).await;
    assert!(
        dom.contains("<h1>This install link belongs to another browser</h1>"),
        "{dom}"
    );
    assert!(dom.contains("Start the install again"), "{dom}");
    assert_eq!(e.slack_calls("oauth.v2.access").await.len(), 1);
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/test.sh runs it"]
async fn chromium_shows_the_refusal_when_slack_consent_is_denied() {
    let (e, _consent) = env("error=access_denied").await;
    let dom = dump_dom(&e.url("/hubspot/install")).await;
    assert!(dom.contains("<h1>The app was not allowed</h1>"), "{dom}");
    assert!(
        dom.contains("You chose not to allow the app in Slack, so nothing was connected"),
        "{dom}"
    );
    assert!(dom.contains(">Start the install again</a>"), "{dom}");
    assert!(e.slack_calls("oauth.v2.access").await.is_empty());
    assert!(e
        .runner
        .app
        .records
        .get_install(PORTAL2)
        .await
        .unwrap()
        .is_none());
}

/// The sandbox (issue 21): its page drives a whole conversation through its own controls
/// (`?demo=1`: a new chat typed as the visitor, Ann's reply typed in the Slack thread, the
/// visitor again, then a file, Ann chosen in the card's Assign to…, Close clicked on the card,
/// `/hs-chat-away` typed, the first-response alert set in the Home tab), each becoming the
/// signed request the platform would send to the bundle's routes; we read the page it ends
/// on and the stand-ins' record of what the bundle did.
#[tokio::test]
#[ignore = "needs Chromium: scripts/test.sh runs it"]
async fn chromium_drives_a_whole_conversation_through_the_sandbox_page() {
    let running = local_runner::start_sandbox(0).await.expect("the sandbox");
    let url = format!("{}/sandbox?demo=1", running.url());
    let dom = dump_dom_with(&url, &["--virtual-time-budget=60000"]).await;
    assert!(
        dom.contains("data-demo=\"done\""),
        "the demo did not finish:\n{dom}"
    );
    // The channel as the page shows it: the card, closed, with its buttons; the thread.
    for want in [
        "New live chat",
        "Vera Visitor",
        "Hi, do you ship to Canada?",
        "Reply in Inbox",
        "Reopen",
        "Yes, we ship to Canada!",
        "Great, thanks!",
        "receipt.txt",
        "Only visible to you",
        "away",
        // The inbox pane: the agent's Slack reply reached the visitor, from Slack.
        "from Slack",
        "CLOSED",
    ] {
        assert!(dom.contains(want), "{want:?} not on the page:\n{dom}");
    }
    let state: serde_json::Value = reqwest::get(format!("{}/sandbox/state", running.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The selects went to the bundle: the chat was assigned in the inbox, and the Home
    // tab was published again with the new alert time.
    assert!(
        state["hubspot"]["threads"][0]["assigned_to"].is_string(),
        "{state}"
    );
    let agent = state["agent"].as_str().unwrap();
    let home = state["slack"]["home"][agent]["blocks"].to_string();
    assert!(home.contains("home_alert:first"), "{home}");
    let msgs = state["slack"]["messages"].as_array().unwrap();
    let cards: Vec<&serde_json::Value> = msgs.iter().filter(|m| m["blocks"].is_array()).collect();
    assert_eq!(cards.len(), 1, "one card: {msgs:?}");
    let parent = cards[0]["ts"].as_str().unwrap();
    let thread: Vec<&str> = msgs
        .iter()
        .filter(|m| m["thread_ts"] == parent)
        .map(|m| m["text"].as_str().unwrap_or(""))
        .collect();
    // Nothing echoes: Ann's reply is in the thread once (hers), the visitor's messages once
    // each (ours), the file with its name and size.
    assert_eq!(thread.len(), 3, "{thread:?}");
    assert!(thread[0] == "Yes, we ship to Canada!", "{thread:?}");
    assert!(thread[1].contains("Great, thanks!"), "{thread:?}");
    assert!(
        thread[2].contains("receipt.txt") && thread[2].contains("17 B"),
        "{thread:?}"
    );
    let inbox = state["hubspot"]["threads"][0]["messages"]
        .as_array()
        .unwrap();
    let texts: Vec<&str> = inbox
        .iter()
        .map(|m| m["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        texts,
        [
            "Hi, do you ship to Canada?",
            "Yes, we ship to Canada!",
            "Great, thanks!",
            ""
        ]
    );
    assert_eq!(state["hubspot"]["threads"][0]["status"], "CLOSED");
    assert_eq!(state["hubspot"]["agent_available"], false);
    running.stop();
}
