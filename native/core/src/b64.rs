//! Strict base64url (RFC 7515 §2 and Appendix C): URL-safe alphabet, no padding, no
//! whitespace, and zero unused trailing bits, so every value has exactly one encoding.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

const STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Standard-alphabet decoder for PEM bodies and OpenSSH blobs (padding as written there).
const STANDARD_LENIENT_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes one base64url segment; `None` when it is not canonical base64url.
#[inline]
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    STRICT.decode(input).ok()
}

/// Decodes into `out` (cleared first); returns false when not canonical base64url.
#[inline]
pub fn decode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    STRICT.decode_vec(input, out).is_ok()
}

#[inline]
pub fn encode(input: &[u8]) -> String {
    STRICT.encode(input)
}

#[inline]
pub fn encode_into(input: &[u8], out: &mut String) {
    STRICT.encode_string(input, out)
}

/// Standard base64 (with or without padding), whitespace already removed by the caller.
pub fn decode_standard(input: &[u8]) -> Option<Vec<u8>> {
    STANDARD_LENIENT_PAD.decode(input).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for n in 0..70usize {
            let data: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            let enc = encode(&data);
            assert!(!enc.contains('='));
            assert_eq!(decode(enc.as_bytes()).unwrap(), data);
        }
    }

    #[test]
    fn refuses_non_canonical() {
        assert!(decode(b"YQ==").is_none(), "padding");
        assert!(decode(b"YQ").is_some());
        assert!(decode(b"YR").is_none(), "non-zero trailing bits");
        assert!(decode(b"Y").is_none(), "length % 4 == 1");
        assert!(decode(b"a+b/").is_none(), "standard alphabet");
        assert!(decode(b"ab cd").is_none(), "whitespace");
        assert!(decode(b"ab\ncd").is_none(), "newline");
        assert!(decode(b"").unwrap().is_empty());
    }
}
