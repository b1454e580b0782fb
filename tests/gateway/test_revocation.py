"""Revocation in the policy, with the memory and file stores: by jti and by subject (logout
everywhere), on the verified-token cache's hits too, entries expiring with their tokens, the
file format and its atomic rewrite, a stale file store failing closed or open, the
``[revocation]`` table's validation, and the middleware's answers. Redis: test_revocation_redis.py."""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading
import time
from pathlib import Path

import pytest

import turbojwt
from turbojwt.gateway import JWTAuthMiddleware, Policy, PolicyError, Provider
from turbojwt.gateway.revocation import (
    FileRevocations,
    Revocation,
    Revocations,
    RevocationSettings,
    RevocationUnavailableError,
    TokenRevokedError,
)

starlette = pytest.importorskip("starlette")
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

ISSUER = "https://idp.example"
SECRET = "s" * 32


def token(**claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "alice", "iat": now, "exp": now + 600, "jti": "t-1", **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return turbojwt.encode(body, SECRET, algorithm="HS256")


def provider(cache: int = 0, leeway: float = 0) -> Provider:
    return Provider("idp", ISSUER, SECRET, ["HS256"], cache=cache, leeway=leeway)


def policy(revocations: Revocations | None = None, **kw) -> Policy:
    return Policy([provider(**kw)], revocations=revocations)


def wait_for(check, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def refused(p: Policy, tok: str) -> bool:
    try:
        p.verify(tok)
    except TokenRevokedError:
        return True
    return False


# ---------------------------------------------------------------------- the policy's check


def test_revoked_jti_is_refused_and_others_pass():
    p = policy()
    tok, other = token(jti="stolen"), token(jti="fine")
    assert p.verify(tok).claims["jti"] == "stolen"
    p.revocations.revoke("stolen")
    with pytest.raises(TokenRevokedError, match="The token has been revoked"):
        p.verify(tok)
    with pytest.raises(turbojwt.InvalidTokenError):  # what callers catching PyJWT's class expect
        p.verify(tok)
    assert p.verify(other).claims["jti"] == "fine"
    with pytest.raises(TokenRevokedError):
        asyncio.run(p.averify(tok))


def test_a_cached_token_is_refused_after_revocation():
    p = policy(cache=100)
    tok = token(jti="cached")
    verifier = p.providers[0].verifier
    for _ in range(3):  # the cache admits a token it has seen before
        p.verify(tok)
    hits = verifier.cache_info().hits
    assert hits >= 1  # the token is served from the cache
    p.revocations.revoke("cached")
    with pytest.raises(TokenRevokedError):
        p.verify(tok)
    assert verifier.cache_info().hits == hits + 1  # served from the cache, and still refused
    with pytest.raises(TokenRevokedError):
        asyncio.run(p.averify(tok))


def test_subject_rule_revokes_tokens_issued_before_its_time():
    p = policy()
    now = int(time.time())
    old, new = token(iat=now - 100, jti="a"), token(iat=now, jti="b")
    no_iat = token(iat=None, jti="c")
    bob = token(sub="bob", iat=now - 100, jti="d")
    for t in (old, new, no_iat, bob):
        p.verify(t)
    p.revocations.revoke_subject("alice", before=now - 50)
    assert refused(p, old)
    assert not refused(p, new)  # issued after the logout
    assert refused(p, no_iat)  # no iat under a subject rule: fail closed
    assert not refused(p, bob)
    # An ISO 8601 time, as the CLI takes it; the later rule wins.
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 10))
    p.revocations.revoke_subject("alice", before=later)
    assert refused(p, new)
    assert p.revocations.entries()[0].before == now + 10
    # An earlier rule does not undo the later one.
    p.revocations.revoke_subject("alice", before=now - 1000)
    assert refused(p, old) and refused(p, new)
    assert refused(p, new)


def test_entries_expire_with_their_tokens():
    revs = Revocations(RevocationSettings(max_ttl=3600))
    p = policy(revs, leeway=30)
    now = time.time()
    e = revs.revoke("x", exp=now + 100)
    assert e.expires == pytest.approx(now + 130)  # the token's exp plus the leeway
    assert revs.revoke("y").expires == pytest.approx(now + 3600, abs=5)  # no exp: max_ttl
    assert revs.revoke("z", exp=now + 10 * 86400).expires == pytest.approx(now + 3600, abs=5)  # bounded
    s = revs.revoke_subject("alice", before=now - 50)
    assert s.expires == pytest.approx(now - 50 + 3600, abs=5)
    assert revs.revoke_subject("bob", exp=now + 60).expires == pytest.approx(now + 90, abs=5)
    gone = revs.revoke("old", exp=now - 100)  # expired (even with the leeway): nothing to keep
    revs.replace_all(revs.entries())
    assert gone not in revs.entries() and e in revs.entries()
    assert p.verify(token(jti="old")).claims["jti"] == "old"


def test_bad_arguments_are_refused():
    revs = Revocations()
    with pytest.raises(ValueError):
        revs.revoke("")
    with pytest.raises(ValueError):
        revs.revoke_subject("alice", before="yesterday")
    with pytest.raises(ValueError):
        revs.revoke("x", exp=float("nan"))


def test_the_middleware_answers_401_revoked():
    p = policy()

    async def hello(request):
        return JSONResponse({"sub": request.state.jwt["sub"]})

    app = JWTAuthMiddleware(Starlette(routes=[Route("/", hello)]), p)
    client = TestClient(app)
    tok = token(jti="m-1")
    headers = {"Authorization": f"Bearer {tok}"}
    assert client.get("/", headers=headers).status_code == 200
    p.revocations.revoke("m-1")
    r = client.get("/", headers=headers)
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_token", "error_description": "The token has been revoked"}
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


# ---------------------------------------------------------------------- the file store


def write_policy(tmp_path: Path, revocation: str) -> Path:
    path = tmp_path / "gateway.toml"
    (tmp_path / "secret.txt").write_text(SECRET)
    path.write_text(
        textwrap.dedent(f"""
        [[provider]]
        name = "idp"
        issuer = "{ISSUER}"
        key_file = "secret.txt"
        algorithms = ["HS256"]
        cache = 100

        [revocation]
        """)
        + textwrap.dedent(revocation)
    )
    return path


def test_file_store_is_shared_through_the_file(tmp_path):
    config = write_policy(tmp_path, 'store = "file"\npath = "revoked.jsonl"\nstale_after = 5\n')
    server = Policy.from_toml(config)  # a running gateway
    server.start()
    try:
        tok = token(jti="f-1")
        server.verify(tok)
        operator = Policy.from_toml(config)  # `turbojwt revoke` loads the same policy
        operator.revocations.revoke("f-1", exp=time.time() + 600)
        wait_for(lambda: refused(server, tok), "the revocation reaching the server")
        operator.revocations.revoke_subject("bob", before=time.time())
        wait_for(lambda: refused(server, token(sub="bob", jti="f-2", iat=int(time.time()) - 60)), "subject rule")
        lines = [json.loads(line) for line in (tmp_path / "revoked.jsonl").read_text().splitlines()]
        assert {"jti": "f-1", "expires": lines[0]["expires"]} == lines[0]
        assert set(lines[1]) == {"sub", "before", "expires"} and lines[1]["sub"] == "bob"
        assert not list(tmp_path.glob(".revoked.jsonl.*"))  # no temporary file left behind
        # A restarted gateway loads the list from the file.
        restarted = Policy.from_toml(config)
        assert refused(restarted, tok)
    finally:
        server.close()
    # Closing stops the replica's thread (the list keeps answering with what it holds).
    assert not [t for t in threading.enumerate() if t.name.startswith("turbojwt-revocation")]
    assert refused(server, tok)


def test_file_rewrite_drops_expired_entries_and_merges(tmp_path):
    path = tmp_path / "revoked.jsonl"
    now = time.time()
    path.write_text(
        Revocation(now - 1, jti="expired").text() + "\n" + Revocation(now + 100, sub="a", before=now - 5).text() + "\n"
    )
    revs = FileRevocations(RevocationSettings(store="file", path=path))
    assert {e.jti or e.sub for e in revs.entries()} == {"a"}
    revs.revoke_subject("a", before=now - 10, exp=now + 200)
    (entry,) = [Revocation.parse(line) for line in path.read_text().splitlines()]
    assert entry.sub == "a" and entry.before == pytest.approx(now - 5) and entry.expires == pytest.approx(now + 200)


def test_concurrent_file_writers_lose_nothing(tmp_path):
    path = tmp_path / "revoked.jsonl"
    writers = [FileRevocations(RevocationSettings(store="file", path=path)) for _ in range(4)]

    def write(i: int) -> None:
        for n in range(25):
            writers[i].revoke(f"w{i}-{n}")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(path.read_text().splitlines()) == 100


def test_a_malformed_file_is_refused_at_load_time(tmp_path):
    (tmp_path / "revoked.jsonl").write_text('{"jti": "a", "expires": 1e12}\n{"jti": 5}\n')
    config = write_policy(tmp_path, 'store = "file"\npath = "revoked.jsonl"\n')
    with pytest.raises(PolicyError, match=r"revoked.jsonl:2"):
        Policy.from_toml(config)


@pytest.mark.parametrize("on_stale", ["closed", "open"])
def test_a_file_that_cannot_be_read_makes_the_replica_stale(tmp_path, on_stale):
    config = write_policy(
        tmp_path, f'store = "file"\npath = "revoked.jsonl"\nstale_after = 2\non_stale = "{on_stale}"\n'
    )
    p = Policy.from_toml(config)
    p.start()
    try:
        p.revocations.revoke("bad-1")
        tok, fine = token(jti="bad-1"), token(jti="good")
        assert p.verify(fine) and p.revocations.status()["stale"] is False
        (tmp_path / "revoked.jsonl").write_text("not json\n")
        wait_for(lambda: p.revocations.status()["stale"], "the replica noticing the broken file")
        assert refused(p, tok)  # what it held is still enforced
        wait_for(lambda: p.revocations.status()["sync_age"] > 2, "stale_after passing")
        if on_stale == "closed":
            with pytest.raises(RevocationUnavailableError):
                p.verify(fine)
            r = TestClient(JWTAuthMiddleware(Starlette(), p)).get("/", headers={"Authorization": f"Bearer {fine}"})
            assert r.status_code == 503
            assert r.json() == {
                "error": "temporarily_unavailable",
                "error_description": "The revocation list is unavailable",
            }
        else:
            assert p.verify(fine).claims["jti"] == "good"
        assert refused(p, tok)  # revoked tokens stay refused either way
        # The file repaired: back in sync, and it holds what the file says.
        (tmp_path / "revoked.jsonl").write_text(Revocation(time.time() + 60, jti="other").text() + "\n")
        wait_for(lambda: not p.revocations.status()["stale"], "the replica recovering")
        assert p.verify(fine) and refused(p, token(jti="other"))
    finally:
        p.close()


# ---------------------------------------------------------------------- the [revocation] table


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('store = "etcd"', "store must be"),
        ('store = "file"', "needs it"),
        ('store = "redis"', "needs it"),
        ('store = "memory"\nurl = "redis://x"', "url is for"),
        ('store = "redis"\nurl = "http://x"', "redis://"),
        ('store = "file"\npath = "nowhere/revoked.jsonl"', "does not exist"),
        ('on_stale = "maybe"', "on_stale must be"),
        ("stale_after = 0", "positive number"),
        ("resync = -1", "positive number"),
        ("max_ttl = true", "positive number"),
        ('max_ttl = "1d"', "positive number"),
        ("prefix = 3", "non-empty string"),
        ("color = 1", "unknown setting"),
    ],
)
def test_the_revocation_table_is_validated(tmp_path, table, message):
    with pytest.raises(PolicyError, match=message):
        Policy.from_toml(write_policy(tmp_path, table))


def test_no_revocation_table_is_the_memory_store(tmp_path):
    config = write_policy(tmp_path, "")
    p = Policy.from_toml(config)
    assert type(p.revocations) is Revocations and p.revocations.status()["stale"] is False
    p.revocations.revoke("m")
    assert refused(p, token(jti="m"))


def test_route_decisions_refuse_revoked_tokens(tmp_path):
    # Policy.authorize (routes and roles) verifies through Policy.verify, so through the check.
    config = tmp_path / "gateway.toml"
    (tmp_path / "secret.txt").write_text(SECRET)
    config.write_text(
        textwrap.dedent(f"""
        [[provider]]
        name = "idp"
        issuer = "{ISSUER}"
        key_file = "secret.txt"
        algorithms = ["HS256"]
        cache = 100

        [[route]]
        path = "/public/*"
        auth = "public"

        [default_route]
        auth = "required"
        """)
    )
    p = Policy.from_toml(config)
    tok = token(jti="routed")
    for _ in range(3):
        assert p.authorize("GET", "/orders", tok).verified is not None
    p.revocations.revoke("routed")
    with pytest.raises(TokenRevokedError):
        p.authorize("GET", "/orders", tok)
    with pytest.raises(TokenRevokedError):
        asyncio.run(p.aauthorize("GET", "/orders", tok))
    assert p.authorize("GET", "/public/x", tok).verified is None  # a public route reads no token
