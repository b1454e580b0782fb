"""Gateway integration: policies over several identity providers, an ASGI middleware, and
the forward-auth service behind ``turbojwt serve``, token revocation (``.revocation``). Needs
``pip install 'turbojwt[gateway]'`` (httpx, granian, prometheus_client, redis); the
Starlette/FastAPI glue is in ``.frameworks``."""

from ..errors import InvalidTypeError
from .asgi import Denial, JWTAuthMiddleware, TokenSource, denial_for
from .consumers import Consumer, Consumers, UnknownConsumerError
from .policy import (
    Decision,
    InsufficientScopeError,
    MissingTokenError,
    Policy,
    PolicyError,
    Provider,
    TokenTooOldError,
    Verified,
    check_scopes,
    token_scopes,
)
from .revocation import Revocations, RevocationUnavailableError, TokenRevokedError
from .routes import PathError, RoleRules, Route, normalise_path

__all__ = [
    "Consumer",
    "Consumers",
    "Decision",
    "Denial",
    "InsufficientScopeError",
    "InvalidTypeError",
    "JWTAuthMiddleware",
    "MissingTokenError",
    "PathError",
    "Policy",
    "PolicyError",
    "Provider",
    "RevocationUnavailableError",
    "Revocations",
    "RoleRules",
    "Route",
    "TokenRevokedError",
    "TokenSource",
    "TokenTooOldError",
    "UnknownConsumerError",
    "Verified",
    "check_scopes",
    "denial_for",
    "normalise_path",
    "token_scopes",
]
