"""Where a request carries its token (``TokenSource``: a header, a cookie, a query parameter),
read so that no two parsers on its way can see two different tokens, and removed again
(``hide_credentials``) before the request goes upstream.

The ASGI middleware, the Starlette/FastAPI glue and the forward-auth service all read
tokens through this one class; a policy's ``[token]`` table configures it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

Scope = MutableMapping[str, Any]


class BadRequest(Exception):
    """The request carries credentials in a malformed way."""


def request_headers(scope: Scope) -> dict[bytes, list[bytes]]:
    """The scope's headers by lower-case name, every value of each."""
    out: dict[bytes, list[bytes]] = {}
    for k, v in scope.get("headers", []):
        out.setdefault(k.lower(), []).append(v)
    return out


# RFC 9110 §5.6.2 token: an auth-scheme, a header name; RFC 6265 §4.1.1 cookie-name.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, with
# b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
_CREDENTIALS = re.compile(r" +([A-Za-z0-9\-._~+/]+=*)")
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# Query parameters are separated by "&" (WHATWG URL) and, for some parsers, ";".
_QUERY_SEPARATOR = re.compile(r"[&;]")


@dataclass(frozen=True)
class TokenSource:
    """Where the token is read from: the ``header`` (``Authorization`` with ``scheme`` by
    default), the cookie ``cookie``, the query parameter ``query_param``; with
    ``hide_credentials``, ``hidden(scope)`` removes them before the request goes on.

    A request must carry its token unambiguously, so that no two parsers on its way (proxy,
    gateway, application) can read two different tokens from it (RFC 6750 §2: a client uses
    one method). ``BadRequest`` (400 ``invalid_request``) answers: the header given several
    times; ``scheme`` credentials other than ``<scheme> 1*SP b64token`` (RFC 6750 §2.1: a
    tab, a second token, characters outside the b64token set); the cookie or the parameter
    given twice with different values (in one or several ``Cookie`` headers; ``;`` and ``&``
    separated query parameters alike); different tokens in different places; a token outside
    the b64token set. The same token sent in several places is that token. An
    ``Authorization`` header with another scheme (``Basic``) is not ours and is ignored. A
    header other than ``Authorization`` carries the token alone or after ``scheme`` (as
    APISIX reads it)."""

    scheme: str = "Bearer"
    cookie: str | None = None
    query_param: str | None = None
    header: str = "Authorization"
    hide_credentials: bool = False
    _header: bytes = field(init=False, repr=False, compare=False)  # its lookup key
    _authorization: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for what, value in (("scheme", self.scheme), ("header", self.header), ("cookie", self.cookie)):
            if value is not None and (not isinstance(value, str) or not _TOKEN.fullmatch(value)):
                raise ValueError(f"{what} must be an HTTP token (letters, digits, !#$%&'*+-.^_`|~): {value!r}")
        if self.query_param is not None and (not isinstance(self.query_param, str) or not self.query_param):
            raise ValueError("query_param must be a non-empty string")
        if not isinstance(self.hide_credentials, bool):
            raise ValueError("hide_credentials must be true or false")
        object.__setattr__(self, "_header", self.header.lower().encode("ascii"))
        object.__setattr__(self, "_authorization", self._header == b"authorization")

    def token(self, scope: Scope, headers: dict[bytes, list[bytes]] | None = None) -> str | None:
        """The token, None when there is none; raises ``BadRequest`` when malformed or ambiguous.
        ``headers``: ``request_headers(scope)``, when the caller has read them already."""
        if headers is None:
            headers = request_headers(scope)
        found = [self._from_header(headers.get(self._header, []))]
        if self.cookie:
            found.append(self._from_cookies(headers.get(b"cookie", [])))
        if self.query_param:
            found.append(self._from_query(scope.get("query_string", b"")))
        tokens = {t for t in found if t}
        if len(tokens) > 1:
            raise BadRequest("several different tokens")
        return tokens.pop() if tokens else None

    def _from_header(self, values: list[bytes]) -> str | None:
        if len(values) > 1:
            raise BadRequest(f"several {self.header} headers")
        if not values:
            return None
        # Whitespace around a field value is not part of it (RFC 9110 §5.5).
        value = values[0].decode("latin-1").strip(" \t")
        if not value:
            return None
        if not self._authorization and _B64TOKEN.fullmatch(value):
            return value  # the token alone
        scheme = _TOKEN.match(value)
        if scheme is None:
            raise BadRequest(f"malformed {self.header} header")
        if scheme.group().lower() != self.scheme.lower():
            if self._authorization:
                return None  # another scheme (e.g. Basic): not ours
            raise BadRequest(f"malformed {self.header} header")
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

    # ------------------------------------------------------------------ hiding

    def hidden(self, scope: Scope) -> Scope:
        """A copy of an ASGI scope without the credentials this source reads: the header
        (an ``Authorization`` header only when it has our scheme), every cookie pair of
        our name, every query parameter of our name. Everything else is left byte for
        byte; a ``Cookie`` header left empty is dropped."""
        headers: list[tuple[bytes, bytes]] = []
        for name, value in scope.get("headers", []):
            lower = name.lower()
            if lower == self._header and self._carries_token(value):
                continue
            if lower == b"cookie" and self.cookie:
                kept = self.cookie_without(value)
                if kept:
                    headers.append((name, kept))
                continue
            headers.append((name, value))
        out = dict(scope)
        out["headers"] = headers
        if self.query_param:
            out["query_string"] = self.query_without(scope.get("query_string", b""))
        return out

    def header_for_upstream(self, values: Iterable[bytes]) -> bytes | None:
        """What remains of our header for the upstream: None when it carries our token
        (or is absent); an ``Authorization`` header of another scheme stays as it is."""
        kept = [v for v in values if not self._carries_token(v)]
        return kept[0] if len(kept) == 1 else None

    def _carries_token(self, value: bytes) -> bool:
        if not self._authorization:
            return True
        scheme = _TOKEN.match(value.decode("latin-1").lstrip(" \t"))
        return scheme is None or scheme.group().lower() == self.scheme.lower()

    def cookie_without(self, value: bytes) -> bytes:
        """A ``Cookie`` header value without the pairs named ``cookie`` (the other pairs and
        their separators byte for byte; leading whitespace of the result dropped)."""
        if not self.cookie:
            return value
        pairs = value.split(b";")
        name = self.cookie.encode("latin-1")
        kept = [p for p in pairs if not (b"=" in p and p.partition(b"=")[0].strip(b" \t") == name)]
        if len(kept) == len(pairs):
            return value
        return b";".join(kept).lstrip(b" \t")

    def query_without(self, raw: bytes) -> bytes:
        """A query string without the parameters named ``query_param``, as ``parse_qsl``
        reads names (percent-decoded, ``+`` as a space), split at ``&`` and ``;`` both (the
        readings ``token`` requires to agree). The other parameters and the separator before
        each stay byte for byte."""
        if not self.query_param or not raw:
            return raw
        text = raw.decode("latin-1")
        kept: list[str] = []
        start = 0
        separator = ""
        for match in [*_QUERY_SEPARATOR.finditer(text), None]:
            end = match.start() if match else len(text)
            part = text[start:end]
            name = part.partition("=")[0]
            if not part or unquote(name.replace("+", " ")) != self.query_param:
                kept.append(separator + part if kept else part)
            if match:
                separator = match.group()
                start = match.end()
        return "".join(kept).encode("latin-1")


def _checked(token: str) -> str | None:
    """A cookie or query token: None when empty; refused outside the b64token set (quotes,
    backslashes and the like are where parsers differ)."""
    if not token:
        return None
    if _B64TOKEN.fullmatch(token) is None:
        raise BadRequest("malformed token")
    return token
