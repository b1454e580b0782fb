"""Gateway policies: named identity providers (issuer, keys, audiences, algorithms, leeway,
required claims, optional ``typ``), combined as any-of or all-of; consumers that sign their
own tokens (APISIX's jwt-auth, ``consumers.py``); routes with their auth mode, roles and
scopes; a maximum token age; the claims a forward-auth answer passes on as headers; and
where tokens are read from (``[token]``). Loadable from TOML.

``Policy.authorize`` (``aauthorize``) is the one decision every front end asks for (the
ASGI middleware, FastAPI's ``require_token``, Starlette's ``JWTAuthBackend``, ``turbojwt
serve``): the route of the request (``routes.RouteTable`` on the normalised path), whether
it needs a token, the token verified (``verify``), its age (``max_age``), then the scopes
and roles the route needs. Without ``[[route]]`` tables every request needs a token.

```toml
mode = "any"                      # "any": the provider named by the token's iss; "all": every one
realm = "api"
required_scopes = ["read"]        # `scope` (space-separated) or `scp` (list) must hold these
max_age = 3600                    # iat at most 1 h ago (+ leeway), exp - iat at most 1 h

[[provider]]
name = "corp"
issuer = "https://idp.example.com"
jwks_url = "https://idp.example.com/.well-known/jwks.json"   # or discovery = true, key_file, jwks_file
audiences = ["api://default"]
algorithms = ["RS256"]
leeway = 30
required_claims = ["exp", "sub"]
typ = "at+jwt"                    # RFC 9068 access tokens
cache = 10000                     # verified-token cache size (0: off)
max_age = 600                     # this provider's own maximum age (replaces the policy's)
roles = { claim = "groups" }      # this provider's own roles table (replaces [roles])

[roles]                           # where roles are, and what they mean to the policy
claim = "realm_access.roles"      # dotted path; a list of strings or a space-separated string
mapping = { "idp-admin" = "admin", "idp-user" = ["user"] }   # unmapped roles are dropped

[[route]]                         # first match wins; paths: "/a" exact, "/a/*" /a and below,
path = "/admin/*"                 # "*" inside a segment, "**" any number of segments
methods = ["GET", "POST"]         # optional; GET covers HEAD
auth = "required"                 # "required" | "optional" | "public"
roles_any = ["admin"]             # also roles_all, scopes (required routes only)

[default_route]                   # what no route matches (needed once there are routes)
auth = "required"

[forward_auth]
proxy = "nginx"                   # whose headers carry the original method and path

[revocation]                      # optional; see turbojwt.gateway.revocation
store = "redis"                   # "memory" (default) | "file" (path = ...) | "redis" (url = ...)
url = "redis://127.0.0.1:6379/0"
stale_after = 60                  # seconds without a sync before on_stale applies
on_stale = "closed"               # "closed": 503; "open": admit

[claim_to_headers]
"X-Auth-Subject" = "sub"
"X-Auth-Roles" = "realm_access.roles"   # dotted paths; lists are joined with ","

[token]                           # where tokens are read (see credentials.TokenSource)
cookie = "session"
hide_credentials = true

[[consumer]]                      # APISIX-style consumers (see consumers.py)
name = "jack"
key = "jack-key"
secret = "..."
```

A token whose ``iss`` is a provider's issuer goes to that provider; any other to the
consumer its ``key_claim_name`` claim (default ``key``) names.

Claim headers are printable ASCII, encoded so that distinct claims never give the same
value: a string that is printable ASCII without ``%``, ``,``, ``"`` or a space at either
end goes out as it is (``alice@example.com``, ``Alice Smith``); otherwise those characters,
controls (C0, DEL, C1) and every non-ASCII character are percent-encoded as their UTF-8
bytes (RFC 3986 ``%XX``: ``Zoë`` is ``Zo%C3%AB``, ``a,b`` is ``a%2Cb``). A list is its
members, each encoded that way, joined with ``,``: split on ``,`` and percent-decode each
member (``urllib.parse.unquote``; a ``+`` is a plus) to get them back. Numbers and booleans
are their JSON text (``42``, ``true``); objects and nested lists their compact JSON,
encoded. The JSON type is not carried (``"42"`` and ``42`` are both ``42``), and an empty
string or empty list is an empty value.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple, Union

from .. import _native
from .._time import parse_time
from ..exceptions import (
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWTError,
)
from ..jwks import JWKSClient
from ..keyset import KeySet
from ..verifier import Verifier
from .consumers import Consumer, Consumers, consumer_from_dict
from .credentials import TokenSource
from .revocation import Revocations, RevocationSettings, revocations_from_settings
from .routes import (
    PROXIES,
    ForwardAuthSettings,
    NormalPath,
    PathError,
    RoleRules,
    Route,
    RouteTable,
    make_route,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib


class PolicyError(ValueError):
    """A policy file or argument that cannot be used (with what and where)."""


class InsufficientScopeError(InvalidTokenError):
    """The token is valid but lacks scopes or roles the request needs (RFC 6750
    ``insufficient_scope``): ``needed`` the scopes it lacks, ``roles_any`` the roles of
    which it holds none (it needs one), ``roles_all`` the roles it lacks of those it needs
    all of."""

    def __init__(self, needed: Sequence[str], roles_any: Sequence[str] = (), roles_all: Sequence[str] = ()) -> None:
        parts = []
        if needed:
            parts.append(f"the scope(s): {' '.join(needed)}")
        if roles_any:
            parts.append(f"one of the roles: {' '.join(roles_any)}")
        if roles_all:
            parts.append(f"the role(s): {' '.join(roles_all)}")
        super().__init__("The token lacks " + "; ".join(parts))
        self.needed = list(needed)
        self.roles_any = list(roles_any)
        self.roles_all = list(roles_all)


class MissingTokenError(PyJWTError):
    """No token was sent where the route requires one (401 without an error code)."""


class TokenTooOldError(InvalidTokenError):
    """The token is older than the policy's ``max_age`` (``lifetime``: its ``exp - iat`` is
    longer than ``max_age``)."""

    def __init__(self, lifetime: bool) -> None:
        super().__init__(
            "The token's lifetime exceeds the maximum age" if lifetime else "The token is older than the maximum age"
        )
        self.lifetime = lifetime


@dataclass
class Provider:
    """One identity provider: where its keys come from and what its tokens must satisfy."""

    name: str
    issuer: str
    keys: Any  # anything Verifier takes: a KeySet, a JWKSClient, a PEM key, ...
    algorithms: list[str]
    audiences: list[str] = field(default_factory=list)
    leeway: float = 0
    required_claims: list[str] = field(default_factory=list)
    typ: str | None = None
    cache: int = 0
    max_age: float | None = None  # None: the policy's
    roles: RoleRules | None = None  # None: the policy's

    def __post_init__(self) -> None:
        options = {"require": list(self.required_claims)} if self.required_claims else None
        # The typ rule is the verifier's: checked on the one parse that verifies the token.
        self.verifier = Verifier(
            self.keys,
            algorithms=self.algorithms,
            audience=self.audiences or None,
            issuer=self.issuer,
            leeway=self.leeway,
            options=options,
            cache=self.cache or None,
            typ=self.typ,
        )

    @property
    def jwks_client(self) -> JWKSClient | None:
        return self.keys if isinstance(self.keys, JWKSClient) else None

    def verify(self, token: str | bytes) -> dict[str, Any]:
        return self.verifier.decode(token)

    async def averify(self, token: str | bytes) -> dict[str, Any]:
        return await self.verifier.adecode(token)


@dataclass
class Verified:
    """A token that passed the policy: its claims and the provider that accepted it, or
    (``provider`` None) the consumer whose key verified it."""

    claims: dict[str, Any]
    provider: str | None
    consumer: str | None = None
    # What the policy derived from the claims (set by Policy.verify; see _Derived).
    derived: _Derived | None = field(default=None, init=False, repr=False, compare=False)


class _Derived:
    """What a policy derives from one verified token's claims, which its bytes fix: the
    provider or consumer its (unverified) issuer or consumer claim picks, the maximum age
    and leeway that apply to it, its ``iat`` when only the clock can make it too old (else
    None: ``check_age`` runs in full), its policy roles and scopes, and (once asked for) its
    forward-auth answer headers. ``Policy`` keeps these per token (``Policy.DERIVED_TOKENS``),
    so that a request repeating a token reads none of its claims again. Nothing here depends
    on the keys, the clock or the revocation list: the signature and times are verified, the
    age compared with the clock and the revocation list consulted on every request. ``routes``
    keeps, per route number, what the token lacks for that route under the policy's
    ``required_scopes`` (``_lacks``: token and route fix it); ``generation`` the revocation
    list's generation at which the token was last found not revoked (-1: not yet)."""

    __slots__ = ("answer", "candidates", "generation", "iat", "leeway", "max_age", "roles", "routes", "scopes")

    def __init__(
        self,
        candidates: list[Provider] | Consumer,
        max_age: float | None,
        leeway: float,
        iat: float | None,
        roles: frozenset[str],
        scopes: frozenset[str],
    ) -> None:
        self.candidates = candidates
        self.max_age = max_age
        self.leeway = leeway
        self.iat = iat
        self.roles = roles
        self.scopes = scopes
        self.answer: tuple[tuple[bytes, bytes], ...] | None = None
        self.routes: dict[int, _Lacks | None] = {}
        self.generation = -1


class _Lacks(NamedTuple):
    """What a token lacks for a route: scopes, and the roles of its roles_any and roles_all
    it does not hold (``InsufficientScopeError``'s arguments)."""

    scopes: list[str]
    roles_any: Sequence[str]
    roles_all: Sequence[str]


class _Admission(NamedTuple):
    """What ``Policy._admit`` applies to one provider's or consumer's tokens."""

    max_age: float | None  # None: no maximum age
    leeway: float  # seconds
    roles: RoleRules | frozenset[str]  # a provider's role rules; the roles a consumer is given
    scopes: frozenset[str] | None  # the scopes a consumer is given; None: the token's own


# Integers below this are exact as floats (and so are their differences): such a time needs
# no parse_time.
_EXACT = 2**52

# The route of a policy without [[route]] tables: every request needs a token.
IMPLICIT_ROUTE = Route(None, "required", name="the whole API (no [[route]] tables)")

TokenArg = Union[str, bytes, None, Callable[[], Union[str, bytes, None]]]


@dataclass
class Decision:
    """A request the policy admits: its route (``number`` counts the ``[[route]]`` tables
    from 1; 0 is the default or implicit route), its normalised path (None when the policy
    has no routes) and the verified token (None: admitted without one)."""

    route: Route
    number: int
    path: NormalPath | None
    verified: Verified | None


def token_scopes(claims: Mapping[str, Any]) -> set[str]:
    """The scopes a token grants: ``scope`` (space-separated string, RFC 8693/9068) and/or
    ``scp`` (a list, or a string, as some providers write it). Only SP (U+0020) separates
    scopes (RFC 6749 §3.3): ``str.split()`` would also split on tabs, NBSP, NEL and other
    Unicode spaces, granting ``read`` to a token whose one scope is ``x<NBSP>read``."""
    out: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            pieces = set(value.split(" "))
            pieces.discard("")
            out |= pieces
        elif isinstance(value, list):
            out.update(v for v in value if isinstance(v, str))
    return out


def check_scopes(claims: Mapping[str, Any], required: Iterable[str]) -> None:
    required = list(required)
    if not required:
        return
    held = token_scopes(claims)
    missing = [s for s in required if s not in held]
    if missing:
        raise InsufficientScopeError(missing)


def check_age(claims: Mapping[str, Any], max_age: float, leeway: float) -> None:
    """``max_age``: ``iat`` at most that long ago (give or take ``leeway`` seconds, for the
    clocks of issuer and gateway), and ``exp - iat`` at most that long (no leeway: both
    times are the issuer's). Times are read by the core's one rule (``_time.parse_time``);
    the verifier has already refused an ``iat`` in the future."""
    iat = _issued_at(claims)
    # (written as "not <=" so that a comparison that is not ordered refuses)
    if not time.time() - iat <= max_age + leeway:
        raise TokenTooOldError(lifetime=False)
    _check_lifetime(claims, iat, max_age)


def settled_issued_at(claims: Mapping[str, Any], max_age: float) -> float | None:
    """The token's ``iat`` when ``check_age`` can refuse it only by the clock (its ``iat``
    reads and its lifetime is within ``max_age``); None when it refuses it whatever the time."""
    try:
        iat = _issued_at(claims)
        _check_lifetime(claims, iat, max_age)
    except InvalidTokenError:
        return None
    return iat


def _issued_at(claims: Mapping[str, Any]) -> float:
    iat = claims.get("iat")
    if iat is None:
        raise MissingRequiredClaimError("iat")
    # An int that a float holds exactly is its own time (the common case, read without a
    # call); anything else goes through parse_time.
    if type(iat) is not int or not -_EXACT < iat < _EXACT:
        try:
            iat = parse_time(iat)
        except (TypeError, ValueError):
            raise InvalidIssuedAtError("Issued At claim (iat) must be a number") from None
    return iat


def _check_lifetime(claims: Mapping[str, Any], iat: float, max_age: float) -> None:
    exp = claims.get("exp")
    if exp is not None:
        if type(exp) is not int or not -_EXACT < exp < _EXACT:
            try:
                exp = parse_time(exp)
            except (TypeError, ValueError):
                raise InvalidTokenError("Expiration Time claim (exp) must be a number") from None
        if not exp - iat <= max_age:
            raise TokenTooOldError(lifetime=True)


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``realm_access.roles``), or None."""
    value: Any = claims
    for part in path.split("."):
        if (type(value) is not dict and not isinstance(value, Mapping)) or part not in value:
            return None
        value = value[part]
    return value


# Printable ASCII that passes through a header as it is. Percent-encoded instead: "%" (the
# escape), "," (the list separator), '"' (list parsers read quoted strings), a space at
# either end (HTTP strips it), and everything outside printable ASCII as its UTF-8 bytes:
# C0 controls, DEL, C1 controls, every non-ASCII character.
_PLAIN = frozenset(map(chr, range(0x21, 0x7F))) - set('%,"')
# A text of _PLAIN characters and spaces, none of them at either end (or the empty text).
_PLAIN_CLASS = r"\x21\x23\x24\x26-\x2b\x2d-\x7e"  # _PLAIN as a character class
_PLAIN_TEXT = re.compile(f"(?:[{_PLAIN_CLASS}](?:[ {_PLAIN_CLASS}]*[{_PLAIN_CLASS}])?)?")


def encode_header_text(text: str) -> str:
    """``text`` in the claim header encoding: unchanged when it is printable ASCII without
    ``%``, ``,``, ``"`` or a space at either end; otherwise those characters and every other
    one (controls, non-ASCII) become ``%XX`` escapes of their UTF-8 bytes (upper-case hex,
    RFC 3986 percent-encoding). Percent-decoding (``urllib.parse.unquote``; ``+`` is a plus)
    gives ``text`` back, so distinct values never share an encoding."""
    if _PLAIN_TEXT.fullmatch(text):  # (one regular expression: headers are built on every request)
        return text
    last = len(text) - 1
    out = []
    for i, c in enumerate(text):
        if c in _PLAIN or (c == " " and 0 < i < last):
            out.append(c)
        else:
            # surrogatepass: a lone surrogate (which JSON decoding refuses anyway) is still
            # encoded rather than raising.
            out.extend(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
    return "".join(out)


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))  # numbers, true/false, null, objects, lists


def header_value(value: Any) -> str | None:
    """A claim as an HTTP header value, None when absent. A string is ``encode_header_text``
    of it; a list is its members, each encoded, joined with ``,`` (so a ``,`` inside a member
    is ``%2C`` and every ``,`` in the value separates members); numbers and booleans are
    their JSON text (``42``, ``true``); objects and nested lists are their compact JSON,
    encoded. The result is printable ASCII: no control character ever reaches a header."""
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(encode_header_text(_scalar_text(v)) for v in value)
    return encode_header_text(_scalar_text(value))


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.1 field-name (token)
# Framing and hop-by-hop fields (RFC 9110 §7.6.1, §8.6; RFC 9112 §6.1): not for claims.
_RESERVED_HEADERS = {
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
}
# The consumer's name upstream, as APISIX sends it.
CONSUMER_HEADER = "X-Consumer-Username"
# The forward-auth answer's hide_credentials headers (see serve.py).
UPSTREAM_REQUEST_HEADERS = ("x-upstream-uri", "x-upstream-cookie", "x-upstream-authorization")
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 §3.3 scope-token
_REALM = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")  # fits in a quoted-string unescaped


def check_scope_names(scopes: Iterable[str]) -> list[str]:
    """``scopes`` as a list, each an RFC 6749 scope-token (printable ASCII without space,
    ``"`` or ``\\``): they are written into ``WWW-Authenticate: ... scope="..."``."""
    scopes = list(scopes)
    bad = [s for s in scopes if not isinstance(s, str) or not _SCOPE_TOKEN.fullmatch(s)]
    if bad:
        raise PolicyError(f"scopes must be printable ASCII without spaces, quotes or backslashes: {bad!r}")
    return scopes


class Policy:
    """Providers combined as any-of (the provider whose issuer the token names) or all-of
    (every provider must accept it), and consumers (``consumers``: the consumer the token's
    ``key_claim_name`` names, tried when no provider's issuer is the token's ``iss``), with
    scope checks, claim headers and where tokens are read from (``token_source``, the
    ``[token]`` table; None: not configured)."""

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        mode: str = "any",
        required_scopes: Sequence[str] = (),
        claim_to_headers: Mapping[str, str] | None = None,
        realm: str = "api",
        consumers: Consumers | None = None,
        token_source: TokenSource | None = None,
        routes: Sequence[Route] | None = None,
        default_route: Route | None = None,
        roles: RoleRules | None = None,
        max_age: float | None = None,
        forward_auth: ForwardAuthSettings | None = None,
        revocations: Revocations | None = None,
    ) -> None:
        if not providers and not consumers:
            raise PolicyError("a policy needs at least one provider or consumer")
        if mode not in ("any", "all"):
            raise PolicyError(f"mode must be 'any' or 'all', not {mode!r}")
        if consumers and mode != "any":
            # All-of means every provider vouches for the token; a consumer's own key is another
            # kind of trust that cannot be one of "all".
            raise PolicyError('consumers need mode = "any"')
        names = [p.name for p in providers]
        if len(set(names)) != len(names):
            raise PolicyError("provider names must be distinct")
        if not isinstance(realm, str) or not _REALM.fullmatch(realm):
            raise PolicyError("realm must be printable ASCII without quotes or backslashes")
        headers = dict(claim_to_headers or {})
        seen: set[str] = {CONSUMER_HEADER.lower()} if consumers else set()
        answer_headers = set(UPSTREAM_REQUEST_HEADERS) if token_source and token_source.hide_credentials else set()
        for name in headers:
            if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
                raise PolicyError(f"claim_to_headers: {name!r} is not a header name")
            if name.lower() in _RESERVED_HEADERS:
                raise PolicyError(f"claim_to_headers: {name!r} is not a header a claim can be sent in")
            if name.lower() == CONSUMER_HEADER.lower() and consumers:
                raise PolicyError(f"claim_to_headers: {name!r} carries the consumer's name; a claim cannot")
            if name.lower() in answer_headers:
                raise PolicyError(f"claim_to_headers: {name!r} is an answer header of hide_credentials")
            if name.lower() in seen:  # two claims in one header: which one a reader sees is anyone's guess
                raise PolicyError(f"claim_to_headers: {name!r} is given twice (header names ignore case)")
            seen.add(name.lower())
        self.providers = list(providers)
        self.mode = mode
        self.required_scopes = check_scope_names(required_scopes)
        self.claim_to_headers = headers
        # Per token, what this policy derived from its claims (see _Derived): a reload makes
        # a new Policy, so nothing derived under the old one is read under the new one.
        self._derived: dict[str | bytes, _Derived] = {}
        self.realm = realm
        self.consumers = consumers if consumers else None
        for c in self.consumers.consumers if self.consumers else ():
            check_scope_names(c.scopes)
        self.token_source = token_source
        self._by_issuer: dict[str, Provider] = {}
        for p in self.providers:
            if mode == "any" and p.issuer in self._by_issuer:
                raise PolicyError(f"two providers have the issuer {p.issuer!r}")
            self._by_issuer.setdefault(p.issuer, p)
        self._by_name = {p.name: p for p in self.providers}
        self.roles = roles or RoleRules()
        self.max_age = _check_max_age(max_age, "max_age")
        for p in self.providers:
            _check_max_age(p.max_age, f"provider {p.name!r}: max_age")
        # Per provider and per consumer, what _admit applies (read once here, not on every
        # request; a reload builds a new Policy).
        self._admission: dict[str | None, _Admission] = {p.name: self._admission_of(p) for p in self.providers}
        self._consumer_admission = (
            {c.name: self._admission_of(c) for c in self.consumers.consumers} if self.consumers else {}
        )
        self.forward_auth = forward_auth or ForwardAuthSettings()
        if self.forward_auth.proxy not in (None, *PROXIES):
            raise PolicyError(f"forward_auth: proxy must be one of {', '.join(PROXIES)}")
        # No [[route]] and no [default_route]: every request needs a token, and the path is
        # not read (the policy as it was before routes).
        self.route_table: RouteTable | None = None
        if routes or default_route is not None:
            self.route_table = RouteTable(list(routes or ()), default_route)
            try:
                self.route_table.check_complete()
            except ValueError as e:
                raise PolicyError(str(e)) from None
            self._check_role_names()
        # Checked on every token a provider or consumer accepts (cache hits included: the cache
        # is the provider's, this check comes after it). Revoked-token entries outlive the token
        # by the largest leeway, since a token is accepted that long past its exp.
        self.revocations = revocations if revocations is not None else Revocations()
        leeways = [p.leeway for p in self.providers]
        leeways += [c.leeway for c in (self.consumers.consumers if self.consumers else ())]
        self.revocations.grace = max(
            (w.total_seconds() if isinstance(w, timedelta) else float(w) for w in leeways), default=0.0
        )

    def _check_role_names(self) -> None:
        """A role a route names must be one the role mappings can give (a typo would lock
        everyone out, or, in roles_all, pass silently nowhere)."""
        assert self.route_table is not None
        rules = [p.roles or self.roles for p in self.providers]
        produced = [r.produced() for r in rules]
        if any(roles is None for roles in produced):
            return  # some provider's roles pass through unmapped: any name can be held
        known = frozenset().union(*(r for r in produced if r is not None))
        known |= {role for c in (self.consumers.consumers if self.consumers else ()) for role in c.roles}
        for route, role in self.route_table.roles_named():
            if role not in known:
                raise PolicyError(
                    f"{route.describe()}: role {role!r} is given by no role mapping (known: {', '.join(sorted(known))})"
                )

    @property
    def has_routes(self) -> bool:
        return self.route_table is not None

    def _candidates(self, token: str | bytes) -> list[Provider] | Consumer:
        if self.mode == "all":
            return self.providers
        if self.consumers is not None:
            return self._provider_or_consumer(token)
        if len(self.providers) == 1:
            return self.providers
        # Read the (unverified) issuer only to pick the provider; that provider then verifies
        # everything, the issuer included. Until then the payload is attacker input: only a
        # string names a provider (a list, object, number or null is an invalid issuer, never
        # a lookup that could raise).
        readable, issuer = _native.unverified_issuer(token)
        if not readable:
            return self.providers[:1]  # its verification words the error
        provider = self._by_issuer.get(issuer) if issuer is not None else None
        if provider is None:
            raise InvalidIssuerError("Invalid issuer")
        return [provider]

    def _provider_or_consumer(self, token: str | bytes) -> list[Provider] | Consumer:
        """The provider the token's ``iss`` names; else the consumer its consumer claim names
        (both read unverified, only to choose). A token with a provider's issuer never goes
        to a consumer, whatever else it claims."""
        assert self.consumers is not None
        if self.providers:
            readable, issuer = _native.unverified_issuer(token)
            provider = self._by_issuer.get(issuer) if readable and issuer is not None else None
            if provider is not None:
                return [provider]
        return self.consumers.select(token)

    def verify(self, token: str | bytes, scopes: Sequence[str] | None = None) -> Verified:
        """Verifies the token (raising the token's ``InvalidTokenError``) and its scopes."""
        derived = self._kept(token)
        candidates = self._candidates(token) if derived is None else derived.candidates
        if isinstance(candidates, Consumer):
            result = self._consumer_verified(candidates, candidates.verify(token))
        else:
            result = None
            for p in candidates:
                claims = p.verify(token)
                result = result or Verified(claims, p.name)
        assert result is not None
        return self._verified(token, result, candidates, derived, scopes)

    async def averify(self, token: str | bytes, scopes: Sequence[str] | None = None) -> Verified:
        """``verify`` without blocking the event loop on key fetches."""
        derived = self._kept(token)
        candidates = self._candidates(token) if derived is None else derived.candidates
        if isinstance(candidates, Consumer):
            result = self._consumer_verified(candidates, await candidates.averify(token))
        else:
            result = None
            for p in candidates:
                claims = await p.averify(token)
                result = result or Verified(claims, p.name)
        assert result is not None
        return self._verified(token, result, candidates, derived, scopes)

    # Derived facts are kept for this many tokens of at most that length (emptied when full:
    # a flood of distinct tokens, each of which must verify first, only cycles it).
    DERIVED_TOKENS = 4096
    DERIVED_TOKEN_LENGTH = 4096

    def _kept(self, token: str | bytes) -> _Derived | None:
        """What was derived from ``token`` when it last verified, if kept."""
        if type(token) is str or type(token) is bytes:
            return self._derived.get(token)
        return None

    def _verified(
        self,
        token: str | bytes,
        result: Verified,
        candidates: list[Provider] | Consumer,
        derived: _Derived | None,
        scopes: Sequence[str] | None,
    ) -> Verified:
        """After the signature and times: the revocation list, then (kept for the next
        request with this token) what the policy derives from the claims, then the scopes.
        A token the list did not revoke at its current generation is not looked up again
        until the list changes (``Revocations.generation``); its freshness is checked."""
        revocations = self.revocations
        if derived is not None and derived.generation == revocations.generation:
            revocations.check_fresh()
        else:
            generation = revocations.generation  # (read before the check: see Revocations)
            revocations.check(result.claims)
            if derived is None:
                derived = self._derive(result, candidates)
                if (type(token) is str or type(token) is bytes) and len(token) <= self.DERIVED_TOKEN_LENGTH:
                    kept = self._derived
                    if len(kept) >= self.DERIVED_TOKENS:
                        kept.clear()
                    kept[token] = derived
            derived.generation = generation
        result.derived = derived
        needed = self.required_scopes if scopes is None else scopes
        if needed and not derived.scopes.issuperset(needed):
            raise InsufficientScopeError([s for s in needed if s not in derived.scopes])
        return result

    def _derive(self, verified: Verified, candidates: list[Provider] | Consumer) -> _Derived:
        """What the policy derives from a verified token's claims (see ``_Derived``)."""
        claims = verified.claims
        if verified.consumer is None:
            max_age, leeway, role_rules, given_scopes = self._admission[verified.provider]
        else:
            max_age, leeway, role_rules, given_scopes = self._consumer_admission[verified.consumer]
        return _Derived(
            candidates,
            max_age,
            leeway,
            None if max_age is None else settled_issued_at(claims, max_age),
            role_rules if isinstance(role_rules, frozenset) else role_rules.roles(claims),
            frozenset(token_scopes(claims)) if given_scopes is None else given_scopes,
        )

    def _consumer_verified(self, consumer: Consumer, claims: dict[str, Any]) -> Verified:
        assert self.consumers is not None
        self.consumers.check(consumer, claims)
        return Verified(claims, None, consumer.name)

    def scopes_held(self, verified: Verified) -> set[str]:
        """The scopes a verified token holds: a provider's token, those it claims
        (``token_scopes``); a consumer's token, those the policy gives the consumer (its
        ``scopes``), never what the consumer wrote into its own token."""
        if verified.consumer is not None:
            return set(self._consumer(verified).scopes)
        return token_scopes(verified.claims)

    def _consumer(self, verified: Verified) -> Consumer:
        assert self.consumers is not None and verified.consumer is not None
        return self.consumers.by_name[verified.consumer]

    # ------------------------------------------------------------------ authorization

    def route_for(
        self, method: str, path: str | None, *, strict_path: bool = True
    ) -> tuple[int, Route, NormalPath | None]:
        """The route of a request: its number (0: default or implicit), the route and the
        normalised path. ``path`` is the path as sent (without the query). ``strict_path``:
        a path whose segments normalising changes (``//``, ``.``, ``..``) is refused, for
        front ends that cannot pass the normal form on to the application (which might
        read those segments otherwise). Raises ``PathError`` (400)."""
        table = self.route_table
        if table is None:
            return 0, IMPLICIT_ROUTE, None
        if not isinstance(method, str) or not isinstance(path, str):
            raise PathError("the request's method or path is unknown")
        found = table.lookup(method, path)
        if strict_path and found[2].segments_changed:
            raise PathError("the request path has empty, '.' or '..' segments")
        return found

    def authorize(
        self,
        method: str,
        path: str | None,
        token: TokenArg,
        *,
        scopes: Sequence[str] | None = None,
        missing_ok: bool = False,
        strict_path: bool = True,
        require: bool = False,
    ) -> Decision:
        """The one decision for a request: its route, whether it needs a token, the token
        verified, its age (``max_age``), then its scopes and roles. ``token``: the token,
        None, or a function giving it (called only when the route reads tokens: a public
        route never looks at credentials). ``scopes`` replaces the policy-wide
        ``required_scopes``; ``missing_ok`` admits a request without a token where the
        route would need one (the middleware's ``optional=True``); ``require`` admits no
        request without a verified token, whatever its route (FastAPI's ``require_token``).

        Raises ``PathError`` (400), ``MissingTokenError`` (401), the token's
        ``InvalidTokenError`` (401; ``TokenTooOldError`` for ``max_age``) or
        ``InsufficientScopeError`` (403), and whatever ``token()`` raises."""
        decision, value = self._route_and_token(method, path, token, missing_ok, strict_path, require)
        if value is not None:
            decision.verified = self.verify(value, ())
            self._admit(decision.verified, decision.route, scopes, decision.number)
        return decision

    async def aauthorize(
        self,
        method: str,
        path: str | None,
        token: TokenArg,
        *,
        scopes: Sequence[str] | None = None,
        missing_ok: bool = False,
        strict_path: bool = True,
        require: bool = False,
    ) -> Decision:
        """``authorize`` without blocking the event loop on key fetches."""
        decision, value = self._route_and_token(method, path, token, missing_ok, strict_path, require)
        if value is not None:
            decision.verified = await self.averify(value, ())
            self._admit(decision.verified, decision.route, scopes, decision.number)
        return decision

    def _route_and_token(
        self, method: str, path: str | None, token: TokenArg, missing_ok: bool, strict_path: bool, require: bool
    ) -> tuple[Decision, str | bytes | None]:
        """The first steps of ``authorize``: the route, then the token if the route reads
        one (None: the request is admitted without one)."""
        number, route, normal = self.route_for(method, path, strict_path=strict_path)
        decision = Decision(route, number, normal, None)
        if route.auth == "public" and not require:
            return decision, None
        value = token() if callable(token) else token
        if value is None:
            if (route.auth == "optional" or missing_ok) and not require:
                return decision, None
            raise MissingTokenError("No token was sent")
        return decision, value

    def _admit(self, verified: Verified, route: Route, scopes: Sequence[str] | None, number: int | None = None) -> None:
        """After verification: the token's age, then the scopes and roles ``route`` (the
        policy's route ``number``, when it is one) needs (a consumer's: those the policy
        gives it, not those its own token claims)."""
        derived = verified.derived
        if derived is None:  # (a Verified made elsewhere)
            derived = self._derive(verified, [])
        max_age = derived.max_age
        if max_age is not None:
            iat = derived.iat
            if iat is None:
                check_age(verified.claims, max_age, derived.leeway)  # refuses it
            elif not time.time() - iat <= max_age + derived.leeway:  # (check_age's clock rule)
                raise TokenTooOldError(lifetime=False)
        if scopes is None and number is not None:  # the policy's scopes: kept per token and route
            routes = derived.routes
            if number in routes:
                lacks = routes[number]
            else:
                lacks = routes[number] = self._lacks(derived, route, self.required_scopes)
        else:
            lacks = self._lacks(derived, route, self.required_scopes if scopes is None else scopes)
        if lacks is not None:
            raise InsufficientScopeError(*lacks)  # (a new error each time: a raised one keeps its traceback)

    @staticmethod
    def _lacks(derived: _Derived, route: Route, needed: Sequence[str]) -> _Lacks | None:
        """What a token lacks for ``route``, given the scopes ``needed`` besides the route's;
        None when nothing."""
        if route.scopes:
            needed = [*needed, *route.scopes]
        missing: list[str] = []
        if needed and not derived.scopes.issuperset(needed):
            missing = [s for s in needed if s not in derived.scopes]
        lacks_any: Sequence[str] = ()
        lacks_all: Sequence[str] = ()
        roles_any, roles_all = route.roles_any, route.roles_all
        if roles_any or roles_all:
            held = derived.roles
            if roles_any and held.isdisjoint(roles_any):
                lacks_any = roles_any
            if roles_all and not held.issuperset(roles_all):
                lacks_all = [r for r in roles_all if r not in held]
        if missing or lacks_any or lacks_all:
            return _Lacks(missing, lacks_any, lacks_all)
        return None

    def _admission_of(self, issuer: Provider | Consumer) -> _Admission:
        """What ``_admit`` applies to a provider's or consumer's tokens. A consumer has the
        policy's ``max_age``, its ``lifetime_grace_period`` as leeway, and the roles and
        scopes the policy gives it."""
        leeway = issuer.leeway
        seconds = leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)
        if isinstance(issuer, Consumer):
            return _Admission(self.max_age, seconds, frozenset(issuer.roles), frozenset(issuer.scopes))
        max_age = issuer.max_age if issuer.max_age is not None else self.max_age
        return _Admission(max_age, seconds, issuer.roles or self.roles, None)

    def _check_age(self, claims: Mapping[str, Any], issuer: Provider | Consumer) -> None:
        """``check_age`` with the maximum age and leeway of ``issuer``'s tokens (nothing
        without a maximum age)."""
        max_age, leeway, _, _ = self._admission_of(issuer)
        if max_age is not None:
            check_age(claims, max_age, leeway)

    def headers_for(self, claims: Mapping[str, Any], consumer: str | None = None) -> dict[str, str]:
        """``claim_to_headers`` applied to verified claims (absent claims give no header), and
        ``X-Consumer-Username`` (encoded like a claim) for a consumer's token."""
        out = {}
        for name, path in self.claim_to_headers.items():
            value = header_value(claim_at(claims, path))
            if value is not None:
                out[name] = value
        if consumer is not None:
            out[CONSUMER_HEADER] = encode_header_text(consumer)
        return out

    def answer_headers(self, verified: Verified) -> tuple[tuple[bytes, bytes], ...]:
        """``headers_for`` a verified token as a forward-auth answer's headers (lower-case
        names; values are printable ASCII), kept with what was derived from the token."""
        derived = verified.derived
        if derived is not None and derived.answer is not None:
            return derived.answer
        answer = tuple(
            (k.lower().encode("ascii"), v.encode("ascii"))
            for k, v in self.headers_for(verified.claims, verified.consumer).items()
        )
        if derived is not None:
            derived.answer = answer
        return answer

    def start(self) -> None:
        """Starts what runs beside the policy: the revocation replica's synchronisation."""
        self.revocations.start()

    def close(self) -> None:
        """Stops it (the replica keeps answering with what it holds)."""
        self.revocations.close()

    def jwks_clients(self) -> list[tuple[str, JWKSClient]]:
        return [(p.name, c) for p in self.providers if (c := p.jwks_client) is not None]

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_toml(cls, path: str | Path) -> Policy:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise PolicyError(f"cannot read {path}: {e.strerror or e}") from e
        except tomllib.TOMLDecodeError as e:
            raise PolicyError(f"{path} is not valid TOML: {e}") from e
        return cls.from_dict(data, base=path.parent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Path | None = None) -> Policy:
        known = {
            "mode",
            "realm",
            "required_scopes",
            "provider",
            "claim_to_headers",
            "route",
            "default_route",
            "roles",
            "max_age",
            "forward_auth",
            "consumer",
            "key_claim_name",
            "token",
            "revocation",
        }
        unknown = set(data) - known
        if unknown:
            raise PolicyError(f"unknown policy setting(s): {', '.join(sorted(unknown))}")
        providers = data.get("provider", [])
        consumers = data.get("consumer", [])
        if not isinstance(providers, list) or not isinstance(consumers, list) or not (providers or consumers):
            raise PolicyError("a policy needs at least one [[provider]] or [[consumer]] table")
        base = base or Path.cwd()
        try:
            revocation = RevocationSettings.from_table(data.get("revocation", {}), base)
        except ValueError as e:
            raise PolicyError(str(e)) from None
        return cls(
            [_provider(p, i, base) for i, p in enumerate(providers)],
            mode=_typed(data, "mode", str, "any"),
            realm=_typed(data, "realm", str, "api"),
            required_scopes=_str_list(data, "required_scopes"),
            claim_to_headers=_str_map(data, "claim_to_headers"),
            consumers=_consumers(consumers, _typed(data, "key_claim_name", str, "key"), base),
            token_source=_token_source(data.get("token")),
            routes=_routes(data.get("route", [])),
            default_route=_default_route(data.get("default_route")),
            roles=_role_rules(data.get("roles"), "roles"),
            max_age=_typed(data, "max_age", (int, float), None),
            forward_auth=_forward_auth(data.get("forward_auth")),
            revocations=_revocations(revocation),
        )


def _check_max_age(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise PolicyError(f"{where} must be a number of seconds > 0")
    return float(value)


def _routes(value: Any) -> list[Route]:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise PolicyError("route must be a list of [[route]] tables")
    out = []
    for i, spec in enumerate(value):
        where = f"route {i + 1}" + (f" ({spec['name']!r})" if isinstance(spec.get("name"), str) else "")
        try:
            out.append(make_route(spec, where))
        except ValueError as e:
            raise PolicyError(str(e)) from None
    return out


def _default_route(value: Any) -> Route | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PolicyError("default_route must be a table")
    try:
        return make_route(value, "[default_route]", default=True)
    except ValueError as e:
        raise PolicyError(str(e)) from None


def _role_rules(value: Any, where: str) -> RoleRules | None:
    """``[roles]``: ``claim`` (a dotted path) and ``mapping`` (provider role -> policy role
    or list of policy roles)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PolicyError(f"{where} must be a table")
    unknown = set(value) - {"claim", "mapping"}
    if unknown:
        raise PolicyError(f"{where}: unknown setting(s): {', '.join(sorted(unknown))}")
    claim = value.get("claim", "roles")
    if not isinstance(claim, str) or not claim or "" in claim.split("."):
        raise PolicyError(f"{where}: claim must be a claim name or dotted path (realm_access.roles)")
    mapping = value.get("mapping")
    if mapping is None:
        return RoleRules(claim)
    if not isinstance(mapping, dict):
        raise PolicyError(f"{where}: mapping must map provider roles to policy roles")
    out: dict[str, tuple[str, ...]] = {}
    for source, target in mapping.items():
        targets = [target] if isinstance(target, str) else target
        if not isinstance(targets, list) or not all(isinstance(t, str) and _ROLE.fullmatch(t) for t in targets):
            raise PolicyError(
                f"{where}: mapping[{source!r}] must be a role name or a list of them "
                "(printable ASCII without spaces or quotes)"
            )
        out[source] = tuple(targets)
    return RoleRules(claim, out)


_ROLE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def _forward_auth(value: Any) -> ForwardAuthSettings | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PolicyError("forward_auth must be a table")
    unknown = set(value) - {"proxy", "path_prefix"}
    if unknown:
        raise PolicyError(f"forward_auth: unknown setting(s): {', '.join(sorted(unknown))}")
    proxy = value.get("proxy")
    if proxy is not None and proxy not in PROXIES:
        raise PolicyError(f"forward_auth: proxy must be one of {', '.join(PROXIES)}, not {proxy!r}")
    prefix = value.get("path_prefix", "/check")
    if not isinstance(prefix, str) or not prefix.startswith("/") or prefix.endswith("/") or "?" in prefix:
        raise PolicyError('forward_auth: path_prefix must be a path such as "/check" (no trailing "/")')
    return ForwardAuthSettings(proxy, prefix)


def _revocations(settings: RevocationSettings) -> Revocations:
    try:
        return revocations_from_settings(settings)
    except ImportError as e:  # the redis client is in the gateway extra
        raise PolicyError(f"revocation: {e} (pip install 'turbojwt[gateway]')") from None
    except (OSError, ValueError) as e:  # a file store whose file is not a readable revocation list
        raise PolicyError(str(e)) from None


def _typed(d: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any, where: str = "") -> Any:
    value = d.get(key, default)
    if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
        raise PolicyError(f"{where}{key} has the wrong type ({type(value).__name__})")
    return value


def _str_list(d: Mapping[str, Any], key: str, where: str = "") -> list[str]:
    value = d.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}{key} must be a string or a list of strings")
    return value


def _str_map(d: Mapping[str, Any], key: str) -> dict[str, str]:
    value = d.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise PolicyError(f"{key} must map header names to claim paths")
    return value


_PROVIDER_KEYS = {
    "name",
    "issuer",
    "jwks_url",
    "discovery",
    "key_file",
    "jwks_file",
    "audiences",
    "audience",
    "algorithms",
    "leeway",
    "required_claims",
    "typ",
    "cache",
    "jwks",
    "max_age",
    "roles",
}


def _provider(p: Any, index: int, base: Path) -> Provider:
    if not isinstance(p, dict):
        raise PolicyError(f"provider {index + 1} must be a table")
    where = f"provider {p.get('name', index + 1)!r}: "
    unknown = set(p) - _PROVIDER_KEYS
    if unknown:
        raise PolicyError(f"{where}unknown setting(s): {', '.join(sorted(unknown))}")
    issuer = _typed(p, "issuer", str, None, where)
    if not issuer:
        raise PolicyError(f"{where}issuer is required")
    algorithms = _str_list(p, "algorithms", where)
    if not algorithms:
        raise PolicyError(f'{where}algorithms is required (e.g. ["RS256"])')
    sources = [k for k in ("jwks_url", "discovery", "key_file", "jwks_file") if p.get(k)]
    if len(sources) != 1:
        raise PolicyError(f"{where}give exactly one of jwks_url, discovery = true, key_file, jwks_file")
    jwks_options = _typed(p, "jwks", dict, {}, where)
    try:
        if "jwks_url" in sources:
            keys: Any = JWKSClient(_typed(p, "jwks_url", str, None, where), **jwks_options)
        elif "discovery" in sources:
            keys = JWKSClient(issuer=issuer, **jwks_options)
        elif "jwks_file" in sources:
            keys = KeySet((base / _typed(p, "jwks_file", str, None, where)).read_bytes())
        else:
            text = (base / _typed(p, "key_file", str, None, where)).read_text(encoding="utf-8")
            keys = _key_from_file(text)
    except OSError as e:
        raise PolicyError(f"{where}cannot read key file: {e.strerror or e}") from e
    except (PyJWTError, TypeError, ValueError) as e:
        raise PolicyError(f"{where}{e}") from e
    audiences = _str_list(p, "audiences", where) or _str_list(p, "audience", where)
    try:
        return Provider(
            name=_typed(p, "name", str, f"provider-{index + 1}", where),
            issuer=issuer,
            keys=keys,
            algorithms=algorithms,
            audiences=audiences,
            leeway=_typed(p, "leeway", (int, float), 0, where),
            required_claims=_str_list(p, "required_claims", where),
            typ=_typed(p, "typ", str, None, where),
            cache=_typed(p, "cache", int, 0, where),
            max_age=_typed(p, "max_age", (int, float), None, where),
            roles=_role_rules(p.get("roles"), f"{where}roles"),
        )
    except (PyJWTError, TypeError, ValueError) as e:
        raise PolicyError(f"{where}{e}") from e


def _key_from_file(text: str) -> Any:
    """A PEM key (or HMAC secret) as text; a JWK or JWKS as a KeySet."""
    if not text.lstrip().startswith("{"):
        return text
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise PolicyError(f"key file is neither PEM nor JSON: {e}") from None
    if isinstance(doc, dict) and "kty" in doc:
        doc = {"keys": [doc]}
    return KeySet(doc)


def _consumers(tables: list[Any], key_claim: str, base: Path) -> Consumers | None:
    if not tables:
        return None
    consumers = []
    for i, c in enumerate(tables):
        if not isinstance(c, dict):
            raise PolicyError(f"consumer {i + 1} must be a table")
        where = f"consumer {c.get('name', c.get('username', i + 1))!r}: "
        try:
            consumers.append(consumer_from_dict(c, base))
        except OSError as e:
            raise PolicyError(f"{where}cannot read public_key_file: {e.strerror or e}") from e
        except (PyJWTError, TypeError, ValueError) as e:
            raise PolicyError(f"{where}{e}") from e
    try:
        return Consumers(consumers, key_claim)
    except ValueError as e:
        raise PolicyError(str(e)) from e


_TOKEN_KEYS = {"header", "scheme", "query", "cookie", "hide_credentials"}


def _token_source(table: Any) -> TokenSource | None:
    """The ``[token]`` table: where tokens are read from (APISIX's route settings)."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise PolicyError("token must be a table")
    unknown = set(table) - _TOKEN_KEYS
    if unknown:
        raise PolicyError(f"token: unknown setting(s): {', '.join(sorted(unknown))}")
    settings = {
        "scheme": _typed(table, "scheme", str, "Bearer", "token: "),
        "cookie": _typed(table, "cookie", str, None, "token: "),
        "query_param": _typed(table, "query", str, None, "token: "),
        "header": _typed(table, "header", str, "Authorization", "token: "),
        "hide_credentials": _typed(table, "hide_credentials", bool, False, "token: "),
    }
    try:
        return TokenSource(**settings)
    except ValueError as e:
        raise PolicyError(f"token: {e}") from e
