//! The ABI's own checks: bad input through every entry point gives an error code and a
//! message, never a crash; verdicts and fields; one verifier shared by threads.

use std::ffi::CStr;
use std::ptr::{null, null_mut};

use turbojwt_core::alg::Algorithm;
use turbojwt_core::b64;
use turbojwt_core::keys::KeyEntry;

use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const POLICY: &str = r#"{"algorithms":["HS256"],"audience":"api","options":{"require":["exp"]}}"#;

fn hs256(header: &str, payload: &str) -> Vec<u8> {
    let input = format!(
        "{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload.as_bytes())
    );
    let sig = KeyEntry::new(SECRET)
        .sign(Algorithm::HS256, input.as_bytes())
        .unwrap();
    format!("{input}.{}", b64::encode(&sig)).into_bytes()
}

fn good_token() -> Vec<u8> {
    hs256(
        r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#,
        r#"{"iss":"https://idp","sub":"u1","aud":["api","x"],"exp":2000000000,"iat":1000,"jti":"j\u0000"}"#,
    )
}

/// A verifier, or the error's code and message.
fn new(
    kind: u32,
    key: &[u8],
    policy: &[u8],
    cache: usize,
) -> Result<*mut TjVerifier, (TjCode, String)> {
    let mut err: *mut TjError = null_mut();
    // SAFETY: slices valid for their lengths; `err` writable.
    let v = unsafe {
        tj_verifier_new(
            kind,
            key.as_ptr(),
            key.len(),
            policy.as_ptr(),
            policy.len(),
            cache,
            &mut err,
        )
    };
    if v.is_null() {
        assert!(!err.is_null());
        let mut len = usize::MAX;
        // SAFETY: `err` was just made; `len` writable.
        let msg = unsafe { CStr::from_ptr(tj_error_message(err, &mut len)) };
        let msg = msg.to_str().unwrap().to_owned();
        assert_eq!(len, msg.len());
        // SAFETY: as above.
        let code = unsafe { tj_error_code(err) };
        // SAFETY: made by tj_verifier_new, freed once.
        unsafe { tj_error_free(err) };
        Err((code, msg))
    } else {
        assert!(err.is_null());
        Ok(v)
    }
}

struct Outcome {
    code: TjCode,
    message: String,
    claims: Option<String>,
}

fn verify(v: *const TjVerifier, token: &[u8], at: f64) -> Outcome {
    let r = tj_result_new();
    // SAFETY: live verifier (or NULL, tested), token slice, live result.
    let code = unsafe { tj_verify(v, token.as_ptr(), token.len(), at, r) };
    let out = read(r);
    assert_eq!(out.code, code);
    // SAFETY: made above, freed once.
    unsafe { tj_result_free(r) };
    out
}

fn read(r: *const TjResult) -> Outcome {
    let (mut mlen, mut clen) = (usize::MAX, usize::MAX);
    // SAFETY: `r` is live; lengths writable.
    unsafe {
        let m = tj_result_message(r, &mut mlen);
        let c = tj_result_claims(r, &mut clen);
        Outcome {
            code: tj_result_code(r),
            message: String::from_utf8(std::slice::from_raw_parts(m.cast(), mlen).to_vec())
                .unwrap(),
            claims: (!c.is_null())
                .then(|| String::from_utf8(std::slice::from_raw_parts(c, clen).to_vec()).unwrap()),
        }
    }
}

fn free(v: *mut TjVerifier) {
    // SAFETY: made by tj_verifier_new, freed once.
    unsafe { tj_verifier_free(v) };
}

#[test]
fn version_and_names() {
    // SAFETY: static NUL-terminated strings.
    let version = unsafe { CStr::from_ptr(tj_version()) };
    assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    assert_eq!(tj_abi_version(), TJ_ABI_VERSION);
    // SAFETY: as above.
    let name = |c: i32| unsafe { CStr::from_ptr(tj_code_name(c)) }.to_str().unwrap();
    assert_eq!(
        name(TjCode::TJ_ERR_EXPIRED_SIGNATURE as i32),
        "ExpiredSignatureError"
    );
    assert_eq!(
        name(TjCode::TJ_ERR_KEY_NOT_FOUND as i32),
        "KeyNotFoundError"
    );
    assert_eq!(name(-1), "Unknown");
    assert_eq!(name(999), "Unknown");
    // Every core error kind has its own code, named after its PyJWT class.
    for kind in [
        ErrorKind::InvalidToken,
        ErrorKind::Decode,
        ErrorKind::InvalidSignature,
        ErrorKind::ExpiredSignature,
        ErrorKind::ImmatureSignature,
        ErrorKind::InvalidAudience,
        ErrorKind::InvalidIssuer,
        ErrorKind::InvalidIssuedAt,
        ErrorKind::InvalidAlgorithm,
        ErrorKind::InvalidKey,
        ErrorKind::MissingRequiredClaim,
        ErrorKind::InvalidSubject,
        ErrorKind::InvalidJti,
        ErrorKind::KeyNotFound,
        ErrorKind::KeySetKeyNotFound,
        ErrorKind::InvalidType,
        ErrorKind::JwkSet,
    ] {
        assert_eq!(name(code_of(kind) as i32), kind.class_name(), "{kind:?}");
    }
}

#[test]
fn a_token_verifies_with_its_fields() {
    let v = new(1, SECRET, POLICY.as_bytes(), 0).unwrap();
    let r = tj_result_new();
    let token = good_token();
    // SAFETY: live handles, slices valid; out-pointers writable.
    unsafe {
        assert_eq!(
            tj_verify(v, token.as_ptr(), token.len(), f64::NAN, r),
            TjCode::TJ_OK
        );
        let field = |c: u32| {
            let mut len = 0;
            let p = tj_result_claim(r, c, &mut len);
            (!p.is_null()).then(|| std::slice::from_raw_parts(p, len).to_vec())
        };
        assert_eq!(field(1).as_deref(), Some(&b"https://idp"[..]));
        assert_eq!(field(2).as_deref(), Some(&b"u1"[..]));
        assert_eq!(field(3).as_deref(), Some(&b"api"[..]));
        assert_eq!(
            field(4).as_deref(),
            Some(&b"j\0"[..]),
            "a NUL inside a claim"
        );
        assert_eq!(field(8).as_deref(), Some(&b"k1"[..]));
        assert_eq!(field(9).as_deref(), Some(&b"HS256"[..]));
        assert_eq!(field(10).as_deref(), Some(&b"JWT"[..]));
        assert_eq!(field(5), None, "exp is a time, not a string");
        assert_eq!(field(77), None);
        assert_eq!(tj_result_aud_count(r), 2);
        let mut len = 0;
        let p = tj_result_aud(r, 1, &mut len);
        assert_eq!(std::slice::from_raw_parts(p, len), b"x");
        assert!(tj_result_aud(r, 2, &mut len).is_null());
        let mut t = 0.0;
        assert!(tj_result_time(r, 5, &mut t));
        assert_eq!(t, 2e9);
        assert!(tj_result_time(r, 7, &mut t) && t == 1000.0);
        assert!(!tj_result_time(r, 6, &mut t), "no nbf");
        assert!(!tj_result_time(r, 1, &mut t));
        assert!(
            tj_result_time(r, 5, null_mut()),
            "NULL out: only whether it is there"
        );
        let out = read(r);
        assert_eq!(out.message, "");
        assert!(out.claims.unwrap().contains(r#""sub":"u1""#));
        // The same result reused for a refusal: the fields are gone.
        assert_eq!(
            tj_verify(v, token.as_ptr(), token.len(), 3e9, r),
            TjCode::TJ_ERR_EXPIRED_SIGNATURE
        );
        assert!(tj_result_claim(r, 1, &mut len).is_null() && len == 0);
        assert_eq!(tj_result_aud_count(r), 0);
        assert!(!tj_result_time(r, 5, &mut t));
        assert_eq!(read(r).message, "Signature has expired");
        tj_result_free(r);
    }
    free(v);
}

#[test]
fn verdicts_are_pyjwts() {
    let v = new(1, SECRET, POLICY.as_bytes(), 0).unwrap();
    let cases: Vec<(Vec<u8>, TjCode, &str)> = vec![
        (b"".to_vec(), TjCode::TJ_ERR_DECODE, "Not enough segments"),
        (
            b"a.b".to_vec(),
            TjCode::TJ_ERR_DECODE,
            "Not enough segments",
        ),
        (
            hs256(r#"{"alg":"HS256"}"#, r#"{"aud":"api"}"#),
            TjCode::TJ_ERR_MISSING_REQUIRED_CLAIM,
            "Token is missing the \"exp\" claim",
        ),
        (
            hs256(r#"{"alg":"HS256"}"#, r#"{"aud":"web","exp":2000000000}"#),
            TjCode::TJ_ERR_INVALID_AUDIENCE,
            "Audience doesn't match",
        ),
        (
            hs256(r#"{"alg":"RS256"}"#, r#"{"aud":"api","exp":2000000000}"#),
            TjCode::TJ_ERR_INVALID_ALGORITHM,
            "The specified alg value is not allowed",
        ),
        (
            {
                let mut t = good_token();
                let n = t.len();
                t[n - 2] ^= 1;
                t
            },
            TjCode::TJ_ERR_INVALID_SIGNATURE,
            "Signature verification failed",
        ),
        (vec![0xff; 40], TjCode::TJ_ERR_DECODE, "Not enough segments"),
    ];
    for (token, code, message) in cases {
        let out = verify(v, &token, 1e9);
        assert_eq!(
            (out.code, &*out.message),
            (code, message),
            "{:?}",
            String::from_utf8_lossy(&token)
        );
        assert!(out.claims.is_none());
    }
    free(v);
}

#[test]
fn null_pointers_and_lengths_are_errors() {
    let v = new(1, SECRET, POLICY.as_bytes(), 0).unwrap();
    let r = tj_result_new();
    // SAFETY: every pointer is NULL or live; NULL is what is being tested.
    unsafe {
        assert_eq!(
            tj_verify(null(), b"x".as_ptr(), 1, 0.0, r),
            TjCode::TJ_ERR_NULL_ARGUMENT
        );
        assert_eq!(read(r).message, "verifier is NULL");
        assert_eq!(
            tj_verify(v, null(), 5, 0.0, r),
            TjCode::TJ_ERR_NULL_ARGUMENT
        );
        assert_eq!(read(r).message, "token is NULL");
        assert_eq!(
            tj_verify(v, null(), 0, 0.0, r),
            TjCode::TJ_ERR_DECODE,
            "NULL, 0: empty"
        );
        assert_eq!(
            tj_verify(v, b"x".as_ptr(), usize::MAX, 0.0, r),
            TjCode::TJ_ERR_BAD_ARGUMENT
        );
        assert_eq!(
            tj_verify(v, b"x".as_ptr(), 1, 0.0, null_mut()),
            TjCode::TJ_ERR_NULL_ARGUMENT
        );
        assert_eq!(tj_result_code(null()), TjCode::TJ_ERR_NULL_ARGUMENT);
        let mut len = 7;
        assert!(tj_result_message(null(), &mut len).is_null() && len == 0);
        assert!(tj_result_claims(null(), &mut len).is_null() && len == 0);
        assert!(tj_result_claim(null(), 1, null_mut()).is_null());
        assert_eq!(tj_result_aud_count(null()), 0);
        assert!(tj_result_aud(null(), 0, null_mut()).is_null());
        assert!(!tj_result_time(null(), 5, null_mut()));
        assert_eq!(tj_error_code(null()), TjCode::TJ_ERR_NULL_ARGUMENT);
        assert!(tj_error_message(null(), &mut len).is_null());
        tj_error_free(null_mut());
        tj_result_free(null_mut());
        tj_verifier_free(null_mut());
        // Creation: NULL inputs, and no place to put the error (it is freed).
        assert!(
            tj_verifier_new(1, null(), 3, POLICY.as_ptr(), POLICY.len(), 0, null_mut()).is_null()
        );
        let mut err: *mut TjError = null_mut();
        assert!(
            tj_verifier_new(1, SECRET.as_ptr(), SECRET.len(), null(), 0, 0, &mut err).is_null()
        );
        assert_eq!(tj_error_code(err), TjCode::TJ_ERR_NULL_ARGUMENT);
        tj_error_free(err);
        tj_result_free(r);
    }
    free(v);
}

#[test]
fn bad_policies_and_keys_are_errors_with_messages() {
    let p = POLICY.as_bytes();
    /// (key kind, key, policy, code, part of the message)
    type Case<'a> = (u32, Vec<u8>, Vec<u8>, TjCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            1,
            SECRET.into(),
            b"{\"algorithms\":[\"HS\xff\"]}".to_vec(),
            TjCode::TJ_ERR_INVALID_UTF8,
            "not valid UTF-8",
        ),
        (
            1,
            SECRET.into(),
            br#"{"algorithms":["HS256"],"options":{"verify_exq":true}}"#.to_vec(),
            TjCode::TJ_ERR_BAD_POLICY,
            "unknown option \"verify_exq\"",
        ),
        (
            1,
            SECRET.into(),
            br#"{"algorithms":["HS256"],"cache":1}"#.to_vec(),
            TjCode::TJ_ERR_BAD_POLICY,
            "unknown policy member",
        ),
        (
            1,
            SECRET.into(),
            br#"{"algorithms":"HS256"}"#.to_vec(),
            TjCode::TJ_ERR_BAD_POLICY,
            "list of strings",
        ),
        (
            1,
            SECRET.into(),
            br#"{"algorithms":["none"]}"#.to_vec(),
            TjCode::TJ_ERR_BAD_POLICY,
            "\"none\"",
        ),
        (
            1,
            SECRET.into(),
            b"{\"algorithms\":[\"HS256\"]".to_vec(),
            TjCode::TJ_ERR_BAD_POLICY,
            "not valid JSON",
        ),
        (
            1,
            SECRET.into(),
            b"\0".to_vec(),
            TjCode::TJ_ERR_BAD_POLICY,
            "not valid JSON",
        ),
        (
            9,
            SECRET.into(),
            p.to_vec(),
            TjCode::TJ_ERR_BAD_ARGUMENT,
            "unknown key kind 9",
        ),
        (
            2,
            b"{".to_vec(),
            p.to_vec(),
            TjCode::TJ_ERR_INVALID_KEY,
            "JWK is not valid JSON",
        ),
        (
            2,
            br#"{"kty":"oct","k":"c2VjcmV0","use":"enc"}"#.to_vec(),
            p.to_vec(),
            TjCode::TJ_ERR_INVALID_KEY,
            "not for signatures",
        ),
        (
            3,
            b"[]".to_vec(),
            p.to_vec(),
            TjCode::TJ_ERR_JWK_SET,
            "must be a JSON object",
        ),
        (
            3,
            br#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#.to_vec(),
            p.to_vec(),
            TjCode::TJ_ERR_JWK_SET,
            "RSA key of 17 bits is under the minimum of 2048",
        ),
    ];
    for (kind, key, policy, code, want) in cases {
        let (got, message) = new(kind, &key, &policy, 0).map(free).unwrap_err();
        assert_eq!(got, code, "{message}");
        assert!(message.contains(want), "{message:?} lacks {want:?}");
    }
    // Key material the core cannot use for the token's algorithm: refused when verifying.
    let v = new(
        1,
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        br#"{"algorithms":["RS256"]}"#,
        0,
    )
    .unwrap();
    let token = hs256(r#"{"alg":"RS256"}"#, "{}");
    assert_eq!(verify(v, &token, 0.0).code, TjCode::TJ_ERR_UNSUPPORTED);
    free(v);
    // An HMAC secret that is a public key in disguise: PyJWT's InvalidKeyError.
    let pem = b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    let v = new(1, pem, br#"{"algorithms":["HS256"]}"#, 0).unwrap();
    let out = verify(v, &hs256(r#"{"alg":"HS256"}"#, "{}"), 0.0);
    assert_eq!(out.code, TjCode::TJ_ERR_INVALID_KEY);
    assert!(out.message.contains("asymmetric key"), "{}", out.message);
    free(v);
}

#[test]
fn a_jwks_picks_the_key_by_kid() {
    let jwks = format!(
        r#"{{"keys":[{{"kty":"oct","kid":"k1","k":"{}"}},{{"kty":"oct","kid":"k2","k":"{}"}}]}}"#,
        b64::encode(SECRET),
        b64::encode(&[9u8; 32])
    );
    let v = new(3, jwks.as_bytes(), POLICY.as_bytes(), 0).unwrap();
    assert_eq!(verify(v, &good_token(), 1e9).code, TjCode::TJ_OK);
    let other = hs256(
        r#"{"alg":"HS256","kid":"k2"}"#,
        r#"{"aud":"api","exp":2000000000}"#,
    );
    assert_eq!(
        verify(v, &other, 1e9).code,
        TjCode::TJ_ERR_INVALID_SIGNATURE
    );
    let unknown = hs256(r#"{"alg":"HS256","kid":"k3"}"#, "{}");
    let out = verify(v, &unknown, 1e9);
    assert_eq!(
        (out.code, &*out.message),
        (
            TjCode::TJ_ERR_KEY_NOT_FOUND,
            "Unable to find a signing key that matches: \"k3\""
        )
    );
    free(v);
    let jwk = format!(r#"{{"kty":"oct","k":"{}"}}"#, b64::encode(SECRET));
    let v = new(2, jwk.as_bytes(), POLICY.as_bytes(), 0).unwrap();
    assert_eq!(verify(v, &good_token(), 1e9).code, TjCode::TJ_OK);
    free(v);
}

#[test]
fn the_cache_gives_the_same_verdicts() {
    let v = new(1, SECRET, POLICY.as_bytes(), 64).unwrap();
    let token = good_token();
    for _ in 0..5 {
        let out = verify(v, &token, 1e9);
        assert_eq!(out.code, TjCode::TJ_OK);
        assert!(out.claims.unwrap().contains("\"jti\""));
    }
    assert_eq!(
        verify(v, &token, 2e9).code,
        TjCode::TJ_ERR_EXPIRED_SIGNATURE
    );
    free(v);
}

#[test]
fn one_verifier_is_shared_by_threads() {
    struct Shared(*mut TjVerifier);
    // SAFETY: a TjVerifier is immutable after creation and its verify takes &self: the
    // pointer may be used from any thread while it lives (freed below, after the joins).
    unsafe impl Send for Shared {}
    // SAFETY: as above.
    unsafe impl Sync for Shared {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TjVerifier>();
    for cache in [0, 128] {
        let v = Shared(new(1, SECRET, POLICY.as_bytes(), cache).unwrap());
        let tokens: Vec<Vec<u8>> = (0..16)
            .map(|i| {
                hs256(
                    r#"{"alg":"HS256"}"#,
                    &format!(r#"{{"aud":"api","exp":{}}}"#, 1_000_000_000 + i * 1000),
                )
            })
            .collect();
        std::thread::scope(|s| {
            for t in 0..4 {
                let (v, tokens) = (&v, &tokens);
                s.spawn(move || {
                    let r = tj_result_new();
                    for round in 0..200 {
                        let i = (round * 7 + t) % tokens.len();
                        let at = 1_000_000_000.0 + 8000.0;
                        // SAFETY: the verifier outlives the scope; the result is this thread's.
                        let code =
                            unsafe { tj_verify(v.0, tokens[i].as_ptr(), tokens[i].len(), at, r) };
                        let want = if i > 8 {
                            TjCode::TJ_OK
                        } else {
                            TjCode::TJ_ERR_EXPIRED_SIGNATURE
                        };
                        assert_eq!(code, want, "token {i}");
                    }
                    // SAFETY: made above, freed once.
                    unsafe { tj_result_free(r) };
                });
            }
        });
        free(v.0);
    }
}

#[test]
fn a_panic_becomes_an_error_code() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r: Result<(), CallError> = guarded(|| panic!("boom"));
    std::panic::set_hook(prev);
    assert_eq!(
        r,
        Err((TjCode::TJ_ERR_PANIC, "internal error: boom".into()))
    );
}

/// `tj_verifier_check_key`'s code and message (and that the error slot is NULL on TJ_OK).
fn check_key(v: *const TjVerifier) -> (TjCode, String) {
    let mut err: *mut TjError = std::ptr::dangling_mut(); // overwritten either way
                                                          // SAFETY: `v` is NULL or live; `err` writable.
    let code = unsafe { tj_verifier_check_key(v, &mut err) };
    if code == TjCode::TJ_OK {
        assert!(err.is_null());
        return (code, String::new());
    }
    // SAFETY: made by tj_verifier_check_key; freed once.
    unsafe {
        assert_eq!(tj_error_code(err), code);
        let msg = CStr::from_ptr(tj_error_message(err, null_mut()));
        let msg = msg.to_str().unwrap().to_owned();
        tj_error_free(err);
        (code, msg)
    }
}

#[test]
fn check_key_refuses_material_no_policy_algorithm_can_use() {
    let good = new(1, SECRET, POLICY.as_bytes(), 0).unwrap();
    assert_eq!(check_key(good), (TjCode::TJ_OK, String::new()));
    // SAFETY: live verifier; a NULL error_out is allowed.
    let code = unsafe { tj_verifier_check_key(good, null_mut()) };
    assert_eq!(code, TjCode::TJ_OK);
    free(good);
    for (key, policy, want) in [
        (
            &b"not a key"[..],
            r#"{"algorithms":["RS256"]}"#,
            "Could not parse the provided public key.",
        ),
        (
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            r#"{"algorithms":["HS256"]}"#,
            "The specified key is an asymmetric key or x509 certificate and should not be used as an HMAC secret.",
        ),
        (b"", r#"{"algorithms":["HS256"]}"#, "HMAC key must not be empty."),
    ] {
        // Made: the key is read when a token needs it, as PyJWT reads it.
        let v = new(1, key, policy.as_bytes(), 0).unwrap();
        assert_eq!(
            check_key(v),
            (TjCode::TJ_ERR_INVALID_KEY, want.to_string()),
            "{policy}"
        );
        // SAFETY: live verifier; a NULL error_out is allowed.
        let code = unsafe { tj_verifier_check_key(v, null_mut()) };
        assert_eq!(code, TjCode::TJ_ERR_INVALID_KEY);
        free(v);
    }
    assert_eq!(
        check_key(null()),
        (TjCode::TJ_ERR_NULL_ARGUMENT, "verifier is NULL".into())
    );
}

#[test]
fn max_token_bytes_refuses_longer_tokens_unread() {
    let t = good_token();
    let limit = t.len() - 1;
    let policy =
        format!(r#"{{"algorithms":["HS256"],"audience":"api","max_token_bytes":{limit}}}"#);
    let v = new(1, SECRET, policy.as_bytes(), 0).unwrap();
    let out = verify(v, &t, 1e9);
    assert_eq!(out.code, TjCode::TJ_ERR_DECODE);
    assert_eq!(
        out.message,
        format!(
            "Token is {} bytes long, over the limit of {limit} bytes",
            t.len()
        )
    );
    free(v);
    let policy = format!(
        r#"{{"algorithms":["HS256"],"audience":"api","max_token_bytes":{}}}"#,
        t.len()
    );
    let v = new(1, SECRET, policy.as_bytes(), 0).unwrap();
    assert_eq!(verify(v, &t, 1e9).code, TjCode::TJ_OK);
    free(v);
    let e = new(
        1,
        SECRET,
        br#"{"algorithms":["HS256"],"max_token_bytes":0}"#,
        0,
    )
    .unwrap_err();
    assert_eq!(e.0, TjCode::TJ_ERR_BAD_POLICY);
    assert!(e.1.contains("max_token_bytes"), "{}", e.1);
}
