//! Acting from Slack, end to end over real HTTP: Assign to me, Reassign (the card's user
//! select), Unassign, the reaction shortcuts, the direct message an agent gets when a
//! conversation becomes theirs, the permission checks and a reassign race. wiremock stands
//! in for Slack and HubSpot (the inbox keeps the thread's assignee as HubSpot does).

use integration_tests::harness::*;
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const T: &str = "3624100517";
const PARENT: &str = "1700000001.000001";
const ANN: &str = "U0AGENT001";
const BOB: &str = "U0BOB00001";
const EVE: &str = "U0EVE00001";
const ANN_ID: &str = "2620022";
const BOB_ID: &str = "3330033";
const FORM: &str = "application/x-www-form-urlencoded";

async fn env() -> Env {
    let e = start(Opts::default()).await;
    slack_ok(&e.slack).await;
    respond_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    slack_user(&e.slack, ANN, "Ann", Some("ann@example.com")).await;
    slack_user(&e.slack, BOB, "Bob", Some("bob@example.com")).await;
    // Eve is in the workspace but no HubSpot user.
    slack_user(&e.slack, EVE, "Eve", Some("eve@example.com")).await;
    // Bob is a HubSpot user too.
    Mock::given(method("GET"))
        .and(path("/crm/owners/2026-03"))
        .and(query_param("email", "bob@example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"id": "51629779", "userId": 3330033, "email": "bob@example.com", "firstName": "Bob", "lastName": "Agent", "archived": false}
        ]})))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/crm/owners/2026-03/{BOB_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "51629779", "userId": 3330033, "email": "bob@example.com", "firstName": "Bob", "lastName": "Agent", "archived": false
        })))
        .mount(&e.hubspot)
        .await;
    for (m, answer) in [
        (
            "/chat.getPermalink",
            json!({"ok": true, "channel": CHANNEL, "permalink": "https://acme.slack.com/archives/C0CHAN0001/p1700000001000001"}),
        ),
        (
            "/users.lookupByEmail",
            json!({"ok": false, "error": "users_not_found"}),
        ),
    ] {
        Mock::given(method("POST"))
            .and(path(m))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .mount(&e.slack)
            .await;
    }
    e
}

/// The card for conversation T, posted (parent ts `PARENT`).
async fn notified(e: &Env, assigned: Option<&str>) {
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", assigned),
        &[message_json("m1", 1, "INCOMING", "Hello, I need help")],
    );
    e.post_webhook(&json!([event("conversation.creation", T, json!({}))]))
        .await;
    e.drain().await;
    assert_eq!(e.slack_calls("chat.postMessage").await.len(), 1);
}

fn click_body(user: &str, action: Value, respond: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": user, "team_id": TEAM},
        "api_app_id": "A0APP00001", "token": "t",
        "container": {"type": "message", "message_ts": PARENT, "channel_id": CHANNEL, "is_ephemeral": false},
        "trigger_id": "1700000300.123.abc",
        "team": {"id": TEAM, "domain": "acme"},
        "channel": {"id": CHANNEL, "name": "support"},
        "message": {"type": "message", "ts": PARENT, "text": "New live chat", "user": BOT_USER},
        "response_url": respond,
        "actions": [action]
    });
    format!("payload={}", percent(&payload.to_string()))
}

/// The card's assignment elements, as the last card drawn has them.
async fn card_elements(e: &Env) -> Vec<Value> {
    let mut cards: Vec<Value> = e.slack_calls("chat.postMessage").await[..1].to_vec();
    cards.extend(e.slack_calls("chat.update").await);
    let last = cards.pop().unwrap();
    last["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| {
            b["elements"].as_array().unwrap().iter().map(move |el| {
                let mut el = el.clone();
                el["block_id"] = b["block_id"].clone();
                el
            })
        })
        .collect()
}

async fn element(e: &Env, action_id: &str) -> Option<Value> {
    card_elements(e)
        .await
        .into_iter()
        .find(|el| el["action_id"] == action_id)
}

/// Clicks the card's element `action_id` as `user` (a pick in the select names `picked`).
async fn click(e: &Env, user: &str, action_id: &str, picked: Option<&str>, n: u32) -> String {
    let el = element(e, action_id)
        .await
        .unwrap_or_else(|| panic!("no {action_id} on the card"));
    let mut action = json!({
        "type": el["type"], "action_id": action_id, "block_id": el["block_id"],
        "action_ts": format!("1700000400.{n:06}")
    });
    if let Some(v) = el.get("value") {
        action["value"] = v.clone();
    }
    if let Some(p) = picked {
        action["selected_user"] = json!(p);
    }
    let respond = response_url(&e.slack, &format!("click{n}"));
    let r = e
        .post_slack(
            "/slack/interactions",
            FORM,
            &click_body(user, action, &respond),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    respond
}

async fn told(e: &Env, respond: &str) -> Vec<String> {
    let p = respond.trim_start_matches(&e.slack.uri()).to_string();
    calls(&e.slack, &p)
        .await
        .iter()
        .map(|b| {
            assert_eq!(b["response_type"], "ephemeral");
            b["text"].as_str().unwrap_or("").to_string()
        })
        .collect()
}

async fn assignments(e: &Env) -> Vec<String> {
    e.hubspot
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == format!("{THREADS}/{T}/assignee"))
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            format!("{} {}", r.method, body["actorId"].as_str().unwrap_or(""))
                .trim()
                .to_string()
        })
        .collect()
}

async fn dms_to(e: &Env, user: &str) -> Vec<Value> {
    e.slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p["channel"] == user)
        .collect()
}

fn assignee(e: &Env) -> Option<String> {
    e.inbox
        .thread(T)
        .and_then(|t| t["assignedTo"].as_str().map(str::to_string))
}

#[tokio::test]
async fn assign_to_me_reassign_and_unassign_from_the_card() {
    let e = env().await;
    notified(&e, None).await;
    // The card offers the three, to anyone (who may act is checked on click).
    let ids: Vec<String> = card_elements(&e)
        .await
        .iter()
        .map(|el| el["action_id"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        ids.contains(&"assign_me".to_string()) && ids.contains(&"reassign".to_string()),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&"unassign".to_string()),
        "nothing to unassign yet: {ids:?}"
    );

    // Ann (her Slack email is a HubSpot user's) takes it.
    click(&e, ANN, "assign_me", None, 1).await;
    e.drain().await;
    assert_eq!(assignments(&e).await, ["PUT A-2620022"]);
    assert_eq!(assignee(&e).as_deref(), Some("A-2620022"));
    let card = e.slack_calls("chat.update").await.pop().unwrap()["blocks"].to_string();
    assert!(card.contains(&format!("<@{ANN}>")), "{card}");
    assert!(element(&e, "unassign").await.is_some());
    // Her own Assign to me sends her no message.
    assert!(dms_to(&e, ANN).await.is_empty());

    // Ann reassigns it to Bob: Bob gets a direct message with the chat and the links.
    click(&e, ANN, "reassign", Some(BOB), 2).await;
    e.drain().await;
    assert_eq!(assignments(&e).await, ["PUT A-2620022", "PUT A-3330033"]);
    let dms = dms_to(&e, BOB).await;
    assert_eq!(dms.len(), 1, "{dms:?}");
    let dm = dms[0]["blocks"].to_string();
    assert!(dm.contains("Hello, I need help"), "{dm}");
    assert!(
        dm.contains("https://acme.slack.com/archives/C0CHAN0001/p1700000001000001"),
        "{dm}"
    );
    assert!(
        dm.contains("Reply in Inbox") && dm.contains("/live-messages/22761544/inbox/3624100517"),
        "{dm}"
    );
    // Another sync of the same assignment tells nobody again.
    e.post_webhook(&json!([event(
        "conversation.propertyChange",
        T,
        json!({"propertyName": "status", "propertyValue": "OPEN"})
    )]))
    .await;
    e.drain().await;
    assert_eq!(dms_to(&e, BOB).await.len(), 1);

    // Unassign.
    click(&e, BOB, "unassign", None, 3).await;
    e.drain().await;
    assert_eq!(
        assignments(&e).await.last().map(String::as_str),
        Some("DELETE")
    );
    assert_eq!(assignee(&e), None);
    let card = e.slack_calls("chat.update").await.pop().unwrap()["blocks"].to_string();
    assert!(card.contains("Unassigned"), "{card}");
}

#[tokio::test]
async fn only_linked_agents_assign_and_only_to_hubspot_users() {
    let e = env().await;
    notified(&e, None).await;
    // Eve is no HubSpot user: told privately, nothing changes.
    let r = click(&e, EVE, "assign_me", None, 1).await;
    e.drain().await;
    assert!(assignments(&e).await.is_empty());
    let t = told(&e, &r).await;
    assert!(
        t.iter().any(|m| m.contains("not linked to a HubSpot user")),
        "{t:?}"
    );
    // Ann may not give it to Eve either.
    let r = click(&e, ANN, "reassign", Some(EVE), 2).await;
    e.drain().await;
    assert!(assignments(&e).await.is_empty());
    let t = told(&e, &r).await;
    assert!(
        t.iter()
            .any(|m| m.contains(&format!("<@{EVE}> is not a HubSpot user"))),
        "{t:?}"
    );
    // A forged value changes nothing.
    let mut action = json!({"type": "button", "action_id": "assign_me", "block_id": "x",
        "value": "22761544|3624100517|-|<!channel>", "action_ts": "1700000400.000009"});
    let respond = response_url(&e.slack, "forged");
    e.post_slack(
        "/slack/interactions",
        FORM,
        &click_body(ANN, action.take(), &respond),
    )
    .await;
    e.drain().await;
    assert!(assignments(&e).await.is_empty());
    assert!(told(&e, &respond)
        .await
        .iter()
        .any(|m| m.contains("not valid")));
}

#[tokio::test]
async fn of_two_agents_who_assign_at_once_one_gets_it_and_the_other_is_told() {
    let e = env().await;
    notified(&e, None).await;
    // Both click on the same (unassigned) card before it is redrawn.
    let el = element(&e, "assign_me").await.unwrap();
    let mut answers = vec![];
    for (n, user) in [(1u32, ANN), (2, BOB)] {
        let action = json!({"type": "button", "action_id": "assign_me", "block_id": el["block_id"],
            "value": el["value"], "action_ts": format!("1700000500.{n:06}")});
        let respond = response_url(&e.slack, &format!("race{n}"));
        let r = e
            .post_slack(
                "/slack/interactions",
                FORM,
                &click_body(user, action, &respond),
            )
            .await;
        assert_eq!(r.status().as_u16(), 200);
        answers.push(respond);
    }
    e.drain().await;
    let puts = assignments(&e).await;
    assert_eq!(puts.len(), 1, "one assignment: {puts:?}");
    let winner = if puts[0] == "PUT A-2620022" {
        (ANN, BOB, 1)
    } else {
        (BOB, ANN, 0)
    };
    let loser_told = told(&e, &answers[winner.2]).await;
    assert!(
        loser_told
            .iter()
            .any(|m| m.contains(&format!("assigned to <@{}> meanwhile", winner.0))),
        "{loser_told:?}"
    );
    let _ = winner.1;
}

#[tokio::test]
async fn an_assignment_made_in_the_inbox_is_told_to_the_assignee_once() {
    let e = env().await;
    notified(&e, None).await;
    // Ann is linked (she claimed earlier); HubSpot assigns the chat to her.
    e.runner
        .app
        .records
        .put_user_map(&shared::domain::UserMap {
            team_id: TEAM.into(),
            slack_user_id: ANN.into(),
            portal_id: PORTAL.into(),
            inbox_user_id: ANN_ID.into(),
            email: "ann@example.com".into(),
            mapped_at: 1,
        })
        .await
        .unwrap();
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", Some("A-2620022")),
        &[message_json("m1", 1, "INCOMING", "Hello, I need help")],
    );
    for _ in 0..2 {
        e.post_webhook(&json!([event(
            "conversation.propertyChange",
            T,
            json!({"propertyName": "assignedTo", "propertyValue": "A-2620022"})
        )]))
        .await;
        e.drain().await;
    }
    let dms = dms_to(&e, ANN).await;
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert!(dms[0]["text"]
        .as_str()
        .unwrap()
        .contains("was assigned to you"));
}

fn reaction(user: &str, name: &str, added: bool, id: &str) -> Value {
    json!({
        "token": "verification-token", "team_id": TEAM, "api_app_id": "A0APP00001",
        "type": "event_callback", "event_id": id, "event_time": 1700000200,
        "event": {"type": if added { "reaction_added" } else { "reaction_removed" }, "user": user,
            "reaction": name, "item_user": BOT_USER,
            "item": {"type": "message", "channel": CHANNEL, "ts": PARENT}, "event_ts": "1700000600.000001"},
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}]
    })
}

async fn statuses(e: &Env) -> Vec<String> {
    e.hubspot_calls("PATCH", &format!("{THREADS}/{T}"))
        .await
        .iter()
        .map(|b| b["status"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn reactions_close_reopen_and_assign_and_can_be_turned_off() {
    let e = env().await;
    notified(&e, None).await;
    // 👀 assigns to Ann; ✅ closes; removing ✅ reopens.
    e.post_event(&reaction(ANN, "eyes", true, "EvR1")).await;
    e.drain().await;
    assert_eq!(assignments(&e).await, ["PUT A-2620022"]);
    e.post_event(&reaction(ANN, "white_check_mark", true, "EvR2"))
        .await;
    e.drain().await;
    assert_eq!(statuses(&e).await, ["CLOSED"]);
    e.post_event(&reaction(ANN, "white_check_mark", false, "EvR3"))
        .await;
    e.drain().await;
    assert_eq!(statuses(&e).await, ["CLOSED", "OPEN"]);
    // 👀 never takes it from someone: Bob is told privately.
    e.post_event(&reaction(BOB, "eyes", true, "EvR4")).await;
    e.drain().await;
    assert_eq!(assignments(&e).await, ["PUT A-2620022"]);
    let eph: Vec<Value> = e.slack_calls("chat.postEphemeral").await;
    assert!(
        eph.iter()
            .any(|p| p["user"] == BOB && p["text"].as_str().unwrap_or("").contains("Use Reassign")),
        "{eph:?}"
    );
    // Eve, no HubSpot user: told, nothing changes. Other reactions are ignored.
    e.post_event(&reaction(EVE, "white_check_mark", true, "EvR5"))
        .await;
    e.post_event(&reaction(ANN, "tada", true, "EvR6")).await;
    e.drain().await;
    assert_eq!(statuses(&e).await, ["CLOSED", "OPEN"]);
    let eph: Vec<Value> = e.slack_calls("chat.postEphemeral").await;
    assert!(eph.iter().any(|p| p["user"] == EVE), "{eph:?}");

    // An admin turns the shortcuts off in the Home tab: reactions change nothing.
    Mock::given(method("POST"))
        .and(path("/users.info"))
        .and(body_string_contains("user=U0ADMIN001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "user": {"id": "U0ADMIN001",
            "name": "admin", "is_admin": true, "is_owner": false, "is_bot": false, "deleted": false, "profile": {}}})))
        .mount(&e.slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/views.publish"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&e.slack)
        .await;
    let payload = json!({
        "type": "block_actions", "user": {"id": "U0ADMIN001", "team_id": TEAM}, "team": {"id": TEAM},
        "container": {"type": "view", "view_id": "V1"}, "view": {"id": "V1", "type": "home"},
        "actions": [{"type": "button", "action_id": "home_reactions", "block_id": "b", "value": "off", "action_ts": "1700000700.1"}]
    });
    e.post_slack(
        "/slack/interactions",
        FORM,
        &format!("payload={}", percent(&payload.to_string())),
    )
    .await;
    e.drain().await;
    assert!(
        !e.runner
            .app
            .records
            .get_install(PORTAL)
            .await
            .unwrap()
            .unwrap()
            .reactions_on
    );
    e.post_event(&reaction(ANN, "white_check_mark", true, "EvR7"))
        .await;
    e.drain().await;
    assert_eq!(statuses(&e).await, ["CLOSED", "OPEN"]);
}
