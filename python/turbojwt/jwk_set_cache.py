"""Time-bounded cache of one parsed JWK Set (used by ``PyJWKClient``)."""

from __future__ import annotations

import time
from typing import Any, Optional, Union

from .api_jwk import PyJWKSet, PyJWTSetWithTimestamp
from .exceptions import PyJWKSetError


class JWKSetCache:
    """Holds a :class:`PyJWKSet` for *lifespan* seconds (``-1``: forever)."""

    def __init__(self, lifespan: float) -> None:
        self.jwk_set_with_timestamp: Optional[PyJWTSetWithTimestamp] = None
        self.lifespan = lifespan

    def put(self, jwk_set: Optional[Union[PyJWKSet, dict[str, Any]]]) -> None:
        """Store *jwk_set* (parsed now if given as a JWKS dict); ``None`` clears.

        :raises PyJWKSetError: *jwk_set* is neither a set nor a usable JWKS dict.
        """
        if jwk_set is None:
            self.jwk_set_with_timestamp = None
            return
        if not isinstance(jwk_set, PyJWKSet):
            if not isinstance(jwk_set, dict):
                raise PyJWKSetError("Invalid JWK Set value")
            # Parse once on write so cache hits never re-parse keys.
            jwk_set = PyJWKSet.from_dict(jwk_set)
        self.jwk_set_with_timestamp = PyJWTSetWithTimestamp(jwk_set)

    def get(self) -> Optional[PyJWKSet]:
        """The cached set, or ``None`` if empty or expired."""
        if self.jwk_set_with_timestamp is None or self.is_expired():
            return None
        return self.jwk_set_with_timestamp.get_jwk_set()

    def is_expired(self) -> bool:
        entry = self.jwk_set_with_timestamp
        return entry is not None and self.lifespan > -1 and time.monotonic() > entry.get_timestamp() + self.lifespan
