"""The differential corpus and the Wycheproof JWS vectors through the C ABI (cffi binding)
against the PyO3 path, in one process: the same verdicts, exception classes and messages.

Where they may differ (helpers/capi_cases.py): PyJWT's messages that quote Python's json
module (the class must still match); and ``Unsupported`` (fail-closed) where the PyO3 path
hands the call to pyca/cryptography: a refusal there anyway, or an Ed448 key. The ABI never
accepts what the PyO3 path refuses.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from helpers import capi_cases
from helpers import differential as diff
from helpers.capi_runner import same_json


def _abi_verdict(binding: ModuleType, library: Any, call: capi_cases.AbiCall) -> tuple:
    try:
        v = binding.Verifier(call.key, key_kind=call.kind, library=library, **call.policy)
        return ("ok", v.decode(call.token))
    except binding.Error as e:
        return ("err", e.name, str(e))


def _differs(binding: ModuleType, library: Any, call: capi_cases.AbiCall) -> str | None:
    expect = capi_cases.expectation(capi_cases.pyo3_verdict(call))
    got = _abi_verdict(binding, library, call)
    if got[0] == "err" and got[1] == "Unsupported":
        if "error" in expect or "ed448" in call.id.lower() or b'"Ed448"' in call.key:
            return None
    elif "claims" in expect:
        if got[0] == "ok" and same_json(got[1], expect["claims"]):
            return None
    elif got[0] == "err" and got[1] == expect["error"] and (not expect["exact"] or got[2] == expect["message"]):
        return None
    return f"{call.id}: PyO3 {json.dumps(expect)[:300]}, C ABI {str(got)[:300]}"


def _calls_by_signer() -> dict[str, list[diff.Case]]:
    groups: dict[str, list[diff.Case]] = {}
    for case in diff.CASES:
        if case.fn == "decode":
            groups.setdefault(case.signer, []).append(case)
    return groups


GROUPS = _calls_by_signer()


def test_the_abi_expresses_most_of_the_corpus(keyring: dict) -> None:
    calls = [c for c in (capi_cases.abi_call(case, keyring) for case in diff.CASES) if c]
    assert len(calls) > 5000
    assert {c.kind for c in calls} == {"material", "jwk"}
    assert {json.loads(c.key).get("alg") for c in calls if c.kind == "jwk"} >= set(diff.ALGS)


@pytest.mark.parametrize("signer", list(GROUPS))
def test_same_verdicts_as_pyo3(signer: str, keyring: dict, cffi_binding: ModuleType, cffi_library: Any) -> None:
    failures = []
    count = 0
    for case in GROUPS[signer]:
        call = capi_cases.abi_call(case, keyring)
        if call is None:
            continue
        count += 1
        if (why := _differs(cffi_binding, cffi_library, call)) is not None:
            failures.append(why)
    assert count > 0
    assert not failures, f"{len(failures)} of {count} cases differ:\n" + "\n".join(failures[:25])


def test_wycheproof_jws_same_verdicts_as_pyo3(cffi_binding: ModuleType, cffi_library: Any) -> None:
    calls = capi_cases.wycheproof_calls()
    assert len(calls) > 300
    failures = [why for call in calls if (why := _differs(cffi_binding, cffi_library, call)) is not None]
    assert not failures, f"{len(failures)} of {len(calls)} cases differ:\n" + "\n".join(failures[:25])
