"""``PyJWKClient``: fetch signing keys from a JWKS endpoint over HTTP(S).

urllib-based and behaviour-compatible with PyJWT 2.x ``jwt.jwks_client``
(caching tiers, refresh cooldown, error types and messages).
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
import urllib.request
from functools import lru_cache
from ssl import SSLContext
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse

from .api_jwk import PyJWK, PyJWKSet
from .api_jwt import decode_complete as decode_token
from .exceptions import PyJWKClientConnectionError, PyJWKClientError
from .jwk_set_cache import JWKSetCache


class _NoRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: a JWKS URL must not bounce to another origin."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


class PyJWKClient:
    """Client for a JWKS endpoint.

    Two caches: the whole JWK Set (``cache_jwk_set``, ``lifespan`` seconds,
    on by default) and, optionally, an LRU of keys by ``kid``
    (``cache_keys``, ``max_cached_keys``, no expiry).  An unknown ``kid``
    forces at most one refetch per ``cooldown_duration`` seconds while the
    set cache is on.
    """

    def __init__(
        self,
        uri: str,
        cache_keys: bool = False,
        max_cached_keys: int = 16,
        cache_jwk_set: bool = True,
        lifespan: float = 300,
        headers: dict[str, Any] | None = None,
        timeout: float = 30,
        ssl_context: SSLContext | None = None,
        cooldown_duration: float = 30,
    ):
        # urllib would also open file://, ftp:// and data: URLs; refuse them
        # so a URL influenced by a token (e.g. "jku") cannot read local files.
        scheme = urlparse(uri).scheme.lower()
        if scheme not in ("http", "https"):
            raise PyJWKClientError(f"Invalid JWKS URI scheme {scheme!r}: only 'http' and 'https' are supported.")
        self.uri = uri
        self.jwk_set_cache: JWKSetCache | None = None
        self.headers = {} if headers is None else headers
        self.timeout = timeout
        self.ssl_context = ssl_context

        if cooldown_duration < 0:
            raise PyJWKClientError(
                f'Cooldown duration must be greater than or equal to 0, the input is "{cooldown_duration}"'
            )
        if not math.isfinite(cooldown_duration):
            raise PyJWKClientError(f'Cooldown duration must be finite, the input is "{cooldown_duration}"')
        self.cooldown_duration = cooldown_duration
        self._last_successful_fetch: float | None = None
        # Re-entrant so a subclass hook that calls back into the client while
        # get_signing_key holds the lock cannot deadlock.
        self._client_lock = threading.RLock()

        if cache_jwk_set:
            if lifespan <= 0:
                raise PyJWKClientError(f'Lifespan must be greater than 0, the input is "{lifespan}"')
            self.jwk_set_cache = JWKSetCache(lifespan)

        if cache_keys:
            # Per-instance LRU wrapped around the bound method.
            self.get_signing_key = lru_cache(maxsize=max_cached_keys)(  # type: ignore[method-assign]
                self.get_signing_key
            )

    def fetch_data(self) -> Any:
        """GET the JWKS document and return it parsed (cached on success).

        :raises PyJWKClientConnectionError: the request failed.
        :raises PyJWKClientError: the body is not a JSON object.
        :raises PyJWKSetError: caching is on and the set has no usable keys.
        """
        try:
            request = urllib.request.Request(url=self.uri, headers=self.headers)
            handlers: list[Any] = [_NoRedirectHandler()]
            if self.ssl_context is not None:
                handlers.append(urllib.request.HTTPSHandler(context=self.ssl_context))
            opener = urllib.request.build_opener(*handlers)
            with opener.open(request, timeout=self.timeout) as response:
                jwk_set = json.load(response)
        except (URLError, TimeoutError, http.client.HTTPException) as e:
            if isinstance(e, HTTPError):
                e.close()  # release the socket held by the error response
            raise PyJWKClientConnectionError(f'Fail to fetch data from the url, err: "{e}"') from e

        jwk_set = self._as_jwk_set_payload(jwk_set)

        # Cache only after success: a transient outage must not wipe a
        # previously good key set.
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(jwk_set)
        self._last_successful_fetch = time.monotonic()
        return jwk_set

    def get_jwk_set(self, refresh: bool = False) -> PyJWKSet:
        """The JWK Set, from cache unless empty/expired or *refresh* is set."""
        data = None
        fetched = False
        if self.jwk_set_cache is not None and not refresh:
            data = self.jwk_set_cache.get()
        if data is None:
            data = self.fetch_data()
            fetched = True

        if isinstance(data, PyJWKSet):
            jwk_set = data
        else:
            # fetch_data() may be overridden, so validate what it returned.
            jwk_set = PyJWKSet.from_dict(self._as_jwk_set_payload(data))

        # Re-cache what is returned: a subclass's fetch_data() may have
        # transformed the payload it cached itself.
        if fetched and self.jwk_set_cache is not None:
            self.jwk_set_cache.put(jwk_set)
        return jwk_set

    @staticmethod
    def _as_jwk_set_payload(data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise PyJWKClientError("The JWKS endpoint did not return a JSON object")
        return data

    def get_signing_keys(self, refresh: bool = False) -> list[PyJWK]:
        """Keys with a ``kid`` whose ``use`` is ``"sig"`` or absent.

        :raises PyJWKClientError: there are none.
        """
        return self._get_signing_keys_from_jwk_set(self.get_jwk_set(refresh))

    @staticmethod
    def _get_signing_keys_from_jwk_set(jwk_set: PyJWKSet) -> list[PyJWK]:
        signing_keys = [key for key in jwk_set.keys if key.public_key_use in ["sig", None] and key.key_id]
        if not signing_keys:
            raise PyJWKClientError("The JWKS endpoint did not contain any signing keys")
        return signing_keys

    def get_signing_key(self, kid: str) -> PyJWK:
        """The signing key for *kid*, refetching once (cooldown permitting).

        :raises PyJWKClientError: no key matches.
        """
        with self._client_lock:
            signing_key = self.match_kid(self.get_signing_keys(), kid)
            if signing_key:
                return signing_key

            # Rate-limit forced refreshes so unknown kids cannot hammer the
            # endpoint; without a set cache every call fetches anyway.
            cooling_down = (
                self.jwk_set_cache is not None
                and self._last_successful_fetch is not None
                and time.monotonic() - self._last_successful_fetch < self.cooldown_duration
            )
            if not cooling_down:
                signing_keys = self.get_signing_keys(refresh=True)
                self._last_successful_fetch = time.monotonic()
                signing_key = self.match_kid(signing_keys, kid)

            if not signing_key:
                raise PyJWKClientError(f'Unable to find a signing key that matches: "{kid}"')
            return signing_key

    def get_signing_key_from_jwt(self, token: str | bytes) -> PyJWK:
        """The signing key named by the ``kid`` in *token*'s (unverified) header."""
        # Like PyJWT: parse the whole token (signature unchecked), so a malformed payload
        # is refused before any key fetch.
        unverified = decode_token(token, options={"verify_signature": False})
        return self.get_signing_key(unverified["header"].get("kid"))

    @staticmethod
    def match_kid(signing_keys: list[PyJWK], kid: str) -> PyJWK | None:
        """The first key in *signing_keys* whose ``kid`` equals *kid*, else ``None``."""
        for key in signing_keys:
            if key.key_id == kid:
                return key
        return None
