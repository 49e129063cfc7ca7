//! A conversation deleted in the inbox: its Slack messages removed or redacted, its
//! mappings with them, and the agents who answered it told.

use serde_json::json;

use crate::app::App;
use crate::chat::slack::Class as SlackClass;
use crate::domain::ThreadMap;
use crate::queue::JobError;
use crate::services::failures::slack_failure;
use crate::support::secret::Secret;
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
