"""The attack matrix: each known way to get a forged or malformed token accepted, by name.
turbojwt must refuse every one; where PyJWT refuses too, with the same exception class
(turbojwt's deliberate deviations aside: they refuse with DecodeError where PyJWT accepts)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import urllib.request

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import turbojwt

NOW = int(time.time())
CLAIMS = {"sub": "user-1", "iss": "https://idp.example", "aud": "api", "exp": NOW + 3600}
SECRET = "s" * 48


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict | bytes, payload: dict | bytes, sign) -> str:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    p = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    si = b64(h) + "." + b64(p)
    return si + "." + b64(sign(si.encode()))


def hs256(key: bytes):
    return lambda si: hmac.new(key, si, hashlib.sha256).digest()


def refused(token, key, **kw):
    """(turbojwt's exception class name, PyJWT's or None when PyJWT accepts)."""
    kw.setdefault("algorithms", ["HS256"])
    try:
        turbojwt.decode(token, key, **kw)
        ours = None
    except turbojwt.PyJWTError as e:
        ours = type(e).__name__
    try:
        pyjwt.decode(token, key, **kw)
        theirs = None
    except pyjwt.PyJWTError as e:
        theirs = type(e).__name__
    except Exception as e:
        theirs = type(e).__name__
    assert ours is not None, f"turbojwt accepted it (PyJWT: {theirs})"
    return ours, theirs


def assert_same_refusal(token, key, **kw):
    ours, theirs = refused(token, key, **kw)
    assert theirs is not None and ours == theirs, (ours, theirs)


# --------------------------------------------------------------------------- alg none


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("sig", ["", "AAAA"], ids=["empty-signature", "junk-signature"])
@pytest.mark.parametrize("allowed", [["HS256"], ["RS256"], ["HS256", "RS256"]])
def test_alg_none_spellings(alg, sig, allowed, rsa_key):
    token = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + b64(json.dumps(CLAIMS).encode()) + "." + sig
    key = SECRET if allowed[0] == "HS256" else rsa_key.public_pem
    assert_same_refusal(token, key, algorithms=allowed, audience="api")


def test_empty_signature_on_a_real_algorithm():
    token = turbojwt.encode(CLAIMS, SECRET).rsplit(".", 1)[0] + "."
    assert_same_refusal(token, SECRET, audience="api")


# --------------------------------------------------------------------------- algorithm confusion


def _key_forms(km):
    forms = {
        "pem-str": km.public_pem,
        "pem-bytes": km.public_pem_bytes,
        "der": km.public_der,
        "jwk-json": json.dumps(km.public_jwk),
    }
    if km.ssh:
        forms["ssh"] = km.ssh
    return forms


@pytest.mark.parametrize("keyname", ["rsa", "p256", "ed25519"])
@pytest.mark.parametrize("allowed", [["HS256"], ["HS256", "RS256", "ES256", "EdDSA"]], ids=["hs-only", "mixed"])
def test_hmac_keyed_with_the_public_key(keyring, keyname, allowed):
    km = keyring[keyname]
    for form, key in _key_forms(km).items():
        material = key if isinstance(key, bytes) else key.encode()
        token = raw_token({"alg": "HS256", "typ": "JWT"}, CLAIMS, hs256(material))
        ours, theirs = refused(token, key, algorithms=allowed, audience="api")
        assert ours in ("InvalidKeyError", "InvalidAlgorithmError", "InvalidSignatureError"), (form, ours)
        if theirs is not None and form != "der":  # PyJWT has no DER public keys (it raises ValueError)
            assert ours == theirs, (form, ours, theirs)


def test_hmac_token_against_a_pyjwk_bound_to_rsa(rsa_key):
    key = turbojwt.PyJWK({**rsa_key.public_jwk, "alg": "RS256"})
    token = raw_token({"alg": "HS256"}, CLAIMS, hs256(rsa_key.public_pem.encode()))
    with pytest.raises(turbojwt.InvalidAlgorithmError):
        turbojwt.decode(token, key, algorithms=["HS256", "RS256"], audience="api")


# --------------------------------------------------------------------------- ECDSA signature shapes

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _es256(keyring):
    km = keyring["p256"]
    token = turbojwt.encode(CLAIMS, km.private_pem, algorithm="ES256")
    si, sig = token.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(sig + "==")
    return km, si, int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")


def _rs(r: int, s: int, size: int = 32) -> str:
    return b64(r.to_bytes(size, "big") + s.to_bytes(size, "big"))


@pytest.mark.parametrize(
    "name, make",
    [
        ("r-zero", lambda r, s: _rs(0, s)),
        ("s-zero", lambda r, s: _rs(r, 0)),
        ("both-zero (CVE-2022-21449)", lambda r, s: _rs(0, 0)),
        ("r-equals-n", lambda r, s: _rs(P256_N, s)),
        ("s-equals-n", lambda r, s: _rs(r, P256_N)),
        ("r-plus-n", lambda r, s: b64((r + P256_N).to_bytes(33, "big") + s.to_bytes(32, "big"))),
        ("s-minus-n-wrapped", lambda r, s: _rs(r, (s + P256_N) % (1 << 256))),
        ("one-byte-short", lambda r, s: b64((r.to_bytes(32, "big") + s.to_bytes(32, "big"))[:-1])),
        ("one-byte-long", lambda r, s: b64(r.to_bytes(32, "big") + s.to_bytes(32, "big") + b"\0")),
        ("left-padded-66", lambda r, s: _rs(r, s, 33)),
        ("empty", lambda r, s: ""),
    ],
)
def test_ecdsa_signature_values_and_lengths(keyring, name, make):
    km, si, r, s = _es256(keyring)
    assert_same_refusal(si + "." + make(r, s), km.public_pem, algorithms=["ES256"], audience="api")


def test_ecdsa_der_encoded_signature_is_refused(keyring):
    km = keyring["p256"]
    si = b64(b'{"alg":"ES256"}') + "." + b64(json.dumps(CLAIMS).encode())
    der = km.private.sign(si.encode(), ec.ECDSA(hashes.SHA256()))
    assert decode_dss_signature(der)  # a genuine signature, only in the wrong (DER) form
    assert_same_refusal(si + "." + b64(der), km.public_pem, algorithms=["ES256"], audience="api")


# --------------------------------------------------------------------------- header-borne keys


@pytest.mark.parametrize("param", ["jwk", "jku", "x5u", "x5c"])
def test_keys_named_by_the_header_are_never_trusted_or_fetched(keyring, monkeypatch, param):
    def no_network(*a, **k):
        raise AssertionError("turbojwt tried to fetch something a token named")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    attacker, victim = keyring["rsa2"], keyring["rsa"]
    value = {
        "jwk": attacker.public_jwk,
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": [base64.b64encode(attacker.cert_der).decode()],
    }[param]
    token = turbojwt.encode(CLAIMS, attacker.private_pem, algorithm="RS256", headers={param: value})
    with pytest.raises(turbojwt.InvalidSignatureError):
        turbojwt.decode(token, victim.public_pem, algorithms=["RS256"], audience="api")


# --------------------------------------------------------------------------- crit


@pytest.mark.parametrize(
    "crit",
    [["urn:unknown"], [], "b64", [1], ["alg"], ["exp"], ["b64", "b64"], {"b64": True}, None],
    ids=[
        "unknown",
        "empty",
        "not-a-list",
        "not-strings",
        "registered-alg",
        "registered-exp",
        "duplicate",
        "object",
        "null",
    ],
)
def test_crit(crit):
    header = {"alg": "HS256", "crit": crit}
    if crit == ["b64", "b64"]:
        header["b64"] = True
    token = raw_token(header, CLAIMS, hs256(SECRET.encode()))
    ours, theirs = refused(token, SECRET, audience="api")
    if crit == ["b64", "b64"]:
        # PyJWT accepts duplicates; RFC 7515 §4.1.11 forbids them and turbojwt refuses.
        assert theirs is None and ours == "InvalidTokenError"
    else:
        assert ours == theirs, (ours, theirs)


# --------------------------------------------------------------------------- duplicates and encodings


@pytest.mark.parametrize(
    "header, payload",
    [
        (b'{"alg":"HS256","alg":"none"}', json.dumps(CLAIMS).encode()),
        (b'{"alg":"HS256"}', b'{"sub":"user-1","sub":"admin","aud":"api"}'),
        (b'{"alg":"HS256"}', b'{"aud":"api","exp":1,"exp":99999999999}'),
    ],
    ids=["dup-alg", "dup-sub", "dup-exp"],
)
def test_duplicate_members_are_refused(header, payload):
    token = raw_token(header, payload, hs256(SECRET.encode()))
    ours, _ = refused(token, SECRET, audience="api")
    assert ours == "DecodeError"


def _mutate_segment(token: str, index: int, fn) -> str:
    parts = token.split(".")
    parts[index] = fn(parts[index])
    return ".".join(parts)


@pytest.mark.parametrize(
    "name, fn",
    [
        ("padding", lambda s: s + "=" * (-len(s) % 4 or 4)),
        ("plus-slash", lambda s: s.replace("-", "+").replace("_", "/") if ("-" in s or "_" in s) else s[:-1] + "+"),
        ("whitespace", lambda s: s[:4] + " " + s[4:]),
        ("newline", lambda s: s[:4] + "\n" + s[4:]),
        ("trailing-bits", lambda s: s[:-1] + chr(ord(s[-1]) + 1) if len(s) % 4 in (2, 3) else s + "B"),
        ("length-mod-4-is-1", lambda s: s + "A" if len(s) % 4 == 0 else s + "A" * ((1 - len(s)) % 4)),
    ],
)
@pytest.mark.parametrize("segment", [0, 1, 2], ids=["header", "payload", "signature"])
def test_non_canonical_base64url(name, fn, segment):
    token = turbojwt.encode(CLAIMS, SECRET)
    bad = _mutate_segment(token, segment, fn)
    if bad == token:
        pytest.skip("mutation is a no-op for this segment")
    ours, _ = refused(bad, SECRET, audience="api")
    assert ours in ("DecodeError", "InvalidSignatureError"), ours


# --------------------------------------------------------------------------- structure and size


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a",
        "a.b",
        "a.b.c.d",
        "...",
        ".",
        "..",
        "e30.e30",
        "e30.e30.e30.e30",
        "." * 1_000_000,
        "a" * 2_000_000,
        "e30." + "A" * 1_500_000 + ".",
    ],
    ids=[
        "empty",
        "one",
        "two",
        "four",
        "dots3",
        "dot",
        "dots2",
        "two-json",
        "four-json",
        "1MB-dots",
        "2MB-junk",
        "oversized-payload",
    ],
)
def test_structure_and_size_are_refused(token):
    with pytest.raises(turbojwt.DecodeError):
        turbojwt.decode(token, SECRET, algorithms=["HS256"])


@pytest.mark.parametrize("where", ["header", "payload"])
def test_100k_deep_json_is_refused_without_recursion(where):
    deep = b"[" * 100_000 + b"]" * 100_000
    obj = b'{"alg":"HS256","x":' + deep + b"}" if where == "header" else b'{"x":' + deep + b"}"
    header = obj if where == "header" else b'{"alg":"HS256"}'
    payload = obj if where == "payload" else json.dumps(CLAIMS).encode()
    token = raw_token(header, payload, hs256(SECRET.encode()))
    with pytest.raises(turbojwt.DecodeError, match="deep|depth|nest"):
        turbojwt.decode(token, SECRET, algorithms=["HS256"])


# --------------------------------------------------------------------------- time claims


@pytest.mark.parametrize(
    "raw",
    [
        '"1893456000"',
        '"soon"',
        "true",
        "false",
        "null",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "1" + "0" * 400,
        "[1]",
        "{}",
        '""',
    ],
)
@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_time_claim_shapes(claim, raw):
    payload = f'{{"sub":"user-1","aud":"api","{claim}":{raw}}}'.encode()
    token = raw_token({"alg": "HS256"}, payload, hs256(SECRET.encode()))
    try:
        expected = ("ok", pyjwt.decode(token, SECRET, algorithms=["HS256"], audience="api"))
    except Exception as e:
        expected = ("err", type(e).__name__)
    try:
        got = ("ok", turbojwt.decode(token, SECRET, algorithms=["HS256"], audience="api"))
    except Exception as e:
        got = ("err", type(e).__name__)
    if expected[0] == "err":
        assert got[0] == "err", f"PyJWT refuses ({expected[1]}), turbojwt accepted"
        # PyJWT's own OverflowError/ValueError on 1e400 or NaN becomes a PyJWT error here
        assert (
            got[1] == expected[1]
            or not expected[1].endswith("Error")
            or got[1] in ("DecodeError", "ExpiredSignatureError", "ImmatureSignatureError", "InvalidIssuedAtError")
        ), (got, expected)
    else:
        assert got == expected


# --------------------------------------------------------------------------- iss / aud near misses


@pytest.mark.parametrize(
    "claim, value, expected",
    [
        ("iss", "https://idp.example.co", "InvalidIssuerError"),
        ("iss", "https://idp.example.com.evil", "InvalidIssuerError"),
        ("iss", "https://idp.example", None),
        ("iss", "idp.example", "InvalidIssuerError"),
        ("aud", "ap", "InvalidAudienceError"),
        ("aud", "api2", "InvalidAudienceError"),
        ("aud", ["apis"], "InvalidAudienceError"),
        ("aud", "api", None),
        ("aud", "API", "InvalidAudienceError"),
    ],
    ids=[
        "iss-substring",
        "iss-superstring",
        "iss-exact",
        "iss-scheme-less",
        "aud-substring",
        "aud-superstring",
        "aud-list-superstring",
        "aud-exact",
        "aud-case",
    ],
)
def test_issuer_and_audience_near_misses(claim, value, expected):
    token = turbojwt.encode({**CLAIMS, claim: value}, SECRET)
    kw = dict(algorithms=["HS256"], audience="api", issuer="https://idp.example.com"[:-4])
    if expected is None:
        assert turbojwt.decode(token, SECRET, **kw)[claim] == value
        return
    for lib in (turbojwt, pyjwt):
        with pytest.raises(getattr(lib, expected)):
            lib.decode(token, SECRET, **kw)


# --------------------------------------------------------------------------- weak keys


def test_weak_keys(keyring):
    strict = {"enforce_minimum_key_length": True}
    token = raw_token({"alg": "HS256"}, CLAIMS, hs256(b""))
    for lib in (turbojwt, pyjwt):
        with pytest.raises(lib.InvalidKeyError):
            lib.decode(token, "", algorithms=["HS256"], audience="api")
    short = raw_token({"alg": "HS256"}, CLAIMS, hs256(b"short"))
    for lib in (turbojwt, pyjwt):
        with pytest.raises(lib.InvalidKeyError):
            lib.decode(short, "short", algorithms=["HS256"], audience="api", options=strict)
        with pytest.warns(lib.InsecureKeyLengthWarning):
            lib.decode(short, "short", algorithms=["HS256"], audience="api")
    km = keyring["rsa1024"]
    with pytest.warns(turbojwt.InsecureKeyLengthWarning):
        rs = turbojwt.encode(CLAIMS, km.private_pem, algorithm="RS256")
    for lib in (turbojwt, pyjwt):
        with pytest.raises(lib.InvalidKeyError):
            lib.decode(rs, km.public_pem, algorithms=["RS256"], audience="api", options=strict)
