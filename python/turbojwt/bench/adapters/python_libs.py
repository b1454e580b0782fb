"""Adapters for the pure-Python peers: python-jose, joserfc, authlib, jwcrypto.

Each one is written the way that library's documentation tells a user to verify a JWT:
only the case's algorithm allowed, ``aud`` and ``iss`` required and matched, ``exp``/``nbf``
checked, through the library's own claim validation where decode does not do it.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from ..material import Case
from .base import Adapter, Unsupported, signing_key, verify_key


def _kty(alg: str) -> str:
    """The JWK key type an algorithm's key has."""
    if alg.startswith("HS"):
        return "oct"
    if alg.startswith(("RS", "PS")):
        return "RSA"
    return "OKP" if alg == "EdDSA" else "EC"


# ------------------------------------------------------------------------------ python-jose


def _jose_check(case: Case) -> None:
    from jose.constants import ALGORITHMS

    if case.alg not in ALGORITHMS.SUPPORTED:
        raise Unsupported(f"python-jose has no {case.alg}")


def _jose_decoder(lib: Any, case: Case, key_form: str) -> Callable[[str], Any]:
    from jose import jwk, jwt

    _jose_check(case)
    # jwt.decode takes a jose Key object as is (jws._get_keys), so "prepared" parses once;
    # "pem" is the documented str key, constructed into a Key on every call.
    key = verify_key(case, key_form, lambda: jwk.construct(verify_key(case, "pem"), case.alg))
    decode, algorithms, audience, issuer = jwt.decode, [case.alg], case.audience, case.issuer
    # audience= alone lets a token without "aud" through (unlike PyJWT): require it.
    options = {"require_aud": True}
    return lambda token: decode(token, key, algorithms=algorithms, options=options, audience=audience, issuer=issuer)


def _jose_encoder(lib: Any, case: Case) -> Callable[[dict], Any]:
    from jose import jwk, jwt

    _jose_check(case)
    key, alg, encode = jwk.construct(signing_key(case), case.alg), case.alg, jwt.encode
    return lambda claims: encode(claims, key, algorithm=alg)


# ---------------------------------------------------------------------------------- joserfc


def _joserfc_import(case: Case, pem: str | None = None) -> Any:
    """A joserfc key (jwt.decode takes no raw key): the private one when ``pem`` is given."""
    from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

    cls: Any = {"oct": OctKey, "RSA": RSAKey, "EC": ECKey, "OKP": OKPKey}[_kty(case.alg)]
    return cls.import_key(pem if pem is not None else verify_key(case, "pem"))


def _joserfc_decoder(lib: Any, case: Case, key_form: str) -> Callable[[str], Any]:
    from joserfc import jwt

    # jwt.decode checks only the signature; claims go through a JWTClaimsRegistry, which
    # requires iss/aud ("essential") and checks exp/nbf when present.
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": case.issuer}, aud={"essential": True, "value": case.audience}
    )
    decode, validate, algorithms = jwt.decode, registry.validate, [case.alg]
    # Note: joserfc warns (SecurityWarning, RFC 9864) on every EdDSA use; left as a user sees it.
    if key_form == "prepared":
        key = _joserfc_import(case)

        def run(token: str) -> Any:
            claims = decode(token, key, algorithms=algorithms).claims
            validate(claims)
            return claims
    else:

        def run(token: str) -> Any:
            claims = decode(token, _joserfc_import(case), algorithms=algorithms).claims
            validate(claims)
            return claims

    return run


def _joserfc_encoder(lib: Any, case: Case) -> Callable[[dict], Any]:
    from joserfc import jwt

    # algorithms= is needed: without it joserfc only signs with its "recommended" set.
    key, header, algorithms = _joserfc_import(case, signing_key(case)), {"alg": case.alg}, [case.alg]
    return lambda claims: jwt.encode(header, claims, key, algorithms=algorithms)


# ---------------------------------------------------------------------------------- authlib


def _authlib_decoder(lib: Any, case: Case, key_form: str) -> Callable[[str], Any]:
    from authlib.jose import JsonWebKey, JsonWebToken

    # JsonWebToken([alg]) refuses every other alg; decode checks only the signature and
    # claims.validate() then applies claims_options (iss/aud required) and exp/nbf/iat.
    key = verify_key(case, key_form, lambda: JsonWebKey.import_key(verify_key(case, "pem"), {"kty": _kty(case.alg)}))
    decode = JsonWebToken([case.alg]).decode
    options = {"iss": {"essential": True, "value": case.issuer}, "aud": {"essential": True, "value": case.audience}}

    def run(token: str) -> Any:
        claims = decode(token, key, claims_options=options)
        claims.validate()
        return dict(claims)  # JWTClaims is a dict subclass carrying header and options

    return run


def _authlib_encoder(lib: Any, case: Case) -> Callable[[dict], Any]:
    from authlib.jose import JsonWebKey, JsonWebToken

    key = JsonWebKey.import_key(signing_key(case), {"kty": _kty(case.alg)})
    encode, header = JsonWebToken([case.alg]).encode, {"alg": case.alg}
    return lambda claims: encode(dict(header), claims, key)  # encode adds "typ" to the header


# --------------------------------------------------------------------------------- jwcrypto


def _jwcrypto_key(case: Case, pem: str | None = None) -> Any:
    """A jwcrypto JWK (JWT takes no raw key): the private one when ``pem`` is given."""
    from jwcrypto.jwk import JWK

    if case.secret is not None:
        return JWK.from_password(case.secret)
    text = pem if pem is not None else case.public_pem
    assert text is not None  # (an asymmetric case has its PEM)
    return JWK.from_pem(text.encode())


def _jwcrypto_decoder(lib: Any, case: Case, key_form: str) -> Callable[[str], Any]:
    from jwcrypto.jwt import JWT

    # Once check_claims is given, jwcrypto checks exp/nbf only if they are listed in it
    # (None: must be present, compared with now and its default 60 s leeway).
    check = {"iss": case.issuer, "aud": case.audience, "exp": None, "nbf": None}
    algs = [case.alg]
    if key_form == "prepared":
        key = _jwcrypto_key(case)
        return lambda token: json.loads(JWT(jwt=token, key=key, algs=algs, check_claims=check).claims)
    return lambda token: json.loads(JWT(jwt=token, key=_jwcrypto_key(case), algs=algs, check_claims=check).claims)


def _jwcrypto_encoder(lib: Any, case: Case) -> Callable[[dict], Any]:
    from jwcrypto.jwt import JWT

    key, header = _jwcrypto_key(case, case.private_pem), {"alg": case.alg, "typ": "JWT"}

    def run(claims: dict) -> Any:
        token = JWT(header=header, claims=claims)
        token.make_signed_token(key)
        return token.serialize()

    return run


ADAPTERS: list[Adapter] = [
    Adapter("python-jose", "python-jose jwt.decode", "jose", "python-jose", False, _jose_decoder, _jose_encoder),
    Adapter("joserfc", "joserfc jwt.decode", "joserfc", "joserfc", False, _joserfc_decoder, _joserfc_encoder),
    Adapter("authlib", "authlib JsonWebToken.decode", "authlib", "Authlib", False, _authlib_decoder, _authlib_encoder),
    Adapter("jwcrypto", "jwcrypto JWT", "jwcrypto", "jwcrypto", False, _jwcrypto_decoder, _jwcrypto_encoder),
]
