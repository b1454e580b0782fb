"""Batch verification throughput (issue 3), measured side by side in one process:
`verify_batch` with and without claim dicts, on 1 and on all threads, against a PyJWT loop
and a `turbojwt.decode` loop over the same tokens; RS256 scaling from 1 to 2 threads; and
`turbojwt verify-logs` on a JSON-lines log against the PyJWT script doing the same work.

Interleaved with them run the floors this machine sets: the bare HMAC-SHA256 and RS256
verification of the same signing input in a Rust loop (aws-lc; no base64, no JSON, no
Python) on one thread and on every core at once, and `orjson.loads` of the same payloads,
which is what building (and keeping) claim dicts costs on the one thread that may create
Python objects.

    python benchmarks/batch.py [--quick]      # prints the Markdown section

`compare.py` includes this section in RESULTS.md.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from turbojwt.bench.material import b64url_decode

HERE = Path(__file__).resolve().parent
SECRET = "benchmark-secret-of-at-least-32-bytes!"
AUDIENCE = "api://default"
ISSUER = "https://idp.example.com"


def claims(i: int, now: int) -> dict:
    return {
        "iss": ISSUER,
        "sub": f"user-{i}",
        "aud": AUDIENCE,
        "exp": now + 3600,
        "nbf": now - 10,
        "iat": now - 10,
        "jti": f"{i:08x}",
        "name": "Jane Doe",
        "email": "jane@example.com",
        "roles": ["admin", "user"],
        "tenant": "acme",
        "scope": "read write",
    }


def rounds(contenders: dict[str, Callable[[], float]], n_rounds: int, log) -> dict[str, list[float]]:
    """Runs every contender once per round, interleaved; returns its rates (tokens/s)."""
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(n_rounds):
        for name, fn in contenders.items():
            gc.collect()
            rates[name].append(fn())
        log(f"  batch round {r + 1}/{n_rounds}")
    return rates


def timed(fn: Callable[[], object], count: int) -> Callable[[], float]:
    def run() -> float:
        gc.disable()
        try:
            start = time.perf_counter()
            fn()
            return count / (time.perf_counter() - start)
        finally:
            gc.enable()

    return run


def on_new_verifier(key: str, policy: dict, tokens: list, **call) -> Callable[[], object]:
    """`verify_batch(tokens, **call)` on a new Verifier for every call: an engine keeps the
    tokens it saw repeated (a log's repeats), and the batch rows measure what a call costs
    an engine that has not seen its tokens yet."""
    import turbojwt

    return lambda: turbojwt.Verifier(key, **policy).verify_batch(tokens, **call)


def floor_rate(alg: str, key: str, token: str, iterations: int, threads: int) -> Callable[[], float]:
    """Tokens/s of the bare signature check of `token` (turbojwt's benchmark floor, which
    releases the GIL) run by `threads` threads at once."""
    import threading

    from turbojwt import _native

    signing_input, _, sig = token.rpartition(".")
    args = (alg, key, signing_input.encode(), b64url_decode(sig), iterations)

    def run() -> float:
        workers = [threading.Thread(target=_native.bench.verify_floor, args=args) for _ in range(threads)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return threads * iterations / (time.perf_counter() - start)

    return run


STAGE_LABELS = {
    "split": "split at the dots",
    "base64": "base64url decode of payload and signature",
    "claims": "claims JSON scan (all 12 members read)",
    "hmac": "HMAC-SHA256 tag check",
}


def fmt_rate(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{med / 1e6:.3f} M/s (min {min(values) / 1e6:.3f}, max {max(values) / 1e6:.3f})"


def section(quick: bool, log=lambda s: print(s, file=sys.stderr)) -> tuple[list[str], list[tuple[str, str, str, bool]]]:
    """Markdown lines for RESULTS.md and the issue 3 target rows (name, measured, limit, ok)."""
    import jwt as pyjwt

    import turbojwt
    from turbojwt import _native

    now = int(time.time())
    n = 200_000 if quick else 1_000_000
    # Every token distinct (its own jti and subject): the work for tokens never seen before.
    tokens = [turbojwt.encode(claims(i, now), SECRET) for i in range(n)]
    distinct = n
    loop_tokens = tokens[: 5_000 if quick else 20_000]
    kw = dict(algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    cores = len(os.sched_getaffinity(0))
    assert all(turbojwt.Verifier(SECRET, **kw).verify_batch(tokens[:1000]).valid)

    def batch(toks: list, **call) -> Callable[[], object]:
        return on_new_verifier(SECRET, kw, toks, **call)

    # A log's shape: each of `clients` tokens comes back on every request its client makes.
    clients = n // 50
    repeated = [tokens[i % clients] for i in range(n)]

    def pyjwt_loop() -> None:
        for t in loop_tokens:
            pyjwt.decode(t, SECRET, **kw)

    def decode_loop() -> None:
        decode = turbojwt.decode
        for t in loop_tokens:
            decode(t, SECRET, **kw)

    import orjson

    payloads = [b64url_decode(t.split(".")[1]) for t in tokens[: n // 5]]

    def orjson_loads() -> list:
        # The dicts are kept, as a batch result keeps its claims.
        loads = orjson.loads
        return [loads(p) for p in payloads]

    floor_n = 100_000 if quick else 400_000
    contenders = {
        "floor: bare HMAC-SHA256, 1 thread": floor_rate("HS256", SECRET, tokens[0], floor_n, 1),
        f"floor: bare HMAC-SHA256, {cores} threads": floor_rate("HS256", SECRET, tokens[0], floor_n, cores),
        "floor: `orjson.loads` of the payloads, 1 thread": timed(orjson_loads, len(payloads)),
        "PyJWT `jwt.decode` loop": timed(pyjwt_loop, len(loop_tokens)),
        "`turbojwt.decode` loop": timed(decode_loop, len(loop_tokens)),
        "`verify_batch(claims=False)`, 1 thread": timed(batch(tokens, claims=False, threads=1), n),
        f"`verify_batch(claims=False)`, {cores} threads": timed(batch(tokens, claims=False), n),
        f"`verify_batch(claims=True)`, {cores} threads": timed(batch(tokens, claims=True), n),
        f"`verify_batch(claims=False)`, {cores} threads, {clients:,} tokens each seen 50 times": timed(
            batch(repeated, claims=False), n
        ),
        f"`verify_batch(claims=True)`, {cores} threads, {clients:,} tokens each seen 50 times": timed(
            batch(repeated, claims=True), n
        ),
    }
    rates = rounds(contenders, 3 if quick else 5, log)

    # RS256: the signature dominates, so threads should scale.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    pub = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    # Distinct tokens (each signed: a repeat would be judged from its first sight).
    rs_n = 2_000 if quick else 10_000
    log(f"  signing {rs_n:,} RS256 tokens")
    rs_tokens = [turbojwt.encode(claims(i, now), pem, algorithm="RS256") for i in range(rs_n)]

    rs_kw = dict(algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)

    def rs_batch(threads: int) -> Callable[[], object]:
        return on_new_verifier(pub, rs_kw, rs_tokens, claims=False, threads=threads)

    rs_floor_n = 1_000 if quick else 5_000
    rs_rates = rounds(
        {
            "floor: bare RS256 verify, 1 thread": floor_rate("RS256", pub, rs_tokens[0], rs_floor_n, 1),
            "floor: bare RS256 verify, 2 threads": floor_rate("RS256", pub, rs_tokens[0], rs_floor_n, 2),
            "RS256 `verify_batch`, 1 thread": timed(rs_batch(1), rs_n),
            "RS256 `verify_batch`, 2 threads": timed(rs_batch(2), rs_n),
        },
        3 if quick else 5,
        log,
    )

    # The stages of an HS256 token alone, on one thread: the floor under the batch rows.
    log("  timing the stages of HS256 verification")
    stage_tokens = tokens[: 50_000 if quick else 200_000]
    stages = dict(_native.bench.hs256_stages(stage_tokens, SECRET.encode(), 5))

    logs = verify_logs_comparison(quick, log)

    py = statistics.median(rates["PyJWT `jwt.decode` loop"])
    lines = [
        "## Batch verification (issue 3)",
        "",
        f"HS256, 12-claim tokens, audience and issuer checked; {n:,} tokens per batch call ({distinct:,} distinct, "
        f"each call on a new `Verifier`; the \"seen 50 times\" rows have a log's shape, where a client's token comes "
        f"back on each of its requests and repeats are judged from their first sight), loops over "
        f"{len(loop_tokens):,} of them. Median of {len(next(iter(rates.values())))} interleaved rounds "
        f"(min, max). This machine: {cores} cores.",
        "",
        "| contender | tokens/s | vs PyJWT |",
        "| :-- | --: | --: |",
    ]
    for name, values in {**rates, **rs_rates}.items():
        vs = f"{statistics.median(values) / py:.1f}×" if not ("RS256" in name or name.startswith("floor")) else ""
        lines.append(f"| {name} | {fmt_rate(values)} | {vs} |")
    med = {name: statistics.median(values) for name, values in {**rates, **rs_rates}.items()}
    rs1 = med["RS256 `verify_batch`, 1 thread"]
    rs2 = med["RS256 `verify_batch`, 2 threads"]
    rs_floor = med["floor: bare RS256 verify, 2 threads"] / med["floor: bare RS256 verify, 1 thread"]
    hmac1 = med["floor: bare HMAC-SHA256, 1 thread"]
    hmac_all = med[f"floor: bare HMAC-SHA256, {cores} threads"]
    loads = med["floor: `orjson.loads` of the payloads, 1 thread"]
    nofalse = med[f"`verify_batch(claims=False)`, {cores} threads"]
    withc = med[f"`verify_batch(claims=True)`, {cores} threads"]
    lines += [
        "",
        f"Floors: the bare HMAC alone runs at {hmac1 / 1e6:.2f} M/s on one thread and {hmac_all / 1e6:.2f} M/s on "
        f"{cores} ({hmac_all / hmac1:.2f}×); `verify_batch(claims=False)` on {cores} threads reaches "
        f"{nofalse / hmac_all:.0%} of the latter, with base64, JSON, claim checks and the report on top of the "
        f"HMAC. With claims, every dict is built on the one thread that holds the GIL: `orjson.loads` of the same "
        f"payloads, keeping the dicts, runs at {loads / 1e6:.2f} M/s there. The bare RS256 verification scales "
        f"{rs_floor:.2f}× from 1 to 2 threads on this machine, `verify_batch` {rs2 / rs1:.2f}×.",
        "",
        f"Where an HS256 token's time goes: each stage timed alone over {len(stage_tokens):,} of the distinct "
        f"tokens on one thread, without Python (`turbojwt_core::floor`, median of 5 interleaved rounds), beside "
        f"the whole engine on one thread:",
        "",
        "| stage | µs per token |",
        "| :-- | --: |",
        *[f"| {label} | {stages[key]:.3f} |" for key, label in STAGE_LABELS.items()],
        f"| sum of the stages | {sum(stages.values()):.3f} |",
        f"| `verify_batch(claims=False)`, 1 thread (from the table above) | "
        f"{1e6 / med['`verify_batch(claims=False)`, 1 thread']:.3f} |",
        "",
        f"On {cores} cores, splitting, base64 and the HMAC alone allow at most "
        f"{cores / (stages['split'] + stages['base64'] + stages['hmac']):.2f} M tokens/s, and adding the claims scan "
        f"{cores / sum(stages.values()):.2f} M/s, before any claims check, verdict or report. The 2.5 M/s target "
        f"leaves {cores / 2.5 - stages['split'] - stages['base64'] - stages['hmac']:.3f} µs per token for the JSON "
        f"and everything after the HMAC.",
        "",
        logs["text"],
        "",
    ]
    targets = [
        (
            "HS256 `verify_batch(claims=False)`, all cores",
            f"{nofalse / 1e6:.2f} M tokens/s (bare HMAC: {hmac_all / 1e6:.2f})",
            "≥ 2.5 M/s",
            nofalse >= 2.5e6,
        ),
        (
            "HS256 `verify_batch(claims=True)`, all cores",
            f"{withc / 1e6:.2f} M tokens/s (`orjson.loads` alone: {loads / 1e6:.2f})",
            "≥ 1 M/s",
            withc >= 1e6,
        ),
        (
            "RS256 `verify_batch`: 2 threads vs 1",
            f"{rs2 / rs1:.2f}× (bare RS256: {rs_floor:.2f}×)",
            "≥ 1.8×",
            rs2 / rs1 >= 1.8,
        ),
        (
            "`verify-logs` vs the PyJWT script, JSON lines",
            f"{logs['ratio']:.1f}× ({logs['lines']:,} lines)",
            "≥ 20×",
            logs["ratio"] >= 20,
        ),
    ]
    return lines, targets


def verify_logs_comparison(quick: bool, log) -> dict:
    """`turbojwt verify-logs` vs benchmarks/pyjwt_verify_logs.py on the same generated log."""
    lines = 100_000 if quick else 1_000_000
    cache = Path(tempfile.gettempdir()) / f"turbojwt-bench-log-{lines}.jsonl"
    if not cache.exists():
        log(f"  writing a {lines:,}-line log to {cache}")
        subprocess.run([sys.executable, str(HERE / "make_log.py"), str(cache), "--lines", str(lines)], check=True)
    common = [
        str(cache),
        "--token-field",
        "http.authorization",
        "--time-field",
        "time",
        "--secret",
        SECRET,
        "--aud",
        AUDIENCE,
    ]

    def run(cmd: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    turbo_cmd = [sys.executable, "-m", "turbojwt", "verify-logs", *common, "--json", "--no-progress"]
    pyjwt_cmd = [sys.executable, str(HERE / "pyjwt_verify_logs.py"), *common]
    log("  verify-logs vs the PyJWT script (whole-process wall time)")
    turbo = [run(turbo_cmd) for _ in range(3)]
    pyjwt_s = run(pyjwt_cmd)
    best = min(turbo)
    ratio = pyjwt_s / best
    text = (
        f"`turbojwt verify-logs` on a {lines:,}-line JSON-lines log (HS256, request times, 2% forged, 2.5% "
        f"expired at request time, 0.1% malformed lines), summary only: best of 3 runs {best:.2f} s; "
        f"`benchmarks/pyjwt_verify_logs.py` doing the same work: {pyjwt_s:.1f} s, so **{ratio:.1f}×** "
        f"(whole processes, start-up included)."
    )
    return {"text": text, "ratio": ratio, "lines": lines}


def main() -> None:
    from sections import section_main  # benchmarks/sections.py, beside this file

    section_main(section, __doc__)


if __name__ == "__main__":
    main()
