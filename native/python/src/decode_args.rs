//! decode() arguments -> the core's DecodePolicy and ClaimsPolicy, with PyJWT's option
//! merging. Anything of an unusual type yields None: the Python reference path then handles
//! the call exactly. (The gateway's route policy is another thing: turbojwt/gateway/policy.py.)

use std::borrow::Cow;
use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::types::{PyDelta, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTuple};
use turbojwt_core::claims::{ClaimsPolicy, Expected};
use turbojwt_core::verify::DecodePolicy;
use turbojwt_core::AlgorithmSet;

/// The strings of a list/tuple/set/frozenset, or None for any other type or item type.
fn strings(obj: &Bound<'_, PyAny>) -> Option<Vec<String>> {
    fn owned(item: Bound<'_, PyAny>) -> Option<String> {
        Some(
            item.cast_exact::<PyString>()
                .ok()?
                .to_str()
                .ok()?
                .to_owned(),
        )
    }
    if let Ok(l) = obj.cast_exact::<PyList>() {
        return l.iter().map(owned).collect();
    }
    if let Ok(t) = obj.cast_exact::<PyTuple>() {
        return t.iter().map(owned).collect();
    }
    if obj.cast_exact::<PySet>().is_ok() || obj.cast_exact::<PyFrozenSet>().is_ok() {
        return obj.try_iter().ok()?.map(|item| owned(item.ok()?)).collect();
    }
    None
}

/// `algorithms=[...]` as a set, read without copying the names.
fn algorithm_set(obj: &Bound<'_, PyAny>) -> Option<AlgorithmSet> {
    let mut set = AlgorithmSet::new();
    let mut add = |item: Bound<'_, PyAny>| -> Option<()> {
        set.insert_name(item.cast_exact::<PyString>().ok()?.to_str().ok()?);
        Some(())
    };
    if let Ok(l) = obj.cast_exact::<PyList>() {
        for item in l.iter() {
            add(item)?;
        }
    } else if let Ok(t) = obj.cast_exact::<PyTuple>() {
        for item in t.iter() {
            add(item)?;
        }
    } else if obj.cast_exact::<PySet>().is_ok() || obj.cast_exact::<PyFrozenSet>().is_ok() {
        for item in obj.try_iter().ok()? {
            add(item.ok()?)?;
        }
    } else {
        return None;
    }
    Some(set)
}

fn expected<'a>(obj: Option<&'a Bound<'_, PyAny>>) -> Option<Option<Expected<'a>>> {
    match obj {
        None => Some(None),
        Some(o) if o.is_none() => Some(None),
        Some(o) => {
            if let Ok(s) = o.cast_exact::<PyString>() {
                return Some(Some(Expected::One(Cow::Borrowed(s.to_str().ok()?))));
            }
            Some(Some(Expected::Any(
                strings(o)?.into_iter().map(Cow::Owned).collect(),
            )))
        }
    }
}

fn leeway_seconds(obj: Option<&Bound<'_, PyAny>>) -> Option<f64> {
    let Some(o) = obj else { return Some(0.0) };
    if let Ok(f) = o.cast_exact::<PyFloat>() {
        return Some(f.value());
    }
    if let Ok(i) = o.cast::<PyInt>() {
        let v: i64 = i.extract().ok()?;
        return (v.unsigned_abs() <= 1 << 53).then_some(v as f64);
    }
    if let Ok(d) = o.cast::<PyDelta>() {
        return d.call_method0("total_seconds").ok()?.extract().ok();
    }
    None
}

fn truthy(d: &Bound<'_, PyDict>, key: &str) -> PyResult<Option<bool>> {
    match d.get_item(key)? {
        Some(v) => Ok(Some(v.is_truthy()?)),
        None => Ok(None),
    }
}

const VERIFY_CLAIMS: [&str; 7] = [
    "verify_exp",
    "verify_nbf",
    "verify_iat",
    "verify_aud",
    "verify_iss",
    "verify_sub",
    "verify_jti",
];

/// Builds the policy of a `decode()` call. `base` is the PyJWT instance's options (None for
/// the defaults), `options` the call's. Returns None to ask for the Python path.
#[allow(clippy::too_many_arguments)]
pub fn build<'a>(
    options: Option<&Bound<'_, PyAny>>,
    base: Option<&Bound<'_, PyAny>>,
    algorithms: Option<&Bound<'_, PyAny>>,
    audience: Option<&'a Bound<'_, PyAny>>,
    issuer: Option<&'a Bound<'_, PyAny>>,
    subject: Option<&'a Bound<'_, PyAny>>,
    leeway: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<DecodePolicy<'a>>> {
    let options = match options {
        Some(o) if !o.is_none() => match o.cast_exact::<PyDict>() {
            Ok(d) => Some(d.clone()),
            Err(_) => return Ok(None),
        },
        _ => None,
    };
    let base = match base {
        Some(o) if !o.is_none() => match o.cast::<PyDict>() {
            Ok(d) => Some(d.clone()),
            Err(_) => return Ok(None),
        },
        _ => None,
    };
    // PyJWT: the signature check follows the call's options only.
    let verify_signature = match &options {
        Some(d) => truthy(d, "verify_signature")?.unwrap_or(true),
        None => true,
    };
    let mut claims = ClaimsPolicy::default();
    let mut strict_aud = false;
    let mut enforce = false;
    let mut require: Option<Bound<'_, PyAny>> = None;
    let mut flags = [true; 7];
    // Instance options first, then the call's (with verify_* defaulting to False when the
    // call turns verify_signature off), as PyJWT's `_merge_options` does.
    for (layer, is_call) in [(&base, false), (&options, true)] {
        let Some(d) = layer else { continue };
        let sig_off = is_call && !verify_signature;
        for (flag, name) in flags.iter_mut().zip(VERIFY_CLAIMS) {
            match truthy(d, name)? {
                Some(v) => *flag = v,
                None if sig_off => *flag = false,
                None => {}
            }
        }
        if let Some(v) = truthy(d, "strict_aud")? {
            strict_aud = v;
        }
        if let Some(v) = truthy(d, "enforce_minimum_key_length")? {
            enforce = v;
        }
        if let Some(r) = d.get_item("require")? {
            require = Some(r);
        }
    }
    if let Some(r) = require {
        match strings(&r) {
            Some(v) => claims.require = v,
            None => return Ok(None),
        }
    }
    [
        claims.verify_exp,
        claims.verify_nbf,
        claims.verify_iat,
        claims.verify_aud,
        claims.verify_iss,
        claims.verify_sub,
        claims.verify_jti,
    ] = flags;
    claims.strict_aud = strict_aud;

    let algorithms = match algorithms {
        None => None,
        Some(a) if a.is_none() => None,
        Some(a) => {
            let Some(set) = algorithm_set(a) else {
                return Ok(None);
            };
            (!set.is_empty()).then_some(set)
        }
    };
    let Some(audience) = expected(audience) else {
        return Ok(None);
    };
    let Some(issuer) = expected(issuer) else {
        return Ok(None);
    };
    claims.audience = audience;
    claims.issuer = issuer;
    claims.subject = match subject {
        None => None,
        Some(s) if s.is_none() => None,
        Some(s) => match s.cast_exact::<PyString>() {
            Ok(s) => Some(Cow::Borrowed(s.to_str()?)),
            Err(_) => return Ok(None),
        },
    };
    let Some(leeway) = leeway_seconds(leeway) else {
        return Ok(None);
    };
    claims.leeway = leeway;
    Ok(Some(DecodePolicy {
        verify_signature,
        enforce_minimum_key_length: enforce,
        algorithms,
        claims,
    }))
}

/// The policy of the previous `decode()` call, reused when the next call passes the same
/// arguments (the usual case: `algorithms=[...]` written out, audience and issuer
/// constants). Only immutable arguments are compared by identity (str, int, float); the
/// algorithm names are compared by value, as that list is usually built anew per call.
pub struct Memo {
    algorithms: Vec<String>,
    audience: Option<Py<PyAny>>,
    issuer: Option<Py<PyAny>>,
    subject: Option<Py<PyAny>>,
    leeway: Option<Py<PyAny>>,
    policy: DecodePolicy<'static>,
}

static MEMO: Mutex<Option<Memo>> = Mutex::new(None);

/// A decode policy: the remembered one (while its lock is held) or one built for this call.
pub enum PolicyRef<'a> {
    Remembered(MutexGuard<'static, Option<Memo>>),
    Built(DecodePolicy<'a>),
}

impl<'a> PolicyRef<'a> {
    pub fn get(&self) -> &DecodePolicy<'a> {
        match self {
            PolicyRef::Remembered(g) => &g.as_ref().expect("checked when taken").policy,
            PolicyRef::Built(p) => p,
        }
    }
}

fn immutable_scalar(v: Option<&Bound<'_, PyAny>>) -> Option<Option<Py<PyAny>>> {
    match v {
        None => Some(None),
        Some(v) if v.is_none() => Some(None),
        Some(v)
            if v.is_exact_instance_of::<PyString>()
                || v.is_exact_instance_of::<PyInt>()
                || v.is_exact_instance_of::<PyFloat>() =>
        {
            Some(Some(v.clone().unbind()))
        }
        Some(_) => None,
    }
}

fn same(py: Python<'_>, remembered: &Option<Py<PyAny>>, v: Option<&Bound<'_, PyAny>>) -> bool {
    match (remembered, v) {
        (None, None) => true,
        (None, Some(v)) => v.is_none(),
        (Some(r), Some(v)) => r.bind(py).is(v),
        (Some(_), None) => false,
    }
}

fn same_names(list: &Bound<'_, PyList>, names: &[String]) -> bool {
    list.len() == names.len()
        && list.iter().zip(names).all(|(item, name)| {
            item.cast_exact::<PyString>()
                .ok()
                .and_then(|s| s.to_str().ok().map(|s| s == name))
                .unwrap_or(false)
        })
}

/// The policy a `Verifier` or a batch engine keeps (owning its strings); `what` names the
/// caller in the TypeError for argument types the native policy does not take.
#[allow(clippy::too_many_arguments)]
pub fn owned(
    what: &str,
    options: Option<&Bound<'_, PyAny>>,
    algorithms: &Bound<'_, PyAny>,
    audience: Option<&Bound<'_, PyAny>>,
    issuer: Option<&Bound<'_, PyAny>>,
    subject: Option<&Bound<'_, PyAny>>,
    leeway: Option<&Bound<'_, PyAny>>,
) -> PyResult<DecodePolicy<'static>> {
    build(
        options,
        None,
        Some(algorithms),
        audience,
        issuer,
        subject,
        leeway,
    )?
    .map(DecodePolicy::into_owned)
    .ok_or_else(|| {
        pyo3::exceptions::PyTypeError::new_err(format!("unsupported argument types for {what}"))
    })
}

/// `build`, reusing the previous call's policy when the arguments are the same.
#[allow(clippy::too_many_arguments)]
pub fn build_remembered<'a>(
    py: Python<'_>,
    options: Option<&Bound<'_, PyAny>>,
    base: Option<&Bound<'_, PyAny>>,
    algorithms: Option<&Bound<'_, PyAny>>,
    audience: Option<&'a Bound<'_, PyAny>>,
    issuer: Option<&'a Bound<'_, PyAny>>,
    subject: Option<&'a Bound<'_, PyAny>>,
    leeway: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<PolicyRef<'a>>> {
    let plain_options = options.is_none_or(|o| o.is_none()) && base.is_none_or(|b| b.is_none());
    let list = algorithms.and_then(|a| a.cast_exact::<PyList>().ok());
    if plain_options {
        if let (Some(list), Ok(guard)) = (list, MEMO.try_lock()) {
            if let Some(m) = guard.as_ref() {
                if same_names(list, &m.algorithms)
                    && same(py, &m.audience, audience)
                    && same(py, &m.issuer, issuer)
                    && same(py, &m.subject, subject)
                    && same(py, &m.leeway, leeway)
                {
                    return Ok(Some(PolicyRef::Remembered(guard)));
                }
            }
        }
    }
    let Some(policy) = build(options, base, algorithms, audience, issuer, subject, leeway)? else {
        return Ok(None);
    };
    if plain_options {
        // Remember it when every argument can be recognised next time.
        let names: Option<Vec<String>> = list.and_then(|l| {
            l.iter()
                .map(|i| {
                    i.cast_exact::<PyString>()
                        .ok()
                        .and_then(|s| s.to_str().ok().map(str::to_owned))
                })
                .collect()
        });
        if let (Some(names), Some(aud), Some(iss), Some(sub), Some(lee)) = (
            names,
            immutable_scalar(audience),
            immutable_scalar(issuer),
            immutable_scalar(subject),
            immutable_scalar(leeway),
        ) {
            if let Ok(mut guard) = MEMO.try_lock() {
                let old = guard.replace(Memo {
                    algorithms: names,
                    audience: aud,
                    issuer: iss,
                    subject: sub,
                    leeway: lee,
                    policy: policy.clone().into_owned(),
                });
                drop(guard);
                drop(old); // released outside the lock
            }
        }
    }
    Ok(Some(PolicyRef::Built(policy)))
}
