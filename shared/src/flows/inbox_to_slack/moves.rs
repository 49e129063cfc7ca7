//! A conversation that moved to another inbox: its card follows it to that inbox's routed
//! channel, and a route whose channel refuses posts gives way to the install's channel.

use serde_json::json;

use super::post_card;
use crate::app::App;
use crate::chat::blocks::card::{Card, ACTION_REPLY_IN_INBOX};
use crate::chat::slack::{Class as SlackClass, SlackError};
use crate::domain::{Conversation, InboxRoute, Install, ThreadMap};
use crate::queue::JobError;
use crate::services::failures::slack_failure;
use crate::services::links::inbox_link;
use crate::support::secret::Secret;
/// Where a conversation's notification belongs: its inbox's routed channel, else the
/// install's.
pub(super) struct Destination<'a> {
    pub(super) channel: &'a str,
    pub(super) route: Option<&'a InboxRoute>,
    pub(super) default: &'a str,
}

/// Errors by which a channel refuses every post until someone acts (contracts/slack.md).
pub(super) fn channel_unusable(e: &SlackError) -> bool {
    e.class() == SlackClass::ChannelUnusable
}

/// A routed inbox's channel refuses posts: the route is removed, so that inbox's chats go
/// to the install's channel instead of every notification stopping, and the admin who set
/// it is told once, privately, how to route it again.
pub(super) async fn unroute(
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

/// The conversation is now in another inbox (`thread.inbox_id`, routed to `target`). The
/// first sync that learns a mapping's inbox only records it. Otherwise, to the same channel:
/// a line in the thread; to another channel: a new notification there, the mapping moved to
/// it (the earlier thread stays linked, so replies there still arrive), and a pending notice
/// for the earlier thread (`announce_move`).
pub(super) async fn follow_inbox_move(
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
pub(super) async fn announce_move(
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
