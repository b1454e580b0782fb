//! The bounded, thread-safe cache of parsed keys: key material -> [`KeyEntry`], and the
//! admission filter the binding's caches share.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

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

/// The wall-clock window in which a verified token's claims may be served from a cache
/// without verifying it again: from its `nbf`/`iat` (the later) minus the leeway, to its
/// `exp` plus the leeway, and for at most `max_ttl` from `now`. None: not to be kept (already
/// expired, or a NaN time).
pub fn served_window(
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
    leeway: f64,
    now: f64,
    max_ttl: f64,
) -> Option<(f64, f64)> {
    let mut expires = now + max_ttl;
    if let Some(exp) = exp {
        expires = expires.min(exp + leeway);
    }
    let not_before = nbf.into_iter().chain(iat).fold(f64::NEG_INFINITY, f64::max) - leeway;
    // (false for a NaN time too: such a token is not kept)
    (expires > now).then_some((not_before, expires))
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

/// One shard of [`Repeats`]: whole keys to values and their weights, least recently used
/// first out, and the weight of them all.
struct RepeatShard<V> {
    lru: LruCache<Box<[u8]>, (V, usize), foldhash::fast::RandomState>,
    bytes: usize,
}

/// Items seen repeatedly, each kept after its second sight: a bounded map from whole keys
/// (exact bytes, never a hash alone) to values, split into shards that lock
/// separately so that threads rarely wait on each other. A lock-free doorkeeper in front
/// keeps one-off keys from costing more than a table probe, and out of the map.
pub struct Repeats<V> {
    /// Fingerprints seen once (0: empty), allocated on first use.
    seen: OnceLock<Box<[AtomicU64]>>,
    seen_bits: u32,
    shards: Box<[Mutex<RepeatShard<V>>]>,
    per_shard: usize,
    bytes_per_shard: usize,
    max_key_len: usize,
}

/// What [`Repeats::lookup`] found.
pub enum Lookup<R> {
    /// What the caller's function made of the value kept (under the shard's lock: no
    /// reference count to touch, and the value is read while its cache lines are warm).
    Hit(R),
    /// Not kept; `admit` when this is the key's second sight (insert it once computed).
    Miss { admit: bool },
}

const REPEAT_SHARDS: usize = 16;

impl<V> Repeats<V> {
    /// Up to `entries` values (rounded up to a multiple of the shard count) weighing
    /// `max_bytes` in all (about: keys and the weights given on insertion), for keys of at
    /// most `max_key_len` bytes; longer keys are never kept.
    pub fn new(entries: usize, max_bytes: usize, max_key_len: usize) -> Self {
        Repeats {
            seen: OnceLock::new(),
            // Two doorkeeper slots per entry (at least a bucket of four): one-off keys rarely
            // push out those seen once.
            seen_bits: (entries.max(2) * 2).next_power_of_two().trailing_zeros(),
            // (unbounded maps that grow with use, bounded below: an engine made for a few
            // tokens allocates next to nothing)
            shards: (0..REPEAT_SHARDS)
                .map(|_| {
                    Mutex::new(RepeatShard {
                        lru: LruCache::unbounded_with_hasher(Default::default()),
                        bytes: 0,
                    })
                })
                .collect(),
            per_shard: entries.div_ceil(REPEAT_SHARDS).max(1),
            bytes_per_shard: max_bytes.div_ceil(REPEAT_SHARDS),
            max_key_len,
        }
    }

    /// A cheap fingerprint: the length and the last 32 bytes (a token's signature, which
    /// tells tokens apart). Keys that share it are told apart by the map's exact compare.
    fn fingerprint(key: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        let tail = &key[key.len().saturating_sub(32)..];
        foldhash::fast::FixedState::with_seed(key.len() as u64).hash_one(tail)
    }

    fn shard(&self, print: u64) -> MutexGuard<'_, RepeatShard<V>> {
        self.shards[print as usize % REPEAT_SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub fn lookup<R>(&self, key: &[u8], on_hit: impl FnOnce(&V) -> R) -> Lookup<R> {
        if key.len() > self.max_key_len {
            return Lookup::Miss { admit: false };
        }
        let print = Self::fingerprint(key);
        let seen = self.seen.get_or_init(|| {
            let zeros = vec![0u64; 1 << self.seen_bits].into_boxed_slice();
            // SAFETY: AtomicU64 has the same size, alignment and bit validity as u64, so
            // the slice pointer (same length) points to valid AtomicU64s, and the Box frees
            // it with the same layout it was allocated with; the u64 Box is consumed, so
            // nothing else owns it. (A zeroed allocation is left to the OS's zero pages
            // until a slot is touched.)
            unsafe { Box::from_raw(Box::into_raw(zeros) as *mut [AtomicU64]) }
        });
        // Four slots per bucket (one 32-byte line): keys that share a bucket rarely push each
        // other out, as they would in a direct-mapped table.
        let bucket = print.checked_shr(64 - self.seen_bits).unwrap_or(0) as usize & !3;
        let ways = &seen[bucket..bucket + 4];
        // (0 marks an empty slot.) Races between threads only forget a sighting or note one
        // twice: never a wrong value.
        let mark = print | 1;
        if !ways.iter().any(|w| w.load(Ordering::Relaxed) == mark) {
            let way = ways
                .iter()
                .position(|w| w.load(Ordering::Relaxed) == 0)
                .unwrap_or((print >> 8) as usize & 3);
            ways[way].store(mark, Ordering::Relaxed);
            // A key kept before whose mark was pushed out is found again from its next sight.
            return Lookup::Miss { admit: false };
        }
        match self.shard(print).lru.get(key) {
            Some((v, _)) => Lookup::Hit(on_hit(v)),
            None => Lookup::Miss { admit: true },
        }
    }

    /// Keeps `value`, which weighs `weight` bytes besides its key, pushing out the least
    /// recently used values beyond the bounds.
    pub fn insert(&self, key: &[u8], value: V, weight: usize) {
        if key.len() > self.max_key_len {
            return;
        }
        let weight = weight + key.len();
        let mut shard = self.shard(Self::fingerprint(key));
        if let Some((_, (_, old))) = shard.lru.push(key.into(), (value, weight)) {
            shard.bytes -= old; // the value it replaced for the same key
        }
        shard.bytes += weight;
        while shard.lru.len() > self.per_shard || shard.bytes > self.bytes_per_shard {
            match shard.lru.pop_lru() {
                Some((_, (_, w))) => shard.bytes -= w,
                None => break,
            }
        }
    }

    /// Values kept now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).lru.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
    fn repeats_keep_a_key_from_its_second_sight_and_compare_it_whole() {
        let r: Repeats<u32> = Repeats::new(64, 1 << 20, 100);
        let lookup = |r: &Repeats<u32>, k: &[u8]| match r.lookup(k, |v| *v) {
            Lookup::Hit(v) => Some(v),
            Lookup::Miss { admit } => {
                if admit {
                    r.insert(k, k.len() as u32 * 1000 + k[0] as u32, 10);
                }
                None
            }
        };
        assert_eq!(lookup(&r, b"token-a"), None);
        assert_eq!(lookup(&r, b"token-a"), None, "admitted, computed once more");
        assert_eq!(lookup(&r, b"token-a"), Some(7116));
        assert_eq!(lookup(&r, b"token-a"), Some(7116));
        // Same length and last 32 bytes (one fingerprint), other bytes: never the other's value.
        let x = [b'x'; 40];
        let mut y = x;
        y[0] = b'y';
        assert_eq!(lookup(&r, &x), None);
        assert_eq!(lookup(&r, &x), None);
        assert_eq!(lookup(&r, &x), Some(40_120));
        assert_eq!(lookup(&r, &y), None, "x's fingerprint, but not x");
        assert_eq!(lookup(&r, &y), Some(40_121));
        assert_eq!(lookup(&r, &x), Some(40_120));
        // Keys over the bound are never kept.
        let long = [b'z'; 101];
        for _ in 0..4 {
            assert_eq!(lookup(&r, &long), None);
        }
        // Bounded: many repeated keys keep at most the capacity (a multiple of the shards).
        for i in 0..10_000u32 {
            let k = i.to_le_bytes();
            lookup(&r, &k);
            lookup(&r, &k);
        }
        assert!(r.len() <= 64, "{}", r.len());
        // And by weight: 16 shards of 1 KiB hold few values of 200 bytes each.
        let heavy: Repeats<u32> = Repeats::new(1000, 16 * 1024, 100);
        for i in 0..10_000u32 {
            let k = i.to_le_bytes();
            for _ in 0..2 {
                if let Lookup::Miss { admit: true } = heavy.lookup(&k, |_| ()) {
                    heavy.insert(&k, i, 196);
                }
            }
        }
        assert!(heavy.len() <= 16 * 5, "{}", heavy.len());
        assert!(heavy.len() >= 16, "{}", heavy.len());
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
