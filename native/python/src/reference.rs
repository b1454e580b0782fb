//! The one hand-over to the Python reference path: `turbojwt._reference.decode`, registered
//! once when that module is imported (`set_reference`). Every native front end (decode,
//! `Verifier`, the batch engine) calls it for what the core leaves to PyJWT's sequence.

use pyo3::call::PyCallArgs;
use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

static REFERENCE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Registers `turbojwt._reference.decode` (once; later calls keep the first).
#[pyfunction]
pub fn set_reference(py: Python<'_>, decode: Py<PyAny>) {
    let _ = REFERENCE.set(py, decode);
}

fn reference(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    REFERENCE
        .get(py)
        .map(|f| f.bind(py))
        .ok_or_else(|| PyRuntimeError::new_err("turbojwt._reference is not imported"))
}

/// The reference path's verdict for one token: the error `(class name, message)` or None,
/// and the claims.
pub type Verdict = (Option<(String, String)>, Option<Py<PyAny>>);

/// What a decode was asked, as the caller passed it: the reference path gets the same.
pub struct DecodeArgs {
    pub key: Py<PyAny>,
    pub algorithms: Py<PyAny>,
    pub options: Py<PyAny>,
    pub audience: Py<PyAny>,
    pub issuer: Py<PyAny>,
    pub subject: Py<PyAny>,
    pub leeway: Py<PyAny>,
    /// The header `typ` required (None: any), checked by the reference path too.
    pub typ: Py<PyAny>,
}

impl DecodeArgs {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        algorithms: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyAny>>,
        audience: Option<&Bound<'_, PyAny>>,
        issuer: Option<&Bound<'_, PyAny>>,
        subject: Option<&Bound<'_, PyAny>>,
        leeway: Option<&Bound<'_, PyAny>>,
    ) -> Self {
        let own =
            |v: Option<&Bound<'_, PyAny>>| v.map_or_else(|| py.None(), |v| v.clone().unbind());
        DecodeArgs {
            key: key.clone().unbind(),
            algorithms: own(algorithms),
            options: own(options),
            audience: own(audience),
            issuer: own(issuer),
            subject: own(subject),
            leeway: own(leeway),
            typ: py.None(),
        }
    }

    /// The same, with a required header `typ`.
    pub fn with_typ(mut self, py: Python<'_>, typ: Option<&str>) -> Self {
        if let Some(t) = typ {
            self.typ = pyo3::types::PyString::new(py, t).into_any().unbind();
        }
        self
    }

    /// The reference path's decode of `token` (with `key` instead of the caller's, when
    /// given), as of `at` (None: now).
    pub fn decode<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        key: Option<&Bound<'py, PyAny>>,
        complete: bool,
        at: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let key = key.cloned().unwrap_or_else(|| self.key.bind(py).clone());
        let kwargs = PyDict::new(py);
        if !self.typ.is_none(py) {
            kwargs.set_item("typ", &self.typ)?;
        }
        hand_over(
            py,
            (
                token,
                key,
                &self.algorithms,
                &self.options,
                &self.audience,
                &self.issuer,
                &self.subject,
                &self.leeway,
                complete,
                at,
            ),
            Some(&kwargs),
        )
    }

    /// A batch token's verdict from the reference path: `(error class name, message)` or
    /// None, and the claims (None when not wanted or refused). Only an `Exception` is a
    /// verdict; anything else (KeyboardInterrupt) propagates.
    pub fn verdict(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        at: f64,
        claims: bool,
    ) -> PyResult<Verdict> {
        match self.decode(py, token, Some(key), false, Some(at)) {
            Ok(payload) => Ok((None, claims.then(|| payload.unbind()))),
            Err(e) if e.is_instance_of::<PyException>(py) => {
                let kind = e.get_type(py).name()?.to_string();
                let message = e.value(py).str()?.to_string();
                Ok((Some((kind, message)), None))
            }
            Err(e) => Err(e),
        }
    }
}

/// Calls the registered reference path with positional `args` and keyword `kwargs`.
pub fn hand_over<'py>(
    py: Python<'py>,
    args: impl PyCallArgs<'py>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    reference(py)?.call(args, kwargs)
}

/// Whether a header `typ` value is the one required (the core's rule), for the reference path.
#[pyfunction]
pub fn typ_matches(typ: Option<&Bound<'_, PyAny>>, want: &str) -> bool {
    use std::borrow::Cow;
    use turbojwt_core::json::Field;
    let field = match typ.map(|t| t.extract::<String>()) {
        None => Field::Absent,
        Some(Ok(s)) => Field::Value(Cow::Owned(s)),
        Some(Err(_)) => Field::WrongType,
    };
    turbojwt_core::verify::typ_matches(&field, want)
}
