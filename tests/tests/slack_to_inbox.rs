//! Slack to inbox, end to end: signed Slack events and clicks into the local runner, and the
//! exact calls wiremock HubSpot and Slack receive (thread replies, Claim, failures, uninstall).

use integration_tests::harness::*;
use serde_json::{json, Value};
use shared::domain::InstallStatus;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

const T: &str = "3624100517";
const PARENT: &str = "1700000001.000001";
const AGENT: &str = "U0AGENT001";
const FORM: &str = "application/x-www-form-urlencoded";
const CLAIM_VALUE: &str = "22761544|3624100517|2620022|ann@example.com";
const INBOX_LINK: &str = "https://app.hubspot.com/live-messages/22761544/inbox/3624100517";
const DELIVERY_ID: &str = "0232d1661ef84248bd4923cce9d3b917";

fn messages_path() -> String {
    format!("{THREADS}/{T}/messages")
}

async fn env_with(opts: Opts) -> Env {
    let e = start(opts).await;
    slack_ok(&e.slack).await;
    respond_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    slack_user(&e.slack, AGENT, "Ann", Some("ann@example.com")).await;
    slack_user(&e.slack, "U0OTHER01", "Bob", Some("bob@example.com")).await;
    e
}

async fn env() -> Env {
    env_with(Opts::default()).await
}

/// Creates the Slack notification for conversation T (parent ts `PARENT`).
async fn notified(e: &Env, assigned: Option<&str>) {
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", assigned),
        &[message_json("m1", 1, "INCOMING", "Hello, I need help")],
    );
    let r = e
        .post_webhook(&json!([event("conversation.creation", T, json!({}))]))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0]["thread_ts"].is_null());
}

fn envelope(event_id: &str, ev: Value) -> Value {
    json!({
        "token": "verification-token", "team_id": TEAM, "api_app_id": "A0APP00001",
        "type": "event_callback", "event_id": event_id, "event_time": 1700000200,
        "event": ev,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}]
    })
}

/// A thread reply in the notification's thread.
fn reply(user: &str, text: &str, ts: &str) -> Value {
    json!({
        "type": "message", "channel": CHANNEL, "user": user, "text": text, "ts": ts,
        "thread_ts": PARENT, "parent_user_id": BOT_USER, "event_ts": ts, "channel_type": "channel"
    })
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// POSTs a body signed as Slack signs it, with extra headers (e.g. X-Slack-Retry-Num).
async fn post_slack_with(
    e: &Env,
    p: &str,
    content_type: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let ts = now_secs();
    let sig = shared::edge::verify::sign_slack(SIGNING_SECRET.as_bytes(), ts, body.as_bytes());
    let mut req = e
        .http
        .post(e.url(p))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sig);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.body(body.to_string()).send().await.unwrap()
}

/// A block_actions click on the notification, as Slack POSTs it to the interactivity URL.
fn click(user: &str, action: Value, response_url: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "name": "someone", "team_id": TEAM},
        "api_app_id": "A0APP00001", "token": "verification-token",
        "container": {"type": "message", "message_ts": PARENT, "channel_id": CHANNEL, "is_ephemeral": false},
        "trigger_id": "1700000300.123.abc",
        "team": {"id": TEAM, "domain": "acme"},
        "channel": {"id": CHANNEL, "name": "support"},
        "message": {"type": "message", "ts": PARENT, "text": "New live chat", "user": BOT_USER},
        "response_url": response_url,
        "actions": [action]
    });
    format!("payload={}", percent(&payload.to_string()))
}

fn claim_action() -> Value {
    json!({
        "type": "button", "action_id": "claim", "block_id": "conversation_actions",
        "value": CLAIM_VALUE, "text": {"type": "plain_text", "text": "Claim ann@example.com"},
        "action_ts": "1700000300.000001"
    })
}

/// The body the inbox must receive for a reply from Ann with `text`.
fn expected_post(text: &str) -> Value {
    json!({
        "type": "MESSAGE",
        "text": text,
        "senderActorId": "A-2620022",
        "channelId": "1000",
        "channelAccountId": "148662",
        "attachments": [],
        "recipients": [{
            "actorId": "V-1401",
            "deliveryIdentifiers": [{"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": DELIVERY_ID}]
        }]
    })
}

async fn posts_to_inbox(e: &Env) -> Vec<Value> {
    e.hubspot_calls("POST", &messages_path()).await
}

async fn set_bot_user(e: &Env) {
    let mut install = e
        .runner
        .app
        .records
        .get_install(PORTAL)
        .await
        .unwrap()
        .unwrap();
    install.bot_user_id = Some(BOT_USER.to_string());
    e.runner.app.records.put_install(&install).await.unwrap();
}

/// Messages our app sent into the inbox (the fake inbox marks them INTEGRATION).
fn sent_by_us(e: &Env) -> Vec<Value> {
    e.inbox
        .messages(T)
        .into_iter()
        .filter(|m| m["client"]["clientType"] == "INTEGRATION")
        .collect()
}

#[tokio::test]
async fn a_thread_reply_is_sent_to_the_visitor_as_the_agent_and_not_echoed() {
    let e = env().await;
    notified(&e, None).await;
    let text = "Thanks <@U0OTHER01>, see <https://example.com|our docs> for Q&amp;A";
    let r = e
        .post_event(&envelope(
            "Ev0REPLY01",
            reply(AGENT, text, "1700000100.000100"),
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    e.drain().await;
    let posts = posts_to_inbox(&e).await;
    assert_eq!(
        posts,
        vec![expected_post(
            "Thanks @Bob, see our docs (https://example.com) for Q&A"
        )]
    );
    let sent = e
        .hubspot
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == messages_path())
        .unwrap();
    assert_eq!(
        sent.headers["authorization"],
        format!("Bearer {HS_TOKEN}").as_str()
    );
    // The agent was matched by email and the mapping kept.
    let m = e
        .runner
        .app
        .records
        .user_for_slack(TEAM, AGENT)
        .await
        .unwrap()
        .expect("mapping stored");
    assert_eq!(
        (m.inbox_user_id.as_str(), m.email.as_str()),
        ("2620022", "ann@example.com")
    );
    let ours = sent_by_us(&e);
    assert_eq!(ours.len(), 1);
    let sent_id = ours[0]["id"].as_str().unwrap().to_string();
    // HubSpot's webhook for the message we sent must not come back into Slack.
    let r = e
        .post_webhook(&json!([event(
            "conversation.newMessage",
            T,
            json!({"messageId": sent_id, "messageType": "MESSAGE", "changeFlag": "NEW_MESSAGE"})
        )]))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert_eq!(posts.len(), 1, "only the notification: {posts:?}");
    assert!(posts.iter().all(|p| p["thread_ts"].is_null()));
    assert!(e.slack_calls("chat.postEphemeral").await.is_empty());
    assert_eq!(posts_to_inbox(&e).await.len(), 1);
}

#[tokio::test]
async fn messages_that_are_not_agent_replies_are_ignored() {
    let e = env().await;
    notified(&e, None).await;
    set_bot_user(&e).await;
    let base = |ts: &str| reply(AGENT, "should not be sent", ts);
    let mut cases: Vec<(&str, Value)> = vec![];
    let mut v = base("1700000100.000001");
    v.as_object_mut().unwrap().remove("thread_ts");
    v.as_object_mut().unwrap().remove("parent_user_id");
    cases.push(("outside a thread", v));
    let mut v = base("1700000100.000002");
    v["channel"] = json!("C0OTHER001");
    v["parent_user_id"] = json!("U0OTHER01");
    // (Under one of our own messages it waits for a link: see the unlinked-thread test.)
    cases.push(("another channel", v));
    let mut v = base("1700000100.000003");
    v["thread_ts"] = json!("1700000099.000009");
    v["parent_user_id"] = json!("U0OTHER01");
    cases.push(("a thread under someone else's message", v));
    let mut v = base("1700000100.000004");
    v["bot_id"] = json!("B0OTHERBOT");
    cases.push(("a bot", v));
    let mut v = base("1700000100.000005");
    v["user"] = json!(BOT_USER);
    cases.push(("our own bot user", v));
    cases.push((
        "message_changed",
        json!({
            "type": "message", "subtype": "message_changed", "hidden": true, "channel": CHANNEL,
            "ts": "1700000100.000006", "event_ts": "1700000100.000006", "thread_ts": PARENT,
            "user": AGENT,
            "message": {"type": "message", "user": AGENT, "text": "edited", "ts": "1700000100.000100", "thread_ts": PARENT},
            "previous_message": {"type": "message", "user": AGENT, "text": "first", "ts": "1700000100.000100", "thread_ts": PARENT}
        }),
    ));
    cases.push((
        "message_deleted",
        json!({
            "type": "message", "subtype": "message_deleted", "hidden": true, "channel": CHANNEL,
            "ts": "1700000100.000007", "deleted_ts": "1700000100.000100", "event_ts": "1700000100.000007",
            "thread_ts": PARENT, "user": AGENT,
            "previous_message": {"type": "message", "user": AGENT, "text": "first", "ts": "1700000100.000100", "thread_ts": PARENT}
        }),
    ));
    cases.push((
        "channel_join",
        json!({
            "type": "message", "subtype": "channel_join", "channel": CHANNEL, "user": AGENT,
            "text": "<@U0AGENT001> has joined the channel", "ts": "1700000100.000008",
            "thread_ts": PARENT, "event_ts": "1700000100.000008"
        }),
    ));
    for (i, (what, ev)) in cases.into_iter().enumerate() {
        let r = e.post_event(&envelope(&format!("Ev0IGN{i:04}"), ev)).await;
        assert_eq!(r.status().as_u16(), 200, "{what}");
    }
    e.drain().await;
    assert!(posts_to_inbox(&e).await.is_empty());
    // No job ran: nobody was looked up, nobody was told anything.
    assert!(e.slack_calls("users.info").await.is_empty());
    assert!(e.slack_calls("chat.postEphemeral").await.is_empty());
    // The same reply as a real thread reply from the agent does go through.
    let r = e
        .post_event(&envelope(
            "Ev0IGN9999",
            reply(AGENT, "a real reply", "1700000100.000009"),
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    assert_eq!(
        posts_to_inbox(&e).await,
        vec![expected_post("a real reply")]
    );
}

/// A reply under one of our messages that never becomes a conversation's notification
/// (here: a thread whose conversation was deleted) waits for the link, then is kept and the
/// agent told, privately; nothing reaches the inbox.
#[tokio::test]
async fn a_reply_in_an_unlinked_thread_of_ours_is_kept_and_the_agent_told() {
    let e = env().await;
    notified(&e, None).await;
    set_bot_user(&e).await;
    let mut ev = reply(AGENT, "are you there?", "1700000100.000400");
    ev["thread_ts"] = json!("1700000050.000001");
    let r = e.post_event(&envelope("Ev0UNLINK1", ev)).await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    assert!(posts_to_inbox(&e).await.is_empty());
    let eph = e.slack_calls("chat.postEphemeral").await;
    assert_eq!(eph.len(), 1, "{eph:?}");
    assert_eq!(eph[0]["user"], AGENT);
    assert_eq!(eph[0]["thread_ts"], "1700000050.000001");
    let text = eph[0]["text"].as_str().unwrap();
    assert!(
        text.contains("not sent") && text.contains("not linked"),
        "{text}"
    );
    let dead = e.dead_letters().await;
    assert_eq!(dead.len(), 1, "kept");
    assert!(dead[0].job.contains("are you there?"), "{}", dead[0].job);
    // The install is fine: no error shown to its admins.
    let install = e
        .runner
        .app
        .records
        .get_install(PORTAL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(install.last_error, None);
}

/// Posts `body` as Slack does: once, then twice more as retries; all answered 200.
async fn post_with_retries(e: &Env, body: &str) {
    for retry in [None, Some("1"), Some("2")] {
        let extra: Vec<(&str, &str)> = match retry {
            Some(n) => vec![
                ("x-slack-retry-num", n),
                ("x-slack-retry-reason", "http_timeout"),
            ],
            None => vec![],
        };
        let r = post_slack_with(e, "/slack/events", "application/json", body, &extra).await;
        assert_eq!(r.status().as_u16(), 200, "retry {retry:?}");
        assert_eq!(r.text().await.unwrap(), "");
    }
}

#[tokio::test]
async fn slack_retries_of_one_event_send_one_reply() {
    let e = env().await;
    notified(&e, None).await;
    let body = envelope("Ev0RETRY01", reply(AGENT, "only once", "1700000100.000200")).to_string();
    post_with_retries(&e, &body).await;
    e.drain().await;
    assert_eq!(posts_to_inbox(&e).await, vec![expected_post("only once")]);
    assert_eq!(sent_by_us(&e).len(), 1);
    // A job that leaves no record (an unmapped agent is only told privately) shows that the
    // retries were dropped at the edge: told once, not three times.
    slack_user(&e.slack, "U0NOBODY01", "Nobody", Some("nobody@example.com")).await;
    let body = envelope(
        "Ev0RETRY02",
        reply("U0NOBODY01", "not linked", "1700000100.000201"),
    )
    .to_string();
    post_with_retries(&e, &body).await;
    e.drain().await;
    assert_eq!(e.slack_calls("chat.postEphemeral").await.len(), 1);
    assert_eq!(posts_to_inbox(&e).await.len(), 1);
}

#[tokio::test]
async fn an_unmapped_agent_is_told_privately_and_nothing_is_sent() {
    let e = env().await;
    slack_user(&e.slack, "U0NOBODY01", "Nobody", Some("nobody@example.com")).await;
    notified(&e, None).await;
    let r = e
        .post_event(&envelope(
            "Ev0UNMAP01",
            reply("U0NOBODY01", "hello from nobody", "1700000100.000300"),
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    assert!(posts_to_inbox(&e).await.is_empty());
    assert!(sent_by_us(&e).is_empty());
    // The email was looked up in the inbox's owners.
    let owners: Vec<_> = e
        .hubspot
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/crm/owners/2026-03")
        .map(|r| r.url.query().unwrap_or("").to_string())
        .collect();
    assert_eq!(owners, vec!["email=nobody%40example.com".to_string()]);
    let eph = e.slack_calls("chat.postEphemeral").await;
    assert_eq!(eph.len(), 1, "{eph:?}");
    assert_eq!(eph[0]["channel"], CHANNEL);
    assert_eq!(eph[0]["user"], "U0NOBODY01");
    assert_eq!(eph[0]["thread_ts"], PARENT);
    let text = eph[0]["text"].as_str().unwrap();
    assert!(text.contains("not sent"), "{text}");
    assert!(text.contains("Claim"), "{text}");
    assert!(text.contains(INBOX_LINK), "{text}");
    assert!(e
        .runner
        .app
        .records
        .user_for_slack(TEAM, "U0NOBODY01")
        .await
        .unwrap()
        .is_none());
    assert!(e.dead_letters().await.is_empty());
}

#[tokio::test]
async fn claim_by_the_assignee_links_them_and_refreshes_the_card() {
    let e = env().await;
    notified(&e, Some("A-2620022")).await;
    let parent = &e.slack_calls("chat.postMessage").await[0];
    let blocks = parent["blocks"].to_string();
    assert!(blocks.contains("Claim ann@example.com"), "{blocks}");
    assert!(blocks.contains(CLAIM_VALUE), "{blocks}");
    let url = response_url(&e.slack, "claim");
    let started = std::time::Instant::now();
    let r = e
        .post_slack(
            "/slack/interactions",
            FORM,
            &click(AGENT, claim_action(), &url),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    e.drain().await;
    let m = e
        .runner
        .app
        .records
        .user_for_slack(TEAM, AGENT)
        .await
        .unwrap()
        .expect("claim stored the mapping");
    assert_eq!(m.portal_id, PORTAL);
    assert_eq!(m.inbox_user_id, "2620022");
    assert_eq!(m.email, "ann@example.com");
    assert_eq!(
        e.runner
            .app
            .records
            .user_for_inbox(PORTAL, "2620022")
            .await
            .unwrap()
            .map(|m| m.slack_user_id),
        Some(AGENT.to_string())
    );
    let answers = calls(&e.slack, "/respond/claim").await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0]["response_type"], "ephemeral");
    assert_eq!(answers[0]["replace_original"], false);
    assert!(answers[0]["text"]
        .as_str()
        .unwrap()
        .contains("linked to the HubSpot user ann@example.com"));
    let updates = e.slack_calls("chat.update").await;
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0]["channel"], CHANNEL);
    assert_eq!(updates[0]["ts"], PARENT);
    let blocks = updates[0]["blocks"].to_string();
    assert!(!blocks.contains("Claim"), "{blocks}");
    assert!(blocks.contains("<@U0AGENT001>"), "{blocks}");
    assert!(e.slack_calls("chat.postEphemeral").await.is_empty());
    // The mapping stands even when the Slack profile email changes later.
    Mock::given(method("POST"))
        .and(path("/users.info"))
        .and(body_string_contains(format!("user={AGENT}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "user": {"id": AGENT, "name": "Ann", "real_name": "Ann", "is_bot": false, "deleted": false,
                     "profile": {"display_name": "Ann", "real_name": "Ann", "email": "ann.personal@example.org"}}
        })))
        .with_priority(1)
        .mount(&e.slack)
        .await;
    let r = e
        .post_event(&envelope(
            "Ev0CLAIM01",
            reply(AGENT, "claimed and replying", "1700000100.000400"),
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    assert_eq!(
        posts_to_inbox(&e).await,
        vec![expected_post("claimed and replying")]
    );
}

#[tokio::test]
async fn claim_by_someone_else_is_refused() {
    let e = env().await;
    slack_user(&e.slack, "U0EVE00001", "Eve", Some("eve@example.com")).await;
    notified(&e, Some("A-2620022")).await;
    let url = response_url(&e.slack, "eve");
    let r = e
        .post_slack(
            "/slack/interactions",
            FORM,
            &click("U0EVE00001", claim_action(), &url),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    assert!(e
        .runner
        .app
        .records
        .user_for_slack(TEAM, "U0EVE00001")
        .await
        .unwrap()
        .is_none());
    assert!(e
        .runner
        .app
        .records
        .user_for_inbox(PORTAL, "2620022")
        .await
        .unwrap()
        .is_none());
    let answers = calls(&e.slack, "/respond/eve").await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0]["response_type"], "ephemeral");
    let text = answers[0]["text"].as_str().unwrap();
    assert!(text.contains("can't claim ann@example.com"), "{text}");
    assert!(e.slack_calls("chat.update").await.is_empty());
}

#[tokio::test]
async fn reply_in_inbox_click_is_only_acknowledged() {
    let e = env().await;
    notified(&e, Some("A-2620022")).await;
    let slack_before = e.slack.received_requests().await.unwrap().len();
    let hubspot_before = e.hubspot.received_requests().await.unwrap().len();
    let action = json!({
        "type": "button", "action_id": "reply_in_inbox", "block_id": "conversation_actions",
        "url": INBOX_LINK, "text": {"type": "plain_text", "text": "Reply in Inbox"},
        "action_ts": "1700000300.000002"
    });
    let url = response_url(&e.slack, "inbox");
    let r = e
        .post_slack("/slack/interactions", FORM, &click(AGENT, action, &url))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    e.drain().await;
    assert_eq!(
        e.slack.received_requests().await.unwrap().len(),
        slack_before
    );
    assert_eq!(
        e.hubspot.received_requests().await.unwrap().len(),
        hubspot_before
    );
}

#[tokio::test]
async fn inbox_errors_are_retried_until_the_reply_is_sent() {
    let e = env().await;
    notified(&e, None).await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(ResponseTemplate::new(503).set_body_string("unavailable"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    e.post_event(&envelope(
        "Ev0FLAKY01",
        reply(AGENT, "third time lucky", "1700000100.000500"),
    ))
    .await;
    e.drain().await;
    let posts = posts_to_inbox(&e).await;
    assert_eq!(posts.len(), 3, "503, 503, 201");
    assert!(posts
        .iter()
        .all(|p| *p == expected_post("third time lucky")));
    assert_eq!(sent_by_us(&e).len(), 1);
    assert!(e.slack_calls("chat.postEphemeral").await.is_empty());
    assert!(e.dead_letters().await.is_empty());
}

async fn failing_for_good(status: u16, attempts: usize) {
    let e = env_with(Opts {
        max_attempts: 3,
        ..Default::default()
    })
    .await;
    notified(&e, None).await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(ResponseTemplate::new(status).set_body_json(json!({
            "status": "error", "message": "nope",
            "errors": [{"subCategory": "ConversationsApiError.UNSUPPORTED_ACTOR_TYPE", "message": "nope"}]
        })))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    e.post_event(&envelope(
        "Ev0DOWN0001",
        reply(AGENT, "never arrives", "1700000100.000600"),
    ))
    .await;
    e.drain().await;
    assert_eq!(posts_to_inbox(&e).await.len(), attempts, "HTTP {status}");
    assert!(sent_by_us(&e).is_empty());
    let dead = e.dead_letters().await;
    assert_eq!(dead.len(), 1, "HTTP {status}");
    assert_eq!(dead[0].conversation_id.as_deref(), Some(T));
    assert!(dead[0].job.contains("slack_reply"), "{}", dead[0].job);
    let eph = e.slack_calls("chat.postEphemeral").await;
    assert_eq!(eph.len(), 1, "HTTP {status}: {eph:?}");
    assert_eq!(eph[0]["channel"], CHANNEL);
    assert_eq!(eph[0]["user"], AGENT);
    assert_eq!(eph[0]["thread_ts"], PARENT);
    let text = eph[0]["text"].as_str().unwrap();
    assert!(text.contains(&format!("<{INBOX_LINK}|")), "{text}");
    assert!(text.contains("not sent"), "{text}");
}

#[tokio::test]
async fn inbox_failing_for_good_keeps_a_dead_letter_and_tells_the_agent() {
    failing_for_good(503, 3).await;
}

#[tokio::test]
async fn inbox_refusing_a_reply_is_not_retried() {
    failing_for_good(400, 1).await;
}

#[tokio::test]
async fn uninstall_deactivates_and_replies_reach_nobody() {
    let e = env().await;
    notified(&e, None).await;
    let r = e
        .post_event(&envelope("Ev0UNINST01", json!({"type": "app_uninstalled"})))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    let install = e
        .runner
        .app
        .records
        .get_install(PORTAL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(install.status, InstallStatus::Inactive);
    assert!(install.bot_token.is_none());
    assert!(install.hubspot.is_none());
    let slack_before = e.slack.received_requests().await.unwrap().len();
    let hubspot_before = e.hubspot.received_requests().await.unwrap().len();
    let r = e
        .post_event(&envelope(
            "Ev0UNINST02",
            reply(AGENT, "after uninstall", "1700000100.000700"),
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    assert!(posts_to_inbox(&e).await.is_empty());
    assert_eq!(
        e.slack.received_requests().await.unwrap().len(),
        slack_before
    );
    assert_eq!(
        e.hubspot.received_requests().await.unwrap().len(),
        hubspot_before
    );
}

#[tokio::test]
async fn revoked_bot_token_deactivates_but_revoked_user_tokens_do_not() {
    let e = env().await;
    set_bot_user(&e).await;
    // Only a user's token: the install stays.
    let r = e
        .post_event(&envelope(
            "Ev0REVOKE01",
            json!({"type": "tokens_revoked", "tokens": {"oauth": [AGENT], "bot": []}}),
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    let install = e
        .runner
        .app
        .records
        .get_install(PORTAL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(install.status, InstallStatus::Active);
    assert!(install.bot_token.is_some());
    // Our bot's token.
    let r = e
        .post_event(&envelope(
            "Ev0REVOKE02",
            json!({"type": "tokens_revoked", "tokens": {"bot": [BOT_USER]}}),
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    let install = e
        .runner
        .app
        .records
        .get_install(PORTAL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(install.status, InstallStatus::Inactive);
    assert!(install.bot_token.is_none());
    assert!(install.hubspot.is_none());
    assert!(e.slack.received_requests().await.unwrap().is_empty());
    assert!(e.hubspot.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_privacy_deletion_removes_what_the_bot_posted_and_asks_agents_to_remove_theirs() {
    let e = env().await;
    notified(&e, None).await;
    // Slack answers as it does: the bot may not delete an agent's message.
    Mock::given(method("POST"))
        .and(path("/chat.delete"))
        .and(body_string_contains("1700000100.000100"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "cant_delete_message"})),
        )
        .with_priority(1)
        .mount(&e.slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.getPermalink"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "channel": CHANNEL,
            "permalink": "https://acme.slack.com/archives/C0CHAN0001/p1700000100000100?thread_ts=1700000001.000001"
        })))
        .mount(&e.slack)
        .await;
    // The agent answers from the thread; a visitor message follows (mirrored by the bot).
    let r = e
        .post_event(&envelope(
            "Ev0PRIV01",
            reply(AGENT, "Sure, one moment", "1700000100.000100"),
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    assert_eq!(posts_to_inbox(&e).await.len(), 1);
    let mut msgs = e.inbox.messages(T);
    msgs.push(message_json(
        "m9",
        9,
        "INCOMING",
        "my email is eve@example.com",
    ));
    e.inbox.set(&thread_json(T, "1000", "OPEN", None), &msgs);
    e.post_webhook(&json!([event(
        "conversation.newMessage",
        T,
        json!({"messageId": "m9"})
    )]))
    .await;
    e.drain().await;

    e.post_webhook(&json!([event(
        "conversation.privacyDeletion",
        T,
        json!({})
    )]))
    .await;
    e.drain().await;

    // The bot's own messages are deleted; the agent's reply is never attempted.
    let deleted: Vec<String> = e
        .slack_calls("chat.delete")
        .await
        .iter()
        .map(|d| d["ts"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(deleted.contains(&PARENT.to_string()), "{deleted:?}");
    assert!(
        deleted.contains(&"1700000001.000002".to_string()),
        "{deleted:?}"
    );
    assert!(
        !deleted.contains(&"1700000100.000100".to_string()),
        "{deleted:?}"
    );
    // The agent is told privately to remove their reply, with a link to it.
    let dms: Vec<Value> = e
        .slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p["channel"] == AGENT)
        .collect();
    assert_eq!(dms.len(), 1, "{dms:?}");
    let text = dms[0]["text"].as_str().unwrap();
    assert!(text.contains("please delete your replies"), "{text}");
    assert!(text.contains("p1700000100000100"), "{text}");
    // The mappings are gone and nothing failed.
    let app = &e.runner.app;
    assert!(app.records.get_thread(PORTAL, T).await.unwrap().is_none());
    assert!(app
        .records
        .list_messages(PORTAL, T)
        .await
        .unwrap()
        .is_empty());
    assert!(e.dead_letters().await.is_empty());
}

#[tokio::test]
async fn the_app_removed_from_its_channel_stops_posting_there_and_tells_the_admin() {
    let e = env().await;
    notified(&e, None).await;
    let app = &e.runner.app;
    let mut install = app.records.get_install(PORTAL).await.unwrap().unwrap();
    install.bot_user_id = Some(BOT_USER.to_string());
    install.installer_user_id = Some("U0ADMIN001".to_string());
    app.records.put_install(&install).await.unwrap();
    let left = |id: &str, ev: Value| envelope(id, ev);

    // Someone else leaving the channel changes nothing.
    e.post_event(&left(
        "Ev0LEFT01",
        json!({"type": "member_left_channel", "user": "U0OTHER01", "channel": CHANNEL,
               "channel_type": "C", "team": TEAM}),
    ))
    .await;
    e.drain().await;
    let i = app.records.get_install(PORTAL).await.unwrap().unwrap();
    assert_eq!(i.status, InstallStatus::Active);

    // The app is removed from the channel (Slack tells the bot with channel_left).
    let r = e
        .post_event(&left(
            "Ev0LEFT02",
            json!({"type": "channel_left", "channel": CHANNEL, "actor_id": "U0OTHER01",
                   "event_ts": "1700000500.000100"}),
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    let i = app.records.get_install(PORTAL).await.unwrap().unwrap();
    assert!(
        matches!(&i.status, InstallStatus::NeedsAttention { reason } if reason.contains("removed from the notification channel")),
        "{:?}",
        i.status
    );
    let dms: Vec<Value> = e
        .slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p["channel"] == "U0ADMIN001")
        .collect();
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert!(dms[0]["text"].as_str().unwrap().contains("/invite"));

    // Nothing more is posted there until the app is back.
    let before = e.slack_calls("chat.postMessage").await.len();
    let mut msgs = e.inbox.messages(T);
    msgs.push(message_json("m5", 5, "INCOMING", "hello?"));
    e.inbox.set(&thread_json(T, "1000", "OPEN", None), &msgs);
    e.post_webhook(&json!([event(
        "conversation.newMessage",
        T,
        json!({"messageId": "m5"})
    )]))
    .await;
    e.drain().await;
    assert_eq!(e.slack_calls("chat.postMessage").await.len(), before);

    // Invited back: notifications resume.
    e.post_event(&left(
        "Ev0JOIN01",
        json!({"type": "member_joined_channel", "user": BOT_USER, "channel": CHANNEL,
               "channel_type": "C", "team": TEAM}),
    ))
    .await;
    e.drain().await;
    let i = app.records.get_install(PORTAL).await.unwrap().unwrap();
    assert_eq!(i.status, InstallStatus::Active);
}
