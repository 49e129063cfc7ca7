//! Never leave a visitor waiting (issue 19), end to end over real HTTP (wiremock Slack and
//! HubSpot, the runner's own routes, queue and sweep) with the bundle's clock moved forward:
//! the first- and next-response alerts in the thread and to the assignee, the escalation to
//! the channel, an answer or a close stopping the clock, the daily digest, the Home tab's
//! settings, and a conversation whose webhooks never came arriving through the
//! reconciliation sweep; the sweep's idempotence on DynamoDB (moto).

use integration_tests::harness::*;
use serde_json::{json, Value};
use shared::support::clock::{rfc3339_ms, Clock};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

const T: &str = "3624100517";
const PARENT: &str = "1700000001.000001";
const ANN: &str = "U0AGENT001";
const FORM: &str = "application/x-www-form-urlencoded";

/// A message at `at_ms` (the bundle's clock), not the harness's fixed 2026-11-27.
fn msg_at(id: &str, at_ms: i64, direction: &str, text: &str) -> Value {
    let mut m = message_json(id, 0, direction, text);
    m["createdAt"] = json!(rfc3339_ms(at_ms));
    m
}

async fn slack_people(e: &Env) {
    slack_user(&e.slack, ANN, "Ann", Some("ann@example.com")).await;
    Mock::given(method("POST"))
        .and(path("/users.lookupByEmail"))
        .and(body_string_contains("ann%40example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true,
            "user": {"id": ANN, "name": "ann", "real_name": "Ann Agent", "is_bot": false, "deleted": false,
                     "profile": {"display_name": "Ann", "email": "ann@example.com"}}})))
        .mount(&e.slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.getPermalink"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channel": CHANNEL,
            "permalink": "https://example.slack.com/archives/C0NOTIFY01/p1700000001000001"})),
        )
        .mount(&e.slack)
        .await;
}

async fn start_env(extra: Vec<(&'static str, String)>, dynamo: bool) -> Env {
    let e = start(Opts {
        extra,
        dynamo,
        ..Default::default()
    })
    .await;
    slack_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    slack_people(&e).await;
    e
}

/// A new chat from the visitor, posted through its webhook.
async fn new_chat(e: &Env, thread: &str, messages: &[Value]) {
    e.inbox.set(
        &thread_json(thread, "1000", "OPEN", Some("A-2620022")),
        messages,
    );
    e.post_webhook(&json!([event("conversation.creation", thread, json!({}))]))
        .await;
    e.drain().await;
}

async fn new_message(e: &Env, thread: &str, messages: &[Value], id: &str) {
    e.inbox.set(
        &thread_json(thread, "1000", "OPEN", Some("A-2620022")),
        messages,
    );
    e.post_webhook(&json!([event(
        "conversation.newMessage",
        thread,
        json!({"messageId": id})
    )]))
    .await;
    e.drain().await;
}

async fn sweep(e: &Env) -> shared::flows::timers::Swept {
    let s = shared::flows::timers::sweep(&e.runner.app)
        .await
        .expect("sweep");
    e.drain().await;
    s
}

/// What the app posted, other than the cards (those carry blocks).
async fn lines(e: &Env) -> Vec<Value> {
    e.slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p.get("blocks").is_none())
        .collect()
}

fn texts(posts: &[Value]) -> Vec<String> {
    posts
        .iter()
        .map(|p| p["text"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn a_waiting_visitor_brings_one_alert_one_direct_message_then_one_escalation() {
    let e = start_env(vec![], false).await;
    let t0 = e.clock.now_ms();
    new_chat(&e, T, &[msg_at("m1", t0, "INCOMING", "Is anyone there?")]).await;
    let card = e.slack_calls("chat.postMessage").await[0]["blocks"].to_string();
    assert!(card.contains("Waiting for a reply"), "{card}");

    // Not yet: the default is five minutes. The clock runs on in real time under the
    // offset, so a "not yet" keeps a margin that a slow CI machine cannot eat.
    e.clock.advance_secs(290);
    sweep(&e).await;
    assert!(lines(&e).await.is_empty(), "{:?}", lines(&e).await);

    e.clock.advance_secs(20);
    sweep(&e).await;
    let posted = lines(&e).await;
    assert_eq!(posted.len(), 2, "{posted:?}");
    let in_thread = posted
        .iter()
        .find(|p| p["channel"] == CHANNEL)
        .expect("a line in the thread");
    assert_eq!(in_thread["thread_ts"], PARENT);
    let said = in_thread["text"].as_str().unwrap();
    assert!(
        said.contains("Vera Visitor has waited 5 min for a first reply"),
        "{said}"
    );
    // The assignee (Ann, found by her HubSpot email) is told directly, with the thread.
    let dm = posted
        .iter()
        .find(|p| p["channel"] == ANN)
        .expect("a direct message");
    let dm_text = dm["text"].as_str().unwrap();
    assert!(
        dm_text.contains("https://example.slack.com/archives/C0NOTIFY01/p1700000001000001"),
        "{dm_text}"
    );
    assert!(dm.get("thread_ts").is_none());

    // Once per wait: sweeps at once and later sweeps send nothing more until escalation.
    let (a, b) = tokio::join!(
        shared::flows::timers::sweep(&e.runner.app),
        shared::flows::timers::sweep(&e.runner.app)
    );
    a.unwrap();
    b.unwrap();
    e.drain().await;
    e.clock.advance_secs(300);
    sweep(&e).await;
    assert_eq!(lines(&e).await.len(), 2);

    // Fifteen minutes: the whole channel hears of it, with @here by default.
    e.clock.advance_secs(300);
    sweep(&e).await;
    let posted = lines(&e).await;
    assert_eq!(posted.len(), 3, "{posted:?}");
    let escalation = &posted[2];
    assert_eq!(escalation["reply_broadcast"], true);
    assert_eq!(escalation["thread_ts"], PARENT);
    let text = escalation["text"].as_str().unwrap();
    assert!(
        text.starts_with("<!here> Vera Visitor has waited 15 min"),
        "{text}"
    );
    e.clock.advance_secs(3600);
    sweep(&e).await;
    assert_eq!(lines(&e).await.len(), 3, "once per wait");
    assert!(e.dead_letters().await.is_empty());
}

#[tokio::test]
async fn an_answer_stops_the_clock_a_later_message_starts_the_next_and_closing_clears_it() {
    let e = start_env(vec![], false).await;
    let t0 = e.clock.now_ms();
    let mut msgs = vec![msg_at("m1", t0, "INCOMING", "hi")];
    new_chat(&e, T, &msgs).await;
    // An agent answers in the inbox after 100 s.
    e.clock.advance_secs(100);
    msgs.push(msg_at("m2", t0 + 100_000, "OUTGOING", "hello!"));
    new_message(&e, T, &msgs, "m2").await;
    e.clock.advance_secs(1000);
    sweep(&e).await;
    let alerts: Vec<String> = texts(&lines(&e).await)
        .into_iter()
        .filter(|t| t.contains("has waited"))
        .collect();
    assert!(alerts.is_empty(), "{alerts:?}");
    let map = e.map(T).await;
    assert_eq!(map.first_response, Some((t0 / 1000, 100)));

    // A later message waits for a reply: ten minutes by default.
    let t1 = e.clock.now_ms();
    msgs.push(msg_at("m3", t1, "INCOMING", "one more thing"));
    new_message(&e, T, &msgs, "m3").await;
    e.clock.advance_secs(590);
    sweep(&e).await;
    assert!(!texts(&lines(&e).await)
        .iter()
        .any(|t| t.contains("has waited")));
    e.clock.advance_secs(20);
    sweep(&e).await;
    let alerts: Vec<String> = texts(&lines(&e).await)
        .into_iter()
        .filter(|t| t.contains("has waited"))
        .collect();
    assert!(
        alerts
            .iter()
            .any(|t| t.contains("has waited 10 min for a reply.")),
        "{alerts:?}"
    );

    // The agent answers from Slack: the wait ends there, before the inbox reports it.
    e.post_event(&json!({"type": "event_callback", "team_id": TEAM, "event_id": "EvReply1",
        "event": {"type": "message", "channel": CHANNEL, "user": ANN, "text": "on it", "ts": "1700000900.000100", "thread_ts": PARENT}}))
        .await;
    e.drain().await;
    let map = e.map(T).await;
    assert_eq!(map.wait, None, "{map:?}");
    assert_eq!(map.wait_due_at, None);

    // A new wait, then the chat is closed: nothing is due any more.
    let t2 = e.clock.now_ms();
    let mut msgs = e.inbox.messages(T);
    msgs.push(msg_at("m4", t2, "INCOMING", "thanks, bye"));
    new_message(&e, T, &msgs, "m4").await;
    let map = e.map(T).await;
    assert!(map.wait.is_some());
    e.inbox
        .set(&thread_json(T, "1000", "CLOSED", Some("A-2620022")), &msgs);
    e.post_webhook(&json!([event(
        "conversation.propertyChange",
        T,
        json!({"propertyName": "status", "propertyValue": "CLOSED"})
    )]))
    .await;
    e.drain().await;
    let map = e.map(T).await;
    assert_eq!(map.wait, None, "{map:?}");
    let before = lines(&e).await.len();
    e.clock.advance_secs(3600);
    sweep(&e).await;
    assert_eq!(lines(&e).await.len(), before, "{:?}", lines(&e).await);
    assert!(e.dead_letters().await.is_empty());
}

#[tokio::test]
async fn the_daily_digest_counts_open_and_waiting_chats_and_the_first_response_times() {
    let now_hour = (shared::support::clock::SystemClock.now_secs() / 3600 + 1) % 24;
    let e = start_env(
        vec![
            ("DIGEST_HOUR_UTC", now_hour.to_string()),
            ("FIRST_RESPONSE_ALERT_SECS", "0".into()),
            ("ESCALATE_AFTER_SECS", "0".into()),
        ],
        false,
    )
    .await;
    let t0 = e.clock.now_ms();
    new_chat(&e, "111", &[msg_at("a1", t0, "INCOMING", "hi")]).await;
    new_chat(&e, "222", &[msg_at("b1", t0, "INCOMING", "hello")]).await;
    e.clock.advance_secs(90);
    new_message(
        &e,
        "111",
        &[
            msg_at("a1", t0, "INCOMING", "hi"),
            msg_at("a2", t0 + 90_000, "OUTGOING", "yes?"),
        ],
        "a2",
    )
    .await;
    // The first sweep schedules the digest at the hour; it goes then, once.
    sweep(&e).await;
    let digests = |posts: Vec<Value>| -> Vec<String> {
        texts(&posts)
            .into_iter()
            .filter(|t| t.starts_with("*Daily chat digest*"))
            .collect()
    };
    assert!(digests(lines(&e).await).is_empty());
    let install = e
        .runner
        .app
        .records
        .get_install(PORTAL)
        .await
        .unwrap()
        .unwrap();
    let at = install.timers.digest_at.expect("a digest scheduled");
    assert_eq!(at % 3600, 0);
    e.clock.advance_secs(at - e.clock.now_secs());
    sweep(&e).await;
    sweep(&e).await;
    let got = digests(lines(&e).await);
    assert_eq!(got.len(), 1, "{got:?}");
    let d = &got[0];
    assert!(d.contains("Open chats: 2"), "{d}");
    assert!(d.contains("Waiting for a reply: 1"), "{d}");
    assert!(
        d.contains("First response, last 24 hours (1 chats): median 1 min, p90 1 min"),
        "{d}"
    );
    assert!(
        d.contains("/live-messages/22761544/inbox/222|A chat> waiting"),
        "{d}"
    );
    let posted = lines(&e).await;
    let digest_post = posted
        .iter()
        .find(|p| p["text"].as_str().is_some_and(|t| t.starts_with("*Daily")))
        .unwrap();
    assert_eq!(digest_post["channel"], CHANNEL);
    assert!(digest_post.get("thread_ts").is_none());
    let next = e
        .runner
        .app
        .records
        .get_install(PORTAL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.timers.digest_at, Some(at + 86_400));
}

#[tokio::test]
async fn a_chat_whose_webhooks_never_came_arrives_through_the_reconciliation_once() {
    let e = start_env(vec![], false).await;
    // The first sweep sets the watermark: nothing from before the install is posted.
    e.inbox.set(
        &thread_json("999", "1000", "OPEN", None),
        &[msg_at(
            "old1",
            e.clock.now_ms() - 3_600_000,
            "INCOMING",
            "from before",
        )],
    );
    sweep(&e).await;
    assert!(e.hubspot_calls("GET", THREADS).await.is_empty());
    let t0 = e.clock.now_ms();
    e.inbox.set(
        &thread_json("4444", "1000", "OPEN", None),
        &[msg_at(
            "x1",
            t0 + 5_000,
            "INCOMING",
            "did my message get lost?",
        )],
    );
    // Email threads are never posted, reconciled or not.
    let mut email = thread_json("5555", "1002", "OPEN", None);
    email["originalChannelId"] = json!("1002");
    e.inbox
        .set(&email, &[msg_at("e1", t0 + 5_000, "INCOMING", "an email")]);
    e.clock.advance_secs(601);
    sweep(&e).await;
    let cards: Vec<String> = e
        .slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p.get("blocks").is_some())
        .map(|p| p["blocks"].to_string())
        .collect();
    assert_eq!(cards.len(), 1, "{cards:?}");
    assert!(cards[0].contains("did my message get lost?"), "{cards:?}");
    assert_eq!(e.hubspot_calls("GET", THREADS).await.len(), 1);
    let map = e
        .runner
        .app
        .records
        .get_thread(PORTAL, "4444")
        .await
        .unwrap();
    assert!(map.is_some());

    // A later message the webhook missed too: into the thread, once.
    e.inbox.set(
        &thread_json("4444", "1000", "OPEN", None),
        &[
            msg_at("x1", t0 + 5_000, "INCOMING", "did my message get lost?"),
            msg_at("x2", t0 + 620_000, "INCOMING", "hello??"),
        ],
    );
    e.clock.advance_secs(601);
    sweep(&e).await;
    e.clock.advance_secs(601);
    sweep(&e).await;
    let replies: Vec<String> = texts(&lines(&e).await)
        .into_iter()
        .filter(|t| t.contains("hello??"))
        .collect();
    assert_eq!(replies.len(), 1, "{replies:?}");
    // Each reconciliation is one list call here (one page).
    assert_eq!(e.hubspot_calls("GET", THREADS).await.len(), 3);

    assert!(e.dead_letters().await.is_empty());
}

/// A close whose webhook was missed, minutes after the chat was read: the status change is
/// a message of its own (it moves `latestMessageTimestamp`), and a conversation that was
/// behind is read whole, so the card shows it closed although the stored thread was fresh.
#[tokio::test]
async fn a_missed_close_reaches_the_card_through_the_reconciliation() {
    let e = start_env(vec![("RECONCILE_EVERY_SECS", "120".into())], false).await;
    sweep(&e).await; // the watermark
    let t0 = e.clock.now_ms();
    let first = msg_at("m1", t0, "INCOMING", "hi");
    new_chat(&e, T, std::slice::from_ref(&first)).await;
    let mut closed = msg_at("s1", t0 + 10_000, "INCOMING", "");
    closed["type"] = json!("THREAD_STATUS_CHANGE");
    closed["newStatus"] = json!("CLOSED");
    e.inbox.set(
        &thread_json(T, "1000", "CLOSED", Some("A-2620022")),
        &[first, closed],
    );
    let updates = e.slack_calls("chat.update").await.len();
    e.clock.advance_secs(121);
    sweep(&e).await;
    let after: Vec<String> = e
        .slack_calls("chat.update")
        .await
        .into_iter()
        .skip(updates)
        .map(|p| p["blocks"].to_string())
        .collect();
    assert!(after.iter().any(|b| b.contains("Closed")), "{after:?}");
    let map = e.map(T).await;
    assert_eq!(map.wait, None, "{map:?}");
    assert!(e.dead_letters().await.is_empty());
}

/// An install written before the timer index held installs (no index keys on its item):
/// its first delivery after the upgrade writes its health (`services::health`, at most once
/// a minute), which puts it there, so its reconciliation runs. On DynamoDB (moto), where
/// the index is a real sparse GSI.
#[tokio::test]
async fn an_install_from_before_the_timer_index_joins_it_at_its_next_delivery() {
    let e = start_env(vec![], true).await;
    let store = e.runner.app.records.store().clone();
    let (pk, sk) = shared::store::records::keys::install(PORTAL);
    let mut legacy = store.get(&pk, &sk).await.unwrap().expect("the install");
    legacy.remove(shared::store::DUEPK);
    legacy.remove(shared::store::DUEAT);
    legacy.remove("reconcile_at");
    legacy.remove("reconciled_to_ms");
    store.put(legacy, shared::store::Cond::None).await.unwrap();
    let installs_due = |due: Vec<shared::store::records::Due>| {
        due.into_iter()
            .filter(|d| matches!(d, shared::store::records::Due::Install { .. }))
            .count()
    };
    let later = e.clock.now_secs() + 86_400;
    let due = e.runner.app.records.due(later, 100).await.unwrap();
    assert_eq!(installs_due(due), 0);

    new_chat(&e, T, &[msg_at("m1", e.clock.now_ms(), "INCOMING", "hi")]).await;
    let stored = store.get(&pk, &sk).await.unwrap().expect("the install");
    assert!(stored.contains_key(shared::store::DUEPK), "{stored:?}");
    let due = e.runner.app.records.due(later, 100).await.unwrap();
    assert_eq!(installs_due(due), 1);
    // Its reconciliation runs from there: the first sweep sets the watermark, the next
    // reads the inbox.
    sweep(&e).await;
    e.clock.advance_secs(601);
    sweep(&e).await;
    assert_eq!(e.hubspot_calls("GET", THREADS).await.len(), 1);
    assert!(e.dead_letters().await.is_empty());
}

#[tokio::test]
async fn admins_set_alert_times_and_the_escalation_target_in_the_home_tab() {
    let e = start_env(vec![], false).await;
    Mock::given(method("POST"))
        .and(path("/users.info"))
        .and(body_string_contains("user=U0ADMIN001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "user": {"id": "U0ADMIN001",
            "name": "admin", "is_admin": true, "is_owner": false, "is_bot": false, "deleted": false, "profile": {}}})))
        .mount(&e.slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/views.publish"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&e.slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/usergroups.list"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "usergroups": [
            {"id": "S0SUPPORT1", "handle": "support", "name": "Support", "date_delete": 0}]})),
        )
        .mount(&e.slack)
        .await;
    let pick = |action: &str, value: &str| {
        let payload = json!({
            "type": "block_actions", "user": {"id": "U0ADMIN001", "team_id": TEAM}, "team": {"id": TEAM},
            "container": {"type": "view", "view_id": "V1"}, "view": {"id": "V1", "type": "home"},
            "actions": [{"type": "static_select", "action_id": action, "block_id": "home_alerts",
                         "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": value},
                         "action_ts": "1700000700.1"}]
        });
        format!("payload={}", percent(&payload.to_string()))
    };
    for (a, v) in [
        ("home_alert:first", "60"),
        ("home_alert:escalate", "120"),
        ("home_alert:target", "S0SUPPORT1"),
        // Not a user group: refused, nothing changes.
        ("home_alert:target", "<!channel>"),
    ] {
        e.post_slack("/slack/interactions", FORM, &pick(a, v)).await;
        e.drain().await;
    }
    let install = e
        .runner
        .app
        .records
        .get_install(PORTAL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(install.alerts.first_response_secs, Some(60));
    assert_eq!(install.alerts.escalate_secs, Some(120));
    assert_eq!(install.alerts.escalate_to.as_deref(), Some("S0SUPPORT1"));
    let views = e.slack_calls("views.publish").await;
    let last = views.last().expect("the home tab").to_string();
    assert!(last.contains("First reply: 1 min"), "{last}");
    assert!(last.contains("Escalate to: @support"), "{last}");
    assert!(
        last.contains("That is not a user group. Nothing changed."),
        "{last}"
    );

    // The settings apply: a minute to the alert, two to the escalation, to @support.
    let t0 = e.clock.now_ms();
    new_chat(&e, T, &[msg_at("m1", t0, "INCOMING", "hi")]).await;
    e.clock.advance_secs(61);
    sweep(&e).await;
    assert!(texts(&lines(&e).await)
        .iter()
        .any(|t| t.contains("has waited 1 min")));
    e.clock.advance_secs(60);
    sweep(&e).await;
    let esc: Vec<String> = texts(&lines(&e).await)
        .into_iter()
        .filter(|t| t.starts_with("<!subteam^S0SUPPORT1>"))
        .collect();
    assert_eq!(esc.len(), 1, "{esc:?}");
}

/// On DynamoDB (moto): the timer index finds what is due, and sweeps at once alert once.
#[tokio::test]
async fn on_dynamodb_concurrent_sweeps_alert_once() {
    let e = start_env(vec![], true).await;
    let t0 = e.clock.now_ms();
    new_chat(&e, T, &[msg_at("m1", t0, "INCOMING", "hi")]).await;
    e.clock.advance_secs(301);
    let (a, b, c) = tokio::join!(
        shared::flows::timers::sweep(&e.runner.app),
        shared::flows::timers::sweep(&e.runner.app),
        shared::flows::timers::sweep(&e.runner.app)
    );
    assert!(a.unwrap().conversations >= 1);
    b.unwrap();
    c.unwrap();
    e.drain().await;
    let alerts: Vec<String> = texts(&lines(&e).await)
        .into_iter()
        .filter(|t| t.contains("has waited 5 min") && !t.contains("assigned to you"))
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let map = e.map(T).await;
    assert!(map.wait.as_ref().is_some_and(|w| w.alerted));
    // Next due: the escalation at fifteen minutes.
    assert_eq!(map.wait_due_at, Some(t0 / 1000 + 900));
}
