"""PyJWT's ``jwt.api_jwk`` against ``turbojwt.api_jwk``: PyJWK and PyJWKSet built from every
JWK shape (and their errors), and PyJWTSetWithTimestamp."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed448

from helpers.pyjwt_modules import (
    KeyMaterial,
    _describe_pyjwk,
    _jwk_dicts,
    assert_no_mismatch,
    japi_jwk,
    outcome,
    tapi_jwk,
    texc,
)


def test_pyjwk_matches_pyjwt(km: KeyMaterial) -> None:
    mismatches = []
    for label, (data, algorithm) in _jwk_dicts(km).items():
        for ctor in ("init", "from_dict", "from_json"):

            def build(mod: Any) -> Any:
                if ctor == "init":
                    return _describe_pyjwk(mod.PyJWK(data, algorithm))
                if ctor == "from_dict":
                    return _describe_pyjwk(mod.PyJWK.from_dict(data, algorithm))
                return _describe_pyjwk(mod.PyJWK.from_json(json.dumps(data), algorithm))

            expected, got = outcome(build, japi_jwk), outcome(build, tapi_jwk)
            if expected != got:
                mismatches.append((f"PyJWK {ctor}({label})", expected, got))
    assert_no_mismatch(mismatches)

    # spot-check that the comparison covers both successes and failures
    jwks = _jwk_dicts(km)
    ok = tapi_jwk.PyJWK(*jwks["ed448/alg-arg"])
    assert (ok.algorithm_name, ok.key_type) == ("EdDSA", "OKP")
    assert isinstance(ok.key, ed448.Ed448PublicKey)
    with pytest.raises(texc.InvalidKeyError, match="^Unsupported crv: Ed448$"):
        tapi_jwk.PyJWK(*jwks["ed448/no-alg"])
    with pytest.raises(texc.InvalidKeyError, match=r"^kty is not found: \{'k': 'abc'\}$"):
        tapi_jwk.PyJWK(*jwks["missing-kty"])
    with pytest.raises(texc.PyJWKError, match="^Unable to find an algorithm for key: "):
        tapi_jwk.PyJWK(*jwks["unknown-alg"])
    with pytest.raises(texc.InvalidKeyError, match="^HMAC key must not be empty.$"):
        tapi_jwk.PyJWK(*jwks["oct/empty-k"])
    with pytest.raises(
        texc.InvalidKeyError, match="^Unable to construct key from JWK: Expected a string or bytes value$"
    ):
        tapi_jwk.PyJWK(*jwks["rsa/int-n"])


def test_pyjwkset_matches_pyjwt(km: KeyMaterial) -> None:
    jwks = _jwk_dicts(km)
    good = [jwks[k][0] for k in ("rsa2048/public", "p256/public", "ed25519/public", "oct")]
    bad = [
        jwks[k][0]
        for k in ("ec/unsupported-crv", "missing-kty", "unknown-alg", "oct/empty-k", "unsupported-kty", "ed448/no-alg")
    ]
    cases: dict[str, Any] = {
        "good": good,
        "good-and-bad": bad[:3] + good + bad[3:],
        "only-bad": bad,
        "non-dict-members": ["x", 1, None, [good[0]]],
        "non-dict-and-good": ["x", good[0]],
        "empty-list": [],
        "none": None,
        "not-a-list": {"keys": good},
        "string": "abc",
        "with-oct-no-k": [good[0], {"kty": "oct"}],  # KeyError escapes in PyJWT
        "with-unhashable-alg": [good[0], jwks["unhashable-alg"][0]],
        "duplicate-kids": [good[0], {**good[1], "kid": good[0]["kid"]}],
    }

    def build(mod: Any, keys: Any, how: str) -> Any:
        if how == "init":
            s = mod.PyJWKSet(keys)
        elif how == "from_dict":
            s = mod.PyJWKSet.from_dict({"keys": keys})
        else:
            s = mod.PyJWKSet.from_json(json.dumps({"keys": keys}))
        listed = [_describe_pyjwk(k) for k in s]
        assert listed == [_describe_pyjwk(k) for k in s.keys]
        lookups = []
        for kid in [k.key_id for k in s.keys] + ["missing", None]:
            lookups.append(outcome(lambda: _describe_pyjwk(s[kid])))
        return listed, lookups

    mismatches = []
    for label, keys in cases.items():
        for how in ("init", "from_dict", "from_json"):
            expected = outcome(build, japi_jwk, keys, how)
            got = outcome(build, tapi_jwk, keys, how)
            if expected != got:
                mismatches.append((f"PyJWKSet {how}({label})", expected, got))
    for label, doc in {"no-keys-member": {}, "keys-none": {"keys": None}}.items():
        expected = outcome(lambda: len(japi_jwk.PyJWKSet.from_dict(doc).keys))
        got = outcome(lambda: len(tapi_jwk.PyJWKSet.from_dict(doc).keys))
        if expected != got:
            mismatches.append((f"PyJWKSet.from_dict({label})", expected, got))
    assert_no_mismatch(mismatches)

    s = tapi_jwk.PyJWKSet(cases["good-and-bad"])
    assert [k.key_id for k in s] == ["rsa2048-public", "p256-public", "ed25519-public", "hmac"]
    with pytest.raises(KeyError) as err:
        s["nope"]
    assert err.value.args == ("keyset has no key for kid: nope",)
    with pytest.raises(texc.PyJWKSetError, match="did not contain any usable keys"):
        tapi_jwk.PyJWKSet(cases["only-bad"])
    with pytest.raises(texc.PyJWKSetError, match="^The JWK Set did not contain any keys$"):
        tapi_jwk.PyJWKSet([])


def test_set_with_timestamp(monkeypatch: pytest.MonkeyPatch, km: KeyMaterial) -> None:
    monkeypatch.setattr(time, "monotonic", lambda: 1234.5)
    jwks = _jwk_dicts(km)
    s = tapi_jwk.PyJWKSet([jwks["oct"][0]])
    stamped = tapi_jwk.PyJWTSetWithTimestamp(s)
    assert stamped.get_jwk_set() is s and stamped.jwk_set is s
    assert stamped.get_timestamp() == 1234.5 == stamped.timestamp
