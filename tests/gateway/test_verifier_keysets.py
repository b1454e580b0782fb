"""``Verifier`` over a ``KeySet`` or a ``JWKSClient``: the token's kid picks the key natively,
with the verdicts ``decode(token, keyset)`` gives; a JWKS rotation is picked up without a
restart, removed keys stop verifying once their TTL is over, batches and the token cache
work over key sets."""

from __future__ import annotations

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import turbojwt
from helpers.jwks_server import Provider
from turbojwt import JWKSClient, KeyNotFoundError, KeySet, Verifier
from turbojwt.algorithms import ECAlgorithm, RSAAlgorithm

pytest.importorskip("httpx")


@pytest.fixture(scope="module")
def keys():
    return {
        "r1": rsa.generate_private_key(65537, 2048),
        "r2": rsa.generate_private_key(65537, 2048),
        "e1": ec.generate_private_key(ec.SECP256R1()),
    }


def public_jwk(key, kid, **extra):
    algo = ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) else RSAAlgorithm
    return {**json.loads(algo.to_jwk(key.public_key())), "kid": kid, **extra}


def corpus(keys):
    now = int(time.time())
    good = {"sub": "a", "exp": now + 600}
    yield "rs256", turbojwt.encode(good, keys["r1"], algorithm="RS256", headers={"kid": "r1"})
    yield "ps384", turbojwt.encode(good, keys["r2"], algorithm="PS384", headers={"kid": "r2"})
    yield "es256", turbojwt.encode(good, keys["e1"], algorithm="ES256", headers={"kid": "e1"})
    yield "wrong-key", turbojwt.encode(good, keys["r1"], algorithm="RS256", headers={"kid": "r2"})
    yield "unknown-kid", turbojwt.encode(good, keys["r1"], algorithm="RS256", headers={"kid": "nope"})
    yield "no-kid", turbojwt.encode(good, keys["r1"], algorithm="RS256")
    yield "alg-not-allowed", turbojwt.encode(good, keys["r1"], algorithm="RS512", headers={"kid": "r1"})
    yield "key-binds-alg", turbojwt.encode(good, keys["r2"], algorithm="RS256", headers={"kid": "r2"})
    yield "hs256-confusion", turbojwt.encode(good, "x" * 32, algorithm="HS256", headers={"kid": "r1"})
    yield (
        "expired",
        turbojwt.encode({"sub": "a", "exp": now - 60}, keys["r1"], algorithm="RS256", headers={"kid": "r1"}),
    )
    yield "alg-none", turbojwt.encode(good, None, algorithm="none", headers={"kid": "r1"})


def verdict(fn, token):
    try:
        return fn(token)
    except turbojwt.PyJWTError as e:
        return (type(e).__name__, str(e))


def test_verifier_over_a_key_set_matches_decode(keys):
    ks = KeySet(
        {
            "keys": [
                public_jwk(keys["r1"], "r1"),
                public_jwk(keys["r2"], "r2", alg="PS384"),
                public_jwk(keys["e1"], "e1"),
            ]
        }
    )
    algorithms = ["RS256", "PS384", "ES256", "HS256", "none"]
    v = Verifier(ks, algorithms=algorithms)
    cached = Verifier(ks, algorithms=algorithms, cache=64)
    for name, token in corpus(keys):
        want = verdict(lambda t: turbojwt.decode(t, ks, algorithms=algorithms), token)
        assert verdict(v.decode, token) == want, name
        for _ in range(3):
            assert verdict(cached.decode, token) == want, name
    assert verdict(v.decode, dict(corpus(keys))["rs256"]) == {
        "sub": "a",
        "exp": pytest.approx(time.time() + 600, abs=30),
    }
    # r1/RS256, r2/PS384, e1/ES256, and r1 again for the kid-less RS256 token (the only RS256 key)
    assert v.keys_held() == 4
    assert cached.cache_info().hits >= 3
    # Batches pick keys by the same rule; the error classes agree (messages for a key bound
    # to another algorithm are worded by the core).
    tokens = [t for _, t in corpus(keys)]
    batch = v.verify_batch(tokens)
    singles = [verdict(v.decode, t) for t in tokens]
    assert batch.valid == [isinstance(s, dict) for s in singles]
    assert [e and e.kind for e in batch.errors] == [None if isinstance(s, dict) else s[0] for s in singles]


@pytest.fixture
def provider(keys):
    p = Provider().start()
    p.jwks = {"keys": [public_jwk(keys["r1"], "r1")]}
    yield p
    p.stop()


def test_verifier_over_a_jwks_client_picks_up_rotation(provider, keys):
    client = JWKSClient(f"{provider.url}/jwks.json")
    v = Verifier(client, algorithms=["RS256"], audience="api")
    t1 = turbojwt.encode({"sub": "a", "aud": "api"}, keys["r1"], algorithm="RS256", headers={"kid": "r1"})
    assert v.decode(t1) == {"sub": "a", "aud": "api"}
    for _ in range(100):
        v.decode(t1)
    assert provider.hits["/jwks.json"] == 1 and v.keys_held() == 1
    # The provider rotates: a token with the new kid works at once, one refetch.
    provider.jwks = {"keys": [public_jwk(keys["r1"], "r1"), public_jwk(keys["r2"], "r2")]}
    t2 = turbojwt.encode({"sub": "b", "aud": "api"}, keys["r2"], algorithm="RS256", headers={"kid": "r2"})
    assert v.decode(t2)["sub"] == "b"
    assert provider.hits["/jwks.json"] == 2
    # Random kids: refused, at most one more refetch (cooldown).
    for i in range(50):
        with pytest.raises(KeyNotFoundError):
            v.decode(turbojwt.encode({"aud": "api"}, keys["r1"], algorithm="RS256", headers={"kid": f"x{i}"}))
    assert provider.hits["/jwks.json"] == 2
    assert v.verify_batch([t1, t2]).valid == [True, True]


def test_removed_keys_stop_verifying_after_their_ttl(provider, keys):
    provider.headers = {"Cache-Control": "max-age=1"}
    client = JWKSClient(f"{provider.url}/jwks.json", min_ttl=0, refresh_ahead=0, cooldown=0)
    v = Verifier(client, algorithms=["RS256"])
    t1 = turbojwt.encode({"sub": "a"}, keys["r1"], algorithm="RS256", headers={"kid": "r1"})
    assert v.decode(t1) == {"sub": "a"}
    provider.jwks = {"keys": [public_jwk(keys["r2"], "r2")]}
    time.sleep(1.1)
    with pytest.raises(KeyNotFoundError):
        v.decode(t1)


def test_jwks_client_down_keeps_verifier_working(provider, keys):
    provider.headers = {"Cache-Control": "max-age=1"}
    client = JWKSClient(f"{provider.url}/jwks.json", min_ttl=0, refresh_ahead=0, timeout=2)
    v = Verifier(client, algorithms=["RS256"])
    t1 = turbojwt.encode({"sub": "a"}, keys["r1"], algorithm="RS256", headers={"kid": "r1"})
    assert v.decode(t1) == {"sub": "a"}
    provider.stop()
    time.sleep(1.1)
    assert v.decode(t1) == {"sub": "a"}
    assert client.stats()["fetch_failures"] >= 1 and client.stats()["stale"]


def test_a_withdrawn_key_stops_verifying_even_for_cached_tokens(provider, keys):
    provider.headers = {"Cache-Control": "max-age=1"}
    client = JWKSClient(f"{provider.url}/jwks.json", min_ttl=0, refresh_ahead=0)
    v = Verifier(client, algorithms=["RS256"], cache=100)
    t1 = turbojwt.encode({"sub": "a"}, keys["r1"], algorithm="RS256", headers={"kid": "r1"})
    for _ in range(3):
        assert v.decode(t1) == {"sub": "a"}
    assert v.cache_info().hits == 1
    # The provider withdraws r1; no traffic meanwhile: the scheduled refresh notices.
    provider.jwks = {"keys": [public_jwk(keys["r2"], "r2")]}
    deadline = time.monotonic() + 5
    while provider.hits["/jwks.json"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    assert provider.hits["/jwks.json"] >= 2
    assert v.cache_info().currsize == 0 and v.keys_held() == 0
    with pytest.raises(KeyNotFoundError):
        v.decode(t1)
