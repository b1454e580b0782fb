"""Objects that travel to worker processes (Dask, multiprocessing) as their configuration
and are rebuilt once per process: every task of a job brings the object again, and the
process hands back the copy it first built, with its parsed keys and caches warm."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# The objects this process rebuilt, by the identity of the original (a few: a job ships one
# or two to its workers).
_REBUILT: OrderedDict[str, Any] = OrderedDict()
_REBUILT_MAX = 16
_LOCK = threading.Lock()


def rebuilt_once(identity: str, build: Callable[[], T]) -> T:
    """The object ``identity`` as this process first rebuilt it, or ``build()`` (kept)."""
    with _LOCK:
        known = _REBUILT.get(identity)
        if known is not None:
            _REBUILT.move_to_end(identity)
            return known
    made = build()
    with _LOCK:
        made = _REBUILT.setdefault(identity, made)
        while len(_REBUILT) > _REBUILT_MAX:
            _REBUILT.popitem(last=False)
    return made


def rebuilt_identities() -> list[str]:
    """The identities this process holds (for tests: once per process)."""
    with _LOCK:
        return list(_REBUILT)


def rebuilt(identity: str) -> Any:
    """The object ``identity`` this process rebuilt, or None."""
    with _LOCK:
        return _REBUILT.get(identity)
