//! The events the benchmark feeds: API Gateway HTTP API (v2) events carrying freshly signed
//! samples from events/raw (made unique per request where the flow deduplicates), and SQS
//! events carrying delivery jobs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use integration_tests::harness::{HUBSPOT_SECRET, PORTAL, SIGNING_SECRET};
use local_runner::sample::{apigw_event, Signed};
use serde_json::{json, Value};
use shared::edge::verify;
use shared::queue::Job;

/// What the functions are told their public URL is (HubSpot signs the webhook URL under it).
pub const PUBLIC_BASE_URL: &str = "https://bench.example.test";
/// The live-chat conversation of the samples.
pub const THREAD: &str = "3624100517";
/// The Slack thread (notification ts) of the thread-reply sample.
pub const PARENT_TS: &str = "1700000000.000100";

static SEQ: AtomicU64 = AtomicU64::new(1);

fn next_seq() -> u64 {
    SEQ.fetch_add(1, Ordering::SeqCst)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub struct Samples {
    root: PathBuf,
    /// Distinguishes this run's ids from an earlier run's against the same queue.
    nonce: String,
}

impl Samples {
    pub fn new(repo_root: &Path, nonce: &str) -> Samples {
        Samples {
            root: repo_root.join("events"),
            nonce: nonce.to_string(),
        }
    }

    fn raw(&self, rel: &str) -> anyhow::Result<String> {
        let p = self.root.join("raw").join(rel);
        std::fs::read_to_string(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
    }

    fn slack(&self, path: &'static str, content_type: &'static str, body: String) -> Vec<u8> {
        let now = now_ms();
        let ts = now / 1000;
        let sig = verify::sign_slack(SIGNING_SECRET.as_bytes(), ts, body.as_bytes());
        let s = Signed {
            path,
            content_type,
            headers: vec![
                ("X-Slack-Signature".into(), sig),
                ("X-Slack-Request-Timestamp".into(), ts.to_string()),
            ],
            body,
        };
        serde_json::to_vec(&apigw_event(&s, now)).unwrap_or_default()
    }

    /// GET /health (oauth): the committed API Gateway event, no signature involved.
    pub fn health(&self) -> anyhow::Result<Vec<u8>> {
        let p = self.root.join("apigw/get/health.json");
        std::fs::read(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
    }

    /// POST /hubspot/webhook (chat-webhook): a new visitor message, unique event id.
    pub fn webhook_new_message(&self) -> anyhow::Result<Vec<u8>> {
        let mut v: Value = serde_json::from_str(&self.raw("hubspot-webhook/new-message.json")?)?;
        let now = now_ms();
        v[0]["eventId"] = json!(1_000_000_000u64 + next_seq());
        v[0]["occurredAt"] = json!(now);
        let body = v.to_string();
        let uri = format!("{PUBLIC_BASE_URL}/hubspot/webhook");
        let sig = verify::sign_hubspot_v3(
            HUBSPOT_SECRET.as_bytes(),
            "POST",
            &uri,
            body.as_bytes(),
            now,
        );
        let s = Signed {
            path: "/hubspot/webhook",
            content_type: "application/json",
            headers: vec![
                ("X-HubSpot-Signature-v3".into(), sig),
                ("X-HubSpot-Request-Timestamp".into(), now.to_string()),
            ],
            body,
        };
        Ok(serde_json::to_vec(&apigw_event(&s, now))?)
    }

    /// POST /slack/events (slack-events): an agent's reply in a notification's thread, with a
    /// unique event id (a repeated id would take the duplicate path).
    pub fn slack_thread_reply(&self) -> anyhow::Result<Vec<u8>> {
        let mut v: Value = serde_json::from_str(&self.raw("slack-events/thread-reply.json")?)?;
        let n = next_seq();
        v["event_id"] = json!(format!("Ev{}{n:08}", self.nonce));
        v["event"]["ts"] = json!(format!("1700000100.{n:06}"));
        v["event"]["event_ts"] = v["event"]["ts"].clone();
        Ok(self.slack("/slack/events", "application/json", v.to_string()))
    }

    /// POST /slack/commands (slash-commands): `/hs-chat-away`, a unique response_url.
    pub fn slash_away(&self) -> anyhow::Result<Vec<u8>> {
        let body = self
            .raw("slack-commands/away.form")?
            .replace("%2Fabc", &format!("%2Fabc{}{}", self.nonce, next_seq()));
        Ok(self.slack("/slack/commands", "application/x-www-form-urlencoded", body))
    }

    /// POST /slack/interactions (interactivity): a Claim click, each with its own
    /// `action_ts` (as each real click has; the queue deduplicates by it).
    pub fn claim(&self) -> anyhow::Result<Vec<u8>> {
        const AT: &str = "%22action_ts%22%3A%221700000050.123456%22";
        let raw = self.raw("slack-interactions/claim.form")?;
        anyhow::ensure!(raw.contains(AT), "claim.form has no action_ts to vary");
        let n = next_seq();
        let body = raw.replacen(
            AT,
            &format!(
                "%22action_ts%22%3A%22{}.{:06}%22",
                1_700_000_050 + n / 1_000_000,
                n % 1_000_000
            ),
            1,
        );
        Ok(self.slack(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            body,
        ))
    }

    /// The delivery worker's SQS event: one record carrying a conversation sync job.
    pub fn sqs_sync(&self) -> anyhow::Result<Vec<u8>> {
        let job = Job::SyncConversation {
            reason: Default::default(),
            message_id: None,
            portal_id: PORTAL.into(),
            thread_id: THREAD.into(),
        };
        let n = next_seq();
        let ev = json!({"Records": [{
            "messageId": format!("00000000-0000-4000-9000-{n:012x}"),
            "receiptHandle": format!("bench-{n}"),
            "body": serde_json::to_string(&job)?,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": now_ms().to_string(),
                "SenderId": "AIDAEXAMPLE",
                "ApproximateFirstReceiveTimestamp": now_ms().to_string(),
                "SequenceNumber": format!("{n:020}"),
                "MessageGroupId": job.group(),
                "MessageDeduplicationId": shared::queue::sqs_dedup_id(&format!("bench-{n}"))
            },
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench.fifo",
            "awsRegion": "us-east-1"
        }]});
        Ok(serde_json::to_vec(&ev)?)
    }
}
