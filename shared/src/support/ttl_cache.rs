//! A small map whose entries live `ttl_ms`, for what a warm process may keep between
//! deliveries (HubSpot owners and contacts): bounded, so a busy process never grows it
//! without end, and timed by the caller's clock, so tests can move time.

use std::collections::HashMap;
use std::sync::Mutex;

pub struct TtlCache<V> {
    ttl_ms: i64,
    max: usize,
    entries: Mutex<HashMap<String, (i64, V)>>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl_ms: i64, max: usize) -> Self {
        TtlCache {
            ttl_ms,
            max: max.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value stored for `key` less than `ttl_ms` before `now_ms`.
    pub fn get(&self, key: &str, now_ms: i64) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| now_ms - at < self.ttl_ms)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: String, value: V, now_ms: i64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.max && !entries.contains_key(&key) {
            // Full: expired entries go first; if none has expired, everything (a warm
            // process refills what it uses within a few deliveries).
            let ttl = self.ttl_ms;
            entries.retain(|_, (at, _)| now_ms - *at < ttl);
            if entries.len() >= self.max {
                entries.clear();
            }
        }
        entries.insert(key, (now_ms, value));
    }

    pub fn remove(&self, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_map_stays_bounded() {
        let c = TtlCache::new(1000, 3);
        c.put("a".into(), 1, 0);
        assert_eq!(c.get("a", 999), Some(1));
        assert_eq!(c.get("a", 1000), None);
        for (i, k) in ["b", "c", "d", "e"].iter().enumerate() {
            c.put(k.to_string(), i, 2000);
        }
        assert!(c.entries.lock().unwrap().len() <= 3);
        assert_eq!(c.get("e", 2001), Some(3));
        c.remove("e");
        assert_eq!(c.get("e", 2001), None);
    }
}
