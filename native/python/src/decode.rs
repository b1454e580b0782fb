//! The native decode path: `decode_fast` for `turbojwt.decode()` and the compiled `Verifier`.
//! Each returns `NotImplemented` when the call needs the Python reference path (a key or
//! argument the core does not take); that decision is always made before any side effect.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use jiter::{FloatMode, PartialMode, PythonParse, StringCacheMode};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use turbojwt_core::alg::Family;
use turbojwt_core::error::{Detail, Segment};
use turbojwt_core::json::{Claims, Header, Time};
use turbojwt_core::jws::{self, Decoded, Limits};
use turbojwt_core::verify::sequence::{self, Caller, Candidates, HeaderCache, LazyClaims, Stop};
use turbojwt_core::verify::{typ_error, typ_matches, DecodePolicy};
use turbojwt_core::{Algorithm, ErrorKind, JwtError};

use crate::decode_args::{self, build_remembered};
use crate::errors::{exception, to_pyerr, warn_key_length};
use crate::keys::{resolve_for_verify, KeyRef};
use crate::keyset::{KeyGeneration, KeyResolver};
use crate::limits::limits;
use crate::pyjson::{payload_to_py, PyErrOr};
use crate::reference::{self, DecodeArgs};
use crate::token_cache::{Lookup, TokenCache, TokenTimes};

const PARSER: PythonParse = PythonParse {
    allow_inf_nan: true,
    cache_mode: StringCacheMode::Keys,
    partial_mode: PartialMode::Off,
    catch_duplicate_keys: false,
    float_mode: FloatMode::Float,
};

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn json_to_py<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    PARSER.python_parse(py, data).map_err(|e| {
        exception(
            py,
            ErrorKind::Decode,
            &format!("Invalid JSON: {}", e.error_type),
        )
    })
}

/// The token as bytes, or PyJWT's error for a wrong type; None for a str that is not
/// UTF-8 encodable (lone surrogates), which the Python path reports as PyJWT does.
fn token_bytes<'a>(py: Python<'_>, jwt: &'a Bound<'_, PyAny>) -> PyResult<Option<&'a [u8]>> {
    if let Ok(s) = jwt.cast::<PyString>() {
        return Ok(s.to_str().ok().map(str::as_bytes));
    }
    if let Ok(b) = jwt.cast::<PyBytes>() {
        return Ok(Some(b.as_bytes()));
    }
    Err(exception(
        py,
        ErrorKind::Decode,
        "Invalid token type. Token must be a <class 'bytes'>",
    ))
}

thread_local! {
    /// This thread's last header segment that parsed and validated, and its parse.
    static LAST_HEADER: RefCell<HeaderCache> = const { RefCell::new(None) };
}

pub enum Outcome<'py> {
    Done(Bound<'py, PyAny>),
    Fallback,
}

/// The key(s) a decode verifies with.
#[derive(Clone, Copy)]
pub enum Keys<'a> {
    /// One key (None: verification is off or the key needs the Python path).
    One(Option<&'a KeyRef>),
    /// A key set: the header's `kid` and `alg` pick the key.
    Set(&'a KeyResolver),
}

/// The binding's side of the core's decode sequence: keys from one key or a key set's
/// resolver (which may call Python), PyJWT's key-length warning, the GIL released around a
/// public-key signature check, and the claims built as Python objects.
struct DecodeCall<'py, 'k> {
    py: Python<'py>,
    keys: Keys<'k>,
    algorithms: &'k Option<turbojwt_core::AlgorithmSet>,
    at: f64,
    /// The key a key set's resolver gave for this token.
    resolved: Option<KeyRef>,
    /// The key-length warning given, for a cache hit to give it again.
    short_key_warning: Option<Box<str>>,
    /// The `typ` the header must have (a `Verifier`'s), and whether it has it.
    typ: Option<&'k str>,
    typ_ok: bool,
}

impl<'p, 'py> Caller<'p> for DecodeCall<'py, '_> {
    type Error = PyErr;
    type Claims = Bound<'py, PyDict>;

    fn parsed(&mut self, header: &Header<'_>, _claims: &mut LazyClaims<'p, '_>) {
        // (read from this parse: the header is covered by the signature checked next)
        self.typ_ok = self.typ.is_none_or(|want| typ_matches(&header.typ, want));
    }

    fn keys(
        &mut self,
        header: &Header<'_>,
        _claims: &mut LazyClaims<'p, '_>,
    ) -> Result<Candidates, Stop<PyErr>> {
        match self.keys {
            Keys::One(Some(_)) => Ok(Candidates::from_slice(&[0])),
            // A key only the reference path takes (or a header the resolver cannot read).
            Keys::One(None) => Err(Stop::Fallback(0)),
            Keys::Set(resolver) => {
                match resolver.key_for(self.py, header, self.algorithms, self.at) {
                    Ok(Some(k)) => {
                        self.resolved = Some(k);
                        Ok(Candidates::from_slice(&[0]))
                    }
                    Ok(None) => Err(Stop::Fallback(0)),
                    Err(e) => Err(Stop::Caller(e)),
                }
            }
        }
    }

    fn key(&self, _index: usize) -> &KeyRef {
        match self.keys {
            Keys::One(Some(k)) => k,
            _ => self.resolved.as_ref().expect("resolved by keys()"),
        }
    }

    fn short_key(&mut self, message: String) -> Result<(), Stop<PyErr>> {
        warn_key_length(self.py, &message).map_err(Stop::Caller)?;
        self.short_key_warning = Some(message.into_boxed_str());
        Ok(())
    }

    fn check_signature(
        &self,
        key: &KeyRef,
        alg: Algorithm,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), Option<JwtError>> {
        if alg.family() == Family::Hmac {
            jws::verify_signature(&key.entry, alg, signing_input, signature)
        } else {
            // Public-key verification takes tens of microseconds: let other threads run.
            self.py
                .detach(|| jws::verify_signature(&key.entry, alg, signing_input, signature))
        }
    }

    fn claims(
        &mut self,
        claims: LazyClaims<'p, '_>,
    ) -> Result<(Bound<'py, PyDict>, Claims<'p>), Stop<PyErr>> {
        let (require, max_depth) = claims.require();
        match payload_to_py(self.py, claims.payload(), require, max_depth) {
            Ok(built) => Ok(built),
            Err(PyErrOr::Core(e)) => Err(Stop::Invalid(e)),
            Err(PyErrOr::Py(e)) => Err(Stop::Caller(e)),
        }
    }
}

/// Runs the core's decode sequence (see [`DecodeCall`]) and builds decode's result.
#[allow(clippy::too_many_arguments)]
pub fn run<'py>(
    py: Python<'py>,
    token: &[u8],
    keys: Keys<'_>,
    policy: &DecodePolicy<'_>,
    limits: &Limits,
    complete: bool,
    at: f64,
    times: Option<&mut TokenTimes>,
    typ: Option<&str>,
) -> PyResult<Outcome<'py>> {
    let mut bufs = Decoded::default();
    let mut call = DecodeCall {
        py,
        keys,
        algorithms: &policy.algorithms,
        at,
        resolved: None,
        short_key_warning: None,
        typ,
        typ_ok: false,
    };
    let (bufs_ref, call_ref) = (&mut bufs, &mut call);
    let result = if complete {
        // (decode_complete returns the header: parsed here, from its own JSON)
        sequence::verify(token, policy, limits, at, None, bufs_ref, call_ref)
    } else {
        // This thread's last header parse, unless a decode further up the stack (a key
        // resolver or a warning filter calling back into decode) is using it.
        LAST_HEADER.with(move |cell| match cell.try_borrow_mut() {
            Ok(mut cache) => sequence::verify(
                token,
                policy,
                limits,
                at,
                Some(&mut cache),
                bufs_ref,
                call_ref,
            ),
            Err(_) => sequence::verify(token, policy, limits, at, None, bufs_ref, call_ref),
        })
    };
    let verified = match result {
        Ok(v) => v,
        Err(Stop::Invalid(e)) => {
            let json = match e.detail {
                Detail::BadJson {
                    segment: Segment::Header,
                } => Some(&bufs.header_json[..]),
                Detail::BadJson {
                    segment: Segment::Payload,
                } => Some(&bufs.payload[..]),
                _ => None,
            };
            return Err(to_pyerr(py, &e, json));
        }
        Err(Stop::Fallback(_)) => return Ok(Outcome::Fallback),
        Err(Stop::Caller(e)) => return Err(e),
    };
    if let (Some(want), false) = (typ, call.typ_ok) {
        return Err(to_pyerr(py, &typ_error(want), None));
    }
    if let Some(t) = times {
        *t = TokenTimes {
            exp: verified.claims.exp.and_then(Time::seconds),
            nbf: verified.claims.nbf.and_then(Time::seconds),
            iat: verified.claims.iat.and_then(Time::seconds),
            short_key_warning: call.short_key_warning.take(),
        };
    }
    let payload = verified.out.into_any();
    if !complete {
        return Ok(Outcome::Done(payload));
    }
    let out = PyDict::new(py);
    out.set_item("payload", payload)?;
    out.set_item("header", json_to_py(py, &bufs.header_json)?)?;
    out.set_item("signature", PyBytes::new(py, &bufs.signature))?;
    Ok(Outcome::Done(out.into_any()))
}

/// An optional argument that tells "not passed" apart from an explicit `None` (PyJWT's
/// defaults are `key=""` and `leeway=0`, and an explicit None behaves differently).
pub enum Arg<'py> {
    Missing,
    Given(Bound<'py, PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Arg<'py> {
    type Error = PyErr;
    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Arg::Given(obj.to_owned()))
    }
}

impl<'py> Arg<'py> {
    fn or_else(self, f: impl FnOnce() -> Bound<'py, PyAny>) -> Bound<'py, PyAny> {
        match self {
            Arg::Missing => f(),
            Arg::Given(v) => v,
        }
    }
}

/// False once an algorithm is registered on (or removed from) the global PyJWS object:
/// then `turbojwt.decode` must consult the Python registry.
static GLOBAL_REGISTRY_DEFAULT: AtomicBool = AtomicBool::new(true);

#[pyfunction]
pub fn set_global_registry_modified() {
    GLOBAL_REGISTRY_DEFAULT.store(false, Ordering::Relaxed);
}

/// `turbojwt.decode` / `turbojwt.decode_complete`, PyJWT's signature, entirely native on
/// the common path (no Python frame in between); anything else goes to the reference path.
#[allow(clippy::too_many_arguments)]
pub fn global_decode(
    py: Python<'_>,
    jwt: &Bound<'_, PyAny>,
    key: Arg<'_>,
    algorithms: Option<&Bound<'_, PyAny>>,
    options: Option<&Bound<'_, PyAny>>,
    verify: Option<&Bound<'_, PyAny>>,
    detached_payload: Option<&Bound<'_, PyAny>>,
    audience: Option<&Bound<'_, PyAny>>,
    subject: Option<&Bound<'_, PyAny>>,
    issuer: Option<&Bound<'_, PyAny>>,
    leeway: Arg<'_>,
    kwargs: Option<&Bound<'_, PyDict>>,
    complete: bool,
) -> PyResult<Py<PyAny>> {
    let key = key.or_else(|| PyString::new(py, "").into_any());
    let leeway = leeway.or_else(|| 0i32.into_pyobject(py).unwrap().into_any());
    let simple = kwargs.is_none_or(|k| k.is_empty())
        && verify.is_none()
        && detached_payload.is_none()
        && GLOBAL_REGISTRY_DEFAULT.load(Ordering::Relaxed);
    if simple {
        return decode_fast(
            py,
            jwt,
            &key,
            algorithms,
            options,
            audience,
            issuer,
            subject,
            Some(&leeway),
            None,
            complete,
            None,
        );
    }
    let hand_over_kwargs = PyDict::new(py);
    hand_over_kwargs.set_item("verify", verify)?;
    hand_over_kwargs.set_item("detached_payload", detached_payload)?;
    hand_over_kwargs.set_item("kwargs", kwargs)?;
    reference::hand_over(
        py,
        (
            jwt, key, algorithms, options, audience, issuer, subject, leeway, complete,
        ),
        Some(&hand_over_kwargs),
    )
    .map(Bound::unbind)
}

/// `decode` / `decode_complete` of `turbojwt` and of `PyJWT` instances (`instance`; None:
/// the global one): natively, or handed over to the reference path.
#[pyfunction]
#[pyo3(signature = (jwt, key, algorithms, options, audience, issuer, subject, leeway, base_options, complete, instance=None))]
#[allow(clippy::too_many_arguments)]
pub fn decode_fast(
    py: Python<'_>,
    jwt: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
    algorithms: Option<&Bound<'_, PyAny>>,
    options: Option<&Bound<'_, PyAny>>,
    audience: Option<&Bound<'_, PyAny>>,
    issuer: Option<&Bound<'_, PyAny>>,
    subject: Option<&Bound<'_, PyAny>>,
    leeway: Option<&Bound<'_, PyAny>>,
    base_options: Option<&Bound<'_, PyAny>>,
    complete: bool,
    instance: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let hand_over = || -> PyResult<Py<PyAny>> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("jwt", instance)?;
        reference::hand_over(
            py,
            (
                jwt, key, algorithms, options, audience, issuer, subject, leeway, complete,
            ),
            Some(&kwargs),
        )
        .map(Bound::unbind)
    };
    let Some(policy) = build_remembered(
        py,
        options,
        base_options,
        algorithms,
        audience,
        issuer,
        subject,
        leeway,
    )?
    else {
        return hand_over();
    };
    let policy = policy.get();
    let resolved = if policy.verify_signature {
        let Some(r) = resolve_for_verify(py, key)? else {
            return hand_over();
        };
        if policy.algorithms.is_none() && r.bound.is_none() {
            return Err(exception(
                py,
                ErrorKind::Decode,
                "It is required that you pass in a value for the \"algorithms\" argument when calling decode().",
            ));
        }
        Some(r)
    } else {
        None
    };
    let Some(token) = token_bytes(py, jwt)? else {
        return hand_over();
    };
    match run(
        py,
        token,
        Keys::One(resolved.as_ref()),
        policy,
        &limits(),
        complete,
        now(),
        None,
        None,
    )? {
        Outcome::Done(v) => Ok(v.unbind()),
        Outcome::Fallback => hand_over(),
    }
}

/// A decode policy and key compiled once: `Verifier(key, algorithms=[...], ...)`.
#[pyclass(module = "turbojwt._native", frozen)]
pub struct Verifier {
    key: Option<KeyRef>,
    policy: DecodePolicy<'static>,
    /// The arguments as given, for the calls handed over to the reference path.
    args: DecodeArgs,
    /// The header `typ` required (RFC 9068 `at+jwt`, say), compared as a media type.
    typ: Option<String>,
    algorithms: Vec<String>,
    /// `Verifier(cache=N)`: verified tokens' claims (None: off).
    cache: Option<TokenCache>,
    /// A key set's keys by kid (instead of `key`).
    resolver: Option<KeyResolver>,
}

#[pymethods]
impl Verifier {
    #[new]
    #[pyo3(signature = (
        key, algorithms, audience, issuer, subject, leeway, options,
        cache_size=0, cache_ttl=600.0, cache_max_token=8192, cache_negative_ttl=0.0, key_resolver=None,
        key_generation=None, typ=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        algorithms: &Bound<'_, PyAny>,
        audience: Option<&Bound<'_, PyAny>>,
        issuer: Option<&Bound<'_, PyAny>>,
        subject: Option<&Bound<'_, PyAny>>,
        leeway: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyAny>>,
        cache_size: usize,
        cache_ttl: f64,
        cache_max_token: usize,
        cache_negative_ttl: f64,
        key_resolver: Option<Py<PyAny>>,
        key_generation: Option<Py<KeyGeneration>>,
        typ: Option<String>,
    ) -> PyResult<Self> {
        let names: Vec<String> = algorithms
            .extract()
            .map_err(|_| PyTypeError::new_err("algorithms must be a list of algorithm names"))?;
        if names.is_empty() {
            return Err(PyValueError::new_err(
                "algorithms must name at least one algorithm",
            ));
        }
        let policy = decode_args::owned(
            "Verifier", options, algorithms, audience, issuer, subject, leeway,
        )?;
        let args = DecodeArgs::new(
            py,
            key,
            Some(algorithms),
            options,
            audience,
            issuer,
            subject,
            leeway,
        )
        .with_typ(py, typ.as_deref());
        let key = if policy.verify_signature && key_resolver.is_none() {
            resolve_for_verify(py, key)?
        } else {
            None
        };
        let cache = TokenCache::new(
            cache_size,
            cache_ttl,
            cache_max_token,
            cache_negative_ttl,
            policy.claims.leeway,
        );
        Ok(Verifier {
            key,
            policy,
            args,
            typ,
            algorithms: names,
            cache,
            resolver: key_resolver.map(|r| KeyResolver::new(r, key_generation)),
        })
    }

    /// How many (kid, algorithm) keys of a key set are held parsed (0 without a key set).
    fn keys_held(&self) -> usize {
        self.resolver.as_ref().map_or(0, KeyResolver::len)
    }

    /// Forgets the parsed keys of a key set (they are asked for again).
    fn keys_clear(&self) {
        if let Some(r) = &self.resolver {
            r.clear();
        }
    }

    /// `(hits, misses, maxsize, currsize)` of the verified-token cache (None when off).
    fn cache_info(&self) -> Option<(u64, u64, usize, usize)> {
        self.cache.as_ref().map(TokenCache::info)
    }

    fn cache_clear(&self) {
        if let Some(c) = &self.cache {
            c.clear();
        }
    }

    /// Verifies `token` and returns its claims.
    fn decode(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.call(py, token, false)
    }

    /// Verifies `token` and returns `{"header", "payload", "signature"}`.
    fn decode_complete(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.call(py, token, true)
    }

    #[getter]
    fn algorithms(&self) -> Vec<String> {
        self.algorithms.clone()
    }
}

impl Verifier {
    fn hand_over(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        complete: bool,
    ) -> PyResult<Py<PyAny>> {
        self.args
            .decode(py, token, None, complete, None)
            .map(Bound::unbind)
    }

    fn call(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        complete: bool,
    ) -> PyResult<Py<PyAny>> {
        if self.policy.verify_signature && self.key.is_none() && self.resolver.is_none() {
            return self.hand_over(py, token, complete);
        }
        let Some(bytes) = token_bytes(py, token)? else {
            return self.hand_over(py, token, complete);
        };
        let at = now();
        let limits = limits();
        // The key set's generation as this call starts: a cached verdict is served, and one
        // made now is tagged, only under it (a key withdrawn meanwhile makes it stale).
        let generation = self.resolver.as_ref().map_or(0, KeyResolver::generation);
        let cache = self.cache.as_ref().filter(|_| !complete);
        if let Some(cache) = cache {
            match cache.get(py, bytes, at, &limits, generation)? {
                Lookup::Hit(claims) => return Ok(claims),
                Lookup::Refused(e) => return Err(e),
                Lookup::Miss => {}
            }
        }
        let mut times = TokenTimes::default();
        let keys = match &self.resolver {
            Some(r) => Keys::Set(r),
            None => Keys::One(self.key.as_ref()),
        };
        let result = run(
            py,
            bytes,
            keys,
            &self.policy,
            &limits,
            complete,
            at,
            cache.map(|_| &mut times),
            self.typ.as_deref(),
        );
        match (result, cache) {
            (Ok(Outcome::Done(v)), Some(cache)) => {
                cache.insert_claims(bytes, &v, times, at, &limits, generation)?;
                Ok(v.unbind())
            }
            (Ok(Outcome::Done(v)), None) => Ok(v.unbind()),
            (Ok(Outcome::Fallback), _) => self.hand_over(py, token, complete),
            (Err(e), Some(cache)) => {
                cache.insert_error(py, bytes, &e, at, &limits, generation);
                Err(e)
            }
            (Err(e), None) => Err(e),
        }
    }
}

/// Checks `alg` names an algorithm the core implements.
pub fn algorithm(name: &str) -> PyResult<Algorithm> {
    Algorithm::from_name(name)
        .ok_or_else(|| PyValueError::new_err(format!("unknown algorithm {name:?}")))
}

/// The `iss` a token claims, read before anything is verified and only to pick which of a
/// gateway's providers verifies it (natively: no Python objects for an unverified token):
/// `(readable, iss)`. Not readable (not split, base64 or JSON): the chosen provider's
/// verification words the error; `iss` is None when absent or not a string.
#[pyfunction]
pub fn unverified_issuer(
    py: Python<'_>,
    token: &Bound<'_, PyAny>,
) -> PyResult<(bool, Option<String>)> {
    let Ok(Some(bytes)) = token_bytes(py, token) else {
        return Ok((false, None));
    };
    let limits = limits();
    let Ok(seg) = jws::split(bytes, &limits) else {
        return Ok((false, None));
    };
    let mut payload = jws::PayloadBuf::new();
    if !turbojwt_core::b64::decode_into(seg.payload, &mut payload) {
        return Ok((false, None));
    }
    Ok(
        match turbojwt_core::json::claims(&payload, &[], limits.max_json_depth) {
            Ok(c) => (
                true,
                match c.iss {
                    turbojwt_core::json::Field::Value(s) => Some(s.into_owned()),
                    _ => None,
                },
            ),
            Err(_) => (false, None),
        },
    )
}
