"""What a policy keeps per token (``Policy._derived``: the provider or consumer a token goes
to, its roles and scopes, its ``iat`` and its forward-auth answer headers, derived from its
claims once): a request repeating a token still has its signature and times verified, the
revocation list consulted and its age compared with the clock; what is kept gives the same
answers as the claims read afresh; it is bounded; and a reloaded policy starts without it."""

from __future__ import annotations

import asyncio
import textwrap
import time
from typing import Any

import pytest

pytest.importorskip("prometheus_client")

import turbojwt
from helpers.route_cases import EXAMPLE, Keys, corp_token, example_data, partner_token
from turbojwt.exceptions import ExpiredSignatureError, InvalidIssuedAtError, MissingRequiredClaimError
from turbojwt.gateway import Policy
from turbojwt.gateway import policy as policy_module
from turbojwt.gateway.policy import InsufficientScopeError, TokenTooOldError
from turbojwt.gateway.reload import PolicyReloader
from turbojwt.gateway.revocation import TokenRevokedError
from turbojwt.gateway.serve import ForwardAuthApp

JACK = "jack-hs256-secret-of-at-least-32-bytes"
CONSUMERS = f"""
max_age = 3600

[[consumer]]
name = "jack"
key = "jack-key"
secret = "{JACK}"
roles = ["admin"]
scopes = ["api:read"]

[[route]]
path = "/secure/*"
roles_any = ["admin"]

[default_route]
auth = "required"
"""


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def policy(tmp_path, keys) -> Policy:
    return Policy.from_dict(example_data(tmp_path, keys), base=tmp_path)


def jack(**claims: Any) -> str:
    now = int(time.time())
    return turbojwt.encode({"key": "jack-key", "sub": "jack", "iat": now, "exp": now + 300, **claims}, JACK)


def consumer_policy() -> Policy:
    import tomllib

    return Policy.from_dict(tomllib.loads(textwrap.dedent(CONSUMERS)))


def admitted_twice(policy: Policy, path: str, token: str) -> None:
    """The token is admitted, then admitted again from what was kept for it."""
    for _ in range(2):
        assert policy.authorize("GET", path, token).verified is not None
    assert token in policy._derived


class Clock:
    """``time`` for the policy module, ``ahead`` seconds in the future (the verifier's
    clock, in the core, stays the real one)."""

    def __init__(self, ahead: float) -> None:
        self.ahead = ahead

    def time(self) -> float:
        return time.time() + self.ahead


def test_a_kept_token_is_still_checked_for_revocation(policy, keys):
    admin = corp_token(keys, ["api-admin"], jti="j-1")
    admitted_twice(policy, "/secure/x", admin)
    policy.revocations.revoke("j-1", time.time() + 600)
    with pytest.raises(TokenRevokedError):
        policy.authorize("GET", "/secure/x", admin)
    other = corp_token(keys, ["api-admin"], sub="bob", iat=int(time.time()) - 10)
    admitted_twice(policy, "/secure/x", other)
    policy.revocations.revoke_subject("bob", before=time.time(), exp=time.time() + 600)
    with pytest.raises(TokenRevokedError):
        policy.authorize("GET", "/secure/x", other)
    with pytest.raises(TokenRevokedError):
        policy.verify(other)


def test_every_change_to_the_list_reaches_a_kept_token(policy, keys):
    """A kept token skips the lookups only while the list's generation is the one it was
    checked at: every way the list changes (a write, a merge, a full re-read as a resync
    gives it, a pruning) moves the generation, and the token is looked up again."""
    from turbojwt.gateway.revocation import Revocation

    revs = policy.revocations
    now = time.time()
    admin = corp_token(keys, ["api-admin"], jti="j-2")
    admitted_twice(policy, "/secure/x", admin)
    seen = revs.generation
    revs.revoke("unrelated", now + 600)
    assert revs.generation > seen
    admitted_twice(policy, "/secure/x", admin)  # looked up again, not revoked
    assert policy._derived[admin].generation == revs.generation
    # A full re-read (a resync) bringing the token's entry: refused from then on.
    seen = revs.generation
    revs.replace_all([*revs.entries(), Revocation(now + 600, jti="j-2")])
    assert revs.generation > seen
    for _ in range(2):
        with pytest.raises(TokenRevokedError):
            policy.authorize("GET", "/secure/x", admin)
    # An entry applied as the replica's subscription gives it; a merge; a pruning.
    carol = corp_token(keys, ["api-admin"], sub="carol", iat=int(now) - 10)
    admitted_twice(policy, "/secure/x", carol)
    revs.apply(Revocation(now + 600, sub="carol", before=now))
    with pytest.raises(TokenRevokedError):
        policy.authorize("GET", "/secure/x", carol)
    seen = revs.generation
    revs.apply(Revocation(now + 900, sub="carol", before=now - 100))  # merged: the later before stays
    assert revs.generation > seen
    with pytest.raises(TokenRevokedError):
        policy.authorize("GET", "/secure/x", carol)
    seen = revs.generation
    with revs._lock:
        revs._prune_locked(now)
    assert revs.generation > seen
    with pytest.raises(TokenRevokedError):
        policy.authorize("GET", "/secure/x", carol)


def test_a_kept_token_gets_each_routes_own_answer(policy, keys):
    """What a kept token lacks is kept per route: alternating routes, and scopes given by
    the caller instead of the policy's, each get their own answer."""
    user = corp_token(keys, ["api-user"], scope="api:read reports:read")
    for _ in range(3):
        assert policy.authorize("GET", "/private/a", user).verified is not None
        with pytest.raises(InsufficientScopeError) as e:
            policy.authorize("GET", "/secure/x", user)
        assert e.value.roles_any == ["admin"]
        assert policy.authorize("GET", "/reports/q3", user).verified is not None
        with pytest.raises(InsufficientScopeError) as e:
            policy.authorize("POST", "/reports/q3", user)  # the second /reports/* route: admins
        assert e.value.roles_all == ["admin"]
        with pytest.raises(InsufficientScopeError) as e:
            policy.authorize("GET", "/private/a", user, scopes=["api:write"])
        assert e.value.needed == ["api:write"]
        assert policy.authorize("GET", "/api/x", user).verified is not None  # the default route


def test_a_kept_token_is_still_compared_with_the_clock_for_max_age(policy, keys, monkeypatch):
    admin = corp_token(keys, ["api-admin"], exp=int(time.time()) + 3600)
    admitted_twice(policy, "/secure/x", admin)
    monkeypatch.setattr(policy_module, "time", Clock(3600 + 30 - 5))  # the age limit plus leeway, nearly
    assert policy.authorize("GET", "/secure/x", admin).verified is not None
    monkeypatch.setattr(policy_module, "time", Clock(3600 + 30 + 5))
    with pytest.raises(TokenTooOldError) as e:
        policy.authorize("GET", "/secure/x", admin)
    assert not e.value.lifetime
    # A consumer's token likewise (the policy's max_age; no grace period).
    monkeypatch.undo()
    consumers = consumer_policy()
    token = jack(exp=int(time.time()) + 3600)
    admitted_twice(consumers, "/secure/x", token)
    monkeypatch.setattr(policy_module, "time", Clock(3600 + 5))
    with pytest.raises(TokenTooOldError):
        consumers.authorize("GET", "/secure/x", token)


def test_a_kept_token_is_still_verified(tmp_path, keys):
    data = example_data(tmp_path, keys)
    data["provider"][0].update(leeway=0, cache=100)
    policy = Policy.from_dict(data, base=tmp_path)
    token = corp_token(keys, ["api-admin"], exp=int(time.time()) + 2)
    admitted_twice(policy, "/secure/x", token)
    verifier = policy.providers[0].verifier
    before = verifier.cache_info()
    policy.authorize("GET", "/secure/x", token)
    after = verifier.cache_info()
    assert before is not None and after is not None and after.hits == before.hits + 1  # the core was asked
    time.sleep(max(0.0, int(time.time()) + 3 - time.time()))
    with pytest.raises(ExpiredSignatureError):
        policy.authorize("GET", "/secure/x", token)


@pytest.mark.parametrize(
    "claims, error",
    [
        ({"exp": 7200}, TokenTooOldError),  # (seconds from now) a lifetime over max_age
        ({"iat": None}, MissingRequiredClaimError),
        ({"iat": "yesterday-ish"}, InvalidIssuedAtError),
    ],
)
def test_a_token_max_age_refuses_is_refused_every_time(policy, keys, claims, error):
    now = int(time.time())
    claims = {k: (now + v if k == "exp" else v) for k, v in claims.items()}
    token = corp_token(keys, ["api-admin"], **claims)
    for _ in range(3):
        with pytest.raises(error) as e:
            policy.authorize("GET", "/secure/x", token)
        if error is TokenTooOldError:
            assert e.value.lifetime


def test_kept_roles_scopes_and_headers_answer_as_the_claims_do(policy, keys):
    user = corp_token(keys, ["api-user"], email="zoë@example.com", scope="api:read")
    for _ in range(3):  # first sight, then kept
        with pytest.raises(InsufficientScopeError) as e:
            policy.authorize("GET", "/secure/x", user)
        assert (e.value.needed, e.value.roles_any, e.value.roles_all) == ([], ["admin"], [])
        with pytest.raises(InsufficientScopeError) as e:
            policy.authorize("GET", "/reports/q3", user)
        assert e.value.needed == ["reports:read"]
        with pytest.raises(InsufficientScopeError) as e:
            policy.authorize("GET", "/private", user, scopes=["api:read", "api:write"])
        assert e.value.needed == ["api:write"]
        decision = policy.authorize("GET", "/private", user)
        assert decision.verified is not None
        answer = policy.answer_headers(decision.verified)
        assert answer == tuple(
            (k.lower().encode(), v.encode()) for k, v in policy.headers_for(decision.verified.claims).items()
        )
        assert dict(answer)[b"x-auth-email"] == b"zo%C3%AB@example.com"
    partner = partner_token(keys, ["partner-readers", "admins"])
    for _ in range(2):
        assert policy.authorize("GET", "/private", partner).verified is not None
        with pytest.raises(InsufficientScopeError):  # the partner's roles map to guest only
            policy.authorize("GET", "/api", partner)


def test_kept_consumer_tokens_keep_the_consumers_roles_and_scopes():
    consumers = consumer_policy()
    token = jack(roles=["nobody"], scope="")  # its own role and scope claims are not read
    for _ in range(2):
        decision = consumers.authorize("GET", "/secure/x", token, scopes=["api:read"])
        assert decision.verified is not None and decision.verified.consumer == "jack"
        assert consumers.answer_headers(decision.verified) == ((b"x-consumer-username", b"jack"),)
    consumers.revocations.revoke_subject("jack", before=time.time() + 1, exp=time.time() + 600)
    with pytest.raises(TokenRevokedError):
        consumers.authorize("GET", "/secure/x", token)


def test_what_is_kept_is_bounded(policy, keys, monkeypatch):
    monkeypatch.setattr(Policy, "DERIVED_TOKENS", 3)
    tokens = [corp_token(keys, ["api-admin"], jti=f"t-{i}") for i in range(10)]
    for token in tokens * 2:
        assert policy.authorize("GET", "/secure/x", token).verified is not None
        assert 1 <= len(policy._derived) <= 3
    long = corp_token(keys, ["api-admin"], padding="x" * Policy.DERIVED_TOKEN_LENGTH)
    assert policy.authorize("GET", "/secure/x", long).verified is not None
    assert long not in policy._derived


def test_a_reloaded_policy_does_not_read_what_the_old_one_kept(tmp_path, keys):
    """The same token under a reloaded policy that maps its role differently: the old
    policy's derived roles are not used."""
    example_data(tmp_path, keys)  # (writes the providers' key files)
    text = EXAMPLE.read_text(encoding="utf-8")
    for source, key_file in (
        ("discovery = true", 'key_file = "corp.pem"'),
        ('jwks_url = "https://partner.example.net/.well-known/jwks.json"', 'key_file = "partner.pem"'),
        ("jwks = { min_ttl = 60, max_ttl = 86400, cooldown = 30, max_stale = 86400 }", ""),
    ):
        assert source in text
        text = text.replace(source, key_file)
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    app = ForwardAuthApp(Policy.from_toml(path), prewarm=False)
    reloader = PolicyReloader(lambda: Policy.from_toml(path), path)
    admin = corp_token(keys, ["api-admin"])
    headers = [(b"authorization", f"Bearer {admin}".encode()), (b"x-original-method", b"GET")]
    secure = [*headers, (b"x-original-uri", b"/secure/x")]
    for _ in range(2):
        assert check(app, secure) == 200
    old = app.policy
    assert admin in old._derived
    mapping = '"api-admin" = ["admin", "user"]'
    assert mapping in text
    path.write_text(text.replace(mapping, '"api-admin" = ["user"], "api-root" = ["admin", "user"]'))  # not an admin

    async def reload() -> bool:
        reloader.attach(app)
        try:
            return await reloader.reload()
        finally:
            await reloader.detach()

    assert asyncio.run(reload()) and app.policy is not old
    assert check(app, secure) == 403
    assert check(app, [*headers, (b"x-original-uri", b"/private")]) == 200
    assert admin in app.policy._derived and app.policy._derived[admin] is not old._derived[admin]


def check(app: ForwardAuthApp, headers: list[tuple[bytes, bytes]]) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/check", "raw_path": b"/check", "query_string": b""}
    asyncio.run(app({**scope, "headers": headers}, receive, send))
    return int(sent[0]["status"])
