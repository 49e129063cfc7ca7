//! The single-table store.
//!
//! `Store` is the port: a handful of item operations on one table (get, conditional put,
//! conditional delete, query by partition and sort-key prefix, query of the portal index,
//! all-or-nothing transactions). `DynamoStore` implements it on DynamoDB through the AWS SDK,
//! `EmbeddedStore` in memory (optionally snapshotted to a file) for local runs.
//! The typed access patterns (installs, thread mappings, users, ...) live in `records`, written
//! once over the trait, so both implementations hold exactly the same items.

pub mod counting;
pub mod dynamo;
pub mod embedded;
pub mod records;

use std::collections::BTreeMap;

use async_trait::async_trait;

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// Partition key of the portal index (GSI1): every item that belongs to a portal carries it,
/// so a disconnect can find and delete all of them.
pub const GSI1PK: &str = "gsi1pk";
/// Name of the portal index.
pub const GSI1: &str = "gsi1";
/// The timer index (GSI "due"), sparse: only an item with something due later carries
/// `duepk` (the kind of timer) and `dueat` (epoch seconds), so the sweep finds what is due
/// with one Query, not a Scan.
pub const DUEPK: &str = "duepk";
pub const DUEAT: &str = "dueat";
pub const DUE: &str = "due";
/// Epoch seconds after which the item is dead. DynamoDB deletes such items lazily (up to days
/// later), so every read treats an item past its `ttl` as absent.
pub const TTL: &str = "ttl";

/// One attribute value. The table holds only flat items of strings, integers and booleans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    S(String),
    N(i64),
    Bool(bool),
}

impl Attr {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attr::S(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Attr::N(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Attr::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// An item: attribute name to value. Must hold `pk` and `sk` (both `Attr::S`).
pub type Item = BTreeMap<String, Attr>;

/// The condition a write must meet; when it does not, the write fails with
/// `StoreError::ConditionFailed` and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// Unconditional.
    None,
    /// No item with this key exists.
    NotExists,
    /// No live item with this key: absent, or its `ttl` is before `now` (epoch seconds).
    NotExistsOrExpired { now: i64 },
    /// An item with this key exists.
    Exists,
    /// The item exists and attribute `.0` equals `.1`.
    Equals(String, Attr),
    /// The item is absent, or it lacks attribute `.0`, or `.0` equals `.1`.
    MissingOrEquals(String, Attr),
}

/// One write inside a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put { item: Item, cond: Cond },
    Delete { pk: String, sk: String, cond: Cond },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write's condition did not hold (for a transaction: any of them).
    #[error("condition failed")]
    ConditionFailed,
    /// The item read from the table does not have the shape the code expects.
    #[error("malformed item {pk}/{sk}: {reason}")]
    Malformed {
        pk: String,
        sk: String,
        reason: String,
    },
    /// The backend failed (network, throttling after the SDK's retries, I/O of the snapshot file).
    #[error("store backend error: {0}")]
    Backend(String),
    /// Token encryption or decryption failed.
    #[error("token cipher error: {0}")]
    Cipher(String),
}

/// The store port. Implementations must be linearizable per key: a conditional write is
/// checked and applied atomically, and a transaction applies all of its writes or none.
#[async_trait]
pub trait Store: Send + Sync {
    /// The item with this key, whether or not its `ttl` has passed (callers filter, see
    /// `records`): DynamoDB itself returns expired items until it sweeps them.
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError>;
    /// Writes the whole item when `cond` holds.
    /// Several items by key in one call (DynamoDB: a strongly consistent BatchGetItem), in
    /// the order asked; at most 100 keys, none twice.
    async fn get_many(&self, keys: &[(String, String)]) -> Result<Vec<Option<Item>>, StoreError>;
    async fn put(&self, item: Item, cond: Cond) -> Result<(), StoreError>;
    /// Deletes the item when `cond` holds; returns what was there (None if nothing was).
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<Option<Item>, StoreError>;
    /// Items in partition `pk` whose sort key starts with `sk_prefix`, in sort-key order.
    async fn query(&self, pk: &str, sk_prefix: &str) -> Result<Vec<Item>, StoreError>;
    /// Items whose `gsi1pk` equals `gsi1pk` (the portal index), in no particular order.
    async fn query_portal_index(&self, gsi1pk: &str) -> Result<Vec<Item>, StoreError>;
    /// Items of the timer index with `duepk` = `duepk` and `dueat` <= `until`, at most
    /// `limit`, soonest first.
    async fn query_due(
        &self,
        duepk: &str,
        until: i64,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError>;
    /// Applies all writes or none (at most 100, distinct keys). A failed condition anywhere
    /// gives `ConditionFailed` and no write.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    /// A short name for logs: "dynamodb" or "embedded".
    fn kind(&self) -> &'static str;
}

/// Builds an item from key and attributes.
pub fn item(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    let mut it = Item::new();
    it.insert(PK.to_string(), Attr::S(pk.into()));
    it.insert(SK.to_string(), Attr::S(sk.into()));
    it
}

/// The `pk` and `sk` of an item, or `Malformed`.
pub fn key_of(item: &Item) -> Result<(String, String), StoreError> {
    let pk = item.get(PK).and_then(Attr::as_str);
    let sk = item.get(SK).and_then(Attr::as_str);
    match (pk, sk) {
        (Some(p), Some(s)) => Ok((p.to_string(), s.to_string())),
        _ => Err(StoreError::Malformed {
            pk: pk.unwrap_or("?").to_string(),
            sk: sk.unwrap_or("?").to_string(),
            reason: "missing pk or sk".into(),
        }),
    }
}

/// Whether an item's `ttl` has passed at `now` (epoch seconds). Items without `ttl` live forever.
pub fn is_expired(item: &Item, now: i64) -> bool {
    matches!(item.get(TTL), Some(Attr::N(t)) if *t < now)
}
