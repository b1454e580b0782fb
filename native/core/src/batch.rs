//! Batch verification: many tokens against one policy and one key table, each judged as of
//! its own time, on a rayon pool. Every token gets the verdict `decode` would give it with
//! the same key and arguments; key tables add `kid` and issuer selection on top.
//!
//! Results come in chunks of [`CHUNK`] tokens, each with its own string arena, so that the
//! workers do not contend on the allocator and a caller can stream chunk by chunk.

use std::collections::HashMap;
use std::convert::Infallible;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::cache::{Lookup, Repeats};
use crate::error::{Detail, ErrorKind, JwtError};
use crate::json::{Audience, Claims, Field, Header, HeaderAlg, Time};
use crate::jws::{Decoded, Limits};
use crate::logs::{extract_jsonl, Extracted, JsonlFields};
use crate::time;
use crate::verify::sequence::{self, Caller, Candidates, HeaderCache, LazyClaims, Stop};
use crate::verify::{DecodePolicy, KeyRef};

/// Tokens per work unit (and per result chunk). Small enough that work stealing evens out
/// the threads' share of slow signatures (256 RS256 tokens are a few milliseconds: a batch
/// of 10,000 is 40 units, not 10), large enough that a chunk's own cost is noise beside an
/// HMAC token's (about 6 instructions per token, measured with callgrind, against 1024).
pub const CHUNK: usize = 256;

/// Which keys a token is tried against. Keys are referred to by their index in
/// [`KeyTable::keys`] (the caller keeps the same order for its fallback path).
pub enum Selection {
    /// Every token uses key 0: exactly `decode(token, key, ...)`.
    One,
    /// A key set such as a JWKS: `(kid, key index)`. A token is tried against the keys whose
    /// kid equals its `kid`; a token without a `kid`, or with one no key has, against the
    /// keys without a kid. No candidate: `PyJWKClientError`, as `PyJWKClient` reports it.
    Set(Vec<(Option<String>, usize)>),
    /// Issuer -> key set, picked by the token's (unverified) `iss` claim.
    ByIssuer(HashMap<String, Vec<(Option<String>, usize)>>),
    /// A strict key set (`turbojwt.KeySet`), one entry per key and algorithm it allows: a
    /// token with a `kid` uses that kid's entries only; a token without one, the one key
    /// bound to its `alg`, if exactly one is. No candidate: `KeyNotFoundError`.
    Strict(Vec<(Option<String>, usize)>),
}

pub struct KeyTable {
    pub keys: Vec<KeyRef>,
    pub selection: Selection,
}

/// The time each token is judged as of (seconds since the epoch).
#[derive(Clone, Copy)]
pub enum At<'a> {
    One(f64),
    Each(&'a [f64]),
}

impl<'a> At<'a> {
    /// The times of tokens `start..end`.
    pub fn range(self, start: usize, end: usize) -> At<'a> {
        match self {
            At::One(t) => At::One(t),
            At::Each(ts) => At::Each(&ts[start..end]),
        }
    }

    /// The time token `i` is judged as of.
    pub fn get(&self, i: usize) -> f64 {
        match self {
            At::One(t) => *t,
            At::Each(ts) => ts[i],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Valid,
    Invalid(JwtError),
    /// Only the Python reference path gives the exact verdict, with this key index (rare:
    /// `alg: none` allowed, a token str that is not UTF-8, a key cryptography must refuse).
    Fallback(usize),
    /// A log line with no usable token, or a token judged as of no usable time, and why
    /// (see [`crate::logs`], [`crate::time`]).
    Malformed(String),
}

/// A string in a chunk's arena. (The start is stored plus one, never zero, so that an
/// `Option<Span>` takes no more room than a span: a verdict holds five.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    start_plus_one: NonZeroU32,
    len: u32,
}

impl Span {
    fn new(start: usize, len: usize) -> Self {
        Span {
            start_plus_one: NonZeroU32::new(start as u32 + 1).expect("below u32::MAX"),
            len: len as u32,
        }
    }

    fn range(self) -> std::ops::Range<usize> {
        let start = self.start_plus_one.get() as usize - 1;
        start..start + self.len as usize
    }
}

/// What the report shows of one token. `kid`, `iss`, `sub`, `aud` and `exp` are read from
/// the token whatever the verdict (for a forged token they are what it claims).
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The key that verified it is shorter than PyJWT recommends (a warning, not an error,
    /// unless `enforce_minimum_key_length`).
    pub short_key: bool,
    /// Judged from what an earlier sight of the same token settled (its payload, if any,
    /// is that token's again: a caller may reuse what it built from it).
    pub repeat: bool,
    pub kid: Option<Span>,
    pub iss: Option<Span>,
    pub sub: Option<Span>,
    /// A string audience as is; a list joined with `,`.
    pub aud: Option<Span>,
    pub exp: Option<f64>,
    pub iat: Option<f64>,
    /// The decoded claims JSON of a valid token, when asked for.
    pub payload: Option<Span>,
}

impl Verdict {
    fn new(outcome: Outcome) -> Self {
        Verdict {
            outcome,
            short_key: false,
            repeat: false,
            kid: None,
            iss: None,
            sub: None,
            aud: None,
            exp: None,
            iat: None,
            payload: None,
        }
    }
}

/// The verdicts for up to [`CHUNK`] consecutive tokens and the strings they refer to, with
/// the few verdicts the caller must finish listed apart (so that it need not scan them all).
#[derive(Default)]
pub struct Chunk {
    pub verdicts: Vec<Verdict>,
    /// `(index in the batch, key index)` of the [`Outcome::Fallback`] verdicts.
    pub fallbacks: Vec<(usize, usize)>,
    /// Indices in the batch of the tokens refused for their header or payload JSON (the
    /// binding words those messages as Python's json module does).
    pub bad_json: Vec<usize>,
    /// Some token was verified with a key shorter than PyJWT recommends.
    pub short_key: bool,
    text: String,
    payloads: Vec<u8>,
}

/// One chunk being filled: what the call asks for, the chunk, and its header cache.
struct ChunkRun<'l> {
    want_payload: bool,
    limits: &'l Limits,
    chunk: Chunk,
    header_cache: HeaderCache,
}

impl<'l> ChunkRun<'l> {
    fn new(tokens: usize, want_payload: bool, limits: &'l Limits) -> Self {
        ChunkRun {
            want_payload,
            limits,
            chunk: Chunk::with_capacity(tokens),
            header_cache: None,
        }
    }
}

impl Chunk {
    pub fn text(&self, s: Span) -> &str {
        &self.text[s.range()]
    }
    /// Bytes of report text (kid, iss, sub, aud) the chunk holds.
    pub fn text_bytes(&self) -> usize {
        self.text.len()
    }
    pub fn payload(&self, s: Span) -> &[u8] {
        &self.payloads[s.range()]
    }
    fn with_capacity(n: usize) -> Self {
        Chunk {
            verdicts: Vec::with_capacity(n),
            // (room for the usual report strings: the arena is not copied as it fills)
            text: String::with_capacity(n * 64),
            ..Chunk::default()
        }
    }

    /// Moves the indices in [`Chunk::fallbacks`] and [`Chunk::bad_json`] by `by` (a chunk of
    /// a batch verified in parts).
    pub fn shift_indices(&mut self, by: usize) {
        self.fallbacks.iter_mut().for_each(|(i, _)| *i += by);
        self.bad_json.iter_mut().for_each(|i| *i += by);
    }

    /// Appends the verdict of token `index` (in the batch).
    fn push(&mut self, index: usize, v: Verdict) {
        match &v.outcome {
            Outcome::Fallback(k) => self.fallbacks.push((index, *k)),
            Outcome::Invalid(e) if matches!(e.detail, Detail::BadJson { .. }) => {
                self.bad_json.push(index)
            }
            _ => {}
        }
        self.short_key |= v.short_key;
        self.verdicts.push(v);
    }

    fn push_text(&mut self, s: &str) -> Span {
        let span = Span::new(self.text.len(), s.len());
        self.text.push_str(s);
        span
    }
    fn push_payload(&mut self, b: &[u8]) -> Span {
        let span = Span::new(self.payloads.len(), b.len());
        self.payloads.extend_from_slice(b);
        span
    }
}

fn key_not_found(kid: Option<&str>) -> JwtError {
    JwtError::new(
        ErrorKind::KeyNotFound,
        format!(
            "Unable to find a signing key that matches: \"{}\"",
            kid.unwrap_or("None")
        ),
    )
}

fn candidates(set: &[(Option<String>, usize)], kid: Option<&str>) -> Candidates {
    let with = |want: Option<&str>| -> Candidates {
        set.iter()
            .filter(|(k, _)| k.as_deref() == want)
            .map(|(_, i)| *i)
            .collect()
    };
    match kid.map(|kid| with(Some(kid))) {
        Some(by_kid) if !by_kid.is_empty() => by_kid,
        _ => with(None),
    }
}

/// The claims of a token and their JSON, kept when only the claims checks were left.
type KeptClaims = (Claims<'static>, Box<[u8]>);

/// What verifying a token settled whatever the time it is judged as of, kept for the
/// token's repeats: a log carries a client's token on every request it makes, and each
/// repeat needs only the claims checks, which depend on the time.
struct Remembered {
    /// The outcome when `claims` is None (refused before the claims checks, or claims that
    /// did not parse); otherwise recomputed for each repeat.
    outcome: Outcome,
    /// The parsed claims and their JSON, when the signature was settled and only the
    /// claims checks were left.
    claims: Option<KeptClaims>,
    short_key: bool,
    /// The report's kid, iss, sub and aud, one after the other in `text`.
    fields: [Option<(u32, u32)>; 4],
    text: Box<str>,
    exp: Option<f64>,
    iat: Option<f64>,
    /// The limits it was verified under (`set_limits` may change them between batches).
    limits: (usize, usize),
}

/// Repeated tokens kept per engine, the memory they may take (about), and the longest
/// token kept.
const REPEATS: usize = 32 * 1024;
const REPEATS_MAX_BYTES: usize = 64 << 20;
const REPEAT_MAX_TOKEN: usize = 8192;

/// A policy and a key table: what a batch checks (the input limits come with each call,
/// so that `set_limits` applies to engines built before it).
pub struct BatchVerifier {
    pub keys: KeyTable,
    pub policy: DecodePolicy<'static>,
    /// Tokens seen more than once, across the batches of this engine.
    repeats: Repeats<Remembered>,
}

impl BatchVerifier {
    pub fn new(keys: KeyTable, policy: DecodePolicy<'static>) -> Self {
        BatchVerifier {
            keys,
            policy,
            repeats: Repeats::new(REPEATS, REPEATS_MAX_BYTES, REPEAT_MAX_TOKEN),
        }
    }

    /// Tokens kept for their repeats now.
    pub fn repeats_kept(&self) -> usize {
        self.repeats.len()
    }

    /// [`Self::verify_one`], or for a repeated token its remembered verdict with the
    /// claims checked as of `at`.
    fn verify_token(&self, token: Option<&[u8]>, at: f64, run: &mut ChunkRun<'_>) -> Verdict {
        // A token cannot be judged as of a time that is not one (a NaN would pass every
        // exp/nbf check): its verdict says so instead.
        if time::finite(at).is_none() {
            return Verdict::new(Outcome::Malformed(time::NOT_A_TIME.into()));
        }
        let Some(t) = token else {
            return self.verify_one(token, at, run, None);
        };
        let limits_key = (run.limits.max_token_length, run.limits.max_json_depth);
        let admit = match self.repeats.lookup(t, |r| {
            (r.limits == limits_key).then(|| self.replay(r, at, run))
        }) {
            Lookup::Hit(Some(v)) => return v,
            Lookup::Hit(None) => true, // verified under other limits: again, and replaced
            Lookup::Miss { admit } => admit,
        };
        if !admit {
            return self.verify_one(token, at, run, None);
        }
        let mut kept = None;
        let v = self.verify_one(token, at, run, Some(&mut kept));
        // A fallback's verdict comes from the Python reference path: not kept.
        if !matches!(v.outcome, Outcome::Fallback(_)) {
            let mut text = String::new();
            let fields = [v.kid, v.iss, v.sub, v.aud].map(|s| {
                s.map(|s| {
                    let start = text.len() as u32;
                    text.push_str(run.chunk.text(s));
                    (start, text.len() as u32)
                })
            });
            // (the claims' strings are at most their JSON again; 64 bytes per allocation)
            let weight = std::mem::size_of::<Remembered>()
                + text.len()
                + kept.as_ref().map_or(0, |(_, json)| 2 * json.len())
                + 6 * 64;
            self.repeats.insert(
                t,
                Remembered {
                    outcome: v.outcome.clone(),
                    claims: kept,
                    short_key: v.short_key,
                    fields,
                    text: text.into_boxed_str(),
                    exp: v.exp,
                    iat: v.iat,
                    limits: limits_key,
                },
                weight,
            );
        }
        v
    }

    /// The verdict of a repeated token from what its first verification settled.
    fn replay(&self, r: &Remembered, at: f64, run: &mut ChunkRun<'_>) -> Verdict {
        let chunk = &mut run.chunk;
        let [kid, iss, sub, aud] = r
            .fields
            .map(|f| f.map(|(a, b)| chunk.push_text(&r.text[a as usize..b as usize])));
        let mut v = Verdict::new(r.outcome.clone());
        (v.kid, v.iss, v.sub, v.aud) = (kid, iss, sub, aud);
        v.exp = r.exp;
        v.iat = r.iat;
        v.short_key = r.short_key;
        v.repeat = true;
        if let Some((claims, payload)) = &r.claims {
            v.outcome = match self.policy.claims.validate(claims, at) {
                Ok(()) => {
                    if run.want_payload {
                        v.payload = Some(chunk.push_payload(payload));
                    }
                    Outcome::Valid
                }
                Err(e) => Outcome::Invalid(e),
            };
        }
        v
    }

    /// The key indices a token is tried against, or the error when there are none.
    fn select(
        &self,
        kid: Option<&str>,
        alg: &HeaderAlg,
        claims: &Result<Claims<'_>, JwtError>,
    ) -> Result<Candidates, JwtError> {
        let set = match &self.keys.selection {
            Selection::One => return Ok(smallvec::smallvec![0]),
            Selection::Strict(set) => return self.strict_candidates(set, kid, alg),
            Selection::Set(set) => set,
            Selection::ByIssuer(map) => {
                let c = claims.as_ref().map_err(Clone::clone)?;
                match &c.iss {
                    Field::Value(iss) => map
                        .get(iss.as_ref())
                        .ok_or_else(|| JwtError::new(ErrorKind::InvalidIssuer, "Invalid issuer"))?,
                    Field::WrongType => {
                        return Err(JwtError::new(ErrorKind::InvalidIssuer, "Invalid issuer"))
                    }
                    Field::Absent => return Err(JwtError::missing_claim("iss")),
                }
            }
        };
        let found = candidates(set, kid);
        if found.is_empty() {
            Err(key_not_found(kid))
        } else {
            Ok(found)
        }
    }

    /// `KeySet.entry`'s rule (see [`Selection::Strict`]).
    fn strict_candidates(
        &self,
        set: &[(Option<String>, usize)],
        kid: Option<&str>,
        alg: &HeaderAlg,
    ) -> Result<Candidates, JwtError> {
        if let Some(kid) = kid {
            let found: Candidates = set
                .iter()
                .filter(|(k, _)| k.as_deref() == Some(kid))
                .map(|(_, i)| *i)
                .collect();
            if found.is_empty() {
                let mut e = key_not_found(Some(kid));
                e.kind = ErrorKind::KeySetKeyNotFound;
                return Err(e);
            }
            return Ok(found);
        }
        let fitting: Candidates = match alg {
            HeaderAlg::Known(a) => set
                .iter()
                .filter(|(_, i)| self.keys.keys[*i].bound == Some(*a))
                .map(|(_, i)| *i)
                .collect(),
            _ => Candidates::new(),
        };
        if fitting.len() == 1 {
            return Ok(fitting);
        }
        let name = match alg {
            HeaderAlg::Known(a) => format!("'{}'", a.name()),
            HeaderAlg::Unknown(s) => format!("'{s}'"),
            _ => "None".to_owned(),
        };
        Err(JwtError::new(
            ErrorKind::KeySetKeyNotFound,
            format!(
                "The token has no kid and the key set has {} keys for {name}",
                fitting.len()
            ),
        ))
    }

    /// One token through the core's decode sequence, noting the report fields into the
    /// chunk. With `kept`, the claims and their JSON are put there when only the claims
    /// checks are left after the signature.
    fn verify_one(
        &self,
        token: Option<&[u8]>,
        at: f64,
        run: &mut ChunkRun<'_>,
        kept: Option<&mut Option<KeptClaims>>,
    ) -> Verdict {
        let Some(token) = token else {
            return Verdict::new(Outcome::Fallback(0));
        };
        let mut bufs = Decoded::default();
        let mut call = BatchCall {
            verifier: self,
            chunk: &mut run.chunk,
            verdict: Verdict::new(Outcome::Valid),
            kept,
        };
        let result = sequence::verify(
            token,
            &self.policy,
            run.limits,
            at,
            Some(&mut run.header_cache),
            &mut bufs,
            &mut call,
        );
        let mut v = call.verdict;
        match result {
            Ok(verified) => {
                v.short_key = verified.short_key;
                if run.want_payload {
                    v.payload = Some(run.chunk.push_payload(&bufs.payload));
                }
            }
            Err(Stop::Invalid(error)) => v.outcome = Outcome::Invalid(error),
            Err(Stop::Fallback(k)) => v.outcome = Outcome::Fallback(k),
            Err(Stop::Caller(never)) => match never {},
        }
        v
    }

    fn verify_chunk(
        &self,
        tokens: &[Option<&[u8]>],
        first: usize,
        at: At<'_>,
        want_payload: bool,
        limits: &Limits,
    ) -> Chunk {
        let mut run = ChunkRun::new(tokens.len(), want_payload, limits);
        for (i, t) in tokens.iter().enumerate() {
            let v = self.verify_token(*t, at.get(first + i), &mut run);
            run.chunk.push(first + i, v);
        }
        run.chunk
    }

    /// Verifies `tokens` (None: not native, handed to the caller's fallback) on `threads`
    /// threads; returns one chunk per [`CHUNK`] tokens, in order.
    pub fn verify(
        &self,
        tokens: &[Option<&[u8]>],
        at: At<'_>,
        want_payload: bool,
        limits: &Limits,
        threads: usize,
    ) -> Vec<Chunk> {
        if let At::Each(ts) = at {
            assert_eq!(ts.len(), tokens.len(), "one time per token");
        }
        in_chunks(tokens, threads, |c, ts| {
            self.verify_chunk(ts, c * CHUNK, at, want_payload, limits)
        })
    }

    /// Verifies the token of each JSON line as of the line's time (`at` overrides it; lines
    /// without a time field are judged as of `now`). Lines without a usable token get
    /// [`Outcome::Malformed`].
    pub fn verify_jsonl(
        &self,
        lines: &[&[u8]],
        fields: &JsonlFields,
        at: Option<f64>,
        now: f64,
        limits: &Limits,
        threads: usize,
    ) -> Vec<Chunk> {
        in_chunks(lines, threads, |c, ls| {
            let mut run = ChunkRun::new(ls.len(), false, limits);
            for (i, line) in ls.iter().enumerate() {
                let v = match extract_jsonl(line, fields) {
                    Extracted::Token { token, at: line_at } => {
                        let when = at.or(line_at).unwrap_or(now);
                        self.verify_token(Some(token.as_bytes()), when, &mut run)
                    }
                    Extracted::Problem(p) => Verdict::new(Outcome::Malformed(p)),
                };
                run.chunk.push(c * CHUNK + i, v);
            }
            run.chunk
        })
    }
}

/// The batch engine's side of the decode sequence: keys from its table, the report's
/// fields noted as the token is read, the claims kept for the token's repeats.
struct BatchCall<'v, 'c, 'k> {
    verifier: &'v BatchVerifier,
    chunk: &'c mut Chunk,
    verdict: Verdict,
    kept: Option<&'k mut Option<KeptClaims>>,
}

impl<'p> Caller<'p> for BatchCall<'_, '_, '_> {
    type Error = Infallible;
    type Claims = ();

    fn parsed(&mut self, header: &Header<'_>, claims: &mut LazyClaims<'p, '_>) {
        let (v, chunk) = (&mut self.verdict, &mut *self.chunk);
        if let Field::Value(k) = &header.kid {
            v.kid = Some(chunk.push_text(k));
        }
        // Read now for the report (and issuer selection); a JSON error still counts only
        // after the signature check, as in PyJWT.
        if let Ok(c) = claims.get() {
            if let Field::Value(s) = &c.iss {
                v.iss = Some(chunk.push_text(s));
            }
            if let Field::Value(s) = &c.sub {
                v.sub = Some(chunk.push_text(s));
            }
            v.aud = match &c.aud {
                Audience::Str(s) => Some(chunk.push_text(s)),
                Audience::List(items) => Some(chunk.push_text(&items.join(","))),
                _ => None,
            };
            v.exp = c.exp.and_then(Time::seconds);
            v.iat = c.iat.and_then(Time::seconds);
        }
    }

    fn keys(
        &mut self,
        header: &Header<'_>,
        claims: &mut LazyClaims<'p, '_>,
    ) -> Result<Candidates, Stop<Infallible>> {
        let kid = match &header.kid {
            Field::Value(k) => Some(k.as_ref()),
            _ => None,
        };
        self.verifier
            .select(kid, &header.alg, claims.get())
            .map_err(Stop::Invalid)
    }

    fn key(&self, index: usize) -> &KeyRef {
        &self.verifier.keys.keys[index]
    }

    fn short_key(&mut self, _message: String) -> Result<(), Stop<Infallible>> {
        Ok(()) // (the verdict notes it when that key verifies: Verified::short_key)
    }

    fn claims(&mut self, claims: LazyClaims<'p, '_>) -> Result<((), Claims<'p>), Stop<Infallible>> {
        let payload = claims.payload();
        let c = claims.into_claims().map_err(Stop::Invalid)?;
        if let Some(kept) = self.kept.take() {
            *kept = Some((c.clone().into_owned(), Box::from(payload)));
        }
        Ok(((), c))
    }
}

/// `work(chunk index, items)` over chunks of [`CHUNK`] items, on a pool of `threads`
/// threads (inline for one thread or one chunk); results in order.
fn in_chunks<T: Sync>(
    items: &[T],
    threads: usize,
    work: impl Fn(usize, &[T]) -> Chunk + Sync,
) -> Vec<Chunk> {
    if threads <= 1 || items.len() <= CHUNK {
        return items
            .chunks(CHUNK)
            .enumerate()
            .map(|(c, ts)| work(c, ts))
            .collect();
    }
    pool(threads).install(|| {
        items
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(c, ts)| work(c, ts))
            .collect()
    })
}

/// One rayon pool per thread count asked for, built on first use and kept (long-lived
/// threads keep their allocator arenas warm from batch to batch).
pub fn pool(threads: usize) -> Arc<ThreadPool> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    pools
        .entry(threads)
        .or_insert_with(|| {
            Arc::new(
                ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("turbojwt-batch-{i}"))
                    .build()
                    .expect("building a rayon pool"),
            )
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alg::Algorithm;
    use crate::claims::ClaimsPolicy;
    use crate::jws;
    use crate::keys::KeyEntry;
    use crate::AlgorithmSet;

    fn hs_token(secret: &[u8], header: &str, payload: &str) -> Vec<u8> {
        let key = KeyEntry::new(secret);
        jws::sign_compact(
            &key,
            Algorithm::HS256,
            header.as_bytes(),
            payload.as_bytes(),
            false,
        )
        .unwrap()
        .into_bytes()
    }

    fn key(secret: &[u8]) -> KeyRef {
        KeyRef {
            entry: Arc::new(KeyEntry::new(secret)),
            bound: None,
            is_object: false,
        }
    }

    fn verifier(selection: Selection, keys: Vec<KeyRef>) -> BatchVerifier {
        let mut set = AlgorithmSet::new();
        set.insert(Algorithm::HS256);
        BatchVerifier::new(
            KeyTable { keys, selection },
            DecodePolicy {
                verify_signature: true,
                enforce_minimum_key_length: false,
                algorithms: Some(set),
                claims: ClaimsPolicy::default(),
            },
        )
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// What a verdict says, with its strings read out of its chunk.
    type View = (
        Outcome,
        bool,
        [Option<String>; 4],
        Option<f64>,
        Option<f64>,
        Option<Vec<u8>>,
    );

    fn view(c: &Chunk, v: &Verdict) -> View {
        let text = |s: Option<Span>| s.map(|s| c.text(s).to_owned());
        (
            v.outcome.clone(),
            v.short_key,
            [text(v.kid), text(v.iss), text(v.sub), text(v.aud)],
            v.exp,
            v.iat,
            v.payload.map(|p| c.payload(p).to_vec()),
        )
    }

    #[test]
    fn repeated_tokens_get_the_verdict_of_a_first_sight() {
        let header = r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#;
        let mut forged = hs_token(SECRET, header, r#"{"sub":"f","exp":5000}"#);
        let n = forged.len();
        forged[n - 2] ^= 1;
        let distinct = [
            // valid from 100 (nbf) to 1000 (exp) only
            hs_token(
                SECRET,
                header,
                r#"{"sub":"a","iss":"i","exp":1000,"nbf":100,"iat":50,"aud":["x","y"]}"#,
            ),
            hs_token(SECRET, header, r#"{"sub":"b","exp":2000,"iat":3000}"#),
            forged,
            hs_token(
                b"another-secret-of-32-bytes-long!",
                header,
                r#"{"sub":"c"}"#,
            ),
            hs_token(SECRET, header, r#"{"sub":"d","exp":"soon"}"#),
            hs_token(SECRET, header, r#"{"sub":"e","#),
            hs_token(SECRET, r#"{"alg":"HS256","kid":5}"#, r#"{"sub":"g"}"#),
            b"not.a.token".to_vec(),
        ];
        let mut tokens: Vec<Option<&[u8]>> = Vec::new();
        let mut times = Vec::new();
        for round in 0..300 {
            for (k, t) in distinct.iter().enumerate() {
                // (now and then a token only the reference path takes)
                tokens.push(((round * 8 + k) % 97 != 0).then_some(&t[..]));
                times.push(((round * 37 + k * 11) % 40) as f64 * 60.0);
            }
        }
        let fresh_verdict = |i: usize, limits: &Limits| {
            let fresh = verifier(Selection::One, vec![key(SECRET)]);
            let c = fresh.verify(&tokens[i..i + 1], At::One(times[i]), true, limits, 1);
            view(&c[0], &c[0].verdicts[0])
        };
        let v = verifier(Selection::One, vec![key(SECRET)]);
        for (threads, limits) in [
            (1, Limits::default()),
            (2, Limits::default()),
            (
                2,
                Limits {
                    max_token_length: 150,
                    max_json_depth: 64,
                },
            ),
        ] {
            let chunks = v.verify(&tokens, At::Each(&times), true, &limits, threads);
            let mut i = 0;
            for c in &chunks {
                for verdict in &c.verdicts {
                    assert_eq!(view(c, verdict), fresh_verdict(i, &limits), "token {i}");
                    i += 1;
                }
            }
            assert_eq!(i, tokens.len());
        }
        // (the repeats were served from what was kept, not verified afresh each time)
        assert_eq!(v.repeats_kept(), distinct.len());
    }

    #[test]
    fn judged_as_of_each_time_and_same_for_any_thread_count() {
        let v = verifier(Selection::One, vec![key(SECRET)]);
        let header = r#"{"alg":"HS256","typ":"JWT"}"#;
        let mut tokens = Vec::new();
        let mut times = Vec::new();
        for i in 0..5000u32 {
            let exp = 1_000 + i as i64;
            let mut t = hs_token(SECRET, header, &format!(r#"{{"sub":"u{i}","exp":{exp}}}"#));
            if i % 7 == 0 {
                let n = t.len();
                t[n - 3] ^= 1; // forged (or non-canonical) signature
            }
            tokens.push(t);
            times.push(if i % 2 == 0 { 500.0 } else { 1e9 });
        }
        let refs: Vec<Option<&[u8]>> = tokens.iter().map(|t| Some(&t[..])).collect();
        let one = v.verify(&refs, At::Each(&times), false, &Limits::default(), 1);
        let two = v.verify(&refs, At::Each(&times), false, &Limits::default(), 2);
        assert_eq!(one.len(), 5000usize.div_ceil(CHUNK));
        assert_eq!(two.len(), one.len());
        for (a, b) in one.iter().zip(&two) {
            assert_eq!(a.verdicts, b.verdicts);
        }
        let all: Vec<&Verdict> = one.iter().flat_map(|c| &c.verdicts).collect();
        for (i, verdict) in all.iter().enumerate() {
            let want = if i % 7 == 0 {
                "bad"
            } else if i % 2 == 0 {
                "ok"
            } else {
                "expired"
            };
            match (&verdict.outcome, want) {
                (Outcome::Valid, "ok") => {}
                (Outcome::Invalid(e), "expired") => assert_eq!(e.kind, ErrorKind::ExpiredSignature),
                (Outcome::Invalid(e), "bad") => assert!(
                    matches!(e.kind, ErrorKind::InvalidSignature | ErrorKind::Decode),
                    "{e}"
                ),
                (o, w) => panic!("token {i}: {o:?}, wanted {w}"),
            }
        }
        let c = &one[0];
        assert_eq!(c.text(all[3].sub.unwrap()), "u3");
        assert_eq!(all[3].exp, Some(1003.0));
    }

    #[test]
    fn chunks_list_the_verdicts_the_caller_finishes() {
        let v = verifier(Selection::One, vec![key(SECRET)]);
        let good = hs_token(SECRET, r#"{"alg":"HS256"}"#, "{}");
        let bad_json = hs_token(SECRET, r#"{"alg":"HS256"}"#, "{nope");
        let mut refs: Vec<Option<&[u8]>> = vec![Some(&good[..]); 2 * CHUNK + 10];
        refs[3] = None;
        refs[CHUNK + 6] = Some(&bad_json[..]);
        refs[2 * CHUNK + 1] = None;
        for threads in [1, 2] {
            let mut out = v.verify(&refs, At::One(0.0), false, &Limits::default(), threads);
            assert_eq!(out[0].fallbacks, [(3, 0)]);
            assert!(out[0].bad_json.is_empty() && out[2].bad_json.is_empty());
            assert_eq!(out[1].bad_json, [CHUNK + 6]);
            assert!(
                matches!(&out[1].verdicts[6].outcome, Outcome::Invalid(e) if matches!(e.detail, Detail::BadJson { .. }))
            );
            assert_eq!(out[2].fallbacks, [(2 * CHUNK + 1, 0)]);
            assert!(out.iter().all(|c| !c.short_key));
            out[2].shift_indices(100);
            assert_eq!(out[2].fallbacks, [(2 * CHUNK + 101, 0)]);
        }
        // A key shorter than PyJWT recommends (HS256: 32 bytes) is noted per chunk.
        let short = verifier(Selection::One, vec![key(b"short")]);
        let t = hs_token(b"short", r#"{"alg":"HS256"}"#, "{}");
        let out = short.verify(&[Some(&t[..])], At::One(0.0), false, &Limits::default(), 1);
        assert_eq!(out[0].verdicts[0].outcome, Outcome::Valid);
        assert!(out[0].short_key);
    }

    /// A token judged as of a time that is not finite gets a malformed verdict, never the
    /// verdict of a comparison with NaN (which would pass every exp/nbf check), and the
    /// repeated-token cache replays no earlier verdict for it either.
    #[test]
    fn non_finite_times_make_malformed_verdicts() {
        let v = verifier(Selection::One, vec![key(SECRET)]);
        let expired = hs_token(SECRET, r#"{"alg":"HS256"}"#, r#"{"exp":100,"nbf":50}"#);
        let refs = [Some(&expired[..]); 5];
        let times = [1000.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 75.0];
        for threads in [1, 2] {
            let out = v.verify(&refs, At::Each(&times), false, &Limits::default(), threads);
            let outcomes: Vec<_> = out[0].verdicts.iter().map(|v| v.outcome.clone()).collect();
            assert!(
                matches!(&outcomes[0], Outcome::Invalid(e) if e.kind == ErrorKind::ExpiredSignature)
            );
            for o in &outcomes[1..4] {
                assert_eq!(*o, Outcome::Malformed(time::NOT_A_TIME.into()));
            }
            assert_eq!(outcomes[4], Outcome::Valid);
            let one = v.verify(
                &refs[..1],
                At::One(f64::NAN),
                false,
                &Limits::default(),
                threads,
            );
            assert_eq!(
                one[0].verdicts[0].outcome,
                Outcome::Malformed(time::NOT_A_TIME.into())
            );
        }
    }

    #[test]
    fn strict_key_sets_follow_the_key_set_rule() {
        let other = b"another secret of thirty-two byte";
        let bound = |secret: &[u8]| KeyRef {
            bound: Some(Algorithm::HS256),
            ..key(secret)
        };
        let strict = |n: usize| {
            let entries = vec![(Some("a".into()), 0), (Some("b".into()), 1)];
            Selection::Strict(entries.into_iter().take(n).collect())
        };
        let ta = hs_token(SECRET, r#"{"alg":"HS256","kid":"a"}"#, "{}");
        let no_kid = hs_token(SECRET, r#"{"alg":"HS256"}"#, "{}");
        let unknown = hs_token(SECRET, r#"{"alg":"HS256","kid":"zz"}"#, "{}");
        let refs = [Some(&ta[..]), Some(&no_kid[..]), Some(&unknown[..])];
        let outcomes = |v: &BatchVerifier| -> Vec<Outcome> {
            v.verify(&refs, At::One(0.0), false, &Limits::default(), 1)[0]
                .verdicts
                .iter()
                .map(|v| v.outcome.clone())
                .collect()
        };
        // Two keys: a kid-less token fits both, so neither is picked; an unknown kid never
        // falls back to other keys.
        let two = outcomes(&verifier(strict(2), vec![bound(SECRET), bound(other)]));
        assert_eq!(two[0], Outcome::Valid);
        assert!(
            matches!(&two[1], Outcome::Invalid(e) if e.kind == ErrorKind::KeySetKeyNotFound
            && e.message == "The token has no kid and the key set has 2 keys for 'HS256'")
        );
        assert!(matches!(&two[2], Outcome::Invalid(e) if e.kind == ErrorKind::KeySetKeyNotFound));
        // One key: the kid-less token uses it.
        let one = outcomes(&verifier(strict(1), vec![bound(SECRET)]));
        assert_eq!(one[..2], [Outcome::Valid, Outcome::Valid]);
        assert!(matches!(&one[2], Outcome::Invalid(e) if e.kind == ErrorKind::KeySetKeyNotFound));
    }

    #[test]
    fn key_sets_pick_by_kid_and_issuer() {
        let other = b"another secret of thirty-two byte";
        let set = Selection::Set(vec![(Some("a".into()), 0), (Some("b".into()), 1)]);
        let v = verifier(set, vec![key(SECRET), key(other)]);
        let ta = hs_token(SECRET, r#"{"alg":"HS256","kid":"a"}"#, "{}");
        let tb = hs_token(other, r#"{"alg":"HS256","kid":"b"}"#, "{}");
        let wrong = hs_token(SECRET, r#"{"alg":"HS256","kid":"b"}"#, "{}");
        let unknown = hs_token(SECRET, r#"{"alg":"HS256","kid":"zz"}"#, "{}");
        let refs = [
            Some(&ta[..]),
            Some(&tb[..]),
            Some(&wrong[..]),
            Some(&unknown[..]),
            None,
        ];
        let out = v.verify(&refs, At::One(0.0), true, &Limits::default(), 1);
        let o: Vec<&Outcome> = out[0].verdicts.iter().map(|v| &v.outcome).collect();
        assert_eq!(o[0], &Outcome::Valid);
        assert_eq!(o[1], &Outcome::Valid);
        assert!(matches!(o[2], Outcome::Invalid(e) if e.kind == ErrorKind::InvalidSignature));
        assert!(
            matches!(o[3], Outcome::Invalid(e) if e.kind == ErrorKind::KeyNotFound && e.message.contains("\"zz\""))
        );
        assert_eq!(o[4], &Outcome::Fallback(0));
        assert_eq!(out[0].payload(out[0].verdicts[0].payload.unwrap()), b"{}");

        let mut map = HashMap::new();
        map.insert("https://a".to_string(), vec![(None, 0)]);
        let v = verifier(Selection::ByIssuer(map), vec![key(SECRET)]);
        let good = hs_token(SECRET, r#"{"alg":"HS256"}"#, r#"{"iss":"https://a"}"#);
        let stranger = hs_token(SECRET, r#"{"alg":"HS256"}"#, r#"{"iss":"https://b"}"#);
        let none = hs_token(SECRET, r#"{"alg":"HS256"}"#, r#"{}"#);
        let out = v.verify(
            &[Some(&good[..]), Some(&stranger[..]), Some(&none[..])],
            At::One(0.0),
            false,
            &Limits::default(),
            1,
        );
        let kinds: Vec<Option<ErrorKind>> = out[0]
            .verdicts
            .iter()
            .map(|v| match &v.outcome {
                Outcome::Invalid(e) => Some(e.kind),
                _ => None,
            })
            .collect();
        assert_eq!(
            kinds,
            [
                None,
                Some(ErrorKind::InvalidIssuer),
                Some(ErrorKind::MissingRequiredClaim)
            ]
        );
    }
}
