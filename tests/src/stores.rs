//! Fresh stores for tests: an embedded one, and a DynamoDB one on its own table in moto.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use shared::store::dynamo::DynamoStore;
use shared::store::embedded::EmbeddedStore;
use shared::store::Store;

/// A name no other test (in this process or a concurrent one) uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

/// The DynamoDB endpoint (moto), from `DYNAMODB_ENDPOINT`. Panics when unset: the tests must
/// fail rather than silently skip the DynamoDB half.
pub fn dynamodb_endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .expect("DYNAMODB_ENDPOINT is not set: run the tests through scripts/test.sh, which starts moto")
}

/// An SDK client for the endpoint. Built per call: the SDK's connection pool belongs to the
/// tokio runtime that created it, and every #[tokio::test] has its own runtime.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(dynamodb_endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&conf)
}

/// A DynamoDB store on a new, uniquely named table.
pub async fn dynamo_store() -> Arc<DynamoStore> {
    let store = DynamoStore::new(dynamodb_client().await, unique_name("store-test"));
    store
        .create_table_if_missing()
        .await
        .unwrap_or_else(|e| panic!("creating the test table: {e}"));
    Arc::new(store)
}

/// A fresh store of each kind, named by backend.
pub async fn all_stores() -> Vec<(&'static str, Arc<dyn Store>)> {
    vec![
        ("embedded", Arc::new(EmbeddedStore::in_memory())),
        ("dynamodb", dynamo_store().await),
    ]
}
