//! OAuth token exchange and refresh.
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
async fn exchange_code_posts_the_form_and_redacts_tokens() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .and(form_is(&[
            ("grant_type", "authorization_code"),
            ("client_id", "cid-1"),
            ("client_secret", "csecret-1"),
            ("redirect_uri", "https://example.com/hubspot/oauth"),
            ("code", "code-1"),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "bearer",
            "refresh_token": "rt-very-secret-1",
            "access_token": "at-very-secret-1",
            "expires_in": 1800,
            "hub_id": 22761544,
            "user_id": 2620022,
            "scopes": ["conversations.read"]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let t = api
        .exchange_code(
            "cid-1",
            &Secret::new("csecret-1"),
            "https://example.com/hubspot/oauth",
            "code-1",
        )
        .await
        .unwrap();
    assert_eq!(t.access_token.expose(), "at-very-secret-1");
    assert_eq!(t.refresh_token.expose(), "rt-very-secret-1");
    assert_eq!(t.expires_in, 1800);
    assert_eq!(t.portal_id.as_deref(), Some("22761544"));
    let dbg = format!("{t:?}");
    assert!(!dbg.contains("very-secret"), "{dbg}");
    // No Authorization header on the token endpoint.
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn refresh_posts_the_form() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .and(form_is(&[
            ("grant_type", "refresh_token"),
            ("client_id", "cid-1"),
            ("client_secret", "csecret-1"),
            ("refresh_token", "rt-old"),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-new", "expires_in": 1799, "token_type": "bearer"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let t = api
        .refresh("cid-1", &Secret::new("csecret-1"), &Secret::new("rt-old"))
        .await
        .unwrap();
    assert_eq!(t.access_token.expose(), "at-new");
    assert_eq!(t.refresh_token.expose(), "rt-old");
    assert_eq!(t.expires_in, 1799);
    assert_eq!(t.portal_id, None);
}

#[tokio::test]
async fn refresh_with_a_bad_token_is_an_api_error() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token",
            "correlationId": "abc"
        })))
        .mount(&server)
        .await;
    let err = api
        .refresh("c", &Secret::new("s"), &Secret::new("rt"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HubSpotError::Api { status: 400, category, .. } if category == "BAD_REFRESH_TOKEN"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn oauth_errors_are_read_as_rfc_6749_first() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "refresh token is revoked",
            "status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token"
        })))
        .mount(&server)
        .await;
    let err = api
        .refresh("c", &Secret::new("s"), &Secret::new("rt"))
        .await
        .unwrap_err();
    match &err {
        HubSpotError::Api {
            category, message, ..
        } => {
            assert_eq!(category, "invalid_grant");
            assert_eq!(message, "refresh token is revoked");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn introspection_posts_the_token_in_the_form_and_reads_the_portal() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token/introspect"))
        .and(form_is(&[
            ("client_id", "cid"),
            ("client_secret", "cs"),
            ("token", "at-1"),
            ("token_type_hint", "access_token"),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "active": true, "hub_id": 22761544, "app_id": 1098266, "token_use": "access_token",
            "scopes": ["conversations.read"], "expires_in": 1700
        })))
        .expect(1)
        .mount(&server)
        .await;
    let portal = api
        .token_hub_id("cid", &Secret::new("cs"), &Secret::new("at-1"))
        .await
        .unwrap();
    assert_eq!(portal, "22761544");
    // An inactive token names no portal.
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token/introspect"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"active": false})))
        .mount(&server)
        .await;
    assert!(api
        .token_hub_id("cid", &Secret::new("cs"), &Secret::new("at-1"))
        .await
        .is_err());
}

#[tokio::test]
async fn a_refresh_token_is_revoked_by_form_and_any_2xx_is_success() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token/revoke"))
        .and(form_is(&[
            ("client_id", "cid"),
            ("client_secret", "cs"),
            ("token", "rt-1"),
            ("token_type_hint", "refresh_token"),
        ]))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    api.revoke_refresh_token("cid", &Secret::new("cs"), &Secret::new("rt-1"))
        .await
        .unwrap();
}
