"""Differential decode, keys: every algorithm's key in every form PyJWT takes (PEM, DER,
certificates, OpenSSH, JWK dicts and text, PyJWK, key objects), keys of the wrong type,
curve or pair, and short keys (InsecureKeyLengthWarning, enforce_minimum_key_length).
The corpus and the deviations (K, U) are in tests/helpers/differential.py."""

from __future__ import annotations

import jwt
import pytest

import turbojwt
from helpers.differential import SIGNERS, Case, case_verdict, check_case, single_cases
from helpers.verdicts import assert_same_verdict

KEY_CASES = single_cases("keys")


@pytest.mark.parametrize("case", KEY_CASES, ids=[c.id for c in KEY_CASES])
def test_decode_differential(case: Case, keyring) -> None:
    check_case(case, keyring)


@pytest.mark.parametrize("signer", ["HS256-short", "RS256-1024"])
@pytest.mark.parametrize("fn", ["decode", "jws_decode"])
def test_short_keys_warn_in_both(signer: str, fn: str, keyring) -> None:
    """InsecureKeyLengthWarning must be emitted by both libraries (and turned
    into InvalidKeyError by enforce_minimum_key_length)."""
    for opts in ("default", "enforce_min_key"):
        case = Case(fn, signer, ("claims", "empty"), SIGNERS[signer][1], "pem", opts)
        py = case_verdict(jwt, case, keyring)
        tj = case_verdict(turbojwt, case, keyring)
        assert_same_verdict(py, tj)
        if opts == "default":
            assert py.ok and [w[0] for w in py.warnings] == ["InsecureKeyLengthWarning"]
        else:
            assert py.err_class == "InvalidKeyError" and not py.warnings
