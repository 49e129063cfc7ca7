//! The Lambda edge: turn a lambda_http request into our `Request`, serve it, turn the
//! `Response` back. Each HTTP function's `main` is `lambda::serve_http("<name>")`.

use std::sync::Arc;

use bytes::Bytes;
use lambda_http::{service_fn, Body, Error, Request as LambdaRequest};

use crate::app::App;
use crate::edge::routes;
use crate::support::http::Request;

/// Converts a lambda_http request. API Gateway may hand the body base64-encoded; lambda_http
/// has decoded it into `Body::Binary` by now, so the bytes are exactly what was signed.
pub fn from_lambda(req: LambdaRequest) -> Request {
    let (parts, body) = req.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    Request {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    }
}

/// Runs an HTTP function: JSON logs, the app built once per cold start, then the runtime loop.
pub async fn serve_http(function: &'static str) -> Result<(), Error> {
    crate::support::telemetry::init_json();
    crate::support::metrics::set_function(function);
    let app: Arc<App> = App::from_lambda().await.map_err(|e| {
        tracing::error!(function, error = %e, "start failed");
        Error::from(e.to_string())
    })?;
    tracing::info!(function, store = app.records.store().kind(), "started");
    lambda_http::run(service_fn(move |req: LambdaRequest| {
        let app = app.clone();
        async move {
            let started = std::time::Instant::now();
            let req = from_lambda(req);
            let route = route_label(&req);
            let resp = routes::handle_for(&app, function, req).await;
            crate::support::metrics::request(route, resp.status.as_u16(), started.elapsed());
            Ok::<_, Error>(resp.into_http::<Body>())
        }
    }))
    .await
}

/// The `Route` metrics dimension: a known route's path, never the raw request path (which
/// the caller controls, and each distinct value would be a metric of its own).
pub fn route_label(req: &Request) -> &'static str {
    let path = req.path.trim_end_matches('/');
    routes::routes()
        .into_iter()
        .find(|r| r.path == path && r.method == req.method)
        .map(|r| r.path)
        .unwrap_or("unmatched")
}
