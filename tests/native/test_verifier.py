"""turbojwt.Verifier: a pre-configured verifier.

``Verifier(key, *, algorithms, audience=None, issuer=None, subject=None,
leeway=0, options=None)`` with ``.decode(token)`` / ``.decode_complete(token)``
must give the same verdicts as ``turbojwt.decode`` / ``decode_complete``
with the same arguments.  This is checked over the differential corpus of
tests/helpers/differential.py (every case whose arguments a Verifier can express).

Decision recorded here: a Verifier may reject its arguments at construction
(TypeError / ValueError / a PyJWTError such as InvalidKeyError) only if
turbojwt.decode with the same arguments would also fail; it must never refuse
at construction what decode accepts (e.g. a key that is wrong for one of
several allowed algorithms but right for the token's).
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import jwt
import pytest

import turbojwt
import turbojwt.errors
from helpers import differential as diff
from helpers.verdicts import assert_same_verdict, canon, verdict

VERIFIER_ARGS = ("algorithms", "audience", "issuer", "subject", "leeway", "options")
# option sets a Verifier cannot express (legacy / extra keyword arguments),
# and algorithms=None / a bare string, whose Verifier semantics are not specified
_EXCLUDED_OPTS = {"legacy_verify_false", "legacy_verify_true", "unknown_kwarg", "algs_none",
                  "no_sig_no_algs", "algs_bare_string"}


def _eligible(case: Any) -> bool:
    if case.fn not in ("decode", "decode_complete") or case.opts in _EXCLUDED_OPTS:
        return False
    if case.token[0] == "mut":
        extra = diff.MUTATIONS[case.token[1]].extra
        if extra is not None:
            keys = set(extra(_FakeCtx(case)).keys())
            if keys - {"algorithms", "options", "__keyform__", "__key__"}:
                return False  # detached_payload
            if "algorithms" in keys and extra(_FakeCtx(case))["algorithms"] is None:
                return False
    return True


class _FakeCtx:
    """Enough of helpers.differential.Ctx for evaluating mutation ``extra``s."""

    def __init__(self, case: Any) -> None:
        self.alg = case.alg
        self.signer = case.signer


VERIFIER_CASES = [c for c in diff.CASES if _eligible(c)]
GROUPS: dict[str, list] = {}
for _c in VERIFIER_CASES:
    GROUPS.setdefault(f"{_c.fn}-{_c.signer}-{_c.token[0]}-{_c.group or 'single'}", []).append(_c)


def check_verifier_case(case: Any, ring: dict) -> None:
    call = diff.prepare(turbojwt, case, ring)
    try:
        key = call.key_thunk()
    except Exception:  # noqa: BLE001 - the key itself cannot be built (e.g. bad PyJWK)
        return
    kwargs = call.kwargs
    ctor_kwargs = {k: copy.deepcopy(kwargs[k]) for k in VERIFIER_ARGS if k in kwargs}
    fn = case.fn

    expected = verdict(turbojwt, lambda: getattr(turbojwt, fn)(call.token, key, **copy.deepcopy(kwargs)))
    try:
        verifier = turbojwt.Verifier(key, **ctor_kwargs)
    except (TypeError, ValueError, turbojwt.exceptions.PyJWTError) as exc:
        assert not expected.ok, (
            f"Verifier refused arguments that turbojwt.{fn} accepts: {case.id}: {type(exc).__name__}: {exc}"
        )
        return
    got = verdict(turbojwt, lambda: getattr(verifier, fn)(call.token))
    assert_same_verdict(expected, got, check_warnings=False, what=f"Verifier vs turbojwt.{fn}: {case.id}")


def test_verifier_corpus_size() -> None:
    assert len(VERIFIER_CASES) > 2000


@pytest.mark.parametrize("group", list(GROUPS))
def test_verifier_matches_decode(group: str, keyring) -> None:
    failures = []
    for case in GROUPS[group]:
        try:
            check_verifier_case(case, keyring)
        except AssertionError as exc:
            failures.append(str(exc).split("\nassert ")[0])
    assert not failures, f"{len(failures)} of {len(GROUPS[group])} cases differ:\n\n" + "\n\n".join(failures[:25])


# --------------------------------------------------------------------------
# decode_complete shape, reuse
# --------------------------------------------------------------------------


def test_decode_complete_shape(keyring) -> None:
    km = keyring["p256"]
    token = jwt.encode({"sub": "s", "aud": "a", "exp": diff.FUT}, km.private, "ES256", headers={"kid": "k1"})
    v = turbojwt.Verifier(km.public_pem, algorithms=["ES256"], audience="a")
    out = v.decode_complete(token)
    assert isinstance(out, dict)
    assert set(out) == {"header", "payload", "signature"}
    assert out["header"] == {"alg": "ES256", "kid": "k1", "typ": "JWT"}
    assert out["payload"] == {"sub": "s", "aud": "a", "exp": diff.FUT}
    assert isinstance(out["signature"], bytes) and out["signature"] == diff.b64d(token.split(".")[2])
    assert canon(out) == canon(turbojwt.decode_complete(token, km.public_pem, algorithms=["ES256"], audience="a"))
    assert v.decode(token) == out["payload"]


def test_verifier_is_reusable(keyring) -> None:
    km = keyring["hs256"]
    v = turbojwt.Verifier(km.secret, algorithms=["HS256"], issuer=diff.ISS, leeway=dt.timedelta(seconds=5))
    tokens = [
        jwt.encode({"iss": diff.ISS, "n": i, "exp": diff.FUT}, km.secret, "HS256") for i in range(5)
    ] + [
        jwt.encode({"iss": "other"}, km.secret, "HS256"),
        jwt.encode({"iss": diff.ISS, "exp": diff.PAST}, km.secret, "HS256"),
        jwt.encode({"iss": diff.ISS}, b"another-secret-another-secret-xx", "HS256"),
    ] * 3
    for token in tokens:
        exp = verdict(turbojwt, "decode", token, km.secret, algorithms=["HS256"], issuer=diff.ISS,
                           leeway=dt.timedelta(seconds=5))
        got = verdict(turbojwt, lambda: v.decode(token))
        assert_same_verdict(exp, got, check_warnings=False)


def test_verifier_with_pyjwk(keyring) -> None:
    km = keyring["ed25519"]
    token = jwt.encode({"a": 1}, km.private, "EdDSA")
    v = turbojwt.Verifier(turbojwt.PyJWK(dict(km.public_jwk), "EdDSA"), algorithms=["EdDSA"])
    assert v.decode(token) == {"a": 1}
    with pytest.raises(turbojwt.InvalidSignatureError):
        v.decode(diff.get_ctx(keyring, "EdDSA").with_sig(b"\x00" * 64))


# --------------------------------------------------------------------------
# constructor argument errors
# --------------------------------------------------------------------------

InvalidKeyError = turbojwt.exceptions.InvalidKeyError


def _bad(keyring) -> dict[str, tuple]:
    hs = keyring["hs256"].secret
    rsa, p256, p384 = keyring["rsa"], keyring["p256"], keyring["p384"]
    return {
        # (callable, accepted exception types)
        "missing_algorithms": (lambda: turbojwt.Verifier(hs), (TypeError,)),
        "positional_algorithms": (lambda: turbojwt.Verifier(hs, ["HS256"]), (TypeError,)),
        "unknown_keyword": (lambda: turbojwt.Verifier(hs, algorithms=["HS256"], verify=False), (TypeError,)),
        "no_key": (lambda: turbojwt.Verifier(algorithms=["HS256"]), (TypeError,)),
        "options_not_mapping": (lambda: turbojwt.Verifier(hs, algorithms=["HS256"], options=["verify_exp"]), (TypeError, ValueError)),
        "audience_int": (lambda: turbojwt.Verifier(hs, algorithms=["HS256"], audience=123), (TypeError,)),
        "leeway_str": (lambda: turbojwt.Verifier(hs, algorithms=["HS256"], leeway="10"), (TypeError, ValueError)),
        "key_none_hmac": (lambda: turbojwt.Verifier(None, algorithms=["HS256"]), (TypeError, InvalidKeyError)),
        "key_int": (lambda: turbojwt.Verifier(12345, algorithms=["HS256"]), (TypeError, InvalidKeyError)),
        "key_empty_hmac": (lambda: turbojwt.Verifier(b"", algorithms=["HS256"]), (InvalidKeyError,)),
        "pem_as_hmac_secret": (lambda: turbojwt.Verifier(rsa.public_pem, algorithms=["HS256"]), (InvalidKeyError,)),
        "garbage_rsa_key": (lambda: turbojwt.Verifier("not a pem", algorithms=["RS256"]), (InvalidKeyError, ValueError)),
        "ec_key_for_rsa": (lambda: turbojwt.Verifier(p256.public_pem, algorithms=["RS256"]), (InvalidKeyError,)),
        "rsa_key_for_ec": (lambda: turbojwt.Verifier(rsa.public_pem, algorithms=["ES256"]), (InvalidKeyError,)),
        "wrong_curve": (lambda: turbojwt.Verifier(p384.public_pem, algorithms=["ES256"]), (InvalidKeyError,)),
        "wrong_curve_object": (lambda: turbojwt.Verifier(p384.public, algorithms=["ES256"]), (InvalidKeyError,)),
        "ec_object_for_rsa": (lambda: turbojwt.Verifier(p256.public, algorithms=["RS256"]), (InvalidKeyError, TypeError)),
        "rsa_object_for_eddsa": (lambda: turbojwt.Verifier(rsa.public, algorithms=["EdDSA"]), (InvalidKeyError, TypeError)),
    }


_BAD_NAMES = [
    "missing_algorithms", "positional_algorithms", "unknown_keyword", "no_key", "options_not_mapping",
    "audience_int", "leeway_str", "key_none_hmac", "key_int", "key_empty_hmac", "pem_as_hmac_secret",
    "garbage_rsa_key", "ec_key_for_rsa", "rsa_key_for_ec", "wrong_curve", "wrong_curve_object",
    "ec_object_for_rsa", "rsa_object_for_eddsa",
]


@pytest.mark.parametrize("name", _BAD_NAMES)
def test_bad_constructor_arguments(name: str, keyring) -> None:
    make, accepted = _bad(keyring)[name]
    with pytest.raises(accepted):
        make()


def test_bare_string_algorithms(keyring) -> None:
    """algorithms="HS256" (a str, not a list): either refused at construction,
    or it behaves exactly like turbojwt.decode with the same argument."""
    hs = keyring["hs256"].secret
    token = jwt.encode({"a": 1}, hs, "HS256")
    try:
        v = turbojwt.Verifier(hs, algorithms="HS256")
    except (TypeError, ValueError):
        return
    exp = verdict(turbojwt, "decode", token, hs, algorithms="HS256")
    assert_same_verdict(exp, verdict(turbojwt, lambda: v.decode(token)), check_warnings=False)


def test_issuer_int(keyring) -> None:
    """issuer=5: refused at construction (TypeError/ValueError) or, like
    PyJWT, at decode time with InvalidIssuerError."""
    hs = keyring["hs256"].secret
    token = jwt.encode({"iss": "x"}, hs, "HS256")
    try:
        v = turbojwt.Verifier(hs, algorithms=["HS256"], issuer=5)
    except (TypeError, ValueError):
        return
    with pytest.raises(turbojwt.InvalidIssuerError):
        v.decode(token)


def test_key_wrong_for_one_of_several_algorithms_is_accepted(keyring) -> None:
    """An EC key with algorithms=["HS256", "ES256"] verifies ES256 tokens with
    turbojwt.decode, so the Verifier must be constructible too."""
    km = keyring["p256"]
    token = jwt.encode({"a": 1}, km.private, "ES256")
    assert turbojwt.decode(token, km.public_pem, algorithms=["HS256", "ES256"]) == {"a": 1}
    v = turbojwt.Verifier(km.public_pem, algorithms=["HS256", "ES256"])
    assert v.decode(token) == {"a": 1}


# ---------------------------------------------------------------------------- typ


TYP_SECRET = "typ-secret-of-at-least-32-bytes!"


@pytest.mark.parametrize("cache", [None, 8])
def test_verifier_typ_is_checked_on_the_verified_header(cache) -> None:
    v = turbojwt.Verifier(TYP_SECRET, algorithms=["HS256"], typ="at+jwt", cache=cache)
    for typ in ("at+jwt", "AT+JWT", "application/at+jwt"):
        token = turbojwt.encode({"sub": "a"}, TYP_SECRET, algorithm="HS256", headers={"typ": typ})
        for _ in range(3):  # (a cache hit too)
            assert v.decode(token) == {"sub": "a"}
    for headers in ({"typ": "JWT"}, {}, {"typ": "x/at+jwt"}):
        token = turbojwt.encode({"sub": "a"}, TYP_SECRET, algorithm="HS256", headers=headers)
        for _ in range(3):
            with pytest.raises(turbojwt.errors.InvalidTypeError, match="'at\\+jwt'"):
                v.decode(token)
    # A token refused for its signature says so, not its type.
    forged = turbojwt.encode({"sub": "a"}, "another-secret-of-32-bytes-or-more", algorithm="HS256")
    with pytest.raises(turbojwt.InvalidSignatureError):
        v.decode(forged)
    with pytest.raises(TypeError):
        turbojwt.Verifier(TYP_SECRET, algorithms=["HS256"], typ=5)


def test_verifier_typ_holds_on_the_reference_path(ed448_key) -> None:
    # Ed448 keys are judged by the reference path: the same typ rule applies there.
    priv, pub = ed448_key.private, ed448_key.public
    v = turbojwt.Verifier(pub, algorithms=["EdDSA"], typ="at+jwt")
    good = turbojwt.encode({"sub": "a"}, priv, algorithm="EdDSA", headers={"typ": "at+jwt"})
    bad = turbojwt.encode({"sub": "a"}, priv, algorithm="EdDSA", headers={"typ": "JWT"})
    assert v.decode(good) == {"sub": "a"}
    with pytest.raises(turbojwt.errors.InvalidTypeError):
        v.decode(bad)


def test_unverified_issuer_is_read_natively() -> None:
    from turbojwt import _native

    token = turbojwt.encode({"iss": "https://idp"}, TYP_SECRET, algorithm="HS256")
    assert _native.unverified_issuer(token) == (True, "https://idp")
    listed = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOlsieCJdfQ.c2ln"  # {"iss":["x"]}
    assert _native.unverified_issuer(listed) == (True, None)
    assert _native.unverified_issuer(turbojwt.encode({"sub": "x"}, TYP_SECRET, algorithm="HS256")) == (True, None)
    for junk in ("", "a.b", "a.!!!.c", 5, None, "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln"):
        assert _native.unverified_issuer(junk) == (False, None)
