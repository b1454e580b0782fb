"""PyJWT's ``jwt.utils`` against ``turbojwt.utils``: signatures, samples and properties of the
base64url, integer, PEM/SSH detection and ECDSA signature format helpers."""

from __future__ import annotations

import inspect
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.pyjwt_modules import KeyMaterial, jutils, outcome, tutils

_UTIL_FUNCS = [
    "force_bytes",
    "base64url_decode",
    "base64url_encode",
    "to_base64url_uint",
    "from_base64url_uint",
    "number_to_bytes",
    "bytes_to_number",
    "bytes_from_int",
    "der_to_raw_signature",
    "raw_to_der_signature",
    "is_pem_format",
    "is_ssh_key",
]


def _same(func: str, *args: Any, **kwargs: Any) -> None:
    expected = outcome(getattr(jutils, func), *args, **kwargs)
    got = outcome(getattr(tutils, func), *args, **kwargs)
    assert got == expected, (func, args, kwargs)


def test_utils_public_names() -> None:
    for func in _UTIL_FUNCS:
        o_sig = inspect.signature(getattr(tutils, func))
        t_sig = inspect.signature(getattr(jutils, func))
        assert [(p.name, p.kind, p.default) for p in o_sig.parameters.values()] == [
            (p.name, p.kind, p.default) for p in t_sig.parameters.values()
        ], func


def test_utils_samples() -> None:
    for value in ("", "abc", "\u00e9\u2603", b"", b"\x00\xff", 1, None, bytearray(b"x"), 1.5):
        _same("force_bytes", value)
    for value in (
        "",
        "YQ",
        "YWI",
        "YWJj",
        "YWJjZA",
        "a",
        "YQ==",
        "Y!Q",
        "-_-_",
        b"YWJj",
        "\u00e9",
        5,
        None,
        "A" * 5,
        "AB=C",
    ):
        _same("base64url_decode", value)
        _same("from_base64url_uint", value)
    for value in (b"", b"\x00", b"\xfb\xff", b"abc" * 20):
        _same("base64url_encode", value)
    for val in (0, 1, 255, 256, 65537, 2**521 - 1, -1):
        _same("to_base64url_uint", val)
        _same("bytes_from_int", val)
        for bits in (0, 1, 8, 9, 256, 521):
            _same("to_base64url_uint", val, bit_length=bits)
            _same("bytes_from_int", val, bit_length=bits)
    for num in (0, 1, 255, 256, 2**64, -5):
        for size in (0, 1, 2, 8, 32):
            _same("number_to_bytes", num, size)
    for data in (b"", b"\x00", b"\x01\x00", b"\xff" * 40):
        _same("bytes_to_number", data)
    assert tutils.to_base64url_uint(0) == b"AA"
    assert tutils.number_to_bytes(1, 2) == b"\x00\x01"


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=80),
    num=st.integers(min_value=-(2**70), max_value=2**600),
    size=st.integers(min_value=0, max_value=80),
    text=st.text(max_size=40),
)
def test_utils_property(data: bytes, num: int, size: int, text: str) -> None:
    _same("base64url_encode", data)
    _same("base64url_decode", tutils.base64url_encode(data))
    assert tutils.base64url_decode(tutils.base64url_encode(data)) == data
    _same("base64url_decode", text)
    _same("from_base64url_uint", text)
    _same("bytes_to_number", data)
    _same("number_to_bytes", num, size)
    _same("to_base64url_uint", num)
    _same("to_base64url_uint", num, bit_length=size * 8)
    _same("is_ssh_key", data)
    _same("is_pem_format", data)


_PEM_PIECES = [
    b"-----BEGIN PUBLIC KEY-----",
    b"-----END PUBLIC KEY-----",
    b"-----BEGIN CERTIFICATE-----",
    b"-----END CERTIFICATE-----",
    b"---- BEGIN X509 CRL ----",
    b"---- END X509 CRL ----",
    b"----- END X509 CRL -----",
    b"-----BEGIN RSA PRIVATE KEY-----",
    b"-----END PRIVATE KEY-----",
    b"-----BEGIN EC PRIVATE KEY-----",
    b"-----END EC PRIVATE KEY-----",
    b"-----BEGIN TRUSTED CERTIFICATE-----",
    b"-----END FOO-----",
    b"-----BEGIN FOO-----",
    b"-----BEGIN SSH2 PUBLIC KEY-----",
    b"-----END SSH2 PUBLIC KEY-----",
    b"-",
    b"--",
    b"----",
    b" ",
    b"\n",
    b"BEGIN",
    b"END",
    b"PUBLIC KEY",
    b"abc",
    b"ssh-rsa ",
    b"ecdsa-sha2-nistp384 ",
    b"ssh-ed25519",
    b"ssh-dss",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PEM_PIECES), max_size=8))
def test_is_pem_format_and_ssh_property(pieces: list[bytes]) -> None:
    blob = b"".join(pieces)
    _same("is_pem_format", blob)
    _same("is_ssh_key", blob)


def test_is_pem_format_samples() -> None:
    labels = sorted(jutils._PEMS) + [b"FOO", b"PGP MESSAGE", b"public key"]
    for label in labels:
        for dash_a, dash_b in ((b"-", b"-"), (b" ", b" "), (b"-", b" ")):
            begin = b"----" + dash_a + b"BEGIN " + label + dash_b + b"----"
            end = b"----" + dash_a + b"END " + label + dash_b + b"----"
            for blob in (
                begin + b"\nxx\n" + end,
                begin + end,
                end + begin,
                begin,
                end,
                begin.lower() + end.lower(),
                b"x" + begin + b"\n" + end + b"y",
            ):
                _same("is_pem_format", blob)
    assert tutils.is_pem_format(b"-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----")
    assert tutils.is_pem_format(b"---- BEGIN X509 CRL ----x---- END X509 CRL ----")
    assert not tutils.is_pem_format(b"-----END PUBLIC KEY----------BEGIN PUBLIC KEY-----")
    assert not tutils.is_pem_format(b"-----BEGIN PUBLIC KEY-----\n-----END CERTIFICATE-----")
    assert not tutils.is_pem_format(b"-----BEGIN FOO-----\n-----END FOO-----")
    assert tutils.is_ssh_key(b"ecdsa-sha2-nistp521 AAAA") and not tutils.is_ssh_key(b" ssh-rsa")


def test_ecdsa_signature_format_conversion(km: KeyMaterial) -> None:
    for name in ("p256", "p384", "p521", "k256"):
        key = km.private[name]
        der = key.sign(b"msg", ec.ECDSA(hashes.SHA256()))
        raw = tutils.der_to_raw_signature(der, key.curve)
        assert raw == jutils.der_to_raw_signature(der, key.curve)
        assert tutils.raw_to_der_signature(raw, key.curve) == jutils.raw_to_der_signature(raw, key.curve)
        for bad in (b"", raw[:-1], raw + b"\x00", b"\x00" * len(raw)):
            _same("raw_to_der_signature", bad, key.curve)
        _same("der_to_raw_signature", b"\x30\x00", key.curve)
        _same("der_to_raw_signature", b"not der", key.curve)
