"""JWK Sets through the C ABI (``TJ_KEY_JWKS``, the core's key set, native/core/src/keyset.rs)
against turbojwt's Python ``KeySet`` (python/turbojwt/keyset.py), whose rules it repeats for
front ends without Python: the Wycheproof JWK vectors (json_web_key_test.json, public and
private sets) must be refused alike when the set is built (same class and message), and the
vectors' tokens must get the same verdicts once it is built."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

import turbojwt
from helpers.differential import ALGS
from helpers.vector_files import VECTORS_DIR, WYCHEPROOF, load_vector
from helpers.verdicts import verdict

REL = f"{WYCHEPROOF}/json_web_key_test.json"
NO_CLAIM_CHECKS = {f"verify_{c}": False for c in ("exp", "nbf", "iat", "aud", "iss", "sub", "jti")}


def sets() -> list[Any]:
    out = []
    if not (VECTORS_DIR / REL).is_file():
        return [pytest.param(None, None, id="MISSING-VECTOR-FILE")]
    for group in load_vector(REL)["testGroups"]:
        for which in ("public", "private"):
            if which in group:
                out.append(pytest.param(group[which], group["tests"], id=f"{which}-{group['comment']}"[:80]))
    return out


def _comparable(message: str) -> bool:
    # A key PyJWK cannot load is refused with cryptography's words in the Python set.
    return "cannot be loaded" not in message


@pytest.mark.parametrize("jwks, tests", sets())
def test_key_sets_as_keyset_judges_them(jwks: Any, tests: Any, cffi_binding: ModuleType, cffi_library: Any) -> None:
    assert jwks is not None, f"tests/vectors/{REL} is missing"
    import json

    text = json.dumps(jwks)
    try:
        keys: Any = turbojwt.KeySet(jwks)
        python_error = None
    except turbojwt.PyJWKSetError as e:
        python_error = str(e)
    try:
        verifier = cffi_binding.Verifier(
            text, key_kind="jwks", algorithms=ALGS, options=dict(NO_CLAIM_CHECKS), library=cffi_library
        )
        abi_error = None
    except cffi_binding.Error as e:
        assert e.name == "PyJWKSetError", (e.name, str(e))
        abi_error = str(e)
    assert (python_error is None) == (abi_error is None), (python_error, abi_error)
    if python_error is not None:
        if _comparable(python_error):
            assert abi_error == python_error
        return
    for test in tests:
        expected = verdict(
            turbojwt, lambda t=test: turbojwt.decode(t["jws"], keys, algorithms=ALGS, options=dict(NO_CLAIM_CHECKS))
        )
        try:
            got: tuple = ("ok", verifier.decode(test["jws"]))
        except cffi_binding.Error as e:
            got = ("err", e.name, str(e))
        if expected.ok:
            assert got[0] == "ok", (test["tcId"], got)
        else:
            assert got[:2] == expected.outcome[:2], (test["tcId"], expected.outcome, got)
            assert got[2] == expected.outcome[2] or expected.outcome[2].startswith("Invalid payload string"), (
                test["tcId"],
                expected.outcome,
                got,
            )
        if test["result"] == "invalid":
            assert got[0] == "err", test["tcId"]
