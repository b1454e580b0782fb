"""resty.turbojwt's access() options in a real nginx (Debian's, with its lua module), beyond
what the example uses: a verifier made in init_worker_by_lua (not watched), optional tokens,
ngx.ctx, roles from the scope claims and from a nested claim, nested claim headers, a bad
option, an unknown verifier name."""

from __future__ import annotations

import http.client
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
from hypothesis import strategies as st

import turbojwt
from helpers import capi_build
from helpers.lua import LUA_DIR, LUA_MODULE, nginx_with_lua
from helpers.nginx import free_port, running
from turbojwt.gateway.policy import header_value

pytestmark = pytest.mark.e2e  # nginx as a process

NGINX = nginx_with_lua()
if NGINX is None:
    if os.environ.get("CI"):
        raise RuntimeError("nginx with libnginx-mod-http-lua and lua-cjson is missing and could not be installed")
    pytest.skip("nginx's lua module is not installed and cannot be installed here", allow_module_level=True)

SECRET = "an HMAC secret of at least 32 bytes"

CONF = """
load_module {modules}/ndk_http_module.so;
load_module {lua_module};
worker_processes 1;
{user}
pid logs/nginx.pid;
error_log logs/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    lua_package_path "{lua}/?.lua;;";

    init_worker_by_lua_block {{
        local turbojwt = require "resty.turbojwt"
        assert(turbojwt.library({library}))
        -- A verifier kept in a module of its own (as an APISIX plugin would keep it).
        package.loaded.test_verifiers = {{
            hs = assert(turbojwt.new{{
                key = {secret}, key_kind = "secret", algorithms = {{ "HS256" }}, audience = "api", cache = 100,
            }}),
        }}
        package.loaded.ctx_jwt = {{ ctx_key = "jwt" }} -- (options kept: checked once)
    }}

    server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        location = /ping {{ return 200 "{{}}"; }}
        location = /runtime {{
            content_by_lua_block {{
                ngx.say(require("cjson").encode({{
                    resty_core = package.loaded["resty.core"] ~= nil, jit = jit and jit.version or "",
                    ngx_lua = ngx.config.ngx_lua_version, library = require("resty.turbojwt").library(),
                }}))
            }}
        }}

        location /optional {{
            access_by_lua_block {{
                require("resty.turbojwt").access(package.loaded.test_verifiers.hs,
                    {{ optional = true, claim_headers = {{ ["X-Sub"] = "sub" }}, ctx_key = "jwt" }})
            }}
            content_by_lua_block {{
                local cjson = require "cjson"
                local claims = ngx.ctx.jwt
                ngx.say(cjson.encode({{ header = ngx.req.get_headers()["x-sub"] or cjson.null,
                                        sub = claims and claims.sub or cjson.null }}))
            }}
        }}

        location /scopes {{
            access_by_lua_block {{
                require("resty.turbojwt").access(package.loaded.test_verifiers.hs,
                    {{ realm = "files", roles = {{ "read", "write" }}, ctx_key = "token" }})
            }}
            content_by_lua_block {{ ngx.say(require("cjson").encode({{ sub = ngx.ctx.token.sub }})) }}
        }}

        location /nested {{
            access_by_lua_block {{
                require("resty.turbojwt").access(package.loaded.test_verifiers.hs, {{
                    roles_claim = "realm_access.roles", roles = {{ "admin" }},
                    claim_headers = {{ ["X-Roles"] = "realm_access.roles", ["X-Tenant"] = "org.tenant",
                                      ["X-Org"] = "org", ["X-Level"] = "org.level", ["X-Flag"] = "flag" }},
                }})
            }}
            content_by_lua_block {{ ngx.say(require("cjson").encode(ngx.req.get_headers())) }}
        }}

        location /source {{
            access_by_lua_block {{
                require("resty.turbojwt").access(package.loaded.test_verifiers.hs,
                    {{ cookie = "session", query = "jwt", ctx_key = "jwt" }})
            }}
            content_by_lua_block {{ ngx.say(require("cjson").encode({{ sub = ngx.ctx.jwt.sub }})) }}
        }}

        location /bad-option {{
            access_by_lua_block {{
                require("resty.turbojwt").access(package.loaded.test_verifiers.hs, {{ realm = 'a"b' }})
            }}
            content_by_lua_block {{ ngx.say("{{}}") }}  # (`return` would answer before the access phase)
        }}

        location /memo {{
            access_by_lua_block {{
                require("resty.turbojwt").access(package.loaded.test_verifiers.hs,
                    {{ roles = {{ "read" }}, claim_headers = {{ ["X-Sub"] = "sub", ["X-Org"] = "org" }},
                       ctx_key = "jwt" }})
            }}
            content_by_lua_block {{
                local headers = ngx.req.get_headers()
                -- Encoded (iterated) before any member is read: a plain table.
                ngx.say(require("cjson").encode({{ claims = ngx.ctx.jwt,
                    sub = headers["x-sub"] or "", org = headers["x-org"] or "" }}))
            }}
        }}

        location /mutate {{
            access_by_lua_block {{
                require("resty.turbojwt").access(package.loaded.test_verifiers.hs, package.loaded.ctx_jwt)
            }}
            content_by_lua_block {{
                local claims = ngx.ctx.jwt
                claims.extra = "set"  -- an assignment first: it decodes the claims too
                local seen = {{ sub = claims.sub, extra = claims.extra, scope = claims.scope or "" }}
                claims.sub, claims.scope = "changed", "admin"
                ngx.say(require("cjson").encode(seen))
            }}
        }}

        location /no-ctx {{
            access_by_lua_block {{
                require("resty.turbojwt").access(package.loaded.test_verifiers.hs,
                    {{ claim_headers = {{ ["X-Sub"] = "sub" }} }})
            }}
            content_by_lua_block {{
                ngx.say(require("cjson").encode({{ ctx = ngx.ctx.jwt ~= nil, sub = ngx.var.http_x_sub }}))
            }}
        }}

        location /unknown {{
            access_by_lua_block {{ require("resty.turbojwt").access("nobody", {{}}) }}
            content_by_lua_block {{ ngx.say("{{}}") }}  # (`return` would answer before the access phase)
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    prefix = tmp_path_factory.mktemp("nginx-lua-access")
    port = free_port()
    conf = CONF.format(
        modules=LUA_MODULE.parent,
        lua_module=LUA_MODULE,
        user="user root;" if os.geteuid() == 0 else "",
        lua=LUA_DIR,
        library=json.dumps(str(capi_build.library())),
        secret=json.dumps(SECRET),
        port=port,
    )
    url = f"http://127.0.0.1:{port}"
    with running(NGINX, prefix, conf, url + "/ping") as log:
        yield {"url": url, "log": log}


def token(**claims: Any) -> str:
    return turbojwt.encode({"aud": "api", "sub": "alice", "exp": int(time.time()) + 300, **claims}, SECRET, "HS256")


def get(server: dict[str, Any], path: str, tok: str | None = None, **headers: str) -> httpx.Response:
    if tok is not None:
        headers["Authorization"] = f"Bearer {tok}"
    return httpx.get(server["url"] + path, headers=headers)


def test_runtime(server: dict[str, Any]) -> None:
    """Debian's lua module runs LuaJIT with lua-resty-core loaded (0.10.16 and later refuse to
    run without it), and the module found this checkout's library."""
    runtime = httpx.get(server["url"] + "/runtime").json()
    assert runtime["resty_core"] is True and runtime["jit"].startswith("LuaJIT 2.1")
    assert runtime["ngx_lua"] >= 10016
    assert runtime["library"] == capi_build.cffi_package().Library(capi_build.library(), capi_build.HEADER).version


def test_optional(server: dict[str, Any]) -> None:
    r = get(server, "/optional", **{"X-Sub": "forged"})
    assert r.status_code == 200 and r.json() == {"header": None, "sub": None}
    r = get(server, "/optional", token(), **{"X-Sub": "forged"})
    assert r.json() == {"header": "alice", "sub": "alice"}
    # A bad token is refused even where a token is optional.
    assert get(server, "/optional", token(aud="other")).status_code == 401


def test_roles_from_the_scope_claims(server: dict[str, Any]) -> None:
    assert get(server, "/scopes", token(scope="read write")).json() == {"sub": "alice"}
    assert get(server, "/scopes", token(scp=["write", "read"])).status_code == 200
    assert get(server, "/scopes", token(scope="read", scp="write")).status_code == 200
    for claims, missing in (({"scp": ["read"]}, "write"), ({"scope": "read\twrite"}, "read write"), ({}, "read write")):
        r = get(server, "/scopes", token(**claims))
        assert r.status_code == 403, claims
        assert r.headers["www-authenticate"] == (
            'Bearer realm="files", error="insufficient_scope", '
            f'error_description="The token lacks a required scope", scope="{missing}"'
        )


def test_nested_claims(server: dict[str, Any]) -> None:
    org = {"tenant": "t1", "level": 3}
    tok = token(realm_access={"roles": ["admin", "ops"]}, org=org, flag=True)
    r = get(server, "/nested", tok, **{"X-Tenant": "forged", "X-Flag": "forged"})
    assert r.status_code == 200
    seen = r.json()
    assert seen["x-roles"] == "admin,ops" and seen["x-tenant"] == "t1" and seen["x-level"] == "3"
    assert seen["x-flag"] == header_value(True) == "true"
    one_member = token(realm_access={"roles": "admin"}, org={"tenant": "Zoë"})
    seen = get(server, "/nested", one_member).json()
    assert seen["x-org"] == header_value({"tenant": "Zoë"}) == "{%22tenant%22:%22Zo\\u00eb%22}"
    assert "x-flag" not in seen and "x-level" not in seen
    r = get(server, "/nested", token(realm_access={"roles": ["ops"]}))
    assert r.status_code == 403 and 'scope="admin"' in r.headers["www-authenticate"]


def test_claims_stay_out_of_ngx_ctx_without_ctx_key(server: dict[str, Any]) -> None:
    tok = token()
    for _ in range(3):  # the first request decodes the claims, the next ones use the memo
        assert get(server, "/no-ctx", tok).json() == {"ctx": False, "sub": "alice"}
    assert get(server, "/no-ctx", token(aud="other")).status_code == 401


def test_bad_option_is_a_500_and_logged(server: dict[str, Any]) -> None:
    assert get(server, "/bad-option", token()).status_code == 500
    assert "turbojwt.access: realm must be printable ASCII" in server["log"].read_text(errors="replace")


def test_unknown_verifier_is_a_503(server: dict[str, Any]) -> None:
    r = get(server, "/unknown", token())
    assert r.status_code == 503
    assert r.json() == {"error": "temporarily_unavailable", "error_description": "The signing keys are unavailable"}
    assert get(server, "/unknown").status_code == 401


def test_log_lines_escape_the_message(server: dict[str, Any], tmp_path: Path) -> None:
    """A refusal's message can quote the token's header: bytes outside printable ASCII are
    escaped in the log line."""
    import base64

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = json.dumps({"alg": "HS256", "crit": ["x\ny\u00e9"]}).encode()
    tok = f"{b64(header)}.{b64(b'{}')}.{b64(b'sig')}"
    with pytest.raises(turbojwt.PyJWTError) as e:
        turbojwt.decode(tok, SECRET, algorithms=["HS256"], audience="api")
    r = get(server, "/optional", tok)
    assert r.status_code == 401
    escaped = str(e.value).replace("\n", "\\x0a").replace("é", "\\xc3\\xa9")
    assert escaped != str(e.value)
    assert f"turbojwt: token refused: {type(e.value).__name__}: {escaped}" in server["log"].read_text(errors="replace")


# The pieces requests are made of: two valid tokens, malformed ones, and the ways of writing
# them that TokenSource accepts, refuses as ambiguous or ignores.
T = token(sub="tom")
U = token(sub="uma")
AUTHORIZATIONS = [
    f"Bearer {T}",
    f"Bearer   {T}",
    f"bearer {U}",
    f"Bearer\t{T}",
    f"Bearer {T} {U}",
    "Bearer",
    "Bearer not-a-token",
    'Bearer "quoted"',
    "Basic eDp5",
    "(",
]
COOKIE_PAIRS = [
    f"session={T}",
    f"session={U}",
    f'session="{T}"',
    "session=",
    "theme=dark",
    f" session = {T}",
    'session=a"b',
    "session=not-a-token",
    "other=1=2",
]
QUERY_PARAMS = [f"jwt={T}", f"jwt={U}", "jwt=", "x=1", f"jwt={T};jwt={U}", "jwt=%2Bab", "jwt=a+b", "jwt", "a=b;jwt=c"]


def expected_answer(headers: list[tuple[str, str]], query: str) -> tuple[int, dict[str, Any]]:
    """What the Python gateway answers for the same request: TokenSource, then the token's
    verdict and denial."""
    from turbojwt.gateway.asgi import MISSING, BadRequest, TokenSource, denial_for

    scope = {
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "query_string": query.encode("latin-1"),
    }
    try:
        found = TokenSource(cookie="session", query_param="jwt").token(scope)
    except BadRequest as e:
        return 400, {"error": "invalid_request", "error_description": str(e)}
    if found is None:
        return MISSING.status, MISSING.document()
    try:
        claims = turbojwt.decode(found, SECRET, algorithms=["HS256"], audience="api")
    except turbojwt.PyJWTError as e:
        denial = denial_for(e)
        return denial.status, denial.document()
    return 200, {"sub": claims["sub"]}


@hypothesis.settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
@hypothesis.given(
    authorization=st.none() | st.sampled_from(AUTHORIZATIONS),
    cookies=st.lists(st.lists(st.sampled_from(COOKIE_PAIRS), min_size=1, max_size=3), max_size=2),
    query=st.lists(st.sampled_from(QUERY_PARAMS), max_size=3),
)
def test_token_sources_answer_as_the_gateway(
    server: dict[str, Any], authorization: str | None, cookies: list[list[str]], query: list[str]
) -> None:
    """The token of a request (Authorization header, session cookie, jwt parameter: malformed,
    repeated, ambiguous) gives the answer the Python gateway's TokenSource and denial give."""
    headers = [] if authorization is None else [("Authorization", authorization)]
    headers += [("Cookie", "; ".join(pairs)) for pairs in cookies]
    query_string = "&".join(query)
    want = expected_answer(headers, query_string)
    conn = http.client.HTTPConnection(server["url"].removeprefix("http://"), timeout=10)
    try:
        conn.putrequest("GET", "/source" + (f"?{query_string}" if query_string else ""), skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        got = (response.status, json.loads(response.read()))
    finally:
        conn.close()
    assert got == want, (headers, query_string)


def test_repeated_authorization_values_keep_their_answers(server: dict[str, Any]) -> None:
    """access() keeps the tokens of recent Authorization values (no pattern matching on a
    repeat): a repeated value gets the same answer, and the same value sent twice in one
    request is still refused (by nginx itself, which refuses a second Authorization header)."""
    tok = token()
    for _ in range(3):
        assert get(server, "/optional", tok).json() == {"header": "alice", "sub": "alice"}
        assert get(server, "/optional", Authorization=f"Bearer {tok}!").status_code == 400
    conn = http.client.HTTPConnection(server["url"].removeprefix("http://"), timeout=10)
    try:
        conn.putrequest("GET", "/optional", skip_accept_encoding=True)
        conn.putheader("Authorization", f"Bearer {tok}")
        conn.putheader("Authorization", f"Bearer {tok}")
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 400
    finally:
        conn.close()


def test_repeated_tokens_keep_their_answers(server: dict[str, Any]) -> None:
    """access() keeps what it derives from a verified token's claims (headers, missing roles,
    the claims JSON) per token: a repeated token gets the same answer, its claims (decoded
    on demand) are the token's and a request's changes to them do not reach the next one."""
    org = {"tenant": "Zoë"}  # one member: cjson's order of members is not the token's
    tok = token(scope="read", org=org, level=3)
    want = {"claims": turbojwt.decode(tok, SECRET, ["HS256"], audience="api"), "sub": "alice", "org": header_value(org)}
    for _ in range(3):
        r = get(server, "/memo", tok, **{"X-Sub": "forged", "X-Org": "forged"})
        assert r.status_code == 200 and r.json() == want
    lacking = token(scope="write")
    for _ in range(3):
        r = get(server, "/memo", lacking)
        assert r.status_code == 403 and 'scope="read"' in r.headers["www-authenticate"]
    # A different signature on the same claims is another token, verified on its own.
    forged = tok[: tok.rindex(".") + 1] + ("A" if tok[-1] != "A" else "B") * len(tok.rsplit(".", 1)[1])
    assert get(server, "/memo", forged).status_code == 401
    for _ in range(3):
        assert get(server, "/mutate", tok).json() == {"sub": "alice", "extra": "set", "scope": "read"}


def test_a_repeated_token_expires(server: dict[str, Any]) -> None:
    """The library verifies a repeated token on every request (its exp against the clock):
    what access() kept of it does not let it through once it has expired."""
    exp = int(time.time()) + 2
    tok = token(exp=exp)
    assert get(server, "/memo", tok).status_code == 403  # verified: no "read" scope
    assert get(server, "/mutate", tok).status_code == 200
    time.sleep(max(0.0, exp + 1.1 - time.time()))
    for path in ("/memo", "/mutate"):
        r = get(server, path, tok)
        assert r.status_code == 401
        assert 'error_description="The token has expired"' in r.headers["www-authenticate"]
