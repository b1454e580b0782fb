"""Verdicts of a call in two libraries, and their comparison.

A verdict is what a call did: its return value in a type-strict canonical form, or its
exception's class name and message, plus the warnings it emitted. The differential tests
(tests/compat/test_differential_*.py) and the Verifier tests compare PyJWT's verdict with
turbojwt's through ``assert_same_verdict``.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, NamedTuple, Optional

import jwt

# ==========================================================================
# verdicts
# ==========================================================================


class Verdict(NamedTuple):
    """What a call did: ("ok", canonical value) or ("err", class, message),
    plus the warnings it emitted as (category name, message) pairs."""

    outcome: tuple
    warnings: tuple

    @property
    def ok(self) -> bool:
        return self.outcome[0] == "ok"

    @property
    def err_class(self) -> Optional[str]:
        return None if self.ok else self.outcome[1]

    @property
    def err_message(self) -> Optional[str]:
        return None if self.ok else self.outcome[2]


def canon(value: Any) -> Any:
    """Type-strict canonical form (1 != 1.0 != True, list != tuple, key order kept)."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, (bytes, bytearray)):
        return ("bytes", bytes(value))
    if isinstance(value, dict):
        return ("dict", tuple((canon(k), canon(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(canon(v) for v in value))
    if isinstance(value, tuple):
        return ("tuple", tuple(canon(v) for v in value))
    return ("other", type(value).__name__, repr(value))


def _resolve(mod: Any, fn: Any) -> Callable:
    if callable(fn):
        return fn
    target = mod
    for part in fn.split("."):
        target = getattr(target, part)
    return target


def verdict(mod: Any, fn: Any, *args: Any, **kw: Any) -> Verdict:
    """Call ``fn`` (a dotted attribute path on ``mod``, or a callable) and
    capture its result or exception and every warning it emits."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome: tuple = ("ok", canon(_resolve(mod, fn)(*args, **kw)))
        except Exception as exc:
            outcome = ("err", type(exc).__name__, str(exc))
    warns = tuple(sorted((w.category.__name__, str(w.message)) for w in caught))
    return Verdict(outcome, warns)


_PYJWT_EXCEPTION_NAMES = {
    name for name, obj in vars(jwt.exceptions).items() if isinstance(obj, type) and issubclass(obj, Exception)
}


def message_is_comparable(v: Verdict) -> bool:
    """False where only the exception class can be compared (see module doc)."""
    msg, cls = v.err_message or "", v.err_class
    if " at 0x" in msg or "Expected one of" in msg:
        return False  # PyJWT embeds an object repr (key-type error)
    # ValueError / AttributeError / UnsupportedAlgorithm raised by cryptography while PyJWT
    # loads a key are not PyJWT's own wording.
    return cls in _PYJWT_EXCEPTION_NAMES or cls in ("TypeError", "NotImplementedError")


def assert_same_verdict(py: Verdict, tj: Verdict, *, check_warnings: bool = True, what: str = "") -> None:
    ctx = f"{what}\n  PyJWT:    {py}\n  turbojwt: {tj}"
    if not py.ok and not tj.ok:
        assert tj.err_class == py.err_class, "exception class differs" + ctx
        if message_is_comparable(py):
            assert tj.err_message == py.err_message, "exception message differs" + ctx
    else:
        assert tj.outcome == py.outcome, "verdict differs" + ctx
    if check_warnings:
        assert tj.warnings == py.warnings, "warnings differ" + ctx
