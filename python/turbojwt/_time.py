"""Request times: the one rule for every time a token is judged as of (``verify_batch``'s
``at``, every log reader, ``verify-logs --at``).

A time is a finite number of seconds since the epoch, a ``datetime`` (naive: UTC), or text
that the core's parser reads (``_native.parse_time``: ASCII decimal seconds or an ISO 8601
date-time). Nothing else: a NaN would make every ``exp``/``nbf`` comparison false, and so
every expired token valid; ``"1_700_000_000"`` or non-ASCII digits would be read by one
reader and refused by another.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from . import _native

__all__ = ["parse_time", "timestamp"]

_WHAT = "a time must be a finite number of seconds, a datetime, or an ASCII decimal or ISO 8601 string"


def parse_time(value: Any) -> float:
    """Epoch seconds for a number, a datetime (naive: UTC) or a time string.

    :raises ValueError: not a finite time (NaN, an infinity, text that is not a time).
    :raises TypeError: not a number, datetime or string (a bool is not a time either)."""
    if isinstance(value, bool):
        raise TypeError(f"{_WHAT}, not bool")
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:
            raise ValueError(f"{_WHAT}: {value} is out of range") from None
        if not math.isfinite(seconds):
            raise ValueError(f"{_WHAT}, not {value!r}")
        return seconds
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, str):
        return _native.parse_time(value)
    raise TypeError(f"{_WHAT}, not {type(value).__name__}")


def timestamp(value: Any, now: float) -> float:
    """``parse_time(value)``, with None meaning ``now``."""
    return now if value is None else parse_time(value)
