//! The flows on the `Inbox` port without HubSpot: the whole bundle (routes, queue, flows,
//! Slack over real HTTP) runs on the in-memory inbox, and the wiremock HubSpot receives
//! nothing. What the flows do is then what they ask of the port, in the domain's words.

use std::sync::Arc;

use integration_tests::harness::*;
use serde_json::{json, Value};
use shared::domain::{Agent, Conversation, MessageKind, Status};
use shared::inbox::memory::MemoryInbox;
use shared::inbox::Inbox;

const T: &str = "3624100517";
const PARENT: &str = "1700000001.000001";
const AGENT: &str = "U0AGENT001";
const FORM: &str = "application/x-www-form-urlencoded";

async fn env() -> (Env, Arc<MemoryInbox>) {
    let memory = Arc::new(MemoryInbox::new(HS_TOKEN, APP_ID));
    memory.add_agent(Agent {
        id: "41629779".into(),
        user_id: Some("2620022".into()),
        email: Some("ann@example.com".into()),
        first_name: Some("Ann".into()),
        last_name: Some("Agent".into()),
        archived: false,
    });
    memory.add_conversation(Conversation {
        id: T.into(),
        live_chat: true,
        channel: "1000".into(),
        assignee_user_id: Some("2620022".into()),
        contact_id: Some("1401".into()),
        ..Conversation::default()
    });
    memory.visitor_says(T, "1401", "Hello, I need help");
    let inbox: Arc<dyn Inbox> = memory.clone();
    let e = start(Opts {
        inbox: Some(inbox),
        ..Opts::default()
    })
    .await;
    slack_ok(&e.slack).await;
    respond_ok(&e.slack).await;
    slack_user(&e.slack, AGENT, "Ann", Some("ann@example.com")).await;
    (e, memory)
}

fn envelope(event_id: &str, ev: Value) -> Value {
    json!({
        "token": "verification-token", "team_id": TEAM, "api_app_id": "A0APP00001",
        "type": "event_callback", "event_id": event_id, "event_time": 1700000200,
        "event": ev,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}]
    })
}

fn thread_reply(text: &str, ts: &str) -> Value {
    json!({
        "type": "message", "channel": CHANNEL, "user": AGENT, "text": text, "ts": ts,
        "thread_ts": PARENT, "parent_user_id": BOT_USER, "event_ts": ts, "channel_type": "channel"
    })
}

async fn webhook(e: &Env, kind: &str) {
    let r = e.post_webhook(&json!([event(kind, T, json!({}))])).await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
}

fn thread_posts(posts: &[Value]) -> Vec<&Value> {
    posts.iter().filter(|p| !p["thread_ts"].is_null()).collect()
}

async fn nothing_reached_hubspot(e: &Env) {
    let reqs = e.hubspot.received_requests().await.unwrap_or_default();
    assert!(
        reqs.is_empty(),
        "the flows called HubSpot's API: {:?}",
        reqs.iter()
            .map(|r| r.url.path().to_string())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_chat_in_the_memory_inbox_is_carded_answered_from_slack_and_not_echoed() {
    let (e, memory) = env().await;

    // A new chat becomes one card: the visitor's first message, the assignee by name.
    webhook(&e, "conversation.creation").await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    let card = posts[0]["blocks"].to_string();
    assert!(card.contains("Hello, I need help"), "{card}");
    assert!(card.contains("Ann Agent"), "{card}");
    assert!(card.contains("Claim ann@example.com"), "{card}");

    // The agent answers in the thread: the reply reaches the conversation as that agent,
    // addressed to the visitor of the latest message.
    let r = e
        .post_event(&envelope(
            "Ev1",
            thread_reply("Sure, how can I help?", "1700000100.000100"),
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    let sent = memory.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (conv, msg) = &sent[0];
    assert_eq!(conv, T);
    assert!(!msg.note);
    assert_eq!(msg.text, "Sure, how can I help?");
    assert_eq!(msg.agent_user_id, "2620022");
    assert_eq!(msg.recipients.len(), 1);
    assert_eq!(msg.recipients[0].id.as_deref(), Some("V-1401"));

    // The inbox tells of the new message: it was ours, so nothing comes back to Slack.
    webhook(&e, "conversation.newMessage").await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert!(thread_posts(&posts).is_empty(), "echoed: {posts:?}");

    // The visitor writes again: it appears in the thread, once.
    memory.visitor_says(T, "1401", "My order is late");
    webhook(&e, "conversation.newMessage").await;
    webhook(&e, "conversation.newMessage").await;
    let posts = e.slack_calls("chat.postMessage").await;
    let in_thread = thread_posts(&posts);
    assert_eq!(in_thread.len(), 1, "{posts:?}");
    assert_eq!(in_thread[0]["thread_ts"], PARENT);
    assert!(in_thread[0]["text"]
        .as_str()
        .unwrap_or("")
        .contains("My order is late"));

    // An agent answering in the inbox itself is mirrored, labelled as such.
    memory.agent_says(T, "2620022", "Checking now");
    webhook(&e, "conversation.newMessage").await;
    let posts = e.slack_calls("chat.postMessage").await;
    let in_thread = thread_posts(&posts);
    assert_eq!(in_thread.len(), 2, "{posts:?}");
    let text = in_thread[1]["text"].as_str().unwrap_or("");
    assert!(
        text.contains("Checking now") && text.contains("sent from the inbox"),
        "{text}"
    );

    // A note from the thread stays a note.
    let r = e
        .post_event(&envelope(
            "Ev2",
            thread_reply("note: VIP customer", "1700000100.000200"),
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    let sent = memory.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1].1.note && sent[1].1.recipients.is_empty(),
        "{sent:?}"
    );
    let stored = memory
        .messages(&shared::support::secret::Secret::new(HS_TOKEN), T)
        .await;
    assert!(stored
        .expect("the conversation's messages")
        .iter()
        .any(|m| m.kind == MessageKind::Note));

    nothing_reached_hubspot(&e).await;
}

#[tokio::test]
async fn close_and_availability_act_on_the_memory_inbox() {
    let (e, memory) = env().await;
    webhook(&e, "conversation.creation").await;

    // Close from the card, by the agent linked by email.
    let payload = json!({
        "type": "block_actions",
        "user": {"id": AGENT, "username": "ann", "name": "ann", "team_id": TEAM},
        "api_app_id": "A0APP00001", "token": "verification-token",
        "container": {"type": "message", "message_ts": PARENT, "channel_id": CHANNEL, "is_ephemeral": false},
        "trigger_id": "1700000300.123.abc",
        "team": {"id": TEAM, "domain": "acme"},
        "channel": {"id": CHANNEL, "name": "support"},
        "message": {"type": "message", "ts": PARENT, "text": "New live chat", "user": BOT_USER},
        "response_url": response_url(&e.slack, "close"),
        "actions": [{
            "type": "button", "action_id": "close_conversation", "block_id": "conversation_actions",
            "value": format!("{PORTAL}|{T}"), "text": {"type": "plain_text", "text": "Close"},
            "action_ts": "1700000300.000001"
        }]
    });
    let body = format!("payload={}", percent(&payload.to_string()));
    let r = e.post_slack("/slack/interactions", FORM, &body).await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    assert_eq!(memory.status_of(T), Some(Status::Closed));
    // The card is redrawn as closed, with Reopen.
    let updates = e.slack_calls("chat.update").await;
    let last = updates.last().expect("the card redrawn").to_string();
    assert!(last.contains("reopen_conversation"), "{last}");

    // /hs-chat-away sets the agent away in the inbox.
    let form = [
        ("token", "verification-token"),
        ("team_id", TEAM),
        ("channel_id", CHANNEL),
        ("user_id", AGENT),
        ("command", "/hs-chat-away"),
        ("text", ""),
        ("response_url", &response_url(&e.slack, "away")),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", percent(v)))
    .collect::<Vec<_>>()
    .join("&");
    let r = e.post_slack("/slack/commands", FORM, &form).await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    assert_eq!(memory.availability_of("2620022"), Some(false));

    nothing_reached_hubspot(&e).await;
}
