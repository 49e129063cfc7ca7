//! Request/response plumbing shared by the Lambdas and the local runner: both hand the same
//! `Request` to `routes::handle`, so a route behaves the same in both.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

/// Larger bodies are refused with 413 before anything else is read. Slack and HubSpot send
/// a few KB; 1 MiB leaves room for big message events and a 100-event webhook batch.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// An incoming request, body as the exact bytes received (signatures cover those bytes).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The query parameters, decoded (later duplicates win).
    pub fn query_params(&self) -> std::collections::HashMap<String, String> {
        self.query
            .as_deref()
            .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// An outgoing response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Response {
    pub fn new(status: StatusCode, content_type: &str, body: impl Into<String>) -> Self {
        Response {
            status,
            headers: vec![("content-type", content_type.to_string())],
            body: body.into(),
        }
    }

    /// 200 with no body: the plain acknowledgement Slack and HubSpot expect.
    pub fn ok() -> Self {
        Response {
            status: StatusCode::OK,
            headers: vec![],
            body: String::new(),
        }
    }

    pub fn json(status: StatusCode, value: &serde_json::Value) -> Self {
        Self::new(status, "application/json", value.to_string())
    }

    /// A short error: `{"error": reason}`. Reasons name what was wrong, never a secret.
    pub fn error(status: StatusCode, reason: &str) -> Self {
        Self::json(status, &serde_json::json!({ "error": reason }))
    }

    pub fn html(status: StatusCode, body: impl Into<String>) -> Self {
        Self::new(status, "text/html; charset=utf-8", body)
    }

    pub fn redirect(location: &str) -> Self {
        Response {
            status: StatusCode::FOUND,
            headers: vec![("location", location.to_string())],
            body: String::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Into an `http::Response` (for the local runner and lambda_http).
    pub fn into_http<B: From<String>>(self) -> http::Response<B> {
        let mut builder = http::Response::builder().status(self.status);
        for (k, v) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(v) {
                builder = builder.header(*k, v);
            }
        }
        builder
            .body(B::from(self.body.clone()))
            .unwrap_or_else(|_| http::Response::new(B::from(String::new())))
    }
}

/// A reqwest error as text with its sources, for errors that must not carry the URL.
pub fn error_chain(e: reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// serde_json's message without the quoted values it sometimes includes (user data).
pub fn describe_json_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if msg.starts_with("missing field") {
        msg
    } else {
        format!(
            "unexpected JSON shape at line {} column {}",
            e.line(),
            e.column()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_decode() {
        let r = Request {
            method: Method::GET,
            path: "/x".into(),
            query: Some("code=a%2Fb&state=s+t".into()),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        };
        let q = r.query_params();
        assert_eq!(q.get("code").map(String::as_str), Some("a/b"));
        assert_eq!(q.get("state").map(String::as_str), Some("s t"));
    }

    #[test]
    fn error_body_is_json() {
        let r = Response::error(StatusCode::BAD_REQUEST, "bad \"json\"");
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["error"], "bad \"json\"");
        assert_eq!(r.header("Content-Type"), Some("application/json"));
    }
}
