//! Concurrency against the DynamoDB-compatible server (moto, which `scripts/moto.sh`
//! serializes so a conditional write is atomic per item, as in DynamoDB):
//!
//! 1. Two "Lambdas" — two local runners, each with its own in-process queue, sharing one
//!    table and the same fake Slack and HubSpot — get every webhook of one conversation at the
//!    same moment, and every Slack reply too (a retry landing on the other function). One
//!    Slack thread comes of it, each message is posted once and in order, each reply reaches
//!    the inbox once.
//! 2. What guarantees it is the store's conditional writes: the same race run by two app
//!    instances over a store that drops the conditions posts two notifications; dropping only
//!    the lease's condition leaves the first-writer-wins mapping to catch the second
//!    notification (posted, then deleted); with all conditions, one notification is posted.
//!
//! Ordering of Slack replies *across* functions comes from the SQS FIFO group in AWS; two
//! local queues cannot show it, so replies are checked for exactly-once here (and for order
//! within one runner in the soak).

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use integration_tests::harness::*;
use serde_json::{json, Value};
use shared::app::App;
use shared::config::Settings;
use shared::queue::{JobError, LocalQueue, RetryPolicy};
use shared::store::{Cond, Item, Store, StoreError, Write};
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const T: &str = "3624100517";
const AGENT: &str = "U0AGENT001";

/// chat.postMessage answering after `delay` with increasing ts; update/delete/ephemeral ok.
async fn slow_slack(slack: &MockServer, delay: Duration) {
    let counter = Arc::new(AtomicU64::new(1));
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(move |_: &Request| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(200)
                .set_body_json(
                    json!({"ok": true, "channel": CHANNEL, "ts": format!("1700000001.{n:06}")}),
                )
                .set_delay(delay)
        })
        .mount(slack)
        .await;
    for m in ["/chat.update", "/chat.delete", "/chat.postEphemeral"] {
        Mock::given(method("POST"))
            .and(path(m))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
            .mount(slack)
            .await;
    }
}

/// Posts in Slack: (request body, the ts it was given), in the order Slack got them.
async fn slack_posts(slack: &MockServer) -> Vec<Value> {
    calls(slack, "/chat.postMessage").await
}

fn visitor(n: u32) -> Value {
    message_json(
        &format!("m{n:02}"),
        n,
        "INCOMING",
        &format!("visitor message {n:02}"),
    )
}

async fn both_quiet(a: &Env, b: &Env) {
    let ok = wait_until(Duration::from_secs(60), || {
        a.runner.queue.pending_now() == 0 && b.runner.queue.pending_now() == 0
    })
    .await;
    assert!(ok, "the queues did not drain in 60 s");
    // Again after a pause: a retry may have been waiting on the other's lease.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ok = wait_until(Duration::from_secs(60), || {
        a.runner.queue.pending_now() == 0 && b.runner.queue.pending_now() == 0
    })
    .await;
    assert!(ok, "the queues did not drain in 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_lambdas_make_one_thread_with_ordered_messages() {
    capture_logs();
    let table = integration_tests::stores::unique_name("two-lambdas");
    let a = start(Opts {
        dynamo: true,
        max_attempts: 40,
        extra: vec![("TABLE_NAME", table.clone())],
        ..Default::default()
    })
    .await;
    let b = start(Opts {
        dynamo: true,
        max_attempts: 40,
        extra: vec![
            ("TABLE_NAME", table.clone()),
            ("SLACK_API_URL", a.slack.uri()),
            ("HUBSPOT_API_URL", a.hubspot.uri()),
        ],
        ..Default::default()
    })
    .await;
    assert_eq!(table_name(&a), table_name(&b));
    // Slow posts keep both functions inside the race.
    slow_slack(&a.slack, Duration::from_millis(150)).await;
    respond_ok(&a.slack).await;
    hubspot_people(&a.hubspot).await;
    slack_user(&a.slack, AGENT, "Ann", Some("ann@example.com")).await;

    // The same webhook to both functions at once, for every message.
    let at_both = |body: Value| {
        let (a, b) = (&a, &b);
        async move {
            let (ra, rb) = tokio::join!(a.post_webhook(&body), b.post_webhook(&body));
            assert_eq!(ra.status().as_u16(), 200);
            assert_eq!(rb.status().as_u16(), 200);
        }
    };
    let mut messages = vec![visitor(1)];
    a.inbox
        .set(&thread_json(T, "1000", "OPEN", None), &messages);
    at_both(json!([
        event("conversation.creation", T, json!({})),
        event("conversation.newMessage", T, json!({"messageId": "m01"}))
    ]))
    .await;
    for n in 2..=16 {
        messages.push(visitor(n));
        a.inbox
            .set(&thread_json(T, "1000", "OPEN", None), &messages);
        at_both(json!([event(
            "conversation.newMessage",
            T,
            json!({"messageId": format!("m{n:02}")})
        )]))
        .await;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    both_quiet(&a, &b).await;

    let posts = slack_posts(&a.slack).await;
    let parents: Vec<&Value> = posts.iter().filter(|p| p["thread_ts"].is_null()).collect();
    assert_eq!(parents.len(), 1, "notifications posted: {parents:?}");
    assert!(
        calls(&a.slack, "/chat.delete").await.is_empty(),
        "a duplicate notification was posted (and removed)"
    );
    let parent_ts = "1700000001.000001";
    let in_thread: Vec<String> = posts
        .iter()
        .filter(|p| p["thread_ts"] == parent_ts)
        .map(|p| p["text"].as_str().unwrap_or("").to_string())
        .collect();
    let want: Vec<String> = (2..=16)
        .map(|n| format!("*Vera Visitor*: visitor message {n:02}"))
        .collect();
    assert_eq!(in_thread, want, "thread messages: once each, in order");

    // Agents' replies: each delivered by Slack to both functions at once.
    for n in 1..=6 {
        let ts = format!("1700000200.{n:06}");
        let body = json!({
            "token": "t", "team_id": TEAM, "api_app_id": "A0APP00001", "type": "event_callback",
            "event_id": format!("EvTwo{n}"), "event_time": 1700000200,
            "event": {"type": "message", "channel": CHANNEL, "user": AGENT,
                      "text": format!("agent reply {n}"), "ts": ts, "thread_ts": parent_ts,
                      "parent_user_id": BOT_USER, "event_ts": ts, "channel_type": "channel"}
        });
        let (ra, rb) = tokio::join!(a.post_event(&body), b.post_event(&body));
        assert_eq!((ra.status().as_u16(), rb.status().as_u16()), (200, 200));
        both_quiet(&a, &b).await;
    }
    let sent: Vec<String> = a
        .hubspot_calls("POST", &format!("{THREADS}/{T}/messages"))
        .await
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("").to_string())
        .collect();
    let want: Vec<String> = (1..=6).map(|n| format!("agent reply {n}")).collect();
    assert_eq!(sent, want, "replies: once each");
    // And none came back into Slack after HubSpot's webhooks for them, at both functions.
    at_both(json!([event("conversation.newMessage", T, json!({}))])).await;
    both_quiet(&a, &b).await;
    assert_eq!(
        slack_posts(&a.slack).await.len(),
        posts.len(),
        "an echo was posted"
    );

    let dead = a.dead_letters().await;
    assert!(dead.is_empty(), "dead letters: {dead:?}");
    let leaks = secret_findings(&logs(), &signatures_sent());
    save_logs("concurrency");
    assert!(leaks.is_empty(), "{leaks:#?}");
}

// ---------------------------------------------------------------- the control ----

/// A store that turns the conditions of some writes into none: what the flows would do
/// without DynamoDB's conditional writes.
struct Unconditional {
    inner: Arc<dyn Store>,
    /// Only items whose pk starts with this lose their condition ("" = all).
    prefix: &'static str,
}

impl Unconditional {
    fn cond(&self, pk: &str, c: Cond) -> Cond {
        if pk.starts_with(self.prefix) {
            Cond::None
        } else {
            c
        }
    }
}

fn pk_of(item: &Item) -> String {
    item.get("pk")
        .and_then(|a| a.as_str())
        .unwrap_or_default()
        .to_string()
}

#[async_trait]
impl Store for Unconditional {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.inner.get(pk, sk).await
    }
    async fn get_many(&self, keys: &[(String, String)]) -> Result<Vec<Option<Item>>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn put(&self, item: Item, cond: Cond) -> Result<(), StoreError> {
        let cond = self.cond(&pk_of(&item), cond);
        self.inner.put(item, cond).await
    }
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<Option<Item>, StoreError> {
        self.inner.delete(pk, sk, self.cond(pk, cond)).await
    }
    async fn query(&self, pk: &str, sk_prefix: &str) -> Result<Vec<Item>, StoreError> {
        self.inner.query(pk, sk_prefix).await
    }
    async fn query_due(
        &self,
        duepk: &str,
        until: i64,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.inner.query_due(duepk, until, limit).await
    }
    async fn query_portal_index(&self, gsi1pk: &str) -> Result<Vec<Item>, StoreError> {
        self.inner.query_portal_index(gsi1pk).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let writes = writes
            .into_iter()
            .map(|w| match w {
                Write::Put { item, cond } => {
                    let cond = self.cond(&pk_of(&item), cond);
                    Write::Put { item, cond }
                }
                Write::Delete { pk, sk, cond } => {
                    let cond = self.cond(&pk, cond);
                    Write::Delete { pk, sk, cond }
                }
            })
            .collect();
        self.inner.transact(writes).await
    }
    fn kind(&self) -> &'static str {
        "dynamodb-without-conditions"
    }
}

fn settings(slack: &MockServer, hubspot: &MockServer, table: &str) -> Settings {
    let vars: HashMap<&str, String> = [
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_string()),
        ("HUBSPOT_CLIENT_SECRET", HUBSPOT_SECRET.to_string()),
        ("TOKEN_ENCRYPTION_KEY", TOKEN_KEY.to_string()),
        ("HUBSPOT_APP_ID", APP_ID.to_string()),
        ("SLACK_API_URL", slack.uri()),
        ("HUBSPOT_API_URL", hubspot.uri()),
        ("HUBSPOT_PORTAL_ID", PORTAL.to_string()),
        ("HUBSPOT_ACCESS_TOKEN", HS_TOKEN.to_string()),
        ("SLACK_TEAM_ID", TEAM.to_string()),
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_string()),
        ("SLACK_CHANNEL_ID", CHANNEL.to_string()),
        ("PUBLIC_BASE_URL", "https://hooks.example.test".to_string()),
        (
            "DYNAMODB_ENDPOINT",
            integration_tests::stores::dynamodb_endpoint(),
        ),
        ("TABLE_NAME", table.to_string()),
    ]
    .into_iter()
    .collect();
    Settings::from_lookup(&|k| vars.get(k).cloned(), None).expect("settings")
}

/// Runs one sync to the end as the queue would (retrying while the other holds the lease).
async fn sync_to_the_end(app: Arc<App>) {
    for _ in 0..100 {
        match shared::flows::inbox_to_slack::sync_conversation(&app, PORTAL, T).await {
            Ok(()) => return,
            Err(JobError::Retry { after, .. }) => {
                let d = after.unwrap_or(Duration::from_millis(50));
                tokio::time::sleep(d.min(Duration::from_millis(200))).await;
            }
            Err(e) => panic!("sync failed: {e}"),
        }
    }
    panic!("sync did not finish");
}

/// (notifications posted, notifications deleted, live notifications, thread posts).
async fn race(prefix: Option<&'static str>) -> (usize, usize, usize, usize) {
    let slack = MockServer::start().await;
    let hubspot = MockServer::start().await;
    // Long enough that both syncs are past their checks before either post returns.
    slow_slack(&slack, Duration::from_millis(1000)).await;
    hubspot_people(&hubspot).await;
    let inbox = Inbox::mount(&hubspot).await;
    inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[visitor(1), visitor(2), visitor(3)],
    );
    let table = integration_tests::stores::unique_name("race");
    let s = settings(&slack, &hubspot, &table);
    let real = App::open_store(&s).await.expect("store");
    let store: Arc<dyn Store> = match prefix {
        Some(prefix) => Arc::new(Unconditional {
            inner: real,
            prefix,
        }),
        None => real,
    };
    let app = |store: Arc<dyn Store>| {
        Arc::new(App::new(
            s.clone(),
            store,
            Arc::new(LocalQueue::new(RetryPolicy::default())),
            shared::app::http_client().expect("http client"),
            Arc::new(shared::support::clock::SystemClock),
        ))
    };
    let (one, two) = (app(store.clone()), app(store));
    one.ensure_single_workspace().await.expect("install");
    tokio::join!(sync_to_the_end(one), sync_to_the_end(two));
    let posts = slack_posts(&slack).await;
    let deleted: Vec<String> = calls(&slack, "/chat.delete")
        .await
        .iter()
        .map(|d| d["ts"].as_str().unwrap_or("").to_string())
        .collect();
    let parents = posts.iter().filter(|p| p["thread_ts"].is_null()).count();
    // ts of the n-th post is 1700000001.n (the mock's counter).
    let live = (1..=posts.len())
        .filter(|n| posts[n - 1]["thread_ts"].is_null())
        .filter(|n| !deleted.contains(&format!("1700000001.{n:06}")))
        .count();
    let in_thread = posts.len() - parents;
    (parents, deleted.len(), live, in_thread)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conditional_writes_are_what_keeps_one_thread() {
    capture_logs();
    println!("store conditions           posted  deleted  live  thread posts");
    let mut rows = vec![];
    for (name, prefix, want) in [
        // The lease lets one sync at a time post: one notification, messages once.
        ("all", None, (1, 0, 1, Some(2))),
        // Both post; creating the mapping is first-writer-wins: the loser deletes its own.
        ("all but the lease's", Some("LEASE#"), (2, 1, 1, None)),
        // Nothing stops the second notification.
        ("none", Some(""), (2, 0, 2, None)),
    ] {
        let (posted, deleted, live, in_thread) = race(prefix).await;
        println!("{name:<26} {posted:>6} {deleted:>8} {live:>5} {in_thread:>13}");
        rows.push((name, (posted, deleted, live), want, in_thread));
    }
    for (name, got, want, in_thread) in rows {
        assert_eq!(
            got,
            (want.0, want.1, want.2),
            "{name}: (posted, deleted, live)"
        );
        if let Some(n) = want.3 {
            assert_eq!(in_thread, n, "{name}: messages in the thread");
        }
    }
}

/// An agent who replies in the notification's thread while the bundle is still storing that
/// thread (between Slack's answer to chat.postMessage and the mapping's conditional write;
/// longer when Slack answers slowly): the event edge finds no conversation for the thread yet,
/// but the thread is under our message, so the worker waits for the link and then delivers.
/// (The soak saw such replies dropped under load before this was handled.)
#[tokio::test]
async fn a_reply_while_the_notification_is_being_stored_is_delivered() {
    capture_logs();
    let e = start(Opts {
        dynamo: true,
        // The harness caps retry delays at 200 ms: enough tries to wait out the slow post.
        max_attempts: 15,
        ..Default::default()
    })
    .await;
    // Slack shows the message at once, but its answer takes 2 s.
    slow_slack(&e.slack, Duration::from_secs(2)).await;
    respond_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    slack_user(&e.slack, AGENT, "Ann", Some("ann@example.com")).await;
    e.inbox
        .set(&thread_json(T, "1000", "OPEN", None), &[visitor(1)]);
    let r = e
        .post_webhook(&json!([event("conversation.creation", T, json!({}))]))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    // The notification is in Slack (the request arrived); the agent answers right away.
    let slack = &e.slack;
    for _ in 0..200 {
        if !slack_posts(slack).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let parent = "1700000001.000001";
    let ts = "1700000002.000001";
    let body = json!({
        "token": "t", "team_id": TEAM, "api_app_id": "A0APP00001", "type": "event_callback",
        "event_id": "EvEarly1", "event_time": 1700000200,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}],
        "event": {"type": "message", "channel": CHANNEL, "user": AGENT, "text": "on it",
                  "ts": ts, "thread_ts": parent, "parent_user_id": BOT_USER, "event_ts": ts,
                  "channel_type": "channel"}
    });
    assert_eq!(e.post_event(&body).await.status().as_u16(), 200);
    e.drain().await;
    let sent = e
        .hubspot_calls("POST", &format!("{THREADS}/{T}/messages"))
        .await;
    let saved = save_logs("early_reply");
    assert_eq!(
        sent.len(),
        1,
        "the agent's reply did not reach the inbox (logs: {})",
        saved.display()
    );
}

/// The install is one item that admins (Home tab) and deliveries (health: last delivery, last
/// error, needs attention) both change. Each change is saved over the version it was made to,
/// so neither undoes the other, and a late write never brings back a disconnected install.
/// On both stores.
#[tokio::test]
async fn install_changes_never_undo_each_other() {
    for dynamo in [false, true] {
        let e = start(Opts {
            dynamo,
            ..Opts::default()
        })
        .await;
        let records = &e.runner.app.records;
        let admin = records.get_install(PORTAL).await.unwrap().unwrap();
        let delivery = records.get_install(PORTAL).await.unwrap().unwrap();
        assert!(admin.notifications_on);
        // The admin switches notifications off; a delivery that read the install before that
        // then records its time from what it read: refused, nothing undone.
        let mut off = admin.clone();
        off.notifications_on = false;
        assert!(records.save_install(&off).await.unwrap(), "dynamo={dynamo}");
        let mut late = delivery.clone();
        late.last_delivery_at = Some(1_700_000_000);
        assert!(
            !records.save_install(&late).await.unwrap(),
            "dynamo={dynamo}"
        );
        let now = records.get_install(PORTAL).await.unwrap().unwrap();
        assert!(!now.notifications_on && now.last_delivery_at.is_none());
        // Made through update_install, the same change is applied to what is stored now.
        let saved = records
            .update_install(PORTAL, |i| {
                i.last_delivery_at = Some(1_700_000_000);
                true
            })
            .await
            .unwrap()
            .unwrap();
        let now = records.get_install(PORTAL).await.unwrap().unwrap();
        assert_eq!(now, saved);
        assert!(!now.notifications_on, "the admin's change is kept");
        assert_eq!(now.last_delivery_at, Some(1_700_000_000));
        // Many writers at once: every change lands.
        let mut writers = vec![];
        for n in 0..4i64 {
            let app = e.runner.app.clone();
            writers.push(tokio::spawn(async move {
                app.records
                    .update_install(PORTAL, |i| {
                        i.created_at += 1 << n;
                        true
                    })
                    .await
            }));
        }
        for w in writers {
            w.await.unwrap().unwrap();
        }
        let after = records.get_install(PORTAL).await.unwrap().unwrap();
        assert_eq!(
            after.created_at - now.created_at,
            15,
            "dynamo={dynamo}: all four changes"
        );
        // Disconnected: a late write brings nothing back.
        records.delete_portal_data(PORTAL).await.unwrap();
        assert!(!records.save_install(&after).await.unwrap());
        assert!(records
            .update_install(PORTAL, |_| true)
            .await
            .unwrap()
            .is_none());
        assert!(records.get_install(PORTAL).await.unwrap().is_none());
    }
}
