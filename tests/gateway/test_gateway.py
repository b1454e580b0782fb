"""Gateway policies (TOML, several providers, any-of/all-of, typ, scopes, claim headers) and
the ASGI middleware, FastAPI dependency and Starlette backend under their test clients, with
keys from a real local JWKS server."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import turbojwt
from helpers.jwks_server import Provider as JWKSServer
from turbojwt.algorithms import RSAAlgorithm
from turbojwt.gateway import (
    InsufficientScopeError,
    InvalidTypeError,
    JWTAuthMiddleware,
    Policy,
    PolicyError,
    check_scopes,
    token_scopes,
)

starlette = pytest.importorskip("starlette")
pytest.importorskip("fastapi")
from fastapi import Depends, FastAPI  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.authentication import requires  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.middleware.authentication import AuthenticationMiddleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route, WebSocketRoute  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from turbojwt.gateway.frameworks import JWTAuthBackend, require_token  # noqa: E402

CORP = "https://corp.example"
PARTNER = "https://partner.example"


@pytest.fixture(scope="module")
def keys():
    return {"corp": rsa.generate_private_key(65537, 2048), "partner": ec.generate_private_key(ec.SECP256R1())}


@pytest.fixture(scope="module")
def idp(keys):
    server = JWKSServer().start()
    server.jwks = {"keys": [{**json.loads(RSAAlgorithm.to_jwk(keys["corp"].public_key())), "kid": "c1"}]}
    yield server
    server.stop()


@pytest.fixture
def config(tmp_path, idp, keys):
    pem = (
        keys["partner"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (tmp_path / "partner.pem").write_bytes(pem)
    path = tmp_path / "gateway.toml"
    path.write_text(
        textwrap.dedent(f"""
        mode = "any"
        realm = "orders"
        required_scopes = ["orders:read"]

        [[provider]]
        name = "corp"
        issuer = "{CORP}"
        jwks_url = "{idp.url}/jwks.json"
        audiences = ["orders-api"]
        algorithms = ["RS256"]
        leeway = 5
        required_claims = ["exp", "sub"]
        typ = "at+jwt"
        cache = 1000

        [[provider]]
        name = "partner"
        issuer = "{PARTNER}"
        key_file = "partner.pem"
        audience = "orders-api"
        algorithms = ["ES256"]

        [claim_to_headers]
        "X-Auth-Subject" = "sub"
        "X-Auth-Roles" = "realm_access.roles"
        "X-Auth-Tenant" = "ctx.tenant.id"
    """)
    )
    return path


def corp_token(keys, typ="at+jwt", **claims):
    now = int(time.time())
    body = {
        "iss": CORP,
        "aud": "orders-api",
        "sub": "alice",
        "exp": now + 300,
        "scope": "orders:read orders:write",
        "realm_access": {"roles": ["admin", "ops"]},
        "ctx": {"tenant": {"id": "t-1"}},
        **claims,
    }
    headers = {"kid": "c1", **({"typ": typ} if typ else {})}
    return turbojwt.encode(body, keys["corp"], algorithm="RS256", headers=headers)


def partner_token(keys, **claims):
    now = int(time.time())
    body = {"iss": PARTNER, "aud": "orders-api", "sub": "bob", "exp": now + 300, "scp": ["orders:read"], **claims}
    return turbojwt.encode(body, keys["partner"], algorithm="ES256")


# ------------------------------------------------------------------------- policy


def test_policy_from_toml(config, keys):
    policy = Policy.from_toml(config)
    assert [p.name for p in policy.providers] == ["corp", "partner"]
    v = policy.verify(corp_token(keys))
    assert v.provider == "corp" and v.claims["sub"] == "alice"
    assert policy.headers_for(v.claims) == {
        "X-Auth-Subject": "alice",
        "X-Auth-Roles": "admin,ops",
        "X-Auth-Tenant": "t-1",
    }
    v = policy.verify(partner_token(keys))
    assert v.provider == "partner" and v.claims["sub"] == "bob"
    assert policy.headers_for(v.claims) == {"X-Auth-Subject": "bob"}


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda k: corp_token(k, typ="JWT"), InvalidTypeError),
        (lambda k: corp_token(k, typ=None), InvalidTypeError),
        (lambda k: corp_token(k, aud="other"), turbojwt.InvalidAudienceError),
        (lambda k: corp_token(k, exp=int(time.time()) - 60), turbojwt.ExpiredSignatureError),
        (lambda k: corp_token(k, iss="https://evil.example"), turbojwt.InvalidIssuerError),
        (lambda k: corp_token(k, scope="orders:write"), InsufficientScopeError),
        (lambda k: partner_token(k, scp=[]), InsufficientScopeError),
        # Signed by the partner's key but claiming the corp issuer: corp's keys refuse it.
        (
            lambda k: turbojwt.encode(
                {"iss": CORP, "aud": "orders-api", "sub": "x", "exp": int(time.time()) + 60},
                k["partner"],
                algorithm="ES256",
                headers={"kid": "c1", "typ": "at+jwt"},
            ),
            turbojwt.InvalidAlgorithmError,
        ),
    ],
)
def test_policy_refusals(config, keys, make, error):
    policy = Policy.from_toml(config)
    with pytest.raises(error):
        policy.verify(make(keys))


def test_typ_accepts_the_media_type_form(config, keys):
    policy = Policy.from_toml(config)
    assert policy.verify(corp_token(keys, typ="application/at+jwt")).provider == "corp"


def test_all_of_mode(tmp_path, keys):
    # Two providers sharing the issuer and key, with different audiences: all must accept.
    pem = (
        keys["partner"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (tmp_path / "k.pem").write_bytes(pem)
    base = {"issuer": PARTNER, "key_file": "k.pem", "algorithms": ["ES256"]}
    policy = Policy.from_dict(
        {
            "mode": "all",
            "provider": [
                {**base, "name": "a", "audiences": ["orders-api"]},
                {**base, "name": "b", "audiences": ["orders-api", "billing"]},
            ],
        },
        base=tmp_path,
    )
    assert policy.verify(partner_token(keys)).provider == "a"
    strict = Policy.from_dict(
        {
            "mode": "all",
            "provider": [
                {**base, "name": "a", "audiences": ["orders-api"]},
                {**base, "name": "b", "audiences": ["billing"]},
            ],
        },
        base=tmp_path,
    )
    with pytest.raises(turbojwt.InvalidAudienceError):
        strict.verify(partner_token(keys))


def test_scopes():
    assert token_scopes({"scope": "a b", "scp": ["c", 1]}) == {"a", "b", "c"}
    assert token_scopes({"scp": "d e"}) == {"d", "e"}
    check_scopes({"scope": "a b"}, ["a"])
    with pytest.raises(InsufficientScopeError) as info:
        check_scopes({"scope": "a"}, ["a", "b", "c"])
    assert info.value.needed == ["b", "c"]


@pytest.mark.parametrize(
    "doc, match",
    [
        ({}, "at least one"),
        ({"provider": []}, "at least one"),
        ({"provider": [{"issuer": "x", "algorithms": ["RS256"]}]}, "exactly one of"),
        (
            {
                "provider": [{"issuer": "x", "jwks_url": "https://x/j", "key_file": "k"}],
            },
            "algorithms is required",
        ),
        ({"provider": [{"algorithms": ["RS256"], "jwks_url": "https://x/j"}]}, "issuer is required"),
        ({"provider": [{"issuer": "x", "algorithms": ["RS256"], "jwks_url": "file:///etc/passwd"}]}, "http"),
        ({"provider": [{"issuer": "x", "algorithms": ["RS256"], "key_file": "missing.pem"}]}, "cannot read"),
        ({"provider": [{"issuer": "x", "algorithms": "RS256", "jwks_url": "https://x/j", "leeway": "5"}]}, "leeway"),
        ({"provider": [{"issuer": "x", "algorithms": ["RS256"], "jwks_url": "https://x/j", "colour": 1}]}, "colour"),
        ({"mode": "some", "provider": [{"issuer": "x", "algorithms": ["RS256"], "jwks_url": "https://x/j"}]}, "mode"),
        ({"provider": [{"issuer": "x", "algorithms": ["RS256"], "jwks_url": "https://x/j"}], "extra": 1}, "extra"),
        (
            {
                "provider": [
                    {"name": "a", "issuer": "x", "algorithms": ["RS256"], "jwks_url": "https://x/j"},
                    {"name": "b", "issuer": "x", "algorithms": ["RS256"], "jwks_url": "https://x/k"},
                ]
            },
            "issuer",
        ),
    ],
)
def test_bad_policies(tmp_path, doc, match):
    with pytest.raises(PolicyError, match=match):
        Policy.from_dict(doc, base=tmp_path)


def test_bad_toml(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text("mode = ")
    with pytest.raises(PolicyError, match="not valid TOML"):
        Policy.from_toml(path)
    with pytest.raises(PolicyError, match="cannot read"):
        Policy.from_toml(tmp_path / "none.toml")


# ------------------------------------------------------------------------- ASGI


def www_authenticate(response) -> str:
    return response.headers.get("www-authenticate", "")


@pytest.fixture
def starlette_app(config):
    policy = Policy.from_toml(config)

    async def whoami(request: Request):
        return JSONResponse(
            {"sub": request.state.jwt["sub"] if request.state.jwt else None, "provider": request.state.jwt_provider}
        )

    async def ws(websocket):
        await websocket.accept()
        await websocket.send_json({"sub": websocket.state.jwt["sub"]})
        await websocket.close()

    app = Starlette(
        routes=[Route("/whoami", whoami), Route("/healthz", lambda r: JSONResponse("ok")), WebSocketRoute("/ws", ws)]
    )
    return JWTAuthMiddleware(app, policy, skip_paths=["/healthz"], cookie="session", query_param="access_token")


def test_middleware_accepts_and_exposes_claims(starlette_app, keys):
    client = TestClient(starlette_app)
    r = client.get("/whoami", headers={"Authorization": f"Bearer {corp_token(keys)}"})
    assert r.status_code == 200 and r.json() == {"sub": "alice", "provider": "corp"}
    client.cookies.set("session", partner_token(keys))
    r = client.get("/whoami")
    assert r.json() == {"sub": "bob", "provider": "partner"}
    client.cookies.clear()
    r = client.get(f"/whoami?access_token={partner_token(keys)}")
    assert r.json()["sub"] == "bob"
    assert client.get("/healthz").status_code == 200
    with client.websocket_connect("/ws", headers={"Authorization": f"Bearer {corp_token(keys)}"}) as ws:
        assert ws.receive_json() == {"sub": "alice"}


def test_middleware_rfc6750_answers(starlette_app, keys):
    client = TestClient(starlette_app)
    r = client.get("/whoami")
    assert r.status_code == 401
    assert www_authenticate(r) == 'Bearer realm="orders"'
    assert r.json() == {"error": "unauthorized"}

    r = client.get("/whoami", headers={"Authorization": f"Bearer {corp_token(keys, exp=int(time.time()) - 60)}"})
    assert r.status_code == 401
    assert (
        www_authenticate(r) == 'Bearer realm="orders", error="invalid_token", error_description="The token has expired"'
    )
    assert r.json()["error"] == "invalid_token"

    forged = corp_token(keys)[:-6] + "AAAAAA"
    r = client.get("/whoami", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and 'error="invalid_token"' in www_authenticate(r)
    # The description is fixed text: nothing from the token is echoed.
    junk = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI8c2NyaXB0PiJ9.x"
    r = client.get("/whoami", headers={"Authorization": f"Bearer {junk}"})
    assert r.status_code == 401 and "<script>" not in r.text and "<script>" not in www_authenticate(r)
    # Characters outside RFC 6750's b64token set make the request malformed (and are not echoed).
    junk = 'eyJhbGciOiJIUzI1NiJ9."><script>.x'
    r = client.get("/whoami", headers={"Authorization": f"Bearer {junk}"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request" and "<script>" not in r.text

    r = client.get("/whoami", headers={"Authorization": f"Bearer {corp_token(keys, scope='orders:write')}"})
    assert r.status_code == 403
    assert www_authenticate(r) == (
        'Bearer realm="orders", error="insufficient_scope", '
        'error_description="The token lacks a required scope", scope="orders:read"'
    )

    for bad in ("Bearer", "Bearer a b", "Bearer  "):
        r = client.get("/whoami", headers={"Authorization": bad})
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", bad
    r = client.get("/whoami", headers=[("Authorization", "Bearer a"), ("Authorization", "Bearer b")])
    assert r.status_code == 400
    # Another scheme is not ours: treated as no token.
    r = client.get("/whoami", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401 and "error=" not in www_authenticate(r)
    with pytest.raises(Exception), client.websocket_connect("/ws"):
        pass


def test_optional_authentication(config, keys):
    policy = Policy.from_toml(config)

    async def whoami(request: Request):
        return JSONResponse({"claims": request.state.jwt})

    app = JWTAuthMiddleware(Starlette(routes=[Route("/", whoami)]), policy, optional=True)
    client = TestClient(app)
    assert client.get("/").json() == {"claims": None}
    assert client.get("/", headers={"Authorization": f"Bearer {corp_token(keys)}"}).json()["claims"]["sub"] == "alice"
    assert client.get("/", headers={"Authorization": "Bearer not.a.token"}).status_code == 401


def test_fastapi_dependency(config, keys):
    policy = Policy.from_toml(config)
    app = FastAPI()

    @app.get("/orders")
    async def orders(claims: dict = Depends(require_token(policy))):
        return {"sub": claims["sub"]}

    @app.post("/orders")
    async def create(claims: dict = Depends(require_token(policy, scopes=["orders:write"]))):
        return {"created_by": claims["sub"]}

    client = TestClient(app)
    assert client.get("/orders", headers={"Authorization": f"Bearer {corp_token(keys)}"}).json() == {"sub": "alice"}
    assert client.post("/orders", headers={"Authorization": f"Bearer {corp_token(keys)}"}).json() == {
        "created_by": "alice"
    }
    r = client.post("/orders", headers={"Authorization": f"Bearer {partner_token(keys)}"})
    assert r.status_code == 403 and 'scope="orders:write"' in www_authenticate(r)
    assert r.json()["detail"]["error"] == "insufficient_scope"
    r = client.get("/orders")
    assert r.status_code == 401 and www_authenticate(r) == 'Bearer realm="orders"'


def test_starlette_authentication_backend(config, keys):
    policy = Policy.from_toml(config)
    backend = JWTAuthBackend(policy)

    @requires("orders:write")
    async def create(request: Request):
        return JSONResponse({"user": request.user.display_name, "scopes": request.auth.scopes})

    app = Starlette(
        routes=[Route("/orders", create, methods=["POST"])],
        middleware=[Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_auth_error)],
    )
    client = TestClient(app)
    r = client.post("/orders", headers={"Authorization": f"Bearer {corp_token(keys)}"})
    assert r.status_code == 200 and r.json()["user"] == "alice"
    assert "orders:write" in r.json()["scopes"]
    # A bad token gets RFC 6750's 401, not Starlette's plain 400.
    r = client.post("/orders", headers={"Authorization": f"Bearer {corp_token(keys, exp=1)}"})
    assert r.status_code == 401 and 'error="invalid_token"' in www_authenticate(r)
    # No token: anonymous, and `requires` refuses.
    assert client.post("/orders").status_code == 403


def test_example_policy_loads():
    policy = Policy.from_toml(Path(__file__).resolve().parents[2] / "examples" / "gateway.toml")
    assert [p.name for p in policy.providers] == ["corp", "partner"]
    assert [name for name, _ in policy.jwks_clients()] == ["corp", "partner"]
    assert policy.providers[0].typ == "at+jwt"


# ------------------------------------------------------------------------- bad input

_header_bytes = st.binary(max_size=300) | st.builds(
    lambda scheme, body: (scheme + body).encode("latin-1", "replace"),
    st.sampled_from(["Bearer ", "bearer ", "Bearer", "Basic ", "", "Bearer  ", "BEARER\t"]),
    st.text(max_size=200),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(auth=st.lists(_header_bytes, max_size=3), cookie=st.binary(max_size=200), query=st.binary(max_size=200))
def test_any_request_gets_an_answer_never_an_exception(config, auth, cookie, query):
    """Random Authorization headers, cookies and query strings: the middleware always answers
    with 400/401 (or lets a valid token through), never raises."""
    policy = Policy.from_toml(config)
    sent: list[dict] = []
    reached = []

    async def app(scope, receive, send):
        reached.append(scope)

    middleware = JWTAuthMiddleware(app, policy, cookie="session", query_param="access_token")
    headers = [(b"authorization", a) for a in auth] + [(b"cookie", cookie)]
    scope = {"type": "http", "path": "/x", "headers": headers, "query_string": query}

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request"}

    asyncio.run(middleware(scope, receive, send))
    if reached:
        assert isinstance(reached[0]["state"]["jwt"], dict)
    else:
        assert sent[0]["type"] == "http.response.start" and sent[0]["status"] in (400, 401)
        assert json.loads(sent[1]["body"])["error"]


def test_the_policy_parses_a_token_once_in_python(config, keys, monkeypatch):
    # Routing by the unverified iss and the typ check come from native reads: no Python
    # parse of the token (decode_complete, get_unverified_header) on the way.
    import turbojwt.api_jws
    import turbojwt.api_jwt
    import turbojwt.gateway.policy

    def no(*a, **k):
        raise AssertionError("the token was parsed again in Python")

    policy = Policy.from_toml(config)
    for module in (turbojwt.api_jws, turbojwt.api_jwt, turbojwt.gateway.policy):
        for name in ("get_unverified_header", "decode_complete"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, no)
    monkeypatch.setattr(turbojwt.api_jws._jws_global_obj, "get_unverified_header", no)
    assert policy.verify(corp_token(keys)).provider == "corp"
    assert policy.verify(partner_token(keys)).provider == "partner"
    with pytest.raises(InvalidTypeError):
        policy.verify(corp_token(keys, typ="JWT"))
