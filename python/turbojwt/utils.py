"""Encoding helpers (base64url, integers, ECDSA signature formats, key sniffing).

Same functions and edge-case behaviour as PyJWT 2.x ``jwt.utils``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Optional, Union

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurve
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)


def force_bytes(value: Union[bytes, str]) -> bytes:
    """Return *value* as bytes, UTF-8 encoding a ``str``."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError("Expected a string or bytes value")


def base64url_decode(input: Union[bytes, str]) -> bytes:
    """Decode unpadded base64url (padding is restored first)."""
    data = force_bytes(input)
    # -len % 4 is the number of '=' needed to reach a multiple of four.
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def base64url_encode(input: bytes) -> bytes:
    """Encode as base64url with the padding stripped."""
    return base64.urlsafe_b64encode(input).replace(b"=", b"")


def bytes_from_int(val: int, *, bit_length: Optional[int] = None) -> bytes:
    """Big-endian bytes of *val*, sized to *bit_length* (or to *val*)."""
    bits = val.bit_length() if bit_length is None else bit_length
    return val.to_bytes((bits + 7) // 8, "big", signed=False)


def to_base64url_uint(val: int, *, bit_length: Optional[int] = None) -> bytes:
    """base64url of an unsigned integer (JWK ``n``, ``e``, ``x`` ... members)."""
    if val < 0:
        raise ValueError("Must be a positive integer")
    # Zero has no significant bytes, but JWK wants at least one octet.
    return base64url_encode(bytes_from_int(val, bit_length=bit_length) or b"\x00")


def from_base64url_uint(val: Union[bytes, str]) -> int:
    """Inverse of :func:`to_base64url_uint`."""
    return int.from_bytes(base64url_decode(force_bytes(val)), byteorder="big")


def number_to_bytes(num: int, num_bytes: int) -> bytes:
    """Zero-padded big-endian bytes of *num*.

    Goes through hex on purpose: PyJWT's quirks (over-long output for a
    too-large *num*, binascii errors for odd lengths / negatives) are kept.
    """
    return binascii.a2b_hex(format(num, f"0{2 * num_bytes}x").encode("ascii"))


def bytes_to_number(string: bytes) -> int:
    """Big-endian bytes to int (``b""`` raises ``ValueError`` as in PyJWT)."""
    return int(binascii.b2a_hex(string), 16)


def _coordinate_size(curve: EllipticCurve) -> int:
    return (curve.key_size + 7) // 8


def der_to_raw_signature(der_sig: bytes, curve: EllipticCurve) -> bytes:
    """DER ECDSA signature -> JWS ``r || s`` form."""
    size = _coordinate_size(curve)
    r, s = decode_dss_signature(der_sig)
    return number_to_bytes(r, size) + number_to_bytes(s, size)


def raw_to_der_signature(raw_sig: bytes, curve: EllipticCurve) -> bytes:
    """JWS ``r || s`` ECDSA signature -> DER; wrong length is ``ValueError``."""
    size = _coordinate_size(curve)
    if len(raw_sig) != 2 * size:
        raise ValueError("Invalid signature")
    r = bytes_to_number(raw_sig[:size])
    s = bytes_to_number(raw_sig[size:])
    return bytes(encode_dss_signature(r, s))


# PEM labels that mark asymmetric material or certificates (list taken from
# hynek/pem).  is_pem_format() guards HMAC against being fed such keys.
_PEM_LABELS = (
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
)

# A zero-width lookahead so overlapping markers are all reported; the dash
# runs accept the "- "/" -" variants cryptography's loader tolerates.
_PEM_MARKER = re.compile(b"(?=(----[- ](BEGIN|END) (" + b"|".join(_PEM_LABELS) + b")[- ]----))")


def is_pem_format(key: bytes) -> bool:
    """True if *key* holds a BEGIN marker followed later by a matching END."""
    # label -> offset just past its most recent BEGIN marker
    opened: dict[bytes, int] = {}
    for found in _PEM_MARKER.finditer(key):
        kind, label = found.group(2), found.group(3)
        if kind == b"BEGIN":
            opened[label] = found.end(1)
        elif label in opened and opened[label] < found.start(1):
            return True
    return False


# Public-key prefixes cryptography's SSH loader recognises.
_SSH_KEY_PREFIXES = (
    b"ssh-ed25519",
    b"ssh-rsa",
    b"ssh-dss",
    b"ecdsa-sha2-nistp256",
    b"ecdsa-sha2-nistp384",
    b"ecdsa-sha2-nistp521",
)


def is_ssh_key(key: bytes) -> bool:
    """True if *key* starts like an OpenSSH public key line."""
    return key.startswith(_SSH_KEY_PREFIXES)
