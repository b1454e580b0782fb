//! The log-reading side of the batch bindings (`turbojwt verify-logs`, `turbojwt.logs`):
//! JSON-lines blocks verified in place (`BatchVerifier.verify_jsonl`), the line splitting of
//! a read buffer (`line_ends`) and a part's summary counts (`BatchPart.tally`). PyO3 takes
//! one `#[pymethods]` block per class, so the two methods stay declared in `batch.rs` and
//! call the functions here.

use std::collections::HashMap;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use turbojwt_core::logs::{self, JsonlFields};

use crate::batch::{bytes_of, json_messages, BatchPart, BatchVerifier};
use crate::limits::limits;

/// `line_ends` of the core over `block[start..end]` (a byte buffer): how many line ends the
/// first `max_lines` lines have, and the offset in `block` just after the last of them.
#[pyfunction]
pub fn line_ends(
    block: PyBuffer<u8>,
    start: usize,
    end: usize,
    max_lines: usize,
) -> PyResult<(usize, usize)> {
    if !block.is_c_contiguous() || start > end || end > block.item_count() {
        return Err(PyValueError::new_err(
            "a contiguous buffer and a range inside it",
        ));
    }
    let (lines, after) = logs::line_ends(&bytes_of(&block)[start..end], max_lines);
    Ok((lines, start + after))
}

/// `BatchVerifier.verify_jsonl`: the token of every JSON line in `block` (whole lines; bytes
/// or a contiguous byte buffer, which the caller leaves unchanged during the call), each as
/// of its `time_path` value (`at` overrides; lines without a time field: now).
pub fn verify_jsonl(
    verifier: &BatchVerifier,
    py: Python<'_>,
    block: PyBuffer<u8>,
    token_path: Vec<String>,
    time_path: Option<Vec<String>>,
    at: Option<f64>,
    threads: usize,
) -> PyResult<BatchPart> {
    if token_path.is_empty() || time_path.as_ref().is_some_and(Vec::is_empty) {
        return Err(PyValueError::new_err("empty field path"));
    }
    let fields = JsonlFields {
        token: token_path,
        time: time_path,
    };
    if !block.is_c_contiguous() {
        return Err(PyValueError::new_err("block must be a contiguous buffer"));
    }
    let block = bytes_of(&block);
    let lines = logs::split_lines(block);
    let now = crate::decode::now();
    let limits = limits();
    let chunks = py.detach(|| {
        verifier
            .core()
            .verify_jsonl(&lines, &fields, at, now, &limits, threads.max(1))
    });
    let messages = json_messages(py, &chunks, |i| {
        match logs::extract_jsonl(lines[i], &fields) {
            logs::Extracted::Token { token, .. } => Some(token.into_bytes().into()),
            logs::Extracted::Problem(_) => None,
        }
    });
    let mut part = BatchPart::new(lines.len(), chunks, messages, None).with_threads(threads.max(1));
    // (a handed-over token is one the core read from its line: read it again)
    let fallbacks: Vec<(usize, usize)> = part.fallbacks().collect();
    for (i, k) in fallbacks {
        if let logs::Extracted::Token { token, at: line_at } =
            logs::extract_jsonl(lines[i], &fields)
        {
            let when = at.or(line_at).unwrap_or(now);
            let token = PyString::new(py, &token).into_any();
            let (error, _) = verifier.reference_verdict(py, &token, k, when, false)?;
            part.set_override(i, (error, None));
        }
    }
    Ok(part)
}

/// A part's summary counts: by outcome, valid but expired since, by issuer, kid and subject.
pub type Tally<'py> = (HashMap<String, usize>, usize, [Bound<'py, PyDict>; 3]);

/// `BatchPart.tally`: what a summary counts, without a Python object per token.
pub fn tally<'py>(part: &BatchPart, py: Python<'py>, expired_before: f64) -> PyResult<Tally<'py>> {
    // Per field: value -> its slot in `order`, and (value, count) in order of first sight.
    // (foldhash: the tally hashes every token's issuer, kid and subject)
    let mut index: [HashMap<&str, usize, foldhash::fast::RandomState>; 3] = Default::default();
    let mut order: [Vec<(&str, usize)>; 3] = Default::default();
    let mut expired_only_now = 0;
    for (i, chunk, v) in part.with_chunk() {
        if part.error_name(i, v).is_none() && v.exp.is_some_and(|e| e <= expired_before) {
            expired_only_now += 1;
        }
        for (f, span) in [v.iss, v.kid, v.sub].into_iter().enumerate() {
            if let Some(s) = span {
                let text = chunk.text(s);
                let slot = *index[f].entry(text).or_insert_with(|| {
                    order[f].push((text, 0));
                    order[f].len() - 1
                });
                order[f][slot].1 += 1;
            }
        }
    }
    let dicts = order.map(|counts| {
        let d = PyDict::new(py);
        for (value, n) in counts {
            d.set_item(value, n)?;
        }
        Ok::<_, PyErr>(d)
    });
    let [iss, kid, sub] = dicts;
    Ok((part.counts(), expired_only_now, [iss?, kid?, sub?]))
}
