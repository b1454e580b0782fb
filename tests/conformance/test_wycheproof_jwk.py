"""Wycheproof json_web_key_test.json (all 26 cases) through ``KeySet``: each group's key set
is built (its public set where it has one, and its private set), then the case's JWS is
verified with the set picking the key by ``kid``. ``valid`` cases must verify; ``invalid``
ones must be refused, either when the set is built (mixed or duplicate-kid sets, weak,
malformed or non-signing keys) or when the signature is checked. Plus the ``KeySet`` rules
the vectors do not reach."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import turbojwt
from helpers.vector_files import VECTORS_DIR, WYCHEPROOF, fail_if_missing, load_vector, missing_vector_param
from turbojwt import KeyNotFoundError, KeySet, PyJWKSetError, PyJWS
from turbojwt.algorithms import ECAlgorithm, RSAAlgorithm
from turbojwt.keyset import has_roca_fingerprint

REL = f"{WYCHEPROOF}/json_web_key_test.json"
FILE = VECTORS_DIR / REL


def cases():
    if not FILE.is_file():
        yield missing_vector_param(REL, 3)
        return
    doc = load_vector(REL)
    for group in doc["testGroups"]:
        for which in ("public", "private"):
            if which not in group:
                continue
            for test in group["tests"]:
                tc = int(test["tcId"])
                yield pytest.param(group[which], test, which, id=f"{tc}-{which}-{group['comment']}-{test['comment']}")


@pytest.mark.parametrize("jwks, test, which", list(cases()))
def test_vector(jwks, test, which):
    fail_if_missing(jwks, test, which)
    try:
        keys = KeySet(jwks)
    except PyJWKSetError as e:
        assert test["result"] == "invalid", f"a valid case's key set must load: {e}"
        return
    try:
        PyJWS().decode_complete(test["jws"], keys)
        verified = True
    except turbojwt.PyJWTError:
        verified = False
    assert verified == (test["result"] == "valid"), test


def test_all_26_cases_are_read():
    doc = load_vector(REL)
    ids = {t["tcId"] for g in doc["testGroups"] for t in g["tests"]}
    assert ids == set(range(1, 27))


# ------------------------------------------------------------------------- KeySet rules


@pytest.fixture(scope="module")
def rsa_keys():
    return [rsa.generate_private_key(65537, 2048) for _ in range(2)]


def rsa_jwk(key, **extra):
    return {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), **extra}


def test_kid_picks_the_key_and_the_algorithm_is_bound_to_the_key_type(rsa_keys):
    a, b = rsa_keys
    keys = KeySet({"keys": [rsa_jwk(a, kid="a"), rsa_jwk(b, kid="b", alg="RS256")]})
    assert keys.kids == ["a", "b"] and "a" in keys and len(keys) == 2
    token = turbojwt.encode({"sub": "x"}, a, algorithm="PS384", headers={"kid": "a"})
    assert turbojwt.decode(token, keys, algorithms=["PS384"]) == {"sub": "x"}
    # Without an allow-list the key's own algorithms apply.
    assert PyJWS().decode(token, keys) == b'{"sub":"x"}'
    # Key b is bound to RS256 by its JWK.
    ps = turbojwt.encode({"sub": "x"}, b, algorithm="PS256", headers={"kid": "b"})
    with pytest.raises(turbojwt.InvalidAlgorithmError, match="does not allow algorithm 'PS256'"):
        turbojwt.decode(ps, keys, algorithms=["PS256"])
    # Signed by a, but names b.
    forged = turbojwt.encode({"sub": "x"}, a, algorithm="RS256", headers={"kid": "b"})
    with pytest.raises(turbojwt.InvalidSignatureError):
        turbojwt.decode(forged, keys, algorithms=["RS256"])


def hs256_token(header, claims, secret):
    """An HS256 token made by hand (encode refuses a JWK as an HMAC secret)."""
    b64 = turbojwt.utils.base64url_encode
    signing_input = b64(json.dumps(header).encode()) + b"." + b64(json.dumps(claims).encode())
    secret = secret.encode() if isinstance(secret, str) else secret
    return (signing_input + b"." + b64(hmac.new(secret, signing_input, hashlib.sha256).digest())).decode()


def test_algorithm_confusion_with_a_key_set_is_refused(rsa_keys):
    a, _ = rsa_keys
    jwk = rsa_jwk(a, kid="a")
    keys = KeySet({"keys": [jwk]})
    # HS256 keyed with the public key's JWK text or PEM: the RSA key never allows HS*.
    pem = a.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for secret in (json.dumps(jwk), pem):
        token = hs256_token({"alg": "HS256", "kid": "a"}, {"sub": "x"}, secret)
        with pytest.raises(turbojwt.InvalidAlgorithmError):
            turbojwt.decode(token, keys, algorithms=["HS256", "RS256"])
        with pytest.raises(turbojwt.InvalidAlgorithmError):
            PyJWS().decode(token, keys)
    none = turbojwt.encode({"sub": "x"}, None, algorithm="none", headers={"kid": "a"})
    with pytest.raises(turbojwt.InvalidAlgorithmError):
        PyJWS().decode(none, keys)


def test_unknown_or_missing_kid(rsa_keys):
    a, b = rsa_keys
    keys = KeySet({"keys": [rsa_jwk(a, kid="a"), rsa_jwk(b, kid="b")]})
    unknown = turbojwt.encode({}, a, algorithm="RS256", headers={"kid": "zz"})
    with pytest.raises(KeyNotFoundError, match='"zz"') as info:
        turbojwt.decode(unknown, keys, algorithms=["RS256"])
    # Catchable both as a token error and as PyJWKClient's error.
    assert isinstance(info.value, turbojwt.InvalidTokenError)
    assert isinstance(info.value, turbojwt.PyJWKClientError)
    no_kid = turbojwt.encode({}, a, algorithm="RS256")
    with pytest.raises(KeyNotFoundError, match="no kid"):
        turbojwt.decode(no_kid, keys, algorithms=["RS256"])
    # With one key, a token without a kid uses it.
    single = KeySet({"keys": [rsa_jwk(a, kid="a")]})
    assert turbojwt.decode(no_kid, single, algorithms=["RS256"]) == {}


def test_key_level_refusals_are_recorded_and_the_rest_kept(rsa_keys):
    a, b = rsa_keys
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_jwk = {**json.loads(ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "e"}
    small = rsa.generate_private_key(65537, 1024)
    keys = KeySet(
        {
            "keys": [
                rsa_jwk(a, kid="ok"),
                rsa_jwk(b, kid="enc", use="enc"),
                rsa_jwk(b, kid="ops", key_ops=["encrypt"]),
                rsa_jwk(small, kid="small"),
                {**ec_jwk, "alg": "ES384"},
                {"kty": "nope", "kid": "n"},
                {**rsa_jwk(b), "kid": 7},
                "not a key",
            ]
        }
    )
    assert keys.kids == ["ok"]
    reasons = dict(keys.rejected)
    assert '"use": "enc"' in reasons["enc"]
    assert "key_ops" in reasons["ops"]
    assert "1024 bits" in reasons["small"]
    assert "does not fit" in reasons["e"]
    assert "unsupported" in reasons["n"]
    assert reasons[None] == "not a JSON object"
    assert reasons[7] == "kid must be a string"
    # The minimum is configurable.
    assert KeySet({"keys": [rsa_jwk(small, kid="small")]}, min_rsa_bits=1024).kids == ["small"]


def test_hmac_key_lengths_bind_algorithms():
    k32 = turbojwt.utils.base64url_encode(b"k" * 32).decode()
    k64 = turbojwt.utils.base64url_encode(b"k" * 64).decode()
    keys = KeySet({"keys": [{"kty": "oct", "k": k32, "kid": "short"}, {"kty": "oct", "k": k64, "kid": "long"}]})
    assert [e.algorithms for e in keys] == [("HS256",), ("HS256", "HS384", "HS512")]
    with pytest.warns(turbojwt.InsecureKeyLengthWarning):
        t = turbojwt.encode({}, b"k" * 32, algorithm="HS512", headers={"kid": "short"})
    with pytest.raises(turbojwt.InvalidAlgorithmError):
        turbojwt.decode(t, keys, algorithms=["HS512"])
    t = turbojwt.encode({}, b"k" * 64, algorithm="HS512", headers={"kid": "long"})
    assert turbojwt.decode(t, keys, algorithms=["HS512"]) == {}
    with pytest.raises(PyJWKSetError, match="symmetric"):
        KeySet({"keys": [{"kty": "oct", "k": k32}]}, allow_symmetric=False)


def test_set_level_refusals(rsa_keys):
    a, b = rsa_keys
    with pytest.raises(PyJWKSetError, match="several signing keys with kid 'x'"):
        KeySet({"keys": [rsa_jwk(a, kid="x"), rsa_jwk(b, kid="x")]})
    # The same kid on an encryption key is not ambiguous for verification.
    assert KeySet({"keys": [rsa_jwk(a, kid="x"), rsa_jwk(b, kid="x", use="enc")]}).kids == ["x"]
    for bad in ({}, {"keys": {}}, [], "not json", b"[1]", {"keys": []}):
        with pytest.raises(PyJWKSetError):
            KeySet(bad)
    # JSON text and PyJWKSet are accepted.
    text = json.dumps({"keys": [rsa_jwk(a, kid="a")]})
    assert KeySet(text).kids == ["a"]
    assert KeySet(turbojwt.PyJWKSet.from_json(text)).kids == ["a"]


def test_roca_fingerprint():
    doc = load_vector(REL)
    roca = next(g for g in doc["testGroups"] if g["comment"] == "jws_rsa_roca_key")["public"]["keys"][0]
    n = int.from_bytes(turbojwt.utils.base64url_decode(roca["n"]), "big")
    assert has_roca_fingerprint(n)
    # Ordinary keys do not have it.
    assert not any(
        has_roca_fingerprint(rsa.generate_private_key(65537, 2048).public_key().public_numbers().n) for _ in range(5)
    )
