//! The claims JSON -> a Python dict in one pass, capturing the registered claims on the way
//! so they are validated without a second parse. Same acceptance rules as the core's
//! scanner: top-level duplicates refused, nesting bounded, NaN/Infinity allowed (like
//! Python's json module).

use std::borrow::Cow;

use jiter::{Jiter, JiterError, NumberAny, NumberInt, Peek};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use turbojwt_core::error::Segment;
use turbojwt_core::json::{check_utf8, depth_error, duplicate_error, int_from_str, not_object_error, Audience, Claims, Field, Time};
use turbojwt_core::JwtError;

enum Stop {
    Json(JiterError),
    TooDeep,
    Py(PyErr),
}

impl From<JiterError> for Stop {
    fn from(e: JiterError) -> Self {
        Stop::Json(e)
    }
}

impl From<PyErr> for Stop {
    fn from(e: PyErr) -> Self {
        Stop::Py(e)
    }
}

/// A string value. (Member names instead go through jiter's cache: they repeat from token
/// to token and arrive with their hash computed, which the dict insert needs.)
fn py_str<'py>(py: Python<'py>, s: &str) -> Bound<'py, PyString> {
    if s.is_ascii() {
        // SAFETY: checked ASCII just above.
        unsafe { jiter::pystring_ascii_new(py, s) }
    } else {
        PyString::new(py, s)
    }
}

fn value<'py>(py: Python<'py>, j: &mut Jiter<'_>, peek: Peek, depth: usize, max_depth: usize) -> Result<Bound<'py, PyAny>, Stop> {
    Ok(match peek {
        Peek::Null => {
            j.known_null()?;
            py.None().into_bound(py)
        }
        Peek::True | Peek::False => PyBool::new(py, j.known_bool(peek)?).to_owned().into_any(),
        Peek::String => py_str(py, j.known_str()?).into_any(),
        Peek::Array => {
            if depth >= max_depth {
                return Err(Stop::TooDeep);
            }
            let list = PyList::empty(py);
            let mut next = j.known_array()?;
            while let Some(p) = next {
                list.append(value(py, j, p, depth + 1, max_depth)?)?;
                next = j.array_step()?;
            }
            list.into_any()
        }
        Peek::Object => {
            if depth >= max_depth {
                return Err(Stop::TooDeep);
            }
            let dict = PyDict::new(py);
            let mut key = j.known_object()?.map(|k| jiter::cached_py_string(py, k));
            while let Some(k) = key {
                let p = j.peek()?;
                dict.set_item(k, value(py, j, p, depth + 1, max_depth)?)?;
                key = j.next_key()?.map(|k| jiter::cached_py_string(py, k));
            }
            dict.into_any()
        }
        _ => match j.known_number(peek)? {
            NumberAny::Int(NumberInt::Int(i)) => PyInt::new(py, i).into_any(),
            NumberAny::Int(NumberInt::BigInt(b)) => b.into_pyobject(py)?.into_any(),
            NumberAny::Float(f) => PyFloat::new(py, f).into_any(),
        },
    })
}

extern "C" {
    // CPython's (exported, unstable) presized-dict constructor; pyo3::ffi does not bind it.
    fn _PyDict_NewPresized(minused: pyo3::ffi::Py_ssize_t) -> *mut pyo3::ffi::PyObject;
}

/// A dict sized for a typical claims set, so filling it does not resize it on the way.
fn presized_dict(py: Python<'_>) -> Bound<'_, PyDict> {
    // SAFETY: _PyDict_NewPresized returns a new reference to a dict, or NULL with an
    // exception set (then we fall back to an ordinary dict).
    unsafe {
        let ptr = _PyDict_NewPresized(16);
        match Bound::from_owned_ptr_or_opt(py, ptr) {
            Some(d) => d.cast_into_unchecked(),
            None => {
                let _ = PyErr::take(py);
                PyDict::new(py)
            }
        }
    }
}

/// The registered claims of a payload, as the Python objects built for it.
#[derive(Default)]
pub struct Registered<'py> {
    exp: Option<Bound<'py, PyAny>>,
    nbf: Option<Bound<'py, PyAny>>,
    iat: Option<Bound<'py, PyAny>>,
    iss: Option<Bound<'py, PyAny>>,
    sub: Option<Bound<'py, PyAny>>,
    jti: Option<Bound<'py, PyAny>>,
    aud: Option<Bound<'py, PyAny>>,
}

fn registered_slot(name: &str) -> Option<u8> {
    Some(match name {
        "exp" => 0,
        "nbf" => 1,
        "iat" => 2,
        "iss" => 3,
        "sub" => 4,
        "jti" => 5,
        "aud" => 6,
        _ => return None,
    })
}

impl<'py> Registered<'py> {
    fn slot(&mut self, n: u8) -> &mut Option<Bound<'py, PyAny>> {
        match n {
            0 => &mut self.exp,
            1 => &mut self.nbf,
            2 => &mut self.iat,
            3 => &mut self.iss,
            4 => &mut self.sub,
            5 => &mut self.jti,
            _ => &mut self.aud,
        }
    }
}

/// Parses the payload into a dict, refusing what the core's scanner refuses.
pub fn payload_to_py<'py>(
    py: Python<'py>,
    input: &[u8],
    max_depth: usize,
) -> Result<(Bound<'py, PyDict>, Registered<'py>), PyErrOr> {
    check_utf8(input, Segment::Payload).map_err(PyErrOr::Core)?;
    let mut j = Jiter::new(input).with_allow_inf_nan();
    let mut reg = Registered::default();
    let fail = |e: Stop| match e {
        Stop::Json(je) => PyErrOr::Core(JwtError::bad_json(
            Segment::Payload,
            format!("Invalid payload string: {}", je.error_type),
        )),
        Stop::TooDeep => PyErrOr::Core(depth_error(Segment::Payload, max_depth)),
        Stop::Py(e) => PyErrOr::Py(e),
    };
    let peek = j.peek().map_err(|e| fail(e.into()))?;
    if peek != Peek::Object {
        value(py, &mut j, peek, 1, max_depth).map_err(fail)?;
        j.finish().map_err(|e| fail(e.into()))?;
        return Err(PyErrOr::Core(not_object_error(Segment::Payload)));
    }
    let dict = presized_dict(py);
    let mut pairs = 0usize;
    let body = (|| -> Result<(), Stop> {
        let mut key = j.known_object()?.map(|k| (registered_slot(k), jiter::cached_py_string(py, k)));
        while let Some((slot, k)) = key {
            pairs += 1;
            let p = j.peek()?;
            let v = value(py, &mut j, p, 1, max_depth)?;
            if let Some(slot) = slot {
                *reg.slot(slot) = Some(v.clone());
            }
            dict.set_item(k, v)?;
            key = j.next_key()?.map(|k| (registered_slot(k), jiter::cached_py_string(py, k)));
        }
        j.finish()?;
        Ok(())
    })();
    body.map_err(fail)?;
    if dict.len() != pairs {
        // A member appeared twice: name it (error path only).
        let mut seen = std::collections::HashSet::new();
        let mut j = Jiter::new(input).with_allow_inf_nan();
        let mut key = j.next_object().ok().flatten().map(str::to_owned);
        while let Some(k) = key {
            if !seen.insert(k.clone()) {
                return Err(PyErrOr::Core(duplicate_error(Segment::Payload, k.as_bytes())));
            }
            let _ = j.next_skip();
            key = j.next_key().ok().flatten().map(str::to_owned);
        }
        return Err(PyErrOr::Core(duplicate_error(Segment::Payload, b"?")));
    }
    Ok((dict, reg))
}

pub enum PyErrOr {
    Core(JwtError),
    Py(PyErr),
}

/// Python's `int(value)` for a JSON-built value, as PyJWT applies it to exp/nbf/iat.
fn time(v: &Bound<'_, PyAny>) -> Time {
    if let Ok(b) = v.cast_exact::<PyBool>() {
        return Time::Int(b.is_true() as i128);
    }
    if let Ok(i) = v.cast_exact::<PyInt>() {
        if let Ok(n) = i.extract::<i64>() {
            return Time::Int(n as i128);
        }
        return match i.extract::<i128>() {
            Ok(n) => Time::Int(n),
            Err(_) => Time::Big(if i.lt(0).unwrap_or(false) { f64::NEG_INFINITY } else { f64::INFINITY }),
        };
    }
    if let Ok(f) = v.cast_exact::<PyFloat>() {
        let f = f.value();
        if !f.is_finite() {
            return Time::Invalid;
        }
        let t = f.trunc();
        return if t.abs() < 1e38 { Time::Int(t as i128) } else { Time::Big(t) };
    }
    if let Ok(s) = v.cast_exact::<PyString>() {
        return s.to_str().map(int_from_str).unwrap_or(Time::Invalid);
    }
    Time::Invalid
}

fn str_field<'a>(v: &'a Option<Bound<'_, PyAny>>) -> Field<Cow<'a, str>> {
    match v {
        None => Field::Absent,
        Some(v) => match v.cast_exact::<PyString>().ok().and_then(|s| s.to_str().ok()) {
            Some(s) => Field::Value(Cow::Borrowed(s)),
            None => Field::WrongType,
        },
    }
}

fn audience<'a>(v: &'a Option<Bound<'_, PyAny>>) -> Audience<'a> {
    let Some(v) = v else { return Audience::Absent };
    // PyJWT: a falsy aud counts as absent.
    if !v.is_truthy().unwrap_or(true) {
        return Audience::Absent;
    }
    if let Ok(s) = v.cast_exact::<PyString>() {
        return s.to_str().map(|s| Audience::Str(Cow::Borrowed(s))).unwrap_or(Audience::Invalid);
    }
    if let Ok(l) = v.cast_exact::<PyList>() {
        let mut out = Vec::with_capacity(l.len());
        for item in l.iter() {
            match item.cast_exact::<PyString>().ok().and_then(|s| s.to_str().ok().map(str::to_owned)) {
                Some(s) => out.push(Cow::Owned(s)),
                None => return Audience::Invalid,
            }
        }
        return Audience::List(out);
    }
    Audience::Invalid
}

impl<'py> Registered<'py> {
    /// The claims in the core's form, borrowing strings from the Python objects.
    pub fn claims(&self, dict: &Bound<'py, PyDict>, require: &[String]) -> PyResult<Claims<'_>> {
        let mut required_present = Vec::with_capacity(require.len());
        for name in require {
            required_present.push(dict.get_item(name)?.is_some_and(|v| !v.is_none()));
        }
        Ok(Claims {
            exp: self.exp.as_ref().map(time),
            nbf: self.nbf.as_ref().map(time),
            iat: self.iat.as_ref().map(time),
            iss: str_field(&self.iss),
            sub: str_field(&self.sub),
            jti: str_field(&self.jti),
            aud: audience(&self.aud),
            required_present,
        })
    }
}
