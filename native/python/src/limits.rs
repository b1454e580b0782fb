//! Process-wide input limits (token length, JSON depth), configurable from Python.

use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use turbojwt_core::jws::{Limits, DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_TOKEN_LENGTH};

static MAX_TOKEN_LENGTH: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_TOKEN_LENGTH);
static MAX_JSON_DEPTH: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_JSON_DEPTH);

pub fn limits() -> Limits {
    Limits {
        max_token_length: MAX_TOKEN_LENGTH.load(Ordering::Relaxed),
        max_json_depth: MAX_JSON_DEPTH.load(Ordering::Relaxed),
    }
}

/// `set_limits(max_token_length=None, max_json_depth=None)`; returns the limits in force.
#[pyfunction]
#[pyo3(signature = (max_token_length=None, max_json_depth=None))]
pub fn set_limits(
    max_token_length: Option<usize>,
    max_json_depth: Option<usize>,
) -> PyResult<(usize, usize)> {
    if max_token_length == Some(0) {
        return Err(PyValueError::new_err("max_token_length must be positive"));
    }
    if let Some(d) = max_json_depth {
        if d == 0 || d > 200 {
            // jiter's Python builder stops at 200 levels; deeper limits could not be honoured.
            return Err(PyValueError::new_err(
                "max_json_depth must be between 1 and 200",
            ));
        }
        MAX_JSON_DEPTH.store(d, Ordering::Relaxed);
    }
    if let Some(n) = max_token_length {
        MAX_TOKEN_LENGTH.store(n, Ordering::Relaxed);
    }
    Ok(get_limits())
}

#[pyfunction]
pub fn get_limits() -> (usize, usize) {
    let l = limits();
    (l.max_token_length, l.max_json_depth)
}
