"""Starlette and FastAPI glue over the same ``Policy`` and RFC 6750 answers as the ASGI
middleware (Starlette is imported only here).

* ``require_token(policy, scopes=[...])``: a FastAPI dependency returning the claims, or
  raising ``HTTPException`` with the RFC 6750 status, headers and JSON detail.
* ``JWTAuthBackend(policy)``: a Starlette ``AuthenticationBackend`` (``request.user`` gets
  the subject, or a consumer's name, ``request.auth.scopes`` the token's scopes), and ``on_auth_error`` to give
  RFC 6750 answers instead of Starlette's default plain 400.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, SimpleUser
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from .asgi import Denial, TokenSource, authenticate, source_for, upstream_scope
from .policy import Policy, Verified, check_scope_names, token_scopes


def _response(denial: Denial, realm: str) -> JSONResponse:
    return JSONResponse(denial.document(), status_code=denial.status, headers=denial.challenge(realm))


def require_token(
    policy: Policy, scopes: Sequence[str] | None = None, *, source: TokenSource | None = None
) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """A FastAPI dependency: ``claims: dict = Depends(require_token(policy, scopes=["read"]))``.
    Tokens are read as ``source`` or the policy's ``[token]`` table says; a consumer's name
    goes to ``request.state.jwt_consumer`` (the request is the route's own, so nothing is
    hidden from it: ``hide_credentials`` is for the middleware and ``turbojwt serve``)."""
    from fastapi import HTTPException

    src = source_for(policy, source)
    if scopes is not None:
        scopes = check_scope_names(scopes)

    async def dependency(request: Request) -> dict[str, Any]:
        result = await authenticate(policy, src, request.scope, scopes)
        if isinstance(result, Denial):
            detail = {"error": result.error or "unauthorized", "error_description": result.description}
            if result.scope:
                detail["scope"] = result.scope
            raise HTTPException(
                status_code=result.status,
                detail=detail,
                headers=result.challenge(policy.realm),
            )
        request.state.jwt = result.claims
        request.state.jwt_consumer = result.consumer
        return result.claims

    return dependency


class _Denied(AuthenticationError):
    def __init__(self, denial: Denial) -> None:
        super().__init__(denial.description or denial.reason)
        self.denial = denial


class JWTAuthBackend(AuthenticationBackend):
    """Starlette authentication: ``AuthenticationMiddleware(app, backend=JWTAuthBackend(policy),
    on_error=backend.on_auth_error)``. A request without a token is anonymous (Starlette's
    ``requires`` decides); a bad token is an error answered per RFC 6750. The application
    gets the request as the middleware would pass it on (``hide_credentials``,
    ``x-consumer-username``)."""

    def __init__(self, policy: Policy, source: TokenSource | None = None) -> None:
        self.policy = policy
        self.source = source_for(policy, source)

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        result = await authenticate(self.policy, self.source, conn.scope, scopes=())
        if isinstance(result, Denial):
            if result.error is None:
                # no token: anonymous (AuthenticationMiddleware passes this same scope on)
                conn.scope.update(upstream_scope(self.policy, self.source, conn.scope, None))
                return None
            raise _Denied(result)
        assert isinstance(result, Verified)
        conn.scope.update(upstream_scope(self.policy, self.source, conn.scope, result))
        state = conn.scope.setdefault("state", {})
        state["jwt"] = result.claims
        state["jwt_consumer"] = result.consumer
        # A consumer's own token can claim any sub; the consumer is who it is.
        subject = result.consumer if result.consumer is not None else result.claims.get("sub")
        return AuthCredentials(sorted(token_scopes(result.claims))), SimpleUser(str(subject) if subject else "")

    def on_auth_error(self, conn: HTTPConnection, exc: Exception) -> Response:
        if isinstance(exc, _Denied):
            return _response(exc.denial, self.policy.realm)
        return _response(Denial(401, "invalid", "invalid_token", "The token is invalid"), self.policy.realm)
