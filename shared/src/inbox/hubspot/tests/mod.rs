//! The HubSpot adapter over real HTTP (wiremock): requests as HubSpot's definitions shape
//! them, answers parsed into the domain, errors classified. Split by concern; the shared
//! helpers are here.
#![allow(unused_imports)]

use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::wire::*;
use super::*;
use crate::domain::*;
use crate::support::secret::Secret;

mod conversations;
mod crm;
mod oauth;

pub(super) const TOKEN: &str = "pat-na1-secret-token-0000";

pub(super) const THREADS: &str = "/conversations/conversations/2026-09/threads";

pub(super) fn token() -> Secret {
    Secret::new(TOKEN)
}

pub(super) fn bearer() -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {TOKEN}").as_str())
}

pub(super) async fn setup() -> (MockServer, HubSpotApi) {
    let server = MockServer::start().await;
    let api = HubSpotApi::new(reqwest::Client::new(), &server.uri());
    (server, api)
}

/// Matches a form-encoded body with exactly these fields (any order).
pub(super) struct FormIs(Vec<(String, String)>);

pub(super) fn form_is(fields: &[(&str, &str)]) -> FormIs {
    FormIs(
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

impl wiremock::Match for FormIs {
    fn matches(&self, req: &Request) -> bool {
        let is_form = req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let Ok(mut got) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&req.body) else {
            return false;
        };
        let mut want = self.0.clone();
        got.sort();
        want.sort();
        is_form && got == want
    }
}

/// A MESSAGE shaped like real HubSpot answers: numeric ids, fields the spec calls required
/// missing (no `richText`, no `truncationStatus`), extra fields.
pub(super) fn real_message(id: &str, created_at: &str) -> Value {
    json!({
        "type": "MESSAGE",
        "id": id,
        "conversationsThreadId": 3624100517u64,
        "createdAt": created_at,
        "updatedAt": created_at,
        "createdBy": "V-1401",
        "client": {"clientType": "HUBSPOT"},
        "senders": [{
            "actorId": "V-1401",
            "name": "Visitor",
            "deliveryIdentifier": {"type": "CHANNEL_SPECIFIC_OPAQUE_ID",
                "value": "0232d1661ef84248bd4923cce9d3b917"},
            "senderField": null
        }],
        "recipients": [],
        "archived": false,
        "text": "Hello, I need help",
        "attachments": [],
        "channelId": 1000,
        "channelAccountId": 148662,
        "direction": "INCOMING"
    })
}

pub(super) fn owner_json() -> Value {
    json!({
        "id": "41629779", "email": "ana@example.com", "type": "PERSON",
        "firstName": "Ana", "lastName": "Agent", "userId": 2620022,
        "userIdIncludingInactive": 2620022, "createdAt": "2019-12-25T13:01:35.228Z",
        "updatedAt": "2023-08-22T13:40:26.790Z", "archived": false
    })
}

#[tokio::test]
async fn http_401_is_unauthorized() {
    let (server, api) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{THREADS}/1")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "status": "error", "message": "Authentication credentials not found.",
            "category": "INVALID_AUTHENTICATION"
        })))
        .mount(&server)
        .await;
    let err = api.get_thread(&token(), "1").await.unwrap_err();
    assert!(matches!(err, HubSpotError::Unauthorized), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn http_404_is_not_found_for_a_thread() {
    let (server, api) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{THREADS}/2")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "status": "error", "message": "Thread not found", "category": "OBJECT_NOT_FOUND"
        })))
        .mount(&server)
        .await;
    let err = api.get_thread(&token(), "2").await.unwrap_err();
    assert!(matches!(err, HubSpotError::NotFound), "{err:?}");
}

#[tokio::test]
async fn http_429_is_rate_limited_with_the_policy() {
    let (server, api) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{THREADS}/3")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-HubSpot-RateLimit-Max", "110")
                .set_body_json(json!({
                    "status": "error",
                    "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": "c7a3f2a2",
                    "policyName": "TEN_SECONDLY_ROLLING",
                    "groupName": "publicapi:oauth"
                })),
        )
        .mount(&server)
        .await;
    let err = api.get_thread(&token(), "3").await.unwrap_err();
    assert!(
        matches!(&err, HubSpotError::RateLimited { policy, daily: false } if policy == "TEN_SECONDLY_ROLLING"),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn http_400_carries_the_sub_category() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{THREADS}/4/messages")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "error",
            "message": "Sender actor type is not supported",
            "correlationId": "x",
            "category": "VALIDATION_ERROR",
            "errors": [{
                "subCategory": "ConversationsApiError.UNSUPPORTED_ACTOR_TYPE",
                "message": "Sender actor type is not supported"
            }]
        })))
        .mount(&server)
        .await;
    let msg = OutgoingMessage {
        note: false,
        text: "hi".into(),
        rich_text: None,
        agent_user_id: "1".into(),
        reply_route: ReplyRoute {
            channel_id: Some("1000".into()),
            channel_account_id: Some("1".into()),
        },
        recipients: vec![],
        file_ids: vec![],
    };
    let err = api.send_message(&token(), "4", &msg).await.unwrap_err();
    match &err {
        HubSpotError::Api {
            status,
            category,
            message,
        } => {
            assert_eq!(*status, 400);
            assert_eq!(category, "ConversationsApiError.UNSUPPORTED_ACTOR_TYPE");
            assert_eq!(message, "Sender actor type is not supported");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable());
    // Without `errors`, the top-level category is used.
    assert!(matches!(
        classify(403, br#"{"status":"error","message":"m","category":"MISSING_SCOPES"}"#),
        HubSpotError::Api { status: 403, category, .. } if category == "MISSING_SCOPES"
    ));
    // The definitions' top-level `subCategory` is the most specific.
    assert!(matches!(
        classify(400, br#"{"category":"VALIDATION_ERROR","subCategory":"ConversationsApiError.THREAD_CLOSED","message":"m","correlationId":"x"}"#),
        HubSpotError::Api { category, .. } if category == "ConversationsApiError.THREAD_CLOSED"
    ));
}

#[test]
fn the_daily_policy_is_told_apart_from_the_ten_second_one() {
    let daily = classify(
        429,
        br#"{"status":"error","errorType":"RATE_LIMIT","policyName":"DAILY","message":"You have reached your daily limit."}"#,
    );
    assert!(
        matches!(&daily, HubSpotError::RateLimited { daily: true, .. }),
        "{daily:?}"
    );
    assert!(!daily.is_retryable());
    let ten = classify(429, br#"{"policyName":"TEN_SECONDLY_ROLLING"}"#);
    assert!(matches!(
        &ten,
        HubSpotError::RateLimited { daily: false, .. }
    ));
    assert!(ten.is_retryable());
}

#[tokio::test]
async fn http_5xx_is_a_server_error() {
    let (server, api) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{THREADS}/5")))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .mount(&server)
        .await;
    let err = api.get_thread(&token(), "5").await.unwrap_err();
    assert!(
        matches!(err, HubSpotError::Server { status: 502 }),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_non_json_success_is_unexpected() {
    let (server, api) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{THREADS}/6")))
        .respond_with(ResponseTemplate::new(200).set_body_string("not json"))
        .mount(&server)
        .await;
    let err = api.get_thread(&token(), "6").await.unwrap_err();
    assert!(matches!(err, HubSpotError::Unexpected(_)), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn connection_refused_is_a_retryable_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let api = HubSpotApi::new(reqwest::Client::new(), &format!("http://127.0.0.1:{port}"));
    let err = api.get_thread(&token(), "1").await.unwrap_err();
    assert!(matches!(err, HubSpotError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
    let text = err.to_string();
    assert!(
        !text.contains(TOKEN) && !text.contains("127.0.0.1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_slow_answer_within_the_timeout_succeeds() {
    let (server, api) = setup().await;
    Mock::given(method("GET"))
        .and(path("/conversations/conversations/2026-09/actors/A-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "A-1", "name": "Slow"}))
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&server)
        .await;
    let a = api.get_actor(&token(), "A-1").await.unwrap();
    assert_eq!(a.name.as_deref(), Some("Slow"));
}

#[tokio::test]
async fn a_timeout_is_a_retryable_transport_error() {
    let (server, api) = setup().await;
    let api = api.with_timeout(Duration::from_millis(200));
    Mock::given(method("GET"))
        .and(path("/conversations/conversations/2026-09/actors/A-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "A-1"}))
                .set_delay(Duration::from_millis(1000)),
        )
        .mount(&server)
        .await;
    let err = api.get_actor(&token(), "A-1").await.unwrap_err();
    assert!(matches!(err, HubSpotError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn ids_cannot_escape_their_path_segment() {
    let (server, api) = setup().await;
    Mock::given(method("GET"))
        .and(path(
            "/conversations/conversations/2026-09/actors/a%2Fb%3Fc",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "a/b?c"})))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(api.get_actor(&token(), "a/b?c").await.unwrap().id, "a/b?c");
    assert!(matches!(
        api.get_thread(&token(), "").await,
        Err(HubSpotError::Unexpected(_))
    ));
    assert!(matches!(
        api.get_thread(&token(), "..").await,
        Err(HubSpotError::Unexpected(_))
    ));
}

#[test]
fn rfc3339_parser() {
    assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        parse_rfc3339_ms("2023-01-01T12:34:56Z"),
        Some(1_672_576_496_000)
    );
    assert_eq!(
        parse_rfc3339_ms("2023-01-01T12:34:56.123Z"),
        Some(1_672_576_496_123)
    );
    assert_eq!(
        parse_rfc3339_ms("2023-01-01T12:34:56.1Z"),
        Some(1_672_576_496_100)
    );
    assert_eq!(
        parse_rfc3339_ms("2023-01-01T12:34:56.123456789Z"),
        Some(1_672_576_496_123)
    );
    assert_eq!(
        parse_rfc3339_ms("2023-01-01T12:34:56+00:00"),
        Some(1_672_576_496_000)
    );
    assert_eq!(
        parse_rfc3339_ms("2023-01-01T14:34:56.5+02:00"),
        Some(1_672_576_496_500)
    );
    assert_eq!(
        parse_rfc3339_ms("2023-01-01T10:04:56-02:30"),
        Some(1_672_576_496_000)
    );
    assert_eq!(
        parse_rfc3339_ms("2024-02-29T00:00:00Z"),
        Some(1_709_164_800_000)
    );
    assert_eq!(
        parse_rfc3339_ms("2022-12-07T00:32:22.223Z"),
        Some(1_670_373_142_223)
    );
    for bad in [
        "",
        "garbage",
        "2023-01-01",
        "2023-01-01T12:34:56",
        "2023-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2023-01-01T24:00:00Z",
        "2023-01-01T12:34:56.Z",
        "2023-01-01T12:34:56Zjunk",
        "2023-01-01T12:34:56+0000",
        "２０２３-01-01T12:34:56Z",
    ] {
        assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        assert_eq!(timestamp_ms(bad), 0, "{bad}");
    }
    assert_eq!(timestamp_ms("1670373142223"), 1_670_373_142_223);
}

#[test]
fn ids_parse_from_numbers_and_strings() {
    let w: ParticipantWire = serde_json::from_value(json!({
        "actorId": 12, "deliveryIdentifiers": [{"type": "HS_EMAIL_ADDRESS", "value": "a@b.c"}]
    }))
    .unwrap();
    let p = Participant::from(w);
    assert_eq!(p.id.as_deref(), Some("12"));
    let r = ParticipantWire::recipient(&p);
    assert_eq!(r.delivery_identifiers.len(), 1);
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({"actorId": "12", "deliveryIdentifiers": [{"type": "HS_EMAIL_ADDRESS", "value": "a@b.c"}]})
    );
    let a: Actor = serde_json::from_value(json!({"id": 1.0e3})).unwrap();
    assert_eq!(a.id, "1000");
    assert!(serde_json::from_value::<Actor>(json!({"id": null})).is_err());
}

#[tokio::test]
async fn a_nearly_spent_window_paces_the_next_call_instead_of_drawing_a_429() {
    let (server, api) = setup().await;
    // HubSpot's headers on every answer: one request left in a one-second window.
    Mock::given(method("GET"))
        .and(path(format!("{THREADS}/8")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-HubSpot-RateLimit-Max", "110")
                .insert_header("X-HubSpot-RateLimit-Remaining", "1")
                .insert_header("X-HubSpot-RateLimit-Interval-Milliseconds", "1000")
                .set_body_json(json!({"id": "8", "status": "OPEN"})),
        )
        .expect(2)
        .mount(&server)
        .await;
    api.get_thread(&token(), "8").await.unwrap();
    assert_eq!(api.paced_ms(), 0, "the first call knows of no window");
    api.get_thread(&token(), "8").await.unwrap();
    let waited = api.paced_ms();
    assert!((500..=1000).contains(&waited), "waited {waited} ms");
    // Another token (another portal) is not held back by this one's window.
    Mock::given(method("GET"))
        .and(path(format!("{THREADS}/9")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "9"})))
        .mount(&server)
        .await;
    api.get_thread(&Secret::new("another-portal-token"), "9")
        .await
        .unwrap();
    assert_eq!(api.paced_ms(), waited);
}
