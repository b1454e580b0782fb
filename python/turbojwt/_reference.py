"""The one hand-over from the native core to the Python reference path.

The core verifies natively whatever it can judge exactly as PyJWT does; a call it cannot
(a key only cryptography can judge, ``alg: none`` allowed, algorithms registered on a
``PyJWT`` object, detached payloads, unknown keyword arguments, a token ``str`` that is not
UTF-8, ...) is handed to :func:`decode` here: PyJWT's sequence in Python, judged as of the
time the caller asked for. It is registered with the native module once, at import
(``_native.set_reference``), and every native front end hands over through it:
``turbojwt.decode``/``decode_complete`` and ``PyJWT`` objects, ``Verifier`` (with a
``JWKSClient`` key, the token's key is looked up first) and the batch engine (each token as
of its own time).
"""

from __future__ import annotations

from typing import Any

from . import _native
from .api_jws import warn_unsupported_kwargs
from .api_jwt import _JUDGED_AT, PyJWT, _jwt_global_obj
from .errors import InvalidTypeError
from .jwks import JWKSClient

__all__ = ["decode"]


def decode(
    token: Any,
    key: Any,
    algorithms: Any,
    options: Any,
    audience: Any,
    issuer: Any,
    subject: Any,
    leeway: Any,
    complete: bool,
    at: float | None = None,
    *,
    jwt: PyJWT | None = None,
    verify: Any = None,
    detached_payload: Any = None,
    kwargs: dict[str, Any] | None = None,
    typ: str | None = None,
) -> Any:
    """``jwt.decode`` (or ``decode_complete``) of ``jwt`` (default: the global ``PyJWT``
    object) on the reference path, with the time claims judged as of ``at`` (None: now);
    with ``typ``, the header's ``typ`` must be that one (the core's rule)."""
    obj = _jwt_global_obj if jwt is None else jwt
    if isinstance(key, JWKSClient):
        key = key.get_signing_key_from_jwt(token)
    if kwargs:
        warn_unsupported_kwargs("decode_complete" if complete else "decode", kwargs)
    reset = _JUDGED_AT.set(at)
    try:
        decoded = obj._decode_complete_reference(
            token,
            key,
            algorithms,
            options,
            verify,
            detached_payload,
            audience,
            issuer,
            subject,
            0 if leeway is None else leeway,
        )
    finally:
        _JUDGED_AT.reset(reset)
    if typ is not None and not _native.typ_matches(decoded["header"].get("typ"), typ):
        raise InvalidTypeError(f"The token type must be '{typ}'")
    return decoded if complete else decoded["payload"]


_native.set_reference(decode)
