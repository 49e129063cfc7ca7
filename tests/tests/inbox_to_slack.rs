//! Inbox to Slack, end to end: signed webhooks into the local runner, the store, and the
//! exact calls wiremock Slack and HubSpot receive.

use integration_tests::harness::*;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const T: &str = "3624100517";

async fn env() -> Env {
    let e = start(Opts::default()).await;
    slack_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    e
}

fn creation() -> Value {
    json!([event("conversation.creation", T, json!({}))])
}

fn new_message(id: &str) -> Value {
    json!([event(
        "conversation.newMessage",
        T,
        json!({"messageId": id, "messageType": "MESSAGE", "changeFlag": "NEW_MESSAGE"})
    )])
}

/// A new message and the conversation closed, in one batch (as HubSpot may send them).
fn closed_with_message(id: &str) -> Value {
    let mut batch = new_message(id);
    batch.as_array_mut().unwrap().push(event(
        "conversation.propertyChange",
        T,
        json!({"propertyName": "status", "propertyValue": "CLOSED"}),
    ));
    batch
}

fn posts_in_thread(posts: &[Value], parent: &str) -> Vec<String> {
    posts
        .iter()
        .filter(|p| p["thread_ts"].as_str() == Some(parent))
        .map(|p| p["text"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn new_chat_posts_one_notification_with_the_details_and_buttons() {
    let e = env().await;
    let th = thread_json(T, "1000", "OPEN", Some("A-2620022"));
    e.inbox.set(
        &th,
        &[message_json(
            "m1",
            1,
            "INCOMING",
            "Hello, I need help with <!channel> my order & stuff",
        )],
    );
    let r = e.post_webhook(&creation()).await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    let p = &posts[0];
    assert_eq!(p["channel"], CHANNEL);
    assert!(p.get("thread_ts").is_none() || p["thread_ts"].is_null());
    let blocks = p["blocks"].to_string();
    assert!(
        blocks.contains("Hello, I need help with &lt;!channel&gt; my order &amp; stuff"),
        "{blocks}"
    );
    assert!(!blocks.contains("<!channel>"));
    assert!(blocks.contains("Open"));
    assert!(blocks.contains("Ann Agent"));
    assert!(blocks.contains("Claim ann@example.com"));
    assert!(blocks
        .contains("\"url\":\"https://app.hubspot.com/live-messages/22761544/inbox/3624100517\""));
    assert!(p["text"].as_str().unwrap().contains("New live chat"));
    // The HubSpot token went to HubSpot, the bot token to Slack.
    let hs = e.hubspot.received_requests().await.unwrap();
    assert!(hs
        .iter()
        .all(|r| r.headers["authorization"] == format!("Bearer {HS_TOKEN}")));
    let sl = e.slack.received_requests().await.unwrap();
    assert!(sl
        .iter()
        .all(|r| r.headers["authorization"] == format!("Bearer {BOT_TOKEN}")));
}

#[tokio::test]
async fn later_messages_follow_in_the_thread_in_order_and_once() {
    let e = env().await;
    let th = thread_json(T, "1000", "OPEN", None);
    let mut msgs = vec![message_json("m1", 1, "INCOMING", "first")];
    e.inbox.set(&th, &msgs);
    e.post_webhook(&creation()).await;
    e.drain().await;
    let parent = e.slack_calls("chat.postMessage").await[0].clone();
    assert!(parent["blocks"].to_string().contains("Unassigned"));
    // Three more messages, one from an agent in the inbox; webhooks arrive out of order and twice.
    msgs.push(message_json("m2", 2, "INCOMING", "second"));
    msgs.push(message_json("m3", 3, "OUTGOING", "agent answer"));
    msgs.push(message_json("m4", 4, "INCOMING", "fourth"));
    e.inbox.set(&th, &msgs);
    for id in ["m4", "m2", "m3", "m2", "m4"] {
        assert_eq!(
            e.post_webhook(&new_message(id)).await.status().as_u16(),
            200
        );
    }
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    let parent_ts = "1700000001.000001";
    let thread = posts_in_thread(&posts, parent_ts);
    assert_eq!(thread.len(), 3, "{thread:?}");
    assert!(thread[0].contains("second"));
    assert!(thread[1].contains("agent answer") && thread[1].contains("sent from the inbox"));
    assert!(thread[2].contains("fourth"));
    assert!(thread[0].starts_with("*Vera Visitor*"));
}

#[tokio::test]
async fn concurrent_deliveries_create_one_thread() {
    let e = env().await;
    let th = thread_json(T, "1000", "OPEN", None);
    e.inbox.set(
        &th,
        &[
            message_json("m1", 1, "INCOMING", "hi"),
            message_json("m2", 2, "INCOMING", "again"),
        ],
    );
    let mut handles = vec![];
    for i in 0..8 {
        let body = if i % 2 == 0 {
            creation()
        } else {
            new_message("m2")
        };
        let http = e.http.clone();
        let url = e.url("/hubspot/webhook");
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let text = body.to_string();
        let sig = shared::edge::verify::sign_hubspot_v3(
            HUBSPOT_SECRET.as_bytes(),
            "POST",
            &e.runner.app.settings.webhook_url(),
            text.as_bytes(),
            ts,
        );
        handles.push(tokio::spawn(async move {
            http.post(url)
                .header("x-hubspot-signature-v3", sig)
                .header("x-hubspot-request-timestamp", ts.to_string())
                .body(text)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    let parents: Vec<_> = posts.iter().filter(|p| p["thread_ts"].is_null()).collect();
    assert_eq!(parents.len(), 1, "{posts:?}");
    assert_eq!(
        posts_in_thread(&posts, "1700000001.000001"),
        vec!["*Vera Visitor*: again".to_string()]
    );
}

#[tokio::test]
async fn status_and_assignment_changes_update_the_same_message() {
    let e = env().await;
    let msgs = [message_json("m1", 1, "INCOMING", "hi")];
    e.inbox.set(&thread_json(T, "1000", "OPEN", None), &msgs);
    e.post_webhook(&creation()).await;
    e.drain().await;
    e.inbox
        .set(&thread_json(T, "1000", "OPEN", Some("A-2620022")), &msgs);
    e.post_webhook(&json!([event(
        "conversation.propertyChange",
        T,
        json!({"propertyName": "assignedTo", "propertyValue": "A-2620022"})
    )]))
    .await;
    e.drain().await;
    e.inbox
        .set(&thread_json(T, "1000", "CLOSED", Some("A-2620022")), &msgs);
    e.post_webhook(&json!([event(
        "conversation.propertyChange",
        T,
        json!({"propertyName": "status", "propertyValue": "CLOSED"})
    )]))
    .await;
    e.drain().await;
    // A repeated status webhook changes nothing.
    e.post_webhook(&json!([event(
        "conversation.propertyChange",
        T,
        json!({"propertyName": "status", "propertyValue": "CLOSED"})
    )]))
    .await;
    e.drain().await;
    let updates = e.slack_calls("chat.update").await;
    assert_eq!(updates.len(), 2, "{updates:?}");
    for u in &updates {
        assert_eq!(u["channel"], CHANNEL);
        assert_eq!(u["ts"], "1700000001.000001");
    }
    assert!(updates[0]["blocks"]
        .to_string()
        .contains("Claim ann@example.com"));
    assert!(updates[1]["blocks"].to_string().contains("Closed"));
    assert_eq!(e.slack_calls("chat.postMessage").await.len(), 1);
}

#[tokio::test]
async fn email_conversations_are_never_posted() {
    let e = env().await;
    e.inbox.set(
        &thread_json("3624100999", "1002", "OPEN", None),
        &[message_json("e1", 1, "INCOMING", "an email")],
    );
    e.post_webhook(&json!([event(
        "conversation.creation",
        "3624100999",
        json!({})
    )]))
    .await;
    e.post_webhook(&json!([event(
        "conversation.newMessage",
        "3624100999",
        json!({"messageId": "e1"})
    )]))
    .await;
    e.drain().await;
    assert!(e.slack.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn nothing_is_posted_when_notifications_are_off() {
    let e = env().await;
    let mut install = e
        .runner
        .app
        .records
        .get_install(PORTAL)
        .await
        .unwrap()
        .unwrap();
    install.notifications_on = false;
    e.runner.app.records.put_install(&install).await.unwrap();
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[message_json("m1", 1, "INCOMING", "hi")],
    );
    e.post_webhook(&creation()).await;
    e.drain().await;
    assert!(e.slack.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let e = start(Opts::default()).await;
    hubspot_people(&e.hubspot).await;
    // First a 429 with Retry-After, then a 503, then success.
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(json!({"ok": false, "error": "ratelimited"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&e.slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&e.slack)
        .await;
    slack_ok(&e.slack).await;
    // HubSpot also fails once.
    Mock::given(method("GET"))
        .and(path(format!("{THREADS}/{T}")))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[message_json("m1", 1, "INCOMING", "hi")],
    );
    e.post_webhook(&creation()).await;
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert_eq!(posts.len(), 3, "429, 503, then ok");
    assert!(e
        .runner
        .app
        .records
        .get_thread(PORTAL, T)
        .await
        .unwrap()
        .is_some());
    assert!(e.dead_letters().await.is_empty());
}

#[tokio::test]
async fn channel_errors_mark_the_install_and_keep_the_delivery() {
    for code in ["not_in_channel", "channel_not_found", "is_archived"] {
        let e = start(Opts::default()).await;
        hubspot_people(&e.hubspot).await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": code})),
            )
            .mount(&e.slack)
            .await;
        e.inbox.set(
            &thread_json(T, "1000", "OPEN", None),
            &[message_json("m1", 1, "INCOMING", "hi")],
        );
        e.post_webhook(&creation()).await;
        e.drain().await;
        let install = e
            .runner
            .app
            .records
            .get_install(PORTAL)
            .await
            .unwrap()
            .unwrap();
        match &install.status {
            shared::domain::InstallStatus::NeedsAttention { reason } => assert!(!reason.is_empty()),
            other => panic!("{code}: {other:?}"),
        }
        let dead = e.dead_letters().await;
        assert_eq!(dead.len(), 1, "{code}");
        assert_eq!(dead[0].conversation_id.as_deref(), Some(T));
        // Not retried: one attempt only.
        assert_eq!(e.slack_calls("chat.postMessage").await.len(), 1, "{code}");
    }
}

#[tokio::test]
async fn revoked_tokens_deactivate_the_install() {
    let e = start(Opts::default()).await;
    hubspot_people(&e.hubspot).await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "token_revoked"})),
        )
        .mount(&e.slack)
        .await;
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[message_json("m1", 1, "INCOMING", "hi")],
    );
    e.post_webhook(&creation()).await;
    e.drain().await;
    let install = e
        .runner
        .app
        .records
        .get_install(PORTAL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(install.status, shared::domain::InstallStatus::Inactive);
    assert!(install.bot_token.is_none());
    assert_eq!(e.dead_letters().await.len(), 1);
    // Its data does not outlive it: what the portal carried expires in 30 days (the
    // install record, with no tokens, and its team pointer stay).
    let now = e.runner.app.clock.now_secs();
    let items = e
        .runner
        .app
        .records
        .store()
        .query_portal_index(&format!("PORTAL#{PORTAL}"))
        .await
        .unwrap();
    let carried: Vec<_> = items
        .iter()
        .filter(|it| {
            let pk = shared::store::key_of(it).unwrap().0;
            !pk.starts_with("INSTALL#") && !pk.starts_with("TEAM#")
        })
        .collect();
    assert!(!carried.is_empty(), "{items:?}");
    for it in carried {
        let Some(shared::store::Attr::N(at)) = it.get(shared::store::TTL) else {
            panic!("an item without ttl: {it:?}");
        };
        let left = at - now;
        assert!(
            (30 * 86_400 - 120..=30 * 86_400).contains(&left),
            "expires in {left} s"
        );
    }
}

#[tokio::test]
async fn deletion_removes_the_slack_messages_and_mappings() {
    let e = env().await;
    let msgs = [
        message_json("m1", 1, "INCOMING", "hi"),
        message_json("m2", 2, "INCOMING", "there"),
    ];
    e.inbox.set(&thread_json(T, "1000", "OPEN", None), &msgs);
    e.post_webhook(&creation()).await;
    e.drain().await;
    e.post_webhook(&json!([event(
        "conversation.privacyDeletion",
        T,
        json!({})
    )]))
    .await;
    e.drain().await;
    let deletes: Vec<String> = e
        .slack_calls("chat.delete")
        .await
        .iter()
        .map(|d| d["ts"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        deletes,
        vec![
            "1700000001.000002".to_string(),
            "1700000001.000001".to_string()
        ]
    );
    assert!(e
        .runner
        .app
        .records
        .get_thread(PORTAL, T)
        .await
        .unwrap()
        .is_none());
    assert!(e
        .runner
        .app
        .records
        .list_messages(PORTAL, T)
        .await
        .unwrap()
        .is_empty());
    assert!(e
        .runner
        .app
        .records
        .thread_for_slack(TEAM, CHANNEL, "1700000001.000001")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn long_visitor_text_is_cut_with_a_link() {
    let e = env().await;
    let long = "ü".repeat(5000);
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[
            message_json("m1", 1, "INCOMING", "hi"),
            message_json("m2", 2, "INCOMING", &long),
        ],
    );
    e.post_webhook(&creation()).await;
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    let reply = posts_in_thread(&posts, "1700000001.000001");
    assert_eq!(reply.len(), 1);
    assert!(reply[0].chars().count() <= 3000);
    assert!(reply[0].contains("read the whole message in the inbox"));
}

#[tokio::test]
async fn attachments_appear_as_links_with_their_names_and_cannot_forge_links() {
    let e = env().await;
    let mut m2 = message_json("m2", 2, "INCOMING", "see attached");
    m2["attachments"] = json!([
        {"type": "FILE", "fileId": "183541231", "name": "invoice.pdf", "url": "https://files.example.com/invoice.pdf"},
        {"type": "FILE", "name": "x|<!channel>", "url": "https://evil.example.com/a|<!here>"},
        // A file the file manager no longer has: shown without a size.
        {"type": "FILE", "fileId": "404", "name": "gone.png", "url": "https://files.example.com/gone.png"}
    ]);
    // The file manager knows the invoice's size (the message does not carry it).
    Mock::given(method("GET"))
        .and(path("/files/2026-03/files/183541231"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "183541231", "size": 48213, "name": "invoice", "extension": "pdf"}),
        ))
        .mount(&e.hubspot)
        .await;
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[message_json("m1", 1, "INCOMING", "hi"), m2],
    );
    e.post_webhook(&creation()).await;
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    let reply = posts_in_thread(&posts, "1700000001.000001");
    assert_eq!(reply.len(), 1);
    assert!(
        reply[0].contains("<https://files.example.com/invoice.pdf|invoice.pdf (47 KB)>")
            && reply[0].contains("<https://files.example.com/gone.png|gone.png>"),
        "{}",
        reply[0]
    );
    assert!(
        !reply[0].contains("<!channel>") && !reply[0].contains("<!here>"),
        "{}",
        reply[0]
    );
    assert!(
        !reply[0].contains("https://evil.example.com"),
        "{}",
        reply[0]
    );
}

#[tokio::test]
async fn attachments_of_other_kinds_are_shown_for_what_they_are_with_no_file_lookup() {
    let e = env().await;
    let mut m2 = message_json("m2", 2, "INCOMING", "here you go");
    // The 2026-09 definitions' attachment kinds, as HubSpot sends them.
    m2["attachments"] = json!([
        {"type": "LOCATION", "latitude": 52.37, "longitude": 4.89, "name": "Dam Square",
         "url": "https://maps.example.com/?q=52.37,4.89"},
        {"type": "CONTACT", "contactProfile": {"name": {"firstName": "Ada", "lastName": "L"},
         "emails": [], "phones": [], "addresses": [], "urls": []}},
        {"type": "QUICK_REPLIES", "allowMultiSelect": false, "allowUserInput": true,
         "quickReplies": [{"label": "Sales", "value": "sales", "valueType": "TEXT"},
                          {"label": "Support", "value": "support", "valueType": "TEXT"}]},
        {"type": "UNSUPPORTED_CONTENT"},
        {"type": "MESSAGE_HEADER", "text": "Re: order", "fileId": 5},
        {"type": "SOCIAL_MEDIA_METADATA", "socialMetadata": {}},
        {"type": "STICKER_PACK", "id": 1}
    ]);
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[message_json("m1", 1, "INCOMING", "hi"), m2],
    );
    e.post_webhook(&creation()).await;
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    let reply = posts_in_thread(&posts, "1700000001.000001");
    assert_eq!(reply.len(), 1);
    let text = &reply[0];
    assert!(
        text.contains("Location: <https://maps.example.com/?q=52.37,4.89|Dam Square>"),
        "{text}"
    );
    assert!(text.contains("A contact card: Ada L"), "{text}");
    assert!(
        text.contains("Quick replies offered: Sales · Support"),
        "{text}"
    );
    assert!(text.contains("Content the inbox cannot show"), "{text}");
    assert!(text.contains("kind STICKER_PACK"), "{text}");
    // Only files are paperclips; metadata is not shown.
    assert!(!text.contains(":paperclip:"), "{text}");
    assert!(!text.contains("Re: order"), "{text}");
    // Nothing but a FILE is looked up in the file manager (the header's fileId included).
    assert!(e
        .hubspot
        .received_requests()
        .await
        .unwrap()
        .iter()
        .all(|r| !r.url.path().starts_with("/files/")));
}

#[tokio::test]
async fn a_spam_thread_is_not_posted_and_a_restored_one_reappears() {
    let e = env().await;
    let mut spam = thread_json(T, "1000", "OPEN", None);
    spam["spam"] = json!(true);
    e.inbox
        .set(&spam, &[message_json("m1", 1, "INCOMING", "buy now")]);
    e.post_webhook(&creation()).await;
    e.post_webhook(&new_message("m1")).await;
    e.drain().await;
    assert!(e.slack_calls("chat.postMessage").await.is_empty());

    // Archived, then restored (propertyChange isArchived=false): it appears then.
    let mut archived = thread_json(T, "1000", "OPEN", None);
    archived["archived"] = json!(true);
    e.inbox.set(
        &archived,
        &[message_json("m1", 1, "INCOMING", "hello again")],
    );
    e.post_webhook(&new_message("m1")).await;
    e.drain().await;
    assert!(e.slack_calls("chat.postMessage").await.is_empty());
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[message_json("m1", 1, "INCOMING", "hello again")],
    );
    e.post_webhook(&json!([event(
        "conversation.propertyChange",
        T,
        json!({"propertyName": "isArchived", "propertyValue": "false"})
    )]))
    .await;
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0]["blocks"].to_string().contains("hello again"));
}

#[tokio::test]
async fn the_card_shows_the_last_page_seen_as_of_the_chats_start_when_the_crm_knows_it() {
    let e = env().await;
    // The contact's page history; the thread started at 2026-11-27T10:00:00Z.
    Mock::given(method("GET"))
        .and(path("/crm/objects/2026-03/contacts/1401"))
        .and(wiremock::matchers::query_param(
            "propertiesWithHistory",
            "hs_analytics_last_url",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "1401", "archived": false, "properties": {"hubspot_owner_id": ""},
            "propertiesWithHistory": {"hs_analytics_last_url": [
                {"value": "https://shop.example.com/later", "timestamp": "2026-11-27T10:05:00Z", "sourceType": "ANALYTICS"},
                {"value": "https://shop.example.com/pricing?plan=<!here>", "timestamp": "2026-11-27T09:58:00Z", "sourceType": "ANALYTICS"}
            ]}
        })))
        .with_priority(1)
        .expect(1)
        .mount(&e.hubspot)
        .await;
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[message_json("m1", 1, "INCOMING", "hi")],
    );
    e.post_webhook(&creation()).await;
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    let card = posts[0]["blocks"].to_string();
    assert!(card.contains("*Last page seen*"), "{card}");
    assert!(card.contains("https://shop.example.com/pricing"), "{card}");
    assert!(!card.contains("/later"), "{card}");
    assert!(!card.contains("<!here>"), "{card}");

    // A visitor that is no CRM contact: no page field at all.
    let e = env().await;
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[message_json("m1", 1, "INCOMING", "hi")],
    );
    e.post_webhook(&creation()).await;
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert!(!posts[0]["blocks"].to_string().contains("page seen"));
}

#[tokio::test]
async fn the_assignee_contact_and_owner_are_read_once_per_warm_process() {
    let e = env().await;
    Mock::given(method("GET"))
        .and(path("/crm/objects/2026-03/contacts/1401"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "1401", "archived": false, "properties": {"hubspot_owner_id": "41629779"}
        })))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/owners/2026-03/41629779"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "41629779", "userId": 2620022, "email": "ann@example.com", "firstName": "Ann", "lastName": "Agent", "archived": false
        })))
        .mount(&e.hubspot)
        .await;
    let mut msgs = vec![message_json("m1", 1, "INCOMING", "hi")];
    e.inbox
        .set(&thread_json(T, "1000", "OPEN", Some("A-2620022")), &msgs);
    e.post_webhook(&creation()).await;
    e.drain().await;
    for n in 2..6 {
        msgs.push(message_json(&format!("m{n}"), n, "INCOMING", "more"));
        e.inbox
            .set(&thread_json(T, "1000", "OPEN", Some("A-2620022")), &msgs);
        e.post_webhook(&new_message(&format!("m{n}"))).await;
        e.drain().await;
    }
    let gets = |p: &'static str| {
        let server = &e.hubspot;
        async move {
            server
                .received_requests()
                .await
                .unwrap()
                .iter()
                .filter(|r| r.method.as_str() == "GET" && r.url.path() == p)
                .count()
        }
    };
    assert_eq!(gets("/crm/owners/2026-03/2620022").await, 1, "the assignee");
    assert_eq!(
        gets("/crm/objects/2026-03/contacts/1401").await,
        1,
        "the contact"
    );
    assert_eq!(
        gets("/crm/owners/2026-03/41629779").await,
        1,
        "the contact owner"
    );
    let card = e.slack_calls("chat.postMessage").await[0]["blocks"].to_string();
    assert!(card.contains("*Contact owner*\\nAnn Agent"), "{card}");
}

/// The contact ids asked of the CRM, in order.
async fn contact_lookups(e: &Env) -> Vec<String> {
    e.hubspot
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().starts_with("/crm/objects/2026-03/contacts/"))
        .map(|r| r.url.path().rsplit('/').next().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn a_visitor_id_is_asked_of_the_crm_once_and_a_new_contact_id_is_looked_up() {
    let e = env().await;
    // 1401 is a visitor id (404 from the CRM); 7777 the contact the visitor becomes.
    Mock::given(method("GET"))
        .and(path("/crm/objects/2026-03/contacts/1401"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "status": "error", "message": "Object not found.", "category": "OBJECT_NOT_FOUND"
        })))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/objects/2026-03/contacts/7777"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "7777", "archived": false, "properties": {"hubspot_owner_id": ""},
            "propertiesWithHistory": {"hs_analytics_last_url": [
                {"value": "https://shop.example.com/checkout", "timestamp": "2026-11-27T09:59:00Z", "sourceType": "ANALYTICS"}
            ]}
        })))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    let mut msgs = vec![message_json("m1", 1, "INCOMING", "hi")];
    e.inbox.set(&thread_json(T, "1000", "OPEN", None), &msgs);
    e.post_webhook(&creation()).await;
    e.drain().await;
    for n in 2..5 {
        msgs.push(message_json(&format!("m{n}"), n, "INCOMING", "more"));
        e.inbox.set(&thread_json(T, "1000", "OPEN", None), &msgs);
        e.post_webhook(&new_message(&format!("m{n}"))).await;
        e.drain().await;
    }
    assert_eq!(
        contact_lookups(&e).await,
        vec!["1401".to_string()],
        "asked once"
    );
    assert_eq!(e.slack_calls("chat.postMessage").await.len(), 4);
    // The visitor left an email: HubSpot made a contact and the thread names it now.
    let mut t = thread_json(T, "1000", "OPEN", None);
    t["associatedContactId"] = json!("7777");
    msgs.push(message_json("m5", 5, "INCOMING", "my email is a@b.example"));
    e.inbox.set(&t, &msgs);
    // A new message alone trusts the thread as read for five minutes; after that the
    // thread is read again, with its new contact.
    e.clock.advance_secs(301);
    e.post_webhook(&new_message("m5")).await;
    e.drain().await;
    assert_eq!(
        contact_lookups(&e).await,
        vec!["1401".to_string(), "7777".to_string()]
    );
}

#[tokio::test]
async fn a_card_slack_refuses_still_reaches_slack_as_plain_text_and_the_thread_goes_on() {
    let e = start(Opts::default()).await;
    // Slack refuses any payload with blocks, as it does a malformed one.
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .and(wiremock::matchers::body_string_contains("\"blocks\""))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "invalid_blocks"})),
        )
        .with_priority(1)
        .mount(&e.slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.update"))
        .and(wiremock::matchers::body_string_contains("\"blocks\":[{"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "invalid_blocks"})),
        )
        .with_priority(1)
        .mount(&e.slack)
        .await;
    slack_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    let msgs = [message_json("m1", 1, "INCOMING", "Hello, I need help")];
    e.inbox.set(&thread_json(T, "1000", "OPEN", None), &msgs);
    e.post_webhook(&creation()).await;
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(posts[1].get("blocks").is_none(), "{}", posts[1]);
    let text = posts[1]["text"].as_str().unwrap();
    assert!(text.contains("Hello, I need help"), "{text}");
    assert!(
        text.contains(
            "<https://app.hubspot.com/live-messages/22761544/inbox/3624100517|Reply in Inbox>"
        ),
        "{text}"
    );
    // Nothing failed for good, and the conversation goes on in that message's thread.
    assert!(e.dead_letters().await.is_empty());
    let msgs = [
        message_json("m1", 1, "INCOMING", "Hello, I need help"),
        message_json("m2", 2, "INCOMING", "anyone?"),
    ];
    e.inbox.set(&thread_json(T, "1000", "CLOSED", None), &msgs);
    e.post_webhook(&closed_with_message("m2")).await;
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert_eq!(
        posts_in_thread(&posts, "1700000001.000001").len(),
        1,
        "{posts:?}"
    );
    // The card's change (closed) is shown as plain text too.
    let updates = e.slack_calls("chat.update").await;
    let last = updates.last().expect("an update");
    assert_eq!(last["blocks"], json!([]));
    assert!(last["text"].as_str().unwrap().contains("Status: CLOSED"));
    assert!(e.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_deleted_card_is_posted_again_and_mirroring_goes_on_under_it() {
    let e = env().await;
    let msgs = [message_json("m1", 1, "INCOMING", "hi")];
    e.inbox.set(&thread_json(T, "1000", "OPEN", None), &msgs);
    e.post_webhook(&creation()).await;
    e.drain().await;
    // Someone deleted the card in Slack.
    Mock::given(method("POST"))
        .and(path("/chat.update"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "message_not_found"})),
        )
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&e.slack)
        .await;
    let msgs = [
        message_json("m1", 1, "INCOMING", "hi"),
        message_json("m2", 2, "INCOMING", "still there?"),
    ];
    e.inbox.set(&thread_json(T, "1000", "CLOSED", None), &msgs);
    e.post_webhook(&closed_with_message("m2")).await;
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    // The first card, a fresh card, then the message in the fresh card's thread.
    assert_eq!(posts.len(), 3, "{posts:?}");
    assert!(posts[1]["thread_ts"].is_null());
    assert!(posts[1]["blocks"].to_string().contains("Closed"));
    assert_eq!(
        posts_in_thread(&posts, "1700000001.000002"),
        vec![posts[2]["text"].as_str().unwrap().to_string()]
    );
    assert!(e.dead_letters().await.is_empty());
    let map = e.map(T).await;
    assert_eq!(map.parent_ts, "1700000001.000002");
}

#[tokio::test]
async fn rate_limited_answers_in_the_body_are_waited_out_too() {
    let e = start(Opts::default()).await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "rate_limited"})),
        )
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&e.slack)
        .await;
    slack_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", None),
        &[message_json("m1", 1, "INCOMING", "hi")],
    );
    e.post_webhook(&creation()).await;
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert_eq!(posts.len(), 2, "refused once, then posted: {posts:?}");
    assert!(e.dead_letters().await.is_empty());
    assert!(e
        .runner
        .app
        .records
        .get_thread(PORTAL, T)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_deactivated_installs_mappings_and_dead_letters_expire_in_30_days() {
    let e = env().await;
    let msgs = [message_json("m1", 1, "INCOMING", "hi")];
    e.inbox.set(&thread_json(T, "1000", "OPEN", None), &msgs);
    e.post_webhook(&creation()).await;
    e.drain().await;
    // Later the workspace revokes the app's token.
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "token_revoked"})),
        )
        .with_priority(1)
        .mount(&e.slack)
        .await;
    let msgs = [
        message_json("m1", 1, "INCOMING", "hi"),
        message_json("m2", 2, "INCOMING", "hello?"),
    ];
    e.inbox.set(&thread_json(T, "1000", "OPEN", None), &msgs);
    e.post_webhook(&new_message("m2")).await;
    e.drain().await;
    let app = &e.runner.app;
    let now = app.clock.now_secs();
    let items = app
        .records
        .store()
        .query_portal_index(&format!("PORTAL#{PORTAL}"))
        .await
        .unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for it in &items {
        let pk = shared::store::key_of(it).unwrap().0;
        if pk.starts_with("INSTALL#") || pk.starts_with("TEAM#") {
            continue;
        }
        kinds.insert(pk.split('#').next().unwrap().to_string());
        let Some(shared::store::Attr::N(at)) = it.get(shared::store::TTL) else {
            panic!("an item without ttl: {it:?}");
        };
        assert!((30 * 86_400 - 120..=30 * 86_400).contains(&(at - now)));
    }
    // The conversation's mapping and message records, and the dead letter.
    assert!(
        kinds.contains("CONV") && kinds.contains("DEAD"),
        "{kinds:?}"
    );
}
