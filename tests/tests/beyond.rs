//! Beyond the core flows: Close/Reopen from Slack, internal notes both ways, files from
//! Slack told not sent, and the live card (last reply, time to first response).

use integration_tests::harness::*;
use serde_json::{json, Value};

const T: &str = "3624100517";
const PARENT: &str = "1700000001.000001";
const FORM: &str = "application/x-www-form-urlencoded";

async fn env_with_notification(messages: &[Value]) -> Env {
    let e = start(Opts::default()).await;
    slack_ok(&e.slack).await;
    respond_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    slack_user(&e.slack, "U0AGENT001", "Ann", Some("ann@example.com")).await;
    slack_user(&e.slack, "U0EVE00001", "Eve", Some("eve@example.com")).await;
    e.inbox
        .set(&thread_json(T, "1000", "OPEN", Some("A-2620022")), messages);
    e.post_webhook(&json!([event("conversation.creation", T, json!({}))]))
        .await;
    e.drain().await;
    e
}

fn click(user: &str, action_id: &str, value: &str, response_url: &str) -> String {
    let payload = json!({
        "type": "block_actions", "user": {"id": user, "team_id": TEAM}, "team": {"id": TEAM},
        "container": {"type": "message", "message_ts": PARENT, "channel_id": CHANNEL},
        "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "value": value, "action_ts": "1.0"}]
    });
    format!("payload={}", percent(&payload.to_string()))
}

fn reply_event(user: &str, text: &str, ts: &str, files: bool) -> Value {
    let mut ev = json!({"type": "message", "channel": CHANNEL, "user": user, "text": text, "ts": ts, "thread_ts": PARENT});
    if files {
        ev["subtype"] = json!("file_share");
        ev["files"] = json!([{"id": "F1", "name": "screenshot.png"}]);
    }
    json!({"type": "event_callback", "team_id": TEAM, "event_id": format!("Ev{ts}"), "event": ev})
}

async fn respond_texts(e: &Env) -> Vec<String> {
    e.slack
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().starts_with("/respond/"))
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["text"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn close_and_reopen_from_slack_by_a_mapped_agent_only() {
    let e = env_with_notification(&[message_json("m1", 1, "INCOMING", "hi")]).await;
    let card = e.slack_calls("chat.postMessage").await[0]["blocks"].to_string();
    assert!(
        card.contains("\"action_id\":\"close_conversation\"")
            && card.contains("22761544|3624100517"),
        "{card}"
    );
    // Eve is no inbox user: refused, nothing changes.
    let r = e
        .post_slack(
            "/slack/interactions",
            FORM,
            &click(
                "U0EVE00001",
                "close_conversation",
                "22761544|3624100517",
                &response_url(&e.slack, "eve"),
            ),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    assert!(e
        .hubspot_calls("PATCH", &format!("{THREADS}/{T}"))
        .await
        .is_empty());
    assert!(respond_texts(&e)
        .await
        .iter()
        .any(|t| t.contains("not linked")));
    // Ann (email matches the HubSpot owner) closes it.
    e.post_slack(
        "/slack/interactions",
        FORM,
        &click(
            "U0AGENT001",
            "close_conversation",
            "22761544|3624100517",
            &response_url(&e.slack, "ann"),
        ),
    )
    .await;
    e.drain().await;
    assert_eq!(
        e.hubspot_calls("PATCH", &format!("{THREADS}/{T}")).await,
        vec![json!({"status": "CLOSED"})]
    );
    let updates = e.slack_calls("chat.update").await;
    let last = updates.last().expect("card updated")["blocks"].to_string();
    assert!(
        last.contains("Closed") && last.contains("reopen_conversation"),
        "{last}"
    );
    // And reopens it.
    e.post_slack(
        "/slack/interactions",
        FORM,
        &click(
            "U0AGENT001",
            "reopen_conversation",
            "22761544|3624100517",
            &response_url(&e.slack, "ann"),
        ),
    )
    .await;
    e.drain().await;
    assert_eq!(
        e.hubspot_calls("PATCH", &format!("{THREADS}/{T}"))
            .await
            .last(),
        Some(&json!({"status": "OPEN"}))
    );
    let last = e.slack_calls("chat.update").await.last().unwrap()["blocks"].to_string();
    assert!(last.contains("close_conversation"), "{last}");
}

#[tokio::test]
async fn a_note_reply_becomes_an_internal_comment_and_inbox_comments_show_as_internal() {
    let e = env_with_notification(&[message_json("m1", 1, "INCOMING", "hi")]).await;
    let r = e
        .post_event(&reply_event(
            "U0AGENT001",
            "Note: check the refund policy",
            "1700000100.000001",
            false,
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    let posts = e
        .hubspot_calls("POST", &format!("{THREADS}/{T}/messages"))
        .await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["type"], "COMMENT");
    assert_eq!(posts[0]["text"], "check the refund policy");
    assert_eq!(posts[0]["senderActorId"], "A-2620022");
    assert!(
        posts[0]
            .get("recipients")
            .is_none_or(|r| r.as_array().is_some_and(|a| a.is_empty())),
        "{}",
        posts[0]
    );
    let eph = e.slack_calls("chat.postEphemeral").await;
    assert!(
        eph.iter()
            .any(|m| m["text"].as_str().unwrap().contains("internal note")),
        "{eph:?}"
    );
    // A comment written in the inbox appears in the thread, marked internal.
    let mut msgs = e.inbox.messages(T);
    let mut c = message_json("c1", 30, "OUTGOING", "VIP customer");
    c["type"] = json!("COMMENT");
    msgs.push(c);
    e.inbox
        .set(&thread_json(T, "1000", "OPEN", Some("A-2620022")), &msgs);
    e.post_webhook(&json!([event(
        "conversation.newMessage",
        T,
        json!({"messageId": "c1", "messageType": "COMMENT"})
    )]))
    .await;
    e.drain().await;
    let thread: Vec<String> = e
        .slack_calls("chat.postMessage")
        .await
        .iter()
        .filter(|p| p["thread_ts"] == PARENT)
        .map(|p| p["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        thread.len(),
        1,
        "only the inbox comment; our own note is not echoed: {thread:?}"
    );
    assert!(
        thread[0].contains("internal note") && thread[0].contains("VIP customer"),
        "{}",
        thread[0]
    );
}

#[tokio::test]
async fn a_file_from_slack_is_told_not_sent() {
    let e = env_with_notification(&[message_json("m1", 1, "INCOMING", "hi")]).await;
    e.post_event(&reply_event(
        "U0AGENT001",
        "here is the screenshot",
        "1700000100.000002",
        true,
    ))
    .await;
    e.drain().await;
    let posts = e
        .hubspot_calls("POST", &format!("{THREADS}/{T}/messages"))
        .await;
    assert_eq!(posts.len(), 1, "the text still goes");
    assert_eq!(posts[0]["text"], "here is the screenshot");
    let eph = e.slack_calls("chat.postEphemeral").await;
    assert_eq!(eph.len(), 1);
    let t = eph[0]["text"].as_str().unwrap();
    assert!(
        t.contains("file was not sent") && t.contains("live-messages/22761544/inbox/3624100517"),
        "{t}"
    );
    assert_eq!(eph[0]["user"], "U0AGENT001");
}

#[tokio::test]
async fn the_card_shows_last_reply_and_time_to_first_response() {
    let e = env_with_notification(&[message_json("m1", 1, "INCOMING", "hi")]).await;
    let first = e.slack_calls("chat.postMessage").await[0]["blocks"].to_string();
    assert!(
        first.contains("Last reply") && first.contains("Vera Visitor"),
        "{first}"
    );
    assert!(!first.contains("First response"));
    let msgs = vec![
        message_json("m1", 1, "INCOMING", "hi"),
        message_json("m2", 46, "OUTGOING", "hello!"),
    ];
    e.inbox
        .set(&thread_json(T, "1000", "OPEN", Some("A-2620022")), &msgs);
    e.post_webhook(&json!([event(
        "conversation.newMessage",
        T,
        json!({"messageId": "m2"})
    )]))
    .await;
    e.drain().await;
    let dead = e.dead_letters().await;
    assert!(dead.is_empty(), "{dead:?}");
    let card = e
        .slack_calls("chat.update")
        .await
        .last()
        .expect("card updated")["blocks"]
        .to_string();
    assert!(
        card.contains("First response") && card.contains("45s"),
        "{card}"
    );
    assert!(card.contains("Ann Agent"), "{card}");
    // Never past Slack's limits: fields at most 10, text objects at most 3000 characters.
    let blocks: Value = serde_json::from_str(&card).unwrap();
    for b in blocks.as_array().unwrap() {
        if let Some(f) = b.get("fields") {
            assert!(f.as_array().unwrap().len() <= 10);
        }
    }
}

#[tokio::test]
async fn edits_and_deletions_in_slack_are_answered_privately() {
    let e = env_with_notification(&[message_json("m1", 1, "INCOMING", "hi")]).await;
    let ts = "1700000100.000003";
    e.post_event(&reply_event("U0AGENT001", "the price is 10", ts, false))
        .await;
    e.drain().await;
    assert_eq!(
        e.hubspot_calls("POST", &format!("{THREADS}/{T}/messages"))
            .await
            .len(),
        1
    );
    let changed = |id: &str, new_text: &str| {
        json!({"type": "event_callback", "team_id": TEAM, "event_id": id, "event": {
            "type": "message", "subtype": "message_changed", "hidden": true, "channel": CHANNEL, "ts": "1700000200.000001",
            "message": {"type": "message", "user": "U0AGENT001", "text": new_text, "ts": ts, "thread_ts": PARENT},
            "previous_message": {"type": "message", "user": "U0AGENT001", "text": "the price is 10", "ts": ts, "thread_ts": PARENT}}})
    };
    // An unfurl (same text) says nothing.
    e.post_event(&changed("EvUnfurl", "the price is 10")).await;
    e.drain().await;
    assert!(e.slack_calls("chat.postEphemeral").await.is_empty());
    e.post_event(&changed("EvEdit", "the price is 12")).await;
    e.post_event(&json!({"type": "event_callback", "team_id": TEAM, "event_id": "EvDel", "event": {
        "type": "message", "subtype": "message_deleted", "hidden": true, "channel": CHANNEL, "ts": "1700000300.000001", "deleted_ts": ts,
        "previous_message": {"type": "message", "user": "U0AGENT001", "text": "the price is 12", "ts": ts, "thread_ts": PARENT}}})).await;
    e.drain().await;
    let eph: Vec<String> = e
        .slack_calls("chat.postEphemeral")
        .await
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(eph.len(), 2, "{eph:?}");
    assert!(
        eph[0].contains("You edited a reply") && eph[1].contains("You deleted a reply"),
        "{eph:?}"
    );
    // Nothing more reached the inbox.
    assert_eq!(
        e.hubspot_calls("POST", &format!("{THREADS}/{T}/messages"))
            .await
            .len(),
        1
    );
}
