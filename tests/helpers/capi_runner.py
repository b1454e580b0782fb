"""Checks the C ABI case file (tests/capi/cases.json) through a binding: every case's verdict
(claims, or PyJWT's exception class and message) must be the file's.

Standard library only: tests/capi/run_cases.py runs it on PyPy over the cffi binding, and
the CPython tests import it."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
CASE_FILE = ROOT / "tests" / "capi" / "cases.json"


def blob(value: dict[str, str]) -> bytes:
    return value["text"].encode("utf-8") if "text" in value else base64.b64decode(value["base64"])


def same_json(a: Any, b: Any) -> bool:
    """Equal JSON values, type for type (1 != 1.0 != True), -0.0 told from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def check(doc: dict[str, Any], case: dict[str, Any], verifier_type: Callable[..., Any], error_type: type) -> str | None:
    """None when the binding gives the case's verdict, else what differs."""
    try:
        verifier = verifier_type(
            blob(doc["keys"][case["key"]]), key_kind=case["kind"], **doc["policies"][case["policy"]]
        )
        got: tuple = ("ok", verifier.decode(blob(doc["tokens"][case["token"]]), at=doc["at"]))
    except error_type as e:
        got = ("err", e.name, str(e))  # type: ignore[attr-defined]
    if got[0] == "err" and got[1] == "Unsupported" and case.get("unsupported_ok"):
        return None
    if "claims" in case:
        expected: tuple = ("ok", json.loads(doc["claims"][case["claims"]]))
        if got[0] == "ok" and same_json(got[1], expected[1]):
            return None
    else:
        expected = ("err", case["error"], doc["messages"][case["message"]])
        if got[:2] == expected[:2] and (case.get("inexact") or got[2] == expected[2]):
            return None
    return f"{case['id']}: expected {expected}, got {got}"


def run(path: Path, verifier_type: Callable[..., Any], error_type: type) -> tuple[int, list[str]]:
    """(cases run, failures) for the case file at ``path`` through a binding's ``Verifier`` and
    ``Error`` classes."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    failures = [f for case in doc["cases"] if (f := check(doc, case, verifier_type, error_type)) is not None]
    return len(doc["cases"]), failures
