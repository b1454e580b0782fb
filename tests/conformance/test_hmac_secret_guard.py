"""The guard that stops a public key being used as an HMAC secret refuses every text PyJWT's
refuses: JWK text in any encoding ``json.loads(bytes)`` reads (UTF-8/16/32, with or without
a BOM), with lone surrogates, or with integers of any size. A secret PyJWT refuses but the
core accepted would be an algorithm-confusion door: a token naming HS256 signed with the
public key's text would verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
import warnings

import jwt as pyjwt
import pytest

import turbojwt

JWK = '{"kty":"RSA","n":"%s","e":"AQAB"}' % ("x" * 40)

SECRETS = {
    "utf-8": JWK.encode(),
    "utf-8 BOM": b"\xef\xbb\xbf" + JWK.encode(),
    "utf-16-le": JWK.encode("utf-16-le"),
    "utf-16-be": JWK.encode("utf-16-be"),
    "utf-16 BOM": JWK.encode("utf-16"),
    "utf-32-le": JWK.encode("utf-32-le"),
    "utf-32-be": JWK.encode("utf-32-be"),
    "utf-32 BOM": JWK.encode("utf-32"),
    "lone leading surrogate escape": b'{"kty":"oct","x":"\\ud800"}',
    "lone trailing surrogate escape": b'{"x":"\\udc00","kty":"oct"}',
    "leading surrogate then a letter": b'{"x":"\\ud800\\u0041","kty":"oct"}',
    "huge integer": ('{"kty":"oct","n":%s}' % ("9" * 5000)).encode(),
    "huge negative integer in an array": ('[{"kty":"oct"},-%s]' % ("1" * 5000)).encode(),
    "utf-8 encoded surrogate": b'{"x":"\xed\xa0\x80","kty":"oct"}',
    "utf-16 raw lone surrogate": '{"kty":"oct","x":"'.encode("utf-16-le") + b"\x00\xd8" + '"}'.encode("utf-16-le"),
}


def _hs256(secret: bytes) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    payload = base64.urlsafe_b64encode(b'{"sub":"x"}').rstrip(b"=")
    sig = hmac.new(secret, header + b"." + payload, hashlib.sha256).digest()
    return (header + b"." + payload + b"." + base64.urlsafe_b64encode(sig).rstrip(b"=")).decode()


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_jwk_text_is_refused_as_an_hmac_secret_like_pyjwt(name: str) -> None:
    secret = SECRETS[name]
    token = _hs256(secret)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(pyjwt.InvalidKeyError):
            pyjwt.decode(token, secret, algorithms=["HS256"])
        with pytest.raises(turbojwt.InvalidKeyError, match="looks like a JWK"):
            turbojwt.decode(token, secret, algorithms=["HS256"])
        with pytest.raises(turbojwt.InvalidKeyError):
            turbojwt.Verifier(secret, algorithms=["HS256"])
        with pytest.raises(turbojwt.InvalidKeyError):
            turbojwt.encode({"sub": "x"}, secret, algorithm="HS256")
        result = turbojwt.verify_batch([token], secret, algorithms=["HS256"])
    assert result.errors[0] is not None and result.errors[0].kind == "InvalidKeyError"


@pytest.mark.parametrize("secret", [b'{"x":"\\ud800"}', "ab".encode("utf-16-le"), b"\x00\x01\x02\x03 kty"], ids=repr)
def test_secrets_that_are_not_jwk_text_still_verify(secret: bytes) -> None:
    token = _hs256(secret)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert pyjwt.decode(token, secret, algorithms=["HS256"]) == {"sub": "x"}
        assert turbojwt.decode(token, secret, algorithms=["HS256"]) == {"sub": "x"}
