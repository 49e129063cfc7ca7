//! A `Store` wrapper that counts calls by operation: the benchmark's "store calls per event"
//! are counted, not estimated.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::{Cond, Item, Store, StoreError, Write};

#[derive(Debug, Default)]
pub struct Counts {
    pub get: AtomicU64,
    pub put: AtomicU64,
    pub delete: AtomicU64,
    pub query: AtomicU64,
    pub query_index: AtomicU64,
    pub transact: AtomicU64,
}

impl Counts {
    /// (get, put, delete, query, query_index, transact)
    pub fn snapshot(&self) -> [u64; 6] {
        [
            self.get.load(Ordering::SeqCst),
            self.put.load(Ordering::SeqCst),
            self.delete.load(Ordering::SeqCst),
            self.query.load(Ordering::SeqCst),
            self.query_index.load(Ordering::SeqCst),
            self.transact.load(Ordering::SeqCst),
        ]
    }

    pub fn total(&self) -> u64 {
        self.snapshot().iter().sum()
    }
}

pub struct CountingStore {
    inner: Arc<dyn Store>,
    pub counts: Arc<Counts>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CountingStore {
            inner,
            counts: Arc::new(Counts::default()),
        }
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.counts.get.fetch_add(1, Ordering::SeqCst);
        self.inner.get(pk, sk).await
    }
    async fn get_many(&self, keys: &[(String, String)]) -> Result<Vec<Option<Item>>, StoreError> {
        self.counts.get.fetch_add(1, Ordering::SeqCst);
        self.inner.get_many(keys).await
    }
    async fn put(&self, item: Item, cond: Cond) -> Result<(), StoreError> {
        self.counts.put.fetch_add(1, Ordering::SeqCst);
        self.inner.put(item, cond).await
    }
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<Option<Item>, StoreError> {
        self.counts.delete.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(pk, sk, cond).await
    }
    async fn query(&self, pk: &str, sk_prefix: &str) -> Result<Vec<Item>, StoreError> {
        self.counts.query.fetch_add(1, Ordering::SeqCst);
        self.inner.query(pk, sk_prefix).await
    }
    async fn query_portal_index(&self, gsi1pk: &str) -> Result<Vec<Item>, StoreError> {
        self.counts.query_index.fetch_add(1, Ordering::SeqCst);
        self.inner.query_portal_index(gsi1pk).await
    }
    async fn query_due(
        &self,
        duepk: &str,
        until: i64,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.counts.query_index.fetch_add(1, Ordering::SeqCst);
        self.inner.query_due(duepk, until, limit).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.counts.transact.fetch_add(1, Ordering::SeqCst);
        self.inner.transact(writes).await
    }
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::embedded::EmbeddedStore;
    use crate::store::item;

    #[tokio::test]
    async fn counts_each_operation() {
        let s = CountingStore::new(Arc::new(EmbeddedStore::in_memory()));
        s.put(item("a", "b"), Cond::None).await.unwrap();
        s.get("a", "b").await.unwrap();
        s.query("a", "").await.unwrap();
        assert_eq!(s.counts.snapshot(), [1, 1, 0, 1, 0, 0]);
        assert_eq!(s.counts.total(), 3);
    }
}
