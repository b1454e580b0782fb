//! Any bytes as claims JSON: the fast path must agree with the general parser whenever it
//! answers (it must never accept what the general parser refuses), and neither may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbojwt_core::json::{fast_claims, scan_claims};

fuzz_target!(|data: &[u8]| {
    let require = ["exp".to_string(), "sub".to_string()];
    for depth in [2, 8, 64] {
        let general = scan_claims(data, &require, depth);
        if let Some(fast) = fast_claims(data, &require, depth) {
            assert_eq!(Ok(fast), general);
        }
    }
});
