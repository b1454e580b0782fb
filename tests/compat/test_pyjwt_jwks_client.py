"""PyJWT's ``jwt.jwk_set_cache`` and ``jwt.jwks_client`` against turbojwt's: the JWK Set cache
under a fake clock, and PyJWKClient against a real local HTTP server (fetching, refresh and
cache options, error responses, connection errors, constructor validation, headers,
signing keys from tokens)."""

from __future__ import annotations

import http.server
import inspect
import json
import socket
import sys
import threading
import time
import types
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from helpers.pyjwt_modules import (
    KeyMaterial,
    _describe_pyjwk,
    _jwk_algo_for,
    _jwk_dicts,
    assert_no_mismatch,
    describe,
    japi_jwk,
    jcache,
    jclient,
    jwt,
    outcome,
    tapi_jwk,
    tcache,
    tclient,
    texc,
)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_jwk_set_cache_matches(monkeypatch: pytest.MonkeyPatch, km: KeyMaterial) -> None:
    clock = _Clock()
    # Both libraries read time.monotonic through the time module.
    monkeypatch.setattr(time, "monotonic", clock)
    jwks = _jwk_dicts(km)
    doc = {"keys": [jwks["oct"][0], jwks["p256/public"][0]]}

    def scenario(cache_mod: Any, jwk_mod: Any) -> list:
        clock.now = 1000.0
        trace = []
        cache = cache_mod.JWKSetCache(10)
        trace.append(("fresh", cache.get(), cache.is_expired(), cache.lifespan))
        trace.append(("put-dict", outcome(cache.put, doc)))
        got = cache.get()
        trace.append(("parsed", type(got).__name__, [k.key_id for k in got.keys]))
        for t in (1005.0, 1010.0, 1010.001, 2000.0):
            clock.now = t
            trace.append((t, cache.is_expired(), cache.get() is None))
        preparsed = jwk_mod.PyJWKSet.from_dict(doc)
        cache.put(preparsed)
        trace.append(("same-object", cache.get() is preparsed, cache.jwk_set_with_timestamp.get_timestamp()))
        cache.put(None)
        trace.append(("cleared", cache.get(), cache.jwk_set_with_timestamp, cache.is_expired()))
        for bad in ("string", ["list"], {"keys": []}, {"keys": [{"kty": "XYZ"}]}, {}, 5):
            trace.append(("bad", outcome(cache.put, bad), cache.jwk_set_with_timestamp))
        forever = cache_mod.JWKSetCache(-1)
        forever.put(doc)
        clock.now = 1e12
        trace.append(("forever", forever.is_expired(), forever.get() is not None))
        zero = cache_mod.JWKSetCache(0)
        zero.put(doc)
        trace.append(("zero", zero.is_expired(), zero.get() is not None))
        clock.now += 0.5
        trace.append(("zero-later", zero.is_expired(), zero.get() is None))
        return trace

    expected = scenario(jcache, japi_jwk)
    got = scenario(tcache, tapi_jwk)
    assert got == expected
    assert ("parsed", "PyJWKSet", ["hmac", "p256-public"]) in got


class _JWKSServer:
    """ThreadingHTTPServer on 127.0.0.1 serving configurable routes."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes, float]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server.lock:
                    server.requests.append((self.path, dict(self.headers)))
                    status, headers, body, delay = server.routes.get(self.path, (404, {}, b"not found", 0.0))
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (the timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve_json(self, path: str, doc: Any, status: int = 200) -> None:
        self.routes[path] = (status, {"Content-Type": "application/json"}, json.dumps(doc).encode(), 0.0)

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, _ in self.requests if p == path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server() -> Any:
    srv = _JWKSServer()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def published(km: KeyMaterial) -> dict[str, Any]:
    """A JWKS built from generated keys (public parts only)."""
    keys = []
    for name, alg in (("rsa2048", "RS256"), ("p256", "ES256"), ("p384", "ES384"), ("ed25519", "EdDSA")):
        pub = km.private[name].public_key()
        data = _jwk_algo_for(pub).to_jwk(pub, as_dict=True)
        keys.append({**data, "kid": f"{name}-kid", "use": "sig", "alg": alg})
    enc_only = {**keys[0], "kid": "enc-kid", "use": "enc"}
    no_kid = {k: v for k, v in keys[1].items() if k != "kid"}
    return {"keys": keys + [enc_only, no_kid, {"kty": "XYZ", "kid": "junk"}]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client_outcomes(client_cls: Any, url: str, **kwargs: Any) -> list:
    client = client_cls(url, **kwargs)
    out = [outcome(lambda: [_describe_pyjwk(k) for k in client.get_jwk_set().keys])]
    out.append(outcome(lambda: [_describe_pyjwk(k) for k in client.get_signing_keys()]))
    for kid in ("rsa2048-kid", "p256-kid", "ed25519-kid", "enc-kid", "junk", "missing", None):
        out.append(outcome(lambda: _describe_pyjwk(client.get_signing_key(kid))))
    return out


def test_jwks_client_fetches_and_matches(server: _JWKSServer, published: dict) -> None:
    server.serve_json("/jwks.json", published)
    results = {}
    for label, mod in (("pyjwt", jclient), ("turbojwt", tclient)):
        before = server.count("/jwks.json")
        results[label] = (
            _client_outcomes(mod.PyJWKClient, server.url("/jwks.json")),
            server.count("/jwks.json") - before,
        )
    assert results["turbojwt"] == results["pyjwt"]
    outcomes, fetches = results["turbojwt"]
    assert fetches == 1  # set cache + refresh cooldown: one request in total
    assert outcomes[2][0] == "return" and outcomes[2][1][2] == "rsa2048-kid"
    assert outcomes[-2] == (
        "raise",
        ("lib", "PyJWKClientError"),
        'Unable to find a signing key that matches: "missing"',
        ("'Unable to find a signing key that matches: \"missing\"'",),
    )

    client = tclient.PyJWKClient(server.url("/jwks.json"))
    key = client.get_signing_key("p256-kid")
    assert isinstance(key, tapi_jwk.PyJWK)
    assert key.algorithm_name == "ES256" and key.key_type == "EC"
    assert isinstance(key.key, ec.EllipticCurvePublicKey)
    with pytest.raises(texc.PyJWKClientError) as err:
        client.get_signing_key("missing")
    assert type(err.value) is texc.PyJWKClientError


def test_jwks_client_refresh_and_cache_options(server: _JWKSServer, published: dict) -> None:
    first = {"keys": [published["keys"][0]]}
    second = {"keys": [published["keys"][1]]}

    def scenario(mod: Any, **kwargs: Any) -> list:
        server.serve_json("/rotating.json", first)
        start = server.count("/rotating.json")
        client = mod.PyJWKClient(server.url("/rotating.json"), **kwargs)
        trace = [outcome(lambda: client.get_signing_key("rsa2048-kid").key_id)]
        server.serve_json("/rotating.json", second)  # key rotation upstream
        trace.append(outcome(lambda: client.get_signing_key("p256-kid").key_id))
        trace.append(outcome(lambda: client.get_signing_key("rsa2048-kid").key_id))
        trace.append(outcome(lambda: client.get_signing_key("p256-kid").key_id))
        trace.append(server.count("/rotating.json") - start)
        return trace

    for kwargs in (
        {},
        {"cooldown_duration": 0},
        {"cache_jwk_set": False},
        {"cache_keys": True, "cooldown_duration": 0},
        {"cache_keys": True, "max_cached_keys": 1, "cache_jwk_set": False},
    ):
        assert scenario(tclient, **kwargs) == scenario(jclient, **kwargs), kwargs
    # with cooldown 0 the unknown kid triggers exactly one refetch
    assert scenario(tclient, cooldown_duration=0) == [
        ("return", "rsa2048-kid"),
        ("return", "p256-kid"),
        (
            "raise",
            ("lib", "PyJWKClientError"),
            'Unable to find a signing key that matches: "rsa2048-kid"',
            ("'Unable to find a signing key that matches: \"rsa2048-kid\"'",),
        ),
        ("return", "p256-kid"),
        3,
    ]


def test_jwks_client_error_responses(server: _JWKSServer, published: dict) -> None:
    server.serve_json("/list.json", [published])
    server.serve_json("/empty.json", {"keys": []})
    server.serve_json("/unusable.json", {"keys": [{"kty": "XYZ"}]})
    server.serve_json("/enc-only.json", {"keys": [published["keys"][4]]})
    server.serve_json("/server-error.json", {"error": 1}, status=500)
    server.routes["/bad-json"] = (200, {}, b"{not json", 0.0)
    server.routes["/redirect"] = (302, {"Location": server.url("/jwks.json")}, b"", 0.0)
    server.routes["/slow"] = (200, {}, json.dumps(published).encode(), 0.6)
    server.serve_json("/jwks.json", published)

    mismatches = []
    for path, kwargs in (
        ("/list.json", {}),
        ("/empty.json", {}),
        ("/unusable.json", {}),
        ("/enc-only.json", {}),
        ("/server-error.json", {}),
        ("/bad-json", {}),
        ("/redirect", {}),
        ("/nothing-here", {}),
        ("/slow", {"timeout": 0.2}),
        ("/empty.json", {"cache_jwk_set": False}),
    ):
        for method in ("get_jwk_set", "get_signing_keys", "fetch_data"):

            def run(mod: Any) -> Any:
                client = mod.PyJWKClient(server.url(path), **kwargs)
                value = getattr(client, method)()
                return (
                    [_describe_pyjwk(k) for k in value]
                    if isinstance(value, list)
                    else (describe(value) if isinstance(value, dict) else type(value).__name__)
                )

            expected, got = outcome(run, jclient), outcome(run, tclient)
            if expected != got:
                mismatches.append((f"{method} {path} {kwargs}", expected, got))
    assert_no_mismatch(mismatches)

    client = tclient.PyJWKClient(server.url("/redirect"))
    with pytest.raises(
        texc.PyJWKClientConnectionError, match='^Fail to fetch data from the url, err: "HTTP Error 302: Found"$'
    ):
        client.get_jwk_set()
    with pytest.raises(texc.PyJWKClientError, match="^The JWKS endpoint did not return a JSON object$"):
        tclient.PyJWKClient(server.url("/list.json")).get_jwk_set()


def test_jwks_client_connection_error_matches() -> None:
    url = f"http://127.0.0.1:{_free_port()}/jwks.json"  # nothing listens there
    expected = outcome(lambda: jclient.PyJWKClient(url).get_signing_key("kid"))
    got = outcome(lambda: tclient.PyJWKClient(url).get_signing_key("kid"))
    assert got == expected
    assert got[1] == ("lib", "PyJWKClientConnectionError")
    assert got[2].startswith('Fail to fetch data from the url, err: "<urlopen error')
    with pytest.raises(texc.PyJWKClientError):  # catchable via the base class
        tclient.PyJWKClient(url).get_jwk_set()


def test_jwks_client_constructor_validation(server: _JWKSServer) -> None:
    for args, kwargs in (
        (("file:///etc/passwd",), {}),
        (("ftp://example.com/jwks",), {}),
        (("HTTPS://example.com/jwks",), {}),
        (("/relative/jwks",), {}),
        ((server.url("/jwks.json"),), {"lifespan": 0}),
        ((server.url("/jwks.json"),), {"lifespan": -5}),
        ((server.url("/jwks.json"),), {"lifespan": 0, "cache_jwk_set": False}),
        ((server.url("/jwks.json"),), {"cooldown_duration": -1}),
        ((server.url("/jwks.json"),), {"cooldown_duration": float("inf")}),
        ((server.url("/jwks.json"),), {"cooldown_duration": float("nan")}),
    ):

        def attrs(mod: Any) -> Any:
            c = mod.PyJWKClient(*args, **kwargs)
            cache = c.jwk_set_cache
            return (
                c.uri,
                c.headers,
                c.timeout,
                c.ssl_context,
                c.cooldown_duration,
                None if cache is None else cache.lifespan,
            )

        assert outcome(attrs, tclient) == outcome(attrs, jclient), (args, kwargs)
    params = inspect.signature(tclient.PyJWKClient).parameters
    assert [(p.name, p.default) for p in params.values()] == [
        (p.name, p.default) for p in inspect.signature(jclient.PyJWKClient).parameters.values()
    ]


def test_jwks_client_sends_headers(server: _JWKSServer, published: dict) -> None:
    server.serve_json("/hdr.json", published)
    tclient.PyJWKClient(server.url("/hdr.json"), headers={"X-Test": "turbo"}).fetch_data()
    path, headers = server.requests[-1]
    assert path == "/hdr.json" and headers.get("X-Test") == "turbo"


@pytest.fixture
def unverified_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``turbojwt.api_jws.get_unverified_header`` importable.

    api_jws is written separately; until it imports cleanly on its own, a
    stand-in backed by PyJWT's function lets the client wiring be tested.
    """
    try:
        import turbojwt.api_jws as real

        if hasattr(real, "get_unverified_header"):
            return
    except Exception:
        pass
    shim = types.ModuleType("turbojwt.api_jws")
    shim.get_unverified_header = jwt.get_unverified_header  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "turbojwt.api_jws", shim)


def test_jwks_client_signing_key_from_jwt(
    server: _JWKSServer, published: dict, km: KeyMaterial, unverified_header: None
) -> None:
    server.serve_json("/jwks.json", published)
    client = tclient.PyJWKClient(server.url("/jwks.json"))
    for name, alg in (("rsa2048", "RS256"), ("p384", "ES384"), ("ed25519", "EdDSA")):
        token = jwt.encode({"sub": "x"}, km.private[name], algorithm=alg, headers={"kid": f"{name}-kid"})
        key = client.get_signing_key_from_jwt(token)
        theirs = jclient.PyJWKClient(server.url("/jwks.json")).get_signing_key_from_jwt(token)
        assert _describe_pyjwk(key) == _describe_pyjwk(theirs)
        # the fetched key really verifies the token's signature
        assert jwt.decode(token, key.key, algorithms=[alg]) == {"sub": "x"}
    token = jwt.encode({"sub": "x"}, km.private["p256"], algorithm="ES256", headers={"kid": "unknown"})
    with pytest.raises(texc.PyJWKClientError, match='^Unable to find a signing key that matches: "unknown"$'):
        client.get_signing_key_from_jwt(token)
