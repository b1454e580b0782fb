//! A verifier compiled from key material and a policy, with no host language: what a front
//! end without Python objects (the C ABI, `native/capi`) verifies tokens with. The policy is
//! read from JSON (PyJWT's `decode` arguments and options, see [`VerifierOptions`]); each
//! token runs through the one decode sequence ([`crate::verify::sequence::verify`]) and
//! comes out as a [`VerifiedToken`] (its claims JSON and registered claims) or a
//! [`Refusal`]. Optionally the claims of verified tokens are kept for reuse, inside each
//! token's validity window ([`crate::cache::served_window`]).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jiter::JsonValue;

use crate::alg::{Algorithm, AlgorithmSet, Curve, Family};
use crate::cache::{served_window, Lookup, Repeats};
use crate::claims::{ClaimsPolicy, Expected};
use crate::error::{ErrorKind, JwtError};
use crate::json::{Audience, Claims, Field, Header, HeaderAlg};
use crate::jws::{self, Decoded, Limits};
use crate::keys::{AsymKind, KeyEntry, KeyProblem};
use crate::keyset::{jwk_key, KeySet};
use crate::pyfmt;
use crate::verify::sequence::{self, Caller, Candidates, HeaderCache, LazyClaims, Stop};
use crate::verify::{typ_error, typ_matches, DecodePolicy, KeyRef};

/// The keys a verifier verifies with.
pub enum VerifierKeys {
    /// One key: material as `decode` takes a str/bytes key (PEM, DER, OpenSSH line, HMAC
    /// secret), or a JWK bound to its algorithm.
    One(KeyRef),
    /// A JWK Set: the token's `kid` and `alg` pick the key.
    Set(KeySet),
}

impl VerifierKeys {
    /// Key material as `decode`'s str/bytes key.
    pub fn material(material: &[u8]) -> Self {
        VerifierKeys::One(KeyRef {
            entry: Arc::new(KeyEntry::new(material)),
            bound: None,
            is_object: false,
        })
    }

    /// One JWK (JSON), bound to its `alg` or PyJWK's guess. An Ed448 key (which PyJWT takes
    /// through pyca/cryptography, and aws-lc does not implement) is `Unsupported`.
    pub fn jwk(json: &[u8]) -> Result<Self, Refusal> {
        if let Ok(JsonValue::Object(obj)) = JsonValue::parse(json, false) {
            let member = |name: &str| obj.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
            if let (Some(JsonValue::Str(kty)), Some(JsonValue::Str(crv))) =
                (member("kty"), member("crv"))
            {
                if kty == "OKP" && crv == "Ed448" {
                    return Err(Refusal::Unsupported(UNSUPPORTED.into()));
                }
            }
        }
        jwk_key(json)
            .map(VerifierKeys::One)
            .map_err(Refusal::Invalid)
    }

    /// A JWK Set (JSON), checked as turbojwt's `KeySet` checks it.
    pub fn jwks(json: &[u8]) -> Result<Self, Refusal> {
        KeySet::from_json(json)
            .map(VerifierKeys::Set)
            .map_err(Refusal::Invalid)
    }
}

/// What a verifier checks, read from a JSON object:
///
/// ```json
/// {"algorithms": ["RS256"], "audience": "api" | ["a", "b"], "issuer": "https://idp" | [...],
///  "subject": "user", "leeway": 30, "typ": "at+jwt",
///  "options": {"verify_signature": true, "verify_exp": true, "verify_nbf": true,
///              "verify_iat": true, "verify_aud": true, "verify_iss": true,
///              "verify_sub": true, "verify_jti": true, "strict_aud": false,
///              "require": ["exp"], "enforce_minimum_key_length": false},
///  "max_token_bytes": 1048576, "cache_ttl": 600, "cache_max_token_bytes": 8192}
/// ```
///
/// Only `algorithms` is required. The members mean what PyJWT's `decode` arguments and
/// options mean (with PyJWT's rule that `verify_signature: false` turns the other checks
/// off unless they are named); an unknown member, a value of the wrong type or a duplicate
/// member is refused, as is allowing `none` (this verifier always verifies signatures it is
/// asked to).
#[derive(Clone, Debug)]
pub struct VerifierOptions {
    pub policy: DecodePolicy<'static>,
    /// The header `typ` every token must have (compared as a media type).
    pub typ: Option<String>,
    /// At most this long (seconds) a verified token's claims are served from the cache.
    pub cache_ttl: f64,
    /// Tokens longer than this are not cached.
    pub cache_max_token_bytes: usize,
    /// Tokens longer than this are refused unread (`DecodeError`): [`Limits::max_token_length`].
    pub max_token_bytes: usize,
}

fn member_names(obj: &jiter::JsonObject<'_>, what: &str) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    for (k, _) in obj.iter() {
        if seen.contains(&k.as_ref()) {
            return Err(format!("duplicate {what} member \"{k}\""));
        }
        seen.push(k.as_ref());
    }
    Ok(())
}

fn string(v: &JsonValue<'_>, name: &str) -> Result<String, String> {
    match v {
        JsonValue::Str(s) => Ok(s.to_string()),
        _ => Err(format!("\"{name}\" must be a string")),
    }
}

fn strings(v: &JsonValue<'_>, name: &str) -> Result<Vec<String>, String> {
    match v {
        JsonValue::Array(items) => items.iter().map(|i| string(i, name)).collect(),
        _ => Err(format!("\"{name}\" must be a list of strings")),
    }
}

fn expected(v: &JsonValue<'_>, name: &str) -> Result<Option<Expected<'static>>, String> {
    Ok(match v {
        JsonValue::Null => None,
        JsonValue::Str(s) => Some(Expected::One(Cow::Owned(s.to_string()))),
        JsonValue::Array(_) => Some(Expected::Any(
            strings(v, name)?.into_iter().map(Cow::Owned).collect(),
        )),
        _ => return Err(format!("\"{name}\" must be a string or a list of strings")),
    })
}

fn number(v: &JsonValue<'_>, name: &str) -> Result<f64, String> {
    let n = match v {
        JsonValue::Int(i) => *i as f64,
        JsonValue::Float(f) => *f,
        _ => return Err(format!("\"{name}\" must be a number")),
    };
    if n.is_finite() {
        Ok(n)
    } else {
        Err(format!("\"{name}\" must be finite"))
    }
}

fn boolean(v: &JsonValue<'_>, name: &str) -> Result<bool, String> {
    match v {
        JsonValue::Bool(b) => Ok(*b),
        _ => Err(format!("option \"{name}\" must be true or false")),
    }
}

const VERIFY_CLAIMS: [&str; 7] = [
    "verify_exp",
    "verify_nbf",
    "verify_iat",
    "verify_aud",
    "verify_iss",
    "verify_sub",
    "verify_jti",
];

impl VerifierOptions {
    /// Reads the policy JSON (UTF-8); the error says what is wrong with it.
    pub fn from_json(json: &[u8]) -> Result<VerifierOptions, String> {
        let value = JsonValue::parse(json, false)
            .map_err(|e| format!("not valid JSON: {}", e.error_type))?;
        let JsonValue::Object(obj) = value else {
            return Err("the policy must be a JSON object".into());
        };
        member_names(&obj, "policy")?;
        let mut algorithms = None;
        let mut claims = ClaimsPolicy::default();
        let mut typ = None;
        let mut options = None;
        let (mut cache_ttl, mut cache_max_token_bytes) = (600.0, 8192);
        let mut max_token_bytes = Limits::default().max_token_length;
        for (name, v) in obj.iter() {
            match name.as_ref() {
                "algorithms" => algorithms = Some(strings(v, "algorithms")?),
                "audience" => claims.audience = expected(v, "audience")?,
                "issuer" => claims.issuer = expected(v, "issuer")?,
                "subject" => {
                    claims.subject = match v {
                        JsonValue::Null => None,
                        v => Some(Cow::Owned(string(v, "subject")?)),
                    }
                }
                "leeway" => claims.leeway = number(v, "leeway")?,
                "typ" => {
                    typ = match v {
                        JsonValue::Null => None,
                        v => Some(string(v, "typ")?),
                    }
                }
                "options" => options = Some(v),
                "cache_ttl" => cache_ttl = number(v, "cache_ttl")?,
                "cache_max_token_bytes" => {
                    cache_max_token_bytes = match v {
                        JsonValue::Int(i) if *i >= 0 => *i as usize,
                        _ => {
                            return Err("\"cache_max_token_bytes\" must be a count of bytes".into())
                        }
                    }
                }
                "max_token_bytes" => {
                    max_token_bytes = match v {
                        JsonValue::Int(i) if *i >= 1 => *i as usize,
                        _ => {
                            return Err(
                                "\"max_token_bytes\" must be a positive count of bytes".into()
                            )
                        }
                    }
                }
                other => return Err(format!("unknown policy member \"{other}\"")),
            }
        }
        let names = algorithms.ok_or("\"algorithms\" is required")?;
        if names.is_empty() {
            return Err("\"algorithms\" must name at least one algorithm".into());
        }
        if names.iter().any(|n| n.eq_ignore_ascii_case("none")) {
            return Err("\"none\" cannot be allowed: tokens must be signed".into());
        }
        let mut set = AlgorithmSet::new();
        for n in &names {
            set.insert_name(n);
        }
        let mut verify_signature = true;
        let mut enforce_minimum_key_length = false;
        let mut flags: [Option<bool>; 7] = [None; 7];
        if let Some(opts) = options {
            let JsonValue::Object(opts) = opts else {
                return Err("\"options\" must be a JSON object".into());
            };
            member_names(opts, "options")?;
            for (name, v) in opts.iter() {
                match name.as_ref() {
                    "verify_signature" => verify_signature = boolean(v, name)?,
                    "enforce_minimum_key_length" => enforce_minimum_key_length = boolean(v, name)?,
                    "strict_aud" => claims.strict_aud = boolean(v, name)?,
                    "require" => claims.require = strings(v, "require")?,
                    flag => match VERIFY_CLAIMS.iter().position(|f| *f == flag) {
                        Some(i) => flags[i] = Some(boolean(v, name)?),
                        None => return Err(format!("unknown option \"{flag}\"")),
                    },
                }
            }
        }
        // PyJWT: with the signature check off, the claim checks not named are off too.
        let [exp, nbf, iat, aud, iss, sub, jti] = flags.map(|f| f.unwrap_or(verify_signature));
        (
            claims.verify_exp,
            claims.verify_nbf,
            claims.verify_iat,
            claims.verify_aud,
            claims.verify_iss,
            claims.verify_sub,
            claims.verify_jti,
        ) = (exp, nbf, iat, aud, iss, sub, jti);
        Ok(VerifierOptions {
            policy: DecodePolicy {
                verify_signature,
                enforce_minimum_key_length,
                algorithms: Some(set),
                claims,
            },
            typ,
            cache_ttl,
            cache_max_token_bytes,
            max_token_bytes,
        })
    }
}

/// A token that verified: its claims JSON (the decoded payload, as signed) and the
/// registered claims and header parameters read from it (absent, or not a string: None).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VerifiedToken {
    pub claims_json: Box<[u8]>,
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub jti: Option<String>,
    /// `aud` as a list (one string: a list of one).
    pub aud: Vec<String>,
    pub exp: Option<f64>,
    pub nbf: Option<f64>,
    pub iat: Option<f64>,
    pub kid: Option<String>,
    pub alg: String,
    pub typ: Option<String>,
}

/// Why a token did not verify.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// PyJWT's verdict: the exception class and its message.
    Invalid(JwtError),
    /// A token only pyca/cryptography could judge (PyJWT's reference path, which a front end
    /// without Python does not have): refused.
    Unsupported(String),
}

/// Tokens verified recently, with the window their claims may be served in.
struct Kept {
    token: Arc<VerifiedToken>,
    not_before: f64,
    expires: f64,
}

/// A key (or key set) and a policy, compiled once; shared by threads.
pub struct Verifier {
    keys: VerifierKeys,
    options: VerifierOptions,
    limits: Limits,
    cache: Option<Repeats<Kept>>,
}

/// The message for a token that only the reference path could judge.
pub const UNSUPPORTED: &str = "The native core cannot verify this token with this key (PyJWT would need pyca/cryptography, e.g. for an Ed448 key or a key of another type than the algorithm's)";

fn own(f: &Field<Cow<'_, str>>) -> Option<String> {
    match f {
        Field::Value(s) => Some(s.to_string()),
        _ => None,
    }
}

/// PyJWT's refusal of key material that its `prepare_key` cannot even try to load for an RSA
/// or EdDSA algorithm (no PEM block, no OpenSSH prefix): its `InvalidKeyError`. DER and
/// certificates, which turbojwt reads on its own terms, are left alone.
fn not_a_key(material: &[u8], alg: Algorithm) -> Option<JwtError> {
    if material.first() == Some(&0x30) {
        return None;
    }
    let has = |needle: &[u8]| material.windows(needle.len()).any(|w| w == needle);
    let message = match alg.family() {
        Family::Rsa | Family::RsaPss
            if !has(b"-----BEGIN") && !material.starts_with(b"ssh-rsa") =>
        {
            "Could not parse the provided public key."
        }
        // (any PEM block: turbojwt reads certificates itself, deviation K)
        Family::Okp
            if std::str::from_utf8(material).is_ok()
                && !has(b"-----BEGIN")
                && !material.starts_with(b"ssh-") =>
        {
            "Not a public or private key"
        }
        _ => return None,
    };
    Some(JwtError::new(ErrorKind::InvalidKey, message))
}

/// The decode sequence's caller for a [`Verifier`]: one key or a key set's, the header's
/// `kid`, `alg` and `typ` noted, the claims as the core reads them.
struct Call<'v, 'p> {
    keys: &'v VerifierKeys,
    algorithms: &'v Option<AlgorithmSet>,
    resolved: Option<KeyRef>,
    alg: HeaderAlg,
    kid: Option<String>,
    typ: Option<String>,
    payload: &'p [u8],
}

impl<'p> Caller<'p> for Call<'_, 'p> {
    type Error = std::convert::Infallible;
    type Claims = ();

    fn parsed(&mut self, header: &Header<'_>, _claims: &mut LazyClaims<'p, '_>) {
        self.alg = header.alg.clone();
        self.kid = own(&header.kid);
        self.typ = own(&header.typ);
    }

    fn keys(
        &mut self,
        header: &Header<'_>,
        _claims: &mut LazyClaims<'p, '_>,
    ) -> Result<Candidates, Stop<Self::Error>> {
        let set = match self.keys {
            VerifierKeys::One(_) => return Ok(Candidates::from_slice(&[0])),
            VerifierKeys::Set(set) => set,
        };
        // The allow-list first, as for one key; then the set's choice by kid and alg.
        let allowed = |name: &str| {
            self.algorithms
                .as_ref()
                .is_some_and(|s| s.contains_name(name))
        };
        let alg = match &header.alg {
            HeaderAlg::Missing => {
                return Err(Stop::Invalid(JwtError::new(
                    ErrorKind::InvalidAlgorithm,
                    "Algorithm not specified",
                )))
            }
            HeaderAlg::Known(a) if allowed(a.name()) => *a,
            HeaderAlg::Unknown(name) if allowed(name) => {
                return Err(Stop::Invalid(JwtError::new(
                    ErrorKind::InvalidAlgorithm,
                    "Algorithm not supported",
                )))
            }
            _ => return Err(Stop::Invalid(jws::alg_not_allowed())),
        };
        let kid =
            match &header.kid {
                Field::Value(k) => Some(k.as_ref()),
                Field::Absent => None,
                Field::WrongType => return Err(Stop::Invalid(JwtError::new(
                    ErrorKind::KeySetKeyNotFound,
                    "Unable to find a signing key that matches: the token's kid is not a string",
                ))),
            };
        let entry = set.entry(kid, alg).map_err(Stop::Invalid)?;
        self.resolved = Some(entry.key(alg));
        Ok(Candidates::from_slice(&[0]))
    }

    fn key(&self, _index: usize) -> &KeyRef {
        match self.keys {
            VerifierKeys::One(k) => k,
            VerifierKeys::Set(_) => self.resolved.as_ref().expect("resolved by keys()"),
        }
    }

    fn short_key(&mut self, _message: String) -> Result<(), Stop<Self::Error>> {
        // PyJWT's warning has no channel here; `enforce_minimum_key_length` makes it an error.
        Ok(())
    }

    fn claims(
        &mut self,
        claims: LazyClaims<'p, '_>,
    ) -> Result<((), Claims<'p>), Stop<Self::Error>> {
        self.payload = claims.payload();
        claims.into_claims().map(|c| ((), c)).map_err(Stop::Invalid)
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Verifier {
    /// A verifier of `keys` under `options`, keeping the claims of up to about
    /// `cache_entries` verified tokens (0: none).
    pub fn new(keys: VerifierKeys, options: VerifierOptions, cache_entries: usize) -> Self {
        let cache = (cache_entries > 0).then(|| {
            Repeats::new(
                cache_entries,
                cache_entries.saturating_mul(16 * 1024),
                options.cache_max_token_bytes,
            )
        });
        let limits = Limits {
            max_token_length: options.max_token_bytes,
            ..Limits::default()
        };
        Verifier {
            keys,
            options,
            limits,
            cache,
        }
    }

    pub fn options(&self) -> &VerifierOptions {
        &self.options
    }

    /// Whether the key can verify tokens of at least one of the policy's algorithms: key
    /// material (PEM, DER, OpenSSH line, HMAC secret) is only read when a token needs it, as
    /// PyJWT reads it, so a loader that must not swap a good key for a bad one asks here
    /// first. A JWK or a JWK Set was checked when it was read (`Ok`). The refusal is PyJWT's
    /// `InvalidKeyError` for the first algorithm, with its message where PyJWT has one.
    pub fn check_key(&self) -> Result<(), Refusal> {
        let VerifierKeys::One(key) = &self.keys else {
            return Ok(());
        };
        let allowed = self.options.policy.algorithms.as_ref();
        let algs: Vec<Algorithm> = match key.bound {
            Some(b) => allowed
                .filter(|s| s.contains(b))
                .map(|_| b)
                .into_iter()
                .collect(),
            None => allowed.map(|s| s.known().collect()).unwrap_or_default(),
        };
        let mut first = None;
        for alg in algs {
            let why = match key.entry.check(alg) {
                Ok(()) => return Ok(()),
                Err(KeyProblem::HmacRefused(m)) => m.to_string(),
                Err(KeyProblem::Unsupported) => match not_a_key(key.entry.material(), alg) {
                    Some(e) => e.message.to_string(),
                    // PyJWT's RSAAlgorithm.prepare_key, for material no loader reads.
                    None if matches!(alg.family(), Family::Rsa | Family::RsaPss)
                        && key.entry.asymmetric().is_none() =>
                    {
                        "Could not parse the provided public key.".to_string()
                    }
                    None => format!("The key cannot be used with {}", alg.name()),
                },
            };
            first.get_or_insert(why);
        }
        let message = first.unwrap_or_else(|| {
            "The key cannot be used with any of the policy's algorithms".to_string()
        });
        Err(Refusal::Invalid(JwtError::new(
            ErrorKind::InvalidKey,
            message,
        )))
    }

    /// Verifies `token` as of `at` (seconds since the epoch; NaN: now).
    pub fn verify(&self, token: &[u8], at: f64) -> Result<Arc<VerifiedToken>, Refusal> {
        self.verify_with(token, at, None)
    }

    /// [`Verifier::verify`], reusing (and updating) the caller's last header parse: an
    /// issuer's tokens share their header. The parse depends on the header bytes alone, so
    /// one cache may serve several verifiers (a caller keeps one per thread).
    pub fn verify_with(
        &self,
        token: &[u8],
        at: f64,
        last_header: Option<&mut HeaderCache>,
    ) -> Result<Arc<VerifiedToken>, Refusal> {
        let at = if at.is_nan() { now() } else { at };
        let mut admit = false;
        if let Some(cache) = &self.cache {
            match cache.lookup(token, |k| {
                (k.not_before <= at && at < k.expires).then(|| k.token.clone())
            }) {
                Lookup::Hit(Some(t)) => return Ok(t),
                // Kept, but outside its window as of `at`: verified again, and replaced.
                Lookup::Hit(None) => admit = true,
                Lookup::Miss { admit: a } => admit = a,
            }
        }
        let verified = Arc::new(self.verify_uncached(token, at, last_header)?);
        if let (Some(cache), true) = (&self.cache, admit) {
            let leeway = self.options.policy.claims.leeway;
            let (exp, nbf, iat) = (verified.exp, verified.nbf, verified.iat);
            if let Some((not_before, expires)) =
                served_window(exp, nbf, iat, leeway, at, self.options.cache_ttl)
            {
                let weight = verified.claims_json.len() + 256;
                let kept = Kept {
                    token: verified.clone(),
                    not_before,
                    expires,
                };
                cache.insert(token, kept, weight);
            }
        }
        Ok(verified)
    }

    fn verify_uncached(
        &self,
        token: &[u8],
        at: f64,
        last_header: Option<&mut HeaderCache>,
    ) -> Result<VerifiedToken, Refusal> {
        let policy = &self.options.policy;
        let mut bufs = Decoded::default();
        let mut call = Call {
            keys: &self.keys,
            algorithms: &policy.algorithms,
            resolved: None,
            alg: HeaderAlg::Missing,
            kid: None,
            typ: None,
            payload: &[],
        };
        let result = sequence::verify(
            token,
            policy,
            &self.limits,
            at,
            last_header,
            &mut bufs,
            &mut call,
        );
        let verified = match result {
            Ok(v) => v,
            Err(Stop::Invalid(e)) => return Err(Refusal::Invalid(e)),
            Err(Stop::Caller(never)) => match never {},
            Err(Stop::Fallback(_)) => return Err(self.fallback(&call)),
        };
        if let Some(want) = &self.options.typ {
            let typ = match &call.typ {
                Some(t) => Field::Value(Cow::Borrowed(t.as_str())),
                None => Field::Absent,
            };
            if !typ_matches(&typ, want) {
                return Err(Refusal::Invalid(typ_error(want)));
            }
        }
        let c = &verified.claims;
        let alg = match &call.alg {
            HeaderAlg::Known(a) => a.name().to_string(),
            HeaderAlg::Unknown(s) => s.clone(),
            _ => String::new(),
        };
        Ok(VerifiedToken {
            claims_json: call.payload.into(),
            iss: own(&c.iss),
            sub: own(&c.sub),
            jti: own(&c.jti),
            aud: match &c.aud {
                Audience::Str(s) => vec![s.to_string()],
                Audience::List(items) => items.iter().map(|s| s.to_string()).collect(),
                _ => Vec::new(),
            },
            exp: c.exp.and_then(|t| t.seconds()),
            nbf: c.nbf.and_then(|t| t.seconds()),
            iat: c.iat.and_then(|t| t.seconds()),
            kid: call.kid,
            alg,
            typ: call.typ,
        })
    }

    /// The verdict where the binding would hand the token to the reference path: a JWK bound
    /// to another algorithm than the token's gets PyJWT's message; anything else needs
    /// pyca/cryptography and is refused.
    fn fallback(&self, call: &Call<'_, '_>) -> Refusal {
        let bound = match &self.keys {
            VerifierKeys::One(k) => k.bound,
            VerifierKeys::Set(_) => call.resolved.as_ref().and_then(|k| k.bound),
        };
        let token_alg = match &call.alg {
            HeaderAlg::Known(a) => Some(a.name()),
            HeaderAlg::Unknown(s) => Some(s.as_str()),
            _ => None,
        };
        if let (Some(b), Some(t)) = (bound, token_alg) {
            if b.name() != t {
                return Refusal::Invalid(JwtError::new(
                    ErrorKind::InvalidAlgorithm,
                    format!(
                        "Token algorithm {} does not match the key's algorithm {}",
                        pyfmt::repr(t),
                        pyfmt::repr(b.name())
                    ),
                ));
            }
        }
        if let Some(e) = self.curve_mismatch(call) {
            return Refusal::Invalid(e);
        }
        if let (VerifierKeys::One(k), HeaderAlg::Known(alg)) = (&self.keys, &call.alg) {
            if let (None, Some(e)) = (k.bound, not_a_key(k.entry.material(), *alg)) {
                return Refusal::Invalid(e);
            }
        }
        Refusal::Unsupported(UNSUPPORTED.into())
    }

    /// PyJWT's `ECAlgorithm.prepare_key` refusal of an EC key on another curve than the
    /// token's algorithm names (its message, with OpenSSL's curve names).
    fn curve_mismatch(&self, call: &Call<'_, '_>) -> Option<JwtError> {
        let HeaderAlg::Known(alg) = call.alg else {
            return None;
        };
        let want = alg.curve()?;
        let key = match &self.keys {
            VerifierKeys::One(k) => k,
            VerifierKeys::Set(_) => call.resolved.as_ref()?,
        };
        let AsymKind::Ec(have) = key.entry.asymmetric()?.kind else {
            return None;
        };
        let openssl = |c: Curve| match c {
            Curve::P256 => "secp256r1",
            Curve::P384 => "secp384r1",
            Curve::P521 => "secp521r1",
            Curve::Secp256k1 => "secp256k1",
        };
        (have != want).then(|| {
            JwtError::new(
                ErrorKind::InvalidKey,
                format!(
                    "The key's curve '{}' does not match the expected curve '{}' for this algorithm",
                    openssl(have),
                    openssl(want)
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

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

    fn verifier(policy: &str, cache: usize) -> Verifier {
        Verifier::new(
            VerifierKeys::material(SECRET),
            VerifierOptions::from_json(policy.as_bytes()).unwrap(),
            cache,
        )
    }

    #[test]
    fn verifies_and_reads_the_registered_claims() {
        let v = verifier(r#"{"algorithms":["HS256"],"audience":"api"}"#, 0);
        let t = hs256(
            r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#,
            r#"{"iss":"i","sub":"s","aud":["api","x"],"exp":2000000000,"iat":1000,"jti":"j"}"#,
        );
        let got = v.verify(&t, 1_700_000_000.0).unwrap();
        assert_eq!(got.iss.as_deref(), Some("i"));
        assert_eq!(got.aud, ["api", "x"]);
        assert_eq!(got.exp, Some(2e9));
        assert_eq!((got.kid.as_deref(), &*got.alg), (Some("k1"), "HS256"));
        assert!(got.claims_json.starts_with(b"{\"iss\""));
        let e = v.verify(&t, 2_100_000_000.0).unwrap_err();
        assert_eq!(
            e,
            Refusal::Invalid(JwtError::new(
                ErrorKind::ExpiredSignature,
                "Signature has expired"
            ))
        );
    }

    #[test]
    fn the_cache_serves_only_inside_the_window() {
        let v = verifier(r#"{"algorithms":["HS256"]}"#, 16);
        let t = hs256(r#"{"alg":"HS256"}"#, r#"{"exp":2000}"#);
        for _ in 0..3 {
            assert!(v.verify(&t, 1000.0).is_ok());
        }
        assert!(matches!(v.verify(&t, 2000.0), Err(Refusal::Invalid(_))));
        assert!(v.verify(&t, 1999.0).is_ok());
    }

    #[test]
    fn policies_are_read_strictly() {
        for (json, want) in [
            ("{}", "\"algorithms\" is required"),
            (r#"{"algorithms":[]}"#, "at least one"),
            (r#"{"algorithms":["none"]}"#, "\"none\" cannot"),
            (
                r#"{"algorithms":["HS256"],"audence":"x"}"#,
                "unknown policy member \"audence\"",
            ),
            (
                r#"{"algorithms":["HS256"],"options":{"verify_expp":true}}"#,
                "unknown option",
            ),
            (
                r#"{"algorithms":["HS256"],"options":{"verify_exp":1}}"#,
                "true or false",
            ),
            (
                r#"{"algorithms":["HS256"],"leeway":"1"}"#,
                "must be a number",
            ),
            (
                r#"{"algorithms":["HS256"],"algorithms":["RS256"]}"#,
                "duplicate",
            ),
            ("[1]", "JSON object"),
            ("{", "not valid JSON"),
        ] {
            let e = VerifierOptions::from_json(json.as_bytes()).unwrap_err();
            assert!(e.contains(want), "{json}: {e}");
        }
        let o = VerifierOptions::from_json(
            br#"{"algorithms":["HS256"],"options":{"verify_signature":false,"verify_exp":true}}"#,
        )
        .unwrap();
        let c = &o.policy.claims;
        assert!(!o.policy.verify_signature && c.verify_exp && !c.verify_aud);
    }

    #[test]
    fn typ_is_checked_after_the_signature() {
        let v = verifier(r#"{"algorithms":["HS256"],"typ":"at+jwt"}"#, 0);
        let good = hs256(r#"{"alg":"HS256","typ":"application/at+JWT"}"#, "{}");
        assert!(v.verify(&good, 0.0).is_ok());
        let bad = hs256(r#"{"alg":"HS256","typ":"JWT"}"#, "{}");
        let Err(Refusal::Invalid(e)) = v.verify(&bad, 0.0) else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::InvalidType);
    }

    #[test]
    fn a_jwk_bound_to_another_algorithm_gets_pyjwts_message() {
        let jwk = format!(r#"{{"kty":"oct","k":"{}"}}"#, b64::encode(SECRET));
        let v = Verifier::new(
            VerifierKeys::jwk(jwk.as_bytes()).ok().unwrap(),
            VerifierOptions::from_json(br#"{"algorithms":["HS256","HS384"]}"#).unwrap(),
            0,
        );
        assert!(v.verify(&hs256(r#"{"alg":"HS256"}"#, "{}"), 0.0).is_ok());
        let input = format!(
            "{}.{}",
            b64::encode(br#"{"alg":"HS384"}"#),
            b64::encode(b"{}")
        );
        let sig = KeyEntry::new(SECRET)
            .sign(Algorithm::HS384, input.as_bytes())
            .unwrap();
        let t = format!("{input}.{}", b64::encode(&sig));
        assert_eq!(
            v.verify(t.as_bytes(), 0.0).unwrap_err(),
            Refusal::Invalid(JwtError::new(
                ErrorKind::InvalidAlgorithm,
                "Token algorithm 'HS384' does not match the key's algorithm 'HS256'"
            ))
        );
    }

    #[test]
    fn keys_pyjwt_cannot_load_get_its_messages() {
        let policy = |alg: &str| {
            VerifierOptions::from_json(format!(r#"{{"algorithms":["{alg}"]}}"#).as_bytes()).unwrap()
        };
        let token = |alg: &str| {
            format!(
                "{}.{}.AAAA",
                b64::encode(format!(r#"{{"alg":"{alg}"}}"#).as_bytes()),
                b64::encode(b"{}")
            )
        };
        for (material, alg, want) in [
            (
                &b"not a key"[..],
                "RS256",
                Some("Could not parse the provided public key."),
            ),
            (
                b"",
                "PS384",
                Some("Could not parse the provided public key."),
            ),
            (
                br#"{"kty":"OKP"}"#,
                "EdDSA",
                Some("Not a public or private key"),
            ),
            (
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                "RS256",
                None,
            ),
            (b"ssh-rsa AAAA", "RS256", None),
            (b"\x30\x03\x02\x01\x01", "RS256", None),
            (b"not a key", "ES256", None),
        ] {
            let v = Verifier::new(VerifierKeys::material(material), policy(alg), 0);
            let got = v.verify(token(alg).as_bytes(), 0.0).unwrap_err();
            match want {
                Some(m) => assert_eq!(
                    got,
                    Refusal::Invalid(JwtError::new(ErrorKind::InvalidKey, m)),
                    "{material:?}"
                ),
                None => assert!(
                    matches!(got, Refusal::Unsupported(_)),
                    "{material:?}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn check_key_finds_material_no_algorithm_can_use() {
        let check = |material: &[u8], algs: &str| {
            let options =
                VerifierOptions::from_json(format!(r#"{{"algorithms":{algs}}}"#).as_bytes())
                    .unwrap();
            Verifier::new(VerifierKeys::material(material), options, 0).check_key()
        };
        assert!(check(SECRET, r#"["HS256"]"#).is_ok());
        let pem = b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        for (material, algs, want) in [
            (
                &b"not a key"[..],
                r#"["RS256"]"#,
                "Could not parse the provided public key.",
            ),
            (&pem[..], r#"["HS256"]"#, crate::keys::HMAC_ASYMMETRIC),
            (
                &pem[..],
                r#"["PS256"]"#,
                "Could not parse the provided public key.",
            ),
            (b"", r#"["HS256","RS256"]"#, crate::keys::HMAC_EMPTY),
            (
                b"not a key",
                r#"["ES256"]"#,
                "The key cannot be used with ES256",
            ),
        ] {
            assert_eq!(
                check(material, algs),
                Err(Refusal::Invalid(JwtError::new(ErrorKind::InvalidKey, want))),
                "{material:?} {algs}"
            );
        }
        // One usable algorithm is enough.
        assert!(check(SECRET, r#"["RS256","HS256"]"#).is_ok());
    }

    #[test]
    fn max_token_bytes_is_the_length_limit() {
        let v = verifier(r#"{"algorithms":["HS256"],"max_token_bytes":64}"#, 0);
        let t = hs256(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":"a-subject-long-enough-to-pass-64"}"#,
        );
        let Err(Refusal::Invalid(e)) = v.verify(&t, 0.0) else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::Decode);
        assert_eq!(
            e.message,
            format!(
                "Token is {} bytes long, over the limit of 64 bytes",
                t.len()
            )
        );
        let roomy = verifier(r#"{"algorithms":["HS256"]}"#, 0);
        assert!(roomy.verify(&t, 0.0).is_ok());
        for bad in ["0", "-1", "1.5", "\"8\""] {
            let json = format!(r#"{{"algorithms":["HS256"],"max_token_bytes":{bad}}}"#);
            let e = VerifierOptions::from_json(json.as_bytes()).unwrap_err();
            assert!(e.contains("max_token_bytes"), "{bad}: {e}");
        }
    }

    #[test]
    fn shared_by_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Verifier>();
    }
}
