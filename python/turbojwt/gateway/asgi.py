"""A pure ASGI middleware that authenticates requests with a ``Policy``, and the RFC 6750
error answers it (and the forward-auth service) give.

* no token: 401, ``WWW-Authenticate: Bearer realm="..."`` without an error code;
* an invalid or expired token: 401 ``error="invalid_token"`` with a fixed, sanitized
  ``error_description`` (never the exception text: it can echo attacker input);
* a malformed or ambiguous request: 400 ``invalid_request`` (a broken ``Authorization``
  header, a tab after ``Bearer``, a token outside RFC 6750's b64token characters, the
  cookie or parameter given twice with different values, different tokens in the header
  and a cookie: see ``TokenSource``);
* a valid token without the scopes or roles its route needs: 403 ``insufficient_scope``,
  with ``scope="..."`` naming the missing scopes and a description naming missing roles;
* a request path the route layer refuses (see ``routes.normalise_path``): 400
  ``invalid_request``;
* a revoked token: 401 ``invalid_token`` ("The token has been revoked");
* keys unavailable (identity provider down and no good keys left), or the revocation list
  not synchronised for longer than its ``stale_after`` (failing closed): 503.

The body is JSON (``{"error": ..., "error_description": ...}``). Verified claims go to
``scope["state"]`` (``request.state.<state_key>`` in Starlette/FastAPI).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from ..errors import InvalidTypeError
from ..exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWKClientError,
    PyJWTError,
)
from ..keyset import KeyNotFoundError
from .consumers import UnknownConsumerError
from .credentials import BadRequest, Scope, TokenSource
from .policy import (
    CONSUMER_HEADER,
    Decision,
    InsufficientScopeError,
    MissingTokenError,
    Policy,
    TokenTooOldError,
    Verified,
    check_scope_names,
    encode_header_text,
)
from .revocation import RevocationUnavailableError, TokenRevokedError
from .routes import PathError

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Exception class -> (reason label for metrics, sanitized description).
_REASONS: list[tuple[type[BaseException], str, str]] = [
    (TokenRevokedError, "revoked", "The token has been revoked"),
    (TokenTooOldError, "max_age", "The token is older than the maximum age"),
    (ExpiredSignatureError, "expired", "The token has expired"),
    (ImmatureSignatureError, "not_yet_valid", "The token is not yet valid"),
    (InvalidAudienceError, "audience", "The token is not meant for this audience"),
    (InvalidIssuerError, "issuer", "The token's issuer is not accepted"),
    (InvalidIssuedAtError, "issued_at", "The token's issue time is invalid"),
    (MissingRequiredClaimError, "missing_claim", "The token lacks a required claim"),
    (InvalidTypeError, "type", "The token is not of the required type"),
    (InvalidSignatureError, "signature", "The token's signature is invalid"),
    (KeyNotFoundError, "unknown_key", "The token is signed with an unknown key"),
    (InvalidAlgorithmError, "algorithm", "The token's algorithm is not accepted"),
    (DecodeError, "malformed", "The token is malformed"),
    (UnknownConsumerError, "unknown_consumer", "The token names no known consumer"),
    (InvalidTokenError, "invalid", "The token is invalid"),
]


@dataclass
class Denial:
    """Why a request is refused, and the RFC 6750 answer for it."""

    status: int
    reason: str  # a short label for metrics (missing, expired, signature, scope, ...)
    error: str | None  # RFC 6750 error code (None: no token was sent)
    description: str | None = None
    scope: str | None = None

    def challenge(self, realm: str) -> dict[str, str]:
        """The ``WWW-Authenticate`` header of a 401 or 403 (empty for other statuses)."""
        if self.status not in (401, 403):
            return {}
        params = [f'realm="{realm}"']
        if self.error:
            params.append(f'error="{self.error}"')
        if self.description:
            params.append(f'error_description="{self.description}"')
        if self.scope:
            params.append(f'scope="{self.scope}"')
        return {"www-authenticate": "Bearer " + ", ".join(params)}

    def headers(self, realm: str) -> list[tuple[str, str]]:
        return [("content-type", "application/json"), *self.challenge(realm).items()]

    def document(self) -> dict[str, str]:
        """The JSON body."""
        doc = {"error": self.error or "unauthorized"}
        if self.description:
            doc["error_description"] = self.description
        if self.scope:
            doc["scope"] = self.scope
        return doc

    def body(self) -> bytes:
        return json.dumps(self.document()).encode()


MISSING = Denial(401, "missing", None, None)


def denial_for(error: BaseException) -> Denial:
    """The answer for an exception raised while verifying."""
    if isinstance(error, InsufficientScopeError):
        return _insufficient(error)
    if isinstance(error, TokenTooOldError) and error.lifetime:
        return Denial(401, "max_age", "invalid_token", "The token's lifetime exceeds the maximum age")
    for cls, reason, description in _REASONS:
        if isinstance(error, cls):
            return Denial(401, reason, "invalid_token", description)
    if isinstance(error, RevocationUnavailableError):  # the replica is past stale_after
        return Denial(503, "revocation_unavailable", "temporarily_unavailable", "The revocation list is unavailable")
    if isinstance(error, PyJWKClientError):  # keys could not be fetched at all
        return Denial(503, "keys_unavailable", "temporarily_unavailable", "The signing keys are unavailable")
    return Denial(401, "invalid", "invalid_token", "The token is invalid")


def source_for(policy: Policy, source: TokenSource | None = None) -> TokenSource:
    """Where tokens are read from: ``source`` when given, else the policy's ``[token]``
    table, else ``Authorization: Bearer``. Both at once is an error (which one applies
    would be a guess)."""
    if source is not None and policy.token_source is not None:
        raise TypeError("the policy has a [token] table: give token sources there or here, not both")
    return source or policy.token_source or _BEARER


_BEARER = TokenSource()  # (frozen: one for every request that reads the default source)


def _insufficient(error: InsufficientScopeError) -> Denial:
    """403 ``insufficient_scope``: ``scope="..."`` names the missing scopes (RFC 6750 §3);
    the description names missing roles (role names are checked at load time to fit in it)."""
    parts = []
    if error.needed:
        parts.append("a required scope")
    if error.roles_any:
        parts.append("one of the roles " + ", ".join(error.roles_any))
    if error.roles_all:
        parts.append("the role(s) " + ", ".join(error.roles_all))
    reason = "scope" if error.needed else "role"
    return Denial(
        403, reason, "insufficient_scope", "The token lacks " + "; and ".join(parts), " ".join(error.needed) or None
    )


_CONSUMER_HEADER = CONSUMER_HEADER.lower().encode("ascii")


def upstream_scope(
    policy: Policy, source: TokenSource, scope: Scope, result: Verified | None, hide: bool = True
) -> Scope:
    """The scope the application gets: without the credentials when ``hide_credentials``
    (and ``hide``); with a policy that has consumers, ``x-consumer-username`` set to the
    consumer that verified (any the client sent removed, on every request)."""
    if hide and source.hide_credentials:
        scope = source.hidden(scope)
    if policy.consumers is not None:
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != _CONSUMER_HEADER]
        if result is not None and result.consumer is not None:
            headers.append((_CONSUMER_HEADER, encode_header_text(result.consumer).encode("ascii")))
        scope = {**scope, "headers": headers}
    return scope


def request_path(scope: Scope) -> str:
    """The path of an ASGI request as it was sent (``raw_path``, without a query some
    servers leave on it); without ``raw_path``, ``path`` escaped again (its ``%2F`` then
    reads as ``/``, as the application routing on ``path`` reads it)."""
    raw = scope.get("raw_path")
    if raw is not None:
        return bytes(raw).decode("latin-1").split("?", 1)[0]
    return quote(scope.get("path", ""), safe="/:@!$&'()*+,=~")


async def authorize(
    policy: Policy,
    source: TokenSource,
    scope: Scope,
    method: str | None,
    path: str | None,
    *,
    scopes: Sequence[str] | None = None,
    missing_ok: bool = False,
    strict_path: bool = True,
    require: bool = False,
    headers: dict[bytes, list[bytes]] | None = None,
) -> Decision | Denial:
    """``Policy.aauthorize`` for a request: the decision, or the denial to answer with.
    The token is read from ``scope`` (``headers``: its ``request_headers``, when read
    already) only when the route needs one."""
    try:
        return await policy.aauthorize(
            method or "",
            path,
            lambda: source.token(scope, headers),
            scopes=scopes,
            missing_ok=missing_ok,
            strict_path=strict_path,
            require=require,
        )
    except BadRequest as e:
        return Denial(400, "bad_request", "invalid_request", str(e))
    except PathError as e:
        return Denial(400, "path", "invalid_request", str(e))
    except MissingTokenError:
        return MISSING
    except PyJWTError as e:
        return denial_for(e)


async def send_denial(send: Send, denial: Denial, realm: str, extra: Iterable[tuple[str, str]] = ()) -> None:
    body = denial.body()
    headers = denial.headers(realm) + [("content-length", str(len(body))), *extra]
    await send(
        {
            "type": "http.response.start",
            "status": denial.status,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class JWTAuthMiddleware:
    """ASGI middleware: every HTTP and WebSocket request outside ``skip_paths`` is decided
    by ``Policy.aauthorize``: its route (matched on the path as sent, ``raw_path``), a
    token where the route needs one, its age, scopes and roles. The application gets the
    path in normal form (``path`` and ``raw_path`` rewritten when normalising changed
    them), so it routes on exactly the path the decision was taken for.
    ``optional=True``: requests without a token pass where the route needs one, with
    ``None`` claims (a bad token is still refused).

    Tokens are read where ``scheme``, ``cookie`` and ``query_param`` say (or ``source``),
    else where the policy's ``[token]`` table says, else from ``Authorization: Bearer``. With
    ``hide_credentials`` the application gets the request without them; with consumers, the
    consumer's name in ``x-consumer-username`` and ``<state_key>_consumer``.

    >>> app = JWTAuthMiddleware(app, policy, skip_paths=["/healthz"], cookie="session")
    """

    def __init__(
        self,
        app: ASGIApp,
        policy: Policy,
        *,
        scheme: str | None = None,
        cookie: str | None = None,
        query_param: str | None = None,
        source: TokenSource | None = None,
        skip_paths: Iterable[str] = (),
        optional: bool = False,
        required_scopes: Sequence[str] | None = None,
        state_key: str = "jwt",
    ) -> None:
        self.app = app
        self.policy = policy
        if scheme is not None or cookie is not None or query_param is not None:
            if source is not None:
                raise TypeError("give source or scheme/cookie/query_param, not both")
            source = TokenSource(scheme or "Bearer", cookie, query_param)
        self.source = source_for(policy, source)
        self.skip = set(skip_paths)
        self.optional = optional
        self.required_scopes = None if required_scopes is None else check_scope_names(required_scopes)
        self.state_key = state_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope.get("path") in self.skip:
            # Not checked, so nothing to hide; but no client names its own consumer.
            await self.app(upstream_scope(self.policy, self.source, scope, None, hide=False), receive, send)
            return
        raw = request_path(scope)
        result = await authorize(
            self.policy,
            self.source,
            scope,
            scope.get("method", "GET"),  # a WebSocket handshake is a GET
            raw,
            scopes=self.required_scopes,
            missing_ok=self.optional,
            strict_path=False,  # the normal form is passed on below
        )
        if isinstance(result, Denial):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})  # policy violation
            else:
                await send_denial(send, result, self.policy.realm)
            return
        if result.path is not None and result.path.path != raw:
            scope = dict(scope)
            scope["raw_path"] = result.path.path.encode("ascii")
            scope["path"] = unquote(result.path.path)
        state = scope.setdefault("state", {})
        verified = result.verified
        state[self.state_key] = verified.claims if verified is not None else None
        state[f"{self.state_key}_provider"] = verified.provider if verified is not None else None
        state[f"{self.state_key}_consumer"] = verified.consumer if verified is not None else None
        await self.app(upstream_scope(self.policy, self.source, scope, verified), receive, send)
