//! The durable hand-off between the HTTP acknowledgements and the slow work (Slack and
//! HubSpot API calls). In AWS: an SQS FIFO queue, grouped by conversation so one
//! conversation's jobs run one at a time and in order, with a dead-letter queue. Locally: an
//! in-process queue with the same guarantees (per-group order, retries with backoff, dead
//! letters kept in the store).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Mutex};

use crate::domain::{ReplyTo, SlackFile};

pub mod sqs_send;

/// One unit of slow work. Every job is idempotent: running it twice has the effect of once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Bring the conversation's Slack side up to date with the inbox: create the
    /// notification if missing, update it, post new messages into the thread in order.
    SyncConversation {
        portal_id: String,
        thread_id: String,
        /// What asked for it: what the sync may skip (absent in older jobs: a full sync).
        #[serde(default, skip_serializing_if = "SyncReason::is_full")]
        reason: SyncReason,
        /// The one new message that asked for it (a message-only sync), when named: one
        /// already in the thread, or this app's own reply, needs no inbox read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
    },
    /// The conversation was deleted (or privacy-deleted) in the inbox.
    DeleteConversation {
        portal_id: String,
        thread_id: String,
        privacy: bool,
    },
    /// An agent's reply in a Slack thread, to send to the inbox.
    SlackReply {
        portal_id: String,
        thread_id: String,
        team_id: String,
        channel_id: String,
        thread_ts: String,
        ts: String,
        user_id: String,
        text: String,
        /// The message carried files (those in `files` are sent on; the agent is told of any
        /// that are not).
        #[serde(default)]
        has_files: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<SlackFile>,
        /// Where the reply goes, as the conversation's mapping knew it (absent: read from
        /// the conversation's messages).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<ReplyTo>,
    },
    /// A reply in a thread under one of our messages that is not (yet) known as a
    /// conversation's notification: the notification may still be being stored (Slack
    /// showed it before the mapping's write). Resolved, it becomes a `SlackReply` in its
    /// conversation's group; never resolved, the agent is told it was not sent.
    UnmappedReply {
        team_id: String,
        channel_id: String,
        thread_ts: String,
        ts: String,
        user_id: String,
        text: String,
        #[serde(default)]
        has_files: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<SlackFile>,
    },
    /// An agent edited or deleted, in Slack, a reply already sent to the inbox.
    SlackEdit {
        portal_id: String,
        thread_id: String,
        team_id: String,
        channel_id: String,
        thread_ts: String,
        user_id: String,
        deleted: bool,
    },
    /// A slash command whose answer needs API calls (answered through `response_url`).
    SlashCommand {
        team_id: String,
        user_id: String,
        command: String,
        text: String,
        response_url: String,
    },
    /// A button click that needs API calls (Claim, Close, ...).
    Interaction {
        team_id: String,
        user_id: String,
        action_id: String,
        value: String,
        channel_id: String,
        message_ts: String,
        response_url: String,
    },
    /// A Slack event, acknowledged at the edge after the one deduplicating write: the
    /// worker reads what it needs and queues the job it asks for (`event`: the Events API
    /// `event` object as Slack sent it). `channel_id` and `thread_ts` order a thread's events
    /// (empty for a workspace's own events).
    SlackEvent {
        team_id: String,
        event_id: String,
        bot_user: Option<String>,
        channel_id: String,
        thread_ts: String,
        event: String,
    },
    /// A reaction added to or removed from a message (a card's: a shortcut).
    Reaction {
        team_id: String,
        user_id: String,
        channel_id: String,
        ts: String,
        reaction: String,
        added: bool,
    },
    /// Refresh a user's App Home tab.
    PublishHome { team_id: String, user_id: String },
    /// A settings click in the Home tab (channel, notifications on/off, disconnect);
    /// `value` is the picked channel or the button's value.
    HomeAction {
        team_id: String,
        user_id: String,
        action_id: String,
        value: String,
    },
    /// The Slack app was uninstalled or its tokens revoked.
    Deactivate { team_id: String, reason: String },
    /// The app was removed from a channel (`channel_left`, `group_left`, or
    /// `member_left_channel` for the bot).
    ChannelLost { team_id: String, channel_id: String },
    /// An install's timed work is due (the sweep): the reconciliation with the inbox, the
    /// daily digest, whichever is due at `due` (epoch s).
    InstallTimers { portal_id: String, due: i64 },
}

impl Job {
    /// The ordering group: jobs of one group run one at a time, in order.
    pub fn group(&self) -> String {
        match self {
            // A reply shares its conversation's group, so the sync that the inbox's webhook for
            // that reply triggers runs after the reply is recorded (no echo).
            Job::SyncConversation {
                portal_id,
                thread_id,
                ..
            }
            | Job::DeleteConversation {
                portal_id,
                thread_id,
                ..
            }
            | Job::SlackReply {
                portal_id,
                thread_id,
                ..
            }
            | Job::SlackEdit {
                portal_id,
                thread_id,
                ..
            } => format!("conv:{portal_id}:{thread_id}"),
            Job::SlashCommand {
                team_id, user_id, ..
            }
            | Job::PublishHome { team_id, user_id } => format!("user:{team_id}:{user_id}"),
            Job::Interaction {
                team_id,
                channel_id,
                message_ts,
                ..
            } => format!("slack:{team_id}:{channel_id}:{message_ts}"),
            Job::SlackEvent {
                team_id,
                channel_id,
                thread_ts,
                ..
            } if !channel_id.is_empty() => format!("slack:{team_id}:{channel_id}:{thread_ts}"),
            Job::SlackEvent { team_id, .. } => format!("team:{team_id}"),
            // A card's reactions and clicks run one at a time, in order.
            Job::Reaction {
                team_id,
                channel_id,
                ts,
                ..
            } => format!("slack:{team_id}:{channel_id}:{ts}"),
            // Until its conversation is known, a thread's replies wait in the thread's group,
            // in order.
            Job::UnmappedReply {
                team_id,
                channel_id,
                thread_ts,
                ..
            } => format!("slack:{team_id}:{channel_id}:{thread_ts}"),
            // One workspace's settings changes and deactivation run one at a time, in order.
            Job::Deactivate { team_id, .. }
            | Job::HomeAction { team_id, .. }
            | Job::ChannelLost { team_id, .. } => format!("team:{team_id}"),
            Job::InstallTimers { portal_id, .. } => format!("install:{portal_id}"),
        }
    }

    /// The conversation (thread id) the job is about, for logs and dead letters.
    pub fn conversation_id(&self) -> Option<String> {
        match self {
            Job::SyncConversation { thread_id, .. }
            | Job::DeleteConversation { thread_id, .. }
            | Job::SlackReply { thread_id, .. }
            | Job::SlackEdit { thread_id, .. } => Some(thread_id.clone()),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Job::SyncConversation { .. } => "sync_conversation",
            Job::DeleteConversation { .. } => "delete_conversation",
            Job::SlackReply { .. } => "slack_reply",
            Job::SlackEdit { .. } => "slack_edit",
            Job::UnmappedReply { .. } => "unmapped_reply",
            Job::SlashCommand { .. } => "slash_command",
            Job::Interaction { .. } => "interaction",
            Job::Reaction { .. } => "reaction",
            Job::SlackEvent { .. } => "slack_event",
            Job::PublishHome { .. } => "publish_home",
            Job::HomeAction { .. } => "home_action",
            Job::Deactivate { .. } => "deactivate",
            Job::ChannelLost { .. } => "channel_lost",
            Job::InstallTimers { .. } => "install_timers",
        }
    }
}

/// How a job ended when it did not succeed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JobError {
    /// Worth another try (rate limit, 5xx, timeout, a concurrent writer); `after` is a hint.
    #[error("retryable: {reason}")]
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Will never succeed; kept as a dead letter and reported.
    #[error("failed: {0}")]
    Fatal(String),
}

impl JobError {
    pub fn retry(reason: impl Into<String>) -> Self {
        JobError::Retry {
            reason: reason.into(),
            after: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("could not enqueue: {0}")]
pub struct QueueError(pub String);

/// Why a conversation is synced, which decides what it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncReason {
    /// Anything that may change the thread itself (a new chat, its status, assignee or
    /// inbox, a redraw): the thread and its newest messages are read.
    #[default]
    Full,
    /// Only new messages (`conversation.newMessage`): the thread as stored is trusted for a
    /// few minutes, so only the newest messages page is read.
    Messages,
    /// A timer of the conversation is due (the card's coalesced update, a waiting
    /// visitor's alert or escalation): nothing is read from the inbox.
    CardDue,
}

impl SyncReason {
    pub fn is_full(&self) -> bool {
        *self == SyncReason::Full
    }

    /// Two reasons for one conversation in one batch: the one that reads more.
    pub fn merge(self, other: SyncReason) -> SyncReason {
        match (self, other) {
            (SyncReason::Full, _) | (_, SyncReason::Full) => SyncReason::Full,
            (SyncReason::Messages, _) | (_, SyncReason::Messages) => SyncReason::Messages,
            _ => SyncReason::CardDue,
        }
    }
}

/// The producer side.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Queues `job`; `dedup_id` makes a repeated enqueue of the same event a no-op where
    /// the queue supports it (SQS FIFO, five minutes).
    async fn enqueue(&self, job: Job, dedup_id: &str) -> Result<(), QueueError>;
    /// Jobs queued or running (local queue only; None when unknown).
    fn pending(&self) -> Option<usize> {
        None
    }
    /// Makes a received message that failed visible again after `after` rather than after
    /// the queue's whole visibility timeout (SQS; the local queue schedules its own retries).
    async fn retry_after(&self, _receipt_handle: &str, _after: Duration) -> Result<(), QueueError> {
        Ok(())
    }
}

/// Runs a job; implemented by the flows (`worker::run_job`).
#[async_trait]
pub trait JobRunner: Send + Sync + 'static {
    async fn run(&self, job: &Job, attempt: u32) -> Result<(), JobError>;
    /// Called once a job has failed for good: keep it and tell someone.
    async fn dead_letter(&self, job: &Job, error: &str);
}

// ---------------- SQS FIFO ----------------

/// Producer for the SQS FIFO queue.
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    /// The lean SendMessage (`sqs_send`), when the configuration gives one.
    sender: Option<sqs_send::SqsSender>,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        SqsQueue {
            client,
            url: url.into(),
            sender: None,
        }
    }

    /// Sends with `sender` rather than the SDK's client (the edge's acknowledgement path).
    pub fn with_sender(mut self, sender: Option<sqs_send::SqsSender>) -> Self {
        self.sender = sender;
        self
    }
}

/// SQS caps the deduplication id at 128 characters of a limited alphabet: hash it.
pub fn sqs_dedup_id(raw: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(raw.as_bytes()))
}

/// SQS caps the group id at 128 characters.
pub fn sqs_group_id(group: &str) -> String {
    if group.len() <= 128 {
        group.to_string()
    } else {
        sqs_dedup_id(group)
    }
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn enqueue(&self, job: Job, dedup_id: &str) -> Result<(), QueueError> {
        let body = serde_json::to_string(&job).map_err(|e| QueueError(e.to_string()))?;
        if let Some(s) = &self.sender {
            return s
                .send(
                    &self.url,
                    &body,
                    &sqs_group_id(&job.group()),
                    &sqs_dedup_id(dedup_id),
                )
                .await;
        }
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_group_id(sqs_group_id(&job.group()))
            .message_deduplication_id(sqs_dedup_id(dedup_id))
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }

    async fn retry_after(&self, receipt_handle: &str, after: Duration) -> Result<(), QueueError> {
        // SQS takes 0..=43200 seconds.
        let secs = after.as_secs().clamp(0, 43_200) as i32;
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(secs)
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}

/// The delay before an SQS retry: the server's hint when there is one, else exponential
/// from 2 s by receive count, capped at 5 minutes (under the visibility timeout of 6).
pub fn sqs_retry_delay(receives: u32, hint: Option<Duration>) -> Duration {
    let exp = Duration::from_secs(2u64 << receives.saturating_sub(1).min(8));
    hint.unwrap_or(exp).min(Duration::from_secs(300))
}

// ---------------- in-process ----------------

/// Retry policy for the in-process queue (the SQS queue's is its redrive policy).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff, or the server's hint when it gave one (capped).
    pub fn delay(&self, attempt: u32, hint: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        hint.unwrap_or(exp).min(self.max_delay)
    }
}

type GroupSenders = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Job>>>>;

/// In-process queue: one task per group runs that group's jobs in order; groups run
/// concurrently. A job that keeps failing blocks its group until it is dead-lettered,
/// as an SQS FIFO group does.
#[derive(Clone)]
pub struct LocalQueue {
    groups: GroupSenders,
    pending: Arc<AtomicUsize>,
    runner: Arc<std::sync::OnceLock<Arc<dyn JobRunner>>>,
    policy: RetryPolicy,
}

impl LocalQueue {
    pub fn new(policy: RetryPolicy) -> Self {
        LocalQueue {
            groups: Arc::new(Mutex::new(HashMap::new())),
            pending: Arc::new(AtomicUsize::new(0)),
            runner: Arc::new(std::sync::OnceLock::new()),
            policy,
        }
    }

    /// Jobs queued or running now.
    pub fn pending_now(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Sets who runs the jobs (the app, built after the queue). Jobs queued before this wait.
    pub fn set_runner(&self, runner: Arc<dyn JobRunner>) {
        let _ = self.runner.set(runner);
    }

    fn spawn_group(&self, group: String) -> mpsc::UnboundedSender<Job> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let job = match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
                    Ok(Some(job)) => job,
                    Ok(None) => break,
                    Err(_) => {
                        // Idle: retire this group's task. Under the map's lock (no enqueue in
                        // between), close the channel and take what arrived meanwhile; those
                        // jobs go first to a successor task, so they never run beside (or
                        // after) jobs enqueued once this task is out of the map.
                        let mut groups = me.groups.lock().await;
                        rx.close();
                        let mut left = vec![];
                        while let Ok(job) = rx.try_recv() {
                            left.push(job);
                        }
                        if left.is_empty() {
                            groups.remove(&group);
                        } else {
                            let next = me.spawn_group(group.clone());
                            for job in left {
                                let _ = next.send(job);
                            }
                            groups.insert(group.clone(), next);
                        }
                        break;
                    }
                };
                me.run_with_retries(&job).await;
            }
        });
        tx
    }

    async fn run_with_retries(&self, job: &Job) {
        let runner = loop {
            if let Some(r) = self.runner.get() {
                break r.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let mut attempt = 1;
        let conversation = job.conversation_id();
        loop {
            let started = std::time::Instant::now();
            let result = runner.run(job, attempt).await;
            let outcome = match &result {
                Ok(()) => crate::support::metrics::JobOutcome::Delivered,
                Err(JobError::Retry { .. }) if attempt < self.policy.max_attempts => {
                    crate::support::metrics::JobOutcome::Retry
                }
                Err(_) => crate::support::metrics::JobOutcome::DeadLetter,
            };
            crate::support::metrics::job(
                job.kind(),
                conversation.as_deref(),
                attempt,
                outcome,
                started.elapsed(),
            );
            match result {
                Ok(()) => break,
                Err(JobError::Retry { reason, after }) if attempt < self.policy.max_attempts => {
                    let delay = self.policy.delay(attempt, after);
                    tracing::warn!(job = job.kind(), group = %job.group(), attempt, reason = %reason, delay_ms = delay.as_millis() as u64, "job failed, retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!(job = job.kind(), group = %job.group(), conversation = job.conversation_id().as_deref().unwrap_or(""), attempt, error = %e, "job failed for good; dead-lettered");
                    runner.dead_letter(job, &e.to_string()).await;
                    break;
                }
            }
        }
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl JobQueue for LocalQueue {
    async fn enqueue(&self, job: Job, _dedup_id: &str) -> Result<(), QueueError> {
        let group = job.group();
        self.pending.fetch_add(1, Ordering::SeqCst);
        let mut groups = self.groups.lock().await;
        let tx = match groups.get(&group) {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let tx = self.spawn_group(group.clone());
                groups.insert(group, tx.clone());
                tx
            }
        };
        if let Err(mpsc::error::SendError(job)) = tx.send(job) {
            // The group task retired between lookup and send: start another.
            let group = job.group();
            let tx = self.spawn_group(group.clone());
            groups.insert(group, tx.clone());
            tx.send(job)
                .map_err(|_| QueueError("local queue closed".into()))?;
        }
        Ok(())
    }

    fn pending(&self) -> Option<usize> {
        Some(self.pending.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    #[test]
    fn sqs_retries_follow_the_hint_else_back_off_under_the_visibility_timeout() {
        let s = Duration::from_secs;
        assert_eq!(sqs_retry_delay(1, Some(s(7))), s(7), "Retry-After wins");
        assert_eq!(sqs_retry_delay(1, None), s(2));
        assert_eq!(sqs_retry_delay(2, None), s(4));
        assert_eq!(sqs_retry_delay(4, None), s(16));
        assert_eq!(sqs_retry_delay(30, None), s(300), "capped");
        assert_eq!(sqs_retry_delay(1, Some(s(3600))), s(300), "capped");
    }

    #[test]
    fn an_unlinked_reply_waits_in_its_slack_thread_group() {
        let j = Job::UnmappedReply {
            team_id: "T1".into(),
            channel_id: "C1".into(),
            thread_ts: "1.2".into(),
            ts: "1.3".into(),
            user_id: "U1".into(),
            text: "hi".into(),
            has_files: true,
            files: vec![SlackFile {
                id: "F1".into(),
                name: "a.png".into(),
                url: Some("https://files.slack.com/a".into()),
                ..Default::default()
            }],
        };
        assert_eq!(j.group(), "slack:T1:C1:1.2");
        assert_eq!(j.kind(), "unmapped_reply");
        let back: Job = serde_json::from_str(&serde_json::to_string(&j).unwrap()).unwrap();
        assert_eq!(back, j);
    }

    struct Recorder {
        seen: StdMutex<Vec<(String, u32)>>,
        fail_first: StdMutex<HashMap<String, u32>>,
        dead: StdMutex<Vec<String>>,
    }

    #[async_trait]
    impl JobRunner for Recorder {
        async fn run(&self, job: &Job, attempt: u32) -> Result<(), JobError> {
            let Job::SyncConversation { thread_id, .. } = job else {
                return Ok(());
            };
            self.seen.lock().unwrap().push((thread_id.clone(), attempt));
            let mut f = self.fail_first.lock().unwrap();
            let left = f.entry(thread_id.clone()).or_insert(0);
            if *left > 0 {
                *left -= 1;
                return Err(JobError::retry("boom"));
            }
            Ok(())
        }
        async fn dead_letter(&self, job: &Job, _error: &str) {
            self.dead.lock().unwrap().push(format!("{job:?}"));
        }
    }

    fn sync(t: &str) -> Job {
        Job::SyncConversation {
            portal_id: "1".into(),
            thread_id: t.into(),
            reason: SyncReason::Full,
            message_id: None,
        }
    }

    async fn drain(q: &LocalQueue) {
        for _ in 0..500 {
            if q.pending() == Some(0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("queue did not drain");
    }

    #[tokio::test]
    async fn retries_then_dead_letters_and_keeps_group_order() {
        let q = LocalQueue::new(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        });
        let r = Arc::new(Recorder {
            seen: StdMutex::new(vec![]),
            fail_first: StdMutex::new(HashMap::from([("a".into(), 1), ("x".into(), 10)])),
            dead: StdMutex::new(vec![]),
        });
        q.set_runner(r.clone());
        q.enqueue(sync("a"), "1").await.unwrap();
        q.enqueue(sync("x"), "2").await.unwrap();
        drain(&q).await;
        let seen = r.seen.lock().unwrap().clone();
        assert_eq!(
            seen.iter()
                .filter(|(t, _)| t == "a")
                .cloned()
                .collect::<Vec<_>>(),
            vec![("a".to_string(), 1), ("a".to_string(), 2)]
        );
        assert_eq!(seen.iter().filter(|(t, _)| t == "x").count(), 3);
        assert_eq!(r.dead.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn each_attempt_emits_its_metrics() {
        crate::support::metrics::capture_start();
        let q = LocalQueue::new(RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        });
        let r = Arc::new(Recorder {
            seen: StdMutex::new(vec![]),
            fail_first: StdMutex::new(HashMap::from([
                ("metrics-ok".into(), 1),
                ("metrics-dead".into(), 10),
            ])),
            dead: StdMutex::new(vec![]),
        });
        q.set_runner(r.clone());
        q.enqueue(sync("metrics-ok"), "m1").await.unwrap();
        q.enqueue(sync("metrics-dead"), "m2").await.unwrap();
        drain(&q).await;
        let lines = crate::support::metrics::captured();
        let of = |t: &str| -> Vec<serde_json::Value> {
            lines
                .iter()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .filter(|v| v["conversation"] == t)
                .collect()
        };
        let counts = |v: &serde_json::Value| {
            (
                v["Deliveries"].as_f64().unwrap(),
                v["Retries"].as_f64().unwrap(),
                v["DeadLetters"].as_f64().unwrap(),
                v["attempt"].as_u64().unwrap(),
            )
        };
        let ok = of("metrics-ok");
        assert_eq!(
            ok.iter().map(counts).collect::<Vec<_>>(),
            vec![(0.0, 1.0, 0.0, 1), (1.0, 0.0, 0.0, 2)]
        );
        let dead = of("metrics-dead");
        assert_eq!(
            dead.iter().map(counts).collect::<Vec<_>>(),
            vec![(0.0, 1.0, 0.0, 1), (0.0, 0.0, 1.0, 2)]
        );
        assert_eq!(ok[0]["JobKind"], "sync_conversation");
        assert_eq!(ok[0]["Function"], "local");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, None), Duration::from_millis(200));
        assert_eq!(p.delay(2, None), Duration::from_millis(400));
        assert_eq!(p.delay(30, None), Duration::from_secs(5));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(60))),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn job_json_round_trip_and_groups() {
        let j = sync("42");
        let s = serde_json::to_string(&j).unwrap();
        assert!(s.contains("\"kind\":\"sync_conversation\""));
        assert_eq!(serde_json::from_str::<Job>(&s).unwrap(), j);
        assert_eq!(j.group(), "conv:1:42");
        assert_eq!(sqs_dedup_id("x").len(), 64);
    }
}
