//! What a message costs, however long the conversation: the platform and store calls of
//! each visitor message, counted over real HTTP (wiremock Slack, and a HubSpot stand-in that
//! pages messages as HubSpot does) and on a counting store, through the app's own edge
//! handler and job runner. Issue 18: in steady state one HubSpot call, one Slack call and at
//! most four store calls per message, flat in the conversation's length; the card's "last
//! reply" goes to Slack coalesced, by the sweep.

use std::sync::Arc;

use integration_tests::harness::*;
use integration_tests::inproc::{in_process, CapturedQueue, InProcess};
use serde_json::{json, Value};
use shared::app::App;
use shared::edge::verify;
use shared::queue::Job;
use shared::store::counting::Counts;
use shared::support::clock::{Clock, OffsetClock};
use shared::support::http::Request;
use wiremock::MockServer;

struct Bench {
    app: Arc<App>,
    counts: Arc<Counts>,
    queue: Arc<CapturedQueue>,
    clock: Arc<OffsetClock>,
    slack: MockServer,
    hubspot: MockServer,
    inbox: Inbox,
}

/// Calls one event made, edge and the jobs it queued together.
#[derive(Debug, Default, PartialEq, Eq)]
struct Cost {
    edge_store: u64,
    store: u64,
    hubspot: Vec<String>,
    slack: Vec<String>,
}

fn total(c: &Counts) -> u64 {
    c.total()
}

async fn paths(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

/// The JSON bodies of the requests `server` received at `path`.
async fn bodies(server: &MockServer, path: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == path)
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect()
}

impl Bench {
    async fn map(&self) -> shared::domain::ThreadMap {
        let found = self.app.records.get_thread(PORTAL, THREAD).await;
        found.ok().flatten().expect("the conversation's mapping")
    }

    async fn new() -> Bench {
        let slack = MockServer::start().await;
        let hubspot = MockServer::start().await;
        slack_ok(&slack).await;
        hubspot_people(&hubspot).await;
        let inbox = Inbox::mount(&hubspot).await;
        let clock = Arc::new(OffsetClock::default());
        let InProcess { app, counts, queue } = in_process(
            "https://bundle.example",
            Some(slack.uri()),
            Some(hubspot.uri()),
            clock.clone(),
        )
        .await;
        Bench {
            app,
            counts,
            queue,
            clock,
            slack,
            hubspot,
            inbox,
        }
    }

    fn webhook(&self, events: &Value) -> Request {
        let body = events.to_string().into_bytes();
        let ts = self.clock.now_ms();
        let uri = self.app.settings.webhook_url();
        let sig = verify::sign_hubspot_v3(HUBSPOT_SECRET.as_bytes(), "POST", &uri, &body, ts);
        let mut headers = http::HeaderMap::new();
        headers.insert("x-hubspot-signature-v3", sig.parse().unwrap());
        headers.insert(
            "x-hubspot-request-timestamp",
            ts.to_string().parse().unwrap(),
        );
        headers.insert("content-type", "application/json".parse().unwrap());
        Request {
            method: http::Method::POST,
            path: "/hubspot/webhook".into(),
            query: None,
            headers,
            body: body.into(),
        }
    }

    /// Runs the jobs queued, and what they queue, as the worker would.
    async fn drain(&self) {
        for _ in 0..4 {
            let jobs: Vec<Job> = self.queue.take();
            if jobs.is_empty() {
                return;
            }
            for job in &jobs {
                shared::edge::worker::run_job(&self.app, job, 1)
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e}", job.kind()));
            }
        }
    }

    /// What `req` and its jobs cost.
    async fn cost(&self, req: Request) -> Cost {
        let (h0, s0, st0) = (
            paths(&self.hubspot).await.len(),
            paths(&self.slack).await.len(),
            total(&self.counts),
        );
        let resp = shared::edge::routes::handle(&self.app, req).await;
        assert_eq!(resp.status.as_u16(), 200);
        let st1 = total(&self.counts);
        self.drain().await;
        Cost {
            edge_store: st1 - st0,
            store: total(&self.counts) - st1,
            hubspot: paths(&self.hubspot).await[h0..].to_vec(),
            slack: paths(&self.slack).await[s0..].to_vec(),
        }
    }
}

/// The n-th visitor message, n seconds into the chat.
fn visitor(n: usize) -> Value {
    let mut m = message_json(&format!("m{n}"), 0, "INCOMING", &format!("message {n}"));
    m["createdAt"] = json!(format!(
        "2026-11-27T{:02}:{:02}:{:02}.000Z",
        10 + n / 3600,
        (n / 60) % 60,
        n % 60
    ));
    m
}

fn new_message(n: usize) -> Value {
    json!([event(
        "conversation.newMessage",
        THREAD,
        json!({"messageId": format!("m{n}"), "messageType": "MESSAGE", "changeFlag": "NEW_MESSAGE"})
    )])
}

const THREAD: &str = "3624100517";

#[tokio::test]
async fn a_visitor_message_costs_one_call_each_way_and_four_store_calls_at_any_length() {
    let b = Bench::new().await;
    let thread = thread_json(THREAD, "1000", "OPEN", Some("A-2620022"));
    let mut msgs = vec![visitor(1)];
    b.inbox.set(&thread, &msgs);
    let created = b
        .cost(b.webhook(&json!([event("conversation.creation", THREAD, json!({}))])))
        .await;
    assert_eq!(created.slack[0], "POST /chat.postMessage", "{created:?}");

    let mut costs = Vec::new();
    for n in 2..=500 {
        msgs.push(visitor(n));
        b.inbox.set(&thread, &msgs);
        costs.push((n, b.cost(b.webhook(&new_message(n))).await));
    }
    let messages_get =
        format!("GET /conversations/conversations/2026-09/threads/{THREAD}/messages");
    for (n, c) in &costs {
        assert_eq!(c.edge_store, 0, "message {n}: {c:?}");
        assert_eq!(
            c.slack,
            ["POST /chat.postMessage"],
            "message {n}: one post, the card's update waits: {c:?}"
        );
        assert!(c.store <= 4, "message {n}: {} store calls: {c:?}", c.store);
        // One page read; two where the conversation just crossed into the next page.
        assert!(
            c.hubspot.iter().all(|p| *p == messages_get)
                && (c.hubspot.len() == 1 || (c.hubspot.len() == 2 && (n - 1) % 100 == 0)),
            "message {n}: {c:?}"
        );
    }
    for len in [10, 100, 500] {
        let (_, c) = costs.iter().find(|(n, _)| *n == len).unwrap();
        assert_eq!((c.hubspot.len(), c.slack.len()), (1, 1), "at length {len}");
    }
    let hubspot_total: usize = costs.iter().map(|(_, c)| c.hubspot.len()).sum();
    assert!(hubspot_total <= costs.len() + 5, "{hubspot_total}");

    // Every message in the thread, in order, once.
    let posts = bodies(&b.slack, "/chat.postMessage").await;
    let thread_texts: Vec<String> = posts
        .iter()
        .filter(|p| p["thread_ts"].is_string())
        .map(|p| p["text"].as_str().unwrap_or("").to_string())
        .collect();
    let expected: Vec<String> = (2..=500)
        .map(|n| format!("*Vera Visitor*: message {n}"))
        .collect();
    assert_eq!(thread_texts, expected);

    // The card's last reply, coalesced: the sweep finds it due after 30 s and shows it
    // with one chat.update and no inbox call.
    assert!(b.map().await.card_due_at.is_some());
    b.clock.advance_secs(31);
    let (h0, s0) = (paths(&b.hubspot).await.len(), paths(&b.slack).await.len());
    let swept = shared::flows::timers::sweep(&b.app).await.unwrap();
    assert_eq!(swept.conversations, 1);
    b.drain().await;
    assert_eq!(paths(&b.hubspot).await.len(), h0);
    assert_eq!(paths(&b.slack).await[s0..], ["POST /chat.update"]);
    let update = bodies(&b.slack, "/chat.update").await.pop().unwrap();
    assert!(
        update["blocks"].to_string().contains("Last reply"),
        "{update}"
    );
    assert_eq!(b.map().await.card_due_at, None);
}

#[tokio::test]
async fn a_status_change_shows_at_once_and_a_stale_thread_is_read_again() {
    let b = Bench::new().await;
    let mut msgs = vec![visitor(1)];
    b.inbox
        .set(&thread_json(THREAD, "1000", "OPEN", None), &msgs);
    b.cost(b.webhook(&json!([event("conversation.creation", THREAD, json!({}))])))
        .await;
    // Closed in the inbox: the card shows it at once, not 30 s later.
    b.inbox
        .set(&thread_json(THREAD, "1000", "CLOSED", None), &msgs);
    let closed = b
        .cost(b.webhook(&json!([event(
            "conversation.propertyChange",
            THREAD,
            json!({"propertyName": "status", "propertyValue": "CLOSED"})
        )])))
        .await;
    assert!(
        closed.slack.contains(&"POST /chat.update".to_string()),
        "{closed:?}"
    );
    // A message six minutes later reads the thread again (a missed webhook heals).
    b.clock.advance_secs(360);
    msgs.push(visitor(2));
    b.inbox
        .set(&thread_json(THREAD, "1000", "OPEN", None), &msgs);
    let later = b.cost(b.webhook(&new_message(2))).await;
    assert!(
        later
            .hubspot
            .iter()
            .any(|p| p.ends_with(&format!("/threads/{THREAD}"))),
        "{later:?}"
    );
    assert!(
        later.slack.contains(&"POST /chat.update".to_string()),
        "reopened: {later:?}"
    );
}

#[tokio::test]
async fn an_agents_reply_from_slack_costs_one_hubspot_call_and_its_echo_none() {
    let b = Bench::new().await;
    let msgs = vec![visitor(1)];
    b.inbox.set(
        &thread_json(THREAD, "1000", "OPEN", Some("A-2620022")),
        &msgs,
    );
    b.cost(b.webhook(&json!([event("conversation.creation", THREAD, json!({}))])))
        .await;
    b.app
        .records
        .put_user_map(&shared::domain::UserMap {
            team_id: TEAM.into(),
            slack_user_id: "U0AGENT001".into(),
            portal_id: PORTAL.into(),
            inbox_user_id: "2620022".into(),
            email: "ann@example.com".into(),
            mapped_at: 1,
        })
        .await
        .unwrap();
    let parent = b.map().await.parent_ts;
    let body = json!({
        "token": "t", "team_id": TEAM, "api_app_id": "A0APP00001", "type": "event_callback",
        "event_id": "EvReply0001", "event_time": 1700000200,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true}],
        "event": {"type": "message", "channel": CHANNEL, "user": "U0AGENT001", "text": "Yes, we do.",
                  "ts": "1700000100.000400", "thread_ts": parent, "parent_user_id": BOT_USER,
                  "event_ts": "1700000100.000400", "channel_type": "channel"}
    })
    .to_string()
    .into_bytes();
    let ts = b.clock.now_secs();
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("x-slack-request-timestamp", ts.to_string().parse().unwrap());
    headers.insert(
        "x-slack-signature",
        verify::sign_slack(SIGNING_SECRET.as_bytes(), ts, &body)
            .parse()
            .unwrap(),
    );
    let reply = b
        .cost(Request {
            method: http::Method::POST,
            path: "/slack/events".into(),
            query: None,
            headers,
            body: body.into(),
        })
        .await;
    // Sent as the agent: the only inbox call (where it goes was kept with the conversation).
    assert_eq!(
        reply.hubspot,
        [format!(
            "POST /conversations/conversations/2026-09/threads/{THREAD}/messages"
        )],
        "{reply:?}"
    );
    // The inbox reports it back: recognised by its record, nothing read, nothing posted.
    let echo = b
        .cost(b.webhook(&json!([event(
            "conversation.newMessage",
            THREAD,
            json!({"messageId": "sent1", "messageType": "MESSAGE", "changeFlag": "NEW_MESSAGE"})
        )])))
        .await;
    assert_eq!(
        (echo.store, echo.hubspot.len(), echo.slack.len()),
        (1, 0, 0),
        "{echo:?}"
    );
    // The card shows the reply at its coalesced update.
    b.clock.advance_secs(31);
    shared::flows::timers::sweep(&b.app).await.unwrap();
    b.drain().await;
    let card = bodies(&b.slack, "/chat.update")
        .await
        .pop()
        .expect("card updated");
    let blocks = card["blocks"].to_string();
    assert!(
        blocks.contains("First response") && blocks.contains("Ann Agent"),
        "{blocks}"
    );
}
