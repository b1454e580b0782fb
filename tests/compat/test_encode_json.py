"""turbojwt.encode writes JSON itself (for speed); these inputs check that its bytes equal
Python's json.dumps, as PyJWT produces them, including the corners of that format."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import jwt as pyjwt
import pytest

import turbojwt

KEY = "k" * 64  # long enough for every HS* (no InsecureKeyLengthWarning noise)

CLAIMS = [
    {"x": 'é😀\u0001\u007f\u2028"\\/\n\r\t\b\f'},
    {"f": 1.5, "g": 1e16, "h": 1e-5, "i": 0.1, "j": -0.0, "k": 123456789.123456789, "l": 5e-324},
    {"nan": math.nan, "inf": math.inf, "ninf": -math.inf},
    {"big": 10**30, "neg": -(2**63), "zero": 0, "t": True, "f": False, "n": None},
    {"tuple": (1, (2, 3)), "list": [[], {}, [{"a": [None]}]]},
    {1: "int key", True: "bool key", None: "none key"},  # noqa: F601 (True is 1: json.dumps's rule)
    {"exp": datetime(2030, 1, 1, tzinfo=timezone.utc), "iat": datetime(2020, 5, 5, 5, 5, 5)},
    {"deep": [[[[[[[[[[[["x"]]]]]]]]]]]]},
    {},
]

HEADERS = [
    None,
    {"kid": "k1"},
    {"\uffff": 1, "\U0001f600": 2, "a": 3, "é": 4},
    {"typ": None},
    {"typ": ""},
    {"b64": True},
    {"alg": "HS384", "cty": "JWT"},
]


@pytest.mark.parametrize("claims", CLAIMS, ids=range(len(CLAIMS)))
@pytest.mark.parametrize("headers", HEADERS, ids=range(len(HEADERS)))
@pytest.mark.parametrize("sort_headers", [True, False])
def test_encode_bytes_equal_pyjwt(claims, headers, sort_headers) -> None:
    ours = turbojwt.encode(dict(claims), KEY, algorithm="HS256", headers=headers, sort_headers=sort_headers)
    theirs = pyjwt.encode(dict(claims), KEY, algorithm="HS256", headers=headers, sort_headers=sort_headers)
    assert ours == theirs


def test_encode_leaves_the_callers_dict_alone() -> None:
    claims = {"exp": datetime(2030, 1, 1, tzinfo=timezone.utc)}
    turbojwt.encode(claims, KEY)
    assert isinstance(claims["exp"], datetime)


def test_unserializable_value_raises_like_json() -> None:
    for mod in (turbojwt, pyjwt):
        with pytest.raises(TypeError, match="not JSON serializable"):
            mod.encode({"x": object()}, KEY)
