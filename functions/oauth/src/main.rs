//! Lambda `oauth`: GET /slack/install, /slack/oauth/callback, /hubspot/install, /hubspot/oauth/callback, /health. All rules live in the `shared` crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::serve_http("oauth").await
}
