"""Strict segment and JSON decoding for the Python reference path.

The native core and this module refuse the same inputs (see docs: deviations from PyJWT):
base64url with padding or non-canonical bits, JSON that is not UTF-8, duplicate top-level
members, nesting beyond the configured depth, and tokens over the configured length.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

from . import _native
from .exceptions import DecodeError
from .utils import base64url_decode, base64url_encode

_BASE64URL_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def decode_segment(segment: bytes, name: str) -> bytes:
    """base64url-decode one segment; anything but the canonical unpadded form is refused."""
    if len(segment) % 4 == 1 or not _BASE64URL_ALPHABET.issuperset(segment):
        raise DecodeError(f"Invalid {name} padding")
    try:
        decoded = base64url_decode(segment)
    except (TypeError, binascii.Error) as err:
        raise DecodeError(f"Invalid {name} padding") from err
    if base64url_encode(decoded) != segment:
        raise DecodeError(f"Invalid {name} padding")
    return decoded


def check_token_length(jwt: bytes) -> None:
    limit = _native.get_limits()[0]
    if len(jwt) > limit:
        raise DecodeError(f"Token is {len(jwt)} bytes long, over the limit of {limit} bytes")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def load_json_object(data: bytes, which: str) -> dict[str, Any]:
    """Parse a header or claims segment like PyJWT, plus the core's strictness."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DecodeError(f"Invalid {which} string: not UTF-8 ({e.reason})") from e
    last_duplicates: list[str] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # Called innermost first, so the last call is the top-level object.
        nonlocal last_duplicates
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            last_duplicates = []
            for k, _ in pairs:
                if k in seen:
                    last_duplicates.append(k)
                seen.add(k)
        else:
            last_duplicates = []
        return obj

    try:
        value = json.loads(text, object_pairs_hook=pairs_hook)
    except (ValueError, RecursionError) as e:
        raise DecodeError(f"Invalid {which} string: {e}") from e
    if not isinstance(value, dict):
        raise DecodeError(f"Invalid {which} string: must be a json object")
    if "\\u" in text and _has_lone_surrogate(value):
        raise DecodeError(f"Invalid {which} string: lone surrogate escape (not representable in UTF-8)")
    if last_duplicates:
        raise DecodeError(
            f"Invalid {which} string: duplicate member {last_duplicates[0]!r} "
            "(refused: two JSON parsers could disagree on its value)"
        )
    max_depth = _native.get_limits()[1]
    if _depth(value) > max_depth:
        raise DecodeError(f"Invalid {which} string: JSON nested deeper than {max_depth} levels")
    return value
