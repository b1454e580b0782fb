"""PyJWT's ``jwt.algorithms`` against ``turbojwt.algorithms``: the registry and class shapes,
prepare_key over every key input, signing and verifying across the two libraries, key
length checks, to_jwk/from_jwk and their errors, and HMAC digests against hashlib."""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from helpers.pyjwt_modules import (
    ALG_NAMES,
    SIGNING_KEYS,
    KeyMaterial,
    _algos,
    _b64,
    assert_no_mismatch,
    jalg,
    outcome,
    talg,
    texc,
)


def test_algorithm_registry_and_module_names() -> None:
    theirs, ours = jalg.get_default_algorithms(), talg.get_default_algorithms()
    assert list(ours) == list(theirs)
    for name in theirs:
        assert type(ours[name]).__name__ == type(theirs[name]).__name__, name
        assert getattr(ours[name], "hash_alg", None) is getattr(theirs[name], "hash_alg", None)
        assert getattr(ours[name], "expected_curve", None) is getattr(theirs[name], "expected_curve", None)
    # A fresh map each call, as in PyJWT (callers may mutate it).
    assert talg.get_default_algorithms()["HS256"] is not ours["HS256"]

    assert talg.has_crypto is True is jalg.has_crypto
    assert talg.requires_cryptography == jalg.requires_cryptography
    for alias in (
        "AllowedRSAKeys",
        "AllowedECKeys",
        "AllowedOKPKeys",
        "AllowedKeys",
        "AllowedPrivateKeys",
        "AllowedPublicKeys",
    ):
        assert getattr(talg, alias) == getattr(jalg, alias), alias

    for cls_name in (
        "Algorithm",
        "NoneAlgorithm",
        "HMACAlgorithm",
        "RSAAlgorithm",
        "RSAPSSAlgorithm",
        "ECAlgorithm",
        "OKPAlgorithm",
    ):
        ours_cls, theirs_cls = getattr(talg, cls_name), getattr(jalg, cls_name)
        assert [c.__name__ for c in ours_cls.__mro__] == [c.__name__ for c in theirs_cls.__mro__], cls_name
        for attr in ("SHA256", "SHA384", "SHA512", "_MIN_KEY_SIZE"):
            assert getattr(ours_cls, attr, None) == getattr(theirs_cls, attr, None)
        assert getattr(ours_cls, "_crypto_key_types", None) == getattr(theirs_cls, "_crypto_key_types", None), cls_name
        public = sorted(n for n in vars(theirs_cls) if not n.startswith("__") and n != "_abc_impl")
        missing = object()
        for meth in public:
            theirs_attr = inspect.getattr_static(theirs_cls, meth)
            ours_attr = inspect.getattr_static(ours_cls, meth, missing)
            assert ours_attr is not missing, f"{cls_name}.{meth} missing"
            assert type(ours_attr) is type(theirs_attr), f"{cls_name}.{meth}"
            if callable(getattr(theirs_cls, meth)) and not isinstance(getattr(theirs_cls, meth), type):
                try:
                    t_sig = inspect.signature(getattr(theirs_cls, meth))
                except (TypeError, ValueError):
                    continue
                o_sig = inspect.signature(getattr(ours_cls, meth))
                assert [(p.name, p.kind, p.default) for p in o_sig.parameters.values()] == [
                    (p.name, p.kind, p.default) for p in t_sig.parameters.values()
                ], f"{cls_name}.{meth}"

    # Abstract like PyJWT's; a user-defined algorithm still plugs in.
    with pytest.raises(TypeError):
        talg.Algorithm()  # type: ignore[abstract]

    class Custom(talg.Algorithm):
        def prepare_key(self, key):
            return key

        def sign(self, msg, key):
            return b"sig"

        def verify(self, msg, key, sig):
            return sig == b"sig"

        @staticmethod
        def to_jwk(key_obj, as_dict=False):
            return {}

        @staticmethod
        def from_jwk(jwk):
            return None

    assert Custom().verify(b"m", None, Custom().sign(b"m", None))
    assert Custom().check_key_length(b"k") is None
    with pytest.raises(NotImplementedError):
        Custom().compute_hash_digest(b"x")
    with pytest.raises(ValueError) as ours_err:
        Custom().check_crypto_key_type(object())
    assert str(ours_err.value) == (
        "This method requires the cryptography library, and should only be used by cryptography-based algorithms."
    )


@pytest.mark.parametrize("alg", ALG_NAMES)
def test_prepare_key_matches_pyjwt(alg: str, km: KeyMaterial) -> None:
    theirs, ours = _algos(alg)
    mismatches = []
    for label, key in km.inputs.items():
        expected = outcome(theirs.prepare_key, key)
        got = outcome(ours.prepare_key, key)
        if expected != got:
            mismatches.append((f"{alg} prepare_key({label})", expected, got))
    assert_no_mismatch(mismatches)


def test_prepare_key_outcomes_are_not_trivial(km: KeyMaterial) -> None:
    # Guard against a comparison that passes because everything errors.
    ours = talg.get_default_algorithms()
    assert isinstance(ours["RS256"].prepare_key(km.inputs["rsa2048/pem-pkcs8"]), rsa.RSAPrivateKey)
    assert isinstance(ours["RS256"].prepare_key(km.inputs["rsa2048/ssh-public"]), rsa.RSAPublicKey)
    assert isinstance(ours["ES256"].prepare_key(km.inputs["p256/ssh-public"]), ec.EllipticCurvePublicKey)
    assert isinstance(ours["EdDSA"].prepare_key(km.inputs["ed448/pem-pkcs8-str"]), ed448.Ed448PrivateKey)
    assert ours["HS256"].prepare_key("secret") == b"secret"
    assert ours["none"].prepare_key("") is None

    with pytest.raises(texc.InvalidKeyError, match="should not be used as an HMAC secret"):
        ours["HS256"].prepare_key(km.inputs["p256/pem-spki"])
    with pytest.raises(texc.InvalidKeyError, match="looks like a JWK"):
        ours["HS256"].prepare_key(km.inputs["deep/array-kty-member"])
    with pytest.raises(texc.InvalidKeyError, match="does not match the expected curve"):
        ours["ES256"].prepare_key(km.private["p384"])
    with pytest.raises(texc.InvalidKeyError) as err:
        ours["PS256"].prepare_key(km.inputs["p256/pem-pkcs8"])
    assert re.fullmatch(
        r"Expected one of <generator object Algorithm\.check_crypto_key_type\.<locals>\."
        r"<genexpr> at 0x[0-9a-f]+>, got: ECPrivateKey\. Invalid Key type for RSAPSSAlgorithm",
        str(err.value),
    )


@pytest.mark.parametrize("alg", [a for a in ALG_NAMES if a != "none"])
def test_sign_verify_cross_library(alg: str, km: KeyMaterial) -> None:
    theirs, ours = _algos(alg)
    msgs = [b"", b"header.payload", bytes(range(256)) * 4]
    for key_label in SIGNING_KEYS[alg]:
        raw = km.private.get(key_label, km.inputs.get(key_label))
        their_key, our_key = theirs.prepare_key(raw), ours.prepare_key(raw)
        if hasattr(raw, "public_key"):
            pub = raw.public_key()
            their_pub, our_pub = theirs.prepare_key(pub), ours.prepare_key(pub)
        else:
            their_pub, our_pub = their_key, our_key
        for msg in msgs:
            our_sig = ours.sign(msg, our_key)
            their_sig = theirs.sign(msg, their_key)
            assert theirs.verify(msg, their_pub, our_sig) is True, (alg, key_label)
            assert ours.verify(msg, our_pub, their_sig) is True, (alg, key_label)
            assert ours.verify(msg, our_pub, our_sig) is True
            # verify with the private key too (EC/EdDSA accept it)
            if alg.startswith(("ES", "Ed", "HS")):
                assert ours.verify(msg, our_key, their_sig) is True
            assert len(our_sig) == len(their_sig)
            if not alg.startswith(("PS", "ES")):  # deterministic schemes
                assert our_sig == their_sig
            tampered = bytes([our_sig[0] ^ 1]) + our_sig[1:]
            assert ours.verify(msg, our_pub, tampered) is False
            assert theirs.verify(msg, their_pub, tampered) is False
            assert ours.verify(msg + b"x", our_pub, their_sig) is False
            for bad in (b"", our_sig[:-1], our_sig + b"\x00"):
                assert outcome(ours.verify, msg, our_pub, bad) == outcome(theirs.verify, msg, their_pub, bad)
        assert outcome(ours.check_key_length, our_key) == outcome(theirs.check_key_length, their_key)
        assert outcome(ours.compute_hash_digest, b"abc") == outcome(theirs.compute_hash_digest, b"abc")
    # Non-bytes messages: whatever each library does (accept, encode, raise)
    # must be the same.
    raw = km.private.get(SIGNING_KEYS[alg][0], km.inputs.get(SIGNING_KEYS[alg][0]))
    their_key, our_key = theirs.prepare_key(raw), ours.prepare_key(raw)
    deterministic = not alg.startswith(("PS", "ES"))
    for msg in (bytearray(b"msg"), memoryview(b"msg"), "msg", None, 5):
        expected = outcome(theirs.sign, msg, their_key)
        got = outcome(ours.sign, msg, our_key)
        if deterministic or expected[0] == "raise":
            assert got == expected, (alg, msg)
        else:
            assert got[0] == "return", (alg, msg)
            assert (
                theirs.verify(
                    bytes(msg, "utf-8") if isinstance(msg, str) else bytes(msg),
                    their_key if alg.startswith("HS") else raw.public_key(),
                    got[1],
                )
                is True
            )
        if expected[0] == "return":
            sig = expected[1]
            vkey_t = their_key if alg.startswith("HS") else theirs.prepare_key(raw.public_key())
            vkey_o = our_key if alg.startswith("HS") else ours.prepare_key(raw.public_key())
            for s in (sig, bytearray(sig)):
                assert outcome(ours.verify, msg, vkey_o, s) == outcome(theirs.verify, msg, vkey_t, s), (
                    alg,
                    msg,
                    type(s),
                )
    if alg == "EdDSA":  # str message and signature are UTF-8 encoded
        key = km.private["ed25519"]
        assert jalg.OKPAlgorithm().verify("text", key.public_key(), ours.sign("text", key))


def test_check_key_length_messages(km: KeyMaterial) -> None:
    theirs, ours = jalg.get_default_algorithms(), talg.get_default_algorithms()
    assert ours["RS256"].check_key_length(km.private["rsa1024"]) == (
        "The RSA key is 1024 bits long, which is below the minimum recommended size of 2048 bits. See NIST SP 800-131A."
    )
    for name in ("HS256", "HS384", "HS512"):
        for length in (0, 1, 31, 32, 47, 48, 63, 64, 100):
            key = b"k" * length
            assert ours[name].check_key_length(key) == theirs[name].check_key_length(key)
    assert ours["HS384"].check_key_length(b"short") == (
        "The HMAC key is 5 bytes long, which is below the minimum recommended "
        "length of 48 bytes for SHA384. See RFC 7518 Section 3.2."
    )
    for name in ALG_NAMES:
        assert outcome(ours[name].compute_hash_digest, b"data") == outcome(theirs[name].compute_hash_digest, b"data"), (
            name
        )


def _public_and_private_keys(km: KeyMaterial) -> dict[str, Any]:
    keys = {}
    for name, key in km.private.items():
        keys[f"{name}/private"] = key
        keys[f"{name}/public"] = key.public_key()
    keys.update({"secret/bytes": b"secret", "secret/str": "secret", "type/int": 7, "type/none": None})
    return keys


@pytest.mark.parametrize(
    "cls_name", ["NoneAlgorithm", "HMACAlgorithm", "RSAAlgorithm", "RSAPSSAlgorithm", "ECAlgorithm", "OKPAlgorithm"]
)
def test_to_jwk_from_jwk_match_and_round_trip(cls_name: str, km: KeyMaterial) -> None:
    theirs, ours = getattr(jalg, cls_name), getattr(talg, cls_name)
    mismatches = []
    for label, key in _public_and_private_keys(km).items():
        for as_dict in (False, True):
            expected = outcome(theirs.to_jwk, key, as_dict=as_dict)
            got = outcome(ours.to_jwk, key, as_dict=as_dict)
            if expected != got:
                mismatches.append((f"{cls_name}.to_jwk({label}, {as_dict})", expected, got))
            if expected[0] == "return" and not as_dict:
                jwk_text = expected[1]
                # round trip through our parser, and theirs from ours
                back = outcome(ours.from_jwk, jwk_text)
                if back != outcome(theirs.from_jwk, jwk_text):
                    mismatches.append((f"{cls_name}.from_jwk({label})", None, back))
                assert back[0] == "return"
                again = ours.to_jwk(ours.from_jwk(jwk_text))
                if json.loads(again) != json.loads(jwk_text):
                    mismatches.append((f"{cls_name} round trip {label}", jwk_text, again))
                as_obj = json.loads(jwk_text)
                if outcome(ours.from_jwk, as_obj) != outcome(theirs.from_jwk, as_obj):
                    mismatches.append((f"{cls_name}.from_jwk(dict {label})", None, None))
    assert_no_mismatch(mismatches)


def _bad_jwks(km: KeyMaterial) -> dict[str, Any]:
    rsa_priv = jalg.RSAAlgorithm.to_jwk(km.private["rsa2048"], as_dict=True)
    rsa_d_only = {k: rsa_priv[k] for k in ("kty", "n", "e", "d")}
    p256 = jalg.ECAlgorithm.to_jwk(km.private["p256"], as_dict=True)
    p521 = jalg.ECAlgorithm.to_jwk(km.private["p521"], as_dict=True)
    ed = jalg.OKPAlgorithm.to_jwk(km.private["ed25519"], as_dict=True)
    other_ed = jalg.OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate(), as_dict=True)
    return {
        "not-json": "{not json",
        "json-array": "[]",
        "json-string": '"x"',
        "int": 5,
        "none": None,
        "list": [],
        "empty": {},
        "oct": {"kty": "oct", "k": "c2VjcmV0"},
        "oct-empty-k": {"kty": "oct", "k": ""},
        "oct-no-k": {"kty": "oct"},
        "oct-int-k": {"kty": "oct", "k": 5},
        "oct-bad-b64": {"kty": "oct", "k": "a"},
        "rsa-d-only": rsa_d_only,
        "rsa-partial-crt": {**rsa_d_only, "p": rsa_priv["p"]},
        "rsa-oth": {**rsa_priv, "oth": []},
        "rsa-no-n": {"kty": "RSA", "e": "AQAB"},
        "rsa-int-n": {"kty": "RSA", "n": 5, "e": "AQAB"},
        "rsa-bad-d": {**rsa_d_only, "d": "AQ"},
        "rsa-bad-crt": {**rsa_priv, "qi": "AQ"},
        "ec-no-y": {k: v for k, v in p256.items() if k != "y"},
        "ec-bad-crv": {**p256, "crv": "P-999"},
        "ec-list-crv": {**p256, "crv": ["P-256"]},
        "ec-no-crv": {k: v for k, v in p256.items() if k != "crv"},
        "ec-short-x": {**p256, "x": _b64(b"\x01" * 31)},
        "ec-p521-as-p384": {**p521, "crv": "P-384"},
        "ec-short-d": {**p256, "d": _b64(b"\x01" * 31)},
        "ec-k256-short": {**p256, "crv": "secp256k1", "x": _b64(b"\x01" * 31)},
        "ec-off-curve": {**p256, "x": _b64(b"\x00" * 31 + b"\x01"), "d": None},
        "ec-point-not-on-curve": {k: v for k, v in {**p256, "y": _b64(b"\x00" * 31 + b"\x02")}.items() if k != "d"},
        "okp-no-x": {"kty": "OKP", "crv": "Ed25519"},
        "okp-bad-crv": {**ed, "crv": "X25519"},
        "okp-short-x": {"kty": "OKP", "crv": "Ed25519", "x": _b64(b"\x01" * 31)},
        "okp-mismatched-d": {**ed, "d": other_ed["d"]},
        "okp-ed448-with-ed25519-x": {**ed, "crv": "Ed448"},
        "okp-bad-d-b64": {**ed, "d": "a"},
        "wrong-kty": {"kty": "XYZ"},
    }


@pytest.mark.parametrize("cls_name", ["HMACAlgorithm", "RSAAlgorithm", "ECAlgorithm", "OKPAlgorithm", "NoneAlgorithm"])
def test_from_jwk_errors_match(cls_name: str, km: KeyMaterial) -> None:
    theirs, ours = getattr(jalg, cls_name), getattr(talg, cls_name)
    mismatches = []
    for label, jwk_value in _bad_jwks(km).items():
        for form in ("as-is", "json"):
            value = jwk_value
            if form == "json":
                if not isinstance(jwk_value, dict):
                    continue
                value = json.dumps(jwk_value)
            expected, got = outcome(theirs.from_jwk, value), outcome(ours.from_jwk, value)
            if expected != got:
                mismatches.append((f"{cls_name}.from_jwk({label}, {form})", expected, got))
    assert_no_mismatch(mismatches)


def test_from_jwk_specific_messages(km: KeyMaterial) -> None:
    bad = _bad_jwks(km)
    with pytest.raises(texc.InvalidKeyError) as err:
        talg.ECAlgorithm.from_jwk(bad["ec-short-d"])
    # PyJWT passes the values as extra args instead of formatting them.
    assert err.value.args == ("D should be {} bytes for curve {}", 32, "P-256")
    with pytest.raises(texc.InvalidKeyError, match="^Coords should be 48 bytes for curve P-384$"):
        talg.ECAlgorithm.from_jwk(bad["ec-p521-as-p384"])
    with pytest.raises(texc.InvalidKeyError, match="^HMAC key must not be empty.$"):
        talg.HMACAlgorithm.from_jwk(bad["oct-empty-k"])
    with pytest.raises(KeyError):
        talg.HMACAlgorithm.from_jwk(bad["oct-no-k"])
    with pytest.raises(texc.InvalidKeyError, match="^Public key does not match private key$"):
        talg.OKPAlgorithm.from_jwk(bad["okp-mismatched-d"])
    key = talg.RSAAlgorithm.from_jwk(bad["rsa-d-only"])  # primes recovered from d
    assert key.private_numbers() == km.private["rsa2048"].private_numbers()


def test_hmac_digest_sanity() -> None:
    # Independent oracle (hashlib/hmac) so both libraries cannot be wrong together.
    import hmac as std_hmac

    ours = talg.get_default_algorithms()
    for name, fn in (("HS256", hashlib.sha256), ("HS384", hashlib.sha384), ("HS512", hashlib.sha512)):
        assert ours[name].sign(b"m", b"k" * 64) == std_hmac.new(b"k" * 64, b"m", fn).digest()
        assert ours[name].compute_hash_digest(b"m") == fn(b"m").digest()
