"""Differential decode, claims: every claim shape (times, audiences, issuers, subjects, JSON
values) under every option set, and every algorithm and entry point over the option sets.
The corpus and the deviations are in tests/helpers/differential.py."""

from __future__ import annotations

import pytest

from helpers.differential import CASE_GROUPS, Case, check_case, single_cases

CLAIMS_CASES = single_cases("claims")


@pytest.mark.parametrize("case", CLAIMS_CASES, ids=[c.id for c in CLAIMS_CASES])
def test_decode_differential(case: Case, keyring) -> None:
    check_case(case, keyring)


@pytest.mark.parametrize("group", list(CASE_GROUPS))
def test_decode_differential_options(group: str, keyring) -> None:
    """Claim shape (or signer) x every option set; one test item per group,
    reporting every differing case."""
    failures = []
    for case in CASE_GROUPS[group]:
        try:
            check_case(case, keyring)
        except AssertionError as exc:
            failures.append(str(exc).split("\nassert ")[0])
    assert not failures, f"{len(failures)} of {len(CASE_GROUPS[group])} cases differ:\n\n" + "\n\n".join(failures[:25])
