"""Differential decode, tokens: tampered signatures, alg none and changed algorithms,
algorithm confusion, structure, header and payload JSON, crit/b64, and the deliberate
deviations (D1-D6), through every entry point. The corpus and the deviations are in
tests/helpers/differential.py."""

from __future__ import annotations

import jwt
import pytest

import turbojwt
from helpers.differential import Case, check_case, get_ctx, single_cases
from helpers.verdicts import canon

TOKEN_CASES = single_cases("tokens")


@pytest.mark.parametrize("case", TOKEN_CASES, ids=[c.id for c in TOKEN_CASES])
def test_decode_differential(case: Case, keyring) -> None:
    check_case(case, keyring)


def test_get_unverified_header_matches(keyring) -> None:
    ctx = get_ctx(keyring, "RS256")
    tok = ctx.sign(ctx.header(kid="abc", x5t="t", nested={"a": [1]}))
    assert canon(turbojwt.get_unverified_header(tok)) == canon(jwt.get_unverified_header(tok))
