"""Keys, a 12-claim token per algorithm and forged variants that every library must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA")
AUDIENCE = "https://api.example.com"
ISSUER = "https://auth.example.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def flip_bit(signature: bytes) -> bytes:
    """``signature`` with one bit of its middle byte flipped: a signature that must not verify."""
    raw = bytearray(signature)
    raw[len(raw) // 2] ^= 1
    return bytes(raw)


def make_claims(now: int | None = None) -> dict[str, Any]:
    """7 registered claims and 5 others, valid for years."""
    now = int(time.time()) if now is None else now
    return {
        "iss": ISSUER,
        "sub": "user-42",
        "aud": AUDIENCE,
        "exp": now + 10 * 365 * 86400,
        "nbf": now - 60,
        "iat": now - 60,
        "jti": "b1d6c0f2-5e1b-4c7d-9a53-1f0e3a7c2d44",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "roles": ["admin", "billing", "reader"],
        "tenant": "acme-eu-1",
        "scope": "read:all write:own",
    }


@dataclass
class Case:
    """One algorithm's key material and tokens. ``secret`` is set for HS*, the PEM/JWK
    fields for the others; ``forged`` maps a description to a token that must be refused."""

    alg: str
    claims: dict[str, Any]
    token: str
    secret: str | None = None
    private_pem: str | None = None
    public_pem: str | None = None
    private_key: Any = None
    public_key: Any = None
    private_jwk: dict[str, Any] = field(default_factory=dict)
    public_jwk: dict[str, Any] = field(default_factory=dict)
    forged: dict[str, str] = field(default_factory=dict)
    audience: str = AUDIENCE
    issuer: str = ISSUER

    @property
    def signing_input(self) -> bytes:
        return self.token.rsplit(".", 1)[0].encode()

    @property
    def signature(self) -> bytes:
        return b64url_decode(self.token.rsplit(".", 1)[1])

    @property
    def forged_signature(self) -> bytes:
        """The signature of ``forged["signature bit flipped"]``: the token's with one bit flipped."""
        return flip_bit(self.signature)


def _private_key(alg: str) -> Any:
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
    return ec.generate_private_key(curve)


def _jws(header: dict[str, Any], claims: dict[str, Any], sign) -> str:
    si = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    return si + "." + b64url(sign(si.encode()))


def make_case(alg: str, claims: dict[str, Any] | None = None) -> Case:
    """Fresh keys for ``alg`` and a token signed by PyJWT (the reference signer)."""
    import jwt as pyjwt
    from jwt.algorithms import get_default_algorithms

    claims = make_claims() if claims is None else claims
    if alg.startswith("HS"):
        secret = secrets.token_urlsafe(48)  # 64 characters: above every HS* minimum
        token = pyjwt.encode(claims, secret, algorithm=alg)
        jwk = {"kty": "oct", "k": b64url(secret.encode()), "alg": alg}
        case = Case(alg, claims, token, secret=secret, private_jwk=jwk, public_jwk=jwk)
        other = pyjwt.encode(claims, secret + "x", algorithm=alg)
    else:
        key = _private_key(alg)
        impl = get_default_algorithms()[alg]
        case = Case(
            alg,
            claims,
            pyjwt.encode(claims, key, algorithm=alg),
            private_pem=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
            public_pem=key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode(),
            private_key=key,
            public_key=key.public_key(),
            private_jwk={**json.loads(impl.to_jwk(key)), "alg": alg},
            public_jwk={**json.loads(impl.to_jwk(key.public_key())), "alg": alg},
        )
        other = pyjwt.encode(claims, _private_key(alg), algorithm=alg)
        # Algorithm confusion: an HS256 MAC keyed with the public PEM text.
        case.forged["HS256 keyed with the public PEM"] = _jws(
            {"alg": "HS256", "typ": "JWT"},
            claims,
            lambda si: hmac.new((case.public_pem or "").encode(), si, hashlib.sha256).digest(),
        )
    header, payload, sig = case.token.split(".")
    tampered = dict(claims, sub="admin")
    case.forged["signed by another key"] = other
    case.forged["payload changed"] = (
        header + "." + b64url(json.dumps(tampered, separators=(",", ":")).encode()) + "." + sig
    )
    case.forged["signature bit flipped"] = header + "." + payload + "." + b64url(flip_bit(b64url_decode(sig)))
    case.forged["alg none"] = b64url(b'{"alg":"none","typ":"JWT"}') + "." + payload + "."
    return case


def make_cases(algorithms: tuple[str, ...] | list[str] = ALGORITHMS) -> dict[str, Case]:
    return {alg: make_case(alg) for alg in algorithms}
