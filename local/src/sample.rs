//! Replaying the samples in events/raw: signed with the configured secrets and a fresh
//! timestamp, so the route's real signature check passes.

use std::path::Path;

use anyhow::{bail, Context};
use serde_json::json;
use shared::verify;

struct Signed {
    path: &'static str,
    content_type: &'static str,
    headers: Vec<(String, String)>,
    body: String,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("setting {name} is needed to sign the sample"))
}

fn sign(file: &str, base_url: &str) -> anyhow::Result<Signed> {
    let body = std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?;
    let route = Path::new(file)
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let now = now_ms();
    Ok(match route {
        "hubspot-webhook" => {
            let secret = env("HUBSPOT_CLIENT_SECRET")?;
            let public = std::env::var("PUBLIC_BASE_URL").unwrap_or_else(|_| base_url.to_string());
            let uri = format!("{}/hubspot/webhook", public.trim_end_matches('/'));
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
            let secret = env("SLACK_SIGNING_SECRET")?;
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
    let s = sign(file, &base)?;
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
    let base = std::env::var("PUBLIC_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let s = sign(file, &base)?;
    let mut headers = serde_json::Map::new();
    headers.insert("content-type".into(), json!(s.content_type));
    for (k, v) in &s.headers {
        headers.insert(k.to_ascii_lowercase(), json!(v));
    }
    let now = now_ms();
    let event = json!({
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
    });
    println!("{}", serde_json::to_string_pretty(&event)?);
    Ok(())
}
