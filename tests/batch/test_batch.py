"""verify_batch gives every token the verdict decode gives it (class and message), in input
order, for any thread count and input form, judged as of each token's own time."""

from __future__ import annotations

import base64
import time
import warnings
from datetime import datetime, timezone

import jwt as pyjwt
import pyarrow as pa
import pytest

import turbojwt
from turbojwt import BatchError, verify_batch

SECRET = "s" * 32
OTHER = "o" * 32
NOW = int(time.time())
AUD = "api://default"
ISS = "https://idp.example.com"
KW = dict(algorithms=["HS256"], audience=AUD, issuer=ISS)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(i: int, **over):
    c = {
        "iss": ISS,
        "sub": f"user-{i}",
        "aud": AUD,
        "exp": NOW + 3600,
        "iat": NOW - 10,
        "jti": f"j{i}",
        "roles": ["a", "b"],
        "n": i,
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def mixed_corpus(rsa_key) -> list:
    """Valid, expired, forged, malformed, wrong audience/issuer, unknown algorithms, ..."""
    toks: list = []
    for i in range(40):
        toks.append(turbojwt.encode(claims(i), SECRET))
    toks += [
        turbojwt.encode(claims(1, exp=NOW - 100), SECRET),  # expired now
        turbojwt.encode(claims(2, nbf=NOW + 1000), SECRET),  # not yet valid
        turbojwt.encode(claims(3, aud="api://other"), SECRET),
        turbojwt.encode(claims(4, iss="https://evil.example"), SECRET),
        turbojwt.encode(claims(5, iss=None), SECRET),
        turbojwt.encode(claims(6), OTHER),  # forged: other key
        turbojwt.encode(claims(7), SECRET * 2, algorithm="HS384"),  # algorithm not allowed
        turbojwt.encode(claims(8, exp="soon"), SECRET),
        turbojwt.encode(claims(9, iat="x"), SECRET),
        turbojwt.encode(claims(10), rsa_key.private_pem, algorithm="RS256"),
        "not-a-token",
        "a.b",
        "",
        "e30.e30.e30.e30",
        b64(b'{"alg":"none"}') + "." + b64(b"{}") + ".",
        b64(b'{"alg":"HS256"}') + "." + b64(b"[1,2]") + ".sig",
        b64(b'{"alg":"HS256","kid":5}') + "." + b64(b"{}") + ".",
        b64(b'{"alg":"HS256"') + "." + b64(b"{}") + ".",
        b64(b'{"alg":"HS256","crit":["exp"]}') + "." + b64(b"{}") + ".",
        None,
        12345,
        "é.b.c",
    ]
    # A valid signature over a payload that is not JSON: refused after the signature.
    si = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(b"{nope")
    import hashlib
    import hmac

    sig = b64(hmac.new(SECRET.encode(), si.encode(), hashlib.sha256).digest())
    toks.append(si + "." + sig)
    # bytes tokens too
    toks += [t.encode() for t in toks[:5] if isinstance(t, str)]
    return toks


def decode_verdict(token, key=SECRET, **kw):
    kw = {**KW, **kw}
    try:
        return None, turbojwt.decode(token, key, **kw)
    except Exception as e:
        return BatchError(type(e).__name__, str(e)), None


def test_verdicts_equal_decode_token_by_token(rsa_key):
    toks = mixed_corpus(rsa_key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = verify_batch(toks, SECRET, **KW)
        expected = [decode_verdict(t) for t in toks]
    assert len(result) == len(toks)
    for i, (t, (err, payload)) in enumerate(zip(toks, expected)):
        assert result.errors[i] == err, (i, t)
        assert result.valid[i] == (err is None)
        assert result.claims[i] == payload
        assert result[i] == (i, err is None, err, payload)
    counts = result.counts()
    assert counts["valid"] == sum(e is None for e, _ in expected)
    assert sum(counts.values()) == len(toks)
    assert list(result) == [result[i] for i in range(len(toks))]


def test_verdict_classes_agree_with_pyjwt(rsa_key):
    # PyJWT itself: the same exception class for every token it takes (str/bytes).
    toks = [t for t in mixed_corpus(rsa_key) if isinstance(t, (str, bytes))]
    result = verify_batch(toks, SECRET, **KW)
    for i, t in enumerate(toks):
        try:
            pyjwt.decode(t, SECRET, **KW)
            want = None
        except pyjwt.PyJWTError as e:
            want = type(e).__name__
        got = result.errors[i].kind if result.errors[i] else None
        assert got == want, (i, t, result.errors[i])


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_same_results_for_any_thread_count(threads, rsa_key):
    toks = mixed_corpus(rsa_key) * 60  # several work chunks
    one = verify_batch(toks, SECRET, threads=1, **KW)
    many = verify_batch(toks, SECRET, threads=threads, **KW)
    assert many.errors == one.errors
    assert many.claims == one.claims
    assert many.columns() == one.columns()


def test_every_kind_of_str_token_is_read():
    # Compact ASCII strs are read in place; str subclasses, non-ASCII strs (one and two bytes
    # per character), bytearray-like objects and strs that are not UTF-8 take other paths.
    class Token(str):
        pass

    tok = turbojwt.encode(claims(1), SECRET)
    toks = [
        tok,
        Token(tok),
        tok.encode(),
        tok + "é",
        tok + "\u20ac",
        "\u20ac." + tok,
        tok[:-1] + "\udc80",
        Token("x\udc80.y.z"),
        bytearray(tok.encode()),
    ]
    result = verify_batch(toks, SECRET, **KW)
    for i, t in enumerate(toks):
        err, payload = decode_verdict(t)
        assert result.errors[i] == err, (i, t)
        assert result.claims[i] == payload
    assert result.valid[:3] == [True, True, True]


def test_judged_as_of_each_request_time():
    exp = NOW - 3600  # expired an hour ago
    toks = [turbojwt.encode(claims(i, exp=exp, iat=exp - 600, nbf=exp - 600), SECRET) for i in range(6)]
    at = [
        exp - 60,
        exp + 60,
        datetime.fromtimestamp(exp - 1, tz=timezone.utc),
        datetime.fromtimestamp(exp - 1, tz=timezone.utc).isoformat(),
        exp - 700,
        None,
    ]
    r = verify_batch(toks, SECRET, at=at, **KW)
    kinds = [e.kind if e else None for e in r.errors]
    assert kinds == [None, "ExpiredSignatureError", None, None, "ImmatureSignatureError", "ExpiredSignatureError"]
    # one time for all; a naive datetime is UTC
    naive = datetime.fromtimestamp(exp - 60, tz=timezone.utc).replace(tzinfo=None)
    assert all(verify_batch(toks, SECRET, at=naive, **KW).valid)
    assert not any(verify_batch(toks, SECRET, **KW).valid)
    # leeway applies to the request time as decode applies it to now
    assert all(verify_batch(toks, SECRET, at=exp + 30, leeway=60, **KW).valid)
    with pytest.raises(ValueError, match="times for"):
        verify_batch(toks, SECRET, at=[exp] * 5, **KW)


def test_at_for_fallback_tokens_is_the_request_time():
    # alg "none" allowed with verification off goes to the reference path; its time claims
    # must be judged as of the token's time too.
    exp = NOW - 3600
    tok = pyjwt.encode({"exp": exp}, None, algorithm="none")
    opts = {"verify_signature": False, "verify_exp": True}
    r = verify_batch([tok, tok], "", algorithms=["none"], options=opts, at=[exp - 5, exp + 5])
    assert [e.kind if e else None for e in r.errors] == [None, "ExpiredSignatureError"]


def test_claims_false_gives_same_verdicts_without_dicts(rsa_key):
    toks = mixed_corpus(rsa_key)
    a = verify_batch(toks, SECRET, **KW)
    b = verify_batch(toks, SECRET, claims=False, **KW)
    assert b.claims is None
    assert a.errors == b.errors
    assert b[0].claims is None and b[0].valid


def test_report_columns_and_arrow_table():
    toks = [
        turbojwt.encode(claims(1), SECRET, headers={"kid": "k1"}),
        turbojwt.encode(claims(2, aud=["x", AUD]), OTHER),
        "garbage",
    ]
    table = verify_batch(toks, SECRET, **KW).to_arrow()
    assert table.column_names == ["index", "valid", "error", "reason", "kid", "iss", "sub", "aud", "exp", "iat"]
    rows = table.to_pylist()
    assert rows[0]["valid"] and rows[0]["kid"] == "k1" and rows[0]["sub"] == "user-1" and rows[0]["exp"] == NOW + 3600
    # a forged token still shows who it claims to be
    assert rows[1]["error"] == "InvalidSignatureError" and rows[1]["sub"] == "user-2" and rows[1]["aud"] == "x," + AUD
    assert rows[2]["error"] == "DecodeError" and rows[2]["reason"] == "Not enough segments" and rows[2]["sub"] is None
    assert [r["index"] for r in rows] == [0, 1, 2]


@pytest.mark.parametrize(
    "make",
    [
        lambda toks: pa.array(toks, pa.string()),
        lambda toks: pa.array(toks, pa.large_string()),
        lambda toks: pa.array([t.encode() for t in toks], pa.binary()),
        lambda toks: pa.array([t.encode() for t in toks], pa.large_binary()),
        lambda toks: pa.chunked_array([pa.array(toks[:7]), pa.array(toks[7:12]), pa.array(toks[12:])]),
        lambda toks: pa.array(toks, pa.string()).slice(0),
        lambda toks: pa.array(toks).dictionary_encode(),
        lambda toks: pa.array(toks, pa.string_view()),
    ],
    ids=["string", "large_string", "binary", "large_binary", "chunked", "sliced", "dictionary", "string_view"],
)
def test_arrow_input(make):
    toks = [turbojwt.encode(claims(i, exp=NOW - 5 if i % 3 == 0 else NOW + 60), SECRET) for i in range(20)]
    toks[4] = "x.y.z"
    want = verify_batch(toks, SECRET, **KW)
    got = verify_batch(make(toks), SECRET, **KW)
    assert got.errors == want.errors
    assert got.claims == want.claims


def test_arrow_slices_nulls_and_no_copy_of_tokens():
    toks = [turbojwt.encode(claims(i), SECRET) for i in range(10)]
    arr = pa.array([None] + toks + [None])
    sliced = arr.slice(3, 6)  # offset into the buffers
    r = verify_batch(sliced, SECRET, **KW)
    assert r.errors == [decode_verdict(t)[0] for t in toks[2:8]]
    r = verify_batch(arr, SECRET, **KW)
    assert r.errors[0] == BatchError("DecodeError", "Invalid token type. Token must be a <class 'bytes'>")
    assert r.valid[1:-1] == [True] * 10
    # Reading the array does not materialise Python strings for the tokens.
    before = pa.total_allocated_bytes()
    verify_batch(arr, SECRET, claims=False, **KW)
    assert pa.total_allocated_bytes() == before
    with pytest.raises(TypeError, match="strings or binary"):
        verify_batch(pa.array([1, 2]), SECRET, **KW)


def test_polars_series():
    pl = pytest.importorskip("polars")
    toks = [turbojwt.encode(claims(i), SECRET) for i in range(5)] + ["bad"]
    r = verify_batch(pl.Series("token", toks), SECRET, **KW)
    assert r.valid == [True] * 5 + [False]


def test_iterables_are_read_in_chunks(monkeypatch):
    import turbojwt.batch as batch_mod

    monkeypatch.setattr(batch_mod, "ITERABLE_CHUNK", 7)
    toks = [turbojwt.encode(claims(i, exp=NOW - 5 if i % 4 == 0 else NOW + 60), SECRET) for i in range(30)]
    consumed = []

    def gen():
        for t in toks:
            consumed.append(t)
            yield t

    times = (NOW for _ in toks)  # an iterator of times, read in step with the tokens
    r = verify_batch(gen(), SECRET, at=times, **KW)
    assert len(r) == 30 and consumed == toks
    assert r.errors == [decode_verdict(t)[0] for t in toks]
    assert len(r._parts) == 5
    assert len(verify_batch(iter([]), SECRET, **KW)) == 0
    with pytest.raises(TypeError):
        verify_batch("a.b.c", SECRET, **KW)


def test_jwks_picks_key_by_kid(rsa_key, ec_p256_key):
    rsa_jwk = {**rsa_key.public_jwk, "kid": "r1", "use": "sig"}
    ec_jwk = {**ec_p256_key.public_jwk, "kid": "e1"}
    enc_jwk = {**rsa_key.public_jwk, "kid": "enc", "use": "enc"}
    ops_jwk = {**rsa_key.public_jwk, "kid": "ops", "key_ops": ["encrypt"]}
    jwks = {"keys": [rsa_jwk, ec_jwk, enc_jwk, ops_jwk, {"kty": "unknown"}]}
    t_rsa = turbojwt.encode(claims(1), rsa_key.private_pem, algorithm="RS256", headers={"kid": "r1"})
    t_ec = turbojwt.encode(claims(2), ec_p256_key.private_pem, algorithm="ES256", headers={"kid": "e1"})
    t_swapped = turbojwt.encode(claims(3), rsa_key.private_pem, algorithm="RS256", headers={"kid": "e1"})
    t_unknown = turbojwt.encode(claims(4), rsa_key.private_pem, algorithm="RS256", headers={"kid": "zz"})
    t_nokid = turbojwt.encode(claims(5), rsa_key.private_pem, algorithm="RS256")
    t_enc = turbojwt.encode(claims(6), rsa_key.private_pem, algorithm="RS256", headers={"kid": "enc"})
    t_ops = turbojwt.encode(claims(7), rsa_key.private_pem, algorithm="RS256", headers={"kid": "ops"})
    toks = [t_rsa, t_ec, t_swapped, t_unknown, t_nokid, t_enc, t_ops]
    kw = dict(algorithms=["RS256", "ES256"], audience=AUD, issuer=ISS)
    for keys in (jwks, turbojwt.PyJWKSet.from_dict(jwks)):
        r = verify_batch(toks, keys, **kw)
        kinds = [e.kind if e else None for e in r.errors]
        assert kinds[:3] == [None, None, "InvalidAlgorithmError"]
        assert kinds[3:] == ["PyJWKClientError"] * 4
        assert r.errors[3].message == 'Unable to find a signing key that matches: "zz"'
        assert r.errors[4].message == 'Unable to find a signing key that matches: "None"'
    with pytest.raises(turbojwt.PyJWKSetError):
        verify_batch(toks, {"keys": [enc_jwk]}, **kw)


def test_issuer_mapping(rsa_key):
    other_iss = "https://other.example"
    toks = [
        turbojwt.encode(claims(1), SECRET),
        turbojwt.encode(claims(2, iss=other_iss), rsa_key.private_pem, algorithm="RS256"),
        turbojwt.encode(claims(3, iss=other_iss), SECRET),  # right issuer, wrong key
        turbojwt.encode(claims(4, iss="https://stranger"), SECRET),
        turbojwt.encode(claims(5, iss=None), SECRET),
        turbojwt.encode(claims(6, iss=other_iss), OTHER, headers={"kid": "o"}),  # second key of a list
    ]
    mapping = {ISS: SECRET, other_iss: [rsa_key.public_pem, OTHER]}
    r = verify_batch(toks, mapping, algorithms=["HS256", "RS256"], audience=AUD)
    kinds = [e.kind if e else None for e in r.errors]
    # no key of the issuer verified token 2 (the first refuses HS256 outright): a signature failure
    assert kinds == [None, None, "InvalidSignatureError", "InvalidIssuerError", "MissingRequiredClaimError", None]


def test_reference_path_keys_and_short_key_warning(ed448_key):
    # Ed448 is not in the core: the whole batch goes through the reference path, same verdicts.
    toks = [turbojwt.encode(claims(i), ed448_key.private_pem, algorithm="EdDSA") for i in range(3)] + ["x"]
    r = verify_batch(toks, ed448_key.public_pem, algorithms=["EdDSA"], audience=AUD, issuer=ISS)
    assert r.valid == [True, True, True, False]
    assert r.claims[0]["sub"] == "user-0"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        short = turbojwt.encode(claims(1), "short")
    with pytest.warns(turbojwt.InsecureKeyLengthWarning):
        assert verify_batch([short], "short", **KW).valid == [True]
    r = verify_batch([short], "short", options={"enforce_minimum_key_length": True}, **KW)
    assert r.errors[0].kind == "InvalidKeyError"


def test_repeated_tokens_get_the_verdict_of_their_first_sight(rsa_key):
    # A log repeats a client's token on every request: repeats are judged from what the
    # first sight settled, with the time checks made again as of each request's time.
    toks = mixed_corpus(rsa_key)
    live = turbojwt.encode(claims(99, nbf=NOW - 50, exp=NOW + 50), SECRET)
    corpus = (toks + [live]) * 6
    per_round = len(toks) + 1
    times = [NOW + (i // per_round - 3) * 40.0 for i in range(len(corpus))]  # NOW-120 .. NOW+80
    v = turbojwt.Verifier(SECRET, **KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = [verify_batch([t], SECRET, at=at, **KW) for t, at in zip(corpus, times)]
        for threads in (1, 2, 1):  # the last run finds every token kept
            r = v.verify_batch(corpus, at=times, threads=threads)
            assert r.errors == [a.errors[0] for a in alone]
            assert r.claims == [a.claims[0] for a in alone]
            assert r.columns() == {k: [c[0] for c in (a.columns()[k] for a in alone)] for k in r.columns()}
    kinds = {r.errors[i].kind if r.errors[i] else None for i, t in enumerate(corpus) if t == live}
    assert kinds == {None, "ImmatureSignatureError", "ExpiredSignatureError"}, kinds
    # Claims dicts of repeats (copies of one built dict from the third sight on) are distinct
    # objects, with distinct lists: mutating one leaves the others alone.
    repeats = [r.claims[i] for i, t in enumerate(corpus) if t == toks[0] and r.valid[i]]
    assert len(repeats) >= 3
    assert all(c == repeats[0] for c in repeats)
    assert len({id(c) for c in repeats}) == len({id(c["roles"]) for c in repeats}) == len(repeats)
    repeats[-1]["roles"].append("mutated")
    repeats[-1]["sub"] = "mutated"
    assert repeats[0]["roles"] == ["a", "b"] and repeats[-2]["roles"] == ["a", "b"]
    again = v.verify_batch(corpus, at=times, threads=1).claims
    assert [c for c in again if c is not None and c.get("sub") == "mutated"] == []


def test_verifier_verify_batch_matches_decode(rsa_key):
    v = turbojwt.Verifier(rsa_key.public_pem, algorithms=["RS256"], audience=AUD, issuer=ISS)
    toks = [turbojwt.encode(claims(i), rsa_key.private_pem, algorithm="RS256") for i in range(5)]
    toks.append(turbojwt.encode(claims(9), SECRET))
    r = v.verify_batch(toks, threads=2)
    assert r.valid == [True] * 5 + [False]
    assert r.errors[5] == decode_verdict(toks[5], rsa_key.public_pem, algorithms=["RS256"])[0]
    assert r.claims[0] == v.decode(toks[0])


def test_bad_arguments():
    with pytest.raises(TypeError):
        verify_batch([], SECRET, algorithms="HS256")
    with pytest.raises(ValueError):
        verify_batch([], SECRET, algorithms=["HS256"], threads=0)
    with pytest.raises(TypeError):
        verify_batch(["a"], SECRET, algorithms=["HS256"], at=True)
    with pytest.raises(TypeError):
        verify_batch(["a"], {1: SECRET}, algorithms=["HS256"])
    for make in (
        lambda: verify_batch(["a"], SECRET, algorithms=["HS256"], leeway="10"),
        lambda: turbojwt.Verifier(SECRET, algorithms=["HS256"], leeway=None),
    ):
        with pytest.raises(TypeError, match="leeway must be a number of seconds or a timedelta"):
            make()


def test_pipelined_claims_over_several_stages(rsa_key):
    # Over 16,384 tokens (a pipeline stage) with claims and several threads, dicts are
    # built while the next stage is verified: the results are those of one thread.
    toks = mixed_corpus(rsa_key) * 700
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = verify_batch(toks, SECRET, threads=1, **KW)
        two = verify_batch(toks, SECRET, threads=2, **KW)
    assert len(toks) > 16 * 1024
    assert two.errors == one.errors
    assert two.claims == one.claims


def test_limits_apply_to_batches_and_existing_verifiers():
    tok = turbojwt.encode(claims(1), SECRET)
    v = turbojwt.Verifier(SECRET, **KW)
    assert v.verify_batch([tok]).valid == [True]
    before = turbojwt.get_limits()
    turbojwt.set_limits(max_token_length=len(tok) - 1)
    try:
        for r in (v.verify_batch([tok]), verify_batch([tok], SECRET, **KW)):
            assert r.errors[0].kind == "DecodeError" and "over the limit" in r.errors[0].message
    finally:
        turbojwt.set_limits(max_token_length=before[0], max_json_depth=before[1])
    assert v.verify_batch([tok]).valid == [True]
