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
use crate::chat::blocks::card::{Card, Person, ACTION_REPLY_IN_INBOX};
use crate::chat::blocks::messages::{sender_name, thread_text};
use crate::chat::slack::{Class as SlackClass, SlackError};
use crate::domain::{
    Attachment, Conversation, Direction, InboxError, InboxRoute, Install, InstallStatus, Message,
    ThreadMap,
};
use crate::queue::JobError;
use crate::services::failures::{hubspot_failure, slack_failure};
use crate::services::links::inbox_link;
use crate::support::secret::Secret;

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

async fn person(
    app: &App,
    token: &Secret,
    portal: &str,
    uid: &str,
) -> Result<Option<Person>, JobError> {
    let owner = crate::services::lookups::owner_by_user_id(app, portal, token, uid)
        .await
        .map_err(hubspot_failure)?;
    let mapped = app
        .records
        .user_for_inbox(portal, uid)
        .await
        .map_err(|e| JobError::retry(e.to_string()))?;
    Ok(Some(Person {
        user_id: Some(uid.to_string()),
        name: owner
            .as_ref()
            .map(|o| o.display_name())
            .unwrap_or_else(|| format!("HubSpot user {uid}")),
        email: owner.as_ref().and_then(|o| o.email.clone()),
        slack_user: mapped.map(|m| m.slack_user_id),
    }))
}

/// The card, and the thread's `associatedContactId` when it turned out not to be a CRM
/// contact (to be remembered on the conversation, so it is not asked again).
async fn build_card(
    app: &App,
    token: &Secret,
    portal: &str,
    thread: &Conversation,
    messages: &[Message],
    known_not_contact: Option<&str>,
) -> Result<(Card, Option<String>), JobError> {
    let first = messages.iter().find(|m| m.is_from_visitor());
    let assignee = match thread.assignee_user_id.as_deref() {
        Some(uid) => person(app, token, portal, uid).await?,
        None => None,
    };
    // `associatedContactId` is a visitor id until the visitor becomes a contact, and the
    // definitions give no way to tell the two apart (HubSpot-public-api-spec-collection,
    // Conversations 2026-09, PublicThread; contracts/hubspot.md): the CRM is asked once,
    // and an id it does not know is not asked again for this conversation.
    let lookup = thread
        .contact_id
        .as_deref()
        .filter(|c| Some(*c) != known_not_contact);
    let (contact, not_contact) = match lookup {
        Some(c) => {
            match crate::services::lookups::contact(app, portal, token, c, thread.created_at_ms)
                .await
            {
                Ok(Some(contact)) => (Some(contact), None),
                Ok(None) => {
                    tracing::info!(portal, conversation = %thread.id, "the thread's contact id is not a CRM contact (a visitor id); not asked again");
                    (None, Some(c.to_string()))
                }
                Err(e) if e.is_retryable() => return Err(hubspot_failure(e)),
                // Refused (a scope missing, say): show no owner, ask again next time.
                Err(_) => (None, None),
            }
        }
        None => (None, None),
    };
    let contact_owner = match contact.as_ref().and_then(|c| c.owner_id.as_deref()) {
        Some(owner_id) => crate::services::lookups::owner_by_id(app, portal, token, owner_id)
            .await
            .map_err(hubspot_failure)?
            .map(|o| o.display_name()),
        None => None,
    };
    let assignee_available = match assignee.as_ref().and_then(|p| p.user_id.as_deref()) {
        Some(uid) => app
            .records
            .list_availability(portal)
            .await
            .ok()
            .and_then(|l| l.into_iter().find(|a| a.inbox_user_id == uid))
            .map(|a| a.available),
        None => None,
    };
    let chat: Vec<&Message> = messages.iter().filter(|m| m.is_chat()).collect();
    let last_reply = chat
        .last()
        .map(|m| (sender_name(m), m.created_at_ms.div_euclid(1000)));
    let first_in = chat
        .iter()
        .find(|m| m.direction == Some(Direction::FromVisitor));
    let first_out = chat
        .iter()
        .find(|m| m.direction == Some(Direction::FromAgent));
    let first_response_secs = match (first_in, first_out) {
        (Some(i), Some(o)) if o.created_at_ms >= i.created_at_ms && i.created_at_ms > 0 => {
            Some((o.created_at_ms - i.created_at_ms) / 1000)
        }
        _ => None,
    };
    Ok((
        Card {
            last_reply,
            first_response_secs,
            portal_id: portal.to_string(),
            thread_id: thread.id.clone(),
            first_message: first.and_then(|m| m.text.clone()).unwrap_or_default(),
            visitor: first.map(sender_name).unwrap_or_else(|| "Visitor".into()),
            status: thread.status.as_str().to_string(),
            // No API gives the page a chat started on: the contact's last page seen as of the
            // chat's start, when the CRM knows it (contracts/hubspot-platform-2026.md).
            page: contact.and_then(|c| c.last_page_seen),
            assignee,
            contact_owner,
            inbox_url: inbox_link(app, portal, &thread.id),
            assignee_available,
        },
        not_contact,
    ))
}

/// Brings the conversation's Slack side up to date. Idempotent.
pub async fn sync_conversation(app: &App, portal: &str, thread_id: &str) -> Result<(), JobError> {
    let log_skip = |reason: &str| {
        tracing::info!(
            portal,
            conversation = thread_id,
            reason,
            "conversation not posted"
        );
        Ok(())
    };
    let mut install = match crate::services::slack_token::install_for_portal(app, portal).await {
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
    let res = sync_locked(app, &install, &bot, &channel, &token, portal, thread_id).await;
    if let Err(e) = app.records.release_lease(&lease, &owner).await {
        tracing::warn!(portal, conversation = thread_id, error = %e, "lease not released; it expires by itself");
    }
    res
}

fn random_suffix() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

#[allow(clippy::too_many_arguments)]
async fn sync_locked(
    app: &App,
    install: &Install,
    bot: &Secret,
    channel: &str,
    token: &Secret,
    portal: &str,
    thread_id: &str,
) -> Result<(), JobError> {
    let store_err = |e: crate::store::StoreError| JobError::retry(e.to_string());
    // The first inbox call: on a 401 the token is refreshed and the call made once more.
    let mut token = token.clone();
    let thread = match crate::services::tokens::call(app, portal, &mut token, move |t| async move {
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
            return Ok(());
        }
        Err(e) => return Err(hubspot_failure(e)),
    };
    let existing = app
        .records
        .get_thread(portal, thread_id)
        .await
        .map_err(store_err)?;
    if existing.is_none() {
        if !thread.live_chat {
            tracing::info!(
                portal,
                conversation = thread_id,
                channel = %thread.channel,
                reason = "not a live chat",
                "conversation not posted"
            );
            return Ok(());
        }
        if thread.archived || thread.spam {
            tracing::info!(
                portal,
                conversation = thread_id,
                reason = if thread.spam { "spam" } else { "archived" },
                "conversation not posted"
            );
            return Ok(());
        }
    }
    let messages = app
        .inbox
        .messages(&token, thread_id)
        .await
        .map_err(hubspot_failure)?;
    let known_not_contact = existing.as_ref().and_then(|m| m.not_a_contact.clone());
    let (card, not_contact) = build_card(
        app,
        &token,
        portal,
        &thread,
        &messages,
        known_not_contact.as_deref(),
    )
    .await?;
    // Routing by inbox: the inbox's own channel, else the install's.
    let default_channel = channel;
    let route = match &thread.inbox_id {
        Some(inbox) => app
            .records
            .route_for(portal, inbox)
            .await
            .map_err(store_err)?,
        None => None,
    };
    let mut target = route
        .as_ref()
        .map_or_else(|| channel.to_string(), |r| r.channel_id.clone());
    let mut posted = false;
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
            let first_id = messages
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
                cursor_at: 0,
                cursor_id: String::new(),
                status: card.key(),
                assignee: None,
                version: 1,
                inbox_id: thread.inbox_id.clone(),
                earlier: vec![],
                move_notice_pending: false,
                not_a_contact: not_contact.clone(),
            };
            if !app.records.create_thread(&map).await.map_err(store_err)? {
                // Only possible if our lease expired mid-post: keep the first thread.
                tracing::warn!(portal, conversation = thread_id, ts = %ts, "thread created concurrently; removing our duplicate notification");
                let _ = app.slack.delete_message(bot, channel, &ts).await;
                return Err(JobError::retry("thread created concurrently"));
            }
            if let Some(id) = &first_id {
                app.records
                    .record_message(portal, thread_id, id, &ts, "inbox")
                    .await
                    .map_err(store_err)?;
            }
            tracing::info!(portal, conversation = thread_id, team = %install.team_id, channel, ts = %ts, "notification posted");
            posted = true;
            app.records
                .get_thread(portal, thread_id)
                .await
                .map_err(store_err)?
                .ok_or_else(|| JobError::retry("thread mapping vanished"))?
        }
    };
    // Moved to another inbox: to that inbox's channel when it differs.
    if thread.inbox_id.is_some() && map.inbox_id != thread.inbox_id {
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
        let next = ThreadMap {
            not_a_contact: Some(v),
            ..map.clone()
        };
        // A concurrent change wins; the id is then looked up once more, no harm.
        if let Ok(Some(m)) = app.records.save_thread(&next).await {
            map = m;
        }
    }
    // The card: update when what it shows changed (status, assignee, claim).
    if map.status != card.key() {
        map = update_card(app, install, bot, map, &card).await?;
        tracing::info!(portal, conversation = thread_id, "notification updated");
    }
    // An assignment not seen yet: recorded, then told to the assignee, once (an agent's own
    // Assign to me from Slack was recorded by the assign flow, so it is not told).
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
    // The thread: every message not yet mirrored, oldest first.
    let done: HashSet<String> = app
        .records
        .list_messages(portal, thread_id)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    let inbox_url = inbox_link(app, portal, thread_id);
    for m in &messages {
        // Visitor and agent messages, and internal notes (COMMENT, marked as such).
        if !(m.is_chat() || m.is_note()) || done.contains(&m.id) {
            continue;
        }
        if is_from_slack(app, m) {
            // Sent from Slack by this app: already in the thread (no echo).
            continue;
        }
        let text = if m.attachments.is_empty() {
            thread_text(m, &inbox_url)
        } else {
            thread_text(&with_sizes(app, &token, m).await, &inbox_url)
        };
        let ts = match app
            .slack
            .post_message(bot, &map.channel_id, Some(&map.parent_ts), &text, None)
            .await
        {
            Ok(ts) => ts,
            Err(e) => return Err(slack_failure(app, install, e).await),
        };
        app.records
            .record_message(portal, thread_id, &m.id, &ts, "inbox")
            .await
            .map_err(store_err)?;
        tracing::info!(portal, conversation = thread_id, message_id = %m.id, ts = %ts, "message mirrored");
        posted = true;
    }
    if posted {
        crate::services::health::note_delivery(app, install).await;
    }
    Ok(())
}

/// The conversation is now in another inbox (`thread.inbox_id`, routed to `target`). The
/// first sync that learns a mapping's inbox only records it. Otherwise, to the same channel:
/// a line in the thread; to another channel: a new notification there, the mapping moved to
/// it (the earlier thread stays linked, so replies there still arrive), and a pending notice
/// for the earlier thread (`announce_move`).
/// Posts a conversation's notification card in `channel`; its ts.
async fn post_card(
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
        Ok(()) => {
            let mut map = map;
            map.status = card.key();
            app.records
                .save_thread(&map)
                .await
                .map_err(store_err)?
                .ok_or_else(|| JobError::retry("thread mapping changed concurrently"))
        }
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

/// Where a conversation's notification belongs: its inbox's routed channel, else the
/// install's.
struct Destination<'a> {
    channel: &'a str,
    route: Option<&'a InboxRoute>,
    default: &'a str,
}

/// Errors by which a channel refuses every post until someone acts (contracts/slack.md).
fn channel_unusable(e: &SlackError) -> bool {
    e.class() == SlackClass::ChannelUnusable
}

/// A routed inbox's channel refuses posts: the route is removed, so that inbox's chats go
/// to the install's channel instead of every notification stopping, and the admin who set
/// it is told once, privately, how to route it again.
async fn unroute(
    app: &App,
    install: &Install,
    route: &InboxRoute,
    fallback: &str,
    e: &SlackError,
) -> Result<(), JobError> {
    let code = e.code().unwrap_or("error");
    app.records
        .delete_route(&route.portal_id, &route.inbox_id)
        .await
        .map_err(|e| JobError::retry(e.to_string()))?;
    tracing::error!(portal = %route.portal_id, team = %install.team_id, inbox = %route.inbox_id, channel = %route.channel_id, code, "routed channel refuses posts; route removed, the inbox's chats go to the notification channel");
    if let Some(bot) = &install.bot_token {
        let text = format!(
            ":warning: New chats of HubSpot inbox {} could not be posted to <#{}> ({code}), so they go to <#{fallback}> now. Invite the app there (or pick another channel), then route the inbox again in the app's Home tab.",
            route.inbox_id, route.channel_id
        );
        if let Err(e) = app
            .slack
            .post_message(bot, &route.set_by, None, &text, None)
            .await
        {
            tracing::warn!(portal = %route.portal_id, error = %e, "could not tell the admin who routed the inbox");
        }
    }
    Ok(())
}

async fn follow_inbox_move(
    app: &App,
    install: &Install,
    bot: &Secret,
    card: &Card,
    thread: &Conversation,
    map: ThreadMap,
    to: Destination<'_>,
) -> Result<ThreadMap, JobError> {
    let store_err = |e: crate::store::StoreError| JobError::retry(e.to_string());
    let (portal, conv) = (map.portal_id.clone(), map.thread_id.clone());
    let changed = || JobError::retry("thread mapping changed concurrently");
    let mut target = to.channel;
    // The new card, unless it stays in this channel; a routed channel that refuses it gives
    // way to the install's channel.
    let mut new_card = None;
    if map.inbox_id.is_some() && target != map.channel_id {
        match post_card(app, bot, target, card).await {
            Ok(ts) => new_card = Some(ts),
            Err(e) => match to.route {
                Some(r) if channel_unusable(&e) => {
                    unroute(app, install, r, to.default, &e).await?;
                    target = to.default;
                    if target != map.channel_id {
                        match post_card(app, bot, target, card).await {
                            Ok(ts) => new_card = Some(ts),
                            Err(e) => return Err(slack_failure(app, install, e).await),
                        }
                    }
                }
                _ => return Err(slack_failure(app, install, e).await),
            },
        }
    }
    let Some(ts) = new_card else {
        if map.inbox_id.is_some() {
            let text = format!(
                ":arrow_right: This conversation moved to another inbox in HubSpot: <{}|open it in the inbox>.",
                inbox_link(app, &portal, &conv)
            );
            if let Err(e) = app
                .slack
                .post_message(bot, &map.channel_id, Some(&map.parent_ts), &text, None)
                .await
            {
                return Err(slack_failure(app, install, e).await);
            }
            tracing::info!(portal = %portal, conversation = %conv, inbox = thread.inbox_id.as_deref().unwrap_or(""), "conversation moved to another inbox; same channel");
        }
        let next = ThreadMap {
            inbox_id: thread.inbox_id.clone(),
            ..map
        };
        return app
            .records
            .save_thread(&next)
            .await
            .map_err(store_err)?
            .ok_or_else(changed);
    };
    let mut moved = map.clone();
    moved
        .earlier
        .push((map.channel_id.clone(), map.parent_ts.clone()));
    moved.channel_id = target.to_string();
    moved.parent_ts = ts.clone();
    moved.inbox_id = thread.inbox_id.clone();
    moved.status = card.key();
    moved.move_notice_pending = true;
    match app.records.move_thread(&moved).await.map_err(store_err)? {
        Some(m) => {
            tracing::info!(portal = %portal, conversation = %conv, inbox = thread.inbox_id.as_deref().unwrap_or(""), channel = target, ts = %ts, "conversation moved to another inbox; notification posted in its channel");
            Ok(m)
        }
        None => {
            let _ = app.slack.delete_message(bot, target, &ts).await;
            Err(changed())
        }
    }
}

/// Tells the earlier thread where the conversation went (a link to its new notification).
async fn announce_move(
    app: &App,
    install: &Install,
    bot: &Secret,
    map: ThreadMap,
) -> Result<ThreadMap, JobError> {
    let Some((old_channel, old_ts)) = map.earlier.last().cloned() else {
        return Ok(map);
    };
    let link = match app
        .slack
        .permalink(bot, &map.channel_id, &map.parent_ts)
        .await
    {
        Ok(url) if url.starts_with("https://") => format!("<{url}|continued here>"),
        _ => format!("continued in <#{}>", map.channel_id),
    };
    // The old card first (an update can be repeated; the note can't): it points to the new one
    // and keeps only Reply in Inbox, so its Close and Claim no longer show a stale state.
    let card_text = format!(
        ":arrow_right: Moved to another inbox, routed to <#{}>: {link}.",
        map.channel_id
    );
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": card_text}},
        {"type": "actions", "elements": [{
            "type": "button",
            "action_id": ACTION_REPLY_IN_INBOX,
            "text": {"type": "plain_text", "text": "Reply in Inbox"},
            "url": inbox_link(app, &map.portal_id, &map.thread_id),
        }]}
    ]);
    match app
        .slack
        .update_message(bot, &old_channel, &old_ts, &card_text, Some(&blocks))
        .await
    {
        Ok(()) => {}
        Err(e) if e.is_retryable() => return Err(slack_failure(app, install, e).await),
        Err(e) => {
            tracing::warn!(portal = %map.portal_id, conversation = %map.thread_id, channel = %old_channel, error = %e, "earlier card not redrawn");
        }
    }
    let text = format!(
        ":arrow_right: This conversation moved to another inbox, routed to <#{}>: {link}. Replies here still reach the visitor.",
        map.channel_id
    );
    match app
        .slack
        .post_message(bot, &old_channel, Some(&old_ts), &text, None)
        .await
    {
        Ok(_) => {}
        Err(e) if e.is_retryable() => return Err(slack_failure(app, install, e).await),
        Err(e) => {
            // The old channel is gone or closed to the app: the new notification stands.
            tracing::warn!(portal = %map.portal_id, conversation = %map.thread_id, channel = %old_channel, error = %e, "move not announced in the earlier thread");
        }
    }
    let next = ThreadMap {
        move_notice_pending: false,
        ..map
    };
    app.records
        .save_thread(&next)
        .await
        .map_err(|e| JobError::retry(e.to_string()))?
        .ok_or_else(|| JobError::retry("thread mapping changed concurrently"))
}

/// The conversation was deleted in the inbox: remove its Slack messages (privacy deletion)
/// or redact them (deletion), then its mappings.
pub async fn delete_conversation(
    app: &App,
    portal: &str,
    thread_id: &str,
    privacy: bool,
) -> Result<(), JobError> {
    let store_err = |e: crate::store::StoreError| JobError::retry(e.to_string());
    let Some(install) = crate::services::slack_token::install_for_portal(app, portal).await? else {
        return Ok(());
    };
    let Some(map) = app
        .records
        .get_thread(portal, thread_id)
        .await
        .map_err(store_err)?
    else {
        tracing::info!(
            portal,
            conversation = thread_id,
            "deleted conversation had no Slack thread"
        );
        return Ok(());
    };
    let Some(bot) = install.bot_token.clone() else {
        app.records
            .delete_thread(portal, thread_id)
            .await
            .map_err(store_err)?;
        return Ok(());
    };
    // A bot token deletes only the bot's own messages (`cant_delete_message` otherwise,
    // contracts/slack.md): the agents' replies stay, and their authors are told below.
    let by_agents = app
        .records
        .replies_by_agents(portal, thread_id)
        .await
        .map_err(store_err)?;
    for (_, ts, origin) in app
        .records
        .list_messages(portal, thread_id)
        .await
        .map_err(store_err)?
    {
        if ts.is_empty()
            || origin == "slack"
            || ts == map.parent_ts
            || map.earlier.iter().any(|(_, p)| *p == ts)
        {
            continue;
        }
        match app
            .slack
            .delete_message(&bot, map.channel_of(&ts), &ts)
            .await
        {
            Ok(()) => {}
            Err(e) if e.class() == SlackClass::NotTheAppsMessage => {
                tracing::warn!(portal, conversation = thread_id, ts = %ts, "a message in the thread is not the app's to delete; left");
            }
            Err(e) => return Err(slack_failure(app, &install, e).await),
        }
    }
    // Notifications the conversation had before it moved inboxes.
    for (c, p) in &map.earlier {
        let res = if privacy {
            app.slack.delete_message(&bot, c, p).await
        } else {
            let text = "This conversation was deleted in the inbox.";
            let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": format!(":wastebasket: {text}")}}]);
            app.slack
                .update_message(&bot, c, p, text, Some(&blocks))
                .await
        };
        if let Err(e) = res {
            tracing::warn!(portal, conversation = thread_id, channel = %c, error = %e, "earlier notification not removed");
        }
    }
    let res = if privacy {
        app.slack
            .delete_message(&bot, &map.channel_id, &map.parent_ts)
            .await
    } else {
        let text = "This conversation was deleted in the inbox.";
        let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": format!(":wastebasket: {text}")}}]);
        app.slack
            .update_message(&bot, &map.channel_id, &map.parent_ts, text, Some(&blocks))
            .await
    };
    if let Err(e) = res {
        return Err(slack_failure(app, &install, e).await);
    }
    tell_reply_authors(app, &bot, &map, &by_agents, privacy).await;
    app.records
        .delete_thread(portal, thread_id)
        .await
        .map_err(store_err)?;
    tracing::info!(
        portal,
        conversation = thread_id,
        privacy,
        agents_told = by_agents.len(),
        "conversation removed from Slack"
    );
    Ok(())
}

/// Tells each agent who answered in the thread, privately, that the conversation is gone
/// from the inbox, with links to their replies; for a privacy deletion, that they should
/// delete those replies themselves (the app cannot). Best effort: logged when it fails.
async fn tell_reply_authors(
    app: &App,
    bot: &Secret,
    map: &ThreadMap,
    replies: &[(String, String)],
    privacy: bool,
) {
    let mut authors: Vec<&str> = replies.iter().map(|(_, u)| u.as_str()).collect();
    authors.sort_unstable();
    authors.dedup();
    for user in authors {
        let mut links = Vec::new();
        for (ts, _) in replies.iter().filter(|(_, u)| u == user).take(10) {
            match app.slack.permalink(bot, map.channel_of(ts), ts).await {
                Ok(url) => links.push(format!("<{url}|your reply>")),
                Err(e) => tracing::debug!(error = %e, "no permalink for a reply"),
            }
        }
        let where_ = if links.is_empty() {
            "in its Slack thread".to_string()
        } else {
            format!("in its Slack thread ({})", links.join(", "))
        };
        let text = if privacy {
            format!(":wastebasket: A conversation you answered from Slack was deleted from the inbox at the visitor's request (a privacy deletion). The app removed what it had posted, but Slack does not let it remove what you wrote: please delete your replies {where_} yourself.")
        } else {
            format!(":wastebasket: A conversation you answered from Slack was deleted in the inbox. Your replies {where_} stay in Slack.")
        };
        if let Err(e) = app.slack.post_message(bot, user, None, &text, None).await {
            tracing::warn!(portal = %map.portal_id, conversation = %map.thread_id, error = %e, "could not tell an agent about the deletion");
        }
    }
}
