"""Hypothesis fuzz of the Python facade: random bytes, strings and near-tokens through every
public entry point either give a result or raise a PyJWT exception: never another
exception type, a hang or a crash; and never a valid verdict for a token the key did
not sign."""

from __future__ import annotations

import base64
import json
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import turbojwt

SECRET = "z" * 48


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
headers = st.fixed_dictionaries(
    {"alg": st.sampled_from(["HS256", "HS512", "RS256", "none", "None", "", "ES256", "EdDSA", "XX"])},
    optional={"kid": json_values, "typ": json_values, "crit": json_values, "b64": json_values, "jwk": json_values},
)
segments = st.one_of(
    st.binary(max_size=64).map(b64),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .!", max_size=40),
    headers.map(lambda h: b64(json.dumps(h).encode())),
    json_values.map(lambda v: b64(json.dumps(v).encode())),
)
near_tokens = st.lists(segments, min_size=0, max_size=5).map(".".join)
anything = st.one_of(st.binary(max_size=200), st.text(max_size=200), near_tokens, near_tokens.map(str.encode))

ENTRY_POINTS = [
    lambda t: turbojwt.decode(t, SECRET, algorithms=["HS256", "HS512"]),
    lambda t: turbojwt.decode_complete(t, SECRET, algorithms=["HS256"], options={"verify_signature": False}),
    lambda t: turbojwt.decode(t, options={"verify_signature": False}),
    lambda t: turbojwt.get_unverified_header(t),
    lambda t: turbojwt.PyJWS().decode(t, SECRET, algorithms=["HS256"]),
    lambda t: turbojwt.Verifier(SECRET, algorithms=["HS256"]).decode(t),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anything)
def test_entry_points_raise_only_pyjwt_errors(token):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in ENTRY_POINTS:
            try:
                call(token)
            except turbojwt.PyJWTError:
                pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(anything, max_size=30))
def test_batches_give_a_verdict_per_input(tokens):
    result = turbojwt.verify_batch(tokens, SECRET, algorithms=["HS256"])
    assert len(result) == len(tokens)
    for token, error in zip(tokens, result.errors):
        # None of these was signed with SECRET: nothing is valid.
        assert error is not None, token


@settings(max_examples=200, deadline=None)
@given(headers, json_values)
def test_tokens_signed_with_another_key_never_verify(header, payload):
    si = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    forged = si + "." + b64(b"\x00" * 32)
    try:
        turbojwt.decode(forged, SECRET, algorithms=["HS256"])
    except turbojwt.PyJWTError:
        return
    raise AssertionError(f"accepted {forged}")


# (finite: a time that is not is refused, see test_request_times.py)
times = st.one_of(
    st.integers(min_value=-5, max_value=5).map(lambda k: 1_000_000 + 400 * k),
    st.floats(allow_nan=False, allow_infinity=False),
)
claims = st.fixed_dictionaries(
    {},
    optional={
        "exp": st.one_of(st.integers(999_000, 1_001_000), st.floats(), st.text(max_size=5), json_values),
        "nbf": st.one_of(st.integers(999_000, 1_001_000), st.floats(), json_values),
        "iat": st.one_of(st.integers(999_000, 1_001_000), json_values),
        "aud": st.one_of(st.just("api"), st.lists(st.sampled_from(["api", "x"]), max_size=3), json_values),
        "sub": json_values,
        "x": json_values,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(claims, st.lists(times, min_size=1, max_size=4)), min_size=1, max_size=6), st.booleans())
def test_repeated_tokens_get_the_verdict_each_alone_gets(entries, bad_signature):
    # A token's repeats are judged from its first sight with the time checks made again:
    # each must get the verdict a fresh engine gives that token alone, as of its own time.
    import hashlib
    import hmac

    tokens, at = [], []
    for payload, when in entries:
        si = b64(b'{"alg":"HS256"}') + "." + b64(json.dumps(payload).encode())
        key = b"another key of at least 32 bytes!!" if bad_signature else SECRET.encode()
        token = si + "." + b64(hmac.new(key, si.encode(), hashlib.sha256).digest())
        for t in when * 2:  # every token at least twice: kept, then served
            tokens.append(token)
            at.append(t)
    kw = dict(algorithms=["HS256"], audience="api", leeway=30)
    engine = turbojwt.Verifier(SECRET, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = [turbojwt.verify_batch([t], SECRET, at=w, **kw) for t, w in zip(tokens, at)]
        for _ in range(2):  # the second call finds every token kept
            r = engine.verify_batch(tokens, at=at)
            assert r.errors == [a.errors[0] for a in alone]
            # (compared as JSON text: a NaN claim is never equal to another NaN)
            assert json.dumps(r.claims) == json.dumps([a.claims[0] for a in alone])
