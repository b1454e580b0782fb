"""A key the provider withdraws stops verifying on every path built over a ``JWKSClient``:
``Verifier.decode``/``adecode`` with its native key table, the verified-token cache,
``Verifier.verify_batch`` with its engine and repeated-token cache, even when a lookup and
the refresh that withdraws the key run interleaved (forced here by hooks that run the
refresh between the lookup and its use). And a well-formed JWK Set without a usable signing
key is the provider's answer: it withdraws every key (``PyJWKSetError``, as PyJWT's
``PyJWKClient``), while real failures (HTTP errors, bodies that are not a JWK Set) keep the
last good keys."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import turbojwt
from helpers.jwks_server import Provider
from turbojwt import JWKSClient, KeyNotFoundError, PyJWKSetError, Verifier
from turbojwt.algorithms import RSAAlgorithm

pytest.importorskip("httpx")

TTL = 300


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {name: rsa.generate_private_key(65537, 2048) for name in ("k1", "k2")}


def jwk(key: Any, kid: str, **extra: Any) -> dict[str, Any]:
    return {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "RS256", "use": "sig", **extra}


def sign(key: Any, kid: str) -> str:
    return turbojwt.encode({"sub": "alice"}, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def provider(keys: dict[str, Any]) -> Any:
    p = Provider().start()
    p.jwks = {"keys": [jwk(keys["k1"], "k1")]}
    yield p
    p.stop()


class HookedClient(JWKSClient):
    """Runs ``hook`` once, right after a lookup and before its result is used."""

    hook: Callable[[], None] | None = None

    def _fire(self) -> None:
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()

    def key_for_verifier(self, kid: str | None, alg: str) -> Any:
        found = super().key_for_verifier(kid, alg)
        self._fire()
        return found

    def get_key_set(self) -> Any:
        keys = super().get_key_set()
        self._fire()
        return keys


def make_client(provider: Provider, clock: Clock) -> HookedClient:
    # cooldown 0: an unknown kid may refetch at once (the tests follow one rotation each)
    return HookedClient(f"{provider.url}/jwks.json", clock=clock, cooldown=0)


def withdraw_k1(provider: Provider, client: JWKSClient, clock: Clock, keys: dict[str, Any]) -> Callable[[], None]:
    """A hook: the provider now publishes k2 only, and the client refreshes."""

    def refresh() -> None:
        provider.jwks = {"keys": [jwk(keys["k2"], "k2")]}
        clock.now += TTL + 1
        client.get_key_set()

    return refresh


def refused(result: turbojwt.BatchResult) -> list[str | None]:
    return [None if e is None else e.kind for e in result.errors]


def test_verify_batch_follows_the_clients_current_keys(provider, keys) -> None:
    clock = Clock()
    client = make_client(provider, clock)
    verifier = Verifier(client, algorithms=["RS256"])
    t1, t2 = sign(keys["k1"], "k1"), sign(keys["k2"], "k2")
    assert verifier.verify_batch([t1, t1, t1]).valid == [True, True, True]
    withdraw_k1(provider, client, clock, keys)()
    with pytest.raises(KeyNotFoundError):
        verifier.decode(t1)
    # The batch engine, its key table and its repeated-token cache follow the client: the
    # withdrawn kid is refused (repeats included), the kid published later is found.
    result = verifier.verify_batch([t1, t1, t2, t1])
    assert result.valid == [False, False, True, False]
    assert refused(result)[0] == "KeyNotFoundError"
    assert verifier.decode(t2) == {"sub": "alice"}


def test_verify_batch_engine_built_across_a_refresh_uses_the_new_keys(provider, keys) -> None:
    clock = Clock()
    client = make_client(provider, clock)
    verifier = Verifier(client, algorithms=["RS256"])
    t1 = sign(keys["k1"], "k1")
    # The client's keys are read for the engine, then the refresh runs before the engine is
    # built from them: the engine must be built from the refreshed set.
    client.hook = withdraw_k1(provider, client, clock, keys)
    assert verifier.verify_batch([t1]).valid == [False]
    assert verifier.verify_batch([t1]).valid == [False]
    assert verifier.verify_batch([sign(keys["k2"], "k2")]).valid == [True]


@pytest.mark.parametrize("cache", [None, 100])
def test_decode_lookup_straddling_a_refresh_never_keeps_the_withdrawn_key(provider, keys, cache) -> None:
    clock = Clock()
    client = make_client(provider, clock)
    verifier = Verifier(client, algorithms=["RS256"], cache=cache)
    t1 = sign(keys["k1"], "k1")
    assert verifier.decode(t1) == {"sub": "alice"}  # (the token cache's first sight)
    verifier.keys_clear()
    # The key for k1 is looked up, then k1 is withdrawn before the verifier uses and keeps it.
    client.hook = withdraw_k1(provider, client, clock, keys)
    with pytest.raises(KeyNotFoundError):
        verifier.decode(t1)
    assert verifier.keys_held() == 0
    for _ in range(3):
        with pytest.raises(KeyNotFoundError):
            verifier.decode(t1)
    assert verifier.decode(sign(keys["k2"], "k2")) == {"sub": "alice"}


def test_adecode_lookup_straddling_a_refresh_never_keeps_the_withdrawn_key(provider, keys) -> None:
    clock = Clock()
    client = make_client(provider, clock)
    verifier = Verifier(client, algorithms=["RS256"], cache=100)
    t1 = sign(keys["k1"], "k1")

    async def run() -> None:
        assert await verifier.adecode(t1) == {"sub": "alice"}
        verifier.keys_clear()
        client.hook = withdraw_k1(provider, client, clock, keys)
        with pytest.raises(KeyNotFoundError):
            await verifier.adecode(t1)
        for _ in range(3):
            with pytest.raises(KeyNotFoundError):
                await verifier.adecode(t1)
        assert await verifier.adecode(sign(keys["k2"], "k2")) == {"sub": "alice"}

    asyncio.run(run())
    assert verifier.keys_held() == 1  # k2 only


def test_cached_verdicts_are_not_served_after_their_key_is_withdrawn(provider, keys) -> None:
    clock = Clock()
    client = make_client(provider, clock)
    verifier = Verifier(client, algorithms=["RS256"], cache=100)
    t1 = sign(keys["k1"], "k1")
    for _ in range(3):
        verifier.decode(t1)
    info = verifier.cache_info()
    assert info is not None and info.hits >= 1
    withdraw_k1(provider, client, clock, keys)()
    with pytest.raises(KeyNotFoundError):
        verifier.decode(t1)


# ---------------------------------------------------------------------------- no usable key


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda keys: {"keys": []}, id="empty keys"),
        pytest.param(lambda keys: {"keys": [jwk(keys["k1"], "k1", use="enc")]}, id="only use=enc"),
        pytest.param(lambda keys: {"keys": [{"kty": "oct", "k": "c2VjcmV0" * 6, "kid": "h"}]}, id="only refused keys"),
        pytest.param(lambda keys: {"keys": [jwk(keys["k1"], "k1"), jwk(keys["k1"], "k1")]}, id="duplicate kids"),
    ],
)
def test_a_jwk_set_without_usable_keys_withdraws_every_key(provider, keys, answer) -> None:
    clock = Clock()
    client = JWKSClient(f"{provider.url}/jwks.json", clock=clock)
    verifier = Verifier(client, algorithms=["RS256"], cache=100)
    t1 = sign(keys["k1"], "k1")
    for _ in range(3):
        assert verifier.decode(t1) == {"sub": "alice"}
    assert verifier.verify_batch([t1]).valid == [True]
    provider.jwks = answer(keys)
    clock.now += TTL + 1
    with pytest.raises(PyJWKSetError, match="no usable signing key"):
        client.get_key_set()
    for decode in (verifier.decode, lambda t: client.decode(t, algorithms=["RS256"])):
        with pytest.raises(PyJWKSetError):
            decode(t1)
    with pytest.raises(PyJWKSetError):
        asyncio.run(verifier.adecode(t1))
    with pytest.raises(PyJWKSetError):
        verifier.verify_batch([t1])
    with pytest.raises(PyJWKSetError):
        turbojwt.verify_batch([t1], client, algorithms=["RS256"])
    stats = client.stats()
    assert stats["last_fetch"] == "no_usable_keys" and not stats["stale"]
    assert stats["no_usable_key_sets"] >= 1 and stats["fetch_failures"] == 0
    assert stats["keys"] == [] and "PyJWKSetError" in stats["last_error"]
    # The provider publishes again: the keys work after the next refresh.
    provider.jwks = {"keys": [jwk(keys["k1"], "k1")]}
    clock.now += TTL + 1
    assert verifier.decode(t1) == {"sub": "alice"}
    assert client.stats()["last_fetch"] == "ok"


@pytest.mark.parametrize(
    "status, body",
    [(500, None), (503, None), (200, b"not json"), (200, b'{"keys": "x"}'), (200, b"[1, 2]"), (200, b"{}")],
)
def test_real_failures_keep_the_last_good_keys(provider, keys, status, body) -> None:
    clock = Clock()
    client = JWKSClient(f"{provider.url}/jwks.json", clock=clock)
    verifier = Verifier(client, algorithms=["RS256"])
    t1 = sign(keys["k1"], "k1")
    assert verifier.decode(t1) == {"sub": "alice"}
    provider.status, provider.body = status, body
    clock.now += TTL + 1
    assert client.decode(t1, algorithms=["RS256"]) == {"sub": "alice"}
    assert verifier.verify_batch([t1]).valid == [True]
    stats = client.stats()
    assert stats["last_fetch"] == "failed" and stats["stale"] and stats["fetch_failures"] == 1
    assert stats["no_usable_key_sets"] == 0 and stats["keys"] == ["k1"]
