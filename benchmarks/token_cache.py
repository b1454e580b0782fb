"""Verified-token cache of ``Verifier(cache=N)`` (issue 6), side by side in one process:
a hit, a miss (a token seen for the first time, with the cache on) and a plain
``Verifier.decode`` without cache, for HS256 and RS256 12-claim tokens; interleaved rounds,
median (min..max) per call, loop overhead included.

    python benchmarks/token_cache.py [--quick]      # prints the Markdown section

`compare.py` includes this section in RESULTS.md.
"""

from __future__ import annotations

import statistics
import sys
import time
import timeit

from cryptography.hazmat.primitives.asymmetric import rsa

import turbojwt

HIT_LOOP = 20_000


def claims(i: int, now: int) -> dict:
    return {
        "iss": "https://idp.example.com",
        "sub": f"user-{i}",
        "aud": "api://default",
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


def section(quick: bool, log=lambda s: print(s, file=sys.stderr)) -> tuple[list[str], list[tuple[str, str, str, bool]]]:
    """Markdown lines for RESULTS.md and the issue 6 target rows (name, measured, limit, ok)."""
    rounds = 3 if quick else 9
    now = int(time.time())
    rsa_key = rsa.generate_private_key(65537, 2048)
    lines = [
        "## Verified-token cache (issue 6)",
        "",
        f"`Verifier(cache=N)` on 12-claim tokens, audience and issuer checked. Median µs per call over {rounds} "
        "interleaved rounds (min..max), Python loop overhead included. *Miss* = a token seen for the first "
        "time with the cache on (tokens are admitted on their second verification); *plain* = "
        "`Verifier.decode` without a cache.",
        "",
        "| alg | hit | miss (cache on) | plain decode | miss vs plain |",
        "| --- | --- | --- | --- | --- |",
    ]
    targets = []
    for alg, sign_key, verify_key, n in (
        ("HS256", "s" * 32, "s" * 32, 4000),
        ("RS256", rsa_key, rsa_key.public_key(), 300),
    ):
        kw = dict(algorithms=[alg], audience="api://default", issuer="https://idp.example.com")
        tokens = [turbojwt.encode(claims(i, now), sign_key, algorithm=alg) for i in range(n)]
        plain = turbojwt.Verifier(verify_key, **kw)
        cached = turbojwt.Verifier(verify_key, **kw, cache=2 * n)
        hot = tokens[0]
        cached.decode(hot), cached.decode(hot)
        decode = cached.decode

        def hits() -> None:
            for _ in range(HIT_LOOP):
                decode(hot)

        def misses() -> None:
            cached.cache_clear()
            for t in tokens:
                decode(t)

        def plains() -> None:
            for t in tokens:
                plain.decode(t)

        out: dict[str, list[float]] = {"hit": [], "miss": [], "plain": []}
        for r in range(rounds):
            for name, fn in (("hit", hits), ("miss", misses), ("plain", plains)):
                count = HIT_LOOP if name == "hit" else n
                out[name].append(min(timeit.repeat(fn, number=1, repeat=3)) / count * 1e6)
            log(f"  token cache {alg} round {r + 1}/{rounds}")
        overhead = (statistics.median([m / p for m, p in zip(out["miss"], out["plain"])]) - 1) * 100

        def fmt(v: list[float]) -> str:
            return f"{statistics.median(v):.3f} ({min(v):.3f}..{max(v):.3f})"

        lines.append(f"| {alg} | {fmt(out['hit'])} | {fmt(out['miss'])} | {fmt(out['plain'])} | {overhead:+.1f}% |")
        hit = statistics.median(out["hit"])
        targets.append((f"{alg} cache hit", f"{hit:.3f} µs", "≤ 0.5 µs", hit <= 0.5))
        targets.append((f"{alg} cache miss vs plain decode", f"{overhead:+.1f}%", "≤ +5%", overhead <= 5))
    lines.append("")
    return lines, targets


def main() -> None:
    from sections import section_main  # benchmarks/sections.py, beside this file

    section_main(section, __doc__)


if __name__ == "__main__":
    main()
