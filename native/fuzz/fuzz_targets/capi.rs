//! The C ABI's entry points (native/capi) with any bytes: the input is cut into a key kind,
//! key material, a policy and a token, which go through `tj_verifier_new` (with and without
//! a token cache) and `tj_verify` (now, and at a fixed time, twice for the cache), then
//! through every accessor of the result or the error. Nothing may panic or crash, and the
//! answers must hold together: a verifier or an error, claims exactly when the code is
//! `TJ_OK`, messages NUL-terminated at their length.
#![no_main]

use std::ffi::CStr;
use std::ptr::{null, null_mut};

use libfuzzer_sys::fuzz_target;
use turbojwt::*;

/// The next part of `data`: a 2-byte length, then that many bytes (fewer at the end).
fn part<'a>(data: &mut &'a [u8]) -> &'a [u8] {
    let len = match data {
        [a, b, ..] => u16::from_le_bytes([*a, *b]) as usize,
        _ => 0,
    };
    *data = data.get(2..).unwrap_or(&[]);
    let (head, tail) = data.split_at(len.min(data.len()));
    *data = tail;
    head
}

fn check_result(r: *const TjResult, code: TjCode) {
    let mut len = usize::MAX;
    // SAFETY: `r` is live; the out-pointers are writable.
    unsafe {
        assert_eq!(tj_result_code(r), code);
        let msg = tj_result_message(r, &mut len);
        assert_eq!(CStr::from_ptr(msg).to_bytes().len(), len, "message NUL-terminated at its length");
        assert_eq!(len == 0, code == TjCode::TJ_OK);
        let claims = tj_result_claims(r, &mut len);
        assert_eq!(claims.is_null(), code != TjCode::TJ_OK);
        if !claims.is_null() {
            let json = std::slice::from_raw_parts(claims, len);
            assert!(std::str::from_utf8(json).is_ok(), "claims are UTF-8 JSON");
        }
        for claim in 0..12 {
            let p = tj_result_claim(r, claim, &mut len);
            if !p.is_null() {
                assert!(std::str::from_utf8(std::slice::from_raw_parts(p, len)).is_ok());
            }
            let mut t = 0.0;
            tj_result_time(r, claim, &mut t);
        }
        for i in 0..=tj_result_aud_count(r) {
            tj_result_aud(r, i, null_mut());
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let kind = data.first().map_or(1, |k| u32::from(k % 4));
    data = data.get(1..).unwrap_or(&[]);
    let key = part(&mut data);
    let policy = part(&mut data);
    let token = data;
    for cache in [0, 8] {
        let mut err: *mut TjError = null_mut();
        // SAFETY: the slices are valid for their lengths; `err` is writable.
        let v = unsafe {
            tj_verifier_new(kind, key.as_ptr(), key.len(), policy.as_ptr(), policy.len(), cache, &mut err)
        };
        assert_eq!(v.is_null(), !err.is_null(), "a verifier or an error");
        if v.is_null() {
            let mut len = 0;
            // SAFETY: `err` is live until freed here.
            unsafe {
                assert_ne!(tj_error_code(err), TjCode::TJ_OK);
                assert_ne!(tj_error_code(err), TjCode::TJ_ERR_PANIC);
                let msg = tj_error_message(err, &mut len);
                assert_eq!(CStr::from_ptr(msg).to_bytes().len(), len);
                tj_error_free(err);
            }
            continue;
        }
        let r = tj_result_new();
        for at in [f64::NAN, 1.7e9, 1.7e9, f64::INFINITY] {
            // SAFETY: live verifier and result; the token slice is valid.
            let code = unsafe { tj_verify(v, token.as_ptr(), token.len(), at, r) };
            assert_ne!(code, TjCode::TJ_ERR_PANIC);
            check_result(r, code);
        }
        // SAFETY: live verifier and result; NULL token with a length is an error, not a read.
        unsafe {
            assert_eq!(tj_verify(v, null(), 3, 0.0, r), TjCode::TJ_ERR_NULL_ARGUMENT);
            tj_result_free(r);
            tj_verifier_free(v);
        }
    }
});
