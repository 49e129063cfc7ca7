//! Replaying the samples in events/raw: signed with the configured secrets and a fresh
//! timestamp, so the route's real signature check passes.

use std::path::Path;

use anyhow::{bail, Context};
use serde_json::json;
use shared::edge::verify;

/// A sample, signed, ready to send.
pub struct Signed {
    pub path: &'static str,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The secrets a sample is signed with.
pub struct Secrets {
    pub slack_signing_secret: Option<String>,
    pub hubspot_client_secret: Option<String>,
    /// PUBLIC_BASE_URL: HubSpot signs the webhook URL under it.
    pub public_base_url: String,
}

impl Secrets {
    fn from_env(default_base: &str) -> Self {
        Secrets {
            slack_signing_secret: std::env::var("SLACK_SIGNING_SECRET").ok(),
            hubspot_client_secret: std::env::var("HUBSPOT_CLIENT_SECRET").ok(),
            public_base_url: std::env::var("PUBLIC_BASE_URL")
                .unwrap_or_else(|_| default_base.to_string()),
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn need(v: &Option<String>, name: &str) -> anyhow::Result<String> {
    v.clone()
        .with_context(|| format!("setting {name} is needed to sign the sample"))
}

/// Reads a sample from events/raw/<route>/ and signs it for that route at `now` (ms).
pub fn sign(file: &str, secrets: &Secrets, now: i64) -> anyhow::Result<Signed> {
    let body = std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?;
    let route = Path::new(file)
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    Ok(match route {
        "hubspot-webhook" => {
            let secret = need(&secrets.hubspot_client_secret, "HUBSPOT_CLIENT_SECRET")?;
            let uri = format!(
                "{}/hubspot/webhook",
                secrets.public_base_url.trim_end_matches('/')
            );
            let sig = verify::sign_hubspot_v3(secret.as_bytes(), "POST", &uri, body.as_bytes(), now);
            Signed {
                path: "/hubspot/webhook",
                content_type: "application/json",
                headers: vec![
                    ("X-HubSpot-Signature-v3".into(), sig),
                    ("X-HubSpot-Request-Timestamp".into(), now.to_string()),
                ],
                body,
            }
        }
        "slack-events" | "slack-commands" | "slack-interactions" => {
            let secret = need(&secrets.slack_signing_secret, "SLACK_SIGNING_SECRET")?;
            let ts = now / 1000;
            let sig = verify::sign_slack(secret.as_bytes(), ts, body.as_bytes());
            let (path, content_type) = match route {
                "slack-events" => ("/slack/events", "application/json"),
                "slack-commands" => ("/slack/commands", "application/x-www-form-urlencoded"),
                _ => ("/slack/interactions", "application/x-www-form-urlencoded"),
            };
            Signed {
                path,
                content_type,
                headers: vec![
                    ("X-Slack-Signature".into(), sig),
                    ("X-Slack-Request-Timestamp".into(), ts.to_string()),
                ],
                body,
            }
        }
        other => bail!("{file}: the folder {other:?} is not a route (hubspot-webhook, slack-events, slack-commands, slack-interactions)"),
    })
}

pub async fn replay(file: &str, base_url: Option<&str>) -> anyhow::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let default_base = format!("http://127.0.0.1:{port}");
    let base = base_url
        .unwrap_or(&default_base)
        .trim_end_matches('/')
        .to_string();
    let s = sign(file, &Secrets::from_env(&base), now_ms())?;
    let mut req = reqwest::Client::new()
        .post(format!("{base}{}", s.path))
        .header("content-type", s.content_type)
        .body(s.body);
    for (k, v) in &s.headers {
        req = req.header(k, v);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach {base} (is the local runner running?)"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    println!(
        "{} {}\n{}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        text
    );
    Ok(())
}

pub fn print_apigw(file: &str) -> anyhow::Result<()> {
    let now = now_ms();
    let s = sign(file, &Secrets::from_env("http://127.0.0.1:3000"), now)?;
    println!("{}", serde_json::to_string_pretty(&apigw_event(&s, now))?);
    Ok(())
}

/// An API Gateway HTTP API (payload 2.0) event carrying the signed sample.
pub fn apigw_event(s: &Signed, now: i64) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    headers.insert("content-type".into(), json!(s.content_type));
    for (k, v) in &s.headers {
        headers.insert(k.to_ascii_lowercase(), json!(v));
    }
    json!({
        "version": "2.0",
        "routeKey": format!("POST {}", s.path),
        "rawPath": s.path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {"method": "POST", "path": s.path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "replay"},
            "requestId": format!("replay-{now}"),
            "routeKey": format!("POST {}", s.path),
            "stage": "$default",
            "time": "27/Nov/2026:00:00:00 +0000",
            "timeEpoch": now
        },
        "body": s.body,
        "isBase64Encoded": false
    })
}
