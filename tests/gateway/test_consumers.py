"""Consumers as APISIX's jwt-auth configures them (issue 18 §3): loading ``[[consumer]]`` and
``[token]`` tables, verification with each consumer's key and algorithm (the same verdicts as
PyJWT with that key), how consumers combine with providers, the token sources and
``hide_credentials`` in the ASGI middleware, the Starlette/FastAPI glue and the forward-auth
answer. End to end behind nginx: test_consumers_nginx.py."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import textwrap
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qsl

import jwt as pyjwt
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import turbojwt
from turbojwt.gateway import JWTAuthMiddleware, Policy, PolicyError, Provider, TokenSource
from turbojwt.gateway.consumers import Consumer, Consumers, UnknownConsumerError
from turbojwt.gateway.revocation import TokenRevokedError
from turbojwt.gateway.serve import ForwardAuthApp

pytest.importorskip("prometheus_client")
pytest.importorskip("fastapi")
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from turbojwt.gateway.frameworks import JWTAuthBackend, require_token

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gateway-consumers.toml"
JACK = "jack-hs256-secret-of-at-least-32-bytes"
A_ISS, A_KEY = "https://a.example", "a-secret-0123456789abcdef0123456789"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(payload: object, key: bytes | str = JACK, header: object = None) -> str:
    """An HS256 token over any JSON (encode refuses some payloads these tests need)."""
    h = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    p = b64(payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
    secret = key.encode() if isinstance(key, str) else key
    return f"{h}.{p}.{b64(hmac.new(secret, f'{h}.{p}'.encode(), hashlib.sha256).digest())}"


def jack(**claims: object) -> str:
    return turbojwt.encode({"key": "jack-key", "exp": int(time.time()) + 300, **claims}, JACK)


def policy_of(text: str, tmp_path: Path | None = None) -> Policy:
    if tmp_path is None:
        import tomllib

        return Policy.from_dict(tomllib.loads(textwrap.dedent(text)))
    path = tmp_path / "policy.toml"
    path.write_text(textwrap.dedent(text))
    return Policy.from_toml(path)


JACK_POLICY = f"""
[[consumer]]
name = "jack"
key = "jack-key"
secret = "{JACK}"
"""


# ------------------------------------------------------------------------- loading


def test_the_example_policy_loads():
    policy = Policy.from_toml(EXAMPLE)
    assert policy.consumers is not None and policy.providers == []
    by_name = {c.name: c for c in policy.consumers.consumers}
    assert sorted(by_name) == ["jack", "jill", "kim"]
    assert (by_name["jack"].algorithm, by_name["jack"].leeway) == ("HS256", 10)
    assert by_name["jill"].algorithm == "HS384" and len(by_name["jill"].secret or b"") == 48
    assert by_name["kim"].algorithm == "EdDSA"
    assert policy.token_source == TokenSource(cookie="jwt", query_param="jwt", hide_credentials=True)
    assert policy.realm == "jwt"
    # The secret stays out of a printed policy.
    assert JACK not in repr(by_name["jack"])


def test_every_algorithm_with_its_key(keyring, tmp_path):
    cases = [
        ("HS256", "hs256"),
        ("HS384", "hs384"),
        ("HS512", "hs512"),
        ("RS256", "rsa"),
        ("RS512", "rsa"),
        ("PS256", "rsa"),
        ("ES256", "p256"),
        ("ES384", "p384"),
        ("ES512", "p521"),
        ("EdDSA", "ed25519"),
    ]
    tables = []
    for i, (alg, name) in enumerate(cases):
        k = keyring[name]
        if k.secret is not None:
            material = f'secret = "{base64.b64encode(k.secret).decode()}"\nbase64_secret = true'
        elif i % 2:
            (tmp_path / f"{i}.pem").write_text(k.public_pem)
            material = f'public_key_file = "{i}.pem"'
        else:  # RS512: an X.509 certificate in place of the key
            material = f'public_key = """{k.cert_pem if alg == "RS512" else k.public_pem}"""'
        tables.append(f'[[consumer]]\nname = "c{i}"\nkey = "k{i}"\nalgorithm = "{alg}"\n{material}\n')
    policy = policy_of("\n".join(tables), tmp_path)
    for i, (alg, name) in enumerate(cases):
        k = keyring[name]
        signing_key = k.secret if k.secret is not None else k.private_pem
        token = turbojwt.encode({"key": f"k{i}", "sub": "x"}, signing_key, algorithm=alg)
        verified = policy.verify(token)
        assert (verified.consumer, verified.provider, verified.claims["sub"]) == (f"c{i}", None, "x")
        # Another consumer's key is never tried: the token names c{i}, only its key verifies.
        other = (i + 1) % len(cases)
        forged = turbojwt.encode({"key": f"k{other}"}, signing_key, algorithm=alg)
        with pytest.raises(turbojwt.InvalidTokenError):
            policy.verify(forged)


BAD = [
    (JACK_POLICY + JACK_POLICY.replace('"jack"', '"jim"'), "have the same key"),
    (JACK_POLICY + JACK_POLICY.replace('"jack-key"', '"jim-key"'), "two consumers are named 'jack'"),
    ('[[consumer]]\nname = "j"\nkey = "k"\nsecret = "not base64!"\nbase64_secret = true', "consumer 'j': .*not base64"),
    ('[[consumer]]\nname = "j"\nkey = "k"\nsecret = "a-_b"\nbase64_secret = true', "consumer 'j': .*not base64"),
    ('[[consumer]]\nname = "j"\nkey = "k"\nsecret = "ë"\nbase64_secret = true', "consumer 'j': .*not base64"),
    (
        '[[consumer]]\nname = "j"\nkey = "k"\nsecret = "===="\nbase64_secret = true',
        "consumer 'j': .*(not base64|empty)",
    ),
    ('[[consumer]]\nname = "j"\nkey = "k"\nsecret = "short"', "consumer 'j': The HMAC key is 5 bytes"),
    (
        f'[[consumer]]\nname = "j"\nkey = "k"\nsecret = "{"x" * 40}"\nalgorithm = "HS384"',
        "consumer 'j': The HMAC key is 40 bytes.*48",
    ),
    (
        '[[consumer]]\nname = "j"\nkey = "k"\nsecret = "{\\"kty\\":\\"oct\\",\\"k\\":\\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\"}"',
        "looks like a JWK",
    ),
    ('[[consumer]]\nname = "j"\nkey = "k"', "exactly one of secret, public_key, public_key_file"),
    ('[[consumer]]\nname = "j"\nkey = "k"\nsecret = ""', "exactly one of"),
    ('[[consumer]]\nname = "j"\nkey = "k"\npublic_key = "x"', "algorithm is required with a public key"),
    ('[[consumer]]\nname = "j"\nkey = "k"\npublic_key = "x"\nalgorithm = "HS256"', "HS256 needs a secret"),
    (f'[[consumer]]\nname = "j"\nkey = "k"\nsecret = "{JACK}"\nalgorithm = "RS256"', "RS256 needs a public key"),
    (f'[[consumer]]\nname = "j"\nkey = "k"\nsecret = "{JACK}"\nalgorithm = "none"', "algorithm must be one of"),
    (f'[[consumer]]\nname = "j"\nkey = "k"\nsecret = "{JACK}"\nexp = 86400', "turbojwt does not sign tokens"),
    (f'[[consumer]]\nname = "j"\nkey = "k"\nsecret = "{JACK}"\nprivate_key = "x"', "unknown setting.*private_key"),
    (f'[[consumer]]\nname = "j"\nkey = "k"\nsecret = "{JACK}"\nlifetime_grace_period = -1', "lifetime_grace_period"),
    (f'[[consumer]]\nname = "j"\nkey = ""\nsecret = "{JACK}"', "key must be a non-empty string"),
    (f'[[consumer]]\nname = "j"\nkey = 5\nsecret = "{JACK}"', "key must be a non-empty string"),
    (f'[[consumer]]\nkey = "k"\nsecret = "{JACK}"', "needs a name"),
    (f'[[consumer]]\nname = "j"\nkey = "k"\nsecret = "{JACK}"\nbase64_secret = "yes"', "base64_secret must be"),
    ('[[consumer]]\nname = "j"\nkey = "k"\npublic_key_file = "nowhere.pem"\nalg = "RS256"', "unknown setting"),
    ('[[consumer]]\nname = "j"\nkey = "k"\npublic_key_file = "nowhere.pem"\nalgorithm = "RS256"', "cannot read"),
    ('mode = "all"\n' + JACK_POLICY, 'consumers need mode = "any"'),
    ('key_claim_name = ""\n' + JACK_POLICY, "key_claim_name"),
    ("[claim_to_headers]\n'x-consumer-username' = 'sub'\n" + JACK_POLICY, "consumer's name"),
    ("[token]\nheader = 'Bad Header'\n" + JACK_POLICY, "token: header must be an HTTP token"),
    ("[token]\nquery = ''\n" + JACK_POLICY, "token: query_param must be a non-empty"),
    ("[token]\ncookie = 'a;b'\n" + JACK_POLICY, "token: cookie must be an HTTP token"),
    ("[token]\nhide_credentials = 'yes'\n" + JACK_POLICY, "token: hide_credentials has the wrong type"),
    ("[token]\nanonymous_consumer = 'guest'\n" + JACK_POLICY, "token: unknown setting.*anonymous_consumer"),
    ("[token]\nhide_credentials = true\n[claim_to_headers]\n'X-Upstream-URI' = 'sub'\n" + JACK_POLICY, "answer header"),
    ("realm = 'x'", "at least one \\[\\[provider\\]\\] or \\[\\[consumer\\]\\]"),
]


@pytest.mark.parametrize("text, match", BAD, ids=[m for _, m in BAD])
def test_bad_consumer_policies_are_refused_at_load_time(tmp_path, text, match):
    with pytest.raises(PolicyError, match=match) as raised:
        policy_of(text, tmp_path)
    assert JACK not in str(raised.value)


def test_a_public_key_that_does_not_fit_the_algorithm_is_refused(keyring, tmp_path):
    for alg, key in (("RS256", "p256"), ("ES256", "rsa"), ("ES256", "p384"), ("EdDSA", "rsa"), ("RS256", "rsa1024")):
        text = f'[[consumer]]\nname = "j"\nkey = "k"\nalgorithm = "{alg}"\npublic_key = """{keyring[key].public_pem}"""'
        with pytest.raises(PolicyError, match="consumer 'j': "):
            policy_of(text, tmp_path)


@pytest.mark.parametrize("key", ["rsa", "p256", "ed25519"])
def test_a_public_key_as_an_hmac_secret_is_refused(keyring, tmp_path, key):
    # Algorithm confusion: the guard decode applies to HMAC secrets, at load time.
    text = f'[[consumer]]\nname = "j"\nkey = "k"\nsecret = """{keyring[key].public_pem}"""'
    with pytest.raises(PolicyError, match="consumer 'j': .*asymmetric key"):
        policy_of(text, tmp_path)


# ------------------------------------------------------------------------- verification


def test_a_token_verified_by_a_consumer():
    policy = policy_of(JACK_POLICY)
    verified = policy.verify(jack(sub="someone"))
    assert (verified.provider, verified.consumer, verified.claims["sub"]) == (None, "jack", "someone")
    assert policy.headers_for(verified.claims, verified.consumer) == {"X-Consumer-Username": "jack"}


@pytest.mark.parametrize(
    "payload",
    [
        {"key": "nobody"},
        {"key": "JACK-KEY"},
        {"key": ["jack-key"]},
        {"key": {"jack-key": 1}},
        {"key": 1},
        {"key": True},
        {"key": None},
        {"sub": "jack-key"},
        {},
    ],
    ids=repr,
)
def test_a_token_naming_no_consumer_is_an_unknown_consumer(payload):
    with pytest.raises(UnknownConsumerError):
        policy_of(JACK_POLICY).verify(sign(payload))


@pytest.mark.parametrize(
    "token, error",
    [
        (lambda: sign({"key": "jack-key"}, "another-secret-0123456789abcdef0123"), turbojwt.InvalidSignatureError),
        (lambda: sign({"key": "jack-key"}, header={"alg": "HS512"}), turbojwt.InvalidAlgorithmError),
        (lambda: sign({"key": "jack-key"}, header={"alg": "none"}), turbojwt.InvalidAlgorithmError),
        (lambda: sign('{"key":"nobody","key":"jack-key"}'), turbojwt.DecodeError),  # duplicate members
        (lambda: sign("[1]"), turbojwt.DecodeError),
        (lambda: "a.b", turbojwt.DecodeError),
        (lambda: jack(exp=int(time.time()) - 1), turbojwt.ExpiredSignatureError),
        (lambda: jack(nbf=int(time.time()) + 60), turbojwt.ImmatureSignatureError),
        (lambda: jack(aud="api"), turbojwt.InvalidAudienceError),  # no audiences configured
    ],
    ids=["other secret", "other alg", "alg none", "duplicate key", "not an object", "malformed", "exp", "nbf", "aud"],
)
def test_consumer_refusals(token, error):
    with pytest.raises(error):
        policy_of(JACK_POLICY).verify(token())


def test_lifetime_grace_period_is_the_leeway():
    policy = policy_of(JACK_POLICY + "lifetime_grace_period = 30\n")
    now = int(time.time())
    assert policy.verify(jack(exp=now - 10)).consumer == "jack"
    assert policy.verify(jack(nbf=now + 10)).consumer == "jack"
    with pytest.raises(turbojwt.ExpiredSignatureError):
        policy.verify(jack(exp=now - 60))


def test_key_claim_name_audiences_and_required_claims():
    policy = policy_of(
        'key_claim_name = "iss"\n' + JACK_POLICY + 'audiences = ["api"]\nrequired_claims = ["exp", "sub"]\n'
    )
    token = turbojwt.encode({"iss": "jack-key", "aud": "api", "sub": "s", "exp": int(time.time()) + 60}, JACK)
    assert policy.verify(token).consumer == "jack"
    with pytest.raises(UnknownConsumerError):
        policy.verify(jack(aud="api", sub="s"))  # names jack in `key`, not in `iss`
    with pytest.raises(turbojwt.MissingRequiredClaimError):
        policy.verify(turbojwt.encode({"iss": "jack-key", "aud": "api", "exp": int(time.time()) + 60}, JACK))


def test_revocation_applies_to_consumer_tokens():
    policy = policy_of(JACK_POLICY + "cache = 100\n")
    stolen, other = jack(jti="j-1"), jack(jti="j-2")
    assert policy.verify(stolen).consumer == "jack"  # now in jack's verified-token cache
    policy.revocations.revoke("j-1")
    with pytest.raises(TokenRevokedError):
        policy.verify(stolen)
    assert policy.verify(other).consumer == "jack"
    status, _ = run_app(JWTAuthMiddleware(Echo(), policy), scope_of([(b"authorization", f"Bearer {stolen}".encode())]))
    assert status["status"] == 401


def test_the_verified_claim_must_name_the_consumer_that_verified():
    consumer = Consumer("jack", "jack-key", secret=JACK.encode())
    consumers = Consumers([consumer])
    consumers.check(consumer, {"key": "jack-key"})
    for claims in ({"key": "jill-key"}, {}, {"key": ["jack-key"]}):
        with pytest.raises(UnknownConsumerError):
            consumers.check(consumer, claims)


def test_a_consumer_holds_the_scopes_the_policy_gives_it_not_those_it_claims():
    # jack writes its own tokens: a scope claim in them grants nothing.
    policy = policy_of('required_scopes = ["read"]\n' + JACK_POLICY)
    with pytest.raises(turbojwt.gateway.InsufficientScopeError):
        policy.verify(jack(scope="read write"))
    policy = policy_of('required_scopes = ["read"]\n' + JACK_POLICY + 'scopes = ["read"]\n')
    verified = policy.verify(jack())
    assert verified.consumer == "jack" and policy.scopes_held(verified) == {"read"}


TIMES = st.one_of(
    st.none(),
    st.integers(-200, 200).map(lambda d: int(time.time()) + d),
    st.floats(-200, 200).map(lambda d: time.time() + d),
    st.sampled_from(["", "1", "x", [], {}, True, 10**30]),
)


@settings(max_examples=150, deadline=None)
@given(
    exp=TIMES, nbf=TIMES, iat=TIMES, aud=st.sampled_from([None, "api", ["api"], "", 1]), grace=st.sampled_from([0, 5])
)
def test_consumer_verdicts_are_pyjwts(exp, nbf, iat, aud, grace):
    """A consumer's verdict is PyJWT's with the consumer's key, algorithm and leeway."""
    payload: dict[str, object] = {"key": "jack-key"}
    for name, value in (("exp", exp), ("nbf", nbf), ("iat", iat), ("aud", aud)):
        if value is not None:
            payload[name] = value
    token = sign(payload)
    policy = _grace_policies.setdefault(grace, policy_of(JACK_POLICY + f"lifetime_grace_period = {grace}\n"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pyjwt.decode(token, JACK, algorithms=["HS256"], leeway=grace)
        expected: type[Exception] | None = None
    except pyjwt.InvalidTokenError as e:
        expected = getattr(turbojwt, type(e).__name__)
    if expected is None:
        assert policy.verify(token).consumer == "jack"
    else:
        with pytest.raises(expected):
            policy.verify(token)


_grace_policies: dict[int, Policy] = {}


# ------------------------------------------------------------------------- with providers

MIXED = f"""
[[provider]]
name = "a"
issuer = "{A_ISS}"
key_file = "a.key"
algorithms = ["HS256"]
{JACK_POLICY}
"""


@pytest.fixture
def mixed(tmp_path) -> Policy:
    (tmp_path / "a.key").write_text(A_KEY)
    return policy_of(MIXED, tmp_path)


def test_a_provider_token_goes_to_its_provider(mixed):
    verified = mixed.verify(sign({"iss": A_ISS, "sub": "alice"}, A_KEY))
    assert (verified.provider, verified.consumer) == ("a", None)
    # Naming a consumer as well changes nothing: the issuer chose the provider.
    verified = mixed.verify(sign({"iss": A_ISS, "key": "jack-key"}, A_KEY))
    assert (verified.provider, verified.consumer) == ("a", None)


def test_a_token_with_a_providers_issuer_never_goes_to_a_consumer(mixed):
    # Signed with jack's secret but claiming the provider's issuer: the provider refuses it.
    with pytest.raises(turbojwt.InvalidSignatureError):
        mixed.verify(sign({"iss": A_ISS, "key": "jack-key"}))


def test_other_tokens_go_to_the_consumer_they_name(mixed):
    assert mixed.verify(jack()).consumer == "jack"
    assert mixed.verify(jack(iss="https://elsewhere.example")).consumer == "jack"
    assert mixed.verify(sign({"iss": [A_ISS], "key": "jack-key"})).consumer == "jack"
    for payload in ({"iss": "https://elsewhere.example"}, {"sub": "x"}):
        with pytest.raises(UnknownConsumerError):
            mixed.verify(sign(payload))
    # A provider's key signing a token without its issuer is no consumer's token.
    with pytest.raises(turbojwt.InvalidSignatureError):
        mixed.verify(sign({"key": "jack-key"}, A_KEY))


# ------------------------------------------------------------------------- with routes and roles

ROUTED = f"""
max_age = 60

[[route]]
path = "/public/*"
auth = "public"

[[route]]
path = "/admin/*"
roles_any = ["admin"]

[[route]]
path = "/reports/*"
scopes = ["reports"]

[default_route]
auth = "required"

[[consumer]]
name = "jack"
key = "jack-key"
secret = "{JACK}"
roles = ["admin"]
scopes = ["reports"]
lifetime_grace_period = 100

[[consumer]]
name = "jill"
key = "jill-key"
secret = "{"jill-" * 8}"
"""


def jill(**claims: object) -> str:
    now = int(time.time())
    return turbojwt.encode({"key": "jill-key", "iat": now, "exp": now + 60, **claims}, "jill-" * 8)


def fresh_jack(age: int = 0) -> str:
    """A jack token issued ``age`` seconds ago, living the policy's 60 s."""
    iat = int(time.time()) - age
    return jack(iat=iat, exp=iat + 60)


def test_routes_give_consumers_the_roles_and_scopes_of_the_policy():
    policy = policy_of(ROUTED)
    assert policy.authorize("GET", "/admin/x", fresh_jack()).verified.consumer == "jack"
    assert policy.authorize("GET", "/reports/q", fresh_jack()).verified.consumer == "jack"
    # jill writes roles and scopes into her own token: they grant her nothing.
    for path in ("/admin/x", "/reports/q"):
        with pytest.raises(turbojwt.gateway.InsufficientScopeError):
            policy.authorize("GET", path, jill(roles=["admin"], realm_access={"roles": ["admin"]}, scope="reports"))
    assert policy.authorize("GET", "/other", jill()).verified.consumer == "jill"
    assert policy.authorize("GET", "/public/x", None).verified is None


def test_max_age_applies_to_consumers_with_their_grace_period():
    policy = policy_of(ROUTED)
    now = int(time.time())
    assert policy.authorize("GET", "/x", fresh_jack(age=120)).verified is not None  # 60 s + 100 s grace
    with pytest.raises(turbojwt.gateway.TokenTooOldError):
        policy.authorize("GET", "/x", jill(iat=now - 120, exp=now + 5))
    with pytest.raises(turbojwt.gateway.TokenTooOldError):
        policy.authorize("GET", "/x", jack(iat=now, exp=now + 61))  # lives longer than max_age
    with pytest.raises(turbojwt.MissingRequiredClaimError):
        policy.authorize("GET", "/x", jack(exp=now + 60))  # max_age needs iat


def test_a_route_role_no_consumer_has_is_a_load_error():
    with pytest.raises(PolicyError, match="role 'auditor'"):
        policy_of(ROUTED.replace('roles_any = ["admin"]', 'roles_any = ["auditor"]'))


def test_policy_check_and_explain_name_the_consumers(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "routed.toml"
    path.write_text(ROUTED)

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "turbojwt", "policy", *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "valid; 0 provider(s) (), 2 consumer(s) (jack, jill), 3 route(s)" in cli("check", str(path))
    explained = cli("explain", str(path), "GET", "/admin/x")
    assert "consumer: jack (HS256): max_age 60 s, roles admin, scopes reports" in explained
    assert "consumer: jill (HS256): max_age 60 s, roles none, scopes none" in explained


def test_forward_auth_with_routes_consumers_and_hiding():
    app = ForwardAuthApp(policy_of(ROUTED + HIDING_TABLE), prewarm=False, proxy="nginx")
    tok = fresh_jack()

    def check(method: str, uri: str, headers=()) -> tuple[int, dict[bytes, bytes]]:
        return answer(app, [(b"x-original-method", method.encode()), (b"x-original-uri", uri.encode()), *headers])

    status, headers = check("GET", f"/admin/x?jwt={tok}&a=1")
    assert (
        status == 200 and headers[b"x-consumer-username"] == b"jack" and headers[b"x-upstream-uri"] == b"/admin/x?a=1"
    )
    assert check("GET", f"/admin/x?jwt={jill()}")[0] == 403
    # A public route reads no token and names no consumer, but still hides the credentials.
    status, headers = check("GET", f"/public/x?jwt={jill()}", [(b"cookie", f"jwt={tok}; a=b".encode())])
    assert status == 200 and b"x-consumer-username" not in headers
    assert (headers[b"x-upstream-uri"], headers[b"x-upstream-cookie"]) == (b"/public/x", b"a=b")


# ------------------------------------------------------------------------- token sources


def scope_of(headers: list[tuple[bytes, bytes]], query: bytes = b"", kind: str = "http") -> dict:
    return {"type": kind, "method": "GET", "path": "/x", "headers": headers, "query_string": query}


def test_a_header_other_than_authorization():
    source = TokenSource(header="X-JWT")
    tok = jack()
    assert source.token(scope_of([(b"x-jwt", tok.encode())])) == tok
    assert source.token(scope_of([(b"x-jwt", f"Bearer {tok}".encode())])) == tok
    assert source.token(scope_of([(b"authorization", f"Bearer {tok}".encode())])) is None
    from turbojwt.gateway.asgi import BadRequest

    for bad in ([(b"x-jwt", b"Basic abc")], [(b"x-jwt", f"{tok} x".encode())], [(b"x-jwt", b"a"), (b"x-jwt", b"a")]):
        with pytest.raises(BadRequest):
            source.token(scope_of(bad))


@pytest.mark.parametrize(
    "query, kept",
    [
        (b"jwt=T", b""),
        (b"a=1&jwt=T", b"a=1"),
        (b"jwt=T&a=1", b"a=1"),
        (b"a=1&jwt=T&b=2", b"a=1&b=2"),
        (b"a=1;jwt=T&b=%2F+x", b"a=1&b=%2F+x"),
        (b"a=1&jwt=T;b=2", b"a=1;b=2"),
        (b"j%77t=T&a=1", b"a=1"),
        (b"jwt&a=1&jwt=", b"a=1"),
        (b"a=1&&b=2&jwt=T", b"a=1&&b=2"),
        (b"jwtx=1&xjwt=2&jwt=T&JWT=3", b"jwtx=1&xjwt=2&JWT=3"),
        (b"a=%E9&jwt=T", b"a=%E9"),
        (b"", b""),
    ],
)
def test_query_without_the_token_keeps_the_rest_byte_for_byte(query, kept):
    assert TokenSource(query_param="jwt").query_without(query) == kept


@pytest.mark.parametrize(
    "cookie, kept",
    [
        (b"jwt=T", b""),
        (b"a=1; jwt=T", b"a=1"),
        (b"jwt=T; a=1", b"a=1"),
        (b"a=1; jwt=T; b=2", b"a=1; b=2"),
        (b"a=1;jwt=T;b=2", b"a=1;b=2"),
        (b'a="x; y"; jwt="T"; b=2', b'a="x; y"; b=2'),
        (b"a=1; jwtx=2; jwt =T", b"a=1; jwtx=2"),
        (b"a=1; b", b"a=1; b"),
        (b"a=\xe9; jwt=T", b"a=\xe9"),
    ],
)
def test_cookie_without_the_token(cookie, kept):
    assert TokenSource(cookie="jwt").cookie_without(cookie) == kept


SEGMENTS = st.lists(
    st.tuples(
        st.sampled_from(["&", ";"]),
        st.sampled_from(["jwt", "j%77t", "jw%74", "a", "b", "jwt2", "", "jwt+"]),
        st.sampled_from(["", "=", "=T", "=1", "=%26", "=a+b"]),
    ),
    max_size=8,
)


@given(SEGMENTS)
def test_no_parser_finds_the_parameter_after_hiding(segments):
    query = "".join(sep + name + value for sep, name, value in segments)[1:].encode()
    kept = TokenSource(query_param="jwt").query_without(query).decode()
    for text in (kept, kept.replace(";", "&")):
        assert "jwt" not in [k for k, _ in parse_qsl(text, keep_blank_values=True)]
    # Every other parameter is still there, in order (in the ";"-and-"&" reading).
    others = [k for k, _ in parse_qsl(query.decode().replace(";", "&"), keep_blank_values=True) if k != "jwt"]
    assert [k for k, _ in parse_qsl(kept.replace(";", "&"), keep_blank_values=True)] == others


def test_hidden_scope_removes_only_credentials():
    source = TokenSource(cookie="jwt", query_param="jwt", hide_credentials=True)
    scope = scope_of(
        [
            (b"host", b"api"),
            (b"authorization", b"Bearer T"),
            (b"cookie", b"a=1; jwt=T"),
            (b"cookie", b"jwt=T"),
            (b"x-other", b"kept"),
        ],
        b"x=1&jwt=T",
    )
    hidden = source.hidden(scope)
    assert hidden["headers"] == [(b"host", b"api"), (b"cookie", b"a=1"), (b"x-other", b"kept")]
    assert hidden["query_string"] == b"x=1"
    assert scope["query_string"] == b"x=1&jwt=T" and len(scope["headers"]) == 5  # the original is untouched
    basic = source.hidden(scope_of([(b"authorization", b"Basic dTpw")]))
    assert basic["headers"] == [(b"authorization", b"Basic dTpw")]
    custom = TokenSource(header="X-JWT", hide_credentials=True).hidden(scope_of([(b"x-jwt", b"T"), (b"a", b"b")]))
    assert custom["headers"] == [(b"a", b"b")]


# ------------------------------------------------------------------------- ASGI middleware and frameworks


def run_app(app, scope: dict) -> tuple[dict, dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0], sent[1]


class Echo:
    """The application: records the scope it was given."""

    def __init__(self) -> None:
        self.scope: dict | None = None

    async def __call__(self, scope, receive, send) -> None:
        self.scope = scope
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


HIDING_TABLE = '\n[token]\nquery = "jwt"\ncookie = "jwt"\nhide_credentials = true\n'
HIDING = JACK_POLICY + HIDING_TABLE


@pytest.mark.parametrize(
    "headers, query",
    [
        (lambda t: [(b"authorization", f"Bearer {t}".encode())], b""),
        (lambda t: [(b"cookie", f"a=1; jwt={t}".encode())], b""),
        (lambda t: [], lambda t: f"x=1&jwt={t}".encode()),
    ],
    ids=["header", "cookie", "query"],
)
def test_middleware_hides_credentials_and_names_the_consumer(headers, query):
    echo = Echo()
    app = JWTAuthMiddleware(echo, policy_of(HIDING))
    tok = jack()
    sent = [*headers(tok), (b"x-consumer-username", b"admin"), (b"host", b"api")]
    start, _ = run_app(app, scope_of(sent, query(tok) if callable(query) else query))
    assert start["status"] == 200 and echo.scope is not None
    seen = echo.scope
    assert tok.encode() not in repr(seen["headers"]).encode() and tok.encode() not in seen["query_string"]
    assert [v for k, v in seen["headers"] if k == b"x-consumer-username"] == [b"jack"]
    assert (b"host", b"api") in seen["headers"]
    assert seen["state"]["jwt_consumer"] == "jack" and seen["state"]["jwt_provider"] is None
    if callable(query):
        assert seen["query_string"] == b"x=1"


def test_middleware_without_hiding_passes_the_token_on():
    echo = Echo()
    app = JWTAuthMiddleware(echo, policy_of(JACK_POLICY + '\n[token]\nquery = "jwt"\n'))
    tok = jack()
    run_app(app, scope_of([], f"jwt={tok}".encode()))
    assert echo.scope is not None and echo.scope["query_string"] == f"jwt={tok}".encode()


def test_middleware_drops_a_client_consumer_header_on_anonymous_and_provider_requests(mixed):
    echo = Echo()
    app = JWTAuthMiddleware(echo, mixed, optional=True)
    run_app(app, scope_of([(b"x-consumer-username", b"jack")]))
    assert echo.scope is not None and b"x-consumer-username" not in dict(echo.scope["headers"])
    token = sign({"iss": A_ISS, "sub": "alice"}, A_KEY)
    run_app(app, scope_of([(b"authorization", f"Bearer {token}".encode()), (b"X-Consumer-Username", b"jack")]))
    assert [k for k, _ in echo.scope["headers"] if k.lower() == b"x-consumer-username"] == []
    assert echo.scope["state"]["jwt_provider"] == "a" and echo.scope["state"]["jwt_consumer"] is None


def test_skipped_paths_get_no_client_consumer_header_either():
    echo = Echo()
    app = JWTAuthMiddleware(echo, policy_of(HIDING), skip_paths=["/healthz"])
    tok = jack()
    run_app(app, {**scope_of([(b"x-consumer-username", b"jack")], f"jwt={tok}".encode()), "path": "/healthz"})
    assert echo.scope is not None and echo.scope["headers"] == []
    assert echo.scope["query_string"] == f"jwt={tok}".encode()  # not checked: nothing hidden


def test_unknown_consumer_answer():
    start, body = run_app(
        JWTAuthMiddleware(Echo(), policy_of(JACK_POLICY)),
        scope_of([(b"authorization", f"Bearer {sign({'key': 'x'})}".encode())]),
    )
    assert start["status"] == 401
    assert json.loads(body["body"]) == {
        "error": "invalid_token",
        "error_description": "The token names no known consumer",
    }


def test_token_sources_are_given_once():
    policy = policy_of(HIDING)
    with pytest.raises(TypeError, match="not both"):
        JWTAuthMiddleware(Echo(), policy, cookie="session")
    with pytest.raises(PolicyError, match="not both"):
        ForwardAuthApp(policy, TokenSource(), prewarm=False)


def test_a_reload_brings_its_token_table(tmp_path):
    """turbojwt serve reads tokens as the running policy says: a reload that changes the
    [token] table (or adds one next to --cookie, or hides without a proxy) takes effect or
    is refused like any policy it cannot serve."""
    from turbojwt.gateway.reload import PolicyReloader, policy_files

    path = tmp_path / "p.toml"
    path.write_text(JACK_POLICY)
    app = ForwardAuthApp(policy_of(JACK_POLICY), prewarm=False)
    reloader = PolicyReloader(lambda: Policy.from_toml(path), path)

    async def reload() -> bool:
        reloader.attach(app)
        try:
            return await reloader.reload()
        finally:
            await reloader.detach()

    tok = jack()
    assert answer(app, [], f"jwt={tok}".encode())[0] == 401  # no query source yet
    path.write_text(JACK_POLICY + '\n[token]\nquery = "jwt"\n')
    assert asyncio.run(reload()) and app.source.query_param == "jwt"
    assert answer(app, [], f"jwt={tok}".encode())[0] == 200
    path.write_text(HIDING)  # hide_credentials without a proxy: refused, the running policy stays
    assert not asyncio.run(reload()) and "hide_credentials needs" in (reloader.last_error or "")
    assert answer(app, [], f"jwt={tok}".encode())[0] == 200
    with_cookie = ForwardAuthApp(policy_of(JACK_POLICY), TokenSource(cookie="s"), prewarm=False)
    reloader = PolicyReloader(lambda: Policy.from_toml(path), path)
    path.write_text(JACK_POLICY + '\n[token]\nquery = "jwt"\n')

    async def reload_cookie() -> bool:
        reloader.attach(with_cookie)
        try:
            return await reloader.reload()
        finally:
            await reloader.detach()

    assert not asyncio.run(reload_cookie()) and "not both" in (reloader.last_error or "")
    # A consumer's public_key_file is watched like a provider's key file.
    path.write_text('[[consumer]]\nname = "k"\nkey = "k"\nalgorithm = "EdDSA"\npublic_key_file = "k.pem"\n')
    assert policy_files(path) == [path, tmp_path / "k.pem"]


def test_websocket_scope_is_hidden_too():
    echo = Echo()
    app = JWTAuthMiddleware(echo, policy_of(HIDING))
    run_app(app, scope_of([], f"jwt={jack()}".encode(), kind="websocket"))
    assert echo.scope is not None and echo.scope["query_string"] == b""


def test_fastapi_and_starlette_read_the_policys_token_table():
    policy = policy_of(HIDING)
    api = FastAPI()

    @api.get("/me")
    async def me(request: Request, claims: dict = Depends(require_token(policy))):
        return {"consumer": request.state.jwt_consumer, "key": claims["key"]}

    client = TestClient(api)
    assert client.get(f"/me?jwt={jack()}").json() == {"consumer": "jack", "key": "jack-key"}
    assert client.get(f"/me?jwt={sign({'key': 'x'})}").status_code == 401

    async def whoami(request):
        return JSONResponse(
            {"user": request.user.display_name, "query": request.url.query, "cookie": request.headers.get("cookie")}
        )

    backend = JWTAuthBackend(policy)
    app = Starlette(
        routes=[Route("/whoami", whoami)],
        middleware=[Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_auth_error)],
    )
    client = TestClient(app)
    r = client.get(f"/whoami?a=1&jwt={jack(sub='someone-else')}", headers={"Cookie": "theme=dark"})
    assert r.json() == {"user": "jack", "query": "a=1", "cookie": "theme=dark"}


# ------------------------------------------------------------------------- forward-auth answer


def answer(app, headers: list[tuple[bytes, bytes]] = (), query: bytes = b"") -> tuple[int, dict[bytes, bytes]]:
    start, _ = run_app(app, {**scope_of(headers, query), "path": "/check"})
    return start["status"], dict(start["headers"])


def test_forward_auth_answer_for_a_consumer():
    app = ForwardAuthApp(policy_of(HIDING), prewarm=False, proxy="nginx")
    tok = jack()
    status, headers = answer(
        app,
        [
            (b"authorization", b"Basic dTpw"),
            (b"cookie", f"a=1; jwt={tok}".encode()),
            (b"cookie", b"b=2"),
            (b"x-original-uri", b"/api/v1?x=%2F&jwt=" + tok.encode()),
        ],
    )
    assert status == 200
    assert headers[b"x-consumer-username"] == b"jack"
    assert headers[b"x-upstream-uri"] == b"/api/v1?x=%2F"
    assert headers[b"x-upstream-cookie"] == b"a=1; b=2"
    assert headers[b"x-upstream-authorization"] == b"Basic dTpw"
    status, headers = answer(app, [(b"authorization", f"Bearer {tok}".encode()), (b"x-original-uri", b"/p")])
    assert status == 200
    assert (headers[b"x-upstream-uri"], headers[b"x-upstream-cookie"], headers[b"x-upstream-authorization"]) == (
        b"/p",
        b"",
        b"",
    )
    # Only the named proxy's header is read: behind nginx, a client's X-Forwarded-Uri is nothing.
    sent = [(b"x-original-uri", b"/a"), (b"x-forwarded-uri", f"/a?jwt={tok}".encode())]
    assert answer(app, sent)[0] == 401
    for sent in (
        [],  # no original URI
        [(b"x-original-uri", b"/a"), (b"x-original-uri", f"/b?jwt={tok}".encode())],  # two
        [(b"x-original-uri", f"@evil.example/?jwt={tok}".encode())],  # not a path: appended to the upstream address
    ):
        assert answer(app, sent)[0] == 400


@pytest.mark.parametrize("proxy", ["traefik", "envoy"])
def test_forward_auth_reads_the_original_uri_of_its_proxy(proxy):
    app = ForwardAuthApp(policy_of(HIDING), prewarm=False, proxy=proxy)
    tok = jack()
    if proxy == "traefik":
        scope = {**scope_of([(b"x-forwarded-uri", f"/p?a=1&jwt={tok}".encode())]), "path": "/check"}
    else:  # ext_authz: the original path after path_prefix, and the original query
        scope = {**scope_of([], f"a=1&jwt={tok}".encode()), "path": "/check/p", "raw_path": b"/check/p"}
    start, _ = run_app(app, scope)
    assert start["status"] == 200 and dict(start["headers"])[b"x-upstream-uri"] == b"/p?a=1"


def test_hiding_through_forward_auth_needs_a_proxy():
    with pytest.raises(PolicyError, match="hide_credentials needs"):
        ForwardAuthApp(policy_of(HIDING), prewarm=False)
    # Query tokens without a proxy setting: the check request's own query, as before.
    app = ForwardAuthApp(policy_of(JACK_POLICY + '\n[token]\nquery = "jwt"\n'), prewarm=False)
    assert answer(app, [], f"jwt={jack()}".encode())[0] == 200


def test_forward_auth_without_hiding_sends_no_upstream_headers():
    app = ForwardAuthApp(policy_of(JACK_POLICY), prewarm=False)
    status, headers = answer(app, [(b"authorization", f"Bearer {jack()}".encode())])
    assert status == 200 and headers[b"x-consumer-username"] == b"jack"
    assert not [k for k in headers if k.startswith(b"x-upstream")]


def test_serve_command_line_and_token_table(tmp_path):
    from turbojwt.cli.serve import build_app

    path = tmp_path / "p.toml"
    path.write_text(HIDING + '[forward_auth]\nproxy = "nginx"\n')
    assert build_app(str(path), prewarm=False).source.hide_credentials
    with pytest.raises(PolicyError, match="not both"):
        build_app(str(path), cookie="session", prewarm=False)
    path.write_text(JACK_POLICY)
    assert build_app(str(path), cookie="session", prewarm=False).source.cookie == "session"


# ------------------------------------------------------------------------- property: any input, an answer

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    key=JSON | st.sampled_from(["jack-key", "jill-key", ""]),
    extra=st.dictionaries(st.sampled_from(["iss", "exp", "nbf", "aud", "sub"]), JSON, max_size=3),
    secret=st.sampled_from([JACK, A_KEY]),
)
def test_any_consumer_claim_gets_an_answer_never_an_exception(key, extra, secret):
    tok = sign({"key": key, **extra}, secret)
    apps = _apps()
    for app in (apps["middleware"], apps["forward_auth"]):
        start, _ = run_app(app, scope_of([(b"authorization", f"Bearer {tok}".encode()), (b"x-original-uri", b"/")]))
        assert start["status"] in (200, 401, 403)


_APPS: dict[str, object] = {}


def _apps() -> dict[str, object]:
    if not _APPS:
        policy = Policy(
            [Provider("a", A_ISS, A_KEY, ["HS256"])],
            consumers=Consumers([Consumer("jack", "jack-key", secret=JACK.encode())]),
            token_source=TokenSource(query_param="jwt", cookie="jwt", hide_credentials=True),
            claim_to_headers={"X-Auth-Subject": "sub"},
        )
        echo = Echo()
        _APPS.update(
            echo=echo,
            middleware=JWTAuthMiddleware(echo, policy),
            forward_auth=ForwardAuthApp(policy, prewarm=False, proxy="nginx"),
        )
    return _APPS


LATIN1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30)
PIECES = st.sampled_from(["jwt=", "jwt", "j%77t=", "&", ";", "=", "?", "/", "%", "a=1", " ", '"', "\xe9"])
MESSY = st.lists(st.one_of(PIECES, LATIN1, st.just("TOKEN")), max_size=8).map("".join)
NAMES = st.sampled_from(["jwt", "j%77t", "jwt ", " jwt", "JWT", "a", "jwt2"])
VALUES = st.sampled_from(["=TOKEN", "=TOKEN", "", "=", "=1", '="TOKEN"']) | LATIN1.map(lambda t: "=" + t)
PAIRS = st.lists(st.tuples(st.sampled_from(["&", ";", "; "]), NAMES, VALUES), max_size=5).map(
    lambda pairs: "".join(sep + name + value for sep, name, value in pairs)[1:]
)
CREDENTIALS = st.one_of(PAIRS, PAIRS, MESSY)
AUTHORIZATION = st.sampled_from(["", "Bearer TOKEN", "Basic dTpw", "bearer  TOKEN", "Bearer\tTOKEN"]) | MESSY


def no_credentials(uri_query: bytes, cookies: list[bytes], authorization: list[bytes]) -> None:
    """Nothing a parser reads as the token parameter, cookie or Bearer header is left."""
    text = uri_query.decode("latin-1")
    for reading in (text, text.replace(";", "&")):
        assert "jwt" not in [k for k, _ in parse_qsl(reading, keep_blank_values=True)]
    for value in cookies:
        assert "jwt" not in [p.partition("=")[0].strip(" \t") for p in value.decode("latin-1").split(";") if "=" in p]
    for value in authorization:
        assert not value.lower().lstrip(b" \t").startswith(b"bearer")


@settings(max_examples=300, deadline=None)
@given(
    uri=CREDENTIALS.map(lambda q: "p?" + q),
    cookie=CREDENTIALS,
    query=CREDENTIALS,
    authorization=AUTHORIZATION,
    twice=st.booleans(),
)
def test_any_credentials_and_original_uri_get_an_answer(uri, cookie, query, authorization, twice):
    """Hiding never raises: whatever the original URI, cookies, query and Authorization header,
    the middleware and the forward-auth app answer 200/400/401, and what a 200 passes on
    holds no token parameter, token cookie or Bearer header."""
    tok = jack()

    def fill(text: str) -> bytes:
        return text.replace("TOKEN", tok).encode("latin-1")

    headers = [(b"cookie", fill(cookie)), (b"authorization", fill(authorization))] + [(b"cookie", fill(cookie))] * twice
    apps = _apps()
    echo = apps["echo"]
    echo.scope = None
    start, _ = run_app(apps["middleware"], scope_of(headers, fill(query)))
    event(f"middleware {start['status']}")
    assert start["status"] in (200, 400, 401)
    if start["status"] == 200:
        seen = echo.scope
        no_credentials(
            seen["query_string"],
            [v for k, v in seen["headers"] if k == b"cookie"],
            [v for k, v in seen["headers"] if k == b"authorization"],
        )
    original = b"/" + fill(uri)
    start, _ = run_app(apps["forward_auth"], scope_of([(b"x-original-uri", original), *headers]))
    event(f"forward auth {start['status']}")
    assert start["status"] in (200, 400, 401)
    if start["status"] == 200:
        answer = dict(start["headers"])
        no_credentials(
            answer[b"x-upstream-uri"].partition(b"?")[2],
            [answer[b"x-upstream-cookie"]],
            [answer[b"x-upstream-authorization"]],
        )
