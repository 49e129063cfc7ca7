//! What the acknowledging edge costs: a Slack event is answered with no store call at all
//! (the queue deduplicates by event id, the worker's conditional write catches a late
//! retry), and the worker then does the reading. Counted on the store the edge uses
//! (`CountingStore`), with the app's own routes.

use std::sync::Arc;

use integration_tests::harness::*;
use integration_tests::inproc::{in_process, CapturedQueue, InProcess};
use serde_json::{json, Value};
use shared::app::App;
use shared::queue::Job;
use shared::store::counting::Counts;
use shared::support::clock::SystemClock;
use shared::support::http::Request;

async fn app() -> (Arc<App>, Arc<Counts>, Arc<CapturedQueue>) {
    let InProcess { app, counts, queue } =
        in_process("https://bundle.example", None, None, Arc::new(SystemClock)).await;
    (app, counts, queue)
}

fn signed(body: &Value) -> Request {
    let body = body.to_string().into_bytes();
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("x-slack-request-timestamp", ts.to_string().parse().unwrap());
    headers.insert(
        "x-slack-signature",
        shared::edge::verify::sign_slack(SIGNING_SECRET.as_bytes(), ts, &body)
            .parse()
            .unwrap(),
    );
    Request {
        method: http::Method::POST,
        path: "/slack/events".into(),
        query: None,
        headers,
        body: body.into(),
    }
}

fn envelope(id: &str, ev: Value) -> Value {
    json!({
        "token": "verification-token", "team_id": TEAM, "api_app_id": "A0APP00001",
        "type": "event_callback", "event_id": id, "event_time": 1700000200, "event": ev,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}]
    })
}

#[tokio::test]
async fn a_slack_event_is_acknowledged_with_no_store_call() {
    let (app, counts, queue) = app().await;
    let reply = json!({"type": "message", "channel": CHANNEL, "user": "U0AGENT001", "text": "on it",
        "ts": "1700000100.000002", "thread_ts": "1700000001.000001", "parent_user_id": BOT_USER,
        "event_ts": "1700000100.000002", "channel_type": "channel"});
    let cases = [
        // A thread reply under the app's card: queued, with its event id as the queue's
        // deduplication id; the worker does the rest.
        ("reply in a card's thread", reply.clone(), 0, true),
        (
            "app home opened",
            json!({"type": "app_home_opened", "user": "U0AGENT001", "channel": "D1", "tab": "home", "event_ts": "1.1"}),
            0,
            true,
        ),
        (
            "a shortcut reaction",
            json!({"type": "reaction_added", "user": "U0AGENT001", "reaction": "eyes",
            "item": {"type": "message", "channel": CHANNEL, "ts": "1700000001.000001"}, "event_ts": "1.2"}),
            0,
            true,
        ),
        // What no store could change: answered with no store call at all.
        (
            "a channel post outside threads",
            json!({"type": "message", "channel": CHANNEL, "user": "U0AGENT001",
            "text": "lunch?", "ts": "1700000200.000001", "event_ts": "1700000200.000001"}),
            0,
            false,
        ),
        (
            "a reply under someone else's message",
            json!({"type": "message", "channel": CHANNEL, "user": "U0AGENT001",
            "text": "+1", "ts": "1700000300.000002", "thread_ts": "1700000300.000001", "parent_user_id": "U0SOMEONE1",
            "event_ts": "1700000300.000002"}),
            0,
            false,
        ),
        (
            "a bot's message",
            json!({"type": "message", "channel": CHANNEL, "bot_id": "B1", "text": "beep",
            "ts": "1700000400.000001", "thread_ts": "1700000001.000001", "event_ts": "1700000400.000001"}),
            0,
            false,
        ),
        (
            "another reaction",
            json!({"type": "reaction_added", "user": "U0AGENT001", "reaction": "tada",
            "item": {"type": "message", "channel": CHANNEL, "ts": "1700000001.000001"}, "event_ts": "1.3"}),
            0,
            false,
        ),
    ];
    for (n, (name, ev, calls, queued)) in cases.into_iter().enumerate() {
        let before = counts.total();
        let jobs_before = queue.0.lock().unwrap().len();
        let r =
            shared::edge::routes::handle(&app, signed(&envelope(&format!("Ev0ECON{n:03}"), ev)))
                .await;
        assert_eq!(r.status.as_u16(), 200, "{name}: {}", r.body);
        assert_eq!(
            counts.total() - before,
            calls,
            "{name}: store calls before the acknowledgement"
        );
        assert_eq!(
            queue.0.lock().unwrap().len() > jobs_before,
            queued,
            "{name}"
        );
    }
    // Slack's retry of the reply: acknowledged with no store call and queued again with the
    // same deduplication id (which SQS FIFO drops); run, the worker's conditional write on
    // the event id lets only the first through.
    let before = counts.total();
    let r = shared::edge::routes::handle(&app, signed(&envelope("Ev0ECON000", reply))).await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(counts.total() - before, 0);
    let replies: Vec<Job> = queue
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|j| matches!(j, Job::SlackEvent { event_id, .. } if event_id == "Ev0ECON000"))
        .cloned()
        .collect();
    assert_eq!(replies.len(), 2);
    let queued_before = queue.0.lock().unwrap().len();
    for job in &replies {
        shared::edge::worker::run_job(&app, job, 1).await.unwrap();
    }
    let followed: Vec<String> = queue.0.lock().unwrap()[queued_before..]
        .iter()
        .map(|j| j.kind().to_string())
        .collect();
    assert_eq!(followed.len(), 1, "the reply goes on once: {followed:?}");
    // What the edge queued carries the event, not the envelope's verification token.
    for job in queue.0.lock().unwrap().iter().take(queued_before) {
        let text = serde_json::to_string(job).unwrap();
        assert!(!text.contains("verification-token"), "{text}");
        assert!(matches!(job, Job::SlackEvent { .. }), "{text}");
    }
}

#[tokio::test]
async fn a_slash_command_is_acknowledged_with_no_store_call() {
    let (app, counts, queue) = app().await;
    let body = format!(
        "token=t&team_id={TEAM}&user_id=U0AGENT001&command=%2Fhs-chat-away&text=&response_url={}",
        percent("https://hooks.slack.com/commands/T/1/x")
    )
    .into_bytes();
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    headers.insert("x-slack-request-timestamp", ts.to_string().parse().unwrap());
    headers.insert(
        "x-slack-signature",
        shared::edge::verify::sign_slack(SIGNING_SECRET.as_bytes(), ts, &body)
            .parse()
            .unwrap(),
    );
    let before = counts.total();
    let r = shared::edge::routes::handle(
        &app,
        Request {
            method: http::Method::POST,
            path: "/slack/commands".into(),
            query: None,
            headers,
            body: body.into(),
        },
    )
    .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert!(r.body.contains("Setting you to away"), "{}", r.body);
    assert_eq!(
        counts.total(),
        before,
        "store calls before the acknowledgement"
    );
    assert!(matches!(
        queue.0.lock().unwrap().last(),
        Some(Job::SlashCommand { .. })
    ));
}
