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
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

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
from .policy import (
    Decision,
    InsufficientScopeError,
    MissingTokenError,
    Policy,
    TokenTooOldError,
    check_scope_names,
)
from .revocation import RevocationUnavailableError, TokenRevokedError
from .routes import PathError

Scope = MutableMapping[str, Any]
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


class BadRequest(Exception):
    """The request carries credentials in a malformed way."""


def request_headers(scope: Scope) -> dict[bytes, list[bytes]]:
    """A request's header values by lower-case name, in the order sent."""
    out: dict[bytes, list[bytes]] = {}
    for k, v in scope.get("headers", []):
        out.setdefault(k.lower(), []).append(v)
    return out


# RFC 9110 §5.6.2 token: an auth-scheme.
_SCHEME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, with
# b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
_CREDENTIALS = re.compile(r" +([A-Za-z0-9\-._~+/]+=*)")
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass
class TokenSource:
    """Where the token is read from: the ``Authorization`` header with ``scheme``, the
    cookie ``cookie``, the query parameter ``query_param``.

    A request must carry its token unambiguously, so that no two parsers on its way (proxy,
    gateway, application) can read two different tokens from it (RFC 6750 §2: a client uses
    one method). ``BadRequest`` (400 ``invalid_request``) answers: several ``Authorization``
    headers; ``scheme`` credentials other than ``<scheme> 1*SP b64token`` (RFC 6750 §2.1: a
    tab, a second token, characters outside the b64token set); the cookie or the parameter
    given twice with different values (in one or several ``Cookie`` headers; ``;`` and ``&``
    separated query parameters alike); different tokens in different places; a token outside
    the b64token set. The same token sent in several places is that token. An
    ``Authorization`` header with another scheme (``Basic``) is not ours and is ignored."""

    scheme: str = "Bearer"
    cookie: str | None = None
    query_param: str | None = None

    def token(self, scope: Scope, headers: dict[bytes, list[bytes]] | None = None) -> str | None:
        """The token, None when there is none; raises ``BadRequest`` when malformed or ambiguous.
        ``headers``: ``request_headers(scope)``, when the caller has read them already."""
        if headers is None:
            headers = request_headers(scope)
        found = [self._from_authorization(headers.get(b"authorization", []))]
        if self.cookie:
            found.append(self._from_cookies(headers.get(b"cookie", [])))
        if self.query_param:
            found.append(self._from_query(scope.get("query_string", b"")))
        tokens = {t for t in found if t}
        if len(tokens) > 1:
            raise BadRequest("several different tokens")
        return tokens.pop() if tokens else None

    def _from_authorization(self, values: list[bytes]) -> str | None:
        if len(values) > 1:
            raise BadRequest("several Authorization headers")
        if not values:
            return None
        # Whitespace around a field value is not part of it (RFC 9110 §5.5).
        value = values[0].decode("latin-1").strip(" \t")
        if not value:
            return None
        scheme = _SCHEME.match(value)
        if scheme is None:
            raise BadRequest("malformed Authorization header")
        if scheme.group().lower() != self.scheme.lower():
            return None  # another scheme (e.g. Basic): not ours
        credentials = _CREDENTIALS.fullmatch(value, scheme.end())
        if credentials is None:
            raise BadRequest(f"the {self.scheme} credentials are malformed")
        return credentials.group(1)

    def _from_cookies(self, values: list[bytes]) -> str | None:
        # RFC 6265 §5.4 / §4.2.1 cookie pairs, in every Cookie header (HTTP/2 may split
        # them); every pair of our name is read, not the first or last as parsers differ.
        found = set()
        for raw in values:
            for pair in raw.decode("latin-1").split(";"):
                name, eq, value = pair.partition("=")
                if eq and name.strip(" \t") == self.cookie:
                    value = value.strip(" \t")
                    if len(value) >= 2 and value[0] == value[-1] == '"':
                        value = value[1:-1]
                    found.add(value)
        if len(found) > 1:
            raise BadRequest(f"several {self.cookie} cookies")
        return _checked(found.pop()) if found else None

    def _from_query(self, raw: bytes) -> str | None:
        query = raw.decode("latin-1")
        # "&" separates parameters (WHATWG URL); some parsers split on ";" too. Both
        # readings must give the same values, or two parsers would read different tokens.
        values = {v for k, v in parse_qsl(query, keep_blank_values=True) if k == self.query_param}
        both = {v for k, v in parse_qsl(query.replace(";", "&"), keep_blank_values=True) if k == self.query_param}
        if len(values) > 1 or values != both:
            raise BadRequest(f"several {self.query_param} parameters")
        return _checked(values.pop()) if values else None


def _checked(token: str) -> str | None:
    """A cookie or query token: None when empty; refused outside the b64token set (quotes,
    backslashes and the like are where parsers differ)."""
    if not token:
        return None
    if _B64TOKEN.fullmatch(token) is None:
        raise BadRequest("malformed token")
    return token


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

    >>> app = JWTAuthMiddleware(app, policy, skip_paths=["/healthz"], cookie="session")
    """

    def __init__(
        self,
        app: ASGIApp,
        policy: Policy,
        *,
        scheme: str = "Bearer",
        cookie: str | None = None,
        query_param: str | None = None,
        skip_paths: Iterable[str] = (),
        optional: bool = False,
        required_scopes: Sequence[str] | None = None,
        state_key: str = "jwt",
    ) -> None:
        self.app = app
        self.policy = policy
        self.source = TokenSource(scheme, cookie, query_param)
        self.skip = set(skip_paths)
        self.optional = optional
        self.required_scopes = None if required_scopes is None else check_scope_names(required_scopes)
        self.state_key = state_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in self.skip:
            await self.app(scope, receive, send)
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
        await self.app(scope, receive, send)
