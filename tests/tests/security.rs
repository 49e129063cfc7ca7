//! Security, table-driven, through the local runner on the DynamoDB-compatible server (moto):
//! tampered bodies, headers and timestamps; replayed requests; signatures made with another
//! secret or scheme; a Claim by someone else or with a forged button value; forged, expired,
//! misdirected and reused OAuth states; oversized, chunked and deeply nested bodies. Each is
//! answered with the right status and leaves the table exactly as it was (a full Scan before
//! and after) with no write to Slack or HubSpot. Visitor markup and links are shown inert in
//! Slack. Last, every log line written during the run and every answer is scanned for the
//! test secrets and tokens and pieces of them.
//!
//! routes_edge.rs already has the basic cases (no signature, a wrong secret, a stale Slack
//! timestamp, one tampered byte, malformed and unsigned oversized bodies); these extend them.

mod support;

use std::time::Duration;

use integration_tests::harness::*;
use serde_json::{json, Value};
use shared::edge::verify;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const T: &str = "3624100517";
const PARENT: &str = "1700000001.000001";
const AGENT: &str = "U0AGENT001";
const BOB: &str = "U0BOB00001";
const FORM: &str = "application/x-www-form-urlencoded";
const JSON_CT: &str = "application/json";

/// A request, built when its case runs (signatures carry a fresh timestamp).
#[derive(Clone, Debug)]
struct Req {
    method: &'static str,
    /// Path and query.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Sent with `Transfer-Encoding: chunked` (no Content-Length).
    chunked: bool,
}

struct Ctx {
    webhook_url: String,
    /// A response_url on the Slack mock (the clicker's private answers).
    respond_url: String,
    state_key: shared::support::secret::Secret,
    /// A state issued by the install route and already used once.
    used_state: String,
}

type Build = Box<dyn Fn(&Ctx) -> Req>;

/// What must also hold after a case (beyond the status and an unchanged table).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Effects {
    /// Refused at the edge: no call at all to Slack or HubSpot.
    None,
    /// Acknowledged (2xx) but nothing written to Slack or the inbox; reads and a private
    /// answer to the clicker are fine.
    NoWrites,
}

struct Case {
    name: &'static str,
    /// Sent first (and expected to succeed): the original of a replay.
    before: Option<Build>,
    req: Build,
    status: u16,
    /// Text the answer must contain (the reason given).
    reason: &'static str,
    effects: Effects,
}

fn case(name: &'static str, req: Build, status: u16, reason: &'static str) -> Case {
    Case {
        name,
        before: None,
        req,
        status,
        reason,
        effects: if (200..300).contains(&status) {
            Effects::NoWrites
        } else {
            Effects::None
        },
    }
}

fn now_s() -> i64 {
    now_ms() / 1000
}

fn slack_req(p: &str, ct: &str, body: &[u8], secret: &[u8], ts: i64) -> Req {
    Req {
        method: "POST",
        target: p.to_string(),
        headers: vec![
            ("content-type".into(), ct.into()),
            ("x-slack-request-timestamp".into(), ts.to_string()),
            (
                "x-slack-signature".into(),
                verify::sign_slack(secret, ts, body),
            ),
        ],
        body: body.to_vec(),
        chunked: false,
    }
}

fn slack_ok_req(p: &str, ct: &str, body: &[u8]) -> Req {
    slack_req(p, ct, body, SIGNING_SECRET.as_bytes(), now_s())
}

fn hubspot_req(uri: &str, body: &[u8], secret: &[u8], ts_ms: i64, method: &str) -> Req {
    Req {
        method: "POST",
        target: "/hubspot/webhook".into(),
        headers: vec![
            ("content-type".into(), JSON_CT.into()),
            ("x-hubspot-request-timestamp".into(), ts_ms.to_string()),
            (
                "x-hubspot-signature-v3".into(),
                verify::sign_hubspot_v3(secret, method, uri, body, ts_ms),
            ),
        ],
        body: body.to_vec(),
        chunked: false,
    }
}

fn hubspot_ok_req(ctx: &Ctx, body: &[u8]) -> Req {
    hubspot_req(
        &ctx.webhook_url,
        body,
        HUBSPOT_SECRET.as_bytes(),
        now_ms(),
        "POST",
    )
}

fn set_header(mut r: Req, name: &str, value: String) -> Req {
    r.headers.retain(|(k, _)| k != name);
    r.headers.push((name.to_string(), value));
    r
}

fn header(r: &Req, name: &str) -> String {
    r.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn envelope(event_id: &str, ev: Value) -> Vec<u8> {
    json!({
        "token": "verification-token", "team_id": TEAM, "api_app_id": "A0APP00001",
        "type": "event_callback", "event_id": event_id, "event_time": 1700000200,
        "event": ev,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}]
    })
    .to_string()
    .into_bytes()
}

fn reply_event(event_id: &str, text: &str, ts: &str) -> Vec<u8> {
    envelope(
        event_id,
        json!({"type": "message", "channel": CHANNEL, "user": AGENT, "text": text, "ts": ts,
               "thread_ts": PARENT, "parent_user_id": BOT_USER, "event_ts": ts, "channel_type": "channel"}),
    )
}

fn claim_click(user: &str, team: &str, value: &str, response_url: &str) -> Vec<u8> {
    let payload = json!({
        "type": "block_actions", "team": {"id": team}, "user": {"id": user, "team_id": team},
        "api_app_id": "A0APP00001",
        "container": {"type": "message", "message_ts": PARENT, "channel_id": CHANNEL, "is_ephemeral": false},
        "trigger_id": "1.2.3", "channel": {"id": CHANNEL}, "response_url": response_url,
        "actions": [{"type": "button", "action_id": "claim", "block_id": "conversation_actions",
                     "value": value, "action_ts": "1700000300.000001"}]
    });
    format!("payload={}", percent(&payload.to_string())).into_bytes()
}

fn command(text: &str) -> Vec<u8> {
    format!(
        "team_id={TEAM}&user_id={AGENT}&command=%2Fhs-chat-away&text={}&response_url={}",
        percent(text),
        percent("https://hooks.slack.com/commands/T/1/x")
    )
    .into_bytes()
}

fn nested(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

fn nested_objects(levels: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(levels), "}".repeat(levels))
}

async fn send(base: &str, r: &Req) -> (u16, String) {
    if r.chunked {
        return send_chunked(base, r).await;
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut b = http.request(r.method.parse().unwrap(), format!("{base}{}", r.target));
    for (k, v) in &r.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    if r.method != "GET" {
        b = b.body(r.body.clone());
    }
    let resp = b
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (
        status,
        format!("{location}{}", resp.text().await.unwrap_or_default()),
    )
}

/// HTTP/1.1 by hand, with a chunked body: reqwest here has no streaming bodies.
async fn send_chunked(base: &str, r: &Req) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {addr}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n",
        r.method, r.target
    );
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.expect("write");
    for chunk in r.body.chunks(64 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        // The server may answer 413 and close before the whole body is sent.
        if s.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Slack and HubSpot requests that change something there.
async fn writes(e: &Env) -> Vec<String> {
    let mut out = vec![];
    for r in e.slack.received_requests().await.unwrap_or_default() {
        let p = r.url.path();
        if [
            "/chat.postMessage",
            "/chat.update",
            "/chat.delete",
            "/views.publish",
        ]
        .contains(&p)
        {
            out.push(format!("slack {p}"));
        }
    }
    for r in e.hubspot.received_requests().await.unwrap_or_default() {
        if r.method.as_str() != "GET" {
            out.push(format!("hubspot {} {}", r.method, r.url.path()));
        }
    }
    out
}

async fn outbound(e: &Env) -> usize {
    e.slack.received_requests().await.unwrap_or_default().len()
        + e.hubspot
            .received_requests()
            .await
            .unwrap_or_default()
            .len()
}

/// Runs a table against an env; returns what went wrong, and collects every answer.
async fn run(e: &Env, ctx: &Ctx, cases: &[Case], answers: &mut Vec<String>) -> Vec<String> {
    let table = table_name(e);
    let base = e.runner.url();
    let mut failures = vec![];
    for c in cases {
        if let Some(before) = &c.before {
            let (s, body) = send(&base, &before(ctx)).await;
            e.drain().await;
            answers.push(body.clone());
            if !(200..300).contains(&s) {
                failures.push(format!("{}: the original request got {s}: {body}", c.name));
                continue;
            }
        }
        let items = dump_table(&table).await;
        let (calls, wrote) = (outbound(e).await, writes(e).await);
        let (status, body) = send(&base, &(c.req)(ctx)).await;
        e.drain().await;
        answers.push(body.clone());
        let mut wrong = vec![];
        if status != c.status {
            wrong.push(format!("status {status}, want {}", c.status));
        }
        if !body.contains(c.reason) {
            wrong.push(format!("answer lacks {:?}", c.reason));
        }
        let after = dump_table(&table).await;
        if after != items {
            let changed: Vec<String> = after
                .iter()
                .filter(|(k, v)| items.get(*k) != Some(*v))
                .map(|(k, _)| format!("+{k:?}"))
                .chain(
                    items
                        .keys()
                        .filter(|k| !after.contains_key(*k))
                        .map(|k| format!("-{k:?}")),
                )
                .collect();
            wrong.push(format!("the table changed: {changed:?}"));
        }
        match c.effects {
            Effects::None => {
                let n = outbound(e).await - calls;
                if n > 0 {
                    wrong.push(format!("{n} calls to Slack or HubSpot"));
                }
            }
            Effects::NoWrites => {
                let now = writes(e).await;
                if now.len() > wrote.len() {
                    wrong.push(format!("writes out: {:?}", &now[wrote.len()..]));
                }
            }
        }
        let shown: String = body.chars().take(160).collect();
        println!(
            "{:<64} {status} {}",
            c.name,
            if wrong.is_empty() { "ok" } else { "FAILED" }
        );
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {} (answer: {shown})",
                c.name,
                wrong.join("; ")
            ));
        }
    }
    failures
}

// --------------------------------------------------------------------- the tables ----

fn edge_cases() -> Vec<Case> {
    let uv = br#"{"token":"t","challenge":"c","type":"url_verification"}"#.to_vec();
    let batch = |kind: &str| {
        json!([event(
            kind,
            T,
            json!({"messageId": "m1", "messageType": "MESSAGE"})
        )])
        .to_string()
        .into_bytes()
    };
    let mut cases = vec![
        // ---- tampered body
        case(
            "tampered: Slack event body with a trailing newline",
            Box::new(move |_| {
                let body = reply_event("EvTamper1", "hi", "1700000100.000001");
                let mut r = slack_ok_req("/slack/events", JSON_CT, &body);
                r.body.push(b'\n');
                r
            }),
            401,
            "signature does not match",
        ),
        case(
            "tampered: Slack event re-serialised (same JSON, other bytes)",
            Box::new(move |_| {
                let body = reply_event("EvTamper2", "hi", "1700000100.000002");
                let mut r = slack_ok_req("/slack/events", JSON_CT, &body);
                let v: Value = serde_json::from_slice(&body).unwrap();
                r.body = serde_json::to_vec_pretty(&v).unwrap();
                r
            }),
            401,
            "signature does not match",
        ),
        case(
            "tampered: slash command text changed",
            Box::new(|_| {
                let mut r = slack_ok_req("/slack/commands", FORM, &command(""));
                r.body = command("status");
                r
            }),
            401,
            "signature does not match",
        ),
        case(
            "tampered: interaction payload's clicker changed",
            Box::new(|_| {
                let mut r = slack_ok_req(
                    "/slack/interactions",
                    FORM,
                    &claim_click(BOB, TEAM, "x", "https://hooks.slack.com/actions/x"),
                );
                r.body = claim_click(AGENT, TEAM, "x", "https://hooks.slack.com/actions/x");
                r
            }),
            401,
            "signature does not match",
        ),
        case(
            "tampered: HubSpot batch with another conversation",
            Box::new(move |ctx| {
                let mut r = hubspot_ok_req(ctx, &batch("conversation.creation"));
                r.body = String::from_utf8(r.body)
                    .unwrap()
                    .replace(T, "3624100518")
                    .into_bytes();
                r
            }),
            401,
            "signature does not match",
        ),
        // ---- tampered headers and timestamps
        case(
            "tampered: Slack signature with one hex digit changed",
            Box::new({
                let uv = uv.clone();
                move |_| {
                    let r = slack_ok_req("/slack/events", JSON_CT, &uv);
                    let sig = header(&r, "x-slack-signature");
                    let last = if sig.ends_with('0') { '1' } else { '0' };
                    set_header(
                        r,
                        "x-slack-signature",
                        format!("{}{last}", &sig[..sig.len() - 1]),
                    )
                }
            }),
            401,
            "signature does not match",
        ),
        case(
            "tampered: Slack signature of another scheme (v1=)",
            Box::new({
                let uv = uv.clone();
                move |_| {
                    let r = slack_ok_req("/slack/events", JSON_CT, &uv);
                    let sig = header(&r, "x-slack-signature").replace("v0=", "v1=");
                    set_header(r, "x-slack-signature", sig)
                }
            }),
            401,
            "malformed",
        ),
        case(
            "tampered: Slack signature truncated",
            Box::new({
                let uv = uv.clone();
                move |_| {
                    let r = slack_ok_req("/slack/events", JSON_CT, &uv);
                    let sig = header(&r, "x-slack-signature")[..40].to_string();
                    set_header(r, "x-slack-signature", sig)
                }
            }),
            401,
            "malformed",
        ),
        case(
            "tampered: Slack timestamp moved 1 s (signature kept)",
            Box::new({
                let uv = uv.clone();
                move |_| {
                    let r = slack_ok_req("/slack/commands", FORM, &uv);
                    set_header(r, "x-slack-request-timestamp", (now_s() - 1).to_string())
                }
            }),
            401,
            "signature does not match",
        ),
        case(
            "tampered: Slack timestamp not a number",
            Box::new({
                let uv = uv.clone();
                move |_| {
                    let r = slack_ok_req("/slack/interactions", FORM, &uv);
                    set_header(r, "x-slack-request-timestamp", "1e10".into())
                }
            }),
            401,
            "not a valid number",
        ),
        case(
            "tampered: Slack timestamp from the future (+330 s), correctly signed",
            Box::new({
                let uv = uv.clone();
                move |_| {
                    slack_req(
                        "/slack/events",
                        JSON_CT,
                        &uv,
                        SIGNING_SECRET.as_bytes(),
                        now_s() + 330,
                    )
                }
            }),
            401,
            "in the future",
        ),
        case(
            "tampered: HubSpot timestamp moved 1 ms (signature kept)",
            Box::new(move |ctx| {
                let r = hubspot_ok_req(ctx, &batch("conversation.creation"));
                let ts: i64 = header(&r, "x-hubspot-request-timestamp").parse().unwrap();
                set_header(r, "x-hubspot-request-timestamp", (ts + 1).to_string())
            }),
            401,
            "signature does not match",
        ),
        case(
            "tampered: HubSpot signature not base64",
            Box::new(move |ctx| {
                let r = hubspot_ok_req(ctx, &batch("conversation.creation"));
                set_header(r, "x-hubspot-signature-v3", "not*base64!".into())
            }),
            401,
            "malformed",
        ),
        case(
            "tampered: HubSpot signature made for GET",
            Box::new(move |ctx| {
                hubspot_req(
                    &ctx.webhook_url,
                    &batch("conversation.creation"),
                    HUBSPOT_SECRET.as_bytes(),
                    now_ms(),
                    "GET",
                )
            }),
            401,
            "signature does not match",
        ),
        case(
            "tampered: HubSpot query string added after signing",
            Box::new(move |ctx| {
                let mut r = hubspot_ok_req(ctx, &batch("conversation.creation"));
                r.target.push_str("?portal=1");
                r
            }),
            401,
            "signature does not match",
        ),
        case(
            "downgrade: HubSpot v1 signature (right secret) without v3",
            Box::new(move |_| {
                let body = batch("conversation.creation");
                Req {
                    method: "POST",
                    target: "/hubspot/webhook".into(),
                    headers: vec![
                        ("content-type".into(), JSON_CT.into()),
                        ("x-hubspot-signature-version".into(), "v1".into()),
                        (
                            "x-hubspot-signature".into(),
                            verify::hubspot_v1_signature(HUBSPOT_SECRET.as_bytes(), &body),
                        ),
                    ],
                    body,
                    chunked: false,
                }
            }),
            401,
            "missing",
        ),
        // ---- signature from another secret
        case(
            "other secret: Slack event signed with HubSpot's client secret",
            Box::new({
                let uv = uv.clone();
                move |_| {
                    slack_req(
                        "/slack/events",
                        JSON_CT,
                        &uv,
                        HUBSPOT_SECRET.as_bytes(),
                        now_s(),
                    )
                }
            }),
            401,
            "signature does not match",
        ),
        case(
            "other secret: slash command signed with an empty secret",
            Box::new(|_| slack_req("/slack/commands", FORM, &command(""), b"", now_s())),
            401,
            "signature does not match",
        ),
        case(
            "other secret: interaction signed with the token encryption key",
            Box::new(|_| {
                slack_req(
                    "/slack/interactions",
                    FORM,
                    &claim_click(AGENT, TEAM, "x", "https://hooks.slack.com/actions/x"),
                    TOKEN_KEY.as_bytes(),
                    now_s(),
                )
            }),
            401,
            "signature does not match",
        ),
        case(
            "other secret: HubSpot webhook signed with Slack's signing secret",
            Box::new(move |ctx| {
                hubspot_req(
                    &ctx.webhook_url,
                    &batch("conversation.creation"),
                    SIGNING_SECRET.as_bytes(),
                    now_ms(),
                    "POST",
                )
            }),
            401,
            "signature does not match",
        ),
        // ---- oversized and deeply nested
        case(
            "oversized: Slack event of 1 MiB + 1, correctly signed",
            Box::new(|_| {
                let mut body = vec![b' '; shared::support::http::MAX_BODY_BYTES + 1];
                body[0] = b'{';
                slack_ok_req("/slack/events", JSON_CT, &body)
            }),
            413,
            "body larger than",
        ),
        case(
            "oversized: HubSpot webhook of 2 MiB, correctly signed",
            Box::new(|ctx| hubspot_ok_req(ctx, &vec![b'['; 2 * 1024 * 1024])),
            413,
            "body larger than",
        ),
        case(
            "oversized: chunked slash command of 3 MiB (no Content-Length)",
            Box::new(|_| {
                let mut r = slack_ok_req("/slack/commands", FORM, &vec![b'a'; 3 * 1024 * 1024]);
                r.chunked = true;
                r
            }),
            413,
            "body larger than",
        ),
        case(
            "nested: Slack event 33 arrays deep, correctly signed",
            Box::new(|_| slack_ok_req("/slack/events", JSON_CT, nested(33).as_bytes())),
            400,
            "nested deeper",
        ),
        case(
            "nested: HubSpot webhook 10 000 objects deep, correctly signed",
            Box::new(|ctx| hubspot_ok_req(ctx, nested_objects(10_000).as_bytes())),
            400,
            "nested deeper",
        ),
        case(
            "nested: interaction payload 100 000 arrays deep, correctly signed",
            Box::new(|_| {
                let body = format!("payload={}", percent(&nested(100_000)));
                slack_ok_req("/slack/interactions", FORM, body.as_bytes())
            }),
            400,
            "nested deeper",
        ),
        case(
            "wide: HubSpot batch of 101 events",
            Box::new(|ctx| {
                let evs: Vec<Value> = (0..101)
                    .map(|_| event("conversation.creation", T, json!({})))
                    .collect();
                hubspot_ok_req(ctx, Value::Array(evs).to_string().as_bytes())
            }),
            400,
            "exceeds 100",
        ),
        case(
            "wide: a 900 KB event of 200 000 array items, correctly signed",
            Box::new(|_| {
                let items = vec!["0"; 200_000].join(",");
                let body = format!(
                    r#"{{"type":"event_callback","team_id":"{TEAM}","event_id":"EvWide","event":{{"type":"x","items":[{items}]}}}}"#
                );
                slack_ok_req("/slack/events", JSON_CT, body.as_bytes())
            }),
            200,
            "",
        ),
    ];

    // ---- replays: the original is accepted and acted on; the copy changes nothing.
    let reply = reply_event("EvReplay1", "Replay me once", "1700000150.000001");
    let reply2 = reply.clone();
    cases.push(Case {
        name: "replay: a delivered Slack reply, same bytes and signature",
        before: Some(Box::new(move |_| {
            slack_ok_req("/slack/events", JSON_CT, &reply)
        })),
        req: Box::new(move |_| slack_ok_req("/slack/events", JSON_CT, &reply2)),
        status: 200,
        reason: "",
        effects: Effects::NoWrites,
    });
    let reply = reply_event("EvReplay2", "Replay me as a retry", "1700000150.000002");
    let reply2 = reply.clone();
    cases.push(Case {
        name: "replay: a delivered Slack reply as X-Slack-Retry-Num 1",
        before: Some(Box::new(move |_| {
            slack_ok_req("/slack/events", JSON_CT, &reply)
        })),
        req: Box::new(move |_| {
            let r = slack_ok_req("/slack/events", JSON_CT, &reply2);
            set_header(
                set_header(r, "x-slack-retry-num", "1".into()),
                "x-slack-retry-reason",
                "http_timeout".into(),
            )
        }),
        status: 200,
        reason: "",
        effects: Effects::NoWrites,
    });
    let reply = reply_event("EvReplay3", "Replay me later", "1700000150.000003");
    cases.push(case(
        "replay: a Slack reply 6 minutes later (old signature)",
        Box::new(move |_| {
            slack_req(
                "/slack/events",
                JSON_CT,
                &reply,
                SIGNING_SECRET.as_bytes(),
                now_s() - 360,
            )
        }),
        401,
        "too old",
    ));
    let b = batch("conversation.newMessage");
    let b2 = b.clone();
    cases.push(Case {
        name: "replay: a handled HubSpot webhook, same bytes",
        before: Some(Box::new(move |ctx| hubspot_ok_req(ctx, &b))),
        req: Box::new(move |ctx| hubspot_ok_req(ctx, &b2)),
        status: 200,
        reason: "",
        effects: Effects::NoWrites,
    });
    cases.push(case(
        "replay: a slash command 6 minutes later (old signature)",
        Box::new(|_| {
            slack_req(
                "/slack/commands",
                FORM,
                &command(""),
                SIGNING_SECRET.as_bytes(),
                now_s() - 360,
            )
        }),
        401,
        "too old",
    ));

    // ---- Claim by someone else: acknowledged (Slack expects it), refused in the job.
    for (name, user, team, value) in [
        (
            "claim: Bob clicks Claim ann@example.com",
            BOB,
            TEAM,
            "22761544|3624100517|2620022|ann@example.com",
        ),
        (
            "claim: Bob forges the value to his own email",
            BOB,
            TEAM,
            "22761544|3624100517|2620022|bob@example.com",
        ),
        (
            "claim: Bob appends a field to the value",
            BOB,
            TEAM,
            "22761544|3624100517|2620022|ann@example.com|x",
        ),
        (
            "claim: a value for another portal",
            AGENT,
            TEAM,
            "99999999|3624100517|2620022|ann@example.com",
        ),
        ("claim: a malformed value", BOB, TEAM, "2620022"),
        (
            "claim: a click from another Slack workspace",
            AGENT,
            "T0OTHER001",
            "22761544|3624100517|2620022|ann@example.com",
        ),
    ] {
        cases.push(case(
            name,
            Box::new(move |ctx| {
                slack_ok_req(
                    "/slack/interactions",
                    FORM,
                    &claim_click(user, team, value, &ctx.respond_url),
                )
            }),
            200,
            "",
        ));
    }
    cases
}

fn oauth_cases() -> Vec<Case> {
    // Each from the browser the link was made for (its cookie), so what is checked is the
    // state itself.
    let cb = |state: &str, key: &shared::support::secret::Secret| Req {
        method: "GET",
        target: format!(
            "/hubspot/oauth/callback?code=code-123&state={}",
            percent(state)
        ),
        headers: vec![(
            "cookie".to_string(),
            format!(
                "{}={}",
                shared::flows::connect::browser_cookie_name(state)
                    .unwrap_or_else(|| shared::flows::connect::BROWSER_COOKIE.to_string()),
                shared::flows::connect::browser_binding(key, state).unwrap_or_default()
            ),
        )],
        body: vec![],
        chunked: false,
    };
    let far = now_s() + 600;
    vec![
        case(
            "oauth: forged state (garbage)",
            Box::new(move |ctx| cb("forged-state", &ctx.state_key)),
            400,
            "not valid",
        ),
        case(
            "oauth: state signed with another key",
            Box::new(move |ctx| {
                let other = shared::support::secret::Secret::new("another-key");
                cb(
                    &shared::flows::connect::encode_state(
                        &other,
                        "hubspot",
                        "abcdef0123456789",
                        None,
                        far,
                    ),
                    &ctx.state_key,
                )
            }),
            400,
            "not valid",
        ),
        case(
            "oauth: an issued state without its browser's cookie",
            Box::new(move |ctx| {
                let mut r = cb(&ctx.used_state, &ctx.state_key);
                r.headers.clear();
                r
            }),
            400,
            "another browser",
        ),
        case(
            "oauth: an anonymous start of the install writes nothing",
            Box::new(move |_| Req {
                method: "GET",
                target: "/hubspot/install".into(),
                headers: vec![],
                body: vec![],
                chunked: false,
            }),
            302,
            "",
        ),
        case(
            "oauth: well-signed state that has expired",
            Box::new(move |ctx| {
                cb(
                    &shared::flows::connect::encode_state(
                        &ctx.state_key,
                        "hubspot",
                        "00112233445566778899aabbccddeef0",
                        None,
                        now_s() - 1,
                    ),
                    &ctx.state_key,
                )
            }),
            400,
            "expired",
        ),
        case(
            "oauth: the Slack step's state at the HubSpot callback",
            Box::new(move |ctx| {
                cb(
                    &shared::flows::connect::encode_state(
                        &ctx.state_key,
                        "slack",
                        "00112233445566778899aabbccddeef1",
                        Some(PORTAL),
                        far,
                    ),
                    &ctx.state_key,
                )
            }),
            400,
            "not valid",
        ),
        case(
            "oauth: an issued state used a second time",
            Box::new(move |ctx| cb(&ctx.used_state, &ctx.state_key)),
            400,
            "already used",
        ),
        case(
            "oauth: an issued state with its portal part changed",
            Box::new(move |ctx| {
                let mut parts: Vec<String> =
                    ctx.used_state.split('.').map(str::to_string).collect();
                if parts.len() == 6 {
                    parts[3] = PORTAL.to_string();
                }
                cb(&parts.join("."), &ctx.state_key)
            }),
            400,
            "not valid",
        ),
    ]
}

/// A Slack-step callback from the browser the state was made for.
fn slack_cb(state: &str, code: &str, key: &shared::support::secret::Secret) -> Req {
    Req {
        method: "GET",
        target: format!("/slack/oauth/callback?code={code}&state={}", percent(state)),
        headers: vec![(
            "cookie".to_string(),
            format!(
                "{}={}",
                shared::flows::connect::browser_cookie_name(state).unwrap_or_default(),
                shared::flows::connect::browser_binding(key, state).unwrap_or_default()
            ),
        )],
        body: vec![],
        chunked: false,
    }
}

fn state_of(location: &str) -> String {
    location
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("state="))
        .map(percent_decode)
        .unwrap_or_default()
}

/// Private-app mode (the deployment's own portal by a static token): the install route
/// without the operator's one-time link, and with links that are not (or no longer) valid,
/// refused with nothing written; then a connected portal that an install from another
/// workspace tries to take: refused, and nothing of the install changes.
async fn private_app_cases(answers: &mut Vec<String>) -> Vec<String> {
    const OWN_PORTAL: &str = "50505050";
    let e = start(Opts {
        dynamo: true,
        single_workspace: false,
        extra: vec![
            ("SLACK_CLIENT_ID", "1111.2222".into()),
            ("SLACK_CLIENT_SECRET", "test-slack-client-secret".into()),
            ("HUBSPOT_PORTAL_ID", OWN_PORTAL.into()),
            ("HUBSPOT_ACCESS_TOKEN", "pat-na1-security-private".into()),
        ],
        ..Default::default()
    })
    .await;
    slack_ok(&e.slack).await;
    for (code, team, bot, user) in [
        ("code-home", "T0HOME0001", "xoxb-home-bot", "U0HOMEADM1"),
        ("code-evil", "T0EVIL0001", "xoxb-evil-bot", "U0EVILUSR1"),
    ] {
        Mock::given(method("POST"))
            .and(path("/oauth.v2.access"))
            .and(wiremock::matchers::body_string_contains(format!("code={code}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ok": true, "access_token": bot, "token_type": "bot", "scope": "commands,chat:write",
                "bot_user_id": "U0BOT00001", "app_id": "A0APP00001",
                "team": {"id": team, "name": team}, "enterprise": null,
                "authed_user": {"id": user, "scope": "", "token_type": "user"}
            })))
            .mount(&e.slack)
            .await;
    }
    for m in ["/auth.revoke", "/views.publish"] {
        Mock::given(method("POST"))
            .and(path(m))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
            .mount(&e.slack)
            .await;
    }
    let key = e.runner.app.settings.oauth_state_key.clone();
    let ctx = Ctx {
        webhook_url: e.runner.app.settings.webhook_url(),
        respond_url: response_url(&e.slack, "claim"),
        state_key: key.clone(),
        used_state: String::new(),
    };
    let get = |target: String| -> Build {
        Box::new(move |_| Req {
            method: "GET",
            target: target.clone(),
            headers: vec![],
            body: vec![],
            chunked: false,
        })
    };
    let far = now_s() + 600;
    let cases = vec![
        case(
            "private app: install without a link",
            get("/hubspot/install".into()),
            403,
            "one-time link",
        ),
        case(
            "private app: install with a made-up link",
            get(format!("/hubspot/install?link={}", "ab".repeat(32))),
            403,
            "not valid any more",
        ),
        case(
            "private app: install with a malformed link",
            get("/hubspot/install?link=%27%3B--".into()),
            403,
            "not valid any more",
        ),
        case(
            "private app: a Slack-step state for no link",
            Box::new(move |ctx| {
                slack_cb(
                    &shared::flows::connect::encode_state(
                        &ctx.state_key,
                        "slack",
                        &"cd".repeat(32),
                        Some(OWN_PORTAL),
                        far,
                    ),
                    "code-home",
                    &ctx.state_key,
                )
            }),
            400,
            "already used",
        ),
    ];
    let mut failures = run(&e, &ctx, &cases, answers).await;

    // The operator's link connects the home workspace.
    let base = e.runner.url();
    let link = shared::flows::connect::make_install_link(&e.runner.app, 600)
        .await
        .unwrap();
    let target = link
        .trim_start_matches(&e.runner.app.settings.public_base_url)
        .to_string();
    let (s, location) = send(&base, &get(target)(&ctx)).await;
    let home = state_of(&location);
    let (s2, body) = send(&base, &slack_cb(&home, "code-home", &key)).await;
    e.drain().await;
    answers.push(body.clone());
    if s != 302 || s2 != 200 {
        failures.push(format!(
            "private app: the operator's link did not install: {s} {s2} {body:.200}"
        ));
        return failures;
    }
    // Someone with a second link (or the operator, by mistake) finishes it in another
    // workspace: refused, with the table's install exactly as it was.
    let link = shared::flows::connect::make_install_link(&e.runner.app, 600)
        .await
        .unwrap();
    let target = link
        .trim_start_matches(&e.runner.app.settings.public_base_url)
        .to_string();
    let (_, location) = send(&base, &get(target)(&ctx)).await;
    let evil = state_of(&location);
    let table = table_name(&e);
    let keep = |t: &std::collections::BTreeMap<(String, String), String>| {
        t.iter()
            .filter(|((pk, _), _)| !pk.starts_with("STATE#"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    let before = keep(&dump_table(&table).await);
    let (s, body) = send(&base, &slack_cb(&evil, "code-evil", &key)).await;
    e.drain().await;
    answers.push(body.clone());
    let after = keep(&dump_table(&table).await);
    let mut wrong = vec![];
    if s != 409 || !body.contains("connected to another Slack workspace") {
        wrong.push(format!("answer {s}: {body:.200}"));
    }
    if before != after {
        wrong.push("the install's items changed".to_string());
    }
    let revoked: Vec<String> = e
        .slack
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/auth.revoke")
        .map(|r| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        })
        .collect();
    if revoked != ["Bearer xoxb-evil-bot"] {
        wrong.push(format!(
            "revoked: {revoked:?} (only the attempt's own token may be)"
        ));
    }
    let told = e
        .slack_calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p["channel"] == "U0HOMEADM1")
        .count();
    if told != 1 {
        wrong.push(format!("the installer was told {told} times"));
    }
    println!(
        "{:<64} {s} {}",
        "private app: rebinding the connected portal to another workspace",
        if wrong.is_empty() { "ok" } else { "FAILED" }
    );
    if !wrong.is_empty() {
        failures.push(format!("private app rebinding: {}", wrong.join("; ")));
    }
    failures
}

/// Visitor text and names that try Slack markup; (name, visitor name, text, attachments).
fn injections() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    vec![
        (
            "mention everyone",
            "Eve",
            "Hi <!channel> and <!here|here> and <!everyone>",
            json!([]),
        ),
        (
            "forged link",
            "Eve",
            "Your invoice: <https://evil.example/login|https://bank.example>",
            json!([]),
        ),
        (
            "user and channel mentions",
            "Eve",
            "<@U0AGENT001> please see <#C0CHAN0001|general>",
            json!([]),
        ),
        (
            "pre-escaped entities",
            "Eve",
            "&lt;!channel&gt; &amp;lt; &#60;!here&#62;",
            json!([]),
        ),
        (
            "markup in the visitor's name",
            "<!channel> <https://evil.example|Support>",
            "hello",
            json!([]),
        ),
        (
            "broken token",
            "Eve",
            "<https://evil.example|x <!here>",
            json!([]),
        ),
        (
            "attachment link injection",
            "Eve",
            "see file",
            json!([
                {"name": "report>|<!channel>", "url": "https://files.example/a.pdf"},
                {"name": "x", "url": "https://evil.example/a|<!channel>"},
                {"name": "y", "url": "javascript:alert(1)"},
                {"name": "z", "url": "https://evil.example/a>b"}
            ]),
        ),
    ]
}

/// Every `<...>` token in a Slack text: only our links (inbox, attachments with clean URLs).
fn bad_tokens(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let end = after.find('>').unwrap_or(after.len());
        let inner = &after[..end];
        let target = inner.split('|').next().unwrap_or("");
        // Our own: the inbox link, the clean attachment link, and the card's timestamps
        // (`<!date^1795773602^{date_short_pretty}|…>`, digits only from us).
        let our_date = target
            .strip_prefix("!date^")
            .and_then(|d| d.split('^').next())
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        let ok = target.starts_with("https://app.hubspot.com/live-messages/")
            || target == "https://files.example/a.pdf"
            || our_date;
        if !ok {
            out.push(inner.to_string());
        }
        rest = &after[end.min(after.len())..];
    }
    out
}

async fn env() -> Env {
    let e = start(Opts {
        dynamo: true,
        ..Default::default()
    })
    .await;
    slack_ok(&e.slack).await;
    respond_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    slack_user(&e.slack, AGENT, "Ann", Some("ann@example.com")).await;
    slack_user(&e.slack, BOB, "Bob", Some("bob@example.com")).await;
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_and_change_nothing() {
    capture_logs();
    // The scan finds a piece of a secret anywhere in a line, and nothing in clean text.
    for leak in [
        format!("{{\"auth\":\"{}\"}}", &BOT_TOKEN[5..18]),
        format!("key={}", &TOKEN_KEY[20..32]),
        format!("x {} y", &HUBSPOT_SECRET[2..16]),
    ] {
        assert_eq!(secret_findings(&leak, &[]).len(), 1, "{leak}");
    }
    assert!(secret_findings("portal 22761544 conversation 3624100517 ok", &[]).is_empty());
    let mut answers: Vec<String> = vec![];
    let mut failures: Vec<String> = vec![];

    // ---- the bundle with one live chat notified (parent PARENT), assigned to Ann
    let e = env().await;
    e.inbox.set(
        &thread_json(T, "1000", "OPEN", Some("A-2620022")),
        &[message_json("m1", 1, "INCOMING", "Hello, I need help")],
    );
    let r = e
        .post_webhook(&json!([event("conversation.creation", T, json!({}))]))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    e.drain().await;
    let posts = e.slack_calls("chat.postMessage").await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    let ctx = Ctx {
        webhook_url: e.runner.app.settings.webhook_url(),
        respond_url: response_url(&e.slack, "claim"),
        state_key: e.runner.app.settings.oauth_state_key.clone(),
        used_state: String::new(),
    };
    println!("{:<64} status", "case");
    failures.extend(run(&e, &ctx, &edge_cases(), &mut answers).await);
    // The replays' originals went through exactly once each.
    let sent: Vec<String> = e
        .hubspot_calls("POST", &format!("{THREADS}/{T}/messages"))
        .await
        .iter()
        .map(|b| b["text"].as_str().unwrap_or("").to_string())
        .collect();
    if sent != ["Replay me once", "Replay me as a retry"] {
        failures.push(format!("replies sent to the inbox: {sent:?}"));
    }
    // No claim went through: Bob is nobody's, and each refusal was told privately.
    if e.runner
        .app
        .records
        .user_for_slack(TEAM, BOB)
        .await
        .unwrap()
        .is_some()
    {
        failures.push("Bob was linked to an inbox user".into());
    }
    let told = calls(&e.slack, "/respond/claim").await;
    if told.len() != 6 || told.iter().any(|t| t["response_type"] != "ephemeral") {
        failures.push(format!("private answers to the refused clicks: {told:?}"));
    }

    // ---- visitor markup: accepted, shown inert
    for (i, (name, visitor, text, attachments)) in injections().into_iter().enumerate() {
        let thread = format!("36241006{i:02}");
        let mut m = message_json(&format!("inj{i}"), 1, "INCOMING", text);
        m["senders"][0]["name"] = json!(visitor);
        m["attachments"] = attachments.clone();
        let mut m2 = message_json(&format!("inj{i}b"), 2, "INCOMING", text);
        m2["senders"][0]["name"] = json!(visitor);
        m2["attachments"] = attachments;
        e.inbox
            .set(&thread_json(&thread, "1000", "OPEN", None), &[m, m2]);
        let before = e.slack_calls("chat.postMessage").await.len();
        let r = e
            .post_webhook(&json!([event("conversation.creation", &thread, json!({}))]))
            .await;
        e.drain().await;
        let posts = e.slack_calls("chat.postMessage").await;
        let mine = &posts[before.min(posts.len())..];
        let mut wrong = vec![];
        if r.status().as_u16() != 200 || mine.len() != 2 {
            wrong.push(format!("status {} and {} posts", r.status(), mine.len()));
        }
        for p in mine {
            let shown = format!("{} {}", p["text"], p["blocks"]);
            let bad = bad_tokens(&shown);
            if !bad.is_empty() {
                wrong.push(format!("live tokens {bad:?}"));
            }
            if p["link_names"].as_bool() == Some(true) || p.get("parse").is_some() {
                wrong.push("sent with link_names or parse".into());
            }
        }
        println!(
            "{:<64} 200 {}",
            format!("injection: {name}"),
            if wrong.is_empty() { "ok" } else { "FAILED" }
        );
        if !wrong.is_empty() {
            failures.push(format!("injection {name}: {wrong:?}"));
        }
    }

    // ---- OAuth states: a deployment with OAuth configured (no single-workspace install)
    let o = start(Opts {
        dynamo: true,
        single_workspace: false,
        extra: vec![
            ("SLACK_CLIENT_ID", "1111.2222".into()),
            ("SLACK_CLIENT_SECRET", "test-slack-client-secret".into()),
            ("HUBSPOT_CLIENT_ID", "hs-client-id".into()),
        ],
        ..Default::default()
    })
    .await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"status": "BAD_AUTH_CODE", "message": "missing or unknown auth code"}),
        ))
        .mount(&o.hubspot)
        .await;
    // A state issued by the install route, then used once (the code exchange fails).
    let (s, location) = send(
        &o.runner.url(),
        &Req {
            method: "GET",
            target: "/hubspot/install".into(),
            headers: vec![],
            body: vec![],
            chunked: false,
        },
    )
    .await;
    let state = location
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("state="))
        .map(percent_decode)
        .unwrap_or_default();
    if s != 302 || state.is_empty() {
        failures.push(format!("/hubspot/install: {s} {location:.200}"));
    }
    let (s, first) = send(
        &o.runner.url(),
        &Req {
            method: "GET",
            target: format!(
                "/hubspot/oauth/callback?code=code-123&state={}",
                percent(&state)
            ),
            // From the browser that started it (the cookie /hubspot/install set).
            headers: vec![(
                "cookie".to_string(),
                format!(
                    "{}={}",
                    shared::flows::connect::browser_cookie_name(&state).unwrap_or_default(),
                    shared::flows::connect::browser_binding(
                        &o.runner.app.settings.oauth_state_key,
                        &state
                    )
                    .unwrap_or_default()
                ),
            )],
            body: vec![],
            chunked: false,
        },
    )
    .await;
    answers.push(first);
    if s == 400 {
        failures.push("the first use of an issued state was refused".into());
    }
    let octx = Ctx {
        webhook_url: o.runner.app.settings.webhook_url(),
        respond_url: response_url(&o.slack, "claim"),
        state_key: o.runner.app.settings.oauth_state_key.clone(),
        used_state: state,
    };
    failures.extend(run(&o, &octx, &oauth_cases(), &mut answers).await);

    // ---- private-app mode: no anonymous entry, and no rebinding of the connected portal
    failures.extend(private_app_cases(&mut answers).await);

    // ---- no secret in any log line or answer
    let path = save_logs("security");
    let mut extra = signatures_sent();
    extra.push(o.runner.app.settings.oauth_state_key.expose().to_string());
    extra.push("test-slack-client-secret".into());
    let leaks = secret_findings(&logs(), &extra);
    let leaks_in_answers = secret_findings(&answers.join("\n"), &extra);
    println!(
        "logs: {} ({} lines), {} secret findings; answers: {} findings",
        path.display(),
        logs().lines().count(),
        leaks.len(),
        leaks_in_answers.len()
    );
    failures.extend(leaks.into_iter().map(|l| format!("log leak: {l}")));
    failures.extend(
        leaks_in_answers
            .into_iter()
            .map(|l| format!("answer leak: {l}")),
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
