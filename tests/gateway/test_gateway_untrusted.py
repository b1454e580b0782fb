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
from urllib.parse import unquote

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from turbojwt.gateway import JWTAuthMiddleware, Policy, Provider
from turbojwt.gateway.asgi import TokenSource
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
    return Policy(
        [
            Provider("a", A_ISS, A_KEY, ["HS256"], audiences=["api"], typ="at+jwt"),
            Provider("b", B_ISS, B_KEY, ["HS256"], audiences=["api"]),
        ],
        required_scopes=["read"],
        **kwargs,
    )


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


# ----------------------------------------------------------------- claim headers

HEADERS = {"X-Auth-Subject": "sub", "X-Auth-Roles": "roles"}


def forwarded(**extra: object) -> dict[bytes, bytes]:
    """The headers the forward-auth app answers a valid token with."""
    policy = make_policy(claim_to_headers=HEADERS)
    start, _ = call(
        ForwardAuthApp(policy, prewarm=False), bearer(sign({"alg": "HS256", "typ": "at+jwt"}, claims(**extra)))
    )
    assert start["status"] == 200
    return dict(start["headers"])


def printable_ascii(value: bytes) -> bool:
    return all(0x20 <= b < 0x7F for b in value)


def decode_list(value: bytes) -> list[str]:
    """What a receiver does with a list header: split on ",", percent-decode each member."""
    return [unquote(member) for member in value.decode("ascii").split(",")]


def test_non_latin1_subjects_stay_distinct():
    # Before: both became "????" (latin-1 with "replace"), so one user could pass for another.
    names = ["Юлия", "Иван", "Zoë", "李雷", "a\u00a0b"]
    seen = [forwarded(sub=name)[b"x-auth-subject"] for name in names]
    assert len(set(seen)) == len(names)
    assert all(printable_ascii(v) for v in seen)
    assert [unquote(v.decode("ascii")) for v in seen] == names
    assert forwarded(sub="Zoë")[b"x-auth-subject"] == b"Zo%C3%AB"


def test_a_comma_inside_a_list_member_is_not_a_separator():
    # Before: ["admin,ops"] and ["admin", "ops"] were both "admin,ops".
    one = forwarded(roles=["admin,ops"])[b"x-auth-roles"]
    two = forwarded(roles=["admin", "ops"])[b"x-auth-roles"]
    assert one == b"admin%2Cops" and two == b"admin,ops"
    assert decode_list(one) == ["admin,ops"] and decode_list(two) == ["admin", "ops"]
    # "%" is the escape itself: a literal "%2C" in a value is encoded too.
    assert decode_list(forwarded(roles=["50%2C", "x"])[b"x-auth-roles"]) == ["50%2C", "x"]


@pytest.mark.parametrize(
    "sub", ["a\nX-Injected: 1", "a\rb", "a\x00b", "a\tb", "a\x7fb", "a\x85b", "a\x9bb", "a\u2028b"], ids=repr
)
def test_control_characters_never_reach_a_header(sub):
    # Before: C0 controls dropped the header, C1 controls (NEL, CSI) went out as raw bytes.
    value = forwarded(sub=sub, roles=[sub, "x"])
    assert printable_ascii(value[b"x-auth-subject"]) and printable_ascii(value[b"x-auth-roles"])
    assert unquote(value[b"x-auth-subject"].decode()) == sub
    assert decode_list(value[b"x-auth-roles"]) == [sub, "x"]


def test_claim_header_rendering():
    from turbojwt.gateway.policy import header_value

    assert header_value("alice@example.com") == "alice@example.com"
    assert header_value("https://idp.example/users/1?x=y") == "https://idp.example/users/1?x=y"
    assert header_value("Alice Smith") == "Alice Smith"  # an inner space stays
    assert header_value(" alice ") == "%20alice%20"  # HTTP would strip these
    assert header_value('say "hi"') == "say %22hi%22"
    assert header_value("100%") == "100%25"
    assert header_value(42) == "42" and header_value(True) == "true" and header_value(1.5) == "1.5"
    assert header_value(["a", 1, False]) == "a,1,false"
    assert header_value({"k": [1, 2]}) == "{%22k%22:[1%2C2]}"
    assert header_value(None) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_any_claim_renders_as_printable_ascii(value):
    from turbojwt.gateway.policy import header_value

    text = header_value(value)
    assert (text is None) == (value is None)
    if text is not None:
        assert all(" " <= c <= "~" for c in text)
        assert text == text.strip(" ")  # nothing HTTP would strip


@settings(max_examples=200, deadline=None)
@given(sub=st.text(), roles=st.lists(st.text(min_size=1), min_size=1, max_size=5))
def test_string_claims_round_trip(sub, roles):
    from turbojwt.gateway.policy import header_value

    assert unquote(header_value(sub)) == sub
    assert [unquote(m) for m in header_value(roles).split(",")] == roles


# ----------------------------------------------------------------- ambiguous credentials


def status_of(headers: list[tuple[bytes, bytes]], query: bytes = b"", forward_auth: bool = False) -> int:
    """The status a request gets from the middleware (or the forward-auth app), with the
    token read from the Authorization header, the cookie "session" and the parameter "at"."""
    policy = make_policy()
    if forward_auth:
        app = ForwardAuthApp(policy, TokenSource(cookie="session", query_param="at"), prewarm=False)
    else:
        app = JWTAuthMiddleware(_ok, policy, cookie="session", query_param="at")
    start, body = call(app, headers, query=query)
    if start["status"] == 400:
        assert json.loads(body["body"])["error"] == "invalid_request"
    return start["status"]


GOOD = sign({"alg": "HS256", "typ": "at+jwt"}, claims())
OTHER = sign({"alg": "HS256"}, claims(iss=B_ISS, sub="mallory"), B_KEY)


@pytest.mark.parametrize("forward_auth", [False, True], ids=["middleware", "forward-auth"])
@pytest.mark.parametrize(
    "headers, query",
    [
        # A tab after Bearer: before, "Bearer\t..." was another scheme and the cookie was used.
        ([(b"authorization", f"Bearer\t{OTHER}".encode()), (b"cookie", f"session={GOOD}".encode())], b""),
        ([(b"authorization", f"Bearer\t{GOOD}".encode())], b""),
        ([(b"authorization", f"Bearer \t{GOOD}".encode())], b""),
        # A duplicated cookie: before, the last one won (other parsers take the first).
        ([(b"cookie", f"session={OTHER}; session={GOOD}".encode())], b""),
        ([(b"cookie", f"session={OTHER}".encode()), (b"cookie", f"session={GOOD}".encode())], b""),
        ([(b"cookie", f"session=; session={GOOD}".encode())], b""),
        ([(b"cookie", f'session="{GOOD}"; session={OTHER}'.encode())], b""),
        # Different tokens in the header and a cookie or the query: before, the header won.
        ([(b"authorization", f"Bearer {GOOD}".encode()), (b"cookie", f"session={OTHER}".encode())], b""),
        (bearer(GOOD), f"at={OTHER}".encode()),
        ([(b"cookie", f"session={GOOD}".encode())], f"at={OTHER}".encode()),
        # ";" read as a separator by some parsers: before, only the "&" reading was used.
        ([], f"x=1;at={OTHER}&at={GOOD}".encode()),
        # Characters outside RFC 6750's b64token set.
        ([(b"authorization", f"Bearer {GOOD},{OTHER}".encode())], b""),
        ([(b"authorization", f"Bearer {GOOD}\x00".encode())], b""),
        ([(b"cookie", f'session="{GOOD}\\"x"'.encode())], b""),
    ],
    ids=[
        "tab+cookie",
        "tab",
        "space-tab",
        "cookie twice",
        "cookie in two headers",
        "empty+cookie",
        "quoted+other",
        "header+cookie",
        "header+query",
        "cookie+query",
        "semicolon",
        "comma",
        "nul",
        "backslash",
    ],
)
def test_ambiguous_credentials_are_a_bad_request(headers, query, forward_auth):
    assert status_of(headers, query, forward_auth) == 400


@pytest.mark.parametrize("forward_auth", [False, True], ids=["middleware", "forward-auth"])
@pytest.mark.parametrize(
    "headers, query",
    [
        (bearer(GOOD), b""),
        ([(b"authorization", f"bearer  {GOOD} \t".encode())], b""),  # 1*SP; whitespace around the value
        ([(b"cookie", f"a=1; session={GOOD}; b=2".encode())], b""),
        ([(b"cookie", f'session="{GOOD}"'.encode())], b""),
        ([(b"cookie", f"session={GOOD}; session={GOOD}".encode())], b""),  # the same token twice
        ([(b"authorization", f"Bearer {GOOD}".encode()), (b"cookie", f"session={GOOD}".encode())], b""),
        ([(b"authorization", b"Basic dXNlcjpwYXNz"), (b"cookie", f"session={GOOD}".encode())], b""),
        ([], f"at={GOOD}&x=1;y=2".encode()),
        ([(b"cookie", b"session=")], f"at={GOOD}".encode()),
    ],
    ids=[
        "bearer",
        "spaces",
        "among others",
        "quoted",
        "same twice",
        "header+same cookie",
        "basic+cookie",
        "query",
        "empty cookie+query",
    ],
)
def test_one_token_however_sent_is_accepted(headers, query, forward_auth):
    assert status_of(headers, query, forward_auth) == 200


# ----------------------------------------------------------------- property: any input, an answer

C_ISS = "https://c.example"  # keys from a JWKS URL nobody answers on: 503


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_FUZZ: dict[str, object] = {}


def fuzz_apps() -> dict[str, object]:
    """One policy (three providers, any-of, claim headers) and the apps over it, for every example."""
    if not _FUZZ:
        from turbojwt.jwks import JWKSClient

        down = JWKSClient(f"http://127.0.0.1:{_closed_port()}/jwks.json", timeout=1, cooldown=0)
        policy = Policy(
            [
                Provider("a", A_ISS, A_KEY, ["HS256"], audiences=["api"], typ="at+jwt", required_claims=["exp"]),
                Provider("b", B_ISS, B_KEY, ["HS256"], audiences=["api"]),
                Provider("c", C_ISS, down, ["RS256"]),
            ],
            required_scopes=["read"],
            claim_to_headers={**HEADERS, "X-Auth-Ctx": "ctx", "X-Auth-Exp": "exp"},
        )
        source = TokenSource(cookie="session", query_param="at")
        _FUZZ.update(
            policy=policy,
            source=source,
            middleware=JWTAuthMiddleware(_ok, policy, cookie="session", query_param="at"),
            forward_auth=ForwardAuthApp(policy, source, prewarm=False),
        )
    return _FUZZ


ANSWERS = {200, 400, 401, 403, 503}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**4000)
    | st.floats()
    | st.text(max_size=20)
)
json_any = st.recursive(
    json_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3), max_leaves=8
)
# Not a string: what the unverified iss must never be routed on.
odd = st.lists(json_scalars, max_size=3) | st.dictionaries(st.text(max_size=4), json_scalars, max_size=3) | json_any
header_values = {
    "alg": st.sampled_from(["HS256", "RS256", "none", "HS512"]) | odd,
    "typ": st.sampled_from(["at+jwt", "application/at+jwt", "JWT"]) | odd,
    "kid": st.sampled_from(["k1", ""]) | odd,
    "crit": odd,
    "b64": odd,
    "jku": odd,
    "x5c": odd,
    "cty": odd,
}
claim_values = {
    "iss": st.sampled_from([A_ISS, B_ISS, C_ISS, "https://evil.example"]) | odd,
    "sub": st.text() | odd,
    "aud": st.sampled_from(["api", ["api", "x"]]) | odd,
    "exp": st.integers(min_value=-(2**70), max_value=2**70) | odd,
    "nbf": odd,
    "iat": odd,
    "scope": st.sampled_from(["read", "write", "read write", ""]) | odd,
    "scp": st.sampled_from([["read"], ["write"]]) | odd,
    "roles": st.lists(st.text(max_size=8), max_size=3) | odd,
    "ctx": odd,
}
PROVIDERS = {"a": (A_ISS, A_KEY, "HS256"), "b": (B_ISS, B_KEY, "HS256"), "c": (C_ISS, None, "RS256")}


@st.composite
def tokens(draw) -> str:
    """Mostly a good token of one provider with a few fields changed (so that each reaches
    the code reading it), sometimes any JSON payload, a wrong key or a broken token."""
    iss, key, alg = PROVIDERS[draw(st.sampled_from(sorted(PROVIDERS)))]
    header: dict = {"alg": alg, "typ": "at+jwt"}
    if draw(st.integers(0, 2)) == 0:
        header.update(draw(st.fixed_dictionaries({}, optional=header_values)))
        if draw(st.booleans()):
            header.update(draw(st.dictionaries(st.text(max_size=5), json_any, max_size=2)))
    payload: object = claims(iss=iss)
    changes = draw(st.integers(0, 3))
    if changes == 1:  # one field
        name = draw(st.sampled_from(sorted(claim_values)))
        payload[name] = draw(claim_values[name])  # type: ignore[index]
    elif changes == 2:  # several
        payload.update(draw(st.fixed_dictionaries({}, optional=claim_values)))  # type: ignore[union-attr]
    if draw(st.integers(0, 5)) == 0:
        payload = draw(json_any)
    if key is None or draw(st.integers(0, 4)) == 0:
        key = "some-other-key-0123456789abcdef0123"  # for "c" (RS256): a signature nobody made
    try:
        token = sign(header, payload, key)
    except ValueError:  # an integer too long for json.dumps
        token = "e30.e30.e30"
    if draw(st.integers(0, 4)):
        return token
    return draw(
        st.sampled_from(
            [
                token[: len(token) // 2],
                token + "=",
                token.replace(".", "..", 1),
                token.rsplit(".", 1)[0] + ".",
            ]
        )
    )


_junk = st.binary(max_size=60) | st.text(max_size=60).map(lambda t: t.encode("utf-8"))


@st.composite
def requests(draw) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The token in one place, in several, or amid random Authorization and Cookie headers
    and query strings."""
    token = draw(tokens()).encode()
    how = draw(st.sampled_from(["header", "header", "cookie", "query", "header+cookie", "random"]))
    if how == "header":
        return [(b"authorization", b"Bearer " + token)], b""
    if how == "cookie":
        return [(b"cookie", b"a=1; session=" + token)], b""
    if how == "query":
        return [], b"at=" + token
    if how == "header+cookie":
        return [(b"authorization", b"Bearer " + token), (b"cookie", b"session=" + token)], b""
    headers: list[tuple[bytes, bytes]] = []
    for _ in range(draw(st.integers(0, 2))):
        scheme = draw(st.sampled_from(["Bearer ", "bearer  ", "Bearer\t", "Basic ", "Bearer", "", " Bearer "]))
        headers.append((b"authorization", scheme.encode() + draw(st.just(token) | _junk)))
    for _ in range(draw(st.integers(0, 2))):
        value = draw(st.just(token) | st.just(b'"' + token + b'"') | _junk)
        headers.append(
            (b"cookie", draw(st.sampled_from([b"session=", b"a=1; session=", b"session=x; session="])) + value)
        )
    query = b""
    if draw(st.booleans()):
        query = draw(st.sampled_from([b"at=", b"x=1;at=", b"at=a&at="])) + draw(st.just(token) | _junk)
    return headers, query


def answer_of(error: BaseException) -> int:
    from turbojwt.exceptions import PyJWTError
    from turbojwt.gateway import denial_for

    assert isinstance(error, PyJWTError), repr(error)
    return denial_for(error).status


@settings(max_examples=200, deadline=None)
@given(token=tokens())
def test_policy_answers_any_token(token):
    policy = fuzz_apps()["policy"]
    for verify in (policy.verify, lambda t: asyncio.run(policy.averify(t))):
        try:
            verified = verify(token)
        except Exception as e:
            assert answer_of(e) in ANSWERS
            event(type(e).__name__)
        else:
            event("verified")
            assert verified.provider in ("a", "b")
            assert isinstance(verified.claims, dict)
            for value in policy.headers_for(verified.claims).values():
                assert all(" " <= c <= "~" for c in value)


@settings(max_examples=200, deadline=None)
@given(request=requests())
def test_middleware_and_forward_auth_answer_any_request(request):
    headers, query = request
    apps = fuzz_apps()
    for name in ("middleware", "forward_auth"):
        sent = call(apps[name], headers, query=query)
        start = sent[0]
        assert start["type"] == "http.response.start" and start["status"] in ANSWERS, (name, start)
        event(f"{name} {start['status']}")
        for key, value in start["headers"]:
            assert all(0x20 <= b < 0x7F for b in key + value), (name, key, value)
        if start["status"] != 200:
            assert json.loads(sent[1]["body"])["error"]


# ----------------------------------------------------------------- settings written into headers


@pytest.mark.parametrize(
    "settings_, match",
    [
        ({"claim_to_headers": {"X-Sub": "sub", "x-sub": "email"}}, "twice"),  # two claims, one header
        ({"claim_to_headers": {"X Sub": "sub"}}, "not a header name"),
        ({"claim_to_headers": {"X-Süb": "sub"}}, "not a header name"),
        ({"claim_to_headers": {"X-Sub\r\nX-Admin": "sub"}}, "not a header name"),
        ({"claim_to_headers": {"Content-Length": "sub"}}, "not a header a claim"),
        ({"claim_to_headers": {"Transfer-Encoding": "sub"}}, "not a header a claim"),
        ({"realm": 'a", error="x'}, "realm"),
        ({"realm": "Zoë"}, "realm"),
        ({"required_scopes": ["read write"]}, "scopes"),
        ({"required_scopes": ['a"b']}, "scopes"),
    ],
    ids=[
        "case",
        "space",
        "non-ascii",
        "crlf",
        "content-length",
        "transfer-encoding",
        "realm quote",
        "realm non-ascii",
        "scope space",
        "scope quote",
    ],
)
def test_settings_that_would_break_every_answer_are_refused_at_load(settings_, match):
    # Before: accepted, and then every answer carried a broken header or raised
    # UnicodeEncodeError (a 500), or two claims went out under one header name.
    from turbojwt.gateway import PolicyError

    with pytest.raises(PolicyError, match=match):
        Policy([Provider("a", A_ISS, A_KEY, ["HS256"])], **settings_)


def test_route_scopes_are_checked_too():
    from turbojwt.gateway import PolicyError
    from turbojwt.gateway.frameworks import require_token

    with pytest.raises(PolicyError):
        JWTAuthMiddleware(_ok, make_policy(), required_scopes=['a"b'])
    with pytest.raises(PolicyError):
        require_token(make_policy(), scopes=["a b"])
    require_token(make_policy(), scopes=["orders:write", "api://x/read"])


@pytest.mark.parametrize("space", ["\t", "\n", "\u00a0", "\u0085", "\u2003", "\u3000"], ids=repr)
def test_only_a_space_separates_scopes(space):
    # Before: str.split() split on any Unicode whitespace, so a token whose one scope is
    # "x<NBSP>read" (as the issuer and RFC 6749 read it) was granted "read".
    from turbojwt.gateway import InsufficientScopeError, check_scopes, token_scopes

    assert token_scopes({"scope": f"x{space}read"}) == {f"x{space}read"}
    assert token_scopes({"scp": f"x{space}read"}) == {f"x{space}read"}
    with pytest.raises(InsufficientScopeError):
        check_scopes({"scope": f"x{space}read"}, ["read"])
    assert token_scopes({"scope": " read  write "}) == {"read", "write"}
