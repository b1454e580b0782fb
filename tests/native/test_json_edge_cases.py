"""Hand-made JSON edge cases and seeded random JSON-ish payloads, signed with a valid
HS256 signature so that only the JSON handling decides the verdict.

turbojwt parses common headers and claim sets with its own fast paths and hands anything
unusual to jiter; this file checks that both together give PyJWT's verdict (or one of
the documented stricter ones), never accept what PyJWT refuses, and never raise anything
but PyJWT's exception classes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import warnings

import jwt as pyjwt
import pytest

import turbojwt

SECRET = b"s" * 32


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(header: bytes, payload: bytes) -> str:
    signing_input = f"{b64(header)}.{b64(payload)}"
    mac = hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def verdict(mod, token: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ("ok", mod.decode(token, SECRET, algorithms=["HS256"], options={"verify_aud": False}))
        except Exception as e:  # noqa: BLE001 - the class is the verdict
            return ("err", type(e))


def _stricter_allowed(payload: bytes, header: bytes) -> bool:
    """The documented deviations: duplicates, non-UTF-8 or lone surrogates, deep nesting."""
    for part in (payload, header):
        try:
            text = part.decode("utf-8")
        except UnicodeDecodeError:
            return True
        if "\\ud8" in text.lower() or "\\udc" in text.lower() or "\\udd" in text.lower():
            return True
        try:
            pairs: list[list[str]] = []
            json.loads(text, object_pairs_hook=lambda p: pairs.append([k for k, _ in p]) or dict(p))
        except (ValueError, RecursionError):
            continue
        if pairs and len(set(pairs[-1])) != len(pairs[-1]):
            return True
        if text.count("[") + text.count("{") > 60:
            return True
    return False


def check(header: bytes, payload: bytes) -> None:
    token = sign(header, payload)
    theirs, ours = verdict(pyjwt, token), verdict(turbojwt, token)
    if ours[0] == "err":
        assert issubclass(ours[1], turbojwt.PyJWTError), (header, payload, ours)
    if theirs[0] == "ok" and ours[0] == "ok":
        # repr: NaN is not equal to itself, and key order must match too.
        assert repr(ours[1]) == repr(theirs[1]), (header, payload)
        assert [type(v) for v in ours[1].values()] == [type(v) for v in theirs[1].values()]
    elif theirs[0] == "err":
        assert ours[0] == "err", f"turbojwt accepted what PyJWT refuses: {header!r} {payload!r}"
        assert ours[1].__name__ == theirs[1].__name__ or _stricter_allowed(payload, header), (header, payload, ours, theirs)
    else:
        assert _stricter_allowed(payload, header), f"refused without a documented reason: {header!r} {payload!r} {ours}"


HEADER = b'{"alg":"HS256","typ":"JWT"}'

PAYLOADS = [
    b"{}", b" { } ", b'{"a":1}', b'{"a":-0}', b'{"a":0}', b'{"a":01}', b'{"a":-}', b'{"a":1.}', b'{"a":.5}',
    b'{"a":1e5}', b'{"a":1E-5}', b'{"a":123456789012345678}', b'{"a":1234567890123456789012}',
    b'{"a":-9223372036854775809}', b'{"a":true}', b'{"a":truex}', b'{"a":nul}', b'{"a":null }',
    b'{"a":"x\\"y"}', b'{"a":"\\u00e9"}', b'{"\\u0061":1}', b'{"a":"tab\there"}', b'{"a":"\x7f"}',
    b'{"a":"\xc3\xa9"}', b'{"\xc3\xa9":1}', b'{"a":[1,{"b":[2,{"c":null}]}],"d":{}}', b'{"a":[]}',
    b'{"a":[1,]}', b'{"a":1,}', b'{,"a":1}', b'{"a" 1}', b'{"a":1 "b":2}', b'{"a":1}}', b'{"a":1} x',
    b'{"a":1}\n', b'\t{"a":1}\r\n', b'["a"]', b'"a"', b"1", b"", b" ", b'{"a":NaN}', b'{"a":-Infinity}',
    b'{"exp":"12"}', b'{"exp":" 12 "}', b'{"exp":"1_2"}', b'{"exp":"1__2"}', b'{"exp":"+9999999999"}',
    b'{"exp":1.5e300}', b'{"exp":[1]}', b'{"exp":{"a":1}}', b'{"exp":null}', b'{"exp":true}',
    b'{"iss":5}', b'{"sub":null}', b'{"jti":[]}', b'{"aud":""}', b'{"aud":0}', b'{"aud":0.0}', b'{"aud":{}}',
    b'{"aud":{"a":1}}', b'{"aud":["a",1]}', b'{"aud":[]}', b'{"iat":9999999999}', b'{"nbf":9999999999}',
    b'{"a":"\\ud83d\\ude00"}', b'{"a":"' + b"x" * 5000 + b'"}', b'{"a":' + b"[" * 30 + b"]" * 30 + b"}",
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_payload_edge_cases(payload: bytes) -> None:
    check(HEADER, payload)


HEADERS = [
    b'{"alg":"HS256"}', b' {"alg" : "HS256" } ', b'{"typ":"JWT","alg":"HS256","kid":"k"}', b'{"alg":"HS256","kid":5}',
    b'{"alg":"HS256","kid":"\\u006b"}', b'{"alg":"HS256",}', b'{"alg":"HS256"} ', b'{"alg":"HS256"}x', b'{"alg":"HS\\u0032\\u0035\\u0036"}',
    b'{"alg":"HS256","crit":["exp"],"exp":1}', b'{"alg":"HS256","crit":[]}', b'{"alg":"HS256","crit":"b64"}',
    b'{"alg":"HS256","b64":true}', b'{"alg":"HS256","x":{"y":[1,2]}}', b'{"alg":""}', b'{"alg":null}', b"{}",
    b'{"alg":"none"}', b'{"alg":"HS256","typ":"\xc3\xa9"}',
]


@pytest.mark.parametrize("header", HEADERS, ids=range(len(HEADERS)))
def test_header_edge_cases(header: bytes) -> None:
    check(header, b'{"sub":"x"}')


PIECES = [b"{", b"}", b"[", b"]", b'"', b"\\", b":", b",", b"1", b"-", b"e", b".", b"true", b"null", b"NaN", b" ",
          b"\x00", b"\xff", b'"exp"', b'"aud"', b'"alg"', b'"HS256"', b"\\u0061", b"0", b"01", b"1e400", b'"a"']


def test_seeded_random_json() -> None:
    rnd = random.Random(20261128)
    base = json.dumps({"iss": "i", "sub": "s", "exp": 9999999999, "n": {"x": [1, 2.5, None, True]}, "u": "é"}).encode()
    for _ in range(3000):
        payload = b"".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, 10)))
        if rnd.random() < 0.5:
            payload = base[: rnd.randint(0, len(base))] + payload
        header = rnd.choice([HEADER, b'{"alg":"HS256",' + payload[:12] + b"}"])
        check(header, payload)


def test_cached_claim_strings_are_the_right_ones() -> None:
    # Short names and values are shared through a small cache keyed by a fingerprint:
    # strings that differ only in length, in a zero byte, or past their first and last 8
    # bytes, seen repeatedly and interleaved, each come back as themselves.
    texts = ["a", "b", "\x00b", "a\x00", "ab", "\x00\x00a", "abcdefg", "abcdefgh", "abcdefghi",
             "12345678x12345678", "12345678y12345678", "", "é", "\x07", "iss", "aud"]
    tokens = [(t, sign(b'{"alg":"HS256"}', json.dumps({"v": t, t: "k", "w": [t, t]}).encode())) for t in texts]
    for _ in range(3):
        for text, token in tokens:
            claims = turbojwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
            assert claims == {"v": text, text: "k", "w": [text, text]}, text
            assert list(claims) == ["v", text, "w"]
