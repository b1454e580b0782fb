"""tests/capi/cases.json, the C ABI case file the PyPy run and the Go tests read: its verdicts
are still the PyO3 path's (recomputed here, as of the file's time, with ``verify_batch``),
it covers the corpus, and the cffi binding gives every one of them on CPython and on PyPy."""

from __future__ import annotations

import copy
import json
import subprocess
from collections import defaultdict
from types import ModuleType
from typing import Any

import pytest

import turbojwt
from helpers import capi_build
from helpers.capi_runner import CASE_FILE, blob, run, same_json
from helpers.differential import ALGS

DOC = json.loads(CASE_FILE.read_text(encoding="utf-8"))
REGENERATE = "regenerate it: PYTHONPATH=python python3 tests/capi/export_cases.py"


def _pyo3_key(kind: str, key: bytes) -> Any:
    return key if kind == "material" else turbojwt.PyJWK(json.loads(key))


def test_case_file_covers_the_corpus() -> None:
    cases = DOC["cases"]
    assert len(cases) > 5000
    algs = {p["algorithms"][0] for p in DOC["policies"]}
    assert algs >= set(ALGS)
    assert {c["kind"] for c in cases} == {"material", "jwk"}
    assert sum("claims" in c for c in cases) > 1000 and sum("error" in c for c in cases) > 1000
    assert any(c["id"].startswith("wycheproof-") for c in cases)


def test_case_file_verdicts_are_the_pyo3_paths() -> None:
    """Each case's verdict as ``turbojwt.verify_batch`` gives it as of the file's time (one
    batch per key and policy): a change of verdicts makes the file stale."""
    groups: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
    for case in DOC["cases"]:
        groups[(case["kind"], case["key"], case["policy"])].append(case)
    stale = []
    for (kind, key_index, policy_index), cases in groups.items():
        key = _pyo3_key(kind, blob(DOC["keys"][key_index]))
        policy = copy.deepcopy(DOC["policies"][policy_index])
        tokens = [blob(DOC["tokens"][c["token"]]) for c in cases]
        try:
            result = turbojwt.verify_batch(tokens, key, at=DOC["at"], threads=1, **policy)
            verdicts: list[tuple] = [
                ("ok", claims) if ok else ("err", err.kind, err.message)
                for ok, err, claims in zip(result.valid, result.errors, result.claims or [])
            ]
        except turbojwt.PyJWTError as e:
            verdicts = [("err", type(e).__name__, str(e))] * len(cases)
        for case, got in zip(cases, verdicts):
            if "claims" in case:
                ok = got[0] == "ok" and same_json(got[1], json.loads(DOC["claims"][case["claims"]]))
            else:
                want = ("err", case["error"], DOC["messages"][case["message"]])
                ok = got[:2] == want[:2] and (case.get("inexact") or got[2] == want[2])
            if not ok:
                stale.append(f"{case['id']}: file {case.get('error') or 'claims'}, PyO3 now {str(got)[:200]}")
    assert not stale, f"{len(stale)} verdicts changed; {REGENERATE}\n" + "\n".join(stale[:20])


def test_cffi_gives_every_verdict(cffi_binding: ModuleType, capi_library: Any) -> None:
    count, failures = run(CASE_FILE, cffi_binding.Verifier, cffi_binding.Error)
    assert count == len(DOC["cases"])
    assert not failures, "\n".join(failures[:25])


@pytest.mark.e2e
def test_pypy_gives_every_verdict(capi_library: Any) -> None:
    """The same cases on PyPy (Debian's pypy3, which ships cffi), through the cffi binding."""
    pypy = capi_build.require_debian_tool("pypy3", "pypy3")
    proc = subprocess.run(
        [pypy, str(capi_build.ROOT / "tests" / "capi" / "run_cases.py")],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "TURBOJWT_LIBRARY": str(capi_library)},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{len(DOC['cases'])} cases, 0 differ (pypy" in proc.stdout, proc.stdout
