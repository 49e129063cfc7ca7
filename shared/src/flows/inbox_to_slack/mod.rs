//! Inbox to Slack: one notification per live chat, kept current, and every later message
//! mirrored into its thread in order and once.
//!
//! `sync_conversation` is state-based: whatever webhook triggered it, it reads the
//! conversation from the inbox and brings Slack up to date. Duplicate, late or out-of-order
//! webhooks therefore cost a read and change nothing, and a sync after an outage catches up.
//! Concurrency: a lease per conversation (a conditional write) lets one sync run at a time;
//! creating the thread mapping is first-writer-wins; each mirrored message is recorded with a
//! conditional write, so it is posted once.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::app::App;
use crate::chat::blocks::card::{Card, Person};
use crate::chat::blocks::messages::{sender_name, thread_text};
use crate::chat::slack::{Class as SlackClass, SlackError};
use crate::domain::{
    Attachment, Conversation, InboxError, Install, InstallStatus, Message, ReplyTo, ThreadMap,
};
use crate::queue::{JobError, SyncReason};
use crate::services::card_state::{self, kept_card, Show};
use crate::services::failures::{hubspot_failure, slack_failure};
use crate::services::links::inbox_link;
use crate::support::secret::Secret;

mod card;
mod delete;
mod moves;
mod waits;

use card::build_card;

pub use delete::delete_conversation;
use moves::{announce_move, channel_unusable, follow_inbox_move, unroute, Destination};

const LEASE_SECS: i64 = 60;

fn is_from_slack(app: &App, m: &Message) -> bool {
    match (&m.sent_by_app, &app.settings.hubspot_app_id) {
        (Some(app_id), Some(ours)) => app_id == ours,
        _ => false,
    }
}

/// The message with the size of each attachment the inbox names by file id only, from the
/// file manager (scope `files`). Best effort: a size that can't be read is left out, and the
/// link still goes.
async fn with_sizes(app: &App, token: &Secret, m: &Message) -> Message {
    let mut m = m.clone();
    for a in m.attachments.iter_mut() {
        // Only files have a size, and only the file manager knows it.
        let Attachment::File {
            file_id: Some(id),
            size: size @ None,
            ..
        } = a
        else {
            continue;
        };
        match app.inbox.file_size(token, id).await {
            Ok(Some(n)) => *size = Some(n),
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "attachment size not read"),
        }
    }
    m
}

/// How long a message-only sync trusts the thread (status, assignee, inbox) as stored:
/// changes to those come as their own webhooks, so this only bounds how stale a missed one
/// leaves the card.
const REFRESH_SECS: i64 = 300;

/// Brings the conversation's Slack side up to date (a full sync). Idempotent.
pub async fn sync_conversation(app: &App, portal: &str, thread_id: &str) -> Result<(), JobError> {
    sync(app, portal, thread_id, SyncReason::Full, None).await
}

/// Brings the conversation's Slack side up to date, reading what `reason` needs: a full
/// sync reads the thread and its newest messages page; a new message only the page (the
/// thread as stored is trusted for `REFRESH_SECS`); a due card nothing. A message-only sync
/// for a message already recorded (a retried webhook, or the inbox telling us of a reply
/// sent from Slack, which `slack_to_inbox` recorded and put on the card) reads nothing
/// else. Idempotent.
pub async fn sync(
    app: &App,
    portal: &str,
    thread_id: &str,
    reason: SyncReason,
    message_id: Option<&str>,
) -> Result<(), JobError> {
    let found = match (reason, message_id) {
        // The install and the message's record in one read.
        (SyncReason::Messages, Some(id)) => {
            let (install, known) = app
                .records
                .install_and_message(portal, thread_id, id)
                .await
                .map_err(store_err)?;
            if known {
                tracing::info!(
                    portal,
                    conversation = thread_id,
                    message_id = id,
                    "message already in the thread"
                );
                return Ok(());
            }
            crate::services::slack_token::with_fresh_token(app, install).await
        }
        _ => crate::services::slack_token::install_for_portal(app, portal).await,
    };
    let log_skip = |reason: &str| {
        tracing::info!(
            portal,
            conversation = thread_id,
            reason,
            "conversation not posted"
        );
        Ok(())
    };
    let mut install = match found {
        Ok(Some(i)) => i,
        Ok(None) => return log_skip("no install for this portal"),
        Err(e) => return Err(e),
    };
    if install.status == InstallStatus::Inactive {
        return log_skip("install is inactive");
    }
    if !install.notifications_on {
        return log_skip("notifications are off");
    }
    if let InstallStatus::NeedsAttention { .. } = install.status {
        // Kept for later: once an admin fixes the channel, the next sync catches up.
        return Err(JobError::Fatal(
            "install needs attention; not posting".into(),
        ));
    }
    let (Some(bot), Some(channel)) = (install.bot_token.clone(), install.channel_id.clone()) else {
        return log_skip("install has no channel or tokens");
    };
    let Some(token) = crate::services::tokens::hubspot_token(app, &mut install).await? else {
        return log_skip("install has no HubSpot token");
    };
    let owner = format!("{:x}", app.clock.now_ms()) + &random_suffix();
    let lease = format!("conv:{portal}:{thread_id}");
    let now = app.clock.now_secs();
    match app
        .records
        .acquire_lease(&lease, &owner, LEASE_SECS, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return Err(JobError::Retry {
                reason: "another delivery holds this conversation".into(),
                after: Some(Duration::from_millis(500)),
            })
        }
        Err(e) => return Err(JobError::retry(e.to_string())),
    }
    let ctx = Sync {
        app,
        install: &install,
        bot: &bot,
        channel: &channel,
        portal,
        thread_id,
        lease: (&lease, &owner),
    };
    let res = ctx.run(&token, reason).await;
    // A sync that saved its work released the lease in the same write.
    if !matches!(res, Ok(Released::Yes)) {
        if let Err(e) = app.records.release_lease(&lease, &owner).await {
            tracing::warn!(portal, conversation = thread_id, error = %e, "lease not released; it expires by itself");
        }
    }
    res.map(|_| ())
}

fn random_suffix() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

/// Whether the sync's final write released the lease.
enum Released {
    Yes,
    No,
}

/// One sync of one conversation, under its lease.
struct Sync<'a> {
    app: &'a App,
    install: &'a Install,
    bot: &'a Secret,
    channel: &'a str,
    portal: &'a str,
    thread_id: &'a str,
    lease: (&'a str, &'a str),
}

fn store_err(e: crate::store::StoreError) -> JobError {
    JobError::retry(e.to_string())
}

impl Sync<'_> {
    async fn run(&self, token: &Secret, reason: SyncReason) -> Result<Released, JobError> {
        let (app, portal, thread_id) = (self.app, self.portal, self.thread_id);
        let now = app.clock.now_secs();
        let existing = app
            .records
            .get_thread(portal, thread_id)
            .await
            .map_err(store_err)?;
        // What the conversation's record can stand in for: the thread as last read (for a
        // few minutes), the card as last built.
        if let Some((map, card)) = existing
            .as_ref()
            .and_then(|m| kept_card(m).map(|c| (m.clone(), c)))
        {
            let fresh = now - map.refreshed_at < REFRESH_SECS && !map.move_notice_pending;
            match reason {
                SyncReason::CardDue => {
                    let read = map.clone();
                    let map = self.show_card(map, &card, now).await?;
                    let map = waits::act(app, self.install, self.bot, map, &card, now).await?;
                    return self.finish(map, &card, vec![], Some(&read)).await;
                }
                SyncReason::Messages if fresh => {
                    return self.messages_only(token, map, card, now).await
                }
                _ => {}
            }
        } else if reason == SyncReason::CardDue {
            return Ok(Released::No);
        }
        self.full(token, existing, now).await
    }

    /// A new message in a conversation read recently: its newest messages page only.
    async fn messages_only(
        &self,
        token: &Secret,
        map: ThreadMap,
        mut card: Card,
        now: i64,
    ) -> Result<Released, JobError> {
        let (messages, page) = self.read_messages(token, map.page_after.as_deref()).await?;
        card_state::apply_messages(&mut card, &messages);
        let read = map.clone();
        let mut map = map;
        self.note_waits(&mut map, &mut card, &messages, now);
        let mut map = self.show_card(map, &card, now).await?;
        let mirrored = match self.mirror(token, &mut map, &messages, None, false).await {
            Ok(m) => m,
            Err((mirrored, e)) => {
                self.save_progress(map, &mirrored).await;
                return Err(e);
            }
        };
        map.page_after = page;
        self.finish(map, &card, mirrored, Some(&read)).await
    }

    async fn read_messages(
        &self,
        token: &Secret,
        from: Option<&str>,
    ) -> Result<(Vec<Message>, Option<String>), JobError> {
        let (app, thread_id) = (self.app, self.thread_id);
        let mut token = token.clone();
        let from = from.map(str::to_string);
        crate::services::tokens::call(app, self.portal, &mut token, move |t| {
            let from = from.clone();
            async move {
                app.inbox
                    .messages_from(&t, thread_id, from.as_deref())
                    .await
            }
        })
        .await
        .map_err(hubspot_failure)
    }

    /// Every message of `messages` not mirrored yet, oldest first, posted into the thread;
    /// the cursor moved past each. `first_id`: the message the new card shows (recorded,
    /// not posted). Answers what was posted, also when a post fails midway.
    /// `legacy`: the mapping is from before the cursor was kept.
    async fn mirror(
        &self,
        token: &Secret,
        map: &mut ThreadMap,
        messages: &[Message],
        first_id: Option<&str>,
        legacy: bool,
    ) -> Result<Vec<(String, String)>, (Vec<(String, String)>, JobError)> {
        let (app, portal, thread_id) = (self.app, self.portal, self.thread_id);
        let mut mirrored: Vec<(String, String)> = Vec::new();
        // A conversation from before the cursor was kept: what its records say was posted.
        let recorded: HashSet<String> = if legacy {
            match app.records.list_messages(portal, thread_id).await {
                Ok(l) => l.into_iter().map(|(id, _, _)| id).collect(),
                Err(e) => return Err((mirrored, store_err(e))),
            }
        } else {
            HashSet::new()
        };
        let inbox_url = inbox_link(app, portal, thread_id);
        for m in messages {
            if m.is_from_visitor() {
                map.reply_to = Some(ReplyTo::of(m));
            }
            if cursor::seen(map, m) {
                continue;
            }
            if recorded.contains(&m.id) {
                cursor::advance(map, m);
                continue;
            }
            if Some(m.id.as_str()) == first_id {
                cursor::advance(map, m);
                mirrored.push((m.id.clone(), map.parent_ts.clone()));
                continue;
            }
            // Visitor and agent messages, and internal notes (COMMENT, marked as such); what
            // this app sent from Slack is in the thread already (no echo).
            if !(m.is_chat() || m.is_note()) || is_from_slack(app, m) {
                cursor::advance(map, m);
                continue;
            }
            let text = if m.attachments.is_empty() {
                thread_text(m, &inbox_url)
            } else {
                thread_text(&with_sizes(app, token, m).await, &inbox_url)
            };
            let ts = match app
                .slack
                .post_message(self.bot, &map.channel_id, Some(&map.parent_ts), &text, None)
                .await
            {
                Ok(ts) => ts,
                Err(e) => return Err((mirrored, slack_failure(app, self.install, e).await)),
            };
            cursor::advance(map, m);
            tracing::info!(portal, conversation = thread_id, message_id = %m.id, ts = %ts, "message mirrored");
            mirrored.push((m.id.clone(), ts));
        }
        Ok(mirrored)
    }

    /// The visitor's wait after the messages not handled yet (answers sent from Slack
    /// count: they end it too), its timer, and what the card says of it.
    fn note_waits(&self, map: &mut ThreadMap, card: &mut Card, messages: &[Message], now: i64) {
        for m in messages {
            if !cursor::seen(map, m) {
                map.note_message(m, now);
            }
        }
        waits::schedule(self.app, self.install, map, card);
        card.waiting_since = map.wait.as_ref().map(|w| w.since);
    }

    /// After a failed post: what was posted before it is recorded, so a retry does not post
    /// it again. Best effort; the lease is released by the caller.
    async fn save_progress(&self, map: ThreadMap, mirrored: &[(String, String)]) {
        // Nothing posted, nothing to keep (and a failure that deactivated the install has
        // just marked the mapping to expire: it stays so).
        if mirrored.is_empty() {
            return;
        }
        for (id, ts) in mirrored {
            if let Err(e) = self
                .app
                .records
                .record_message(self.portal, self.thread_id, id, ts, "inbox")
                .await
            {
                tracing::warn!(portal = self.portal, conversation = self.thread_id, error = %e, "mirrored message not recorded");
            }
        }
        if let Err(e) = self.save_merged(map).await {
            tracing::warn!(portal = self.portal, conversation = self.thread_id, error = %e, "sync progress not saved");
        }
    }

    /// Saves what a sync owns (cursor, page, card) onto the stored mapping, whatever other
    /// writers (an assignment from Slack) changed meanwhile.
    async fn save_merged(&self, map: ThreadMap) -> Result<ThreadMap, JobError> {
        let mut next = map;
        for _ in 0..3 {
            if let Some(saved) = self
                .app
                .records
                .save_thread(&next)
                .await
                .map_err(store_err)?
            {
                return Ok(saved);
            }
            let Some(stored) = self
                .app
                .records
                .get_thread(self.portal, self.thread_id)
                .await
                .map_err(store_err)?
            else {
                return Err(JobError::retry("thread mapping vanished"));
            };
            next = ThreadMap {
                cursor_at: next.cursor_at,
                cursor_id: next.cursor_id,
                recent_ids: next.recent_ids,
                page_after: next.page_after,
                refreshed_at: next.refreshed_at,
                card: next.card,
                card_shown_at: next.card_shown_at,
                card_due_at: next.card_due_at,
                wait: next.wait,
                answered: next.answered,
                wait_due_at: next.wait_due_at,
                first_response: next.first_response,
                inbox_alerts: next.inbox_alerts,
                status: next.status,
                not_a_contact: next.not_a_contact,
                ..stored
            };
        }
        Err(JobError::retry("thread mapping changed concurrently"))
    }

    /// The card to Slack now or later (`card_state::when_to_show`); saved by `finish`.
    /// Before the thread's messages, so that a card deleted in Slack is posted again first
    /// and they go under it.
    async fn show_card(
        &self,
        mut map: ThreadMap,
        card: &Card,
        now: i64,
    ) -> Result<ThreadMap, JobError> {
        match card_state::when_to_show(&map.status, card, map.card_shown_at, now) {
            Show::Nothing => map.card_due_at = None,
            Show::At(at) => map.card_due_at = Some(at),
            Show::Now => {
                match update_card(self.app, self.install, self.bot, map.clone(), card).await {
                    Ok(shown) => {
                        map = shown;
                        map.card_shown_at = now;
                        map.card_due_at = None;
                        tracing::info!(
                            portal = self.portal,
                            conversation = self.thread_id,
                            "notification updated"
                        );
                    }
                    // Slack's chat.update budget is the workspace's (tier 3, ~50 a minute):
                    // past it the card waits for the sweep, and the thread's messages still
                    // go now rather than the whole sync failing.
                    Err(JobError::Retry {
                        after: Some(after),
                        reason,
                    }) => {
                        let at = now + (after.as_secs() as i64).max(card_state::COALESCE_SECS);
                        tracing::info!(portal = self.portal, conversation = self.thread_id, reason = %reason, due = at, "card update deferred");
                        map.card_due_at = Some(at);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(map)
    }

    /// The sync's one final write: the mirrored messages, the mapping with the card as
    /// built, the lease released. None of it when nothing changed since `read` (a replayed
    /// webhook writes nothing; the caller releases the lease).
    async fn finish(
        &self,
        mut map: ThreadMap,
        card: &Card,
        mirrored: Vec<(String, String)>,
        read: Option<&ThreadMap>,
    ) -> Result<Released, JobError> {
        map.card = serde_json::to_string(card).ok();
        if mirrored.is_empty() && read == Some(&map) {
            return Ok(Released::No);
        }
        let posted = mirrored.iter().any(|(_, ts)| *ts != map.parent_ts);
        match self
            .app
            .records
            .finish_sync(&map, &mirrored, self.lease)
            .await
            .map_err(store_err)?
        {
            Some(_) => {}
            // Another writer saved the mapping meanwhile: ours goes on top of theirs.
            None => {
                self.save_merged(map).await?;
                if posted {
                    crate::services::health::note_delivery(self.app, self.install).await;
                }
                return Ok(Released::No);
            }
        }
        if posted {
            crate::services::health::note_delivery(self.app, self.install).await;
        }
        Ok(Released::Yes)
    }

    /// Reads the thread and its newest messages page; creates the notification when there
    /// is none, follows a move to another inbox, tells a new assignee.
    async fn full(
        &self,
        token: &Secret,
        existing: Option<ThreadMap>,
        now: i64,
    ) -> Result<Released, JobError> {
        let (app, install, bot) = (self.app, self.install, self.bot);
        let (portal, thread_id) = (self.portal, self.thread_id);
        // The first inbox call: on a 401 the token is refreshed and the call made once more.
        let mut token = token.clone();
        let thread =
            match crate::services::tokens::call(app, portal, &mut token, move |t| async move {
                app.inbox.conversation(&t, thread_id).await
            })
            .await
            {
                Ok(t) => t,
                Err(InboxError::NotFound) => {
                    tracing::info!(
                        portal,
                        conversation = thread_id,
                        "conversation no longer exists in the inbox"
                    );
                    return Ok(Released::No);
                }
                Err(e) => return Err(hubspot_failure(e)),
            };
        if existing.is_none() {
            if !thread.live_chat {
                tracing::info!(
                    portal,
                    conversation = thread_id,
                    channel = %thread.channel,
                    reason = "not a live chat",
                    "conversation not posted"
                );
                return Ok(Released::No);
            }
            if thread.archived || thread.spam {
                tracing::info!(
                    portal,
                    conversation = thread_id,
                    reason = if thread.spam { "spam" } else { "archived" },
                    "conversation not posted"
                );
                return Ok(Released::No);
            }
        }
        let old_card = existing.as_ref().and_then(kept_card);
        // The page the cursor is on, when the card kept knows what earlier pages said.
        let from = existing
            .as_ref()
            .filter(|_| old_card.is_some())
            .and_then(|m| m.page_after.clone());
        let (messages, page) = self.read_messages(&token, from.as_deref()).await?;
        let known_not_contact = existing.as_ref().and_then(|m| m.not_a_contact.clone());
        let (mut card, not_contact) = build_card(
            app,
            &token,
            portal,
            &thread,
            &messages,
            old_card.as_ref(),
            known_not_contact.as_deref(),
        )
        .await?;
        if existing.is_none() {
            // A new card shows the wait from the start (as `note_waits` will find it), so it
            // needs no update for it.
            let mut probe = ThreadMap::default();
            for m in &messages {
                probe.note_message(m, now);
            }
            card.waiting_since = probe
                .wait
                .map(|w| w.since)
                .filter(|_| card.status != "CLOSED");
        }
        // Routing by inbox: the inbox's own channel, else the install's. Read only when it
        // decides something: a new notification, or a conversation that changed inbox.
        let default_channel = self.channel;
        let inbox_changed = existing
            .as_ref()
            .is_none_or(|m| thread.inbox_id.is_some() && m.inbox_id != thread.inbox_id);
        let route = match (&thread.inbox_id, inbox_changed) {
            (Some(inbox), true) => app
                .records
                .route_for(portal, inbox)
                .await
                .map_err(store_err)?,
            _ => None,
        };
        let mut target = route
            .as_ref()
            .map_or_else(|| default_channel.to_string(), |r| r.channel_id.clone());
        let mut first_id = None;
        let mut map = match existing {
            Some(m) => m,
            None => {
                let ts = match post_card(app, bot, &target, &card).await {
                    Ok(ts) => ts,
                    Err(e) => match &route {
                        Some(r) if channel_unusable(&e) => {
                            unroute(app, install, r, default_channel, &e).await?;
                            target = default_channel.to_string();
                            match post_card(app, bot, &target, &card).await {
                                Ok(ts) => ts,
                                Err(e) => return Err(slack_failure(app, install, e).await),
                            }
                        }
                        _ => return Err(slack_failure(app, install, e).await),
                    },
                };
                let channel = target.as_str();
                first_id = messages
                    .iter()
                    .find(|m| m.is_from_visitor())
                    .map(|m| m.id.clone());
                let map = ThreadMap {
                    portal_id: portal.to_string(),
                    thread_id: thread_id.to_string(),
                    team_id: install.team_id.clone(),
                    channel_id: channel.to_string(),
                    parent_ts: ts.clone(),
                    first_message_id: first_id.clone(),
                    status: card.key(),
                    version: 1,
                    inbox_id: thread.inbox_id.clone(),
                    not_a_contact: not_contact.clone(),
                    card_shown_at: now,
                    ..Default::default()
                };
                if !app.records.create_thread(&map).await.map_err(store_err)? {
                    // Only possible if our lease expired mid-post: keep the first thread.
                    tracing::warn!(portal, conversation = thread_id, ts = %ts, "thread created concurrently; removing our duplicate notification");
                    let _ = app.slack.delete_message(bot, channel, &ts).await;
                    return Err(JobError::retry("thread created concurrently"));
                }
                tracing::info!(portal, conversation = thread_id, team = %install.team_id, channel, ts = %ts, "notification posted");
                crate::services::health::note_delivery(app, install).await;
                map
            }
        };
        // Moved to another inbox: to that inbox's channel when it differs.
        if inbox_changed && thread.inbox_id.is_some() && map.inbox_id != thread.inbox_id {
            let to = Destination {
                channel: &target,
                route: route.as_ref(),
                default: default_channel,
            };
            map = follow_inbox_move(app, install, bot, &card, &thread, map, to).await?;
        }
        if map.move_notice_pending {
            map = announce_move(app, install, bot, map).await?;
        }
        // Remembered once: the contact id that is a visitor's.
        if let Some(v) = not_contact.filter(|v| map.not_a_contact.as_deref() != Some(v.as_str())) {
            map.not_a_contact = Some(v);
        }
        // An assignment not seen yet: recorded, then told to the assignee, once (an agent's
        // own Assign to me from Slack was recorded by the assign flow, so it is not told).
        if thread.assignee_user_id != map.assignee {
            let next = ThreadMap {
                assignee: thread.assignee_user_id.clone(),
                ..map.clone()
            };
            map = app
                .records
                .save_thread(&next)
                .await
                .map_err(store_err)?
                .ok_or_else(|| JobError::retry("conversation changed meanwhile"))?;
            if map.assignee.is_some() {
                crate::services::assignment::tell_assignee(app, install, bot, &map, &card).await;
            }
        }
        let legacy = old_card.is_none() && first_id.is_none() && map.cursor_id.is_empty();
        if let Some(r) = &route {
            map.inbox_alerts = Some(r.alerts.clone()).filter(|a| !a.is_empty());
        }
        self.note_waits(&mut map, &mut card, &messages, now);
        let mut map = self.show_card(map, &card, now).await?;
        let mirrored = match self
            .mirror(&token, &mut map, &messages, first_id.as_deref(), legacy)
            .await
        {
            Ok(m) => m,
            Err((mirrored, e)) => {
                self.save_progress(map, &mirrored).await;
                return Err(e);
            }
        };
        map.page_after = page;
        map.refreshed_at = now;
        self.finish(map, &card, mirrored, None).await
    }
}

/// Which inbox messages a conversation's thread has: everything up to the cursor (the
/// newest message handled, by time then id), except that a message may become visible in
/// the inbox a little after a newer one, so the last ids handled are kept and a message
/// within `LATE_MS` before the cursor that is not among them is still posted.
mod cursor {
    use crate::domain::{Message, ThreadMap};

    const LATE_MS: i64 = 60_000;
    /// More than this many messages within `LATE_MS` in one chat is beyond any person.
    const RECENT: usize = 100;

    pub fn seen(map: &ThreadMap, m: &Message) -> bool {
        if map.recent_ids.contains(&m.id) {
            return true;
        }
        if map.recent_ids.is_empty() {
            return (m.created_at_ms, m.id.as_str()) <= (map.cursor_at, map.cursor_id.as_str())
                && !map.cursor_id.is_empty();
        }
        // A time that could not be read (0) says nothing: the ids decide.
        m.created_at_ms > 0 && m.created_at_ms < map.cursor_at - LATE_MS
    }

    pub fn advance(map: &mut ThreadMap, m: &Message) {
        if (m.created_at_ms, m.id.as_str()) > (map.cursor_at, map.cursor_id.as_str()) {
            map.cursor_at = m.created_at_ms;
            map.cursor_id = m.id.clone();
        }
        map.recent_ids.push(m.id.clone());
        if map.recent_ids.len() > RECENT {
            let extra = map.recent_ids.len() - RECENT;
            map.recent_ids.drain(..extra);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::domain::MessageKind;

        fn msg(id: &str, at: i64) -> Message {
            Message {
                id: id.into(),
                kind: MessageKind::Chat,
                created_at: String::new(),
                created_at_ms: at,
                text: None,
                rich_text: None,
                direction: None,
                senders: vec![],
                sent_by_app: None,
                attachments: vec![],
                reply_route: Default::default(),
            }
        }

        #[test]
        fn handled_messages_are_seen_and_a_late_one_within_a_minute_is_not() {
            let mut map = ThreadMap::default();
            for (id, at) in [("a", 100_000), ("b", 200_000), ("c", 300_000)] {
                assert!(!seen(&map, &msg(id, at)));
                advance(&mut map, &msg(id, at));
            }
            assert_eq!((map.cursor_at, map.cursor_id.as_str()), (300_000, "c"));
            assert!(seen(&map, &msg("b", 200_000)));
            // Shows up after "c" though written before it: still posted.
            assert!(!seen(&map, &msg("x", 290_000)));
            advance(&mut map, &msg("x", 290_000));
            assert_eq!(map.cursor_id, "c", "the cursor does not go back");
            assert!(seen(&map, &msg("x", 290_000)));
            // Long before the cursor: seen, whatever its id.
            assert!(seen(&map, &msg("old", 10_000)));
            // A time that could not be read is decided by the ids.
            assert!(!seen(&map, &msg("t0", 0)));
        }

        #[test]
        fn at_most_the_last_hundred_ids_are_kept() {
            let mut map = ThreadMap::default();
            for n in 0..150 {
                advance(&mut map, &msg(&format!("m{n}"), 1000 + n));
            }
            assert_eq!(map.recent_ids.len(), RECENT);
            assert_eq!(map.recent_ids[0], "m50");
        }
    }
}
/// Posts a conversation's notification card in `channel`; its ts.
pub(super) async fn post_card(
    app: &App,
    bot: &Secret,
    channel: &str,
    card: &Card,
) -> Result<String, SlackError> {
    let blocks = card.blocks();
    match app
        .slack
        .post_message(bot, channel, None, &card.fallback_text(), Some(&blocks))
        .await
    {
        Err(e) if payload_refused(&e) => {
            // The conversation still reaches Slack: as plain text, with the inbox link.
            refused(card, &blocks, &e);
            app.slack
                .post_message(bot, channel, None, &card.plain_text(), None)
                .await
        }
        other => other,
    }
}

/// Slack refused the payload itself (contracts/slack.md: `invalid_blocks`, `msg_too_long`,
/// `invalid_attachments`): the same request would be refused again, so it is never retried.
fn payload_refused(e: &SlackError) -> bool {
    e.class() == SlackClass::PayloadRefused
}

/// Reports what Slack refused, for whoever fixes the builder.
fn refused(card: &Card, blocks: &Value, e: &SlackError) {
    tracing::error!(
        portal = %card.portal_id,
        conversation = %card.thread_id,
        code = e.code().unwrap_or(""),
        blocks = blocks.as_array().map_or(0, Vec::len),
        payload_chars = blocks.to_string().chars().count(),
        over_limit = crate::chat::blocks::limits::check(blocks, false).err().unwrap_or_default(),
        "slack refused the card's blocks; posted as plain text instead"
    );
}

/// Brings the card up to date. Someone deleted it (`message_not_found`): a fresh card is
/// posted and the conversation goes on in its thread. Slack refused its blocks: it is
/// updated as plain text.
async fn update_card(
    app: &App,
    install: &Install,
    bot: &Secret,
    map: ThreadMap,
    card: &Card,
) -> Result<ThreadMap, JobError> {
    let store_err = |e: crate::store::StoreError| JobError::retry(e.to_string());
    let blocks = card.blocks();
    let updated = app
        .slack
        .update_message(
            bot,
            &map.channel_id,
            &map.parent_ts,
            &card.fallback_text(),
            Some(&blocks),
        )
        .await;
    let updated = match updated {
        Err(e) if payload_refused(&e) => {
            refused(card, &blocks, &e);
            app.slack
                .update_message(
                    bot,
                    &map.channel_id,
                    &map.parent_ts,
                    &card.plain_text(),
                    Some(&json!([])),
                )
                .await
        }
        other => other,
    };
    match updated {
        // Saved by the sync's final write.
        Ok(()) => Ok(ThreadMap {
            status: card.key(),
            ..map
        }),
        Err(e) if e.class() == SlackClass::MessageGone => {
            let ts = match post_card(app, bot, &map.channel_id, card).await {
                Ok(ts) => ts,
                Err(e) => return Err(slack_failure(app, install, e).await),
            };
            let mut fresh = map.clone();
            fresh
                .earlier
                .push((map.channel_id.clone(), map.parent_ts.clone()));
            fresh.parent_ts = ts.clone();
            fresh.status = card.key();
            tracing::warn!(portal = %map.portal_id, conversation = %map.thread_id, old_ts = %map.parent_ts, ts = %ts, "the card was deleted in Slack; a fresh one was posted");
            match app.records.move_thread(&fresh).await.map_err(store_err)? {
                Some(m) => Ok(m),
                None => {
                    let _ = app.slack.delete_message(bot, &map.channel_id, &ts).await;
                    Err(JobError::retry("thread mapping changed concurrently"))
                }
            }
        }
        Err(e) => Err(slack_failure(app, install, e).await),
    }
}
