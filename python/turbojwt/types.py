"""Typing helpers shared with PyJWT 2.x (``jwt.types``)."""

from typing import Any, Callable, TypedDict

#: A decoded JSON Web Key.
JWKDict = dict[str, Any]

#: A hashlib constructor such as ``hashlib.sha256``.
HashlibHash = Callable[..., Any]


class SigOptions(TypedDict, total=False):
    """Options understood by ``PyJWS`` (a subset of :class:`Options`)."""

    verify_signature: bool
    """Verify the cryptographic signature (default ``True``)."""
    enforce_minimum_key_length: bool
    """Raise ``InvalidKeyError`` instead of warning on short keys (default ``False``)."""


class Options(TypedDict, total=False):
    """Options for ``decode()`` / ``decode_complete()``.

    Claims such as ``exp``, ``iat``, ``jti``, ``nbf`` and ``sub`` are only
    checked when present; list them in ``require`` to make them mandatory.
    """

    verify_signature: bool
    """Verify the cryptographic signature (default ``True``)."""
    require: list[str]
    """Claims that must be present (presence only; default ``[]``)."""
    strict_aud: bool
    """Require ``aud`` to be a single value equal to ``audience`` (default ``False``)."""
    verify_aud: bool
    """Check ``aud`` against ``audience`` (default: ``verify_signature``)."""
    verify_exp: bool
    """Check ``exp`` is in the future (default: ``verify_signature``)."""
    verify_iat: bool
    """Check ``iat`` is numeric (default: ``verify_signature``)."""
    verify_iss: bool
    """Check ``iss`` against ``issuer`` (default: ``verify_signature``)."""
    verify_jti: bool
    """Check ``jti`` is a string (default: ``verify_signature``)."""
    verify_nbf: bool
    """Check ``nbf`` is in the past (default: ``verify_signature``)."""
    verify_sub: bool
    """Check ``sub`` is a string matching ``subject`` (default: ``verify_signature``)."""
    enforce_minimum_key_length: bool
    """Raise ``InvalidKeyError`` instead of warning on short keys (default ``False``)."""


class FullOptions(TypedDict):
    """:class:`Options` with every key present (the merged, effective set)."""

    verify_signature: bool
    require: list[str]
    strict_aud: bool
    verify_aud: bool
    verify_exp: bool
    verify_iat: bool
    verify_iss: bool
    verify_jti: bool
    verify_nbf: bool
    verify_sub: bool
    enforce_minimum_key_length: bool
