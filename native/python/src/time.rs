//! Request times from text, through the core's one parser (`turbojwt_core::time`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use turbojwt_core::time;

/// Epoch seconds from ASCII decimal seconds or an ISO 8601 date-time; ValueError otherwise.
#[pyfunction]
pub fn parse_time(text: &str) -> PyResult<f64> {
    time::parse_time(text).ok_or_else(|| {
        let shown: String = text.chars().take(64).collect();
        let more = if shown.len() < text.len() { "..." } else { "" };
        PyValueError::new_err(format!(
            "{:?}{more} is not a time: expected a finite number of seconds since the epoch (ASCII decimal) or an ISO 8601 date-time",
            shown
        ))
    })
}
