"""The differential corpus (helpers/differential.py) and the Wycheproof JWS vectors as calls of
the C ABI: a key (kind + bytes), a policy (``decode``'s arguments as the ABI's JSON) and a
token, with the verdict the PyO3 path gives for the same call.

Used live by tests/capi/test_cffi_differential.py (both paths in one process), and to write
the committed case file tests/capi/cases.json (tests/capi/export_cases.py) that the
PyPy run (tests/capi/run_cases.py) and the Go tests (go/turbojwt) read.

A case the ABI cannot express is left out: other entry points than ``decode``, key objects
and dicts (the ABI takes bytes), ``alg: none`` allowed, and arguments of types the policy JSON
has no form for (``audience=123``, a bare-string ``algorithms``, ``verify=``, extra keyword
arguments, ``detached_payload``).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Optional

import turbojwt
from helpers import differential as diff
from helpers.vector_files import VECTORS_DIR, WYCHEPROOF
from helpers.verdicts import message_is_comparable, verdict

MATERIAL_FORMS = {
    "pem",
    "pem_bytes",
    "ssh",
    "ssh_bytes",
    "cert",
    "cert_bytes",
    "der",
    "priv_pem",
    "priv_pem_bytes",
    "jwk_json",
    "empty",
}
JWK_FORMS = {"pyjwk", "pyjwk_noalg", "pyjwk_priv"}
POLICY_ARGS = {"algorithms", "audience", "issuer", "subject", "leeway", "options"}
OPTION_NAMES = {
    "verify_signature",
    "verify_exp",
    "verify_nbf",
    "verify_iat",
    "verify_aud",
    "verify_iss",
    "verify_sub",
    "verify_jti",
    "strict_aud",
    "require",
    "enforce_minimum_key_length",
}
# The messages PyJWT takes from Python's json module (the PyO3 path asks it; the ABI has no
# Python and words the same DecodeError with its own parser's reason).
JSON_MESSAGE_PREFIXES = ("Invalid header string:", "Invalid payload string:")


@dataclass
class AbiCall:
    """One call of the ABI: the key (kind, bytes), the policy, the token, and the arguments
    the PyO3 path is called with for the same verdict."""

    id: str
    kind: str  # "material", "jwk", "jwks"
    key: bytes
    policy: dict[str, Any]
    token: bytes
    # the PyO3 path's key and keyword arguments
    py_key: Any
    py_kwargs: dict[str, Any]


def _strings(value: Any) -> Optional[list[str]]:
    if isinstance(value, (list, tuple, frozenset, set)) and all(isinstance(v, str) for v in value):
        return sorted(value) if isinstance(value, (frozenset, set)) else list(value)
    return None


def policy_for(kwargs: dict[str, Any]) -> Optional[dict[str, Any]]:
    """``decode``'s keyword arguments as the ABI's policy JSON, or None when it has no form."""
    if set(kwargs) - POLICY_ARGS:
        return None
    algorithms = _strings(kwargs.get("algorithms"))
    if not algorithms or any(a.lower() == "none" for a in algorithms):
        return None
    policy: dict[str, Any] = {"algorithms": algorithms}
    for name in ("audience", "issuer"):
        value = kwargs.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            policy[name] = value
        elif (items := _strings(value)) is not None:
            policy[name] = items
        else:
            return None
    subject = kwargs.get("subject")
    if subject is not None:
        if not isinstance(subject, str):
            return None
        policy["subject"] = subject
    leeway = kwargs.get("leeway", 0)
    if isinstance(leeway, dt.timedelta):
        leeway = leeway.total_seconds()
    if isinstance(leeway, bool) or not isinstance(leeway, (int, float)):
        return None
    policy["leeway"] = leeway
    options = kwargs.get("options")
    if options:
        if set(options) - OPTION_NAMES:
            return None
        for name, value in options.items():
            if name == "require":
                if _strings(value) is None:
                    return None
            elif not isinstance(value, bool):
                return None
        policy["options"] = dict(options)
    return policy


def _token_bytes(token: Any) -> Optional[bytes]:
    if isinstance(token, str):
        try:
            return token.encode("utf-8")
        except UnicodeEncodeError:
            return None
    if isinstance(token, (bytes, bytearray)):
        return bytes(token)
    return None


def abi_call(case: diff.Case, ring: dict) -> Optional[AbiCall]:
    """The ABI call for a differential case, or None when the ABI cannot express it."""
    if case.fn != "decode" or case.token[1] in diff.HEAVY_MUTATIONS:
        return None
    call = diff.prepare(turbojwt, case, ring)
    extra = diff.MUTATIONS[case.token[1]].extra if case.token[0] == "mut" else None
    extra_args = extra(diff.get_ctx(ring, case.signer)) if extra is not None else {}
    if "__key__" in extra_args:
        return None  # alg none with a literal key
    form = extra_args.get("__keyform__", case.keyform)
    policy = policy_for(call.kwargs)
    token = _token_bytes(call.token)
    if policy is None or token is None:
        return None
    km = ring[case.keyname]
    if form in MATERIAL_FORMS:
        py_key = call.key_thunk()
        key = py_key.encode() if isinstance(py_key, str) else bytes(py_key)
        kind = "material"
    elif form in JWK_FORMS:
        jwk = copy.deepcopy(km.private_jwk if form == "pyjwk_priv" else km.public_jwk)
        if form != "pyjwk_noalg":
            jwk["alg"] = case.alg  # PyJWK(jwk, alg): the algorithm given wins
        try:
            py_key = turbojwt.PyJWK(copy.deepcopy(jwk))
        except turbojwt.PyJWTError:
            return None  # PyJWK itself refuses it: no decode call to compare with
        key, kind = json.dumps(jwk).encode(), "jwk"
    else:
        return None
    return AbiCall(case.id, kind, key, policy, token, py_key, dict(call.kwargs))


def pyo3_verdict(call: AbiCall) -> Any:
    """The PyO3 path's verdict for the call (``turbojwt.decode``), warnings not compared."""
    return verdict(turbojwt, lambda: turbojwt.decode(call.token, call.py_key, **copy.deepcopy(call.py_kwargs)))


def expectation(v: Any) -> dict[str, Any]:
    """A verdict as the case file keeps it: ``{"claims": {...}}`` or ``{"error", "message",
    "exact"}`` (``exact``: the ABI must give the message word for word)."""
    if v.ok:
        return {"claims": json.loads(turbojwt_claims_json(v.outcome[1]))}
    exact = message_is_comparable(v) and not v.err_message.startswith(JSON_MESSAGE_PREFIXES)
    return {"error": v.err_class, "message": v.err_message, "exact": exact}


def _uncanon(c: Any) -> Any:
    """helpers.verdicts.canon's form back to the value."""
    tag = c[0]
    if tag == "null":
        return None
    if tag in ("bool", "int", "str"):
        return c[1]
    if tag == "float":
        return float(c[1])
    if tag == "dict":
        return {_uncanon(k): _uncanon(v) for k, v in c[1]}
    if tag in ("list", "tuple"):
        return [_uncanon(v) for v in c[1]]
    raise AssertionError(f"claims hold a {tag}")


def turbojwt_claims_json(canonical: Any) -> str:
    return json.dumps(_uncanon(canonical))


# --------------------------------------------------------------------------
# Wycheproof JWS vectors
# --------------------------------------------------------------------------

WYCHEPROOF_FILE = VECTORS_DIR / WYCHEPROOF / "json_web_signature_test.json"
# The ABI judges tokens as JWTs (claims JSON read, no claim checked here): the PyO3 path is
# called alike.
NO_CLAIM_CHECKS = {f"verify_{c}": False for c in ("exp", "nbf", "iat", "aud", "iss", "sub", "jti")}


def wycheproof_calls() -> list[AbiCall]:
    """Each Wycheproof JWS case with its group's JWK, the algorithm pinned to the key's."""
    doc = json.loads(WYCHEPROOF_FILE.read_text(encoding="utf-8"))
    calls = []
    for group in doc["testGroups"]:
        jwk = group.get("public") or group["private"]
        try:
            py_key = turbojwt.PyJWK(dict(jwk))
        except turbojwt.PyJWTError:
            continue  # the key does not load: nothing verifies (checked by the JWS tests)
        kwargs = {"algorithms": [py_key.algorithm_name], "options": dict(NO_CLAIM_CHECKS)}
        policy = policy_for(kwargs)
        assert policy is not None
        key = json.dumps(dict(jwk, alg=py_key.algorithm_name)).encode()
        for test in group["tests"]:
            token = test["jws"].encode() if isinstance(test["jws"], str) else None
            if token is None:
                continue  # JSON serialisation: not a compact token
            calls.append(AbiCall(f"wycheproof-{test['tcId']}", "jwk", key, policy, token, py_key, kwargs))
    return calls


def blob(data: bytes) -> dict[str, str]:
    """Bytes as the case file keeps them: UTF-8 text, else base64."""
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


class CaseFile:
    """The case file: tables of keys, policies, tokens, claims and messages (each kept once,
    named by index) and the cases: ``{"id", "kind", "key", "policy", "token"}`` with either
    ``"claims"`` (the token verifies with these claims, kept as JSON text) or ``"error"`` (the PyJWT class name)
    and ``"message"`` (``"inexact"``: the message need not be word for word), and
    ``"unsupported_ok"`` where the ABI may refuse with ``Unsupported`` instead."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.tables: dict[str, list[Any]] = {"keys": [], "policies": [], "tokens": [], "claims": [], "messages": []}
        self._index: dict[tuple[str, str], int] = {}
        self.cases: list[dict[str, Any]] = []

    def _ref(self, table: str, value: Any) -> int:
        text = json.dumps(value, sort_keys=False)
        found = self._index.get((table, text))
        if found is None:
            found = self._index[(table, text)] = len(self.tables[table])
            self.tables[table].append(value)
        return found

    def add(self, call: AbiCall, expect: dict[str, Any], unsupported_ok: bool) -> None:
        case: dict[str, Any] = {
            "id": call.id,
            "kind": call.kind,
            "key": self._ref("keys", blob(call.key)),
            "policy": self._ref("policies", call.policy),
            "token": self._ref("tokens", blob(call.token)),
        }
        if "claims" in expect:
            # As JSON text: claims may hold NaN or Infinity (Python's json reads and writes
            # them), which a strict JSON reader (Go's) refuses in the file itself.
            case["claims"] = self._ref("claims", json.dumps(expect["claims"], ensure_ascii=False))
        else:
            case["error"] = expect["error"]
            case["message"] = self._ref("messages", expect["message"])
            if not expect["exact"]:
                case["inexact"] = True
        if unsupported_ok:
            case["unsupported_ok"] = True
        self.cases.append(case)

    def document(self) -> dict[str, Any]:
        return {"at": self.at, **self.tables, "cases": self.cases}
