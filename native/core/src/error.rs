//! Errors of the core, one kind per PyJWT exception class so the bindings can map them 1:1.

use std::borrow::Cow;
use std::fmt;

/// The PyJWT exception class an error maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidToken,
    Decode,
    InvalidSignature,
    ExpiredSignature,
    ImmatureSignature,
    InvalidAudience,
    InvalidIssuer,
    InvalidIssuedAt,
    InvalidAlgorithm,
    InvalidKey,
    MissingRequiredClaim,
    InvalidSubject,
    InvalidJti,
    /// A key set has no key for the token's `kid` (batch verification with a JWKS).
    KeyNotFound,
    /// No key of a strict key set (`turbojwt.KeySet`) matches the token.
    KeySetKeyNotFound,
    /// The header's `typ` is not the one the verifier requires (RFC 9068 access tokens).
    InvalidType,
    /// A JWK Set that cannot be used (not JSON, no usable key, mixed or ambiguous keys).
    JwkSet,
}

impl ErrorKind {
    /// The PyJWT exception class name.
    pub fn class_name(self) -> &'static str {
        match self {
            ErrorKind::InvalidToken => "InvalidTokenError",
            ErrorKind::Decode => "DecodeError",
            ErrorKind::InvalidSignature => "InvalidSignatureError",
            ErrorKind::ExpiredSignature => "ExpiredSignatureError",
            ErrorKind::ImmatureSignature => "ImmatureSignatureError",
            ErrorKind::InvalidAudience => "InvalidAudienceError",
            ErrorKind::InvalidIssuer => "InvalidIssuerError",
            ErrorKind::InvalidIssuedAt => "InvalidIssuedAtError",
            ErrorKind::InvalidAlgorithm => "InvalidAlgorithmError",
            ErrorKind::InvalidKey => "InvalidKeyError",
            ErrorKind::MissingRequiredClaim => "MissingRequiredClaimError",
            ErrorKind::InvalidSubject => "InvalidSubjectError",
            ErrorKind::InvalidJti => "InvalidJTIError",
            ErrorKind::KeyNotFound => "PyJWKClientError",
            ErrorKind::KeySetKeyNotFound => "KeyNotFoundError",
            ErrorKind::InvalidType => "InvalidTypeError",
            ErrorKind::JwkSet => "PyJWKSetError",
        }
    }
}

/// What went wrong besides a plain verdict: the bindings use it to decide whether to
/// hand the call to the Python reference path (which reproduces PyJWT's exact messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detail {
    None,
    /// The header or payload was not JSON the core accepts; the binding re-derives the
    /// message from Python's json module so it reads exactly like PyJWT's.
    BadJson {
        segment: Segment,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    Header,
    Payload,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtError {
    pub kind: ErrorKind,
    /// For `MissingRequiredClaim` this is the claim name (PyJWT formats the message itself).
    pub message: Cow<'static, str>,
    pub detail: Detail,
}

impl JwtError {
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        JwtError {
            kind,
            message: message.into(),
            detail: Detail::None,
        }
    }
    pub fn decode(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Decode, message)
    }
    pub fn bad_json(segment: Segment, message: impl Into<Cow<'static, str>>) -> Self {
        JwtError {
            kind: ErrorKind::Decode,
            message: message.into(),
            detail: Detail::BadJson { segment },
        }
    }
    pub fn missing_claim(claim: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::MissingRequiredClaim, claim)
    }
    /// The message as PyJWT's `str(exc)` shows it.
    pub fn display_message(&self) -> String {
        match self.kind {
            ErrorKind::MissingRequiredClaim => {
                format!("Token is missing the \"{}\" claim", self.message)
            }
            _ => self.message.to_string(),
        }
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.class_name(), self.display_message())
    }
}

impl std::error::Error for JwtError {}

pub type Result<T> = std::result::Result<T, JwtError>;
