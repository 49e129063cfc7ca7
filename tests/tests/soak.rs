//! Soak with faults: the local runner on the DynamoDB-compatible server (moto), with fake
//! Slack and HubSpot (wiremock, stateful) that answer a set share of requests with 429s,
//! 5xx, slow answers or a dropped connection. A driver plays many live chats at once in both
//! directions: visitors and inbox agents write in the inbox (HubSpot then delivers
//! webhooks), agents reply in the Slack threads (Slack delivers events). Both senders retry
//! as they really do: HubSpot re-sends a webhook with `attemptNumber + 1` on a non-2xx, an
//! error or a time-out, Slack re-sends an event with the same `event_id` and
//! `X-Slack-Retry-Num`; a time-out retry may arrive while the first attempt still runs, and
//! plain duplicates are sent too.
//!
//! At the end it prints a table (sent, delivered, duplicated, out of order, dead-lettered,
//! lost per direction) and holds the bar: nothing lost, nothing duplicated, nothing out of
//! order, no echo, every undelivered message accounted for by a dead letter, no secret in
//! the logs.
//!
//! Dropped connections: wiremock 0.6's `respond_with_err` makes hyper close the connection
//! without an answer; the fake's state is not touched, so a drop is a request that never
//! reached Slack or HubSpot. (A drop *after* Slack or HubSpot applied a request — the answer
//! lost on the way back — is not injected: neither `chat.postMessage` nor HubSpot's send
//! has an idempotency key, so no client can avoid a duplicate then; see the README.)
//!
//! Size and faults from the environment: SOAK_CONVERSATIONS (50), SOAK_MESSAGES (1000, both
//! directions together), SOAK_RATE (10 messages a second over all conversations: a steady
//! load the local stack sustains on 2 cores; moto, serialized, is the bottleneck),
//! SOAK_FAULT_RATE (0.10 of every request to Slack and HubSpot), SOAK_SEED,
//! SOAK_MAX_ATTEMPTS (queue attempts before a dead letter, 6), SOAK_DUP_RATE (0.05),
//! SOAK_EARLY_RETRY_RATE (0.03), SOAK_TIME_LIMIT_SECS (900). `scripts/soak.sh --large` runs
//! a bigger one.
//!
//! Rate limits as the platforms hold them stand in front of it all (`integration_tests::
//! limits`: HubSpot's 110 requests per 10 s, Slack's post a second per channel and tier 3),
//! and the client paces by the same rates; the conversations are in six inboxes routed to
//! six channels, so that at 10 messages a second each channel stays within Slack's rate.

mod support;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integration_tests::harness::{start, Opts, APP_ID, BOT_USER, CHANNEL, PORTAL, TEAM, THREADS};
use integration_tests::limits::{HubSpotLimit, SlackLimit};
use serde_json::{json, Value};
use shared::queue::Job;
use support::*;
use wiremock::matchers::any;
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const AGENT: &str = "U0AGENT001";
const AGENT_EMAIL: &str = "ann@example.com";
const AGENT_USER_ID: &str = "2620022";
const THREAD_BASE: u64 = 7_100_000_000;
/// The conversations are in this many inboxes, each routed to its own channel (the first
/// unrouted: the install's), so that each channel stays within Slack's one post a second.
const CHANNELS: usize = 6;

/// The inbox of conversation `conv`, and the channel it is routed to.
fn inbox_of(conv: usize) -> String {
    match conv % CHANNELS {
        0 => "147959634".to_string(),
        k => format!("91000{k}"),
    }
}

fn channel_of(conv: usize) -> String {
    match conv % CHANNELS {
        0 => CHANNEL.to_string(),
        k => format!("C0SOAK{k:04}"),
    }
}

/// The conversation of a thread id.
fn conv_of(thread: &str) -> usize {
    thread
        .parse::<u64>()
        .ok()
        .and_then(|t| t.checked_sub(THREAD_BASE))
        .map_or(0, |c| c as usize)
}

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Clone)]
struct Config {
    conversations: usize,
    messages: usize,
    fault_rate: f64,
    seed: u64,
    max_attempts: u32,
    /// Share of deliveries also sent again as a plain duplicate.
    dup_rate: f64,
    /// Share of delivery attempts the sender gives up on (time-out) while they still run.
    early_retry_rate: f64,
    /// Messages a second, all conversations together (a soak: a steady load, not a flood).
    rate: f64,
    time_limit: Duration,
}

impl Config {
    fn from_env() -> Self {
        Config {
            conversations: env_or("SOAK_CONVERSATIONS", 50usize).max(1),
            messages: env_or("SOAK_MESSAGES", 1000usize),
            fault_rate: env_or("SOAK_FAULT_RATE", 0.10f64).clamp(0.0, 0.9),
            seed: env_or("SOAK_SEED", 0x5eed_2026u64),
            max_attempts: env_or("SOAK_MAX_ATTEMPTS", 6u32).max(1),
            dup_rate: env_or("SOAK_DUP_RATE", 0.05f64),
            early_retry_rate: env_or("SOAK_EARLY_RETRY_RATE", 0.03f64),
            rate: env_or("SOAK_RATE", 10.0f64).max(0.1),
            time_limit: Duration::from_secs(env_or("SOAK_TIME_LIMIT_SECS", 900u64)),
        }
    }
}

// ------------------------------------------------------------------ the world ----

/// `createdAt` for the n-th message written to the fake inbox: one total order, 10 ms apart.
fn created_at(seq: u64) -> String {
    let total_ms = seq * 10;
    let (secs, ms) = (total_ms / 1000, total_ms % 1000);
    format!(
        "2026-11-27T{:02}:{:02}:{:02}.{ms:03}Z",
        10 + secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[derive(Debug, Clone)]
struct Post {
    channel: String,
    thread_ts: Option<String>,
    ts: String,
    /// `text` and the blocks, as sent.
    text: String,
}

/// What Slack and the inbox hold: the fakes change it, the driver and the checks read it.
struct World {
    slack_faults: Arc<FaultPlan>,
    hubspot_faults: Arc<FaultPlan>,
    /// Thread id -> (thread, messages in the order written).
    inbox: Mutex<HashMap<String, (Value, Vec<Value>)>>,
    seq: AtomicU64,
    message_ids: AtomicU64,
    posts: Mutex<Vec<Post>>,
    deleted: Mutex<HashSet<String>>,
    ephemerals: Mutex<Vec<Value>>,
    updates: AtomicU64,
    slack_ts: AtomicU64,
    /// newMessage webhooks HubSpot owes for messages our app sent (replies from Slack).
    echoes: tokio::sync::mpsc::UnboundedSender<(String, String)>,
}

impl World {
    fn message(&self, thread: &str, kind: char, text: &str) -> Value {
        let n = self.message_ids.fetch_add(1, Ordering::SeqCst);
        let (direction, actor, name, client) = match kind {
            'v' => (
                "INCOMING",
                "V-1401",
                "Vera Visitor",
                json!({"clientType": "SYSTEM"}),
            ),
            'a' => (
                "OUTGOING",
                "A-3000001",
                "Ian Inbox",
                json!({"clientType": "HUBSPOT"}),
            ),
            _ => (
                "OUTGOING",
                "A-2620022",
                "Ann Agent",
                json!({"clientType": "INTEGRATION", "integrationAppId": APP_ID}),
            ),
        };
        json!({
            "id": format!("msg{n:07}"), "type": "MESSAGE", "conversationsThreadId": thread,
            "createdBy": actor, "client": client,
            "senders": [{"actorId": actor, "name": name,
                          "deliveryIdentifier": {"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": "0232d1661ef84248bd4923cce9d3b917"}}],
            "recipients": [], "text": text, "attachments": [], "channelId": "1000",
            "channelAccountId": "148662", "direction": direction, "truncationStatus": "NOT_TRUNCATED"
        })
    }

    /// Writes a message into a thread (creating the thread with the first one); returns its id.
    fn write(&self, thread: &str, mut msg: Value) -> String {
        let id = msg["id"].as_str().unwrap_or_default().to_string();
        let mut inbox = self.inbox.lock().unwrap();
        // createdAt is taken under the lock: the inbox's order is the order of writes.
        msg["createdAt"] = json!(created_at(self.seq.fetch_add(1, Ordering::SeqCst)));
        let entry = inbox.entry(thread.to_string()).or_insert_with(|| {
            (
                json!({
                    "id": thread, "status": "OPEN", "archived": false, "spam": false,
                    "inboxId": inbox_of(conv_of(thread)), "associatedContactId": "1401",
                    "originalChannelId": "1000", "originalChannelAccountId": "148662",
                    "createdAt": "2026-11-27T10:00:00Z"
                }),
                vec![],
            )
        });
        entry.1.push(msg);
        id
    }

    fn parent_ts(&self, thread: &str) -> Option<String> {
        let needle = format!("HubSpot conversation {thread} ");
        let deleted = self.deleted.lock().unwrap().clone();
        self.posts
            .lock()
            .unwrap()
            .iter()
            .find(|p| p.thread_ts.is_none() && p.text.contains(&needle) && !deleted.contains(&p.ts))
            .map(|p| p.ts.clone())
    }
}

struct SlackFake(Arc<World>);

impl Respond for SlackFake {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let w = &self.0;
        let fault = w.slack_faults.roll();
        if let Some(t) = slack_fault(fault) {
            return t;
        }
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let ok = |extra: Value| {
            let mut v = json!({"ok": true});
            if let (Some(o), Some(x)) = (v.as_object_mut(), extra.as_object()) {
                o.extend(x.clone());
            }
            ResponseTemplate::new(200).set_body_json(v)
        };
        let resp = match r.url.path() {
            "/chat.postMessage" => {
                let n = w.slack_ts.fetch_add(1, Ordering::SeqCst);
                let ts = format!("1700000001.{n:06}");
                let channel = body["channel"].as_str().unwrap_or_default().to_string();
                w.posts.lock().unwrap().push(Post {
                    channel: channel.clone(),
                    thread_ts: body["thread_ts"].as_str().map(str::to_string),
                    ts: ts.clone(),
                    text: format!("{} {}", body["text"], body["blocks"]),
                });
                ok(json!({"channel": channel, "ts": ts}))
            }
            "/chat.update" => {
                w.updates.fetch_add(1, Ordering::SeqCst);
                ok(json!({}))
            }
            "/chat.delete" => {
                if let Some(ts) = body["ts"].as_str() {
                    w.deleted.lock().unwrap().insert(ts.to_string());
                }
                ok(json!({}))
            }
            "/chat.postEphemeral" => {
                w.ephemerals.lock().unwrap().push(body);
                ok(json!({"message_ts": "1700000099.000001"}))
            }
            "/users.info" => {
                let form = String::from_utf8_lossy(&r.body);
                if form.contains(AGENT) {
                    ok(
                        json!({"user": {"id": AGENT, "name": "ann", "real_name": "Ann Agent",
                        "is_bot": false, "deleted": false,
                        "profile": {"display_name": "Ann", "real_name": "Ann Agent", "email": AGENT_EMAIL}}}),
                    )
                } else {
                    ResponseTemplate::new(200)
                        .set_body_json(json!({"ok": false, "error": "user_not_found"}))
                }
            }
            _ => ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "unknown_method"})),
        };
        maybe_slow(fault, resp)
    }
}

struct HubSpotFake(Arc<World>);

impl HubSpotFake {
    fn threads(&self, r: &Request, rest: &str) -> ResponseTemplate {
        let w = &self.0;
        let not_found = || {
            ResponseTemplate::new(404)
                .set_body_json(json!({"status": "error", "message": "thread not found"}))
        };
        let parts: Vec<&str> = rest.split('/').collect();
        match (r.method.as_str(), parts.as_slice()) {
            ("GET", [id]) => match w.inbox.lock().unwrap().get(*id) {
                Some((t, _)) => ResponseTemplate::new(200).set_body_json(t.clone()),
                None => not_found(),
            },
            ("GET", [id, "messages"]) => {
                let q: HashMap<String, String> = r.url.query_pairs().into_owned().collect();
                let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
                let after: usize = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
                let inbox = w.inbox.lock().unwrap();
                let Some((_, msgs)) = inbox.get(*id) else {
                    return not_found();
                };
                let page: Vec<Value> = msgs.iter().skip(after).take(limit).cloned().collect();
                let mut body = json!({"results": page});
                if after + limit < msgs.len() {
                    body["paging"] = json!({"next": {"after": (after + limit).to_string()}});
                }
                ResponseTemplate::new(200).set_body_json(body)
            }
            ("POST", [id, "messages"]) => {
                if !w.inbox.lock().unwrap().contains_key(*id) {
                    return not_found();
                }
                let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                let mut msg = w.message(id, 'r', body["text"].as_str().unwrap_or(""));
                msg["senders"][0]["actorId"] = body["senderActorId"].clone();
                let mid = w.write(id, msg.clone());
                // HubSpot tells us about the new message too (echo prevention is ours).
                let _ = w.echoes.send((id.to_string(), mid));
                ResponseTemplate::new(201).set_body_json(msg)
            }
            _ => not_found(),
        }
    }
}

impl Respond for HubSpotFake {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let fault = self.0.hubspot_faults.roll();
        if let Some(t) = hubspot_fault(fault) {
            return t;
        }
        let ann = json!({"id": "41629779", "userId": 2620022, "email": AGENT_EMAIL,
                         "firstName": "Ann", "lastName": "Agent", "archived": false});
        let p = r.url.path();
        let resp = if let Some(rest) = p.strip_prefix(&format!("{THREADS}/")) {
            self.threads(r, rest)
        } else if p == "/crm/owners/2026-03" {
            let q = r.url.query().unwrap_or("");
            let hit = q.contains("ann%40example.com") || q.contains(AGENT_EMAIL);
            ResponseTemplate::new(200)
                .set_body_json(json!({"results": if hit { json!([ann]) } else { json!([]) }}))
        } else if p == format!("/crm/owners/2026-03/{AGENT_USER_ID}") {
            ResponseTemplate::new(200).set_body_json(ann)
        } else if p.starts_with("/crm/objects/2026-03/contacts/") {
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "1401", "properties": {"hubspot_owner_id": ""}}))
        } else {
            ResponseTemplate::new(404)
                .set_body_json(json!({"status": "error", "message": "no such path"}))
        };
        maybe_slow(fault, resp)
    }
}

// ------------------------------------------------------------------ the driver ----

/// A message the driver sent, in either direction.
#[derive(Debug, Clone)]
struct Sent {
    conv: usize,
    index: usize,
    /// 'v' visitor, 'a' agent in the inbox, 'r' agent reply in Slack.
    kind: char,
    token: String,
    /// Wall-clock ms when it was written (inbox) or first delivered (Slack).
    at: i64,
    /// Slack ts of a reply.
    ts: String,
}

#[derive(Default)]
struct SenderStats {
    webhook_deliveries: AtomicU64,
    event_deliveries: AtomicU64,
    attempts: AtomicU64,
    retries_after_failure: AtomicU64,
    early_retries: AtomicU64,
    duplicates: AtomicU64,
    never_accepted: AtomicU64,
}

struct Driver {
    cfg: Config,
    app: Arc<shared::app::App>,
    world: Arc<World>,
    http: reqwest::Client,
    base: String,
    webhook_url: String,
    rng: Mutex<Rng>,
    stats: SenderStats,
    sent: Mutex<Vec<Sent>>,
    /// Deliveries and background attempts still running.
    inflight: AtomicUsize,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    event_ids: AtomicU64,
}

fn token(conv: usize, kind: char, index: usize) -> String {
    format!("soak-c{conv:03}-{kind}{index:04}")
}

impl Driver {
    fn chance(&self, p: f64) -> bool {
        self.rng.lock().unwrap().chance(p)
    }

    fn range(&self, lo: u64, hi: u64) -> u64 {
        self.rng.lock().unwrap().range(lo, hi)
    }

    fn spawn(self: &Arc<Self>, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        self.inflight.fetch_add(1, Ordering::SeqCst);
        let me = self.clone();
        let h = tokio::spawn(async move {
            fut.await;
            me.inflight.fetch_sub(1, Ordering::SeqCst);
        });
        self.background.lock().unwrap().push(h);
    }

    fn webhook_event(&self, kind: &str, thread: &str, message_id: Option<&str>) -> Value {
        let mut e = json!({
            "eventId": self.event_ids.fetch_add(1, Ordering::SeqCst) + 1_000_000,
            "subscriptionId": 1870311, "portalId": PORTAL.parse::<i64>().unwrap_or(0),
            "appId": APP_ID.parse::<i64>().unwrap_or(0), "occurredAt": now_ms(),
            "subscriptionType": kind, "attemptNumber": 0,
            "objectId": thread.parse::<i64>().unwrap_or(0), "changeSource": "CHAT"
        });
        if let Some(m) = message_id {
            e["messageId"] = json!(m);
            e["messageType"] = json!("MESSAGE");
            e["changeFlag"] = json!("NEW_MESSAGE");
        }
        e
    }

    /// Delivers a webhook batch as HubSpot does: re-sent with `attemptNumber + 1` on a
    /// non-2xx, an error or a time-out (5 s), up to 10 times; sometimes a plain duplicate.
    async fn hubspot_deliver(self: &Arc<Self>, mut events: Vec<Value>) {
        self.inflight.fetch_add(1, Ordering::SeqCst);
        self.stats
            .webhook_deliveries
            .fetch_add(1, Ordering::Relaxed);
        let mut accepted = false;
        let mut last_body = String::new();
        for attempt in 0..10u64 {
            for e in &mut events {
                e["attemptNumber"] = json!(attempt);
            }
            let body = Value::Array(events.clone()).to_string();
            last_body = body.clone();
            self.stats.attempts.fetch_add(1, Ordering::Relaxed);
            if attempt < 9 && self.chance(self.cfg.early_retry_rate) {
                // HubSpot's time-out ran out while this attempt still runs.
                self.stats.early_retries.fetch_add(1, Ordering::Relaxed);
                let (http, base, url) = (
                    self.http.clone(),
                    self.base.clone(),
                    self.webhook_url.clone(),
                );
                self.spawn(async move {
                    let _ = hubspot_post(&http, &base, &url, &body, Duration::from_secs(30)).await;
                });
                continue;
            }
            match hubspot_post(
                &self.http,
                &self.base,
                &self.webhook_url,
                &body,
                Duration::from_secs(5),
            )
            .await
            {
                Ok(r) if r.status().is_success() => {
                    accepted = true;
                    break;
                }
                _ => {
                    self.stats
                        .retries_after_failure
                        .fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
                }
            }
        }
        if !accepted {
            self.stats.never_accepted.fetch_add(1, Ordering::Relaxed);
        }
        if self.chance(self.cfg.dup_rate) {
            self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
            let delay = Duration::from_millis(self.range(0, 400));
            let (http, base, url) = (
                self.http.clone(),
                self.base.clone(),
                self.webhook_url.clone(),
            );
            self.spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = hubspot_post(&http, &base, &url, &last_body, Duration::from_secs(5)).await;
            });
        }
        self.inflight.fetch_sub(1, Ordering::SeqCst);
    }

    /// Delivers an Events API body as Slack does: the same body and `event_id` again with
    /// `X-Slack-Retry-Num` on a non-2xx, an error or a time-out (3 s), three retries at most;
    /// sometimes a plain duplicate. True when one attempt was acknowledged.
    async fn slack_deliver(self: &Arc<Self>, body: String) -> bool {
        self.inflight.fetch_add(1, Ordering::SeqCst);
        self.stats.event_deliveries.fetch_add(1, Ordering::Relaxed);
        let mut accepted = false;
        let mut reason = "";
        for retry in 0..=3u64 {
            let mut headers = vec![];
            if retry > 0 {
                headers.push(("x-slack-retry-num", retry.to_string()));
                headers.push(("x-slack-retry-reason", reason.to_string()));
            }
            self.stats.attempts.fetch_add(1, Ordering::Relaxed);
            if retry < 3 && self.chance(self.cfg.early_retry_rate) {
                self.stats.early_retries.fetch_add(1, Ordering::Relaxed);
                let (http, base, b) = (self.http.clone(), self.base.clone(), body.clone());
                self.spawn(async move {
                    let _ = slack_post(
                        &http,
                        &base,
                        "/slack/events",
                        "application/json",
                        &b,
                        &headers,
                        Duration::from_secs(30),
                    )
                    .await;
                });
                reason = "http_timeout";
                continue;
            }
            match slack_post(
                &self.http,
                &self.base,
                "/slack/events",
                "application/json",
                &body,
                &headers,
                Duration::from_secs(3),
            )
            .await
            {
                Ok(r) if r.status().is_success() => {
                    accepted = true;
                    break;
                }
                Ok(_) => reason = "http_error",
                Err(e) if e.is_timeout() => reason = "http_timeout",
                Err(_) => reason = "connection_failed",
            }
            self.stats
                .retries_after_failure
                .fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20 * (retry + 1))).await;
        }
        if !accepted {
            self.stats.never_accepted.fetch_add(1, Ordering::Relaxed);
        }
        if self.chance(self.cfg.dup_rate) {
            self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
            let delay = Duration::from_millis(self.range(0, 400));
            let (http, base) = (self.http.clone(), self.base.clone());
            self.spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = slack_post(
                    &http,
                    &base,
                    "/slack/events",
                    "application/json",
                    &body,
                    &[],
                    Duration::from_secs(5),
                )
                .await;
            });
        }
        self.inflight.fetch_sub(1, Ordering::SeqCst);
        accepted
    }

    /// Writes a message into the inbox and delivers its webhook.
    async fn inbox_message(self: &Arc<Self>, conv: usize, index: usize, kind: char, first: bool) {
        let thread = (THREAD_BASE + conv as u64).to_string();
        let tok = token(conv, kind, index);
        // Now and then a visitor tries Slack markup; it must arrive inert.
        let text = if kind == 'v' && index % 7 == 3 {
            format!("{tok} <!channel> & <https://evil.example|your bank> <@{AGENT}>")
        } else {
            format!("{tok} hello from the inbox")
        };
        let msg = self.world.message(&thread, kind, &text);
        let at = now_ms();
        let id = self.world.write(&thread, msg);
        self.sent.lock().unwrap().push(Sent {
            conv,
            index,
            kind,
            token: tok,
            at,
            ts: String::new(),
        });
        let mut events = vec![];
        if first {
            events.push(self.webhook_event("conversation.creation", &thread, None));
        }
        events.push(self.webhook_event("conversation.newMessage", &thread, Some(&id)));
        self.hubspot_deliver(events).await;
    }

    /// An agent's reply in the conversation's Slack thread.
    async fn slack_reply(self: &Arc<Self>, conv: usize, index: usize, parent: &str) {
        let tok = token(conv, 'r', index);
        let ts = format!("{}.{index:06}", 1_710_000_000 + conv);
        let event_id = format!("Ev{conv:03}{index:05}{:x}", self.cfg.seed & 0xffff);
        let body = json!({
            "token": "verification-token", "team_id": TEAM, "api_app_id": "A0APP00001",
            "type": "event_callback", "event_id": event_id, "event_time": now_ms() / 1000,
            "event": {"type": "message", "channel": channel_of(conv), "user": AGENT,
                      "text": format!("{tok} thanks &amp; *see* <https://example.com/help|the guide>"),
                      "ts": ts, "thread_ts": parent, "parent_user_id": BOT_USER, "event_ts": ts,
                      "channel_type": "channel"},
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}]
        })
        .to_string();
        // Written in Slack: it must reach the inbox whether or not Slack's deliveries were
        // acknowledged in time.
        self.sent.lock().unwrap().push(Sent {
            conv,
            index,
            kind: 'r',
            token: tok,
            at: now_ms(),
            ts,
        });
        self.slack_deliver(body).await;
    }

    /// Waits (30 s at most) until the notification is in Slack and the bundle knows its
    /// thread: an agent replies to a notification they have seen. (A reply in the instant
    /// between the two is ignored by the bundle: see `concurrency.rs`.)
    async fn notified(&self, thread: &str) -> Option<String> {
        let w = self.world.clone();
        let t = thread.to_string();
        wait_until(Duration::from_secs(30), move || w.parent_ts(&t).is_some()).await;
        let parent = self.world.parent_ts(thread)?;
        for _ in 0..300 {
            if let Ok(Some(_)) = self
                .app
                .records
                .thread_for_slack(TEAM, &channel_of(conv_of(thread)), &parent)
                .await
            {
                return Some(parent);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    async fn conversation(self: Arc<Self>, conv: usize, count: usize) {
        let thread = (THREAD_BASE + conv as u64).to_string();
        let mut rng = Rng::new(self.cfg.seed ^ (conv as u64).wrapping_mul(0x9E37_79B9));
        // Paced: about `rate` messages a second over all conversations, with jitter.
        let interval = (self.cfg.conversations as f64 / self.cfg.rate * 1000.0) as u64;
        tokio::time::sleep(Duration::from_millis(rng.range(0, interval + 1))).await;
        self.inbox_message(conv, 0, 'v', true).await;
        let mut parent: Option<String> = None;
        for index in 1..count {
            let pause = rng.range(interval / 2, interval * 3 / 2 + 1);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let x = rng.unit();
            if x < 0.45 {
                if parent.is_none() {
                    parent = self.notified(&thread).await;
                }
                if let Some(p) = parent.clone() {
                    self.slack_reply(conv, index, &p).await;
                    continue;
                }
            }
            let kind = if x > 0.88 { 'a' } else { 'v' };
            self.inbox_message(conv, index, kind, false).await;
        }
    }
}

// ------------------------------------------------------------------ the checks ----

#[derive(Default, Debug)]
struct Row {
    sent: usize,
    delivered: usize,
    duplicated: usize,
    out_of_order: usize,
    dead_lettered: usize,
    lost: usize,
}

impl Row {
    fn line(&self, name: &str) -> String {
        format!(
            "{name:<16} {:>6} {:>10} {:>11} {:>13} {:>14} {:>5}",
            self.sent,
            self.delivered,
            self.duplicated,
            self.out_of_order,
            self.dead_lettered,
            self.lost
        )
    }
}

/// Tokens `soak-cNNN-kIIII` in a text, as (conv, kind, index).
fn tokens_in(text: &str) -> Vec<(usize, char, usize)> {
    let mut out = vec![];
    for (i, _) in text.match_indices("soak-c") {
        let rest = &text[i + 6..];
        if rest.len() < 9 {
            continue;
        }
        let (Ok(conv), Some(kind), Ok(index)) = (
            rest[..3].parse::<usize>(),
            rest[4..5].chars().next(),
            rest[5..9].parse::<usize>(),
        ) else {
            continue;
        };
        out.push((conv, kind, index));
    }
    out
}

/// Elements that arrive after an element that should come later.
fn inversions(seq: &[usize]) -> usize {
    let mut max = None;
    let mut n = 0;
    for &x in seq {
        match max {
            Some(m) if x < m => n += 1,
            _ => max = Some(x),
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_with_faults_loses_nothing() {
    capture_logs();
    let cfg = Config::from_env();
    let started = Instant::now();
    let (echo_tx, mut echo_rx) = tokio::sync::mpsc::unbounded_channel();
    let world = Arc::new(World {
        slack_faults: FaultPlan::new(cfg.fault_rate, cfg.seed ^ 0x51ac),
        hubspot_faults: FaultPlan::new(cfg.fault_rate, cfg.seed ^ 0x4b5),
        inbox: Mutex::new(HashMap::new()),
        seq: AtomicU64::new(0),
        message_ids: AtomicU64::new(1),
        posts: Mutex::new(vec![]),
        deleted: Mutex::new(HashSet::new()),
        ephemerals: Mutex::new(vec![]),
        updates: AtomicU64::new(0),
        slack_ts: AtomicU64::new(1),
        echoes: echo_tx,
    });
    let env = start(Opts {
        dynamo: true,
        max_attempts: cfg.max_attempts,
        // Retried when the platform or the pacing says, as SQS does.
        max_delay: Duration::from_secs(15),
        // The client paces by the platforms' own rates, as deployed.
        extra: vec![
            ("SLACK_POSTS_PER_CHANNEL_PER_MIN", "60".into()),
            ("SLACK_TIER3_PER_MIN", "50".into()),
            ("HUBSPOT_REQUESTS_PER_10S", "110".into()),
        ],
        ..Default::default()
    })
    .await;
    // The platforms' rate limits first (a request over them is answered 429 as the platform
    // does), then the injected faults, then the fakes.
    let hubspot_limit = HubSpotLimit::mount(&env.hubspot).await;
    let slack_limit = SlackLimit::mount(&env.slack).await;
    mount_drops(&env.slack, world.slack_faults.clone()).await;
    mount_drops(&env.hubspot, world.hubspot_faults.clone()).await;
    for conv in 1..CHANNELS.min(cfg.conversations) {
        env.runner
            .app
            .records
            .set_route(&shared::domain::InboxRoute {
                portal_id: PORTAL.into(),
                inbox_id: inbox_of(conv),
                channel_id: channel_of(conv),
                set_by: "U0ADMIN001".into(),
                set_at: 1,
                alerts: Default::default(),
            })
            .await
            .expect("route");
    }
    Mock::given(any())
        .respond_with(SlackFake(world.clone()))
        .with_priority(2)
        .mount(&env.slack)
        .await;
    Mock::given(any())
        .respond_with(HubSpotFake(world.clone()))
        .with_priority(2)
        .mount(&env.hubspot)
        .await;

    let driver = Arc::new(Driver {
        cfg: cfg.clone(),
        app: env.runner.app.clone(),
        world: world.clone(),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap(),
        base: env.runner.url(),
        webhook_url: env.runner.app.settings.webhook_url(),
        rng: Mutex::new(Rng::new(cfg.seed ^ 0xd21e)),
        stats: SenderStats::default(),
        sent: Mutex::new(vec![]),
        inflight: AtomicUsize::new(0),
        background: Mutex::new(vec![]),
        event_ids: AtomicU64::new(0),
    });
    // HubSpot's webhooks for the replies our app sends into the inbox.
    let echo_pending = Arc::new(AtomicUsize::new(0));
    let echo_task = {
        let d = driver.clone();
        let pending = echo_pending.clone();
        tokio::spawn(async move {
            while let Some((thread, mid)) = echo_rx.recv().await {
                pending.fetch_add(1, Ordering::SeqCst);
                let d2 = d.clone();
                let p2 = pending.clone();
                d.spawn(async move {
                    let ev = d2.webhook_event("conversation.newMessage", &thread, Some(&mid));
                    p2.fetch_sub(1, Ordering::SeqCst);
                    d2.hubspot_deliver(vec![ev]).await;
                });
            }
        })
    };

    // Every conversation at once, each with its share of the messages.
    let (c, m) = (cfg.conversations, cfg.messages.max(cfg.conversations));
    let mut convs = vec![];
    for conv in 0..c {
        let count = m / c + usize::from(conv < m % c);
        convs.push(tokio::spawn(driver.clone().conversation(conv, count)));
    }
    let deadline = started + cfg.time_limit;
    // Progress on stderr every 10 s (shown with --nocapture).
    let progress = {
        let (d, q) = (driver.clone(), env.runner.queue.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                eprintln!(
                    "soak: {:>4} s, {} messages sent, {} jobs pending, {} deliveries in flight",
                    started.elapsed().as_secs(),
                    d.sent.lock().unwrap().len(),
                    q.pending_now(),
                    d.inflight.load(Ordering::SeqCst)
                );
            }
        })
    };
    for h in convs {
        tokio::time::timeout_at(deadline.into(), h)
            .await
            .expect("soak time limit reached while sending")
            .expect("a conversation driver panicked");
    }
    let sending_done = started.elapsed();

    // Quiet: no job queued or running, no delivery or echo in flight, for a second.
    let queue = env.runner.queue.clone();
    let mut quiet_since: Option<Instant> = None;
    loop {
        let busy = queue.pending_now() > 0
            || driver.inflight.load(Ordering::SeqCst) > 0
            || echo_pending.load(Ordering::SeqCst) > 0;
        if busy {
            quiet_since = None;
        } else if quiet_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "soak time limit reached while draining: {} jobs pending, {} deliveries in flight",
            queue.pending_now(),
            driver.inflight.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    echo_task.abort();
    progress.abort();
    let elapsed = started.elapsed();

    // ---- what arrived where
    let sent = driver.sent.lock().unwrap().clone();
    let posts = world.posts.lock().unwrap().clone();
    let deleted = world.deleted.lock().unwrap().clone();
    let inbox = world.inbox.lock().unwrap().clone();
    let dead = env
        .runner
        .app
        .records
        .list_dead_letters(PORTAL)
        .await
        .expect("dead letters");
    let mut dead_syncs: Vec<(String, i64)> = vec![];
    let mut dead_replies: HashSet<String> = HashSet::new();
    for d in &dead {
        match serde_json::from_str::<Job>(&d.job) {
            Ok(Job::SyncConversation { thread_id, .. }) => dead_syncs.push((thread_id, d.at)),
            Ok(Job::SlackReply { ts, .. }) => {
                dead_replies.insert(ts);
            }
            other => panic!("unexpected dead letter {other:?}: {d:?}"),
        }
    }

    let mut to_slack = Row::default();
    let mut to_inbox = Row::default();
    let mut problems: Vec<String> = vec![];
    let mut echoes = 0usize;
    let mut injected = 0usize;
    for conv in 0..c {
        let thread = (THREAD_BASE + conv as u64).to_string();
        let needle = format!("HubSpot conversation {thread} ");
        let live: Vec<&Post> = posts.iter().filter(|p| !deleted.contains(&p.ts)).collect();
        let parents: Vec<&&Post> = live
            .iter()
            .filter(|p| p.thread_ts.is_none() && p.text.contains(&needle))
            .collect();
        if parents.len() > 1 {
            to_slack.duplicated += parents.len() - 1;
            problems.push(format!(
                "conversation {conv}: {} notifications",
                parents.len()
            ));
        }
        // Inbox -> Slack: the first message is in the notification, the rest in its thread.
        let mut seen: Vec<usize> = vec![];
        if let Some(parent) = parents.first() {
            // The card holds the first message twice (fallback text and quote): count it once.
            let mut in_card: Vec<usize> = tokens_in(&parent.text)
                .into_iter()
                .filter(|(cv, kind, _)| *cv == conv && *kind != 'r')
                .map(|(_, _, index)| index)
                .collect();
            in_card.dedup();
            seen.extend(in_card);
            for p in live
                .iter()
                .filter(|p| p.thread_ts.as_deref() == Some(parent.ts.as_str()))
            {
                if p.channel != channel_of(conv) {
                    problems.push(format!("post in channel {}", p.channel));
                }
                if p.text.contains("<!channel>")
                    || p.text.contains("<https://evil")
                    || p.text.contains(&format!("<@{AGENT}>"))
                {
                    injected += 1;
                }
                for (cv, kind, index) in tokens_in(&p.text) {
                    if cv != conv {
                        problems.push(format!("conversation {cv}'s message in {conv}'s thread"));
                    } else if kind == 'r' {
                        echoes += 1;
                    } else {
                        seen.push(index);
                    }
                }
            }
        }
        // Slack -> inbox: our app's messages in the conversation, in the inbox's order.
        let mut replies: Vec<usize> = vec![];
        if let Some((_, msgs)) = inbox.get(&thread) {
            for msg in msgs
                .iter()
                .filter(|m| m["client"]["clientType"] == "INTEGRATION")
            {
                if msg["senders"][0]["actorId"] != format!("A-{AGENT_USER_ID}") {
                    problems.push(format!("reply sent as {}", msg["senders"][0]["actorId"]));
                }
                for (cv, kind, index) in tokens_in(msg["text"].as_str().unwrap_or("")) {
                    if cv == conv && kind == 'r' {
                        replies.push(index);
                    }
                }
            }
        }
        for (row, got, want_r) in [
            (&mut to_slack, &seen, false),
            (&mut to_inbox, &replies, true),
        ] {
            let mine: Vec<&Sent> = sent
                .iter()
                .filter(|s| s.conv == conv && (s.kind == 'r') == want_r)
                .collect();
            row.sent += mine.len();
            let unique: HashSet<usize> = got.iter().copied().collect();
            row.duplicated += got.len() - unique.len();
            row.out_of_order += inversions(got);
            for s in mine {
                if unique.contains(&s.index) {
                    row.delivered += 1;
                    continue;
                }
                let accounted = if want_r {
                    dead_replies.contains(&s.ts)
                } else {
                    dead_syncs.iter().any(|(t, at)| *t == thread && *at >= s.at)
                };
                if accounted {
                    row.dead_lettered += 1;
                } else {
                    row.lost += 1;
                    problems.push(format!("lost: {}", s.token));
                }
            }
            let sent_indices: HashSet<usize> = sent
                .iter()
                .filter(|s| s.conv == conv && (s.kind == 'r') == want_r)
                .map(|s| s.index)
                .collect();
            for i in unique.difference(&sent_indices) {
                problems.push(format!(
                    "conversation {conv}: delivered {i} that was never sent"
                ));
            }
        }
    }

    let mut total = Row::default();
    for r in [&to_slack, &to_inbox] {
        total.sent += r.sent;
        total.delivered += r.delivered;
        total.duplicated += r.duplicated;
        total.out_of_order += r.out_of_order;
        total.dead_lettered += r.dead_lettered;
        total.lost += r.lost;
    }
    let log_path = save_logs("soak");
    let secrets = secret_findings(&logs(), &signatures_sent());
    let s = &driver.stats;
    let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!();
    println!(
        "soak: {} conversations, {} messages at {}/s, fault rate {:.2}, seed {:#x}, {} queue attempts, {:.1} s sending, {:.1} s in all",
        c, total.sent, cfg.rate, cfg.fault_rate, cfg.seed, cfg.max_attempts,
        sending_done.as_secs_f64(), elapsed.as_secs_f64()
    );
    println!(
        "{:<16} {:>6} {:>10} {:>11} {:>13} {:>14} {:>5}",
        "direction", "sent", "delivered", "duplicated", "out of order", "dead-lettered", "lost"
    );
    println!("{}", to_slack.line("inbox -> Slack"));
    println!("{}", to_inbox.line("Slack -> inbox"));
    println!("{}", total.line("total"));
    println!(
        "dead letters: {} ({} syncs, {} replies); agents told privately: {}; echoes: {echoes}; unescaped visitor markup: {injected}; card updates: {}",
        dead.len(), dead_syncs.len(), dead_replies.len(), world.ephemerals.lock().unwrap().len(),
        world.updates.load(Ordering::Relaxed)
    );
    println!(
        "platform rate limits ({CHANNELS} channels; HubSpot 110 per 10 s, Slack 1 post a second per channel, tier 3): 429s from HubSpot {}, from Slack {}",
        hubspot_limit.refused(),
        slack_limit.refused()
    );
    println!("faults injected  requests    429    5xx   slow  dropped");
    println!("  Slack         {}", world.slack_faults.summary());
    println!("  HubSpot       {}", world.hubspot_faults.summary());
    println!(
        "senders: {} webhook and {} event deliveries, {} attempts, {} retries after a failure, {} time-out retries while the first ran, {} plain duplicates, {} never acknowledged",
        ld(&s.webhook_deliveries), ld(&s.event_deliveries), ld(&s.attempts),
        ld(&s.retries_after_failure), ld(&s.early_retries), ld(&s.duplicates), ld(&s.never_accepted)
    );
    println!(
        "logs: {} ({} secret findings)",
        log_path.display(),
        secrets.len()
    );

    assert!(
        total.sent >= cfg.messages.max(c) * 9 / 10,
        "too few messages were sent: {}",
        total.sent
    );
    assert_eq!(total.lost, 0, "lost messages: {problems:?}");
    assert_eq!(total.duplicated, 0, "duplicates: {problems:?}");
    assert_eq!(total.out_of_order, 0, "out of order");
    assert_eq!(echoes, 0, "replies from Slack were posted back into Slack");
    assert_eq!(injected, 0, "visitor markup reached Slack unescaped");
    assert!(problems.is_empty(), "{problems:?}");
    assert!(secrets.is_empty(), "secrets in the logs: {secrets:#?}");
}

/// Two deliveries that fail for good in the same millisecond are both kept (the dead
/// letter's key is its time and id; the id was the time alone, so the second overwrote the
/// first and a message went unaccounted for).
#[tokio::test]
async fn dead_letters_of_one_millisecond_are_all_kept() {
    use shared::support::clock::FixedClock;
    let vars: HashMap<&str, String> = [
        ("SLACK_SIGNING_SECRET", "s".to_string()),
        ("HUBSPOT_CLIENT_SECRET", "h".to_string()),
        (
            "TOKEN_ENCRYPTION_KEY",
            integration_tests::harness::TOKEN_KEY.to_string(),
        ),
        ("PUBLIC_BASE_URL", "https://hooks.example.test".to_string()),
        ("SLACK_API_URL", "http://127.0.0.1:9".to_string()),
        ("HUBSPOT_API_URL", "http://127.0.0.1:9".to_string()),
    ]
    .into_iter()
    .collect();
    let settings =
        shared::config::Settings::from_lookup(&|k| vars.get(k).cloned(), None).expect("settings");
    let app = shared::app::App::new(
        settings,
        Arc::new(shared::store::embedded::EmbeddedStore::in_memory()),
        Arc::new(shared::queue::LocalQueue::new(Default::default())),
        shared::app::http_client().expect("http"),
        Arc::new(FixedClock::at_ms(1_790_000_000_000)),
    );
    for t in ["1", "2", "3"] {
        let job = Job::SyncConversation {
            reason: Default::default(),
            message_id: None,
            portal_id: PORTAL.into(),
            thread_id: t.into(),
        };
        shared::edge::worker::dead_letter(&app, &job, "failed for good").await;
    }
    let kept = app.records.list_dead_letters(PORTAL).await.unwrap();
    let mut threads: Vec<String> = kept
        .iter()
        .filter_map(|d| d.conversation_id.clone())
        .collect();
    threads.sort();
    assert_eq!(threads, ["1", "2", "3"], "{kept:?}");
}
