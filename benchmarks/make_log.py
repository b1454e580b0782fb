"""Writes a JSON-lines request log for the verify-logs benchmark: HS256 tokens with 12
claims, each line with its request time; a few percent expired, forged or malformed.

    python benchmarks/make_log.py OUT.jsonl --lines 1000000
    python benchmarks/make_log.py - --lines 10000000 | turbojwt verify-logs - --token-field ...
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

import turbojwt

SECRET = "benchmark-secret-of-at-least-32-bytes!"
AUDIENCE = "api://default"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--distinct", type=int, default=20_000, help="distinct tokens (signing is the slow part)")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    rng = random.Random(args.seed)
    start = int(time.time()) - 30 * 86400  # a month-old log
    tokens = []
    for i in range(args.distinct):
        iat = start + rng.randrange(0, 29 * 86400)
        claims = {
            "iss": f"https://idp{i % 3}.example.com",
            "sub": f"user-{rng.randrange(5000)}",
            "aud": AUDIENCE,
            "exp": iat + 3600,
            "nbf": iat,
            "iat": iat,
            "jti": f"{i:08x}",
            "name": "Jane Doe",
            "email": "jane@example.com",
            "roles": ["admin", "user"],
            "tenant": "acme",
            "scope": "read write",
        }
        key = SECRET if i % 50 else "forged-secret-of-at-least-32-bytes!!"
        tokens.append((turbojwt.encode(claims, key, headers={"kid": f"key-{i % 2}"}), iat))
    f = sys.stdout if args.out == "-" else open(args.out, "w")  # noqa: SIM115
    with f:
        for n in range(args.lines):
            tok, iat = tokens[n % len(tokens)]
            if n % 997 == 0:
                f.write("{malformed line\n")
                continue
            # mostly requests while the token was live; some after it expired
            at = iat + (rng.randrange(0, 3600) if n % 40 else 7200)
            f.write(
                json.dumps({"time": at, "method": "GET", "path": "/items", "http": {"authorization": "Bearer " + tok}})
                + "\n"
            )


if __name__ == "__main__":
    main()
