//! Beyond the core flows: Close/Reopen from Slack, internal notes both ways, files from
//! Slack told not sent, and the live card (last reply, time to first response).

use integration_tests::harness::*;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

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
    reply_with_files(
        user,
        text,
        ts,
        if files {
            // As Slack describes a file it does not let apps fetch.
            json!([{"id": "F1", "name": "screenshot.png", "mode": "hidden_by_limit"}])
        } else {
            Value::Null
        },
    )
}

fn reply_with_files(user: &str, text: &str, ts: &str, files: Value) -> Value {
    let mut ev = json!({"type": "message", "channel": CHANNEL, "user": user, "text": text, "ts": ts, "thread_ts": PARENT});
    if files.is_array() {
        ev["subtype"] = json!("file_share");
        ev["files"] = files;
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
    // Only what the comment schema has (PublicCommentEgg): no sender or channel fields.
    for field in ["senderActorId", "channelId", "channelAccountId"] {
        assert!(posts[0].get(field).is_none(), "{field} in {}", posts[0]);
    }
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
        t.contains("Not sent to the visitor: *screenshot.png* (Slack does not make it available")
            && t.contains("Your text was sent")
            && t.contains("live-messages/22761544/inbox/3624100517"),
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
    // "Last reply" and the first response wait for the card's coalesced update (at most one
    // per 30 s), which the sweep finds due on the timer index.
    assert!(e.slack_calls("chat.update").await.is_empty());
    shared::flows::timers::sweep(&e.runner.app).await.unwrap();
    e.drain().await;
    assert!(e.slack_calls("chat.update").await.is_empty(), "not due yet");
    e.clock.advance_secs(31);
    let swept = shared::flows::timers::sweep(&e.runner.app).await.unwrap();
    assert_eq!(swept.conversations, 1);
    e.drain().await;
    let updates = e.slack_calls("chat.update").await;
    assert_eq!(updates.len(), 1, "{updates:?}");
    let card = updates[0]["blocks"].to_string();
    assert!(
        card.contains("First response") && card.contains("45s"),
        "{card}"
    );
    // Shown: the next sweep finds nothing due.
    let swept = shared::flows::timers::sweep(&e.runner.app).await.unwrap();
    assert_eq!(swept.conversations, 0);
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

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n not really an image";

/// A file as Slack describes it in a message event, served by the Slack fake at its
/// `url_private_download` (as `files.slack.com` serves it, with the bot token).
async fn served_file(e: &Env, id: &str, name: &str, mimetype: &str, body: &[u8]) -> Value {
    let p = format!("/files-pri/{TEAM}-{id}/download/{name}");
    Mock::given(method("GET"))
        .and(path(p.as_str()))
        .and(header(
            "authorization",
            format!("Bearer {BOT_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_vec(), mimetype))
        .with_priority(5)
        .mount(&e.slack)
        .await;
    json!({"id": id, "name": name, "mimetype": mimetype, "size": body.len(), "mode": "hosted",
           "url_private": format!("{}/files-pri/{TEAM}-{id}/{name}", e.slack.uri()),
           "url_private_download": format!("{}{p}", e.slack.uri())})
}

/// HubSpot's file manager: uploads answer 201 with ids 9001, 9002, ...
async fn file_manager(e: &Env) {
    let n = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(9001));
    Mock::given(method("POST"))
        .and(path("/files/2026-03/files"))
        .and(header(
            "authorization",
            format!("Bearer {HS_TOKEN}").as_str(),
        ))
        .respond_with(move |_: &wiremock::Request| {
            let id = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": id.to_string(), "access": "PRIVATE"}))
        })
        .mount(&e.hubspot)
        .await;
}

/// Ann replies in the thread with `files`; the messages the inbox then received.
async fn file_reply(e: &Env, text: &str, ts: &str, files: Value) -> Vec<Value> {
    e.post_event(&reply_with_files("U0AGENT001", text, ts, files))
        .await;
    e.drain().await;
    e.hubspot_calls("POST", &format!("{THREADS}/{T}/messages"))
        .await
}

async fn uploads(e: &Env) -> Vec<String> {
    e.hubspot
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/files/2026-03/files")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

#[tokio::test]
async fn an_agents_file_reaches_the_visitor_and_is_not_echoed() {
    let e = env_with_notification(&[message_json("m1", 1, "INCOMING", "hi")]).await;
    file_manager(&e).await;
    let f = served_file(&e, "F1", "screenshot.png", "image/png", PNG).await;
    let posts = file_reply(
        &e,
        "here is the screenshot",
        "1700000100.000002",
        json!([f]),
    )
    .await;
    // Fetched from Slack with the bot token, uploaded private, sent by id with the text.
    let up = uploads(&e).await;
    assert_eq!(up.len(), 1);
    assert!(
        up[0].contains("filename=\"screenshot.png\"")
            && up[0].contains("not really an image")
            && up[0].contains("{\"access\":\"PRIVATE\"}"),
        "{}",
        up[0]
    );
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["type"], "MESSAGE");
    assert_eq!(posts[0]["text"], "here is the screenshot");
    assert_eq!(posts[0]["senderActorId"], "A-2620022");
    assert_eq!(
        posts[0]["attachments"],
        json!([{"type": "FILE", "fileId": "9001"}])
    );
    assert!(
        e.slack_calls("chat.postEphemeral").await.is_empty(),
        "nothing to tell"
    );
    // The inbox's webhook for that message does not bring the file back into the thread.
    let before = e.slack_calls("chat.postMessage").await.len();
    e.post_webhook(&json!([event(
        "conversation.newMessage",
        T,
        json!({"messageId": "sent1", "messageType": "MESSAGE", "changeFlag": "NEW_MESSAGE"})
    )]))
    .await;
    e.drain().await;
    assert_eq!(e.slack_calls("chat.postMessage").await.len(), before);
}

#[tokio::test]
async fn a_file_without_text_goes_with_its_name_and_a_retry_sends_it_once() {
    let e = env_with_notification(&[message_json("m1", 1, "INCOMING", "hi")]).await;
    file_manager(&e).await;
    let f = served_file(&e, "F2", "invoice.pdf", "application/pdf", b"%PDF-1.7").await;
    // Slack's file host fails once: the job is retried, and the file still goes once.
    Mock::given(method("GET"))
        .and(path(
            format!("/files-pri/{TEAM}-F2/download/invoice.pdf").as_str(),
        ))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&e.slack)
        .await;
    // With it, a file Slack hides from apps.
    let hidden = json!({"id": "F3", "name": "old.txt", "mode": "hidden_by_limit"});
    let posts = file_reply(&e, "", "1700000100.000003", json!([f, hidden])).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["text"], "invoice.pdf");
    assert_eq!(
        posts[0]["attachments"],
        json!([{"type": "FILE", "fileId": "9001"}])
    );
    assert_eq!(uploads(&e).await.len(), 1);
    assert!(e.dead_letters().await.is_empty());
    // The agent hears of the hidden one only, and of no text, since there was none.
    let eph = e.slack_calls("chat.postEphemeral").await;
    assert_eq!(eph.len(), 1);
    let t = eph[0]["text"].as_str().unwrap();
    assert!(
        t.contains("*old.txt*") && !t.contains("invoice.pdf") && !t.contains("Your text"),
        "{t}"
    );
}

#[tokio::test]
async fn files_that_cannot_be_sent_are_told_privately_and_the_text_still_goes() {
    let e = env_with_notification(&[message_json("m1", 1, "INCOMING", "hi")]).await;
    // The portal did not grant the `files` scope.
    Mock::given(method("POST"))
        .and(path("/files/2026-03/files"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "status": "error", "category": "MISSING_SCOPES",
            "message": "This app hasn't been granted all required scopes to make this call."
        })))
        .mount(&e.hubspot)
        .await;
    let ok = served_file(&e, "F1", "a.png", "image/png", PNG).await;
    // The install lacks files:read: Slack serves its sign-in page instead of the file.
    let page = served_file(&e, "F2", "b.pdf", "text/html; charset=utf-8", b"<html>").await;
    let mut page = page;
    page["mimetype"] = json!("application/pdf");
    let hidden = json!({"id": "F3", "name": "c.txt", "mode": "hidden_by_limit"});
    // Not on Slack's file host: the token is not sent there.
    let elsewhere = wiremock::MockServer::start().await;
    let foreign = json!({"id": "F4", "name": "d.zip",
        "url_private_download": format!("{}/files-pri/{TEAM}-F4/download/d.zip", elsewhere.uri())});
    let posts = file_reply(
        &e,
        "see attached <!channel>",
        "1700000100.000004",
        json!([ok, page, hidden, foreign]),
    )
    .await;
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["attachments"], json!([]));
    assert!(posts[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("see attached"));
    let eph = e.slack_calls("chat.postEphemeral").await;
    assert_eq!(eph.len(), 1, "one private note for all of them: {eph:?}");
    assert_eq!(eph[0]["user"], "U0AGENT001");
    let t = eph[0]["text"].as_str().unwrap();
    for want in [
        "*a.png* (the HubSpot connection may not upload files",
        "*b.pdf* (this app can't read files in Slack (reinstall it to grant the files:read",
        "*c.txt* (Slack does not make it available to apps",
        "*d.zip* (it is not stored in Slack)",
        "Your text was sent",
        "live-messages/22761544/inbox/3624100517",
    ] {
        assert!(t.contains(want), "{want} in {t}");
    }
    assert!(e.dead_letters().await.is_empty());
}

#[tokio::test]
async fn an_inbox_that_refuses_the_files_still_gets_the_text() {
    let e = env_with_notification(&[message_json("m1", 1, "INCOMING", "hi")]).await;
    file_manager(&e).await;
    // The conversation's channel takes no files: a message with attachments is refused.
    Mock::given(method("POST"))
        .and(path(format!("{THREADS}/{T}/messages").as_str()))
        .and(|r: &wiremock::Request| {
            serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|b| b["attachments"].as_array().map(|a| !a.is_empty()))
                .unwrap_or(false)
        })
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "error", "category": "VALIDATION_ERROR", "message": "attachments are not supported"
        })))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    let f = served_file(&e, "F1", "a.png", "image/png", PNG).await;
    let posts = file_reply(&e, "here", "1700000100.000005", json!([f])).await;
    assert_eq!(
        posts.len(),
        2,
        "with the file, refused; then the text alone"
    );
    assert_eq!(posts[1]["attachments"], json!([]));
    assert_eq!(posts[1]["text"], "here");
    let eph = e.slack_calls("chat.postEphemeral").await;
    let t = eph[0]["text"].as_str().unwrap();
    assert!(
        t.contains("*a.png* (the inbox did not accept files on this conversation)")
            && t.contains("Your text was sent"),
        "{t}"
    );
}

#[tokio::test]
async fn a_file_from_a_slack_connect_channel_is_described_by_files_info_and_sent() {
    let e = env_with_notification(&[message_json("m1", 1, "INCOMING", "hi")]).await;
    file_manager(&e).await;
    let described = served_file(&e, "F7", "contract.pdf", "application/pdf", b"%PDF-1.7 ok").await;
    Mock::given(method("POST"))
        .and(path("/files.info"))
        .and(wiremock::matchers::body_string_contains("file=F7"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "file": described})),
        )
        .expect(1)
        .mount(&e.slack)
        .await;
    // As the event carries a file shared from another organisation's channel.
    let posts = file_reply(
        &e,
        "signed copy attached",
        "1700000100.000077",
        json!([{"id": "F7", "file_access": "check_file_info"}]),
    )
    .await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        posts[0]["attachments"],
        json!([{"type": "FILE", "fileId": "9001"}])
    );
    let up = uploads(&e).await;
    assert!(
        up[0].contains("filename=\"contract.pdf\"") && up[0].contains("%PDF-1.7 ok"),
        "{}",
        up[0]
    );
    assert!(e.slack_calls("chat.postEphemeral").await.is_empty());
}
