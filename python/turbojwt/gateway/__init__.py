"""Gateway integration: policies over several identity providers, an ASGI middleware, and
the forward-auth service behind ``turbojwt serve``, token revocation (``.revocation``). Needs
``pip install 'turbojwt[gateway]'`` (httpx, granian, prometheus_client, redis); the
Starlette/FastAPI glue is in ``.frameworks``."""

from ..errors import InvalidTypeError
from .asgi import Denial, JWTAuthMiddleware, TokenSource, denial_for
from .policy import (
    InsufficientScopeError,
    Policy,
    PolicyError,
    Provider,
    Verified,
    check_scopes,
    token_scopes,
)
from .revocation import Revocations, RevocationUnavailableError, TokenRevokedError

__all__ = [
    "Denial",
    "InsufficientScopeError",
    "InvalidTypeError",
    "JWTAuthMiddleware",
    "Policy",
    "PolicyError",
    "Provider",
    "RevocationUnavailableError",
    "Revocations",
    "TokenRevokedError",
    "TokenSource",
    "Verified",
    "check_scopes",
    "denial_for",
    "token_scopes",
]
