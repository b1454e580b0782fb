//! JSON Web Keys (RFC 7517/7518/8037) to key material the rest of the core parses:
//! public RSA/EC/OKP keys become SubjectPublicKeyInfo DER, `oct` keys their secret bytes.

use jiter::JsonValue;

use crate::alg::Curve;
use crate::der;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    /// SPKI DER (RSA, EC, OKP public keys) or the raw secret (`oct`).
    pub material: Vec<u8>,
    pub kty: String,
    pub kid: Option<String>,
    pub alg: Option<String>,
    /// `use`, e.g. "sig" or "enc".
    pub public_key_use: Option<String>,
    pub key_ops: Option<Vec<String>>,
    /// `crv` of an EC or OKP key.
    pub crv: Option<String>,
    /// The modulus and public exponent of an RSA key (big-endian), for a key set's checks.
    pub rsa: Option<(Vec<u8>, Vec<u8>)>,
}

impl Jwk {
    pub fn is_secret(&self) -> bool {
        self.kty == "oct"
    }
}

fn member<'a, 'j>(obj: &'a jiter::JsonObject<'j>, name: &str) -> Option<&'a JsonValue<'j>> {
    obj.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn string(obj: &jiter::JsonObject<'_>, name: &str) -> Result<Option<String>, String> {
    match member(obj, name) {
        None => Ok(None),
        Some(JsonValue::Str(s)) => Ok(Some(s.to_string())),
        Some(_) => Err(format!("JWK member \"{name}\" must be a string")),
    }
}

fn b64_member(obj: &jiter::JsonObject<'_>, name: &str) -> Result<Vec<u8>, String> {
    let s = string(obj, name)?.ok_or_else(|| format!("JWK is missing \"{name}\""))?;
    pyjwt_b64url_decode(s.as_bytes())
        .ok_or_else(|| format!("JWK member \"{name}\" is not base64url"))
}

/// PyJWT's `base64url_decode` of a JWK member (`urlsafe_b64decode` after padding): both
/// alphabets, other characters and `=` skipped, unused trailing bits ignored. A key is the
/// key set's owner's, not a token's: it is read as PyJWK reads it, so that a set is judged as
/// turbojwt's Python `KeySet` judges it (tokens stay strict, `b64.rs`).
fn pyjwt_b64url_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits, mut count) = (0u32, 0u32, 0usize);
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        count += 1;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // One character left over is no byte at all: Python says "Invalid base64".
    (count % 4 != 1).then_some(out)
}

/// Parses one JWK. Private members (`d`, ...) are not read: the core verifies with public
/// keys, and signing keys come as PEM/DER.
pub fn parse(json: &[u8]) -> Result<Jwk, String> {
    let value = JsonValue::parse(json, false)
        .map_err(|e| format!("JWK is not valid JSON: {}", e.error_type))?;
    parse_value(&value)
}

/// [`parse`] for a JWK already read as JSON (a member of a JWK Set).
pub fn parse_value(value: &JsonValue<'_>) -> Result<Jwk, String> {
    let JsonValue::Object(obj) = value else {
        return Err("JWK must be a JSON object".into());
    };
    let kty = string(obj, "kty")?.ok_or("JWK is missing \"kty\"")?;
    let mut rsa = None;
    let material = match kty.as_str() {
        "RSA" => {
            let n = b64_member(obj, "n")?;
            let e = b64_member(obj, "e")?;
            let spki = der::spki_der(der::OID_RSA, None, true, &der::rsa_public_key_der(&n, &e));
            rsa = Some((n, e));
            spki
        }
        "EC" => {
            let crv = string(obj, "crv")?.ok_or("JWK is missing \"crv\"")?;
            let (curve, oid) = match crv.as_str() {
                "P-256" => (Curve::P256, der::OID_P256),
                "P-384" => (Curve::P384, der::OID_P384),
                "P-521" => (Curve::P521, der::OID_P521),
                "secp256k1" => (Curve::Secp256k1, der::OID_SECP256K1),
                other => return Err(format!("Invalid curve: {other}")),
            };
            let x = b64_member(obj, "x")?;
            let y = b64_member(obj, "y")?;
            if x.len() != curve.scalar_len() || y.len() != curve.scalar_len() {
                return Err(format!(
                    "Coords should be {} bytes for curve {crv}",
                    curve.scalar_len()
                ));
            }
            let mut point = Vec::with_capacity(1 + 2 * x.len());
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            der::spki_der(der::OID_EC_PUBLIC_KEY, Some(oid), false, &point)
        }
        "OKP" => {
            let crv = string(obj, "crv")?.ok_or("JWK is missing \"crv\"")?;
            if crv != "Ed25519" {
                return Err(format!("Unsupported OKP curve: {crv}"));
            }
            let x = b64_member(obj, "x")?;
            if x.len() != 32 {
                return Err("Ed25519 public key must be 32 bytes".into());
            }
            der::spki_der(der::OID_ED25519, None, false, &x)
        }
        "oct" => {
            let k = b64_member(obj, "k")?;
            if k.is_empty() {
                return Err("HMAC key must not be empty.".into());
            }
            k
        }
        other => return Err(format!("Unsupported kty: {other}")),
    };
    let key_ops = match member(obj, "key_ops") {
        None => None,
        Some(JsonValue::Array(a)) => Some(
            a.iter()
                .map(|v| match v {
                    JsonValue::Str(s) => Ok(s.to_string()),
                    _ => Err("JWK member \"key_ops\" must hold strings".to_string()),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err("JWK member \"key_ops\" must be an array".into()),
    };
    Ok(Jwk {
        material,
        kty,
        kid: string(obj, "kid")?,
        alg: string(obj, "alg")?,
        public_key_use: string(obj, "use")?,
        key_ops,
        crv: string(obj, "crv").ok().flatten(),
        rsa,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alg::Algorithm;
    use crate::b64;
    use crate::keys::KeyEntry;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    #[test]
    fn ec_and_okp_jwks_verify_what_their_private_keys_sign() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let signer = KeyEntry::new(pkcs8.as_ref());
        let kp =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
                .unwrap();
        let point = kp.public_key().as_ref();
        let jwk = format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}","kid":"k1","use":"sig"}}"#,
            b64::encode(&point[1..33]),
            b64::encode(&point[33..])
        );
        let parsed = parse(jwk.as_bytes()).unwrap();
        assert_eq!(parsed.kid.as_deref(), Some("k1"));
        let verifier = KeyEntry::new(&parsed.material);
        let sig = signer.sign(Algorithm::ES256, b"msg").unwrap();
        assert_eq!(verifier.verify(Algorithm::ES256, b"msg", &sig), Ok(true));
        assert_eq!(verifier.verify(Algorithm::ES256, b"msh", &sig), Ok(false));

        let ed = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let signer = KeyEntry::new(ed.as_ref());
        let pk = Ed25519KeyPair::from_pkcs8(ed.as_ref()).unwrap();
        let jwk = format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
            b64::encode(pk.public_key().as_ref())
        );
        let verifier = KeyEntry::new(&parse(jwk.as_bytes()).unwrap().material);
        let sig = signer.sign(Algorithm::EdDSA, b"m").unwrap();
        assert_eq!(verifier.verify(Algorithm::EdDSA, b"m", &sig), Ok(true));
    }

    #[test]
    fn rsa_jwk_verifies_what_its_private_key_signs() {
        use aws_lc_rs::encoding::AsDer;
        let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = kp.as_der().unwrap();
        let signer = KeyEntry::new(pkcs8.as_ref());
        // n and e out of the PKCS#1 RSAPublicKey DER.
        let public = kp.public_key().as_ref().to_vec();
        let seq = der::expect(&public, der::TAG_SEQUENCE).unwrap();
        let n = der::expect(seq.content, der::TAG_INTEGER).unwrap();
        let e = der::expect(n.rest, der::TAG_INTEGER).unwrap();
        let jwk = format!(
            r#"{{"kty":"RSA","n":"{}","e":"{}","alg":"RS256"}}"#,
            b64::encode(n.content.strip_prefix(&[0]).unwrap_or(n.content)),
            b64::encode(e.content)
        );
        let parsed = parse(jwk.as_bytes()).unwrap();
        assert_eq!(parsed.alg.as_deref(), Some("RS256"));
        let verifier = KeyEntry::new(&parsed.material);
        let sig = signer.sign(Algorithm::RS256, b"m").unwrap();
        assert_eq!(verifier.verify(Algorithm::RS256, b"m", &sig), Ok(true));
        assert!(verifier.check(Algorithm::ES256).is_err());
    }

    #[test]
    fn bad_jwks_refused_with_reasons() {
        assert!(parse(b"[]").unwrap_err().contains("object"));
        assert!(parse(br#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}"#)
            .unwrap_err()
            .contains("32 bytes"));
        assert!(parse(br#"{"kty":"oct","k":""}"#)
            .unwrap_err()
            .contains("empty"));
        assert!(parse(br#"{"kty":"XYZ"}"#)
            .unwrap_err()
            .contains("Unsupported kty"));
        assert!(parse(br#"{"n":"AQAB"}"#).unwrap_err().contains("kty"));
        assert_eq!(
            parse(br#"{"kty":"oct","k":"c2VjcmV0"}"#).unwrap().material,
            b"secret"
        );
        // As PyJWT reads it: padding, the other alphabet, unused bits that are not zero.
        for (k, want) in [
            ("c2VjcmV0", &b"secret"[..]),
            ("c2VjcmV0==", b"secret"),
            ("c2Vj\\ncmV0", b"secret"),
            ("c2VjcmU", b"secre"),
            ("c2VjcmV", b"secre"),
        ] {
            let jwk = format!(r#"{{"kty":"oct","k":"{k}"}}"#);
            assert_eq!(parse(jwk.as_bytes()).unwrap().material, want, "{k}");
        }
        assert_eq!(pyjwt_b64url_decode(b"-_+/"), Some(vec![0xfb, 0xff, 0xbf]));
        assert!(parse(br#"{"kty":"oct","k":"c2VjcmV0A"}"#).is_err());
    }
}
