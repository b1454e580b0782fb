//! What verifying an HS256 token is made of, stage by stage, on one thread. The batch
//! benchmark (`benchmarks/batch.py`) reports these beside the engine's rate: they are the
//! floor a batch engine stands on, whatever it does around them.

use std::hint::black_box;
use std::time::Instant;

use std::sync::Arc;

use crate::alg::{Algorithm, AlgorithmSet};
use crate::claims::ClaimsPolicy;
use crate::error::ErrorKind;
use crate::json;
use crate::jws::{self, Decoded, Limits, PayloadBuf, SignatureBuf};
use crate::keys::KeyEntry;
use crate::verify::sequence::{self, OneKey, Stop};
use crate::verify::{DecodePolicy, KeyRef};

/// Seconds per token of each stage (the median over the rounds).
#[derive(Clone, Copy, Debug)]
pub struct StageCosts {
    /// Finding the two dots (`jws::split`).
    pub split: f64,
    /// Decoding the payload and signature segments from base64url.
    pub base64: f64,
    /// Reading the claims JSON (every member scanned, the registered claims typed).
    pub claims: f64,
    /// Checking the HMAC-SHA256 tag over the signing input.
    pub hmac: f64,
}

/// Each stage run alone over all `tokens`, the stages interleaved in every round. The
/// tokens must be valid HS256 tokens under `secret` (an error names the first that is not).
pub fn hs256_stages(tokens: &[&[u8]], secret: &[u8], rounds: usize) -> Result<StageCosts, String> {
    let limits = Limits::default();
    let mut segments = Vec::with_capacity(tokens.len());
    let mut signatures = Vec::with_capacity(tokens.len());
    // The payloads back to back, as they sit in a decoding buffer: read from cache, as the
    // engine reads the payload it has just decoded.
    let (mut payloads, mut ends) = (Vec::new(), Vec::with_capacity(tokens.len()));
    // Each token goes through the decode sequence once (HS256 allowed, claim checks off):
    // only tokens it verifies are timed.
    let key_ref = KeyRef {
        entry: Arc::new(KeyEntry::new(secret)),
        bound: None,
        is_object: false,
    };
    let mut algorithms = AlgorithmSet::new();
    algorithms.insert(Algorithm::HS256);
    let policy = DecodePolicy {
        verify_signature: true,
        enforce_minimum_key_length: false,
        algorithms: Some(algorithms),
        // (no claim checks: the timer measures tokens, not a policy)
        claims: ClaimsPolicy {
            verify_exp: false,
            verify_nbf: false,
            verify_iat: false,
            verify_aud: false,
            verify_iss: false,
            verify_sub: false,
            verify_jti: false,
            ..ClaimsPolicy::default()
        },
    };
    let key = &key_ref.entry;
    for (i, t) in tokens.iter().enumerate() {
        let bad = |why: &str| format!("token {i} is not a valid HS256 token: {why}");
        let mut decoded = Decoded::default();
        let mut one = OneKey { key: &key_ref };
        if let Err(stop) = sequence::verify(t, &policy, &limits, 0.0, None, &mut decoded, &mut one)
        {
            return Err(bad(&match stop {
                Stop::Invalid(e) if e.kind == ErrorKind::InvalidSignature => {
                    "the signature does not verify".to_owned()
                }
                Stop::Invalid(e) => e.to_string(),
                Stop::Fallback(_) => "only the reference path takes it".to_owned(),
                Stop::Caller(never) => match never {},
            }));
        }
        let seg = jws::split(t, &limits).map_err(|e| bad(&e.to_string()))?;
        payloads.extend_from_slice(&decoded.payload);
        ends.push(payloads.len());
        segments.push(seg);
        signatures.push(Box::<[u8]>::from(&decoded.signature[..]));
    }
    let per_token = |start: Instant| start.elapsed().as_secs_f64() / tokens.len().max(1) as f64;
    let mut times: [Vec<f64>; 4] = Default::default();
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        for t in tokens {
            black_box(jws::split(black_box(t), &limits).is_ok());
        }
        times[0].push(per_token(start));

        let start = Instant::now();
        let (mut payload, mut signature) = (PayloadBuf::new(), SignatureBuf::new());
        for seg in &segments {
            black_box(crate::b64::decode_into(
                black_box(seg.payload),
                &mut payload,
            ));
            black_box(crate::b64::decode_into(
                black_box(seg.crypto),
                &mut signature,
            ));
        }
        times[1].push(per_token(start));

        let start = Instant::now();
        let mut from = 0;
        for &end in &ends {
            black_box(
                json::claims(black_box(&payloads[from..end]), &[], limits.max_json_depth).is_ok(),
            );
            from = end;
        }
        times[2].push(per_token(start));

        let start = Instant::now();
        for (seg, signature) in segments.iter().zip(&signatures) {
            black_box(
                key.verify(Algorithm::HS256, black_box(seg.signing_input), signature)
                    .is_ok(),
            );
        }
        times[3].push(per_token(start));
    }
    let [split, base64, claims, hmac] = times.map(|mut t| {
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    });
    Ok(StageCosts {
        split,
        base64,
        claims,
        hmac,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_measured_for_valid_tokens_only() {
        let key = KeyEntry::new(b"secret-of-at-least-32-bytes-long!!");
        let header = br#"{"alg":"HS256","typ":"JWT"}"#;
        let good = jws::sign_compact(
            &key,
            Algorithm::HS256,
            header,
            br#"{"sub":"a","exp":2,"aud":"api","iss":"https://idp"}"#,
            false,
        )
        .unwrap()
        .into_bytes();
        let costs = hs256_stages(
            &[&good[..], &good[..]],
            b"secret-of-at-least-32-bytes-long!!",
            2,
        )
        .unwrap();
        for c in [costs.split, costs.base64, costs.claims, costs.hmac] {
            assert!(c.is_finite() && c >= 0.0);
        }
        let err =
            hs256_stages(&[&good[..]], b"another-secret-of-at-least-32-bytes", 1).unwrap_err();
        assert!(
            err.contains("token 0") && err.contains("signature"),
            "{err}"
        );
        let err = hs256_stages(
            &[&good[..], b"a.b"],
            b"secret-of-at-least-32-bytes-long!!",
            1,
        )
        .unwrap_err();
        assert!(err.contains("token 1"), "{err}");
    }
}
