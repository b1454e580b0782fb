"""JWT (RFC 7519) encode/decode with PyJWT 2.x's API: ``PyJWT`` and the module functions.

``decode``/``decode_complete`` go to the native core, which hands what it leaves to PyJWT's
sequence over to ``turbojwt._reference`` (the reference implementation below, which follows
PyJWT step by step); ``encode`` goes to the native core first, which answers
``NotImplemented`` (before any side effect) for calls it leaves to the reference encoder.
"""

from __future__ import annotations

import json
import warnings
from calendar import timegm
from collections.abc import Container, Iterable, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Union, cast

from . import _native
from ._strict import load_json_object
from .api_jwk import PyJWK
from .api_jws import _ALGORITHM_UNSET, PyJWS, _jws_global_obj, warn_unsupported_kwargs
from .exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidJTIError,
    InvalidSubjectError,
    MissingRequiredClaimError,
)

if TYPE_CHECKING:
    from .algorithms import AllowedPrivateKeys, AllowedPublicKeys
    from .types import FullOptions, Options, SigOptions

    AllowedPrivateKeyTypes = Union[AllowedPrivateKeys, PyJWK, str, bytes]
    AllowedPublicKeyTypes = Union[AllowedPublicKeys, PyJWK, str, bytes]

_decode_fast = _native.decode_fast
_encode_fast = _native.encode_fast

# Methods whose overriding in a subclass means the native path would skip user code.
_HOOKS = ("_encode_payload", "_decode_payload", "_validate_claims", "_merge_options", "decode_complete")


def _native_algorithm(key: Any, algorithm: Any) -> str | object | None:
    """The algorithm name for native encode: None means "the PyJWK's", NotImplemented
    means the reference path must decide (alg "none", non-str values)."""
    if algorithm is _ALGORITHM_UNSET:
        return None if isinstance(key, PyJWK) else "HS256"
    if algorithm is None:
        return None if isinstance(key, PyJWK) else NotImplemented
    return algorithm if type(algorithm) is str else NotImplemented


class PyJWT:
    def __init__(self, options: Options | None = None) -> None:
        self.options: FullOptions = self._get_default_options()
        if options is not None:
            self.options = self._merge_options(options)
        self._jws = PyJWS(options=self._get_sig_options())
        self._native_hooks_ok = all(getattr(type(self), n) is getattr(PyJWT, n) for n in _HOOKS)

    @staticmethod
    def _get_default_options() -> FullOptions:
        return {
            "verify_signature": True,
            "verify_exp": True,
            "verify_nbf": True,
            "verify_iat": True,
            "verify_aud": True,
            "verify_iss": True,
            "verify_sub": True,
            "verify_jti": True,
            "require": [],
            "strict_aud": False,
            "enforce_minimum_key_length": False,
        }

    def _get_sig_options(self) -> SigOptions:
        return {
            "verify_signature": self.options["verify_signature"],
            "enforce_minimum_key_length": self.options.get("enforce_minimum_key_length", False),
        }

    def _merge_options(self, options: Options | None = None) -> FullOptions:
        if options is None:
            return self.options
        merged = cast("Options", dict(options))
        # With verify_signature off, the claim checks default to off too.
        if not merged.get("verify_signature", True):
            for name in (
                "verify_exp",
                "verify_nbf",
                "verify_iat",
                "verify_aud",
                "verify_iss",
                "verify_sub",
                "verify_jti",
            ):
                merged[name] = merged.get(name, False)  # type: ignore[typeddict-item]
        return {**self.options, **merged}

    def _native_ready(self) -> bool:
        return self._native_hooks_ok and self._jws._native_ok

    def encode(
        self,
        payload: dict[str, Any],
        key: AllowedPrivateKeyTypes,
        algorithm: str | None = _ALGORITHM_UNSET,  # type: ignore[assignment]
        headers: dict[str, Any] | None = None,
        json_encoder: type[json.JSONEncoder] | None = None,
        sort_headers: bool = True,
    ) -> str:
        """Encode the ``payload`` as a JSON Web Token (same arguments as PyJWT)."""
        if json_encoder is None and self._native_ready():
            alg = _native_algorithm(key, algorithm)
            if alg is not NotImplemented:
                enforce = bool(self._jws.options.get("enforce_minimum_key_length", False))
                token = _encode_fast(payload, key, cast("str | None", alg), headers, sort_headers, enforce)
                if token is not NotImplemented:
                    return cast(str, token)
        return self._encode_reference(payload, key, algorithm, headers, json_encoder, sort_headers)

    def _encode_reference(
        self,
        payload: dict[str, Any],
        key: AllowedPrivateKeyTypes,
        algorithm: str | None,
        headers: dict[str, Any] | None,
        json_encoder: type[json.JSONEncoder] | None,
        sort_headers: bool,
    ) -> str:
        if not isinstance(payload, dict):
            raise TypeError("Expecting a dict object, as JWT only supports JSON objects as payloads.")
        payload = payload.copy()
        for time_claim in ("exp", "iat", "nbf"):
            if isinstance(payload.get(time_claim), datetime):
                payload[time_claim] = timegm(payload[time_claim].utctimetuple())
        if "iss" in payload and not isinstance(payload["iss"], str):
            raise TypeError("Issuer (iss) must be a string.")
        json_payload = self._encode_payload(payload, headers=headers, json_encoder=json_encoder)
        return self._jws.encode(json_payload, key, algorithm, headers, json_encoder, sort_headers=sort_headers)

    def _encode_payload(
        self,
        payload: dict[str, Any],
        headers: dict[str, Any] | None = None,
        json_encoder: type[json.JSONEncoder] | None = None,
    ) -> bytes:
        """The bytes to sign; subclasses may override (e.g. to compress)."""
        return json.dumps(payload, separators=(",", ":"), cls=json_encoder).encode("utf-8")

    def _native_base(self) -> FullOptions | None:
        return None if self.options == _DEFAULT_OPTIONS else self.options

    def decode_complete(
        self,
        jwt: str | bytes,
        key: AllowedPublicKeyTypes = "",
        algorithms: Sequence[str] | None = None,
        options: Options | None = None,
        verify: bool | None = None,
        detached_payload: bytes | None = None,
        audience: str | Iterable[str] | None = None,
        issuer: str | Container[str] | None = None,
        subject: str | None = None,
        leeway: float | timedelta = 0,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Like ``decode`` but returns ``{"header", "payload", "signature"}``."""
        if not kwargs and verify is None and detached_payload is None and self._native_ready():
            # Natively, or handed over to this object's reference path by the core.
            return cast(
                dict[str, Any],
                _decode_fast(
                    jwt, key, algorithms, options, audience, issuer, subject, leeway, self._native_base(), True, self
                ),
            )
        if kwargs:
            warn_unsupported_kwargs("decode_complete", kwargs)
        return self._decode_complete_reference(
            jwt, key, algorithms, options, verify, detached_payload, audience, issuer, subject, leeway
        )

    def _decode_complete_reference(
        self,
        jwt: str | bytes,
        key: AllowedPublicKeyTypes,
        algorithms: Sequence[str] | None,
        options: Options | None,
        verify: bool | None,
        detached_payload: bytes | None,
        audience: str | Iterable[str] | None,
        issuer: str | Container[str] | None,
        subject: str | None,
        leeway: float | timedelta,
    ) -> dict[str, Any]:
        verify_signature = True if options is None else options.get("verify_signature", True)
        if verify is not None and verify != verify_signature:
            warnings.warn(
                "The `verify` argument to `decode` does nothing in PyJWT 2.0 and newer. "
                "The equivalent is setting `verify_signature` to False in the `options` dictionary. "
                "This invocation has a mismatch between the kwarg and the option entry.",
                category=DeprecationWarning,
                stacklevel=3,
            )
        merged_options = self._merge_options(options)
        sig_options: SigOptions = {
            "verify_signature": verify_signature,
            "enforce_minimum_key_length": merged_options.get("enforce_minimum_key_length", False),
        }
        decoded = self._jws.decode_complete(
            jwt, key=key, algorithms=algorithms, options=sig_options, detached_payload=detached_payload
        )
        payload = self._decode_payload(decoded)
        self._validate_claims(payload, merged_options, audience=audience, issuer=issuer, leeway=leeway, subject=subject)
        decoded["payload"] = payload
        return decoded

    def _decode_payload(self, decoded: dict[str, Any]) -> dict[str, Any]:
        """Parse the verified payload bytes; subclasses may override (e.g. to decompress)."""
        return load_json_object(decoded["payload"], "payload")

    def decode(
        self,
        jwt: str | bytes,
        key: AllowedPublicKeys | PyJWK | str | bytes = "",
        algorithms: Sequence[str] | None = None,
        options: Options | None = None,
        verify: bool | None = None,
        detached_payload: bytes | None = None,
        audience: str | Iterable[str] | None = None,
        subject: str | None = None,
        issuer: str | Container[str] | None = None,
        leeway: float | timedelta = 0,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Verify the ``jwt`` token signature and return the token claims (as PyJWT)."""
        if not kwargs and verify is None and detached_payload is None and self._native_ready():
            return cast(
                dict[str, Any],
                _decode_fast(
                    jwt, key, algorithms, options, audience, issuer, subject, leeway, self._native_base(), False, self
                ),
            )
        if kwargs:
            warn_unsupported_kwargs("decode", kwargs)
        decoded = self._decode_complete_reference(
            jwt, key, algorithms, options, verify, detached_payload, audience, issuer, subject, leeway
        )
        return cast(dict[str, Any], decoded["payload"])

    def _validate_claims(
        self,
        payload: dict[str, Any],
        options: FullOptions,
        audience: Iterable[str] | str | None = None,
        issuer: Container[str] | str | None = None,
        subject: str | None = None,
        leeway: float | timedelta = 0,
    ) -> None:
        if isinstance(leeway, timedelta):
            leeway = leeway.total_seconds()
        if audience is not None and not isinstance(audience, (str, Iterable)):
            raise TypeError("audience must be a string, iterable or None")

        self._validate_required_claims(payload, options["require"])
        now = _JUDGED_AT.get()
        if now is None:
            now = datetime.now(tz=timezone.utc).timestamp()
        if "iat" in payload and options["verify_iat"]:
            self._validate_iat(payload, now, leeway)
        if "nbf" in payload and options["verify_nbf"]:
            self._validate_nbf(payload, now, leeway)
        if "exp" in payload and options["verify_exp"]:
            self._validate_exp(payload, now, leeway)
        if options["verify_iss"]:
            self._validate_iss(payload, issuer)
        if options["verify_aud"]:
            self._validate_aud(payload, audience, strict=options.get("strict_aud", False))
        if options["verify_sub"]:
            self._validate_sub(payload, subject)
        if options["verify_jti"]:
            self._validate_jti(payload)

    def _validate_required_claims(self, payload: dict[str, Any], claims: Iterable[str]) -> None:
        for claim in claims:
            if payload.get(claim) is None:
                raise MissingRequiredClaimError(claim)

    def _validate_sub(self, payload: dict[str, Any], subject: str | None = None) -> None:
        if "sub" not in payload:
            return
        if not isinstance(payload["sub"], str):
            raise InvalidSubjectError("Subject must be a string")
        if subject is not None and payload.get("sub") != subject:
            raise InvalidSubjectError("Invalid subject")

    def _validate_jti(self, payload: dict[str, Any]) -> None:
        if "jti" in payload and not isinstance(payload.get("jti"), str):
            raise InvalidJTIError("JWT ID must be a string")

    @staticmethod
    def _int_claim(value: Any) -> int:
        # PyJWT converts with int(); strings of non-ASCII digits are refused here (as the
        # native core does), everything else converts as int() would.
        if isinstance(value, str) and not value.strip().lstrip("+-").replace("_", "").isascii():
            raise ValueError("non-ASCII digits")
        return int(value)

    def _validate_iat(self, payload: dict[str, Any], now: float, leeway: float) -> None:
        try:
            iat = self._int_claim(payload["iat"])
        except (ValueError, TypeError, OverflowError):
            raise InvalidIssuedAtError("Issued At claim (iat) must be an integer.") from None
        if iat > (now + leeway):
            raise ImmatureSignatureError("The token is not yet valid (iat)")

    def _validate_nbf(self, payload: dict[str, Any], now: float, leeway: float) -> None:
        try:
            nbf = self._int_claim(payload["nbf"])
        except (ValueError, TypeError, OverflowError):
            raise DecodeError("Not Before claim (nbf) must be an integer.") from None
        if nbf > (now + leeway):
            raise ImmatureSignatureError("The token is not yet valid (nbf)")

    def _validate_exp(self, payload: dict[str, Any], now: float, leeway: float) -> None:
        try:
            exp = self._int_claim(payload["exp"])
        except (ValueError, TypeError, OverflowError):
            raise DecodeError("Expiration Time claim (exp) must be an integer.") from None
        if exp <= (now - leeway):
            raise ExpiredSignatureError("Signature has expired")

    def _validate_aud(
        self, payload: dict[str, Any], audience: str | Iterable[str] | None, *, strict: bool = False
    ) -> None:
        if audience is None:
            if "aud" not in payload or not payload["aud"]:
                return
            raise InvalidAudienceError("Invalid audience")
        if "aud" not in payload or not payload["aud"]:
            raise MissingRequiredClaimError("aud")
        audience_claims = payload["aud"]
        if strict:
            if not isinstance(audience, str):
                raise InvalidAudienceError("Invalid audience (strict)")
            if not isinstance(audience_claims, str):
                raise InvalidAudienceError("Invalid claim format in token (strict)")
            if audience != audience_claims:
                raise InvalidAudienceError("Audience doesn't match (strict)")
            return
        if isinstance(audience_claims, str):
            audience_claims = [audience_claims]
        if not isinstance(audience_claims, list) or any(not isinstance(c, str) for c in audience_claims):
            raise InvalidAudienceError("Invalid claim format in token")
        if isinstance(audience, str):
            audience = [audience]
        if all(aud not in audience_claims for aud in audience):
            raise InvalidAudienceError("Audience doesn't match")

    def _validate_iss(self, payload: dict[str, Any], issuer: Container[str] | str | None) -> None:
        if issuer is None:
            return
        if "iss" not in payload:
            raise MissingRequiredClaimError("iss")
        iss = payload["iss"]
        if not isinstance(iss, str):
            raise InvalidIssuerError("Payload Issuer (iss) must be a string")
        if isinstance(issuer, str):
            if iss != issuer:
                raise InvalidIssuerError("Invalid issuer")
        else:
            try:
                if iss not in issuer:
                    raise InvalidIssuerError("Invalid issuer")
            except TypeError:
                raise InvalidIssuerError('Issuer param must be "str" or "Container[str]"') from None


_DEFAULT_OPTIONS = PyJWT._get_default_options()

# The time the reference path judges time claims as of, when a batch asks for a request's
# time rather than now (None: now); set only by turbojwt._reference.
_JUDGED_AT: ContextVar[float | None] = ContextVar("turbojwt_judged_at", default=None)

_jwt_global_obj = PyJWT()
_jwt_global_obj._jws = _jws_global_obj


def encode(
    payload: dict[str, Any],
    key: AllowedPrivateKeyTypes,
    algorithm: str | None = _ALGORITHM_UNSET,  # type: ignore[assignment]
    headers: dict[str, Any] | None = None,
    json_encoder: type[json.JSONEncoder] | None = None,
    sort_headers: bool = True,
) -> str:
    """Encode ``payload`` as a JWT (PyJWT's ``jwt.encode``)."""
    return _jwt_global_obj.encode(payload, key, algorithm, headers, json_encoder, sort_headers)


# PyJWT's module-level decode functions, implemented natively (no Python frame on the
# common path): jwt.decode(token, key, algorithms=[...], audience=..., issuer=...).
decode = _native.decode
decode_complete = _native.decode_complete
