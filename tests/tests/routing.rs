//! Routing by inbox (issue 10): each HubSpot inbox can post to its own Slack channel, set from
//! the Home tab by an admin; a conversation moved to another inbox follows it, announced in
//! its old thread with a link to the new one. Over real HTTP through the local runner, with
//! wiremock Slack and the fake HubSpot inbox.

use integration_tests::harness::*;
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

const T: &str = "3624100517";
const T2: &str = "3624100999";
/// `thread_json`'s inbox.
const SUPPORT: &str = "147959634";
const SALES: &str = "200000001";
const SALES_CH: &str = "C0SALES001";
const ADMIN: &str = "U0ADMIN001";
const MEMBER: &str = "U0MEMBER01";
const AGENT: &str = "U0AGENT001";
const FORM: &str = "application/x-www-form-urlencoded";
const PERMALINK: &str = "https://acme.slack.com/archives/C0SALES001/p1700000001000002";

async fn env() -> Env {
    let e = start(Opts::default()).await;
    slack_ok(&e.slack).await;
    respond_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    slack_user(&e.slack, AGENT, "Ann", Some("ann@example.com")).await;
    for (id, admin) in [(ADMIN, true), (MEMBER, false)] {
        Mock::given(method("POST"))
            .and(path("/users.info"))
            .and(body_string_contains(format!("user={id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true,
                "user": {"id": id, "name": id, "is_admin": admin, "is_owner": false, "is_bot": false,
                         "deleted": false, "profile": {"display_name": id}}})))
            .mount(&e.slack)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/conversations.info"))
        .and(body_string_contains(format!("channel={SALES_CH}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true,
            "channel": {"id": SALES_CH, "name": "sales-chats", "is_channel": true, "is_private": false,
                        "is_member": true, "is_archived": false}})))
        .mount(&e.slack)
        .await;
    for m in ["/views.publish", "/chat.getPermalink"] {
        Mock::given(method("POST"))
            .and(path(m))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": true, "permalink": PERMALINK})),
            )
            .mount(&e.slack)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/conversations/conversations/2026-09/inboxes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"id": SALES, "name": "Sales <!channel>", "type": "INBOX", "archived": false},
            {"id": SUPPORT, "name": "Support", "type": "INBOX", "archived": false},
            {"id": "300000003", "name": "Old", "type": "INBOX", "archived": true}
        ], "total": 3})))
        .mount(&e.hubspot)
        .await;
    e
}

fn in_inbox(id: &str, inbox: &str) -> Value {
    let mut t = thread_json(id, "1000", "OPEN", None);
    t["inboxId"] = json!(inbox);
    t
}

/// A channel picked for an inbox in the Home tab, as Slack posts it.
async fn pick(e: &Env, user: &str, inbox: &str, channel: &str, ts: &str) {
    let payload = json!({
        "type": "block_actions", "user": {"id": user, "team_id": TEAM}, "team": {"id": TEAM},
        "container": {"type": "view", "view_id": "V0HOME0001"},
        "view": {"id": "V0HOME0001", "type": "home", "blocks": []},
        "actions": [{"type": "conversations_select", "action_id": format!("home_route:{inbox}"),
                     "block_id": "b1", "selected_conversation": channel, "action_ts": ts}]
    });
    let r = e
        .post_slack(
            "/slack/interactions",
            FORM,
            &format!("payload={}", percent(&payload.to_string())),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
}

async fn last_home(e: &Env, user: &str) -> String {
    e.slack_calls("views.publish")
        .await
        .into_iter()
        .rev()
        .find(|h| h["user_id"] == user)
        .map(|h| h["view"].to_string())
        .unwrap_or_default()
}

async fn new_chat(e: &Env, id: &str, inbox: &str) {
    e.inbox.set(
        &in_inbox(id, inbox),
        &[message_json(&format!("{id}-m1"), 1, "INCOMING", "hello")],
    );
    let r = e
        .post_webhook(&json!([event("conversation.creation", id, json!({}))]))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
}

/// Top-level posts (notifications), as (channel, text).
async fn notifications(e: &Env) -> Vec<(String, String)> {
    e.slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p["thread_ts"].is_null())
        .map(|p| {
            (
                p["channel"].as_str().unwrap_or("").to_string(),
                p["text"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_admin_routes_an_inbox_to_its_own_channel_from_the_home_tab() {
    let e = env().await;
    // The Home tab lists the inboxes (not the archived one), names escaped, each with a
    // channel select starting at the default channel.
    let r = e
        .post_event(&json!({"type": "event_callback", "team_id": TEAM, "event_id": "EvHome1",
            "event": {"type": "app_home_opened", "user": ADMIN, "channel": "D1", "tab": "home", "event_ts": "1.1"}}))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    let v = last_home(&e, ADMIN).await;
    assert!(v.contains("Channels by inbox"), "{v}");
    assert!(
        v.contains(&format!("home_route:{SALES}")) && v.contains(&format!("home_route:{SUPPORT}"))
    );
    assert!(
        v.contains("Sales &lt;!channel&gt;") && !v.contains("<!channel>"),
        "{v}"
    );
    assert!(!v.contains("300000003"), "archived inbox listed: {v}");
    assert!(v.contains(&format!("\"initial_conversation\":\"{CHANNEL}\"")));

    // A member may not route.
    pick(&e, MEMBER, SALES, SALES_CH, "1700000400.000001").await;
    let records = &e.runner.app.records;
    assert!(records.route_for(PORTAL, SALES).await.unwrap().is_none());
    assert!(last_home(&e, MEMBER)
        .await
        .contains("Only the person who installed the app"));
    assert!(!last_home(&e, MEMBER).await.contains("home_route:"));

    // The admin routes Sales to its channel (checked with conversations.info).
    pick(&e, ADMIN, SALES, SALES_CH, "1700000400.000002").await;
    let route = records
        .route_for(PORTAL, SALES)
        .await
        .unwrap()
        .expect("route saved");
    assert_eq!(
        (route.channel_id.as_str(), route.set_by.as_str()),
        (SALES_CH, ADMIN)
    );
    let v = last_home(&e, ADMIN).await;
    assert!(
        v.contains(&format!(
            "Done: new live chats from inbox {SALES} go to <#{SALES_CH}>."
        )),
        "{v}"
    );
    assert!(v.contains(&format!("\"initial_conversation\":\"{SALES_CH}\"")));

    // New chats follow their inbox; the others keep the default channel.
    new_chat(&e, T, SALES).await;
    new_chat(&e, T2, SUPPORT).await;
    let n = notifications(&e).await;
    assert_eq!(n.len(), 2, "{n:?}");
    assert_eq!(n[0].0, SALES_CH);
    assert_eq!(n[1].0, CHANNEL);
    let later = e.map(T).await;
    assert_eq!(later.channel_id, SALES_CH);
    assert_eq!(later.inbox_id.as_deref(), Some(SALES));

    // Picking the default channel again removes the route.
    pick(&e, ADMIN, SALES, CHANNEL, "1700000400.000003").await;
    assert!(records.route_for(PORTAL, SALES).await.unwrap().is_none());
    assert!(last_home(&e, ADMIN)
        .await
        .contains("the notification channel"));
    // An invalid inbox id in a forged action changes nothing.
    pick(&e, ADMIN, "12<x>", SALES_CH, "1700000400.000004").await;
    assert!(records.list_routes(PORTAL).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_conversation_moved_to_a_routed_inbox_follows_with_a_note_in_its_old_thread() {
    let e = env().await;
    let records = &e.runner.app.records;
    records
        .set_route(&shared::domain::InboxRoute {
            portal_id: PORTAL.into(),
            inbox_id: SALES.into(),
            channel_id: SALES_CH.into(),
            set_by: ADMIN.into(),
            set_at: 1,
            alerts: Default::default(),
        })
        .await
        .unwrap();
    new_chat(&e, T, SUPPORT).await;
    let first = records.get_thread(PORTAL, T).await.unwrap().unwrap();
    assert_eq!(first.channel_id, CHANNEL);
    let old_parent = first.parent_ts.clone();

    // Moved to Sales in the inbox; the visitor writes again.
    e.inbox.set(
        &in_inbox(T, SALES),
        &[
            message_json(&format!("{T}-m1"), 1, "INCOMING", "hello"),
            message_json(&format!("{T}-m2"), 5, "INCOMING", "still there?"),
        ],
    );
    let moved = event(
        "conversation.newMessage",
        T,
        json!({"messageId": "mv1", "messageType": "THREAD_INBOX_CHANGE"}),
    );
    for _ in 0..2 {
        // Delivered twice (HubSpot retries): followed once.
        assert_eq!(
            e.post_webhook(&json!([moved.clone()]))
                .await
                .status()
                .as_u16(),
            200
        );
        e.drain().await;
    }
    let now = records.get_thread(PORTAL, T).await.unwrap().unwrap();
    assert_eq!(now.channel_id, SALES_CH);
    assert_ne!(now.parent_ts, old_parent);
    assert_eq!(now.earlier, vec![(CHANNEL.to_string(), old_parent.clone())]);
    assert!(!now.move_notice_pending);
    let posts = e.slack_calls("chat.postMessage").await;
    let tops: Vec<&Value> = posts.iter().filter(|p| p["thread_ts"].is_null()).collect();
    assert_eq!(tops.len(), 2, "one new notification: {posts:?}");
    assert_eq!(tops[1]["channel"], SALES_CH);
    assert!(tops[1]["text"].as_str().unwrap().contains("hello"));
    // The old thread says where it went, with a link to the new notification.
    let notes: Vec<&Value> = posts
        .iter()
        .filter(|p| p["thread_ts"] == old_parent.as_str())
        .collect();
    assert_eq!(notes.len(), 1, "{posts:?}");
    assert_eq!(notes[0]["channel"], CHANNEL);
    let note = notes[0]["text"].as_str().unwrap();
    assert!(
        note.contains(PERMALINK) && note.contains(&format!("<#{SALES_CH}>")),
        "{note}"
    );
    // The old card is redrawn once to point there, with Reply in Inbox only.
    let old_card: Vec<Value> = e
        .slack_calls("chat.update")
        .await
        .into_iter()
        .filter(|u| u["channel"] == CHANNEL && u["ts"] == old_parent.as_str())
        .collect();
    let last = old_card.last().expect("the old card was redrawn");
    let blocks = last["blocks"].to_string();
    assert!(
        blocks.contains("Moved to another inbox")
            && blocks.contains(PERMALINK)
            && blocks.contains("reply_in_inbox")
            && !blocks.contains("close_conversation")
            && !blocks.contains("claim"),
        "{blocks}"
    );
    // The visitor's new message goes to the new thread only.
    let m2: Vec<&Value> = posts
        .iter()
        .filter(|p| p["text"].as_str().unwrap_or("").contains("still there?"))
        .collect();
    assert_eq!(m2.len(), 1);
    assert_eq!(m2[0]["channel"], SALES_CH);
    assert_eq!(m2[0]["thread_ts"], now.parent_ts.as_str());

    // An agent answering in the old thread still reaches the visitor.
    let reply = json!({"type": "event_callback", "team_id": TEAM, "event_id": "EvOld1",
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true}],
        "event": {"type": "message", "channel": CHANNEL, "user": AGENT, "text": "yes, here",
                  "ts": "1700000099.000001", "thread_ts": old_parent, "parent_user_id": BOT_USER}});
    assert_eq!(e.post_event(&reply).await.status().as_u16(), 200);
    e.drain().await;
    let sent = e
        .hubspot_calls("POST", &format!("{THREADS}/{T}/messages"))
        .await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["text"], "yes, here");

    // Privacy deletion removes the messages where they are: both notifications, and the
    // new thread's message in the new channel.
    let del = event("conversation.privacyDeletion", T, json!({}));
    assert_eq!(e.post_webhook(&json!([del])).await.status().as_u16(), 200);
    e.drain().await;
    let deletes: Vec<(String, String)> = e
        .slack_calls("chat.delete")
        .await
        .into_iter()
        .map(|d| {
            (
                d["channel"].as_str().unwrap_or("").to_string(),
                d["ts"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let m2_ts = records
        .message(PORTAL, T, &format!("{T}-m2"))
        .await
        .unwrap();
    assert!(m2_ts.is_none(), "mappings removed");
    assert!(
        deletes.contains(&(CHANNEL.to_string(), old_parent.clone())),
        "{deletes:?}"
    );
    assert!(
        deletes.contains(&(SALES_CH.to_string(), now.parent_ts.clone())),
        "{deletes:?}"
    );
    assert!(
        deletes.iter().filter(|(c, _)| c == SALES_CH).count() >= 2,
        "the new thread's message deleted in its channel: {deletes:?}"
    );
    assert!(records.get_thread(PORTAL, T).await.unwrap().is_none());
    assert!(records
        .thread_for_slack(TEAM, CHANNEL, &old_parent)
        .await
        .unwrap()
        .is_none());
}

/// A routed channel that refuses posts (the app was removed from it, it was archived or
/// deleted) does not stop the install: that inbox's chats go to the default channel, the
/// route is removed, and the admin who set it is told once how to route it again. A chat
/// moving into that inbox stays where it is.
#[tokio::test]
async fn a_routed_channel_that_refuses_posts_gives_way_to_the_default_channel() {
    let e = env().await;
    pick(&e, ADMIN, SALES, SALES_CH, "1700000400.000002").await;
    let records = &e.runner.app.records;
    assert!(records.route_for(PORTAL, SALES).await.unwrap().is_some());
    // The app was removed from the Sales channel since.
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .and(body_string_contains(format!("\"channel\":\"{SALES_CH}\"")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "not_in_channel"})),
        )
        .with_priority(1)
        .mount(&e.slack)
        .await;
    // A chat in Support (moved to Sales below), and a new one in Sales.
    new_chat(&e, T, SUPPORT).await;
    new_chat(&e, T2, SALES).await;
    let n = notifications(&e).await;
    let tried: Vec<_> = n.iter().filter(|(c, _)| c == SALES_CH).collect();
    assert_eq!(tried.len(), 1, "one attempt there: {n:?}");
    let posted: Vec<_> = n
        .iter()
        .filter(|(c, t)| c == CHANNEL && t.contains("hello"))
        .collect();
    assert_eq!(posted.len(), 2, "both chats in the default channel: {n:?}");
    let t2 = records.get_thread(PORTAL, T2).await.unwrap().unwrap();
    assert_eq!(t2.channel_id, CHANNEL);
    assert!(records.route_for(PORTAL, SALES).await.unwrap().is_none());
    let install = records.get_install(PORTAL).await.unwrap().unwrap();
    assert_eq!(install.status, shared::domain::InstallStatus::Active);
    let dms: Vec<Value> = e
        .slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p["channel"] == ADMIN)
        .collect();
    assert_eq!(dms.len(), 1);
    let dm = dms[0]["text"].as_str().unwrap();
    assert!(
        dm.contains(&format!("<#{SALES_CH}> (not_in_channel)"))
            && dm.contains(&format!("go to <#{CHANNEL}>"))
            && dm.contains("route the inbox again"),
        "{dm}"
    );
    // The admin routes Sales again, the channel still refuses, a chat moves there: it stays.
    pick(&e, ADMIN, SALES, SALES_CH, "1700000400.000003").await;
    e.inbox.set(
        &in_inbox(T, SALES),
        &[message_json(&format!("{T}-m1"), 1, "INCOMING", "hello")],
    );
    e.post_webhook(&json!([event(
        "conversation.newMessage",
        T,
        json!({"messageId": "mv1", "messageType": "THREAD_INBOX_CHANGE"})
    )]))
    .await;
    e.drain().await;
    let moved = records.get_thread(PORTAL, T).await.unwrap().unwrap();
    assert_eq!(moved.channel_id, CHANNEL);
    assert_eq!(moved.inbox_id.as_deref(), Some(SALES));
    assert!(moved.earlier.is_empty());
    assert!(records.route_for(PORTAL, SALES).await.unwrap().is_none());
    assert!(e.dead_letters().await.is_empty());
    assert_eq!(
        records.get_install(PORTAL).await.unwrap().unwrap().status,
        shared::domain::InstallStatus::Active
    );
}
