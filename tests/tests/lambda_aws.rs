//! The AWS half of the Lambdas against moto through the real SDK: settings from a Secrets
//! Manager secret, jobs through an SQS FIFO queue into the delivery worker's batch handler
//! (retries reported per item, dead letters kept). One test function: it sets process
//! environment variables, which tests in the same binary must not race on.

use std::collections::HashMap;

use aws_lambda_events::event::sqs::SqsEvent;
use integration_tests::harness::*;
use integration_tests::stores::{dynamodb_endpoint, unique_name};
use serde_json::{json, Value};
use shared::queue::{Job, JobQueue, SqsQueue};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn sdk() -> aws_config::SdkConfig {
    shared::app::sdk_config(Some(&dynamodb_endpoint())).await
}

/// Receives what the queue holds and shapes it as the SQS event Lambda would deliver.
async fn receive(sqs: &aws_sdk_sqs::Client, url: &str) -> SqsEvent {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let records: Vec<Value> = out
        .messages()
        .iter()
        .map(|m| {
            let attrs: HashMap<String, String> = m
                .attributes()
                .map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), v.clone())).collect())
                .unwrap_or_default();
            json!({"messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                   "attributes": attrs, "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1"})
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

#[tokio::test]
async fn settings_from_the_secret_and_jobs_through_sqs() {
    let conf = sdk().await;
    // --- settings from Secrets Manager ---
    let sm = aws_sdk_secretsmanager::Client::new(&conf);
    let secret = json!({
        "SLACK_SIGNING_SECRET": "from-secret-signing", "HUBSPOT_CLIENT_SECRET": "from-secret-hubspot",
        "TOKEN_ENCRYPTION_KEY": TOKEN_KEY, "HUBSPOT_PORTAL_ID": PORTAL, "HUBSPOT_ACCESS_TOKEN": HS_TOKEN,
        "SLACK_TEAM_ID": TEAM, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_CHANNEL_ID": CHANNEL
    });
    let arn = sm
        .create_secret()
        .name(unique_name("bundle"))
        .secret_string(secret.to_string())
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let qname = format!("{}.fifo", unique_name("jobs"));
    let queue_url = sqs
        .create_queue()
        .queue_name(&qname)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let table = unique_name("lambda");
    for (k, v) in [
        ("SECRET_ARN", arn.as_str()),
        ("AWS_ENDPOINT_URL", &dynamodb_endpoint()),
        ("DYNAMODB_ENDPOINT", &dynamodb_endpoint()),
        ("TABLE_NAME", &table),
        ("QUEUE_URL", &queue_url),
        (
            "PUBLIC_BASE_URL",
            "https://abc.execute-api.us-east-1.amazonaws.com",
        ),
        ("SLACK_SIGNING_SECRET", "from-env-must-lose"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        std::env::set_var(k, v);
    }
    let app = shared::app::App::from_lambda()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        app.settings.slack_signing_secret.expose(),
        "from-secret-signing",
        "the secret wins over the environment"
    );
    assert_eq!(app.records.store().kind(), "dynamodb");
    let install = app
        .records
        .get_install(PORTAL)
        .await
        .unwrap()
        .expect("single-workspace install written at start");
    assert_eq!(install.channel_id.as_deref(), Some(CHANNEL));
    // Tokens are encrypted in the table.
    let raw = app
        .records
        .store()
        .get("INSTALL#22761544", "INSTALL")
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{raw:?}").contains(BOT_TOKEN) && !format!("{raw:?}").contains(HS_TOKEN));

    // A malformed secret names the problem.
    let bad = sm
        .create_secret()
        .name(unique_name("bad"))
        .secret_string("{\"SLACK_SIGNING_SECRET\": 5}")
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    std::env::set_var("SECRET_ARN", &bad);
    let err = shared::app::App::from_lambda()
        .await
        .err()
        .expect("malformed secret refused")
        .to_string();
    assert!(
        err.contains("SLACK_SIGNING_SECRET must be a string"),
        "{err}"
    );
    std::env::set_var(
        "SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf",
    );
    let err = shared::app::App::from_lambda()
        .await
        .err()
        .expect("missing secret refused")
        .to_string();
    assert!(err.contains("could not read the secret"), "{err}");
    let missing = sm
        .create_secret()
        .name(unique_name("partial"))
        .secret_string(
            json!({"SLACK_SIGNING_SECRET": "x", "HUBSPOT_CLIENT_SECRET": "y"}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    std::env::set_var("SECRET_ARN", &missing);
    let err = shared::app::App::from_lambda()
        .await
        .err()
        .expect("incomplete secret refused")
        .to_string();
    assert_eq!(err, "setting TOKEN_ENCRYPTION_KEY is required but not set");

    // --- the operator's one-time install link, made against the stack's table and secret
    // (what scripts/install-link.sh runs), then followed on a Lambda-built app ---
    let private = sm
        .create_secret()
        .name(unique_name("private"))
        .secret_string(
            json!({"SLACK_SIGNING_SECRET": "s", "HUBSPOT_CLIENT_SECRET": "h",
                "TOKEN_ENCRYPTION_KEY": TOKEN_KEY, "HUBSPOT_PORTAL_ID": "50505050",
                "HUBSPOT_ACCESS_TOKEN": "pat-na1-lambda-private", "SLACK_CLIENT_ID": "1.2",
                "SLACK_CLIENT_SECRET": "slack-cs"})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    std::env::set_var("SECRET_ARN", &private);
    std::env::set_var("TABLE_NAME", unique_name("links"));
    let link = local_runner::install_link(3600, "http://unused.test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let prefix = "https://abc.execute-api.us-east-1.amazonaws.com/hubspot/install?link=";
    assert!(link.starts_with(prefix), "{link}");
    let stack = shared::app::App::from_lambda()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let follow = |target: String| shared::support::http::Request {
        method: http::Method::GET,
        path: "/hubspot/install".into(),
        query: target.split_once('?').map(|(_, q)| q.to_string()),
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new(),
    };
    let r = shared::edge::routes::handle(&stack, follow(link.clone())).await;
    assert_eq!(r.status.as_u16(), 302, "{}", r.body);
    let r =
        shared::edge::routes::handle(&stack, follow(format!("x?link={}", "0".repeat(64)))).await;
    assert_eq!(r.status.as_u16(), 403);
    std::env::set_var("TABLE_NAME", &table);

    // --- jobs through the SQS FIFO queue into the worker ---
    let e = start(Opts::default()).await;
    slack_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    e.inbox.set(
        &thread_json("3624100517", "1000", "OPEN", None),
        &[message_json("m1", 1, "INCOMING", "hi")],
    );
    // The producer as the functions build it: SendMessage through the lean, signed sender.
    let sender = shared::queue::sqs_send::SqsSender::from_sdk(&conf, reqwest::Client::new());
    assert!(sender.is_some(), "a sender from the SDK's configuration");
    let producer = SqsQueue::new(sqs.clone(), queue_url.clone()).with_sender(sender);
    let job = Job::SyncConversation {
        portal_id: PORTAL.into(),
        thread_id: "3624100517".into(),
        reason: Default::default(),
        message_id: None,
    };
    producer.enqueue(job.clone(), "evt-1").await.unwrap();
    // FIFO deduplication: the same delivery again within five minutes is dropped by SQS.
    producer.enqueue(job.clone(), "evt-1").await.unwrap();
    let batch = receive(&sqs, &queue_url).await;
    assert_eq!(
        batch.records.len(),
        1,
        "deduplicated by MessageDeduplicationId"
    );
    let body: Job = serde_json::from_str(batch.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(body, job);
    let resp = shared::edge::worker::handle_sqs_batch(&e.runner.app, batch).await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(e.slack_calls("chat.postMessage").await.len(), 1);

    // A retryable failure is reported for that item only; at the last receive it is
    // dead-lettered in the table and still reported, so SQS moves it to its DLQ.
    e.inbox.set(
        &thread_json("3624100600", "1000", "OPEN", None),
        &[message_json("n1", 1, "INCOMING", "yo")],
    );
    Mock::given(method("GET"))
        .and(path(format!("{THREADS}/3624100600")))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(1)
        .mount(&e.hubspot)
        .await;
    let failing = Job::SyncConversation {
        portal_id: PORTAL.into(),
        thread_id: "3624100600".into(),
        reason: Default::default(),
        message_id: None,
    };
    let mk = |n: u32, id: &str| -> SqsEvent {
        serde_json::from_value(
            json!({"Records": [{"messageId": id, "body": serde_json::to_string(&failing).unwrap(),
            "attributes": {"ApproximateReceiveCount": n.to_string()}}]}),
        )
        .unwrap()
    };
    let resp = shared::edge::worker::handle_sqs_batch(&e.runner.app, mk(1, "q-1")).await;
    assert_eq!(resp.batch_item_failures.len(), 1);
    assert_eq!(resp.batch_item_failures[0].item_identifier, "q-1");
    assert!(e.dead_letters().await.is_empty());
    let resp = shared::edge::worker::handle_sqs_batch(
        &e.runner.app,
        mk(shared::edge::worker::MAX_RECEIVES, "q-5"),
    )
    .await;
    assert_eq!(resp.batch_item_failures.len(), 1);
    let dead = e.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].conversation_id.as_deref(), Some("3624100600"));
    // A message that is not a job is left for the DLQ, not dropped.
    let junk: SqsEvent =
        serde_json::from_value(json!({"Records": [{"messageId": "junk", "body": "{not a job"}]}))
            .unwrap();
    let resp = shared::edge::worker::handle_sqs_batch(&e.runner.app, junk).await;
    assert_eq!(resp.batch_item_failures[0].item_identifier, "junk");

    // --- a retry comes back after its delay, not after the whole visibility timeout ---
    let slow_q = sqs
        .create_queue()
        .queue_name(format!("{}.fifo", unique_name("retry")))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "360",
        )
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let on_sqs = shared::app::App {
        settings: e.runner.app.settings.clone(),
        records: e.runner.app.records.clone(),
        slack: e.runner.app.slack.clone(),
        inbox: e.runner.app.inbox.clone(),
        queue: std::sync::Arc::new(SqsQueue::new(sqs.clone(), slow_q.clone())),
        clock: e.runner.app.clock.clone(),
        lookups: Default::default(),
    };
    SqsQueue::new(sqs.clone(), slow_q.clone())
        .enqueue(failing.clone(), "retry-1")
        .await
        .unwrap();
    let take = |vis: Option<i32>| {
        let sqs = sqs.clone();
        let url = slow_q.clone();
        async move {
            let out = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .set_visibility_timeout(vis)
                .send()
                .await
                .unwrap();
            out.messages().to_vec()
        }
    };
    // Received as Lambda receives it: invisible for the queue's 360 s.
    let got = take(None).await;
    assert_eq!(got.len(), 1);
    let batch: SqsEvent = serde_json::from_value(json!({"Records": [{
        "messageId": got[0].message_id(), "receiptHandle": got[0].receipt_handle(),
        "body": got[0].body(), "attributes": {"ApproximateReceiveCount": "1"}}]}))
    .unwrap();
    let resp = shared::edge::worker::handle_sqs_batch(&on_sqs, batch).await;
    assert_eq!(resp.batch_item_failures.len(), 1, "HubSpot 503: retried");
    // First retry: 2 s (no Retry-After from HubSpot here).
    assert!(take(Some(0)).await.is_empty(), "not visible at once");
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let again = take(Some(0)).await;
    assert_eq!(
        again.len(),
        1,
        "visible again after the retry delay, not after 360 s"
    );
}
