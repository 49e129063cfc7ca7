//! The install pages: small, accessible, no script, nothing cached.

use http::StatusCode;

use crate::app::App;
use crate::support::http::Response;

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(super) fn redirect_to(url: &str) -> Response {
    Response::redirect(url)
        .with_header("cache-control", "no-store")
        .with_header("referrer-policy", "no-referrer")
}

/// A small accessible page: language, title, one `h1`, paragraphs, an ordered list of
/// steps, links; no script; no caching; no referrer (callback URLs carry codes).
pub(super) struct Page {
    status: StatusCode,
    title: String,
    parts: Vec<String>,
}

impl Page {
    pub(super) fn new(status: StatusCode, title: &str) -> Self {
        Page {
            status,
            title: title.to_string(),
            parts: vec![],
        }
    }
    pub(super) fn text(mut self, t: &str) -> Self {
        self.parts.push(format!("<p>{}</p>", esc(t)));
        self
    }
    pub(super) fn steps(mut self, items: Vec<String>) -> Self {
        let li: String = items
            .iter()
            .map(|i| format!("<li>{}</li>", esc(i)))
            .collect();
        self.parts.push(format!("<ol>{li}</ol>"));
        self
    }
    pub(super) fn list(mut self, items: Vec<String>) -> Self {
        let li: String = items
            .iter()
            .map(|i| format!("<li>{}</li>", esc(i)))
            .collect();
        self.parts.push(format!("<ul>{li}</ul>"));
        self
    }
    pub(super) fn link(mut self, href: &str, text: &str) -> Self {
        self.parts.push(format!(
            "<p><a class=\"button\" href=\"{}\">{}</a></p>",
            esc(href),
            esc(text)
        ));
        self
    }
    pub(super) fn start_again(self, app: &App) -> Self {
        let url = format!("{}/slack/install", app.settings.public_base_url);
        self.link(&url, "Start the install again")
    }
    pub(super) fn render(self) -> Response {
        Response::html(self.status, page_html(&self.title, &self.parts.concat()))
            .with_header("cache-control", "no-store")
            .with_header("referrer-policy", "no-referrer")
            .with_header("x-content-type-options", "nosniff")
            .with_header(
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            )
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;line-height:1.5;margin:0;padding:2rem 1rem;color:#1d1c1d;background:#fff}main{max-width:38rem;margin:0 auto}a{color:#1264a3}a.button{display:inline-block;margin-top:.5rem;padding:.6rem 1.1rem;background:#1264a3;color:#fff;border-radius:4px;text-decoration:none;font-weight:600}a:focus{outline:3px solid #e8912d;outline-offset:2px}";

fn page_html(title: &str, body_html: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title><style>{STYLE}</style></head>\n<body><main><h1>{t}</h1>{body_html}</main></body></html>\n",
        t = esc(title)
    )
}

/// A small accessible HTML page of one paragraph.
pub fn page(title: &str, body: &str) -> String {
    page_html(title, &format!("<p>{}</p>", esc(body)))
}
