//! `encode`: JSON exactly as Python's `json.dumps(obj, separators=(",", ":"))` writes it
//! (so tokens are byte-identical to PyJWT's), then signing with a cached key.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyDateTime, PyDict, PyFloat, PyInt, PyList, PyModule, PyString, PyTuple,
};
use turbojwt_core::alg::Family;
use turbojwt_core::jws::sign_compact;
use turbojwt_core::keys::KeyProblem;
use turbojwt_core::{Algorithm, ErrorKind};

use crate::errors::{exception, warn_key_length};
use crate::keys::resolve;

/// JSON nesting this writer follows before handing over to `json.dumps` (which also
/// detects circular references).
const MAX_DEPTH: usize = 64;

/// Appends `s` with `ensure_ascii=True` escaping, as CPython's encoder does.
fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            ' '..='~' => out.push(ch as u8),
            _ => {
                let mut units = [0u16; 2];
                for &u in ch.encode_utf16(&mut units).iter() {
                    out.extend_from_slice(b"\\u");
                    for shift in [12, 8, 4, 0] {
                        out.push(HEX[((u >> shift) & 0xf) as usize]);
                    }
                }
            }
        }
    }
    out.push(b'"');
}

fn write_float(out: &mut Vec<u8>, f: &Bound<'_, PyFloat>) -> Option<()> {
    let v = f.value();
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        // float.__repr__, as json does (also for subclasses).
        let r = PyFloat::new(f.py(), v).repr().ok()?;
        out.extend_from_slice(r.to_str().ok()?.as_bytes());
    }
    Some(())
}

/// Writes a dict key as json does: str as is; int, float, bool and None as their JSON text.
fn write_key(out: &mut Vec<u8>, k: &Bound<'_, PyAny>) -> Option<()> {
    if let Ok(s) = k.cast::<PyString>() {
        write_str(out, s.to_str().ok()?);
    } else if let Ok(b) = k.cast::<PyBool>() {
        write_str(out, if b.is_true() { "true" } else { "false" });
    } else if let Ok(i) = k.cast::<PyInt>() {
        write_str(out, i.str().ok()?.to_str().ok()?);
    } else if k.is_none() {
        write_str(out, "null");
    } else {
        return None; // floats and anything else: json.dumps decides
    }
    Some(())
}

/// Writes `obj`; None when a type needs Python's json module (custom types, subclasses
/// with their own behaviour, circular structures).
fn write_value(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    if let Ok(s) = obj.cast_exact::<PyString>() {
        write_str(out, s.to_str().ok()?);
    } else if obj.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(b) = obj.cast_exact::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if let Ok(i) = obj.cast_exact::<PyInt>() {
        if let Ok(v) = i.extract::<i64>() {
            out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        } else {
            out.extend_from_slice(i.str().ok()?.to_str().ok()?.as_bytes());
        }
    } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
        write_float(out, f)?;
    } else if let Ok(d) = obj.cast_exact::<PyDict>() {
        write_dict(out, d, depth, false)?;
    } else if let Ok(l) = obj.cast_exact::<PyList>() {
        write_array(out, l.iter(), depth)?;
    } else if let Ok(t) = obj.cast_exact::<PyTuple>() {
        write_array(out, t.iter(), depth)?;
    } else {
        return None;
    }
    Some(())
}

/// A list or tuple, as a JSON array.
fn write_array<'py>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    depth: usize,
) -> Option<()> {
    out.push(b'[');
    for (n, item) in items.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_value(out, &item, depth + 1)?;
    }
    out.push(b']');
    Some(())
}

fn write_dict(
    out: &mut Vec<u8>,
    d: &Bound<'_, PyDict>,
    depth: usize,
    sort_keys: bool,
) -> Option<()> {
    out.push(b'{');
    let mut items: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = d.iter().collect();
    if sort_keys {
        // json.dumps(sort_keys=True) sorts the keys; only str keys are handled here.
        let mut keyed = Vec::with_capacity(items.len());
        for (k, v) in items {
            let s = k.cast_exact::<PyString>().ok()?.to_str().ok()?.to_owned();
            keyed.push((s, k, v));
        }
        // Python sorts str by code point, which is UTF-8 byte order.
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        items = keyed.into_iter().map(|(_, k, v)| (k, v)).collect();
    }
    for (n, (k, v)) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_key(out, k)?;
        out.push(b':');
        write_value(out, v, depth + 1)?;
    }
    out.push(b'}');
    Some(())
}

static TIMEGM: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The claims with `exp`/`iat`/`nbf` datetimes turned into `timegm(utctimetuple())`, as
/// PyJWT does; the caller's dict is left untouched.
fn with_numeric_dates<'py>(
    py: Python<'py>,
    payload: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut copy: Option<Bound<'py, PyDict>> = None;
    for claim in ["exp", "iat", "nbf"] {
        let Some(v) = payload.get_item(claim)? else {
            continue;
        };
        if v.cast::<PyDateTime>().is_ok() {
            let timegm = TIMEGM
                .get_or_try_init(py, || {
                    PyModule::import(py, "calendar")?
                        .getattr("timegm")
                        .map(Bound::unbind)
                })?
                .bind(py);
            let seconds = timegm.call1((v.call_method0("utctimetuple")?,))?;
            let d = match &copy {
                Some(d) => d.clone(),
                None => {
                    let d = payload.copy()?;
                    copy = Some(d.clone());
                    d
                }
            };
            d.set_item(claim, seconds)?;
        }
    }
    Ok(copy.unwrap_or_else(|| payload.clone()))
}

/// `turbojwt.encode` natively: returns the token, or NotImplemented for the Python path
/// (custom encoders, unusual headers or keys, detached payloads, registered algorithms).
#[pyfunction]
#[pyo3(signature = (payload, key, algorithm, headers, sort_headers, enforce_minimum_key_length))]
pub fn encode_fast(
    py: Python<'_>,
    payload: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
    algorithm: Option<&str>,
    headers: Option<&Bound<'_, PyAny>>,
    sort_headers: bool,
    enforce_minimum_key_length: bool,
) -> PyResult<Py<PyAny>> {
    let fallback = || Ok(py.NotImplemented());
    let Ok(payload) = payload.cast_exact::<PyDict>() else {
        return fallback();
    };
    if let Some(iss) = payload.get_item("iss")? {
        if iss.cast::<PyString>().is_err() {
            return fallback();
        }
    }
    let headers = match headers {
        None => None,
        Some(h) if h.is_none() => None,
        Some(h) => match h.cast_exact::<PyDict>() {
            Ok(d) => Some(d.clone()),
            Err(_) => return fallback(),
        },
    };
    let Some(resolved) = resolve(py, key)? else {
        return fallback();
    };
    // PyJWS.encode: the algorithm argument (or the PyJWK's), overridden by headers["alg"].
    let mut alg_name: String = match (algorithm, resolved.bound) {
        (Some(a), _) => a.to_owned(),
        (None, Some(b)) => b.name().to_owned(),
        (None, None) => return fallback(),
    };
    let header = PyDict::new(py);
    header.set_item("typ", "JWT")?;
    if let Some(h) = &headers {
        if let Some(a) = h.get_item("alg")? {
            if a.is_truthy()? {
                match a.cast_exact::<PyString>() {
                    Ok(s) => alg_name = s.to_str()?.to_owned(),
                    Err(_) => return fallback(),
                }
            }
        }
        if let Some(b64) = h.get_item("b64")? {
            if b64.is(PyBool::new(py, false)) {
                return fallback(); // detached payload: rare, handled by the Python path
            }
        }
        if let Some(kid) = h.get_item("kid")? {
            if kid.cast::<PyString>().is_err() {
                return fallback();
            }
        }
    }
    header.set_item("alg", &alg_name)?;
    if let Some(h) = &headers {
        header.update(h.as_mapping())?;
    }
    if !header
        .get_item("typ")?
        .map(|t| t.is_truthy())
        .transpose()?
        .unwrap_or(false)
    {
        header.del_item("typ")?;
    }
    if header.contains("b64")? {
        header.del_item("b64")?;
    }
    let Some(alg) = Algorithm::from_name(&alg_name) else {
        return fallback();
    };
    if alg == Algorithm::None || (resolved.is_object && alg.family() == Family::Hmac) {
        return fallback();
    }
    let payload = with_numeric_dates(py, payload)?;
    let mut payload_json = Vec::with_capacity(256);
    if write_dict(&mut payload_json, &payload, 0, false).is_none() {
        return fallback();
    }
    let mut header_json = Vec::with_capacity(64);
    if write_dict(&mut header_json, &header, 0, sort_headers).is_none() {
        return fallback();
    }
    match resolved.entry.check(alg) {
        Ok(()) => {}
        Err(KeyProblem::HmacRefused(m)) => return Err(exception(py, ErrorKind::InvalidKey, m)),
        Err(KeyProblem::Unsupported) => return fallback(),
    }
    if alg.family() != Family::Hmac && resolved.entry.asymmetric().is_none_or(|k| !k.is_private) {
        return fallback(); // PyJWT fails its own way signing with a public key
    }
    if let Some(msg) = resolved.entry.key_length_warning(alg) {
        if enforce_minimum_key_length {
            return Err(exception(py, ErrorKind::InvalidKey, &msg));
        }
        warn_key_length(py, &msg)?;
    }
    let entry = resolved.entry.clone();
    let signed = if alg.family() == Family::Hmac {
        sign_compact(&entry, alg, &header_json, &payload_json, false)
    } else {
        py.detach(|| sign_compact(&entry, alg, &header_json, &payload_json, false))
    };
    match signed {
        Ok(token) => Ok(PyString::new(py, &token).into_any().unbind()),
        Err(_) => fallback(),
    }
}
