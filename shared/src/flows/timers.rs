//! Timed work: one sweep, run every minute (an EventBridge Scheduler schedule invoking the
//! delivery worker in AWS, a loop in the local runner), finds what is due with one Query on
//! the table's sparse timer index and queues it: a conversation's timer (its card's
//! coalesced update, a waiting visitor's alert or escalation) in its conversation's group,
//! an install's (the reconciliation with the inbox, the daily digest) in the install's. A
//! sweep only queues: two sweeps at once queue the same job twice at most, with the same
//! deduplication id (SQS FIFO drops the second), and the job itself does nothing when what
//! it was for is done already.

use crate::app::App;
use crate::chat::blocks::card::urgent_part;
use crate::domain::{
    duration_text, next_hour, Install, InstallStatus, InstallTimers, Status, ThreadMap,
};
use crate::queue::{Job, JobError, QueueError, SyncReason};
use crate::services::links::inbox_link;
use crate::store::records::Due;
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
    /// Conversations with a timer due (a card's coalesced update, a wait's alert).
    pub conversations: usize,
    /// Installs with a reconciliation or a digest due.
    pub installs: usize,
}

pub async fn sweep(app: &App) -> Result<Swept, SweepError> {
    let now = app.clock.now_secs();
    let mut swept = Swept::default();
    for due in app.records.due(now, SWEEP_BATCH).await? {
        match due {
            Due::Conversation { portal, thread, at } => {
                let dedup = format!("timer:{portal}:{thread}:{at}");
                let job = Job::SyncConversation {
                    portal_id: portal,
                    thread_id: thread,
                    reason: SyncReason::CardDue,
                    message_id: None,
                };
                app.queue.enqueue(job, &dedup).await?;
                swept.conversations += 1;
            }
            Due::Install { portal, at } => {
                let dedup = format!("install:{portal}:{at}");
                let job = Job::InstallTimers {
                    portal_id: portal,
                    due: at,
                };
                app.queue.enqueue(job, &dedup).await?;
                swept.installs += 1;
            }
        }
    }
    if swept.conversations + swept.installs > 0 {
        tracing::info!(
            conversations = swept.conversations,
            installs = swept.installs,
            "sweep queued what was due"
        );
    }
    Ok(swept)
}

/// At most this many conversations per reconciliation; more means the next sweep goes on.
pub const RECONCILE_MAX: usize = 500;
/// The reconciliation reads a little before its watermark: the inbox's activity times may
/// arrive out of order by a few seconds, and a conversation read twice is synced once.
const RECONCILE_OVERLAP_MS: i64 = 60_000;

fn store_err(e: StoreError) -> JobError {
    JobError::retry(e.to_string())
}

/// An install's timed work (`Job::InstallTimers`): the reconciliation with the inbox and
/// the daily digest, whichever is due; then the next times, saved on the install. A job
/// for a time already handled (a second sweep's) finds nothing due and does nothing.
pub async fn install_timers(app: &App, portal: &str, due: i64) -> Result<(), JobError> {
    let now = app.clock.now_secs();
    let Some(install) = app.records.get_install(portal).await.map_err(store_err)? else {
        return Ok(());
    };
    if install.status == InstallStatus::Inactive || install.timers.due_at() > now {
        tracing::debug!(portal, due, "install timers: nothing due");
        return Ok(());
    }
    let mut timers = install.timers.clone();
    if timers.reconcile_at <= now {
        reconcile(app, &install, &mut timers, now).await?;
    }
    match digest_hour(app, &install) {
        None => timers.digest_at = None,
        Some(hour) => match timers.digest_at {
            Some(at) if at <= now => {
                if install.can_post() {
                    digest(app, &install, now).await?;
                }
                timers.digest_at = Some(next_hour(now, hour));
            }
            Some(_) => {}
            None => timers.digest_at = Some(next_hour(now, hour)),
        },
    }
    app.records
        .update_install(portal, |i| {
            let changed = i.timers != timers;
            i.timers = timers.clone();
            changed
        })
        .await
        .map_err(store_err)?;
    Ok(())
}

/// The hour of the install's digest: its admin's choice, else the environment's.
pub fn digest_hour(app: &App, install: &Install) -> Option<u8> {
    install
        .alerts
        .digest_hour(app.settings.alerts.digest_hour_utc)
}

/// Lists the inbox's conversations with activity since the watermark and queues a sync for
/// each live chat Slack has not caught up with, in the conversation's group and through
/// the same sync as a webhook, so nothing is posted twice. What HubSpot stopped retrying
/// (after an outage, or a subscription switched off) arrives this way.
async fn reconcile(
    app: &App,
    install: &Install,
    timers: &mut InstallTimers,
    now: i64,
) -> Result<(), JobError> {
    let every = i64::from(app.settings.alerts.reconcile_every_secs);
    if every == 0 {
        timers.reconcile_at = now + 86_400;
        return Ok(());
    }
    timers.reconcile_at = now + every;
    // A new install starts from now: what came before it was never Slack's to show.
    if timers.reconciled_to_ms == 0 {
        timers.reconciled_to_ms = now * 1000;
        return Ok(());
    }
    if !install.can_post() {
        return Ok(());
    }
    let mut install = install.clone();
    let Some(mut token) = crate::services::tokens::hubspot_token(app, &mut install).await? else {
        return Ok(());
    };
    let after = timers.reconciled_to_ms - RECONCILE_OVERLAP_MS;
    let portal = install.portal_id.clone();
    let active = crate::services::tokens::call(app, &portal, &mut token, move |t| async move {
        app.inbox.active_since(&t, after, RECONCILE_MAX).await
    })
    .await
    .map_err(crate::services::failures::hubspot_failure)?;
    let chats: Vec<_> = active.iter().filter(|c| c.live_chat && !c.spam).collect();
    let mut queued = 0usize;
    for batch in chats.chunks(100) {
        let ids: Vec<&str> = batch.iter().map(|c| c.id.as_str()).collect();
        let maps = app
            .records
            .threads(&portal, &ids)
            .await
            .map_err(store_err)?;
        for (c, map) in batch.iter().zip(maps) {
            let reason = match &map {
                // Never posted: a new chat whose webhooks did not come (an open one only,
                // as the webhook path would have posted it then).
                None if c.status == Status::Open && !c.archived => SyncReason::Full,
                None => continue,
                // Read whole: its webhooks were missed, so its status, assignee or inbox
                // may have changed too (a close is a THREAD_STATUS_CHANGE message, which
                // moves latestMessageTimestamp; contracts/hubspot.md, message types). One
                // more call, and only for a conversation that was behind.
                Some(m) if c.latest_message_ms > m.cursor_at => SyncReason::Full,
                Some(_) => continue,
            };
            let job = Job::SyncConversation {
                portal_id: portal.clone(),
                thread_id: c.id.clone(),
                reason,
                message_id: None,
            };
            let dedup = format!("reconcile:{portal}:{}:{}", c.id, c.latest_message_ms);
            app.queue
                .enqueue(job, &dedup)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            queued += 1;
        }
    }
    if let Some(latest) = active.iter().map(|c| c.latest_message_ms).max() {
        timers.reconciled_to_ms = timers.reconciled_to_ms.max(latest);
    }
    if active.len() >= RECONCILE_MAX {
        // More than one read holds: the next sweep goes on from here.
        timers.reconcile_at = now;
    }
    tracing::info!(
        portal = %portal,
        listed = active.len(),
        queued,
        "reconciliation with the inbox"
    );
    Ok(())
}

/// The day's digest in the notification channel: open chats, unanswered ones with their
/// wait, the first-response time's median and p90 over the last 24 hours.
async fn digest(app: &App, install: &Install, now: i64) -> Result<(), JobError> {
    let (Some(bot), Some(channel)) = (&install.bot_token, &install.channel_id) else {
        return Ok(());
    };
    let maps = app
        .records
        .portal_threads(&install.portal_id)
        .await
        .map_err(store_err)?;
    let text = digest_text(app, &install.portal_id, &maps, now);
    match app
        .slack
        .post_message(bot, channel, None, &text, None)
        .await
    {
        Ok(_) => {
            tracing::info!(portal = %install.portal_id, conversations = maps.len(), "digest posted");
            Ok(())
        }
        Err(e) => Err(crate::services::failures::slack_failure(app, install, e).await),
    }
}

/// At most this many waiting chats are listed by name; the rest are counted.
const DIGEST_LISTED: usize = 10;

pub fn digest_text(app: &App, portal: &str, maps: &[ThreadMap], now: i64) -> String {
    let open: Vec<&ThreadMap> = maps
        .iter()
        .filter(|m| urgent_part(&m.status).starts_with("OPEN"))
        .collect();
    let mut waiting: Vec<&ThreadMap> = open.iter().copied().filter(|m| m.wait.is_some()).collect();
    waiting.sort_by_key(|m| m.wait.as_ref().map_or(0, |w| w.since));
    let mut firsts: Vec<i64> = maps
        .iter()
        .filter_map(|m| m.first_response)
        .filter(|(since, _)| now - since <= 86_400)
        .map(|(_, secs)| secs)
        .collect();
    firsts.sort_unstable();
    let mut out = format!(
        "*Daily chat digest*\n• Open chats: {}\n• Waiting for a reply: {}\n",
        open.len(),
        waiting.len()
    );
    match (percentile(&firsts, 50), percentile(&firsts, 90)) {
        (Some(p50), Some(p90)) => out.push_str(&format!(
            "• First response, last 24 hours ({} chats): median {}, p90 {}\n",
            firsts.len(),
            duration_text(p50),
            duration_text(p90)
        )),
        _ => out.push_str("• First response, last 24 hours: no chat answered\n"),
    }
    for m in waiting.iter().take(DIGEST_LISTED) {
        let since = m.wait.as_ref().map_or(now, |w| w.since);
        out.push_str(&format!(
            "    ◦ <{}|A chat> waiting {}\n",
            inbox_link(app, portal, &m.thread_id),
            duration_text(now - since)
        ));
    }
    if waiting.len() > DIGEST_LISTED {
        out.push_str(&format!(
            "    ◦ and {} more\n",
            waiting.len() - DIGEST_LISTED
        ));
    }
    out
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }
}
