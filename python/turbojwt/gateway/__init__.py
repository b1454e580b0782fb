"""Gateway integration: policies over several identity providers, an ASGI middleware, and
the forward-auth service behind ``turbojwt serve``. Needs ``pip install 'turbojwt[gateway]'``
(httpx, granian, prometheus_client); the Starlette/FastAPI glue is in ``.frameworks``."""

from ..errors import InvalidTypeError
from .asgi import Denial, JWTAuthMiddleware, TokenSource, denial_for
from .consumers import Consumer, Consumers, UnknownConsumerError
from .policy import (
    InsufficientScopeError,
    Policy,
    PolicyError,
    Provider,
    Verified,
    check_scopes,
    token_scopes,
)

__all__ = [
    "Consumer",
    "Consumers",
    "Denial",
    "InsufficientScopeError",
    "InvalidTypeError",
    "JWTAuthMiddleware",
    "Policy",
    "PolicyError",
    "Provider",
    "TokenSource",
    "UnknownConsumerError",
    "Verified",
    "check_scopes",
    "denial_for",
    "token_scopes",
]
