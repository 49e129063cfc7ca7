//! An app built in the test process, without the runner or HTTP in front of it: a counting
//! embedded store, a queue that keeps what is queued so the test runs (and counts) each job,
//! the Slack and HubSpot fakes at the URLs given. For counting what an event costs.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use shared::app::App;
use shared::config::Settings;
use shared::queue::{Job, JobQueue, QueueError};
use shared::store::counting::{CountingStore, Counts};
use shared::store::embedded::EmbeddedStore;
use shared::support::clock::Clock;

use crate::harness::*;

/// A queue that keeps what is queued.
#[derive(Default)]
pub struct CapturedQueue(pub Mutex<Vec<Job>>);

#[async_trait]
impl JobQueue for CapturedQueue {
    async fn enqueue(&self, job: Job, _dedup_id: &str) -> Result<(), QueueError> {
        if let Ok(mut jobs) = self.0.lock() {
            jobs.push(job);
        }
        Ok(())
    }
}

impl CapturedQueue {
    pub fn take(&self) -> Vec<Job> {
        self.0
            .lock()
            .map(|mut j| std::mem::take(&mut *j))
            .unwrap_or_default()
    }
}

pub struct InProcess {
    pub app: Arc<App>,
    pub counts: Arc<Counts>,
    pub queue: Arc<CapturedQueue>,
}

/// A single-workspace app on `base_url`, calling Slack and HubSpot at the URLs given (the
/// settings' defaults when None).
pub async fn in_process(
    base_url: &str,
    slack_url: Option<String>,
    hubspot_url: Option<String>,
    clock: Arc<dyn Clock>,
) -> InProcess {
    let mut vars: std::collections::HashMap<&str, String> = [
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_string()),
        ("HUBSPOT_CLIENT_SECRET", HUBSPOT_SECRET.to_string()),
        ("TOKEN_ENCRYPTION_KEY", TOKEN_KEY.to_string()),
        ("HUBSPOT_APP_ID", APP_ID.to_string()),
        ("PUBLIC_BASE_URL", base_url.to_string()),
        ("HUBSPOT_PORTAL_ID", PORTAL.to_string()),
        ("HUBSPOT_ACCESS_TOKEN", HS_TOKEN.to_string()),
        ("SLACK_TEAM_ID", TEAM.to_string()),
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_string()),
        ("SLACK_CHANNEL_ID", CHANNEL.to_string()),
        // Unpaced unless asked (`paced`): the fakes do not limit rates.
        ("SLACK_POSTS_PER_CHANNEL_PER_MIN", "0".to_string()),
        ("SLACK_TIER3_PER_MIN", "0".to_string()),
        ("HUBSPOT_REQUESTS_PER_10S", "0".to_string()),
        // What a message costs is counted without the waiting-visitor alerts (the fixed
        // message times of the fakes are days old, so every wait would be due at once);
        // tests/tests/waits.rs tests those.
        ("FIRST_RESPONSE_ALERT_SECS", "0".to_string()),
        ("NEXT_RESPONSE_ALERT_SECS", "0".to_string()),
        ("ESCALATE_AFTER_SECS", "0".to_string()),
    ]
    .into_iter()
    .collect();
    if let Some(u) = slack_url {
        vars.insert("SLACK_API_URL", u);
    }
    if let Some(u) = hubspot_url {
        vars.insert("HUBSPOT_API_URL", u);
    }
    let settings = Settings::from_lookup(&|k| vars.get(k).cloned(), None)
        .unwrap_or_else(|e| panic!("test settings: {e}"));
    let store = CountingStore::new(Arc::new(EmbeddedStore::in_memory()));
    let counts = store.counts.clone();
    let queue = Arc::new(CapturedQueue::default());
    let app = Arc::new(App::new(
        settings,
        Arc::new(store),
        queue.clone(),
        shared::app::http_client().unwrap_or_else(|e| panic!("http client: {e}")),
        clock,
    ));
    app.ensure_single_workspace()
        .await
        .unwrap_or_else(|e| panic!("single-workspace install: {e}"));
    InProcess { app, counts, queue }
}
