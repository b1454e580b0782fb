"""The verified-token cache of ``Verifier(cache=N)``: served only inside the token's own
validity window and the maximum TTL, keyed by the whole token, admitted on the second
verification, fresh containers on every hit, refusals cached only when asked."""

from __future__ import annotations

import threading
import time

import pytest

import turbojwt
from turbojwt import Verifier

SECRET = "token-cache-secret-of-32-bytes!!"


def token(**claims):
    return turbojwt.encode(claims, SECRET, algorithm="HS256")


def verifier(**kw):
    return Verifier(SECRET, algorithms=["HS256"], cache=kw.pop("cache", 16), **kw)


def test_admitted_on_second_verification_then_served():
    v = verifier()
    t = token(sub="a", exp=int(time.time()) + 60)
    assert v.cache_info() == (0, 0, 16, 0)
    assert v.decode(t) == {"sub": "a", "exp": pytest.approx(time.time() + 60, abs=5)}
    assert v.cache_info().currsize == 0  # seen once: not cached yet
    v.decode(t)
    assert v.cache_info().currsize == 1
    v.decode(t)
    assert v.cache_info() == (1, 2, 16, 1)
    v.cache_clear()
    assert v.cache_info() == (0, 0, 16, 0)


def test_hits_warn_of_a_short_key_as_every_decode_does():
    short = "short-secret"
    with pytest.warns(turbojwt.InsecureKeyLengthWarning):
        t = turbojwt.encode({"sub": "a", "exp": int(time.time()) + 60}, short, algorithm="HS256")
    v = Verifier(short, algorithms=["HS256"], cache=16)
    for _ in range(4):  # verified, verified and kept, then served from the cache twice
        with pytest.warns(turbojwt.InsecureKeyLengthWarning):
            assert v.decode(t)["sub"] == "a"
    assert v.cache_info().hits == 2
    with pytest.warns(turbojwt.InsecureKeyLengthWarning):
        turbojwt.decode(t, short, algorithms=["HS256"])
    # Warnings as errors: a hit raises as the first decode did.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", turbojwt.InsecureKeyLengthWarning)
        with pytest.raises(turbojwt.InsecureKeyLengthWarning):
            v.decode(t)
    assert v.cache_info().hits == 3


def test_every_hit_returns_fresh_containers():
    v = verifier()
    t = token(sub="a", roles=["x", "y"], ctx={"tenant": "t", "groups": ["g"]}, n=[[1], {"k": [2]}])
    first = [v.decode(t) for _ in range(4)]
    assert all(c == first[0] for c in first)
    a, b = first[2], first[3]  # both hits
    assert a is not b and a["roles"] is not b["roles"] and a["ctx"] is not b["ctx"]
    assert a["ctx"]["groups"] is not b["ctx"]["groups"] and a["n"][1]["k"] is not b["n"][1]["k"]
    a["roles"].append("admin")
    a["ctx"]["groups"].append("root")
    a["n"][1]["k"].append(3)
    a["sub"] = "mallory"
    assert v.decode(t) == first[0]


def test_served_only_until_exp_plus_leeway():
    now = int(time.time())
    t = token(sub="a", exp=now + 2)
    v = verifier()
    v.decode(t), v.decode(t)
    assert v.cache_info().currsize == 1
    time.sleep(max(0.0, now + 2.05 - time.time()))
    with pytest.raises(turbojwt.ExpiredSignatureError):
        v.decode(t)
    # With leeway the same token is still valid (and cached) a little longer.
    lenient = verifier(leeway=30)
    for _ in range(3):
        assert lenient.decode(t)["sub"] == "a"
    assert lenient.cache_info().hits == 1


def test_nbf_and_leeway():
    now = int(time.time())
    early = token(sub="a", nbf=now + 20)
    with pytest.raises(turbojwt.ImmatureSignatureError):
        verifier().decode(early)
    lenient = verifier(leeway=60)
    for _ in range(3):
        lenient.decode(early)
    assert lenient.cache_info().hits == 1


def test_max_ttl_bounds_every_entry():
    v = verifier(cache_ttl=0.2)
    t = token(sub="a")  # no exp: only the TTL bounds it
    v.decode(t), v.decode(t)
    v.decode(t)
    assert v.cache_info().hits == 1
    time.sleep(0.25)
    v.decode(t)
    info = v.cache_info()
    assert info.hits == 1 and info.currsize == 0


def test_keyed_by_the_whole_token():
    v = verifier()
    good = token(sub="a")
    for _ in range(3):
        v.decode(good)
    head, payload, sig = good.split(".")
    forged = f"{head}.{payload}.{sig[:-4]}AAAA"
    with pytest.raises(turbojwt.InvalidSignatureError):
        v.decode(forged)
    other = turbojwt.encode({"sub": "a"}, "another-secret-of-32-bytes-long!", algorithm="HS256")
    with pytest.raises(turbojwt.InvalidSignatureError):
        v.decode(other)


def test_failures_are_not_cached_unless_asked():
    bad = token(sub="a", exp=int(time.time()) - 10)
    v = verifier()
    for _ in range(3):
        with pytest.raises(turbojwt.ExpiredSignatureError):
            v.decode(bad)
    assert v.cache_info().currsize == 0 and v.cache_info().hits == 0
    neg = verifier(cache_negative_ttl=0.3)
    for _ in range(3):
        with pytest.raises(turbojwt.ExpiredSignatureError, match="Signature has expired"):
            neg.decode(bad)
    assert neg.cache_info().hits == 1
    time.sleep(0.35)
    with pytest.raises(turbojwt.ExpiredSignatureError):
        neg.decode(bad)
    assert neg.cache_info().hits == 1
    # A missing claim keeps its class and attribute through the cache.
    strict = Verifier(SECRET, algorithms=["HS256"], options={"require": ["exp"]}, cache=4, cache_negative_ttl=60)
    t = token(sub="a")
    for _ in range(3):
        with pytest.raises(turbojwt.MissingRequiredClaimError) as info:
            strict.decode(t)
        assert info.value.claim == "exp"
    assert strict.cache_info().hits == 1


def test_large_tokens_and_decode_complete_bypass_the_cache():
    v = verifier(cache_max_token_bytes=100)
    big = token(sub="a", pad="x" * 200)
    for _ in range(3):
        v.decode(big)
    assert v.cache_info().currsize == 0
    small = token(sub="a")
    w = verifier()
    for _ in range(3):
        assert w.decode_complete(small)["payload"] == {"sub": "a"}
    assert w.cache_info() == (0, 0, 16, 0)


def test_scoped_to_the_verifier_policy():
    t = token(sub="a", aud="api")
    api = Verifier(SECRET, algorithms=["HS256"], audience="api", cache=8)
    for _ in range(3):
        api.decode(t)
    other = Verifier(SECRET, algorithms=["HS256"], audience="billing", cache=8)
    with pytest.raises(turbojwt.InvalidAudienceError):
        other.decode(t)


def test_lru_bound():
    v = verifier(cache=4)
    tokens = [token(sub=str(i)) for i in range(10)]
    for t in tokens:
        v.decode(t), v.decode(t)
    assert v.cache_info().currsize == 4


def test_threads_agree():
    v = verifier(cache=64)
    now = int(time.time())
    tokens = [token(sub=str(i), exp=now + 600) for i in range(40)] + [token(sub="x", exp=now - 5)]
    expected = []
    for t in tokens:
        try:
            expected.append(Verifier(SECRET, algorithms=["HS256"]).decode(t))
        except turbojwt.InvalidTokenError as e:
            expected.append(type(e))
    results: list[list] = []

    def work():
        out = []
        for _ in range(20):
            for t in tokens:
                try:
                    out.append(v.decode(t))
                except turbojwt.InvalidTokenError as e:
                    out.append(type(e))
        results.append(out)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(r == expected * 20 for r in results)
    assert v.cache_info().hits > 0


@pytest.mark.parametrize("kw, exc", [
    ({"cache": -1}, TypeError), ({"cache": "10"}, TypeError), ({"cache": True}, TypeError),
    ({"cache": 8, "cache_ttl": -1}, ValueError), ({"cache": 8, "cache_negative_ttl": float("nan")}, ValueError),
    ({"cache": 8, "cache_max_token_bytes": -5}, ValueError),
])
def test_bad_arguments(kw, exc):
    with pytest.raises(exc):
        Verifier(SECRET, algorithms=["HS256"], **kw)


def test_off_by_default():
    v = Verifier(SECRET, algorithms=["HS256"])
    assert v.cache_info() is None
    v.cache_clear()


def test_a_lowered_token_limit_applies_to_cached_tokens():
    v = verifier()
    t = token(sub="a", pad="x" * 100)
    for _ in range(3):
        v.decode(t)
    assert v.cache_info().hits == 1
    max_token_length, max_json_depth = turbojwt.get_limits()
    turbojwt.set_limits(max_token_length=64)
    try:
        with pytest.raises(turbojwt.DecodeError, match="over the limit"):
            v.decode(t)
    finally:
        turbojwt.set_limits(max_token_length=max_token_length, max_json_depth=max_json_depth)
    assert v.decode(t)["sub"] == "a"


@pytest.mark.parametrize("negative_ttl", [0.0, 60.0])
def test_a_tightened_depth_limit_applies_to_cached_tokens(negative_ttl):
    # A hit is served only under the limits its verification ran under, as decode would judge it.
    v = verifier(cache_negative_ttl=negative_ttl)
    t = token(sub="a", nested={"a": {"b": {"c": [1]}}})
    for _ in range(3):
        v.decode(t)
    assert v.cache_info().hits == 1
    max_token_length, max_json_depth = turbojwt.get_limits()
    turbojwt.set_limits(max_json_depth=2)
    try:
        with pytest.raises(turbojwt.DecodeError) as from_decode:
            turbojwt.decode(t, SECRET, algorithms=["HS256"])
        for _ in range(3):  # (a refusal cached under the tight limit is not served later either)
            with pytest.raises(turbojwt.DecodeError) as from_cache:
                v.decode(t)
            assert str(from_cache.value) == str(from_decode.value)
    finally:
        turbojwt.set_limits(max_token_length=max_token_length, max_json_depth=max_json_depth)
    assert v.decode(t)["nested"] == {"a": {"b": {"c": [1]}}}
