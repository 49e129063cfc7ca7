//! Timed work: one sweep, run every minute (an EventBridge Scheduler schedule invoking the
//! delivery worker in AWS, a loop in the local runner), finds what is due with one Query on
//! the table's sparse timer index and queues it in its conversation's group, so it runs in
//! order with that conversation's other jobs. A sweep only queues: two sweeps at once queue
//! the same job twice at most, with the same deduplication id (SQS FIFO drops the second),
//! and the job itself does nothing when what it was for is done already.

use crate::app::App;
use crate::queue::{Job, QueueError, SyncReason};
use crate::store::StoreError;

/// At most this many due items per sweep; the next sweep takes the rest, soonest first.
pub const SWEEP_BATCH: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What one sweep queued.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Swept {
    /// Cards whose coalesced update was due.
    pub cards: usize,
}

pub async fn sweep(app: &App) -> Result<Swept, SweepError> {
    let now = app.clock.now_secs();
    let mut swept = Swept::default();
    for (portal, thread, due) in app.records.due_cards(now, SWEEP_BATCH).await? {
        let dedup = format!("card:{portal}:{thread}:{due}");
        let job = Job::SyncConversation {
            portal_id: portal,
            thread_id: thread,
            reason: SyncReason::CardDue,
            message_id: None,
        };
        app.queue.enqueue(job, &dedup).await?;
        swept.cards += 1;
    }
    if swept.cards > 0 {
        tracing::info!(cards = swept.cards, "sweep queued what was due");
    }
    Ok(swept)
}
