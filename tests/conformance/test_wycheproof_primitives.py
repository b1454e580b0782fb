"""Wycheproof primitive vectors through the raw verify entry point (signing input bytes,
signature bytes, key, algorithm): the signature checks under every token, without the JWS
layer. `valid` cases must verify and `invalid` ones must not; `acceptable` ones may go
either way. Only the parameters JWS uses are taken: full-length HMAC tags, PKCS#1 v1.5
and PSS with MGF1 of the same hash and salt = hash length, ECDSA in IEEE P1363 form,
Ed25519.
"""

from __future__ import annotations

import pytest

import turbojwt._native.testing as native_testing
from helpers.vector_files import VECTORS_DIR, WYCHEPROOF, fail_if_missing, load_vector, missing_vector_param

HASH_BITS = {"SHA-256": 256, "SHA-384": 384, "SHA-512": 512}
FILES = {
    "hmac_sha256_test.json": "HS256",
    "hmac_sha384_test.json": "HS384",
    "hmac_sha512_test.json": "HS512",
    "ed25519_test.json": "EdDSA",
    "ecdsa_secp256r1_sha256_p1363_test.json": "ES256",
    "ecdsa_secp384r1_sha384_p1363_test.json": "ES384",
    "ecdsa_secp521r1_sha512_p1363_test.json": "ES512",
    "ecdsa_secp256k1_sha256_p1363_test.json": "ES256K",
    **{f"rsa_signature_{bits}_sha{h}_test.json": f"RS{h}" for bits in (2048, 3072, 4096) for h in (256, 384, 512)},
    "rsa_pss_2048_sha256_mgf1_32_test.json": "PS256",
    "rsa_pss_2048_sha384_mgf1_48_test.json": "PS384",
    "rsa_pss_3072_sha256_mgf1_32_test.json": "PS256",
    "rsa_pss_4096_sha256_mgf1_32_test.json": "PS256",
    "rsa_pss_4096_sha384_mgf1_48_test.json": "PS384",
    "rsa_pss_4096_sha512_mgf1_64_test.json": "PS512",
}


def cases():
    for name, alg in FILES.items():
        rel = f"{WYCHEPROOF}/{name}"
        if not (VECTORS_DIR / rel).is_file():
            yield missing_vector_param(rel, 3)  # one failing test for the file, the others still run
            continue
        doc = load_vector(rel)
        for group in doc["testGroups"]:
            if alg.startswith("HS"):
                if group["tagSize"] != int(alg[2:]):
                    continue  # JWS compares full-length tags only
                key = None
            else:
                if alg.startswith("PS") and (
                    group.get("mgfSha") != group.get("sha") or group.get("sLen") != HASH_BITS[group["sha"]] // 8
                ):
                    continue  # not JWS's PSS parameters
                key = group["publicKeyPem"]
            for test in group["tests"]:
                yield pytest.param(alg, key, test, id=f"{name}:{test['tcId']}")


@pytest.mark.parametrize("alg, pem, test", list(cases()))
def test_vector(alg, pem, test):
    fail_if_missing(test)
    key = bytes.fromhex(test["key"]) if pem is None else pem
    msg, sig = bytes.fromhex(test["msg"]), bytes.fromhex(test.get("tag") or test["sig"])
    try:
        verified = native_testing.verify_raw(alg, key, msg, sig)
    except ValueError:
        # A key the core refuses for the algorithm (e.g. an empty HMAC key, as PyJWT does).
        verified = False
        if test["result"] == "valid":
            assert alg.startswith("HS") and len(key) == 0, f"valid vector's key refused: {test}"
            return
    if test["result"] == "valid":
        assert verified, test
    elif test["result"] == "invalid":
        assert not verified, test


def test_every_file_is_read():
    assert sum(1 for _ in cases()) > 3000
