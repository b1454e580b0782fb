//! Just enough DER to tell key containers apart (SPKI, PKCS#1, PKCS#8, SEC1, X.509) and
//! to find the public key inside a certificate. aws-lc does the real key parsing.

pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_BIT_STRING: u8 = 0x03;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_NULL: u8 = 0x05;
pub const TAG_OID: u8 = 0x06;
pub const TAG_SEQUENCE: u8 = 0x30;

pub const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
pub const OID_EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
pub const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
pub const OID_P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
pub const OID_P521: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x23];
pub const OID_SECP256K1: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x0A];
pub const OID_ED25519: &[u8] = &[0x2B, 0x65, 0x70];

/// One DER element: its tag, contents, the whole encoding, and what follows it.
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub whole: &'a [u8],
    pub rest: &'a [u8],
}

pub fn read(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, mut p) = after_tag.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || p.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &p[..n] {
            len = (len << 8) | b as usize;
        }
        // DER: long form only where the short form cannot express the length.
        if len < 0x80 || p[0] == 0 {
            return None;
        }
        p = &p[n..];
        len
    };
    if p.len() < len {
        return None;
    }
    let header_len = input.len() - p.len();
    Some(Tlv {
        tag,
        content: &p[..len],
        whole: &input[..header_len + len],
        rest: &p[len..],
    })
}

pub fn expect(input: &[u8], tag: u8) -> Option<Tlv<'_>> {
    let t = read(input)?;
    (t.tag == tag).then_some(t)
}

/// `AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }`
pub struct AlgorithmId<'a> {
    pub oid: &'a [u8],
    /// The OID contents of the parameters when they are an OID (EC named curves).
    pub param_oid: Option<&'a [u8]>,
}

pub fn algorithm_id(seq_content: &[u8]) -> Option<AlgorithmId<'_>> {
    let oid = expect(seq_content, TAG_OID)?;
    let param_oid = read(oid.rest).and_then(|p| (p.tag == TAG_OID).then_some(p.content));
    Some(AlgorithmId {
        oid: oid.content,
        param_oid,
    })
}

/// SubjectPublicKeyInfo: the algorithm and the BIT STRING contents (without the unused-bits byte).
pub struct Spki<'a> {
    pub alg: AlgorithmId<'a>,
    pub key: &'a [u8],
}

pub fn spki(der: &[u8]) -> Option<Spki<'_>> {
    let outer = expect(der, TAG_SEQUENCE)?;
    if !outer.rest.is_empty() {
        return None;
    }
    let alg = expect(outer.content, TAG_SEQUENCE)?;
    let bits = expect(alg.rest, TAG_BIT_STRING)?;
    if !bits.rest.is_empty() {
        return None;
    }
    let (&unused, key) = bits.content.split_first()?;
    if unused != 0 {
        return None;
    }
    Some(Spki {
        alg: algorithm_id(alg.content)?,
        key,
    })
}

/// The SubjectPublicKeyInfo element (whole encoding) of an X.509 certificate.
pub fn certificate_spki(der: &[u8]) -> Option<&[u8]> {
    let cert = expect(der, TAG_SEQUENCE)?;
    let tbs = expect(cert.content, TAG_SEQUENCE)?;
    let mut p = tbs.content;
    let first = read(p)?;
    if first.tag == 0xA0 {
        p = first.rest; // explicit [0] version
    }
    let serial = expect(p, TAG_INTEGER)?;
    let sig_alg = expect(serial.rest, TAG_SEQUENCE)?;
    let issuer = expect(sig_alg.rest, TAG_SEQUENCE)?;
    let validity = expect(issuer.rest, TAG_SEQUENCE)?;
    let subject = expect(validity.rest, TAG_SEQUENCE)?;
    let spki_el = expect(subject.rest, TAG_SEQUENCE)?;
    Some(spki_el.whole)
}

/// PKCS#8 `PrivateKeyInfo`: the algorithm and the private key OCTET STRING contents.
pub struct Pkcs8<'a> {
    pub alg: AlgorithmId<'a>,
    pub key: &'a [u8],
}

pub fn pkcs8(der: &[u8]) -> Option<Pkcs8<'_>> {
    let outer = expect(der, TAG_SEQUENCE)?;
    let version = expect(outer.content, TAG_INTEGER)?;
    let alg = expect(version.rest, TAG_SEQUENCE)?;
    let key = expect(alg.rest, TAG_OCTET_STRING)?;
    Some(Pkcs8 {
        alg: algorithm_id(alg.content)?,
        key: key.content,
    })
}

/// Bit length of a DER INTEGER's contents, taken as unsigned.
pub fn integer_bits(content: &[u8]) -> usize {
    let mut c = content;
    while let [0, rest @ ..] = c {
        c = rest;
    }
    match c.first() {
        None => 0,
        Some(&b) => (c.len() - 1) * 8 + (8 - b.leading_zeros() as usize),
    }
}

/// Modulus size of a PKCS#1 `RSAPublicKey ::= SEQUENCE { n, e }`.
pub fn rsa_public_modulus_bits(der: &[u8]) -> Option<usize> {
    let seq = expect(der, TAG_SEQUENCE)?;
    let n = expect(seq.content, TAG_INTEGER)?;
    let e = expect(n.rest, TAG_INTEGER)?;
    e.rest.is_empty().then(|| integer_bits(n.content))
}

/// Modulus size of a PKCS#1 `RSAPrivateKey ::= SEQUENCE { version, n, e, d, ... }`.
pub fn rsa_private_modulus_bits(der: &[u8]) -> Option<usize> {
    let seq = expect(der, TAG_SEQUENCE)?;
    let version = expect(seq.content, TAG_INTEGER)?;
    let n = expect(version.rest, TAG_INTEGER)?;
    Some(integer_bits(n.content))
}

/// The named curve of a SEC1 `ECPrivateKey` (`[0] parameters`), when present.
pub fn sec1_curve_oid(der: &[u8]) -> Option<&[u8]> {
    let seq = expect(der, TAG_SEQUENCE)?;
    let version = expect(seq.content, TAG_INTEGER)?;
    let d = expect(version.rest, TAG_OCTET_STRING)?;
    let params = read(d.rest)?;
    if params.tag != 0xA0 {
        return None;
    }
    Some(expect(params.content, TAG_OID)?.content)
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn push_unsigned_integer(out: &mut Vec<u8>, magnitude: &[u8]) {
    let mut m = magnitude;
    while m.len() > 1 && m[0] == 0 {
        m = &m[1..];
    }
    let pad = m.first().is_some_and(|b| b & 0x80 != 0);
    out.push(TAG_INTEGER);
    push_len(out, m.len() + pad as usize);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(m);
}

/// PKCS#1 `RSAPublicKey` DER from big-endian modulus and exponent (for SSH and JWK keys).
pub fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    push_unsigned_integer(&mut body, n);
    push_unsigned_integer(&mut body, e);
    let mut out = Vec::with_capacity(body.len() + 6);
    out.push(TAG_SEQUENCE);
    push_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

fn push_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    push_len(out, content.len());
    out.extend_from_slice(content);
}

/// A SubjectPublicKeyInfo DER from an algorithm OID, optional parameters (an OID, or
/// NULL when `None` and `null_params`), and the public key bits.
pub fn spki_der(
    alg_oid: &[u8],
    param_oid: Option<&[u8]>,
    null_params: bool,
    key: &[u8],
) -> Vec<u8> {
    let mut alg = Vec::with_capacity(24);
    push_tlv(&mut alg, TAG_OID, alg_oid);
    match param_oid {
        Some(p) => push_tlv(&mut alg, TAG_OID, p),
        None if null_params => alg.extend_from_slice(&[TAG_NULL, 0]),
        None => {}
    }
    let mut bits = Vec::with_capacity(key.len() + 1);
    bits.push(0);
    bits.extend_from_slice(key);
    let mut body = Vec::with_capacity(alg.len() + bits.len() + 8);
    push_tlv(&mut body, TAG_SEQUENCE, &alg);
    push_tlv(&mut body, TAG_BIT_STRING, &bits);
    let mut out = Vec::with_capacity(body.len() + 4);
    push_tlv(&mut out, TAG_SEQUENCE, &body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_bits_ignores_sign_byte() {
        assert_eq!(integer_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(integer_bits(&[0x01]), 1);
        assert_eq!(integer_bits(&[]), 0);
    }

    #[test]
    fn rsa_der_round_trip() {
        let n = [0xC0u8; 256];
        let der = rsa_public_key_der(&n, &[1, 0, 1]);
        assert_eq!(rsa_public_modulus_bits(&der), Some(2048));
    }

    #[test]
    fn rejects_truncated_and_non_minimal() {
        assert!(read(&[0x30, 0x05, 0x00]).is_none());
        assert!(
            read(&[0x30, 0x81, 0x05, 0, 0, 0, 0, 0]).is_none(),
            "long form for a short length"
        );
        assert!(read(&[]).is_none());
    }
}
