//! turbojwt's C ABI: the core's verifier (`turbojwt_core::verifier`) behind opaque handles,
//! so that C, Go (cgo), LuaJIT (FFI) and Python without the PyO3 module (cffi, PyPy) verify
//! tokens with the same decode sequence and verdicts. The header `include/turbojwt.h` is
//! generated from this file by cbindgen (tests/header.rs); docs/c-abi.md describes the ABI.
//!
//! Every entry point catches panics (a panic becomes `TJ_ERR_PANIC`, or an accessor's empty
//! answer; never an unwind into C), accepts NULL wherever a pointer is taken (an error code,
//! not a crash), and reads input as pointer + length (no NUL terminator expected). The
//! library keeps no global state.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use turbojwt_core::verifier::{Refusal, VerifiedToken, Verifier, VerifierKeys, VerifierOptions};
use turbojwt_core::verify::HeaderCache;
use turbojwt_core::{ErrorKind, JwtError};

#[cfg(test)]
mod tests;

/// The version of this ABI: incremented when a function, type or constant changes meaning or
/// is removed (additions keep it). Compare it with `tj_abi_version()` at run time.
pub const TJ_ABI_VERSION: u32 = 1;

/// What a call gave: `TJ_OK`, one code per PyJWT exception class for a token's verdict (the
/// class name is `tj_code_name(code)`), or an error of the call itself (>= 100).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum TjCode {
    TJ_OK = 0,
    /// `InvalidTokenError` (the base class; e.g. a malformed `crit` header).
    TJ_ERR_INVALID_TOKEN = 1,
    /// `DecodeError`: the token is not a well-formed JWS/JWT.
    TJ_ERR_DECODE = 2,
    /// `InvalidSignatureError`.
    TJ_ERR_INVALID_SIGNATURE = 3,
    /// `ExpiredSignatureError`.
    TJ_ERR_EXPIRED_SIGNATURE = 4,
    /// `ImmatureSignatureError` (`nbf` or `iat` in the future).
    TJ_ERR_IMMATURE_SIGNATURE = 5,
    /// `InvalidAudienceError`.
    TJ_ERR_INVALID_AUDIENCE = 6,
    /// `InvalidIssuerError`.
    TJ_ERR_INVALID_ISSUER = 7,
    /// `InvalidIssuedAtError`.
    TJ_ERR_INVALID_ISSUED_AT = 8,
    /// `InvalidAlgorithmError`.
    TJ_ERR_INVALID_ALGORITHM = 9,
    /// `InvalidKeyError` (also: a JWK that cannot be used, at creation).
    TJ_ERR_INVALID_KEY = 10,
    /// `MissingRequiredClaimError`.
    TJ_ERR_MISSING_REQUIRED_CLAIM = 11,
    /// `InvalidSubjectError`.
    TJ_ERR_INVALID_SUBJECT = 12,
    /// `InvalidJTIError`.
    TJ_ERR_INVALID_JTI = 13,
    /// `KeyNotFoundError`: no key of the JWK Set matches the token's `kid` and `alg`.
    TJ_ERR_KEY_NOT_FOUND = 14,
    /// `PyJWKClientError`.
    TJ_ERR_JWK_CLIENT = 15,
    /// `InvalidTypeError`: the header's `typ` is not the policy's.
    TJ_ERR_INVALID_TYPE = 16,
    /// `PyJWKSetError`: the JWK Set cannot be used (at creation).
    TJ_ERR_JWK_SET = 17,
    /// The token needs what only PyJWT's pyca/cryptography path judges (e.g. an Ed448 key, or
    /// a key of another type than the token's algorithm): refused.
    TJ_ERR_UNSUPPORTED = 100,
    /// A pointer argument was NULL (with a non-zero length, or where one is required).
    TJ_ERR_NULL_ARGUMENT = 101,
    /// An argument is out of range (an unknown key kind or claim, a length over `PTRDIFF_MAX`).
    TJ_ERR_BAD_ARGUMENT = 102,
    /// The policy JSON is not valid (unknown member or option, wrong type, ...).
    TJ_ERR_BAD_POLICY = 103,
    /// The policy is not UTF-8.
    TJ_ERR_INVALID_UTF8 = 104,
    /// An internal error (a panic, caught): a bug, please report it.
    TJ_ERR_PANIC = 105,
}

/// The kinds of key material `tj_verifier_new` takes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum TjKeyKind {
    /// What PyJWT's `decode` takes as a str/bytes key: PEM (public key, private key,
    /// certificate), DER, an OpenSSH public key line, or an HMAC secret.
    TJ_KEY_MATERIAL = 1,
    /// One JWK (JSON object), bound to its `alg` (or PyJWT's guess from `kty`/`crv`).
    TJ_KEY_JWK = 2,
    /// A JWK Set (`{"keys": [...]}`): the token's `kid` and `alg` pick the key.
    TJ_KEY_JWKS = 3,
}

/// The registered claims and header parameters a result gives as fields.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum TjClaim {
    TJ_CLAIM_ISS = 1,
    TJ_CLAIM_SUB = 2,
    /// The first audience (all of them: `tj_result_aud`).
    TJ_CLAIM_AUD = 3,
    TJ_CLAIM_JTI = 4,
    TJ_CLAIM_EXP = 5,
    TJ_CLAIM_NBF = 6,
    TJ_CLAIM_IAT = 7,
    /// Header `kid`.
    TJ_CLAIM_KID = 8,
    /// Header `alg`.
    TJ_CLAIM_ALG = 9,
    /// Header `typ`.
    TJ_CLAIM_TYP = 10,
}

/// A key and a policy compiled once (opaque). Immutable once made: one verifier may be used
/// by any number of threads at once. Free it with `tj_verifier_free`.
pub struct TjVerifier {
    inner: Verifier,
}

/// The outcome of `tj_verify` (opaque), reused from call to call (it also keeps the last
/// header it parsed: an issuer's tokens share theirs). One result is used by one thread at a
/// time. Free it with `tj_result_free`.
pub struct TjResult {
    code: TjCode,
    /// The message, NUL-terminated (the terminator is not counted in lengths).
    message: Vec<u8>,
    token: Option<Arc<VerifiedToken>>,
    /// The last header parse of the tokens verified into this result (see
    /// `Verifier::verify_with`): one thread's, as the result is.
    last_header: HeaderCache,
}

/// An error of `tj_verifier_new` (opaque). Free it with `tj_error_free`.
pub struct TjError {
    code: TjCode,
    message: Vec<u8>,
}

fn with_nul(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

fn code_of(kind: ErrorKind) -> TjCode {
    match kind {
        ErrorKind::InvalidToken => TjCode::TJ_ERR_INVALID_TOKEN,
        ErrorKind::Decode => TjCode::TJ_ERR_DECODE,
        ErrorKind::InvalidSignature => TjCode::TJ_ERR_INVALID_SIGNATURE,
        ErrorKind::ExpiredSignature => TjCode::TJ_ERR_EXPIRED_SIGNATURE,
        ErrorKind::ImmatureSignature => TjCode::TJ_ERR_IMMATURE_SIGNATURE,
        ErrorKind::InvalidAudience => TjCode::TJ_ERR_INVALID_AUDIENCE,
        ErrorKind::InvalidIssuer => TjCode::TJ_ERR_INVALID_ISSUER,
        ErrorKind::InvalidIssuedAt => TjCode::TJ_ERR_INVALID_ISSUED_AT,
        ErrorKind::InvalidAlgorithm => TjCode::TJ_ERR_INVALID_ALGORITHM,
        ErrorKind::InvalidKey => TjCode::TJ_ERR_INVALID_KEY,
        ErrorKind::MissingRequiredClaim => TjCode::TJ_ERR_MISSING_REQUIRED_CLAIM,
        ErrorKind::InvalidSubject => TjCode::TJ_ERR_INVALID_SUBJECT,
        ErrorKind::InvalidJti => TjCode::TJ_ERR_INVALID_JTI,
        ErrorKind::KeySetKeyNotFound => TjCode::TJ_ERR_KEY_NOT_FOUND,
        ErrorKind::KeyNotFound => TjCode::TJ_ERR_JWK_CLIENT,
        ErrorKind::InvalidType => TjCode::TJ_ERR_INVALID_TYPE,
        ErrorKind::JwkSet => TjCode::TJ_ERR_JWK_SET,
    }
}

/// An error of the call itself: its code and message.
type CallError = (TjCode, String);

fn jwt_error(e: &JwtError) -> CallError {
    (code_of(e.kind), e.display_message())
}

fn refusal(r: Refusal) -> CallError {
    match r {
        Refusal::Invalid(e) => jwt_error(&e),
        Refusal::Unsupported(m) => (TjCode::TJ_ERR_UNSUPPORTED, m),
    }
}

fn null(what: &str) -> CallError {
    (TjCode::TJ_ERR_NULL_ARGUMENT, format!("{what} is NULL"))
}

/// The `len` bytes at `ptr` (NULL is fine with a length of 0).
///
/// # Safety
/// `ptr` is NULL or valid for reads of `len` bytes for `'a`.
unsafe fn input<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], CallError> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null(what));
    }
    if len > isize::MAX as usize {
        return Err((
            TjCode::TJ_ERR_BAD_ARGUMENT,
            format!("{what}: length {len} is out of range"),
        ));
    }
    // SAFETY: non-NULL, the length is in range, and the caller promises `len` readable
    // bytes that outlive this call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic");
    format!("internal error: {what}")
}

/// Runs `f`, answering `fallback` if it panics (accessors that have nothing to report a
/// panic with: it must not unwind into C).
fn shielded<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Runs `f`, turning a panic into `TJ_ERR_PANIC`.
fn guarded<T>(f: impl FnOnce() -> Result<T, CallError>) -> Result<T, CallError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err((TjCode::TJ_ERR_PANIC, panic_message(&*payload))),
    }
}

/// The library's version (e.g. "0.1.0"), a static NUL-terminated string.
#[no_mangle]
pub extern "C" fn tj_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("the version has no NUL"),
        };
    VERSION.as_ptr()
}

/// The ABI version the library implements (`TJ_ABI_VERSION` of its header).
#[no_mangle]
pub extern "C" fn tj_abi_version() -> u32 {
    TJ_ABI_VERSION
}

/// The PyJWT exception class name of a code ("ExpiredSignatureError"), or the name of a call
/// error ("NullArgument", ...); "Unknown" for a value that is no code. A static
/// NUL-terminated string.
#[no_mangle]
pub extern "C" fn tj_code_name(code: i32) -> *const c_char {
    shielded(std::ptr::null(), || {
        let name: &'static CStr = match code {
            0 => c"OK",
            1 => c"InvalidTokenError",
            2 => c"DecodeError",
            3 => c"InvalidSignatureError",
            4 => c"ExpiredSignatureError",
            5 => c"ImmatureSignatureError",
            6 => c"InvalidAudienceError",
            7 => c"InvalidIssuerError",
            8 => c"InvalidIssuedAtError",
            9 => c"InvalidAlgorithmError",
            10 => c"InvalidKeyError",
            11 => c"MissingRequiredClaimError",
            12 => c"InvalidSubjectError",
            13 => c"InvalidJTIError",
            14 => c"KeyNotFoundError",
            15 => c"PyJWKClientError",
            16 => c"InvalidTypeError",
            17 => c"PyJWKSetError",
            100 => c"Unsupported",
            101 => c"NullArgument",
            102 => c"BadArgument",
            103 => c"BadPolicy",
            104 => c"InvalidUtf8",
            105 => c"Panic",
            _ => c"Unknown",
        };
        name.as_ptr()
    })
}

fn new_verifier(
    key_kind: u32,
    key: &[u8],
    policy: &[u8],
    cache_entries: usize,
) -> Result<TjVerifier, CallError> {
    if std::str::from_utf8(policy).is_err() {
        return Err((
            TjCode::TJ_ERR_INVALID_UTF8,
            "the policy is not valid UTF-8".into(),
        ));
    }
    let options = VerifierOptions::from_json(policy)
        .map_err(|m| (TjCode::TJ_ERR_BAD_POLICY, format!("bad policy: {m}")))?;
    let keys = match key_kind {
        1 => VerifierKeys::material(key),
        2 => VerifierKeys::jwk(key).map_err(refusal)?,
        3 => VerifierKeys::jwks(key).map_err(refusal)?,
        other => {
            return Err((
                TjCode::TJ_ERR_BAD_ARGUMENT,
                format!("unknown key kind {other}"),
            ))
        }
    };
    Ok(TjVerifier {
        inner: Verifier::new(keys, options, cache_entries),
    })
}

/// Makes a verifier of `key` (`key_len` bytes of the kind `key_kind`, a `TjKeyKind`) under
/// `policy` (`policy_len` bytes of UTF-8 JSON, see docs/c-abi.md), keeping the claims of
/// about `cache_entries` verified tokens (0: no cache). On failure returns NULL and, when
/// `error_out` is not NULL, stores an error there (free it with `tj_error_free`); on success
/// stores NULL there. The inputs are copied: the caller may free them on return.
///
/// # Safety
/// `key` and `policy` are NULL or readable for their lengths; `error_out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tj_verifier_new(
    key_kind: u32,
    key: *const u8,
    key_len: usize,
    policy: *const u8,
    policy_len: usize,
    cache_entries: usize,
    error_out: *mut *mut TjError,
) -> *mut TjVerifier {
    let made = guarded(|| {
        // SAFETY: the caller's promise for `key` and `policy`.
        let key = unsafe { input(key, key_len, "key") }?;
        // SAFETY: as above.
        let policy = unsafe { input(policy, policy_len, "policy") }?;
        if policy.is_empty() {
            return Err(null("policy"));
        }
        new_verifier(key_kind, key, policy, cache_entries)
    });
    let (verifier, error) = match made {
        Ok(v) => (Box::into_raw(Box::new(v)), None),
        Err(e) => (std::ptr::null_mut(), Some(e)),
    };
    // SAFETY: the caller's promise for `error_out`.
    unsafe { store_error(error_out, error) };
    verifier
}

/// Frees a verifier (NULL: nothing). No call may be using it.
///
/// # Safety
/// `verifier` is NULL or from `tj_verifier_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn tj_verifier_free(verifier: *mut TjVerifier) {
    if verifier.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller's promise: made by tj_verifier_new (Box::into_raw), freed once.
        drop(unsafe { Box::from_raw(verifier) });
    }));
}

/// Checks that `verifier`'s key can verify tokens of at least one of its policy's
/// algorithms. `tj_verifier_new` reads key material (PEM, DER, OpenSSH line, HMAC secret)
/// only when a token needs it, as PyJWT does, so a token's verdict is `decode`'s; a caller
/// loading a key file calls this before putting the verifier in place of a working one.
/// Returns `TJ_OK`, or the code of why not (`TJ_ERR_INVALID_KEY` with PyJWT's message where
/// PyJWT has one) and, when `error_out` is not NULL, stores an error there (free it with
/// `tj_error_free`); on `TJ_OK` stores NULL there. A JWK or JWK Set was checked by
/// `tj_verifier_new`: `TJ_OK` unless its algorithm is not in the policy.
///
/// # Safety
/// `verifier` is NULL or live; `error_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tj_verifier_check_key(
    verifier: *const TjVerifier,
    error_out: *mut *mut TjError,
) -> TjCode {
    let checked = guarded(|| {
        // SAFETY: the caller's promise: NULL or a live verifier.
        let verifier = unsafe { verifier.as_ref() }.ok_or_else(|| null("verifier"))?;
        verifier.inner.check_key().map_err(refusal)
    });
    let code = checked.as_ref().err().map_or(TjCode::TJ_OK, |(c, _)| *c);
    // SAFETY: the caller's promise for `error_out`.
    unsafe { store_error(error_out, checked.err()) };
    code
}

/// Stores `error` (or NULL) at `error_out`, or drops it when `error_out` is NULL.
///
/// # Safety
/// `error_out` is NULL or writable.
unsafe fn store_error(error_out: *mut *mut TjError, error: Option<CallError>) {
    if error_out.is_null() {
        return;
    }
    let error = error.map_or(std::ptr::null_mut(), |(code, message)| {
        Box::into_raw(Box::new(TjError {
            code,
            message: with_nul(&message),
        }))
    });
    // SAFETY: the caller's promise that a non-NULL `error_out` is writable.
    unsafe { error_out.write(error) };
}

/// The code of an error from `tj_verifier_new` (`TJ_ERR_NULL_ARGUMENT` for NULL).
///
/// # Safety
/// `error` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn tj_error_code(error: *const TjError) -> TjCode {
    shielded(TjCode::TJ_ERR_PANIC, || {
        // SAFETY: the caller's promise: NULL or a live error.
        match unsafe { error.as_ref() } {
            Some(e) => e.code,
            None => TjCode::TJ_ERR_NULL_ARGUMENT,
        }
    })
}

/// The message of an error: NUL-terminated, its length (without the NUL) stored in `len_out`
/// when that is not NULL. Valid until the error is freed. NULL for a NULL error.
///
/// # Safety
/// `error` is NULL or a live error; `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tj_error_message(
    error: *const TjError,
    len_out: *mut usize,
) -> *const c_char {
    shielded(std::ptr::null(), || {
        // SAFETY: the caller's promise: NULL or a live error.
        let Some(e) = (unsafe { error.as_ref() }) else {
            // SAFETY: the caller's promise for `len_out`.
            unsafe { store_len(len_out, 0) };
            return std::ptr::null();
        };
        // SAFETY: as above.
        unsafe { store_len(len_out, e.message.len() - 1) };
        e.message.as_ptr().cast()
    })
}

/// Frees an error (NULL: nothing).
///
/// # Safety
/// `error` is NULL or from `tj_verifier_new` or `tj_verifier_check_key`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn tj_error_free(error: *mut TjError) {
    shielded((), || {
        if !error.is_null() {
            // SAFETY: the caller's promise: made by Box::into_raw in tj_verifier_new, freed once.
            drop(unsafe { Box::from_raw(error) });
        }
    })
}

/// A new, empty result (its code is `TJ_OK` until a verification stores one), or NULL when
/// memory is exhausted.
#[no_mangle]
pub extern "C" fn tj_result_new() -> *mut TjResult {
    catch_unwind(|| {
        Box::into_raw(Box::new(TjResult {
            code: TjCode::TJ_OK,
            message: vec![0],
            token: None,
            last_header: None,
        }))
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Frees a result (NULL: nothing); the pointers it gave become invalid.
///
/// # Safety
/// `result` is NULL or from `tj_result_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn tj_result_free(result: *mut TjResult) {
    if result.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller's promise: made by tj_result_new (Box::into_raw), freed once.
        drop(unsafe { Box::from_raw(result) });
    }));
}

impl TjResult {
    fn set_error(&mut self, code: TjCode, message: &str) {
        self.code = code;
        self.token = None;
        self.message.clear();
        self.message.extend_from_slice(message.as_bytes());
        self.message.push(0);
    }

    fn set(&mut self, outcome: Result<Arc<VerifiedToken>, CallError>) -> TjCode {
        match outcome {
            Ok(token) => {
                self.code = TjCode::TJ_OK;
                self.token = Some(token);
                self.message.clear();
                self.message.push(0);
            }
            Err((code, message)) => self.set_error(code, &message),
        }
        self.code
    }
}

/// Verifies the `token_len` bytes at `token` with `verifier` as of `at` (seconds since the
/// epoch; NaN: the current time) and stores the outcome in `result`, whose earlier pointers
/// become invalid. Returns the code stored (`TJ_OK`: the token verified and its claims are in
/// `result`). A NULL `verifier` or `result` gives `TJ_ERR_NULL_ARGUMENT` (stored in `result`
/// when there is one).
///
/// # Safety
/// `verifier` is NULL or live; `token` is NULL or readable for `token_len` bytes; `result` is
/// NULL or live and not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn tj_verify(
    verifier: *const TjVerifier,
    token: *const u8,
    token_len: usize,
    at: f64,
    result: *mut TjResult,
) -> TjCode {
    // SAFETY: the caller's promise: NULL or a live result used by this thread alone.
    let Some(result) = (unsafe { result.as_mut() }) else {
        return TjCode::TJ_ERR_NULL_ARGUMENT;
    };
    let outcome = guarded(|| {
        // SAFETY: the caller's promise: NULL or a live verifier.
        let verifier = unsafe { verifier.as_ref() }.ok_or_else(|| null("verifier"))?;
        // SAFETY: the caller's promise for `token`.
        let token = unsafe { input(token, token_len, "token") }?;
        verifier
            .inner
            .verify_with(token, at, Some(&mut result.last_header))
            .map_err(refusal)
    });
    result.set(outcome)
}

/// # Safety
/// `len_out` is NULL or writable.
unsafe fn store_len(len_out: *mut usize, len: usize) {
    if !len_out.is_null() {
        // SAFETY: the caller's promise.
        unsafe { len_out.write(len) };
    }
}

/// # Safety
/// `result` is NULL or live.
unsafe fn token_of<'a>(result: *const TjResult) -> Option<&'a VerifiedToken> {
    // SAFETY: the caller's promise.
    unsafe { result.as_ref() }?.token.as_deref()
}

fn bytes_out(b: Option<&[u8]>, len_out: *mut usize) -> *const u8 {
    // SAFETY: every caller passes on its own caller's promise that `len_out` is NULL or
    // writable.
    unsafe { store_len(len_out, b.map_or(0, <[u8]>::len)) };
    b.map_or(std::ptr::null(), <[u8]>::as_ptr)
}

/// The code of the last verification (`TJ_ERR_NULL_ARGUMENT` for a NULL result).
///
/// # Safety
/// `result` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tj_result_code(result: *const TjResult) -> TjCode {
    shielded(TjCode::TJ_ERR_PANIC, || {
        // SAFETY: the caller's promise.
        unsafe { result.as_ref() }.map_or(TjCode::TJ_ERR_NULL_ARGUMENT, |r| r.code)
    })
}

/// The message of the last verification: the text PyJWT's exception would carry (empty when
/// it verified). NUL-terminated; its length without the NUL in `len_out` (if not NULL).
/// Valid until the next `tj_verify` into this result or its free.
///
/// # Safety
/// `result` is NULL or live; `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tj_result_message(
    result: *const TjResult,
    len_out: *mut usize,
) -> *const c_char {
    shielded(std::ptr::null(), || {
        // SAFETY: the caller's promise.
        match unsafe { result.as_ref() } {
            Some(r) => bytes_out(Some(&r.message[..r.message.len() - 1]), len_out).cast(),
            None => bytes_out(None, len_out).cast(),
        }
    })
}

/// The claims of a verified token: its payload JSON exactly as signed (UTF-8, not
/// NUL-terminated), length in `len_out`. NULL (length 0) when the last verification failed.
/// Valid until the next `tj_verify` into this result or its free.
///
/// # Safety
/// `result` is NULL or live; `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tj_result_claims(
    result: *const TjResult,
    len_out: *mut usize,
) -> *const u8 {
    shielded(std::ptr::null(), || {
        // SAFETY: the caller's promise.
        let token = unsafe { token_of(result) };
        bytes_out(token.map(|t| &t.claims_json[..]), len_out)
    })
}

/// A string claim or header parameter of a verified token (`TJ_CLAIM_ISS`, `_SUB`, `_AUD`
/// (the first audience), `_JTI`, `_KID`, `_ALG`, `_TYP`): UTF-8, not NUL-terminated (a claim
/// may hold a NUL), length in `len_out`. NULL (length 0) when absent, not a string, or the
/// token did not verify. Valid as `tj_result_claims`.
///
/// # Safety
/// `result` is NULL or live; `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tj_result_claim(
    result: *const TjResult,
    claim: u32,
    len_out: *mut usize,
) -> *const u8 {
    shielded(std::ptr::null(), || {
        // SAFETY: the caller's promise.
        let token = unsafe { token_of(result) };
        let value = token.and_then(|t| match claim {
            1 => t.iss.as_deref(),
            2 => t.sub.as_deref(),
            3 => t.aud.first().map(String::as_str),
            4 => t.jti.as_deref(),
            8 => t.kid.as_deref(),
            9 => Some(t.alg.as_str()),
            10 => t.typ.as_deref(),
            _ => None,
        });
        bytes_out(value.map(str::as_bytes), len_out)
    })
}

/// How many audiences a verified token has (`aud` a string: 1; 0 when absent or not
/// verified).
///
/// # Safety
/// `result` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tj_result_aud_count(result: *const TjResult) -> usize {
    shielded(0, || {
        // SAFETY: the caller's promise.
        unsafe { token_of(result) }.map_or(0, |t| t.aud.len())
    })
}

/// Audience `index` of a verified token (as `tj_result_claim`); NULL past the last.
///
/// # Safety
/// `result` is NULL or live; `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tj_result_aud(
    result: *const TjResult,
    index: usize,
    len_out: *mut usize,
) -> *const u8 {
    shielded(std::ptr::null(), || {
        // SAFETY: the caller's promise.
        let token = unsafe { token_of(result) };
        let value = token.and_then(|t| t.aud.get(index));
        bytes_out(value.map(String::as_bytes), len_out)
    })
}

/// A time claim of a verified token (`TJ_CLAIM_EXP`, `_NBF`, `_IAT`) in seconds since the
/// epoch, stored in `out`: true when the token has it as a number (read as PyJWT's `int()`
/// reads it), false otherwise (absent, not a number, not verified).
///
/// # Safety
/// `result` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tj_result_time(
    result: *const TjResult,
    claim: u32,
    out: *mut f64,
) -> bool {
    shielded(false, || {
        // SAFETY: the caller's promise.
        let token = unsafe { token_of(result) };
        let value = token.and_then(|t| match claim {
            5 => t.exp,
            6 => t.nbf,
            7 => t.iat,
            _ => None,
        });
        match (value, out.is_null()) {
            (Some(v), false) => {
                // SAFETY: the caller's promise: a non-NULL `out` is writable.
                unsafe { out.write(v) };
                true
            }
            (v, _) => v.is_some(),
        }
    })
}
