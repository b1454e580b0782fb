//! turbojwt's core: compact JWS parsing, signature verification and signing with aws-lc,
//! key parsing and caching, and JWT claim validation. Pure Rust; the Python bindings live
//! in the `turbojwt-python` crate.

pub mod alg;
#[cfg(feature = "arrow")]
pub mod arrow;
pub mod b64;
pub mod batch;
pub mod cache;
pub mod claims;
pub mod der;
pub mod error;
#[cfg(any(test, feature = "bench"))]
pub mod floor;
pub mod hmac;
pub mod json;
pub mod jwk;
pub mod jws;
pub mod keys;
pub mod keyset;
pub mod logs;
pub mod pem;
pub mod pyfmt;
pub mod time;
pub mod verifier;
pub mod verify;

pub use alg::{Algorithm, AlgorithmSet};
pub use error::{ErrorKind, JwtError, Result};
