"""turbojwt.decode remembers the previous call's policy when the next call passes the same
arguments; a call with any different argument must never see the previous policy."""

from __future__ import annotations

import time

import pytest

import turbojwt

KEY = "k" * 32


def token(**claims) -> str:
    return turbojwt.encode({"exp": int(time.time()) + 60, **claims}, KEY)


def test_changed_arguments_are_never_served_the_previous_policy() -> None:
    t = token(aud="a", iss="i", sub="s")
    aud_a, aud_b = "a", "".join(["b"])  # distinct objects
    assert turbojwt.decode(t, KEY, algorithms=["HS256"], audience=aud_a, issuer="i")["sub"] == "s"
    with pytest.raises(turbojwt.InvalidAudienceError):
        turbojwt.decode(t, KEY, algorithms=["HS256"], audience=aud_b, issuer="i")
    assert turbojwt.decode(t, KEY, algorithms=["HS256"], audience=aud_a, issuer="i")["sub"] == "s"
    with pytest.raises(turbojwt.InvalidAlgorithmError):
        turbojwt.decode(t, KEY, algorithms=["HS384"], audience=aud_a, issuer="i")
    with pytest.raises(turbojwt.InvalidIssuerError):
        turbojwt.decode(t, KEY, algorithms=["HS256"], audience=aud_a, issuer="j")
    with pytest.raises(turbojwt.exceptions.InvalidSubjectError):
        turbojwt.decode(t, KEY, algorithms=["HS256"], audience=aud_a, issuer="i", subject="x")
    with pytest.raises(turbojwt.InvalidAudienceError):
        turbojwt.decode(t, KEY, algorithms=["HS256"], issuer="i")  # audience dropped
    expired = turbojwt.encode({"exp": int(time.time()) - 30, "aud": "a"}, KEY)
    with pytest.raises(turbojwt.ExpiredSignatureError):
        turbojwt.decode(expired, KEY, algorithms=["HS256"], audience=aud_a)
    assert turbojwt.decode(expired, KEY, algorithms=["HS256"], audience=aud_a, leeway=60)["aud"] == "a"
    with pytest.raises(turbojwt.ExpiredSignatureError):
        turbojwt.decode(expired, KEY, algorithms=["HS256"], audience=aud_a)
    assert turbojwt.decode(expired, KEY, algorithms=["HS256"], audience=aud_a, options={"verify_exp": False})
    with pytest.raises(turbojwt.ExpiredSignatureError):
        turbojwt.decode(expired, KEY, algorithms=["HS256"], audience=aud_a)
    with pytest.raises(turbojwt.MissingRequiredClaimError):
        turbojwt.decode(t, KEY, algorithms=["HS256"], audience=aud_a, options={"require": ["jti"]})


def test_algorithm_list_is_compared_by_value() -> None:
    t = token()
    algs = ["HS256"]
    assert turbojwt.decode(t, KEY, algorithms=algs) is not None
    algs[0] = "RS256"  # the same list object, changed in place
    with pytest.raises(turbojwt.InvalidAlgorithmError):
        turbojwt.decode(t, KEY, algorithms=algs)
