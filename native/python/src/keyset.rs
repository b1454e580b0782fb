//! A `Verifier` over a key set: the token's `kid` and `alg` pick the key. Keys come from a
//! Python resolver (`KeySet.entry`, or `JWKSClient`, which refetches on an unknown kid) and
//! are kept here, parsed, for as long as the resolver said they stay valid, so that a token
//! whose key is known never leaves native code.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::prelude::*;
use turbojwt_core::alg::AlgorithmSet;
use turbojwt_core::json::{Field, Header, HeaderAlg};
use turbojwt_core::jws;
use turbojwt_core::verify::KeyRef;
use turbojwt_core::Algorithm;

use crate::errors::to_pyerr;
use crate::keys::resolve_for_verify;

/// Parsed keys by algorithm, each valid until a wall-clock time.
type Slot = Vec<(Algorithm, KeyRef, f64)>;

#[derive(Default)]
struct Table {
    by_kid: HashMap<Box<str>, Slot>,
    no_kid: Slot,
}

pub struct KeyResolver {
    /// `(kid, alg) -> (PyJWK, seconds it stays valid)`; raises for an unknown kid.
    resolve: Py<PyAny>,
    table: Mutex<Table>,
}

fn find(slot: Option<&Slot>, alg: Algorithm, now: f64) -> Option<KeyRef> {
    slot?
        .iter()
        .find(|(a, _, until)| *a == alg && now < *until)
        .map(|(_, k, _)| k.clone())
}

impl KeyResolver {
    pub fn new(resolve: Py<PyAny>) -> Self {
        KeyResolver {
            resolve,
            table: Mutex::new(Table::default()),
        }
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
            match kid {
                Some(k) => find(t.by_kid.get(k), alg, now),
                None => find(Some(&t.no_kid), alg, now),
            }
        };
        if let Some(k) = known {
            return Ok(Some(k));
        }
        // Not known (or expired): ask Python, without holding the lock (it may fetch).
        let (jwk, valid_for): (Bound<'_, PyAny>, f64) =
            self.resolve.bind(py).call1((kid, alg.name()))?.extract()?;
        let Some(key) = resolve_for_verify(py, &jwk)? else {
            return Ok(None);
        };
        let until = now + valid_for.max(0.0);
        let mut t = self.table();
        let slot = match kid {
            Some(k) => t.by_kid.entry(k.into()).or_default(),
            None => &mut t.no_kid,
        };
        slot.retain(|(a, _, u)| *a != alg && now < *u);
        slot.push((alg, key.clone(), until));
        Ok(Some(key))
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
