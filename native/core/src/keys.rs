//! Parsed keys. A [`KeyEntry`] wraps the key material a caller passed (a secret, PEM, DER,
//! OpenSSH line) and lazily derives what each algorithm family needs: HMAC states, the
//! HMAC-refusal verdict, aws-lc parsed public keys per algorithm, and a signing key.
//! Everything derived is computed once and kept, so a cached entry verifies with no parsing.

use std::sync::OnceLock;

use crate::hmac::HmacKey;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaKeyPair, VerificationAlgorithm,
};

use crate::alg::{Algorithm, Curve, Family, Hash, ALL};
use crate::{der, pem};

/// Why the native core cannot use a key for an algorithm. Each case is handed to the
/// Python reference path, which produces PyJWT's exact exception (or handles the key
/// through pyca/cryptography when aws-lc cannot, e.g. Ed448 or 1024-bit RSA-PSS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyProblem {
    /// The material is not a key the core parses, or is the wrong type or curve.
    Unsupported,
    /// An HMAC secret that PyJWT refuses: the message for `InvalidKeyError`.
    HmacRefused(&'static str),
}

pub const HMAC_EMPTY: &str = "HMAC key must not be empty.";
pub const HMAC_ASYMMETRIC: &str = "The specified key is an asymmetric key or x509 certificate and should not be used as an HMAC secret.";
pub const HMAC_JWK: &str = "The specified key looks like a JWK and should not be used directly as an HMAC secret. Load it via PyJWK / HMACAlgorithm.from_jwk first.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsymKind {
    Rsa { bits: usize },
    Ec(Curve),
    Ed25519,
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// An RSA, EC or Ed25519 key, public or private.
pub struct AsymKey {
    pub kind: AsymKind,
    pub is_private: bool,
    /// Public key bytes in a form `ParsedPublicKey` takes (SPKI, PKCS#1, SEC1 point or raw).
    public: Vec<u8>,
    signer: Option<Signer>,
    verifiers: [OnceLock<Option<ParsedPublicKey>>; ALL.len()],
}

impl AsymKey {
    fn new(kind: AsymKind, public: Vec<u8>, signer: Option<Signer>) -> Self {
        AsymKey {
            kind,
            is_private: signer.is_some(),
            public,
            signer,
            verifiers: Default::default(),
        }
    }

    /// Whether this key can serve `alg` natively (type, curve and aws-lc's size limits).
    pub fn fits(&self, alg: Algorithm) -> bool {
        verification_algorithm(self.kind, alg).is_some()
    }

    fn verifier(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.verifiers[alg.index()]
            .get_or_init(|| {
                let v = verification_algorithm(self.kind, alg)?;
                ParsedPublicKey::new(v, &self.public).ok()
            })
            .as_ref()
    }

    pub fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<bool, KeyProblem> {
        let v = self.verifier(alg).ok_or(KeyProblem::Unsupported)?;
        Ok(v.verify_sig(msg, sig).is_ok())
    }

    pub fn sign(&self, alg: Algorithm, msg: &[u8]) -> Result<Vec<u8>, KeyProblem> {
        if !self.fits(alg) {
            return Err(KeyProblem::Unsupported);
        }
        let rng = SystemRandom::new();
        match (&self.signer, alg.family()) {
            (Some(Signer::Rsa(kp)), Family::Rsa | Family::RsaPss) => {
                let encoding: &'static dyn signature::RsaEncoding = match alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let mut out = vec![0u8; kp.public_modulus_len()];
                kp.sign(encoding, &rng, msg, &mut out)
                    .map_err(|_| KeyProblem::Unsupported)?;
                Ok(out)
            }
            (Some(Signer::Ec(kp)), Family::Ec) => Ok(kp
                .sign(&rng, msg)
                .map_err(|_| KeyProblem::Unsupported)?
                .as_ref()
                .to_vec()),
            (Some(Signer::Ed25519(kp)), Family::Okp) => Ok(kp.sign(msg).as_ref().to_vec()),
            _ => Err(KeyProblem::Unsupported),
        }
    }

    /// PyJWT's `check_key_length` message for this key (RSA under 2048 bits).
    pub fn key_length_warning(&self) -> Option<String> {
        match self.kind {
            AsymKind::Rsa { bits } if bits < 2048 => Some(format!(
                "The RSA key is {bits} bits long, which is below the minimum recommended size of 2048 bits. See NIST SP 800-131A."
            )),
            _ => None,
        }
    }
}

fn verification_algorithm(
    kind: AsymKind,
    alg: Algorithm,
) -> Option<&'static dyn VerificationAlgorithm> {
    use Algorithm::{
        EdDSA, ES256, ES256K, ES384, ES512, ES521, PS256, PS384, PS512, RS256, RS384, RS512,
    };
    Some(match (kind, alg) {
        (AsymKind::Rsa { bits }, _) if !(1024..=8192).contains(&bits) => return None,
        (AsymKind::Rsa { bits }, RS256) if bits < 2048 => {
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
        }
        (AsymKind::Rsa { bits }, RS512) if bits < 2048 => {
            &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY
        }
        (AsymKind::Rsa { bits }, _) if bits < 2048 => return None,
        (AsymKind::Rsa { .. }, RS256) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (AsymKind::Rsa { .. }, RS384) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (AsymKind::Rsa { .. }, RS512) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (AsymKind::Rsa { .. }, PS256) => &signature::RSA_PSS_2048_8192_SHA256,
        (AsymKind::Rsa { .. }, PS384) => &signature::RSA_PSS_2048_8192_SHA384,
        (AsymKind::Rsa { .. }, PS512) => &signature::RSA_PSS_2048_8192_SHA512,
        (AsymKind::Ec(Curve::P256), ES256) => &signature::ECDSA_P256_SHA256_FIXED,
        (AsymKind::Ec(Curve::Secp256k1), ES256K) => &signature::ECDSA_P256K1_SHA256_FIXED,
        (AsymKind::Ec(Curve::P384), ES384) => &signature::ECDSA_P384_SHA384_FIXED,
        (AsymKind::Ec(Curve::P521), ES512 | ES521) => &signature::ECDSA_P521_SHA512_FIXED,
        (AsymKind::Ed25519, EdDSA) => &signature::ED25519,
        _ => return None,
    })
}

fn ecdsa_signing(curve: Curve) -> &'static signature::EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::Secp256k1 => &signature::ECDSA_P256K1_SHA256_FIXED_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
    }
}

fn curve_from_oid(oid: &[u8]) -> Option<Curve> {
    match oid {
        der::OID_P256 => Some(Curve::P256),
        der::OID_P384 => Some(Curve::P384),
        der::OID_P521 => Some(Curve::P521),
        der::OID_SECP256K1 => Some(Curve::Secp256k1),
        _ => None,
    }
}

/// A public key from a SubjectPublicKeyInfo DER.
fn from_spki(spki_der: &[u8]) -> Option<AsymKey> {
    let info = der::spki(spki_der)?;
    let kind = match info.alg.oid {
        der::OID_RSA => AsymKind::Rsa {
            bits: der::rsa_public_modulus_bits(info.key)?,
        },
        der::OID_EC_PUBLIC_KEY => AsymKind::Ec(curve_from_oid(info.alg.param_oid?)?),
        der::OID_ED25519 => AsymKind::Ed25519,
        _ => return None,
    };
    let key = AsymKey::new(kind, spki_der.to_vec(), None);
    key_is_valid(&key).then_some(key)
}

/// Parse once for some algorithm the key fits, so malformed points or moduli are refused
/// up front (as pyca/cryptography does when loading) rather than at verify time.
fn key_is_valid(key: &AsymKey) -> bool {
    ALL.iter()
        .any(|&a| key.fits(a) && key.verifier(a).is_some())
}

fn from_rsa_keypair(kp: RsaKeyPair) -> Option<AsymKey> {
    let public = kp.public_key().as_ref().to_vec();
    let bits = der::rsa_public_modulus_bits(&public)?;
    Some(AsymKey::new(
        AsymKind::Rsa { bits },
        public,
        Some(Signer::Rsa(kp)),
    ))
}

fn from_ec_keypair(curve: Curve, kp: EcdsaKeyPair) -> AsymKey {
    let public = kp.public_key().as_ref().to_vec();
    AsymKey::new(AsymKind::Ec(curve), public, Some(Signer::Ec(kp)))
}

fn from_pkcs8(pkcs8_der: &[u8]) -> Option<AsymKey> {
    let info = der::pkcs8(pkcs8_der)?;
    match info.alg.oid {
        der::OID_RSA => from_rsa_keypair(RsaKeyPair::from_pkcs8(pkcs8_der).ok()?),
        der::OID_EC_PUBLIC_KEY => {
            let curve = curve_from_oid(info.alg.param_oid?)?;
            let kp = EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), pkcs8_der).ok()?;
            Some(from_ec_keypair(curve, kp))
        }
        der::OID_ED25519 => {
            let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8_der).ok()?;
            let public = kp.public_key().as_ref().to_vec();
            Some(AsymKey::new(
                AsymKind::Ed25519,
                public,
                Some(Signer::Ed25519(kp)),
            ))
        }
        _ => None,
    }
}

fn from_sec1(sec1_der: &[u8]) -> Option<AsymKey> {
    let curve = curve_from_oid(der::sec1_curve_oid(sec1_der)?)?;
    let kp = EcdsaKeyPair::from_private_key_der(ecdsa_signing(curve), sec1_der).ok()?;
    Some(from_ec_keypair(curve, kp))
}

fn from_ssh(line: &[u8]) -> Option<AsymKey> {
    let (kind, public) = match pem::parse_ssh_public_key(line)? {
        pem::SshKey::Rsa { e, n } => {
            let der = der::rsa_public_key_der(&n, &e);
            (
                AsymKind::Rsa {
                    bits: der::rsa_public_modulus_bits(&der)?,
                },
                der,
            )
        }
        pem::SshKey::Ecdsa { curve, point } => {
            let c = match curve {
                "P-256" => Curve::P256,
                "P-384" => Curve::P384,
                _ => Curve::P521,
            };
            (AsymKind::Ec(c), point)
        }
        pem::SshKey::Ed25519 { key } if key.len() == 32 => (AsymKind::Ed25519, key),
        pem::SshKey::Ed25519 { .. } => return None,
    };
    let key = AsymKey::new(kind, public, None);
    key_is_valid(&key).then_some(key)
}

/// Parses PEM (SPKI, PKCS#1, PKCS#8, SEC1, X.509 certificate), DER (SPKI, certificate,
/// PKCS#8) or an OpenSSH public key line. `None`: not a key the core handles natively.
pub fn parse_asymmetric(material: &[u8]) -> Option<AsymKey> {
    if pem::is_ssh_key(material) {
        return from_ssh(material);
    }
    if let Some(block) = pem::first_block(material) {
        if block.has_headers {
            return None; // legacy encrypted PEM: left to pyca/cryptography
        }
        return match block.label {
            "PUBLIC KEY" => from_spki(&block.der),
            "RSA PUBLIC KEY" => {
                let bits = der::rsa_public_modulus_bits(&block.der)?;
                let key = AsymKey::new(AsymKind::Rsa { bits }, block.der, None);
                key_is_valid(&key).then_some(key)
            }
            "CERTIFICATE" => from_spki(der::certificate_spki(&block.der)?),
            "PRIVATE KEY" => from_pkcs8(&block.der),
            "RSA PRIVATE KEY" => from_rsa_keypair(RsaKeyPair::from_der(&block.der).ok()?),
            "EC PRIVATE KEY" => from_sec1(&block.der),
            _ => None,
        };
    }
    from_spki(material)
        .or_else(|| der::certificate_spki(material).and_then(from_spki))
        .or_else(|| from_pkcs8(material))
}

/// PyJWT's `_is_der_key`: a DER public key (SPKI or PKCS#1) or a DER X.509 certificate.
/// Judged by structure alone, so any key type and size counts (refusing more than PyJWT
/// here only ever refuses a secret, never accepts a forged token).
fn is_der_public_key_or_certificate(material: &[u8]) -> bool {
    der::spki(material).is_some()
        || der::rsa_public_modulus_bits(material).is_some()
        || der::certificate_spki(material).is_some()
}

/// PyJWT refuses an HMAC secret that looks like a JWK: JSON in which some object has a
/// `kty` member, as `json.loads(bytes)` reads it (UTF-8, -16 or -32 detected as Python does,
/// lone surrogates and integers of any size accepted). JSON that Python reads but the
/// parser here does not (too deep, an integer out of range, a lone surrogate) is judged by
/// its member names; too deep as PyJWT judges JSON past Python's recursion limit.
fn looks_like_jwk(material: &[u8]) -> bool {
    let text = python_json_text(material);
    match jiter::JsonValue::parse(text.as_bytes(), true) {
        Ok(v) => json_has_kty(&v),
        Err(e) => match e.error_type {
            jiter::JsonErrorType::RecursionLimitExceeded => {
                let stripped = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
                stripped.starts_with('{') || (stripped.starts_with('[') && has_kty_member(&text))
            }
            jiter::JsonErrorType::NumberOutOfRange
            | jiter::JsonErrorType::LoneLeadingSurrogateInHexEscape
            | jiter::JsonErrorType::UnexpectedEndOfHexEscape
            | jiter::JsonErrorType::InvalidUnicodeCodePoint => has_kty_member(&text),
            _ => false,
        },
    }
}

/// The text `json.loads(material)` parses: the encoding picked as `json.detect_encoding`
/// picks it (a BOM, else where the zero bytes stand), decoded with every code unit Python
/// would let through (`surrogatepass`) kept as U+FFFD, so that no encoding trick hides JSON.
fn python_json_text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    enum Enc {
        Utf8,
        Utf16 { be: bool },
        Utf32 { be: bool },
    }
    let (enc, body) = if let Some(r) = b.strip_prefix(b"\x00\x00\xfe\xff") {
        (Enc::Utf32 { be: true }, r)
    } else if let Some(r) = b.strip_prefix(b"\xff\xfe\x00\x00") {
        (Enc::Utf32 { be: false }, r)
    } else if let Some(r) = b.strip_prefix(b"\xfe\xff") {
        (Enc::Utf16 { be: true }, r)
    } else if let Some(r) = b.strip_prefix(b"\xff\xfe") {
        (Enc::Utf16 { be: false }, r)
    } else if let Some(r) = b.strip_prefix(b"\xef\xbb\xbf") {
        (Enc::Utf8, r)
    } else if b.len() >= 4 && b[0] == 0 {
        (
            if b[1] != 0 {
                Enc::Utf16 { be: true }
            } else {
                Enc::Utf32 { be: true }
            },
            b,
        )
    } else if b.len() >= 4 && b[1] == 0 {
        (
            if b[2] != 0 || b[3] != 0 {
                Enc::Utf16 { be: false }
            } else {
                Enc::Utf32 { be: false }
            },
            b,
        )
    } else if b.len() == 2 && b[0] == 0 {
        (Enc::Utf16 { be: true }, b)
    } else if b.len() == 2 && b[1] == 0 {
        (Enc::Utf16 { be: false }, b)
    } else {
        (Enc::Utf8, b)
    };
    match enc {
        Enc::Utf8 => String::from_utf8_lossy(body),
        Enc::Utf16 { be } => {
            let units = body.chunks_exact(2).map(|u| {
                let u = [u[0], u[1]];
                if be {
                    u16::from_be_bytes(u)
                } else {
                    u16::from_le_bytes(u)
                }
            });
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect::<String>()
                .into()
        }
        Enc::Utf32 { be } => body
            .chunks_exact(4)
            .map(|u| {
                let u = [u[0], u[1], u[2], u[3]];
                let v = if be {
                    u32::from_be_bytes(u)
                } else {
                    u32::from_le_bytes(u)
                };
                char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect::<String>()
            .into(),
    }
}

fn json_has_kty(v: &jiter::JsonValue<'_>) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            jiter::JsonValue::Object(o) => {
                if o.iter().any(|(k, _)| k == "kty") {
                    return true;
                }
                stack.extend(o.iter().map(|(_, v)| v));
            }
            jiter::JsonValue::Array(a) => stack.extend(a.iter()),
            _ => {}
        }
    }
    false
}

/// Whether some JSON string `"kty"` stands as an object member name (followed by `:`).
fn has_kty_member(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < b.len() && b[end] != b'"' {
            end += if b[end] == b'\\' { 2 } else { 1 };
        }
        if end >= b.len() {
            break;
        }
        let mut next = end + 1;
        while next < b.len() && matches!(b[next], b' ' | b'\t' | b'\r' | b'\n') {
            next += 1;
        }
        if next < b.len() && b[next] == b':' {
            if let Ok(jiter::JsonValue::Str(k)) = jiter::JsonValue::parse(&b[i..=end], false) {
                if k == "kty" {
                    return true;
                }
            }
        }
        i = end + 1;
    }
    false
}

fn hash_slot(hash: Hash) -> usize {
    match hash {
        Hash::Sha256 => 0,
        Hash::Sha384 => 1,
        Hash::Sha512 => 2,
    }
}

/// Key material and everything derived from it, built on first use.
pub struct KeyEntry {
    material: Box<[u8]>,
    hmac_refusal: OnceLock<Option<&'static str>>,
    hmac_keys: [OnceLock<HmacKey>; 3],
    asym: OnceLock<Option<AsymKey>>,
}

impl KeyEntry {
    pub fn new(material: &[u8]) -> Self {
        KeyEntry {
            material: material.into(),
            hmac_refusal: OnceLock::new(),
            hmac_keys: Default::default(),
            asym: OnceLock::new(),
        }
    }

    pub fn material(&self) -> &[u8] {
        &self.material
    }

    /// PyJWT's `HMACAlgorithm.prepare_key` verdict, computed once per key.
    pub fn hmac_refusal(&self) -> Option<&'static str> {
        *self.hmac_refusal.get_or_init(|| {
            let m = &self.material[..];
            if m.is_empty() {
                Some(HMAC_EMPTY)
            } else if pem::is_pem_format(m)
                || pem::is_ssh_key(m)
                || is_der_public_key_or_certificate(m)
            {
                Some(HMAC_ASYMMETRIC)
            } else if looks_like_jwk(m) {
                Some(HMAC_JWK)
            } else {
                None
            }
        })
    }

    /// The precomputed HMAC key (inner and outer hash states) for `hash`.
    pub fn hmac_key(&self, hash: Hash) -> &HmacKey {
        self.hmac_keys[hash_slot(hash)].get_or_init(|| HmacKey::new(hash, &self.material))
    }

    pub fn asymmetric(&self) -> Option<&AsymKey> {
        self.asym
            .get_or_init(|| parse_asymmetric(&self.material))
            .as_ref()
    }

    /// The key prepared for `alg`, or why the core cannot use it.
    pub fn check(&self, alg: Algorithm) -> Result<(), KeyProblem> {
        match alg.family() {
            Family::Hmac => match self.hmac_refusal() {
                Some(msg) => Err(KeyProblem::HmacRefused(msg)),
                None => Ok(()),
            },
            Family::None => Err(KeyProblem::Unsupported),
            // Parsed for this algorithm here, so that verify() cannot find a problem later.
            _ => match self.asymmetric() {
                Some(k) if k.verifier(alg).is_some() => Ok(()),
                _ => Err(KeyProblem::Unsupported),
            },
        }
    }

    /// PyJWT's `check_key_length` message for this key and algorithm, if any.
    pub fn key_length_warning(&self, alg: Algorithm) -> Option<String> {
        match alg.family() {
            Family::Hmac => {
                let hash = alg.hash()?;
                let min = hash.digest_len();
                (self.material.len() < min).then(|| {
                    format!(
                        "The HMAC key is {} bytes long, which is below the minimum recommended length of {} bytes for {}. See RFC 7518 Section 3.2.",
                        self.material.len(),
                        min,
                        hash.name()
                    )
                })
            }
            Family::None => None,
            _ => self.asymmetric()?.key_length_warning(),
        }
    }

    /// Verifies `sig` over `msg`; call [`KeyEntry::check`] first.
    pub fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<bool, KeyProblem> {
        match alg.family() {
            Family::Hmac => {
                self.check(alg)?;
                Ok(self.hmac_key(alg.hash().unwrap()).verify(msg, sig))
            }
            Family::None => Err(KeyProblem::Unsupported),
            _ => self
                .asymmetric()
                .ok_or(KeyProblem::Unsupported)?
                .verify(alg, msg, sig),
        }
    }

    pub fn sign(&self, alg: Algorithm, msg: &[u8]) -> Result<Vec<u8>, KeyProblem> {
        match alg.family() {
            Family::Hmac => {
                self.check(alg)?;
                Ok(self
                    .hmac_key(alg.hash().unwrap())
                    .sign(msg)
                    .as_ref()
                    .to_vec())
            }
            Family::None => Err(KeyProblem::Unsupported),
            _ => {
                let k = self.asymmetric().ok_or(KeyProblem::Unsupported)?;
                if !k.is_private {
                    return Err(KeyProblem::Unsupported);
                }
                k.sign(alg, msg)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_refusals() {
        assert_eq!(KeyEntry::new(b"").hmac_refusal(), Some(HMAC_EMPTY));
        assert_eq!(
            KeyEntry::new(b"ssh-rsa AAAA").hmac_refusal(),
            Some(HMAC_ASYMMETRIC)
        );
        assert_eq!(
            KeyEntry::new(br#"{"kty":"oct","k":"c2VjcmV0"}"#).hmac_refusal(),
            Some(HMAC_JWK)
        );
        assert_eq!(
            KeyEntry::new(br#"[{"a":{"kty":1}}]"#).hmac_refusal(),
            Some(HMAC_JWK)
        );
        assert_eq!(KeyEntry::new(br#"{"a":1}"#).hmac_refusal(), None);
        assert_eq!(KeyEntry::new(b"secret").hmac_refusal(), None);
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        assert_eq!(KeyEntry::new(deep.as_bytes()).hmac_refusal(), None);
        let deep_obj = format!("{}1{}", "{\"a\":".repeat(500), "}".repeat(500));
        assert_eq!(
            KeyEntry::new(deep_obj.as_bytes()).hmac_refusal(),
            Some(HMAC_JWK)
        );
    }

    /// Every text `json.loads(bytes)` reads as a JWK is refused, whatever its encoding,
    /// surrogates or integer sizes (an accepted one would be a public key used as a secret).
    #[test]
    fn jwk_text_refused_in_every_encoding_python_reads() {
        let jwk = r#"{"kty":"RSA","n":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","e":"AQAB"}"#;
        let utf16 = |be: bool, bom: bool| -> Vec<u8> {
            let mut out = Vec::new();
            if bom {
                out.extend(if be { [0xfe, 0xff] } else { [0xff, 0xfe] });
            }
            for u in jwk.encode_utf16() {
                out.extend(if be { u.to_be_bytes() } else { u.to_le_bytes() });
            }
            out
        };
        let utf32 = |be: bool, bom: bool| -> Vec<u8> {
            let mut out = Vec::new();
            let mut chars: Vec<u32> = jwk.chars().map(u32::from).collect();
            if bom {
                chars.insert(0, 0xfeff);
            }
            for c in chars {
                out.extend(if be { c.to_be_bytes() } else { c.to_le_bytes() });
            }
            out
        };
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for be in [true, false] {
            for bom in [true, false] {
                texts.push(utf16(be, bom));
                texts.push(utf32(be, bom));
            }
        }
        texts.push(br#"{"kty":"oct","x":"\ud800"}"#.to_vec());
        texts.push(br#"{"x":"\udc00","kty":"oct"}"#.to_vec());
        texts.push(br#"{"x":"\ud800\u0041","kty":"oct"}"#.to_vec());
        texts.push(format!(r#"{{"kty":"oct","n":{}}}"#, "9".repeat(5000)).into_bytes());
        texts.push(format!(r#"[{{"kty":"oct"}},-{}]"#, "1".repeat(5000)).into_bytes());
        // UTF-8 with an encoded surrogate (Python's surrogatepass lets it through)
        texts.push(b"{\"x\":\"\xed\xa0\x80\",\"kty\":\"oct\"}".to_vec());
        // UTF-16 with a raw lone surrogate
        let mut raw = Vec::new();
        for u in r#"{"kty":"oct","x":""#.encode_utf16().chain([0xd800]).chain("\"}".encode_utf16())
        {
            raw.extend(u.to_le_bytes());
        }
        texts.push(raw);
        for t in &texts {
            assert_eq!(KeyEntry::new(t).hmac_refusal(), Some(HMAC_JWK), "{t:?}");
        }
        // Still secrets: not JSON, or JSON without a kty member.
        for t in [
            &b"\x00\x01\x02\x03kty"[..],
            br#"{"x":"\ud800"}"#,
            br#"{"kty"  "#,
            "ab".encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<_>>()
                .leak(),
        ] {
            assert_eq!(KeyEntry::new(t).hmac_refusal(), None, "{t:?}");
        }
    }

    #[test]
    fn hmac_verify_and_sign_agree() {
        let k = KeyEntry::new(b"0123456789abcdef0123456789abcdef");
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let sig = k.sign(alg, b"msg").unwrap();
            assert_eq!(sig.len(), alg.hash().unwrap().digest_len());
            assert_eq!(k.verify(alg, b"msg", &sig), Ok(true));
            assert_eq!(k.verify(alg, b"msg2", &sig), Ok(false));
            assert_eq!(k.verify(alg, b"msg", &sig[..sig.len() - 1]), Ok(false));
        }
        assert!(k.key_length_warning(Algorithm::HS512).is_some());
        assert!(k.key_length_warning(Algorithm::HS256).is_none());
    }

    #[test]
    fn generated_keys_sign_and_verify() {
        use aws_lc_rs::encoding::AsDer;
        let rng = SystemRandom::new();
        let ed = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let entry = KeyEntry::new(ed.as_ref());
        let sig = entry.sign(Algorithm::EdDSA, b"m").unwrap();
        assert_eq!(entry.verify(Algorithm::EdDSA, b"m", &sig), Ok(true));
        assert_eq!(entry.check(Algorithm::ES256), Err(KeyProblem::Unsupported));

        let ec = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let entry = KeyEntry::new(ec.as_ref());
        let sig = entry.sign(Algorithm::ES256, b"m").unwrap();
        assert_eq!(sig.len(), 64);
        assert_eq!(entry.verify(Algorithm::ES256, b"m", &sig), Ok(true));
        assert_eq!(
            entry.check(Algorithm::ES384),
            Err(KeyProblem::Unsupported),
            "curve bound to alg"
        );
        // the public half alone, as SPKI DER
        let kp = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, ec.as_ref())
            .unwrap();
        let spki = kp.public_key().as_der().unwrap();
        let public = KeyEntry::new(spki.as_ref());
        assert_eq!(public.verify(Algorithm::ES256, b"m", &sig), Ok(true));
        assert_eq!(
            public.sign(Algorithm::ES256, b"m"),
            Err(KeyProblem::Unsupported)
        );
        assert_eq!(
            public.hmac_refusal(),
            Some(HMAC_ASYMMETRIC),
            "DER public key is not an HMAC secret"
        );
    }
}
