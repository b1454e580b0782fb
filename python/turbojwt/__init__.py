"""turbojwt: fast, safe JWT verification. A drop-in for PyJWT 2.x (``import turbojwt as jwt``)
whose hot path (base64url, signatures, JSON, claim checks, key parsing) runs in Rust."""

from . import _reference  # noqa: F401 (registers the reference path with the native core)
from .api_jwk import PyJWK, PyJWKSet
from .api_jws import PyJWS, get_algorithm_by_name, get_unverified_header, register_algorithm, unregister_algorithm
from .api_jwt import PyJWT, decode, decode_complete, encode
from .batch import BatchError, BatchResult, TokenResult, verify_batch
from .exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidKeyError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWKClientConnectionError,
    PyJWKClientError,
    PyJWKError,
    PyJWKSetError,
    PyJWTError,
)
from .jwks import JWKSClient
from .jwks_client import PyJWKClient
from .keyset import KeyNotFoundError, KeySet
from .native_settings import CacheInfo, get_limits, key_cache_clear, key_cache_info, set_key_cache_size, set_limits
from .verifier import Verifier
from .warnings import InsecureKeyLengthWarning

__version__ = "0.1.0"

__all__ = [
    "BatchError",
    "BatchResult",
    "CacheInfo",
    # Exceptions
    "DecodeError",
    "ExpiredSignatureError",
    "ImmatureSignatureError",
    # Warnings
    "InsecureKeyLengthWarning",
    "InvalidAlgorithmError",
    "InvalidAudienceError",
    "InvalidIssuedAtError",
    "InvalidIssuerError",
    "InvalidKeyError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "JWKSClient",
    "KeyNotFoundError",
    "KeySet",
    "MissingRequiredClaimError",
    "PyJWK",
    "PyJWKClient",
    "PyJWKClientConnectionError",
    "PyJWKClientError",
    "PyJWKError",
    "PyJWKSet",
    "PyJWKSetError",
    "PyJWS",
    "PyJWT",
    "PyJWTError",
    "TokenResult",
    # turbojwt's own
    "Verifier",
    "decode",
    "decode_complete",
    "encode",
    "get_algorithm_by_name",
    "get_limits",
    "get_unverified_header",
    "key_cache_clear",
    "key_cache_info",
    "register_algorithm",
    "set_key_cache_size",
    "set_limits",
    "unregister_algorithm",
    "verify_batch",
]
