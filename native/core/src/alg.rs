//! JWA algorithm names (RFC 7518, RFC 8037) as PyJWT registers them by default.

/// A signature algorithm turbojwt implements natively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Algorithm {
    HS256 = 0,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES256K,
    ES384,
    ES512,
    /// PyJWT's backward-compatible alias of ES512 (P-521 with SHA-512).
    ES521,
    EdDSA,
    None,
}

pub const ALL: [Algorithm; 16] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES256K,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::ES521,
    Algorithm::EdDSA,
    Algorithm::None,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Hmac,
    Rsa,
    RsaPss,
    Ec,
    Okp,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub fn digest_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Hash::Sha256 => "SHA256",
            Hash::Sha384 => "SHA384",
            Hash::Sha512 => "SHA512",
        }
    }
}

/// Elliptic curves a JWS key can live on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
    Secp256k1,
}

impl Curve {
    /// Bytes of one coordinate / scalar (r and s in a JWS signature each take this many).
    pub fn scalar_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
    /// The name cryptography uses (`key.curve.name`), which PyJWT puts in messages.
    pub fn openssl_name(self) -> &'static str {
        match self {
            Curve::P256 => "secp256r1",
            Curve::P384 => "secp384r1",
            Curve::P521 => "secp521r1",
            Curve::Secp256k1 => "secp256k1",
        }
    }
    pub fn jwk_name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::Secp256k1 => "secp256k1",
        }
    }
}

impl Algorithm {
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Some(match name {
            "HS256" => Algorithm::HS256,
            "HS384" => Algorithm::HS384,
            "HS512" => Algorithm::HS512,
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES256K" => Algorithm::ES256K,
            "ES384" => Algorithm::ES384,
            "ES512" => Algorithm::ES512,
            "ES521" => Algorithm::ES521,
            "EdDSA" => Algorithm::EdDSA,
            "none" => Algorithm::None,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES256K => "ES256K",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::ES521 => "ES521",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::None => "none",
        }
    }

    pub fn family(self) -> Family {
        use Algorithm::*;
        match self {
            HS256 | HS384 | HS512 => Family::Hmac,
            RS256 | RS384 | RS512 => Family::Rsa,
            PS256 | PS384 | PS512 => Family::RsaPss,
            ES256 | ES256K | ES384 | ES512 | ES521 => Family::Ec,
            EdDSA => Family::Okp,
            None => Family::None,
        }
    }

    pub fn hash(self) -> Option<Hash> {
        use Algorithm::*;
        match self {
            HS256 | RS256 | PS256 | ES256 | ES256K => Some(Hash::Sha256),
            HS384 | RS384 | PS384 | ES384 => Some(Hash::Sha384),
            HS512 | RS512 | PS512 | ES512 | ES521 => Some(Hash::Sha512),
            EdDSA | None => Option::None,
        }
    }

    /// The curve an EC algorithm requires (PyJWT checks it: ES256 with a P-384 key is refused).
    pub fn curve(self) -> Option<Curve> {
        use Algorithm::*;
        match self {
            ES256 => Some(Curve::P256),
            ES256K => Some(Curve::Secp256k1),
            ES384 => Some(Curve::P384),
            ES512 | ES521 => Some(Curve::P521),
            _ => Option::None,
        }
    }

    pub fn bit(self) -> u32 {
        1u32 << (self as u8)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A set of algorithm names as given by the caller (`algorithms=[...]`): known names as a
/// bitmask; unknown ones kept so that "allowed but not implemented" is told apart from
/// "not allowed" exactly as PyJWT does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlgorithmSet {
    known: u32,
    unknown: Vec<String>,
}

impl AlgorithmSet {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn insert_name(&mut self, name: &str) {
        match Algorithm::from_name(name) {
            Some(a) => self.known |= a.bit(),
            None => {
                if !self.unknown.iter().any(|u| u == name) {
                    self.unknown.push(name.to_owned())
                }
            }
        }
    }
    pub fn insert(&mut self, alg: Algorithm) {
        self.known |= alg.bit();
    }
    pub fn is_empty(&self) -> bool {
        self.known == 0 && self.unknown.is_empty()
    }
    pub fn contains(&self, alg: Algorithm) -> bool {
        self.known & alg.bit() != 0
    }
    pub fn contains_name(&self, name: &str) -> bool {
        match Algorithm::from_name(name) {
            Some(a) => self.contains(a),
            None => self.unknown.iter().any(|u| u == name),
        }
    }
    pub fn known(&self) -> impl Iterator<Item = Algorithm> + '_ {
        ALL.iter().copied().filter(move |a| self.contains(*a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
        }
        assert_eq!(Algorithm::from_name("hs256"), None);
        assert_eq!(Algorithm::from_name("None"), None);
    }

    #[test]
    fn set_membership() {
        let mut s = AlgorithmSet::new();
        s.insert_name("HS256");
        s.insert_name("XX1");
        assert!(s.contains_name("HS256"));
        assert!(s.contains_name("XX1"));
        assert!(!s.contains_name("HS384"));
        assert!(!s.contains(Algorithm::None));
        assert_eq!(s.known().collect::<Vec<_>>(), vec![Algorithm::HS256]);
    }
}
