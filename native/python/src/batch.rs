//! Batch verification bindings: token slices borrowed from Python objects (a list of
//! str/bytes, or Arrow buffers), verified by the core with the GIL released, then Python
//! objects built only for what the caller reads. The log-specific parts (JSON-lines blocks,
//! line splitting, the summary tally) are in `logs.rs`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{new_empty_array, Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyModule, PyString, PyTuple};
use turbojwt_core::b64;
use turbojwt_core::batch::{self, At, Chunk, KeyTable, Outcome, Selection, Verdict, CHUNK};
use turbojwt_core::error::{Detail, Segment};
use turbojwt_core::jws::{self, Limits};
use turbojwt_core::verify::KeyRef;

use turbojwt_core::arrow::{self as core_arrow, UnsupportedType, VERDICT_COLUMNS};

use crate::arrow::{arrow_err, export, import_array, import_batches};
use crate::decode_args;
use crate::errors::python_json_message;
use crate::keys::resolve_for_verify;
use crate::limits::limits;
use crate::pyjson::{claims_dict, ClaimsTemplate, PyErrOr};
use crate::reference::{self, DecodeArgs};

/// A key set entry as Python passes it: `(kid or None, key index)`.
type SetEntries = Vec<(Option<String>, usize)>;

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

    /// Verifies Arrow string or binary arrays (objects exporting `__arrow_c_array__`, such
    /// as pyarrow arrays), read in place through the Arrow C data interface. A null token is
    /// handed to the reference path (`decode(None)`'s verdict), as a None in a list is.
    #[pyo3(signature = (arrays, at, claims, threads))]
    fn verify_arrow(
        &self,
        py: Python<'_>,
        arrays: Vec<Bound<'_, PyAny>>,
        at: &Bound<'_, PyAny>,
        claims: bool,
        threads: usize,
    ) -> PyResult<BatchPart> {
        let arrays = arrays
            .iter()
            .map(import_array)
            .collect::<PyResult<Vec<_>>>()?;
        let mut slices: Vec<Option<&[u8]>> = Vec::new();
        for a in &arrays {
            core_arrow::token_slices(new_empty_array(a.data_type()).as_ref(), &mut Vec::new())
                .map_err(|UnsupportedType(t)| {
                    PyTypeError::new_err(format!("Arrow tokens must be strings or binary, not {t}"))
                })?;
            a.to_data().validate_full().map_err(|e| {
                PyValueError::new_err(format!("tokens are not valid Arrow data: {e}"))
            })?;
            core_arrow::token_slices(a.as_ref(), &mut slices)
                .map_err(|UnsupportedType(t)| PyTypeError::new_err(format!("{t}")))?;
        }
        let token = |i: usize| match slices[i] {
            Some(b) => PyBytes::new(py, b).into_any(),
            None => py.None().into_bound(py),
        };
        self.run(py, &slices, token, at, claims, threads)
    }

    /// The Arrow kernel: the rows of `table` (anything exporting Arrow record batches) with
    /// the verdict columns after them, for the tokens of `token_column` (strings or binary;
    /// a null is a malformed row), each as of its `time_column` value (a timestamp, a date,
    /// seconds, or text under the one time parser; a null or a non-time is malformed) or,
    /// without one, as of `at`.
    #[pyo3(signature = (table, token_column, time_column, at, threads))]
    fn verify_table(
        &self,
        py: Python<'_>,
        table: &Bound<'_, PyAny>,
        token_column: &str,
        time_column: Option<&str>,
        at: f64,
        threads: usize,
    ) -> PyResult<Py<PyAny>> {
        let (schema, batches) = import_batches(table)?;
        let names = || {
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let find = |name: &str| {
            schema.index_of(name).map_err(|_| {
                PyValueError::new_err(format!(
                    "the table has no column '{name}' (columns: {})",
                    names()
                ))
            })
        };
        let token_index = find(token_column)?;
        let time_index = time_column.map(find).transpose()?;
        if let Some(clash) = VERDICT_COLUMNS.iter().find(|c| schema.index_of(c).is_ok()) {
            return Err(PyValueError::new_err(format!(
                "the table already has a column '{clash}', which the verdict columns would repeat"
            )));
        }
        let type_error = |name: &str, what: &str, UnsupportedType(t)| {
            PyTypeError::new_err(format!("column '{name}' holds {t}, not {what}"))
        };
        // The producer's buffers are read in place: their offsets, dictionary keys and UTF-8
        // are checked first (the C data interface leaves that to the consumer).
        let check = |a: &dyn Array, name: &str| {
            a.to_data().validate_full().map_err(|e| {
                PyValueError::new_err(format!("column '{name}' is not valid Arrow data: {e}"))
            })
        };
        let token_type = schema.field(token_index).data_type();
        core_arrow::token_slices(new_empty_array(token_type).as_ref(), &mut Vec::new())
            .map_err(|e| type_error(token_column, "tokens (strings or binary)", e))?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let mut slices: Vec<Option<&[u8]>> = Vec::with_capacity(rows);
        for b in &batches {
            check(b.column(token_index).as_ref(), token_column)?;
            core_arrow::token_slices(b.column(token_index).as_ref(), &mut slices)
                .map_err(|e| type_error(token_column, "tokens (strings or binary)", e))?;
        }
        let mut times = Vec::new();
        if let (Some(j), Some(name)) = (time_index, time_column) {
            let what = "times (timestamps, dates, seconds or time strings)";
            let time_type = schema.field(j).data_type();
            core_arrow::times(new_empty_array(time_type).as_ref(), &mut Vec::new())
                .map_err(|e| type_error(name, what, e))?;
            times.reserve(rows);
            for b in &batches {
                check(b.column(j).as_ref(), name)?;
                core_arrow::times(b.column(j).as_ref(), &mut times)
                    .map_err(|e| type_error(name, what, e))?;
            }
        }
        let at = if time_index.is_some() {
            At::Each(&times)
        } else {
            At::One(at)
        };
        let token = |i: usize| match slices[i] {
            Some(b) => PyBytes::new(py, b).into_any(),
            None => py.None().into_bound(py),
        };
        let null_reason = format!("column {token_column} is null");
        let part = self.run_at(py, &slices, token, at, false, threads, Some(&null_reason))?;
        let verdicts = part.verdict_arrays(py);
        let mut fields = schema.fields().to_vec();
        fields.extend(
            VERDICT_COLUMNS
                .iter()
                .map(|n| Arc::new(Field::new(*n, core_arrow::verdict_type(n), true))),
        );
        let out_schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        // Each input batch, cut where a group of verdict rows ends, beside its verdicts.
        let mut out = Vec::with_capacity(batches.len() + verdicts.len());
        let mut offset = 0;
        for b in &batches {
            let end = offset + b.num_rows();
            for (start, group) in verdicts {
                let group_end = start + group.first().map_or(0, |a| a.len());
                let (from, to) = (offset.max(*start), end.min(group_end));
                if from >= to {
                    continue;
                }
                let mut columns = b.slice(from - offset, to - from).columns().to_vec();
                columns.extend(group.iter().map(|a| a.slice(from - start, to - from)));
                out.push(RecordBatch::try_new(out_schema.clone(), columns).map_err(arrow_err)?);
            }
            offset = end;
        }
        export(py, out_schema, out)
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
    /// `at`: one time, or a float64 buffer with one per token.
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
        self.run_at(py, slices, token, at, claims, threads, None)
    }

    /// [`Self::run`] with the times given; with `null_reason`, a missing token (None in
    /// `slices`: a null in an Arrow column) is malformed for that reason instead of handed
    /// to the reference path.
    #[allow(clippy::too_many_arguments)]
    fn run_at<'py>(
        &self,
        py: Python<'py>,
        slices: &[Option<&[u8]>],
        token: impl Fn(usize) -> Bound<'py, PyAny>,
        at: At<'_>,
        claims: bool,
        threads: usize,
        null_reason: Option<&str>,
    ) -> PyResult<BatchPart> {
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
        let mut part = BatchPart::new(slices.len(), chunks, messages, claims.then_some(dicts))
            .with_threads(threads);
        let fallbacks: Vec<(usize, usize)> = part.fallbacks().collect();
        for (i, k) in fallbacks {
            if let (Some(reason), None) = (null_reason, slices[i]) {
                let malformed = ("malformed".to_string(), reason.to_string());
                part.set_override(i, (Some(malformed), None));
                continue;
            }
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

/// The verdict columns of rows `start..` (as many as the columns hold).
type VerdictGroup = (usize, Vec<ArrayRef>);

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
    /// The verdict columns as Arrow arrays, built on first use: `(first row, columns)` per
    /// group of rows.
    verdicts: OnceLock<Vec<VerdictGroup>>,
    /// Threads the verification used (and building the columns may use).
    threads: usize,
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
            verdicts: OnceLock::new(),
            threads: 1,
        }
    }

    /// The part of a batch verified on `threads` threads.
    pub(crate) fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
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
        if let Some((err, _)) = self.override_of(i) {
            return err.as_ref().map(|(name, _)| name.as_str());
        }
        match &v.outcome {
            Outcome::Valid => None,
            Outcome::Invalid(e) => Some(e.kind.class_name()),
            Outcome::Malformed(_) => Some("malformed"),
            Outcome::Fallback(_) => Some("DecodeError"),
        }
    }

    /// The reference path's verdict on token `i`, if it gave one (the map is checked only
    /// when it has entries: most parts have none).
    fn override_of(&self, i: usize) -> Option<&reference::Verdict> {
        if self.overrides.is_empty() {
            None
        } else {
            self.overrides.get(&i)
        }
    }

    /// `(class name, message)` of token `i`'s error, or None when it is valid.
    fn error_of<'a>(&'a self, i: usize, v: &'a Verdict) -> Option<(&'a str, Cow<'a, str>)> {
        let name = self.error_name(i, v)?;
        let message = match (self.override_of(i), &v.outcome) {
            (Some((Some((_, message)), _)), _) => Cow::Borrowed(message.as_str()),
            (_, Outcome::Invalid(e)) => match self.messages.get(&i) {
                Some(m) => Cow::Borrowed(m.as_str()),
                None => Cow::Owned(e.display_message()),
            },
            (_, Outcome::Malformed(reason)) => Cow::Borrowed(reason.as_str()),
            _ => Cow::Borrowed("not verified (fallback pending)"),
        };
        Some((name, message))
    }

    /// The verdict columns ([`VERDICT_COLUMNS`]) as Arrow arrays, built once (on as many
    /// threads as verified the batch).
    pub(crate) fn verdict_arrays(&self, py: Python<'_>) -> &[VerdictGroup] {
        if let Some(built) = self.verdicts.get() {
            return built;
        }
        // (with the GIL released: other Python threads run meanwhile)
        let built = py.detach(|| {
            let error: &core_arrow::ErrorOf<'_> = &|i, v| self.error_of(i, v);
            core_arrow::verdict_columns(&self.chunks, error, self.threads)
        });
        self.verdicts.get_or_init(|| built)
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
                Some((name, message)) => out.append((name, message.as_ref()))?,
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

    /// The verdict columns as Python lists: valid, error, reason, kid, iss, sub, aud, exp,
    /// iat (read from the Arrow arrays; `exp`/`iat` an int when they are whole seconds).
    fn columns(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let out = PyDict::new(py);
        for (j, name) in VERDICT_COLUMNS.iter().enumerate() {
            let values = PyList::empty(py);
            for (_, group) in self.verdict_arrays(py) {
                let array = &group[j];
                match array.data_type() {
                    DataType::Boolean => {
                        for v in array.as_boolean().iter() {
                            values.append(v)?;
                        }
                    }
                    DataType::Float64 => {
                        for v in array.as_primitive::<Float64Type>().iter() {
                            values.append(opt_f64(py, v))?;
                        }
                    }
                    _ => {
                        for v in array.as_string::<i32>().iter() {
                            values.append(v)?;
                        }
                    }
                }
            }
            out.set_item(name, values)?;
        }
        Ok(out.unbind())
    }

    /// The verdicts as Arrow: `index` (from `first`) and the verdict columns.
    fn arrow(&self, py: Python<'_>, first: i64) -> PyResult<Py<PyAny>> {
        let batches = self
            .verdict_arrays(py)
            .iter()
            .map(|(start, columns)| core_arrow::verdict_batch(first + *start as i64, columns))
            .collect::<Result<Vec<_>, _>>()
            .map_err(arrow_err)?;
        export(py, core_arrow::verdict_schema(), batches)
    }

    /// A report batch: the columns `fields` in order, among the verdict columns, `line`
    /// (the index from `first_line`) and `source` (`source` on every row).
    fn report(
        &self,
        py: Python<'_>,
        fields: Vec<String>,
        first_line: i64,
        source: Option<&str>,
    ) -> PyResult<Py<PyAny>> {
        let schema = Arc::new(Schema::new(
            fields
                .iter()
                .map(|n| Field::new(n, core_arrow::verdict_type(n), true))
                .collect::<Vec<_>>(),
        ));
        let mut batches = Vec::new();
        for (start, arrays) in self.verdict_arrays(py) {
            let rows = arrays.first().map_or(0, |a| a.len());
            let first = first_line + *start as i64;
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(fields.len());
            for name in &fields {
                columns.push(match name.as_str() {
                    "line" => Arc::new(Int64Array::from_iter_values(first..first + rows as i64)),
                    "source" => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                        source.unwrap_or(""),
                        rows,
                    ))),
                    _ => match VERDICT_COLUMNS.iter().position(|c| c == name) {
                        Some(j) => arrays[j].clone(),
                        None => {
                            return Err(PyValueError::new_err(format!("no report column {name}")))
                        }
                    },
                });
            }
            batches.push(RecordBatch::try_new(schema.clone(), columns).map_err(arrow_err)?);
        }
        export(py, schema, batches)
    }
}
