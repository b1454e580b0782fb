"""``Verifier``: a key and a decode policy compiled once for hot paths (gateways, batches)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Container, Iterable, Sequence
from datetime import timedelta
from typing import Any

from . import _native
from ._pickling import rebuilt_once
from .api_jwk import PyJWK
from .api_jws import _PUBLIC_KEY_ALGORITHMS, _unwrap_certificate_or_der, get_algorithm_by_name
from .batch import BatchEngine, BatchResult, check_policy_arguments
from .exceptions import InvalidKeyError, PyJWKClientConnectionError
from .jwks import JWKSClient, KeyFetchNeeded
from .keyset import KeySet
from .native_settings import CacheInfo


class Verifier:
    """Verifies tokens with one key and one policy, giving the verdicts ``turbojwt.decode``
    gives with the same arguments, without re-reading them on every call.

    >>> v = Verifier(public_pem, algorithms=["RS256"], audience="api", issuer="https://idp")
    >>> claims = v.decode(token)
    """

    __slots__ = (
        "__weakref__",
        "_batch",
        "_batch_generation",
        "_config",
        "_identity",
        "_native",
        "audience",
        "cache_clear",
        "decode",
        "decode_complete",
        "issuer",
        "key",
        "keys_clear",
        "keys_held",
        "leeway",
        "options",
        "subject",
    )

    def __init__(
        self,
        key: Any,
        *,
        algorithms: Sequence[str],
        audience: str | Iterable[str] | None = None,
        issuer: str | Container[str] | None = None,
        subject: str | None = None,
        leeway: float | timedelta = 0,
        options: dict[str, Any] | None = None,
        cache: int | None = None,
        cache_ttl: float = 600.0,
        cache_max_token_bytes: int = 8192,
        cache_negative_ttl: float = 0.0,
        typ: str | None = None,
    ) -> None:
        """``key``: anything ``decode`` takes, a ``KeySet`` or a ``JWKSClient`` (the token's
        ``kid`` picks the key; parsed keys are kept natively, a ``JWKSClient``'s until its
        refresh is due).

        ``cache=N`` keeps the claims of up to N verified tokens (keyed by the whole
        token), served only while the token is valid (``nbf``/``iat`` - leeway to ``exp``
        + leeway) and for at most ``cache_ttl`` seconds; tokens over
        ``cache_max_token_bytes`` are not cached; ``cache_negative_ttl`` > 0 also remembers
        refusals (``InvalidTokenError``) that long. Each hit returns fresh dicts and lists.
        ``decode_complete`` does not use the cache.

        ``typ``: the header ``typ`` every token must have (RFC 9068 access tokens:
        ``"at+jwt"``), compared as a media type (case-insensitive, ``application/`` prefix
        optional); another one is an ``InvalidTypeError``."""
        algorithms = check_policy_arguments(algorithms, options, leeway, require_algorithms=True)
        # What it pickles to (see __reduce__).
        self._config: tuple[Any, dict[str, Any]] = (
            key,
            dict(
                algorithms=algorithms,
                audience=audience,
                issuer=issuer,
                subject=subject,
                leeway=leeway,
                options=options,
                cache=cache,
                cache_ttl=cache_ttl,
                cache_max_token_bytes=cache_max_token_bytes,
                cache_negative_ttl=cache_negative_ttl,
                typ=typ,
            ),
        )
        self._identity = uuid.uuid4().hex
        resolver = _key_resolver(key)
        if (options or {}).get("verify_signature", True) and resolver is None and not isinstance(key, PyJWK):
            _check_key(key, algorithms)

        cache_size = _check_cache_arguments(cache, cache_ttl, cache_max_token_bytes, cache_negative_ttl)
        if typ is not None and not isinstance(typ, str):
            raise TypeError("typ must be a string (or None)")
        self._native = _native.Verifier(
            key,
            algorithms,
            audience,
            issuer,
            subject,
            leeway,
            options,
            cache_size,
            float(cache_ttl),
            cache_max_token_bytes,
            float(cache_negative_ttl),
            resolver,
            key._generation if isinstance(key, JWKSClient) else None,
            typ,
        )
        # Bound native methods: a call goes straight into Rust.
        self.decode = self._native.decode
        self.decode_complete = self._native.decode_complete
        self.cache_clear = self._native.cache_clear
        self.keys_held = self._native.keys_held
        self.keys_clear = self._native.keys_clear
        self.key = key
        self.options = options
        self.audience = audience
        self.issuer = issuer
        self.subject = subject
        self.leeway = leeway
        self._batch: BatchEngine | None = None
        self._batch_generation = -1
        if isinstance(key, JWKSClient):
            key.watch(self)

    async def adecode(self, token: str | bytes) -> Any:
        """``decode`` for async code: with a ``JWKSClient``, a key that must be fetched
        first is awaited instead of blocking the event loop."""
        for _ in range(3):
            try:
                return self.decode(token)
            except KeyFetchNeeded as need:
                await need.client.aget_signing_key(need.kid, need.alg)
        raise PyJWKClientConnectionError("The signing key could not be fetched")

    def verify_batch(
        self, tokens: Any, *, at: Any = None, claims: bool = True, threads: int | None = None
    ) -> BatchResult:
        """Verifies many tokens on every core, each as ``decode`` would as of ``at`` (None:
        now; one time; or one per token). See ``turbojwt.verify_batch``.

        Over a ``JWKSClient`` each call uses the client's current keys (refreshed first when
        due): the engine, its key table and its repeated-token cache are rebuilt whenever
        the key set changed since they were made."""
        engine = self._batch_engine()
        return engine.run(tokens, at=at, claims=claims, threads=threads)

    def _batch_engine(self) -> BatchEngine:
        """The batch engine of this verifier's key and policy (``verify_batch`` and the Arrow
        kernel run on it). Over a ``JWKSClient``, the client's current keys (refreshed first
        when due): the engine, its key table and its repeated-token cache are rebuilt
        whenever the key set changed since they were made."""
        key, generation = self.key, 0
        if isinstance(key, JWKSClient):
            key, generation = key.key_set_and_generation()
        engine = self._batch
        if engine is None or self._batch_generation != generation:
            engine = BatchEngine(
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                subject=self.subject,
                leeway=self.leeway,
                options=self.options,
            )
            self._batch, self._batch_generation = engine, generation
        return engine

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles to its key material and policy, for worker processes (Dask,
        multiprocessing). A process rebuilds a given verifier once and keeps it (with its
        parsed keys, caches and batch engine) for every later task that brings it: see
        ``_unpickle``. The key must pickle (str, bytes, JWK dicts, ...)."""
        key, kwargs = self._config
        return (_unpickle, (self._identity, key, kwargs))

    def cache_info(self) -> CacheInfo | None:
        """Hits, misses, maxsize and currsize of the verified-token cache (None when off)."""
        info = self._native.cache_info()
        return None if info is None else CacheInfo(*info)

    @property
    def algorithms(self) -> list[str]:
        return list(self._native.algorithms)

    def __repr__(self) -> str:
        return f"Verifier(algorithms={self.algorithms!r}, audience={self.audience!r}, issuer={self.issuer!r})"


def _unpickle(identity: str, key: Any, kwargs: dict[str, Any]) -> Verifier:
    """The verifier ``identity`` as this process first rebuilt it (warm caches across the
    tasks of a job), or a new one."""

    def build() -> Verifier:
        verifier = Verifier(key, **kwargs)
        verifier._identity = identity
        return verifier

    return rebuilt_once(identity, build)


def _check_cache_arguments(cache: Any, ttl: Any, max_token: Any, negative_ttl: Any) -> int:
    if cache is None:
        return 0
    if isinstance(cache, bool) or not isinstance(cache, int) or cache < 0:
        raise TypeError("cache must be a number of tokens (or None)")
    for name, value in (("cache_ttl", ttl), ("cache_negative_ttl", negative_ttl)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{name} must be a number of seconds >= 0")
    if isinstance(max_token, bool) or not isinstance(max_token, int) or max_token < 0:
        raise ValueError("cache_max_token_bytes must be an int >= 0")
    return cache


def _key_resolver(key: Any) -> Callable[[str | None, str], tuple[PyJWK, float, int]] | None:
    """For a key set, the native Verifier's ``(kid, alg) -> (PyJWK, seconds valid, generation)``
    (a ``KeySet`` never changes: generation 0)."""
    if isinstance(key, KeySet):
        return lambda kid, alg: (key.entry(kid, alg).key(alg), math.inf, 0)
    if isinstance(key, JWKSClient):
        return key.key_for_verifier
    return None


def _check_key(key: Any, algorithms: list[str]) -> None:
    """Refuse at construction a key that no allowed algorithm can use (as decode would)."""
    first_error: Exception | None = None
    for name in algorithms:
        try:
            alg = get_algorithm_by_name(name)
        except NotImplementedError:
            continue
        try:
            alg.prepare_key(_unwrap_certificate_or_der(key) if isinstance(alg, _PUBLIC_KEY_ALGORITHMS) else key)
            return
        except (InvalidKeyError, TypeError, ValueError) as e:
            first_error = first_error or e
    if first_error is not None:
        if isinstance(first_error, InvalidKeyError):
            raise first_error
        raise InvalidKeyError(f"The key cannot be used with {algorithms}: {first_error}") from first_error
