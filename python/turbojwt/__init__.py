"""turbojwt: fast, safe JWT verification. A drop-in for PyJWT 2.x (``import turbojwt as jwt``)
whose hot path (base64url, signatures, JSON, claim checks, key parsing) runs in Rust."""

from .api_jwk import PyJWK, PyJWKSet
from .api_jws import PyJWS, get_algorithm_by_name, get_unverified_header, register_algorithm, unregister_algorithm
from .api_jwt import PyJWT, decode, decode_complete, encode
from . import _reference  # noqa: F401,I001 (registers the reference path with the native core)
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
    "PyJWS",
    "PyJWT",
    "PyJWKClient",
    "PyJWK",
    "PyJWKSet",
    "decode",
    "decode_complete",
    "encode",
    "get_unverified_header",
    "register_algorithm",
    "unregister_algorithm",
    "get_algorithm_by_name",
    # Warnings
    "InsecureKeyLengthWarning",
    # Exceptions
    "DecodeError",
    "ExpiredSignatureError",
    "ImmatureSignatureError",
    "InvalidAlgorithmError",
    "InvalidAudienceError",
    "InvalidIssuedAtError",
    "InvalidIssuerError",
    "InvalidKeyError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "MissingRequiredClaimError",
    "PyJWKClientConnectionError",
    "PyJWKClientError",
    "PyJWKError",
    "PyJWKSetError",
    "PyJWTError",
    # turbojwt's own
    "Verifier",
    "KeySet",
    "JWKSClient",
    "KeyNotFoundError",
    "verify_batch",
    "BatchResult",
    "BatchError",
    "TokenResult",
    "CacheInfo",
    "key_cache_info",
    "key_cache_clear",
    "set_key_cache_size",
    "set_limits",
    "get_limits",
]
