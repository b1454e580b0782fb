"""turbojwt's own exceptions, beyond PyJWT's (``turbojwt.exceptions`` holds exactly PyJWT's
classes, so that code written for PyJWT finds what it expects there)."""

from __future__ import annotations

from .exceptions import InvalidTokenError

__all__ = ["InvalidTypeError"]


class InvalidTypeError(InvalidTokenError):
    """The token's ``typ`` header is not the one required (e.g. RFC 9068 ``at+jwt``;
    ``Verifier(typ=...)``, a gateway provider's ``typ``)."""
