"""The Redis revocation store against a real ``redis-server`` (Debian's, on a free loopback
port, append-only persistence in a temporary folder): replicas following pub/sub, keys that
expire with their tokens, a missed announcement caught by the periodic re-read, Redis
stopped (the replica serves, stale, then 503 closed or admitted open) and restarted (nothing
lost, the replica resyncs)."""

from __future__ import annotations

import contextlib
import os
import time

import pytest

import turbojwt
from helpers.redis_server import RedisServer, redis_binary
from turbojwt.gateway import Policy, Provider
from turbojwt.gateway.revocation import (
    RedisRevocations,
    Revocation,
    RevocationSettings,
    RevocationStoreError,
    RevocationUnavailableError,
    TokenRevokedError,
)

pytestmark = pytest.mark.e2e  # redis-server as a process

redis = pytest.importorskip("redis")

REDIS = redis_binary()
if REDIS is None:
    if os.environ.get("CI"):
        raise RuntimeError("redis-server is missing and could not be installed with apt-get")
    pytest.skip("redis-server is not installed and cannot be installed here", allow_module_level=True)

ISSUER = "https://idp.example"
SECRET = "s" * 32


@pytest.fixture
def server(tmp_path):
    s = RedisServer(REDIS, tmp_path).start()
    yield s
    s.stop()


def token(**claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "alice", "iat": now - 10, "exp": now + 600, "jti": "t-1", **claims}
    return turbojwt.encode(body, SECRET, algorithm="HS256")


def replica(server: RedisServer, **settings) -> Policy:
    revs = RedisRevocations(RevocationSettings(store="redis", url=server.url, **settings))
    p = Policy([Provider("idp", ISSUER, SECRET, ["HS256"], cache=100)], revocations=revs)
    p.start()
    return p


def refused(p: Policy, tok: str) -> bool:
    try:
        p.verify(tok)
    except TokenRevokedError:
        return True
    return False


def wait_for(check, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def test_revocations_reach_every_replica(server):
    a, b = replica(server), replica(server)
    operator = RedisRevocations(RevocationSettings(store="redis", url=server.url))  # never started
    try:
        stolen, fine = token(jti="stolen"), token(jti="fine")
        for p in (a, b):
            for _ in range(3):  # into the verified-token cache
                p.verify(stolen)
        operator.revoke("stolen", exp=time.time() + 600)
        for p in (a, b):
            wait_for(lambda: refused(p, stolen), "the jti reaching a replica")
            assert not refused(p, fine)
        bob = token(sub="bob", jti="bob-1")
        a.revocations.revoke_subject("bob", before=time.time() - 5)  # written by a replica itself
        for p in (a, b):
            wait_for(lambda: refused(p, bob), "the subject rule reaching a replica")
        assert not refused(b, token(sub="bob", jti="bob-2", iat=int(time.time())))
        # Healthy replicas confirm their sync by pinging over the subscription (about every
        # second): after a few rounds, none has failed and neither is stale.
        time.sleep(2.5)
        for p in (a, b):
            status = p.revocations.status()
            assert status["stale"] is False and status["sync_failures"] == 0, status
    finally:
        a.close()
        b.close()
        operator.close()


def test_keys_expire_with_their_tokens_and_subject_rules_merge(server):
    revs = RedisRevocations(RevocationSettings(store="redis", url=server.url, prefix="t:"))
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        exp = time.time() + 100
        revs.revoke("j", exp=exp)
        assert client.pexpiretime("t:jti:j") == pytest.approx(exp * 1000, abs=1000)
        now = time.time()
        revs.revoke_subject("s", before=now, exp=now + 500)
        revs.revoke_subject("s", before=now - 100, exp=now + 50)  # earlier: changes nothing
        merged = Revocation.parse(client.get("t:sub:s"))
        assert merged.before == pytest.approx(now) and merged.expires == pytest.approx(now + 500)
        assert client.pexpiretime("t:sub:s") == pytest.approx((now + 500) * 1000, abs=1000)
        revs.revoke("short", exp=time.time() + 1)
        wait_for(lambda: client.exists("t:jti:short") == 0, "Redis expiring the key by itself")
        assert client.exists("t:jti:j") == 1
    finally:
        revs.close()
        client.close()


def test_a_missed_announcement_is_caught_by_the_resync(server):
    p = replica(server, resync=1)
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        tok = token(jti="quiet")
        p.verify(tok)
        # Written without the announcement, as if the replica had missed it.
        client.set("turbojwt:revoked:jti:quiet", Revocation(time.time() + 600, jti="quiet").text(), ex=600)
        wait_for(lambda: refused(p, tok), "the periodic re-read")
    finally:
        p.close()
        client.close()


@pytest.mark.parametrize("on_stale", ["closed", "open"])
def test_redis_down_then_restarted(server, on_stale):
    p = replica(server, stale_after=3, on_stale=on_stale, timeout=0.5)
    try:
        revoked, fine = token(jti="r-1"), token(jti="r-2")
        p.revocations.revoke("r-1", exp=time.time() + 600)
        p.revocations.revoke_subject("bob", before=time.time())
        assert refused(p, revoked)

        server.stop()
        wait_for(lambda: p.revocations.status()["stale"], "the replica noticing Redis is gone")
        assert refused(p, revoked) and p.verify(fine)  # served from the replica
        assert refused(p, token(sub="bob", jti="b"))
        with pytest.raises(RevocationStoreError, match="this process only"):
            p.revocations.revoke("r-3")  # cannot reach the fleet: said so
        assert refused(p, token(jti="r-3"))  # but holds here
        wait_for(lambda: p.revocations.status()["sync_age"] > 3, "stale_after passing")
        if on_stale == "closed":
            assert p.revocations.status()["unavailable"] is True
            with pytest.raises(RevocationUnavailableError):
                p.verify(fine)
        else:
            assert p.verify(fine).claims["jti"] == "r-2"
        assert refused(p, revoked)

        server.start()  # same port, same data folder: the append-only file is read back
        client = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            assert client.exists("turbojwt:revoked:jti:r-1", "turbojwt:revoked:sub:bob") == 2  # nothing lost
            wait_for(lambda: not p.revocations.status()["stale"], "the replica resyncing")
            assert p.verify(fine).claims["jti"] == "r-2"
            assert refused(p, revoked) and refused(p, token(sub="bob", jti="b"))
            # r-3 never reached Redis: after the resync only what Redis holds is revoked.
            assert not refused(p, token(jti="r-3"))
            # And announcements flow again.
            RedisRevocations(RevocationSettings(store="redis", url=server.url)).revoke("r-4")
            wait_for(lambda: refused(p, token(jti="r-4")), "a revocation after the restart")
        finally:
            client.close()
    finally:
        p.close()


def test_a_replica_that_never_synced_fails_closed(tmp_path):
    # Nothing listens on this port: the replica has never seen the list.
    from helpers.redis_server import free_port

    revs = RedisRevocations(
        RevocationSettings(store="redis", url=f"redis://127.0.0.1:{free_port()}/0", stale_after=30, timeout=0.2)
    )
    p = Policy([Provider("idp", ISSUER, SECRET, ["HS256"])], revocations=revs)
    p.start()
    try:
        assert revs.status()["stale"] is True and revs.status()["unavailable"] is True
        with pytest.raises(RevocationUnavailableError):
            p.verify(token())
    finally:
        p.close()


def test_a_replica_used_without_start_starts_itself(server):
    # As under a middleware without a lifespan: the first check starts the thread (without
    # waiting for Redis; until the first sync it fails closed, see the test above).
    RedisRevocations(RevocationSettings(store="redis", url=server.url)).revoke("early")
    revs = RedisRevocations(RevocationSettings(store="redis", url=server.url))
    p = Policy([Provider("idp", ISSUER, SECRET, ["HS256"])], revocations=revs)
    try:
        assert revs.status()["sync_age"] == float("inf")  # nothing has started it
        with contextlib.suppress(RevocationUnavailableError):
            p.verify(token(jti="fine"))
        wait_for(lambda: not revs.status()["stale"], "the replica's first sync")
        assert p.verify(token(jti="fine")) and refused(p, token(jti="early"))
    finally:
        p.close()
