"""Exception hierarchy, mirroring PyJWT 2.x class-for-class.

Callers catch these by class and compare their messages, so the tree
(and every base class) has to match PyJWT exactly.
"""


class PyJWTError(Exception):
    """Root of every error raised by this package."""


# -- token decoding / validation ------------------------------------------


class InvalidTokenError(PyJWTError):
    """``decode()`` rejected the token."""


class DecodeError(InvalidTokenError):
    """The token could not be decoded (malformed or failed validation)."""


class InvalidSignatureError(DecodeError):
    """The token's signature does not match."""


class ExpiredSignatureError(InvalidTokenError):
    """The ``exp`` claim is in the past."""


class InvalidAudienceError(InvalidTokenError):
    """The ``aud`` claim does not match the expected audience."""


class InvalidIssuerError(InvalidTokenError):
    """The ``iss`` claim does not match the expected issuer."""


class InvalidIssuedAtError(InvalidTokenError):
    """The ``iat`` claim is not numeric."""


class ImmatureSignatureError(InvalidTokenError):
    """The ``nbf`` or ``iat`` claim lies in the future."""


class InvalidAlgorithmError(InvalidTokenError):
    """The requested algorithm is unknown or not allowed."""


class MissingRequiredClaimError(InvalidTokenError):
    """A claim listed in ``options["require"]`` is absent."""

    def __init__(self, claim: str) -> None:
        self.claim = claim

    def __str__(self) -> str:
        return f'Token is missing the "{self.claim}" claim'


class InvalidSubjectError(InvalidTokenError):
    """The ``sub`` claim is not a string or does not match ``subject``."""


class InvalidJTIError(InvalidTokenError):
    """The ``jti`` claim is not a string."""


# -- keys -------------------------------------------------------------------


class InvalidKeyError(PyJWTError):
    """The key is not in a usable format for the algorithm."""


class PyJWKError(PyJWTError):
    """A JWK could not be turned into a usable key."""


class MissingCryptographyError(PyJWKError):
    """The algorithm needs ``cryptography``, which is unavailable."""


class PyJWKSetError(PyJWTError):
    """A JWK Set is malformed or holds no usable keys."""


class PyJWKClientError(PyJWTError):
    """The JWKS client could not produce the requested key."""


class PyJWKClientConnectionError(PyJWKClientError):
    """The JWKS endpoint could not be reached or read."""
