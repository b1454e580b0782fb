//! Batch verification bindings: token slices borrowed from Python objects (a list of
//! str/bytes, or Arrow buffers), verified by the core with the GIL released, then Python
//! objects built only for what the caller reads. The log-specific parts (JSON-lines blocks,
//! line splitting, the summary tally) are in `logs.rs`.

use std::collections::HashMap;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyModule, PyString, PyTuple};
use turbojwt_core::b64;
use turbojwt_core::batch::{self, At, Chunk, KeyTable, Outcome, Selection, Span, Verdict, CHUNK};
use turbojwt_core::error::{Detail, Segment};
use turbojwt_core::jws::{self, Limits};
use turbojwt_core::verify::KeyRef;

use crate::decode_args;
use crate::errors::python_json_message;
use crate::keys::resolve_for_verify;
use crate::limits::limits;
use crate::pyjson::{claims_dict, ClaimsTemplate, PyErrOr};
use crate::reference::{self, DecodeArgs};

/// A key set entry as Python passes it: `(kid or None, key index)`.
type SetEntries = Vec<(Option<String>, usize)>;

/// One Arrow array as Python passes it: `(offsets, data, validity or None, offset, length,
/// large)`, the buffers exported by pyarrow.
type ArrowArray = (
    PyBuffer<i8>,
    Option<PyBuffer<i8>>,
    Option<PyBuffer<i8>>,
    usize,
    usize,
    bool,
);

/// One policy and key table compiled for batches.
#[pyclass(module = "turbojwt._native", frozen)]
pub struct BatchVerifier {
    inner: batch::BatchVerifier,
    /// The keys as Python passed them, and the policy's arguments: the reference path
    /// judges the tokens the core hands over (`Outcome::Fallback`) with them.
    keys: Vec<Py<PyAny>>,
    args: DecodeArgs,
}

#[pymethods]
impl BatchVerifier {
    /// `keys`: the keys in the caller's order; `selection`: None (one key), a list of
    /// `(kid, index)` (a key set), `("strict", that list)` (a `KeySet`) or a dict
    /// issuer -> such a list.
    #[new]
    #[pyo3(signature = (keys, selection, algorithms, audience, issuer, subject, leeway, options))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        keys: Vec<Bound<'_, PyAny>>,
        selection: &Bound<'_, PyAny>,
        algorithms: &Bound<'_, PyAny>,
        audience: Option<&Bound<'_, PyAny>>,
        issuer: Option<&Bound<'_, PyAny>>,
        subject: Option<&Bound<'_, PyAny>>,
        leeway: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let policy = decode_args::owned(
            "verify_batch",
            options,
            algorithms,
            audience,
            issuer,
            subject,
            leeway,
        )?;
        let mut resolved: Vec<KeyRef> = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            match resolve_for_verify(py, k)? {
                Some(r) => resolved.push(r),
                // The caller verifies such batches with the reference path instead.
                None => {
                    return Err(pyo3::exceptions::PyNotImplementedError::new_err(format!(
                        "key {i} is not one the native core takes"
                    )))
                }
            }
        }
        let selection = if selection.is_none() {
            if resolved.len() != 1 {
                return Err(PyValueError::new_err("one key expected"));
            }
            Selection::One
        } else if let Ok(map) = selection.cast::<PyDict>() {
            let mut by_issuer = HashMap::new();
            for (iss, entries) in map.iter() {
                by_issuer.insert(iss.extract::<String>()?, entries.extract::<SetEntries>()?);
            }
            Selection::ByIssuer(by_issuer)
        } else if let Ok((kind, entries)) = selection.extract::<(String, SetEntries)>() {
            if kind != "strict" {
                return Err(PyValueError::new_err("unknown key selection"));
            }
            Selection::Strict(entries)
        } else {
            Selection::Set(selection.extract::<SetEntries>()?)
        };
        let check = |entries: &SetEntries| entries.iter().all(|(_, i)| *i < resolved.len());
        let in_range = match &selection {
            Selection::One => true,
            Selection::Set(e) | Selection::Strict(e) => check(e),
            Selection::ByIssuer(m) => m.values().all(check),
        };
        if !in_range {
            return Err(PyValueError::new_err("key index out of range"));
        }
        Ok(BatchVerifier {
            inner: batch::BatchVerifier::new(
                KeyTable {
                    keys: resolved,
                    selection,
                },
                policy,
            ),
            keys: keys.iter().map(|k| k.clone().unbind()).collect(),
            args: DecodeArgs::new(
                py,
                &py.None().into_bound(py),
                Some(algorithms),
                options,
                audience,
                issuer,
                subject,
                leeway,
            ),
        })
    }

    /// Verifies a list or tuple of tokens (str or bytes; anything else, and a str that is
    /// not UTF-8, is left to the caller's fallback). `at`: one time, or a float64 buffer
    /// with one time per token.
    #[pyo3(signature = (tokens, at, claims, threads))]
    fn verify(
        &self,
        py: Python<'_>,
        tokens: &Bound<'_, PyAny>,
        at: &Bound<'_, PyAny>,
        claims: bool,
        threads: usize,
    ) -> PyResult<BatchPart> {
        // A tuple is immutable and a list is copied into one (a C loop of increfs): the token
        // objects then stay alive and in place while the GIL is released.
        let snapshot: Bound<'_, PyTuple> = if let Ok(l) = tokens.cast::<PyList>() {
            l.to_tuple()
        } else if let Ok(t) = tokens.cast::<PyTuple>() {
            t.clone()
        } else {
            return Err(PyTypeError::new_err("tokens must be a list or tuple"));
        };
        let slices: Vec<Option<&[u8]>> = snapshot.as_slice().iter().map(token_bytes).collect();
        let token = |i: usize| snapshot.as_slice()[i].clone();
        self.run(py, &slices, token, at, claims, threads)
    }

    /// Verifies Arrow string or binary arrays read in place: `arrays` is a list of
    /// `(offsets, data, validity or None, offset, length, large)` with pyarrow buffers.
    #[pyo3(signature = (arrays, at, claims, threads))]
    fn verify_arrow(
        &self,
        py: Python<'_>,
        arrays: Vec<ArrowArray>,
        at: &Bound<'_, PyAny>,
        claims: bool,
        threads: usize,
    ) -> PyResult<BatchPart> {
        let mut slices: Vec<Option<&[u8]>> = Vec::new();
        for (offsets, data, validity, offset, length, large) in &arrays {
            let offsets = bytes_of(offsets);
            let data = data.as_ref().map(bytes_of).unwrap_or(&[]);
            let validity = validity.as_ref().map(bytes_of);
            let width = if *large { 8 } else { 4 };
            if offsets.len() < (offset + length + 1) * width {
                return Err(PyValueError::new_err("Arrow offsets buffer too short"));
            }
            let at_index = |i: usize| -> i64 {
                let b = &offsets[i * width..(i + 1) * width];
                if *large {
                    i64::from_le_bytes(b.try_into().unwrap())
                } else {
                    i32::from_le_bytes(b.try_into().unwrap()) as i64
                }
            };
            for i in *offset..offset + length {
                let valid =
                    validity.is_none_or(|v| v.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1));
                let (start, end) = (at_index(i), at_index(i + 1));
                if start < 0 || end < start || end as usize > data.len() {
                    return Err(PyValueError::new_err("Arrow offsets out of range"));
                }
                slices.push(valid.then(|| &data[start as usize..end as usize]));
            }
        }
        let token = |i: usize| match slices[i] {
            Some(b) => PyBytes::new(py, b).into_any(),
            None => py.None().into_bound(py),
        };
        self.run(py, &slices, token, at, claims, threads)
    }

    /// Verifies the token of every JSON line in `block` (whole lines; bytes or a contiguous
    /// byte buffer, which the caller leaves unchanged during the call), each as of its
    /// `time_path` value (`at` overrides; lines without a time field: now).
    #[pyo3(signature = (block, token_path, time_path, at, threads))]
    fn verify_jsonl(
        &self,
        py: Python<'_>,
        block: PyBuffer<u8>,
        token_path: Vec<String>,
        time_path: Option<Vec<String>>,
        at: Option<f64>,
        threads: usize,
    ) -> PyResult<BatchPart> {
        crate::logs::verify_jsonl(self, py, block, token_path, time_path, at, threads)
    }
}

/// The UTF-8 bytes of a str token, or a bytes token as is; None for anything else and for a
/// str that is not UTF-8 (the caller's fallback gives those their verdict).
fn token_bytes<'a>(t: &'a Bound<'_, PyAny>) -> Option<&'a [u8]> {
    if let Ok(s) = t.cast::<PyString>() {
        #[cfg(not(any(Py_LIMITED_API, PyPy, GraalPy)))]
        // SAFETY: `s` is a str (checked by the cast), so the PyUnicode macros apply; a
        // compact ASCII str keeps its `len` characters, which are also its UTF-8 bytes,
        // right after the object header, unchanged (str is immutable) for as long as the
        // object lives, and the slice borrows `t`, which keeps it alive.
        unsafe {
            let ptr = s.as_ptr();
            if pyo3::ffi::PyUnicode_IS_COMPACT_ASCII(ptr) != 0 {
                let data = pyo3::ffi::PyUnicode_DATA(ptr) as *const u8;
                let len = pyo3::ffi::PyUnicode_GET_LENGTH(ptr) as usize;
                return Some(std::slice::from_raw_parts(data, len));
            }
        }
        s.to_str().ok().map(str::as_bytes)
    } else if let Ok(b) = t.cast::<PyBytes>() {
        Some(b.as_bytes())
    } else {
        None
    }
}

/// The bytes of a byte buffer: a pyarrow buffer (exported as signed chars), or bytes, a
/// bytearray or a view of one. The caller checks it is contiguous where that is not known.
pub(crate) fn bytes_of<T: pyo3::buffer::Element>(buf: &PyBuffer<T>) -> &[u8] {
    debug_assert_eq!(std::mem::size_of::<T>(), 1);
    // SAFETY: one-byte items (i8 or u8: PyBuffer checked the format), stored contiguously
    // (pyarrow's buffers; otherwise checked by the caller), so `len_bytes` bytes from
    // `buf_ptr` are the buffer; exported while `buf` lives (the slice borrows `buf`), so
    // neither freed nor resized; nobody writes to them during the call (pyarrow buffers
    // are immutable; read_blocks' buffer waits for the call).
    unsafe { std::slice::from_raw_parts(buf.buf_ptr() as *const u8, buf.len_bytes()) }
}

impl BatchVerifier {
    /// The core's batch verifier.
    pub(crate) fn core(&self) -> &batch::BatchVerifier {
        &self.inner
    }

    /// The reference path's verdict on one token the core handed over, with key `k` (an
    /// index into the keys), as of `at`.
    pub(crate) fn reference_verdict(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        k: usize,
        at: f64,
        claims: bool,
    ) -> PyResult<reference::Verdict> {
        self.args
            .verdict(py, token, self.keys[k].bind(py), at, claims)
    }

    /// Verifies `slices` natively, then gives the tokens the core handed over the reference
    /// path's verdicts, each as of its own time (`token(i)`: token i as a Python object).
    fn run<'py>(
        &self,
        py: Python<'py>,
        slices: &[Option<&[u8]>],
        token: impl Fn(usize) -> Bound<'py, PyAny>,
        at: &Bound<'py, PyAny>,
        claims: bool,
        threads: usize,
    ) -> PyResult<BatchPart> {
        let times_buf;
        let at = if let Ok(t) = at.extract::<f64>() {
            At::One(t)
        } else {
            times_buf = PyBuffer::<f64>::get(at)
                .map_err(|_| PyTypeError::new_err("at must be a number or a float64 buffer"))?;
            At::Each(times_of(&times_buf)?)
        };
        if let At::Each(ts) = at {
            if ts.len() != slices.len() {
                return Err(PyValueError::new_err(format!(
                    "{} times for {} tokens",
                    ts.len(),
                    slices.len()
                )));
            }
        }
        let threads = threads.max(1);
        let limits = limits();
        let depth = limits.max_json_depth;
        let mut dicts: Vec<Option<Py<PyAny>>> = Vec::new();
        let chunks = if !claims {
            py.detach(|| self.inner.verify(slices, at, false, &limits, threads))
        } else if threads == 1 || slices.len() <= STAGE {
            let chunks = py.detach(|| self.inner.verify(slices, at, true, &limits, threads));
            build_claims(py, &chunks, depth, &mut dicts, &mut Templates::default())?;
            chunks
        } else {
            self.pipelined(py, slices, at, &limits, threads, &mut dicts)?
        };
        let messages = json_messages(py, &chunks, |i| slices[i].map(Into::into));
        let mut part = BatchPart::new(slices.len(), chunks, messages, claims.then_some(dicts));
        let fallbacks: Vec<(usize, usize)> = part.fallbacks().collect();
        for (i, k) in fallbacks {
            let verdict = self.reference_verdict(py, &token(i), k, at.get(i), claims)?;
            part.set_override(i, verdict);
        }
        Ok(part)
    }

    /// Claims asked for on several threads: while this thread (holding the GIL) builds the
    /// dicts of one stage, the pool verifies the next one.
    fn pipelined(
        &self,
        py: Python<'_>,
        slices: &[Option<&[u8]>],
        at: At<'_>,
        limits: &Limits,
        threads: usize,
        dicts: &mut Vec<Option<Py<PyAny>>>,
    ) -> PyResult<Vec<Chunk>> {
        let inner = &self.inner;
        let depth = limits.max_json_depth;
        // This thread is busy building dicts: one thread fewer verifies.
        let verify_threads = (threads - 1).max(1);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Chunk>>(1);
        let mut all = Vec::with_capacity(slices.len().div_ceil(CHUNK));
        // The producer runs as a task of the persistent pool (a thread per call would take
        // fresh allocator arenas each time, and resident memory would creep up).
        batch::pool(threads).in_place_scope(|scope| -> PyResult<()> {
            scope.spawn(move |_| {
                for (k, stage) in slices.chunks(STAGE).enumerate() {
                    let start = k * STAGE;
                    let at = at.range(start, start + stage.len());
                    // A closed channel means the builder failed: stop.
                    if tx
                        .send(inner.verify(stage, at, true, limits, verify_threads))
                        .is_err()
                    {
                        break;
                    }
                }
            });
            let mut rx = rx;
            let mut templates = Templates::default();
            loop {
                // (the receiver moves in and out: it is Send but not Sync)
                let (back, stage) = py.detach(move || {
                    let stage = rx.recv().ok();
                    (rx, stage)
                });
                rx = back;
                let Some(mut stage) = stage else { break };
                let start = all.len() * CHUNK;
                stage.iter_mut().for_each(|c| c.shift_indices(start));
                build_claims(py, &stage, depth, dicts, &mut templates)?;
                all.extend(stage);
            }
            Ok(())
        })?;
        Ok(all)
    }
}

/// Tokens per pipeline stage (a whole number of chunks).
const STAGE: usize = 64 * CHUNK;

/// The claims of repeated tokens, built once and copied for each repeat (a copy of a dict
/// and its lists costs a fraction of parsing and building it), by their JSON; kept for one
/// batch call, up to [`MAX_TEMPLATES`] (as many tokens as an engine keeps for their
/// repeats: small beside the dicts the call returns).
type Templates = HashMap<Box<[u8]>, ClaimsTemplate, foldhash::fast::RandomState>;
const MAX_TEMPLATES: usize = 32 * 1024;

/// The claims dict of every valid token of `chunks` (None for the others), appended to
/// `out`; a repeated token's from `templates` once built. The cyclic GC is paused
/// meanwhile: the new dicts are all alive, and collecting while they pile up only
/// re-traverses them.
fn build_claims(
    py: Python<'_>,
    chunks: &[Chunk],
    depth: usize,
    out: &mut Vec<Option<Py<PyAny>>>,
    templates: &mut Templates,
) -> PyResult<()> {
    // Through the `gc` module: PyGC_Disable/PyGC_Enable only exist from Python 3.10.
    struct GcPause<'py>(Option<Bound<'py, PyModule>>);
    impl Drop for GcPause<'_> {
        fn drop(&mut self) {
            if let Some(gc) = &self.0 {
                drop(gc.call_method0("enable"));
            }
        }
    }
    let gc = PyModule::import(py, "gc")?;
    let was_enabled = gc.call_method0("isenabled")?.is_truthy()?;
    if was_enabled {
        gc.call_method0("disable")?;
    }
    let _pause = GcPause(was_enabled.then_some(gc));
    for chunk in chunks {
        for v in &chunk.verdicts {
            let Some(span) = v.payload else {
                out.push(None);
                continue;
            };
            let payload = chunk.payload(span);
            if let Some(template) = v.repeat.then(|| templates.get(payload)).flatten() {
                out.push(Some(template.fresh(py)?.into_any().unbind()));
                continue;
            }
            let dict = match claims_dict(py, payload, depth) {
                Ok(dict) => dict,
                Err(PyErrOr::Py(e)) => return Err(e),
                Err(PyErrOr::Core(e)) => {
                    return Err(PyValueError::new_err(format!(
                        "claims parsed twice differently: {e}"
                    )))
                }
            };
            if v.repeat && templates.len() < MAX_TEMPLATES {
                templates.insert(payload.into(), ClaimsTemplate::new(&dict)?);
            }
            out.push(Some(dict.into_any().unbind()));
        }
    }
    Ok(())
}

fn times_of(buf: &PyBuffer<f64>) -> PyResult<&[f64]> {
    if !buf.is_c_contiguous() {
        return Err(PyValueError::new_err("at buffer must be contiguous"));
    }
    // SAFETY: PyBuffer<f64> checked the item size, format and alignment of f64 and the
    // check above that it is contiguous, so `item_count` f64s from `buf_ptr` are the
    // buffer; it stays exported (neither freed nor resized) while `buf` lives, which the
    // returned slice borrows; it is only read.
    Ok(unsafe { std::slice::from_raw_parts(buf.buf_ptr() as *const f64, buf.item_count()) })
}

/// Python's json message for the header or payload segment of `token`.
fn json_message(py: Python<'_>, token: &[u8], segment: Segment) -> Option<String> {
    let seg = jws::split(
        token,
        &jws::Limits {
            max_token_length: usize::MAX,
            max_json_depth: usize::MAX,
        },
    )
    .ok()?;
    let raw = match segment {
        Segment::Header => seg.header,
        Segment::Payload => seg.payload,
    };
    let mut buf = jws::PayloadBuf::new();
    b64::decode_into(raw, &mut buf).then_some(())?;
    python_json_message(py, segment, &buf)
}

/// The verdicts of one batch call.
#[pyclass(module = "turbojwt._native")]
pub struct BatchPart {
    len: usize,
    chunks: Vec<Chunk>,
    /// Error messages re-derived with Python (JSON errors), by token index.
    messages: HashMap<usize, String>,
    /// Verdicts the Python reference path gave (fallbacks): error or None, and claims.
    overrides: HashMap<usize, reference::Verdict>,
    claims: Option<Vec<Option<Py<PyAny>>>>,
}

fn opt_str<'py>(py: Python<'py>, chunk: &Chunk, s: Option<Span>) -> Bound<'py, PyAny> {
    match s {
        Some(s) => PyString::new(py, chunk.text(s)).into_any(),
        None => py.None().into_bound(py),
    }
}

fn opt_f64(py: Python<'_>, v: Option<f64>) -> Bound<'_, PyAny> {
    match v {
        Some(v) if v.fract() == 0.0 && v.abs() < 9e15 => {
            (v as i64).into_pyobject(py).unwrap().into_any()
        }
        Some(v) => v.into_pyobject(py).unwrap().into_any(),
        None => py.None().into_bound(py),
    }
}

impl BatchPart {
    /// A part of `len` verdicts in `chunks`, with the re-derived JSON messages and the
    /// claims if asked for; nothing handed over judged yet.
    pub(crate) fn new(
        len: usize,
        chunks: Vec<Chunk>,
        messages: HashMap<usize, String>,
        claims: Option<Vec<Option<Py<PyAny>>>>,
    ) -> Self {
        BatchPart {
            len,
            chunks,
            messages,
            overrides: HashMap::new(),
            claims,
        }
    }

    /// Records the reference path's verdict on token `i` (one the core handed over).
    pub(crate) fn set_override(&mut self, i: usize, verdict: reference::Verdict) {
        self.overrides.insert(i, verdict);
    }

    /// `(index, key index)` of the tokens the core handed over to the reference path.
    pub(crate) fn fallbacks(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.chunks.iter().flat_map(|c| c.fallbacks.iter().copied())
    }

    pub(crate) fn with_chunk(&self) -> impl Iterator<Item = (usize, &Chunk, &Verdict)> {
        self.chunks.iter().enumerate().flat_map(|(c, chunk)| {
            chunk
                .verdicts
                .iter()
                .enumerate()
                .map(move |(j, v)| (c * CHUNK + j, chunk, v))
        })
    }

    /// The exception class name of token `i`'s error (or `malformed`), None when it is valid.
    pub(crate) fn error_name<'a>(&'a self, i: usize, v: &'a Verdict) -> Option<&'a str> {
        if let Some((err, _)) = self.overrides.get(&i) {
            return err.as_ref().map(|(name, _)| name.as_str());
        }
        match &v.outcome {
            Outcome::Valid => None,
            Outcome::Invalid(e) => Some(e.kind.class_name()),
            Outcome::Malformed(_) => Some("malformed"),
            Outcome::Fallback(_) => Some("DecodeError"),
        }
    }

    /// `(class name, message)` of token `i`'s error, or None when it is valid.
    fn error_of(&self, i: usize, v: &Verdict) -> Option<(String, String)> {
        let name = self.error_name(i, v)?.to_string();
        let message = match (self.overrides.get(&i), &v.outcome) {
            (Some((Some((_, message)), _)), _) => message.clone(),
            (_, Outcome::Invalid(e)) => self
                .messages
                .get(&i)
                .cloned()
                .unwrap_or_else(|| e.display_message()),
            (_, Outcome::Malformed(reason)) => reason.clone(),
            _ => "not verified (fallback pending)".to_string(),
        };
        Some((name, message))
    }
}

/// PyJWT words a JSON error with Python's json module: those messages, re-derived for the
/// verdicts refusing bad header or payload JSON, by token index. `token(i)` gives token i.
pub(crate) fn json_messages<'t>(
    py: Python<'_>,
    chunks: &[Chunk],
    token: impl Fn(usize) -> Option<std::borrow::Cow<'t, [u8]>>,
) -> HashMap<usize, String> {
    let mut messages = HashMap::new();
    for chunk in chunks {
        for &i in &chunk.bad_json {
            let Outcome::Invalid(e) = &chunk.verdicts[i % CHUNK].outcome else {
                continue;
            };
            if let Detail::BadJson { segment } = e.detail {
                if let Some(msg) = token(i).and_then(|t| json_message(py, &t, segment)) {
                    messages.insert(i, msg);
                }
            }
        }
    }
    messages
}

#[pymethods]
impl BatchPart {
    fn __len__(&self) -> usize {
        self.len
    }

    /// Whether any token was verified with a key shorter than PyJWT recommends.
    fn short_key_used(&self) -> bool {
        self.chunks.iter().any(|c| c.short_key)
    }

    fn valid(&self) -> Vec<bool> {
        self.with_chunk()
            .map(|(i, _, v)| self.error_name(i, v).is_none())
            .collect()
    }

    fn errors(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        let out = PyList::empty(py);
        for (i, _, v) in self.with_chunk() {
            match self.error_of(i, v) {
                None => out.append(py.None())?,
                Some(e) => out.append(e)?,
            }
        }
        Ok(out.unbind())
    }

    /// The claims dicts (None for invalid tokens), or None when claims were not asked for.
    fn claims(&self, py: Python<'_>) -> PyResult<Option<Py<PyList>>> {
        let Some(claims) = &self.claims else {
            return Ok(None);
        };
        let out = PyList::empty(py);
        for (i, c) in claims.iter().enumerate() {
            match self.overrides.get(&i) {
                Some((_, c)) => out.append(c.as_ref().map(|c| c.bind(py).clone()))?,
                None => out.append(c.as_ref().map(|c| c.bind(py).clone()))?,
            }
        }
        Ok(Some(out.unbind()))
    }

    /// Count of tokens by outcome: "valid" or the exception class name.
    pub(crate) fn counts(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for (i, _, v) in self.with_chunk() {
            let key = self.error_name(i, v).unwrap_or("valid");
            match out.get_mut(key) {
                Some(n) => *n += 1,
                None => {
                    out.insert(key.to_string(), 1);
                }
            }
        }
        out
    }

    /// What a summary counts, without a Python object per token: tokens by outcome (as
    /// `counts`), the valid tokens whose `exp` is at or before `expired_before`, and dicts
    /// of the tokens by issuer, by kid and by subject (in order of first appearance, as a
    /// `Counter` of the column would have them).
    fn tally<'py>(
        &self,
        py: Python<'py>,
        expired_before: f64,
    ) -> PyResult<crate::logs::Tally<'py>> {
        crate::logs::tally(self, py, expired_before)
    }

    /// Columns for a table: valid, error, reason, kid, iss, sub, aud, exp, iat.
    fn columns(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let names = [
            "valid", "error", "reason", "kid", "iss", "sub", "aud", "exp", "iat",
        ];
        let cols: Vec<Bound<'_, PyList>> = names.iter().map(|_| PyList::empty(py)).collect();
        for (i, chunk, v) in self.with_chunk() {
            let err = self.error_of(i, v);
            cols[0].append(err.is_none())?;
            match err {
                None => {
                    cols[1].append(py.None())?;
                    cols[2].append(py.None())?;
                }
                Some((name, msg)) => {
                    cols[1].append(name)?;
                    cols[2].append(msg)?;
                }
            }
            cols[3].append(opt_str(py, chunk, v.kid))?;
            cols[4].append(opt_str(py, chunk, v.iss))?;
            cols[5].append(opt_str(py, chunk, v.sub))?;
            cols[6].append(opt_str(py, chunk, v.aud))?;
            cols[7].append(opt_f64(py, v.exp))?;
            cols[8].append(opt_f64(py, v.iat))?;
        }
        let out = PyDict::new(py);
        for (name, col) in names.iter().zip(cols) {
            out.set_item(name, col)?;
        }
        Ok(out.unbind())
    }
}
