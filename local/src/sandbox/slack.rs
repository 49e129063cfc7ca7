//! The sandbox's Slack: the Web API methods the bundle calls, answered as Slack answers
//! them (contracts/slack.md), recording what was posted so the page can show it. Nothing
//! here is compiled into the Lambda functions.

use serde::Serialize;
use serde_json::{json, Value};

/// The sandbox workspace.
pub const TEAM: &str = "T0SANDBOX1";
pub const CHANNEL: &str = "C0SANDBOX1";
pub const CHANNEL_NAME: &str = "support";
pub const BOT_USER: &str = "U0SANDBOT1";
/// The agent the page acts as in Slack (a workspace admin, linked to the inbox's Ann).
pub const AGENT: &str = "U0SANDANN1";
pub const AGENT_NAME: &str = "Ann Agent";
pub const AGENT_EMAIL: &str = "ann@example.com";

/// One message in the channel, a thread, or a direct message.
#[derive(Debug, Clone, Serialize)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    pub user: String,
    pub text: String,
    pub blocks: Option<Value>,
    /// A thread reply also shown in the channel.
    pub broadcast: bool,
    pub edited: bool,
}

/// A message only one person sees (chat.postEphemeral, a response_url answer).
#[derive(Debug, Clone, Serialize)]
pub struct Ephemeral {
    pub user: String,
    pub thread_ts: Option<String>,
    pub text: String,
    pub blocks: Option<Value>,
}

#[derive(Debug, Default, Serialize)]
pub struct SlackState {
    pub messages: Vec<Posted>,
    pub ephemeral: Vec<Ephemeral>,
    /// The Home tab as last published, per user.
    pub home: std::collections::BTreeMap<String, Value>,
    #[serde(skip)]
    next: u64,
}

impl SlackState {
    /// Slack's message timestamps: seconds now, and a sequence that keeps them unique and
    /// growing.
    pub fn next_ts(&mut self) -> String {
        self.next += 1;
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!("{secs}.{:06}", self.next)
    }

    /// A message typed by a person in the page (recorded as Slack would show it).
    pub fn typed(&mut self, user: &str, thread_ts: Option<&str>, text: &str) -> String {
        let ts = self.next_ts();
        self.messages.push(Posted {
            channel: CHANNEL.into(),
            ts: ts.clone(),
            thread_ts: thread_ts.map(str::to_string),
            user: user.into(),
            text: text.into(),
            blocks: None,
            broadcast: false,
            edited: false,
        });
        ts
    }
}

fn ok(extra: Value) -> Value {
    let mut v = json!({"ok": true});
    if let (Some(o), Some(x)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(x.clone());
    }
    v
}

fn err(code: &str) -> Value {
    json!({"ok": false, "error": code})
}

fn user_json(id: &str) -> Value {
    let (name, email, admin) = match id {
        AGENT => (AGENT_NAME, Some(AGENT_EMAIL), true),
        BOT_USER => ("HubSpot Inbox", None, false),
        _ => ("Sandbox user", None, false),
    };
    json!({"id": id, "team_id": TEAM, "name": name.to_lowercase().replace(' ', "."), "real_name": name,
           "is_admin": admin, "is_owner": false, "is_bot": id == BOT_USER, "deleted": false,
           "profile": {"display_name": name, "real_name": name, "email": email}})
}

/// Answers one Web API call: `method` (`chat.postMessage`), `args` (the JSON body or the
/// form's fields as a JSON object).
pub fn answer(st: &mut SlackState, base: &str, method: &str, args: &Value) -> Value {
    let s = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or("");
    match method {
        "auth.test" => ok(
            json!({"team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0SANDBOT1",
                                  "url": "https://sandbox.slack.local/"}),
        ),
        "chat.postMessage" => {
            let channel = s("channel").to_string();
            if channel.is_empty() {
                return err("channel_not_found");
            }
            let ts = st.next_ts();
            st.messages.push(Posted {
                channel: channel.clone(),
                ts: ts.clone(),
                thread_ts: Some(s("thread_ts").to_string()).filter(|t| !t.is_empty()),
                user: BOT_USER.into(),
                text: s("text").into(),
                blocks: args.get("blocks").cloned(),
                broadcast: args.get("reply_broadcast") == Some(&json!(true)),
                edited: false,
            });
            ok(json!({"channel": channel, "ts": ts, "message": {"ts": ts, "text": s("text")}}))
        }
        "chat.update" => match st
            .messages
            .iter_mut()
            .find(|m| m.channel == s("channel") && m.ts == s("ts"))
        {
            Some(m) => {
                m.text = s("text").into();
                if let Some(b) = args.get("blocks") {
                    m.blocks = Some(b.clone());
                }
                m.edited = true;
                ok(json!({"channel": m.channel, "ts": m.ts}))
            }
            None => err("message_not_found"),
        },
        "chat.delete" => {
            let before = st.messages.len();
            st.messages
                .retain(|m| !(m.channel == s("channel") && m.ts == s("ts")));
            if st.messages.len() == before {
                err("message_not_found")
            } else {
                ok(json!({"channel": s("channel"), "ts": s("ts")}))
            }
        }
        "chat.postEphemeral" => {
            st.ephemeral.push(Ephemeral {
                user: s("user").into(),
                thread_ts: Some(s("thread_ts").to_string()).filter(|t| !t.is_empty()),
                text: s("text").into(),
                blocks: args.get("blocks").cloned(),
            });
            let ts = st.next_ts();
            ok(json!({"message_ts": ts}))
        }
        "chat.getPermalink" => ok(json!({
            "channel": s("channel"),
            "permalink": format!("{base}/sandbox#{}", s("message_ts")),
        })),
        "users.info" => ok(json!({"user": user_json(s("user"))})),
        "users.lookupByEmail" if s("email").eq_ignore_ascii_case(AGENT_EMAIL) => {
            ok(json!({"user": user_json(AGENT)}))
        }
        "users.lookupByEmail" => err("users_not_found"),
        "conversations.info" if s("channel") == CHANNEL => ok(json!({"channel": {
            "id": CHANNEL, "name": CHANNEL_NAME, "is_channel": true, "is_private": false,
            "is_archived": false, "is_member": true, "is_ext_shared": false, "is_shared": false
        }})),
        "conversations.info" => err("channel_not_found"),
        "conversations.join" => ok(json!({"channel": {"id": s("channel")}})),
        "conversations.replies" | "conversations.history" => ok(json!({"messages": []})),
        "views.publish" => {
            st.home.insert(
                s("user_id").into(),
                args.get("view").cloned().unwrap_or_default(),
            );
            ok(json!({}))
        }
        "usergroups.list" => ok(json!({"usergroups": [
            {"id": "S0SANDSUP1", "handle": "support-team", "name": "Support team", "date_delete": 0}
        ]})),
        // Files are not part of the sandbox's Slack.
        "files.info" => err("file_not_found"),
        _ => err("unknown_method"),
    }
}
