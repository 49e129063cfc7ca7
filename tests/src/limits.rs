//! Fakes that hold to the platforms' rate limits, mounted in front of the other mocks of a
//! wiremock server (a matcher that matches only a request over the limit, answered as the
//! platform answers it; every other request goes on to the usual mocks):
//! - HubSpot: 110 requests per rolling 10 seconds per portal for a public app
//!   (contracts/hubspot.md), 429 with `{"status":"error","errorType":"RATE_LIMIT",
//!   "policyName":"TEN_SECONDLY_ROLLING"}` and the `X-HubSpot-RateLimit-*` headers.
//!   Answers under the limit do not carry those headers here (the usual mocks answer them),
//!   so the client learns the window from its first 429.
//! - Slack: `chat.postMessage` one a second per channel after a burst of 10, `chat.update`
//!   and `chat.delete` 50 a minute per workspace after a burst of 10 (tier 3), 429 with
//!   `Retry-After` (contracts/slack.md).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

/// HubSpot's ten-second window.
#[derive(Clone)]
pub struct HubSpotLimit(Arc<HubSpotState>);

struct HubSpotState {
    max: usize,
    window: Duration,
    admitted: Mutex<VecDeque<Instant>>,
    refused: AtomicU64,
}

impl Match for HubSpotLimit {
    fn matches(&self, _r: &Request) -> bool {
        let s = &self.0;
        let now = Instant::now();
        let mut q = s.admitted.lock().unwrap_or_else(|e| e.into_inner());
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= s.window)
        {
            q.pop_front();
        }
        if q.len() >= s.max {
            s.refused.fetch_add(1, Ordering::SeqCst);
            return true;
        }
        q.push_back(now);
        false
    }
}

impl HubSpotLimit {
    /// Mounts HubSpot's limit (one portal: one token) in front of `server`'s mocks.
    pub async fn mount(server: &MockServer) -> HubSpotLimit {
        let limit = HubSpotLimit(Arc::new(HubSpotState {
            max: 110,
            window: Duration::from_secs(10),
            admitted: Mutex::new(VecDeque::new()),
            refused: AtomicU64::new(0),
        }));
        Mock::given(limit.clone())
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("X-HubSpot-RateLimit-Max", "110")
                    .insert_header("X-HubSpot-RateLimit-Remaining", "0")
                    .insert_header("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
                    .set_body_json(json!({
                        "status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                        "errorType": "RATE_LIMIT", "correlationId": "c0ffee00-0000-4000-8000-000000000000",
                        "policyName": "TEN_SECONDLY_ROLLING"
                    })),
            )
            .with_priority(1)
            .mount(server)
            .await;
        limit
    }

    /// The 429s answered so far.
    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::SeqCst)
    }
}

/// Slack's per-channel posting and tier-3 limits.
#[derive(Clone)]
pub struct SlackLimit(Arc<SlackState>);

struct SlackState {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    refused: AtomicU64,
}

const BURST: f64 = 10.0;

fn bucket(r: &Request) -> Option<(String, f64)> {
    let method = r.url.path().trim_start_matches('/');
    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    match method {
        "chat.postMessage" => Some((
            format!("post:{}", body["channel"].as_str().unwrap_or("")),
            1.0,
        )),
        "chat.update" | "chat.delete" => Some((method.to_string(), 50.0 / 60.0)),
        _ => None,
    }
}

impl Match for SlackLimit {
    fn matches(&self, r: &Request) -> bool {
        let Some((key, rate)) = bucket(r) else {
            return false;
        };
        let now = Instant::now();
        let mut b = self.0.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = b.entry(key).or_insert((BURST, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(BURST);
        *at = now;
        if *tokens < 1.0 {
            self.0.refused.fetch_add(1, Ordering::SeqCst);
            return true;
        }
        *tokens -= 1.0;
        false
    }
}

impl SlackLimit {
    pub async fn mount(server: &MockServer) -> SlackLimit {
        let limit = SlackLimit(Arc::new(SlackState {
            buckets: Mutex::new(HashMap::new()),
            refused: AtomicU64::new(0),
        }));
        Mock::given(limit.clone())
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("Retry-After", "1")
                    .set_body_json(json!({"ok": false, "error": "ratelimited"})),
            )
            .with_priority(1)
            .mount(server)
            .await;
        limit
    }

    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::SeqCst)
    }
}
