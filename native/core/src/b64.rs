//! Strict base64url (RFC 7515 §2 and Appendix C): URL-safe alphabet, no padding, no
//! whitespace, and zero unused trailing bits, so every value has exactly one encoding.

use std::mem::MaybeUninit;

use base64_simd::{forgiving_decode_to_vec, Out, URL_SAFE_NO_PAD};
use smallvec::SmallVec;

/// Decodes one base64url segment; `None` when it is not canonical base64url.
#[inline]
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode_to_vec(input).ok()
}

/// Decodes into `out` (replacing its contents; a `SmallVec` keeps short segments on the
/// stack); false when not canonical base64url. The bytes are written into `out`'s spare
/// capacity as they are decoded, without zeroing it first.
#[inline]
pub fn decode_into<const N: usize>(input: &[u8], out: &mut SmallVec<[u8; N]>) -> bool {
    let Ok(len) = URL_SAFE_NO_PAD.decoded_length(input) else {
        return false;
    };
    out.clear();
    out.reserve(len);
    // SAFETY: after `clear` and `reserve`, `out`'s buffer has capacity for `len` bytes
    // from its start, so the MaybeUninit slice over them is in bounds and nothing else
    // aliases it while it lives; the decoder only writes through it. `set_len` covers only
    // the prefix the decoder returns as written (checked to start at `out`'s buffer and
    // to fit in `len`), so every byte made part of `out` is initialised.
    unsafe {
        let spare = std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<MaybeUninit<u8>>(), len);
        match URL_SAFE_NO_PAD.decode(input, Out::from_uninit_slice(spare)) {
            Ok(written) if written.as_ptr() == out.as_ptr() && written.len() <= len => {
                let n = written.len();
                out.set_len(n);
                true
            }
            _ => false,
        }
    }
}

#[inline]
pub fn encode(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode_to_string(input)
}

#[inline]
pub fn encode_into(input: &[u8], out: &mut String) {
    let start = out.len();
    let n = URL_SAFE_NO_PAD.encoded_length(input.len());
    let mut buf = std::mem::take(out).into_bytes();
    buf.resize(start + n, 0);
    let _ = URL_SAFE_NO_PAD.encode(input, base64_simd::Out::from_slice(&mut buf[start..]));
    // SAFETY: `buf[..start]` is the bytes of a String (valid UTF-8) and the rest holds
    // zeros (ASCII) that the encoder overwrites with base64url characters (ASCII), so the
    // whole is UTF-8 whether or not the encoder wrote.
    *out = unsafe { String::from_utf8_unchecked(buf) };
}

/// Standard base64 with or without padding (PEM bodies, OpenSSH blobs); the caller has
/// removed line breaks.
pub fn decode_standard(input: &[u8]) -> Option<Vec<u8>> {
    forgiving_decode_to_vec(input).ok()
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
