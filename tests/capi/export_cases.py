"""Writes tests/capi/cases.json: the differential corpus and the Wycheproof JWS vectors
as C ABI calls (key, policy JSON, token) with the verdicts the PyO3 path gives, as of the
time they were made. The cffi binding on PyPy (run_cases.py) and the Go package's tests read
it; tests/capi/test_case_file.py checks that its verdicts are still the PyO3 path's.

Run from the repository root after a change of verdicts:

    PYTHONPATH=python python3 tests/capi/export_cases.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from conftest import get_keyring  # noqa: E402
from helpers import capi_cases, differential  # noqa: E402

OUT = TESTS / "capi" / "cases.json"


def unsupported_ok(call: capi_cases.AbiCall, expect: dict[str, Any]) -> bool:
    """Where the ABI may refuse with ``Unsupported`` (what only pyca/cryptography judges): a
    call the PyO3 path refuses anyway, or one with an Ed448 key (aws-lc has no Ed448)."""
    return "error" in expect or "ed448" in call.id.lower() or '"Ed448"' in call.key.decode("latin-1")


def build() -> dict[str, Any]:
    ring = get_keyring()
    calls = [c for c in (capi_cases.abi_call(case, ring) for case in differential.CASES) if c is not None]
    calls += capi_cases.wycheproof_calls()
    out = capi_cases.CaseFile(differential.NOW)
    for call in calls:
        expect = capi_cases.expectation(capi_cases.pyo3_verdict(call))
        out.add(call, expect, unsupported_ok(call, expect))
    return {"description": "C ABI cases: tests/capi/export_cases.py wrote them; docs/c-abi.md", **out.document()}


def main() -> None:
    doc = build()
    OUT.write_text(
        json.dumps(doc, separators=(",", ":"), ensure_ascii=False).replace('{"id":', '\n{"id":') + "\n",
        encoding="utf-8",
    )
    print(f"{len(doc['cases'])} cases -> {OUT}")


if __name__ == "__main__":
    main()
