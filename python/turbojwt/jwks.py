"""``JWKSClient``: signing keys from an identity provider's JWKS, for gateways.

Built to avoid the weak spots of today's gateways:

* an unknown ``kid`` triggers one refetch (single-flight: concurrent callers share it), then
  a cooldown and a bounded negative cache of unknown kids, so key rotation works at once and
  a flood of random kids cannot hammer the provider;
* a failed fetch (network error, HTTP error, a body that is not a JWK Set) keeps the last
  good keys (up to ``max_stale`` seconds past their expiry) and is counted, logged and shown
  in ``stats()``; fetches are not retried more often than ``cooldown`` while the provider is
  down. A well-formed JWK Set with no usable signing key is the provider's answer, not an
  outage: every key it held before stops verifying (``PyJWKSetError``, as PyJWT's
  ``PyJWKClient`` fails closed);
* every change of the key set starts a new generation (``_native.KeyGeneration``): the
  parsed keys and verified tokens of a ``Verifier`` over the client, and the engine of its
  ``verify_batch``, are used only under the generation they were made in, so a withdrawn key
  stops verifying on every path, even for a lookup that straddles the refresh;
* ``Cache-Control: max-age`` is honoured within ``min_ttl``..``max_ttl``, and keys are
  refreshed in the background shortly before they expire (``refresh_ahead``);
* keys go through ``KeySet`` (strict: symmetric keys refused by default, weak keys left out,
  each key bound to its type's algorithms).

Sync methods use an ``httpx.Client``, async ones (``a*``) an ``httpx.AsyncClient``; both
share the same cache. The JWKS URL is given, or discovered from the issuer's
``/.well-known/openid-configuration`` (whose ``issuer`` must match).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlparse

from . import _native
from .api_jwk import PyJWK
from .api_jws import get_unverified_header
from .api_jwt import decode
from .exceptions import PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError
from .keyset import KeyNotFoundError, KeySet

log = logging.getLogger("turbojwt.jwks")


class KeyFetchNeeded(Exception):
    """Raised on an event loop's thread instead of blocking it on a key fetch; carries what
    to await (``client.aget_signing_key(kid, alg)``). Not a token error: never cached."""

    def __init__(self, client: JWKSClient, kid: str | None, alg: str) -> None:
        super().__init__(f"key {kid!r} for {alg} needs a fetch")
        self.client, self.kid, self.alg = client, kid, alg


def _httpx() -> Any:
    try:
        import httpx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("JWKSClient needs httpx: pip install 'turbojwt[gateway]'") from e
    return httpx


def _check_url(url: str, what: str) -> str:
    if not isinstance(url, str) or urlparse(url).scheme.lower() not in ("http", "https") or not urlparse(url).netloc:
        raise PyJWKClientError(f"Invalid {what} {url!r}: an http(s) URL is required")
    return url


def _refresh_on_schedule(ref: weakref.ref[JWKSClient]) -> None:
    """The scheduled refresher of ``JWKSClient.watch``; ends when the client is gone."""
    while True:
        client = ref()
        if client is None:
            return
        delay = client._next_refresh_in()
        del client  # hold no reference while asleep
        time.sleep(delay)
        client = ref()
        if client is None:
            return
        _keys, action, seen = client._plan()
        if action in ("refresh-ahead", "fetch"):
            client._refresh_sync(seen)
        del client


def _is_jwk_set_document(document: Any) -> bool:
    """A JSON object with a ``keys`` list: a JWK Set, whatever its keys are worth."""
    return isinstance(document, dict) and isinstance(document.get("keys"), list)


def _no_usable_keys(rejected: list[tuple[str | None, str]]) -> KeySet:
    """The key set of a provider's answer that holds no usable signing key (every lookup
    is refused)."""
    empty = KeySet.__new__(KeySet)
    empty.min_rsa_bits, empty.entries, empty.rejected, empty._by_kid = 0, [], rejected, {}
    return empty


def _signature(keys: KeySet) -> set[str]:
    """The keys of a set as JWK texts (a key changed under the same kid counts as withdrawn)."""
    return {json.dumps(e.jwk, sort_keys=True) for e in keys}


def cache_control_ttl(headers: Mapping[str, str], default: float, low: float, high: float) -> float:
    """Seconds to keep a response: ``max-age`` (minus ``Age``), ``low`` for ``no-store``/``no-cache``,
    else ``default``; always within ``low``..``high``."""
    directives: dict[str, str | None] = {}
    for part in headers.get("cache-control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip().strip('"') if value else None
    ttl = default
    if "no-store" in directives or "no-cache" in directives:
        ttl = low
    elif (max_age := directives.get("max-age")) is not None and max_age.isdigit():
        age = headers.get("age", "0").strip()
        ttl = int(max_age) - (int(age) if age.isdigit() else 0)
    return min(max(float(ttl), low), high)


def _unpickle_client(url: str | None, config: dict[str, Any]) -> JWKSClient:
    return JWKSClient(url, **config)


class JWKSClient:
    """Keys from a JWKS URL (or an issuer's discovery document), cached and refreshed.

    >>> client = JWKSClient("https://idp.example.com/.well-known/jwks.json")
    >>> claims = client.decode(token, algorithms=["RS256"], audience="api")
    >>> claims = await client.adecode(token, algorithms=["RS256"], audience="api")
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        issuer: str | None = None,
        min_ttl: float = 60.0,
        max_ttl: float = 86400.0,
        default_ttl: float = 300.0,
        refresh_ahead: float = 0.2,
        cooldown: float = 30.0,
        negative_cache_size: int = 4096,
        max_stale: float = 86400.0,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        max_response_bytes: int = 1 << 20,
        min_rsa_bits: int = 2048,
        allow_symmetric: bool = False,
        http_client: Any = None,
        async_http_client: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (url is None) == (issuer is None):
            raise ValueError("give either a JWKS url or an issuer to discover it from")
        self.url = _check_url(url, "JWKS URL") if url is not None else None
        self.issuer = _check_url(issuer, "issuer") if issuer is not None else None
        if not 0 <= min_ttl <= max_ttl:
            raise ValueError("need 0 <= min_ttl <= max_ttl")
        if not 0 <= refresh_ahead < 1:
            raise ValueError("refresh_ahead is a fraction of the TTL in [0, 1)")
        self.min_ttl, self.max_ttl, self.default_ttl = float(min_ttl), float(max_ttl), float(default_ttl)
        self.refresh_ahead = refresh_ahead
        self.cooldown = float(cooldown)
        self.negative_cache_size = negative_cache_size
        self.max_stale = float(max_stale)
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.max_response_bytes = max_response_bytes
        self.min_rsa_bits = min_rsa_bits
        self.allow_symmetric = allow_symmetric
        self._http = http_client
        self._ahttp = async_http_client
        self._clock = clock

        self._lock = threading.Lock()  # guards the state below
        self._fetch_lock = threading.Lock()  # one sync fetch at a time (single-flight)
        self._async_fetch: tuple[Any, asyncio.Task[None]] | None = None  # (loop, task)
        self._background: Any = None  # the running background refresh (thread or task)
        self._attempts = 0  # fetch attempts so far: waiters see whether one ran meanwhile
        self._in_flight = 0  # fetches running now
        self._keys: KeySet | None = None
        # Bumped (under _lock, with _keys) whenever a fetch changes the key set.
        self._generation = _native.KeyGeneration()
        self._no_keys_reason: str | None = None  # why the provider's current set is unusable
        self._last_fetch: str | None = None  # "ok", "no_usable_keys" or "failed"
        self._jwks_uri: str | None = self.url
        self._fetched_at = -math.inf
        self._ttl = self.default_ttl
        self._retry_at = -math.inf  # after a failure, no new attempt before this
        self._last_unknown_refetch = -math.inf
        self._unknown: OrderedDict[str, float] = OrderedDict()  # kid -> refused until
        self._stats = {
            "fetches": 0,
            "fetch_failures": 0,
            "no_usable_key_sets": 0,
            "unknown_kid_refetches": 0,
            "unknown_kid_refusals": 0,
        }
        self._last_error: str | None = None
        # Verifiers built over this client (cleared when a key is withdrawn).
        self._verifiers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._refresher_pid: int | None = None

    # ------------------------------------------------------------------ pickling

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles to its configuration (for worker processes: a ``Verifier`` over it goes to
        Dask workers so); the rebuilt client fetches the key set itself, on first use. A
        client given its own HTTP clients or clock does not pickle."""
        if self._http is not None or self._ahttp is not None or self._clock is not time.monotonic:
            raise TypeError("a JWKSClient with its own HTTP client or clock does not pickle")
        config = dict(
            issuer=self.issuer,
            min_ttl=self.min_ttl,
            max_ttl=self.max_ttl,
            default_ttl=self.default_ttl,
            refresh_ahead=self.refresh_ahead,
            cooldown=self.cooldown,
            negative_cache_size=self.negative_cache_size,
            max_stale=self.max_stale,
            timeout=self.timeout,
            headers=self.headers,
            max_response_bytes=self.max_response_bytes,
            min_rsa_bits=self.min_rsa_bits,
            allow_symmetric=self.allow_symmetric,
        )
        return (_unpickle_client, (self.url, config))

    # ------------------------------------------------------------------ fetching

    def _parse(self, status: int, headers: Mapping[str, str], body: bytes, what: str) -> Any:
        if status != 200:
            raise PyJWKClientConnectionError(f"Fetching {what} failed: HTTP {status}")
        if len(body) > self.max_response_bytes:
            raise PyJWKClientConnectionError(f"{what} is larger than {self.max_response_bytes} bytes")
        try:
            return json.loads(body)
        except ValueError as e:
            raise PyJWKClientConnectionError(f"{what} is not JSON: {e}") from None

    def _jwks_uri_from(self, config: Any) -> str:
        if not isinstance(config, dict) or config.get("issuer") != self.issuer:
            raise PyJWKClientConnectionError(
                f"The discovery document's issuer does not match {self.issuer!r} (OpenID Connect Discovery §4.3)"
            )
        jwks_uri = config.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise PyJWKClientError(f"Invalid jwks_uri {jwks_uri!r}: an http(s) URL is required")
        return _check_url(jwks_uri, "jwks_uri")

    def _discovery_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"  # type: ignore[union-attr]

    def _store(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        document = self._parse(status, headers, body, "the JWKS")
        no_keys_reason = None
        try:
            keys = KeySet(document, min_rsa_bits=self.min_rsa_bits, allow_symmetric=self.allow_symmetric)
        except PyJWKSetError as e:
            if not _is_jwk_set_document(document):
                raise  # not a JWK Set at all: a failed fetch, the last good keys stay
            # A JWK Set without a usable signing key (empty, only encryption keys, only keys
            # refused): the provider withdrew its keys, so the ones held before stop verifying.
            keys, no_keys_reason = _no_usable_keys([]), str(e)
        ttl = cache_control_ttl(headers, self.default_ttl, self.min_ttl, self.max_ttl)
        for kid, reason in keys.rejected:
            log.warning("JWKS %s: key %r left out: %s", self._jwks_uri, kid, reason)
        with self._lock:
            previous = self._keys
            changed = previous is None or _signature(previous) != _signature(keys)
            if changed:
                # Before anything can read the new keys: whatever was derived from the old
                # set is now of an old generation and is not used again.
                self._generation.bump()
            self._keys, self._fetched_at, self._ttl = keys, self._clock(), ttl
            self._no_keys_reason = no_keys_reason
            self._last_fetch = "ok" if no_keys_reason is None else "no_usable_keys"
            self._retry_at = -math.inf
            self._last_error = None if no_keys_reason is None else f"PyJWKSetError: {no_keys_reason}"
            self._stats["fetches"] += 1
            if no_keys_reason is not None:
                self._stats["no_usable_key_sets"] += 1
            for kid in keys.kids:
                self._unknown.pop(kid, None)  # type: ignore[arg-type]
            withdrawn = previous is not None and bool(_signature(previous) - _signature(keys))
            verifiers = list(self._verifiers) if withdrawn else []
        # A key was withdrawn (or changed): verifiers drop the keys they hold and the tokens
        # they verified now (the generation already keeps them from being used; this frees them).
        for verifier in verifiers:
            verifier.keys_clear()
            verifier.cache_clear()
        if no_keys_reason is not None:
            log.warning(
                "JWKS %s holds no usable signing key (%s): every token is refused", self._jwks_uri, no_keys_reason
            )
        if withdrawn:
            log.info("JWKS %s: keys withdrawn; %d verifier(s) cleared", self._jwks_uri, len(verifiers))

    def _failed(self, error: BaseException) -> None:
        with self._lock:
            self._last_fetch = "failed"
            self._stats["fetch_failures"] += 1
            self._last_error = f"{type(error).__name__}: {error}"
            self._retry_at = self._clock() + self.cooldown
            stale = self._keys is not None
        log.warning(
            "JWKS fetch from %s failed (%s)%s",
            self._jwks_uri or self.issuer,
            self._last_error,
            "; keeping the last good keys" if stale else "",
        )

    def _body_part(self, body: bytearray, chunk: bytes, what: str) -> None:
        body += chunk
        if len(body) > self.max_response_bytes:
            raise PyJWKClientConnectionError(f"{what} is larger than {self.max_response_bytes} bytes")

    def _get_sync(self, client: Any, url: str, what: str) -> tuple[int, Mapping[str, str], bytes]:
        """GET, reading at most ``max_response_bytes`` of the body."""
        body = bytearray()
        with client.stream("GET", url, headers=self.headers, timeout=self.timeout) as r:
            for chunk in r.iter_bytes():
                self._body_part(body, chunk, what)
            return r.status_code, r.headers, bytes(body)

    async def _get_async(self, client: Any, url: str, what: str) -> tuple[int, Mapping[str, str], bytes]:
        body = bytearray()
        async with client.stream("GET", url, headers=self.headers, timeout=self.timeout) as r:
            async for chunk in r.aiter_bytes():
                self._body_part(body, chunk, what)
            return r.status_code, r.headers, bytes(body)

    def _fetch_sync(self) -> None:
        httpx = _httpx()
        client = self._http or httpx.Client(timeout=self.timeout, follow_redirects=False)
        try:
            if self._jwks_uri is None:
                status, headers, body = self._get_sync(client, self._discovery_url(), "the discovery document")
                self._jwks_uri = self._jwks_uri_from(self._parse(status, headers, body, "the discovery document"))
            self._store(*self._get_sync(client, self._jwks_uri, "the JWKS"))
        except (httpx.HTTPError, PyJWKClientError, PyJWKSetError, OSError) as e:
            self._failed(e)
        finally:
            if client is not self._http:
                client.close()

    async def _fetch_async(self) -> None:
        httpx = _httpx()
        client = self._ahttp or httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        try:
            if self._jwks_uri is None:
                status, headers, body = await self._get_async(client, self._discovery_url(), "the discovery document")
                self._jwks_uri = self._jwks_uri_from(self._parse(status, headers, body, "the discovery document"))
            self._store(*await self._get_async(client, self._jwks_uri, "the JWKS"))
        except (httpx.HTTPError, PyJWKClientError, PyJWKSetError, OSError) as e:
            self._failed(e)
        finally:
            if client is not self._ahttp:
                await client.aclose()

    def _refresh_sync(self, seen: int) -> None:
        """Fetches, unless another caller's attempt ran since this one read ``seen``."""
        with self._fetch_lock:
            with self._lock:
                if self._attempts != seen:
                    return
                self._in_flight += 1
            try:
                self._fetch_sync()
            finally:
                with self._lock:
                    self._attempts += 1
                    self._in_flight -= 1

    async def _refresh_async(self, seen: int) -> None:
        loop = asyncio.get_running_loop()
        current = self._async_fetch
        if current is None or current[0] is not loop or current[1].done():
            with self._lock:
                if self._attempts != seen:
                    return
                self._in_flight += 1  # from now on (not when the task first runs): callers wait
            task = loop.create_task(self._run_async_fetch())
            self._async_fetch = (loop, task)
        else:
            task = current[1]
        # shield: one caller's cancellation does not cancel the fetch the others wait on
        await asyncio.shield(task)

    async def _run_async_fetch(self) -> None:
        try:
            await self._fetch_async()
        finally:
            with self._lock:
                self._attempts += 1
                self._in_flight -= 1

    # ------------------------------------------------------------------ state

    def _plan(self) -> tuple[KeySet | None, str, int]:
        """The keys to use now and what to do: "ok", "refresh-ahead", "fetch" (must fetch
        first) or "stale" (expired, provider down: use them anyway), plus the attempt count."""
        with self._lock:
            now, keys, attempts = self._clock(), self._keys, self._attempts
            age = now - self._fetched_at
            if keys is None:
                return None, ("fetch" if now >= self._retry_at else "down"), attempts
            if age < self._ttl * (1 - self.refresh_ahead):
                return keys, "ok", attempts
            if age < self._ttl:
                return keys, "refresh-ahead", attempts
            if now < self._retry_at:
                return keys, ("stale" if age < self._ttl + self.max_stale else "down"), attempts
            return keys, "fetch", attempts

    def _after_fetch(self) -> KeySet:
        with self._lock:
            keys, age = self._keys, self._clock() - self._fetched_at
            if keys is not None and age < self._ttl + self.max_stale:
                return keys
            error = self._last_error
        raise PyJWKClientConnectionError(
            f"No usable JWKS from {self._jwks_uri or self.issuer}" + (f": {error}" if error else "")
        )

    def watch(self, verifier: Any) -> None:
        """Keeps ``verifier`` (a ``Verifier`` over this client) in step with the JWKS: a
        thread refreshes the keys on schedule, traffic or not, and when a key is withdrawn
        the verifier drops its parsed keys and cached tokens at once."""
        with self._lock:
            self._verifiers.add(verifier)
            pid = os.getpid()
            if self._refresher_pid == pid:
                return
            self._refresher_pid = pid  # one per process (threads do not survive a fork)
        threading.Thread(
            target=_refresh_on_schedule, args=(weakref.ref(self),), name="turbojwt-jwks-schedule", daemon=True
        ).start()

    def _next_refresh_in(self) -> float:
        """Seconds until the keys should be refreshed (or a failed fetch retried)."""
        with self._lock:
            now = self._clock()
            if now < self._retry_at:
                due = self._retry_at - now
            elif self._keys is None:
                due = 1.0  # not fetched yet: look again soon
            else:
                due = self._fetched_at + self._ttl * (1 - self.refresh_ahead) - now
        return min(max(due, 0.05), 3600.0)

    def _start_background_sync(self, seen: int) -> None:
        with self._lock:
            if self._background is not None and not self._background_done():
                return
            self._background = threading.Thread(
                target=self._refresh_sync, args=(seen,), name="turbojwt-jwks-refresh", daemon=True
            )
            self._background.start()

    # ------------------------------------------------------------------ sync API

    def get_key_set(self) -> KeySet:
        """The current keys, fetching them first when there are none or they expired.

        :raises PyJWKSetError: the provider's current JWK Set holds no usable signing key.
        :raises PyJWKClientConnectionError: no keys could be fetched (and none are left)."""
        return self._usable(self._current_keys())

    def _current_keys(self) -> KeySet:
        keys, action, seen = self._plan()
        if action == "ok" or action == "stale":
            return keys  # type: ignore[return-value]
        if action == "refresh-ahead":
            self._start_background_sync(seen)
            return keys  # type: ignore[return-value]
        if action == "fetch":
            self._refresh_sync(seen)
        return self._after_fetch()

    def _usable(self, keys: KeySet) -> KeySet:
        """``keys``, unless they are the provider's set without a usable key."""
        if not keys.entries:
            with self._lock:
                reason = self._no_keys_reason
            raise PyJWKSetError(
                f"The JWKS at {self._jwks_uri or self.issuer} holds no usable signing key"
                + (f": {reason}" if reason else "")
            )
        return keys

    @property
    def generation(self) -> int:
        """Bumped whenever a fetch changes the key set."""
        return self._generation.value

    def key_set_and_generation(self) -> tuple[KeySet, int]:
        """The current keys with the generation they belong to (for an engine that keeps
        what it derives from them, such as ``Verifier.verify_batch``'s)."""
        for _ in range(3):
            generation = self._generation.value
            keys = self.get_key_set()
            if self._generation.value == generation:
                return keys, generation
        raise PyJWKClientConnectionError(f"The JWKS at {self._jwks_uri or self.issuer} kept changing while read")

    def prewarm(self) -> KeySet:
        """Fetches the keys now (at start-up); raises if that fails."""
        return self.get_key_set()

    def get_signing_key(self, kid: str | None, alg: str | None = None) -> PyJWK:
        """The key for ``kid`` (bound to ``alg`` when given), refetching once for an unknown kid."""
        keys = self._current_keys()
        found = self._lookup(keys, kid, alg)
        if found is not None:
            return found
        seen = self._unknown_kid_refetch(kid)
        if seen is not None:
            self._refresh_sync(seen)
        return self._lookup_or_refuse(kid, alg)

    def key_for_verifier(self, kid: str | None, alg: str) -> tuple[PyJWK, float, int]:
        """For ``Verifier(client, ...)``: the key, how many seconds the verifier may keep it
        without asking again (until the refresh is due; at least 1 s while stale), and the
        generation read before the lookup (the verifier keeps the key only if that is still
        the current one, so a key of a set replaced during the lookup is never kept).

        On an event loop's thread it never does I/O: a key that needs a fetch raises
        ``KeyFetchNeeded``, which ``Verifier.adecode`` awaits (refreshes ahead of expiry
        run as tasks)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        generation = self._generation.value
        key: PyJWK | None
        if loop is None:
            key = self.get_signing_key(kid, alg)
        else:
            keys, action, seen = self._plan()
            key = self._lookup(keys, kid, alg) if keys is not None and action != "fetch" and action != "down" else None
            if key is None:
                raise KeyFetchNeeded(self, kid, alg)
            if action == "refresh-ahead":
                self._start_background_async(loop, seen)
        with self._lock:
            due = self._fetched_at + self._ttl * (1 - self.refresh_ahead) - self._clock()
        return key, max(due, 1.0), generation

    def get_signing_key_from_jwt(self, token: str | bytes) -> PyJWK:
        header = get_unverified_header(token)
        return self.get_signing_key(header.get("kid"), header.get("alg"))

    def decode(self, token: str | bytes, **kwargs: Any) -> Any:
        """``turbojwt.decode(token, <the token's key>, **kwargs)``."""
        return decode(token, self.get_signing_key_from_jwt(token), **kwargs)

    # ------------------------------------------------------------------ async API

    async def aget_key_set(self) -> KeySet:
        return self._usable(await self._acurrent_keys())

    async def _acurrent_keys(self) -> KeySet:
        keys, action, seen = self._plan()
        if action == "ok" or action == "stale":
            return keys  # type: ignore[return-value]
        if action == "refresh-ahead":
            self._start_background_async(asyncio.get_running_loop(), seen)
            return keys  # type: ignore[return-value]
        if action == "fetch":
            await self._refresh_async(seen)
        return self._after_fetch()

    def _start_background_async(self, loop: asyncio.AbstractEventLoop, seen: int) -> None:
        if self._background is None or self._background_done():
            self._background = loop.create_task(self._refresh_async(seen))

    def _background_done(self) -> bool:
        bg = self._background
        return bg.done() if isinstance(bg, asyncio.Task) else not bg.is_alive()

    async def aprewarm(self) -> KeySet:
        return await self.aget_key_set()

    async def aget_signing_key(self, kid: str | None, alg: str | None = None) -> PyJWK:
        keys = await self._acurrent_keys()
        found = self._lookup(keys, kid, alg)
        if found is not None:
            return found
        seen = self._unknown_kid_refetch(kid)
        if seen is not None:
            await self._refresh_async(seen)
        return self._lookup_or_refuse(kid, alg)

    async def aget_signing_key_from_jwt(self, token: str | bytes) -> PyJWK:
        header = get_unverified_header(token)
        return await self.aget_signing_key(header.get("kid"), header.get("alg"))

    async def adecode(self, token: str | bytes, **kwargs: Any) -> Any:
        """``decode`` with the key fetched without blocking the event loop."""
        return decode(token, await self.aget_signing_key_from_jwt(token), **kwargs)

    # ------------------------------------------------------------------ unknown kids

    @staticmethod
    def _lookup(keys: KeySet, kid: str | None, alg: str | None) -> PyJWK | None:
        try:
            entry = keys.entry(kid, alg)
        except KeyNotFoundError:
            return None
        return entry.key(alg or entry.algorithms[0])

    def _unknown_kid_refetch(self, kid: str | None) -> int | None:
        """The attempt count to refetch with for an unknown kid, or None when the negative
        cache or the cooldown says not to. While a fetch runs, callers wait for it (and share
        its result) instead of starting another."""
        with self._lock:
            now = self._clock()
            until = self._unknown.get(kid) if isinstance(kid, str) else None
            if until is not None and now < until:
                return None
            if self._in_flight:
                return self._attempts
            if now - self._last_unknown_refetch < self.cooldown or now < self._retry_at:
                return None
            self._last_unknown_refetch = now
            self._stats["unknown_kid_refetches"] += 1
            return self._attempts

    def _lookup_or_refuse(self, kid: str | None, alg: str | None) -> PyJWK:
        """The key after a refetch (or none); an unknown kid is counted and remembered."""
        keys = self._usable(self._after_fetch())
        try:
            entry = keys.entry(kid, alg)  # a known kid with another algorithm raises its own error
        except KeyNotFoundError:
            with self._lock:
                self._stats["unknown_kid_refusals"] += 1
                if isinstance(kid, str):
                    self._unknown[kid] = self._clock() + self.cooldown
                    self._unknown.move_to_end(kid)
                    while len(self._unknown) > self.negative_cache_size:
                        self._unknown.popitem(last=False)
            raise
        return entry.key(alg or entry.algorithms[0])

    # ------------------------------------------------------------------ metrics

    def stats(self) -> dict[str, Any]:
        """Counters and state for metrics: fetches, fetch_failures (network, HTTP or body
        errors: the last good keys stay), no_usable_key_sets (well-formed sets without a
        usable signing key: every token refused), unknown_kid_refetches,
        unknown_kid_refusals, keys (kids), age (s since the last good fetch), ttl, stale
        (serving keys past their TTL), last_fetch ("ok", "no_usable_keys", "failed" or
        None before the first), last_error, generation, unknown_kids_cached."""
        with self._lock:
            age = self._clock() - self._fetched_at if self._keys is not None else None
            return {
                **self._stats,
                "keys": self._keys.kids if self._keys is not None else [],
                "age": age,
                "ttl": self._ttl,
                "stale": age is not None and age >= self._ttl,
                "last_fetch": self._last_fetch,
                "last_error": self._last_error,
                "generation": self._generation.value,
                "unknown_kids_cached": len(self._unknown),
                "jwks_uri": self._jwks_uri,
            }

    def __repr__(self) -> str:
        return f"JWKSClient({self.url or self.issuer!r})"
