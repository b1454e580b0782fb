"""``turbojwt bench``: turbojwt against the Python JWT libraries installed here, with the
bare signature floors; a Markdown table on stdout, optionally JSON and a chart."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "bench",
        help="benchmark decode/encode against PyJWT and the other JWT libraries installed",
        description=(
            "Time decode (signature, aud, iss and exp checked) and encode for each algorithm with every JWT "
            "library installed, after checking each returns the right claims and refuses forged tokens "
            "(a library that fails is reported, not timed). Rounds are interleaved after a warm-up; medians "
            "and spreads are reported and a noisy run is flagged. Install the peers with "
            "pip install 'turbojwt[bench]'."
        ),
    )
    p.add_argument("--quick", action="store_true", help="a short run (about a minute with every library)")
    p.add_argument("--algs", help="comma-separated algorithms (default: all nine)")
    p.add_argument("--libs", help="comma-separated libraries (default: every one with an adapter)")
    p.add_argument("--ops", default="decode,encode", help="decode, encode or both (default: %(default)s)")
    p.add_argument("--rounds", type=int, help="recorded rounds (default: 7 quick, 31 full)")
    p.add_argument("--seed", type=int, default=20261128, help="seed of the per-round order (default: %(default)s)")
    p.add_argument("--json", metavar="FILE", help="write every row as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="write the decode chart (needs matplotlib)")
    p.add_argument("--out", metavar="FILE.md", help="also write the Markdown to a file")
    p.set_defaults(func=run)
    return p


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def run(args: argparse.Namespace) -> int:
    from ..bench import report
    from ..bench.run import benchmark

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    ops = _split(args.ops) or ["decode", "encode"]
    if any(op not in ("decode", "encode") for op in ops):
        print("turbojwt bench: --ops takes decode and/or encode", file=sys.stderr)
        return 2
    try:
        result = benchmark(
            mode="quick" if args.quick else "full",
            algorithms=_split(args.algs),
            libs=_split(args.libs),
            ops=ops,
            seed=args.seed,
            rounds=args.rounds,
            log=log,
        )
    except ValueError as e:
        print(f"turbojwt bench: {e}", file=sys.stderr)
        return 2
    text = report.markdown(result, report.command_line())
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    if args.json:
        report.write_json(result, args.json)
    if args.plot:
        from ..bench.plot import plot

        plot(result, args.plot)
    for name, why in result.skipped.items():
        log(f"note: {name} skipped: {why}")
    failed = [r for r in result.rows if r.status == "failed"]
    for r in failed:
        log(f"FAILED correctness check: {r.group} / {r.label} ({r.key_form or '-'}): {r.reason}")
    return 1 if failed else 0
