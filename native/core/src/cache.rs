//! The bounded, thread-safe cache of parsed keys: key material -> [`KeyEntry`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_cache::sync::Cache;

use crate::keys::KeyEntry;

pub const DEFAULT_CAPACITY: usize = 1024;

/// Counters in the shape of `functools.lru_cache`'s `cache_info()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheInfo {
    pub hits: u64,
    pub misses: u64,
    pub maxsize: usize,
    pub currsize: usize,
}

pub struct KeyCache {
    entries: Cache<Box<[u8]>, Arc<KeyEntry>>,
    hits: AtomicU64,
    misses: AtomicU64,
    maxsize: AtomicU64,
}

impl KeyCache {
    pub fn new(maxsize: usize) -> Self {
        KeyCache {
            // quick_cache wants a capacity of at least 1; maxsize 0 disables inserts below.
            entries: Cache::new(maxsize.max(1)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            maxsize: AtomicU64::new(maxsize as u64),
        }
    }

    /// The entry for `material`, parsed on a miss. Parsing itself is lazy (see `KeyEntry`).
    pub fn get(&self, material: &[u8]) -> Arc<KeyEntry> {
        if let Some(e) = self.entries.get(material) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return e;
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(KeyEntry::new(material));
        if self.maxsize.load(Ordering::Relaxed) > 0 {
            self.entries.insert(material.into(), entry.clone());
        }
        entry
    }

    /// Counts a hit served by a cache in front of this one (e.g. by key object identity).
    pub fn record_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    pub fn info(&self) -> CacheInfo {
        let maxsize = self.maxsize.load(Ordering::Relaxed) as usize;
        CacheInfo {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            maxsize,
            currsize: self.entries.len().min(maxsize),
        }
    }

    pub fn clear(&self) {
        self.entries.clear();
        self.hits.store(0, Ordering::Relaxed);
        self.misses.store(0, Ordering::Relaxed);
    }

    pub fn set_maxsize(&self, maxsize: usize) {
        self.maxsize.store(maxsize as u64, Ordering::Relaxed);
        if maxsize == 0 {
            self.entries.clear();
        }
        self.entries.set_capacity(maxsize.max(1) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_misses_and_bound() {
        let c = KeyCache::new(16);
        let a = c.get(b"a");
        let a2 = c.get(b"a");
        assert!(Arc::ptr_eq(&a, &a2));
        assert_eq!((c.info().hits, c.info().misses), (1, 1));
        for i in 0..5000u32 {
            c.get(&i.to_be_bytes());
            assert!(c.info().currsize <= 16);
        }
        c.set_maxsize(4);
        for i in 0..100u32 {
            c.get(&i.to_le_bytes());
        }
        assert!(c.entries.len() <= 4, "len {}", c.entries.len());
        c.clear();
        assert_eq!(c.info(), CacheInfo { hits: 0, misses: 0, maxsize: 4, currsize: 0 });
    }

    #[test]
    fn zero_disables() {
        let c = KeyCache::new(0);
        c.get(b"x");
        c.get(b"x");
        assert_eq!(c.info().currsize, 0);
        assert_eq!(c.info().misses, 2);
    }
}
