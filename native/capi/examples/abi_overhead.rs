//! The C ABI's cost per call against the core's own `Verifier::verify` (issue 17 §5): the
//! same token, key and policy through both, no token cache, interleaved rounds. For each
//! `ALG.key` / `ALG.token` pair in DIR (key material and a token that verifies with it,
//! audience "api", issuer "https://idp"), prints one JSON object: the median ns per token of
//! each side over the rounds, with the minimum and maximum. benchmarks/nginx_lua.py runs it:
//!
//!     cargo run --release --manifest-path native/Cargo.toml -p turbojwt-capi \
//!         --example abi_overhead -- DIR ALG[:CALLS]... [--rounds N]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use turbojwt::{
    tj_result_free, tj_result_new, tj_verifier_free, tj_verifier_new, tj_verify, TjCode,
};
use turbojwt_core::verifier::{Verifier, VerifierKeys, VerifierOptions};

fn spread(xs: &[f64]) -> (f64, f64, f64) {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    (s[s.len() / 2], s[0], s[s.len() - 1])
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut rounds = 7;
    if let Some(i) = args.iter().position(|a| a == "--rounds") {
        rounds = args[i + 1].parse().expect("--rounds N");
        args.drain(i..i + 2);
    }
    let dir = PathBuf::from(args.first().expect("DIR ALG[:CALLS]..."));
    for spec in &args[1..] {
        let (alg, calls) = spec.split_once(':').unwrap_or((spec, "100000"));
        let n: u32 = calls.parse().expect("ALG:CALLS");
        let key = std::fs::read(dir.join(format!("{alg}.key"))).expect("ALG.key");
        let token = std::fs::read(dir.join(format!("{alg}.token"))).expect("ALG.token");
        let policy =
            format!(r#"{{"algorithms":["{alg}"],"audience":"api","issuer":"https://idp"}}"#);
        let core = Verifier::new(
            VerifierKeys::material(&key),
            VerifierOptions::from_json(policy.as_bytes()).expect("policy"),
            0,
        );
        // SAFETY: slices valid for their lengths; a NULL error_out is allowed.
        let v = unsafe {
            tj_verifier_new(
                1,
                key.as_ptr(),
                key.len(),
                policy.as_ptr(),
                policy.len(),
                0,
                std::ptr::null_mut(),
            )
        };
        assert!(!v.is_null());
        let r = tj_result_new();
        assert!(
            core.verify(&token, f64::NAN).is_ok(),
            "{alg}: the token must verify"
        );
        let (mut direct, mut abi) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t0 = Instant::now();
            for _ in 0..n {
                black_box(core.verify(black_box(&token), f64::NAN).is_ok());
            }
            direct.push(t0.elapsed().as_nanos() as f64 / f64::from(n));
            let t0 = Instant::now();
            for _ in 0..n {
                // SAFETY: live handles, token slice valid.
                let code =
                    unsafe { tj_verify(v, black_box(token.as_ptr()), token.len(), f64::NAN, r) };
                assert_eq!(code, TjCode::TJ_OK);
            }
            abi.push(t0.elapsed().as_nanos() as f64 / f64::from(n));
        }
        let (c, cmin, cmax) = spread(&direct);
        let (a, amin, amax) = spread(&abi);
        println!(
            r#"{{"alg":"{alg}","calls":{n},"rounds":{rounds},"core_ns":{c:.1},"core_min":{cmin:.1},"core_max":{cmax:.1},"abi_ns":{a:.1},"abi_min":{amin:.1},"abi_max":{amax:.1}}}"#
        );
        // SAFETY: made above, freed once.
        unsafe {
            tj_result_free(r);
            tj_verifier_free(v);
        }
    }
}
