//! `Store` in memory, optionally snapshotted to a JSON file, for local runs and tests.
//!
//! Every operation runs under one mutex, so conditional writes and transactions are trivially
//! atomic. With a file, every successful write rewrites the whole snapshot (write to
//! `<path>.tmp`, then rename): fine for the small tables of a local run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::dynamo::checked_key;
use super::{
    is_expired, key_of, Attr, Cond, Item, Store, StoreError, Write, DUEAT, DUEPK, GSI1PK, PK,
};

type Key = (String, String);
type Table = BTreeMap<Key, Item>;

/// Same limit as DynamoDB, so that local runs catch oversized transactions.
const MAX_TRANSACT: usize = 100;

pub struct EmbeddedStore {
    table: Mutex<Table>,
    path: Option<PathBuf>,
}

impl EmbeddedStore {
    pub fn in_memory() -> Self {
        Self {
            table: Mutex::new(Table::new()),
            path: None,
        }
    }

    /// Loads the snapshot at `path` if there is one; later writes are saved there.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let table = match std::fs::read(&path) {
            Ok(bytes) => decode_snapshot(&bytes).map_err(|e| with_path(&path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Table::new(),
            Err(e) => return Err(io_err(&path, "reading", e)),
        };
        Ok(Self {
            table: Mutex::new(table),
            path: Some(path),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // Writes are applied without panicking code in between, so a poisoned table is intact.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies the changes (None deletes) and saves the snapshot; if saving fails, the changes
    /// are undone so memory and file never disagree about a write the caller saw fail.
    fn commit(
        &self,
        table: &mut Table,
        changes: Vec<(Key, Option<Item>)>,
    ) -> Result<(), StoreError> {
        let undo: Vec<(Key, Option<Item>)> = changes
            .into_iter()
            .map(|(k, new)| {
                let old = match new {
                    Some(it) => table.insert(k.clone(), it),
                    None => table.remove(&k),
                };
                (k, old)
            })
            .collect();
        let Some(path) = &self.path else {
            return Ok(());
        };
        if let Err(e) = save_snapshot(path, table) {
            for (k, old) in undo.into_iter().rev() {
                match old {
                    Some(it) => table.insert(k, it),
                    None => table.remove(&k),
                };
            }
            return Err(e);
        }
        Ok(())
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        Ok(self.lock().get(&(pk.to_string(), sk.to_string())).cloned())
    }

    async fn get_many(&self, keys: &[(String, String)]) -> Result<Vec<Option<Item>>, StoreError> {
        let table = self.lock();
        Ok(keys.iter().map(|k| table.get(k).cloned()).collect())
    }

    async fn put(&self, item: Item, cond: Cond) -> Result<(), StoreError> {
        let key = checked_key(&item)?;
        let mut table = self.lock();
        if !holds(&cond, table.get(&key)) {
            return Err(StoreError::ConditionFailed);
        }
        self.commit(&mut table, vec![(key, Some(item))])
    }

    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<Option<Item>, StoreError> {
        let key = (pk.to_string(), sk.to_string());
        let mut table = self.lock();
        let old = table.get(&key).cloned();
        if !holds(&cond, old.as_ref()) {
            return Err(StoreError::ConditionFailed);
        }
        if old.is_some() {
            self.commit(&mut table, vec![(key, None)])?;
        }
        Ok(old)
    }

    async fn query(&self, pk: &str, sk_prefix: &str) -> Result<Vec<Item>, StoreError> {
        let table = self.lock();
        let start = (pk.to_string(), sk_prefix.to_string());
        Ok(table
            .range(start..)
            .take_while(|((p, s), _)| p == pk && s.starts_with(sk_prefix))
            .map(|(_, it)| it.clone())
            .collect())
    }

    async fn query_portal_index(&self, gsi1pk: &str) -> Result<Vec<Item>, StoreError> {
        let table = self.lock();
        Ok(table
            .values()
            .filter(|it| matches!(it.get(GSI1PK), Some(Attr::S(g)) if g == gsi1pk))
            .cloned()
            .collect())
    }

    async fn query_due(
        &self,
        duepk: &str,
        until: i64,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let table = self.lock();
        let mut due: Vec<(i64, Item)> = table
            .values()
            .filter(|it| matches!(it.get(DUEPK), Some(Attr::S(g)) if g == duepk))
            .filter_map(|it| match it.get(DUEAT) {
                Some(Attr::N(at)) if *at <= until => Some((*at, it.clone())),
                _ => None,
            })
            .collect();
        due.sort_by_key(|(at, _)| *at);
        Ok(due.into_iter().take(limit).map(|(_, it)| it).collect())
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.len() > MAX_TRANSACT {
            return Err(StoreError::Backend(format!(
                "transaction of {} writes exceeds the limit of {MAX_TRANSACT}",
                writes.len()
            )));
        }
        // Check keys before taking the lock: both are independent of the table.
        let mut seen = BTreeSet::new();
        let mut planned = Vec::with_capacity(writes.len());
        for w in writes {
            let (key, new, cond) = match w {
                Write::Put { item, cond } => (checked_key(&item)?, Some(item), cond),
                Write::Delete { pk, sk, cond } => ((pk, sk), None, cond),
            };
            if !seen.insert(key.clone()) {
                // DynamoDB refuses this too (ValidationException).
                return Err(StoreError::Backend(
                    "transaction touches the same item more than once".into(),
                ));
            }
            planned.push((key, new, cond));
        }
        let mut table = self.lock();
        if !planned.iter().all(|(k, _, c)| holds(c, table.get(k))) {
            return Err(StoreError::ConditionFailed);
        }
        let changes = planned.into_iter().map(|(k, new, _)| (k, new)).collect();
        self.commit(&mut table, changes)
    }

    fn kind(&self) -> &'static str {
        "embedded"
    }
}

/// Evaluates a condition as DynamoDB does against the current item (None: absent).
fn holds(cond: &Cond, current: Option<&Item>) -> bool {
    match cond {
        Cond::None => true,
        Cond::NotExists => current.is_none(),
        Cond::NotExistsOrExpired { now } => current.is_none_or(|it| is_expired(it, *now)),
        Cond::Exists => current.is_some(),
        Cond::Equals(a, v) => current.and_then(|it| it.get(a)) == Some(v),
        Cond::MissingOrEquals(a, v) => current.and_then(|it| it.get(a)).is_none_or(|x| x == v),
    }
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("{what} snapshot {}: {e}", path.display()))
}

fn with_path(path: &Path, e: StoreError) -> StoreError {
    match e {
        StoreError::Backend(m) => StoreError::Backend(format!("snapshot {}: {m}", path.display())),
        other => other,
    }
}

fn save_snapshot(path: &Path, table: &Table) -> Result<(), StoreError> {
    let items: Vec<Value> = table.values().map(encode_item).collect();
    let bytes = serde_json::to_vec(&items)
        .map_err(|e| StoreError::Backend(format!("encoding snapshot: {e}")))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| io_err(&tmp, "writing", e))?;
    // rename is atomic on one file system: a crash leaves the old or the new snapshot.
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, "replacing", e))
}

fn encode_item(item: &Item) -> Value {
    let map: Map<String, Value> = item
        .iter()
        .map(|(k, v)| {
            let av = match v {
                Attr::S(s) => json!({ "S": s }),
                Attr::N(n) => json!({ "N": n.to_string() }),
                Attr::Bool(b) => json!({ "BOOL": b }),
            };
            (k.clone(), av)
        })
        .collect();
    Value::Object(map)
}

fn decode_snapshot(bytes: &[u8]) -> Result<Table, StoreError> {
    let items: Vec<Map<String, Value>> = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Backend(format!("not a JSON array of objects: {e}")))?;
    let mut table = Table::new();
    for raw in items {
        let item = decode_item(&raw)?;
        let key = key_of(&item)?;
        table.insert(key, item);
    }
    Ok(table)
}

fn decode_item(raw: &Map<String, Value>) -> Result<Item, StoreError> {
    let key_part = |name: &str| {
        raw.get(name)
            .and_then(|v| v.get("S"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let malformed = |name: &str| StoreError::Malformed {
        pk: key_part(PK),
        sk: key_part(super::SK),
        reason: format!("attribute {name}: expected {{\"S\"|\"N\"|\"BOOL\": ...}}"),
    };
    let mut item = Item::new();
    for (name, v) in raw {
        let obj = v
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or_else(|| malformed(name))?;
        let attr = match obj.iter().next() {
            Some((t, Value::String(s))) if t == "S" => Attr::S(s.clone()),
            Some((t, Value::String(n))) if t == "N" => {
                Attr::N(n.parse().map_err(|_| malformed(name))?)
            }
            Some((t, Value::Bool(b))) if t == "BOOL" => Attr::Bool(*b),
            _ => return Err(malformed(name)),
        };
        item.insert(name.clone(), attr);
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{item, SK, TTL};

    fn it(pk: &str, sk: &str, attrs: &[(&str, Attr)]) -> Item {
        let mut i = item(pk, sk);
        for (k, v) in attrs {
            i.insert(k.to_string(), v.clone());
        }
        i
    }

    fn failed<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
        matches!(r, Err(StoreError::ConditionFailed))
    }

    #[tokio::test]
    async fn conditions() {
        let s = EmbeddedStore::in_memory();
        let a = it("p", "a", &[("v", Attr::N(1)), (TTL, Attr::N(100))]);
        assert!(failed(s.put(a.clone(), Cond::Exists).await));
        assert!(failed(
            s.put(a.clone(), Cond::Equals("v".into(), Attr::N(1))).await
        ));
        s.put(a.clone(), Cond::NotExists).await.unwrap();
        assert!(failed(s.put(a.clone(), Cond::NotExists).await));
        assert!(failed(
            s.put(a.clone(), Cond::NotExistsOrExpired { now: 100 })
                .await
        ));
        s.put(a.clone(), Cond::NotExistsOrExpired { now: 101 })
            .await
            .unwrap();
        s.put(a.clone(), Cond::Exists).await.unwrap();
        assert!(failed(
            s.put(a.clone(), Cond::Equals("v".into(), Attr::N(2))).await
        ));
        // Same value, different type: not equal, as in DynamoDB.
        assert!(failed(
            s.put(a.clone(), Cond::Equals("v".into(), Attr::S("1".into())))
                .await
        ));
        s.put(a.clone(), Cond::Equals("v".into(), Attr::N(1)))
            .await
            .unwrap();
        s.put(a.clone(), Cond::MissingOrEquals("w".into(), Attr::N(9)))
            .await
            .unwrap();
        assert!(failed(
            s.put(a.clone(), Cond::MissingOrEquals("v".into(), Attr::N(9)))
                .await
        ));
        s.put(
            it("p", "new", &[]),
            Cond::MissingOrEquals("v".into(), Attr::N(9)),
        )
        .await
        .unwrap();

        assert!(failed(
            s.delete("p", "a", Cond::Equals("v".into(), Attr::N(2)))
                .await
        ));
        assert_eq!(s.get("p", "a").await.unwrap(), Some(a.clone()));
        assert_eq!(s.delete("p", "a", Cond::Exists).await.unwrap(), Some(a));
        assert!(failed(s.delete("p", "a", Cond::Exists).await));
        assert_eq!(s.delete("p", "a", Cond::None).await.unwrap(), None);
    }

    #[tokio::test]
    async fn malformed_items() {
        let s = EmbeddedStore::in_memory();
        let mut no_sk = item("p", "s");
        no_sk.remove(SK);
        assert!(matches!(
            s.put(no_sk, Cond::None).await,
            Err(StoreError::Malformed { .. })
        ));
        let r = s.put(item("", "s"), Cond::None).await;
        assert!(matches!(r, Err(StoreError::Malformed { .. })));
        let r = s
            .put(it("p", "s", &[(GSI1PK, Attr::N(1))]), Cond::None)
            .await;
        assert!(matches!(r, Err(StoreError::Malformed { .. })));
    }

    #[tokio::test]
    async fn query_and_index() {
        let s = EmbeddedStore::in_memory();
        for sk in ["b#2", "a#1", "b#1", "c"] {
            s.put(
                it("p", sk, &[(GSI1PK, Attr::S("portal".into()))]),
                Cond::None,
            )
            .await
            .unwrap();
        }
        s.put(item("p2", "b#0"), Cond::None).await.unwrap();
        s.put(item("o", "b#0"), Cond::None).await.unwrap();
        let sks = |v: Vec<Item>| -> Vec<String> {
            v.iter()
                .map(|i| i[SK].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(sks(s.query("p", "b#").await.unwrap()), ["b#1", "b#2"]);
        assert_eq!(
            sks(s.query("p", "").await.unwrap()),
            ["a#1", "b#1", "b#2", "c"]
        );
        assert_eq!(s.query_portal_index("portal").await.unwrap().len(), 4);
        assert!(s.query_portal_index("other").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn transactions_are_all_or_nothing() {
        let s = EmbeddedStore::in_memory();
        s.put(item("p", "x"), Cond::None).await.unwrap();
        let writes = vec![
            Write::Put {
                item: item("p", "new"),
                cond: Cond::NotExists,
            },
            Write::Delete {
                pk: "p".into(),
                sk: "x".into(),
                cond: Cond::Exists,
            },
            Write::Put {
                item: item("p", "y"),
                cond: Cond::Exists,
            }, // fails
        ];
        assert!(failed(s.transact(writes).await));
        assert_eq!(s.query("p", "").await.unwrap(), vec![item("p", "x")]);

        let writes = vec![
            Write::Put {
                item: item("p", "new"),
                cond: Cond::NotExists,
            },
            Write::Delete {
                pk: "p".into(),
                sk: "x".into(),
                cond: Cond::Exists,
            },
        ];
        s.transact(writes).await.unwrap();
        assert_eq!(s.query("p", "").await.unwrap(), vec![item("p", "new")]);

        let dup = vec![
            Write::Put {
                item: item("p", "z"),
                cond: Cond::None,
            },
            Write::Delete {
                pk: "p".into(),
                sk: "z".into(),
                cond: Cond::None,
            },
        ];
        assert!(matches!(s.transact(dup).await, Err(StoreError::Backend(_))));
        let many = (0..101)
            .map(|i| Write::Put {
                item: item("p", format!("m{i}")),
                cond: Cond::None,
            })
            .collect();
        assert!(matches!(
            s.transact(many).await,
            Err(StoreError::Backend(_))
        ));
        assert_eq!(s.query("p", "").await.unwrap().len(), 1);
    }

    fn temp_path(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("embedded-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("table.json")
    }

    #[tokio::test]
    async fn snapshot_survives_reopen() {
        let path = temp_path("reopen");
        let a = it(
            "p",
            "a",
            &[
                ("s", Attr::S("".into())),
                ("max", Attr::N(i64::MAX)),
                ("min", Attr::N(i64::MIN)),
                ("b", Attr::Bool(true)),
            ],
        );
        {
            let s = EmbeddedStore::open(&path).unwrap();
            s.put(a.clone(), Cond::NotExists).await.unwrap();
            s.put(item("p", "b"), Cond::None).await.unwrap();
            s.put(item("p", "gone"), Cond::None).await.unwrap();
            s.delete("p", "gone", Cond::None).await.unwrap();
        }
        let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(raw[0]["max"], json!({ "N": i64::MAX.to_string() }));
        assert_eq!(raw[0]["b"], json!({ "BOOL": true }));
        let s = EmbeddedStore::open(&path).unwrap();
        assert_eq!(s.get("p", "a").await.unwrap(), Some(a));
        assert_eq!(s.query("p", "").await.unwrap().len(), 2);
        assert!(failed(s.put(item("p", "b"), Cond::NotExists).await));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn failed_save_changes_nothing() {
        let path = temp_path("failsave");
        let s = EmbeddedStore::open(&path).unwrap();
        s.put(item("p", "a"), Cond::None).await.unwrap();
        // A directory where the temp file should go makes the next save fail.
        std::fs::create_dir(path.with_extension("json.tmp")).unwrap();
        let r = s.put(item("p", "b"), Cond::None).await;
        assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
        assert_eq!(s.get("p", "b").await.unwrap(), None);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn bad_snapshot_is_rejected() {
        let path = temp_path("bad");
        std::fs::write(&path, r#"[{"pk":{"S":"p"},"sk":{"S":"s"},"n":{"N":"x"}}]"#).unwrap();
        assert!(matches!(
            EmbeddedStore::open(&path),
            Err(StoreError::Malformed { .. })
        ));
        std::fs::write(&path, r#"{"not":"an array"}"#).unwrap();
        assert!(matches!(
            EmbeddedStore::open(&path),
            Err(StoreError::Backend(_))
        ));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
