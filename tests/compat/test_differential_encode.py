"""Differential encode: turbojwt.encode and api_jws.encode give PyJWT's tokens (byte for byte
where the signature is deterministic), errors and warnings, and tokens made by either
library decode in the other."""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import itertools
import json
import uuid
from typing import Any, Callable

import jwt
import pytest

import turbojwt
from helpers.differential import (
    AUD,
    CLAIM_SHAPES,
    DETERMINISTIC_SIGNERS,
    ISS,
    MAIN_SIGNERS,
    RSA_ALGS,
    RSA_PRIVATE_PEM_SIGNERS,
    SIGNERS,
    b64d,
    dumps,
)
from helpers.verdicts import assert_same_verdict, canon, verdict


class CustomEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, (dt.date, dt.datetime)):
            return o.isoformat()
        if isinstance(o, uuid.UUID):
            return str(o)
        if isinstance(o, decimal.Decimal):
            return str(o)
        if isinstance(o, (set, frozenset)):
            return sorted(o)
        return super().default(o)


_UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")
_TZ = dt.timezone(dt.timedelta(hours=5, minutes=30))


def _enc(mod: Any, signer: str, ring: dict, claims: Any = None, *, keyform: str = "priv_obj", **kw: Any) -> Any:
    alg, keyname = SIGNERS[signer]
    km = ring[keyname]
    if km.kind == "oct":
        key = {
            "priv_pem": km.secret_str,
            "priv_pem_bytes": km.secret,
            "pyjwk": lambda: mod.PyJWK(dict(km.private_jwk), alg),
        }.get(keyform, km.secret_str)
    else:
        key = {
            "priv_pem": km.private_pem,
            "priv_pem_bytes": km.private_pem_bytes,
            "priv_obj": km.private,
            "pyjwk": lambda: mod.PyJWK(copy.deepcopy(km.private_jwk), alg),
        }[keyform]
    if callable(key):
        key = key()
    kw.setdefault("algorithm", alg)
    if kw["algorithm"] is _UNSET:
        del kw["algorithm"]
    return mod.encode(CLAIM_SHAPES["twelve"] if claims is None else claims, key, **kw)


_UNSET = object()

ENCODE_VARIANTS: dict[str, Callable[[Any, str, dict], Any]] = {
    "plain": lambda m, s, r: _enc(m, s, r),
    "key_pem": lambda m, s, r: _enc(m, s, r, keyform="priv_pem"),
    "key_pem_bytes": lambda m, s, r: _enc(m, s, r, keyform="priv_pem_bytes"),
    "key_pyjwk": lambda m, s, r: _enc(m, s, r, keyform="pyjwk"),
    "key_pyjwk_default_alg": lambda m, s, r: _enc(m, s, r, keyform="pyjwk", algorithm=_UNSET),
    "key_pyjwk_alg_none": lambda m, s, r: _enc(m, s, r, keyform="pyjwk", algorithm=None),
    "custom_headers": lambda m, s, r: _enc(
        m, s, r, headers={"kid": "key-1", "x5t": "thumb", "cty": "JWT", "custom": {"n": [1, 2]}}
    ),
    "typ_none": lambda m, s, r: _enc(m, s, r, headers={"typ": None}),
    "typ_empty": lambda m, s, r: _enc(m, s, r, headers={"typ": ""}),
    "typ_custom": lambda m, s, r: _enc(m, s, r, headers={"typ": "at+jwt"}),
    "alg_in_headers": lambda m, s, r: _enc(
        m, s, r, algorithm="HS256" if not s.startswith("HS") else "none", headers={"alg": SIGNERS[s][0]}
    ),
    "unsorted_headers": lambda m, s, r: _enc(m, s, r, headers={"zz": 1, "kid": "k", "aa": [2]}, sort_headers=False),
    "sorted_headers": lambda m, s, r: _enc(m, s, r, headers={"zz": 1, "kid": "k", "aa": [2]}, sort_headers=True),
    "json_encoder": lambda m, s, r: _enc(
        m,
        s,
        r,
        {"when": dt.date(2024, 2, 29), "id": _UUID, "amount": decimal.Decimal("1.10"), "tags": {"b", "a"}},
        headers={"x-id": _UUID},
        json_encoder=CustomEncoder,
    ),
    "datetime_claims": lambda m, s, r: _enc(
        m,
        s,
        r,
        {
            "exp": dt.datetime(2100, 1, 1, 12, 30, tzinfo=dt.timezone.utc),
            "nbf": dt.datetime(2000, 1, 1, 0, 0, 0),
            "iat": dt.datetime(2020, 6, 1, 8, 0, tzinfo=_TZ),
            "other": 1,
        },
    ),
    "unicode_claims": lambda m, s, r: _enc(m, s, r, CLAIM_SHAPES["unicode"]),
    "escapes": lambda m, s, r: _enc(m, s, r, CLAIM_SHAPES["escapes"]),
    "numbers": lambda m, s, r: _enc(
        m, s, r, {**CLAIM_SHAPES["bigints"], **CLAIM_SHAPES["floats"], "nan": float("nan"), "inf": float("-inf")}
    ),
    "nested": lambda m, s, r: _enc(m, s, r, CLAIM_SHAPES["nested"]),
    "empty": lambda m, s, r: _enc(m, s, r, {}),
    "non_str_keys": lambda m, s, r: _enc(m, s, r, {1: "a", None: "b", False: "c", 2.5: "d"}),
    "b64_false_header": lambda m, s, r: _enc(m, s, r, headers={"b64": False}),
    "b64_false_with_crit": lambda m, s, r: _enc(m, s, r, headers={"b64": False, "crit": ["b64"]}),
    "b64_true_header": lambda m, s, r: _enc(m, s, r, headers={"b64": True}),
    "jws_detached": lambda m, s, r: m.api_jws.encode(
        b'{"detached":true}', _enc_key(m, s, r), SIGNERS[s][0], is_payload_detached=True
    ),
    "jws_raw_bytes": lambda m, s, r: m.api_jws.encode(b"\x00\xffbinary.payload", _enc_key(m, s, r), SIGNERS[s][0]),
    "jws_unsorted_headers": lambda m, s, r: m.api_jws.encode(
        b"{}", _enc_key(m, s, r), SIGNERS[s][0], headers={"zz": 1, "aa": 2}, sort_headers=False
    ),
    "pyjws_instance": lambda m, s, r: m.PyJWS().encode(b"payload", _enc_key(m, s, r), SIGNERS[s][0]),
    "pyjwt_instance": lambda m, s, r: m.PyJWT().encode({"a": 1}, _enc_key(m, s, r), SIGNERS[s][0]),
}


def _enc_key(mod: Any, signer: str, ring: dict) -> Any:
    km = ring[SIGNERS[signer][1]]
    return km.secret if km.kind == "oct" else km.private


# encode calls that must fail or warn identically
ENCODE_ERRORS: dict[str, Callable[[Any, dict], Any]] = {
    "payload_list": lambda m, r: m.encode([1], r["hs256"].secret, "HS256"),
    "payload_str": lambda m, r: m.encode("x", r["hs256"].secret, "HS256"),
    "iss_int": lambda m, r: m.encode({"iss": 1}, r["hs256"].secret, "HS256"),
    "unknown_alg": lambda m, r: m.encode({}, r["hs256"].secret, "HS999"),
    "kid_int": lambda m, r: m.encode({}, r["hs256"].secret, "HS256", headers={"kid": 1}),
    "unserialisable": lambda m, r: m.encode({"x": {1, 2}}, r["hs256"].secret, "HS256"),
    "crit_not_list": lambda m, r: m.encode({}, r["hs256"].secret, "HS256", headers={"b64": False, "crit": "b64"}),
    "hs_with_public_pem": lambda m, r: m.encode({}, r["rsa"].public_pem, "HS256"),
    "hs_with_private_pem": lambda m, r: m.encode({}, r["p256"].private_pem, "HS256"),
    "hs_with_ssh": lambda m, r: m.encode({}, r["ed25519"].ssh, "HS256"),
    "hs_with_jwk_json": lambda m, r: m.encode({}, json.dumps(r["hs256"].private_jwk), "HS256"),
    "hs_empty_key": lambda m, r: m.encode({}, "", "HS256"),
    "hs_none_key": lambda m, r: m.encode({}, None, "HS256"),
    "rs_with_secret": lambda m, r: m.encode({}, r["hs256"].secret, "RS256"),
    "rs_with_ec_key": lambda m, r: m.encode({}, r["p256"].private_pem, "RS256"),
    "es_with_rsa_obj": lambda m, r: m.encode({}, r["rsa"].private, "ES256"),
    "es_wrong_curve": lambda m, r: m.encode({}, r["p384"].private_pem, "ES256"),
    "es256k_with_p256": lambda m, r: m.encode({}, r["p256"].private, "ES256K"),
    "eddsa_with_rsa": lambda m, r: m.encode({}, r["rsa"].public_pem, "EdDSA"),
    "eddsa_with_secret": lambda m, r: m.encode({}, r["hs256"].secret_str, "EdDSA"),
    "none_with_key": lambda m, r: m.encode({}, r["hs256"].secret, "none"),
    "none_alg_none_key": lambda m, r: m.encode({"a": 1}, None, algorithm=None),
    "none_alg_empty_key": lambda m, r: m.encode({"a": 1}, "", algorithm="none"),
    "default_alg_hs256": lambda m, r: m.encode({"a": 1}, r["hs256"].secret),
    "short_hmac_warning": lambda m, r: m.encode({"a": 1}, r["hs_short"].secret, "HS256"),
    "short_rsa_warning": lambda m, r: m.encode({"a": 1}, r["rsa1024"].private, "RS256"),
    "short_hmac_enforced": lambda m, r: m.PyJWT({"enforce_minimum_key_length": True}).encode(
        {"a": 1}, r["hs_short"].secret, "HS256"
    ),
    "short_rsa_enforced": lambda m, r: m.PyJWS(options={"enforce_minimum_key_length": True}).encode(
        b"x", r["rsa1024"].private, "RS256"
    ),
    "pyjwk_wrong_alg": lambda m, r: m.encode({}, m.PyJWK(dict(r["p256"].private_jwk), "ES256"), "RS256"),
}


# loading an RSA private key (PEM or JWK) costs ~70 ms in cryptography
_EXPENSIVE_KEY_VARIANTS = {"key_pem", "key_pem_bytes", "key_pyjwk", "key_pyjwk_default_alg", "key_pyjwk_alg_none"}
ENCODE_CASES = [
    (s, v)
    for s, v in itertools.product(MAIN_SIGNERS, ENCODE_VARIANTS)
    if not (v in _EXPENSIVE_KEY_VARIANTS and SIGNERS[s][0] in RSA_ALGS and s not in RSA_PRIVATE_PEM_SIGNERS)
]


@pytest.mark.parametrize("signer,variant", ENCODE_CASES, ids=[f"{s}-{v}" for s, v in ENCODE_CASES])
def test_encode_differential(signer: str, variant: str, keyring) -> None:
    build = ENCODE_VARIANTS[variant]
    py = verdict(jwt, lambda: build(jwt, signer, keyring))
    tj = verdict(turbojwt, lambda: build(turbojwt, signer, keyring))
    if signer in DETERMINISTIC_SIGNERS or not (py.ok and tj.ok):
        # deterministic signatures: byte-for-byte identical tokens
        assert_same_verdict(py, tj, what=f"encode {signer}/{variant}")
        return
    # randomised signatures (PS*, ES*): header and payload segments identical,
    # and each library accepts the other's signature
    py_tok, tj_tok = py.outcome[1][1], tj.outcome[1][1]
    assert tj_tok.split(".")[:2] == py_tok.split(".")[:2]
    assert tj.warnings == py.warnings
    alg, keyname = SIGNERS[signer]
    pub = keyring[keyname].public_pem
    detached = json.loads(b64d(py_tok.split(".")[0])).get("b64", True) is False
    payload = {"detached_payload": _detached_payload(variant)} if detached else {}
    for mod, tok in ((jwt, tj_tok), (turbojwt, py_tok)):
        mod.api_jws.decode_complete(tok, pub, algorithms=[alg], **payload)


def _detached_payload(variant: str) -> bytes:
    if variant == "jws_detached":
        return b'{"detached":true}'
    return dumps(CLAIM_SHAPES["twelve"])


@pytest.mark.parametrize("name", list(ENCODE_ERRORS))
def test_encode_errors_and_warnings(name: str, keyring) -> None:
    build = ENCODE_ERRORS[name]
    py = verdict(jwt, lambda: build(jwt, keyring))
    tj = verdict(turbojwt, lambda: build(turbojwt, keyring))
    assert_same_verdict(py, tj, what=f"encode {name}")
    if name.endswith("_warning"):
        assert any(w[0] == "InsecureKeyLengthWarning" for w in tj.warnings), tj


CROSS_CLAIMS = ["twelve", "all_valid", "unicode", "bigints", "floats", "nested"]


@pytest.mark.parametrize(
    "signer,shape",
    list(itertools.product(MAIN_SIGNERS, CROSS_CLAIMS)),
    ids=[f"{s}-{c}" for s, c in itertools.product(MAIN_SIGNERS, CROSS_CLAIMS)],
)
def test_cross_library_roundtrip(signer: str, shape: str, keyring) -> None:
    """Tokens made by each library decode in the other, to the same claims."""
    alg, keyname = SIGNERS[signer]
    km = keyring[keyname]
    priv = km.secret if km.kind == "oct" else km.private
    pub = km.secret if km.kind == "oct" else km.public
    claims = CLAIM_SHAPES[shape]
    kw = {"audience": [AUD, "other"]} if "aud" in claims else {}
    if "iss" in claims:
        kw["issuer"] = ISS
    for maker, checker in ((jwt, turbojwt), (turbojwt, jwt)):
        token = maker.encode(claims, priv, alg, headers={"kid": "k1"})
        got = checker.decode_complete(token, pub, algorithms=[alg], **kw)
        assert canon(got["payload"]) == canon(claims)
        assert got["header"] == {"alg": alg, "kid": "k1", "typ": "JWT"}
        assert got["signature"] == b64d(token.split(".")[2])
    # detached payload (RFC 7797) both ways
    for maker, checker in ((jwt.api_jws, turbojwt.api_jws), (turbojwt.api_jws, jwt.api_jws)):
        token = maker.encode(b"$.02 detached", priv, alg, is_payload_detached=True)
        assert token.split(".")[1] == ""
        assert checker.decode(token, pub, algorithms=[alg], detached_payload=b"$.02 detached") == b"$.02 detached"
