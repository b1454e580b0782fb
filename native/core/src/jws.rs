//! Compact JWS: splitting, strict segment decoding, header checks, the algorithm policy and
//! signature verification, in PyJWT's order so that every token gets PyJWT's verdict.

use smallvec::SmallVec;

use crate::alg::{Algorithm, AlgorithmSet};
use crate::b64;
use crate::error::{ErrorKind, JwtError, Result};
use crate::json::{scan_header, CritItem, Field, Header, HeaderAlg};
use crate::keys::{KeyEntry, KeyProblem};

/// Input limits, refused fast with `DecodeError` before any parsing work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_token_length: usize,
    pub max_json_depth: usize,
}

pub const DEFAULT_MAX_TOKEN_LENGTH: usize = 1 << 20;
pub const DEFAULT_MAX_JSON_DEPTH: usize = 64;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_token_length: DEFAULT_MAX_TOKEN_LENGTH,
            max_json_depth: DEFAULT_MAX_JSON_DEPTH,
        }
    }
}

/// Decoded segments live on the stack up to these sizes (typical tokens never spill).
pub type HeaderBuf = SmallVec<[u8; 256]>;
pub type PayloadBuf = SmallVec<[u8; 1024]>;
/// Up to an RSA-4096 signature.
pub type SignatureBuf = SmallVec<[u8; 512]>;

/// The four parts of a compact token, still encoded.
#[derive(Clone, Copy)]
pub struct Segments<'t> {
    pub signing_input: &'t [u8],
    pub header: &'t [u8],
    pub payload: &'t [u8],
    pub crypto: &'t [u8],
}

/// Decoded header, payload and signature, in buffers the caller owns (on its stack).
#[derive(Default)]
pub struct Decoded {
    pub header_json: HeaderBuf,
    pub payload: PayloadBuf,
    pub signature: SignatureBuf,
}

fn padding_error(name: &str) -> JwtError {
    JwtError::decode(format!("Invalid {name} padding"))
}

fn decode_segment<const N: usize>(
    segment: &[u8],
    name: &str,
    out: &mut SmallVec<[u8; N]>,
) -> Result<()> {
    if b64::decode_into(segment, out) {
        Ok(())
    } else {
        Err(padding_error(name))
    }
}

/// Splits like PyJWT (`rsplit(".", 1)` then `split(".", 1)`), after the length limit.
pub fn split<'t>(token: &'t [u8], limits: &Limits) -> Result<Segments<'t>> {
    if token.len() > limits.max_token_length {
        return Err(JwtError::decode(format!(
            "Token is {} bytes long, over the limit of {} bytes",
            token.len(),
            limits.max_token_length
        )));
    }
    let last_dot =
        memchr::memrchr(b'.', token).ok_or_else(|| JwtError::decode("Not enough segments"))?;
    let signing_input = &token[..last_dot];
    let first_dot = memchr::memchr(b'.', signing_input)
        .ok_or_else(|| JwtError::decode("Not enough segments"))?;
    Ok(Segments {
        signing_input,
        header: &signing_input[..first_dot],
        payload: &signing_input[first_dot + 1..],
        crypto: &token[last_dot + 1..],
    })
}

impl Segments<'_> {
    pub fn decode_header(&self, out: &mut HeaderBuf) -> Result<()> {
        decode_segment(self.header, "header", out)
    }

    /// Decodes the payload and signature according to the parsed header: an RFC 7797
    /// header (`b64: false`) means the payload travels separately and its segment is empty.
    pub fn decode_rest(
        &self,
        header: &Header<'_>,
        payload: &mut PayloadBuf,
        signature: &mut SignatureBuf,
    ) -> Result<()> {
        if header.b64_false {
            if !self.payload.is_empty() {
                return Err(JwtError::decode(
                    "Payload segment must be empty when 'b64' is false.",
                ));
            }
        } else {
            decode_segment(self.payload, "payload", payload)?;
        }
        decode_segment(self.crypto, "crypto", signature)
    }
}

/// PyJWT's `_validate_headers` on decode: `kid` must be a string; `crit` must be a
/// non-empty list of strings naming only understood extensions (`b64`) that are present.
pub fn validate_header(h: &Header<'_>) -> Result<()> {
    if h.kid == Field::WrongType {
        return Err(JwtError::new(
            ErrorKind::InvalidToken,
            "Key ID header parameter must be a string",
        ));
    }
    match &h.crit {
        None => Ok(()),
        Some(None) => Err(JwtError::new(
            ErrorKind::InvalidToken,
            "Invalid 'crit' header: must be a non-empty list",
        )),
        Some(Some(items)) if items.is_empty() => Err(JwtError::new(
            ErrorKind::InvalidToken,
            "Invalid 'crit' header: must be a non-empty list",
        )),
        Some(Some(items)) => {
            for item in items {
                match item {
                    CritItem::NotString => {
                        return Err(JwtError::new(
                            ErrorKind::InvalidToken,
                            "Invalid 'crit' header: values must be strings",
                        ))
                    }
                    CritItem::Name(n) if n != "b64" => {
                        return Err(JwtError::new(
                            ErrorKind::InvalidToken,
                            format!("Unsupported critical extension: {n}"),
                        ))
                    }
                    CritItem::Name(n) => {
                        if !h.has_b64 {
                            return Err(JwtError::new(
                                ErrorKind::InvalidToken,
                                format!("Critical extension '{n}' is missing from headers"),
                            ));
                        }
                    }
                }
            }
            // RFC 7515 §4.1.11 forbids duplicates (PyJWT accepts them; turbojwt does not).
            if items
                .iter()
                .enumerate()
                .any(|(i, item)| items[..i].contains(item))
            {
                return Err(JwtError::new(
                    ErrorKind::InvalidToken,
                    "Invalid 'crit' header: duplicate names",
                ));
            }
            Ok(())
        }
    }
}

/// RFC 7797 §3: `b64: false` must be declared critical.
pub fn validate_b64_crit(h: &Header<'_>) -> Result<()> {
    if h.b64_false {
        let listed = matches!(&h.crit, Some(Some(items)) if items.iter().any(|i| *i == CritItem::Name("b64".into())));
        if !listed {
            return Err(JwtError::new(
                ErrorKind::InvalidToken,
                "The 'b64' header parameter requires 'b64' to be listed in 'crit'.",
            ));
        }
    }
    Ok(())
}

/// Which algorithms a decode accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlgPolicy<'a> {
    /// `algorithms=[...]`.
    Allowed(&'a AlgorithmSet),
    /// A key bound to one algorithm (a `PyJWK`), optionally with an allow-list as well.
    Bound {
        alg: Algorithm,
        allowed: Option<&'a AlgorithmSet>,
    },
}

/// PyJWT's refusal of a token whose `alg` the caller did not allow.
pub fn alg_not_allowed() -> JwtError {
    JwtError::new(
        ErrorKind::InvalidAlgorithm,
        "The specified alg value is not allowed",
    )
}

/// PyJWT's algorithm checks: present, allowed, implemented, and (for a bound key) equal to
/// the key's algorithm. `Err(None)` asks the caller for the Python path (a token naming
/// an allowed algorithm the core does not implement, such as a user-registered one).
pub fn select_algorithm(
    h: &Header<'_>,
    policy: &AlgPolicy<'_>,
) -> std::result::Result<Algorithm, Option<JwtError>> {
    let not_allowed = || Some(alg_not_allowed());
    let (alg_name, known) = match &h.alg {
        HeaderAlg::Missing => {
            return Err(Some(JwtError::new(
                ErrorKind::InvalidAlgorithm,
                "Algorithm not specified",
            )))
        }
        HeaderAlg::Invalid => return Err(not_allowed()),
        HeaderAlg::Known(a) => (a.name(), Some(*a)),
        HeaderAlg::Unknown(s) => (s.as_str(), None),
    };
    let allowed = match policy {
        AlgPolicy::Allowed(set) => set.contains_name(alg_name),
        AlgPolicy::Bound { alg, allowed: None } => alg.name() == alg_name,
        AlgPolicy::Bound {
            allowed: Some(set), ..
        } => set.contains_name(alg_name),
    };
    if !allowed {
        return Err(not_allowed());
    }
    if let AlgPolicy::Bound { alg, .. } = policy {
        if alg.name() != alg_name {
            return Err(None); // PyJWT's message quotes Python reprs: built by the caller
        }
    }
    match known {
        Some(Algorithm::None) => Err(None),
        Some(a) => Ok(a),
        None => Err(Some(JwtError::new(
            ErrorKind::InvalidAlgorithm,
            "Algorithm not supported",
        ))),
    }
}

/// Verifies the signature with a key entry already checked for `alg`.
pub fn verify_signature(
    key: &KeyEntry,
    alg: Algorithm,
    signing_input: &[u8],
    signature: &[u8],
) -> std::result::Result<(), Option<JwtError>> {
    match key.verify(alg, signing_input, signature) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Some(JwtError::new(
            ErrorKind::InvalidSignature,
            "Signature verification failed",
        ))),
        Err(KeyProblem::HmacRefused(m)) => Err(Some(JwtError::new(ErrorKind::InvalidKey, m))),
        Err(KeyProblem::Unsupported) => Err(None),
    }
}

/// Splits the token and decodes its header segment into `header_json` (PyJWT's `_load`, first half).
pub fn split_and_decode_header<'t>(
    token: &'t [u8],
    limits: &Limits,
    header_json: &mut HeaderBuf,
) -> Result<Segments<'t>> {
    let seg = split(token, limits)?;
    seg.decode_header(header_json)?;
    Ok(seg)
}

/// Parses the decoded header, decodes payload and signature and validates the header
/// (the rest of `_load`, then `_validate_headers`). A `b64: false` token is refused as PyJWT
/// refuses it when no detached payload is passed. On a `Detail::BadJson` error the JSON in
/// question is `header_json`.
pub fn parse_header_and_rest<'b>(
    seg: &Segments<'_>,
    header_json: &'b [u8],
    limits: &Limits,
    payload: &mut PayloadBuf,
    signature: &mut SignatureBuf,
) -> Result<Header<'b>> {
    let header = scan_header(header_json, limits.max_json_depth)?;
    seg.decode_rest(&header, payload, signature)?;
    validate_header(&header)?;
    if header.b64_false {
        validate_b64_crit(&header)?;
        return Err(JwtError::decode(
            "It is required that you pass in a value for the \"detached_payload\" argument to decode a message having the b64 header set to false.",
        ));
    }
    Ok(header)
}

/// Both steps above into `out`; returns the segments.
pub fn parse<'t>(token: &'t [u8], limits: &Limits, out: &mut Decoded) -> Result<Segments<'t>> {
    let seg = split_and_decode_header(token, limits, &mut out.header_json)?;
    parse_header_and_rest(
        &seg,
        &out.header_json,
        limits,
        &mut out.payload,
        &mut out.signature,
    )?;
    Ok(seg)
}

/// Builds a compact JWS from the exact header and payload bytes. With `detached` (RFC 7797,
/// which PyJWT always pairs with `b64: false`) the payload is signed as is and left out.
pub fn sign_compact(
    key: &KeyEntry,
    alg: Algorithm,
    header_json: &[u8],
    payload: &[u8],
    detached: bool,
) -> std::result::Result<String, KeyProblem> {
    let mut out = String::with_capacity((header_json.len() + payload.len()) * 4 / 3 + 100);
    b64::encode_into(header_json, &mut out);
    out.push('.');
    let sig = if detached {
        let mut signing_input = Vec::with_capacity(out.len() + payload.len());
        signing_input.extend_from_slice(out.as_bytes());
        signing_input.extend_from_slice(payload);
        key.sign(alg, &signing_input)?
    } else {
        b64::encode_into(payload, &mut out);
        key.sign(alg, out.as_bytes())?
    };
    out.push('.');
    b64::encode_into(&sig, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::scan_header;

    fn token(header: &str, payload: &str, key: &KeyEntry, alg: Algorithm) -> String {
        let si = format!(
            "{}.{}",
            b64::encode(header.as_bytes()),
            b64::encode(payload.as_bytes())
        );
        let sig = key.sign(alg, si.as_bytes()).unwrap();
        format!("{si}.{}", b64::encode(&sig))
    }

    #[test]
    fn hs256_round_trip_and_tamper() {
        let key = KeyEntry::new(b"0123456789abcdef0123456789abcdef");
        let t = token(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"sub":"x"}"#,
            &key,
            Algorithm::HS256,
        );
        let mut d = Decoded::default();
        let seg = parse(t.as_bytes(), &Limits::default(), &mut d).unwrap();
        let h = scan_header(&d.header_json, 64).unwrap();
        let mut set = AlgorithmSet::new();
        set.insert(Algorithm::HS256);
        let alg = select_algorithm(&h, &AlgPolicy::Allowed(&set)).unwrap();
        assert!(verify_signature(&key, alg, seg.signing_input, &d.signature).is_ok());
        let mut bad = t.clone().into_bytes();
        let n = bad.len();
        bad[n - 2] = if bad[n - 2] == b'A' { b'B' } else { b'A' };
        let mut d2 = Decoded::default();
        let seg2 = parse(&bad, &Limits::default(), &mut d2).unwrap();
        let e = verify_signature(&key, alg, seg2.signing_input, &d2.signature)
            .unwrap_err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::InvalidSignature);
        let mut other = AlgorithmSet::new();
        other.insert(Algorithm::RS256);
        assert_eq!(
            select_algorithm(&h, &AlgPolicy::Allowed(&other))
                .unwrap_err()
                .unwrap()
                .message,
            "The specified alg value is not allowed"
        );
    }

    #[test]
    fn malformed_tokens() {
        let l = Limits::default();
        let msg = |t: &[u8]| {
            parse(t, &l, &mut Decoded::default())
                .err()
                .map(|e| e.message.to_string())
        };
        assert_eq!(msg(b"abc").as_deref(), Some("Not enough segments"));
        assert_eq!(msg(b"a.b").as_deref(), Some("Not enough segments"));
        assert_eq!(msg(b"!!.e30.").as_deref(), Some("Invalid header padding"));
        assert_eq!(msg(b"e30=.e30.").as_deref(), Some("Invalid header padding"));
        assert_eq!(
            msg(b"e30.e30.e30.x").as_deref(),
            Some("Invalid payload padding")
        );
        assert_eq!(msg(b"e30.e30.a").as_deref(), Some("Invalid crypto padding"));
        let dots = vec![b'.'; 1 << 20];
        assert!(
            msg(&dots).unwrap().starts_with("Invalid header string:"),
            "empty header is not JSON"
        );
        let mut big = vec![b'a'; (1 << 20) + 1];
        big[5] = b'.';
        assert!(msg(&big).unwrap().contains("over the limit"));
        let kid = format!(
            "{}.{}.",
            b64::encode(br#"{"alg":"HS256","kid":1}"#),
            b64::encode(b"{}")
        );
        assert_eq!(
            msg(kid.as_bytes()).as_deref(),
            Some("Key ID header parameter must be a string")
        );
        let crit = format!(
            "{}.{}.",
            b64::encode(br#"{"alg":"HS256","crit":["exp"]}"#),
            b64::encode(b"{}")
        );
        assert_eq!(
            msg(crit.as_bytes()).as_deref(),
            Some("Unsupported critical extension: exp")
        );
    }
}
