//! JWKs and JWK Sets as verification keys, without a host language: a JWK bound to one
//! algorithm as PyJWT's `PyJWK` binds it, and a strict key set with the rules of turbojwt's
//! Python `KeySet` (python/turbojwt/keyset.py, whose messages these are), the token's `kid`
//! and `alg` picking the key.

use std::sync::Arc;

use jiter::JsonValue;

use crate::alg::Algorithm;
use crate::error::{ErrorKind, JwtError};
use crate::jwk::{self, Jwk};
use crate::keys::{KeyEntry, KeyProblem};
use crate::pyfmt;
use crate::verify::KeyRef;
use jiter::JsonObject;

/// RFC 7517 §4.2/§4.3: a key for encryption (`use`) or whose `key_ops` leave out `verify`
/// does not verify signatures (turbojwt's `_verify_refusal`, its messages).
pub fn verify_refusal(obj: &JsonObject<'_>) -> Option<String> {
    if let Some(u) = member(obj, "use").filter(|u| !matches!(u, JsonValue::Null)) {
        if !matches!(u, JsonValue::Str(s) if s == "sig") {
            return Some(format!(
                "The JWK is not for signatures (\"use\": {})",
                pyfmt::dumps_json(u)
            ));
        }
    }
    let ops = member(obj, "key_ops").filter(|o| !matches!(o, JsonValue::Null))?;
    let verifies = matches!(ops, JsonValue::Array(items)
        if items.iter().any(|i| matches!(i, JsonValue::Str(s) if s == "verify")));
    (!verifies).then(|| {
        format!(
            "The JWK's \"key_ops\" do not include \"verify\" ({})",
            pyfmt::dumps_json(ops)
        )
    })
}

/// A JSON object's member (the last of that name, as Python's `json` keeps it).
fn member<'a, 'j>(obj: &'a JsonObject<'j>, name: &str) -> Option<&'a JsonValue<'j>> {
    obj.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn str_member<'a>(obj: &'a JsonObject<'_>, name: &str) -> Option<&'a str> {
    match member(obj, name) {
        Some(JsonValue::Str(s)) => Some(s.as_ref()),
        _ => None,
    }
}

fn crv_alg(crv: &str) -> Option<Algorithm> {
    Some(match crv {
        "P-256" => Algorithm::ES256,
        "P-384" => Algorithm::ES384,
        "P-521" => Algorithm::ES512,
        "secp256k1" => Algorithm::ES256K,
        _ => return None,
    })
}

/// PyJWK's algorithm for a JWK that names none.
fn guess_algorithm(jwk: &Jwk) -> Result<Algorithm, String> {
    let crv = jwk.crv.as_deref().filter(|c| !c.is_empty());
    match jwk.kty.as_str() {
        "EC" => match crv {
            None => Ok(Algorithm::ES256),
            Some(c) => crv_alg(c).ok_or_else(|| format!("Unsupported crv: {c}")),
        },
        "RSA" => Ok(Algorithm::RS256),
        "oct" => Ok(Algorithm::HS256),
        "OKP" => match crv {
            Some("Ed25519") => Ok(Algorithm::EdDSA),
            Some(c) => Err(format!("Unsupported crv: {c}")),
            None => Err("crv is not found".into()),
        },
        other => Err(format!("Unsupported kty: {other}")),
    }
}

/// One JWK as a key bound to an algorithm: its `alg`, or PyJWK's guess from its type and
/// curve. A JWK that must not verify (`use`, `key_ops`) or cannot be read is an
/// `InvalidKeyError`.
pub fn jwk_key(json: &[u8]) -> Result<KeyRef, JwtError> {
    let invalid = |m: String| JwtError::new(ErrorKind::InvalidKey, m);
    let jwk = jwk::parse(json).map_err(invalid)?;
    if let Ok(JsonValue::Object(obj)) = JsonValue::parse(json, false) {
        if let Some(refusal) = verify_refusal(&obj) {
            return Err(invalid(refusal));
        }
    }
    let alg = match &jwk.alg {
        Some(name) => Algorithm::from_name(name)
            .filter(|a| *a != Algorithm::None)
            .ok_or_else(|| invalid(format!("Unable to find an algorithm for key: {name}")))?,
        None => guess_algorithm(&jwk).map_err(invalid)?,
    };
    Ok(KeyRef {
        entry: Arc::new(KeyEntry::new(&jwk.material)),
        bound: Some(alg),
        is_object: false,
    })
}

const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];
/// RFC 7518 §3.2: an HMAC key at least as long as the hash output.
const HMAC_MIN_BYTES: [(Algorithm, usize); 3] = [
    (Algorithm::HS256, 32),
    (Algorithm::HS384, 48),
    (Algorithm::HS512, 64),
];
/// The minimum RSA modulus of a key set's keys (KeySet's `min_rsa_bits` default).
pub const MIN_RSA_BITS: usize = 2048;

/// The JWS algorithms a key of this type and curve signs with (`_allowed_algorithms`);
/// `hmac_bytes`: an `oct` key's length.
fn allowed_algorithms(obj: &JsonObject<'_>, hmac_bytes: Option<usize>) -> Vec<Algorithm> {
    match str_member(obj, "kty") {
        Some("RSA") => RSA_ALGORITHMS.to_vec(),
        Some("EC") => match member(obj, "crv") {
            None => vec![Algorithm::ES256],
            Some(JsonValue::Str(crv)) => crv_alg(crv).into_iter().collect(),
            Some(_) => Vec::new(),
        },
        Some("OKP") if matches!(str_member(obj, "crv"), Some("Ed25519" | "Ed448")) => {
            vec![Algorithm::EdDSA]
        }
        Some("oct") => HMAC_MIN_BYTES
            .iter()
            .filter(|(_, n)| hmac_bytes.is_none_or(|b| b >= *n))
            .map(|(a, _)| *a)
            .collect(),
        _ => Vec::new(),
    }
}

/// `_b64_length`: the decoded length of a base64url string.
fn b64_length(v: Option<&JsonValue<'_>>) -> Option<usize> {
    match v {
        Some(JsonValue::Str(s)) => Some(s.trim_end_matches('=').chars().count() * 3 / 4),
        _ => None,
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

fn bit_length(b: &[u8]) -> usize {
    match strip_zeros(b) {
        [] => 0,
        [first, rest @ ..] => rest.len() * 8 + (8 - first.leading_zeros() as usize),
    }
}

// ROCA (CVE-2017-15361): moduli from the affected generator are, modulo each of these small
// primes, in the subgroup generated by 65537 (the test keyset.py runs).
const ROCA_PRIMES: [u32; 38] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
];

fn has_roca_fingerprint(modulus: &[u8]) -> bool {
    ROCA_PRIMES.iter().all(|&p| {
        let r = modulus
            .iter()
            .fold(0u32, |acc, &byte| (acc * 256 + byte as u32) % p);
        let (mut x, mut seen) = (1u32, Vec::new());
        while !seen.contains(&x) {
            seen.push(x);
            x = x * (65537 % p) % p;
        }
        seen.contains(&r)
    })
}

/// One usable key of a set: its `kid`, the algorithms it may verify, the parsed key.
pub struct KeySetEntry {
    pub kid: Option<String>,
    pub algorithms: Vec<Algorithm>,
    pub symmetric: bool,
    entry: Arc<KeyEntry>,
}

impl KeySetEntry {
    /// The key bound to `alg` (one of `algorithms`).
    pub fn key(&self, alg: Algorithm) -> KeyRef {
        KeyRef {
            entry: self.entry.clone(),
            bound: Some(alg),
            is_object: false,
        }
    }
}

/// A JWK Set checked for verification (the rules of turbojwt's `KeySet`).
pub struct KeySet {
    pub entries: Vec<KeySetEntry>,
    /// `(kid, reason)` for every key left out.
    pub rejected: Vec<(Option<String>, String)>,
}

fn set_error(m: impl Into<String>) -> JwtError {
    JwtError::new(ErrorKind::JwkSet, m.into())
}

fn opt_repr(s: Option<&str>) -> String {
    s.map_or_else(|| "None".into(), pyfmt::repr)
}

/// The entry for a usable key, or why it is left out (`KeySet._check`, step by step).
fn check(value: &JsonValue<'_>) -> Result<KeySetEntry, String> {
    let JsonValue::Object(obj) = value else {
        return Err("not a JSON object".into());
    };
    if let Some(refusal) = verify_refusal(obj) {
        return Err(refusal);
    }
    if member(obj, "kid").is_some_and(|k| !matches!(k, JsonValue::Str(_))) {
        return Err("kid must be a string".into());
    }
    let kty = member(obj, "kty");
    let kty_repr = kty.map_or_else(|| "None".into(), pyfmt::repr_json);
    let crv_repr = member(obj, "crv").map_or_else(|| "None".into(), pyfmt::repr_json);
    let is_oct = str_member(obj, "kty") == Some("oct");
    let hmac_bytes = if is_oct {
        b64_length(member(obj, "k"))
    } else {
        None
    };
    if is_oct && hmac_bytes.unwrap_or(0) == 0 {
        return Err("empty or missing HMAC key".into());
    }
    let possible = allowed_algorithms(obj, hmac_bytes);
    let algorithms = match member(obj, "alg").filter(|a| !matches!(a, JsonValue::Null)) {
        Some(alg) => {
            let name = match alg {
                JsonValue::Str(s) => Some(s.as_ref()),
                _ => None,
            };
            let fits = name
                .and_then(Algorithm::from_name)
                .filter(|a| possible.contains(a));
            if let (Some(name), Some((_, min)), None, true) = (
                name,
                name.and_then(|n| HMAC_MIN_BYTES.iter().find(|(a, _)| a.name() == n)),
                fits,
                is_oct,
            ) {
                return Err(format!(
                    "HMAC key of {} bytes is shorter than {name} requires ({min})",
                    hmac_bytes.unwrap_or(0)
                ));
            }
            let Some(alg) = fits else {
                return Err(format!(
                    "algorithm {} does not fit this key (kty {kty_repr}, crv {crv_repr})",
                    pyfmt::repr_json(alg)
                ));
            };
            vec![alg]
        }
        None if possible.is_empty() && is_oct => {
            return Err(format!(
                "HMAC key of {} bytes is shorter than HS256 requires (32)",
                hmac_bytes.unwrap_or(0)
            ))
        }
        None if possible.is_empty() => {
            return Err(format!(
                "unsupported key type or curve ({kty_repr}, {crv_repr})"
            ))
        }
        None => possible,
    };
    // PyJWK(jwk, algorithm=algorithms[0]): the key loads for its first algorithm.
    let jwk = jwk::parse_value(value).map_err(|e| format!("cannot be loaded: {e}"))?;
    let entry = Arc::new(KeyEntry::new(&jwk.material));
    match entry.check(algorithms[0]) {
        Ok(()) => {}
        Err(KeyProblem::HmacRefused(m)) => return Err(format!("cannot be loaded: {m}")),
        Err(KeyProblem::Unsupported) => {
            return Err("cannot be loaded: the key material is not a valid key".into())
        }
    }
    if let Some((n, e)) = &jwk.rsa {
        let bits = bit_length(n);
        if bits < MIN_RSA_BITS {
            return Err(format!(
                "RSA key of {bits} bits is under the minimum of {MIN_RSA_BITS}"
            ));
        }
        let e = strip_zeros(e);
        let small = match e {
            [] => Some(0),
            [x] => Some(*x as u32),
            _ => None,
        };
        if small.is_some_and(|v| v < 3) || e.last().is_some_and(|b| b % 2 == 0) {
            let shown = e
                .iter()
                .fold(0u128, |acc, &b| acc.saturating_mul(256) + b as u128);
            return Err(format!("RSA public exponent {shown} is not allowed"));
        }
        if has_roca_fingerprint(strip_zeros(n)) {
            return Err("RSA key has the ROCA weakness (CVE-2017-15361)".into());
        }
    }
    Ok(KeySetEntry {
        kid: jwk.kid.clone(),
        algorithms,
        symmetric: is_oct,
        entry,
    })
}

impl KeySet {
    /// A key set from its JSON (`{"keys": [...]}`).
    pub fn from_json(json: &[u8]) -> Result<KeySet, JwtError> {
        let value = JsonValue::parse(json, false)
            .map_err(|e| set_error(format!("The JWK Set is not valid JSON: {}", e.error_type)))?;
        let JsonValue::Object(obj) = value else {
            return Err(set_error("A JWK Set must be a JSON object"));
        };
        let Some(JsonValue::Array(keys)) =
            obj.iter().rev().find(|(k, _)| k == "keys").map(|(_, v)| v)
        else {
            return Err(set_error("The JWK Set must have a \"keys\" list"));
        };
        let mut set = KeySet {
            entries: Vec::new(),
            rejected: Vec::new(),
        };
        for jwk in keys.iter() {
            match check(jwk) {
                Ok(e) => set.entries.push(e),
                Err(reason) => {
                    let kid = match jwk {
                        JsonValue::Object(o) => match o.iter().rev().find(|(k, _)| k == "kid") {
                            Some((_, JsonValue::Str(s))) => Some(s.to_string()),
                            _ => None,
                        },
                        _ => None,
                    };
                    set.rejected.push((kid, reason));
                }
            }
        }
        if set.entries.iter().any(|e| e.symmetric) && set.entries.iter().any(|e| !e.symmetric) {
            return Err(set_error(
                "The JWK Set mixes symmetric (oct) and asymmetric keys",
            ));
        }
        for (i, e) in set.entries.iter().enumerate() {
            if let Some(kid) = &e.kid {
                if set.entries[..i].iter().any(|o| o.kid.as_ref() == Some(kid)) {
                    return Err(set_error(format!(
                        "The JWK Set has several signing keys with kid {}",
                        pyfmt::repr(kid)
                    )));
                }
            }
        }
        if set.entries.is_empty() {
            let why = if set.rejected.is_empty() {
                "it is empty".to_string()
            } else {
                set.rejected
                    .iter()
                    .map(|(kid, reason)| format!("{}: {reason}", opt_repr(kid.as_deref())))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            return Err(set_error(format!(
                "The JWK Set did not contain any usable keys ({why})"
            )));
        }
        Ok(set)
    }

    /// The key a token with this `kid` (`None`: no kid) and `alg` is verified with
    /// (`KeySet.entry`): a kid picks its key only; without one, the one key that allows
    /// `alg`, if exactly one does.
    pub fn entry(&self, kid: Option<&str>, alg: Algorithm) -> Result<&KeySetEntry, JwtError> {
        let not_found = |m: String| JwtError::new(ErrorKind::KeySetKeyNotFound, m);
        let found = match kid {
            None => {
                let mut fitting = self.entries.iter().filter(|e| e.algorithms.contains(&alg));
                match (fitting.next(), fitting.count()) {
                    (Some(e), 0) => e,
                    (first, rest) => {
                        return Err(not_found(format!(
                            "The token has no kid and the key set has {} keys for {}",
                            usize::from(first.is_some()) + rest,
                            pyfmt::repr(alg.name())
                        )))
                    }
                }
            }
            Some(kid) => self
                .entries
                .iter()
                .find(|e| e.kid.as_deref() == Some(kid))
                .ok_or_else(|| {
                    not_found(format!(
                        "Unable to find a signing key that matches: \"{kid}\""
                    ))
                })?,
        };
        if !found.algorithms.contains(&alg) {
            let allowed: Vec<&str> = found.algorithms.iter().map(|a| a.name()).collect();
            return Err(JwtError::new(
                ErrorKind::InvalidAlgorithm,
                format!(
                    "The key {} does not allow algorithm {} (it allows {})",
                    opt_repr(found.kid.as_deref()),
                    pyfmt::repr(alg.name()),
                    pyfmt::repr_list(&allowed)
                ),
            ));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64;

    fn oct(kid: &str, len: usize) -> String {
        format!(
            r#"{{"kty":"oct","kid":"{kid}","k":"{}"}}"#,
            b64::encode(&vec![7u8; len])
        )
    }

    #[test]
    fn a_set_picks_by_kid_and_alg_with_keysets_messages() {
        let set = KeySet::from_json(
            format!(
                r#"{{"keys":[{},{},{}]}}"#,
                oct("a", 32),
                oct("b", 64),
                oct("short", 8)
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(set.entries.len(), 2);
        assert_eq!(
            set.rejected,
            [(
                Some("short".to_string()),
                "HMAC key of 8 bytes is shorter than HS256 requires (32)".to_string()
            )]
        );
        assert_eq!(
            set.entry(Some("a"), Algorithm::HS256)
                .unwrap()
                .kid
                .as_deref(),
            Some("a")
        );
        let e = set.entry(Some("a"), Algorithm::HS512).err().unwrap();
        assert_eq!(e.kind, ErrorKind::InvalidAlgorithm);
        assert_eq!(
            e.message,
            "The key 'a' does not allow algorithm 'HS512' (it allows ['HS256'])"
        );
        let e = set.entry(Some("zz"), Algorithm::HS256).err().unwrap();
        assert_eq!(
            (e.kind, &*e.message),
            (
                ErrorKind::KeySetKeyNotFound,
                "Unable to find a signing key that matches: \"zz\""
            )
        );
        assert_eq!(
            set.entry(None, Algorithm::HS256).err().unwrap().message,
            "The token has no kid and the key set has 2 keys for 'HS256'"
        );
        assert_eq!(
            set.entry(None, Algorithm::HS512).unwrap().kid.as_deref(),
            Some("b")
        );
    }

    #[test]
    fn bad_sets_are_refused() {
        for (json, want) in [
            ("[]", "A JWK Set must be a JSON object"),
            ("{}", "The JWK Set must have a \"keys\" list"),
            (
                r#"{"keys":[]}"#,
                "The JWK Set did not contain any usable keys (it is empty)",
            ),
            ("{", "The JWK Set is not valid JSON"),
        ] {
            let e = KeySet::from_json(json.as_bytes()).err().unwrap();
            assert_eq!(e.kind, ErrorKind::JwkSet);
            assert!(e.message.starts_with(want), "{json}: {}", e.message);
        }
        let dup = format!(r#"{{"keys":[{},{}]}}"#, oct("a", 32), oct("a", 32));
        assert_eq!(
            KeySet::from_json(dup.as_bytes()).err().unwrap().message,
            "The JWK Set has several signing keys with kid 'a'"
        );
        let enc = r#"{"keys":[{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","use":"enc"}]}"#;
        assert_eq!(
            KeySet::from_json(enc.as_bytes()).err().unwrap().message,
            "The JWK Set did not contain any usable keys (None: The JWK is not for signatures (\"use\": \"enc\"))"
        );
    }

    #[test]
    fn one_jwk_is_bound_as_pyjwk_binds_it() {
        let k = jwk_key(oct("a", 32).as_bytes()).unwrap();
        assert_eq!(k.bound, Some(Algorithm::HS256));
        let e = jwk_key(br#"{"kty":"oct","k":"c2VjcmV0","key_ops":["sign"]}"#)
            .err()
            .unwrap();
        assert_eq!(
            (e.kind, &*e.message),
            (
                ErrorKind::InvalidKey,
                "The JWK's \"key_ops\" do not include \"verify\" ([\"sign\"])"
            )
        );
        assert!(jwk_key(b"not json").is_err());
        assert!(jwk_key(br#"{"kty":"OKP","crv":"X25519","x":"AA"}"#).is_err());
    }

    #[test]
    fn roca_fingerprint() {
        // 65537^k mod each prime is in the subgroup: the product of a few such powers is not
        // a real key, but 65537 itself has the fingerprint, and 65537 + 1 does not.
        assert!(has_roca_fingerprint(&65537u32.to_be_bytes()));
        assert!(!has_roca_fingerprint(&65538u32.to_be_bytes()));
    }
}
