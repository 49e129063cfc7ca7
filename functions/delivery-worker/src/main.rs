//! Lambda `delivery-worker`: runs the jobs the HTTP functions put on the SQS FIFO queue
//! (Slack posts, inbox replies, commands), reporting failed items so SQS retries only those;
//! and, invoked by the scheduler every minute, the sweep that queues what is due.

use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::support::telemetry::init_json();
    let app = shared::app::App::from_lambda()
        .await
        .map_err(|e| Error::from(e.to_string()))?;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<serde_json::Value>| {
        let app = app.clone();
        async move {
            shared::edge::worker::handle_invocation(&app, ev.payload)
                .await
                .map_err(Error::from)
        }
    }))
    .await
}
