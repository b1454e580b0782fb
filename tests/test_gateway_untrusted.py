"""The gateway never crashes on unverified input: what a token says before its signature is
checked (``iss``, ``typ``, ``kid``, ...), the credentials a request carries, and the claim
values passed on as headers are attacker input, answered with 200/400/401/403/503 and never
an exception."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time

import pytest

from turbojwt.gateway import JWTAuthMiddleware, Policy, Provider
from turbojwt.gateway.asgi import TokenSource, authenticate
from turbojwt.gateway.serve import ForwardAuthApp

pytest.importorskip("prometheus_client")

A_ISS, B_ISS = "https://a.example", "https://b.example"
A_KEY, B_KEY = "a-secret-0123456789abcdef0123456789", "b-secret-0123456789abcdef0123456789"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(header: object, payload: object, key: str = A_KEY) -> str:
    """An HS256 token over any JSON header and payload (the library's encode refuses the
    non-string ``iss``/``kid`` these tests need)."""
    h = b64(json.dumps(header).encode())
    p = b64(json.dumps(payload).encode())
    mac = hmac.new(key.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64(mac)}"


def claims(**extra: object) -> dict:
    return {"iss": A_ISS, "sub": "alice", "aud": "api", "exp": int(time.time()) + 300, "scope": "read", **extra}


def make_policy(**kwargs: object) -> Policy:
    """Two HS256 providers, any-of: the token's unverified ``iss`` picks the verifier."""
    return Policy([
        Provider("a", A_ISS, A_KEY, ["HS256"], audiences=["api"], typ="at+jwt"),
        Provider("b", B_ISS, B_KEY, ["HS256"], audiences=["api"]),
    ], required_scopes=["read"], **kwargs)


def call(app, headers: list[tuple[bytes, bytes]], path: str = "/check", query: bytes = b"") -> list[dict]:
    """One HTTP request through an ASGI app; the messages it sent."""
    sent: list[dict] = []
    scope = {"type": "http", "method": "GET", "path": path, "headers": headers, "query_string": query}

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


async def _ok(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


# ----------------------------------------------------------------- unverified iss

NOT_A_STRING = [["x"], [A_ISS], {"iss": A_ISS}, 1, 1.5, True, None, {}]


@pytest.mark.parametrize("iss", NOT_A_STRING, ids=repr)
def test_unverified_iss_that_is_not_a_string_is_an_invalid_token(iss):
    policy = make_policy()
    token = sign({"alg": "HS256", "typ": "at+jwt"}, claims(iss=iss))
    with pytest.raises(Exception) as info:
        policy.verify(token)
    assert type(info.value).__name__ == "InvalidIssuerError"
    with pytest.raises(Exception) as info:
        asyncio.run(policy.averify(token))
    assert type(info.value).__name__ == "InvalidIssuerError"
    for app in (JWTAuthMiddleware(_ok, policy), ForwardAuthApp(policy, prewarm=False)):
        start, body = call(app, bearer(token))
        assert start["status"] == 401
        assert json.loads(body["body"])["error"] == "invalid_token"


def test_a_string_iss_still_picks_its_provider():
    policy = make_policy()
    assert policy.verify(sign({"alg": "HS256", "typ": "at+jwt"}, claims())).provider == "a"
    assert policy.verify(sign({"alg": "HS256"}, claims(iss=B_ISS), B_KEY)).provider == "b"
