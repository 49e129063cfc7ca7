//! The sandbox (issue 21) without a browser: its actions become signed requests to the
//! bundle's own routes, and the stand-ins record what the bundle did; and none of it is in
//! the Lambda functions. (tests/tests/browser.rs drives the page itself in Chromium.)

use serde_json::{json, Value};

async fn act(base: &str, action: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{base}/sandbox/act/{action}"))
        .json(&body)
        .send()
        .await
        .expect("the sandbox answers");
    assert!(r.status().is_success(), "{action}: {}", r.status());
    r.json().await.expect("json")
}

async fn state(base: &str) -> Value {
    reqwest::get(format!("{base}/sandbox/state"))
        .await
        .expect("state")
        .json()
        .await
        .expect("json")
}

/// Polls the stand-ins' record until `pred` holds (the queue runs jobs in the background).
async fn until(base: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let s = state(base).await;
        if pred(&s) {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}: {}", state(base).await);
}

#[tokio::test]
async fn the_sandbox_runs_a_conversation_through_the_bundles_routes() {
    let running = local_runner::start_sandbox(0).await.expect("the sandbox");
    let base = running.url();
    let page = reqwest::get(format!("{base}/sandbox")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Sandbox: HubSpot inbox"));

    let thread = act(&base, "visitor", json!({"text": "Is <b>this</b> on?"})).await["said"]
        .as_str()
        .unwrap()
        .to_string();
    let s = until(&base, "the card", |s| {
        s["slack"]["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["blocks"].is_array()))
    })
    .await;
    let card = s["slack"]["messages"][0].clone();
    // The visitor's text is escaped for Slack by the bundle, as it would be for Slack.
    assert!(
        card["blocks"]
            .to_string()
            .contains("&lt;b&gt;this&lt;/b&gt;"),
        "{card}"
    );
    let parent = card["ts"].as_str().unwrap().to_string();
    // The request was HubSpot's signed webhook, answered 200 by the bundle's route.
    assert!(s["sent"][0]
        .as_str()
        .unwrap()
        .starts_with("HubSpot → webhook conversation.creation (200)"));

    act(
        &base,
        "slack_reply",
        json!({"thread_ts": parent, "text": "yes, it is"}),
    )
    .await;
    let s = until(&base, "the reply in the inbox", |s| {
        s["hubspot"]["threads"][0]["messages"]
            .as_array()
            .is_some_and(|m| m.len() == 2)
    })
    .await;
    let sent = &s["hubspot"]["threads"][0]["messages"][1];
    assert_eq!(sent["text"], "yes, it is");
    assert_eq!(sent["senders"][0]["actorId"], "A-2620022", "as Ann: {sent}");
    assert_eq!(sent["client"]["clientType"], "INTEGRATION");
    // HubSpot's webhook for it comes back; nothing is posted for it (no echo).
    let s = until(&base, "the echo's webhook", |s| {
        s["sent"].as_array().is_some_and(|l| {
            l.iter()
                .filter(|x| x.as_str().unwrap_or("").contains("newMessage"))
                .count()
                == 1
        })
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let posted: Vec<&Value> = s["slack"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["user"] == "U0SANDBOT1" && m["thread_ts"] == parent.as_str())
        .collect();
    assert!(posted.is_empty(), "{posted:?}");

    act(
        &base,
        "status",
        json!({"thread": thread, "status": "CLOSED"}),
    )
    .await;
    until(&base, "the card closed", |s| {
        s["slack"]["messages"][0]["blocks"]
            .to_string()
            .contains("Reopen")
    })
    .await;
    // A file the visitor sends comes back byte for byte (not as text), as a download.
    let bytes: Vec<u8> = vec![0x89, b'P', b'N', b'G', 0x00, 0xff, 0xfe, 0x80, 0x0d, 0x0a];
    use base64::Engine;
    act(
        &base,
        "visitor_file",
        json!({"thread": thread, "name": "shot \"1\".png", "type": "image/png", "text": "see this",
               "data": base64::engine::general_purpose::STANDARD.encode(&bytes)}),
    )
    .await;
    let s = until(&base, "the file kept", |s| {
        s["hubspot"]["files"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
    })
    .await;
    let id = s["hubspot"]["files"][0]["id"].as_str().unwrap().to_string();
    let r = reqwest::get(format!("{base}/sandbox/files/{id}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/octet-stream"
    );
    assert_eq!(
        r.headers()["content-disposition"].to_str().unwrap(),
        "attachment; filename=\"shot 1.png\""
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), bytes);
    let r = reqwest::get(format!("{base}/sandbox/files/0"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Bad input to the sandbox is refused with a reason.
    let r = reqwest::Client::new()
        .post(format!("{base}/sandbox/act/visitor"))
        .json(&json!({"text": "  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    running.stop();
}

#[test]
fn no_lambda_function_depends_on_the_local_runner() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    for entry in std::fs::read_dir(&root).expect("functions/") {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        assert!(
            !text.contains("local-runner") && !text.contains("local_runner"),
            "{} depends on the local runner (the sandbox)",
            manifest.display()
        );
    }
}

/// The first element of `kind` with `action_id` (when given) in `blocks`, and its block's id.
fn find_select(blocks: &Value, kind: &str, action_id: Option<&str>) -> Option<(String, String)> {
    blocks.as_array()?.iter().find_map(|b| {
        let els = b["elements"].as_array()?;
        els.iter()
            .find(|e| e["type"] == kind && action_id.is_none_or(|a| e["action_id"] == a))
            .map(|e| {
                (
                    b["block_id"].as_str().unwrap_or("").to_string(),
                    e["action_id"].as_str().unwrap_or("").to_string(),
                )
            })
    })
}

#[tokio::test]
async fn the_sandboxs_selects_assign_from_the_card_and_set_the_home_tabs_alerts() {
    let running = local_runner::start_sandbox(0).await.expect("the sandbox");
    let base = running.url();
    act(&base, "visitor", json!({"text": "hello"})).await;
    let s = until(&base, "the card", |s| {
        s["slack"]["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["blocks"].is_array()))
    })
    .await;
    let agent = s["agent"]
        .as_str()
        .expect("the agent's Slack id")
        .to_string();
    let card = s["slack"]["messages"][0].clone();
    let (block, action) =
        find_select(&card["blocks"], "users_select", None).expect("the card's Assign to…");
    act(
        &base,
        "slack_select",
        json!({"kind": "users_select", "action_id": action, "block_id": block,
               "message_ts": card["ts"], "value": agent}),
    )
    .await;
    until(&base, "the chat assigned in the inbox", |s| {
        s["hubspot"]["threads"][0]["assigned_to"].is_string()
    })
    .await;

    act(&base, "home_open", json!({})).await;
    let s = until(&base, "the Home tab", |s| {
        s["slack"]["home"][&agent].is_object()
    })
    .await;
    let (block, action) = find_select(
        &s["slack"]["home"][&agent]["blocks"],
        "static_select",
        Some("home_alert:first"),
    )
    .expect("the first-response select");
    act(
        &base,
        "slack_select",
        json!({"kind": "static_select", "action_id": action, "block_id": block,
               "message_ts": "", "value": "60", "text": "1 min"}),
    )
    .await;
    until(&base, "the Home tab showing the new time", |s| {
        let view = &s["slack"]["home"][&agent]["blocks"];
        view.as_array().is_some_and(|bs| {
            bs.iter().any(|b| {
                b["elements"].as_array().is_some_and(|els| {
                    els.iter().any(|e| {
                        e["action_id"] == "home_alert:first" && e["initial_option"]["value"] == "60"
                    })
                })
            })
        })
    })
    .await;
    running.stop();
}
