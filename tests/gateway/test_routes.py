"""Routes and roles (issue 18 §1): path normal form, route matching, role rules, max_age,
the load-time checks, and one table of requests answered alike by every front end (the
ASGI middleware, the Starlette backend, FastAPI's ``require_token``, the forward-auth app
with each proxy's headers). The same tables run behind the real nginx in
test_forward_auth_nginx.py."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("starlette")
pytest.importorskip("fastapi")

from fastapi import Depends, FastAPI
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request

from helpers.route_cases import (
    BYPASS_CASES,
    EXAMPLE,
    ROUTE_CASES,
    USER,
    Keys,
    corp_token,
    example_data,
    example_policy,
    partner_token,
)
from turbojwt.exceptions import InvalidIssuedAtError, MissingRequiredClaimError
from turbojwt.gateway import JWTAuthMiddleware, Policy, PolicyError
from turbojwt.gateway.frameworks import JWTAuthBackend, require_token
from turbojwt.gateway.policy import InsufficientScopeError, TokenTooOldError
from turbojwt.gateway.routes import PathError, RouteTable, make_route, normalise_path
from turbojwt.gateway.serve import ForwardAuthApp


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def policy(tmp_path_factory, keys) -> Policy:
    return example_policy(tmp_path_factory.mktemp("policy"), keys)


# ----------------------------------------------------------------------- path normal form


@pytest.mark.parametrize(
    "raw, normal, changed",
    [
        ("/", "/", False),
        ("/a/b", "/a/b", False),
        ("/a/b/", "/a/b/", False),
        ("/%41%7e%7E%2d%5F", "/A~~-_", False),  # unreserved escapes are decoded
        ("/a%2eb", "/a.b", False),  # an encoded dot inside a segment is a dot
        ("/a%3fb%3A", "/a%3Fb%3A", False),  # reserved escapes stay, upper-cased
        ("/Secure", "/Secure", False),  # no case folding
        ("//a///b", "/a/b", True),
        ("/a/./b/../c", "/a/c", True),
        ("/a/b/..", "/a/", True),
        ("/a/.", "/a/", True),
        ("/../../a", "/a", True),  # never above the root
        ("/..", "/", True),
    ],
)
def test_normal_form(raw, normal, changed):
    result = normalise_path(raw)
    assert (result.path, result.segments_changed) == (normal, changed)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "a/b",
        "*",
        "http://host/a",
        "/a%2Fb",
        "/a%2fb",
        "/a%5Cb",
        "/a%00",
        "/a%0A",
        "/a%7F",
        "/a;b",
        "/a\\b",
        "/a b",
        "/a#b",
        "/a\x00",
        "/a\x7f",
        "/caf\xe9",
        "/a%",
        "/a%4",
        "/a%zz",
        "/%2E%2E/a",
        "/%2e/a",
        "/.%2E/a",
        "/a/%2E",
    ],
)
def test_refused_paths(raw):
    with pytest.raises(PathError):
        normalise_path(raw)


_PIECES = st.sampled_from(
    [
        "/",
        "/",
        ".",
        "..",
        "a",
        "B",
        "~",
        "-",
        "%2e",
        "%2E",
        "%41",
        "%7e",
        "%2F",
        "%5c",
        "%3a",
        "%25",
        "%00",
        "%",
        "%g",
        ";",
        "\\",
        " ",
        "?",
        "#",
        "é",
        "\x7f",
        "*",
        ":",
        "@",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=24).map("".join))
def test_the_normal_form_is_a_fixed_point(raw):
    try:
        normal = normalise_path(raw)
    except PathError:
        return
    assert normalise_path(normal.path) == (normal.path, False)
    segments = normal.path.split("/")[1:]
    assert "" not in segments[:-1] and "." not in segments and ".." not in segments
    if not normal.segments_changed:  # only escapes changed: the same segments, one for one
        assert len(segments) == len(raw.split("/")) - 1


# ----------------------------------------------------------------------- matching


def table(*specs: dict[str, Any], default: dict[str, Any] | None = None) -> RouteTable:
    routes = [make_route(s, f"route {i + 1}") for i, s in enumerate(specs)]
    return RouteTable(routes, make_route(default, "[default_route]", default=True) if default is not None else None)


def test_exact_prefix_and_glob_paths():
    t = table(
        {"path": "/a"},
        {"path": "/b/*"},
        {"path": "/users/*/orders"},
        {"path": "/files/*.pdf"},
        {"path": "/api/**/admin"},
        {"path": "/*"},
    )

    def number(path: str) -> int:
        return t.match("GET", path)[0]

    assert number("/a") == 1 and number("/a/") == 6 and number("/a/x") == 6
    assert number("/b") == 2 and number("/b/") == 2 and number("/b/x/y") == 2 and number("/bx") == 6
    assert number("/users/7/orders") == 3 and number("/users/7/8/orders") == 6
    assert number("/files/x.pdf") == 4 and number("/files/x.pdf/y") == 6 and number("/files/a/x.pdf") == 6
    assert number("/api/admin") == 5 and number("/api/v1/x/admin") == 5 and number("/api/v1/admins") == 6


def _reference_match(routes, method, path):
    """First route in file order whose path and methods match, tried one by one."""
    import re

    for i, route in enumerate(routes):
        if route.methods is not None and method not in route.methods:
            continue
        p = route.path
        if "*" not in p:
            hit = p == path
        elif p.endswith("/*") and "*" not in p[:-2]:
            hit = path == p[:-2] or path.startswith(p[:-2] + "/")
        else:
            regex = "".join(
                "(?:/[^/]*)*" if seg == "**" else "/" + "[^/]*".join(map(re.escape, seg.split("*")))
                for seg in (p[:-2] if p.endswith("/*") else p).split("/")[1:]
            ) + ("(?:/.*)?" if p.endswith("/*") else "")
            hit = re.fullmatch(regex, path) is not None
        if hit:
            return i + 1
    return 0


_ROUTE_PATHS = ["/a", "/a/*", "/a/b", "/a/*/c", "/*", "/b/**/c", "/a/b/*", "/b", "/c*", "/a/x*.y"]


@settings(max_examples=300, deadline=None)
@given(
    specs=st.lists(
        st.tuples(st.sampled_from(_ROUTE_PATHS), st.sampled_from([None, ["GET"], ["POST"]])), min_size=1, max_size=8
    ),
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT"]),
    segments=st.lists(st.sampled_from(["a", "b", "c", "x.y", "xz.y", "ab"]), max_size=5),
)
def test_the_route_table_finds_the_first_match(specs, method, segments):
    routes = [make_route({"path": p, **({"methods": m} if m else {})}, f"route {i}") for i, (p, m) in enumerate(specs)]
    t = RouteTable(routes, make_route({}, "[default_route]", default=True))
    path = "/" + "/".join(segments)
    assert t.match(method, path)[0] == _reference_match(routes, method, path)


def test_first_match_wins_across_kinds_and_methods():
    t = table(
        {"path": "/r/*", "methods": ["POST"], "auth": "public"},
        {"path": "/r/**", "auth": "optional"},  # a glob before the exact route below
        {"path": "/r/x", "auth": "public"},
        default={"auth": "required"},
    )
    assert t.match("POST", "/r/x")[0] == 1
    assert t.match("GET", "/r/x")[0] == 2
    assert t.match("HEAD", "/q")[0] == 0
    get = table({"path": "/g", "methods": ["GET"]}, default={})
    assert get.match("HEAD", "/g")[0] == 1  # a route for GET covers HEAD
    assert get.match("get", "/g")[0] == 0  # methods are case-sensitive (RFC 9110 §9.1)


def test_route_lookups_are_kept_in_a_bounded_table(tmp_path, keys):
    policy = example_policy(tmp_path, keys)
    table = policy.route_table
    table.CACHE_SIZE = 8
    for i in range(50):
        assert policy.route_for("GET", f"/secure/{i}")[0] == 3
    assert len(table._cache) == 8
    # A kept lookup is judged like a new one: the strict front ends still refuse it.
    for strict in (False, True, False, True):
        if strict:
            with pytest.raises(PathError):
                policy.route_for("GET", "/public/../secure", strict_path=True)
        else:
            assert policy.route_for("GET", "/public/../secure", strict_path=False)[0] == 3
    with pytest.raises(PathError):  # refusals are not kept, and refused every time
        policy.route_for("G ET", "/public")
    with pytest.raises(PathError):
        policy.route_for("GET", "/a%2F")


@pytest.mark.parametrize(
    "doc, match",
    [
        ({"route": [{"path": "/a"}]}, "match no route.*default_route"),
        ({"route": [{"path": "/*"}, {"path": "/b"}]}, r"route 2 \(/b\) is never reached"),
        ({"route": [{"path": "a"}], "default_route": {}}, "route 1: path must start with '/'"),
        ({"route": [{"path": "/a//b"}], "default_route": {}}, "not in normal form"),
        ({"route": [{"path": "/a/../b"}], "default_route": {}}, "not in normal form"),
        ({"route": [{"path": "/%41"}], "default_route": {}}, "not in normal form"),
        ({"route": [{"path": "/a;b"}], "default_route": {}}, "not a valid request path"),
        ({"route": [{"path": "/a**"}], "default_route": {}}, "must be a whole segment"),
        ({"route": [{"path": "/a/*b*"}], "default_route": {}}, "one '\\*'"),
        ({"route": [{"path": "/**/a/**"}], "default_route": {}}, "one '\\*\\*' segment"),
        ({"route": [{"path": "/a", "auth": "maybe"}], "default_route": {}}, r"route 1 \(/a\): auth must be"),
        ({"route": [{"path": "/a", "methods": ["get"]}], "default_route": {}}, "upper-case HTTP methods"),
        ({"route": [{"path": "/a", "methods": []}], "default_route": {}}, "methods must be"),
        ({"route": [{"path": "/a", "auth": "public", "roles_any": ["x"]}], "default_route": {}}, "need auth"),
        ({"route": [{"path": "/a", "scopes": ["a b"]}], "default_route": {}}, "scopes must be a list of names"),
        ({"route": [{"path": "/a", "colour": 1}], "default_route": {}}, r"route 1.*unknown setting\(s\): colour"),
        ({"route": [{"name": "x"}], "default_route": {}}, "route 1 \\('x'\\): path is required"),
        ({"default_route": {"path": "/a"}}, r"\[default_route\]: unknown setting\(s\): path"),
        (
            {
                "route": [{"path": "/a", "roles_any": ["admn"]}],
                "default_route": {},
                "roles": {"mapping": {"x": "admin"}},
            },
            r"route 1 \(/a\): role 'admn' is given by no role mapping \(known: admin, guest\)",
        ),
        ({"roles": {"claim": "a..b"}}, "claim must be"),
        ({"roles": {"mapping": {"x": ["a b"]}}}, "mapping"),
        ({"max_age": 0}, "max_age must be a number of seconds > 0"),
        ({"max_age": "1h"}, "max_age has the wrong type"),
        ({"forward_auth": {"proxy": "haproxy"}}, "proxy must be one of nginx, traefik, envoy"),
        ({"forward_auth": {"path_prefix": "/check/"}}, "path_prefix"),
    ],
)
def test_bad_route_settings(tmp_path, keys, doc, match):
    data = example_data(tmp_path, keys)
    for key in ("route", "default_route", "roles", "max_age", "forward_auth"):
        data.pop(key, None)
    with pytest.raises(PolicyError, match=match):
        Policy.from_dict({**data, **doc}, base=tmp_path)


def test_policy_without_routes_reads_no_path(tmp_path, keys):
    data = example_data(tmp_path, keys)
    for key in ("route", "default_route"):
        data.pop(key)
    policy = Policy.from_dict(data, base=tmp_path)
    assert not policy.has_routes
    # Any path, even one the route layer refuses: the path is not read.
    decision = policy.authorize("GET", "/a%2Fb", corp_token(keys, ["api-guest"]))
    assert decision.verified is not None and decision.path is None
    assert ForwardAuthApp(policy).original_request({"type": "http", "headers": []}) == (None, None)


def test_forward_auth_with_routes_needs_a_trusted_proxy(tmp_path, keys):
    data = example_data(tmp_path, keys)
    data.pop("forward_auth")
    policy = Policy.from_dict(data, base=tmp_path)
    with pytest.raises(PolicyError, match="needs to know which proxy"):
        ForwardAuthApp(policy)
    assert ForwardAuthApp(policy, proxy="traefik").proxy == "traefik"


# ----------------------------------------------------------------------- roles and max_age


def test_roles_claim_shapes(tmp_path, keys):
    data = example_data(tmp_path, keys)
    data["roles"] = {"claim": "realm_access.roles"}  # no mapping: roles pass through
    data["provider"][1].pop("roles")
    policy = Policy.from_dict(data, base=tmp_path)
    admin_string = corp_token(keys, realm_access={"roles": "user admin"})
    assert policy.authorize("GET", "/secure/x", admin_string).verified is not None
    for roles in ("user\tadmin", ["user", 1, None], {"admin": True}, "useradmin"):
        with pytest.raises(InsufficientScopeError) as e:
            policy.authorize("GET", "/secure/x", corp_token(keys, realm_access={"roles": roles}))
        assert e.value.roles_any == ["admin"] and e.value.needed == []
    groups = Policy.from_dict({**data, "roles": {"claim": "groups"}}, base=tmp_path)
    assert groups.authorize("GET", "/secure", corp_token(keys, groups=["admin"])).verified is not None


def test_roles_all_names_each_missing_role(tmp_path, keys):
    data = example_data(tmp_path, keys)
    data["route"].insert(0, {"path": "/both", "roles_all": ["admin", "guest"], "scopes": ["both:use"]})
    policy = Policy.from_dict(data, base=tmp_path)
    with pytest.raises(InsufficientScopeError) as e:
        policy.authorize("GET", "/both", corp_token(keys, ["api-admin"]))
    assert (e.value.needed, e.value.roles_all) == (["both:use"], ["guest"])


def test_max_age_rules(policy, keys):
    corp = policy.providers[0]
    now = time.time()
    with pytest.raises(TokenTooOldError) as e:
        policy._check_age({"iat": now - 3631}, corp)
    assert not e.value.lifetime
    policy._check_age({"iat": now - 3629}, corp)  # 30 s leeway
    with pytest.raises(TokenTooOldError) as e:
        policy._check_age({"iat": now, "exp": now + 3600.5}, corp)
    assert e.value.lifetime  # no leeway on the lifetime: both times are the issuer's
    policy._check_age({"iat": now, "exp": now + 3600}, corp)
    policy._check_age({"iat": str(int(now))}, corp)  # decimal text, as the core reads times
    for iat in ("soon", True, [1], "nan", float("nan"), 10**400):
        with pytest.raises(InvalidIssuedAtError):
            policy._check_age({"iat": iat}, corp)
    with pytest.raises(MissingRequiredClaimError):
        policy._check_age({"exp": now + 10}, corp)


def test_max_age_holds_on_token_cache_hits(tmp_path, keys):
    data = example_data(tmp_path, keys)
    partner = data["provider"][1]
    partner.update(max_age=1, cache=100)  # the partner requires no exp: only the age bounds its tokens
    policy = Policy.from_dict(data, base=tmp_path)
    token = partner_token(keys, ["partner-readers"], exp=None)
    for _ in range(2):  # the cache admits a token on its second sight
        assert policy.authorize("GET", "/private", token).verified is not None
    time.sleep(1.2)
    with pytest.raises(TokenTooOldError):
        policy.authorize("GET", "/private", token)
    info = policy.providers[1].verifier.cache_info()
    assert info is not None and info.hits == 1  # the refused token was served by the cache


def test_optional_routes(tmp_path, keys):
    data = example_data(tmp_path, keys)
    data["route"].insert(0, {"path": "/maybe/*", "auth": "optional"})
    policy = Policy.from_dict(data, base=tmp_path)
    assert policy.authorize("GET", "/maybe/x", None).verified is None
    assert policy.authorize("GET", "/maybe/x", corp_token(keys, ["api-guest"])).verified is not None
    with pytest.raises(Exception, match="Invalid|Not enough|malformed"):
        policy.authorize("GET", "/maybe/x", "not.a.token")
    with pytest.raises(TokenTooOldError):  # a token admitted anywhere is within max_age
        policy.authorize("GET", "/maybe/x", corp_token(keys, exp=int(time.time()) + 7200))


# ----------------------------------------------------------------------- front ends


def run_asgi(app, scope: dict[str, Any]) -> tuple[int, dict[str, str], bytes, list[dict[str, Any]]]:
    """One request through an ASGI app: status, headers, body, and the scopes that reached
    the application behind it."""
    sent: list[dict[str, Any]] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, body, []


def http_scope(method: str, raw_path: str, token: str | None, extra: list[tuple[bytes, bytes]] = ()) -> dict:
    headers = [(b"host", b"api.test")] + ([(b"authorization", f"Bearer {token}".encode())] if token else [])
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": b"",
        "root_path": "",
        "headers": [*headers, *extra],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }


class FrontEnds:
    """The four front ends over one policy; each ``call`` gives (status, headers, the path
    the application saw or None when it was not reached)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.seen: list[dict[str, Any]] = []

        async def upstream(scope, receive, send):
            self.seen.append(scope)
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})

        self.middleware = JWTAuthMiddleware(upstream, policy)
        backend = JWTAuthBackend(policy)
        self.backend = AuthenticationMiddleware(upstream, backend=backend, on_error=backend.on_auth_error)
        api = FastAPI()

        @api.api_route("/{rest:path}", methods=["GET", "HEAD", "POST", "DELETE"])
        async def anything(request: Request, claims: dict = Depends(require_token(policy))):
            self.seen.append(request.scope)
            return {"sub": claims.get("sub")}

        self.fastapi = api
        self.forward = {
            proxy: ForwardAuthApp(policy, prewarm=False, proxy=proxy) for proxy in ("nginx", "traefik", "envoy")
        }

    def call(self, front: str, method: str, raw: str, token: str | None) -> tuple[int, dict[str, str], str | None]:
        self.seen.clear()
        if front.startswith("forward-"):
            proxy = front.split("-", 1)[1]
            if proxy == "envoy":
                scope = http_scope(method, "/check" + raw, token)
            else:
                names = {
                    "nginx": (b"x-original-method", b"x-original-uri"),
                    "traefik": (b"x-forwarded-method", b"x-forwarded-uri"),
                }
                m, u = names[proxy]
                scope = http_scope(
                    "GET", "/check", token, [(m, method.encode()), (u, (raw + "?q=1").encode("latin-1"))]
                )
            status, headers, _, _ = run_asgi(self.forward[proxy], scope)
            return status, headers, None
        app = {"middleware": self.middleware, "backend": self.backend, "fastapi": self.fastapi}[front]
        status, headers, _, _ = run_asgi(app, http_scope(method, raw, token))
        reached = self.seen[0]["path"] if self.seen else None
        return status, headers, reached


FRONTS = ["middleware", "backend", "fastapi", "forward-nginx", "forward-traefik", "forward-envoy"]


@pytest.fixture(scope="module")
def fronts(policy) -> FrontEnds:
    return FrontEnds(policy)


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("case", ROUTE_CASES, ids=[c[0] for c in ROUTE_CASES])
def test_route_table_through_every_front_end(fronts, keys, front, case):
    _, method, path, make, status, error = case
    token = make(keys)
    if front == "fastapi" and path.startswith("/public"):
        # require_token needs a token even where the policy's route does not.
        status, error = 401, ("invalid_token" if token else None)
    got, headers, reached = fronts.call(front, method, path, token)
    assert got == status
    if status == 200 and front != "fastapi" and not front.startswith("forward-"):
        assert reached == path
    if status in (401, 403):
        www = headers.get("www-authenticate", "")
        assert www.startswith('Bearer realm="api"')
        assert (f'error="{error}"' in www) if error else ("error=" not in www)


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("case", BYPASS_CASES, ids=[c[0] for c in BYPASS_CASES])
def test_bypass_attempts_through_every_front_end(fronts, keys, front, case):
    _, raw, make, passing_on, strict = case
    status, _, reached = fronts.call(front, "GET", raw, make(keys))
    assert status == (passing_on if front == "middleware" else strict)
    assert reached is None


def test_the_middleware_passes_the_normal_path_on(fronts, keys):
    status, _, reached = fronts.call("middleware", "GET", "/secure/../public/%41", None)
    assert status == 200 and reached == "/public/A"
    assert fronts.seen[0]["raw_path"] == b"/public/A"
    status, _, reached = fronts.call("middleware", "GET", "/public/a%3Fb", None)
    assert status == 200 and reached == "/public/a?b" and fronts.seen[0]["raw_path"] == b"/public/a%3Fb"


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(min_size=0, max_size=60), method=st.sampled_from([b"GET", b"POST", b"get", b"G ET", b""]))
def test_any_original_request_gets_an_answer(fronts, raw, method):
    """Arbitrary bytes as the original path (and odd methods): 200/400/401/403, never an
    exception, through the forward-auth app and the middleware."""
    headers = [(b"x-original-method", method), (b"x-original-uri", raw)]
    status, _, _, _ = run_asgi(fronts.forward["nginx"], http_scope("GET", "/check", None, headers))
    assert status in (200, 400, 401)
    scope = http_scope("GET", "/", None)
    scope["raw_path"] = raw
    scope["method"] = method.decode("latin-1")
    status, _, _, _ = run_asgi(fronts.middleware, scope)
    assert status in (200, 400, 401)


def test_insufficient_scope_names_scopes_and_roles(fronts, keys):
    status, headers, _ = fronts.call("middleware", "GET", "/reports/1", corp_token(keys, ["api-guest"]))
    www = headers["www-authenticate"]
    assert status == 403 and 'error="insufficient_scope"' in www and 'scope="reports:read"' in www
    assert "one of the roles user" in www
    status, headers, _ = fronts.call("middleware", "GET", "/secure", USER(keys))
    www = headers["www-authenticate"]
    assert status == 403 and "scope=" not in www and 'error_description="The token lacks one of the roles admin"' in www


@pytest.mark.parametrize(
    "proxy, headers",
    [
        ("nginx", []),
        ("nginx", [(b"x-original-method", b"GET")]),
        ("nginx", [(b"x-original-method", b"GET"), (b"x-original-uri", b"/a"), (b"x-original-uri", b"/b")]),
        ("nginx", [(b"x-forwarded-method", b"GET"), (b"x-forwarded-uri", b"/public")]),  # not nginx's headers
        ("traefik", [(b"x-original-method", b"GET"), (b"x-original-uri", b"/public")]),
        ("nginx", [(b"x-original-method", b"G ET"), (b"x-original-uri", b"/public")]),
        ("nginx", [(b"x-original-method", b"GET"), (b"x-original-uri", b"https://api.test/public")]),
    ],
)
def test_forward_auth_refuses_requests_without_the_proxys_headers(fronts, proxy, headers):
    status, _, body, _ = run_asgi(fronts.forward[proxy], http_scope("GET", "/check", None, headers))
    assert status == 400 and json.loads(body)["error"] == "invalid_request"


def test_envoy_check_path_must_carry_the_prefix(fronts):
    status, _, _, _ = run_asgi(fronts.forward["envoy"], http_scope("GET", "/public/x", None))
    assert status == 400
    status, _, _, _ = run_asgi(fronts.forward["envoy"], http_scope("GET", "/check/public/x", None))
    assert status == 200


def test_forward_auth_sends_claim_headers_only_for_a_token(fronts, keys):
    nginx = fronts.forward["nginx"]
    scope = http_scope(
        "GET",
        "/check",
        corp_token(keys, ["api-user"]),
        [(b"x-original-method", b"GET"), (b"x-original-uri", b"/private")],
    )
    status, headers, _, _ = run_asgi(nginx, scope)
    assert status == 200 and headers["x-auth-subject"] == "alice"
    scope = http_scope("GET", "/check", None, [(b"x-original-method", b"GET"), (b"x-original-uri", b"/public")])
    status, headers, _, _ = run_asgi(nginx, scope)
    assert status == 200 and "x-auth-subject" not in headers


def test_partner_roles_come_from_its_own_claim(policy, keys):
    # The partner's tokens are read with its roles table: its realm_access is not looked at.
    token = partner_token(keys, ["partner-readers"], realm_access={"roles": ["api-admin"]})
    with pytest.raises(InsufficientScopeError):
        policy.authorize("GET", "/secure", token)


@pytest.mark.e2e
def test_turbojwt_serve_as_envoys_ext_authz_service(tmp_path):
    """`turbojwt serve --proxy envoy` (overriding the example's nginx): the original path is
    the check request's own, after /check, read as sent (granian's raw_path)."""
    import socket

    import httpx

    from helpers.jwks_server import Provider as JWKSServer
    from helpers.route_cases import REPORTER, example_toml
    from turbojwt.algorithms import RSAAlgorithm

    keys = Keys()
    idp = JWKSServer().start()
    idp.jwks = {"keys": [{**json.loads(RSAAlgorithm.to_jwk(keys.corp.public_key())), "kid": "c1", "use": "sig"}]}
    config = example_toml(keys, tmp_path, f"{idp.url}/jwks.json")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = subprocess.Popen(
        [sys.executable, "-m", "turbojwt", "serve", "--config", str(config), "--port", str(port), "--proxy", "envoy"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def send(method: str, target: str, token: str | None = None) -> int:
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: a\r\n{auth}Connection: close\r\n\r\n".encode())
            return int(sock.recv(65536).split(b" ", 2)[1])

    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "turbojwt serve did not come up"
            time.sleep(0.05)
        assert send("GET", "/check/public/x?a=1") == 200
        assert send("GET", "/check/secure/x") == 401
        assert send("GET", "/check/secure%2Fx") == 400  # the path as sent, not granian's decoded one
        assert send("GET", "/check/public/../secure") == 400
        assert send("GET", "/secure/x") == 400  # not under the path prefix
        assert send("GET", "/check/reports/1", REPORTER(keys)) == 200
        assert send("POST", "/check/reports/1", REPORTER(keys)) == 403  # the check request's method
    finally:
        serve.terminate()
        try:
            serve.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.communicate()
        idp.stop()


# ----------------------------------------------------------------------- the CLI


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "turbojwt", "policy", *args], capture_output=True, text=True)


def test_policy_check(tmp_path):
    ok = cli("check", str(EXAMPLE))
    assert ok.returncode == 0 and "valid; 2 provider(s) (corp, partner), 5 route(s)" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(
        textwrap.dedent("""
        [[provider]]
        issuer = "https://idp"
        key_file = "nowhere.pem"
        algorithms = ["RS256"]
        """)
    )
    result = cli("check", str(bad))
    assert result.returncode == 2 and "cannot read key file" in result.stderr
    routes = tmp_path / "routes.toml"
    (tmp_path / "k.pem").write_text("a secret that is long enough for HS256 ok!")
    routes.write_text(
        textwrap.dedent("""
        [[provider]]
        issuer = "https://idp"
        key_file = "k.pem"
        algorithms = ["HS256"]

        [[route]]
        path = "/public/*"
        auth = "public"
        """)
    )
    result = cli("check", str(routes))
    assert result.returncode == 2 and "match no route" in result.stderr and "/public/*" in result.stderr


def test_policy_explain():
    result = cli("explain", str(EXAMPLE), "GET", "/secure/./x?y=1")
    assert result.returncode == 0
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    assert lines["path"].strip() == "/secure/x"
    assert lines["route"].strip() == "route 3: path /secure/*, methods any"
    assert lines["auth"].strip() == "required" and lines["roles"].strip() == "any of admin"
    assert lines["scopes"].strip() == "api:read"
    assert "refuse it (400)" in lines["note"]
    assert "partner (https://partner.example.net): max_age 600 s, roles from groups, mapped" in result.stdout
    assert "corp (https://login.example.com/realms/corp): max_age 3600 s" in result.stdout
    public = cli("explain", str(EXAMPLE), "GET", "/public")
    assert "auth:     public" in public.stdout.replace("auth:    ", "auth:     ") and "provider" not in public.stdout
    refused = cli("explain", str(EXAMPLE), "GET", "/secure%2Fx")
    assert refused.returncode == 0 and "400 invalid_request" in refused.stdout
    default = cli("explain", str(EXAMPLE), "PUT", "/orders/1")
    assert "[default_route]" in default.stdout and "any of user" in default.stdout
