//! PyJWT's decode sequence, written once. Every front end runs its tokens through
//! [`verify`] and supplies, through [`Caller`], only what differs between them: where the
//! keys come from, what a short key does (a warning, a note in a report), how a signature
//! check is run (the binding lets other threads run meanwhile), and what the claims become
//! (Python objects, a report's fields, nothing).
//!
//! The order is PyJWT's: split (after the length limit); decode and parse the header
//! (reusing the caller's last parse of the same header bytes), decode payload and signature,
//! validate the header; pick the key(s); for each, the algorithm and key checks, the
//! short-key rule, the signature; then the claims (a JSON error in them counts only after
//! the signature, as in PyJWT) and their checks as of the time the token is judged at.

use std::convert::Infallible;

use smallvec::SmallVec;

use super::{check_key, DecodePolicy, KeyCheck, KeyRef};
use crate::alg::Algorithm;
use crate::error::{ErrorKind, JwtError, Result};
use crate::json::{claims as scan_claims, Claims, Header};
use crate::jws::{self, Decoded, Limits};

/// The last header segment that parsed and validated, and its parse: an issuer's tokens
/// share their header, and this skips decoding and parsing it again.
pub type HeaderCache = Option<(Box<[u8]>, Header<'static>)>;

/// The indices (into the caller's keys) of the keys a token is tried against, in order
/// (usually one: no allocation per token).
pub type Candidates = SmallVec<[usize; 4]>;

/// Why [`verify`] gave no verified claims.
#[derive(Debug)]
pub enum Stop<E> {
    /// The token is refused: PyJWT's exception for it (a [`crate::error::Detail::BadJson`] error names
    /// the segment whose JSON, in the buffers, it is about).
    Invalid(JwtError),
    /// Only the reference path gives PyJWT's exact verdict (`alg: none` allowed, a key
    /// cryptography must judge); the index of the key it stopped at.
    Fallback(usize),
    /// The caller's own error (e.g. an exception raised by a key resolver).
    Caller(E),
}

/// A token that verified: its claims as the core reads them (validated), the caller's form
/// of them, the key that verified it (None when signatures are not verified) and whether
/// that key is shorter than PyJWT recommends.
pub struct Verified<'p, C> {
    pub claims: Claims<'p>,
    pub out: C,
    pub key: Option<usize>,
    pub short_key: bool,
}

/// The claims of the token, read on first use. The sequence itself needs them only after
/// the signature; a caller may read them before (a key picked by issuer, a report of what a
/// forged token claims), and then they are read once.
pub struct LazyClaims<'p, 'r> {
    payload: &'p [u8],
    require: &'r [String],
    max_depth: usize,
    scanned: Option<Result<Claims<'p>>>,
}

impl<'p> LazyClaims<'p, '_> {
    /// The decoded payload (JSON).
    pub fn payload(&self) -> &'p [u8] {
        self.payload
    }

    /// The claims (scanned now, if not yet).
    pub fn get(&mut self) -> &Result<Claims<'p>> {
        let (payload, require, depth) = (self.payload, self.require, self.max_depth);
        self.scanned
            .get_or_insert_with(|| scan_claims(payload, require, depth))
    }

    /// The claims, unless they have not been read: a caller that builds its own form of
    /// them (reading the registered claims on the way) need not read them twice.
    pub fn take_scanned(&mut self) -> Option<Result<Claims<'p>>> {
        self.scanned.take()
    }

    /// The claims, read now if they were not.
    pub fn into_claims(mut self) -> Result<Claims<'p>> {
        self.get();
        self.scanned.take().expect("read above")
    }

    /// The names of the claims `require`d by the policy, and the depth limit.
    pub fn require(&self) -> (&[String], usize) {
        (self.require, self.max_depth)
    }
}

/// What differs between the front ends (see the module documentation).
pub trait Caller<'p> {
    /// The caller's own error.
    type Error;
    /// The caller's form of the claims of a verified token.
    type Claims;

    /// The token parsed (header validated, payload decoded), before any verdict: what it
    /// says, for a report. Default: nothing.
    fn parsed(&mut self, _header: &Header<'_>, _claims: &mut LazyClaims<'p, '_>) {}

    /// The keys to try for this token (asked only when signatures are verified).
    fn keys(
        &mut self,
        header: &Header<'_>,
        claims: &mut LazyClaims<'p, '_>,
    ) -> std::result::Result<Candidates, Stop<Self::Error>>;

    /// Key `index` of those.
    fn key(&self, index: usize) -> &KeyRef;

    /// PyJWT's key-length warning for a key about to verify (the policy does not enforce
    /// the minimum): warn now, or note it.
    fn short_key(&mut self, message: String) -> std::result::Result<(), Stop<Self::Error>>;

    /// Checks the signature (the binding overrides it to let other threads run meanwhile).
    fn check_signature(
        &self,
        key: &KeyRef,
        alg: Algorithm,
        signing_input: &[u8],
        signature: &[u8],
    ) -> std::result::Result<(), Option<JwtError>> {
        jws::verify_signature(&key.entry, alg, signing_input, signature)
    }

    /// The claims once the signature is settled: the caller's form, and the core's reading
    /// that the policy's claim checks then judge.
    fn claims(
        &mut self,
        claims: LazyClaims<'p, '_>,
    ) -> std::result::Result<(Self::Claims, Claims<'p>), Stop<Self::Error>>;
}

/// PyJWT's decode sequence for `token`, judged as of `at`, with the parts decoded into
/// `bufs`; `cache` (if any) holds the last header parse and is updated.
pub fn verify<'p, C: Caller<'p>>(
    token: &[u8],
    policy: &DecodePolicy<'_>,
    limits: &Limits,
    at: f64,
    cache: Option<&mut HeaderCache>,
    bufs: &'p mut Decoded,
    caller: &mut C,
) -> std::result::Result<Verified<'p, C::Claims>, Stop<C::Error>> {
    let seg = jws::split(token, limits).map_err(Stop::Invalid)?;
    let Decoded {
        header_json,
        payload,
        signature,
    } = bufs;
    let fresh: Header<'p>;
    let hit = matches!(cache.as_deref(), Some(Some((raw, _))) if raw[..] == *seg.header);
    let header: &Header<'_> = match cache {
        Some(c) if hit => {
            // The same header segment as the last: it decoded, parsed and validated then.
            let (_, h) = c.as_ref().expect("matched above");
            seg.decode_rest(h, payload, signature)
                .map_err(Stop::Invalid)?;
            h
        }
        cache => {
            seg.decode_header(header_json).map_err(Stop::Invalid)?;
            let header_json: &'p [u8] = header_json;
            let h = jws::parse_header_and_rest(&seg, header_json, limits, payload, signature)
                .map_err(Stop::Invalid)?;
            match cache {
                Some(c) => &c.insert((seg.header.into(), h.into_owned())).1,
                None => {
                    fresh = h;
                    &fresh
                }
            }
        }
    };
    let (payload, signature): (&'p [u8], &'p [u8]) = (payload, signature);
    let mut claims = LazyClaims {
        payload,
        require: &policy.claims.require,
        max_depth: limits.max_json_depth,
        scanned: None,
    };
    caller.parsed(header, &mut claims);
    let (mut used, mut short) = (None, false);
    if policy.verify_signature {
        let keys = caller.keys(header, &mut claims)?;
        let mut first: Option<Stop<C::Error>> = None;
        for k in keys {
            let stop = match check_key(header, caller.key(k), &policy.algorithms) {
                KeyCheck::Use { alg, short_key } => {
                    let short_key_seen = short_key.is_some();
                    let verdict = match short_key {
                        Some(msg) if policy.enforce_minimum_key_length => {
                            Err(Some(JwtError::new(ErrorKind::InvalidKey, msg)))
                        }
                        Some(msg) => {
                            caller.short_key(msg)?;
                            caller.check_signature(caller.key(k), alg, seg.signing_input, signature)
                        }
                        None => {
                            caller.check_signature(caller.key(k), alg, seg.signing_input, signature)
                        }
                    };
                    match verdict {
                        Ok(()) => {
                            (used, short) = (Some(k), short_key_seen);
                            break;
                        }
                        Err(Some(e)) => Stop::Invalid(e),
                        Err(None) => Stop::Fallback(k),
                    }
                }
                KeyCheck::Fail(e) => Stop::Invalid(e),
                KeyCheck::Fallback => Stop::Fallback(k),
            };
            // With several candidates, "no key verified the signature" says more than another
            // key's unsuitability: a signature failure wins over earlier errors.
            let is_sig = |s: &Option<Stop<C::Error>>| matches!(s, Some(Stop::Invalid(e)) if e.kind == ErrorKind::InvalidSignature);
            let stop = Some(stop);
            if first.is_none() || (is_sig(&stop) && !is_sig(&first)) {
                first = stop;
            }
        }
        if used.is_none() {
            return Err(first.unwrap_or_else(|| {
                Stop::Invalid(JwtError::new(
                    ErrorKind::InvalidToken,
                    "No key to verify with",
                ))
            }));
        }
    }
    let (out, claims) = caller.claims(claims)?;
    policy.claims.validate(&claims, at).map_err(Stop::Invalid)?;
    Ok(Verified {
        claims,
        out,
        key: used,
        short_key: short,
    })
}

/// The plainest caller: one key, nothing noted, the claims as the core reads them (the
/// stage timer's; a front end without a host language of its own needs no more).
pub struct OneKey<'k> {
    pub key: &'k KeyRef,
}

impl<'p> Caller<'p> for OneKey<'_> {
    type Error = Infallible;
    type Claims = ();

    fn keys(
        &mut self,
        _header: &Header<'_>,
        _claims: &mut LazyClaims<'p, '_>,
    ) -> std::result::Result<Candidates, Stop<Infallible>> {
        Ok(Candidates::from_slice(&[0]))
    }

    fn key(&self, _index: usize) -> &KeyRef {
        self.key
    }

    fn short_key(&mut self, _message: String) -> std::result::Result<(), Stop<Infallible>> {
        Ok(())
    }

    fn claims(
        &mut self,
        claims: LazyClaims<'p, '_>,
    ) -> std::result::Result<((), Claims<'p>), Stop<Infallible>> {
        claims.into_claims().map(|c| ((), c)).map_err(Stop::Invalid)
    }
}
