"""Adapters for the native (Rust) peers: oxyjwt, webtoken, clasp-jwt, rsjwt, pyjwt-rs."""

from __future__ import annotations

from typing import Any, Callable

from ..material import Case
from .base import Adapter, Unsupported

# ----------------------------------------------------------------------------------- oxyjwt


def _oxyjwt_key(cls: Any, case: Case, pem: str | None) -> Any:
    """A DecodingKey/EncodingKey: oxyjwt has one PEM loader per key family."""
    if case.secret is not None:
        return cls.from_secret(case.secret)
    family = {"RS": "rsa", "PS": "rsa", "ES": "ec", "Ed": "ed"}[case.alg[:2]]
    return getattr(cls, f"from_{family}_pem")(pem)


def _oxyjwt_decoder(lib: Any, case: Case, key_form: str) -> Callable[[str], Any]:
    if case.alg == "ES512":
        raise Unsupported('no ES512 ("unsupported JWT algorithm")')
    if key_form == "pem" and case.secret is None:
        raise Unsupported("only prepared keys (raw str keys are HMAC-only)")
    key = case.secret if key_form == "pem" else _oxyjwt_key(lib.DecodingKey, case, case.public_pem)
    decode, algorithms, audience, issuer = lib.decode, [case.alg], case.audience, case.issuer
    return lambda token: decode(token, key, algorithms=algorithms, audience=audience, issuer=issuer)


def _oxyjwt_encoder(lib: Any, case: Case) -> Callable[[dict], Any]:
    if case.alg == "ES512":
        raise Unsupported('no ES512 ("unsupported JWT algorithm")')
    key = _oxyjwt_key(lib.EncodingKey, case, case.private_pem)
    encode, alg = lib.encode, case.alg
    return lambda claims: encode(claims, key, algorithm=alg)


# ------------------------------------------------------------------ webtoken, pyjwt-rs (PyJWT API)
# Both mirror PyJWT's decode/encode; their own parsed key object is PyJWK (built from the JWK).


def _pyjwk_decoder(lib: Any, case: Case, key_form: str) -> Callable[[str], Any]:
    if key_form == "pem":
        key = case.secret if case.secret is not None else case.public_pem
    else:
        key = lib.PyJWK(case.public_jwk)
    decode, algorithms, audience, issuer = lib.decode, [case.alg], case.audience, case.issuer
    return lambda token: decode(token, key, algorithms=algorithms, audience=audience, issuer=issuer)


def _pyjwk_encoder(lib: Any, case: Case) -> Callable[[dict], Any]:
    key = lib.PyJWK(case.private_jwk)
    encode, alg = lib.encode, case.alg
    return lambda claims: encode(claims, key, algorithm=alg)


def _webtoken_encoder(lib: Any, case: Case) -> Callable[[dict], Any]:
    # webtoken 0.5.0's public encode() is a thin wrapper that print()s a debug line
    # ("fpoo") on every call before handing a dict payload unchanged to the compiled
    # encode; call that directly so the timing measures the signing, not stdout.
    key = lib.PyJWK(case.private_jwk)
    encode, alg = lib._webtoken.encode, case.alg
    return lambda claims: encode(claims, key, alg)


# -------------------------------------------------------------------------- clasp-jwt, rsjwt
# Both wrap jsonwebtoken with its default Validation and expose no audience/issuer setting,
# so every token carrying `aud` is refused (InvalidAudience) and `iss` is never checked
# (expiry also gets jsonwebtoken's default 60 s leeway, where PyJWT has none).

_NO_AUD_ISS = "cannot check aud or iss (no option; refuses every token with an aud claim)"


def _clasp_decoder(lib: Any, case: Case, key_form: str) -> Callable[[str], Any]:
    if case.alg == "ES512":
        raise Unsupported("no ES512")
    raise Unsupported(_NO_AUD_ISS)


def _clasp_encoder(lib: Any, case: Case) -> Callable[[dict], Any]:
    raise Unsupported("verification only (no signing API)")


def _rsjwt_decoder(lib: Any, case: Case, key_form: str) -> Callable[[str], Any]:
    if case.secret is None:
        raise Unsupported("HS* only")
    raise Unsupported(_NO_AUD_ISS)


def _rsjwt_encoder(lib: Any, case: Case) -> Callable[[dict], Any]:
    if case.secret is None:
        raise Unsupported("HS* only")
    return lib.JWT(case.secret, algorithm=case.alg).encode


ADAPTERS = [
    Adapter("oxyjwt", "oxyjwt", "oxyjwt", "oxyjwt", True, _oxyjwt_decoder, _oxyjwt_encoder),
    Adapter("webtoken", "webtoken", "webtoken", "webtoken", True, _pyjwk_decoder, _webtoken_encoder),
    Adapter("clasp-jwt", "clasp-jwt", "clasp", "clasp-jwt", True, _clasp_decoder, _clasp_encoder),
    Adapter("rsjwt", "rsjwt", "rsjwt", "rsjwt", True, _rsjwt_decoder, _rsjwt_encoder),
    Adapter("pyjwt-rs", "pyjwt-rs", "jwt_rs", "pyjwt-rs", True, _pyjwk_decoder, _pyjwk_encoder),
]
