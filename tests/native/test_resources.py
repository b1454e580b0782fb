"""Resources and threads: resident memory stays flat over a million decodes and a million
batch verifications (error paths included), and eight threads decoding, encoding and
batch-verifying while the key cache churns give the results of one thread."""

from __future__ import annotations

import gc
import os
import random
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

import turbojwt

SECRET = "m" * 48
NOW = int(time.time())


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")


def _tokens() -> list:
    good = turbojwt.encode({"sub": "u", "aud": "api", "exp": NOW + 3600, "roles": ["a", "b"]}, SECRET)
    expired = turbojwt.encode({"sub": "u", "aud": "api", "exp": NOW - 10}, SECRET)
    forged = turbojwt.encode({"sub": "u", "aud": "api"}, "f" * 48)
    wrong_aud = turbojwt.encode({"sub": "u", "aud": "other"}, SECRET)
    return [good, expired, forged, wrong_aud, "not.a.token", good[:-3], "e30." * 3, good.encode()]


def _decode_all(tokens, n):
    decode = turbojwt.decode
    errors = turbojwt.PyJWTError
    for i in range(n):
        try:
            decode(tokens[i % len(tokens)], SECRET, algorithms=["HS256"], audience="api")
        except errors:
            pass


def test_memory_is_flat_over_a_million_decodes_and_batch_verifications():
    tokens = _tokens()
    _decode_all(tokens, 50_000)  # warm-up: caches, interned names, allocator arenas
    batch = (tokens * 12_500)[:100_000]
    turbojwt.verify_batch(batch, SECRET, algorithms=["HS256"], audience="api")
    gc.collect()
    before = rss_bytes()
    _decode_all(tokens, 1_000_000)
    for _ in range(10):
        result = turbojwt.verify_batch(batch, SECRET, algorithms=["HS256"], audience="api")
        assert len(result.errors) == len(batch)
        del result
    gc.collect()
    grown = rss_bytes() - before
    # 16 MB over 2,000,000 operations: a leak of 8 bytes per call would show.
    assert grown < 16 * 1024 * 1024, f"resident memory grew by {grown / 1e6:.1f} MB"


def _verdict(fn):
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001
        return ("err", type(e).__name__, str(e))


def _workload(keyring):
    """Calls over many distinct keys: with a tiny key cache, every thread evicts the others'."""
    rng = random.Random(7)
    calls = []
    secrets = [f"secret-{i:02d}-" + "x" * 40 for i in range(40)]
    asym = [keyring[k] for k in ("rsa", "rsa2", "p256", "ed25519")]
    alg_of = {"rsa": "RS256", "rsa2": "PS256", "p256": "ES256", "ed25519": "EdDSA"}
    for i in range(600):
        claims = {"sub": f"user-{i}", "aud": "api", "exp": NOW + 3600, "n": i}
        if i % 3:
            secret = secrets[i % len(secrets)]
            token = turbojwt.encode(claims, secret)
            key = secret if i % 7 else secrets[(i + 1) % len(secrets)]  # some with the wrong key
            calls.append(("decode", token, key, ["HS256"]))
            calls.append(("encode_hs", claims, secret))
        else:
            km = asym[i % len(asym)]
            alg = alg_of[km.name]
            token = turbojwt.encode(claims, km.private_pem, algorithm=alg)
            if i % 5 == 0:
                token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
            calls.append(("decode", token, km.public_pem, [alg]))
            calls.append(("encode_verify", claims, km.private_pem, km.public_pem, alg))
    rng.shuffle(calls)
    return calls


def _run(call):
    kind = call[0]
    if kind == "decode":
        _, token, key, algs = call
        return _verdict(lambda: turbojwt.decode(token, key, algorithms=algs, audience="api"))
    if kind == "encode_hs":
        _, claims, secret = call
        return _verdict(lambda: turbojwt.encode(claims, secret))
    # ECDSA signatures differ every time: compare what the token verifies to, not its bytes
    _, claims, private, public, alg = call
    return _verdict(lambda: turbojwt.decode(turbojwt.encode(claims, private, algorithm=alg), public,
                                            algorithms=[alg], audience="api"))


def test_eight_threads_with_key_cache_churn_match_one_thread(keyring):
    calls = _workload(keyring)
    before = turbojwt.key_cache_info().maxsize
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = [_run(c) for c in calls]
            turbojwt.set_key_cache_size(4)
            tokens = [c[1] for c in calls if c[0] == "decode" and c[3] == ["HS256"]]
            batch_expected = turbojwt.verify_batch(tokens, calls[0][2] if calls[0][0] == "decode" else "k" * 48,
                                                   algorithms=["HS256"], audience="api", threads=1).errors

            def worker(seed):
                order = list(range(len(calls)))
                random.Random(seed).shuffle(order)
                got = {}
                for i in order:
                    got[i] = _run(calls[i])
                batch = turbojwt.verify_batch(
                    tokens, calls[0][2] if calls[0][0] == "decode" else "k" * 48,
                    algorithms=["HS256"], audience="api", threads=2).errors
                return [got[i] for i in range(len(calls))], batch

            with ThreadPoolExecutor(max_workers=8) as pool:
                results = list(pool.map(worker, range(8)))
    finally:
        turbojwt.set_key_cache_size(before)
    for got, batch in results:
        assert got == expected
        assert batch == batch_expected
    info = turbojwt.key_cache_info()
    assert info.currsize <= info.maxsize
