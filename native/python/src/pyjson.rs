//! The claims JSON -> a Python dict in one pass, capturing the registered claims on the way
//! so they are validated without a second parse. Same acceptance rules as the core's
//! scanner: top-level duplicates refused, nesting bounded, NaN/Infinity allowed (like
//! Python's json module).

use std::borrow::Cow;

use jiter::{Jiter, JiterError, NumberAny, NumberInt, Peek};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use turbojwt_core::error::Segment;
use turbojwt_core::json::{
    anchored, check_utf8, depth_error, duplicate_error, int_from_str, not_object_error, time_from_number, Audience, Claims,
    Field, Time,
};
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

/// A number's Python object from its JSON text (already validated by jiter).
fn number_from_raw<'py>(py: Python<'py>, raw: &[u8]) -> Result<Bound<'py, PyAny>, Stop> {
    let mut j = Jiter::new(raw).with_allow_inf_nan();
    let p = j.peek()?;
    value(py, &mut j, p, 0, 1)
}

/// A registered claim: its Python object, and its value in the core's form.
fn registered<'py, 'j>(
    py: Python<'py>,
    input: &'j [u8],
    j: &mut Jiter<'j>,
    peek: Peek,
    slot: u8,
    claims: &mut Claims<'j>,
    max_depth: usize,
) -> Result<Bound<'py, PyAny>, Stop> {
    match slot {
        0..=2 => {
            let (obj, t) = match peek {
                Peek::String => {
                    let s = j.known_str()?;
                    (py_str(py, s).into_any(), int_from_str(s))
                }
                Peek::True | Peek::False => {
                    let b = j.known_bool(peek)?;
                    (PyBool::new(py, b).to_owned().into_any(), Time::Int(b as i128))
                }
                p if p.is_num() => {
                    let raw = j.known_number_bytes(p)?;
                    let t = time_from_number(raw);
                    let obj = match t {
                        // An integer literal (a float would keep its float type).
                        Time::Int(i) if raw.iter().all(|b| b.is_ascii_digit() || *b == b'-') => match i64::try_from(i) {
                            Ok(i) => PyInt::new(py, i).into_any(),
                            Err(_) => number_from_raw(py, raw)?,
                        },
                        _ => number_from_raw(py, raw)?,
                    };
                    (obj, t)
                }
                _ => (value(py, j, peek, 1, max_depth)?, Time::Invalid),
            };
            *match slot {
                0 => &mut claims.exp,
                1 => &mut claims.nbf,
                _ => &mut claims.iat,
            } = Some(t);
            Ok(obj)
        }
        3..=5 => {
            let (obj, field) = if peek == Peek::String {
                let s = j.known_str()?;
                (py_str(py, s).into_any(), Field::Value(anchored(input, s)))
            } else {
                (value(py, j, peek, 1, max_depth)?, Field::WrongType)
            };
            *match slot {
                3 => &mut claims.iss,
                4 => &mut claims.sub,
                _ => &mut claims.jti,
            } = field;
            Ok(obj)
        }
        _ => {
            if peek == Peek::String {
                let s = j.known_str()?;
                claims.aud = if s.is_empty() { Audience::Absent } else { Audience::Str(anchored(input, s)) };
                return Ok(py_str(py, s).into_any());
            }
            let obj = value(py, j, peek, 1, max_depth)?;
            claims.aud = audience(&obj);
            Ok(obj)
        }
    }
}

/// Parses the payload into a dict, refusing what the core's scanner refuses, and reads
/// the registered claims (and the presence of `require`d ones) on the way.
pub fn payload_to_py<'py, 'j>(
    py: Python<'py>,
    input: &'j [u8],
    require: &[String],
    max_depth: usize,
) -> Result<(Bound<'py, PyDict>, Claims<'j>), PyErrOr> {
    check_utf8(input, Segment::Payload).map_err(PyErrOr::Core)?;
    let mut j = Jiter::new(input).with_allow_inf_nan();
    let mut claims = Claims {
        exp: None,
        nbf: None,
        iat: None,
        iss: Field::Absent,
        sub: Field::Absent,
        jti: Field::Absent,
        aud: Audience::Absent,
        required_present: Vec::new(),
    };
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
            let v = match slot {
                Some(slot) => registered(py, input, &mut j, p, slot, &mut claims, max_depth)?,
                None => value(py, &mut j, p, 1, max_depth)?,
            };
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
    for name in require {
        let present = dict.get_item(name).map_err(PyErrOr::Py)?.is_some_and(|v| !v.is_none());
        claims.required_present.push(present);
    }
    Ok((dict, claims))
}

pub enum PyErrOr {
    Core(JwtError),
    Py(PyErr),
}

/// PyJWT's view of a non-string `aud` value (falsy counts as absent).
fn audience<'a>(v: &Bound<'_, PyAny>) -> Audience<'a> {
    if !v.is_truthy().unwrap_or(true) {
        return Audience::Absent;
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
