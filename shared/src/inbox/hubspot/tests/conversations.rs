//! Threads, messages, inboxes, actors, sending and status.
#![allow(unused_imports)]

use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::*;
use crate::domain::*;
use crate::inbox::hubspot::wire::*;
use crate::inbox::hubspot::*;
use crate::support::secret::Secret;

#[tokio::test]
async fn get_thread_parses_numeric_and_string_ids() {
    let (server, api) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{THREADS}/3624100517")))
        .and(bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 3624100517u64,
            "createdAt": "2022-12-07T00:32:13.743Z",
            "status": "OPEN",
            "originalChannelId": 1000,
            "originalChannelAccountId": "148662",
            "latestMessageTimestamp": "2022-12-07T00:32:22.223Z",
            "spam": false,
            "inboxId": 147959634,
            "associatedContactId": 1401,
            "archived": false,
            "assignedTo": "A-2620022",
            "threadAssociations": {"associatedTicketId": "1234"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let t = api.get_thread(&token(), "3624100517").await.unwrap();
    assert_eq!(
        t,
        Conversation {
            id: "3624100517".into(),
            status: Status::Open,
            archived: false,
            inbox_id: Some("147959634".into()),
            contact_id: Some("1401".into()),
            live_chat: true,
            channel: "1000".into(),
            assignee_user_id: Some("2620022".into()),
            spam: false,
            created_at_ms: 1_670_373_133_743,
            latest_message_ms: 1_670_373_142_223,
        }
    );
}

#[test]
fn a_sparse_thread_parses() {
    let w: ThreadWire = serde_json::from_value(json!({"id": "1", "archived": null})).unwrap();
    assert_eq!(w.status, "");
    let t = Conversation::from(w);
    assert_eq!(t.status, Status::Open);
    assert!(!t.archived && t.assignee_user_id.is_none() && t.inbox_id.is_none());
    assert!(!t.live_chat && t.channel == "unknown");
    let closed: ThreadWire =
        serde_json::from_value(json!({"id": 2, "status": "CLOSED", "assignedTo": "X-9"})).unwrap();
    let closed = Conversation::from(closed);
    assert_eq!(closed.status, Status::Closed);
    assert_eq!(
        closed.assignee_user_id, None,
        "only an agent's A-<id> is an assignee"
    );
}

#[tokio::test]
async fn get_message_parses_a_real_shaped_payload() {
    let (server, api) = setup().await;
    let mut body = real_message(
        "5bc511c6161c41ba811829eb460a83b8",
        "2022-12-07T00:32:22.223Z",
    );
    body["client"] = json!({"clientType": "INTEGRATION", "integrationAppId": 1098266});
    body["truncationStatus"] = json!("NOT_TRUNCATED");
    Mock::given(method("GET"))
        .and(path(format!(
            "{THREADS}/3624100517/messages/5bc511c6161c41ba811829eb460a83b8"
        )))
        .and(bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let m = api
        .get_message(&token(), "3624100517", "5bc511c6161c41ba811829eb460a83b8")
        .await
        .unwrap();
    assert_eq!(m.id, "5bc511c6161c41ba811829eb460a83b8");
    assert_eq!(m.kind, MessageKind::Chat);
    assert_eq!(m.created_at, "2022-12-07T00:32:22.223Z");
    assert_eq!(m.created_at_ms, 1_670_373_142_223);
    assert_eq!(m.text.as_deref(), Some("Hello, I need help"));
    assert_eq!(m.rich_text, None);
    assert_eq!(m.direction, Some(Direction::FromVisitor));
    assert!(m.is_from_visitor());
    assert_eq!(m.reply_route.channel_id.as_deref(), Some("1000"));
    assert_eq!(m.reply_route.channel_account_id.as_deref(), Some("148662"));
    assert_eq!(m.sent_by_app.as_deref(), Some("1098266"));
    assert_eq!(m.senders.len(), 1);
    let s = &m.senders[0];
    assert_eq!(s.id.as_deref(), Some("V-1401"));
    assert_eq!(s.name.as_deref(), Some("Visitor"));
    assert_eq!(
        s.delivery,
        vec![Delivery {
            kind: "CHANNEL_SPECIFIC_OPAQUE_ID".into(),
            value: "0232d1661ef84248bd4923cce9d3b917".into(),
        }]
    );
    assert!(m.attachments.is_empty());
}

#[test]
fn system_messages_with_few_fields_parse() {
    let m = parse_message(
        json!({
            "id": 42, "type": "THREAD_STATUS_CHANGE", "createdAt": "2023-01-01T00:00:00Z",
            "newStatus": "CLOSED", "client": {"clientType": "SYSTEM"}
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(m.id, "42");
    assert_eq!(m.kind, MessageKind::Other("THREAD_STATUS_CHANGE".into()));
    assert_eq!(m.created_at_ms, 1_672_531_200_000);
    assert!(m.senders.is_empty() && m.text.is_none() && m.reply_route.channel_id.is_none());
    assert_eq!(
        m.sent_by_app, None,
        "only an INTEGRATION client names an app"
    );
    let m = parse_message(br#"{"id": "x", "senders": null}"#).unwrap();
    assert_eq!((m.created_at.as_str(), m.created_at_ms), ("", 0));
}

#[tokio::test]
async fn list_messages_follows_paging_and_sorts() {
    let (server, api) = setup().await;
    let url = format!("{THREADS}/77/messages");
    // Page 1 (no `after`): newest first and a tie on createdAt.
    Mock::given(method("GET"))
        .and(path(url.as_str()))
        .and(bearer())
        .and(query_param("limit", "100"))
        .and(|r: &Request| !r.url.query_pairs().any(|(k, _)| k == "after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [
                real_message("m4", "2023-01-01T12:00:04Z"),
                real_message("m2b", "2023-01-01T12:00:02.000Z"),
                real_message("m2a", "2023-01-01T12:00:02Z"),
            ],
            "paging": {"next": {"after": "cursor-2", "link": "?after=cursor-2"}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(url.as_str()))
        .and(bearer())
        .and(query_param("limit", "100"))
        .and(query_param("after", "cursor-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [
                real_message("m3", "2023-01-01T13:00:03+01:00"),
                real_message("m1", "2023-01-01T12:00:01.500Z"),
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let ms = api.list_messages(&token(), "77").await.unwrap();
    let ids: Vec<&str> = ms.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["m1", "m2a", "m2b", "m3", "m4"]);
}

#[tokio::test]
async fn list_messages_stops_at_the_page_cap() {
    let (server, api) = setup().await;
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = counter.clone();
    Mock::given(method("GET"))
        .and(path(format!("{THREADS}/9/messages")))
        .respond_with(move |_: &Request| {
            let n = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_json(json!({
                "results": [real_message(&format!("m{n:03}"), "2023-01-01T00:00:00Z")],
                "paging": {"next": {"after": format!("c{}", n + 1)}}
            }))
        })
        .mount(&server)
        .await;
    let ms = api.list_messages(&token(), "9").await.unwrap();
    assert_eq!(ms.len(), MAX_PAGES);
    assert_eq!(counter.load(std::sync::atomic::Ordering::SeqCst), MAX_PAGES);
}

#[tokio::test]
async fn get_actor_happy_path() {
    let (server, api) = setup().await;
    Mock::given(method("GET"))
        .and(path(
            "/conversations/conversations/2026-09/actors/A-2620022",
        ))
        .and(bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "A-2620022", "type": "AGENT", "name": "Ana Agent",
            "email": "ana@example.com", "avatar": "https://x/avatar.png"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let a = api.get_actor(&token(), "A-2620022").await.unwrap();
    assert_eq!(
        a,
        Actor {
            id: "A-2620022".into(),
            name: Some("Ana Agent".into()),
            email: Some("ana@example.com".into()),
            avatar: Some("https://x/avatar.png".into()),
        }
    );
}

#[tokio::test]
async fn send_message_body_equals_the_contract_example() {
    let (server, api) = setup().await;
    // The contract's valid example body, verbatim.
    let expected = r#"{"type":"MESSAGE","text":"hi","richText":"<div>hi</div>","senderActorId":"A-2620022","channelId":"1000","channelAccountId":"148662","attachments":[],"recipients":[{"actorId":"V-1401","deliveryIdentifiers":[{"type":"CHANNEL_SPECIFIC_OPAQUE_ID","value":"0232d1661ef84248bd4923cce9d3b917"}]}]}"#;
    let incoming = parse_message(
        real_message("in1", "2022-12-07T00:32:22.223Z")
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    // A reply to the visitor, from their message's route and identifiers (the singular
    // `deliveryIdentifier` they came with goes back as `deliveryIdentifiers`).
    let msg = OutgoingMessage {
        note: false,
        text: "hi".into(),
        rich_text: Some("<div>hi</div>".into()),
        agent_user_id: "2620022".into(),
        reply_route: incoming.reply_route.clone(),
        recipients: vec![incoming.senders[0].clone()],
        file_ids: vec![],
    };
    // Byte for byte, including key order.
    assert_eq!(
        serde_json::to_string(&OutgoingWire::from(&msg)).unwrap(),
        expected
    );
    let mut created = real_message("out1", "2022-12-07T00:33:00.000Z");
    created["direction"] = json!("OUTGOING");
    created["text"] = json!("hi");
    Mock::given(method("POST"))
        .and(path(format!("{THREADS}/3624100517/messages")))
        .and(bearer())
        .and(header("content-type", "application/json"))
        .and(body_json(serde_json::from_str::<Value>(expected).unwrap()))
        .respond_with(ResponseTemplate::new(201).set_body_json(created))
        .expect(1)
        .mount(&server)
        .await;
    let m = api
        .send_message(&token(), "3624100517", &msg)
        .await
        .unwrap();
    assert_eq!(m.id, "out1");
    assert_eq!(m.direction, Some(Direction::FromAgent));
}

#[test]
fn a_comment_carries_only_what_the_comment_schema_has() {
    let msg = OutgoingMessage {
        note: true,
        text: "note".into(),
        rich_text: None,
        agent_user_id: "1".into(),
        reply_route: ReplyRoute::default(),
        recipients: vec![],
        file_ids: vec![],
    };
    // A comment has only what the definition's PublicCommentEgg has: no sender, channel
    // or recipients, even when the note came from a conversation that has them.
    assert_eq!(
        serde_json::to_value(OutgoingWire::from(&msg)).unwrap(),
        json!({"type": "COMMENT", "text": "note", "attachments": []})
    );
    let routed = OutgoingMessage {
        reply_route: ReplyRoute {
            channel_id: Some("1000".into()),
            channel_account_id: Some("148662".into()),
        },
        recipients: vec![Participant {
            id: Some("V-1".into()),
            ..Participant::default()
        }],
        file_ids: vec!["77".into()],
        ..msg
    };
    assert_eq!(
        serde_json::to_value(OutgoingWire::from(&routed)).unwrap(),
        json!({"type": "COMMENT", "text": "note", "attachments": [{"type": "FILE", "fileId": "77"}]})
    );
}

#[tokio::test]
async fn update_thread_status_patches_the_thread() {
    let (server, api) = setup().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{THREADS}/55")))
        .and(bearer())
        .and(body_json(json!({"status": "CLOSED"})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "55", "status": "CLOSED"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    api.update_thread_status(&token(), "55", "CLOSED")
        .await
        .unwrap();
}

#[tokio::test]
async fn assigning_puts_the_agents_actor_and_unassigning_deletes_it() {
    let (server, api) = setup().await;
    Mock::given(method("PUT"))
        .and(path(format!("{THREADS}/55/assignee")))
        .and(bearer())
        .and(body_json(json!({"actorId": "A-2620022"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "55", "assignedTo": "A-2620022"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{THREADS}/55/assignee")))
        .and(bearer())
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    api.set_assignee(&token(), "55", Some("2620022"))
        .await
        .unwrap();
    api.set_assignee(&token(), "55", None).await.unwrap();
    // A user id cannot reach another path.
    assert!(api.set_assignee(&token(), "55", Some("..")).await.is_err());
}

#[tokio::test]
async fn active_threads_are_listed_by_latest_message_since_the_watermark_over_pages() {
    let (server, api) = setup().await;
    let thread = |id: u64, latest: &str| {
        json!({"id": id, "createdAt": "2026-12-01T10:00:00Z", "status": "OPEN", "originalChannelId": "1000",
               "latestMessageTimestamp": latest, "spam": false, "archived": false, "inboxId": 1})
    };
    // HubSpot sorts by latestMessageTimestamp only together with latestMessageTimestampAfter.
    Mock::given(method("GET"))
        .and(path(THREADS))
        .and(bearer())
        .and(query_param("sort", "latestMessageTimestamp"))
        .and(query_param(
            "latestMessageTimestampAfter",
            "2026-12-01T10:00:00.000Z",
        ))
        .and(wiremock::matchers::query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [thread(11, "2026-12-01T10:01:00Z")],
            "paging": {"next": {"after": "MTE="}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(THREADS))
        .and(query_param("after", "MTE="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [thread(12, "2026-12-01T10:02:00.500Z")]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let t = api
        .list_active_threads(&token(), 1_796_119_200_000, 500)
        .await
        .unwrap();
    let got: Vec<(&str, i64, bool)> = t
        .iter()
        .map(|c| (c.id.as_str(), c.latest_message_ms, c.live_chat))
        .collect();
    assert_eq!(
        got,
        vec![
            ("11", 1_796_119_260_000, true),
            ("12", 1_796_119_320_500, true)
        ]
    );
}
