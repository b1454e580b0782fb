//! The bounded, thread-safe cache of parsed keys: key material -> [`KeyEntry`], and the
//! admission filter the binding's caches share.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;

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

/// A strict LRU behind a mutex: lookups are a hash and a compare, far below the cost of
/// the verification they guard, and the bound is exact (`currsize <= maxsize` always).
pub struct KeyCache {
    entries: Mutex<LruCache<Box<[u8]>, Arc<KeyEntry>, foldhash::fast::RandomState>>,
    hits: AtomicU64,
    misses: AtomicU64,
    maxsize: AtomicU64,
}

fn capacity(maxsize: usize) -> NonZeroUsize {
    NonZeroUsize::new(maxsize.max(1)).unwrap()
}

impl KeyCache {
    pub fn new(maxsize: usize) -> Self {
        KeyCache {
            entries: Mutex::new(LruCache::with_hasher(capacity(maxsize), Default::default())),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            maxsize: AtomicU64::new(maxsize as u64),
        }
    }

    fn lock(
        &self,
    ) -> MutexGuard<'_, LruCache<Box<[u8]>, Arc<KeyEntry>, foldhash::fast::RandomState>> {
        // A panic while holding the lock cannot leave the LRU inconsistent for our use.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `material`, parsed on a miss. Parsing itself is lazy (see `KeyEntry`).
    pub fn get(&self, material: &[u8]) -> Arc<KeyEntry> {
        if let Some(e) = self.lock().get(material) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return e.clone();
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(KeyEntry::new(material));
        if self.maxsize() > 0 {
            self.lock().put(material.into(), entry.clone());
        }
        entry
    }

    /// Counts a hit served by a cache in front of this one (e.g. by key object identity).
    pub fn record_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// The bound (0: caching off), without taking the lock.
    pub fn maxsize(&self) -> usize {
        self.maxsize.load(Ordering::Relaxed) as usize
    }

    pub fn info(&self) -> CacheInfo {
        CacheInfo {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            maxsize: self.maxsize(),
            currsize: self.lock().len(),
        }
    }

    pub fn clear(&self) {
        self.lock().clear();
        self.hits.store(0, Ordering::Relaxed);
        self.misses.store(0, Ordering::Relaxed);
    }

    pub fn set_maxsize(&self, maxsize: usize) {
        let mut entries = self.lock();
        self.maxsize.store(maxsize as u64, Ordering::Relaxed);
        if maxsize == 0 {
            entries.clear();
        }
        entries.resize(capacity(maxsize));
    }
}

/// Admission on second sight (the "doorkeeper" of TinyLFU): a direct-mapped table of the
/// hashes seen once, so that a stream of one-off items cannot flush those that repeat.
/// A collision only forgets an item or admits it early, never anything worse.
pub struct SeenOnce {
    slots: Vec<u64>,
    /// log2 of the table size; the table is allocated on first use.
    bits: u32,
}

impl SeenOnce {
    /// A table of `slots` entries, rounded up to a power of two.
    pub const fn new(slots: usize) -> Self {
        SeenOnce {
            slots: Vec::new(),
            bits: slots.next_power_of_two().trailing_zeros(),
        }
    }

    /// Whether `hash` (well mixed in its top bits) was seen once before; it is then
    /// forgotten. Otherwise it is noted and false is returned.
    pub fn second_sight(&mut self, hash: u64) -> bool {
        if self.slots.is_empty() {
            self.slots = vec![0; 1 << self.bits];
        }
        let mark = hash | 1; // 0 marks an empty slot
        let slot = &mut self.slots[hash.checked_shr(64 - self.bits).unwrap_or(0) as usize];
        if *slot == mark {
            *slot = 0;
            true
        } else {
            *slot = mark;
            false
        }
    }

    pub fn clear(&mut self) {
        self.slots.fill(0);
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
        for cap in [1usize, 2, 3, 7, 10, 100, 1000] {
            c.set_maxsize(cap);
            assert!(c.info().currsize <= cap);
            for i in 0..(cap as u32 * 5) {
                c.get(&(i + 7).to_le_bytes());
                assert!(c.info().currsize <= cap, "cap {cap}: {}", c.info().currsize);
            }
        }
        c.set_maxsize(4);
        for i in 0..100u32 {
            c.get(&i.to_le_bytes());
        }
        assert!(c.info().currsize <= 4);
        c.clear();
        assert_eq!(
            c.info(),
            CacheInfo {
                hits: 0,
                misses: 0,
                maxsize: 4,
                currsize: 0
            }
        );
    }

    #[test]
    fn zero_disables() {
        let c = KeyCache::new(0);
        c.get(b"x");
        c.get(b"x");
        assert_eq!(c.info().currsize, 0);
        assert_eq!(c.info().misses, 2);
    }

    #[test]
    fn seen_once_admits_on_the_second_sight() {
        for size in [1, 2, 1000] {
            let mut seen = SeenOnce::new(size);
            let (a, b) = (0x8000_0000_0000_0000u64, 0x4000_0000_0000_0000u64);
            assert!(!seen.second_sight(a));
            assert!(seen.second_sight(a));
            assert!(!seen.second_sight(a), "forgotten once admitted");
            assert!(!seen.second_sight(0));
            assert!(seen.second_sight(0), "0 is a hash like any other");
            seen.second_sight(b);
            seen.clear();
            assert!(!seen.second_sight(b));
        }
    }
}
