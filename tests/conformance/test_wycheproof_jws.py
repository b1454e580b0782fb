"""Wycheproof json_web_signature_test.json through the public JWS API, the key as a PyJWK
and the algorithm pinned to the key's: every correctly labelled case verifies or is
refused as labelled. A key whose `use` is not `sig`, or whose `key_ops` leave out
`verify`, never verifies (RFC 7517 §4.2-4.3; PyJWT ignores both, turbojwt refuses)."""

from __future__ import annotations

import re

import pytest

import turbojwt
from helpers.vector_files import (
    VECTORS_DIR,
    WYCHEPROOF,
    fail_if_missing,
    load_vector,
    missing_vector_param,
    vector_path,
)
from turbojwt import PyJWK, PyJWS

REL = f"{WYCHEPROOF}/json_web_signature_test.json"
FILE = VECTORS_DIR / REL

# tests/vectors/MANIFEST.md, "Known data problems": mislabelled cases, skipped with its reasons.
MISLABELLED = {
    367: "byte-identical to valid tcId 357 but labelled invalid (C2SP/wycheproof#236)",
    370: "byte-identical to valid tcId 357 but labelled invalid (C2SP/wycheproof#236)",
    372: "contains '?' in a segment yet labelled valid",
    373: "contains '?' in a segment yet labelled valid",
    346: "key alg PS256 for a PS384 token (RFC 7520 Fig. 20)",
    350: "key alg PS256 for a PS384 token (RFC 7520 Fig. 20)",
    347: 'key alg "ES521" (not a JWA name) for an ES512 token',
    351: 'key alg "ES521" (not a JWA name) for an ES512 token',
}


def skip_reason(tc: int) -> str:
    return f"Wycheproof JWS tcId {tc} mislabelled, a known data problem (tests/vectors/MANIFEST.md): {MISLABELLED[tc]}"


def cases():
    if not FILE.is_file():
        yield missing_vector_param(REL, 2)
        return
    doc = load_vector(REL)
    for group in doc["testGroups"]:
        jwk = group.get("public") or group["private"]
        for test in group["tests"]:
            tc = int(test["tcId"])
            marks = [pytest.mark.skip(reason=skip_reason(tc))] if tc in MISLABELLED else []
            yield pytest.param(jwk, test, id=f"{tc}-{group['comment']}-{test['comment']}"[:80], marks=marks)


@pytest.mark.parametrize("jwk, test", list(cases()))
def test_vector(jwk, test):
    fail_if_missing(jwk, test)
    try:
        key = PyJWK(dict(jwk))
    except turbojwt.PyJWTError:
        assert test["result"] != "valid", "a valid case's key must load"
        return
    try:
        PyJWS().decode_complete(test["jws"], key, algorithms=[key.algorithm_name])
        verified = True
    except turbojwt.PyJWTError:
        verified = False
    assert verified == (test["result"] == "valid"), test


def test_mislabelled_cases_are_documented_and_present():
    """Each skipped case is listed in the MANIFEST's known data problems and is still in the file
    (a skip for a case that no longer exists, or one without provenance, fails here)."""
    manifest = vector_path("MANIFEST.md").read_text(encoding="utf-8")
    problems = manifest.split("## Known data problems", 1)[1]
    ids = {int(t["tcId"]) for g in load_vector(REL)["testGroups"] for t in g["tests"]}
    for tc in MISLABELLED:
        assert re.search(rf"\btcId {tc}\b", problems), f"tcId {tc} is skipped but not in tests/vectors/MANIFEST.md"
        assert tc in ids, f"tcId {tc} is skipped but no longer in {FILE}"


def test_keys_not_for_signatures_never_verify(rsa_key):
    token = turbojwt.encode({"sub": "x"}, rsa_key.private_pem, algorithm="RS256")
    for extra in ({"use": "enc"}, {"key_ops": ["encrypt"]}, {"key_ops": "verify"}, {"use": "sig", "key_ops": []}):
        key = PyJWK({**rsa_key.public_jwk, **extra, "alg": "RS256"})
        for decode in (turbojwt.decode, turbojwt.PyJWT().decode, turbojwt.api_jwt.PyJWT()._jws.decode):
            with pytest.raises(turbojwt.InvalidKeyError, match="not for signatures|key_ops"):
                decode(token, key, algorithms=["RS256"])
        with pytest.raises(turbojwt.InvalidKeyError):
            turbojwt.Verifier(key, algorithms=["RS256"]).decode(token)
        assert turbojwt.verify_batch([token], key, algorithms=["RS256"]).errors[0].kind == "InvalidKeyError"
    for fine in ({"use": "sig"}, {"key_ops": ["verify"]}, {}):
        key = PyJWK({**rsa_key.public_jwk, **fine, "alg": "RS256"})
        assert turbojwt.decode(token, key, algorithms=["RS256"]) == {"sub": "x"}
