//! The bundle's public HTTP interface: every route, which Lambda serves it, and the edge
//! handling of each (size limit, signature, parsing, acknowledgement). Slow work goes to the
//! queue; a handler answers within Slack's 3 s and HubSpot's 5 s.

use http::{Method, StatusCode};
use serde_json::json;

use crate::app::App;
use crate::edge::inbound::{self, HubSpotAction, Interaction, SlackEnvelope};
use crate::edge::verify;
use crate::flows::connect::{self, Step};
use crate::queue::{Job, SyncReason};
use crate::support::http::{Request, Response, MAX_BODY_BYTES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    SlackInstall,
    SlackOAuthCallback,
    HubSpotInstall,
    HubSpotOAuthCallback,
    HubSpotWebhook,
    SlackEvents,
    SlackCommands,
    SlackInteractions,
    Health,
}

/// A route: method, path, handler, and the Lambda function that serves it in AWS.
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub route: Route,
    pub function: &'static str,
}

/// Every route; template.yaml declares the same (a test checks).
pub fn routes() -> Vec<RouteSpec> {
    let r = |method: Method, path, route, function| RouteSpec {
        method,
        path,
        route,
        function,
    };
    vec![
        r(Method::GET, "/slack/install", Route::SlackInstall, "oauth"),
        r(
            Method::GET,
            "/slack/oauth/callback",
            Route::SlackOAuthCallback,
            "oauth",
        ),
        r(
            Method::GET,
            "/hubspot/install",
            Route::HubSpotInstall,
            "oauth",
        ),
        r(
            Method::GET,
            "/hubspot/oauth/callback",
            Route::HubSpotOAuthCallback,
            "oauth",
        ),
        r(Method::GET, "/health", Route::Health, "oauth"),
        r(
            Method::POST,
            "/hubspot/webhook",
            Route::HubSpotWebhook,
            "chat-webhook",
        ),
        r(
            Method::POST,
            "/slack/events",
            Route::SlackEvents,
            "slack-events",
        ),
        r(
            Method::POST,
            "/slack/commands",
            Route::SlackCommands,
            "slash-commands",
        ),
        r(
            Method::POST,
            "/slack/interactions",
            Route::SlackInteractions,
            "interactivity",
        ),
    ]
}

/// Serves a request on any route (local runner).
pub async fn handle(app: &App, req: Request) -> Response {
    dispatch(app, req, None).await
}

/// Serves a request on the routes of one Lambda function only.
pub async fn handle_for(app: &App, function: &str, req: Request) -> Response {
    dispatch(app, req, Some(function)).await
}

async fn dispatch(app: &App, req: Request, function: Option<&str>) -> Response {
    let all = routes();
    let path = req.path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    let on_path: Vec<&RouteSpec> = all
        .iter()
        .filter(|r| r.path == path && function.is_none_or(|f| f == r.function))
        .collect();
    let Some(spec) = on_path.iter().find(|r| r.method == req.method) else {
        return if on_path.is_empty() {
            Response::error(StatusCode::NOT_FOUND, "no such route")
        } else {
            Response::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            )
        };
    };
    if req.body.len() > MAX_BODY_BYTES {
        return Response::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("body larger than {MAX_BODY_BYTES} bytes"),
        );
    }
    match spec.route {
        Route::Health => health(app),
        Route::HubSpotWebhook => hubspot_webhook(app, &req).await,
        Route::SlackEvents => slack_events(app, &req).await,
        Route::SlackCommands => slack_commands(app, &req).await,
        Route::SlackInteractions => slack_interactions(app, &req).await,
        Route::SlackInstall => connect::handle(app, Step::SlackInstall, &req).await,
        Route::SlackOAuthCallback => connect::handle(app, Step::SlackCallback, &req).await,
        Route::HubSpotInstall => connect::handle(app, Step::HubSpotInstall, &req).await,
        Route::HubSpotOAuthCallback => connect::handle(app, Step::HubSpotCallback, &req).await,
    }
}

fn health(app: &App) -> Response {
    Response::json(
        StatusCode::OK,
        &json!({
            "ok": true,
            "store": app.records.store().kind(),
            "pending_jobs": app.queue.pending(),
        }),
    )
}

fn unauthorized(e: verify::VerifyError, route: &str) -> Response {
    tracing::warn!(
        route,
        reason = e.reason(),
        "request refused: signature check failed"
    );
    Response::error(StatusCode::UNAUTHORIZED, e.reason())
}

fn bad_request(e: inbound::ParseError, route: &str) -> Response {
    tracing::warn!(route, reason = %e, "request refused: malformed body");
    Response::error(StatusCode::BAD_REQUEST, &e.0)
}

fn enqueue_failed(e: crate::queue::QueueError, route: &str) -> Response {
    // 5xx makes Slack and HubSpot deliver again: nothing is lost.
    tracing::error!(route, error = %e, "could not queue work; asking the sender to retry");
    Response::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily unable to accept; retry",
    )
}

fn verify_slack(app: &App, req: &Request) -> Result<(), verify::VerifyError> {
    verify::verify_slack(
        app.settings.slack_signing_secret.expose().as_bytes(),
        &req.headers,
        &req.body,
        app.clock.now_secs(),
    )
}

// ---------------- HubSpot webhook ----------------

async fn hubspot_webhook(app: &App, req: &Request) -> Response {
    const ROUTE: &str = "hubspot_webhook";
    // HubSpot signs the URL it called: ours, from settings, never from request headers.
    let mut uri = app.settings.webhook_url();
    if let Some(q) = req.query.as_deref().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(q);
    }
    if let Err(e) = verify::verify_hubspot_v3(
        app.settings.hubspot_client_secret.expose().as_bytes(),
        "POST",
        &uri,
        &req.headers,
        &req.body,
        app.clock.now_ms(),
    ) {
        return unauthorized(e, ROUTE);
    }
    let events = match inbound::parse_hubspot_batch(&req.body) {
        Ok(ev) => ev,
        Err(e) => return bad_request(e, ROUTE),
    };
    // Several events for one conversation in a batch need one sync: it reads the inbox's
    // current state. Keep the first action per conversation, deletions winning.
    let mut jobs: Vec<(Job, String)> = Vec::new();
    for ev in &events {
        let job = match ev.action() {
            HubSpotAction::Ignore { reason } => {
                tracing::info!(route = ROUTE, portal = ev.portal_id.as_deref().unwrap_or(""), conversation = ev.object_id.as_deref().unwrap_or(""), subscription = ev.subscription_type.as_deref().unwrap_or(""), reason = %reason, "webhook event ignored");
                continue;
            }
            HubSpotAction::Sync {
                portal_id,
                thread_id,
                messages_only,
                message_id,
            } => Job::SyncConversation {
                portal_id,
                thread_id,
                reason: if messages_only {
                    SyncReason::Messages
                } else {
                    SyncReason::Full
                },
                message_id: message_id.filter(|_| messages_only),
            },
            HubSpotAction::Delete {
                portal_id,
                thread_id,
                privacy,
            } => Job::DeleteConversation {
                portal_id,
                thread_id,
                privacy,
            },
        };
        if let Some(app_id) = &app.settings.hubspot_app_id {
            if ev.app_id.as_ref().is_some_and(|a| a != app_id) {
                tracing::warn!(
                    route = ROUTE,
                    app = ev.app_id.as_deref().unwrap_or(""),
                    "webhook event for another app ignored"
                );
                continue;
            }
        }
        match jobs.iter_mut().find(|(j, _)| j.group() == job.group()) {
            Some(existing) => match (&mut existing.0, &job) {
                (_, Job::DeleteConversation { .. }) => *existing = (job, ev.dedup_key()),
                // A batch with a new message and a status change reads the thread too.
                (
                    Job::SyncConversation {
                        reason, message_id, ..
                    },
                    Job::SyncConversation { reason: more, .. },
                ) => {
                    *reason = reason.merge(*more);
                    // More than one event: no one message to check.
                    *message_id = None;
                }
                _ => {}
            },
            None => jobs.push((job, ev.dedup_key())),
        }
    }
    for (job, key) in jobs {
        tracing::info!(
            route = ROUTE,
            job = job.kind(),
            conversation = job.conversation_id().as_deref().unwrap_or(""),
            "queued"
        );
        if let Err(e) = app.queue.enqueue(job, &key).await {
            return enqueue_failed(e, ROUTE);
        }
    }
    Response::ok()
}

// ---------------- Slack events ----------------

async fn slack_events(app: &App, req: &Request) -> Response {
    const ROUTE: &str = "slack_events";
    if let Err(e) = verify_slack(app, req) {
        return unauthorized(e, ROUTE);
    }
    let envelope = match inbound::parse_slack_envelope(&req.body) {
        Ok(e) => e,
        Err(e) => return bad_request(e, ROUTE),
    };
    let (team_id, event_id, bot_user, event, raw_event) = match envelope {
        SlackEnvelope::UrlVerification { challenge } => {
            return Response::json(StatusCode::OK, &json!({ "challenge": challenge }));
        }
        SlackEnvelope::Other { kind } => {
            tracing::info!(route = ROUTE, kind = %kind, "envelope type ignored");
            return Response::ok();
        }
        SlackEnvelope::EventCallback {
            team_id,
            event_id,
            bot_user,
            event,
            raw_event,
            ..
        } => (team_id, event_id, bot_user, event, raw_event),
    };
    // Before the acknowledgement: only what needs no store; the worker deduplicates and
    // reads the install and the thread (issue: API economy).
    if let Some(reason) = crate::edge::worker::ignored_without_store(&event, bot_user.as_deref()) {
        tracing::info!(route = ROUTE, team = %team_id, reason, "slack event ignored");
        return Response::ok();
    }
    let (channel_id, thread_ts) = crate::edge::worker::event_order(&event);
    let job = Job::SlackEvent {
        team_id: team_id.clone(),
        event_id: event_id.clone(),
        bot_user,
        channel_id,
        thread_ts,
        event: raw_event.to_string(),
    };
    // No store call before the acknowledgement: Slack's retries (X-Slack-Retry-Num), also
    // one sent while the first still runs, carry the same event id, which is the queue's
    // deduplication id (SQS FIFO drops a repeat within five minutes); the worker's
    // conditional write on it catches a later one (`worker::run_job`, SlackEvent).
    tracing::info!(route = ROUTE, team = %team_id, event_id = %event_id, job = job.kind(), "queued");
    if let Err(e) = app.queue.enqueue(job, &event_id).await {
        return enqueue_failed(e, ROUTE);
    }
    Response::ok()
}

// ---------------- slash commands ----------------

async fn slack_commands(app: &App, req: &Request) -> Response {
    const ROUTE: &str = "slack_commands";
    // Slack's SSL check carries no signature and expects a 200 (contracts/slack.md).
    if req.body.starts_with(b"ssl_check=1") {
        return Response::ok();
    }
    if let Err(e) = verify_slack(app, req) {
        return unauthorized(e, ROUTE);
    }
    let cmd = match inbound::parse_slash_command(&req.body) {
        Ok(c) => c,
        Err(e) => return bad_request(e, ROUTE),
    };
    let command = crate::flows::availability::Command {
        team_id: &cmd.team_id,
        user_id: &cmd.user_id,
        command: &cmd.command,
        text: &cmd.text,
        response_url: &cmd.response_url,
    };
    let reply = crate::flows::availability::acknowledge(app, &command).await;
    Response::json(StatusCode::OK, &reply)
}

// ---------------- interactivity ----------------

/// The queue's deduplication key of a click: one job per click, by its `action_ts` (Close,
/// Reopen, Close in one minute are three clicks, not one); the message's ts only when Slack
/// sent no `action_ts`.
fn click_key(
    team: &str,
    user: &str,
    action_id: &str,
    action_ts: Option<&str>,
    message_ts: Option<&str>,
) -> String {
    format!(
        "{team}:{user}:{action_id}:{}",
        action_ts.or(message_ts).unwrap_or("")
    )
}

async fn slack_interactions(app: &App, req: &Request) -> Response {
    const ROUTE: &str = "slack_interactions";
    if let Err(e) = verify_slack(app, req) {
        return unauthorized(e, ROUTE);
    }
    let payload = match inbound::parse_interaction(&req.body) {
        Ok(p) => p,
        Err(e) => return bad_request(e, ROUTE),
    };
    let Interaction::BlockActions {
        team_id,
        user_id,
        channel_id,
        message_ts,
        response_url,
        actions,
    } = payload
    else {
        tracing::info!(route = ROUTE, "interaction type ignored");
        return Response::ok();
    };
    for action in actions {
        let job = match action.action_id.as_str() {
            // A URL button: Slack opens the link; we only acknowledge.
            crate::chat::blocks::card::ACTION_REPLY_IN_INBOX => continue,
            // The reassign select has no value: its block carries the conversation, and the
            // value becomes that context and the picked user.
            crate::chat::blocks::card::ACTION_REASSIGN => Job::Interaction {
                team_id: team_id.clone(),
                user_id: user_id.clone(),
                action_id: action.action_id.clone(),
                value: crate::chat::blocks::card::reassign_value(
                    action.block_id.as_deref().unwrap_or(""),
                    action.selected.as_deref().unwrap_or(""),
                ),
                channel_id: channel_id.clone().unwrap_or_default(),
                message_ts: message_ts.clone().unwrap_or_default(),
                response_url: response_url.clone().unwrap_or_default(),
            },
            crate::chat::blocks::card::ACTION_CLAIM
            | crate::chat::blocks::card::ACTION_CLOSE
            | crate::chat::blocks::card::ACTION_REOPEN
            | crate::chat::blocks::card::ACTION_ASSIGN_ME
            | crate::chat::blocks::card::ACTION_UNASSIGN => Job::Interaction {
                team_id: team_id.clone(),
                user_id: user_id.clone(),
                action_id: action.action_id.clone(),
                value: action.value.clone().unwrap_or_default(),
                channel_id: channel_id.clone().unwrap_or_default(),
                message_ts: message_ts.clone().unwrap_or_default(),
                response_url: response_url.clone().unwrap_or_default(),
            },
            // Home tab settings: who may change them is decided by the job.
            id if crate::chat::blocks::home::is_home_action(id) => Job::HomeAction {
                team_id: team_id.clone(),
                user_id: user_id.clone(),
                action_id: action.action_id.clone(),
                value: action
                    .selected
                    .clone()
                    .or_else(|| action.value.clone())
                    .unwrap_or_default(),
            },
            other => {
                tracing::info!(route = ROUTE, team = %team_id, action = other, "unknown action ignored");
                continue;
            }
        };
        let key = click_key(
            &team_id,
            &user_id,
            &action.action_id,
            action.action_ts.as_deref(),
            message_ts.as_deref(),
        );
        if let Err(e) = app.queue.enqueue(job, &key).await {
            return enqueue_failed(e, ROUTE);
        }
    }
    Response::ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_click_is_its_own_job() {
        let m = Some("1700000001.000001");
        let close1 = click_key("T", "U", "close_conversation", Some("1700000300.1"), m);
        let reopen = click_key("T", "U", "reopen_conversation", Some("1700000310.1"), m);
        let close2 = click_key("T", "U", "close_conversation", Some("1700000320.1"), m);
        assert_ne!(close1, close2);
        assert_ne!(close1, reopen);
        // The same click delivered twice is one job.
        assert_eq!(
            close1,
            click_key("T", "U", "close_conversation", Some("1700000300.1"), m)
        );
        assert_eq!(click_key("T", "U", "a", None, m), "T:U:a:1700000001.000001");
    }
}
