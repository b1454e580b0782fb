//! The claims JSON -> a Python dict in one pass, capturing the registered claims on the way
//! so they are validated without a second parse. Same acceptance rules as the core's
//! scanner: top-level duplicates refused, nesting bounded, NaN/Infinity allowed (like
//! Python's json module). Also claims templates: a dict kept to hand out fresh copies of
//! (the verified-token cache's hits, a batch's repeated tokens).

use std::borrow::Cow;
use std::sync::{Mutex, MutexGuard};

use jiter::{Jiter, JiterError, NumberAny, NumberInt, Peek};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use turbojwt_core::cache::SeenOnce;
use turbojwt_core::error::Segment;
use turbojwt_core::json::{
    anchored, check_utf8, depth_error, duplicate_error, find_string_special, int_from_str,
    not_object_error, time_from_number, Audience, Claims, Field, Time,
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

/// Claim names repeat from token to token: a small direct-mapped table of interned
/// Python strings, small enough to stay in cache (jiter's general string cache is a large
/// table whose misses showed up in profiles). Entries are replaced on collision.
const NAME_SLOTS: usize = 256;

pub struct NameCache {
    slots: Slots,
    values: Slots,
    /// Values that missed once: a value is cached on its second sight, so values that never
    /// repeat (a `jti`) do not evict those that do.
    missed: SeenOnce,
}

static NAMES: Mutex<NameCache> = Mutex::new(NameCache::new());

impl NameCache {
    const fn new() -> Self {
        NameCache {
            slots: Vec::new(),
            values: Vec::new(),
            missed: SeenOnce::new(NAME_SLOTS),
        }
    }
}

/// The shared table, or a private empty one when it is in use further up this thread's
/// stack: building Python objects can run the garbage collector, whose finalizers may
/// decode a token themselves, and waiting on the lock there would never end.
fn names() -> NameGuard {
    match NAMES.try_lock() {
        Ok(g) => NameGuard::Shared(g),
        Err(std::sync::TryLockError::Poisoned(p)) => NameGuard::Shared(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => NameGuard::Private(NameCache::new()),
    }
}

enum NameGuard {
    Shared(MutexGuard<'static, NameCache>),
    Private(NameCache),
}

impl std::ops::Deref for NameGuard {
    type Target = NameCache;
    fn deref(&self) -> &NameCache {
        match self {
            NameGuard::Shared(g) => g,
            NameGuard::Private(c) => c,
        }
    }
}

impl std::ops::DerefMut for NameGuard {
    fn deref_mut(&mut self) -> &mut NameCache {
        match self {
            NameGuard::Shared(g) => g,
            NameGuard::Private(c) => c,
        }
    }
}

/// A string's fingerprint: its first and last 8 bytes and its length, mixed by one
/// multiplication (the table only has to spread a few dozen claim names and values); the
/// top bits pick the slot.
fn fingerprint(b: &[u8]) -> u64 {
    let n = b.len();
    let (head, tail) = match (b.first_chunk::<8>(), b.last_chunk::<8>()) {
        (Some(h), Some(t)) => (u64::from_le_bytes(*h), u64::from_le_bytes(*t)),
        _ => (b.iter().fold(0u64, |acc, &c| (acc << 8) | c as u64), 0),
    };
    (head ^ tail.rotate_left(29) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn slot_of(print: u64) -> usize {
    (print >> 56) as usize & (NAME_SLOTS - 1)
}

struct Slot {
    print: u64,
    text: Box<str>,
    obj: Py<PyString>,
}

type Slots = Vec<Option<Slot>>;

/// The cached str for `text`, or a new one from `make`, cached unless `missed` says it has
/// not been seen before.
fn lookup<'py>(
    slots: &mut Slots,
    missed: Option<&mut SeenOnce>,
    py: Python<'py>,
    text: &str,
    make: impl FnOnce() -> Bound<'py, PyString>,
) -> Bound<'py, PyString> {
    if slots.is_empty() {
        slots.resize_with(NAME_SLOTS, || None);
    }
    let print = fingerprint(text.as_bytes());
    let i = slot_of(print);
    if let Some(s) = &slots[i] {
        // Under 8 bytes the fingerprint is the bytes themselves (as a number, with the length
        // mixed into the low bits, times an odd constant): equal fingerprints and lengths
        // mean equal text, and the usual claim names need no byte comparison.
        if s.print == print && s.text.len() == text.len() && (text.len() < 8 || *s.text == *text) {
            return s.obj.bind(py).clone();
        }
    }
    let obj = make();
    if missed.is_some_and(|m| !m.second_sight(print)) {
        return obj;
    }
    // The replaced string is an ordinary str: releasing it runs no Python code.
    slots[i] = Some(Slot {
        print,
        text: text.into(),
        obj: obj.clone().unbind(),
    });
    obj
}

impl NameCache {
    /// A member name, interned (dict lookups on it then compare by identity).
    fn get<'py>(&mut self, py: Python<'py>, name: &str) -> Bound<'py, PyString> {
        if name.len() > 64 {
            return PyString::intern(py, name);
        }
        lookup(&mut self.slots, None, py, name, || {
            PyString::intern(py, name)
        })
    }

    /// A short string value. Issuers, audiences, scopes and roles repeat from token to
    /// token; str objects are immutable, so handing out the same one is safe.
    fn value<'py>(&mut self, py: Python<'py>, text: &str) -> Bound<'py, PyString> {
        if text.len() > 32 {
            return py_str(py, text);
        }
        lookup(&mut self.values, Some(&mut self.missed), py, text, || {
            py_str(py, text)
        })
    }
}

/// A new str object for `s`.
fn py_str<'py>(py: Python<'py>, s: &str) -> Bound<'py, PyString> {
    if s.is_ascii() {
        // SAFETY: pystring_ascii_new requires `s` to be ASCII (it makes a compact ASCII
        // str by copying the bytes), checked just above; the GIL is held (`py`).
        unsafe { jiter::pystring_ascii_new(py, s) }
    } else {
        PyString::new(py, s)
    }
}

fn value<'py>(
    py: Python<'py>,
    j: &mut Jiter<'_>,
    peek: Peek,
    depth: usize,
    max_depth: usize,
) -> Result<Bound<'py, PyAny>, Stop> {
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
    // SAFETY: the GIL is held (`py`); _PyDict_NewPresized returns a new reference to a
    // dict, or NULL with an exception set (then we fall back to an ordinary dict), so the
    // owned pointer is taken over once and the unchecked cast is to its real type.
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

/// A registered claim's JSON value, as far as validation needs it.
enum Scalar<'j> {
    Str(Cow<'j, str>),
    /// Any other number, as `int()` would convert it.
    Number(Time),
    Bool(bool),
    /// null, an array or an object: `obj` tells the rest.
    Other,
}

/// Records a registered claim (slot from `registered_slot`) in the core's form.
fn note_claim<'j>(claims: &mut Claims<'j>, slot: u8, value: Scalar<'j>, obj: &Bound<'_, PyAny>) {
    match slot {
        0..=2 => {
            let t = match value {
                Scalar::Str(s) => int_from_str(&s),
                Scalar::Number(t) => t,
                Scalar::Bool(b) => Time::Int(b as i128),
                Scalar::Other => Time::Invalid,
            };
            *match slot {
                0 => &mut claims.exp,
                1 => &mut claims.nbf,
                _ => &mut claims.iat,
            } = Some(t);
        }
        3..=5 => {
            let f = match value {
                Scalar::Str(s) => Field::Value(s),
                _ => Field::WrongType,
            };
            *match slot {
                3 => &mut claims.iss,
                4 => &mut claims.sub,
                _ => &mut claims.jti,
            } = f;
        }
        _ => {
            claims.aud = match value {
                Scalar::Str(s) if s.is_empty() => Audience::Absent,
                Scalar::Str(s) => Audience::Str(s),
                _ => audience(obj),
            }
        }
    }
}

/// A registered claim read through jiter: its Python object, noted in `claims`.
fn registered<'py, 'j>(
    py: Python<'py>,
    input: &'j [u8],
    j: &mut Jiter<'j>,
    peek: Peek,
    slot: u8,
    claims: &mut Claims<'j>,
    max_depth: usize,
) -> Result<Bound<'py, PyAny>, Stop> {
    let (obj, scalar) = match peek {
        Peek::String => {
            let s = anchored(input, j.known_str()?);
            (py_str(py, &s).into_any(), Scalar::Str(s))
        }
        Peek::True | Peek::False => {
            let b = j.known_bool(peek)?;
            (PyBool::new(py, b).to_owned().into_any(), Scalar::Bool(b))
        }
        p if p.is_num() => {
            let raw = j.known_number_bytes(p)?;
            (
                number_from_raw(py, raw)?,
                Scalar::Number(time_from_number(raw)),
            )
        }
        _ => (value(py, j, peek, 1, max_depth)?, Scalar::Other),
    };
    note_claim(claims, slot, scalar, &obj);
    Ok(obj)
}

/// A nested value at `b[i..]`: jiter parses exactly that value and says where it ended.
fn nested<'py, 'j>(
    py: Python<'py>,
    b: &[u8],
    i: usize,
    max_depth: usize,
) -> Result<(Bound<'py, PyAny>, Scalar<'j>, usize), Stop> {
    let mut j = Jiter::new(&b[i..]).with_allow_inf_nan();
    let p = j.peek()?;
    let v = value(py, &mut j, p, 1, max_depth)?;
    Ok((v, Scalar::Other, i + j.current_index()))
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// An escape-free string starting after its opening quote: (text, index after the
/// closing quote), or None when it has escapes, control characters or no end.
fn plain_str(text: &str, start: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    let end = find_string_special(b, start)?;
    if b[end] != b'"' {
        return None; // an escape or a control character: the general parser
    }
    // Both ends sit next to ASCII quotes: character boundaries.
    Some((text.get(start..end)?, end + 1))
}

/// A string without escapes, a small integer, true, false or null at `text[i..]`:
/// its Python object, its claim form and where it ends. None for anything else.
fn fast_scalar<'py, 'j>(
    py: Python<'py>,
    text: &'j str,
    i: usize,
    names: &mut NameCache,
) -> Option<(Bound<'py, PyAny>, Scalar<'j>, usize)> {
    let b = text.as_bytes();
    Some(match *b.get(i)? {
        b'"' => {
            let (val, after) = plain_str(text, i + 1)?;
            (
                names.value(py, val).into_any(),
                Scalar::Str(Cow::Borrowed(val)),
                after,
            )
        }
        first @ (b'-' | b'0'..=b'9') => {
            let digits_start = i + (first == b'-') as usize;
            let mut k = digits_start;
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
            let digits = &b[digits_start..k];
            // Only plain integers without leading zeros; floats go to jiter.
            if digits.is_empty()
                || digits.len() > 18
                || (digits.len() > 1 && digits[0] == b'0')
                || matches!(b.get(k), Some(b'.' | b'e' | b'E'))
            {
                return None;
            }
            let v = digits
                .iter()
                .fold(0i64, |acc, d| acc * 10 + (d - b'0') as i64);
            let v = if first == b'-' { -v } else { v };
            (
                PyInt::new(py, v).into_any(),
                Scalar::Number(Time::Int(v as i128)),
                k,
            )
        }
        b't' if b[i..].starts_with(b"true") => (
            PyBool::new(py, true).to_owned().into_any(),
            Scalar::Bool(true),
            i + 4,
        ),
        b'f' if b[i..].starts_with(b"false") => (
            PyBool::new(py, false).to_owned().into_any(),
            Scalar::Bool(false),
            i + 5,
        ),
        b'n' if b[i..].starts_with(b"null") => (py.None().into_bound(py), Scalar::Other, i + 4),
        _ => return None,
    })
}

/// A flat array of fast scalars (`["admin","user"]`) at `text[i..]`, or None.
fn fast_array<'py>(
    py: Python<'py>,
    text: &str,
    i: usize,
    names: &mut NameCache,
) -> Option<(Bound<'py, PyAny>, usize)> {
    let b = text.as_bytes();
    let list = PyList::empty(py);
    let mut k = ws(b, i + 1);
    if b.get(k) == Some(&b']') {
        return Some((list.into_any(), k + 1));
    }
    loop {
        let (item, _, next) = fast_scalar(py, text, k, names)?;
        list.append(item).ok()?;
        k = ws(b, next);
        match b.get(k)? {
            b',' => k = ws(b, k + 1),
            b']' => return Some((list.into_any(), k + 1)),
            _ => return None,
        }
    }
}

/// The fast path for the usual claims set: a flat object of escape-free strings, small
/// integers, booleans and nulls (nested values are handed to jiter in place). Returns
/// `Ok(None)` on anything else, and the caller parses the whole payload with jiter, so
/// every acceptance decision stays with jiter's full JSON parser.
fn fast_object<'py, 'j>(
    py: Python<'py>,
    text: &'j str,
    claims: &mut Claims<'j>,
    note: bool,
    max_depth: usize,
) -> Result<Option<(Bound<'py, PyDict>, usize)>, Stop> {
    let b = text.as_bytes();
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return Ok(None);
    }
    let dict = presized_dict(py);
    let mut pairs = 0usize;
    let mut names = names();
    i = ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Ok((ws(b, i + 1) == b.len()).then_some((dict, 0)));
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return Ok(None);
        }
        let Some((key, after)) = plain_str(text, i + 1) else {
            return Ok(None);
        };
        i = ws(b, after);
        if b.get(i) != Some(&b':') {
            return Ok(None);
        }
        i = ws(b, i + 1);
        let slot = if note { registered_slot(key) } else { None };
        let Some(&first) = b.get(i) else {
            return Ok(None);
        };
        let (obj, scalar, next) = match first {
            // (an array is the second level: the depth limit applies from 2 up)
            b'[' => match (max_depth > 1)
                .then(|| fast_array(py, text, i, &mut names))
                .flatten()
            {
                Some((list, next)) => (list, Scalar::Other, next),
                None => nested(py, b, i, max_depth)?,
            },
            b'{' => nested(py, b, i, max_depth)?,
            _ => match fast_scalar(py, text, i, &mut names) {
                Some(v) => v,
                None => return Ok(None),
            },
        };
        i = next;
        if let Some(slot) = slot {
            note_claim(claims, slot, scalar, &obj);
        }
        dict.set_item(names.get(py, key), obj)?;
        pairs += 1;
        i = ws(b, i);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b'}') => {
                return Ok((ws(b, i + 1) == b.len()).then_some((dict, pairs)));
            }
            _ => return Ok(None),
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
    parse_payload(py, input, require, true, max_depth)
}

/// The dict of a payload whose claims were already checked (a batch's valid tokens), with
/// the same acceptance rules as [`payload_to_py`] and without noting the claims again.
pub fn claims_dict<'py>(
    py: Python<'py>,
    input: &[u8],
    max_depth: usize,
) -> Result<Bound<'py, PyDict>, PyErrOr> {
    parse_payload(py, input, &[], false, max_depth).map(|(dict, _)| dict)
}

fn parse_payload<'py, 'j>(
    py: Python<'py>,
    input: &'j [u8],
    require: &[String],
    note: bool,
    max_depth: usize,
) -> Result<(Bound<'py, PyDict>, Claims<'j>), PyErrOr> {
    let Ok(text) = std::str::from_utf8(input) else {
        return Err(PyErrOr::Core(
            check_utf8(input, Segment::Payload).unwrap_err(),
        ));
    };
    let mut j = Jiter::new(input).with_allow_inf_nan();
    let mut claims = Claims::default();
    let fail = |e: Stop| match e {
        Stop::Json(je) => PyErrOr::Core(JwtError::bad_json(
            Segment::Payload,
            format!("Invalid payload string: {}", je.error_type),
        )),
        Stop::TooDeep => PyErrOr::Core(depth_error(Segment::Payload, max_depth)),
        Stop::Py(e) => PyErrOr::Py(e),
    };
    if let Some((dict, pairs)) =
        fast_object(py, text, &mut claims, note, max_depth).map_err(fail)?
    {
        return finish_payload(py, input, dict, pairs, claims, require);
    }
    // The general path starts over with fresh claims.
    claims = Claims::default();
    let peek = j.peek().map_err(|e| fail(e.into()))?;
    if peek != Peek::Object {
        value(py, &mut j, peek, 1, max_depth).map_err(fail)?;
        j.finish().map_err(|e| fail(e.into()))?;
        return Err(PyErrOr::Core(not_object_error(Segment::Payload)));
    }
    let dict = presized_dict(py);
    let mut pairs = 0usize;
    let body = (|| -> Result<(), Stop> {
        let mut names = names();
        let mut key = j
            .known_object()?
            .map(|k| (registered_slot(k).filter(|_| note), names.get(py, k)));
        while let Some((slot, k)) = key {
            pairs += 1;
            let p = j.peek()?;
            let v = match slot {
                Some(slot) => registered(py, input, &mut j, p, slot, &mut claims, max_depth)?,
                None => value(py, &mut j, p, 1, max_depth)?,
            };
            dict.set_item(k, v)?;
            key = j
                .next_key()?
                .map(|k| (registered_slot(k).filter(|_| note), names.get(py, k)));
        }
        j.finish()?;
        Ok(())
    })();
    body.map_err(fail)?;
    finish_payload(py, input, dict, pairs, claims, require)
}

/// Refuses duplicate top-level members (the dict holds fewer items than pairs were read)
/// and notes which `require`d claims are present and not null.
fn finish_payload<'py, 'j>(
    _py: Python<'py>,
    input: &'j [u8],
    dict: Bound<'py, PyDict>,
    pairs: usize,
    mut claims: Claims<'j>,
    require: &[String],
) -> Result<(Bound<'py, PyDict>, Claims<'j>), PyErrOr> {
    if dict.len() != pairs {
        // A member appeared twice: name it (error path only).
        let mut seen = std::collections::HashSet::new();
        let mut j = Jiter::new(input).with_allow_inf_nan();
        let mut key = j.next_object().ok().flatten().map(str::to_owned);
        while let Some(k) = key {
            if !seen.insert(k.clone()) {
                return Err(PyErrOr::Core(duplicate_error(
                    Segment::Payload,
                    k.as_bytes(),
                )));
            }
            let _ = j.next_skip();
            key = j.next_key().ok().flatten().map(str::to_owned);
        }
        return Err(PyErrOr::Core(duplicate_error(Segment::Payload, b"?")));
    }
    for name in require {
        let present = dict
            .get_item(name)
            .map_err(PyErrOr::Py)?
            .is_some_and(|v| !v.is_none());
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
            match item
                .cast_exact::<PyString>()
                .ok()
                .and_then(|s| s.to_str().ok().map(str::to_owned))
            {
                Some(s) => out.push(Cow::Owned(s)),
                None => return Audience::Invalid,
            }
        }
        return Audience::List(out);
    }
    Audience::Invalid
}

/// A claims dict kept to hand out copies of: the dict (never handed out itself) and the
/// members whose values are lists or dicts (copied for every copy): name, value, and
/// whether it holds containers itself. Strings and numbers are immutable and shared.
pub struct ClaimsTemplate {
    dict: Py<PyDict>,
    nested: Vec<Nested>,
}

struct Nested {
    name: Py<PyAny>,
    value: Py<PyAny>,
    deep: bool,
}

impl ClaimsTemplate {
    /// A template of `dict` (copied: the caller keeps `dict`).
    pub fn new(dict: &Bound<'_, PyDict>) -> PyResult<Self> {
        let copy = dict.copy()?;
        let mut nested = Vec::new();
        for (k, v) in dict.iter() {
            if is_container(&v) {
                let deep = holds_containers(&v);
                let value = deep_copy(&v)?;
                copy.set_item(&k, &value)?;
                nested.push(Nested {
                    name: k.unbind(),
                    value: value.unbind(),
                    deep,
                });
            }
        }
        Ok(ClaimsTemplate {
            dict: copy.unbind(),
            nested,
        })
    }

    /// A copy of the claims with fresh lists and dicts, which the caller may mutate.
    pub fn fresh<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = self.dict.bind(py).copy()?;
        for n in &self.nested {
            let v = n.value.bind(py);
            let fresh = if n.deep {
                deep_copy(v)?
            } else if let Ok(l) = v.cast::<PyList>() {
                l.get_slice(0, l.len()).into_any()
            } else {
                v.cast::<PyDict>()?.copy()?.into_any()
            };
            out.set_item(n.name.bind(py), fresh)?;
        }
        Ok(out)
    }

    pub fn clone_ref(&self, py: Python<'_>) -> Self {
        ClaimsTemplate {
            dict: self.dict.clone_ref(py),
            nested: self
                .nested
                .iter()
                .map(|n| Nested {
                    name: n.name.clone_ref(py),
                    value: n.value.clone_ref(py),
                    deep: n.deep,
                })
                .collect(),
        }
    }
}

fn is_container(v: &Bound<'_, PyAny>) -> bool {
    v.is_instance_of::<PyDict>() || v.is_instance_of::<PyList>()
}

fn holds_containers(v: &Bound<'_, PyAny>) -> bool {
    if let Ok(d) = v.cast::<PyDict>() {
        return d.values().iter().any(|x| is_container(&x));
    }
    v.cast::<PyList>()
        .is_ok_and(|l| l.iter().any(|x| is_container(&x)))
}

fn deep_copy<'py>(v: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(d) = v.cast::<PyDict>() {
        let out = PyDict::new(v.py());
        for (k, x) in d.iter() {
            out.set_item(k, deep_copy(&x)?)?;
        }
        return Ok(out.into_any());
    }
    if let Ok(l) = v.cast::<PyList>() {
        let items = l
            .iter()
            .map(|x| deep_copy(&x))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(PyList::new(v.py(), items)?.into_any());
    }
    Ok(v.clone())
}
