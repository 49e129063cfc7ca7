//! Store and API calls per event, counted: each kind of event goes through the same edge
//! handler the Lambdas run (`routes::handle`), its queued jobs through the same job runner
//! the delivery worker runs (`worker::run_job`), against a `CountingStore` and wiremock
//! Slack and HubSpot. Nothing is estimated: every figure is a call that was made.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use integration_tests::harness::{
    event, message_json, percent, thread_json, BOT_USER, CHANNEL, HUBSPOT_SECRET, PORTAL,
    SIGNING_SECRET, TEAM,
};
use integration_tests::inproc::{in_process, CapturedQueue, InProcess};
use serde_json::{json, Value};
use shared::app::App;
use shared::queue::Job;
use shared::support::clock::Clock;

use crate::events::{PUBLIC_BASE_URL, THREAD};
use crate::stubs::{counts, diff, Stubs, AGENT};

/// (get, put, delete, query, query_index, transact)
pub type Ops = [u64; 6];

pub struct Row {
    pub event: String,
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
    queue: Arc<CapturedQueue>,
    stubs: Stubs,
}

impl Bench {
    async fn step(&self, name: impl Into<String>, req: shared::support::http::Request) -> Row {
        self.step_with(name, Some(req)).await
    }

    /// One run of the timer sweep (what the scheduler invokes every minute) and its jobs.
    async fn sweep(&self, name: impl Into<String>) -> Row {
        self.step_with(name, None).await
    }

    async fn step_with(
        &self,
        name: impl Into<String>,
        req: Option<shared::support::http::Request>,
    ) -> Row {
        let slack0 = counts(&self.stubs.slack, false).await;
        let hub0 = counts(&self.stubs.hubspot, true).await;
        let s0 = self.store.snapshot();
        let status = match req {
            Some(req) => shared::edge::routes::handle(&self.app, req)
                .await
                .status
                .as_u16(),
            None => match shared::flows::timers::sweep(&self.app).await {
                Ok(_) => 200,
                Err(_) => 500,
            },
        };
        let s1 = self.store.snapshot();
        let mut pending: Vec<Job> = self.queue.take();
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
            pending = self.queue.take();
        }
        let s2 = self.store.snapshot();
        Row {
            event: name.into(),
            edge_status: status,
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
    let clock = Arc::new(shared::support::clock::OffsetClock::default());
    let InProcess {
        app,
        counts: store_counts,
        queue,
    } = in_process(
        PUBLIC_BASE_URL,
        Some(stubs.slack.uri()),
        Some(stubs.hubspot.uri()),
        clock.clone(),
    )
    .await;
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

    // A visitor message at conversation lengths 1 (the new chat), 10, 100 and 500, each in
    // a conversation of its own, brought to length - 1 first (one catch-up sync).
    for (i, len) in [1usize, 10, 100, 500].into_iter().enumerate() {
        let thread = format!("36241009{i:02}");
        let msgs: Vec<Value> = (1..=len).map(|n| long_message(&thread, n)).collect();
        let t = thread_json(&thread, "1000", "OPEN", Some("A-2620022"));
        if len == 1 {
            b.stubs.inbox.set(&t, &msgs);
            rows.push(
                b.step(
                    "visitor message at conversation length 1 (the new chat)",
                    webhook_request(&json!([event("conversation.creation", &thread, json!({}))])),
                )
                .await,
            );
            continue;
        }
        b.stubs.inbox.set(&t, &msgs[..len - 1]);
        let _ = b
            .step(
                "catch-up",
                webhook_request(&json!([event("conversation.creation", &thread, json!({}))])),
            )
            .await;
        b.stubs.inbox.set(&t, &msgs);
        rows.push(
            b.step(
                format!("visitor message at conversation length {len}"),
                webhook_request(&json!([event(
                    "conversation.newMessage",
                    &thread,
                    json!({"messageId": format!("{thread}-{len}"), "messageType": "MESSAGE", "changeFlag": "NEW_MESSAGE"})
                )])),
            )
            .await,
        );
    }

    // The timer sweep's reconciliation with the inbox (issue 19): the first sweep of an
    // install sets its watermark; each later one lists the conversations active since.
    // Not counted: the cards the rows above left due (coalesced, 30 s) are shown, and the
    // install's watermark is set.
    clock.advance_secs(31);
    let _ = b.sweep("first sweep (sets the watermark)").await;
    clock.advance_secs(601);
    rows.push(b.sweep("timer sweep: reconciliation, nothing missed").await);
    let lost = "3624109999";
    b.stubs.inbox.set(
        &thread_json(lost, "1000", "OPEN", None),
        &[{
            let mut m = message_json("lost1", 0, "INCOMING", "Anyone there?");
            m["createdAt"] = json!(shared::support::clock::rfc3339_ms(clock.now_ms()));
            m
        }],
    );
    clock.advance_secs(601);
    rows.push(
        b.sweep("timer sweep: reconciliation, a new chat whose webhooks never came")
            .await,
    );
    Ok(rows)
}

/// The n-th visitor message of a long conversation, n seconds into it.
fn long_message(thread: &str, n: usize) -> Value {
    let mut m = message_json(&format!("{thread}-{n}"), 0, "INCOMING", "more");
    m["createdAt"] = json!(format!(
        "2026-11-27T{:02}:{:02}:{:02}.000Z",
        10 + n / 3600,
        (n / 60) % 60,
        n % 60
    ));
    m
}
