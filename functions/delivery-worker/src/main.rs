//! Lambda `delivery-worker`: runs the jobs the HTTP functions put on the SQS FIFO queue
//! (Slack posts, inbox replies, commands), reporting failed items so SQS retries only those.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::support::telemetry::init_json();
    let app = shared::app::App::from_lambda()
        .await
        .map_err(|e| Error::from(e.to_string()))?;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<SqsEvent>| {
        let app = app.clone();
        async move {
            Ok::<SqsBatchResponse, Error>(
                shared::edge::worker::handle_sqs_batch(&app, ev.payload).await,
            )
        }
    }))
    .await
}
