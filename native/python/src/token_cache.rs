//! The verified-token cache of `Verifier(cache=N)`: claims of tokens this verifier already
//! verified, keyed by the full token bytes (equality is on every byte: a hash collision
//! can only cost a miss, never serve another token's claims). An entry is served only
//! inside the token's own validity window (`nbf`/`iat` - leeway .. `exp` + leeway) and for
//! at most the maximum TTL; each hit returns fresh containers, so callers may mutate them.
//!
//! A token is admitted the second time it verifies (a "doorkeeper" of hashes seen once, as
//! in TinyLFU): a stream of one-off tokens then costs a hash each instead of a copy, an
//! insertion and an eviction, and cannot flush the tokens that repeat.

use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use lru::LruCache;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};
use turbojwt_core::cache::{served_window, SeenOnce};
use turbojwt_core::jws::Limits;

use crate::errors::{is_token_error, warn_key_length};
use crate::pyjson::ClaimsTemplate;

/// The registered times of a verified token, as read by the claim checks, and the
/// key-length warning its verification gave (given again on each hit, as decode does).
#[derive(Clone, Default)]
pub struct TokenTimes {
    pub exp: Option<f64>,
    pub nbf: Option<f64>,
    pub iat: Option<f64>,
    pub short_key_warning: Option<Box<str>>,
}

enum Cached {
    /// The claims, and the key-length warning their verification gave.
    Claims {
        template: ClaimsTemplate,
        warning: Option<Box<str>>,
    },
    /// A refusal: the exception class and its arguments.
    Error { kind: Py<PyType>, args: Py<PyTuple> },
}

struct Entry {
    cached: Cached,
    not_before: f64,
    expires: f64,
    /// The input limits and key-set generation it was verified under: served only while
    /// both are still the ones in force (a tightened `set_limits`, or a key set that changed,
    /// makes the token be verified again).
    limits: (usize, usize),
    generation: u64,
}

struct State {
    map: LruCache<Box<[u8]>, Entry>,
    /// Hashes of tokens seen once.
    seen_once: SeenOnce,
}

pub struct TokenCache {
    state: Mutex<State>,
    /// Randomly keyed per cache: which tokens collide cannot be chosen from outside.
    hasher: foldhash::quality::RandomState,
    capacity: usize,
    max_ttl: f64,
    max_token_len: usize,
    negative_ttl: f64,
    leeway: f64,
    hits: AtomicU64,
    misses: AtomicU64,
}

fn limits_key(l: &Limits) -> (usize, usize) {
    (l.max_token_length, l.max_json_depth)
}

/// What a lookup found (taken out of the lock before any Python object is built).
pub enum Lookup {
    Hit(Py<PyAny>),
    Refused(PyErr),
    Miss,
}

impl TokenCache {
    pub fn new(
        capacity: usize,
        max_ttl: f64,
        max_token_len: usize,
        negative_ttl: f64,
        leeway: f64,
    ) -> Option<Self> {
        let cap = NonZeroUsize::new(capacity)?;
        Some(TokenCache {
            state: Mutex::new(State {
                map: LruCache::new(cap),
                seen_once: SeenOnce::new(capacity.saturating_mul(2).min(1 << 22)),
            }),
            hasher: foldhash::quality::RandomState::default(),
            capacity,
            max_ttl,
            max_token_len,
            negative_ttl,
            leeway,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    /// The map, unless this thread already holds it further up the stack (building Python
    /// objects can run the garbage collector, whose finalizers may decode a token): then
    /// the cache is skipped rather than deadlocking.
    fn lock(&self) -> Option<MutexGuard<'_, State>> {
        match self.state.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    pub fn cacheable(&self, token: &[u8]) -> bool {
        token.len() <= self.max_token_len
    }

    pub fn get(
        &self,
        py: Python<'_>,
        token: &[u8],
        now: f64,
        limits: &Limits,
        generation: u64,
    ) -> PyResult<Lookup> {
        if !self.cacheable(token) {
            return Ok(Lookup::Miss);
        }
        let limits = limits_key(limits);
        let found = {
            let Some(mut state) = self.lock() else {
                return Ok(Lookup::Miss);
            };
            match state.map.get(token) {
                Some(e)
                    if e.not_before <= now
                        && now < e.expires
                        && e.limits == limits
                        && e.generation == generation =>
                {
                    Some(match &e.cached {
                        Cached::Claims { template, warning } => {
                            Ok((template.clone_ref(py), warning.clone()))
                        }
                        Cached::Error { kind, args } => {
                            Err((kind.clone_ref(py), args.clone_ref(py)))
                        }
                    })
                }
                Some(_) => {
                    // Outside its window, or made under other limits or keys: gone for good
                    // (a clock set back is rare enough).
                    drop(state.map.pop(token));
                    None
                }
                None => None,
            }
        };
        let Some(found) = found else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Ok(Lookup::Miss);
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        Ok(match found {
            Ok((template, warning)) => {
                if let Some(msg) = warning {
                    warn_key_length(py, &msg)?;
                }
                Lookup::Hit(template.fresh(py)?.into_any().unbind())
            }
            Err((kind, args)) => Lookup::Refused(PyErr::from_type(kind.into_bound(py), args)),
        })
    }

    /// Remembers the claims of a token that verified (a copy: `claims` goes to the caller).
    pub fn insert_claims(
        &self,
        token: &[u8],
        claims: &Bound<'_, PyAny>,
        times: TokenTimes,
        now: f64,
        limits: &Limits,
        generation: u64,
    ) -> PyResult<()> {
        let Ok(dict) = claims.cast::<PyDict>() else {
            return Ok(());
        };
        let Some((not_before, expires)) = served_window(
            times.exp,
            times.nbf,
            times.iat,
            self.leeway,
            now,
            self.max_ttl,
        ) else {
            return Ok(());
        };
        if !self.cacheable(token) || !self.admit(token) {
            return Ok(());
        }
        self.put(
            token,
            Entry {
                cached: Cached::Claims {
                    template: ClaimsTemplate::new(dict)?,
                    warning: times.short_key_warning,
                },
                not_before,
                expires,
                limits: limits_key(limits),
                generation,
            },
        );
        Ok(())
    }

    /// Remembers a refusal of the token itself (an `InvalidTokenError`) for the negative
    /// TTL, when one is set.
    pub fn insert_error(
        &self,
        py: Python<'_>,
        token: &[u8],
        err: &PyErr,
        now: f64,
        limits: &Limits,
        generation: u64,
    ) {
        if self.negative_ttl <= 0.0
            || !self.cacheable(token)
            || !is_token_error(py, err)
            || !self.admit(token)
        {
            return;
        }
        let Ok(args) = err
            .value(py)
            .getattr("args")
            .and_then(|a| a.cast_into::<PyTuple>().map_err(Into::into))
        else {
            return;
        };
        let kind = err.get_type(py).unbind();
        self.put(
            token,
            Entry {
                cached: Cached::Error {
                    kind,
                    args: args.unbind(),
                },
                not_before: f64::NEG_INFINITY,
                expires: now + self.negative_ttl,
                limits: limits_key(limits),
                generation,
            },
        );
    }

    /// Whether a token not in the cache has been seen before; notes it if not.
    fn admit(&self, token: &[u8]) -> bool {
        let Some(mut state) = self.lock() else {
            return false;
        };
        state.seen_once.second_sight(self.hasher.hash_one(token))
    }

    fn put(&self, token: &[u8], entry: Entry) {
        let evicted = match self.lock() {
            Some(mut state) => state.map.push(token.into(), entry),
            None => None,
        };
        // Released after the lock (a claims dict holds only JSON values: no finalizers).
        drop(evicted);
    }

    /// (hits, misses, maxsize, currsize)
    pub fn info(&self) -> (u64, u64, usize, usize) {
        let size = self.lock().map_or(0, |s| s.map.len());
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            self.capacity,
            size,
        )
    }

    pub fn clear(&self) {
        let old = self.lock().map(|mut s| {
            s.seen_once.clear();
            let cap = s.map.cap();
            std::mem::replace(&mut s.map, LruCache::new(cap))
        });
        drop(old);
        self.hits.store(0, Ordering::Relaxed);
        self.misses.store(0, Ordering::Relaxed);
    }
}
