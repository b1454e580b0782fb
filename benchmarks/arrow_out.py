"""Arrow results (issue 16): what the verdict columns cost on top of the verification.

1. ``Verifier.verify_batch(tokens, claims=False).to_arrow()`` against the same call without
   ``to_arrow()``, on 1M distinct HS256 tokens (200k with ``--quick``), in one process,
   interleaved rounds; the ratio of each round's two times.
2. ``turbojwt verify-logs`` on a 1M-line JSON-lines log (benchmarks/make_log.py; 100k with
   ``--quick``), plain and gzip, with ``--out report.parquet`` against the same command
   without ``--out``: whole processes, interleaved rounds, the ratio of each round's two
   times.

    python benchmarks/arrow_out.py [--quick]      # prints the Markdown section and targets

`compare.py` includes this section in RESULTS.md (``--no-arrow`` leaves it out).
"""

from __future__ import annotations

import gzip
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from batch import AUDIENCE, ISSUER, SECRET, claims  # noqa: E402  (benchmarks/batch.py, beside this file)


def _spread(values: list[float], fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}..{fmt.format(max(values))})"


def _paired(first: Callable[[], object], second: Callable[[], object], rounds: int, log, what: str) -> tuple:
    """Times ``first`` and ``second`` in alternating order, ``rounds`` times each: their
    times and the per-round ratios second / first."""
    a: list[float] = []
    b: list[float] = []
    for r in range(rounds):
        order = (0, 1) if r % 2 == 0 else (1, 0)
        times = [0.0, 0.0]
        for i in order:
            start = time.perf_counter()
            (first if i == 0 else second)()
            times[i] = time.perf_counter() - start
        a.append(times[0])
        b.append(times[1])
        log(f"  {what} round {r + 1}/{rounds}: {times[1] / times[0]:.3f}x")
    return a, b, [y / x for x, y in zip(a, b)]


def to_arrow_rows(quick: bool, log) -> tuple[list[str], tuple[str, str, str, bool]]:
    import pyarrow as pa

    import turbojwt

    n = 200_000 if quick else 1_000_000
    rounds = 5 if quick else 11
    now = int(time.time())
    log(f"  signing {n:,} distinct HS256 tokens")
    tokens = [turbojwt.encode(claims(i, now), SECRET) for i in range(n)]
    verifier = turbojwt.Verifier(SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    table = verifier.verify_batch(tokens, claims=False).to_arrow()
    if not (isinstance(table, pa.Table) and table.num_rows == n and table.column("valid").to_pylist() == [True] * n):
        raise RuntimeError("to_arrow() did not give a valid row per token")

    def plain() -> object:
        return verifier.verify_batch(tokens, claims=False)

    def arrow() -> object:
        return verifier.verify_batch(tokens, claims=False).to_arrow()

    plain()  # warm-up: page in the token list and the engine
    a, b, ratios = _paired(plain, arrow, rounds, log, "to_arrow")
    ratio = statistics.median(ratios)
    lines = [
        f"`Verifier.verify_batch(tokens, claims=False)` on {n:,} distinct HS256 tokens (all cores), with and "
        f"without `.to_arrow()`, {rounds} interleaved rounds; median (min..max):",
        "",
        "| call | seconds | tokens/s (M) |",
        "| --- | --- | --- |",
        f"| `verify_batch(claims=False)` | {_spread(a, '{:.3f}')} | {n / statistics.median(a) / 1e6:.2f} |",
        f"| `verify_batch(claims=False).to_arrow()` | {_spread(b, '{:.3f}')} | {n / statistics.median(b) / 1e6:.2f} |",
        f"| ratio (per round) | {_spread(ratios, '{:.3f}')}× | |",
        "",
    ]
    target = (f"`to_arrow()` on {n:,} HS256 tokens vs `verify_batch` alone", f"{ratio:.3f}×", "≤ 1.15×", ratio <= 1.15)
    return lines, target


def verify_logs_rows(quick: bool, log) -> tuple[list[str], list[tuple[str, str, str, bool]]]:
    lines_n = 100_000 if quick else 1_000_000
    rounds = 3 if quick else 7
    cache = Path(tempfile.gettempdir()) / f"turbojwt-bench-log-{lines_n}.jsonl"
    if not cache.exists():
        log(f"  writing a {lines_n:,}-line log to {cache}")
        subprocess.run([sys.executable, str(HERE / "make_log.py"), str(cache), "--lines", str(lines_n)], check=True)
    rows: list[str] = []
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        gz = Path(tmp) / "log.jsonl.gz"
        with open(cache, "rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst)
        report = Path(tmp) / "report.parquet"
        for name, path in (("plain", cache), ("gzip", gz)):
            cmd = [
                sys.executable,
                "-m",
                "turbojwt",
                "verify-logs",
                str(path),
                "--token-field",
                "http.authorization",
                "--time-field",
                "time",
                "--secret",
                SECRET,
                "--aud",
                AUDIENCE,
                "--json",
                "--no-progress",
            ]

            def run(args: list[str]) -> Callable[[], object]:
                def go() -> object:
                    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                    if done.returncode not in (0, 1):  # 1: some tokens are invalid, as the log has them
                        raise RuntimeError(f"verify-logs failed: {done.stderr.decode(errors='replace')}")
                    return done

                return go

            with_out = run([*cmd, "--out", str(report)])
            with_out()
            import pyarrow.parquet as pq

            if pq.read_metadata(report).num_rows != lines_n:
                raise RuntimeError("the Parquet report does not hold a row per line")
            a, b, ratios = _paired(run(cmd), with_out, rounds, log, f"verify-logs {name}")
            ratio = statistics.median(ratios)
            rows.append(
                f"| {name} | {_spread(a)} | {_spread(b)} | {_spread(ratios, '{:.3f}')}× |",
            )
            targets.append(
                (
                    f"`verify-logs --out report.parquet` vs no `--out`, {lines_n:,} lines, {name}",
                    f"{ratio:.3f}×",
                    "≤ 1.3×",
                    ratio <= 1.3,
                )
            )
    lines = [
        f"`turbojwt verify-logs` on a {lines_n:,}-line JSON-lines log (benchmarks/make_log.py; request times), "
        f"with `--out report.parquet` and without `--out` (summary only), whole processes (start-up included), "
        f"{rounds} interleaved rounds; median seconds (min..max):",
        "",
        "| log | without `--out` | with `--out report.parquet` | ratio (per round) |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
    ]
    return lines, targets


def section(quick: bool, log=lambda s: print(s, file=sys.stderr)) -> tuple[list[str], list[tuple[str, str, str, bool]]]:
    """Markdown lines for RESULTS.md and the issue 16 target rows (name, measured, limit, ok)."""
    log("Arrow results: to_arrow ...")
    arrow_lines, arrow_target = to_arrow_rows(quick, log)
    log("Arrow results: verify-logs --out ...")
    logs_lines, logs_targets = verify_logs_rows(quick, log)
    lines = ["## Arrow results (issue 16)", "", *arrow_lines, *logs_lines]
    return lines, [arrow_target, *logs_targets]


def main() -> None:
    from sections import section_main  # benchmarks/sections.py, beside this file

    section_main(section, __doc__)


if __name__ == "__main__":
    main()
