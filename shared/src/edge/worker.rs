//! Turning inbound events into jobs, and running jobs (the delivery worker Lambda, and the
//! local runner's in-process queue).

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::app::App;
use crate::domain::DeadLetter;
use crate::edge::inbound::SlackEvent;
use crate::queue::{Job, JobError, JobRunner};
use crate::store::StoreError;

/// What can be told of a Slack event without the store, before it is acknowledged: the
/// reason to ignore it, or None when the worker must look (then it is queued). Only what
/// no install, mapping or setting could change: a bot's or the app's own message, one
/// outside a thread, a reply under someone else's message, a reaction that is no shortcut.
pub fn ignored_without_store(event: &SlackEvent, bot_user: Option<&str>) -> Option<&'static str> {
    match event {
        SlackEvent::Message(m) if m.changed.is_some() => None,
        SlackEvent::Message(m) => {
            if let Some(reason) = m.skip_reason(bot_user) {
                return Some(reason);
            }
            // Conversations' threads are under the app's own messages (their cards).
            match (m.parent_user.as_deref(), bot_user) {
                (Some(parent), Some(bot)) if parent != bot => {
                    Some("thread is not a conversation notification")
                }
                _ => None,
            }
        }
        SlackEvent::Reaction { reaction, user, .. } => {
            if !crate::chat::blocks::card::is_shortcut(reaction) {
                Some("not a shortcut reaction")
            } else if bot_user == Some(user.as_str()) {
                Some("the app's own reaction")
            } else {
                None
            }
        }
        SlackEvent::LeftChannel { user: Some(u), .. } if bot_user != Some(u.as_str()) => {
            Some("someone else left a channel")
        }
        SlackEvent::AppHomeOpened { tab, .. } if tab.as_deref().is_some_and(|t| t != "home") => {
            Some("app home opened on another tab")
        }
        SlackEvent::Other { .. } => Some("event type is not handled"),
        _ => None,
    }
}

/// The channel and thread whose events must run in order (a thread's replies, a card's
/// reactions); empty for a workspace's own events.
pub fn event_order(event: &SlackEvent) -> (String, String) {
    match event {
        SlackEvent::Message(m) => {
            let thread = m
                .changed
                .as_ref()
                .and_then(|c| c.thread_ts.clone())
                .or_else(|| m.thread_ts.clone())
                .unwrap_or_else(|| m.ts.clone());
            (m.channel.clone(), thread)
        }
        SlackEvent::Reaction { channel, ts, .. } => (channel.clone(), ts.clone()),
        _ => (String::new(), String::new()),
    }
}

/// Decides what a Slack event asks for, reading only the store.
/// None means acknowledged and ignored (logged with the reason).
/// `bot_user`: our bot user as the event's envelope names it (used when the install does not
/// know it, as in single-workspace mode).
pub async fn job_for_slack_event(
    app: &App,
    team: &str,
    bot_user: Option<&str>,
    event: SlackEvent,
) -> Result<Option<Job>, StoreError> {
    let ignore = |reason: &str| {
        tracing::info!(team, reason, "slack event ignored");
        Ok(None)
    };
    match event {
        SlackEvent::Message(m) => {
            let Some(install) = app.records.install_for_team(team).await? else {
                return ignore("no install for this team");
            };
            if let Some(c) = &m.changed {
                return edit_job(app, team, &install, &m.channel, c).await;
            }
            let own_bot = install.bot_user_id.as_deref().or(bot_user);
            if let Some(reason) = m.skip_reason(own_bot) {
                return ignore(reason);
            }
            let Some(thread_ts) = m.thread_ts.clone() else {
                return ignore("not in a thread");
            };
            let Some(map) = app
                .records
                .thread_for_slack(team, &m.channel, &thread_ts)
                .await?
            else {
                // Under one of our messages, the thread may be a notification whose mapping
                // is still being written (Slack shows a message before it answers the post):
                // resolve it in the worker, which retries, rather than drop the reply.
                let ours = own_bot.is_some() && m.parent_user.as_deref() == own_bot;
                if !ours {
                    return ignore("thread is not a conversation notification");
                }
                return Ok(Some(Job::UnmappedReply {
                    team_id: team.to_string(),
                    channel_id: m.channel,
                    thread_ts,
                    ts: m.ts,
                    user_id: m.user.unwrap_or_default(),
                    text: m.text,
                    has_files: m.has_files,
                    files: m.files,
                }));
            };
            if map.portal_id != install.portal_id {
                return ignore("thread belongs to another portal");
            }
            Ok(Some(Job::SlackReply {
                portal_id: map.portal_id,
                thread_id: map.thread_id,
                team_id: team.to_string(),
                channel_id: m.channel,
                thread_ts,
                ts: m.ts,
                user_id: m.user.unwrap_or_default(),
                text: m.text,
                has_files: m.has_files,
                files: m.files,
                reply_to: map.reply_to,
            }))
        }
        SlackEvent::AppUninstalled => Ok(Some(Job::Deactivate {
            team_id: team.to_string(),
            reason: "app_uninstalled".into(),
        })),
        SlackEvent::TokensRevoked { bot_user_ids } => {
            let Some(install) = app.records.install_for_team(team).await? else {
                return ignore("no install for this team");
            };
            // Only the bot token matters to us; revoked user tokens do not.
            let ours = install
                .bot_user_id
                .as_ref()
                .is_none_or(|b| bot_user_ids.contains(b));
            if bot_user_ids.is_empty() || !ours {
                return ignore("no bot token of ours revoked");
            }
            Ok(Some(Job::Deactivate {
                team_id: team.to_string(),
                reason: "tokens_revoked".into(),
            }))
        }
        SlackEvent::AppHomeOpened { user, tab } => {
            if tab.as_deref().is_some_and(|t| t != "home") {
                return ignore("app home opened on another tab");
            }
            match app.records.install_for_team(team).await? {
                Some(i) if i.bot_token.is_some() => Ok(Some(Job::PublishHome {
                    team_id: team.to_string(),
                    user_id: user,
                })),
                _ => ignore("no connected install for this team"),
            }
        }
        SlackEvent::MemberJoinedChannel { user, channel } => {
            let Some(install) = app.records.install_for_team(team).await? else {
                return ignore("no install for this team");
            };
            if install.bot_user_id.as_deref() == Some(user.as_str())
                && install.pending_channel_id.as_deref() == Some(channel.as_str())
            {
                // The app was invited to the private channel an admin chose: it is the
                // channel now (joining proves it exists, is not archived and we can post).
                let moved = app
                    .records
                    .update_install(&install.portal_id, |i| {
                        // Still the channel chosen (an admin may have picked another since).
                        if i.pending_channel_id.as_deref() != Some(channel.as_str()) {
                            return false;
                        }
                        i.channel_id = Some(channel.clone());
                        i.pending_channel_id = None;
                        if let crate::domain::InstallStatus::NeedsAttention { .. } = i.status {
                            i.status = crate::domain::InstallStatus::Active;
                        }
                        true
                    })
                    .await?;
                let Some(i) = moved.filter(|i| i.channel_id.as_deref() == Some(channel.as_str()))
                else {
                    return ignore("the chosen channel changed meanwhile");
                };
                tracing::info!(team, portal = %i.portal_id, channel = %channel, "app invited to the chosen private channel; notifications go there now");
                return Ok(i.installer_user_id.map(|u| Job::PublishHome {
                    team_id: team.to_string(),
                    user_id: u,
                }));
            }
            if install.bot_user_id.as_deref() != Some(user.as_str())
                || install.channel_id.as_deref() != Some(channel.as_str())
            {
                return ignore("someone else joined a channel");
            }
            if let crate::domain::InstallStatus::NeedsAttention { .. } = install.status {
                app.records
                    .update_install(&install.portal_id, |i| {
                        let stuck = matches!(
                            i.status,
                            crate::domain::InstallStatus::NeedsAttention { .. }
                        );
                        if stuck {
                            i.status = crate::domain::InstallStatus::Active;
                            i.last_error = None;
                        }
                        stuck
                    })
                    .await?;
                tracing::info!(team, portal = %install.portal_id, channel = %channel, "app invited to the channel; notifications resume");
            }
            Ok(None)
        }
        SlackEvent::LeftChannel { user, channel } => {
            // `member_left_channel` is for anyone; only the app's own leaving matters.
            if user.is_some() && user.as_deref() != bot_user {
                return ignore("someone else left a channel");
            }
            Ok(Some(Job::ChannelLost {
                team_id: team.to_string(),
                channel_id: channel,
            }))
        }
        SlackEvent::Reaction {
            user,
            reaction,
            channel,
            ts,
            added,
        } => {
            // Only the shortcuts' reactions, and never the app's own.
            if !crate::chat::blocks::card::is_shortcut(&reaction) {
                return ignore("not a shortcut reaction");
            }
            if bot_user == Some(user.as_str()) {
                return ignore("the app's own reaction");
            }
            Ok(Some(Job::Reaction {
                team_id: team.to_string(),
                user_id: user,
                channel_id: channel,
                ts,
                reaction,
                added,
            }))
        }
        SlackEvent::Other { kind } => ignore(&format!("event type {kind} is not handled")),
    }
}

/// An edit or deletion in Slack of a reply the bundle sent to the inbox: the agent is told
/// what happened (the inbox's API cannot change or remove a sent message). Anything else
/// (bots, unfurls, messages that never reached the inbox) is ignored.
async fn edit_job(
    app: &App,
    team: &str,
    install: &crate::domain::Install,
    channel: &str,
    c: &crate::edge::inbound::ChangedMessage,
) -> Result<Option<Job>, StoreError> {
    let ignore = |reason: &str| {
        tracing::info!(team, reason, "slack edit ignored");
        Ok(None)
    };
    let (Some(user), Some(thread_ts)) = (c.user.clone(), c.thread_ts.clone()) else {
        return ignore("edited message is not a reply in a thread");
    };
    if c.bot_id.is_some() || install.bot_user_id.as_deref() == Some(user.as_str()) {
        return ignore("edited message is a bot's");
    }
    if !c.text_changed {
        return ignore("text unchanged (unfurl or metadata)");
    }
    let Some(map) = app
        .records
        .thread_for_slack(team, channel, &thread_ts)
        .await?
    else {
        return ignore("thread is not a conversation notification");
    };
    let sent = app
        .records
        .list_messages(&map.portal_id, &map.thread_id)
        .await?
        .into_iter()
        .any(|(_, ts, origin)| ts == c.ts && origin == "slack");
    if !sent {
        return ignore("edited message was never sent to the inbox");
    }
    Ok(Some(Job::SlackEdit {
        portal_id: map.portal_id,
        thread_id: map.thread_id,
        team_id: team.to_string(),
        channel_id: channel.to_string(),
        thread_ts,
        user_id: user,
        deleted: c.deleted,
    }))
}

/// Runs jobs against the app.
pub struct AppRunner(pub Arc<App>);

#[async_trait]
impl JobRunner for AppRunner {
    async fn run(&self, job: &Job, attempt: u32) -> Result<(), JobError> {
        run_job(&self.0, job, attempt).await
    }

    async fn dead_letter(&self, job: &Job, error: &str) {
        dead_letter(&self.0, job, error).await
    }
}

pub async fn run_job(app: &App, job: &Job, attempt: u32) -> Result<(), JobError> {
    match job {
        Job::SyncConversation {
            portal_id,
            thread_id,
            reason,
            message_id,
        } => {
            crate::flows::inbox_to_slack::sync(
                app,
                portal_id,
                thread_id,
                *reason,
                message_id.as_deref(),
            )
            .await
        }
        Job::InstallTimers { portal_id, due } => {
            crate::flows::timers::install_timers(app, portal_id, *due).await
        }
        Job::DeleteConversation {
            portal_id,
            thread_id,
            privacy,
        } => {
            crate::flows::inbox_to_slack::delete_conversation(app, portal_id, thread_id, *privacy)
                .await
        }
        Job::SlackReply {
            portal_id,
            thread_id,
            team_id,
            channel_id,
            thread_ts,
            ts,
            user_id,
            text,
            has_files,
            files,
            reply_to,
        } => {
            crate::flows::slack_to_inbox::deliver_reply(
                app,
                &crate::flows::slack_to_inbox::Reply {
                    portal: portal_id,
                    thread_id,
                    team: team_id,
                    channel: channel_id,
                    thread_ts,
                    ts,
                    user: user_id,
                    text,
                    has_files: *has_files,
                    files,
                    reply_to: reply_to.as_ref(),
                },
            )
            .await
        }
        Job::UnmappedReply {
            team_id,
            channel_id,
            thread_ts,
            ts,
            user_id,
            text,
            has_files,
            files,
        } => {
            let map = app
                .records
                .thread_for_slack(team_id, channel_id, thread_ts)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            let Some(map) = map else {
                // Retried while the notification may still be being stored; once the queue
                // gives up, `dead_letter` keeps it and tells the agent.
                return Err(JobError::Retry {
                    reason: "thread not yet linked to a conversation".into(),
                    // 1, 2, 4, 8 s: about 15 s for a slow chat.postMessage to be stored.
                    after: Some(std::time::Duration::from_secs(
                        1 << attempt.saturating_sub(1).min(3),
                    )),
                });
            };
            // Delivered in its conversation's group, after the jobs already queued there, so
            // the sync the inbox's webhook triggers sees the reply recorded (no echo).
            let reply = Job::SlackReply {
                portal_id: map.portal_id,
                thread_id: map.thread_id,
                team_id: team_id.clone(),
                channel_id: channel_id.clone(),
                thread_ts: thread_ts.clone(),
                ts: ts.clone(),
                user_id: user_id.clone(),
                text: text.clone(),
                has_files: *has_files,
                files: files.clone(),
                reply_to: map.reply_to,
            };
            tracing::info!(team = %team_id, conversation = reply.conversation_id().as_deref().unwrap_or(""), "reply linked to its conversation");
            app.queue
                .enqueue(reply, &format!("linked:{team_id}:{channel_id}:{ts}"))
                .await
                .map_err(|e| JobError::retry(e.to_string()))
        }
        Job::Interaction {
            team_id,
            user_id,
            action_id,
            value,
            response_url,
            ..
        } => match action_id.as_str() {
            crate::chat::blocks::card::ACTION_CLAIM => {
                let changed =
                    crate::flows::slack_to_inbox::claim(app, team_id, user_id, value, response_url)
                        .await?;
                redraw(app, changed).await
            }
            crate::chat::blocks::card::ACTION_ASSIGN_ME
            | crate::chat::blocks::card::ACTION_REASSIGN
            | crate::chat::blocks::card::ACTION_UNASSIGN => {
                let changed = crate::flows::assign::from_click(
                    app,
                    team_id,
                    user_id,
                    action_id,
                    value,
                    response_url,
                )
                .await?;
                redraw(app, changed).await
            }
            crate::chat::blocks::card::ACTION_CLOSE | crate::chat::blocks::card::ACTION_REOPEN => {
                let close = action_id == crate::chat::blocks::card::ACTION_CLOSE;
                let changed = crate::flows::slack_to_inbox::set_status(
                    app,
                    team_id,
                    user_id,
                    value,
                    response_url,
                    close,
                )
                .await?;
                redraw(app, changed).await
            }
            _ => Ok(()),
        },
        Job::SlackEvent {
            team_id,
            event_id,
            bot_user,
            event,
            ..
        } => {
            // Once per event id: a retry of Slack's that came after the queue's five-minute
            // deduplication is dropped here. This job's own retries (attempt > 1) go on, in
            // case its first attempt wrote the id and then failed.
            let now = app.clock.now_secs();
            let first = app
                .records
                .first_time("slack-event", event_id, 24 * 3600, now)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            if !first && attempt <= 1 {
                tracing::info!(team = %team_id, event_id = %event_id, "duplicate event ignored");
                return Ok(());
            }
            let value: serde_json::Value = serde_json::from_str(event)
                .map_err(|e| JobError::Fatal(format!("slack event not readable: {e}")))?;
            let parsed = crate::edge::inbound::parse_event(&value)
                .map_err(|e| JobError::Fatal(format!("slack event not readable: {}", e.0)))?;
            let job = job_for_slack_event(app, team_id, bot_user.as_deref(), parsed)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            match job {
                // In its own group (a reply in its conversation's, after the sync that
                // posted the card); its own key, so the queue's deduplication of this
                // event's id does not drop it.
                Some(job) => {
                    tracing::info!(team = %team_id, event_id = %event_id, job = job.kind(), "queued");
                    app.queue
                        .enqueue(job, &format!("{event_id}:job"))
                        .await
                        .map_err(|e| JobError::retry(e.to_string()))
                }
                None => Ok(()),
            }
        }
        Job::Reaction {
            team_id,
            user_id,
            channel_id,
            ts,
            reaction,
            added,
        } => {
            let changed = crate::flows::assign::from_reaction(
                app, team_id, user_id, channel_id, ts, reaction, *added,
            )
            .await?;
            redraw(app, changed).await
        }
        Job::SlackEdit {
            portal_id,
            thread_id,
            team_id,
            channel_id,
            thread_ts,
            user_id,
            deleted,
        } => {
            crate::flows::slack_to_inbox::edit_not_applied(
                app, portal_id, thread_id, team_id, channel_id, thread_ts, user_id, *deleted,
            )
            .await;
            Ok(())
        }
        Job::SlashCommand {
            team_id,
            user_id,
            command,
            text,
            response_url,
        } => {
            crate::flows::availability::run(
                app,
                team_id,
                user_id,
                command,
                text,
                response_url,
                attempt,
            )
            .await
        }
        Job::PublishHome { team_id, user_id } => {
            crate::flows::home::publish(app, team_id, user_id, None).await
        }
        Job::HomeAction {
            team_id,
            user_id,
            action_id,
            value,
        } => crate::flows::home::act(app, team_id, user_id, action_id, value).await,
        Job::ChannelLost {
            team_id,
            channel_id,
        } => crate::services::install::channel_lost(app, team_id, channel_id).await,
        Job::Deactivate { team_id, reason } => {
            let Some(install) = app
                .records
                .install_for_team(team_id)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?
            else {
                return Ok(());
            };
            app.records
                .deactivate_install(&install.portal_id, app.clock.now_secs())
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            tracing::warn!(team = %team_id, portal = %install.portal_id, reason = %reason, "install deactivated; tokens removed");
            Ok(())
        }
    }
}

/// After a Claim or a Close/Reopen from Slack: the card shows the new state.
async fn redraw(
    app: &App,
    changed: Option<crate::flows::slack_to_inbox::CardChanged>,
) -> Result<(), JobError> {
    match changed {
        Some(c) => {
            crate::flows::inbox_to_slack::sync_conversation(app, &c.portal_id, &c.thread_id).await
        }
        None => Ok(()),
    }
}

fn random_hex() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

/// A job that failed for good: kept in the table with its conversation, logged, and the
/// agent told when it was their reply.
pub async fn dead_letter(app: &App, job: &Job, error: &str) {
    let portal = match job {
        Job::SyncConversation { portal_id, .. }
        | Job::DeleteConversation { portal_id, .. }
        | Job::SlackReply { portal_id, .. }
        | Job::SlackEdit { portal_id, .. }
        | Job::InstallTimers { portal_id, .. } => portal_id.clone(),
        Job::SlashCommand { team_id, .. }
        | Job::Interaction { team_id, .. }
        | Job::Reaction { team_id, .. }
        | Job::SlackEvent { team_id, .. }
        | Job::UnmappedReply { team_id, .. }
        | Job::PublishHome { team_id, .. }
        | Job::HomeAction { team_id, .. }
        | Job::Deactivate { team_id, .. }
        | Job::ChannelLost { team_id, .. } => app
            .records
            .install_for_team(team_id)
            .await
            .ok()
            .flatten()
            .map(|i| i.portal_id)
            .unwrap_or_else(|| format!("team:{team_id}")),
    };
    let now = app.clock.now_ms();
    let d = DeadLetter {
        portal_id: portal.clone(),
        // The time alone is not unique: two deliveries failing in the same millisecond
        // would share the key, and the second would overwrite the first.
        id: format!("{now:x}-{}", random_hex()),
        conversation_id: job.conversation_id(),
        job: serde_json::to_string(job).unwrap_or_default(),
        error: error.to_string(),
        at: now,
    };
    tracing::error!(portal = %portal, conversation = d.conversation_id.as_deref().unwrap_or(""), job = job.kind(), error, "delivery failed for good; kept as a dead letter");
    if let Err(e) = app.records.put_dead_letter(&d).await {
        tracing::error!(portal = %portal, error = %e, job = %d.job, "dead letter could not be stored; logged here instead");
    }
    if let Job::SlackReply {
        portal_id,
        thread_id,
        team_id,
        channel_id,
        thread_ts,
        user_id,
        ..
    } = job
    {
        crate::flows::slack_to_inbox::reply_failed(
            app, portal_id, thread_id, team_id, channel_id, thread_ts, user_id, error,
        )
        .await;
    }
    if let Job::UnmappedReply {
        team_id,
        channel_id,
        thread_ts,
        user_id,
        ..
    } = job
    {
        // The install is fine; its thread was never linked (or was deleted).
        crate::flows::slack_to_inbox::reply_unlinked(app, team_id, channel_id, thread_ts, user_id)
            .await;
        return;
    }
    let last_error = format!("{}: {error}", job.kind());
    if let Err(e) = app
        .records
        .update_install(&portal, |i| {
            i.last_error = Some(last_error.clone());
            true
        })
        .await
    {
        tracing::warn!(portal = %portal, error = %e, "last error not saved");
    }
}

/// Receive count at which the worker gives up (the queue's redrive policy moves the message
/// to the dead-letter queue at the same count; template.yaml maxReceiveCount).
pub const MAX_RECEIVES: u32 = 5;

/// What the delivery worker is invoked with: an SQS batch (answered with the failed items),
/// or the scheduler's `{"sweep": true}` (template.yaml `SweepSchedule`), which queues what
/// is due. A failed sweep is an error for the scheduler's log; the next minute's retries it.
pub async fn handle_invocation(
    app: &App,
    event: serde_json::Value,
) -> Result<serde_json::Value, String> {
    if event.get("sweep").is_some() {
        crate::support::metrics::set_function("delivery-worker");
        return match crate::flows::timers::sweep(app).await {
            Ok(swept) => Ok(serde_json::to_value(swept).unwrap_or_default()),
            Err(e) => {
                tracing::error!(error = %e, "sweep failed; the next one takes what is due");
                Err(e.to_string())
            }
        };
    }
    let batch: SqsEvent = serde_json::from_value(event)
        .map_err(|e| format!("neither an SQS batch nor a sweep: {e}"))?;
    serde_json::to_value(handle_sqs_batch(app, batch).await).map_err(|e| e.to_string())
}

/// The delivery worker: runs each SQS record's job; failures are reported per item so SQS
/// retries only those (and, FIFO, holds back the rest of their group).
pub async fn handle_sqs_batch(app: &App, event: SqsEvent) -> SqsBatchResponse {
    use crate::support::metrics::JobOutcome;
    crate::support::metrics::set_function("delivery-worker");
    let mut failures = Vec::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let receives: u32 = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let job: Job = match record.body.as_deref().map(serde_json::from_str) {
            Some(Ok(j)) => j,
            _ => {
                // Not ours or corrupt: keep it (DLQ) rather than drop it.
                tracing::error!(message_id = %id, "queue message is not a job; left for the dead-letter queue");
                crate::support::metrics::job(
                    "invalid_message",
                    None,
                    receives,
                    JobOutcome::Failed,
                    std::time::Duration::ZERO,
                );
                failures.push(failure(&id));
                continue;
            }
        };
        let started = std::time::Instant::now();
        let result = run_job(app, &job, receives).await;
        let outcome = match &result {
            Ok(()) => JobOutcome::Delivered,
            Err(JobError::Retry { .. }) if receives < MAX_RECEIVES => JobOutcome::Retry,
            Err(_) => JobOutcome::DeadLetter,
        };
        crate::support::metrics::job(
            job.kind(),
            job.conversation_id().as_deref(),
            receives,
            outcome,
            started.elapsed(),
        );
        match result {
            Ok(()) => {}
            Err(JobError::Retry { reason, after }) if receives < MAX_RECEIVES => {
                let delay = crate::queue::sqs_retry_delay(receives, after);
                tracing::warn!(job = job.kind(), conversation = job.conversation_id().as_deref().unwrap_or(""), attempt = receives, delay_secs = delay.as_secs(), reason = %reason, "job failed, will be retried");
                // Without this the retry waits for the queue's whole visibility timeout
                // (6 minutes), whatever Retry-After said. If it fails, that is the fallback.
                if let Some(receipt) = record.receipt_handle.as_deref() {
                    if let Err(e) = app.queue.retry_after(receipt, delay).await {
                        tracing::warn!(message_id = %id, error = %e, "could not shorten the retry delay");
                    }
                }
                failures.push(failure(&id));
            }
            Err(e @ JobError::Retry { .. }) => {
                // Out of retries: keep it in the table (with its conversation) and let SQS
                // move it to the dead-letter queue, whose alarm tells the operator.
                dead_letter(app, &job, &e.to_string()).await;
                failures.push(failure(&id));
            }
            Err(e) => {
                // Will never succeed: kept in the table; retrying would only repeat it.
                dead_letter(app, &job, &e.to_string()).await;
            }
        }
    }
    let mut resp = SqsBatchResponse::default();
    resp.batch_item_failures = failures;
    resp
}

fn failure(id: &str) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = id.to_string();
    f
}
