//! The samples in events/raw are realistic: each one, signed, is accepted by its route, both
//! through the local runner over HTTP and as an API Gateway HTTP API (v2) event through the
//! Lambda edge (`shared::edge::lambda::from_lambda` + `routes::handle_for`), plain and base64.

use base64::Engine;
use integration_tests::harness::*;
use local_runner::sample::{apigw_event, sign, Secrets};

fn samples() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/raw");
    let mut out = vec![];
    for route in std::fs::read_dir(root).expect("events/raw") {
        let route = route.unwrap().path();
        for f in std::fs::read_dir(&route).unwrap() {
            let f = f.unwrap().path();
            let name = f.to_string_lossy().to_string();
            // *.payload.json are the readable sources of the .form files.
            if !name.ends_with(".payload.json") {
                out.push(name);
            }
        }
    }
    out.sort();
    assert!(out.len() >= 20, "{out:?}");
    out
}

fn secrets(e: &Env) -> Secrets {
    Secrets {
        slack_signing_secret: Some(SIGNING_SECRET.into()),
        hubspot_client_secret: Some(HUBSPOT_SECRET.into()),
        public_base_url: e.runner.app.settings.public_base_url.clone(),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn env() -> Env {
    let e = start(Opts::default()).await;
    slack_ok(&e.slack).await;
    respond_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    e
}

#[tokio::test]
async fn every_sample_is_accepted_through_the_runner() {
    let e = env().await;
    for f in samples() {
        let s = sign(&f, &secrets(&e), now_ms()).unwrap();
        let mut req = e
            .http
            .post(e.url(s.path))
            .header("content-type", s.content_type)
            .body(s.body.clone());
        for (k, v) in &s.headers {
            req = req.header(k, v);
        }
        let r = req.send().await.unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "{f}: {}",
            r.text().await.unwrap_or_default()
        );
    }
    e.drain().await;
}

#[tokio::test]
async fn every_sample_is_accepted_as_an_api_gateway_event() {
    let e = env().await;
    for f in samples() {
        for base64 in [false, true] {
            let s = sign(&f, &secrets(&e), now_ms()).unwrap();
            let mut event = apigw_event(&s, now_ms());
            if base64 {
                event["body"] = base64::engine::general_purpose::STANDARD
                    .encode(s.body.as_bytes())
                    .into();
                event["isBase64Encoded"] = true.into();
            }
            let req = lambda_http::request::from_str(&event.to_string())
                .unwrap_or_else(|err| panic!("{f}: {err}"));
            let req = shared::edge::lambda::from_lambda(req);
            assert_eq!(
                req.body.as_ref(),
                s.body.as_bytes(),
                "{f}: body bytes changed"
            );
            let function = shared::edge::routes::routes()
                .into_iter()
                .find(|r| r.path == s.path)
                .unwrap()
                .function;
            let resp = shared::edge::routes::handle_for(&e.runner.app, function, req).await;
            assert_eq!(
                resp.status.as_u16(),
                200,
                "{f} (base64 {base64}): {}",
                resp.body
            );
        }
    }
    e.drain().await;
}

#[tokio::test]
async fn a_function_serves_only_its_own_routes() {
    let e = env().await;
    let f = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/raw/slack-events/url-verification.json"
    );
    let s = sign(f, &secrets(&e), now_ms()).unwrap();
    let req = shared::edge::lambda::from_lambda(
        lambda_http::request::from_str(&apigw_event(&s, now_ms()).to_string()).unwrap(),
    );
    let resp = shared::edge::routes::handle_for(&e.runner.app, "chat-webhook", req).await;
    assert_eq!(resp.status.as_u16(), 404);
}

#[tokio::test]
async fn committed_api_gateway_events_are_valid_lambda_http_requests() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/apigw");
    let mut n = 0;
    for route in std::fs::read_dir(root).expect("events/apigw") {
        for f in std::fs::read_dir(route.unwrap().path()).unwrap() {
            let f = f.unwrap().path();
            let text = std::fs::read_to_string(&f).unwrap();
            let req = lambda_http::request::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let req = shared::edge::lambda::from_lambda(req);
            assert!(
                shared::edge::routes::routes()
                    .iter()
                    .any(|r| r.path == req.path && r.method == req.method),
                "{}: no route {} {}",
                f.display(),
                req.method,
                req.path
            );
            n += 1;
        }
    }
    assert!(n >= 25, "{n}");
}
