//! `turbojwt._native.bench`: benchmark hooks, kept out of the product namespace. The
//! verification floor is a Rust loop with no base64, no JSON and no Python per iteration, so
//! each decode row can be compared with what the crypto costs; the HS256 stage costs split
//! one token's verification into its steps.

use std::time::Instant;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use turbojwt_core::keys::KeyEntry;

use crate::decode::algorithm;
use crate::keys::key_material;

/// Adds the hooks to `m` (the `bench` submodule).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(verify_floor, m)?)?;
    m.add_function(wrap_pyfunction!(hs256_stages, m)?)
}

/// Seconds taken by `iterations` verifications of `signature` over `signing_input`.
#[pyfunction]
pub fn verify_floor(
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
pub fn hs256_stages(
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
