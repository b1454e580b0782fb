"""``KeySet``: a JWK Set checked before any of its keys verifies a signature.

``PyJWKSet`` keeps PyJWT's lenient rules (it is part of the drop-in). ``KeySet`` is what
turbojwt's own key handling uses (``JWKSClient``, gateways, ``verify_batch``) and refuses,
when the set is built, what Wycheproof's ``json_web_key_test.json`` expects a careful library
to refuse:

* the whole set, when it mixes symmetric (``oct``) and asymmetric keys: one HMAC secret
  among public keys invites algorithm confusion, and a published secret is no secret;
  or when two signing keys share a ``kid`` (which one verifies would be ambiguous);
* one key (left out, with the reason in ``rejected``) when it is not for signatures
  (``use``/``key_ops``), names an algorithm that is not a JWS signature algorithm or does
  not fit its type and curve, cannot be loaded (e.g. an EC point off its curve), is an RSA
  key under ``min_rsa_bits`` bits, with a public exponent below 3 or even, or with the
  ROCA weakness (CVE-2017-15361), or an HMAC key shorter than its hash output (RFC 7518
  §3.2) or empty.

A set with no usable key raises ``PyJWKSetError``. Each usable key is bound to the
algorithms its JWK allows: its ``alg``, or without one every algorithm of its type (RSA:
RS*/PS*; EC: the curve's; OKP: EdDSA; oct: the HS* its length allows). A ``KeySet`` can be
passed as the key to ``decode``/``PyJWS.decode``: the token's ``kid`` picks the key.

The checks themselves are the native core's (``native/core/src/keyset.rs``), which the C ABI
runs on the JWK Sets given to it too: one set of rules, one verdict for a set everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from . import _native
from .api_jwk import PyJWK, PyJWKSet
from .exceptions import InvalidAlgorithmError, InvalidTokenError, PyJWKClientError, PyJWKSetError, PyJWTError


class KeyNotFoundError(PyJWKClientError, InvalidTokenError):
    """No key of a ``KeySet`` matches the token's ``kid``. Both an ``InvalidTokenError``
    (the token names a key nobody published) and a ``PyJWKClientError`` (what
    ``PyJWKClient`` raises in that case)."""


_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


def has_roca_fingerprint(modulus: int) -> bool:
    """True when an RSA modulus has the structure of the ROCA-vulnerable generator
    (CVE-2017-15361; the core's test)."""
    return _native.has_roca_fingerprint(modulus.to_bytes(max(1, (modulus.bit_length() + 7) // 8), "big"))


class KeySetEntry:
    """One usable key: its JWK, ``kid`` and the algorithms it may verify."""

    __slots__ = ("_by_alg", "algorithms", "jwk", "kid", "symmetric")

    def __init__(self, jwk: dict[str, Any], algorithms: tuple[str, ...], first: PyJWK) -> None:
        self.jwk = jwk
        self.kid: str | None = jwk.get("kid")
        self.algorithms = algorithms
        self.symmetric = jwk.get("kty") == "oct"
        self._by_alg = {first.algorithm_name: first}

    def key(self, alg: str) -> PyJWK:
        """The key as a ``PyJWK`` bound to ``alg`` (one of ``algorithms``)."""
        jwk = self._by_alg.get(alg)
        if jwk is None:
            jwk = self._by_alg[alg] = PyJWK(self.jwk, algorithm=alg)
        return jwk

    def __repr__(self) -> str:
        return f"KeySetEntry(kid={self.kid!r}, kty={self.jwk.get('kty')!r}, algorithms={list(self.algorithms)!r})"


class KeySet:
    """A JWK Set checked for verification; see the module documentation for the rules.

    >>> keys = KeySet({"keys": [...]})
    >>> claims = turbojwt.decode(token, keys, algorithms=["RS256"], audience="api")
    """

    @classmethod
    def from_snapshots(
        cls,
        snapshots: Iterable[tuple[str, Mapping[str, Any] | str | bytes]],
        *,
        min_rsa_bits: int = 2048,
        allow_symmetric: bool = True,
    ) -> KeySet:
        """The set of several snapshots of a provider's set, merged by kid (see
        :func:`merge_jwks`): ``KeySet.from_snapshots([("jwks-11-01.json", doc1), ...])``."""
        return cls(merge_jwks(snapshots), min_rsa_bits=min_rsa_bits, allow_symmetric=allow_symmetric)

    def __init__(
        self,
        jwks: Mapping[str, Any] | str | bytes | PyJWKSet,
        *,
        min_rsa_bits: int = 2048,
        allow_symmetric: bool = True,
    ) -> None:
        data = _jwks_data(jwks)
        self.min_rsa_bits = min_rsa_bits
        self.allow_symmetric = allow_symmetric
        try:
            text = json.dumps({"keys": data})
        except (TypeError, ValueError) as e:
            raise PyJWKSetError(f"The JWK Set is not JSON: {e}") from None
        usable, left_out = _native.keyset_check(text.encode(), max(0, min_rsa_bits), allow_symmetric)
        self.entries: list[KeySetEntry] = []
        #: (kid, reason) for every key left out.
        self.rejected: list[tuple[str | None, str]] = [(_kid_of(data[i]), reason) for i, reason in left_out]
        for i, algorithms in usable:
            # Verification needs only the public half of an asymmetric key.
            jwk = {k: v for k, v in data[i].items() if data[i].get("kty") == "oct" or k not in _PRIVATE_MEMBERS}
            try:
                first = PyJWK(jwk, algorithm=algorithms[0])
            except PyJWTError as e:
                # (a key the core reads and pyca/cryptography does not: left out as well)
                self.rejected.append((_kid_of(jwk), f"cannot be loaded: {e}"))
                continue
            self.entries.append(KeySetEntry(jwk, tuple(algorithms), first))
        if not self.entries:
            why = "; ".join(f"{kid!r}: {reason}" for kid, reason in self.rejected)
            raise PyJWKSetError(f"The JWK Set did not contain any usable keys ({why})")
        self._by_kid = {e.kid: e for e in self.entries if e.kid is not None}

    # ------------------------------------------------------------------ lookup

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[KeySetEntry]:
        return iter(self.entries)

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid

    @property
    def kids(self) -> list[str | None]:
        return [e.kid for e in self.entries]

    def entry(self, kid: str | None, alg: str | None = None) -> KeySetEntry:
        """The key a token with this ``kid`` (and ``alg``) is verified with.

        A token with a ``kid`` uses the key with that kid only; a token without one, the one
        key of the set that allows its algorithm, if there is exactly one.

        :raises KeyNotFoundError: no key has that kid (or, without a kid, not exactly one fits).
        :raises InvalidAlgorithmError: the key does not allow ``alg``.
        """
        if kid is None:
            fitting = [e for e in self.entries if alg is None or alg in e.algorithms]
            if len(fitting) != 1:
                raise KeyNotFoundError(f"The token has no kid and the key set has {len(fitting)} keys for {alg!r}")
            found = fitting[0]
        else:
            if not isinstance(kid, str):
                raise KeyNotFoundError(f"Unable to find a signing key that matches: {json.dumps(kid)}")
            by_kid = self._by_kid.get(kid)
            if by_kid is None:
                raise KeyNotFoundError(f'Unable to find a signing key that matches: "{kid}"')
            found = by_kid
        if alg is not None and alg not in found.algorithms:
            raise InvalidAlgorithmError(
                f"The key {found.kid!r} does not allow algorithm {alg!r} (it allows {list(found.algorithms)})"
            )
        return found

    def key_for(self, header: Mapping[str, Any]) -> PyJWK:
        """The ``PyJWK`` (bound to the header's ``alg``) that verifies a token with this header."""
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise InvalidAlgorithmError("Algorithm not specified")
        return self.entry(header.get("kid"), alg).key(alg)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles to its usable JWKs (public halves, as kept) and its rules, for worker
        processes (Dask): the copy checks and loads them again."""
        jwks = {"keys": [e.jwk for e in self.entries]}
        return (_rebuild_keyset, (jwks, self.min_rsa_bits, self.allow_symmetric))

    def __repr__(self) -> str:
        return f"KeySet(kids={self.kids!r}, rejected={len(self.rejected)})"


# The members that decide what a JWK verifies: two keys under one kid that differ in any
# of them are two different keys (others, such as x5c or a private half, do not count).
_VERIFYING_MEMBERS = ("kty", "alg", "use", "key_ops", "crv", "n", "e", "x", "y", "k")


def merge_jwks(snapshots: Iterable[tuple[str, Mapping[str, Any] | str | bytes]]) -> dict[str, Any]:
    """One JWK Set from several snapshots of a provider's set (a month of logs spans key
    rotations): every key of every snapshot, merged by ``kid``, in the order first seen.

    ``snapshots``: ``(name, document)`` pairs; the name (a file name, a date) is what an
    error quotes. The same key under one kid in several snapshots is kept once; two
    different keys (see ``_VERIFYING_MEMBERS``) under one kid are refused, since which one
    signed a token would be a guess. Keys without a kid are kept, each distinct one once.
    ``KeySet`` checks the result as it checks any set.

    :raises PyJWKSetError: a snapshot is not a JWK Set, or a kid names two different keys
        (the message names the kid and both snapshots)."""
    merged: list[Any] = []
    seen: dict[Any, tuple[str, tuple[Any, ...]]] = {}
    for name, document in snapshots:
        try:
            keys = _jwks_data(document)
        except PyJWKSetError as e:
            raise PyJWKSetError(f"{name}: {e}") from None
        for jwk in keys:
            if not isinstance(jwk, Mapping):
                merged.append(jwk)  # (refused with its reason by KeySet)
                continue
            kid = jwk.get("kid")
            material = tuple(json.dumps(jwk.get(m), sort_keys=True) for m in _VERIFYING_MEMBERS)
            slot = ("kid", kid) if isinstance(kid, str) else ("no kid", material)
            first = seen.get(slot)
            if first is None:
                seen[slot] = (name, material)
                merged.append(dict(jwk))
            elif first[1] != material:
                raise PyJWKSetError(f"kid {kid!r} names two different keys: one in {first[0]}, another in {name}")
    return {"keys": merged}


def _rebuild_keyset(jwks: dict[str, Any], min_rsa_bits: int, allow_symmetric: bool) -> KeySet:
    return KeySet(jwks, min_rsa_bits=min_rsa_bits, allow_symmetric=allow_symmetric)


def _kid_of(jwk: Any) -> Any:
    return jwk.get("kid") if isinstance(jwk, Mapping) else None


def _jwks_data(jwks: Any) -> list[Any]:
    if isinstance(jwks, KeySet):
        return [e.jwk for e in jwks.entries]
    if isinstance(jwks, PyJWKSet):
        return [k._jwk_data for k in jwks.keys]
    if isinstance(jwks, (str, bytes)):
        try:
            jwks = json.loads(jwks)
        except ValueError as e:
            raise PyJWKSetError(f"The JWK Set is not valid JSON: {e}") from None
    if not isinstance(jwks, Mapping):
        raise PyJWKSetError(f"A JWK Set must be a JSON object, not {type(jwks).__name__}")
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        raise PyJWKSetError('The JWK Set must have a "keys" list')
    return keys
