//! `local-runner serve --sandbox`: the whole bundle with a Slack workspace and a HubSpot
//! inbox of its own, served by the runner under `/sandbox`, and one page that shows both
//! side by side. What the page does becomes the request the platform would send, signed
//! as it signs it, to the bundle's own routes (so it goes through the same verification,
//! queue and flows as in AWS); what the bundle calls goes to the stand-ins here, which
//! only record and answer. Nothing here is compiled into the Lambda functions.

pub mod hubspot;
pub mod slack;

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use shared::config::Settings;
use shared::support::clock::Clock;
use shared::support::http::{Request, Response};

pub const PREFIX: &str = "/sandbox";
const SLACK_API: &str = "/sandbox/slack/api/";
const SLACK_RESPOND: &str = "/sandbox/slack/respond/";
const HUBSPOT: &str = "/sandbox/hubspot";
const PAGE: &str = include_str!("page.html");

const SIGNING_SECRET: &str = "sandbox-slack-signing-secret";
const HUBSPOT_SECRET: &str = "sandbox-hubspot-client-secret";
const APP_ID: &str = "5150515";
const BOT_TOKEN: &str = "xoxb-sandbox-bot-token";
const HS_TOKEN: &str = "pat-sandbox-token";

/// The settings of a sandbox on `base` (`http://127.0.0.1:PORT`): a single-workspace
/// install of the sandbox's workspace and portal, an embedded store in memory, the
/// platforms' APIs at the stand-ins, a sweep every 5 s so timed work shows soon.
pub fn settings(base: &str) -> anyhow::Result<Settings> {
    use base64::Engine;
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("random key: {e}"))?;
    let vars: std::collections::HashMap<&str, String> = [
        ("PUBLIC_BASE_URL", base.to_string()),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.into()),
        ("HUBSPOT_CLIENT_SECRET", HUBSPOT_SECRET.into()),
        ("HUBSPOT_APP_ID", APP_ID.into()),
        (
            "TOKEN_ENCRYPTION_KEY",
            base64::engine::general_purpose::STANDARD.encode(key),
        ),
        ("HUBSPOT_PORTAL_ID", hubspot::PORTAL.into()),
        ("HUBSPOT_ACCESS_TOKEN", HS_TOKEN.into()),
        ("SLACK_TEAM_ID", slack::TEAM.into()),
        ("SLACK_BOT_TOKEN", BOT_TOKEN.into()),
        ("SLACK_CHANNEL_ID", slack::CHANNEL.into()),
        ("SLACK_API_URL", format!("{base}{SLACK_API}")),
        ("SLACK_FILES_URL", format!("{base}/sandbox/slack/files")),
        ("HUBSPOT_API_URL", format!("{base}{HUBSPOT}")),
        ("HUBSPOT_APP_URL", format!("{base}/sandbox")),
        ("SWEEP_EVERY_SECS", "5".into()),
    ]
    .into_iter()
    .collect();
    let env = |k: &str| {
        vars.get(k)
            .cloned()
            .or_else(|| std::env::var(k).ok().filter(|_| passthrough(k)))
    };
    Ok(Settings::from_lookup(&env, Some(base))?)
}

/// What the environment may still set in a sandbox: the alert times, to see them sooner.
fn passthrough(k: &str) -> bool {
    matches!(
        k,
        "FIRST_RESPONSE_ALERT_SECS"
            | "NEXT_RESPONSE_ALERT_SECS"
            | "ESCALATE_AFTER_SECS"
            | "DIGEST_HOUR_UTC"
            | "RUST_LOG"
    )
}

#[derive(Default)]
struct State {
    slack: slack::SlackState,
    hubspot: hubspot::HubSpotState,
    /// What went out from the page, newest last (shown under the panes).
    sent: Vec<String>,
    responses: u64,
}

/// The stand-ins' state and the way back into the bundle's routes.
pub struct Sandbox {
    state: Mutex<State>,
    base: String,
    webhook_url: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl Sandbox {
    pub fn new(settings: &Settings, clock: Arc<dyn Clock>) -> Arc<Sandbox> {
        Arc::new(Sandbox {
            state: Mutex::new(State::default()),
            base: settings.public_base_url.clone(),
            webhook_url: settings.webhook_url(),
            http: reqwest::Client::new(),
            clock,
        })
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the stand-ins as they were; go on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A file a visitor sent, as its headers and its bytes (`/sandbox/files/{id}`; the
    /// bundle's `Response` carries text, and a file is any bytes).
    pub fn file(&self, path: &str) -> Option<(Response, Vec<u8>)> {
        let id = path.strip_prefix("/sandbox/files/")?;
        let st = self.st();
        Some(match st.hubspot.files.iter().find(|f| f.id == id) {
            Some(f) => {
                let safe: String = f
                    .name
                    .chars()
                    .filter(|c| c.is_ascii_graphic() && *c != '"' || *c == ' ')
                    .collect();
                // Always a download, never rendered in the page's origin.
                (
                    Response::new(http::StatusCode::OK, "application/octet-stream", "")
                        .with_header(
                            "content-disposition",
                            format!("attachment; filename=\"{safe}\""),
                        )
                        .with_header("x-content-type-options", "nosniff"),
                    f.data.clone(),
                )
            }
            None => (
                Response::error(http::StatusCode::NOT_FOUND, "no such file"),
                Vec::new(),
            ),
        })
    }

    /// Serves a request under `/sandbox`; None for any other path.
    pub async fn handle(self: &Arc<Self>, req: &Request) -> Option<Response> {
        let path = req.path.as_str();
        if !path.starts_with(PREFIX) {
            return None;
        }
        Some(self.route(req).await)
    }

    async fn route(self: &Arc<Self>, req: &Request) -> Response {
        let path = req.path.as_str();
        if path == PREFIX || path == "/sandbox/" {
            return html(PAGE);
        }
        if path == "/sandbox/state" {
            return self.state_json();
        }
        // The inbox's links (HUBSPOT_APP_URL is the sandbox): that conversation in the page.
        if let Some(rest) = path.strip_prefix("/sandbox/live-messages/") {
            let thread = rest.rsplit('/').next().unwrap_or("");
            return Response::new(http::StatusCode::FOUND, "text/plain", "")
                .with_header("location", format!("/sandbox?thread={thread}"));
        }
        if let Some(method) = path.strip_prefix(SLACK_API) {
            let args = args_of(req);
            let v = {
                let mut st = self.st();
                slack::answer(&mut st.slack, &self.base, method, &args)
            };
            return Response::json(http::StatusCode::OK, &v);
        }
        if let Some(id) = path.strip_prefix(SLACK_RESPOND) {
            let v: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let mut st = self.st();
            st.slack.ephemeral.push(slack::Ephemeral {
                user: slack::AGENT.into(),
                thread_ts: None,
                text: format!("{} (response {id})", v["text"].as_str().unwrap_or("")),
                blocks: v.get("blocks").cloned(),
            });
            return Response::new(http::StatusCode::OK, "text/plain", "ok");
        }
        if let Some(rest) = path.strip_prefix(HUBSPOT) {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let now = self.clock.now_ms();
            let (status, v, after) = {
                let mut st = self.st();
                hubspot::answer(
                    &mut st.hubspot,
                    req.method.as_str(),
                    rest,
                    req.query.as_deref().unwrap_or(""),
                    &body,
                    now,
                    APP_ID,
                )
            };
            if let hubspot::After::Sent { thread, message } = after {
                // HubSpot tells the app of the message it just took, as it tells of any.
                let sb = self.clone();
                tokio::spawn(async move {
                    sb.webhook(
                        "conversation.newMessage",
                        &thread,
                        json!({"messageId": message}),
                    )
                    .await;
                });
            }
            let code = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
            if v.is_null() {
                return Response::new(code, "text/plain", "");
            }
            return Response::json(code, &v);
        }
        if let Some(action) = path.strip_prefix("/sandbox/act/") {
            let v: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            return match self.act(action, &v).await {
                Ok(said) => {
                    Response::json(http::StatusCode::OK, &json!({"ok": true, "said": said}))
                }
                Err(e) => Response::error(http::StatusCode::BAD_REQUEST, &e),
            };
        }
        Response::error(http::StatusCode::NOT_FOUND, "no such sandbox path")
    }

    fn state_json(&self) -> Response {
        let st = self.st();
        Response::json(
            http::StatusCode::OK,
            &json!({
                "slack": st.slack,
                "hubspot": st.hubspot,
                "sent": st.sent,
                "team": slack::TEAM, "channel": slack::CHANNEL, "channel_name": slack::CHANNEL_NAME,
                "agent": slack::AGENT, "agent_name": slack::AGENT_NAME, "bot": slack::BOT_USER,
                "portal": hubspot::PORTAL,
            }),
        )
    }

    fn note(&self, what: String) {
        let mut st = self.st();
        st.sent.push(what);
        let n = st.sent.len();
        if n > 50 {
            st.sent.drain(..n - 50);
        }
    }

    /// The conversation a visitor writes in: the one named, else a new one; and whether
    /// it has no message yet (its first comes as the creation event).
    fn visitor_thread(st: &mut State, named: &str, now: i64) -> (String, bool) {
        let thread = match named {
            t if !t.is_empty() && st.hubspot.thread_mut(t).is_some() => t.to_string(),
            _ => st.hubspot.new_thread(now),
        };
        let first = st
            .hubspot
            .thread_mut(&thread)
            .is_some_and(|t| t.messages.is_empty());
        (thread, first)
    }

    /// HubSpot's webhook for a visitor's message: the creation event for a new chat, else
    /// newMessage naming it.
    async fn visitor_webhook(&self, thread: &str, first: bool, message_id: &str) {
        if first {
            self.webhook("conversation.creation", thread, json!({}))
                .await;
        } else {
            self.webhook(
                "conversation.newMessage",
                thread,
                json!({"messageId": message_id, "messageType": "MESSAGE"}),
            )
            .await;
        }
    }

    /// One thing done in the page, sent to the bundle as the platform would send it.
    async fn act(self: &Arc<Self>, action: &str, v: &Value) -> Result<String, String> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let now = self.clock.now_ms();
        match action {
            // The inbox pane.
            "visitor" => {
                let text = s("text");
                if text.trim().is_empty() {
                    return Err("type a message first".into());
                }
                let (thread, first, id) = {
                    let mut st = self.st();
                    let (thread, first) = Self::visitor_thread(&mut st, &s("thread"), now);
                    let m = st.hubspot.add_message(&thread, now, true, &text, None);
                    let id = m.and_then(|m| m["id"].as_str().map(str::to_string));
                    (thread, first, id.unwrap_or_default())
                };
                self.visitor_webhook(&thread, first, &id).await;
                Ok(thread)
            }
            "visitor_file" => {
                use base64::Engine;
                let data = base64::engine::general_purpose::STANDARD
                    .decode(s("data"))
                    .map_err(|_| "the file's data is not base64".to_string())?;
                if data.len() > 700_000 {
                    return Err("the sandbox takes files up to 700 KB (the runner takes requests up to 1 MB)".into());
                }
                let name = Some(s("name"))
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "file".into());
                let (thread, first, id) = {
                    let mut st = self.st();
                    let (thread, first) = Self::visitor_thread(&mut st, &s("thread"), now);
                    let file = st.hubspot.add_file(&name, &s("type"), data, &self.base);
                    let m = st
                        .hubspot
                        .add_message(&thread, now, true, &s("text"), None)
                        .unwrap_or_default();
                    let id = m["id"].as_str().unwrap_or("").to_string();
                    if let Some(last) = st
                        .hubspot
                        .thread_mut(&thread)
                        .and_then(|t| t.messages.last_mut())
                    {
                        last["attachments"] = json!([file]);
                    }
                    (thread, first, id)
                };
                self.visitor_webhook(&thread, first, &id).await;
                Ok(thread)
            }
            "agent" => {
                let thread = s("thread");
                let m = self
                    .st()
                    .hubspot
                    .add_message(&thread, now, false, &s("text"), None)
                    .ok_or("no such conversation")?;
                self.webhook(
                    "conversation.newMessage",
                    &thread,
                    json!({"messageId": m["id"], "messageType": "MESSAGE"}),
                )
                .await;
                Ok(thread)
            }
            "status" => {
                let thread = s("thread");
                let status = if s("status") == "CLOSED" {
                    "CLOSED"
                } else {
                    "OPEN"
                };
                self.st()
                    .hubspot
                    .thread_mut(&thread)
                    .ok_or("no such conversation")?
                    .status = status.into();
                self.webhook(
                    "conversation.propertyChange",
                    &thread,
                    json!({"propertyName": "status", "propertyValue": status}),
                )
                .await;
                Ok(thread)
            }
            "assign" => {
                let thread = s("thread");
                let to = Some(s("assignee")).filter(|a| !a.is_empty());
                self.st()
                    .hubspot
                    .thread_mut(&thread)
                    .ok_or("no such conversation")?
                    .assigned_to = to.clone().map(|a| format!("A-{a}"));
                self.webhook(
                    "conversation.propertyChange",
                    &thread,
                    json!({"propertyName": "assignedTo", "propertyValue": to.unwrap_or_default()}),
                )
                .await;
                Ok(thread)
            }
            // The Slack pane.
            "slack_reply" => {
                let thread_ts = s("thread_ts");
                let text = s("text");
                let ts = self.st().slack.typed(slack::AGENT, Some(&thread_ts), &text);
                let event = json!({"type": "message", "channel": slack::CHANNEL, "user": slack::AGENT,
                                   "text": text, "ts": ts, "thread_ts": thread_ts, "channel_type": "channel"});
                self.slack_event(event).await;
                Ok(ts)
            }
            "slack_click" => {
                let action = json!({"type": "button", "action_id": s("action_id"), "block_id": s("block_id"),
                                    "value": s("value"), "action_ts": format!("{}.000001", now / 1000)});
                self.block_action(
                    &s("message_ts"),
                    action,
                    format!("clicked {}", s("action_id")),
                )
                .await
            }
            // A select in a card (`users_select`) or in the Home tab (`static_select`).
            "slack_select" => {
                let mut action = json!({"action_id": s("action_id"), "block_id": s("block_id"),
                                        "action_ts": format!("{}.000001", now / 1000)});
                if s("kind") == "users_select" {
                    action["type"] = json!("users_select");
                    action["selected_user"] = json!(s("value"));
                } else {
                    action["type"] = json!("static_select");
                    action["selected_option"] = json!({"text": {"type": "plain_text", "text": s("text")}, "value": s("value")});
                }
                self.block_action(
                    &s("message_ts"),
                    action,
                    format!("chose {}", s("action_id")),
                )
                .await
            }
            "slack_command" => {
                let n = {
                    let mut st = self.st();
                    st.responses += 1;
                    st.responses
                };
                let form: Vec<(&str, String)> = vec![
                    ("token", "deprecated".into()),
                    ("team_id", slack::TEAM.into()),
                    ("team_domain", "sandbox".into()),
                    ("channel_id", slack::CHANNEL.into()),
                    ("channel_name", slack::CHANNEL_NAME.into()),
                    ("user_id", slack::AGENT.into()),
                    ("user_name", "ann".into()),
                    ("command", s("command")),
                    ("text", s("text")),
                    ("response_url", format!("{}{SLACK_RESPOND}{n}", self.base)),
                    ("trigger_id", format!("{n}.sandbox")),
                    ("api_app_id", "A0SANDBOX1".into()),
                ];
                let body = form
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}={}",
                            percent_encoding::utf8_percent_encode(
                                v,
                                percent_encoding::NON_ALPHANUMERIC
                            )
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&");
                let cmd = s("command");
                let resp = self
                    .slack_post(
                        "/slack/commands",
                        "application/x-www-form-urlencoded",
                        body,
                        format!("typed {cmd}"),
                    )
                    .await?;
                Ok(resp)
            }
            "home_open" => {
                self.slack_event(json!({"type": "app_home_opened", "user": slack::AGENT, "channel": "D0SANDBOX1", "tab": "home"}))
                    .await;
                Ok("home".into())
            }
            other => Err(format!("unknown sandbox action {other}")),
        }
    }

    /// A `block_actions` interaction of the agent with one `action`, from the card or thread
    /// message `message_ts`, or from the agent's Home tab when that is empty; signed and
    /// sent to the bundle's interactivity route as Slack sends it.
    async fn block_action(
        &self,
        message_ts: &str,
        action: Value,
        what: String,
    ) -> Result<String, String> {
        let n = {
            let mut st = self.st();
            st.responses += 1;
            st.responses
        };
        let mut payload = json!({
            "type": "block_actions", "team": {"id": slack::TEAM, "domain": "sandbox"},
            "user": {"id": slack::AGENT, "team_id": slack::TEAM, "name": "ann"},
            "trigger_id": format!("{n}.sandbox"),
            "actions": [action]
        });
        if message_ts.is_empty() {
            payload["container"] = json!({"type": "view", "view_id": "V0SANDHOME1"});
            payload["view"] = json!({"id": "V0SANDHOME1", "type": "home", "team_id": slack::TEAM});
        } else {
            payload["container"] = json!({"type": "message", "message_ts": message_ts, "channel_id": slack::CHANNEL, "is_ephemeral": false});
            payload["channel"] = json!({"id": slack::CHANNEL, "name": slack::CHANNEL_NAME});
            payload["message"] =
                json!({"type": "message", "ts": message_ts, "user": slack::BOT_USER, "text": ""});
            payload["response_url"] = json!(format!("{}{SLACK_RESPOND}{n}", self.base));
        }
        let body = format!(
            "payload={}",
            percent_encoding::utf8_percent_encode(
                &payload.to_string(),
                percent_encoding::NON_ALPHANUMERIC
            )
        );
        self.slack_post(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            body,
            what,
        )
        .await
    }

    /// A HubSpot webhook batch of one event, signed (v3) as HubSpot signs it.
    async fn webhook(&self, kind: &str, thread: &str, extra: Value) {
        let now = self.clock.now_ms();
        let mut e = json!({
            "eventId": now % 1_000_000_000 + rand_u32() as i64, "subscriptionId": 1, "portalId": hubspot::PORTAL.parse::<i64>().unwrap_or(0),
            "appId": APP_ID.parse::<i64>().unwrap_or(0), "occurredAt": now, "subscriptionType": kind,
            "attemptNumber": 0, "objectId": thread.parse::<i64>().unwrap_or(0), "changeSource": "CHAT"
        });
        if let (Some(o), Some(x)) = (e.as_object_mut(), extra.as_object()) {
            o.extend(x.clone());
        }
        let body = json!([e]).to_string();
        let sig = shared::edge::verify::sign_hubspot_v3(
            HUBSPOT_SECRET.as_bytes(),
            "POST",
            &self.webhook_url,
            body.as_bytes(),
            now,
        );
        let res = self
            .http
            .post(format!("{}/hubspot/webhook", self.base))
            .header("content-type", "application/json")
            .header("x-hubspot-signature-v3", sig)
            .header("x-hubspot-request-timestamp", now.to_string())
            .body(body)
            .send()
            .await;
        let said = match res {
            Ok(r) => format!("HubSpot → webhook {kind} ({})", r.status().as_u16()),
            Err(e) => format!("HubSpot → webhook {kind} failed: {e}"),
        };
        self.note(said);
    }

    async fn slack_event(&self, event: Value) {
        let id = format!("Ev{}{:08x}", self.clock.now_ms(), rand_u32());
        let body = json!({"token": "deprecated", "team_id": slack::TEAM, "api_app_id": "A0SANDBOX1",
                          "type": "event_callback", "event_id": id, "event_time": self.clock.now_secs(),
                          "authorizations": [{"team_id": slack::TEAM, "user_id": slack::BOT_USER, "is_bot": true}],
                          "event": event})
        .to_string();
        let kind = event_kind(&body);
        let _ = self
            .slack_post(
                "/slack/events",
                "application/json",
                body,
                format!("event {kind}"),
            )
            .await;
    }

    /// A request signed as Slack signs it (v0, the timestamp within five minutes).
    async fn slack_post(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        what: String,
    ) -> Result<String, String> {
        let ts = self.clock.now_secs();
        let sig = shared::edge::verify::sign_slack(SIGNING_SECRET.as_bytes(), ts, body.as_bytes());
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sig)
            .body(body)
            .send()
            .await;
        match res {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                self.note(format!("Slack → {what} ({status})"));
                // A slash command's immediate answer is what Slack shows the user.
                if path == "/slack/commands" {
                    let v: Value = serde_json::from_str(&text).unwrap_or_default();
                    if let Some(t) = v["text"].as_str() {
                        self.st().slack.ephemeral.push(slack::Ephemeral {
                            user: slack::AGENT.into(),
                            thread_ts: None,
                            text: t.to_string(),
                            blocks: v.get("blocks").cloned(),
                        });
                    }
                }
                Ok(text)
            }
            Err(e) => {
                self.note(format!("Slack → {what} failed: {e}"));
                Err(e.to_string())
            }
        }
    }
}

fn event_kind(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["event"]["type"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}

fn html(body: &str) -> Response {
    Response::html(http::StatusCode::OK, body)
}

/// A Web API call's arguments: its JSON body, or its form fields as a JSON object.
fn args_of(req: &Request) -> Value {
    if let Ok(v) = serde_json::from_slice::<Value>(&req.body) {
        if v.is_object() {
            return v;
        }
    }
    let text = String::from_utf8_lossy(&req.body).to_string();
    let pairs: serde_json::Map<String, Value> =
        reqwest::Url::parse(&format!("http://sandbox/?{text}"))
            .map(|u| {
                u.query_pairs()
                    .into_owned()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect()
            })
            .unwrap_or_default();
    Value::Object(pairs)
}
