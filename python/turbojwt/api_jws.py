"""JWS (RFC 7515) encode/decode with PyJWT 2.x's API: ``PyJWS`` and the module functions.

The hot path is native (``turbojwt._native``); this module is also the reference path for
what the core hands over: user-registered algorithms, detached payloads, keys that only
pyca/cryptography loads (Ed448, unusual RSA sizes) and every error that PyJWT words
through Python (its messages are reproduced here).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from . import _native
from ._strict import check_token_length, decode_segment, load_json_object
from .algorithms import (
    Algorithm,
    ECAlgorithm,
    OKPAlgorithm,
    RSAAlgorithm,
    get_default_algorithms,
    has_crypto,
    requires_cryptography,
)
from .api_jwk import PyJWK
from .exceptions import DecodeError, InvalidAlgorithmError, InvalidKeyError, InvalidSignatureError, InvalidTokenError
from .keyset import KeySet
from .utils import base64url_encode
from .warnings import InsecureKeyLengthWarning, RemovedInPyjwt3Warning

if TYPE_CHECKING:
    from .algorithms import AllowedPrivateKeys, AllowedPublicKeys
    from .types import SigOptions

_ALGORITHM_UNSET = object()

_PUBLIC_KEY_ALGORITHMS = (RSAAlgorithm, ECAlgorithm, OKPAlgorithm)


def warn_unsupported_kwargs(function: str, kwargs: dict[str, Any], stacklevel: int = 3) -> None:
    """PyJWT's deprecation warning for extra keyword arguments (pointing at the caller)."""
    warnings.warn(
        f"passing additional kwargs to {function}() is deprecated "
        "and will be removed in pyjwt version 3. "
        f"Unsupported kwargs: {tuple(kwargs.keys())}",
        RemovedInPyjwt3Warning,
        stacklevel=stacklevel,
    )


def _unwrap_certificate_or_der(key: Any) -> Any:
    """The public key of an X.509 certificate (PEM or DER) or of a DER SubjectPublicKeyInfo.

    turbojwt accepts these as verification keys (the native core reads them too); PyJWT
    only takes PEM/SSH text. Anything else is returned unchanged for PyJWT's own checks.
    """
    if not isinstance(key, (str, bytes)):
        return key
    data = key.encode("utf-8") if isinstance(key, str) else key
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            return x509.load_pem_x509_certificate(data).public_key()
        except ValueError:
            return key
    if isinstance(key, bytes) and data[:1] == b"\x30":
        for loader in (x509.load_der_x509_certificate, serialization.load_der_public_key):
            try:
                loaded = loader(data)
            except (ValueError, UnsupportedAlgorithm):
                continue
            return loaded.public_key() if isinstance(loaded, x509.Certificate) else loaded
    return key


# Methods whose overriding in a subclass means the native path would skip user code.
_HOOKS = ("_load", "_verify_signature", "_validate_headers", "_validate_kid", "_validate_crit", "encode")


class PyJWS:
    header_typ = "JWT"

    # Extensions understood on decode (RFC 7797 unencoded payloads).
    _supported_crit: ClassVar[set[str]] = {"b64"}

    def __init__(self, algorithms: Sequence[str] | None = None, options: SigOptions | None = None) -> None:
        self._algorithms = get_default_algorithms()
        self._valid_algs = set(algorithms) if algorithms is not None else set(self._algorithms)
        for name in list(self._algorithms):
            if name not in self._valid_algs:
                del self._algorithms[name]
        self.options: SigOptions = self._get_default_options()
        if options is not None:
            self.options = {**self.options, **options}
        # The native core implements exactly the default algorithm set.
        self._native_ok = algorithms is None and all(
            getattr(type(self), name) is getattr(PyJWS, name) for name in _HOOKS
        )

    @staticmethod
    def _get_default_options() -> SigOptions:
        return {"verify_signature": True, "enforce_minimum_key_length": False}

    def register_algorithm(self, alg_id: str, alg_obj: Algorithm) -> None:
        """Registers a new Algorithm for use when creating and verifying tokens."""
        if alg_id in self._algorithms:
            raise ValueError("Algorithm already has a handler.")
        if not isinstance(alg_obj, Algorithm):
            raise TypeError("Object is not of type `Algorithm`")
        self._algorithms[alg_id] = alg_obj
        self._valid_algs.add(alg_id)
        self._registry_changed()

    def unregister_algorithm(self, alg_id: str) -> None:
        """Unregisters an Algorithm; KeyError if it is not registered."""
        if alg_id not in self._algorithms:
            raise KeyError("The specified algorithm could not be removed because it is not registered.")
        del self._algorithms[alg_id]
        self._valid_algs.remove(alg_id)
        self._registry_changed()

    def _registry_changed(self) -> None:
        # The native core implements the default algorithms only.
        self._native_ok = False
        if self is _jws_global_obj:
            _native.set_global_registry_modified()

    def get_algorithms(self) -> list[str]:
        """Returns a list of supported values for the `alg` parameter."""
        return list(self._valid_algs)

    def get_algorithm_by_name(self, alg_name: str) -> Algorithm:
        """The Algorithm object registered under `alg_name`."""
        try:
            return self._algorithms[alg_name]
        except KeyError as e:
            if not has_crypto and alg_name in requires_cryptography:
                raise NotImplementedError(
                    f"Algorithm '{alg_name}' could not be found. Do you have cryptography installed?"
                ) from e
            raise NotImplementedError("Algorithm not supported") from e

    def encode(
        self,
        payload: bytes,
        key: AllowedPrivateKeys | PyJWK | str | bytes,
        algorithm: str | None = _ALGORITHM_UNSET,  # type: ignore[assignment]
        headers: dict[str, Any] | None = None,
        json_encoder: type[json.JSONEncoder] | None = None,
        is_payload_detached: bool = False,
        sort_headers: bool = True,
    ) -> str:
        if algorithm is _ALGORITHM_UNSET:
            alg_name = key.algorithm_name if isinstance(key, PyJWK) else "HS256"
        elif algorithm is None:
            alg_name = key.algorithm_name if isinstance(key, PyJWK) else "none"
        else:
            alg_name = algorithm

        # Header values win over arguments.
        if headers:
            if headers.get("alg"):
                alg_name = headers["alg"]
            if headers.get("b64") is False:
                is_payload_detached = True

        header: dict[str, Any] = {"typ": self.header_typ, "alg": alg_name}
        if headers:
            self._validate_headers(headers, encoding=True)
            header.update(headers)
        if not header["typ"]:
            del header["typ"]

        if is_payload_detached:
            header["b64"] = False
            # RFC 7797 §3: a producer lists "b64" in "crit" whenever it sets it.
            crit = header.get("crit", [])
            if not isinstance(crit, list):
                raise InvalidTokenError("Invalid 'crit' header: must be a list")
            if "b64" not in crit:
                header["crit"] = [*crit, "b64"]
        elif "b64" in header:
            del header["b64"]  # true is the default

        json_header = json.dumps(header, separators=(",", ":"), cls=json_encoder, sort_keys=sort_headers).encode()
        header_segment = base64url_encode(json_header)
        payload_segment = payload if is_payload_detached else base64url_encode(payload)
        signing_input = header_segment + b"." + payload_segment

        alg_obj = self.get_algorithm_by_name(alg_name)
        if isinstance(key, PyJWK):
            key = key.key
        prepared = alg_obj.prepare_key(key)
        key_length_msg = alg_obj.check_key_length(prepared)
        if key_length_msg:
            if self.options.get("enforce_minimum_key_length", False):
                raise InvalidKeyError(key_length_msg)
            warnings.warn(key_length_msg, InsecureKeyLengthWarning, stacklevel=2)
        signature = alg_obj.sign(signing_input, prepared)

        if is_payload_detached:
            payload_segment = b""
        return b".".join([header_segment, payload_segment, base64url_encode(signature)]).decode("utf-8")

    def decode_complete(
        self,
        jwt: str | bytes,
        key: AllowedPublicKeys | PyJWK | str | bytes = "",
        algorithms: Sequence[str] | None = None,
        options: SigOptions | None = None,
        detached_payload: bytes | None = None,
        **kwargs: dict[str, Any],
    ) -> dict[str, Any]:
        if kwargs:
            warn_unsupported_kwargs("decode_complete", kwargs)
        merged_options: SigOptions = self.options if options is None else {**self.options, **options}
        verify_signature = merged_options["verify_signature"]

        if verify_signature and not algorithms and not isinstance(key, (PyJWK, KeySet)):
            raise DecodeError(
                'It is required that you pass in a value for the "algorithms" argument when calling decode().'
            )

        payload, signing_input, header, signature = self._load(jwt)
        self._validate_headers(header)

        if detached_payload is not None and header.get("b64", True) is not False:
            raise DecodeError(
                'It is only valid to pass "detached_payload" when the protected header has "b64" set to false.'
            )
        if header.get("b64", True) is False:
            crit = header.get("crit") or []
            if not isinstance(crit, list) or "b64" not in crit:
                raise InvalidTokenError("The 'b64' header parameter requires 'b64' to be listed in 'crit'.")
            if detached_payload is None:
                raise DecodeError(
                    'It is required that you pass in a value for the "detached_payload" argument to decode a message '
                    "having the b64 header set to false."
                )
            payload = detached_payload
            signing_input = signing_input.rsplit(b".", 1)[0] + b"." + payload

        if verify_signature:
            self._verify_signature(signing_input, header, signature, key, algorithms, options=merged_options)

        return {"payload": payload, "header": header, "signature": signature}

    def decode(
        self,
        jwt: str | bytes,
        key: AllowedPublicKeys | PyJWK | str | bytes = "",
        algorithms: Sequence[str] | None = None,
        options: SigOptions | None = None,
        detached_payload: bytes | None = None,
        **kwargs: dict[str, Any],
    ) -> Any:
        if kwargs:
            warn_unsupported_kwargs("decode", kwargs)
        return self.decode_complete(jwt, key, algorithms, options, detached_payload=detached_payload)["payload"]

    def get_unverified_header(self, jwt: str | bytes) -> dict[str, Any]:
        """The JOSE header as a dict, unverified: do not trust it before verification."""
        header = self._load(jwt)[2]
        self._validate_headers(header)
        return header

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        """PyJWT's helper of the same name, with turbojwt's rule: only the canonical
        unpadded base64url form is accepted (RFC 7515 §2)."""
        return decode_segment(segment, name)

    def _load(self, jwt: str | bytes) -> tuple[bytes, bytes, dict[str, Any], bytes]:
        if isinstance(jwt, str):
            jwt = jwt.encode("utf-8")
        if not isinstance(jwt, bytes):
            raise DecodeError(f"Invalid token type. Token must be a {bytes}")
        check_token_length(jwt)
        try:
            signing_input, crypto_segment = jwt.rsplit(b".", 1)
            header_segment, payload_segment = signing_input.split(b".", 1)
        except ValueError as err:
            raise DecodeError("Not enough segments") from err

        header = load_json_object(decode_segment(header_segment, "header"), "header")
        if header.get("b64", True) is False:
            # RFC 7515 Appendix F: the caller supplies the payload; the segment stays empty
            # (and is not decoded: no unauthenticated work on an ignored segment).
            if payload_segment:
                raise DecodeError("Payload segment must be empty when 'b64' is false.")
            payload = b""
        else:
            payload = decode_segment(payload_segment, "payload")
        signature = decode_segment(crypto_segment, "crypto")
        return payload, signing_input, header, signature

    def _verify_signature(
        self,
        signing_input: bytes,
        header: dict[str, Any],
        signature: bytes,
        key: AllowedPublicKeys | PyJWK | str | bytes = "",
        algorithms: Sequence[str] | None = None,
        options: SigOptions | None = None,
    ) -> None:
        effective_options = options if options is not None else self.options
        if isinstance(key, KeySet):
            # The token's kid picks the key, bound to the algorithms its JWK allows (the
            # caller's allow-list is checked first, as for any other key).
            if algorithms is not None and header.get("alg") not in algorithms:
                raise InvalidAlgorithmError("The specified alg value is not allowed")
            key = key.key_for(header)
        if algorithms is None and isinstance(key, PyJWK):
            algorithms = [key.algorithm_name]
        try:
            alg = header["alg"]
        except KeyError:
            raise InvalidAlgorithmError("Algorithm not specified") from None
        if not alg or (algorithms is not None and alg not in algorithms):
            raise InvalidAlgorithmError("The specified alg value is not allowed")

        if isinstance(key, PyJWK):
            if key._verify_refusal:
                raise InvalidKeyError(key._verify_refusal)
            # A PyJWK is bound to one algorithm: verify with it, never with the header's.
            if alg != key.algorithm_name:
                raise InvalidAlgorithmError(
                    f"Token algorithm {alg!r} does not match the key's algorithm {key.algorithm_name!r}"
                )
            alg_obj = key.Algorithm
            prepared_key = alg_obj.prepare_key(key.key)
        else:
            try:
                alg_obj = self.get_algorithm_by_name(alg)
            except NotImplementedError as e:
                raise InvalidAlgorithmError("Algorithm not supported") from e
            if isinstance(alg_obj, _PUBLIC_KEY_ALGORITHMS):
                key = _unwrap_certificate_or_der(key)
            prepared_key = alg_obj.prepare_key(key)

        key_length_msg = alg_obj.check_key_length(prepared_key)
        if key_length_msg:
            if effective_options.get("enforce_minimum_key_length", False):
                raise InvalidKeyError(key_length_msg)
            warnings.warn(key_length_msg, InsecureKeyLengthWarning, stacklevel=4)

        if not alg_obj.verify(signing_input, prepared_key, signature):
            raise InvalidSignatureError("Signature verification failed")

    def _validate_headers(self, headers: dict[str, Any], *, encoding: bool = False) -> None:
        if "kid" in headers:
            self._validate_kid(headers["kid"])
        if not encoding and "crit" in headers:
            self._validate_crit(headers)

    def _validate_kid(self, kid: Any) -> None:
        if not isinstance(kid, str):
            raise InvalidTokenError("Key ID header parameter must be a string")

    def _validate_crit(self, headers: dict[str, Any]) -> None:
        crit = headers["crit"]
        if not isinstance(crit, list) or len(crit) == 0:
            raise InvalidTokenError("Invalid 'crit' header: must be a non-empty list")
        for ext in crit:
            if not isinstance(ext, str):
                raise InvalidTokenError("Invalid 'crit' header: values must be strings")
            if ext not in self._supported_crit:
                raise InvalidTokenError(f"Unsupported critical extension: {ext}")
            if ext not in headers:
                raise InvalidTokenError(f"Critical extension '{ext}' is missing from headers")
        # RFC 7515 §4.1.11 forbids duplicates (PyJWT accepts them; turbojwt does not).
        if len(set(crit)) != len(crit):
            raise InvalidTokenError("Invalid 'crit' header: duplicate names")


_jws_global_obj = PyJWS()
encode = _jws_global_obj.encode
decode_complete = _jws_global_obj.decode_complete
decode = _jws_global_obj.decode
register_algorithm = _jws_global_obj.register_algorithm
unregister_algorithm = _jws_global_obj.unregister_algorithm
get_algorithm_by_name = _jws_global_obj.get_algorithm_by_name
get_unverified_header = _jws_global_obj.get_unverified_header
