//! The Slack client over real HTTP (wiremock).

use super::*;
use wiremock::matchers::{basic_auth, body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "xoxb-test-token-123";

fn token() -> Secret {
    Secret::new(TOKEN)
}

/// A chat.postMessage body: exactly `want`, plus the post's metadata key (16 hex chars).
struct KeyedPost(Value);

fn keyed_post(want: Value) -> KeyedPost {
    KeyedPost(want)
}

impl wiremock::Match for KeyedPost {
    fn matches(&self, req: &Request) -> bool {
        let Ok(mut body) = serde_json::from_slice::<Value>(&req.body) else {
            return false;
        };
        let Some(meta) = body.as_object_mut().and_then(|o| o.remove("metadata")) else {
            return false;
        };
        let key = meta["event_payload"]["key"].as_str().unwrap_or("");
        meta["event_type"] == "hubspot_inbox_post"
            && key.len() == 16
            && key.bytes().all(|b| b.is_ascii_hexdigit())
            && body == self.0
    }
}

async fn setup() -> (MockServer, SlackApi) {
    let server = MockServer::start().await;
    let api = SlackApi::new(reqwest::Client::new(), &server.uri());
    (server, api)
}

fn ok(extra: Value) -> ResponseTemplate {
    let mut body = json!({ "ok": true });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// Matches a form-encoded body with exactly these fields (any order).
struct FormIs(Vec<(String, String)>);

fn form_is(fields: &[(&str, &str)]) -> FormIs {
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

fn bearer() -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {TOKEN}").as_str())
}

#[tokio::test]
async fn call_returns_the_whole_json() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/some.method"))
        .and(bearer())
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"a": 1})))
        .respond_with(ok(json!({"x": {"y": 2}})))
        .expect(1)
        .mount(&server)
        .await;
    let v = api
        .call("some.method", &token(), &json!({"a": 1}))
        .await
        .unwrap();
    assert_eq!(v, json!({"ok": true, "x": {"y": 2}}));
}

#[tokio::test]
async fn post_message_sends_fallback_text_and_no_unfurls() {
    let (server, api) = setup().await;
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]);
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .and(bearer())
        .and(keyed_post(json!({
            "channel": "C123",
            "thread_ts": "1700000000.000100",
            "text": "hi &lt;there&gt;",
            "blocks": blocks,
            "unfurl_links": false,
            "unfurl_media": false,
        })))
        .respond_with(ok(json!({"channel": "C123", "ts": "1700000001.000200"})))
        .expect(1)
        .mount(&server)
        .await;
    let ts = api
        .post_message(
            &token(),
            "C123",
            Some("1700000000.000100"),
            "hi &lt;there&gt;",
            Some(&blocks),
        )
        .await
        .unwrap();
    assert_eq!(ts, "1700000001.000200");
}

#[tokio::test]
async fn post_message_top_level_without_blocks() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .and(bearer())
        .and(keyed_post(json!({
            "channel": "C1",
            "text": "plain",
            "unfurl_links": false,
            "unfurl_media": false,
        })))
        .respond_with(ok(json!({"ts": "1.2"})))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        api.post_message(&token(), "C1", None, "plain", None)
            .await
            .unwrap(),
        "1.2"
    );
}

#[tokio::test]
async fn post_message_without_ts_is_unexpected() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(ok(json!({})))
        .mount(&server)
        .await;
    let err = api
        .post_message(&token(), "C1", None, "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, SlackError::Unexpected(_)), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn update_message_happy_path() {
    let (server, api) = setup().await;
    let blocks = json!([{"type": "divider"}]);
    Mock::given(method("POST"))
        .and(path("/chat.update"))
        .and(bearer())
        .and(body_json(json!({
            "channel": "C1", "ts": "1.2", "text": "new", "blocks": blocks
        })))
        .respond_with(ok(json!({"channel": "C1", "ts": "1.2"})))
        .expect(1)
        .mount(&server)
        .await;
    api.update_message(&token(), "C1", "1.2", "new", Some(&blocks))
        .await
        .unwrap();
}

#[tokio::test]
async fn post_ephemeral_happy_path() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/chat.postEphemeral"))
        .and(bearer())
        .and(body_json(json!({
            "channel": "C1", "user": "U1", "thread_ts": "1.2", "text": "only you"
        })))
        .respond_with(ok(json!({"message_ts": "1.3"})))
        .expect(1)
        .mount(&server)
        .await;
    api.post_ephemeral(&token(), "C1", "U1", Some("1.2"), "only you", None)
        .await
        .unwrap();
}

#[tokio::test]
async fn delete_message_happy_path_and_already_gone() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/chat.delete"))
        .and(bearer())
        .and(body_json(json!({"channel": "C1", "ts": "1.2"})))
        .respond_with(ok(json!({"channel": "C1", "ts": "1.2"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.delete"))
        .and(body_json(json!({"channel": "C1", "ts": "9.9"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "message_not_found"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.delete"))
        .and(body_json(json!({"channel": "C1", "ts": "8.8"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "cant_delete_message"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    api.delete_message(&token(), "C1", "1.2").await.unwrap();
    api.delete_message(&token(), "C1", "9.9").await.unwrap();
    let err = api.delete_message(&token(), "C1", "8.8").await.unwrap_err();
    assert_eq!(err.code(), Some("cant_delete_message"));
}

#[tokio::test]
async fn user_info_posts_a_form_and_parses_the_user() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/users.info"))
        .and(bearer())
        .and(form_is(&[("user", "U123")]))
        .respond_with(ok(json!({"user": {
            "id": "U123", "team_id": "T1", "name": "ana", "real_name": "Ana Real",
            "deleted": false, "is_bot": false, "is_admin": true, "is_owner": false,
            "tz": "Europe/Lisbon",
            "profile": {"display_name": "", "real_name": "Ana Profile", "email": "ana@example.com"}
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let user = api.user_info(&token(), "U123").await.unwrap();
    assert_eq!(
        user,
        SlackUser {
            id: "U123".into(),
            name: "ana".into(),
            display_name: "Ana Profile".into(),
            email: Some("ana@example.com".into()),
            is_bot: false,
            deleted: false,
            is_admin: true,
            is_owner: false,
        }
    );
}

#[test]
fn display_name_fallbacks() {
    let parse = |v: Value| serde_json::from_value::<UserWire>(v).unwrap().into_user();
    let u = parse(json!({"id": "U1", "name": "n", "real_name": "R",
        "profile": {"display_name": "D", "real_name": "P"}}));
    assert_eq!(u.display_name, "D");
    let u =
        parse(json!({"id": "U1", "name": "n", "real_name": "R", "profile": {"display_name": ""}}));
    assert_eq!(u.display_name, "R");
    // Bots and old accounts may omit nearly everything.
    let u = parse(json!({"id": "B1", "name": "bot", "is_bot": true}));
    assert_eq!(u.display_name, "bot");
    assert!(u.is_bot && u.email.is_none() && !u.deleted);
}

#[tokio::test]
async fn conversation_info_parses_the_channel() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/conversations.info"))
        .and(bearer())
        .and(form_is(&[("channel", "C9")]))
        .respond_with(ok(json!({"channel": {
            "id": "C9", "name": "support", "is_channel": true, "is_private": true,
            "is_archived": false, "is_member": true, "created": 1449252889
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let ch = api.conversation_info(&token(), "C9").await.unwrap();
    assert_eq!(
        ch,
        SlackChannel {
            id: "C9".into(),
            name: "support".into(),
            is_private: true,
            is_archived: false,
            is_member: true,
            is_ext_shared: false,
        }
    );
    // A Slack Connect channel, shared or about to be, says so.
    for flag in ["is_ext_shared", "is_pending_ext_shared"] {
        let server = MockServer::start().await;
        let api = SlackApi::new(reqwest::Client::new(), &server.uri());
        let mut channel = json!({"id": "C8", "name": "partners", "is_member": true});
        channel[flag] = json!(true);
        Mock::given(method("POST"))
            .and(path("/conversations.info"))
            .respond_with(ok(json!({ "channel": channel })))
            .mount(&server)
            .await;
        let ch = api.conversation_info(&token(), "C8").await.unwrap();
        assert!(ch.is_ext_shared, "{flag}");
    }
}

#[tokio::test]
async fn join_conversation_happy_path() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/conversations.join"))
        .and(bearer())
        .and(form_is(&[("channel", "C9")]))
        .respond_with(ok(json!({"channel": {"id": "C9"}})))
        .expect(1)
        .mount(&server)
        .await;
    api.join_conversation(&token(), "C9").await.unwrap();
}

#[tokio::test]
async fn publish_home_happy_path() {
    let (server, api) = setup().await;
    let view = json!({"type": "home", "blocks": [{"type": "divider"}]});
    Mock::given(method("POST"))
        .and(path("/views.publish"))
        .and(bearer())
        .and(body_json(json!({"user_id": "U1", "view": view})))
        .respond_with(ok(json!({"view": {"id": "V1"}})))
        .expect(1)
        .mount(&server)
        .await;
    api.publish_home(&token(), "U1", &view).await.unwrap();
}

#[tokio::test]
async fn auth_test_happy_path() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/auth.test"))
        .and(bearer())
        .respond_with(ok(json!({
            "url": "https://x.slack.com/", "team": "X", "user": "bot",
            "team_id": "T1", "user_id": "U0BOT", "bot_id": "B1", "is_enterprise_install": false
        })))
        .expect(1)
        .mount(&server)
        .await;
    let a = api.auth_test(&token()).await.unwrap();
    assert_eq!(
        a,
        AuthTest {
            team_id: "T1".into(),
            user_id: "U0BOT".into(),
            bot_id: Some("B1".into()),
        }
    );
}

#[tokio::test]
async fn auth_revoke_happy_path() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/auth.revoke"))
        .and(bearer())
        .respond_with(ok(json!({"revoked": true})))
        .expect(1)
        .mount(&server)
        .await;
    api.auth_revoke(&token()).await.unwrap();
}

#[tokio::test]
async fn oauth_v2_access_uses_basic_auth_and_redacts_the_token() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth.v2.access"))
        .and(basic_auth("123.456", "client-secret-xyz"))
        .and(form_is(&[
            ("code", "the-code"),
            ("redirect_uri", "https://example.com/slack/oauth"),
        ]))
        .respond_with(ok(json!({
            "access_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
            "token_type": "bot",
            "scope": "commands,chat:write",
            "bot_user_id": "U0KRQLJ9H",
            "app_id": "A0KRD7HC3",
            "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"},
            "enterprise": null,
            "is_enterprise_install": false,
            "authed_user": {"id": "U1234", "scope": "", "token_type": "user"},
            "incoming_webhook": {"channel": "#support", "channel_id": "C05002EAE",
                "configuration_url": "https://x", "url": "https://hooks.slack.com/x"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let secret = Secret::new("client-secret-xyz");
    let o = api
        .oauth_v2_access(
            "123.456",
            &secret,
            "the-code",
            "https://example.com/slack/oauth",
        )
        .await
        .unwrap();
    assert_eq!(
        o.access_token.expose(),
        "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
    );
    assert_eq!(o.bot_user_id, "U0KRQLJ9H");
    assert_eq!(o.app_id, "A0KRD7HC3");
    assert_eq!(o.team_id, "T9TK3CUKW");
    assert_eq!(o.team_name, "Slack Softball Team");
    assert_eq!(o.authed_user_id, "U1234");
    assert_eq!(o.scope, "commands,chat:write");
    assert_eq!(o.incoming_webhook_channel_id.as_deref(), Some("C05002EAE"));
    let dbg = format!("{o:?}");
    assert!(!dbg.contains("xoxb-"), "{dbg}");
    // No bearer token was sent, only the client credentials.
    let reqs = server.received_requests().await.unwrap();
    let auth = reqs[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(auth.starts_with("Basic "));
}

#[tokio::test]
async fn a_rotating_token_is_installed_and_renewed_through_oauth_v2_access() {
    let (server, api) = setup().await;
    // With token rotation on, the code exchange also answers a refresh token and a lifetime.
    Mock::given(method("POST"))
        .and(path("/oauth.v2.access"))
        .and(form_is(&[("code", "c"), ("redirect_uri", "https://r")]))
        .respond_with(ok(json!({
            "access_token": "xoxe.xoxb-1-first", "token_type": "bot", "scope": "commands",
            "bot_user_id": "UB", "app_id": "A1", "team": {"id": "T1", "name": "T"},
            "authed_user": {"id": "U1"}, "refresh_token": "xoxe-1-refresh-first",
            "expires_in": 43200
        })))
        .mount(&server)
        .await;
    let o = api
        .oauth_v2_access("123.456", &Secret::new("cs"), "c", "https://r")
        .await
        .unwrap();
    assert_eq!(
        o.refresh_token.as_ref().map(|t| t.expose()),
        Some("xoxe-1-refresh-first")
    );
    assert_eq!(o.expires_in, Some(43200));
    // The renewal: the refresh grant, by form, with the client credentials by Basic auth.
    Mock::given(method("POST"))
        .and(path("/oauth.v2.access"))
        .and(basic_auth("123.456", "cs"))
        .and(form_is(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "xoxe-1-refresh-first"),
        ]))
        .respond_with(ok(json!({
            "access_token": "xoxe.xoxb-1-second", "token_type": "bot", "scope": "commands",
            "bot_user_id": "UB", "app_id": "A1", "team": {"id": "T1", "name": "T"},
            "refresh_token": "xoxe-1-refresh-second", "expires_in": 43200
        })))
        .expect(1)
        .mount(&server)
        .await;
    let r = api
        .oauth_v2_refresh(
            "123.456",
            &Secret::new("cs"),
            &Secret::new("xoxe-1-refresh-first"),
        )
        .await
        .unwrap();
    assert_eq!(r.access_token.expose(), "xoxe.xoxb-1-second");
    assert_eq!(r.refresh_token.expose(), "xoxe-1-refresh-second");
    assert_eq!(r.expires_in, 43200);
    assert!(!format!("{r:?}").contains("xoxe"));
    // A spent or revoked refresh token: the install's token is gone for good.
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth.v2.access"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "invalid_refresh_token"})),
        )
        .mount(&server)
        .await;
    let e = api
        .oauth_v2_refresh("1", &Secret::new("s"), &Secret::new("xoxe-1-old"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), Class::AuthGone);
    drop(server);
}

#[tokio::test]
async fn oauth_v2_access_invalid_code() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth.v2.access"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "invalid_code"})),
        )
        .mount(&server)
        .await;
    let err = api
        .oauth_v2_access("1", &Secret::new("s"), "c", "https://r")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("invalid_code"));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn respond_posts_json_to_the_response_url() {
    let (server, api) = setup().await;
    let body = json!({"response_type": "ephemeral", "text": "done", "replace_original": true});
    Mock::given(method("POST"))
        .and(path("/commands/T1/123/abc"))
        .and(body_json(body.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/commands/T1/123/expired"))
        .respond_with(ResponseTemplate::new(404).set_body_string("expired_url"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/commands/T1/123/broken"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let base = server.uri();
    api.respond(&format!("{base}/commands/T1/123/abc"), &body)
        .await
        .unwrap();
    // No token is attached to response_url calls.
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].headers.get("authorization").is_none());
    let err = api
        .respond(&format!("{base}/commands/T1/123/expired"), &body)
        .await
        .unwrap_err();
    match &err {
        SlackError::Unexpected(m) => {
            assert!(m.contains("404") && m.contains("expired_url"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable());
    let err = api
        .respond(&format!("{base}/commands/T1/123/broken"), &body)
        .await
        .unwrap_err();
    assert!(matches!(err, SlackError::Server { status: 500 }));
}

#[tokio::test]
async fn http_429_is_rate_limited_with_retry_after() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.update"))
        .respond_with(ResponseTemplate::new(429))
        .mount(&server)
        .await;
    let err = api
        .post_message(&token(), "C1", None, "x", None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SlackError::RateLimited {
                retry_after_secs: 7
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    let err = api
        .update_message(&token(), "C1", "1.2", "x", None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SlackError::RateLimited {
            retry_after_secs: 1
        }
    ));
}

#[tokio::test]
async fn ok_false_is_an_api_error_with_its_code() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "not_in_channel"})),
        )
        .mount(&server)
        .await;
    let err = api
        .post_message(&token(), "C1", None, "x", None)
        .await
        .unwrap_err();
    assert!(matches!(&err, SlackError::Api { code } if code == "not_in_channel"));
    assert_eq!(err.code(), Some("not_in_channel"));
    assert!(!err.is_retryable());
    assert_eq!(err.to_string(), "slack api error: not_in_channel");
}

#[test]
fn transient_api_codes_are_retryable() {
    for (code, _, _) in CODES.iter().filter(|(_, c, _)| *c == Class::Retry) {
        assert!(SlackError::Api {
            code: code.to_string()
        }
        .is_retryable());
    }
    assert!(!SlackError::Api {
        code: "invalid_auth".into()
    }
    .is_retryable());
    assert!(!SlackError::Unexpected("x".into()).is_retryable());
    assert_eq!(SlackError::Server { status: 502 }.code(), None);
}

#[tokio::test]
async fn http_503_is_a_server_error() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>down</html>"))
        .mount(&server)
        .await;
    let err = api
        .post_message(&token(), "C1", None, "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, SlackError::Server { status: 503 }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn other_4xx_and_non_json_are_unexpected() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.update"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
        .mount(&server)
        .await;
    let err = api
        .post_message(&token(), "C1", None, "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, SlackError::Unexpected(_)), "{err:?}");
    assert!(!err.is_retryable());
    let err = api
        .update_message(&token(), "C1", "1", "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, SlackError::Unexpected(_)), "{err:?}");
}

#[tokio::test]
async fn connection_refused_is_a_retryable_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let api = SlackApi::new(
        reqwest::Client::new(),
        &format!("http://127.0.0.1:{port}/api"),
    );
    let err = api
        .post_message(&token(), "C1", None, "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, SlackError::Transport(_)), "{err:?}");
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
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(ok(json!({"ts": "5.5"})).set_delay(Duration::from_millis(1500)))
        .mount(&server)
        .await;
    let ts = api
        .post_message(&token(), "C1", None, "x", None)
        .await
        .unwrap();
    assert_eq!(ts, "5.5");
}

#[tokio::test]
async fn a_timeout_is_a_retryable_transport_error() {
    let (server, api) = setup().await;
    let api = api.with_timeout(Duration::from_millis(200));
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(ok(json!({"ts": "5.5"})).set_delay(Duration::from_millis(1000)))
        .mount(&server)
        .await;
    let err = api
        .post_message(&token(), "C1", None, "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, SlackError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[test]
fn debug_of_the_client_shows_no_secrets() {
    let api = SlackApi::new(reqwest::Client::new(), "https://slack.com/api/");
    assert_eq!(api.base, "https://slack.com/api");
    assert!(format!("{api:?}").contains("slack.com"));
}

#[test]
fn the_token_goes_with_file_requests_to_slacks_file_host_only() {
    let api = SlackApi::new(reqwest::Client::new(), "https://slack.com/api");
    assert!(api.is_file_url("https://files.slack.com/files-pri/T1-F1/download/a.png"));
    for url in [
        "https://files.slack.com.evil.example/x",
        "https://files.slack.com@evil.example/x",
        "http://files.slack.com/x",
        "https://files.slack.com",
        "https://evil.example/https://files.slack.com/x",
        "",
    ] {
        assert!(!api.is_file_url(url), "{url}");
    }
    let local = api.with_files_url("http://127.0.0.1:9/");
    assert!(local.is_file_url("http://127.0.0.1:9/files-pri/a"));
    assert!(!local.is_file_url("http://127.0.0.1:90/files-pri/a"));
}

#[tokio::test]
async fn a_file_is_downloaded_with_the_bot_token_within_the_limit() {
    let (server, api) = setup().await;
    let api = api.with_files_url(&server.uri());
    Mock::given(method("GET"))
        .and(path("/files-pri/T1-F1/download/a.png"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![7u8; 300], "image/png"))
        .mount(&server)
        .await;
    let url = format!("{}/files-pri/T1-F1/download/a.png", server.uri());
    let got = api
        .download_file(&token(), &url, Some("image/png"), 1000)
        .await
        .unwrap();
    assert_eq!(got.as_ref(), &[7u8; 300][..]);
    // Over the limit: refused, whether or not the length is announced.
    assert!(matches!(
        api.download_file(&token(), &url, Some("image/png"), 299)
            .await,
        Err(FileFetchError::TooLarge { limit: 299 })
    ));
    // Elsewhere: nothing is requested there at all.
    let other = MockServer::start().await;
    let foreign = format!("{}/files-pri/T1-F1/download/a.png", other.uri());
    assert!(matches!(
        api.download_file(&token(), &foreign, None, 1000).await,
        Err(FileFetchError::ForeignHost)
    ));
    assert!(other.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn slacks_sign_in_page_and_errors_are_not_taken_for_the_file() {
    let (server, api) = setup().await;
    let api = api.with_files_url(&server.uri());
    let answer = |status: u16, ctype: &str| {
        ResponseTemplate::new(status).set_body_raw("<html>sign in</html>", ctype)
    };
    for (p, r) in [
        ("/page", answer(200, "text/html; charset=utf-8")),
        ("/gone", answer(404, "text/plain")),
        (
            "/busy",
            answer(429, "text/plain").insert_header("retry-after", "7"),
        ),
        ("/down", answer(503, "text/plain")),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(r)
            .mount(&server)
            .await;
    }
    let get = |p: &str, mime: Option<&'static str>| {
        let url = format!("{}{p}", server.uri());
        let api = api.clone();
        async move { api.download_file(&token(), &url, mime, 1000).await }
    };
    let page = get("/page", Some("application/pdf")).await.unwrap_err();
    assert!(matches!(page, FileFetchError::Refused(_)) && !page.is_retryable());
    // An HTML file is an HTML file.
    assert!(get("/page", Some("text/html")).await.is_ok());
    let gone = get("/gone", None).await.unwrap_err();
    assert!(matches!(gone, FileFetchError::Refused(_)) && !gone.is_retryable());
    let busy = get("/busy", None).await.unwrap_err();
    assert!(
        matches!(
            busy,
            FileFetchError::Slack(SlackError::RateLimited {
                retry_after_secs: 7
            })
        ) && busy.is_retryable()
    );
    assert!(get("/down", None).await.unwrap_err().is_retryable());
}

/// A post answered `fatal_error` that Slack did make: the channel has it (found by the
/// post's metadata key), so the call succeeds with its ts and nothing is posted twice.
#[tokio::test]
async fn a_fatal_error_that_posted_anyway_is_found_and_not_posted_again() {
    let (server, api) = setup().await;
    let key = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen = key.clone();
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(move |r: &Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            *seen.lock().unwrap() = body["metadata"]["event_payload"]["key"]
                .as_str()
                .unwrap_or("")
                .to_string();
            ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "fatal_error"}))
        })
        .expect(1)
        .mount(&server)
        .await;
    let posted = key.clone();
    Mock::given(method("POST"))
        .and(path("/conversations.history"))
        .respond_with(move |_: &Request| {
            let k = posted.lock().unwrap().clone();
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "messages": [
                {"type": "message", "ts": "1700000009.000001", "text": "another"},
                {"type": "message", "ts": "1700000009.000002", "text": "hi",
                 "metadata": {"event_type": "hubspot_inbox_post", "event_payload": {"key": k}}}
            ]}))
        })
        .expect(1)
        .mount(&server)
        .await;
    let ts = api
        .post_message(&token(), "C1", None, "hi", None)
        .await
        .unwrap();
    assert_eq!(ts, "1700000009.000002");
    assert_eq!(key.lock().unwrap().len(), 16);
}

/// The same error when Slack did not post: the error stands (retryable), for the queue.
#[tokio::test]
async fn a_fatal_error_that_did_not_post_stays_a_retryable_error() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "fatal_error"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/conversations.replies"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "messages": [
                {"type": "message", "ts": "1700000001.000001", "text": "parent"}
            ]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = api
        .post_message(&token(), "C1", Some("1700000001.000001"), "hi", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("fatal_error"));
    assert!(err.is_retryable());
}
