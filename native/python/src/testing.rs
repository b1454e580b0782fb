//! `turbojwt._native.testing`: test hooks, kept out of the product namespace. The raw
//! verify entry point is what the primitive conformance vectors (Wycheproof) go through.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use turbojwt_core::keys::KeyEntry;

use crate::decode::algorithm;
use crate::keys::key_material;

/// Adds the hooks to `m` (the `testing` submodule).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(verify_raw, m)?)
}

/// Whether `signature` is `alg`'s signature of `signing_input` under `key` (PEM, DER or
/// HMAC secret), through the same core path as a token's signature: no JWS parsing around
/// it. A key the core cannot use for `alg` is a ValueError.
#[pyfunction]
pub fn verify_raw(
    alg: &str,
    key: &Bound<'_, PyAny>,
    signing_input: &[u8],
    signature: &[u8],
) -> PyResult<bool> {
    let alg = algorithm(alg)?;
    let entry = KeyEntry::new(&key_material(key)?);
    entry
        .check(alg)
        .and_then(|()| entry.verify(alg, signing_input, signature))
        .map_err(|_| PyValueError::new_err(format!("key cannot be used for {}", alg.name())))
}
