//! `turbojwt._native`: PyO3 bindings over `turbojwt-core`. Only conversions, GIL handling
//! and exception mapping live here; the JWT logic is in the core crate.

use pyo3::prelude::*;

mod batch;
mod bench;
mod decode;
mod encode;
mod errors;
mod fastcall;
mod keys;
mod keyset;
mod limits;
mod policy;
mod pyjson;
mod reference;
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
    m.add_function(wrap_pyfunction!(keys::key_cache_info, m)?)?;
    m.add_function(wrap_pyfunction!(keys::key_cache_clear, m)?)?;
    m.add_function(wrap_pyfunction!(keys::set_key_cache_size, m)?)?;
    m.add_function(wrap_pyfunction!(limits::set_limits, m)?)?;
    m.add_function(wrap_pyfunction!(limits::get_limits, m)?)?;
    m.add_function(wrap_pyfunction!(time::parse_time, m)?)?;
    m.add_function(wrap_pyfunction!(reference::set_reference, m)?)?;
    m.add_function(wrap_pyfunction!(reference::typ_matches, m)?)?;
    m.add_function(wrap_pyfunction!(decode::unverified_issuer, m)?)?;
    m.add_function(wrap_pyfunction!(batch::line_ends, m)?)?;
    m.add_function(wrap_pyfunction!(bench::bench_verify_floor, m)?)?;
    m.add_function(wrap_pyfunction!(bench::bench_hs256_stages, m)?)?;
    m.add_function(wrap_pyfunction!(bench::verify_raw, m)?)?;
    Ok(())
}
