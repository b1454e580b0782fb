"""Consumers as APISIX's ``jwt-auth`` plugin configures them: each has a name, a ``key`` that
tokens name in a claim (``key`` by default, APISIX's ``key_claim_name``), and the one key its
tokens are signed with (an HMAC secret, possibly base64, or a public key) under one
algorithm.

```toml
key_claim_name = "key"            # the claim that names the consumer

[[consumer]]
name = "jack"                     # APISIX's username; sent upstream as X-Consumer-Username
key = "jack-key"
secret = "a secret of at least 32 bytes for HS256..."
algorithm = "HS256"               # the default for a secret
lifetime_grace_period = 10        # leeway for exp/nbf/iat, in seconds

[[consumer]]
name = "kim"
key = "kim-key"
public_key_file = "keys/kim.pem"  # or public_key = "-----BEGIN PUBLIC KEY-----..."
algorithm = "RS256"               # required with a public key
```

The claim is read before anything is verified, only to pick the consumer; only a string
names one. The consumer's key and algorithm then verify the token, with a ``Verifier`` (the
same checks as every other token: signature, ``exp``/``nbf``/``iat``, ``aud`` when the token
has one), and the verified claim must name that same consumer.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api_jws import _PUBLIC_KEY_ALGORITHMS, _unwrap_certificate_or_der, get_algorithm_by_name
from ..api_jwt import decode as _decode
from ..exceptions import InvalidTokenError
from ..verifier import Verifier

# APISIX's jwt-auth algorithms (its consumer schema's enum).
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
PUBLIC_KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA")
_UNVERIFIED = {"verify_signature": False}


class UnknownConsumerError(InvalidTokenError):
    """The token names no configured consumer (or names one with something other than a
    string, or not at all)."""


@dataclass
class Consumer:
    """One consumer: the ``key`` its tokens name, and the key and algorithm that verify them.
    ``secret`` (bytes: already base64-decoded if it was) for HMAC, ``public_key`` (PEM text)
    otherwise. ``leeway`` is APISIX's ``lifetime_grace_period``. ``roles`` and ``scopes``
    are what the policy grants the consumer's tokens (routes' ``roles_any``/``roles_all``
    and ``scopes``, ``required_scopes``): a consumer writes its own tokens, so their role
    and scope claims are not read."""

    name: str
    key: str
    algorithm: str = "HS256"
    secret: bytes | None = field(default=None, repr=False)  # never in a log line
    public_key: str | None = field(default=None, repr=False)
    leeway: float = 0
    audiences: list[str] = field(default_factory=list)
    required_claims: list[str] = field(default_factory=list)
    cache: int = 0
    roles: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("a consumer needs a name")
        if not isinstance(self.key, str) or not self.key:
            raise ValueError("key must be a non-empty string")
        if self.algorithm in HMAC_ALGORITHMS:
            if self.secret is None or self.public_key is not None:
                raise ValueError(f"{self.algorithm} needs a secret (and no public key)")
            verify_key: bytes | str = self.secret
        elif self.algorithm in PUBLIC_KEY_ALGORITHMS:
            if self.public_key is None or self.secret is not None:
                raise ValueError(f"{self.algorithm} needs a public key (and no secret)")
            verify_key = self.public_key
        else:
            raise ValueError(f"algorithm must be one of {', '.join(HMAC_ALGORITHMS + PUBLIC_KEY_ALGORITHMS)}")
        check_key_strength(self.algorithm, verify_key)
        options: dict[str, Any] = {"enforce_minimum_key_length": True}
        if self.required_claims:
            options["require"] = list(self.required_claims)
        self.verifier = Verifier(
            verify_key,
            algorithms=[self.algorithm],
            audience=self.audiences or None,
            leeway=self.leeway,
            options=options,
            cache=self.cache or None,
        )

    def verify(self, token: str | bytes) -> dict[str, Any]:
        return self.verifier.decode(token)

    async def averify(self, token: str | bytes) -> dict[str, Any]:
        return await self.verifier.adecode(token)


def check_key_strength(algorithm: str, key: bytes | str) -> None:
    """The key guards ``decode`` applies, at load time: an HMAC secret that is a public key,
    certificate or JWK text is refused (algorithm confusion), and so is a key shorter than
    its algorithm needs (RFC 7518 §3.2 for HMAC: at least the hash size; RSA: 2048 bits)."""
    alg = get_algorithm_by_name(algorithm)
    prepared = alg.prepare_key(_unwrap_certificate_or_der(key) if isinstance(alg, _PUBLIC_KEY_ALGORITHMS) else key)
    too_short = alg.check_key_length(prepared)
    if too_short:
        raise ValueError(too_short)


def decode_base64_secret(text: str) -> bytes:
    """A ``base64_secret``: standard base64 (RFC 4648 §4), padding optional, as APISIX's
    ``ngx.decode_base64`` reads it. ``ValueError`` when it does not decode or is empty."""
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("base64_secret is set but the secret is not base64")
    try:
        secret = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("base64_secret is set but the secret is not base64") from None
    if not secret:
        raise ValueError("the secret is empty")
    return secret


class Consumers:
    """The consumers of a policy, found by the (unverified) ``key_claim`` of a token."""

    def __init__(self, consumers: Sequence[Consumer], key_claim: str = "key") -> None:
        if not isinstance(key_claim, str) or not key_claim:
            raise ValueError("key_claim_name must be a non-empty string")
        self.key_claim = key_claim
        self.consumers = list(consumers)
        self._by_key: dict[str, Consumer] = {}
        self.by_name: dict[str, Consumer] = {}
        for c in self.consumers:
            if c.key in self._by_key:
                raise ValueError(f"consumers {self._by_key[c.key].name!r} and {c.name!r} have the same key")
            if c.name in self.by_name:
                raise ValueError(f"two consumers are named {c.name!r}")
            self._by_key[c.key] = c
            self.by_name[c.name] = c

    def __len__(self) -> int:
        return len(self.consumers)

    def named_key(self, token: str | bytes) -> str | None:
        """The consumer key a token claims, unverified: None when the claim is absent or not
        a string. Raises the token's ``DecodeError`` when it cannot be read."""
        value = _decode(token, options=_UNVERIFIED).get(self.key_claim)
        return value if isinstance(value, str) else None

    def select(self, token: str | bytes) -> Consumer:
        """The consumer a token names; ``UnknownConsumerError`` when it names none."""
        key = self.named_key(token)
        consumer = self._by_key.get(key) if key is not None else None
        if consumer is None:
            raise UnknownConsumerError("The token names no known consumer")
        return consumer

    def check(self, consumer: Consumer, claims: Mapping[str, Any]) -> None:
        """After verification: the verified claim names the consumer whose key verified it
        (one parser picked, another verified; they must agree)."""
        if claims.get(self.key_claim) != consumer.key:
            raise UnknownConsumerError("The token's consumer claim changed between reading and verifying")


_CONSUMER_KEYS = {
    "name",
    "username",
    "key",
    "secret",
    "base64_secret",
    "public_key",
    "public_key_file",
    "algorithm",
    "lifetime_grace_period",
    "audiences",
    "required_claims",
    "cache",
    "roles",
    "scopes",
}


def consumer_from_dict(c: Mapping[str, Any], base: Path) -> Consumer:
    """A ``[[consumer]]`` table (ValueError/OSError when it cannot be used; the policy names
    the consumer in its ``PolicyError``)."""
    unknown = set(c) - _CONSUMER_KEYS
    if "exp" in unknown:
        raise ValueError(
            "exp is the lifetime of the tokens APISIX signs for a consumer; turbojwt does not sign tokens "
            "(remove it; verification checks the exp each token carries)"
        )
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    if "name" in c and "username" in c:
        raise ValueError("give name or username, not both")
    secret = c.get("secret")
    public_key = c.get("public_key")
    public_key_file = c.get("public_key_file")
    given = [k for k, v in (("secret", secret), ("public_key", public_key), ("public_key_file", public_key_file)) if v]
    if len(given) != 1:
        raise ValueError("give exactly one of secret, public_key, public_key_file")
    for k in ("secret", "public_key", "public_key_file"):
        if k in c and not isinstance(c[k], str):
            raise ValueError(f"{k} must be a string")
    base64_secret = c.get("base64_secret", False)
    if not isinstance(base64_secret, bool):
        raise ValueError("base64_secret must be true or false")
    if base64_secret and secret is None:
        raise ValueError("base64_secret is set but there is no secret")
    algorithm = c.get("algorithm")
    if algorithm is None:
        if secret is None:
            raise ValueError(f"algorithm is required with a public key (one of {', '.join(PUBLIC_KEY_ALGORITHMS)})")
        algorithm = "HS256"  # APISIX's default
    if public_key_file is not None:
        public_key = (base / public_key_file).read_text(encoding="utf-8")
    secret_bytes = None
    if secret is not None:
        secret_bytes = decode_base64_secret(secret) if base64_secret else secret.encode("utf-8")
    grace = c.get("lifetime_grace_period", 0)
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace < 0:
        raise ValueError("lifetime_grace_period must be a number of seconds >= 0")
    cache = c.get("cache", 0)
    if isinstance(cache, bool) or not isinstance(cache, int) or cache < 0:
        raise ValueError("cache must be a number of tokens >= 0")
    return Consumer(
        name=c.get("name", c.get("username", "")),
        key=c.get("key", ""),  # checked by Consumer
        algorithm=algorithm,
        secret=secret_bytes,
        public_key=public_key,
        leeway=grace,
        audiences=_strings(c, "audiences"),
        required_claims=_strings(c, "required_claims"),
        cache=cache,
        roles=_strings(c, "roles"),
        scopes=_strings(c, "scopes"),
    )


def _strings(c: Mapping[str, Any], key: str) -> list[str]:
    value = c.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a string or a list of strings")
    return value
