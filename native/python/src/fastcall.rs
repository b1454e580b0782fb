//! `turbojwt.decode` / `decode_complete` as METH_FASTCALL functions. PyO3 falls back to the
//! tuple-and-dict calling convention for any signature with `**kwargs`, which costs a
//! dict per call; PyJWT's signature has `**kwargs` (extra keywords are deprecated, not
//! errors), so these entry points parse CPython's vectorcall arguments themselves.

use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use pyo3::exceptions::{PySystemError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::decode::{global_decode, Arg};

/// Parameter names in PyJWT's order (`decode` and `decode_complete` swap subject/issuer).
const DECODE: [&str; 10] = [
    "jwt",
    "key",
    "algorithms",
    "options",
    "verify",
    "detached_payload",
    "audience",
    "subject",
    "issuer",
    "leeway",
];
const DECODE_COMPLETE: [&str; 10] = [
    "jwt",
    "key",
    "algorithms",
    "options",
    "verify",
    "detached_payload",
    "audience",
    "issuer",
    "subject",
    "leeway",
];

struct Parsed<'py> {
    values: [Option<Bound<'py, PyAny>>; 10],
    extra: Option<Bound<'py, PyDict>>,
}

/// Binds positional and keyword arguments to `names` like a Python signature
/// `(jwt, key="", ..., leeway=0, **kwargs)` would.
///
/// # Safety
/// `args` holds `nargs` positional arguments followed by one value per name in `kwnames`
/// (the vectorcall convention), all borrowed references.
unsafe fn bind<'py>(
    py: Python<'py>,
    fname: &str,
    names: &[&str; 10],
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<Parsed<'py>> {
    // SAFETY: only masks off the PY_VECTORCALL_ARGUMENTS_OFFSET flag of `nargs`, which
    // CPython passed as the vectorcall `nargsf`.
    let npos = unsafe { ffi::PyVectorcall_NARGS(nargs as usize) } as usize;
    if npos > names.len() {
        return Err(PyTypeError::new_err(format!(
            "{fname}() takes from 1 to {} positional arguments but {npos} were given",
            names.len()
        )));
    }
    let mut values: [Option<Bound<'py, PyAny>>; 10] = Default::default();
    for (i, slot) in values.iter_mut().enumerate().take(npos) {
        // SAFETY: i < npos, and per the caller's contract `args[..npos]` are borrowed
        // references to live objects (CPython holds them for the call).
        *slot = Some(unsafe { Bound::from_borrowed_ptr(py, *args.add(i)) });
    }
    let mut extra: Option<Bound<'py, PyDict>> = None;
    if !kwnames.is_null() {
        // SAFETY: non-null, so per the caller's contract a borrowed reference to the tuple
        // of keyword names (its type is still checked by the cast below).
        let kwnames = unsafe { Bound::from_borrowed_ptr(py, kwnames) };
        let kwnames = kwnames.cast_into::<PyTuple>()?;
        for (k, name) in kwnames.iter().enumerate() {
            // SAFETY: k < len(kwnames), and per the caller's contract the keyword values
            // are borrowed references at `args[npos..npos + len(kwnames)]`.
            let value = unsafe { Bound::from_borrowed_ptr(py, *args.add(npos + k)) };
            let text = name.cast::<PyString>()?.to_str()?;
            match names.iter().position(|n| *n == text) {
                Some(i) if values[i].is_some() => {
                    return Err(PyTypeError::new_err(format!(
                        "{fname}() got multiple values for argument '{text}'"
                    )));
                }
                Some(i) => values[i] = Some(value),
                None => {
                    let d = extra.get_or_insert_with(|| PyDict::new(py));
                    d.set_item(name, value)?;
                }
            }
        }
    }
    if values[0].is_none() {
        return Err(PyTypeError::new_err(format!(
            "{fname}() missing 1 required positional argument: 'jwt'"
        )));
    }
    Ok(Parsed { values, extra })
}

fn call(py: Python<'_>, p: Parsed<'_>, complete: bool) -> PyResult<Py<PyAny>> {
    let [jwt, key, algorithms, options, verify, detached, audience, a7, a8, leeway] = p.values;
    // decode: (..., audience, subject, issuer, ...); decode_complete: (..., audience, issuer, subject, ...)
    let (subject, issuer) = if complete { (a8, a7) } else { (a7, a8) };
    fn none_as_missing<'py>(v: Option<Bound<'py, PyAny>>) -> Option<Bound<'py, PyAny>> {
        v.filter(|v| !v.is_none())
    }
    fn arg<'py>(v: Option<Bound<'py, PyAny>>) -> Arg<'py> {
        match v {
            Some(v) => Arg::Given(v),
            None => Arg::Missing,
        }
    }
    let jwt = jwt.expect("checked by bind");
    global_decode(
        py,
        &jwt,
        arg(key),
        none_as_missing(algorithms).as_ref(),
        none_as_missing(options).as_ref(),
        none_as_missing(verify).as_ref(),
        none_as_missing(detached).as_ref(),
        none_as_missing(audience).as_ref(),
        none_as_missing(subject).as_ref(),
        none_as_missing(issuer).as_ref(),
        arg(leeway),
        p.extra.as_ref(),
        complete,
    )
}

/// Runs `f` as a CPython entry point: panics become exceptions, errors are raised.
fn entry(f: impl FnOnce(Python<'_>) -> PyResult<Py<PyAny>>) -> *mut ffi::PyObject {
    // CPython calls this with the GIL held; `attach` records that for PyO3 (so that objects
    // released inside are released at once, not queued for later).
    Python::attach(|py| match catch_unwind(AssertUnwindSafe(|| f(py))) {
        Ok(Ok(v)) => v.into_ptr(),
        Ok(Err(e)) => {
            e.restore(py);
            ptr::null_mut()
        }
        Err(_) => {
            PySystemError::new_err("internal error in turbojwt (a bug: please report it)")
                .restore(py);
            ptr::null_mut()
        }
    })
}

unsafe extern "C" fn decode_entry(
    _module: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    entry(|py| {
        // SAFETY: registered as a METH_FASTCALL | METH_KEYWORDS function (`register`), so
        // CPython passes `args`, `nargs` and `kwnames` by the vectorcall convention `bind`
        // requires.
        let p = unsafe { bind(py, "decode", &DECODE, args, nargs, kwnames) }?;
        call(py, p, false)
    })
}

unsafe extern "C" fn decode_complete_entry(
    _module: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    entry(|py| {
        // SAFETY: as in `decode_entry`: CPython passes the vectorcall arguments.
        let p = unsafe {
            bind(
                py,
                "decode_complete",
                &DECODE_COMPLETE,
                args,
                nargs,
                kwnames,
            )
        }?;
        call(py, p, true)
    })
}

const DECODE_DOC: &CStr = c"decode(jwt, key='', algorithms=None, options=None, verify=None, detached_payload=None, audience=None, subject=None, issuer=None, leeway=0, **kwargs)\n--\n\nVerify jwt and return its claims (PyJWT's jwt.decode).";
const DECODE_COMPLETE_DOC: &CStr = c"decode_complete(jwt, key='', algorithms=None, options=None, verify=None, detached_payload=None, audience=None, issuer=None, subject=None, leeway=0, **kwargs)\n--\n\nLike decode, returning {'header', 'payload', 'signature'}.";

fn add(
    m: &Bound<'_, PyModule>,
    name: &'static CStr,
    doc: &'static CStr,
    f: ffi::PyCFunctionFastWithKeywords,
) -> PyResult<()> {
    // The method definition must outlive the function object: it lives for the process.
    let def: &'static mut ffi::PyMethodDef = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: f,
        },
        ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        ml_doc: doc.as_ptr(),
    }));
    let py = m.py();
    let module_name = m.name()?;
    // SAFETY: `def` is a leaked, so 'static, method definition whose name and doc are
    // 'static C strings and whose flags match the function pointer's signature; `m` and
    // `module_name` are live objects (held by Bound); PyCFunction_NewEx returns a new
    // reference or NULL with an exception set, which from_owned_ptr_or_err takes over.
    let func = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyCFunction_NewEx(def, m.as_ptr(), module_name.as_ptr()),
        )
    }?;
    m.add(name.to_str().expect("ASCII name"), func)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add(m, c"decode", DECODE_DOC, decode_entry)?;
    add(
        m,
        c"decode_complete",
        DECODE_COMPLETE_DOC,
        decode_complete_entry,
    )
}
