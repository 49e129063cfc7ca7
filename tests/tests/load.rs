//! The load run of docs/benchmarks.md (issue 18): 100 concurrent chats, each writing 4
//! messages a minute for 5 minutes (2000 visitor messages), through the local runner and
//! its queue over real HTTP, against fakes that hold to the platforms' rate limits
//! (`integration_tests::limits`). The chats are in 10 inboxes routed to 10 channels, 40
//! messages a minute per channel where Slack takes 60. Reports the 429s received, the
//! delivery latency from webhook to thread (p50, p99) and what was lost (must be 0).
//!
//! Not part of the test command (it takes over 5 minutes): `scripts/load.sh`, or
//! `cargo test -p integration-tests --test load -- --ignored --nocapture`. LOAD_CHATS,
//! LOAD_MINUTES and LOAD_PER_MINUTE make it smaller or bigger.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integration_tests::harness::*;
use integration_tests::limits::{HubSpotLimit, SlackLimit};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, ResponseTemplate};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn thread_id(i: usize) -> String {
    format!("{}", 3624300000u64 + i as u64)
}

/// Ends with a full stop, so that no text is the start of another.
fn text(i: usize, k: usize) -> String {
    format!("chat {i} message {k}.")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a five-minute load run: scripts/load.sh"]
async fn load_run_against_rate_limit_faithful_fakes() {
    let chats = env_num("LOAD_CHATS", 100);
    let minutes = env_num("LOAD_MINUTES", 5);
    let per_minute = env_num("LOAD_PER_MINUTE", 4);
    let e = start(Opts {
        // A message may wait out several limits; the queue keeps retrying it.
        max_attempts: 20,
        max_delay: Duration::from_secs(15),
        extra: vec![
            ("SLACK_POSTS_PER_CHANNEL_PER_MIN", "60".into()),
            ("SLACK_TIER3_PER_MIN", "50".into()),
            ("HUBSPOT_REQUESTS_PER_10S", "110".into()),
            ("SWEEP_EVERY_SECS", "10".into()),
        ],
        ..Opts::default()
    })
    .await;
    let hubspot = HubSpotLimit::mount(&e.hubspot).await;
    let slack = SlackLimit::mount(&e.slack).await;
    // chat.postMessage, recording when each text arrived (after the limit let it in).
    let arrived: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let seen = arrived.clone();
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(1));
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(move |r: &Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            if let Some(t) = body["text"].as_str() {
                if let Ok(mut m) = seen.lock() {
                    m.entry(t.to_string()).or_insert_with(Instant::now);
                }
            }
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_json(json!({
                "ok": true, "channel": body["channel"], "ts": format!("1700000001.{n:06}")
            }))
        })
        .with_priority(2)
        .mount(&e.slack)
        .await;
    slack_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    for c in 0..10 {
        e.runner
            .app
            .records
            .set_route(&shared::domain::InboxRoute {
                portal_id: PORTAL.into(),
                inbox_id: format!("9000{c}"),
                channel_id: format!("C0LOAD{c:04}"),
                set_by: "U0ADMIN001".into(),
                set_at: 1,
                alerts: Default::default(),
            })
            .await
            .unwrap();
    }
    let thread_of = |i: usize| {
        let mut t = thread_json(&thread_id(i), "1000", "OPEN", None);
        t["inboxId"] = json!(format!("9000{}", i % 10));
        t
    };
    let messages: Arc<Mutex<HashMap<usize, Vec<Value>>>> = Arc::default();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let per_chat = minutes * per_minute;
    let gap = Duration::from_secs_f64(60.0 / per_minute as f64);
    let started = Instant::now();
    // Every chat starts within the first gap; then one message per gap each.
    let mut schedule: Vec<(Duration, usize, usize)> = Vec::new();
    for i in 0..chats {
        let offset = gap.mul_f64(i as f64 / chats as f64);
        for k in 1..=per_chat {
            schedule.push((offset + gap * (k as u32 - 1), i, k));
        }
    }
    schedule.sort();
    for (at, i, k) in schedule {
        let now = started.elapsed();
        if at > now {
            tokio::time::sleep(at - now).await;
        }
        let t = thread_id(i);
        let msgs = {
            let mut all = messages.lock().unwrap();
            let list = all.entry(i).or_default();
            let mut m = message_json(&format!("{t}-m{k}"), 0, "INCOMING", &text(i, k));
            let secs = started.elapsed().as_secs();
            m["createdAt"] = json!(format!(
                "2026-11-27T{:02}:{:02}:{:02}.{:03}Z",
                10 + secs / 3600,
                (secs / 60) % 60,
                secs % 60,
                started.elapsed().subsec_millis()
            ));
            list.push(m);
            list.clone()
        };
        e.inbox.set(&thread_of(i), &msgs);
        sent.lock().unwrap().insert(text(i, k), Instant::now());
        let ev = if k == 1 {
            json!([event("conversation.creation", &t, json!({}))])
        } else {
            json!([event(
                "conversation.newMessage",
                &t,
                json!({"messageId": format!("{t}-m{k}"), "messageType": "MESSAGE"})
            )])
        };
        let resp = e.post_webhook(&ev).await;
        assert_eq!(resp.status().as_u16(), 200);
    }
    let sending = started.elapsed();
    e.drain_within(Duration::from_secs(600)).await;
    let all_done = started.elapsed();
    let sent = sent.lock().unwrap().clone();
    let arrived = arrived.lock().unwrap().clone();
    let mut latencies: Vec<f64> = Vec::new();
    let mut lost = Vec::new();
    for (t, at) in &sent {
        // In a thread reply's text, or the first message in its card's fallback text.
        let got = arrived
            .iter()
            .find(|(text, _)| text.contains(t.as_str()))
            .map(|(_, when)| *when);
        match got {
            Some(when) => {
                latencies.push(when.saturating_duration_since(*at).as_secs_f64() * 1000.0)
            }
            None => lost.push(t.clone()),
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let dead = e.dead_letters().await;
    println!(
        "load run: {chats} chats x {per_minute}/min x {minutes} min = {} messages; sent in {:.0} s, all delivered {:.0} s after the start",
        sent.len(),
        sending.as_secs_f64(),
        all_done.as_secs_f64()
    );
    println!(
        "429s received: HubSpot {}, Slack {}; delivery latency webhook -> thread: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; lost {}, dead letters {}",
        hubspot.refused(),
        slack.refused(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0.0),
        lost.len(),
        dead.len()
    );
    let hub = e
        .hubspot
        .received_requests()
        .await
        .unwrap_or_default()
        .len();
    let posts = e.slack_calls("chat.postMessage").await.len();
    let updates = e.slack_calls("chat.update").await.len();
    println!(
        "requests: HubSpot {hub} ({:.2} per message), Slack chat.postMessage {posts}, chat.update {updates}",
        hub as f64 / sent.len().max(1) as f64
    );
    assert!(lost.is_empty(), "lost: {:?}", &lost[..lost.len().min(10)]);
    assert!(dead.is_empty(), "{dead:?}");
}
