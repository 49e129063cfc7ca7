//! Acting on a conversation from its card: Assign to me, Reassign (a Slack user picked in
//! the card's select), Unassign, and the reaction shortcuts (✅ closes, removing it
//! reopens, 👀 assigns to the one who reacted). Only agents linked to a HubSpot user act;
//! everyone else is told privately, and nothing changes.
//!
//! A card's clicks and reactions run one at a time, in order (their queue group is the
//! card's message). Each click names the assignee the card showed; when the inbox says
//! someone else by then, the click is refused and the card redrawn, so of two agents who
//! click Assign to me at once one gets it and the other is told who did.

use crate::app::App;
use crate::chat::blocks::card::{
    parse_assign_value, ACTION_ASSIGN_ME, ACTION_REASSIGN, ACTION_UNASSIGN, REACTION_ASSIGN_ME,
    REACTION_CLOSE,
};
use crate::domain::{InboxError, Install, Status, ThreadMap};
use crate::queue::JobError;
use crate::services::agents::{inbox_user_for, live_install};
use crate::services::clicks::{answer_click, install_for_click, CardChanged, NOT_LINKED};
use crate::services::failures::hubspot_failure;
use crate::support::secret::Secret;

fn store_err(e: crate::store::StoreError) -> JobError {
    JobError::retry(e.to_string())
}

/// Who the assignee is, as a Slack reader would want to see them.
async fn who(app: &App, portal: &str, me: &str, uid: Option<&str>) -> String {
    let Some(uid) = uid else {
        return "nobody".into();
    };
    match app.records.user_for_inbox(portal, uid).await {
        Ok(Some(m)) if m.slack_user_id == me => "you".into(),
        Ok(Some(m)) => format!("<@{}>", m.slack_user_id),
        _ => format!("HubSpot user {uid}"),
    }
}

/// What a change ended with, to be told to the one who asked.
enum Outcome {
    Done,
    /// The inbox already had someone else than the card showed (the card is redrawn).
    Stale(Option<String>),
    Already,
    Refused(String),
}

/// Assigns `thread` to `target` (None: unassigns) if its assignee is still `expected`
/// (`check` false: whatever it is). `own`: the agent assigns it to themselves, which is
/// recorded first so that they are not sent a message about it.
#[allow(clippy::too_many_arguments)]
async fn change(
    app: &App,
    install: &Install,
    hs: &mut Secret,
    thread: &str,
    expected: Option<&str>,
    check: bool,
    target: Option<&str>,
    own: bool,
) -> Result<Outcome, JobError> {
    let portal = install.portal_id.as_str();
    let current = match crate::services::tokens::call(app, portal, hs, move |t| async move {
        app.inbox.conversation(&t, thread).await
    })
    .await
    {
        Ok(c) => c.assignee_user_id,
        Err(InboxError::NotFound) => {
            return Ok(Outcome::Refused(
                "That conversation no longer exists in the inbox.".into(),
            ))
        }
        Err(e) => return Err(hubspot_failure(e)),
    };
    if current.as_deref() == target {
        return Ok(Outcome::Already);
    }
    if check && current.as_deref() != expected {
        return Ok(Outcome::Stale(current));
    }
    if own {
        // Recorded before the inbox changes: the sync that follows sees nothing new to tell.
        if let Some(map) = app
            .records
            .get_thread(portal, thread)
            .await
            .map_err(store_err)?
        {
            let next = ThreadMap {
                assignee: target.map(str::to_string),
                ..map
            };
            app.records
                .save_thread(&next)
                .await
                .map_err(store_err)?
                .ok_or_else(|| JobError::retry("conversation changed meanwhile"))?;
        }
    }
    match crate::services::tokens::call(app, portal, hs, move |t| async move {
        app.inbox.assign(&t, thread, target).await
    })
    .await
    {
        Ok(()) => Ok(Outcome::Done),
        Err(e) if e.is_retryable() => Err(hubspot_failure(e)),
        Err(e) => {
            if own {
                // Recorded ahead for nothing: put back what the inbox still has.
                if let Ok(Some(map)) = app.records.get_thread(portal, thread).await {
                    let back = ThreadMap {
                        assignee: current.clone(),
                        ..map
                    };
                    let _ = app.records.save_thread(&back).await;
                }
            }
            Ok(Outcome::Refused(format!(
                "The inbox did not accept the change ({e}). Nothing changed."
            )))
        }
    }
}

/// A click on Assign to me, Unassign, or a pick in the Reassign select.
pub async fn from_click(
    app: &App,
    team: &str,
    user: &str,
    action: &str,
    value: &str,
    response_url: &str,
) -> Result<Option<CardChanged>, JobError> {
    let respond = |text: String| answer_click(app, team, response_url, text);
    let Some((portal, thread, expected, picked)) = parse_assign_value(value) else {
        respond("That button is not valid any more.".into()).await;
        return Ok(None);
    };
    let not_connected = "This Slack workspace is no longer connected to the HubSpot inbox.";
    let Some((install, bot, mut hs)) =
        install_for_click(app, team, &portal, response_url, not_connected).await?
    else {
        return Ok(None);
    };
    let Some(me) = inbox_user_for(app, &install, &bot, &hs, user).await? else {
        respond(NOT_LINKED.into()).await;
        return Ok(None);
    };
    let target = match action {
        ACTION_ASSIGN_ME => Some(me.inbox_user_id.clone()),
        ACTION_UNASSIGN => None,
        ACTION_REASSIGN => {
            let Some(picked) = picked else {
                respond("That button is not valid any more.".into()).await;
                return Ok(None);
            };
            match inbox_user_for(app, &install, &bot, &hs, &picked).await? {
                Some(m) => Some(m.inbox_user_id),
                None => {
                    respond(format!("Nothing changed: <@{picked}> is not a HubSpot user of this inbox (no linked account, and their Slack email is no HubSpot user's).")).await;
                    return Ok(None);
                }
            }
        }
        _ => return Ok(None),
    };
    let own = target.as_deref() == Some(me.inbox_user_id.as_str());
    let outcome = change(
        app,
        &install,
        &mut hs,
        &thread,
        expected.as_deref(),
        true,
        target.as_deref(),
        own,
    )
    .await?;
    let changed = Some(CardChanged {
        portal_id: portal.clone(),
        thread_id: thread.clone(),
    });
    match outcome {
        Outcome::Done => {
            tracing::info!(portal = %portal, conversation = %thread, team, slack_user = user, assignee = target.as_deref().unwrap_or(""), "assigned from Slack");
            Ok(changed)
        }
        Outcome::Stale(current) => {
            let now = who(app, &portal, user, current.as_deref()).await;
            tracing::info!(portal = %portal, conversation = %thread, team, slack_user = user, "assignment refused: the card was out of date");
            respond(format!("Nothing changed: the conversation was assigned to {now} meanwhile. The card shows it now.")).await;
            Ok(changed)
        }
        Outcome::Already => {
            let now = who(app, &portal, user, target.as_deref()).await;
            respond(format!("It is already assigned to {now}.")).await;
            Ok(changed)
        }
        Outcome::Refused(text) => {
            respond(text).await;
            Ok(None)
        }
    }
}

/// A reaction on a card: ✅ added closes the conversation, removed reopens it; 👀 added
/// assigns it to the one who reacted while nobody has it. Off when an admin turned
/// reaction shortcuts off in the Home tab; reactions anywhere else are ignored.
pub async fn from_reaction(
    app: &App,
    team: &str,
    user: &str,
    channel: &str,
    ts: &str,
    reaction: &str,
    added: bool,
) -> Result<Option<CardChanged>, JobError> {
    let Some((install, bot, mut hs)) = live_install(app, team).await? else {
        return Ok(None);
    };
    if !install.reactions_on {
        tracing::info!(team, portal = %install.portal_id, "reaction ignored: shortcuts are off");
        return Ok(None);
    }
    let map = app
        .records
        .thread_for_slack(team, channel, ts)
        .await
        .map_err(store_err)?;
    let Some(map) = map.filter(|m| m.parent_ts == ts && m.portal_id == install.portal_id) else {
        tracing::info!(
            team,
            channel,
            "reaction ignored: not on a conversation's card"
        );
        return Ok(None);
    };
    let tell = |text: String| {
        let (bot, install) = (&bot, &install);
        async move {
            if let Err(e) = app
                .slack
                .post_ephemeral(bot, channel, user, None, &text, None)
                .await
            {
                tracing::warn!(portal = %install.portal_id, error = %e, "could not tell the reacting user");
            }
        }
    };
    let Some(me) = inbox_user_for(app, &install, &bot, &hs, user).await? else {
        tell("Your reaction did not change the conversation: reactions act for agents linked to a HubSpot user. Click *Claim* on a conversation assigned to you, or make your Slack profile email the same as your HubSpot login.".into()).await;
        return Ok(None);
    };
    let thread = map.thread_id.clone();
    let portal = install.portal_id.clone();
    match (reaction, added) {
        (REACTION_CLOSE, _) => {
            let status = if added { Status::Closed } else { Status::Open };
            let (t, st) = (thread.as_str(), &status);
            let res = crate::services::tokens::call(app, &portal, &mut hs, move |tok| async move {
                app.inbox.set_status(&tok, t, st).await
            })
            .await;
            match res {
                Ok(()) => {}
                Err(e) if e.is_retryable() => return Err(hubspot_failure(e)),
                Err(e) => {
                    tell(format!(
                        "The conversation was not {}: the inbox answered with an error ({e}).",
                        if added { "closed" } else { "reopened" }
                    ))
                    .await;
                    return Ok(None);
                }
            }
            tracing::info!(portal = %portal, conversation = %thread, team, slack_user = user, status = status.as_str(), "conversation status changed by a reaction");
        }
        (REACTION_ASSIGN_ME, true) => {
            // Only while nobody has it: a reaction never takes a conversation from someone.
            let outcome = change(
                app,
                &install,
                &mut hs,
                &thread,
                None,
                true,
                Some(&me.inbox_user_id),
                true,
            )
            .await?;
            match outcome {
                Outcome::Done => {
                    tracing::info!(portal = %portal, conversation = %thread, team, slack_user = user, "assigned by a reaction")
                }
                Outcome::Already => {}
                Outcome::Stale(current) => {
                    let now = who(app, &portal, user, current.as_deref()).await;
                    tell(format!("Nothing changed: the conversation is assigned to {now}. Use Reassign on the card to change that.")).await;
                    return Ok(None);
                }
                Outcome::Refused(text) => {
                    tell(text).await;
                    return Ok(None);
                }
            }
        }
        _ => return Ok(None),
    }
    Ok(Some(CardChanged {
        portal_id: portal,
        thread_id: thread,
    }))
}
