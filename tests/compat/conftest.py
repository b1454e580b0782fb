"""The key material fixture of the support-module tests (tests/compat/test_pyjwt_*.py):
generated once per test module, as it was when they were one module."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from helpers.pyjwt_modules import (
    Enc,
    KeyMaterial,
    NoEnc,
    PrivFmt,
    PubFmt,
    _jwk_algo_for,
    _pem,
    _self_signed_cert,
)


@pytest.fixture(scope="module")
def km() -> KeyMaterial:
    private: dict[str, PrivateKeyTypes] = {
        "rsa2048": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "rsa1024": rsa.generate_private_key(public_exponent=65537, key_size=1024),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "p521": ec.generate_private_key(ec.SECP521R1()),
        "k256": ec.generate_private_key(ec.SECP256K1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "ed448": ed448.Ed448PrivateKey.generate(),
        "x25519": x25519.X25519PrivateKey.generate(),  # a family no alg accepts
    }
    inputs: dict[str, Any] = {}
    for name, key in private.items():
        pub = key.public_key()
        inputs[f"{name}/obj-private"] = key
        inputs[f"{name}/obj-public"] = pub
        pkcs8 = _pem(key, PrivFmt.PKCS8)
        inputs[f"{name}/pem-pkcs8"] = pkcs8
        inputs[f"{name}/pem-pkcs8-str"] = pkcs8.decode()
        spki = pub.public_bytes(Enc.PEM, PubFmt.SubjectPublicKeyInfo)
        inputs[f"{name}/pem-spki"] = spki
        inputs[f"{name}/pem-spki-str"] = spki.decode()
        inputs[f"{name}/der-spki"] = pub.public_bytes(Enc.DER, PubFmt.SubjectPublicKeyInfo)
        inputs[f"{name}/der-pkcs8"] = key.private_bytes(Enc.DER, PrivFmt.PKCS8, NoEnc())
        if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            inputs[f"{name}/pem-traditional"] = _pem(key, PrivFmt.TraditionalOpenSSL)
        if isinstance(key, rsa.RSAPrivateKey):
            inputs[f"{name}/pem-pkcs1-public"] = pub.public_bytes(Enc.PEM, PubFmt.PKCS1)
        try:  # not every curve has an OpenSSH encoding (secp256k1, Ed448, X25519)
            inputs[f"{name}/ssh-public"] = pub.public_bytes(Enc.OpenSSH, PubFmt.OpenSSH)
            inputs[f"{name}/ssh-public-str"] = inputs[f"{name}/ssh-public"].decode()
            inputs[f"{name}/ssh-private"] = _pem(key, PrivFmt.OpenSSH)
        except ValueError:
            pass
        if name != "x25519":
            jwk_algo = _jwk_algo_for(key)
            inputs[f"{name}/jwk-private-json"] = jwk_algo.to_jwk(key)
            inputs[f"{name}/jwk-public-json"] = jwk_algo.to_jwk(pub)
            inputs[f"{name}/jwk-public-dict"] = jwk_algo.to_jwk(pub, as_dict=True)

    p256 = private["p256"]
    inputs["p256/pem-encrypted"] = p256.private_bytes(
        Enc.PEM, PrivFmt.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    cert = _self_signed_cert(private["rsa2048"])
    inputs["cert/pem"] = cert.public_bytes(Enc.PEM)
    inputs["cert/der"] = cert.public_bytes(Enc.DER)
    ec_cert = _self_signed_cert(p256)
    inputs["cert/ec-pem"] = ec_cert.public_bytes(Enc.PEM)

    # Symmetric secrets and hostile HMAC inputs (JWK / PEM / SSH look-alikes).
    deep = 3000  # deeper than json's recursion guard -> RecursionError path
    inputs.update(
        {
            "secret/bytes": b"secret",
            "secret/str": "secret",
            "secret/unicode": "s\u00e9cr\u00e8t-\u2603",
            "secret/64": bytes(range(64)),
            "secret/empty-bytes": b"",
            "secret/empty-str": "",
            "secret/json-no-kty": b'{"k": "abc"}',
            "secret/json-number": b"12345",
            "secret/json-array-no-kty": b'[1, 2, {"a": "kty"}]',
            "jwk/oct-json": '{"kty": "oct", "k": "c2VjcmV0"}',
            "jwk/nested-kty": b'{"a": {"b": [{"kty": 1}]}}',
            "jwk/array-kty": b'[{"kty": "RSA"}]',
            "jwk/huge-int": b'{"kty": "oct", "n": ' + b"9" * 6000 + b"}",
            "jwk/utf16": '{"kty": "oct"}'.encode("utf-16"),
            "jwk/bom-utf8": b"\xef\xbb\xbf" + b'{"kty": "oct"}',
            "deep/object": b'{"a":' * deep + b"1" + b"}" * deep,
            "deep/array-no-kty": b"[" * deep + b"]" * deep,
            "deep/array-kty-member": b"[" * deep + b'{"kty": 1}' + b"]" * deep,
            "deep/array-kty-escaped": b"[" * deep + b'{"\\u006bty" : 1}' + b"]" * deep,
            "deep/array-kty-value-only": b"[" * deep + b'"kty"' + b"]" * deep,
            "deep/array-unterminated": b"[" * deep + b'"abc\\", "kty": 1',
            "deep/array-ws-prefix": b" \t\r\n" + b"[" * deep + b'{"kty" :1}' + b"]" * deep,
            "deep/array-utf16": ("[" * deep + '{"kty":1}' + "]" * deep).encode("utf-16"),
            "deep/object-invalid-escape": b"[" * deep + b'{"\\x": 1, "kty": 2}' + b"]" * deep,
            "pem/spaced-markers": b"---- BEGIN PUBLIC KEY ----\nabc\n---- END PUBLIC KEY ----",
            "pem/end-before-begin": b"-----END PUBLIC KEY-----\n-----BEGIN PUBLIC KEY-----",
            "pem/mismatched-labels": b"-----BEGIN PUBLIC KEY-----\n-----END CERTIFICATE-----",
            "pem/unknown-label": b"-----BEGIN FOO-----\nabc\n-----END FOO-----",
            "pem/garbage-rsa-private": b"-----BEGIN RSA PRIVATE KEY-----\nZm9v\n-----END RSA PRIVATE KEY-----",
            "ssh/rsa-prefix-garbage": b"ssh-rsa AAAAnotbase64",
            "ssh/ecdsa-prefix-garbage": b"ecdsa-sha2-nistp256 AAAA",
            "ssh/dss-prefix": "ssh-dss AAAAB3NzaC1kc3M=",
            "ssh/ed25519-garbage": "ssh-ed25519 AAAA",
            "ssh/ecdsa-unsupported-curve": b"ecdsa-sha2-nistp192 AAAA",  # UnsupportedAlgorithm
            "ssh/unsupported-type": "ssh-foo AAAA",
            "garbage/bytes": b"\x00\xff\x10not a key",
            "garbage/non-utf8": b"\xff\xfe\xfd",
            # wrong Python types
            "type/none": None,
            "type/int": 123,
            "type/float": 1.5,
            "type/dict": {"kty": "oct", "k": "abc"},
            "type/list": [b"secret"],
            "type/bytearray": bytearray(b"secret"),
            "type/object": object(),
        }
    )
    return KeyMaterial(private=private, inputs=inputs)
