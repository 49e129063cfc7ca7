//! Lambda `slash-commands`: POST /slack/commands. All rules live in the `shared` crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::serve_http("slash-commands").await
}
