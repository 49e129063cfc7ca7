//! A running bundle for tests: the local runner on a free port (real HTTP, the same handler
//! code as the Lambdas), with wiremock servers standing in for Slack and HubSpot.

use std::collections::HashMap;
use std::time::Duration;

use local_runner::Running;
use serde_json::{json, Value};
use shared::config::Settings;
use shared::edge::verify;
use shared::queue::RetryPolicy;
use shared::support::clock::Clock;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const SIGNING_SECRET: &str = "test-slack-signing-secret";
pub const HUBSPOT_SECRET: &str = "test-hubspot-client-secret";
pub const TOKEN_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const BOT_TOKEN: &str = "xoxb-test-bot-token-123";
pub const HS_TOKEN: &str = "pat-na1-test-private-app-token";
pub const PORTAL: &str = "22761544";
pub const TEAM: &str = "T0TEAM0001";
pub const CHANNEL: &str = "C0CHAN0001";
pub const BOT_USER: &str = "U0BOT00001";
pub const APP_ID: &str = "1098266";

/// What to start.
#[derive(Clone)]
pub struct Opts {
    pub single_workspace: bool,
    /// Run the store on DynamoDB (moto at DYNAMODB_ENDPOINT) instead of embedded.
    pub dynamo: bool,
    pub max_attempts: u32,
    /// The longest retry delay, also when the platform asked for longer (Retry-After); the
    /// short default keeps tests fast.
    pub max_delay: Duration,
    pub extra: Vec<(&'static str, String)>,
    /// Serve on a port picked before start and make PUBLIC_BASE_URL the runner's own URL,
    /// so OAuth redirects lead back to it (a browser following the whole chain).
    pub base_url_is_runner: bool,
    /// Run the flows on this inbox instead of HubSpot's API (the wiremock HubSpot then
    /// receives nothing).
    pub inbox: Option<std::sync::Arc<dyn shared::inbox::Inbox>>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            single_workspace: true,
            dynamo: false,
            max_attempts: 4,
            max_delay: Duration::from_millis(200),
            extra: vec![],
            base_url_is_runner: false,
            inbox: None,
        }
    }
}

pub struct Env {
    pub runner: Running,
    /// The bundle's clock: the system's, moved forward by `clock.advance_secs`; requests
    /// are signed by it.
    pub clock: std::sync::Arc<shared::support::clock::OffsetClock>,
    pub slack: MockServer,
    pub hubspot: MockServer,
    pub inbox: Inbox,
    pub http: reqwest::Client,
    /// The cookies the runner set, as a browser keeps them (name -> value).
    pub cookies: std::sync::Mutex<HashMap<String, String>>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub async fn start(opts: Opts) -> Env {
    let slack = MockServer::start().await;
    let hubspot = MockServer::start().await;
    let mut vars: HashMap<String, String> = [
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_string()),
        ("HUBSPOT_CLIENT_SECRET", HUBSPOT_SECRET.to_string()),
        ("TOKEN_ENCRYPTION_KEY", TOKEN_KEY.to_string()),
        ("HUBSPOT_APP_ID", APP_ID.to_string()),
        ("SLACK_API_URL", slack.uri()),
        // Shared files are served by the Slack fake too.
        ("SLACK_FILES_URL", slack.uri()),
        ("HUBSPOT_API_URL", hubspot.uri()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if opts.single_workspace {
        for (k, v) in [
            ("HUBSPOT_PORTAL_ID", PORTAL),
            ("HUBSPOT_ACCESS_TOKEN", HS_TOKEN),
            ("SLACK_TEAM_ID", TEAM),
            ("SLACK_BOT_TOKEN", BOT_TOKEN),
            ("SLACK_CHANNEL_ID", CHANNEL),
        ] {
            vars.insert(k.into(), v.into());
        }
    }
    if opts.dynamo {
        vars.insert(
            "DYNAMODB_ENDPOINT".into(),
            crate::stores::dynamodb_endpoint(),
        );
        vars.insert("TABLE_NAME".into(), crate::stores::unique_name("runner"));
    }
    // The Slack fakes do not limit rates (the pacing tests set Slack's own): unpaced, so
    // a test that posts hundreds of messages into one channel does not take minutes.
    vars.insert("SLACK_POSTS_PER_CHANNEL_PER_MIN".into(), "0".into());
    vars.insert("SLACK_TIER3_PER_MIN".into(), "0".into());
    vars.insert("HUBSPOT_REQUESTS_PER_10S".into(), "0".into());
    for (k, v) in &opts.extra {
        vars.insert(k.to_string(), v.clone());
    }
    let mut port = 0;
    if opts.base_url_is_runner {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        port = l.local_addr().expect("its address").port();
        drop(l);
        vars.insert("PUBLIC_BASE_URL".into(), format!("http://127.0.0.1:{port}"));
    }
    // The webhook URL HubSpot signs is PUBLIC_BASE_URL's; with port 0 we only learn the port
    // after binding, so tests sign against a fixed public URL instead.
    vars.entry("PUBLIC_BASE_URL".into())
        .or_insert_with(|| "https://hooks.example.test".into());
    let settings = Settings::from_lookup(&|k| vars.get(k).cloned(), None)
        .unwrap_or_else(|e| panic!("test settings: {e}"));
    if opts.dynamo {
        // The runner's SDK config reads these for a local endpoint.
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    let policy = RetryPolicy {
        max_attempts: opts.max_attempts,
        base_delay: Duration::from_millis(20),
        max_delay: opts.max_delay,
    };
    let clock = std::sync::Arc::new(shared::support::clock::OffsetClock::default());
    let runner = local_runner::start_with(
        settings,
        policy,
        port,
        opts.inbox.clone(),
        Some(clock.clone()),
    )
    .await
    .unwrap_or_else(|e| panic!("starting the local runner: {e:#}"));
    let inbox = Inbox::mount(&hubspot).await;
    Env {
        runner,
        clock,
        slack,
        hubspot,
        inbox,
        http: reqwest::Client::new(),
        cookies: Default::default(),
    }
}

impl Env {
    /// A `cookie` header with what the runner set so far, as a browser would send it.
    pub fn cookie_header(&self) -> Option<String> {
        let jar = self.cookies.lock().unwrap_or_else(|e| e.into_inner());
        (!jar.is_empty()).then(|| {
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Keeps the cookies an answer sets (`Max-Age=0` removes one).
    pub fn keep_cookies(&self, headers: &reqwest::header::HeaderMap) {
        let mut jar = self.cookies.lock().unwrap_or_else(|e| e.into_inner());
        for v in headers.get_all("set-cookie") {
            let Ok(v) = v.to_str() else { continue };
            let mut parts = v.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
                continue;
            };
            if parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0")) {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.runner.url())
    }

    /// POSTs a body signed as Slack signs it.
    pub async fn post_slack(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> reqwest::Response {
        let ts = self.clock.now_ms() / 1000;
        let sig = verify::sign_slack(SIGNING_SECRET.as_bytes(), ts, body.as_bytes());
        self.http
            .post(self.url(path))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sig)
            .body(body.to_string())
            .send()
            .await
            .expect("request to the runner")
    }

    pub async fn post_event(&self, body: &Value) -> reqwest::Response {
        self.post_slack("/slack/events", "application/json", &body.to_string())
            .await
    }

    /// POSTs a webhook batch signed as HubSpot signs it (v3).
    pub async fn post_webhook(&self, body: &Value) -> reqwest::Response {
        let body = body.to_string();
        let ts = self.clock.now_ms();
        let uri = self.runner.app.settings.webhook_url();
        let sig =
            verify::sign_hubspot_v3(HUBSPOT_SECRET.as_bytes(), "POST", &uri, body.as_bytes(), ts);
        self.http
            .post(self.url("/hubspot/webhook"))
            .header("content-type", "application/json")
            .header("x-hubspot-signature-v3", sig)
            .header("x-hubspot-request-timestamp", ts.to_string())
            .body(body)
            .send()
            .await
            .expect("request to the runner")
    }

    /// Waits until the in-process queue has run everything (10 s at most).
    pub async fn drain(&self) {
        self.drain_within(Duration::from_secs(10)).await
    }

    /// `drain`, for a queue that waits out rate limits.
    pub async fn drain_within(&self, limit: Duration) {
        let until = std::time::Instant::now() + limit;
        while std::time::Instant::now() < until {
            if self.runner.queue.pending_now() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the queue did not drain in {limit:?}");
    }

    /// The dead letters kept for the test portal.
    pub async fn dead_letters(&self) -> Vec<shared::domain::DeadLetter> {
        self.runner
            .app
            .records
            .list_dead_letters(PORTAL)
            .await
            .expect("dead letters readable")
    }

    /// The test portal's mapping of conversation `thread` (it must exist).
    pub async fn map(&self, thread: &str) -> shared::domain::ThreadMap {
        self.runner
            .app
            .records
            .get_thread(PORTAL, thread)
            .await
            .expect("the store answers")
            .unwrap_or_else(|| panic!("conversation {thread} has a mapping"))
    }

    /// JSON bodies of the requests Slack received for `api_method` (e.g. "chat.postMessage").
    pub async fn slack_calls(&self, api_method: &str) -> Vec<Value> {
        calls(&self.slack, &format!("/{api_method}")).await
    }

    /// Requests HubSpot received on `p` with method `m`.
    pub async fn hubspot_calls(&self, m: &str, p: &str) -> Vec<Value> {
        self.hubspot
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == m && r.url.path() == p)
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            .collect()
    }
}

pub async fn calls(server: &MockServer, p: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r: &Request| r.url.path() == p)
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

// ---------------- Slack fakes ----------------

/// chat.postMessage answering ok with increasing ts values; chat.update, chat.delete,
/// chat.postEphemeral ok.
pub async fn slack_ok(slack: &MockServer) {
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1));
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(move |_: &Request| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_json(
                json!({"ok": true, "channel": CHANNEL, "ts": format!("1700000001.{n:06}")}),
            )
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

/// users.info for one user.
pub async fn slack_user(slack: &MockServer, id: &str, name: &str, email: Option<&str>) {
    Mock::given(method("POST"))
        .and(path("/users.info"))
        .and(wiremock::matchers::body_string_contains(format!(
            "user={id}"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "user": {"id": id, "name": name, "real_name": name, "is_bot": false, "deleted": false,
                      "profile": {"display_name": name, "real_name": name, "email": email}}
        })))
        .mount(slack)
        .await;
}

/// Percent-encodes everything but RFC 3986's unreserved characters (form values).
pub fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A response_url endpoint on the Slack mock (`/respond/...`).
pub fn response_url(slack: &MockServer, name: &str) -> String {
    format!("{}/respond/{name}", slack.uri())
}

pub async fn respond_ok(slack: &MockServer) {
    Mock::given(method("POST"))
        .and(path_regex("^/respond/.*"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(slack)
        .await;
}

// ---------------- HubSpot fakes ----------------

pub const THREADS: &str = "/conversations/conversations/2026-09/threads";

pub fn thread_json(id: &str, channel: &str, status: &str, assigned: Option<&str>) -> Value {
    let mut t = json!({
        "id": id, "status": status, "archived": false, "spam": false, "inboxId": "147959634",
        "associatedContactId": "1401", "originalChannelId": channel, "originalChannelAccountId": "148662",
        "createdAt": "2026-11-27T10:00:00Z"
    });
    if let Some(a) = assigned {
        t["assignedTo"] = json!(a);
    }
    t
}

/// A visitor (INCOMING) or agent (OUTGOING) message.
pub fn message_json(id: &str, second: u32, direction: &str, text: &str) -> Value {
    let incoming = direction == "INCOMING";
    json!({
        "id": id, "type": "MESSAGE", "conversationsThreadId": "x",
        "createdAt": format!("2026-11-27T10:00:{second:02}.000Z"),
        "createdBy": if incoming { "V-1401" } else { "A-2620022" },
        "client": {"clientType": if incoming { "SYSTEM" } else { "HUBSPOT" }},
        "senders": [{"actorId": if incoming { "V-1401" } else { "A-2620022" }, "name": if incoming { "Vera Visitor" } else { "Ann Agent" },
                      "deliveryIdentifier": {"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": "0232d1661ef84248bd4923cce9d3b917"}}],
        "recipients": [], "text": text, "richText": format!("<div>{text}</div>"),
        "attachments": [], "channelId": "1000", "channelAccountId": "148662", "direction": direction,
        "truncationStatus": "NOT_TRUNCATED"
    })
}

/// A page of a thread's messages as HubSpot pages them: oldest first, `limit` a page (20
/// when not asked, at most 100), `paging.next.after` an opaque token while more follow; a
/// token it never gave is a 400.
fn messages_page(r: &Request, mut all: Vec<Value>) -> ResponseTemplate {
    all.sort_by(|a, b| {
        let k = |m: &Value| {
            (
                m["createdAt"].as_str().unwrap_or("").to_string(),
                m["id"].to_string(),
            )
        };
        k(a).cmp(&k(b))
    });
    let q: HashMap<String, String> = r.url.query_pairs().into_owned().collect();
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    let start = match q.get("after") {
        None => 0,
        Some(a) => match a
            .strip_prefix("NTI1NDc")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => n,
            None => return ResponseTemplate::new(400).set_body_json(json!({
                "status": "error", "message": "Invalid paging token", "category": "VALIDATION_ERROR"
            })),
        },
    };
    let end = (start + limit).min(all.len());
    let page: Vec<Value> = all.get(start.min(all.len())..end).unwrap_or(&[]).to_vec();
    let mut body = json!({"results": page});
    if end < all.len() {
        body["paging"] = json!({"next": {"after": format!("NTI1NDc{end}"), "link": "?after="}});
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// The threads list as HubSpot serves it for the reconciliation: sorted by
/// `latestMessageTimestamp` only together with `latestMessageTimestampAfter` (a 400
/// otherwise), each thread's latest message time its newest message's, paged by `after`
/// (`limit`, 20 when not asked, at most 100 here).
fn threads_page(r: &Request, all: &Threads) -> ResponseTemplate {
    let q: HashMap<String, String> = r.url.query_pairs().into_owned().collect();
    let invalid = |m: &str| {
        ResponseTemplate::new(400)
            .set_body_json(json!({"status": "error", "message": m, "category": "VALIDATION_ERROR"}))
    };
    if q.get("sort").map(String::as_str) != Some("latestMessageTimestamp") {
        return invalid("this stand-in serves the threads list sorted by latestMessageTimestamp");
    }
    let Some(after_ms) = q
        .get("latestMessageTimestampAfter")
        .and_then(|t| shared::inbox::hubspot::wire::parse_rfc3339_ms(t))
    else {
        return invalid(
            "latestMessageTimestampAfter is required when sorting by latestMessageTimestamp",
        );
    };
    let mut listed: Vec<(i64, String, Value)> = all
        .iter()
        .filter_map(|(id, (t, msgs))| {
            let latest = msgs
                .iter()
                .filter_map(|m| m["createdAt"].as_str())
                .filter_map(shared::inbox::hubspot::wire::parse_rfc3339_ms)
                .max()?;
            let mut t = t.clone();
            t["latestMessageTimestamp"] = json!(shared::support::clock::rfc3339_ms(latest));
            (latest > after_ms).then(|| (latest, id.clone(), t))
        })
        .collect();
    listed.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    let start = match q.get("after") {
        None => 0,
        Some(a) => match a.strip_prefix("VEhS").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => n,
            None => return invalid("Invalid paging token"),
        },
    };
    let end = (start + limit).min(listed.len());
    let page: Vec<Value> = listed
        .get(start.min(listed.len())..end)
        .unwrap_or(&[])
        .iter()
        .map(|(_, _, t)| t.clone())
        .collect();
    let mut body = json!({"results": page});
    if end < listed.len() {
        body["paging"] = json!({"next": {"after": format!("VEhS{end}")}});
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// A fake Conversations inbox: threads and their messages, changeable during a test. GET
/// thread, GET messages and POST message (a reply, appended as the inbox would, marked as
/// sent by our app) are served from this state.
/// Thread id -> (thread, its messages).
type Threads = HashMap<String, (Value, Vec<Value>)>;

#[derive(Clone, Default)]
pub struct Inbox {
    state: std::sync::Arc<std::sync::Mutex<Threads>>,
}

impl Inbox {
    pub async fn mount(hubspot: &MockServer) -> Inbox {
        let inbox = Inbox::default();
        let st = inbox.state.clone();
        Mock::given(method("GET"))
            .and(path_regex(format!("^{THREADS}/[0-9]+$")))
            .respond_with(move |r: &Request| {
                let id = r.url.path().rsplit('/').next().unwrap_or("").to_string();
                match st.lock().ok().and_then(|s| s.get(&id).map(|t| t.0.clone())) {
                    Some(t) => ResponseTemplate::new(200).set_body_json(t),
                    None => ResponseTemplate::new(404)
                        .set_body_json(json!({"status": "error", "message": "not found"})),
                }
            })
            .with_priority(3)
            .mount(hubspot)
            .await;
        let st = inbox.state.clone();
        Mock::given(method("GET"))
            .and(path(THREADS))
            .respond_with(move |r: &Request| match st.lock() {
                Ok(s) => threads_page(r, &s),
                Err(_) => ResponseTemplate::new(500),
            })
            .with_priority(3)
            .mount(hubspot)
            .await;
        let st = inbox.state.clone();
        Mock::given(method("GET"))
            .and(path_regex(format!("^{THREADS}/[0-9]+/messages$")))
            .respond_with(move |r: &Request| {
                let id = r.url.path().split('/').nth(5).unwrap_or("").to_string();
                match st.lock().ok().and_then(|s| s.get(&id).map(|t| t.1.clone())) {
                    Some(m) => messages_page(r, m),
                    None => ResponseTemplate::new(404),
                }
            })
            .with_priority(3)
            .mount(hubspot)
            .await;
        let st = inbox.state.clone();
        Mock::given(method("PATCH"))
            .and(path_regex(format!("^{THREADS}/[0-9]+$")))
            .respond_with(move |r: &Request| {
                let id = r.url.path().rsplit('/').next().unwrap_or("").to_string();
                let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                let mut s = match st.lock() {
                    Ok(s) => s,
                    Err(_) => return ResponseTemplate::new(500),
                };
                match s.get_mut(&id) {
                    Some(t) => {
                        if let Some(status) = body.get("status") {
                            t.0["status"] = status.clone();
                        }
                        ResponseTemplate::new(200).set_body_json(t.0.clone())
                    }
                    None => ResponseTemplate::new(404),
                }
            })
            .with_priority(3)
            .mount(hubspot)
            .await;
        // Assignment (Conversations 2026-09): PUT `{"actorId": "A-<userId>"}`, or DELETE.
        for verb in ["PUT", "DELETE"] {
            let st = inbox.state.clone();
            Mock::given(method(verb))
                .and(path_regex(format!("^{THREADS}/[0-9]+/assignee$")))
                .respond_with(move |r: &Request| {
                    let id = r.url.path().split('/').nth(5).unwrap_or("").to_string();
                    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                    let mut s = match st.lock() {
                        Ok(s) => s,
                        Err(_) => return ResponseTemplate::new(500),
                    };
                    match s.get_mut(&id) {
                        Some(t) if r.method.as_str() == "DELETE" => {
                            if let Some(o) = t.0.as_object_mut() {
                                o.remove("assignedTo");
                            }
                            ResponseTemplate::new(204)
                        }
                        Some(t) => match body["actorId"].as_str() {
                            Some(a) if a.starts_with("A-") => {
                                t.0["assignedTo"] = json!(a);
                                ResponseTemplate::new(204)
                            }
                            _ => ResponseTemplate::new(400).set_body_json(json!({
                                "status": "error", "message": "actorId is required", "category": "VALIDATION_ERROR"
                            })),
                        },
                        None => ResponseTemplate::new(404),
                    }
                })
                .with_priority(3)
                .mount(hubspot)
                .await;
        }
        let st = inbox.state.clone();
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1));
        Mock::given(method("POST"))
            .and(path_regex(format!("^{THREADS}/[0-9]+/messages$")))
            .respond_with(move |r: &Request| {
                let id = r.url.path().split('/').nth(5).unwrap_or("").to_string();
                let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut msg = message_json(
                    &format!("sent{n}"),
                    59,
                    "OUTGOING",
                    body["text"].as_str().unwrap_or(""),
                );
                msg["client"] = json!({"clientType": "INTEGRATION", "integrationAppId": APP_ID});
                msg["senders"][0]["actorId"] = body["senderActorId"].clone();
                msg["type"] = body["type"].clone();
                // Files sent by id come back described, as the inbox shows them.
                if let Some(a) = body["attachments"].as_array() {
                    msg["attachments"] = a
                        .iter()
                        .map(|f| {
                            let id = f["fileId"].as_str().unwrap_or("");
                            json!({"type": "FILE", "fileId": id, "name": format!("file-{id}"),
                                   "url": format!("https://files.example/{id}")})
                        })
                        .collect();
                }
                if let Ok(mut s) = st.lock() {
                    if let Some(t) = s.get_mut(&id) {
                        t.1.push(msg.clone());
                    }
                }
                ResponseTemplate::new(201).set_body_json(msg)
            })
            .with_priority(3)
            .mount(hubspot)
            .await;
        inbox
    }

    /// The thread as the inbox holds it now.
    pub fn thread(&self, id: &str) -> Option<Value> {
        self.state.lock().ok()?.get(id).map(|t| t.0.clone())
    }

    /// Sets a thread and its messages.
    pub fn set(&self, thread: &Value, messages: &[Value]) {
        let id = thread["id"].as_str().unwrap_or_default().to_string();
        if let Ok(mut s) = self.state.lock() {
            s.insert(id, (thread.clone(), messages.to_vec()));
        }
    }

    /// The messages of a thread now.
    pub fn messages(&self, id: &str) -> Vec<Value> {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.get(id).map(|t| t.1.clone()))
            .unwrap_or_default()
    }
}

/// Owner 2620022 (Ann Agent) and a contact 1401 with no owner.
pub async fn hubspot_people(hubspot: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/crm/owners/2026-03/2620022"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "41629779", "userId": 2620022, "email": "ann@example.com", "firstName": "Ann", "lastName": "Agent", "archived": false
        })))
        .mount(hubspot)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/owners/2026-03"))
        .respond_with(|r: &Request| {
            let wants_ann = r.url.query().is_some_and(|q| q.contains("ann%40example.com") || q.contains("ann@example.com"));
            let results = if wants_ann {
                json!([{"id": "41629779", "userId": 2620022, "email": "ann@example.com", "firstName": "Ann", "lastName": "Agent", "archived": false}])
            } else {
                json!([])
            };
            ResponseTemplate::new(200).set_body_json(json!({"results": results}))
        })
        .mount(hubspot)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/objects/2026-03/contacts/1401"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "1401", "properties": {"hubspot_owner_id": ""}})),
        )
        .mount(hubspot)
        .await;
}

pub fn event(kind: &str, thread: &str, extra: Value) -> Value {
    let mut e = json!({
        "eventId": now_ms() % 1_000_000_000, "subscriptionId": 1870311, "portalId": PORTAL.parse::<i64>().unwrap_or(0),
        "appId": APP_ID.parse::<i64>().unwrap_or(0), "occurredAt": now_ms(), "subscriptionType": kind,
        "attemptNumber": 0, "objectId": thread.parse::<i64>().unwrap_or(0), "changeSource": "CHAT"
    });
    if let (Some(o), Some(x)) = (e.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            o.insert(k.clone(), v.clone());
        }
    }
    e
}
