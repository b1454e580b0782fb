//! Any bytes as key material (PEM, DER, OpenSSH, JWK, secret): parsing it for every
//! algorithm and verifying with it must answer without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbojwt_core::alg::ALL;
use turbojwt_core::keys::KeyEntry;

fuzz_target!(|data: &[u8]| {
    let entry = KeyEntry::new(data);
    for alg in ALL {
        if entry.check(alg).is_ok() {
            let _ = entry.verify(alg, b"header.payload", &[0u8; 64]);
            let _ = entry.key_length_warning(alg);
        }
    }
    let _ = turbojwt_core::jwk::parse(data);
});
