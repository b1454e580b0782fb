//! Any bytes as a token: the core's whole verification sequence (split, base64url, header
//! JSON, algorithm policy, signature, claims) with an HMAC key and an Ed25519 key, through
//! the batch engine, must answer without panicking.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use turbojwt_core::batch::{At, BatchVerifier, KeyTable, Selection};
use turbojwt_core::claims::ClaimsPolicy;
use turbojwt_core::jws::Limits;
use turbojwt_core::keys::KeyEntry;
use turbojwt_core::verify::{DecodePolicy, KeyRef};
use turbojwt_core::{Algorithm, AlgorithmSet};

const ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
-----END PUBLIC KEY-----
"; // RFC 8037 A.2

fn verifiers() -> &'static [BatchVerifier; 2] {
    static V: OnceLock<[BatchVerifier; 2]> = OnceLock::new();
    V.get_or_init(|| {
        let make = |material: &[u8], algs: &[Algorithm]| {
            let mut set = AlgorithmSet::new();
            for a in algs {
                set.insert(*a);
            }
            BatchVerifier::new(
                KeyTable {
                    keys: vec![KeyRef { entry: Arc::new(KeyEntry::new(material)), bound: None, is_object: false }],
                    selection: Selection::One,
                },
                DecodePolicy {
                    verify_signature: true,
                    enforce_minimum_key_length: false,
                    algorithms: Some(set),
                    claims: ClaimsPolicy::default(),
                },
            )
        };
        [
            make(b"fuzzing-secret-fuzzing-secret-32", &[Algorithm::HS256, Algorithm::HS512]),
            make(ED25519_PUBLIC.as_bytes(), &[Algorithm::EdDSA, Algorithm::RS256, Algorithm::ES256]),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_token_length: 1 << 16, max_json_depth: 32 };
    for v in verifiers() {
        let chunks = v.verify(&[Some(data)], At::One(1.7e9), true, &limits, 1);
        assert_eq!(chunks.iter().map(|c| c.verdicts.len()).sum::<usize>(), 1);
    }
});
