//! Core errors -> turbojwt.exceptions (PyJWT's classes), and PyJWT's warnings.

use std::ffi::CString;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyModule};
use turbojwt_core::error::{Detail, Segment};
use turbojwt_core::{ErrorKind, JwtError};

static EXCEPTIONS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
static WARNINGS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn exceptions(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    EXCEPTIONS
        .get_or_try_init(py, || {
            PyModule::import(py, "turbojwt.exceptions").map(Bound::unbind)
        })
        .map(|m| m.bind(py))
}

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The module of `kind`'s class: PyJWT's classes in `turbojwt.exceptions`, turbojwt's own
/// in `turbojwt.errors`.
fn module_of(py: Python<'_>, kind: ErrorKind) -> PyResult<&Bound<'_, PyModule>> {
    match kind {
        ErrorKind::InvalidType => ERRORS
            .get_or_try_init(py, || {
                PyModule::import(py, "turbojwt.errors").map(Bound::unbind)
            })
            .map(|m| m.bind(py)),
        _ => exceptions(py),
    }
}

/// A new exception of the PyJWT class for `kind`.
pub fn exception(py: Python<'_>, kind: ErrorKind, message: &str) -> PyErr {
    match module_of(py, kind).and_then(|m| m.getattr(kind.class_name())) {
        Ok(cls) => match cls.call1((message,)) {
            Ok(exc) => PyErr::from_value(exc),
            Err(e) => e,
        },
        Err(e) => e,
    }
}

/// Python's json error text for bytes that the core refused as JSON, so the message reads
/// exactly like PyJWT's (`Invalid header string: Expecting value: line 1 column 1 (char 0)`).
pub fn python_json_message(py: Python<'_>, segment: Segment, data: &[u8]) -> Option<String> {
    let loads = JSON_LOADS
        .get_or_try_init(py, || {
            PyModule::import(py, "json")?
                .getattr("loads")
                .map(Bound::unbind)
        })
        .ok()?
        .bind(py);
    let err = loads.call1((PyBytes::new(py, data),)).err()?;
    let which = match segment {
        Segment::Header => "header",
        Segment::Payload => "payload",
    };
    Some(format!("Invalid {which} string: {}", err.value(py)))
}

/// Converts a core error; `data` is the JSON segment for `Detail::BadJson` errors.
pub fn to_pyerr(py: Python<'_>, e: &JwtError, data: Option<&[u8]>) -> PyErr {
    if let (Detail::BadJson { segment }, Some(data)) = (&e.detail, data) {
        if let Some(msg) = python_json_message(py, *segment, data) {
            return exception(py, ErrorKind::Decode, &msg);
        }
    }
    exception(py, e.kind, &e.message)
}

/// `warnings.warn(msg, InsecureKeyLengthWarning)` (an error if the filters say so).
pub fn warn_key_length(py: Python<'_>, message: &str) -> PyResult<()> {
    let category = WARNINGS
        .get_or_try_init(py, || {
            PyModule::import(py, "turbojwt.warnings")?
                .getattr("InsecureKeyLengthWarning")
                .map(Bound::unbind)
        })?
        .bind(py);
    let msg = CString::new(message).unwrap_or_default();
    PyErr::warn(py, category, &msg, 2)
}

/// Whether `err` is an `InvalidTokenError` (a verdict on the token, not a key or usage error).
pub fn is_token_error(py: Python<'_>, err: &PyErr) -> bool {
    exceptions(py)
        .and_then(|m| m.getattr("InvalidTokenError"))
        .is_ok_and(|cls| err.value(py).is_instance(&cls).unwrap_or(false))
}
