//! `Store` on DynamoDB through the AWS SDK.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction, Delete,
    GlobalSecondaryIndex, GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType,
    KeysAndAttributes, Projection, ProjectionType, Put, ReturnValue, ScalarAttributeType,
    TableStatus, TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;

use super::{
    key_of, Attr, Cond, Item, Store, StoreError, Write, DUE, DUEAT, DUEPK, GSI1, GSI1PK, PK, SK,
    TTL,
};

/// DynamoDB's limit on the number of writes in one TransactWriteItems call.
const MAX_TRANSACT: usize = 100;
/// BatchGetItem takes at most 100 keys; unprocessed ones are asked again this many times.
const MAX_BATCH_GET: usize = 100;
const MAX_BATCH_ROUNDS: u32 = 5;
/// How long `create_table_if_missing` waits for the table (and its index) to become ACTIVE.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

type AvMap = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the table (pk/sk, portal index, TTL on `ttl`) unless it exists, and waits until it
    /// is usable. For local runs and tests; production tables come from the template.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        let key = |name: &str, kt| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kt)
                .build()
                .map_err(build_err)
        };
        let typed = |name: &str, t: ScalarAttributeType| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(t)
                .build()
                .map_err(build_err)
        };
        let attr = |name: &str| typed(name, ScalarAttributeType::S);
        // Both indexes project every attribute.
        let index = |name: &str, keys: Vec<KeySchemaElement>| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .set_key_schema(Some(keys))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_err)
        };
        let gsi = index(GSI1, vec![key(GSI1PK, KeyType::Hash)?])?;
        let due = index(
            DUE,
            vec![key(DUEPK, KeyType::Hash)?, key(DUEAT, KeyType::Range)?],
        )?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .attribute_definitions(attr(PK)?)
            .attribute_definitions(attr(SK)?)
            .attribute_definitions(attr(GSI1PK)?)
            .attribute_definitions(attr(DUEPK)?)
            .attribute_definitions(typed(DUEAT, ScalarAttributeType::N)?)
            .global_secondary_indexes(gsi)
            .global_secondary_indexes(due.clone())
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => return Err(backend("CreateTable", e)),
        }
        self.wait_active().await?;
        // A table made before the timer index gets it (the template adds it on AWS).
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| backend("DescribeTable", e))?;
        let has_due = described.table().is_some_and(|t| {
            t.global_secondary_indexes()
                .iter()
                .any(|g| g.index_name() == Some(DUE))
        });
        let due_index = due;
        if !has_due {
            // The index as a new table has it.
            let create = CreateGlobalSecondaryIndexAction::builder()
                .index_name(DUE)
                .set_key_schema(Some(due_index.key_schema().to_vec()))
                .set_projection(due_index.projection().cloned())
                .build()
                .map_err(build_err)?;
            self.client
                .update_table()
                .table_name(&self.table)
                .attribute_definitions(attr(DUEPK)?)
                .attribute_definitions(typed(DUEAT, ScalarAttributeType::N)?)
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder().create(create).build(),
                )
                .send()
                .await
                .map_err(|e| backend("UpdateTable", e))?;
            self.wait_active().await?;
        }

        // UpdateTimeToLive fails when TTL is already on, so look first.
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| backend("DescribeTimeToLive", e))?;
        let status = ttl
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if !matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(TTL)
                .enabled(true)
                .build()
                .map_err(build_err)?;
            self.client
                .update_time_to_live()
                .table_name(&self.table)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| backend("UpdateTimeToLive", e))?;
        }
        Ok(())
    }

    /// Polls DescribeTable (the SDK waiter's first retry is 20 s away, too slow for tests).
    async fn wait_active(&self) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
        loop {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| backend("DescribeTable", e))?;
            let active = out.table().is_some_and(|t| {
                t.table_status() == Some(&TableStatus::Active)
                    && t.global_secondary_indexes()
                        .iter()
                        .all(|g| g.index_status() == Some(&IndexStatus::Active))
            });
            if active {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Backend(format!(
                    "table {} not ACTIVE after {ACTIVE_TIMEOUT:?}",
                    self.table
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn query_all(
        &self,
        op: &'static str,
        index: Option<&str>,
        key_condition: &str,
        expr: Expr,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<AvMap> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_string))
                // GSIs only support eventually consistent reads.
                .consistent_read(index.is_none())
                .key_condition_expression(key_condition)
                .set_expression_attribute_names(Some(expr.names.clone()))
                .set_expression_attribute_values(Some(expr.values.clone()))
                .scan_index_forward(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| backend(op, e))?;
            for it in page.items() {
                out.push(from_av_map(it.clone())?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", e))?;
        out.item.map(from_av_map).transpose()
    }

    async fn get_many(&self, keys: &[(String, String)]) -> Result<Vec<Option<Item>>, StoreError> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        if keys.len() > MAX_BATCH_GET {
            return Err(StoreError::Backend(format!(
                "{} keys exceed BatchGetItem's limit of {MAX_BATCH_GET}",
                keys.len()
            )));
        }
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        let mut pending: Vec<AvMap> = keys.iter().map(|(pk, sk)| key_map(pk, sk)).collect();
        // Keys DynamoDB leaves unprocessed (throttling) are asked again, with a short pause.
        for round in 0..MAX_BATCH_ROUNDS {
            let ask = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(build_err)?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, ask)
                .send()
                .await
                .map_err(|e| backend("BatchGetItem", e))?;
            for it in out
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                let it = from_av_map(it)?;
                found.insert(key_of(&it)?, it);
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(keys.iter().map(|k| found.remove(k)).collect());
            }
            tokio::time::sleep(Duration::from_millis(20 << round)).await;
        }
        Err(StoreError::Backend(
            "BatchGetItem: keys still unprocessed after retries".into(),
        ))
    }

    async fn put(&self, item: Item, cond: Cond) -> Result<(), StoreError> {
        checked_key(&item)?;
        let expr = cond_expr(&cond);
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_av_map(item)))
            .set_condition_expression(expr.expr)
            .set_expression_attribute_names(non_empty(expr.names))
            .set_expression_attribute_values(non_empty(expr.values))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::ConditionFailed)
            }
            Err(e) => Err(backend("PutItem", e)),
        }
    }

    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<Option<Item>, StoreError> {
        let expr = cond_expr(&cond);
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(pk, sk)))
            .set_condition_expression(expr.expr)
            .set_expression_attribute_names(non_empty(expr.names))
            .set_expression_attribute_values(non_empty(expr.values))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match res {
            // Without an old item DynamoDB omits Attributes (or, per some emulators, sends {}).
            Ok(out) => match out.attributes {
                Some(a) if !a.is_empty() => from_av_map(a).map(Some),
                _ => Ok(None),
            },
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::ConditionFailed)
            }
            Err(e) => Err(backend("DeleteItem", e)),
        }
    }

    async fn query(&self, pk: &str, sk_prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut expr = Expr::default();
        expr.name("#pk", PK)
            .value(":pk", AttributeValue::S(pk.into()));
        let kc = if sk_prefix.is_empty() {
            "#pk = :pk"
        } else {
            expr.name("#sk", SK)
                .value(":p", AttributeValue::S(sk_prefix.into()));
            "#pk = :pk AND begins_with(#sk, :p)"
        };
        self.query_all("Query", None, kc, expr).await
    }

    async fn query_portal_index(&self, gsi1pk: &str) -> Result<Vec<Item>, StoreError> {
        let mut expr = Expr::default();
        expr.name("#g", GSI1PK)
            .value(":g", AttributeValue::S(gsi1pk.into()));
        self.query_all("Query(gsi1)", Some(GSI1), "#g = :g", expr)
            .await
    }

    async fn query_due(
        &self,
        duepk: &str,
        until: i64,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE)
            .key_condition_expression("#p = :p AND #a <= :t")
            .expression_attribute_names("#p", DUEPK)
            .expression_attribute_names("#a", DUEAT)
            .expression_attribute_values(":p", AttributeValue::S(duepk.into()))
            .expression_attribute_values(":t", AttributeValue::N(until.to_string()))
            .scan_index_forward(true)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| backend("Query(due)", e))?;
        page.items()
            .iter()
            .map(|it| from_av_map(it.clone()))
            .collect()
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(()); // DynamoDB rejects an empty TransactItems.
        }
        if writes.len() > MAX_TRANSACT {
            return Err(StoreError::Backend(format!(
                "transaction of {} writes exceeds DynamoDB's limit of {MAX_TRANSACT}",
                writes.len()
            )));
        }
        let mut items = Vec::with_capacity(writes.len());
        for w in writes {
            let twi = match w {
                Write::Put { item, cond } => {
                    checked_key(&item)?;
                    let expr = cond_expr(&cond);
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(to_av_map(item)))
                        .set_condition_expression(expr.expr)
                        .set_expression_attribute_names(non_empty(expr.names))
                        .set_expression_attribute_values(non_empty(expr.values))
                        .build()
                        .map_err(build_err)?;
                    TransactWriteItem::builder().put(put).build()
                }
                Write::Delete { pk, sk, cond } => {
                    let expr = cond_expr(&cond);
                    let del = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_map(&pk, &sk)))
                        .set_condition_expression(expr.expr)
                        .set_expression_attribute_names(non_empty(expr.names))
                        .set_expression_attribute_values(non_empty(expr.values))
                        .build()
                        .map_err(build_err)?;
                    TransactWriteItem::builder().delete(del).build()
                }
            };
            items.push(twi);
        }
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(t))
                    if t.cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    Err(StoreError::ConditionFailed)
                }
                _ => Err(backend("TransactWriteItems", e)),
            },
        }
    }

    fn kind(&self) -> &'static str {
        "dynamodb"
    }
}

/// A condition expression with its attribute-name and -value placeholders.
#[derive(Default)]
struct Expr {
    expr: Option<String>,
    names: HashMap<String, String>,
    values: AvMap,
}

impl Expr {
    fn name(&mut self, placeholder: &str, name: &str) -> &mut Self {
        self.names.insert(placeholder.into(), name.into());
        self
    }
    fn value(&mut self, placeholder: &str, v: AttributeValue) -> &mut Self {
        self.values.insert(placeholder.into(), v);
        self
    }
}

fn cond_expr(cond: &Cond) -> Expr {
    let mut e = Expr::default();
    let text = match cond {
        Cond::None => return e,
        Cond::NotExists => {
            e.name("#pk", PK);
            "attribute_not_exists(#pk)"
        }
        Cond::NotExistsOrExpired { now } => {
            e.name("#pk", PK)
                .name("#ttl", TTL)
                .value(":now", AttributeValue::N(now.to_string()));
            "attribute_not_exists(#pk) OR #ttl < :now"
        }
        Cond::Exists => {
            e.name("#pk", PK);
            "attribute_exists(#pk)"
        }
        Cond::Equals(a, v) => {
            e.name("#a", a).value(":v", to_av(v));
            "#a = :v"
        }
        Cond::MissingOrEquals(a, v) => {
            e.name("#a", a).value(":v", to_av(v));
            "attribute_not_exists(#a) OR #a = :v"
        }
    };
    e.expr = Some(text.to_string());
    e
}

/// DynamoDB rejects empty ExpressionAttributeNames/Values maps.
fn non_empty<V>(m: HashMap<String, V>) -> Option<HashMap<String, V>> {
    (!m.is_empty()).then_some(m)
}

/// The item's key, checked against DynamoDB's rules for key attributes (non-empty strings, also
/// for the portal index key), so that both stores reject the same items, with `Malformed`.
pub(super) fn checked_key(item: &Item) -> Result<(String, String), StoreError> {
    let (pk, sk) = key_of(item)?;
    let bad = |reason: &str| StoreError::Malformed {
        pk: pk.clone(),
        sk: sk.clone(),
        reason: reason.into(),
    };
    if pk.is_empty() || sk.is_empty() {
        return Err(bad("empty pk or sk"));
    }
    match item.get(GSI1PK) {
        None => {}
        Some(Attr::S(g)) if !g.is_empty() => {}
        Some(_) => return Err(bad("gsi1pk must be a non-empty string")),
    }
    Ok((pk, sk))
}

fn key_map(pk: &str, sk: &str) -> AvMap {
    HashMap::from([
        (PK.to_string(), AttributeValue::S(pk.into())),
        (SK.to_string(), AttributeValue::S(sk.into())),
    ])
}

fn to_av(a: &Attr) -> AttributeValue {
    match a {
        Attr::S(s) => AttributeValue::S(s.clone()),
        Attr::N(n) => AttributeValue::N(n.to_string()),
        Attr::Bool(b) => AttributeValue::Bool(*b),
    }
}

fn to_av_map(item: Item) -> AvMap {
    item.into_iter()
        .map(|(k, v)| {
            let av = to_av(&v);
            (k, av)
        })
        .collect()
}

fn from_av_map(map: AvMap) -> Result<Item, StoreError> {
    let key_part = |name: &str| match map.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => "?".into(),
    };
    let malformed = |reason: String| StoreError::Malformed {
        pk: key_part(PK),
        sk: key_part(SK),
        reason,
    };
    let mut item = Item::new();
    for (name, av) in &map {
        // The reason names the attribute but never its value (it may be a secret).
        let attr = match av {
            AttributeValue::S(s) => Attr::S(s.clone()),
            AttributeValue::N(n) => Attr::N(
                n.parse()
                    .map_err(|_| malformed(format!("attribute {name}: N is not an i64")))?,
            ),
            AttributeValue::Bool(b) => Attr::Bool(*b),
            _ => return Err(malformed(format!("attribute {name}: unsupported type"))),
        };
        item.insert(name.clone(), attr);
    }
    key_of(&item)?;
    Ok(item)
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(format!("building DynamoDB request: {e}"))
}

/// Error code and message of the service, or the whole error chain for transport failures.
/// Request parameters (item values) are not part of either.
fn backend<E, R>(op: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.code() {
        Some(code) => StoreError::Backend(format!(
            "DynamoDB {op}: {code}: {}",
            err.message().unwrap_or("(no message)")
        )),
        None => StoreError::Backend(format!("DynamoDB {op}: {}", DisplayErrorContext(&err))),
    }
}
