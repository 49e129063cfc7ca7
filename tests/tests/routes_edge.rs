//! Every route through the local runner over real HTTP: bad signatures are 401, malformed
//! bodies 400 with a reason, oversized bodies 413, unknown events and commands 200 with no
//! state change, wrong paths and methods 404/405.

use integration_tests::harness::*;
use serde_json::{json, Value};

const FORM: &str = "application/x-www-form-urlencoded";

async fn env() -> Env {
    let e = start(Opts::default()).await;
    slack_ok(&e.slack).await;
    e
}

/// The store's items, to show a request changed nothing.
async fn snapshot(e: &Env) -> Vec<String> {
    let store = e.runner.app.records.store().clone();
    let mut out = vec![];
    for pk in [
        "INSTALL#22761544",
        "TEAM#T0TEAM0001",
        "CONV#22761544#3624100517",
    ] {
        out.push(format!("{:?}", store.query(pk, "").await.unwrap()));
    }
    out.push(format!(
        "{:?}",
        store
            .query_portal_index("PORTAL#22761544")
            .await
            .unwrap()
            .len()
    ));
    out
}

async fn body(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn health_and_unknown_routes() {
    let e = env().await;
    let (s, v) = body(e.http.get(e.url("/health")).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(v["ok"], true);
    assert_eq!(v["store"], "embedded");
    let r = e.http.get(e.url("/nope")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = e.http.get(e.url("/slack/events")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

#[tokio::test]
async fn slack_routes_refuse_bad_signatures() {
    let e = env().await;
    let before = snapshot(&e).await;
    let body_text = r#"{"type":"url_verification","challenge":"c"}"#;
    for p in ["/slack/events", "/slack/commands", "/slack/interactions"] {
        // No headers at all.
        let r = e.http.post(e.url(p)).body(body_text).send().await.unwrap();
        let (s, v) = body(r).await;
        assert_eq!(s, 401, "{p} without signature");
        assert!(v["error"].as_str().unwrap().contains("missing"), "{p}: {v}");
        // Wrong secret.
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let sig = shared::edge::verify::sign_slack(b"another-secret", ts, body_text.as_bytes());
        let r = e
            .http
            .post(e.url(p))
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sig)
            .body(body_text)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{p} wrong secret");
        // Stale timestamp, correctly signed.
        let old = ts - 301;
        let sig =
            shared::edge::verify::sign_slack(SIGNING_SECRET.as_bytes(), old, body_text.as_bytes());
        let r = e
            .http
            .post(e.url(p))
            .header("x-slack-request-timestamp", old.to_string())
            .header("x-slack-signature", sig)
            .body(body_text)
            .send()
            .await
            .unwrap();
        let (s, v) = body(r).await;
        assert_eq!(s, 401, "{p} stale");
        assert!(v["error"].as_str().unwrap().contains("5-minute"), "{v}");
        // Tampered body.
        let sig =
            shared::edge::verify::sign_slack(SIGNING_SECRET.as_bytes(), ts, body_text.as_bytes());
        let r = e
            .http
            .post(e.url(p))
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sig)
            .body(body_text.replace('c', "d"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{p} tampered");
    }
    assert_eq!(snapshot(&e).await, before);
}

#[tokio::test]
async fn hubspot_webhook_refuses_bad_signatures() {
    let e = env().await;
    let before = snapshot(&e).await;
    let batch = json!([event("conversation.creation", "3624100517", json!({}))]).to_string();
    let r = e
        .http
        .post(e.url("/hubspot/webhook"))
        .body(batch.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let uri = e.runner.app.settings.webhook_url();
    for (secret, ts, uri) in [
        ("wrong-secret", now, uri.clone()),
        (HUBSPOT_SECRET, now - 301_000, uri.clone()),
        (HUBSPOT_SECRET, now + 301_000, uri.clone()),
        (
            HUBSPOT_SECRET,
            now,
            "https://elsewhere.example/hubspot/webhook".to_string(),
        ),
    ] {
        let sig = shared::edge::verify::sign_hubspot_v3(
            secret.as_bytes(),
            "POST",
            &uri,
            batch.as_bytes(),
            ts,
        );
        let r = e
            .http
            .post(e.url("/hubspot/webhook"))
            .header("x-hubspot-signature-v3", sig)
            .header("x-hubspot-request-timestamp", ts.to_string())
            .body(batch.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            401,
            "secret {secret} ts {ts} uri {uri}"
        );
    }
    assert_eq!(snapshot(&e).await, before);
    assert!(e.hubspot.received_requests().await.unwrap().is_empty());
    assert!(e.slack.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_400_with_a_reason() {
    let e = env().await;
    let before = snapshot(&e).await;
    let (s, v) = body(
        e.post_slack("/slack/events", "application/json", "{not json")
            .await,
    )
    .await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().contains("malformed"), "{v}");
    let (s, _) = body(
        e.post_slack("/slack/events", "application/json", "[1,2]")
            .await,
    )
    .await;
    assert_eq!(s, 400);
    let (s, v) = body(
        e.post_slack("/slack/commands", FORM, "team_id=T0TEAM0001")
            .await,
    )
    .await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().contains("command form"), "{v}");
    let (s, _) = body(
        e.post_slack("/slack/interactions", FORM, "payload=%7Bnot")
            .await,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = body(e.post_slack("/slack/interactions", FORM, "other=1").await).await;
    assert_eq!(s, 400);
    let (s, v) = body(e.post_webhook(&json!({"not": "an array"})).await).await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().contains("array"), "{v}");
    let deep: Value =
        serde_json::from_str(&format!("{}{}", "[".repeat(60), "]".repeat(60))).unwrap_or(json!([]));
    let (s, _) = body(
        e.post_slack(
            "/slack/events",
            "application/json",
            &format!("{}{}", "[".repeat(60), "]".repeat(60)),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);
    let _ = deep;
    assert_eq!(snapshot(&e).await, before);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let e = env().await;
    let big = "x".repeat(shared::support::http::MAX_BODY_BYTES + 10);
    for p in [
        "/slack/events",
        "/slack/commands",
        "/slack/interactions",
        "/hubspot/webhook",
    ] {
        let r = e
            .http
            .post(e.url(p))
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 413, "{p}");
    }
}

#[tokio::test]
async fn unknown_events_and_commands_are_acknowledged_and_change_nothing() {
    let e = env().await;
    let before = snapshot(&e).await;
    let (s, v) = body(
        e.post_event(&json!({"type":"url_verification","token":"t","challenge":"ch-123"}))
            .await,
    )
    .await;
    assert_eq!((s, v["challenge"].as_str()), (200, Some("ch-123")));
    let r = e.post_event(&json!({"type":"event_callback","team_id":TEAM,"event_id":"EvUnknown1","event":{"type":"reaction_added","user":"U1"}})).await;
    assert_eq!(r.status().as_u16(), 200);
    let r = e
        .post_event(&json!({"type":"app_rate_limited","team_id":TEAM}))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let (s, v) = body(e.post_slack("/slack/commands", FORM, "team_id=T0TEAM0001&user_id=U1&command=%2Fhs-chat-foo&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fx").await).await;
    assert_eq!(s, 200);
    assert_eq!(v["response_type"], "ephemeral");
    assert!(v["text"].as_str().unwrap().contains("Usage"));
    let (s, v) = body(e.post_slack("/slack/commands", FORM, "team_id=T0TEAM0001&user_id=U1&command=%2Fhs-chat-away&text=please&response_url=https%3A%2F%2Fhooks.slack.com%2Fx").await).await;
    assert_eq!(s, 200);
    assert!(v["text"].as_str().unwrap().contains("Usage"));
    let payload = json!({"type":"view_closed","team":{"id":TEAM},"user":{"id":"U1"}}).to_string();
    let form = format!("payload={}", percent(&payload));
    let r = e.post_slack("/slack/interactions", FORM, &form).await;
    assert_eq!(r.status().as_u16(), 200);
    let r = e
        .post_webhook(&json!([event("contact.creation", "1", json!({}))]))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    assert_eq!(snapshot(&e).await, before);
    assert!(e.slack.received_requests().await.unwrap().is_empty());
    assert!(e.hubspot.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn ssl_check_is_acknowledged() {
    let e = env().await;
    let r = e
        .http
        .post(e.url("/slack/commands"))
        .header("content-type", FORM)
        .body("ssl_check=1&token=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn oauth_routes_answer_with_a_page() {
    let e = env().await;
    for p in [
        "/slack/install",
        "/slack/oauth/callback",
        "/hubspot/install",
        "/hubspot/oauth/callback",
    ] {
        let r = e.http.get(e.url(p)).send().await.unwrap();
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{p}"
        );
        let text = r.text().await.unwrap();
        assert!(text.contains("<h1>"), "{p}");
    }
}
