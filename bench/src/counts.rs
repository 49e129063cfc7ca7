//! Store and API calls per event, counted: each kind of event goes through the same edge
//! handler the Lambdas run (`routes::handle`), its queued jobs through the same job runner
//! the delivery worker runs (`worker::run_job`), against a `CountingStore` and wiremock
//! Slack and HubSpot. Nothing is estimated: every figure is a call that was made.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use integration_tests::harness::{
    event, message_json, percent, thread_json, APP_ID, BOT_TOKEN, BOT_USER, CHANNEL, HS_TOKEN,
    HUBSPOT_SECRET, PORTAL, SIGNING_SECRET, TEAM, TOKEN_KEY,
};
use serde_json::{json, Value};
use shared::app::App;
use shared::config::Settings;
use shared::queue::{Job, JobQueue, QueueError};
use shared::store::counting::CountingStore;
use shared::store::embedded::EmbeddedStore;
use shared::support::clock::SystemClock;

use crate::events::{PUBLIC_BASE_URL, THREAD};
use crate::stubs::{counts, diff, Stubs, AGENT};

/// A queue that keeps what the edge queued, so the jobs can be run (and counted) one by one.
#[derive(Default)]
struct CaptureQueue {
    jobs: Mutex<Vec<Job>>,
}

#[async_trait]
impl JobQueue for CaptureQueue {
    async fn enqueue(&self, job: Job, _dedup_id: &str) -> Result<(), QueueError> {
        self.jobs.lock().unwrap().push(job);
        Ok(())
    }
}

/// (get, put, delete, query, query_index, transact)
pub type Ops = [u64; 6];

pub struct Row {
    pub event: &'static str,
    pub edge_status: u16,
    pub edge_store: Ops,
    pub queued: Vec<&'static str>,
    pub worker_store: Ops,
    pub slack: BTreeMap<String, u64>,
    pub hubspot: BTreeMap<String, u64>,
    pub worker_errors: Vec<String>,
}

fn sub(a: Ops, b: Ops) -> Ops {
    let mut out = [0; 6];
    for i in 0..6 {
        out[i] = a[i] - b[i];
    }
    out
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn slack_request(
    path: &str,
    content_type: &str,
    body: String,
    retry: Option<&str>,
) -> shared::support::http::Request {
    let ts = now_ms() / 1000;
    let sig = shared::edge::verify::sign_slack(SIGNING_SECRET.as_bytes(), ts, body.as_bytes());
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_str(content_type).unwrap());
    headers.insert(
        "x-slack-request-timestamp",
        HeaderValue::from_str(&ts.to_string()).unwrap(),
    );
    headers.insert("x-slack-signature", HeaderValue::from_str(&sig).unwrap());
    if let Some(n) = retry {
        headers.insert("x-slack-retry-num", HeaderValue::from_str(n).unwrap());
        headers.insert(
            "x-slack-retry-reason",
            HeaderValue::from_static("http_timeout"),
        );
    }
    shared::support::http::Request {
        method: Method::POST,
        path: path.into(),
        query: None,
        headers,
        body: Bytes::from(body),
    }
}

fn webhook_request(events: &Value) -> shared::support::http::Request {
    let body = events.to_string();
    let ts = now_ms();
    let uri = format!("{PUBLIC_BASE_URL}/hubspot/webhook");
    let sig = shared::edge::verify::sign_hubspot_v3(
        HUBSPOT_SECRET.as_bytes(),
        "POST",
        &uri,
        body.as_bytes(),
        ts,
    );
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-hubspot-signature-v3",
        HeaderValue::from_str(&sig).unwrap(),
    );
    headers.insert(
        "x-hubspot-request-timestamp",
        HeaderValue::from_str(&ts.to_string()).unwrap(),
    );
    shared::support::http::Request {
        method: Method::POST,
        path: "/hubspot/webhook".into(),
        query: None,
        headers,
        body: Bytes::from(body),
    }
}

fn envelope(event_id: &str, ev: Value) -> String {
    json!({
        "token": "verification-token", "team_id": TEAM, "api_app_id": "A0APP00001",
        "type": "event_callback", "event_id": event_id, "event_time": 1700000200,
        "event": ev,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}]
    })
    .to_string()
}

fn command_form(cmd: &str, response_url: &str) -> String {
    [
        ("token", "verification-token"),
        ("team_id", TEAM),
        ("team_domain", "acme"),
        ("channel_id", CHANNEL),
        ("channel_name", "support"),
        ("user_id", AGENT),
        ("user_name", "ann"),
        ("command", cmd),
        ("text", ""),
        ("api_app_id", "A0APP00001"),
        ("response_url", response_url),
        ("trigger_id", "1700000400.123.abc"),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", percent(v)))
    .collect::<Vec<_>>()
    .join("&")
}

fn claim_form(parent_ts: &str, response_url: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": AGENT, "username": "ann", "name": "ann", "team_id": TEAM},
        "api_app_id": "A0APP00001", "token": "verification-token",
        "container": {"type": "message", "message_ts": parent_ts, "channel_id": CHANNEL, "is_ephemeral": false},
        "trigger_id": "1700000300.123.abc",
        "team": {"id": TEAM, "domain": "acme"},
        "channel": {"id": CHANNEL, "name": "support"},
        "message": {"type": "message", "ts": parent_ts, "text": "New live chat", "user": BOT_USER},
        "response_url": response_url,
        "actions": [{
            "type": "button", "action_id": "claim", "block_id": "conversation_actions",
            "value": format!("{PORTAL}|{THREAD}|2620022|ann@example.com"),
            "text": {"type": "plain_text", "text": "Claim ann@example.com"},
            "action_ts": "1700000300.000001"
        }]
    });
    format!("payload={}", percent(&payload.to_string()))
}

struct Bench {
    app: Arc<App>,
    store: Arc<shared::store::counting::Counts>,
    queue: Arc<CaptureQueue>,
    stubs: Stubs,
}

impl Bench {
    async fn step(&self, name: &'static str, req: shared::support::http::Request) -> Row {
        let slack0 = counts(&self.stubs.slack, false).await;
        let hub0 = counts(&self.stubs.hubspot, true).await;
        let s0 = self.store.snapshot();
        let resp = shared::edge::routes::handle(&self.app, req).await;
        let s1 = self.store.snapshot();
        let mut pending: Vec<Job> = std::mem::take(&mut *self.queue.jobs.lock().unwrap());
        let mut jobs: Vec<Job> = vec![];
        let mut worker_errors = vec![];
        // What a job queues (a Slack event's job) is counted with it, until the queue is
        // empty (at most a few rounds).
        for _ in 0..4 {
            if pending.is_empty() {
                break;
            }
            for job in &pending {
                if let Err(e) = shared::edge::worker::run_job(&self.app, job, 1).await {
                    worker_errors.push(format!("{}: {e}", job.kind()));
                }
            }
            jobs.append(&mut pending);
            pending = std::mem::take(&mut *self.queue.jobs.lock().unwrap());
        }
        let s2 = self.store.snapshot();
        Row {
            event: name,
            edge_status: resp.status.as_u16(),
            edge_store: sub(s1, s0),
            queued: jobs.iter().map(|j| j.kind()).collect(),
            worker_store: sub(s2, s1),
            slack: diff(&slack0, &counts(&self.stubs.slack, false).await),
            hubspot: diff(&hub0, &counts(&self.stubs.hubspot, true).await),
            worker_errors,
        }
    }
}

pub async fn run() -> anyhow::Result<Vec<Row>> {
    let stubs = Stubs::start().await;
    let vars: BTreeMap<&str, String> = [
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_string()),
        ("HUBSPOT_CLIENT_SECRET", HUBSPOT_SECRET.to_string()),
        ("TOKEN_ENCRYPTION_KEY", TOKEN_KEY.to_string()),
        ("HUBSPOT_APP_ID", APP_ID.to_string()),
        ("SLACK_API_URL", stubs.slack.uri()),
        ("HUBSPOT_API_URL", stubs.hubspot.uri()),
        ("PUBLIC_BASE_URL", PUBLIC_BASE_URL.to_string()),
        ("HUBSPOT_PORTAL_ID", PORTAL.to_string()),
        ("HUBSPOT_ACCESS_TOKEN", HS_TOKEN.to_string()),
        ("SLACK_TEAM_ID", TEAM.to_string()),
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_string()),
        ("SLACK_CHANNEL_ID", CHANNEL.to_string()),
    ]
    .into_iter()
    .collect();
    let settings = Settings::from_lookup(&|k| vars.get(k).cloned(), None)?;
    let counting = CountingStore::new(Arc::new(EmbeddedStore::in_memory()));
    let store_counts = counting.counts.clone();
    let queue = Arc::new(CaptureQueue::default());
    let app = Arc::new(App::new(
        settings,
        Arc::new(counting),
        queue.clone(),
        shared::app::http_client()?,
        Arc::new(SystemClock),
    ));
    app.ensure_single_workspace().await?;
    let b = Bench {
        app,
        store: store_counts,
        queue,
        stubs,
    };
    let respond = format!("{}/respond/bench", b.stubs.slack.uri());
    let m1 = message_json("m1", 1, "INCOMING", "Hi, do you ship to Canada?");
    let m2 = message_json("m2", 2, "INCOMING", "To Toronto, that is.");
    let mut rows = vec![];

    b.stubs.inbox.set(
        &thread_json(THREAD, "1000", "OPEN", Some("A-2620022")),
        std::slice::from_ref(&m1),
    );
    rows.push(
        b.step(
            "HubSpot: new chat (conversation.creation)",
            webhook_request(&json!([event("conversation.creation", THREAD, json!({}))])),
        )
        .await,
    );
    // The notification's ts, as the Slack stub answered chat.postMessage.
    let parent = b
        .app
        .records
        .get_thread(PORTAL, THREAD)
        .await?
        .map(|t| t.parent_ts)
        .unwrap_or_default();

    b.stubs.inbox.set(
        &thread_json(THREAD, "1000", "OPEN", Some("A-2620022")),
        &[m1.clone(), m2.clone()],
    );
    rows.push(
        b.step(
            "HubSpot: new visitor message (conversation.newMessage)",
            webhook_request(&json!([event(
                "conversation.newMessage",
                THREAD,
                json!({"messageId": "m2", "messageType": "MESSAGE", "changeFlag": "NEW_MESSAGE"})
            )])),
        )
        .await,
    );

    rows.push(
        b.step(
            "Slack: Claim click",
            slack_request(
                "/slack/interactions",
                "application/x-www-form-urlencoded",
                claim_form(&parent, &respond),
                None,
            ),
        )
        .await,
    );

    let reply = envelope(
        "EvBenchReply1",
        json!({
            "type": "message", "channel": CHANNEL, "user": AGENT, "text": "Yes, we ship to Canada.",
            "ts": "1700000100.000400", "thread_ts": parent, "parent_user_id": BOT_USER,
            "event_ts": "1700000100.000400", "channel_type": "channel"
        }),
    );
    rows.push(
        b.step(
            "Slack: agent's thread reply (linked agent)",
            slack_request("/slack/events", "application/json", reply.clone(), None),
        )
        .await,
    );
    rows.push(
        b.step(
            "Slack: event retry (same event_id, X-Slack-Retry-Num 1)",
            slack_request("/slack/events", "application/json", reply, Some("1")),
        )
        .await,
    );
    // The inbox reports our own reply back: the sync recognises it (no echo).
    rows.push(
        b.step(
            "HubSpot: echo of our reply (conversation.newMessage)",
            webhook_request(&json!([event(
                "conversation.newMessage",
                THREAD,
                json!({"messageId": "sent1", "messageType": "MESSAGE", "changeFlag": "NEW_MESSAGE"})
            )])),
        )
        .await,
    );

    rows.push(
        b.step(
            "Slack: /hs-chat-away",
            slack_request(
                "/slack/commands",
                "application/x-www-form-urlencoded",
                command_form("/hs-chat-away", &respond),
                None,
            ),
        )
        .await,
    );

    let msgs = b.stubs.inbox.messages(THREAD);
    b.stubs.inbox.set(
        &thread_json(THREAD, "1000", "CLOSED", Some("A-2620022")),
        &msgs,
    );
    rows.push(
        b.step(
            "HubSpot: status change (propertyChange status CLOSED)",
            webhook_request(&json!([event(
                "conversation.propertyChange",
                THREAD,
                json!({"propertyName": "status", "propertyValue": "CLOSED"})
            )])),
        )
        .await,
    );
    Ok(rows)
}
