//! Helpers for the trust tests (soak, security, concurrency): a seeded RNG, fault injection
//! for wiremock, log capture with a scan for secrets, signed requests with extra headers,
//! and a full dump of the DynamoDB table.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use integration_tests::harness::{self, Env};
use shared::config::StoreSettings;
use shared::edge::verify;
use wiremock::{Match, Request, ResponseTemplate};

// ---------------------------------------------------------------- randomness ----

/// SplitMix64: small, seeded, reproducible for a given sequence of calls.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo)
    }
}

// ------------------------------------------------------------------- faults ----

/// What a fake server does with one request instead of answering normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// HTTP 429 (Slack: `Retry-After: 0`).
    RateLimited,
    /// HTTP 500 or 503.
    ServerError(u16),
    /// The normal answer, late (well inside the client's 5 s timeout).
    Slow(Duration),
    /// The connection is closed without an answer; the request is not applied.
    Dropped,
}

/// Faults injected at a set rate by a seeded RNG, with counts for the report. Of the faulty
/// requests: 25 % are 429s, 30 % 5xx, 25 % slow answers, 20 % dropped connections.
pub struct FaultPlan {
    rate: f64,
    rng: Mutex<Rng>,
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub server_errors: AtomicU64,
    pub slow: AtomicU64,
    pub dropped: AtomicU64,
    /// While false, nothing is injected (set-up and final checks).
    on: std::sync::atomic::AtomicBool,
}

impl FaultPlan {
    pub fn new(rate: f64, seed: u64) -> Arc<Self> {
        Arc::new(FaultPlan {
            rate,
            rng: Mutex::new(Rng::new(seed)),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            on: std::sync::atomic::AtomicBool::new(true),
        })
    }

    pub fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
    }

    /// Decided by the drop matcher, before any answer (wiremock picks the mock first).
    fn roll_drop(&self) -> bool {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if !self.on.load(Ordering::SeqCst) {
            return false;
        }
        let drop = self.rng.lock().unwrap().chance(self.rate * 0.20);
        if drop {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop
    }

    /// Decided by a fake's responder for a request that was not dropped.
    pub fn roll(&self) -> Fault {
        if !self.on.load(Ordering::SeqCst) {
            return Fault::None;
        }
        let mut rng = self.rng.lock().unwrap();
        // P(fault | not dropped) so that the overall split is as documented.
        let p = self.rate * 0.80 / (1.0 - self.rate * 0.20);
        if !rng.chance(p) {
            return Fault::None;
        }
        let x = rng.unit();
        if x < 0.25 / 0.80 {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
            Fault::RateLimited
        } else if x < 0.55 / 0.80 {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
            Fault::ServerError(if rng.chance(0.5) { 500 } else { 503 })
        } else {
            self.slow.fetch_add(1, Ordering::Relaxed);
            Fault::Slow(Duration::from_millis(rng.range(50, 600)))
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "{:>8} {:>6} {:>6} {:>6} {:>8}",
            self.requests.load(Ordering::Relaxed),
            self.rate_limited.load(Ordering::Relaxed),
            self.server_errors.load(Ordering::Relaxed),
            self.slow.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed)
        )
    }
}

/// Matches (and so drops) a request at the plan's drop rate. Mount it with
/// `.respond_with_err(..)` at a higher priority than the fake: wiremock 0.6 then returns an
/// error to hyper, which closes the connection without an answer.
pub struct DropSome(pub Arc<FaultPlan>);

impl Match for DropSome {
    fn matches(&self, _request: &Request) -> bool {
        self.0.roll_drop()
    }
}

/// The error a dropping mock returns.
pub fn connection_dropped(_: &Request) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "fault injection: connection dropped",
    )
}

/// Mounts the drop mock on a server (priority 1: before every fake).
pub async fn mount_drops(server: &wiremock::MockServer, plan: Arc<FaultPlan>) {
    wiremock::Mock::given(DropSome(plan))
        .respond_with_err(connection_dropped)
        .with_priority(1)
        .mount(server)
        .await;
}

/// A 429 or 5xx as Slack's Web API sends them.
pub fn slack_fault(f: Fault) -> Option<ResponseTemplate> {
    match f {
        Fault::RateLimited => Some(ResponseTemplate::new(429).insert_header("Retry-After", "0")),
        Fault::ServerError(s) => Some(ResponseTemplate::new(s).set_body_string("upstream error")),
        _ => None,
    }
}

/// A 429 or 5xx as HubSpot's API sends them.
pub fn hubspot_fault(f: Fault) -> Option<ResponseTemplate> {
    match f {
        Fault::RateLimited => Some(ResponseTemplate::new(429).set_body_json(serde_json::json!({
            "status": "error", "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"
        }))),
        Fault::ServerError(s) => Some(ResponseTemplate::new(s).set_body_json(serde_json::json!({
            "status": "error", "message": "internal error", "category": "INTERNAL_ERROR"
        }))),
        _ => None,
    }
}

/// Applies a slow fault to a normal answer.
pub fn maybe_slow(f: Fault, r: ResponseTemplate) -> ResponseTemplate {
    match f {
        Fault::Slow(d) => r.set_delay(d),
        _ => r,
    }
}

// --------------------------------------------------------------------- logs ----

#[derive(Clone)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

/// Installs (once per test binary) a global JSON subscriber that keeps every log line the
/// runner, the flows and the clients write during the run: ours at TRACE, dependencies at
/// INFO. `RUST_LOG` does not apply: the scan must see everything our code logs.
pub fn capture_logs() {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = SharedBuf(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,shared=trace,local_runner=trace,integration_tests=trace",
            ))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("another global subscriber was installed");
        buf
    });
}

/// Everything logged so far.
pub fn logs() -> String {
    LOGS.get()
        .map(|b| String::from_utf8_lossy(&b.lock().unwrap()).into_owned())
        .unwrap_or_default()
}

/// Writes the captured logs to the test target's tmp dir (for a look after a failure).
pub fn save_logs(name: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.jsonl"));
    let _ = std::fs::write(&path, logs());
    path
}

/// The length of the secret pieces looked for.
const PIECE: usize = 12;

/// The test secrets (and the decoded encryption key), plus `extra`.
fn secrets(extra: &[String]) -> Vec<String> {
    use base64::Engine as _;
    let key_bytes = base64::engine::general_purpose::STANDARD
        .decode(harness::TOKEN_KEY)
        .unwrap_or_default();
    let mut whole: Vec<String> = [
        harness::BOT_TOKEN,
        harness::HS_TOKEN,
        harness::SIGNING_SECRET,
        harness::HUBSPOT_SECRET,
        harness::TOKEN_KEY,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    whole.push(String::from_utf8_lossy(&key_bytes).into_owned());
    whole.push(hex::encode(&key_bytes));
    whole.extend(extra.iter().cloned());
    whole
}

/// Lines of `text` that hold a secret, a tell-tale token prefix, or any 12-byte piece of a
/// secret (each with the piece found). One pass over each line with a set of pieces.
pub fn secret_findings(text: &str, extra: &[String]) -> Vec<String> {
    let whole = secrets(extra);
    let mut pieces: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
    let mut short: Vec<&str> = vec!["xoxb-", "xoxp-", "pat-na1-", "Bearer "];
    for s in &whole {
        if s.len() < PIECE {
            short.push(s);
        } else {
            pieces.extend(s.as_bytes().windows(PIECE));
        }
    }
    let mut found = vec![];
    for line in text.lines() {
        let hit = short
            .iter()
            .find(|n| line.contains(**n))
            .map(|n| n.to_string())
            .or_else(|| {
                line.as_bytes()
                    .windows(PIECE)
                    .find(|w| pieces.contains(w))
                    .map(|w| String::from_utf8_lossy(w).into_owned())
            });
        if let Some(n) = hit {
            let shown: String = line.chars().take(300).collect();
            found.push(format!("{n:?} in: {shown}"));
        }
    }
    found
}

// ------------------------------------------------------------ requests ----

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Signature headers a test sent (so the log scan can look for them too).
static SIGNATURES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SIGNATURE_COUNT: AtomicU64 = AtomicU64::new(0);

fn remember_signature(sig: &str) {
    // A sample is enough; every request of a soak would make the scan slow.
    if SIGNATURE_COUNT
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(50)
    {
        SIGNATURES.lock().unwrap().push(sig.to_string());
    }
}

pub fn signatures_sent() -> Vec<String> {
    SIGNATURES.lock().unwrap().clone()
}

/// A Slack-signed POST with extra headers (e.g. `X-Slack-Retry-Num`), to `base` (a runner URL).
pub async fn slack_post(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    content_type: &str,
    body: &str,
    extra: &[(&str, String)],
    timeout: Duration,
) -> reqwest::Result<reqwest::Response> {
    let ts = now_ms() / 1000;
    let sig = verify::sign_slack(harness::SIGNING_SECRET.as_bytes(), ts, body.as_bytes());
    remember_signature(&sig);
    let mut req = http
        .post(format!("{base}{path}"))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sig)
        .timeout(timeout)
        .body(body.to_string());
    for (k, v) in extra {
        req = req.header(*k, v);
    }
    req.send().await
}

/// A HubSpot-v3-signed webhook POST to `base` (a runner URL), signed for `webhook_url`.
pub async fn hubspot_post(
    http: &reqwest::Client,
    base: &str,
    webhook_url: &str,
    body: &str,
    timeout: Duration,
) -> reqwest::Result<reqwest::Response> {
    let ts = now_ms();
    let sig = verify::sign_hubspot_v3(
        harness::HUBSPOT_SECRET.as_bytes(),
        "POST",
        webhook_url,
        body.as_bytes(),
        ts,
    );
    remember_signature(&sig);
    http.post(format!("{base}/hubspot/webhook"))
        .header("content-type", "application/json")
        .header("x-hubspot-signature-v3", sig)
        .header("x-hubspot-request-timestamp", ts.to_string())
        .timeout(timeout)
        .body(body.to_string())
        .send()
        .await
}

// ------------------------------------------------------------------ store ----

/// The runner's DynamoDB table name (the env must run with `Opts { dynamo: true, .. }`).
pub fn table_name(env: &Env) -> String {
    match &env.runner.app.settings.store {
        StoreSettings::Dynamo { table, .. } => table.clone(),
        StoreSettings::Embedded { .. } => panic!("this test needs the DynamoDB store"),
    }
}

/// Every item of a table, by (pk, sk), through a Scan of the DynamoDB-compatible server.
pub async fn dump_table(table: &str) -> BTreeMap<(String, String), String> {
    let client = integration_tests::stores::dynamodb_client().await;
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let resp = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .consistent_read(true)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "scan {table}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                )
            });
        for item in resp.items() {
            let s = |k: &str| {
                item.get(k)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            let mut attrs: Vec<String> = item.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            attrs.sort();
            out.insert((s("pk"), s("sk")), attrs.join(", "));
        }
        match resp.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => break,
        }
    }
    out
}

/// Waits until `f` holds (polling), up to `limit`.
pub async fn wait_until<F: FnMut() -> bool>(limit: Duration, mut f: F) -> bool {
    let end = tokio::time::Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
