"""Starlette and FastAPI glue over the same ``Policy.aauthorize`` decision and RFC 6750
answers as the ASGI middleware (Starlette is imported only here). Both match the policy's
routes on the path as sent (``raw_path``) and, since the application routes on its own
reading of it, refuse a path whose ``//``, ``.`` or ``..`` segments normalising would
change (400).

* ``require_token(policy, scopes=[...])``: a FastAPI dependency returning the claims, or
  raising ``HTTPException`` with the RFC 6750 status, headers and JSON detail. It needs a
  token even on a route the policy makes public or optional.
* ``JWTAuthBackend(policy)``: a Starlette ``AuthenticationBackend`` (``request.user`` gets
  the subject, or a consumer's name; ``request.auth.scopes`` the token's scopes, or those
  the policy gives the consumer), and ``on_auth_error`` to give RFC 6750 answers instead of
  Starlette's default plain 400.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, SimpleUser
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from .asgi import Denial, TokenSource, authorize, request_path, source_for, upstream_scope
from .policy import Policy, check_scope_names


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
        result = await authorize(
            policy, src, request.scope, request.method, request_path(request.scope), scopes=scopes, require=True
        )
        if isinstance(result, Denial):
            detail = {"error": result.error or "unauthorized", "error_description": result.description}
            if result.scope:
                detail["scope"] = result.scope
            raise HTTPException(
                status_code=result.status,
                detail=detail,
                headers=result.challenge(policy.realm),
            )
        assert result.verified is not None  # require=True
        request.state.jwt = result.verified.claims
        request.state.jwt_consumer = result.verified.consumer
        return result.verified.claims

    return dependency


class _Denied(AuthenticationError):
    def __init__(self, denial: Denial) -> None:
        super().__init__(denial.description or denial.reason)
        self.denial = denial


class JWTAuthBackend(AuthenticationBackend):
    """Starlette authentication: ``AuthenticationMiddleware(app, backend=JWTAuthBackend(policy),
    on_error=backend.on_auth_error)``. The policy's routes decide as in the middleware; a
    request without a token is anonymous where its route admits one, and everywhere under
    a policy without ``[[route]]`` tables (Starlette's ``requires`` decides); a refusal is
    answered per RFC 6750. Under a policy without routes the policy-wide
    ``required_scopes`` are left to ``requires``, too. The application
    gets the request as the middleware would pass it on (``hide_credentials``,
    ``x-consumer-username``)."""

    def __init__(self, policy: Policy, source: TokenSource | None = None) -> None:
        self.policy = policy
        self.source = source_for(policy, source)

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        scope = conn.scope
        result = await authorize(
            self.policy,
            self.source,
            scope,
            scope.get("method", "GET"),
            request_path(scope),
            # Without routes the policy-wide scopes are left to Starlette's `requires`, as
            # before routes; with them the policy decides everything, as the middleware does.
            scopes=None if self.policy.has_routes else (),
            missing_ok=not self.policy.has_routes,
        )
        if isinstance(result, Denial):
            raise _Denied(result)
        verified = result.verified
        # AuthenticationMiddleware passes this same scope on to the application.
        scope.update(upstream_scope(self.policy, self.source, scope, verified))
        if verified is None:
            return None  # admitted without a token: anonymous
        state = scope.setdefault("state", {})
        state["jwt"] = verified.claims
        state["jwt_consumer"] = verified.consumer
        # A consumer's own token can claim any sub; the consumer is who it is.
        subject = verified.consumer if verified.consumer is not None else verified.claims.get("sub")
        scopes = sorted(self.policy.scopes_held(verified))
        return AuthCredentials(scopes), SimpleUser(str(subject) if subject else "")

    def on_auth_error(self, conn: HTTPConnection, exc: Exception) -> Response:
        if isinstance(exc, _Denied):
            return _response(exc.denial, self.policy.realm)
        return _response(Denial(401, "invalid", "invalid_token", "The token is invalid"), self.policy.realm)
