//! Lambda `chat-webhook`: POST /hubspot/webhook. All rules live in the `shared` crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::serve_http("chat-webhook").await
}
