"""``JWKSClient`` against a real local HTTP server whose responses, delays and failures the
tests control: cache headers, discovery, rotation, single-flight refetch, a flood of unknown
kids, stale keys while the provider is down, background refresh, strict key sets."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import turbojwt
from helpers.jwks_server import Provider
from turbojwt import JWKSClient, KeyNotFoundError, PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError
from turbojwt.algorithms import ECAlgorithm, RSAAlgorithm
from turbojwt.jwks import cache_control_ttl

pytest.importorskip("httpx")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def keys():
    return {name: rsa.generate_private_key(65537, 2048) for name in ("k1", "k2", "k3")}


def jwk(key, kid, **extra):
    return {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "RS256", "use": "sig", **extra}


def sign(key, kid, **claims):
    return turbojwt.encode({"sub": "alice", **claims}, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def provider(keys):
    p = Provider().start()
    p.jwks = {"keys": [jwk(keys["k1"], "k1")]}
    yield p
    p.stop()


def client(provider, clock=None, **kw):
    return JWKSClient(f"{provider.url}/jwks.json", clock=clock or Clock(), **kw)


def test_fetch_and_decode(provider, keys):
    c = client(provider)
    assert c.decode(sign(keys["k1"], "k1"), algorithms=["RS256"]) == {"sub": "alice"}
    assert c.get_signing_key("k1").key_id == "k1"
    s = c.stats()
    assert s["fetches"] == 1 and s["keys"] == ["k1"] and s["ttl"] == 300 and not s["stale"]
    # Cached: no second request.
    c.decode(sign(keys["k1"], "k1"), algorithms=["RS256"])
    assert provider.hits["/jwks.json"] == 1


@pytest.mark.parametrize(
    "headers, ttl",
    [
        ({"cache-control": "public, max-age=120"}, 120),
        ({"cache-control": "max-age=120", "age": "20"}, 100),
        ({"cache-control": "max-age=1"}, 60),  # raised to min_ttl
        ({"cache-control": "max-age=999999"}, 3600),  # lowered to max_ttl
        ({"cache-control": "no-store"}, 60),
        ({"cache-control": "max-age=abc"}, 300),  # unparseable: default
        ({}, 300),
    ],
)
def test_cache_control(headers, ttl):
    assert cache_control_ttl(headers, 300, 60, 3600) == ttl


def test_cache_control_from_the_server_and_expiry(provider, keys):
    clock = Clock()
    provider.headers = {"Cache-Control": "max-age=120"}
    c = client(provider, clock, refresh_ahead=0)
    c.get_key_set()
    assert c.stats()["ttl"] == 120
    clock.now += 119
    c.get_key_set()
    assert provider.hits["/jwks.json"] == 1
    clock.now += 2
    c.get_key_set()
    assert provider.hits["/jwks.json"] == 2


def test_discovery(provider, keys):
    provider.config = {"issuer": provider.url, "jwks_uri": f"{provider.url}/jwks.json"}
    c = JWKSClient(issuer=provider.url, clock=Clock())
    assert c.decode(sign(keys["k1"], "k1"), algorithms=["RS256"]) == {"sub": "alice"}
    assert c.stats()["jwks_uri"] == f"{provider.url}/jwks.json"
    # OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
    provider.config = {"issuer": "https://evil.example", "jwks_uri": f"{provider.url}/jwks.json"}
    bad = JWKSClient(issuer=provider.url, clock=Clock())
    with pytest.raises(PyJWKClientConnectionError, match="issuer does not match"):
        bad.get_key_set()


def test_rotation_is_picked_up_with_one_refetch(provider, keys):
    c = client(provider)
    c.get_key_set()
    provider.jwks = {"keys": [jwk(keys["k1"], "k1"), jwk(keys["k2"], "k2")]}
    assert c.decode(sign(keys["k2"], "k2"), algorithms=["RS256"]) == {"sub": "alice"}
    assert provider.hits["/jwks.json"] == 2
    assert c.stats()["unknown_kid_refetches"] == 1


def test_concurrent_unknown_kid_share_one_refetch(provider, keys):
    c = client(provider)
    c.get_key_set()
    provider.jwks = {"keys": [jwk(keys["k1"], "k1"), jwk(keys["k2"], "k2")]}
    provider.delay = 0.3
    token = sign(keys["k2"], "k2")
    results: list = []

    def work():
        try:
            results.append(c.decode(token, algorithms=["RS256"]))
        except Exception as e:  # recorded, asserted below
            results.append(e)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"sub": "alice"}] * 16
    assert provider.hits["/jwks.json"] == 2


def test_async_concurrent_unknown_kid_share_one_refetch(provider, keys):
    async def main():
        c = client(provider)
        await c.aprewarm()
        provider.jwks = {"keys": [jwk(keys["k1"], "k1"), jwk(keys["k3"], "k3")]}
        provider.delay = 0.3
        token = sign(keys["k3"], "k3")
        return await asyncio.gather(*(c.adecode(token, algorithms=["RS256"]) for _ in range(50)))

    assert asyncio.run(main()) == [{"sub": "alice"}] * 50
    assert provider.hits["/jwks.json"] == 2


def test_flood_of_unknown_kids(provider, keys):
    clock = Clock()
    c = client(provider, clock, negative_cache_size=50)
    c.get_key_set()
    for _ in range(300):
        with pytest.raises(KeyNotFoundError):
            c.decode(sign(keys["k1"], uuid.uuid4().hex), algorithms=["RS256"])
    # One refetch for the whole flood (then the cooldown), and a bounded negative cache.
    assert provider.hits["/jwks.json"] == 2
    s = c.stats()
    assert s["unknown_kid_refetches"] == 1 and s["unknown_kid_refusals"] == 300
    assert s["unknown_kids_cached"] == 50
    # The same unknown kid again, after the cooldown: it is still in the negative cache
    # until its own cooldown ends; a new kid may trigger one more refetch.
    clock.now += 31
    with pytest.raises(KeyNotFoundError):
        c.decode(sign(keys["k1"], "new-kid"), algorithms=["RS256"])
    assert provider.hits["/jwks.json"] == 3
    # KeyNotFoundError is also an InvalidTokenError and PyJWKClient's error class.
    assert issubclass(KeyNotFoundError, turbojwt.InvalidTokenError)
    assert issubclass(KeyNotFoundError, PyJWKClientError)


def test_last_good_keys_survive_a_provider_failure(provider, keys):
    clock = Clock()
    c = client(provider, clock, refresh_ahead=0, max_stale=3600)
    token = sign(keys["k1"], "k1")
    c.decode(token, algorithms=["RS256"])
    provider.status = 500
    clock.now += 301
    assert c.decode(token, algorithms=["RS256"]) == {"sub": "alice"}
    s = c.stats()
    assert s["fetch_failures"] == 1 and s["stale"] and "HTTP 500" in s["last_error"]
    # No new attempt during the cooldown...
    for _ in range(5):
        c.decode(token, algorithms=["RS256"])
    assert provider.hits["/jwks.json"] == 2
    # ...one after it, still failing, still serving.
    clock.now += 31
    c.decode(token, algorithms=["RS256"])
    assert provider.hits["/jwks.json"] == 3 and c.stats()["fetch_failures"] == 2
    # Recovery.
    provider.status = 200
    clock.now += 31
    c.decode(token, algorithms=["RS256"])
    s = c.stats()
    assert s["fetches"] == 2 and not s["stale"] and s["last_error"] is None
    # Past max_stale the old keys are no longer used.
    provider.status = 503
    clock.now += 301 + 3600
    with pytest.raises(PyJWKClientConnectionError, match="HTTP 503"):
        c.decode(token, algorithms=["RS256"])


def test_provider_down_entirely(provider, keys):
    clock = Clock()
    c = client(provider, clock, refresh_ahead=0, timeout=2)
    token = sign(keys["k1"], "k1")
    c.decode(token, algorithms=["RS256"])
    provider.stop()
    clock.now += 400
    assert c.decode(token, algorithms=["RS256"]) == {"sub": "alice"}
    assert c.stats()["fetch_failures"] == 1
    never = JWKSClient(c.url, clock=Clock(), timeout=2)
    with pytest.raises(PyJWKClientConnectionError):
        never.get_key_set()


def test_background_refresh_ahead(provider, keys):
    clock = Clock()
    c = client(provider, clock, refresh_ahead=0.2)
    c.get_key_set()
    provider.jwks = {"keys": [jwk(keys["k2"], "k2")]}
    clock.now += 250  # past 80% of the 300 s TTL
    assert c.get_key_set().kids == ["k1"]  # answered at once from the cache
    c._background.join(5)
    assert provider.hits["/jwks.json"] == 2
    assert c.get_key_set().kids == ["k2"]


def test_async_background_refresh_ahead(provider, keys):
    async def main():
        clock = Clock()
        c = client(provider, clock, refresh_ahead=0.2)
        await c.aget_key_set()
        provider.jwks = {"keys": [jwk(keys["k2"], "k2")]}
        clock.now += 250
        assert (await c.aget_key_set()).kids == ["k1"]
        await c._background
        return (await c.aget_key_set()).kids

    assert asyncio.run(main()) == ["k2"]


def test_strict_key_sets(provider, keys):
    # A published symmetric key is refused: it is no secret (a set left with no usable key is
    # the provider's answer, refused as PyJWKClient refuses it).
    provider.jwks = {"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", "kid": "h"}]}
    with pytest.raises(PyJWKSetError, match="symmetric"):
        client(provider).get_key_set()
    # Keys for encryption are left out; the algorithm is bound to the key type.
    provider.jwks = {"keys": [jwk(keys["k1"], "k1"), jwk(keys["k2"], "enc-key", use="enc")]}
    c = client(provider)
    assert c.get_key_set().kids == ["k1"]
    with pytest.raises(KeyNotFoundError):
        c.decode(sign(keys["k2"], "enc-key"), algorithms=["RS256"])
    hs = turbojwt.encode({"sub": "x"}, "a-secret-that-is-long-enough-32b", algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(turbojwt.InvalidAlgorithmError):
        c.decode(hs, algorithms=["HS256", "RS256"])
    ec_key = ec.generate_private_key(ec.SECP256R1())
    provider.jwks = {"keys": [{**json.loads(ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "e"}]}
    es = turbojwt.encode({"sub": "x"}, ec_key, algorithm="ES256", headers={"kid": "e"})
    assert client(provider).decode(es, algorithms=["ES256"]) == {"sub": "x"}


@pytest.mark.parametrize(
    "body, status, match",
    [
        (b"not json", 200, "not JSON"),
        (b'{"keys": "x"}', 200, '"keys" list'),
        (b"x" * 2000, 200, "larger than"),
        (b"{}", 404, "HTTP 404"),
    ],
)
def test_bad_responses(provider, body, status, match):
    provider.body, provider.status = body, status
    c = client(provider, max_response_bytes=1000)
    with pytest.raises(PyJWKClientConnectionError, match=match):
        c.get_key_set()
    assert c.stats()["fetch_failures"] == 1


def test_arguments():
    with pytest.raises(PyJWKClientError):
        JWKSClient("file:///etc/passwd")
    with pytest.raises(ValueError):
        JWKSClient()
    with pytest.raises(ValueError):
        JWKSClient("https://a/jwks", issuer="https://a")
    with pytest.raises(ValueError):
        JWKSClient("https://a/jwks", min_ttl=10, max_ttl=5)


def test_async_fetch_reads_at_most_the_response_limit(provider):
    provider.body = b"x" * 5000

    async def main():
        c = client(provider, max_response_bytes=1000)
        with pytest.raises(PyJWKClientConnectionError, match="larger than 1000 bytes"):
            await c.aget_key_set()
        return c.stats()["fetch_failures"]

    assert asyncio.run(main()) == 1
