//! Owners, contacts, availability, the file manager.
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
async fn owner_by_user_id_happy_path_and_404() {
    let (server, api) = setup().await;
    Mock::given(method("GET"))
        .and(path("/crm/owners/2026-03/2620022"))
        .and(query_param("idProperty", "userId"))
        .and(bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(owner_json()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/owners/2026-03/999"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "status": "error", "message": "Owner not found", "category": "OBJECT_NOT_FOUND"
        })))
        .mount(&server)
        .await;
    let o = api
        .owner_by_user_id(&token(), "2620022")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        o,
        Agent {
            id: "41629779".into(),
            user_id: Some("2620022".into()),
            email: Some("ana@example.com".into()),
            first_name: Some("Ana".into()),
            last_name: Some("Agent".into()),
            archived: false,
        }
    );
    assert_eq!(o.display_name(), "Ana Agent");
    assert_eq!(api.owner_by_user_id(&token(), "999").await.unwrap(), None);
}

#[tokio::test]
async fn owner_by_email_takes_the_first_non_archived() {
    let (server, api) = setup().await;
    let mut archived = owner_json();
    archived["id"] = json!("1");
    archived["archived"] = json!(true);
    Mock::given(method("GET"))
        .and(path("/crm/owners/2026-03"))
        .and(query_param("email", "ana+x@example.com"))
        .and(bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [archived, owner_json()]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/owners/2026-03"))
        .and(query_param("email", "nobody@example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .expect(1)
        .mount(&server)
        .await;
    let o = api
        .owner_by_email(&token(), "ana+x@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.id, "41629779");
    assert_eq!(
        api.owner_by_email(&token(), "nobody@example.com")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn owner_by_id_happy_path_and_404() {
    let (server, api) = setup().await;
    Mock::given(method("GET"))
        .and(path("/crm/owners/2026-03/41629779"))
        .and(bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(owner_json()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/owners/2026-03/5"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let o = api
        .owner_by_id(&token(), "41629779")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.user_id.as_deref(), Some("2620022"));
    assert_eq!(api.owner_by_id(&token(), "5").await.unwrap(), None);
    // The request carried no idProperty.
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].url.query().is_none());
}

#[test]
fn owner_display_name_fallbacks() {
    let mut o = Agent::from(serde_json::from_value::<OwnerWire>(json!({"id": 7})).unwrap());
    assert_eq!(o.display_name(), "Owner 7");
    o.email = Some("a@b.c".into());
    assert_eq!(o.display_name(), "a@b.c");
    o.last_name = Some("Solo".into());
    assert_eq!(o.display_name(), "Solo");
}

#[tokio::test]
async fn a_contact_gives_its_owner_happy_path_empty_and_404() {
    let (server, api) = setup().await;
    for (id, owner) in [
        ("1401", json!("41629779")),
        ("1402", json!("")),
        ("1403", Value::Null),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/crm/objects/2026-03/contacts/{id}")))
            .and(query_param("properties", "hubspot_owner_id"))
            .and(query_param(
                "propertiesWithHistory",
                "hs_analytics_last_url",
            ))
            .and(bearer())
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": id,
                "properties": {"hubspot_owner_id": owner, "hs_object_id": id},
                "archived": false
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/crm/objects/2026-03/contacts/777"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let owner = |c: Option<Contact>| c.expect("a contact").owner_id;
    assert_eq!(
        owner(api.contact(&token(), "1401", 0).await.unwrap()).as_deref(),
        Some("41629779")
    );
    assert_eq!(owner(api.contact(&token(), "1402", 0).await.unwrap()), None);
    assert_eq!(owner(api.contact(&token(), "1403", 0).await.unwrap()), None);
    // A visitor id that is no contact yet.
    assert_eq!(api.contact(&token(), "777", 0).await.unwrap(), None);
}

#[tokio::test]
async fn the_last_page_seen_is_the_one_as_of_the_chats_start() {
    let (server, api) = setup().await;
    // propertiesWithHistory: ValueWithTimestamp entries, newest first as HubSpot sends them.
    Mock::given(method("GET"))
        .and(path("/crm/objects/2026-03/contacts/1401"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "1401", "archived": false,
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-11-27T11:00:00Z",
            "properties": {"hubspot_owner_id": "41629779"},
            "propertiesWithHistory": {"hs_analytics_last_url": [
                {"value": "https://shop.example.com/after", "timestamp": "2026-11-27T10:30:00Z", "sourceType": "ANALYTICS"},
                {"value": "https://shop.example.com/pricing", "timestamp": "2026-11-27T09:59:00.500Z", "sourceType": "ANALYTICS"},
                {"value": "", "timestamp": "2026-11-27T09:59:30Z", "sourceType": "ANALYTICS"},
                {"value": "https://shop.example.com/", "timestamp": "2026-11-20T08:00:00Z", "sourceType": "ANALYTICS"}
            ]}
        })))
        .mount(&server)
        .await;
    let chat_start = parse_rfc3339_ms("2026-11-27T10:00:00Z").unwrap();
    let c = api
        .contact(&token(), "1401", chat_start)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.owner_id.as_deref(), Some("41629779"));
    assert_eq!(
        c.last_page_seen.as_deref(),
        Some("https://shop.example.com/pricing")
    );
    // Before any page was seen, or the chat's start unknown: none.
    let early = parse_rfc3339_ms("2026-11-01T00:00:00Z").unwrap();
    let c = api.contact(&token(), "1401", early).await.unwrap().unwrap();
    assert_eq!(c.last_page_seen, None);
    let c = api.contact(&token(), "1401", 0).await.unwrap().unwrap();
    assert_eq!(c.last_page_seen, None);
}

#[tokio::test]
async fn set_availability_patches_the_users_object() {
    let (server, api) = setup().await;
    for value in ["available", "away"] {
        Mock::given(method("PATCH"))
            .and(path("/crm/objects/2026-03/users/2620022"))
            .and(query_param("idProperty", "hs_internal_user_id"))
            .and(bearer())
            .and(body_json(
                json!({"properties": {"hs_availability_status": value}}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "207838823235",
                "properties": {"hs_availability_status": value,
                    "hs_internal_user_id": "2620022"},
                "archived": false
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    api.set_availability(&token(), "2620022", true)
        .await
        .unwrap();
    api.set_availability(&token(), "2620022", false)
        .await
        .unwrap();
}

#[tokio::test]
async fn get_availability_reads_the_property() {
    let (server, api) = setup().await;
    for (user, value) in [
        ("1", json!("available")),
        ("2", json!("away")),
        ("3", json!("")),
        ("4", Value::Null),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/crm/objects/2026-03/users/{user}")))
            .and(query_param("idProperty", "hs_internal_user_id"))
            .and(query_param("properties", "hs_availability_status"))
            .and(bearer())
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "207838823235",
                "properties": {"hs_availability_status": value},
                "archived": false
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/crm/objects/2026-03/users/5"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    assert_eq!(
        api.get_availability(&token(), "1").await.unwrap(),
        Some(true)
    );
    assert_eq!(
        api.get_availability(&token(), "2").await.unwrap(),
        Some(false)
    );
    assert_eq!(api.get_availability(&token(), "3").await.unwrap(), None);
    assert_eq!(api.get_availability(&token(), "4").await.unwrap(), None);
    assert_eq!(api.get_availability(&token(), "5").await.unwrap(), None);
}

#[tokio::test]
async fn a_file_is_uploaded_private_into_the_slack_folder() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/files/2026-03/files"))
        .and(bearer())
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": 183541231, "access": "PRIVATE"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let id = api
        .upload_file(
            &token(),
            "report.pdf",
            Some("application/pdf"),
            bytes::Bytes::from_static(b"%PDF-1.7 body"),
        )
        .await
        .unwrap();
    assert_eq!(id, "183541231");
    let req = &server.received_requests().await.unwrap()[0];
    let ctype = req.headers["content-type"].to_str().unwrap();
    assert!(
        ctype.starts_with("multipart/form-data; boundary="),
        "{ctype}"
    );
    let body = String::from_utf8_lossy(&req.body);
    for want in [
        "name=\"file\"; filename=\"report.pdf\"",
        "Content-Type: application/pdf",
        "%PDF-1.7 body",
        "name=\"fileName\"\r\n\r\nreport.pdf",
        "name=\"folderPath\"\r\n\r\n/conversations-from-slack",
        "name=\"options\"\r\n\r\n{\"access\":\"PRIVATE\"}",
    ] {
        assert!(body.contains(want), "{want} in {body}");
    }
}

#[tokio::test]
async fn an_upload_without_the_files_scope_is_an_api_error() {
    let (server, api) = setup().await;
    Mock::given(method("POST"))
        .and(path("/files/2026-03/files"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "status": "error", "message": "This app hasn't been granted all required scopes to make this call.",
            "category": "MISSING_SCOPES", "errors": [{"message": "One or more of the following scopes are required.", "context": {"requiredGranularScopes": ["files"]}}]
        })))
        .mount(&server)
        .await;
    let err = api
        .upload_file(&token(), "a.png", None, bytes::Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HubSpotError::Api { status: 403, category, .. } if category == "MISSING_SCOPES"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}
