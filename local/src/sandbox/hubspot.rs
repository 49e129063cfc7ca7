//! The sandbox's HubSpot: the Conversations and CRM endpoints the bundle calls (2026-09 and
//! 2026-03 versions), answered in HubSpot's shapes (contracts/hubspot.md), over threads the
//! page creates and changes. Nothing here is compiled into the Lambda functions.

use serde::Serialize;
use serde_json::{json, Value};

/// The sandbox portal, its live-chat inbox and its one agent (Ann, the Slack agent's match).
pub const PORTAL: &str = "90909090";
pub const INBOX: &str = "147959634";
pub const AGENT_USER_ID: &str = "2620022";
pub const AGENT_OWNER_ID: &str = "41629779";
pub const CONTACT: &str = "1401";
pub const VISITOR: &str = "Vera Visitor";
const CONVERSATIONS: &str = "/conversations/conversations/2026-09";

#[derive(Debug, Clone, Serialize)]
pub struct Thread {
    pub id: String,
    pub status: String,
    pub assigned_to: Option<String>,
    pub created_at_ms: i64,
    /// Messages in HubSpot's wire shape, oldest first.
    pub messages: Vec<Value>,
}

/// A file a visitor sent (served at `/sandbox/files/{id}`).
#[derive(Debug, Clone, Serialize)]
pub struct File {
    pub id: String,
    pub name: String,
    pub mimetype: String,
    #[serde(skip)]
    pub data: Vec<u8>,
}

#[derive(Debug, Default, Serialize)]
pub struct HubSpotState {
    pub threads: Vec<Thread>,
    pub agent_available: Option<bool>,
    pub files: Vec<File>,
    #[serde(skip)]
    next_thread: u64,
    #[serde(skip)]
    next_message: u64,
}

pub fn rfc3339(ms: i64) -> String {
    shared::support::clock::rfc3339_ms(ms)
}

impl HubSpotState {
    pub fn thread_mut(&mut self, id: &str) -> Option<&mut Thread> {
        self.threads.iter_mut().find(|t| t.id == id)
    }

    pub fn new_thread(&mut self, now_ms: i64) -> String {
        self.next_thread += 1;
        let id = format!("{}", 7_000_000_000u64 + self.next_thread);
        self.threads.push(Thread {
            id: id.clone(),
            status: "OPEN".into(),
            assigned_to: None,
            created_at_ms: now_ms,
            messages: vec![],
        });
        id
    }

    /// A message as HubSpot stores it: from the visitor (INCOMING), an agent in the inbox
    /// (OUTGOING), or sent by the bundle through the API (`by_app`).
    pub fn add_message(
        &mut self,
        thread: &str,
        now_ms: i64,
        incoming: bool,
        text: &str,
        by_app: Option<(&str, &str, &str)>,
    ) -> Option<Value> {
        self.next_message += 1;
        let id = format!("sbx{:06}", self.next_message);
        let actor = if incoming {
            format!("V-{CONTACT}")
        } else {
            by_app.map_or(format!("A-{AGENT_USER_ID}"), |(a, _, _)| a.to_string())
        };
        let kind = by_app.map_or("MESSAGE", |(_, k, _)| k);
        let client = match by_app {
            Some((_, _, app_id)) => {
                json!({"clientType": "INTEGRATION", "integrationAppId": app_id})
            }
            None if incoming => json!({"clientType": "SYSTEM"}),
            None => json!({"clientType": "HUBSPOT"}),
        };
        let m = json!({
            "id": id, "type": kind, "conversationsThreadId": thread,
            "createdAt": rfc3339(now_ms), "createdBy": actor, "client": client,
            "senders": [{"actorId": actor, "name": if incoming { VISITOR } else { "Ann Agent" },
                         "deliveryIdentifier": {"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": "sandbox-visitor"}}],
            "recipients": [], "text": text, "richText": format!("<div>{}</div>", html_escape(text)),
            "attachments": [], "channelId": "1000", "channelAccountId": "148662",
            "direction": if incoming { "INCOMING" } else { "OUTGOING" },
            "truncationStatus": "NOT_TRUNCATED"
        });
        let t = self.thread_mut(thread)?;
        t.messages.push(m.clone());
        Some(m)
    }
}

impl HubSpotState {
    /// A visitor's file as HubSpot attaches it to a message (`FILE`, by id, with its URL).
    pub fn add_file(&mut self, name: &str, mimetype: &str, data: Vec<u8>, base: &str) -> Value {
        let id = format!("{}", 180_000_000_000u64 + self.files.len() as u64 + 1);
        let url = format!("{base}/sandbox/files/{id}");
        self.files.push(File {
            id: id.clone(),
            name: name.to_string(),
            mimetype: mimetype.to_string(),
            data,
        });
        json!({"type": "FILE", "fileId": id, "name": name, "url": url, "fileUsageType": "OTHER"})
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn thread_json(t: &Thread) -> Value {
    let latest = t
        .messages
        .last()
        .and_then(|m| m["createdAt"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| rfc3339(t.created_at_ms));
    let mut v = json!({
        "id": t.id, "status": t.status, "archived": false, "spam": false, "inboxId": INBOX,
        "associatedContactId": CONTACT, "originalChannelId": "1000", "originalChannelAccountId": "148662",
        "createdAt": rfc3339(t.created_at_ms), "latestMessageTimestamp": latest
    });
    if let Some(a) = &t.assigned_to {
        v["assignedTo"] = json!(a);
    }
    v
}

fn owner() -> Value {
    json!({"id": AGENT_OWNER_ID, "userId": AGENT_USER_ID.parse::<i64>().unwrap_or(0), "email": "ann@example.com",
           "firstName": "Ann", "lastName": "Agent", "archived": false})
}

fn not_found() -> (u16, Value) {
    (
        404,
        json!({"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND"}),
    )
}

/// What `answer` did besides answering: a message the bundle sent, for which HubSpot
/// would now send its webhook (the echo the bundle must recognise).
pub enum After {
    Nothing,
    Sent { thread: String, message: String },
}

/// Answers one request under the HubSpot base URL: (status, body, what follows).
pub fn answer(
    st: &mut HubSpotState,
    method: &str,
    path: &str,
    query: &str,
    body: &Value,
    now_ms: i64,
    app_id: &str,
) -> (u16, Value, After) {
    let q: std::collections::HashMap<String, String> = url_pairs(query);
    let done = |(s, v): (u16, Value)| (s, v, After::Nothing);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let Some(rest) = path.strip_prefix(CONVERSATIONS) {
        let seg: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        return match (method, seg.as_slice()) {
            ("GET", ["threads"]) => {
                let after = q
                    .get("latestMessageTimestampAfter")
                    .and_then(|t| shared::inbox::hubspot::wire::parse_rfc3339_ms(t))
                    .unwrap_or(0);
                let results: Vec<Value> = st
                    .threads
                    .iter()
                    .map(thread_json)
                    .filter(|t| {
                        t["latestMessageTimestamp"]
                            .as_str()
                            .and_then(shared::inbox::hubspot::wire::parse_rfc3339_ms)
                            .unwrap_or(0)
                            > after
                    })
                    .collect();
                done((200, json!({"results": results})))
            }
            ("GET", ["inboxes"]) => done((
                200,
                json!({"results": [{"id": INBOX, "name": "Website chat", "type": "INBOX", "archived": false}]}),
            )),
            ("GET", ["threads", id]) => match st.threads.iter().find(|t| t.id == *id) {
                Some(t) => done((200, thread_json(t))),
                None => done(not_found()),
            },
            ("PATCH", ["threads", id]) => match st.thread_mut(id) {
                Some(t) => {
                    if let Some(s) = body["status"].as_str() {
                        t.status = s.to_string();
                    }
                    let v = thread_json(t);
                    done((200, v))
                }
                None => done(not_found()),
            },
            ("PUT", ["threads", id, "assignee"]) => match st.thread_mut(id) {
                Some(t) => {
                    t.assigned_to = body["actorId"].as_str().map(str::to_string);
                    done((204, Value::Null))
                }
                None => done(not_found()),
            },
            ("DELETE", ["threads", id, "assignee"]) => match st.thread_mut(id) {
                Some(t) => {
                    t.assigned_to = None;
                    done((204, Value::Null))
                }
                None => done(not_found()),
            },
            ("GET", ["threads", id, "messages"]) => {
                match st.threads.iter().find(|t| t.id == *id) {
                    // One page: the sandbox's chats are short.
                    Some(t) => done((200, json!({"results": t.messages}))),
                    None => done(not_found()),
                }
            }
            ("POST", ["threads", id, "messages"]) => {
                let text = body["text"].as_str().unwrap_or("").to_string();
                let kind = body["type"].as_str().unwrap_or("MESSAGE").to_string();
                let actor = body["senderActorId"].as_str().unwrap_or("").to_string();
                match st.add_message(id, now_ms, false, &text, Some((&actor, &kind, app_id))) {
                    Some(m) => {
                        let after = After::Sent {
                            thread: id.to_string(),
                            message: m["id"].as_str().unwrap_or("").to_string(),
                        };
                        (201, m, after)
                    }
                    None => done(not_found()),
                }
            }
            _ => done(not_found()),
        };
    }
    match (method, parts.as_slice()) {
        ("GET", ["crm", "owners", "2026-03"]) => {
            let hit = q
                .get("email")
                .is_some_and(|e| e.eq_ignore_ascii_case("ann@example.com"));
            let results = if hit { vec![owner()] } else { vec![] };
            done((200, json!({"results": results})))
        }
        ("GET", ["crm", "owners", "2026-03", id])
            if *id == AGENT_USER_ID || *id == AGENT_OWNER_ID =>
        {
            done((200, owner()))
        }
        ("GET", ["crm", "objects", "2026-03", "contacts", id]) if *id == CONTACT => done((
            200,
            json!({"id": CONTACT, "properties": {"hubspot_owner_id": AGENT_OWNER_ID,
                   "hs_last_page_seen": "https://shop.example/pricing"}}),
        )),
        ("GET", ["crm", "objects", "2026-03", "users", id]) if *id == AGENT_USER_ID => {
            let status = match st.agent_available {
                Some(true) => "available",
                Some(false) => "away",
                None => "",
            };
            done((
                200,
                json!({"id": "1", "properties": {"hs_availability_status": status}}),
            ))
        }
        ("GET", ["files", "2026-03", "files", id]) => match st.files.iter().find(|f| f.id == *id) {
            Some(f) => done((
                200,
                json!({"id": f.id, "name": f.name, "size": f.data.len(), "type": "OTHER", "access": "PRIVATE"}),
            )),
            None => done(not_found()),
        },
        ("PATCH", ["crm", "objects", "2026-03", "users", id]) if *id == AGENT_USER_ID => {
            st.agent_available = body["properties"]["hs_availability_status"]
                .as_str()
                .map(|s| s == "available");
            done((200, json!({"id": "1"})))
        }
        _ => done(not_found()),
    }
}

fn url_pairs(query: &str) -> std::collections::HashMap<String, String> {
    reqwest::Url::parse(&format!("http://sandbox/?{query}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}
