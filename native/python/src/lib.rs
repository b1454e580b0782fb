//! `turbojwt._native`: PyO3 bindings over `turbojwt-core`. Only conversions, GIL handling
//! and exception mapping live here; the JWT logic is in the core crate.

use pyo3::prelude::*;

mod arrow;
mod batch;
mod bench;
mod decode;
mod decode_args;
mod encode;
mod errors;
mod fastcall;
mod keys;
mod keyset;
mod limits;
mod logs;
mod pyjson;
mod reference;
mod testing;
mod time;
mod token_cache;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(decode::decode_fast, m)?)?;
    fastcall::register(m)?;
    m.add_function(wrap_pyfunction!(decode::set_global_registry_modified, m)?)?;
    m.add_function(wrap_pyfunction!(encode::encode_fast, m)?)?;
    m.add_class::<decode::Verifier>()?;
    m.add_class::<keyset::KeyGeneration>()?;
    m.add_class::<batch::BatchVerifier>()?;
    m.add_class::<batch::BatchPart>()?;
    m.add_class::<arrow::ArrowBatches>()?;
    m.add_class::<arrow::ArrowRecordBatch>()?;
    m.add_function(wrap_pyfunction!(arrow::verdict_batch, m)?)?;
    m.add_function(wrap_pyfunction!(arrow::report_batch, m)?)?;
    m.add_function(wrap_pyfunction!(arrow::report_jsonl, m)?)?;
    m.add_function(wrap_pyfunction!(arrow::report_csv, m)?)?;
    m.add_function(wrap_pyfunction!(keys::key_cache_info, m)?)?;
    m.add_function(wrap_pyfunction!(keys::key_cache_clear, m)?)?;
    m.add_function(wrap_pyfunction!(keys::set_key_cache_size, m)?)?;
    m.add_function(wrap_pyfunction!(limits::set_limits, m)?)?;
    m.add_function(wrap_pyfunction!(limits::get_limits, m)?)?;
    m.add_function(wrap_pyfunction!(time::parse_time, m)?)?;
    m.add_function(wrap_pyfunction!(reference::set_reference, m)?)?;
    m.add_function(wrap_pyfunction!(reference::typ_matches, m)?)?;
    m.add_function(wrap_pyfunction!(decode::unverified_issuer, m)?)?;
    m.add_function(wrap_pyfunction!(keyset::keyset_check, m)?)?;
    m.add_function(wrap_pyfunction!(keyset::has_roca_fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(logs::line_ends, m)?)?;
    // Hooks for the benchmarks and the conformance tests, out of the product namespace.
    add_submodule(m, "bench", bench::register)?;
    add_submodule(m, "testing", testing::register)?;
    Ok(())
}

/// Adds the submodule `parent.name`, filled by `fill`, as pyca/cryptography adds its
/// bindings' submodules: an attribute of `parent` (`from turbojwt._native import bench`)
/// and an entry of `sys.modules` (`import turbojwt._native.bench`, which an extension
/// module, not being a package, could not otherwise answer).
fn add_submodule(
    parent: &Bound<'_, PyModule>,
    name: &str,
    fill: fn(&Bound<'_, PyModule>) -> PyResult<()>,
) -> PyResult<()> {
    let py = parent.py();
    let full_name = format!("{}.{name}", parent.name()?);
    let module = PyModule::new(py, &full_name)?;
    fill(&module)?;
    parent.add_submodule(&module)?;
    py.import("sys")?
        .getattr("modules")?
        .set_item(full_name, module)
}
