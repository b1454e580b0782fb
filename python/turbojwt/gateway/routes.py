"""Routes and roles of a gateway policy: the request path in normal form, the first
``[[route]]`` that matches it, and the roles a token holds.

Path normal form (``normalise_path``), the one reading of a request path every front end
uses:

* the path is the request target's path, without its query; it must start with ``/``
  (an absolute URI, ``*`` or a relative path is refused);
* percent-encoded *unreserved* characters (RFC 3986 §2.3: ``A-Z a-z 0-9 - . _ ~``) are
  decoded (``%41`` is ``A``, ``%7e`` is ``~``); every other escape stays encoded, its hex
  digits upper-cased (``%3a`` is ``%3A``), so ``/a%3Fb`` is never ``/a?b``;
* ``//`` becomes ``/``, and ``.`` and ``..`` segments are removed (RFC 3986 §5.2.4;
  ``..`` never climbs above the root);
* nothing is case-folded: ``/Secure`` is not ``/secure``.

Refused (``PathError``, answered with 400 ``invalid_request``), because a proxy and the
application behind it could read them as different paths: an encoded ``/`` or ``\\``
(``%2F``, ``%5C``: a segment boundary to some readers and not to others), an encoded dot
in a ``.`` or ``..`` segment (``%2E%2E``: resolved by some readers after decoding, by others
not at all), an encoded or raw control character (``%00``, ``%0A``, DEL), a raw ``\\``,
``;`` (matrix parameters, cut off by some servers), ``#``, space or non-ASCII byte, and a
``%`` that does not start two hex digits.

Route paths: ``/a/b`` exact (not ``/a/b/``); ``/a/*`` (a final ``/*``) the path ``/a``
and every path under it; elsewhere ``*`` matches any characters inside one segment
(``/users/*/orders``, ``/files/*.pdf``; one per segment) and a ``**`` segment any number
of segments (``/api/**/admin``; one per path). The first route (in file order) whose path
and methods match wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

__all__ = [
    "AUTH_MODES",
    "PROXIES",
    "ForwardAuthSettings",
    "NormalPath",
    "PathError",
    "RoleRules",
    "Route",
    "RouteTable",
    "normalise_path",
]

AUTH_MODES = ("required", "optional", "public")


class PathError(ValueError):
    """A request path that is refused (400 ``invalid_request``)."""


_HEX = "0123456789ABCDEFabcdef"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Raw characters a path may hold: printable ASCII except space (0x20), '"', '#', '<', '>',
# '\\', '^', '`', '{', '|', '}' and ';'. '?' never reaches here (the query is cut off first).
_PATH_CHARS = frozenset(map(chr, range(0x21, 0x7F))) - set(' "#<>\\^`{|};?')
# Escapes that are refused rather than kept: '/', '\\', and controls.
_REFUSED_ESCAPES = frozenset({"2F", "5C", "7F"} | {f"{i:02X}" for i in range(0x20)})


class NormalPath(NamedTuple):
    """A path in normal form, and whether normalising it changed its segments (``//``,
    ``.`` or ``..``): a front end that cannot pass the normal form on must refuse those."""

    path: str
    segments_changed: bool


# A path already in normal form, the common case: pchar characters without '%' or ';', and
# no empty or dot segment (the checks below the regular expression).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,=:@/]*")


def normalise_path(raw: str) -> NormalPath:
    """``raw`` (a request path without its query, as sent) in normal form; see the module
    docstring for the rules. Raises ``PathError``."""
    if raw[:1] == "/" and _PLAIN_PATH.fullmatch(raw) and "//" not in raw and "/." not in raw:
        return NormalPath(raw, False)
    if not raw.startswith("/"):
        raise PathError("the request path must start with '/'")
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "%":
            hexdigits = raw[i + 1 : i + 3]
            if len(hexdigits) != 2 or hexdigits[0] not in _HEX or hexdigits[1] not in _HEX:
                raise PathError("the request path has a '%' that is not an escape")
            hexdigits = hexdigits.upper()
            if hexdigits in _REFUSED_ESCAPES:
                raise PathError("the request path has an encoded slash, backslash or control character")
            decoded = chr(int(hexdigits, 16))
            if decoded == ".":
                out.append("\0")  # an encoded dot: allowed inside a segment, never as a dot segment
            elif decoded in _UNRESERVED:
                out.append(decoded)
            else:
                out.append("%" + hexdigits)
            i += 3
            continue
        if c not in _PATH_CHARS:
            raise PathError("the request path has a character that is not allowed in it")
        out.append(c)
        i += 1
    segments = "".join(out).split("/")[1:]
    kept: list[str] = []
    changed = False
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment in (".", ".."):
            changed = True
            if segment == ".." and kept:
                kept.pop()
            if index == last:
                kept.append("")  # "/a/b/.." is "/a/", as RFC 3986 §5.2.4 writes it
            continue
        if "\0" in segment and segment.replace("\0", ".") in (".", ".."):
            raise PathError("the request path has an encoded '.' or '..' segment")
        if segment == "" and index != last:
            changed = True  # "//": an empty segment is dropped
            continue
        kept.append(segment.replace("\0", "."))
    return NormalPath("/" + "/".join(kept), changed)


# ---------------------------------------------------------------------------- roles

_NAME = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # printable ASCII without space, '"', '\\'


@dataclass(frozen=True)
class RoleRules:
    """Where a token's roles are read (``claim``, a dotted path) and how provider roles
    become policy roles (``mapping``: provider role -> policy roles). With a mapping, a
    role it does not name is dropped: only mapped roles count."""

    claim: str = "roles"
    mapping: Mapping[str, tuple[str, ...]] | None = None
    _path: tuple[str, ...] = field(init=False, repr=False, compare=False)
    # The policy roles of the role values seen last (a claim's string, or its list as a
    # tuple): a request costs a dict lookup rather than the mapping. At most MEMO_SIZE,
    # emptied when full (a flood of distinct values only cycles it).
    _memo: dict[Any, frozenset[str]] = field(init=False, repr=False, compare=False)
    MEMO_SIZE: ClassVar[int] = 1024

    def __post_init__(self) -> None:
        object.__setattr__(self, "_path", tuple(self.claim.split(".")))
        object.__setattr__(self, "_memo", {})

    def roles(self, claims: Mapping[str, Any]) -> frozenset[str]:
        """The token's policy roles: the claim's value, a list of strings or one string
        of space-separated roles (other members and types give none), mapped."""
        value: Any = claims
        for part in self._path:
            if type(value) is not dict and not isinstance(value, Mapping):
                return frozenset()
            value = value.get(part)
        key: Any
        if isinstance(value, list):
            try:
                key = tuple(value)  # (equal tuples hold the same strings in the same places)
                found = self._memo.get(key)
            except TypeError:  # an unhashable member (an object, a list): not kept
                return self._mapped(value)
        elif isinstance(value, str):
            key = value
            found = self._memo.get(key)
        else:
            return frozenset()
        if found is None:
            found = self._mapped(value)
            memo = self._memo
            if len(memo) >= self.MEMO_SIZE:
                memo.clear()
            memo[key] = found
        return found

    def _mapped(self, value: str | list[Any]) -> frozenset[str]:
        if isinstance(value, str):
            held = set(value.split(" "))  # SP only, as for scopes (RFC 6749 §3.3)
            held.discard("")
        else:
            held = {r for r in value if isinstance(r, str)}
        mapping = self.mapping
        if mapping is None:
            return frozenset(held)
        return frozenset(role for r in held for role in mapping.get(r, ()))

    def produced(self) -> frozenset[str] | None:
        """The policy roles this can give (None: any, when there is no mapping)."""
        if self.mapping is None:
            return None
        return frozenset(r for roles in self.mapping.values() for r in roles)


# ---------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Route:
    """One ``[[route]]`` (or the ``[default_route]``, whose ``path`` is None)."""

    path: str | None
    auth: str = "required"
    methods: frozenset[str] | None = None  # None: every method
    roles_any: tuple[str, ...] = ()
    roles_all: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    name: str = ""
    label: str = ""  # where it was loaded from ("route 2 (/secure/*)"), for messages

    def describe(self) -> str:
        return self.label or self.name or (f"route {self.path!r}" if self.path is not None else "[default_route]")


_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Z]+")  # an RFC 9110 token, upper-case
_REQUEST_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §9.1: a token


def make_route(spec: Mapping[str, Any], where: str, default: bool = False) -> Route:
    """A ``Route`` from its TOML table; ``ValueError`` with a message naming ``where``."""
    known = {"auth", "roles_any", "roles_all", "scopes"} | (set() if default else {"path", "methods", "name"})
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"{where}: unknown setting(s): {', '.join(sorted(unknown))}")
    path = None
    if not default:
        path = spec.get("path")
        if not isinstance(path, str):
            raise ValueError(f'{where}: path is required (a string such as "/api/*")')
        check_route_path(path, where)
        where = f"{where} ({path})" if "name" not in spec else where
    auth = spec.get("auth", "required")
    if auth not in AUTH_MODES:
        raise ValueError(f"{where}: auth must be one of {', '.join(AUTH_MODES)}, not {auth!r}")
    methods = None
    if not default and "methods" in spec:
        raw = spec["methods"]
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw or not all(isinstance(m, str) and _METHOD.fullmatch(m) for m in raw):
            raise ValueError(f"{where}: methods must be a non-empty list of upper-case HTTP methods")
        methods = frozenset(raw) | ({"HEAD"} if "GET" in raw else set())  # HEAD is a GET without the body
    lists = {}
    for key in ("roles_any", "roles_all", "scopes"):
        value = spec.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and _NAME.fullmatch(v) for v in value):
            raise ValueError(f"{where}: {key} must be a list of names (printable ASCII without spaces or quotes)")
        lists[key] = tuple(value)
    if auth != "required" and any(lists.values()):
        raise ValueError(f'{where}: roles_any, roles_all and scopes need auth = "required" (this route is {auth})')
    name = spec.get("name", "")
    if not isinstance(name, str):
        raise ValueError(f"{where}: name must be a string")
    return Route(path, auth, methods, lists["roles_any"], lists["roles_all"], lists["scopes"], name, where)


def check_route_path(path: str, where: str) -> None:
    """A route path must be a path in normal form, with ``*`` only as documented."""
    if not path.startswith("/"):
        raise ValueError(f"{where}: path must start with '/'")
    segments = path.split("/")[1:]
    for segment in segments:
        if "**" in segment and segment != "**":
            raise ValueError(f"{where}: '**' must be a whole segment (as in /api/**/admin)")
        if segment != "**" and segment.count("*") > 1:
            raise ValueError(f"{where}: a segment may hold one '*' (as in /files/*.pdf)")
    # (each limit keeps the match linear in the request path: a pattern with several
    # ways to split a path between its wildcards could take a long time to refuse one)
    if segments.count("**") > 1:
        raise ValueError(f"{where}: a path may hold one '**' segment")
    literal = path.replace("*", "x")
    try:
        normal = normalise_path(literal)
    except PathError as e:
        raise ValueError(f"{where}: path {path!r} is not a valid request path ({e})") from None
    if normal.path != literal or "%" in literal:
        raise ValueError(
            f"{where}: path {path!r} is not in normal form (no '//', '.', '..' or %-escapes: "
            "routes match the normalised request path)"
        )


def _glob(path: str) -> re.Pattern[str]:
    parts = []
    segments = path.split("/")[1:]
    tail = ""
    if segments and segments[-1] == "*":  # a final "/*": the path above and all under it
        segments, tail = segments[:-1], "(?:/.*)?"
    for segment in segments:
        if segment == "**":
            parts.append("(?:/[^/]*)*")
        else:
            parts.append("/" + "[^/]*".join(re.escape(p) for p in segment.split("*")))
    return re.compile("".join(parts) + tail)


class RouteTable:
    """The routes in file order, compiled: exact paths in a dict, final-``/*`` prefixes in
    a dict looked up at each ``/`` of the request path, globs as regular expressions. A
    lookup takes the lowest-numbered route among the candidates whose methods allow the
    request's, so the first route in the file wins."""

    # Decisions kept per (method, path as sent): at most this many, the oldest dropped first,
    # and only for paths up to CACHE_PATH_LENGTH characters (a bound on the memory held).
    CACHE_SIZE = 4096
    CACHE_PATH_LENGTH = 512

    def __init__(self, routes: Sequence[Route], default: Route | None) -> None:
        self._cache: dict[tuple[str, str], tuple[int, Route, NormalPath]] = {}
        self.routes = list(routes)
        self.default = default
        self._exact: dict[str, list[int]] = {}
        self._prefix: dict[str, list[int]] = {}
        self._globs: list[tuple[int, re.Pattern[str]]] = []
        for index, route in enumerate(self.routes):
            path = route.path
            assert path is not None
            if "*" not in path:
                self._exact.setdefault(path, []).append(index)
            elif path.endswith("/*") and "*" not in path[:-2]:
                self._prefix.setdefault(path[:-2], []).append(index)
            else:
                self._globs.append((index, _glob(path)))
        self.catch_all = next(
            (i for i, r in enumerate(self.routes) if r.methods is None and r.path in ("/*", "/**")), None
        )

    def check_complete(self) -> None:
        """Every path must reach a route: a default, or a catch-all route for every method."""
        if self.catch_all is not None:
            later = self.routes[self.catch_all + 1 :]
            if later:
                raise ValueError(
                    f"{later[0].describe()} is never reached: route {self.catch_all + 1} "
                    f"({self.routes[self.catch_all].path}) matches every request before it"
                )
            return
        if self.default is None:
            covered = ", ".join(r.path or "" for r in self.routes) or "none"
            raise ValueError(
                "some requests match no route (the routes cover only: "
                f'{covered}); add a [default_route] table or a last [[route]] with path = "/*"'
            )

    def lookup(self, method: str, raw: str) -> tuple[int, Route, NormalPath]:
        """The route number, route and normal form for a request's method and path as sent;
        raises ``PathError``. Results are kept in a bounded table: a repeated request costs
        one dict lookup (a flood of distinct paths only cycles the table)."""
        key = (method, raw)
        found = self._cache.get(key)
        if found is not None:
            return found
        if not _REQUEST_METHOD.fullmatch(method):
            raise PathError("the request method is not an HTTP method")
        normal = normalise_path(raw)
        number, route = self.match(method, normal.path)
        found = (number, route, normal)
        if len(raw) <= self.CACHE_PATH_LENGTH:
            cache = self._cache
            if len(cache) >= self.CACHE_SIZE:
                cache.pop(next(iter(cache), key), None)
            cache[key] = found
        return found

    def match(self, method: str, path: str) -> tuple[int, Route]:
        """The number (from 1; 0 for the default) and the route for a normalised path."""
        candidates: list[int] = []
        exact = self._exact.get(path)
        if exact:
            candidates.extend(exact)
        prefixes = self._prefix
        if prefixes:
            found = prefixes.get(path)
            if found:
                candidates.extend(found)
            start = 0
            while True:
                slash = path.find("/", start)
                if slash < 0:
                    break
                found = prefixes.get(path[:slash])
                if found:
                    candidates.extend(found)
                start = slash + 1
        candidates.sort()
        best = _first_allowed(candidates, self.routes, method)
        for index, pattern in self._globs:  # in file order: only those before the best so far
            if best is not None and index > best:
                break
            route = self.routes[index]
            if (route.methods is None or method in route.methods) and pattern.fullmatch(path):
                return index + 1, route
        if best is not None:
            return best + 1, self.routes[best]
        if self.default is None:  # check_complete refuses such tables; kept for direct use
            raise PathError("no route matches the request")
        return 0, self.default

    def roles_named(self) -> Iterable[tuple[Route, str]]:
        for route in [*self.routes, *([self.default] if self.default else [])]:
            for role in (*route.roles_any, *route.roles_all):
                yield route, role


def _first_allowed(candidates: list[int], routes: list[Route], method: str) -> int | None:
    for i in candidates:
        methods = routes[i].methods
        if methods is None or method in methods:
            return i
    return None


# ---------------------------------------------------------------------------- forward auth

PROXIES = ("nginx", "traefik", "envoy")


@dataclass(frozen=True)
class ForwardAuthSettings:
    """``[forward_auth]``: which proxy asks ``turbojwt serve``, so which of its headers
    carry the original method and path (trusted only from that proxy: it overwrites
    them). ``path_prefix``: Envoy's ``http_service.path_prefix``, cut off the check
    request's path to give the original one."""

    proxy: str | None = None
    path_prefix: str = "/check"
