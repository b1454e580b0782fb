//! A `Verifier` over a key set: the token's `kid` and `alg` pick the key. Keys come from a
//! Python resolver (`KeySet.entry`, or `JWKSClient`, which refetches on an unknown kid) and
//! are kept here, parsed, for as long as the resolver said they stay valid, so that a token
//! whose key is known never leaves native code.
//!
//! A changing key set (a `JWKSClient`) has a [`KeyGeneration`]: the client bumps it whenever
//! a fetch changes the set, and every key kept here (and every claim set the verified-token
//! cache keeps) is tagged with the generation it was resolved under and used only while that
//! generation is current. A lookup that straddles a refresh therefore can never bring a
//! withdrawn key back: its tag is already old when it lands.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::prelude::*;
use turbojwt_core::alg::AlgorithmSet;
use turbojwt_core::json::{Field, Header, HeaderAlg};
use turbojwt_core::jws;
use turbojwt_core::verify::KeyRef;
use turbojwt_core::{Algorithm, ErrorKind};

use crate::errors::{exception, to_pyerr};
use crate::keys::resolve_for_verify;
use turbojwt_core::keyset::{self as core_keyset, KeySet, KeySetOptions};

/// The version of a changing key set, shared by its owner (a `JWKSClient`) and everything
/// that keeps keys or verdicts derived from it.
#[pyclass(module = "turbojwt._native", frozen)]
#[derive(Default)]
pub struct KeyGeneration {
    value: AtomicU64,
}

#[pymethods]
impl KeyGeneration {
    #[new]
    fn py_new() -> Self {
        Self::default()
    }

    /// Starts a new generation (the key set changed) and returns it.
    fn bump(&self) -> u64 {
        self.value.fetch_add(1, Ordering::AcqRel) + 1
    }

    #[getter]
    fn value(&self) -> u64 {
        self.current()
    }
}

impl KeyGeneration {
    pub fn current(&self) -> u64 {
        self.value.load(Ordering::Acquire)
    }
}

/// Parsed keys by algorithm, each valid until a wall-clock time and while its generation is
/// current.
type Slot = Vec<(Algorithm, KeyRef, f64, u64)>;

#[derive(Default)]
struct Table {
    by_kid: HashMap<Box<str>, Slot>,
    no_kid: Slot,
}

pub struct KeyResolver {
    /// `(kid, alg) -> (PyJWK, seconds it stays valid, generation it belongs to)`; raises for
    /// an unknown kid.
    resolve: Py<PyAny>,
    /// The key set's generation (None: a fixed set, always generation 0).
    generation: Option<Py<KeyGeneration>>,
    table: Mutex<Table>,
}

fn find(slot: Option<&Slot>, alg: Algorithm, now: f64, generation: u64) -> Option<KeyRef> {
    slot?
        .iter()
        .find(|(a, _, until, g)| *a == alg && now < *until && *g == generation)
        .map(|(_, k, _, _)| k.clone())
}

impl KeyResolver {
    pub fn new(resolve: Py<PyAny>, generation: Option<Py<KeyGeneration>>) -> Self {
        KeyResolver {
            resolve,
            generation,
            table: Mutex::new(Table::default()),
        }
    }

    /// The key set's current generation.
    pub fn generation(&self) -> u64 {
        self.generation.as_ref().map_or(0, |g| g.get().current())
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key for this header, or None when the Python path must decide (a header whose
    /// `alg` or `kid` the core does not read, a key the core does not take).
    pub fn key_for(
        &self,
        py: Python<'_>,
        header: &Header<'_>,
        algorithms: &Option<AlgorithmSet>,
        now: f64,
    ) -> PyResult<Option<KeyRef>> {
        let HeaderAlg::Known(alg) = header.alg else {
            return Ok(None);
        };
        // The caller's allow-list comes first, as for a single key.
        if algorithms.as_ref().is_some_and(|set| !set.contains(alg)) {
            return Err(to_pyerr(py, &jws::alg_not_allowed(), None));
        }
        let kid = match &header.kid {
            Field::Value(k) => Some(k.as_ref()),
            Field::Absent => None,
            Field::WrongType => return Ok(None),
        };
        let known = {
            let t = self.table();
            let generation = self.generation();
            match kid {
                Some(k) => find(t.by_kid.get(k), alg, now, generation),
                None => find(Some(&t.no_kid), alg, now, generation),
            }
        };
        if let Some(k) = known {
            return Ok(Some(k));
        }
        // Not known (or expired): ask Python, without holding the lock (it may fetch). A key
        // of a set replaced while it was looked up is neither used nor kept: it is asked for
        // again, so the set that replaced it decides. (Compared under the table's lock, which
        // the owner's clear takes after bumping the generation: a key cannot slip in behind
        // that clear either.)
        for _ in 0..3 {
            let (jwk, valid_for, generation): (Bound<'_, PyAny>, f64, u64) =
                self.resolve.bind(py).call1((kid, alg.name()))?.extract()?;
            let Some(key) = resolve_for_verify(py, &jwk)? else {
                return Ok(None);
            };
            let mut t = self.table();
            if generation != self.generation() {
                continue;
            }
            let until = now + valid_for.max(0.0);
            let slot = match kid {
                Some(k) => t.by_kid.entry(k.into()).or_default(),
                None => &mut t.no_kid,
            };
            slot.retain(|(a, _, u, g)| *a != alg && now < *u && *g == generation);
            slot.push((alg, key.clone(), until, generation));
            return Ok(Some(key));
        }
        Err(exception(
            py,
            ErrorKind::KeyNotFound,
            "The key set kept changing while the token's key was looked up",
        ))
    }

    /// Number of (kid, alg) keys held.
    pub fn len(&self) -> usize {
        let t = self.table();
        t.by_kid.values().map(Vec::len).sum::<usize>() + t.no_kid.len()
    }

    pub fn clear(&self) {
        let old = std::mem::take(&mut *self.table());
        drop(old);
    }
}

/// The checks of a JWK Set for verification (the core's, which the C ABI runs too), for
/// `turbojwt.KeySet`: `json` is `{"keys": [...]}`. Returns the usable keys as `(index in
/// keys, algorithm names)` and the left-out ones as `(index, reason)`; a set refused as a
/// whole raises `PyJWKSetError`.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn keyset_check(
    py: Python<'_>,
    json: &[u8],
    min_rsa_bits: usize,
    allow_symmetric: bool,
) -> PyResult<(Vec<(usize, Vec<&'static str>)>, Vec<(usize, String)>)> {
    let options = KeySetOptions {
        min_rsa_bits,
        allow_symmetric,
    };
    let set = KeySet::from_json_with(json, &options).map_err(|e| to_pyerr(py, &e, None))?;
    Ok((
        set.entries
            .iter()
            .map(|e| (e.index, e.algorithms.iter().map(|a| a.name()).collect()))
            .collect(),
        set.rejected
            .into_iter()
            .map(|r| (r.index, r.reason))
            .collect(),
    ))
}

/// Whether an RSA modulus (big-endian bytes) has the ROCA weakness (CVE-2017-15361).
#[pyfunction]
pub fn has_roca_fingerprint(modulus: &[u8]) -> bool {
    core_keyset::has_roca_fingerprint(modulus)
}
