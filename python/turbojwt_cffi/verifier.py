"""``Verifier``: a key and a policy compiled once in ``libturbojwt``, verifying tokens with
the verdicts (exception class names and messages) of ``turbojwt.decode``."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from ._library import Library, load

_KEY_KINDS = {"material": 1, "jwk": 2, "jwks": 3}
# What json.loads(str) runs, without its per-call argument handling (the claims are UTF-8,
# checked by the core).
_JSON = json.JSONDecoder()


class Error(Exception):
    """A refusal or an error of the library: ``name`` is the PyJWT exception class a token's
    verdict maps to (``"ExpiredSignatureError"``, ...) or the name of a call error
    (``"BadPolicy"``, ``"Unsupported"``, ...); ``code`` the ABI's ``TjCode``; ``str()`` the
    message (for a token: the one PyJWT's exception carries)."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


def _as_bytes(value: str | bytes, what: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")


def policy_json(
    algorithms: Iterable[str],
    audience: str | Iterable[str] | None = None,
    issuer: str | Iterable[str] | None = None,
    subject: str | None = None,
    leeway: float | timedelta = 0,
    options: dict[str, Any] | None = None,
    typ: str | None = None,
    max_token_bytes: int | None = None,
) -> bytes:
    """The policy JSON ``tj_verifier_new`` takes, from ``decode``'s arguments."""
    policy: dict[str, Any] = {"algorithms": list(algorithms)}
    for name, value in (("audience", audience), ("issuer", issuer)):
        if value is not None:
            policy[name] = value if isinstance(value, str) else list(value)
    if subject is not None:
        policy["subject"] = subject
    policy["leeway"] = leeway.total_seconds() if isinstance(leeway, timedelta) else leeway
    if options:
        policy["options"] = options
    if typ is not None:
        policy["typ"] = typ
    if max_token_bytes is not None:
        policy["max_token_bytes"] = max_token_bytes
    return json.dumps(policy).encode()


class Verifier:
    """Verifies tokens with one key (PEM, DER, OpenSSH line or HMAC secret: ``key_kind=
    "material"``; a JWK: ``"jwk"``; a JWK Set: ``"jwks"``) under one policy (``decode``'s
    arguments), in ``libturbojwt``. ``cache=N`` keeps the claims of about N verified tokens;
    a token over ``max_token_bytes`` (default: the core's 1 MiB) is refused unread. Key
    material is read when a token needs it, as PyJWT reads it: :meth:`check_key` asks up
    front. Thread-safe."""

    def __init__(
        self,
        key: str | bytes,
        *,
        algorithms: Iterable[str],
        key_kind: str = "material",
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        subject: str | None = None,
        leeway: float | timedelta = 0,
        options: dict[str, Any] | None = None,
        typ: str | None = None,
        max_token_bytes: int | None = None,
        cache: int = 0,
        library: Library | None = None,
    ) -> None:
        self._library = library or load()
        ffi, lib = self._library.ffi, self._library.lib
        if key_kind not in _KEY_KINDS:
            raise ValueError(f"key_kind must be one of {sorted(_KEY_KINDS)}")
        material = _as_bytes(key, "key")
        policy = policy_json(algorithms, audience, issuer, subject, leeway, options, typ, max_token_bytes)
        error = ffi.new("TjError **")
        handle = lib.tj_verifier_new(_KEY_KINDS[key_kind], material, len(material), policy, len(policy), cache, error)
        if handle == ffi.NULL:
            code = int(lib.tj_error_code(error[0]))
            message = ffi.string(lib.tj_error_message(error[0], ffi.NULL)).decode("utf-8", "replace")
            lib.tj_error_free(error[0])
            raise Error(code, self._library.code_name(code), message)
        self._handle = ffi.gc(handle, lib.tj_verifier_free)
        self._local = threading.local()

    def check_key(self) -> None:
        """Raises :class:`Error` (``InvalidKeyError`` with PyJWT's message where it has one)
        when the key can verify tokens of none of the policy's algorithms
        (``tj_verifier_check_key``)."""
        ffi, lib = self._library.ffi, self._library.lib
        error = ffi.new("TjError **")
        code = int(lib.tj_verifier_check_key(self._handle, error))
        if code != 0:
            message = ffi.string(lib.tj_error_message(error[0], ffi.NULL)).decode("utf-8", "replace")
            lib.tj_error_free(error[0])
            raise Error(code, self._library.code_name(code), message)

    def _result(self) -> tuple[Any, Any]:
        """This thread's result handle and length cell (a result serves one thread at a time)."""
        mine = getattr(self._local, "result", None)
        if mine is None:
            ffi, lib = self._library.ffi, self._library.lib
            mine = self._local.result = (ffi.gc(lib.tj_result_new(), lib.tj_result_free), ffi.new("size_t *"))
        return mine

    def decode(self, token: str | bytes, at: float | None = None) -> dict[str, Any]:
        """The claims of ``token`` verified as of ``at`` (seconds since the epoch; None: now),
        or :class:`Error` with PyJWT's exception class name and message."""
        ffi, lib = self._library.ffi, self._library.lib
        data = token if type(token) is bytes else _as_bytes(token, "token")
        result, size = self._result()
        when = math.nan if at is None else float(at)
        code = lib.tj_verify(self._handle, data, len(data), when, result)
        if code != 0:
            message = ffi.string(lib.tj_result_message(result, size)).decode("utf-8", "replace")
            raise Error(int(code), self._library.code_name(code), message)
        claims = lib.tj_result_claims(result, size)
        value = _JSON.decode(ffi.buffer(claims, size[0])[:].decode("utf-8"))
        if not isinstance(value, dict):  # the core refuses a payload that is not an object
            raise Error(105, "Panic", "claims are not a JSON object")
        return value
