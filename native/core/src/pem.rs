//! PEM blocks and OpenSSH public key lines, plus PyJWT's "is this an asymmetric key"
//! detectors that guard HMAC secrets (the CVE-2022-29217 class).

use crate::b64;

pub struct PemBlock<'a> {
    pub label: &'a str,
    pub der: Vec<u8>,
    /// RFC 1421 headers such as `Proc-Type: 4,ENCRYPTED` were present.
    pub has_headers: bool,
}

/// The first PEM block in `input`, if any parses.
pub fn first_block(input: &[u8]) -> Option<PemBlock<'_>> {
    let text = std::str::from_utf8(input).ok()?;
    let begin = text.find("-----BEGIN ")?;
    let after_begin = &text[begin + 11..];
    let label_end = after_begin.find("-----")?;
    let label = &after_begin[..label_end];
    if label.contains('\n') {
        return None;
    }
    let body_start = &after_begin[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let body_end = body_start.find(&end_marker)?;
    let body = &body_start[..body_end];
    let mut has_headers = false;
    let mut b64_text = Vec::with_capacity(body.len());
    for line in body.lines() {
        if line.contains(':') {
            has_headers = true;
            continue;
        }
        b64_text.extend(line.bytes().filter(|b| !b.is_ascii_whitespace()));
    }
    let der = b64::decode_standard(&b64_text)?;
    Some(PemBlock {
        label,
        der,
        has_headers,
    })
}

/// PEM labels PyJWT's `is_pem_format` looks for (taken from the `pem` project's list).
const PEM_LABELS: [&[u8]; 16] = [
    b"CERTIFICATE",
    b"TRUSTED CERTIFICATE",
    b"PRIVATE KEY",
    b"PUBLIC KEY",
    b"ENCRYPTED PRIVATE KEY",
    b"OPENSSH PRIVATE KEY",
    b"DSA PRIVATE KEY",
    b"RSA PRIVATE KEY",
    b"RSA PUBLIC KEY",
    b"EC PRIVATE KEY",
    b"DH PARAMETERS",
    b"NEW CERTIFICATE REQUEST",
    b"CERTIFICATE REQUEST",
    b"SSH2 PUBLIC KEY",
    b"SSH2 ENCRYPTED PRIVATE KEY",
    b"X509 CRL",
];

/// Same verdict as PyJWT's `is_pem_format`: a `BEGIN <label>` marker followed later by an
/// `END <label>` marker, where a marker is `----[- ](BEGIN|END) <label>[- ]----`.
pub fn is_pem_format(key: &[u8]) -> bool {
    // (label index, end offset of the latest BEGIN marker of that label)
    let mut begins: [Option<usize>; 16] = [None; 16];
    let mut i = 0;
    while let Some(off) = memfind(&key[i..], b"----") {
        let start = i + off;
        i = start + 1;
        let rest = &key[start + 4..];
        let Some((&sep, rest)) = rest.split_first() else {
            break;
        };
        if sep != b'-' && sep != b' ' {
            continue;
        }
        let (is_begin, rest) = if let Some(r) = rest.strip_prefix(b"BEGIN ") {
            (true, r)
        } else if let Some(r) = rest.strip_prefix(b"END ") {
            (false, r)
        } else {
            continue;
        };
        for (idx, label) in PEM_LABELS.iter().enumerate() {
            let Some(r) = rest.strip_prefix(*label) else {
                continue;
            };
            let Some((&sep2, r)) = r.split_first() else {
                continue;
            };
            if (sep2 == b'-' || sep2 == b' ') && r.starts_with(b"----") {
                let marker_len = 4 + 1 + if is_begin { 6 } else { 4 } + label.len() + 1 + 4;
                if is_begin {
                    begins[idx] = Some(start + marker_len);
                } else if begins[idx].is_some_and(|b| b < start) {
                    return true;
                }
                break;
            }
        }
    }
    false
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

const SSH_KEY_PREFIXES: [&[u8]; 6] = [
    b"ssh-ed25519",
    b"ssh-rsa",
    b"ssh-dss",
    b"ecdsa-sha2-nistp256",
    b"ecdsa-sha2-nistp384",
    b"ecdsa-sha2-nistp521",
];

/// Same verdict as PyJWT's `is_ssh_key`.
pub fn is_ssh_key(key: &[u8]) -> bool {
    SSH_KEY_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// A parsed OpenSSH public key line (`<type> <base64 blob> [comment]`).
pub enum SshKey {
    Rsa { e: Vec<u8>, n: Vec<u8> },
    Ecdsa { curve: &'static str, point: Vec<u8> },
    Ed25519 { key: Vec<u8> },
}

pub fn parse_ssh_public_key(input: &[u8]) -> Option<SshKey> {
    let text = std::str::from_utf8(input).ok()?;
    let mut parts = text.split_ascii_whitespace();
    let key_type = parts.next()?;
    let blob = b64::decode_standard(parts.next()?.as_bytes())?;
    let mut r = SshReader(&blob);
    if r.string()? != key_type.as_bytes() {
        return None;
    }
    let key = match key_type {
        "ssh-rsa" => {
            let e = r.string()?.to_vec();
            let n = r.string()?.to_vec();
            SshKey::Rsa { e, n }
        }
        "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" => {
            let curve = match r.string()? {
                b"nistp256" => "P-256",
                b"nistp384" => "P-384",
                b"nistp521" => "P-521",
                _ => return None,
            };
            if !key_type.ends_with(&curve[2..]) {
                return None;
            }
            SshKey::Ecdsa {
                curve,
                point: r.string()?.to_vec(),
            }
        }
        "ssh-ed25519" => SshKey::Ed25519 {
            key: r.string()?.to_vec(),
        },
        _ => return None,
    };
    r.0.is_empty().then_some(key)
}

struct SshReader<'a>(&'a [u8]);

impl<'a> SshReader<'a> {
    fn string(&mut self) -> Option<&'a [u8]> {
        if self.0.len() < 4 {
            return None;
        }
        let len = u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]]) as usize;
        let rest = &self.0[4..];
        if rest.len() < len {
            return None;
        }
        self.0 = &rest[len..];
        Some(&rest[..len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_markers_like_pyjwt() {
        assert!(is_pem_format(
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
        ));
        assert!(is_pem_format(
            b"junk ---- BEGIN RSA PUBLIC KEY ---- x ---- END RSA PUBLIC KEY ----"
        ));
        assert!(
            !is_pem_format(b"-----BEGIN PUBLIC KEY-----\nAAAA\n"),
            "no END"
        );
        assert!(
            !is_pem_format(b"-----END PUBLIC KEY----- -----BEGIN PUBLIC KEY-----"),
            "END before BEGIN"
        );
        assert!(
            !is_pem_format(b"-----BEGIN FOO-----\n-----END FOO-----"),
            "unknown label"
        );
        assert!(
            !is_pem_format(b"-----BEGIN PUBLIC KEY-----\n-----END PRIVATE KEY-----"),
            "labels differ"
        );
        assert!(!is_pem_format(b"my-secret"));
    }

    #[test]
    fn ssh_prefixes() {
        assert!(is_ssh_key(b"ssh-rsa AAAA"));
        assert!(is_ssh_key(b"ecdsa-sha2-nistp256 AAAA"));
        assert!(!is_ssh_key(b" ssh-rsa AAAA"));
    }
}
