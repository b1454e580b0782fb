"""The example policy (examples/gateway.toml) with its providers' keys made local, tokens
for each of its roles, and the tables of requests every front end must answer alike:
the ASGI middleware, the Starlette backend, FastAPI's dependency, ``turbojwt serve`` in
process and behind the real nginx (tests/gateway/test_routes.py and
test_forward_auth_nginx.py)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

import turbojwt
from turbojwt.gateway import Policy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gateway.toml"
CORP = "https://login.example.com/realms/corp"
PARTNER = "https://partner.example.net"


class Keys:
    def __init__(self) -> None:
        self.corp = rsa.generate_private_key(65537, 2048)
        self.partner = ed25519.Ed25519PrivateKey.generate()


def pem(private: Any) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def example_data(tmp: Path, keys: Keys, corp_jwks_url: str | None = None) -> dict[str, Any]:
    """examples/gateway.toml as loaded, with the providers' key sources replaced by local
    ones (a key file, or the given JWKS URL for corp); routes, roles, max_age, scopes and
    headers are the example's own."""
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    (tmp / "corp.pem").write_bytes(pem(keys.corp))
    (tmp / "partner.pem").write_bytes(pem(keys.partner))
    for provider in data["provider"]:
        for source in ("discovery", "jwks_url", "jwks", "key_file"):
            provider.pop(source, None)
        if provider["name"] == "corp" and corp_jwks_url:
            provider["jwks_url"] = corp_jwks_url
            provider["jwks"] = {"min_ttl": 0, "default_ttl": 60, "cooldown": 0.2, "timeout": 2}
        else:
            provider["key_file"] = f"{provider['name']}.pem"
    return data


def example_policy(tmp: Path, keys: Keys) -> Policy:
    return Policy.from_dict(example_data(tmp, keys), base=tmp)


def corp_token(keys: Keys, roles: list[str] | None = None, scope: str = "api:read", **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": CORP,
        "aud": "api",
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
        "scope": scope,
        "realm_access": {"roles": roles or []},
        **claims,
    }
    body = {k: v for k, v in body.items() if v is not None}  # a claim given as None is left out
    return turbojwt.encode(body, keys.corp, algorithm="RS256", headers={"typ": "at+jwt", "kid": "c1"})


def partner_token(keys: Keys, groups: list[str] | None = None, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": PARTNER,
        "aud": "api",
        "sub": "pat",
        "iat": now,
        "exp": now + 300,
        "scope": "api:read",
        "groups": groups or [],
        **claims,
    }
    body = {k: v for k, v in body.items() if v is not None}
    return turbojwt.encode(body, keys.partner, algorithm="EdDSA")


Token = Callable[[Keys], "str | None"]

NONE: Token = lambda k: None  # noqa: E731
ADMIN: Token = lambda k: corp_token(k, ["api-admin"])  # noqa: E731
USER: Token = lambda k: corp_token(k, ["api-user"])  # noqa: E731
GUEST: Token = lambda k: corp_token(k, ["api-guest"])  # noqa: E731
REPORTER: Token = lambda k: corp_token(k, ["api-user"], scope="api:read reports:read")  # noqa: E731

# (id, method, path, token, status, error): the example policy's routes for each role.
ROUTE_CASES: list[tuple[str, str, str, Token, int, str | None]] = [
    ("public anonymous", "GET", "/public/docs", NONE, 200, None),
    ("public root", "GET", "/public", NONE, 200, None),
    ("public ignores a bad token", "GET", "/public/x", lambda k: "not.a.token", 200, None),
    ("private anonymous", "GET", "/private/x", NONE, 401, None),
    ("private guest", "GET", "/private/x", GUEST, 200, None),
    ("private user", "POST", "/private", USER, 200, None),
    ("private bad token", "GET", "/private/x", lambda k: "not.a.token", 401, "invalid_token"),
    ("secure anonymous", "GET", "/secure/x", NONE, 401, None),
    ("secure guest", "GET", "/secure/x", GUEST, 403, "insufficient_scope"),
    ("secure user", "GET", "/secure", USER, 403, "insufficient_scope"),
    ("secure admin", "DELETE", "/secure/x/y", ADMIN, 200, None),
    # A provider role named like a policy role is not one: only mapped roles count.
    ("secure unmapped admin", "GET", "/secure/x", lambda k: corp_token(k, ["admin"]), 403, "insufficient_scope"),
    ("reports user without scope", "GET", "/reports/q1", USER, 403, "insufficient_scope"),
    ("reports user with scope", "GET", "/reports/q1", REPORTER, 200, None),
    ("reports HEAD is GET", "HEAD", "/reports/q1", REPORTER, 200, None),
    ("reports write user", "POST", "/reports/q1", REPORTER, 403, "insufficient_scope"),
    ("reports write admin", "POST", "/reports/q1", ADMIN, 200, None),
    ("default guest", "GET", "/orders", GUEST, 403, "insufficient_scope"),
    ("default user", "GET", "/orders", USER, 200, None),
    ("default anonymous", "GET", "/orders", NONE, 401, None),
    (
        "scope missing everywhere",
        "GET",
        "/private/x",
        lambda k: corp_token(k, ["api-user"], scope="x"),
        403,
        "insufficient_scope",
    ),
    ("partner reader", "GET", "/private/x", lambda k: partner_token(k, ["partner-readers"]), 200, None),
    (
        "partner reader elsewhere",
        "GET",
        "/orders",
        lambda k: partner_token(k, ["partner-readers"]),
        403,
        "insufficient_scope",
    ),
    # max_age: one hour for corp (30 s leeway), ten minutes for the partner (no leeway).
    (
        "too old",
        "GET",
        "/private/x",
        lambda k: corp_token(k, ["api-user"], iat=int(time.time()) - 3700),
        401,
        "invalid_token",
    ),
    (
        "old within leeway",
        "GET",
        "/private/x",
        lambda k: corp_token(k, ["api-user"], iat=int(time.time()) - 3610, exp=int(time.time()) - 10),
        200,
        None,
    ),
    (
        "lifetime too long",
        "GET",
        "/private/x",
        lambda k: corp_token(k, ["api-user"], exp=int(time.time()) + 3700),
        401,
        "invalid_token",
    ),
    ("no iat", "GET", "/private/x", lambda k: corp_token(k, ["api-user"], iat=None), 401, "invalid_token"),
    (
        "partner too old",
        "GET",
        "/private/x",
        lambda k: partner_token(k, ["partner-readers"], iat=int(time.time()) - 700, exp=None),
        401,
        "invalid_token",
    ),
    (
        "partner young enough",
        "GET",
        "/private/x",
        lambda k: partner_token(k, ["partner-readers"], iat=int(time.time()) - 500, exp=None),
        200,
        None,
    ),
    (
        "expired",
        "GET",
        "/private/x",
        lambda k: corp_token(k, ["api-user"], exp=int(time.time()) - 60),
        401,
        "invalid_token",
    ),
]

# (id, raw path, token, status where the front end passes the normal path on (the ASGI
# middleware), status where it cannot (turbojwt serve, require_token, JWTAuthBackend)).
# No case lets a request reach /secure without the admin role.
BYPASS_CASES: list[tuple[str, str, Token, int, int]] = [
    ("dot-dot out of public", "/public/../secure", NONE, 401, 400),
    ("dot-dot as user", "/public/../secure/x", USER, 403, 400),
    ("upper case is another path", "/PUBLIC", NONE, 401, 401),
    ("dot segment", "/secure/./x", USER, 403, 400),
    ("encoded unreserved", "/%73ecure", USER, 403, 403),
    ("encoded unreserved anonymous", "/%73%65cure/x", NONE, 401, 401),
    ("double slash", "//secure", NONE, 401, 400),
    ("double slash inside", "/public//../secure", NONE, 401, 400),
    ("encoded slash", "/secure%2F..", NONE, 400, 400),
    ("encoded slash into public", "/public%2F..%2Fsecure", NONE, 400, 400),
    ("matrix parameter", "/public;/../secure", NONE, 400, 400),
    ("NUL", "/public%00", NONE, 400, 400),
    ("backslashes", "/public\\..\\secure", NONE, 400, 400),
    ("encoded dot-dot", "/public/%2E%2E/secure", NONE, 400, 400),
    ("half encoded dot-dot", "/public/.%2e/secure", NONE, 400, 400),
    ("bad escape", "/public/%zz", NONE, 400, 400),
    ("above the root", "/../secure", NONE, 401, 400),
]


def example_toml(keys: Keys, tmp: Path, corp_jwks_url: str) -> Path:
    """examples/gateway.toml as a file for `turbojwt serve`, with the same local key
    sources as ``example_data`` (corp's keys from ``corp_jwks_url``, the partner's from a
    file): the example's text with its three key-source lines replaced, all else as is."""
    text = EXAMPLE.read_text(encoding="utf-8")
    replacements = [
        ("discovery = true", f'jwks_url = "{corp_jwks_url}"'),
        (
            "jwks = { min_ttl = 60, max_ttl = 86400, cooldown = 30, max_stale = 86400 }",
            "jwks = { min_ttl = 0, default_ttl = 60, cooldown = 0.2, timeout = 2 }",
        ),
        ('jwks_url = "https://partner.example.net/.well-known/jwks.json"', 'key_file = "partner.pem"'),
    ]
    for old, new in replacements:
        assert text.count(old) == 1, f"examples/gateway.toml no longer has {old!r}"
        text = text.replace(old, new)
    (tmp / "partner.pem").write_bytes(pem(keys.partner))
    path = tmp / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path
