//! Bare signature verification: the benchmark floor (a Rust loop with no base64, no JSON and
//! no Python per iteration, so each decode row can be compared with what the crypto costs)
//! and the raw verify entry point the primitive conformance vectors go through.

use std::time::Instant;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use turbojwt_core::keys::KeyEntry;

use crate::decode::algorithm;

/// Seconds taken by `iterations` verifications of `signature` over `signing_input`.
#[pyfunction]
pub fn bench_verify_floor(
    py: Python<'_>,
    alg: &str,
    key: &Bound<'_, PyAny>,
    signing_input: &[u8],
    signature: &[u8],
    iterations: u64,
) -> PyResult<f64> {
    let alg = algorithm(alg)?;
    // A private entry (not the shared cache) so that the floor measures no cache lookups.
    let entry = KeyEntry::new(&key_material(key)?);
    if entry.check(alg).is_err() {
        return Err(PyValueError::new_err(format!(
            "key cannot be used for {}",
            alg.name()
        )));
    }
    if entry.verify(alg, signing_input, signature) != Ok(true) {
        return Err(PyValueError::new_err("signature does not verify"));
    }
    Ok(py.detach(|| {
        let start = Instant::now();
        for _ in 0..iterations {
            let ok = entry.verify(
                alg,
                std::hint::black_box(signing_input),
                std::hint::black_box(signature),
            );
            std::hint::black_box(ok).ok();
        }
        start.elapsed().as_secs_f64()
    }))
}

/// Microseconds per token of each stage of verifying the HS256 `tokens` under `secret` on
/// one thread (`turbojwt_core::floor`), the median of `rounds` interleaved rounds, by
/// stage name. The tokens must be valid (ValueError otherwise).
#[pyfunction]
pub fn bench_hs256_stages(
    py: Python<'_>,
    tokens: Vec<String>,
    secret: &[u8],
    rounds: usize,
) -> PyResult<Vec<(&'static str, f64)>> {
    let slices: Vec<&[u8]> = tokens.iter().map(|t| t.as_bytes()).collect();
    let costs = py
        .detach(|| turbojwt_core::floor::hs256_stages(&slices, secret, rounds))
        .map_err(PyValueError::new_err)?;
    Ok([
        ("split", costs.split),
        ("base64", costs.base64),
        ("claims", costs.claims),
        ("hmac", costs.hmac),
    ]
    .map(|(name, seconds)| (name, seconds * 1e6))
    .to_vec())
}

fn key_material(key: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = key.extract::<String>() {
        return Ok(s.into_bytes());
    }
    key.extract::<Vec<u8>>()
        .map_err(|_| PyTypeError::new_err("key must be str or bytes"))
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
