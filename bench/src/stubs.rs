//! Slack and HubSpot stand-ins (wiremock, from the integration tests' harness) answering
//! every call the flows make, and the request counts by API method.

use std::collections::BTreeMap;

use integration_tests::harness::{
    hubspot_people, message_json, respond_ok, slack_ok, slack_user, thread_json, Inbox,
};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::events::THREAD;

pub const AGENT: &str = "U0AGENT001";

pub struct Stubs {
    pub slack: MockServer,
    pub hubspot: MockServer,
    pub inbox: Inbox,
}

impl Stubs {
    pub async fn start() -> Stubs {
        let slack = MockServer::start().await;
        let hubspot = MockServer::start().await;
        slack_ok(&slack).await;
        respond_ok(&slack).await;
        slack_user(&slack, AGENT, "Ann", Some("ann@example.com")).await;
        // Bolt calls auth.test once at start.
        Mock::given(method("POST"))
            .and(path("/auth.test"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ok": true, "url": "https://example-team.slack.com/", "team": "Example", "user": "bot",
                "team_id": "T0TEAM0001", "user_id": "U0BOT00001", "bot_id": "B0BOT00001"
            })))
            .mount(&slack)
            .await;
        hubspot_people(&hubspot).await;
        // The CRM users object (availability), answering PATCH with the new value.
        Mock::given(method("PATCH"))
            .and(path_regex("^/crm/objects/2026-03/users/[0-9]+$"))
            .respond_with(|r: &Request| {
                let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                ResponseTemplate::new(200).set_body_json(json!({
                    "id": "512", "archived": false,
                    "properties": {"hs_availability_status": body["properties"]["hs_availability_status"],
                                   "hs_internal_user_id": "2620022"}
                }))
            })
            .mount(&hubspot)
            .await;
        let inbox = Inbox::mount(&hubspot).await;
        inbox.set(
            &thread_json(THREAD, "1000", "OPEN", Some("A-2620022")),
            &[message_json(
                "m1",
                1,
                "INCOMING",
                "Hi, do you ship to Canada?",
            )],
        );
        Stubs {
            slack,
            hubspot,
            inbox,
        }
    }
}

/// "METHOD /path" with numeric ids folded to {id}, so calls group by API method.
fn key(r: &Request, with_method: bool) -> String {
    let p: Vec<String> = r
        .url
        .path()
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) {
                "{id}".to_string()
            } else {
                seg.to_string()
            }
        })
        .collect();
    let p = p.join("/");
    let p = if p.starts_with("/respond/") {
        "/respond/{response_url}".to_string()
    } else {
        p
    };
    if with_method {
        format!("{} {p}", r.method)
    } else {
        p.trim_start_matches('/').to_string()
    }
}

/// Requests received so far, by API method.
pub async fn counts(server: &MockServer, with_method: bool) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for r in server.received_requests().await.unwrap_or_default() {
        *out.entry(key(&r, with_method)).or_insert(0) += 1;
    }
    out
}

/// `after - before`, keeping only what grew.
pub fn diff(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}
