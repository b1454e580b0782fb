//! Verifying one token: what a decode checks (the policy), PyJWT's algorithm and key checks
//! for a parsed header, and PyJWT's whole decode sequence ([`sequence::verify`]), written
//! once for every front end (the binding's `decode` and `Verifier`, the batch engine, the
//! stage timer), so that all give one verdict.

use std::sync::Arc;

pub mod sequence;

pub use sequence::{verify, Caller, Candidates, HeaderCache, LazyClaims, OneKey, Stop, Verified};

use crate::alg::Family;
use crate::claims::ClaimsPolicy;
use crate::error::{ErrorKind, JwtError};
use crate::json::Header;
use crate::jws::{self, AlgPolicy};
use crate::keys::{KeyEntry, KeyProblem};
use crate::{Algorithm, AlgorithmSet};

/// Everything one decode call (or one `Verifier`) checks.
#[derive(Clone, Debug)]
pub struct DecodePolicy<'a> {
    pub verify_signature: bool,
    pub enforce_minimum_key_length: bool,
    /// `None` when `algorithms` was not given (or empty).
    pub algorithms: Option<AlgorithmSet>,
    pub claims: ClaimsPolicy<'a>,
}

impl DecodePolicy<'_> {
    /// The same policy owning its strings, for a `Verifier` that keeps it.
    pub fn into_owned(self) -> DecodePolicy<'static> {
        DecodePolicy {
            verify_signature: self.verify_signature,
            enforce_minimum_key_length: self.enforce_minimum_key_length,
            algorithms: self.algorithms,
            claims: self.claims.into_owned(),
        }
    }
}

/// A key as a decode sees it.
#[derive(Clone)]
pub struct KeyRef {
    pub entry: Arc<KeyEntry>,
    /// The algorithm a `PyJWK` is bound to.
    pub bound: Option<Algorithm>,
    /// Came as a cryptography key object: PyJWT refuses those for HMAC with a TypeError,
    /// which the Python path reproduces.
    pub is_object: bool,
}

/// The verdict of the algorithm and key checks.
pub enum KeyCheck {
    /// Verify with `alg`; `short_key` is PyJWT's key-length warning, if the key is short.
    Use {
        alg: Algorithm,
        short_key: Option<String>,
    },
    Fail(JwtError),
    /// Only the Python reference path gives PyJWT's exact verdict (e.g. `alg: none` allowed,
    /// a message quoting Python reprs, a key type cryptography itself refuses).
    Fallback,
}

/// PyJWT's checks between parsing and signature verification: the algorithm is present,
/// allowed, implemented and fits the key; an HMAC secret is not a public key in disguise.
pub fn check_key(header: &Header<'_>, key: &KeyRef, algorithms: &Option<AlgorithmSet>) -> KeyCheck {
    let policy = match key.bound {
        Some(alg) => AlgPolicy::Bound {
            alg,
            allowed: algorithms.as_ref(),
        },
        None => match algorithms {
            Some(set) => AlgPolicy::Allowed(set),
            None => return KeyCheck::Fallback,
        },
    };
    let alg = match jws::select_algorithm(header, &policy) {
        Ok(a) => a,
        Err(Some(e)) => return KeyCheck::Fail(e),
        Err(None) => return KeyCheck::Fallback,
    };
    if key.is_object && alg.family() == Family::Hmac {
        return KeyCheck::Fallback;
    }
    match key.entry.check(alg) {
        Ok(()) => KeyCheck::Use {
            alg,
            short_key: key.entry.key_length_warning(alg),
        },
        Err(KeyProblem::HmacRefused(m)) => KeyCheck::Fail(JwtError::new(ErrorKind::InvalidKey, m)),
        Err(KeyProblem::Unsupported) => KeyCheck::Fallback,
    }
}

/// Whether a header's `typ` is the one required (`want`), as RFC 9068 §2.1 and RFC 8725
/// §3.11 compare media types: case-insensitively, with or without the `application/` prefix.
pub fn typ_matches(typ: &crate::json::Field<std::borrow::Cow<'_, str>>, want: &str) -> bool {
    let crate::json::Field::Value(typ) = typ else {
        return false;
    };
    let typ = typ.as_ref();
    typ.eq_ignore_ascii_case(want)
        || typ
            .get(..12)
            .is_some_and(|p| p.eq_ignore_ascii_case("application/"))
            && typ[12..].eq_ignore_ascii_case(want)
}

/// The error for a token whose `typ` is not `want`.
pub fn typ_error(want: &str) -> JwtError {
    JwtError::new(
        ErrorKind::InvalidType,
        format!("The token type must be '{want}'"),
    )
}

#[cfg(test)]
mod typ_tests {
    use std::borrow::Cow;

    use super::typ_matches;
    use crate::json::Field;

    #[test]
    fn typ_compares_as_media_types() {
        let v = |s: &'static str| Field::Value(Cow::Borrowed(s));
        assert!(typ_matches(&v("at+jwt"), "at+jwt"));
        assert!(typ_matches(&v("AT+JWT"), "at+jwt"));
        assert!(typ_matches(&v("application/at+jwt"), "at+jwt"));
        assert!(typ_matches(&v("Application/AT+jwt"), "at+jwt"));
        assert!(!typ_matches(&v("JWT"), "at+jwt"));
        assert!(!typ_matches(&v("application/"), "at+jwt"));
        assert!(!typ_matches(&v("x/at+jwt"), "at+jwt"));
        assert!(!typ_matches(&v("applicationé/at+jwt"), "at+jwt"));
        assert!(!typ_matches(&Field::Absent, "at+jwt"));
        assert!(!typ_matches(&Field::WrongType, "at+jwt"));
    }
}
