"""Process-wide settings of the native core: the cache of parsed keys
(``key_cache_info``, ``key_cache_clear``, ``set_key_cache_size``) and the input limits
(``set_limits``, ``get_limits``). Each call sets or reads state shared by every thread and
every ``Verifier`` in the process; all are exported from ``turbojwt`` itself."""

from __future__ import annotations

from typing import NamedTuple

from . import _native


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int
    currsize: int


def key_cache_info() -> CacheInfo:
    """Hits, misses, maxsize and currsize, like ``functools.lru_cache().cache_info()``."""
    return CacheInfo(*_native.key_cache_info())


def key_cache_clear() -> None:
    """Drop every parsed key and reset the counters."""
    _native.key_cache_clear()


def set_key_cache_size(maxsize: int) -> None:
    """Bound the cache to ``maxsize`` keys (0 disables caching). Default: 1024, or the
    ``TURBOJWT_KEY_CACHE_SIZE`` environment variable read at import."""
    if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 0:
        raise ValueError("maxsize must be a non-negative integer")
    _native.set_key_cache_size(maxsize)


def set_limits(*, max_token_length: int | None = None, max_json_depth: int | None = None) -> tuple[int, int]:
    """Set the input limits (defaults: 1 MiB tokens, JSON nested 64 levels); returns them."""
    return tuple(_native.set_limits(max_token_length, max_json_depth))  # type: ignore[return-value]


def get_limits() -> tuple[int, int]:
    """``(max_token_length, max_json_depth)`` in force."""
    return tuple(_native.get_limits())  # type: ignore[return-value]
