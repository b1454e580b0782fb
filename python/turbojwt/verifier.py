"""``Verifier``: a key and a decode policy compiled once for hot paths (gateways, batches)."""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from datetime import timedelta
from typing import Any

from . import _native
from .api_jwk import PyJWK
from .api_jws import _PUBLIC_KEY_ALGORITHMS, _unwrap_certificate_or_der, get_algorithm_by_name
from .api_jwt import decode, decode_complete
from .batch import BatchEngine, BatchResult, check_policy_arguments
from .exceptions import InvalidKeyError


class Verifier:
    """Verifies tokens with one key and one policy, giving the verdicts ``turbojwt.decode``
    gives with the same arguments, without re-reading them on every call.

    >>> v = Verifier(public_pem, algorithms=["RS256"], audience="api", issuer="https://idp")
    >>> claims = v.decode(token)
    """

    __slots__ = (
        "_native", "_batch", "decode", "decode_complete", "key", "options", "audience", "issuer", "subject", "leeway",
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
    ) -> None:
        algorithms = check_policy_arguments(algorithms, options, require_algorithms=True)
        if not isinstance(leeway, (int, float, timedelta)):
            raise TypeError("leeway must be a number of seconds or a timedelta")
        if (options or {}).get("verify_signature", True) and not isinstance(key, PyJWK):
            _check_key(key, algorithms)

        def fallback(token: Any, complete: bool) -> Any:
            fn = decode_complete if complete else decode
            return fn(
                token, key, algorithms=algorithms, options=options, audience=audience,
                issuer=issuer, subject=subject, leeway=leeway,
            )

        self._native = _native.Verifier(key, algorithms, audience, issuer, subject, leeway, options, fallback)
        # Bound native methods: a call goes straight into Rust.
        self.decode = self._native.decode
        self.decode_complete = self._native.decode_complete
        self.key = key
        self.options = options
        self.audience = audience
        self.issuer = issuer
        self.subject = subject
        self.leeway = leeway
        self._batch: BatchEngine | None = None

    def verify_batch(
        self, tokens: Any, *, at: Any = None, claims: bool = True, threads: int | None = None
    ) -> BatchResult:
        """Verifies many tokens on every core, each as ``decode`` would as of ``at`` (None:
        now; one time; or one per token). See ``turbojwt.verify_batch``."""
        if self._batch is None:
            self._batch = BatchEngine(
                self.key, algorithms=self.algorithms, audience=self.audience, issuer=self.issuer,
                subject=self.subject, leeway=self.leeway, options=self.options,
            )
        return self._batch.run(tokens, at=at, claims=claims, threads=threads)

    @property
    def algorithms(self) -> list[str]:
        return list(self._native.algorithms)

    def __repr__(self) -> str:
        return f"Verifier(algorithms={self.algorithms!r}, audience={self.audience!r}, issuer={self.issuer!r})"


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
