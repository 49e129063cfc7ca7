//! Installing by OAuth (Slack OAuth v2, HubSpot OAuth) and the pages an admin sees.
//! Not built yet: until it is, these routes say so plainly and point at single-workspace
//! mode, which is how an install is defined without OAuth (see the README).

use http::StatusCode;

use crate::app::App;
use crate::http::{Request, Response};
use crate::routes::Route;

pub async fn handle(_app: &App, route: Route, _req: &Request) -> Response {
    tracing::info!(route = ?route, "OAuth route called; OAuth installs are not available in this build");
    Response::html(
        StatusCode::NOT_IMPLEMENTED,
        page(
            "Install by OAuth is not available yet",
            "This deployment is set up in single-workspace mode: the HubSpot portal, the Slack workspace and the channel come from its settings. Ask the operator to fill HUBSPOT_PORTAL_ID, HUBSPOT_ACCESS_TOKEN, SLACK_TEAM_ID, SLACK_BOT_TOKEN and SLACK_CHANNEL_ID in the bundle's secret.",
        ),
    )
}

/// A small accessible HTML page.
pub fn page(title: &str, body: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title></head>\n<body><main><h1>{t}</h1><p>{b}</p></main></body></html>\n",
        t = esc(title),
        b = esc(body)
    )
}
