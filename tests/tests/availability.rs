//! `/hs-chat-away`, `/hs-chat-available` and `/hs-chat-available status` end to end: signed
//! slash commands into the local runner, the CRM users object on wiremock HubSpot, the
//! answers on the response_url, and the store.

use integration_tests::harness::*;
use serde_json::{json, Value};
use shared::domain::Availability;
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, ResponseTemplate};

const FORM: &str = "application/x-www-form-urlencoded";
const AGENT: &str = "U0AGENT001";
const USERS: &str = "/crm/objects/2026-03/users/2620022";

async fn env() -> Env {
    let e = start(Opts::default()).await;
    slack_ok(&e.slack).await;
    respond_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    slack_user(&e.slack, AGENT, "Ann", Some("ann@example.com")).await;
    e
}

/// The CRM users object answering PATCH with the new value, as HubSpot does.
async fn users_object_ok(e: &Env) {
    Mock::given(method("PATCH"))
        .and(path(USERS))
        .respond_with(|r: &Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            ResponseTemplate::new(200).set_body_json(json!({
                "id": "512", "archived": false,
                "properties": {"hs_availability_status": body["properties"]["hs_availability_status"],
                               "hs_internal_user_id": "2620022"}
            }))
        })
        .mount(&e.hubspot)
        .await;
}

/// A slash command form as Slack sends it.
fn command(cmd: &str, text: &str, user: &str, response_url: &str) -> String {
    [
        ("token", "verification-token"),
        ("team_id", TEAM),
        ("team_domain", "acme"),
        ("channel_id", CHANNEL),
        ("channel_name", "support"),
        ("user_id", user),
        ("user_name", "someone"),
        ("command", cmd),
        ("text", text),
        ("api_app_id", "A0APP00001"),
        ("response_url", response_url),
        ("trigger_id", "1700000400.123.abc"),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", percent(v)))
    .collect::<Vec<_>>()
    .join("&")
}

/// Posts a command and checks the immediate answer: 200, an ephemeral JSON message.
async fn run_command(e: &Env, cmd: &str, text: &str, user: &str, name: &str) -> String {
    let url = response_url(&e.slack, name);
    let r = e
        .post_slack("/slack/commands", FORM, &command(cmd, text, user, &url))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["response_type"], "ephemeral", "{v}");
    let ack = v["text"].as_str().unwrap().to_string();
    e.drain().await;
    ack
}

/// What the response_url `name` received.
async fn answers(e: &Env, name: &str) -> Vec<Value> {
    calls(&e.slack, &format!("/respond/{name}")).await
}

/// The single answer on `name`: ephemeral, its text.
async fn answer(e: &Env, name: &str) -> String {
    let a = answers(e, name).await;
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["response_type"], "ephemeral");
    a[0]["text"].as_str().unwrap().to_string()
}

/// (query, body) of the requests HubSpot got on the users object with method `m`.
async fn users_requests(e: &Env, m: &str) -> Vec<(String, Value)> {
    e.hubspot
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == m && r.url.path() == USERS)
        .map(|r| {
            (
                r.url.query().unwrap_or("").to_string(),
                serde_json::from_slice(&r.body).unwrap_or(Value::Null),
            )
        })
        .collect()
}

async fn availability(e: &Env) -> Vec<(String, bool, Option<String>)> {
    e.runner
        .app
        .records
        .list_availability(PORTAL)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.inbox_user_id, a.available, a.slack_user_id))
        .collect()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn away_then_available_set_the_inbox_and_the_store() {
    let e = env().await;
    users_object_ok(&e).await;
    let ack = run_command(&e, "/hs-chat-away", "", AGENT, "away").await;
    assert_eq!(ack, "Setting you to away in the HubSpot inbox…");
    assert_eq!(
        users_requests(&e, "PATCH").await,
        vec![(
            "idProperty=hs_internal_user_id".to_string(),
            json!({"properties": {"hs_availability_status": "away"}})
        )]
    );
    assert_eq!(
        availability(&e).await,
        vec![("2620022".to_string(), false, Some(AGENT.to_string()))]
    );
    let a = answers(&e, "away").await;
    assert_eq!(
        a,
        vec![
            json!({"response_type": "ephemeral", "replace_original": true,
                    "text": "You are now *away* in the HubSpot inbox."})
        ]
    );
    // The agent was matched by email and is kept mapped.
    assert_eq!(
        e.runner
            .app
            .records
            .user_for_slack(TEAM, AGENT)
            .await
            .unwrap()
            .map(|m| m.inbox_user_id),
        Some("2620022".to_string())
    );

    let ack = run_command(&e, "/hs-chat-available", "", AGENT, "available").await;
    assert_eq!(ack, "Setting you to available in the HubSpot inbox…");
    let patches = users_requests(&e, "PATCH").await;
    assert_eq!(patches.len(), 2);
    assert_eq!(
        patches[1],
        (
            "idProperty=hs_internal_user_id".to_string(),
            json!({"properties": {"hs_availability_status": "available"}})
        )
    );
    assert_eq!(
        availability(&e).await,
        vec![("2620022".to_string(), true, Some(AGENT.to_string()))]
    );
    let text = answer(&e, "available").await;
    assert!(text.contains("*available*"), "{text}");
    // Nothing was posted in Slack itself: only private answers.
    assert!(e.slack_calls("chat.postMessage").await.is_empty());
    assert!(e.slack_calls("chat.postEphemeral").await.is_empty());
}

#[tokio::test]
async fn status_shows_mine_and_who_is_available() {
    let e = env().await;
    Mock::given(method("GET"))
        .and(path(USERS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "512", "archived": false,
            "properties": {"hs_availability_status": "away", "hs_internal_user_id": "2620022"}
        })))
        .mount(&e.hubspot)
        .await;
    let records = &e.runner.app.records;
    for (user, available, slack) in [
        ("41111", true, Some("U0BOB00001")),
        ("42222", false, Some("U0CAROL001")),
        ("43333", true, None),
    ] {
        records
            .put_availability(&Availability {
                portal_id: PORTAL.into(),
                inbox_user_id: user.into(),
                available,
                updated_at: 1_700_000_000,
                slack_user_id: slack.map(str::to_string),
            })
            .await
            .unwrap();
    }
    let before = availability(&e).await;
    let ack = run_command(&e, "/hs-chat-available", "status", AGENT, "status").await;
    assert_eq!(ack, "Looking up availability…");
    assert_eq!(
        users_requests(&e, "GET").await,
        vec![(
            "idProperty=hs_internal_user_id&properties=hs_availability_status".to_string(),
            Value::Null
        )]
    );
    assert_eq!(
        answer(&e, "status").await,
        "You are *away*.\nAvailable: <@U0BOB00001>, HubSpot user 43333"
    );
    assert!(users_requests(&e, "PATCH").await.is_empty());
    assert_eq!(availability(&e).await, before);
}

#[tokio::test]
async fn an_unmapped_agent_is_told_how_to_link() {
    let e = env().await;
    users_object_ok(&e).await;
    slack_user(&e.slack, "U0NOBODY01", "Nobody", Some("nobody@example.com")).await;
    run_command(&e, "/hs-chat-away", "", "U0NOBODY01", "nobody").await;
    let text = answer(&e, "nobody").await;
    assert!(text.starts_with("Nothing changed"), "{text}");
    assert!(text.contains("Claim"), "{text}");
    assert!(text.contains("email"), "{text}");
    assert!(e
        .hubspot
        .received_requests()
        .await
        .unwrap()
        .iter()
        .all(|r| r.method.as_str() == "GET"));
    assert!(availability(&e).await.is_empty());
    assert!(e
        .runner
        .app
        .records
        .user_for_slack(TEAM, "U0NOBODY01")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn an_inbox_failure_is_retried_once_then_reported() {
    let e = env().await;
    Mock::given(method("PATCH"))
        .and(path(USERS))
        .respond_with(ResponseTemplate::new(503))
        .mount(&e.hubspot)
        .await;
    run_command(&e, "/hs-chat-away", "", AGENT, "down").await;
    let patches = users_requests(&e, "PATCH").await;
    assert_eq!(patches.len(), 2, "one try and one retry");
    let text = answer(&e, "down").await;
    assert!(text.contains("was not changed"), "{text}");
    assert!(availability(&e).await.is_empty());
    assert!(e.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_workspace_that_is_not_connected_is_told_so_after_the_acknowledgement() {
    // OAuth mode with no install at all: the acknowledgement reads nothing; the worker
    // finds no install and says so on the response_url.
    let e = start(Opts {
        single_workspace: false,
        extra: vec![
            ("SLACK_CLIENT_ID", "1111.2222".into()),
            ("SLACK_CLIENT_SECRET", "slack-client-secret".into()),
            ("HUBSPOT_CLIENT_ID", "hs-client".into()),
        ],
        ..Default::default()
    })
    .await;
    respond_ok(&e.slack).await;
    let ack = run_command(&e, "/hs-chat-away", "", "U0AGENT001", "nowhere").await;
    assert!(ack.contains("Setting you to away"), "{ack}");
    let told = answer(&e, "nowhere").await;
    assert!(told.contains("not connected to a HubSpot inbox"), "{told}");
    assert!(users_requests(&e, "PATCH").await.is_empty());
}

#[tokio::test]
async fn bad_signatures_and_stale_timestamps_are_refused() {
    let e = env().await;
    users_object_ok(&e).await;
    let body = command(
        "/hs-chat-away",
        "",
        AGENT,
        &response_url(&e.slack, "refused"),
    );
    let ts = now_secs();
    for (what, secret, at) in [
        ("wrong secret", b"another-secret".as_slice(), ts),
        ("stale", SIGNING_SECRET.as_bytes(), ts - 301),
    ] {
        let sig = shared::edge::verify::sign_slack(secret, at, body.as_bytes());
        let r = e
            .http
            .post(e.url("/slack/commands"))
            .header("content-type", FORM)
            .header("x-slack-request-timestamp", at.to_string())
            .header("x-slack-signature", sig)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{what}");
    }
    e.drain().await;
    assert!(e.slack.received_requests().await.unwrap().is_empty());
    assert!(e.hubspot.received_requests().await.unwrap().is_empty());
    assert!(availability(&e).await.is_empty());
    // The same body correctly signed now is accepted (the refusals were the signature's).
    let r = e.post_slack("/slack/commands", FORM, &body).await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    assert_eq!(users_requests(&e, "PATCH").await.len(), 1);
}

/// Availability shows in the Home tab and next to the assignee in notifications.
#[tokio::test]
async fn availability_shows_in_the_home_tab_and_on_the_card() {
    let e = env().await;
    users_object_ok(&e).await;
    Mock::given(method("POST"))
        .and(path("/views.publish"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&e.slack)
        .await;
    run_command(&e, "/hs-chat-away", "", AGENT, "away").await;
    e.post_event(
        &json!({"type": "event_callback", "team_id": TEAM, "event_id": "EvHome1",
        "event": {"type": "app_home_opened", "user": AGENT, "channel": "D0DM", "tab": "home"}}),
    )
    .await;
    e.drain().await;
    let homes = e.slack_calls("views.publish").await;
    assert_eq!(homes.len(), 1, "{homes:?}");
    let v = homes[0]["view"].to_string();
    assert!(
        v.contains("*Availability*") && v.contains("You: *away* since"),
        "{v}"
    );
    // The notification for a chat assigned to that agent says "away".
    e.inbox.set(
        &thread_json("3624100517", "1000", "OPEN", Some("A-2620022")),
        &[message_json("m1", 1, "INCOMING", "hi")],
    );
    e.post_webhook(&json!([event(
        "conversation.creation",
        "3624100517",
        json!({})
    )]))
    .await;
    e.drain().await;
    let card = e.slack_calls("chat.postMessage").await[0]["blocks"].to_string();
    assert!(card.contains("(away)"), "{card}");
}
