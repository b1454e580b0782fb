//! The benchmark floor: bare signature verification in a Rust loop (no base64, no JSON, no
//! Python per iteration), so each decode row can be compared with what the crypto costs.

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
    let material: Vec<u8> = if let Ok(s) = key.extract::<String>() {
        s.into_bytes()
    } else {
        key.extract::<Vec<u8>>()
            .map_err(|_| PyTypeError::new_err("key must be str or bytes"))?
    };
    // A private entry (not the shared cache) so that the floor measures no cache lookups.
    let entry = KeyEntry::new(&material);
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
