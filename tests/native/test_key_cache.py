"""turbojwt's parsed-key cache.

API: ``turbojwt.key_cache_info()`` -> named tuple (hits, misses, maxsize,
currsize) like functools.lru_cache's ``cache_info()``;
``turbojwt.key_cache_clear()`` resets entries and counters;
``turbojwt.set_key_cache_size(n)`` bounds it; ``TURBOJWT_KEY_CACHE_SIZE``
sets the initial size (default 1024).  Every encode/decode with a key makes
exactly one cache lookup (asserted explicitly in test_one_lookup_per_call,
which the counting tests below rely on).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import threading
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

import turbojwt


@pytest.fixture(autouse=True)
def fresh_cache():
    original = turbojwt.key_cache_info().maxsize
    turbojwt.key_cache_clear()
    yield
    turbojwt.set_key_cache_size(original)
    turbojwt.key_cache_clear()


def counts() -> tuple[int, int]:
    info = turbojwt.key_cache_info()
    return info.hits, info.misses


def secret(i: int) -> str:
    return f"secret-{i:06d}".ljust(32, "x")  # 32 bytes: no key-length warning


def hs_token(key: Any, claims: Any = None) -> str:
    return jwt.encode(claims or {"sub": "x"}, key, "HS256")


@pytest.fixture(scope="module")
def rsa_token(keyring) -> str:
    return jwt.encode({"sub": "rsa"}, keyring["rsa"].private, "RS256")


# --------------------------------------------------------------------------
# shape and basic accounting
# --------------------------------------------------------------------------


def test_info_is_a_named_tuple() -> None:
    info = turbojwt.key_cache_info()
    assert isinstance(info, tuple)
    assert info._fields == ("hits", "misses", "maxsize", "currsize")
    assert tuple(info) == (info.hits, info.misses, info.maxsize, info.currsize)
    assert (info.hits, info.misses, info.currsize) == (0, 0, 0)  # just cleared


def test_default_size_is_1024() -> None:
    if "TURBOJWT_KEY_CACHE_SIZE" in os.environ:
        pytest.skip("TURBOJWT_KEY_CACHE_SIZE is set in this environment")
    assert turbojwt.key_cache_info().maxsize == 1024


@pytest.mark.parametrize("fn", ["decode", "decode_complete", "verify_failure", "encode"])
def test_one_lookup_per_call(fn: str, keyring, rsa_token: str) -> None:
    """Each encode/decode/decode_complete with a key is exactly one lookup
    (signature failures included)."""
    pem = keyring["rsa"].public_pem
    call = {
        "decode": lambda: turbojwt.decode(rsa_token, pem, algorithms=["RS256"]),
        "decode_complete": lambda: turbojwt.decode_complete(rsa_token, pem, algorithms=["RS256"]),
        "verify_failure": lambda: pytest.raises(
            turbojwt.InvalidSignatureError, turbojwt.decode, rsa_token, keyring["rsa2"].public_pem, algorithms=["RS256"]
        ),
        "encode": lambda: turbojwt.encode({"a": 1}, keyring["p256"].private, "ES256"),
    }[fn]
    for i in range(3):
        before = sum(counts())
        call()
        assert sum(counts()) == before + 1


@pytest.mark.parametrize("form", ["pem_str", "pem_bytes", "same_object", "equal_objects", "pyjwk_same", "pyjwk_equal"])
def test_repeated_rsa_key_hits(form: str, keyring, rsa_token: str) -> None:
    km = keyring["rsa"]
    pem = km.public_pem
    if form == "pem_str":
        keys = [pem] * 5
    elif form == "pem_bytes":
        keys = [pem.encode()] * 5
    elif form == "same_object":
        keys = [km.public] * 5
    elif form == "equal_objects":
        # the same key loaded five times: distinct objects, equal key
        keys = [serialization.load_pem_public_key(pem.encode()) for _ in range(5)]
        assert len({id(k) for k in keys}) == 5
    elif form == "pyjwk_same":
        keys = [turbojwt.PyJWK(dict(km.public_jwk), "RS256")] * 5
    else:
        keys = [turbojwt.PyJWK(dict(km.public_jwk), "RS256") for _ in range(5)]
    turbojwt.key_cache_clear()  # PyJWK construction may itself have used the cache
    for key in keys:
        assert turbojwt.decode(rsa_token, key, algorithms=["RS256"]) == {"sub": "rsa"}
    info = turbojwt.key_cache_info()
    assert (info.hits, info.misses, info.currsize) == (4, 1, 1), info


@pytest.mark.parametrize("form", ["str", "bytes"])
def test_repeated_hmac_secret_hits(form: str) -> None:
    key: Any = secret(1) if form == "str" else secret(1).encode()
    token = hs_token(key)
    for _ in range(10):
        assert turbojwt.decode(token, key, algorithms=["HS256"]) == {"sub": "x"}
    info = turbojwt.key_cache_info()
    assert (info.hits, info.misses, info.currsize) == (9, 1, 1), info


@pytest.mark.parametrize("keyname,alg", [("p256", "ES256"), ("ed25519", "EdDSA"), ("p521", "ES512")])
def test_repeated_keys_other_families(keyname: str, alg: str, keyring) -> None:
    km = keyring[keyname]
    token = jwt.encode({"k": keyname}, km.private, alg)
    for key in (km.public_pem, km.public_pem, km.public, km.public):
        turbojwt.decode(token, key, algorithms=[alg])
    hits, misses = counts()
    assert hits + misses == 4
    assert misses <= 2  # the PEM and the object may or may not share an entry
    assert hits >= 2


def test_misses_counted_for_distinct_secrets() -> None:
    secrets = [secret(i) for i in range(50)]
    tokens = [hs_token(s) for s in secrets]
    for s, t in zip(secrets, tokens):
        turbojwt.decode(t, s, algorithms=["HS256"])
    info = turbojwt.key_cache_info()
    assert (info.hits, info.misses, info.currsize) == (0, 50, 50), info
    for s, t in zip(secrets, tokens):
        turbojwt.decode(t, s, algorithms=["HS256"])
    info = turbojwt.key_cache_info()
    assert (info.hits, info.misses, info.currsize) == (50, 50, 50), info


def test_encode_uses_the_cache(keyring) -> None:
    km = keyring["ed25519"]
    for _ in range(3):
        turbojwt.encode({"a": 1}, km.private_pem, "EdDSA")
    assert counts() == (2, 1)


def test_clear_resets_everything(rsa_token: str, keyring) -> None:
    for _ in range(3):
        turbojwt.decode(rsa_token, keyring["rsa"].public_pem, algorithms=["RS256"])
    assert turbojwt.key_cache_info().currsize == 1
    maxsize = turbojwt.key_cache_info().maxsize
    turbojwt.key_cache_clear()
    assert tuple(turbojwt.key_cache_info()) == (0, 0, maxsize, 0)
    turbojwt.decode(rsa_token, keyring["rsa"].public_pem, algorithms=["RS256"])
    assert counts() == (0, 1)


def test_size_bounds_currsize_under_5000_distinct_secrets() -> None:
    turbojwt.set_key_cache_size(100)
    assert turbojwt.key_cache_info().maxsize == 100
    token_claims = {"sub": "many"}
    for i in range(5000):
        s = secret(i)
        assert turbojwt.decode(hs_token(s, token_claims), s, algorithms=["HS256"]) == token_claims
        if i % 250 == 0:
            assert turbojwt.key_cache_info().currsize <= 100
    info = turbojwt.key_cache_info()
    assert info.currsize == 100 and info.maxsize == 100, info
    assert (info.hits, info.misses) == (0, 5000), info
    # shrinking evicts immediately; currsize never exceeds maxsize
    turbojwt.set_key_cache_size(10)
    info = turbojwt.key_cache_info()
    assert info.maxsize == 10 and info.currsize <= 10, info
    turbojwt.set_key_cache_size(2000)
    assert turbojwt.key_cache_info().currsize <= 10


def test_hot_key_mostly_hits_in_small_cache() -> None:
    """Under churn a key used every other call keeps hitting most of the time
    (holds for LRU, FIFO or random eviction; the policy is not specified)."""
    turbojwt.set_key_cache_size(4)
    hot = secret(999_999)
    hot_token = hs_token(hot)
    for i in range(40):
        turbojwt.decode(hot_token, hot, algorithms=["HS256"])
        s = secret(i)
        turbojwt.decode(hs_token(s), s, algorithms=["HS256"])
        assert turbojwt.key_cache_info().currsize <= 4
    hits, misses = counts()
    assert hits + misses == 80
    assert hits >= 20


# --------------------------------------------------------------------------
# the cache never changes a verdict
# --------------------------------------------------------------------------


def _verdict(mod: Any, *args: Any, **kw: Any) -> tuple:
    try:
        return ("ok", mod.decode(*args, **kw))
    except Exception as exc:  # noqa: BLE001
        return ("err", type(exc).__name__)


def test_cache_never_changes_verdicts(keyring) -> None:
    rsa, rsa2, p256 = keyring["rsa"], keyring["rsa2"], keyring["p256"]
    a, b = secret(1), secret(1)[:-1] + "y"  # differ in the last byte only
    rs_tok = jwt.encode({"k": "rsa"}, rsa.private, "RS256")
    rs2_tok = jwt.encode({"k": "rsa2"}, rsa2.private, "RS256")
    confused = jwt.api_jws.encode(b'{"k":"confused"}', b"placeholder-secret-placeholder-x", "HS256")
    calls = [
        (hs_token(a), a, ["HS256"]),
        (hs_token(a), b, ["HS256"]),  # near-identical secret: must fail
        (hs_token(a), a.encode(), ["HS256"]),
        (hs_token(b), a, ["HS256"]),
        (rs_tok, rsa.public_pem, ["RS256"]),
        (rs2_tok, rsa.public_pem, ["RS256"]),  # other key's token with the cached key
        (rs_tok, rsa2.public, ["RS256"]),
        (rs_tok, rsa.public_pem, ["HS256", "RS256"]),
        (confused, rsa.public_pem, ["HS256", "RS256"]),  # PEM cached as RSA key, now offered as HMAC secret
        (rs_tok, p256.public_pem, ["RS256"]),  # wrong key family
        (jwt.encode({"k": "ec"}, p256.private, "ES256"), p256.public_pem, ["ES256", "HS256"]),
        (hs_token(p256.public_pem.replace("PUBLIC", "PUBLIX")), p256.public_pem.replace("PUBLIC", "PUBLIX"), ["HS256"]),
    ]
    expected = [_verdict(jwt, t, k, algorithms=algs) for t, k, algs in calls]
    for rnd in range(3):  # cold, warm, warm in reverse order
        order = list(range(len(calls)))
        if rnd == 2:
            order.reverse()
        for i in order:
            t, k, algs = calls[i]
            got = _verdict(turbojwt, t, k, algorithms=algs)
            assert got[0] == expected[i][0] and got[1] == expected[i][1], (rnd, i, got, expected[i])


def test_pem_as_hmac_secret_refused_after_caching(keyring) -> None:
    """A PEM first cached as an RSA key must still be refused as an HMAC
    secret (algorithm confusion through the cache), in either order."""
    pem = keyring["rsa"].public_pem
    import hmac
    import hashlib
    import base64

    def b64(x: bytes) -> str:
        return base64.urlsafe_b64encode(x).rstrip(b"=").decode()

    si = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(b'{"admin":true}')
    forged = si + "." + b64(hmac.new(pem.encode(), si.encode(), hashlib.sha256).digest())
    rs_tok = jwt.encode({"k": 1}, keyring["rsa"].private, "RS256")
    for first in ("rsa", "hmac"):
        turbojwt.key_cache_clear()
        seq = ["rsa", "hmac"] if first == "rsa" else ["hmac", "rsa"]
        for step in seq * 2:
            if step == "rsa":
                assert turbojwt.decode(rs_tok, pem, algorithms=["RS256", "HS256"]) == {"k": 1}
            else:
                with pytest.raises(turbojwt.InvalidKeyError):
                    turbojwt.decode(forged, pem, algorithms=["RS256", "HS256"])


# --------------------------------------------------------------------------
# thread safety
# --------------------------------------------------------------------------


def _workload(keyring) -> list[tuple[str, Any, list[str]]]:
    items: list[tuple[str, Any, list[str]]] = []
    for i in range(48):
        s = secret(10_000 + i)
        tok = hs_token(s, {"i": i})
        items.append((tok, s, ["HS256"]))
        items.append((tok, s.encode(), ["HS256"]))
        items.append((tok, secret(20_000 + i), ["HS256"]))  # wrong secret
    for name in ("rsa", "rsa2"):
        km = keyring[name]
        tok = jwt.encode({"k": name}, km.private, "RS256")
        other = jwt.encode({"k": name}, keyring["rsa2" if name == "rsa" else "rsa"].private, "RS256")
        for key in (km.public_pem, km.public_pem_bytes, km.public):
            items.append((tok, key, ["RS256"]))
            items.append((other, key, ["RS256"]))  # signature failure
    return items


@pytest.mark.parametrize("cache_size", [1024, 16])
def test_concurrent_decodes_match_single_thread(keyring, cache_size: int) -> None:
    items = _workload(keyring)
    expected = [_verdict(turbojwt, t, k, algorithms=a) for t, k, a in items]
    turbojwt.set_key_cache_size(cache_size)
    turbojwt.key_cache_clear()

    n_threads, rounds = 8, 4
    barrier = threading.Barrier(n_threads + 1)
    results: list[list[tuple[int, tuple]]] = [[] for _ in range(n_threads)]
    errors: list[BaseException] = []
    stop = threading.Event()
    oversize: list[Any] = []

    def worker(tid: int) -> None:
        rng = random.Random(tid)
        order = [i for _ in range(rounds) for i in range(len(items))]
        rng.shuffle(order)
        try:
            barrier.wait()
            for i in order:
                t, k, a = items[i]
                results[tid].append((i, _verdict(turbojwt, t, k, algorithms=a)))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def sampler() -> None:
        barrier.wait()
        while not stop.is_set():
            info = turbojwt.key_cache_info()
            if info.currsize > info.maxsize:
                oversize.append(info)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    watch = threading.Thread(target=sampler)
    for th in threads + [watch]:
        th.start()
    for th in threads:
        th.join(timeout=120)
    stop.set()
    watch.join(timeout=10)

    assert not errors, errors
    assert not oversize, oversize[:3]
    total = 0
    for tid in range(n_threads):
        assert len(results[tid]) == rounds * len(items)
        for i, got in results[tid]:
            total += 1
            assert got == expected[i], (tid, i, got, expected[i])
    info = turbojwt.key_cache_info()
    assert info.hits + info.misses == total, info
    assert info.currsize <= info.maxsize == cache_size
    distinct = len({(type(k).__name__, k if isinstance(k, (str, bytes)) else id(k)) for _, k, _ in items})
    assert info.misses >= min(distinct, 1)
    if cache_size >= distinct:
        # with room for everything, each distinct key misses at most once per thread
        assert info.misses <= distinct * n_threads


# --------------------------------------------------------------------------
# TURBOJWT_KEY_CACHE_SIZE
# --------------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import jwt, turbojwt
    print(turbojwt.key_cache_info().maxsize)
    for i in range(20):
        s = ("env-secret-%02d" % i).ljust(32, "x")
        turbojwt.decode(jwt.encode({"i": i}, s, "HS256"), s, algorithms=["HS256"])
    info = turbojwt.key_cache_info()
    print(info.currsize, info.misses)
    """
)


def _run_child(env_value: Any) -> list[str]:
    env = dict(os.environ)
    env.pop("TURBOJWT_KEY_CACHE_SIZE", None)
    if env_value is not None:
        env["TURBOJWT_KEY_CACHE_SIZE"] = env_value
    # import turbojwt exactly as this process does
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_env_var_sets_cache_size() -> None:
    maxsize, currsize, misses = _run_child("7")
    assert maxsize == "7"
    assert currsize == "7"
    assert misses == "20"


def test_env_var_absent_gives_default() -> None:
    maxsize, currsize, misses = _run_child(None)
    assert maxsize == "1024"
    assert (currsize, misses) == ("20", "20")
