//! Slack to inbox: an agent's thread reply is sent to the conversation as that agent; Claim
//! links a Slack user to an inbox user when the emails match.

use crate::app::App;
use crate::chat::blocks::card::parse_claim_value;
use crate::chat::slack::FileFetchError;
use crate::chat::text as slack_text;
use crate::domain::SlackFile;
use crate::domain::{InboxError, Message, OutgoingMessage, ReplyTo, Status};
use crate::domain::{Install, UserMap};
use crate::queue::JobError;
use crate::services::agents::{inbox_user_for, live_install};
pub use crate::services::clicks::CardChanged;
use crate::services::clicks::{answer_click, install_for_click};
use crate::services::failures::{hubspot_failure, slack_failure};
use crate::services::links::inbox_link;
use crate::support::secret::Secret;

fn store_err(e: crate::store::StoreError) -> JobError {
    JobError::retry(e.to_string())
}

async fn ephemeral(
    app: &App,
    install: &Install,
    channel: &str,
    user: &str,
    thread_ts: Option<&str>,
    text: &str,
) {
    let Some(bot) = &install.bot_token else {
        return;
    };
    if let Err(e) = app
        .slack
        .post_ephemeral(bot, channel, user, thread_ts, text, None)
        .await
    {
        tracing::warn!(portal = %install.portal_id, team = %install.team_id, error = %e, "could not tell the agent privately");
    }
}

/// An agent's message in a conversation thread.
pub struct Reply<'a> {
    pub portal: &'a str,
    pub thread_id: &'a str,
    pub team: &'a str,
    pub channel: &'a str,
    pub thread_ts: &'a str,
    pub ts: &'a str,
    pub user: &'a str,
    pub text: &'a str,
    pub has_files: bool,
    /// The files Slack described; `has_files` with none here means some could not be.
    pub files: &'a [SlackFile],
    /// Where it goes, when the conversation's mapping knew (else read from its messages).
    pub reply_to: Option<&'a ReplyTo>,
}

/// Each file an agent shares is sent on up to this size: the worker holds one file in
/// memory at a time (256 MB functions), and a chat is no place for bigger ones.
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;

/// A file the agent shared that does not reach the visitor, and why, to tell the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    pub name: String,
    pub why: String,
}

/// The files carried to the inbox: `(fileId, name)` uploaded, and those that could not be.
struct Carried {
    uploaded: Vec<(String, String)>,
    unsent: Vec<Unsent>,
}

fn unsent(name: &str, why: impl Into<String>) -> Unsent {
    Unsent {
        name: name.to_string(),
        why: why.into(),
    }
}

/// Fetches each shared file from Slack and uploads it to the inbox's file manager (one at a
/// time). A failure that may pass (rate limits, outages) retries the whole job: nothing has
/// been sent yet, so a retry only uploads again. Any other failure leaves that file out and
/// says why.
async fn carry_files(
    app: &App,
    install: &Install,
    bot: &Secret,
    hs: &mut Secret,
    r: &Reply<'_>,
) -> Result<Carried, JobError> {
    let mut out = Carried {
        uploaded: vec![],
        unsent: vec![],
    };
    if r.has_files && r.files.is_empty() {
        out.unsent
            .push(unsent("your file", "Slack did not describe it to the app"));
    }
    let limit_mb = MAX_FILE_BYTES / (1024 * 1024);
    for f in r.files {
        // A Slack Connect file: its details come from files.info.
        let described;
        let f = if f.check_info && f.url.is_none() {
            described = match app.slack.file_info(bot, &f.id).await {
                Ok(d) => d,
                Err(e) if e.is_retryable() => return Err(slack_failure(app, install, e).await),
                Err(e) => {
                    tracing::warn!(portal = r.portal, conversation = r.thread_id, team = r.team, file = %f.id, error = %e, "files.info refused");
                    out.unsent.push(unsent(
                        &f.name,
                        "Slack did not describe this file from a shared channel to the app",
                    ));
                    continue;
                }
            };
            &described
        } else {
            f
        };
        let Some(url) = f.url.as_deref() else {
            out.unsent.push(unsent(
                &f.name,
                "Slack does not make it available to apps (hidden, deleted or stored outside Slack)",
            ));
            continue;
        };
        if f.size.is_some_and(|n| n > MAX_FILE_BYTES) {
            out.unsent
                .push(unsent(&f.name, format!("it is larger than {limit_mb} MB")));
            continue;
        }
        let data = match app
            .slack
            .download_file(bot, url, f.mimetype.as_deref(), MAX_FILE_BYTES)
            .await
        {
            Ok(d) => d,
            Err(FileFetchError::Slack(e)) if e.is_retryable() => {
                return Err(slack_failure(app, install, e).await)
            }
            Err(e) => {
                tracing::warn!(portal = r.portal, conversation = r.thread_id, team = r.team, file = %f.id, error = %e, "file not fetched from Slack");
                out.unsent.push(unsent(
                    &f.name,
                    match e {
                        FileFetchError::TooLarge { .. } => {
                            format!("it is larger than {limit_mb} MB")
                        }
                        FileFetchError::ForeignHost => "it is not stored in Slack".into(),
                        _ => "this app can't read files in Slack (reinstall it to grant the files:read permission)".into(),
                    },
                ));
                continue;
            }
        };
        let (name, mime) = (f.name.as_str(), f.mimetype.as_deref());
        let uploaded = crate::services::tokens::call(app, &install.portal_id, hs, |t| {
            let data = data.clone();
            async move { app.inbox.upload_file(&t, name, mime, data).await }
        })
        .await;
        match uploaded {
            Ok(id) => out.uploaded.push((id, f.name.clone())),
            Err(e) if e.is_retryable() || matches!(e, InboxError::Unauthorized) => {
                return Err(hubspot_failure(e))
            }
            Err(e) => {
                tracing::warn!(portal = r.portal, conversation = r.thread_id, team = r.team, file = %f.id, error = %e, "file not accepted by the inbox's file manager");
                out.unsent.push(unsent(
                    &f.name,
                    match e {
                        InboxError::Api { status: 403, .. } => "the HubSpot connection may not upload files (reconnect HubSpot to grant the files permission)".to_string(),
                        _ => "the inbox did not accept it".to_string(),
                    },
                ));
            }
        }
    }
    Ok(out)
}

/// Tells the agent who wrote `r`, privately, in its thread.
async fn tell(app: &App, install: &Install, r: &Reply<'_>, text: &str) {
    ephemeral(app, install, r.channel, r.user, Some(r.thread_ts), text).await
}

/// What the agent is told, privately, about files that were not sent.
fn unsent_text(unsent: &[Unsent], text_sent: bool, link: &str) -> String {
    let list = unsent
        .iter()
        .map(|u| format!("*{}* ({})", slack_text::escape(&u.name), u.why))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        ":warning: Not sent to the visitor: {list}. {}<{link}|Send it from the inbox>.",
        if text_sent {
            "Your text was sent. "
        } else {
            ""
        }
    )
}

/// `note: text` (any case) is an internal note: (true, text).
pub fn note_body(plain: &str) -> (bool, &str) {
    let t = plain.trim_start();
    match t.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("note:") => (true, t[5..].trim()),
        _ => (false, plain),
    }
}

/// Delivers an agent's thread reply to the inbox conversation, as that agent: to the
/// visitor, or as an internal note when it starts with `note:`.
pub async fn deliver_reply(app: &App, r: &Reply<'_>) -> Result<(), JobError> {
    let Reply {
        portal,
        thread_id,
        team,
        channel: _,
        thread_ts: _,
        ts,
        user,
        text,
        has_files,
        files: _,
        reply_to,
    } = *r;
    let Some((install, bot, mut hs)) = live_install(app, team).await? else {
        return Ok(());
    };
    if install.portal_id != portal {
        tracing::warn!(
            team,
            portal,
            "reply for a portal this team is not connected to; ignored"
        );
        return Ok(());
    }
    // A retried job must not send twice: the message record is written after a send.
    if app
        .records
        .list_messages(portal, thread_id)
        .await
        .map_err(store_err)?
        .iter()
        .any(|(_, sts, origin)| sts == ts && origin == "slack")
    {
        tracing::info!(
            portal,
            conversation = thread_id,
            ts,
            "reply already delivered"
        );
        return Ok(());
    }
    let link = inbox_link(app, portal, thread_id);
    let Some(agent) = inbox_user_for(app, &install, &bot, &hs, user).await? else {
        tracing::info!(
            portal,
            conversation = thread_id,
            slack_user = user,
            "reply not sent: agent has no inbox user"
        );
        tell(app, &install, r, &format!(
            "Your reply was not sent: your Slack account is not linked to a HubSpot user, and nothing is sent in someone else's name. Click *Claim* on a conversation assigned to you, or make your Slack profile email the same as your HubSpot login. You can also <{link}|reply in the inbox>."
        )).await;
        return Ok(());
    };
    // Resolve mentions to names so the visitor reads "@Ann", not "<@U123>".
    let mut names = std::collections::HashMap::new();
    for id in slack_text::user_ids_mentioned(text) {
        if let Ok(u) = app.slack.user_info(&bot, &id).await {
            names.insert(id, u.display_name);
        }
    }
    let plain = slack_text::to_plain(text, &|id| names.get(id).cloned());
    let (is_note, body) = note_body(&plain);
    let body = body.to_string();
    if body.trim().is_empty() && !has_files {
        return Ok(());
    }
    let portal_id = install.portal_id.as_str();
    // Reply on the conversation's own channel, to the visitor of its latest incoming message:
    // as the mapping kept it, else from the conversation's messages.
    let to = match reply_to {
        Some(t) => t.clone(),
        None => {
            let messages =
                crate::services::tokens::call(app, portal_id, &mut hs, move |t| async move {
                    app.inbox.messages(&t, thread_id).await
                })
                .await
                .map_err(hubspot_failure)?;
            let Some(last_in) = messages.iter().rev().find(|m| m.is_from_visitor()) else {
                return Err(JobError::Fatal(
                    "the conversation has no visitor message to reply to".into(),
                ));
            };
            ReplyTo::of(last_in)
        }
    };
    let Carried {
        uploaded,
        mut unsent,
    } = carry_files(app, &install, &bot, &mut hs, r).await?;
    let has_text = !body.trim().is_empty();
    if !has_text && uploaded.is_empty() {
        tell(app, &install, r, &unsent_text(&unsent, false, &link)).await;
        return Ok(());
    }
    // The API asks for text with every message: a file alone goes with its name.
    let text = if has_text {
        body.clone()
    } else {
        uploaded
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut msg = OutgoingMessage {
        note: is_note,
        text,
        rich_text: None,
        agent_user_id: agent.inbox_user_id.clone(),
        reply_route: to.route.clone(),
        // An internal note goes to nobody.
        recipients: if is_note { vec![] } else { to.recipients },
        file_ids: uploaded.iter().map(|(id, _)| id.clone()).collect(),
    };
    let mut sent = send(app, portal_id, &mut hs, thread_id, &msg).await;
    if let Err(InboxError::Api { category, .. }) = &sent {
        if !msg.file_ids.is_empty() {
            // The inbox refused the message with its files: the text still goes, the files
            // are told as not sent.
            tracing::warn!(portal, conversation = thread_id, team, category = %category, "the inbox refused a reply with files");
            unsent.extend(uploaded.iter().map(|(_, n)| {
                self::unsent(n, "the inbox did not accept files on this conversation")
            }));
            if !has_text {
                tell(app, &install, r, &unsent_text(&unsent, false, &link)).await;
                return Ok(());
            }
            msg.file_ids.clear();
            msg.text = body.clone();
            sent = send(app, portal_id, &mut hs, thread_id, &msg).await;
        }
    }
    let sent = sent.map_err(hubspot_failure)?;
    app.records
        .record_reply(portal, thread_id, &sent.id, ts, user)
        .await
        .map_err(store_err)?;
    tracing::info!(portal, conversation = thread_id, team, message_id = %sent.id, agent_user = %msg.agent_user_id, note = is_note, files = msg.file_ids.len(), "reply delivered to the inbox");
    // The card's last reply and first response, without reading the inbox again when it
    // reports this message back.
    crate::services::card_state::note_sent(app, portal, thread_id, &sent).await;
    if !unsent.is_empty() {
        tell(app, &install, r, &unsent_text(&unsent, has_text, &link)).await;
    }
    if is_note {
        tell(
            app,
            &install,
            r,
            ":lock: Added as an internal note in the inbox. The visitor does not see it.",
        )
        .await;
    }
    Ok(())
}

async fn send(
    app: &App,
    portal: &str,
    hs: &mut Secret,
    thread_id: &str,
    msg: &OutgoingMessage,
) -> Result<Message, InboxError> {
    crate::services::tokens::call(app, portal, hs, move |t| async move {
        app.inbox.send(&t, thread_id, msg).await
    })
    .await
}

/// Told to the agent when a reply could not be delivered in the end.
#[allow(clippy::too_many_arguments)]
pub async fn reply_failed(
    app: &App,
    portal: &str,
    thread_id: &str,
    team: &str,
    channel: &str,
    thread_ts: &str,
    user: &str,
    error: &str,
) {
    let Ok(Some(install)) = crate::services::slack_token::install_for_team(app, team).await else {
        return;
    };
    let link = inbox_link(app, portal, thread_id);
    tracing::error!(
        portal,
        conversation = thread_id,
        team,
        error,
        "reply could not be delivered to the inbox"
    );
    ephemeral(app, &install, channel, user, Some(thread_ts), &format!(
        ":warning: Your reply could not be delivered to the visitor (the inbox did not accept it). It is kept, but not sent: <{link}|reply in the inbox> instead."
    )).await;
}

/// A reply in a thread under one of our messages that never became known as a
/// conversation's notification (or no longer is one: deleted in the inbox): not sent, and the
/// agent is told so, privately.
pub async fn reply_unlinked(app: &App, team: &str, channel: &str, thread_ts: &str, user: &str) {
    let Ok(Some(install)) = crate::services::slack_token::install_for_team(app, team).await else {
        return;
    };
    tracing::warn!(
        team,
        portal = %install.portal_id,
        channel,
        thread_ts,
        "reply in a thread that is not linked to an inbox conversation; not sent"
    );
    ephemeral(
        app,
        &install,
        channel,
        user,
        Some(thread_ts),
        ":warning: Your reply was not sent: this thread is not linked to an inbox conversation (it may have been deleted in the inbox).",
    )
    .await;
}

/// A Claim click: map the clicker to the inbox user named on the button, only if the
/// clicker's Slack email is that user's email.
pub async fn claim(
    app: &App,
    team: &str,
    user: &str,
    value: &str,
    response_url: &str,
) -> Result<Option<CardChanged>, JobError> {
    let respond = |text: String| answer_click(app, team, response_url, text);
    let Some((portal, thread_id, inbox_user, email)) = parse_claim_value(value) else {
        respond("That button is not valid any more.".into()).await;
        return Ok(None);
    };
    let not_connected =
        "This Slack workspace is no longer connected to the HubSpot inbox, so nothing was claimed.";
    let Some((install, bot, mut hs)) =
        install_for_click(app, team, &portal, response_url, not_connected).await?
    else {
        return Ok(None);
    };
    let profile = match app.slack.user_info(&bot, user).await {
        Ok(p) => p,
        Err(e) => return Err(slack_failure(app, &install, e).await),
    };
    // The inbox's own record decides, not only the button's text.
    let uid = inbox_user.as_str();
    let owner = crate::services::tokens::call(app, &portal, &mut hs, move |t| async move {
        app.inbox.agent_by_user_id(&t, uid).await
    })
    .await
    .map_err(hubspot_failure)?;
    let owner_email = owner.as_ref().and_then(|o| o.email.clone());
    let matches = match (&profile.email, &owner_email) {
        (Some(mine), Some(theirs)) => {
            mine.eq_ignore_ascii_case(theirs) && theirs.eq_ignore_ascii_case(&email)
        }
        _ => false,
    };
    if !matches {
        tracing::warn!(portal = %portal, team, slack_user = user, inbox_user = %inbox_user, "claim refused: emails differ");
        respond(format!("You can't claim {email}: your Slack email is not that address. Only {email} can claim it.")).await;
        return Ok(None);
    }
    let m = UserMap {
        team_id: team.to_string(),
        slack_user_id: user.to_string(),
        portal_id: portal.clone(),
        inbox_user_id: inbox_user.clone(),
        email: email.clone(),
        mapped_at: app.clock.now_secs(),
    };
    app.records.put_user_map(&m).await.map_err(store_err)?;
    tracing::info!(portal = %portal, team, slack_user = user, inbox_user = %inbox_user, "claimed");
    respond(format!("Done: you are linked to the HubSpot user {email}. Your replies in conversation threads are now sent as you.")).await;
    // Refresh the card: the Claim button goes, the assignee shows as the Slack user.
    Ok(Some(CardChanged {
        portal_id: portal,
        thread_id,
    }))
}

/// A Close or Reopen click: changes the conversation's status in the inbox, for mapped agents
/// only; the card is then to be redrawn. Errors are told privately.
pub async fn set_status(
    app: &App,
    team: &str,
    user: &str,
    value: &str,
    response_url: &str,
    close: bool,
) -> Result<Option<CardChanged>, JobError> {
    let respond = |text: String| answer_click(app, team, response_url, text);
    let Some((portal, thread_id)) = value
        .split_once('|')
        .filter(|(p, t)| !p.is_empty() && !t.is_empty() && !t.contains('|'))
        .map(|(p, t)| (p.to_string(), t.to_string()))
    else {
        respond("That button is not valid any more.".into()).await;
        return Ok(None);
    };
    let not_connected = "This Slack workspace is no longer connected to the HubSpot inbox.";
    let Some((install, bot, mut hs)) =
        install_for_click(app, team, &portal, response_url, not_connected).await?
    else {
        return Ok(None);
    };
    // Only an agent linked to an inbox user may change a conversation (nothing is done in
    // someone else's name).
    if inbox_user_for(app, &install, &bot, &hs, user)
        .await?
        .is_none()
    {
        respond(crate::services::clicks::NOT_LINKED.into()).await;
        return Ok(None);
    }
    let status = if close { Status::Closed } else { Status::Open };
    let (p, t, st) = (portal.as_str(), thread_id.as_str(), &status);
    let res = crate::services::tokens::call(app, p, &mut hs, move |tok| async move {
        app.inbox.set_status(&tok, t, st).await
    })
    .await;
    if let Err(e) = res {
        if e.is_retryable() {
            return Err(hubspot_failure(e));
        }
        tracing::warn!(portal = %portal, conversation = %thread_id, team, error = %e, "status not changed");
        respond(format!(
            "The conversation was not {}: the inbox answered with an error ({e}).",
            if close { "closed" } else { "reopened" }
        ))
        .await;
        return Ok(None);
    }
    tracing::info!(portal = %portal, conversation = %thread_id, team, slack_user = user, status = status.as_str(), "conversation status changed from Slack");
    Ok(Some(CardChanged {
        portal_id: portal,
        thread_id,
    }))
}

/// Tells an agent that their edit or deletion in Slack did not change the inbox: the
/// Conversations API has no way to edit or delete a sent message (contracts/hubspot.md lists
/// none), so the visitor still sees the original.
#[allow(clippy::too_many_arguments)]
pub async fn edit_not_applied(
    app: &App,
    portal: &str,
    thread_id: &str,
    team: &str,
    channel: &str,
    thread_ts: &str,
    user: &str,
    deleted: bool,
) {
    let Ok(Some(install)) = crate::services::slack_token::install_for_team(app, team).await else {
        return;
    };
    let link = inbox_link(app, portal, thread_id);
    let what = if deleted { "deleted" } else { "edited" };
    tracing::info!(
        portal,
        conversation = thread_id,
        team,
        slack_user = user,
        what,
        "edit in Slack not applied to the inbox"
    );
    ephemeral(app, &install, channel, user, Some(thread_ts), &format!(
        "You {what} a reply in Slack, but the visitor already has the original: the inbox can't change or remove a message once sent. Send a correction as a new reply, or <{link}|open the conversation in the inbox>."
    )).await;
}
