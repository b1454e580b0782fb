"""JSON Web Key (RFC 7517) objects: ``PyJWK`` and ``PyJWKSet``.

Same construction rules, attributes and error messages as PyJWT 2.x
``jwt.api_jwk``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from .algorithms import get_default_algorithms, has_crypto, requires_cryptography
from .exceptions import (
    InvalidKeyError,
    MissingCryptographyError,
    PyJWKError,
    PyJWKSetError,
    PyJWTError,
)
from .types import JWKDict

# Default "alg" for an EC key without one, by its "crv" (a missing crv means P-256).
_EC_ALG_BY_CRV = {
    "P-256": "ES256",
    "P-384": "ES384",
    "P-521": "ES512",
    "secp256k1": "ES256K",
}


def _guess_algorithm(jwk_data: JWKDict, kty: Any) -> str:
    """Pick an algorithm for a JWK that names none (PyJWT's rules)."""
    crv = jwk_data.get("crv", None)
    if kty == "EC":
        if not crv:
            return "ES256"
        for name, alg in _EC_ALG_BY_CRV.items():
            if crv == name:
                return alg
        raise InvalidKeyError(f"Unsupported crv: {crv}")
    if kty == "RSA":
        return "RS256"
    if kty == "oct":
        return "HS256"
    if kty == "OKP":
        if not crv:
            raise InvalidKeyError(f"crv is not found: {jwk_data}")
        # Only Ed25519 is guessed; Ed448 keys need an explicit "alg": "EdDSA".
        if crv == "Ed25519":
            return "EdDSA"
        raise InvalidKeyError(f"Unsupported crv: {crv}")
    raise InvalidKeyError(f"Unsupported kty: {kty}")


def _verify_refusal(jwk_data: Any) -> str | None:
    """RFC 7517 §4.2/§4.3: a key for encryption (``use``) or whose ``key_ops`` leave out
    ``verify`` is not used to verify signatures. (PyJWT ignores both; turbojwt refuses.)"""
    if not isinstance(jwk_data, dict):
        return None
    use = jwk_data.get("use")
    if use is not None and use != "sig":
        return f'The JWK is not for signatures ("use": {json.dumps(use)})'
    ops = jwk_data.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return f'The JWK\'s "key_ops" do not include "verify" ({json.dumps(ops)})'
    return None


class PyJWK:
    """One JSON Web Key, resolved to an algorithm and a usable key object."""

    def __init__(self, jwk_data: JWKDict, algorithm: str | None = None) -> None:
        """Build from decoded JWK data; *algorithm* overrides the JWK's ``alg``.

        :raises InvalidKeyError: missing/unsupported ``kty`` or ``crv``, or key
            material that cannot be loaded.
        :raises PyJWKError: no algorithm of that name exists.
        """
        self._jwk_data = jwk_data
        # Why this key must not verify signatures (None: it may); checked when decoding.
        self._verify_refusal = _verify_refusal(jwk_data)

        kty = self._jwk_data.get("kty", None)
        if not kty:
            raise InvalidKeyError(f"kty is not found: {self._jwk_data}")

        if not algorithm and isinstance(self._jwk_data, dict):
            algorithm = self._jwk_data.get("alg", None)
        if not algorithm:
            algorithm = _guess_algorithm(self._jwk_data, kty)

        # Unreachable with cryptography as a hard dependency; kept so the
        # documented exception still exists on this path.
        if not has_crypto and algorithm in requires_cryptography:
            raise MissingCryptographyError(f"{algorithm} requires 'cryptography' to be installed.")

        self.algorithm_name = algorithm

        try:
            self.Algorithm = get_default_algorithms()[algorithm]
        except KeyError:
            raise PyJWKError(f"Unable to find an algorithm for key: {self._jwk_data}") from None

        try:
            self.key = self.Algorithm.from_jwk(self._jwk_data)
        except (TypeError, ValueError) as error:
            raise InvalidKeyError(f"Unable to construct key from JWK: {error}") from error

    @staticmethod
    def from_dict(obj: JWKDict, algorithm: str | None = None) -> PyJWK:
        """Create a :class:`PyJWK` from a decoded JWK dict."""
        return PyJWK(obj, algorithm)

    @staticmethod
    def from_json(data: str, algorithm: str | None = None) -> PyJWK:
        """Create a :class:`PyJWK` from JWK JSON text."""
        return PyJWK.from_dict(json.loads(data), algorithm)

    @property
    def key_type(self) -> str | None:
        """The JWK ``kty`` member."""
        return self._jwk_data.get("kty", None)

    @property
    def key_id(self) -> str | None:
        """The JWK ``kid`` member."""
        return self._jwk_data.get("kid", None)

    @property
    def public_key_use(self) -> str | None:
        """The JWK ``use`` member."""
        return self._jwk_data.get("use", None)


class PyJWKSet:
    """A JWK Set; unusable members are skipped, but at least one must load."""

    def __init__(self, keys: list[JWKDict]) -> None:
        self.keys: list[PyJWK] = []

        if not keys:
            raise PyJWKSetError("The JWK Set did not contain any keys")
        if not isinstance(keys, list):
            raise PyJWKSetError("Invalid JWK Set value")

        for key in keys:
            if not isinstance(key, dict):
                continue  # not a JWK object at all
            try:
                self.keys.append(PyJWK(key))
            except MissingCryptographyError:
                raise  # an environment problem, not a bad key: surface it
            except PyJWTError:
                continue  # unsupported or malformed key: skip it

        if not self.keys:
            raise PyJWKSetError("The JWK Set did not contain any usable keys. Perhaps 'cryptography' is not installed?")

    @staticmethod
    def from_dict(obj: dict[str, Any]) -> PyJWKSet:
        """Create a set from a decoded ``{"keys": [...]}`` document."""
        return PyJWKSet(obj.get("keys", []))

    @staticmethod
    def from_json(data: str) -> PyJWKSet:
        """Create a set from JWKS JSON text."""
        return PyJWKSet.from_dict(json.loads(data))

    def __getitem__(self, kid: str) -> PyJWK:
        for key in self.keys:
            if key.key_id == kid:
                return key
        raise KeyError(f"keyset has no key for kid: {kid}")

    def __iter__(self) -> Iterator[PyJWK]:
        return iter(self.keys)


class PyJWTSetWithTimestamp:
    """A :class:`PyJWKSet` stamped with the monotonic time it was stored."""

    def __init__(self, jwk_set: PyJWKSet):
        self.jwk_set = jwk_set
        self.timestamp = time.monotonic()

    def get_jwk_set(self) -> PyJWKSet:
        return self.jwk_set

    def get_timestamp(self) -> float:
        return self.timestamp
