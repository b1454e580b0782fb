"""Scale-out on Dask (issue 16 §4): a Dask cluster of 2 single-threaded worker processes on
this machine verifying a partitioned Parquet data set through `turbojwt.dask.verify_dataframe`,
against a local `verify_batch` on 2 threads over the same rows, read the same way (pyarrow,
file by file). Distinct HS256 tokens, each judged as of its own request time.

The data set (at least 4M rows, 8+ files; smaller with --quick) is written to a temporary
folder and removed afterwards. The cluster is started once (its start-up is not timed) and
warmed up; then each round times one local run and one cluster run, in alternating order.
The cluster run keeps its verdicts on the workers and brings back one count (as an
aggregation over a data set would); the local run keeps its verdicts in memory and counts
them the same way.

    python benchmarks/dask_cluster.py [--quick] [--rows N] [--parts N] [--rounds N]

`compare.py` includes this section in RESULTS.md (`--no-dask` leaves it out).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

SECRET = "benchmark-secret-of-at-least-32-bytes!"
LIMIT = 1.5  # the cluster's time at most this many times the local run's (issue 16)


def write_dataset(folder: Path, rows: int, parts: int, log) -> tuple[int, int]:
    """`parts` Parquet files of distinct HS256 tokens and request times; (bytes on disk,
    token bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import turbojwt

    now = int(time.time())
    size = -(-rows // parts)
    token_bytes = 0
    for p in range(parts):
        start, stop = p * size, min(rows, (p + 1) * size)
        tokens = [
            turbojwt.encode({"sub": f"user-{i}", "aud": "api", "exp": now + 3600 + i % 600}, SECRET)
            for i in range(start, stop)
        ]
        token_bytes += sum(map(len, tokens))
        times = pa.array([float(now - 60 + i % 60) for i in range(start, stop)], pa.float64())
        pq.write_table(pa.table({"token": tokens, "ts": times}), folder / f"part-{p:03d}.parquet")
        log(f"  data set: part {p + 1}/{parts} written")
    on_disk = sum(f.stat().st_size for f in folder.iterdir())
    return on_disk, token_bytes


def section(
    quick: bool,
    log=lambda s: print(s, file=sys.stderr),
    rows: int | None = None,
    parts: int | None = None,
    rounds: int | None = None,
) -> tuple[list[str], list[tuple[str, str, str, bool]]]:
    """Markdown lines for RESULTS.md and the issue 16 target row (name, measured, limit, ok)."""
    import dask.dataframe as dd
    import distributed
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    import dask
    import turbojwt
    from turbojwt.arrow import verify_table
    from turbojwt.dask import verify_dataframe

    rows = rows or (1_000_000 if quick else 4_000_000)
    parts = parts or 8
    rounds = rounds or (3 if quick else 7)
    verifier = turbojwt.Verifier(SECRET, algorithms=["HS256"], audience="api")
    folder = Path(tempfile.mkdtemp(prefix="turbojwt-dask-bench-"))
    try:
        on_disk, token_bytes = write_dataset(folder, rows, parts, log)
        files = sorted(folder.iterdir())

        def local() -> int:
            valid = 0
            for f in files:
                table = pq.read_table(f)
                result = verifier.verify_batch(table.column("token"), at=table.column("ts"), claims=False, threads=2)
                valid += pc.sum(result.to_arrow().column("valid")).as_py()
            return valid

        def kernel() -> int:
            valid = 0
            for f in files:
                out = verify_table(pq.read_table(f), verifier, "token", "ts", threads=2)
                valid += pc.sum(out.column("valid")).as_py()
            return valid

        with (
            dask.config.set({"temporary-directory": str(folder)}),
            distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                local_directory=str(folder),
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            # (numpy's OpenBLAS pool would spin on the cores the verification uses)
            client.run(lambda: os.environ.setdefault("OPENBLAS_NUM_THREADS", "1"))

            def on_cluster() -> int:
                ddf = dd.read_parquet([str(f) for f in files])
                out = verify_dataframe(ddf, verifier, time_column="ts")
                return int(out["valid"].sum().compute())

            log("  warm-up (local, kernel, cluster)")
            expected = local()
            assert on_cluster() == kernel() == expected == rows, (expected, rows)
            times: dict[str, list[float]] = {"local": [], "kernel": [], "cluster": []}
            for r in range(rounds):
                order = (("local", local), ("kernel", kernel), ("cluster", on_cluster))
                for name, fn in order if r % 2 == 0 else order[::-1]:
                    start = time.perf_counter()
                    assert fn() == rows
                    times[name].append(time.perf_counter() - start)
                last = {name: f"{v[-1]:.2f} s" for name, v in times.items()}
                log(f"  dask round {r + 1}/{rounds}: " + ", ".join(f"{k} {v}" for k, v in last.items()))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    ratios = [c / loc for c, loc in zip(times["cluster"], times["local"])]
    kernel_ratios = [c / k for c, k in zip(times["cluster"], times["kernel"])]
    ratio, kernel_ratio = statistics.median(ratios), statistics.median(kernel_ratios)
    median = {name: statistics.median(v) for name, v in times.items()}

    def spread(v: list[float]) -> str:
        return f"{statistics.median(v):.2f} s ({min(v):.2f}..{max(v):.2f})"

    def row(label: str, name: str) -> str:
        return f"| {label} | {spread(times[name])} | {rows / median[name]:,.0f} | {rows / median[name] / 2:,.0f} |"

    lines = [
        "## Scale-out on Dask (issue 16)",
        "",
        f"{rows:,} distinct HS256 tokens with request times in {parts} Parquet files "
        f"({on_disk / rows:.0f} bytes per row on disk, {token_bytes / rows:.0f} bytes of token), each verified as "
        "of its row's time, file by file, read with pyarrow. *verify_batch*: "
        "`Verifier.verify_batch(tokens, at=times, claims=False, threads=2).to_arrow()` (its per-row times "
        "pass through Python); *kernel*: `turbojwt.arrow.verify_table(table, ..., threads=2)` (times read "
        "natively); *Dask*: a `LocalCluster` of 2 single-threaded worker processes, `dd.read_parquet` + "
        "`turbojwt.dask.verify_dataframe` (one task per file, the kernel on one thread), the count of valid "
        f"rows brought back. Median of {rounds} interleaved rounds (min..max); ratios are medians of per-round "
        "ratios.",
        "",
        "| run | time | rows/s | rows/s per core (worker) |",
        "| --- | --- | --- | --- |",
        row("local `verify_batch`, 2 threads", "local"),
        row("local kernel `verify_table`, 2 threads", "kernel"),
        row("Dask, 2 workers × 1 thread", "cluster"),
        "",
        f"Dask ÷ local verify_batch: {ratio:.2f}× (per-round {min(ratios):.2f}..{max(ratios):.2f}); "
        f"Dask ÷ local kernel: {kernel_ratio:.2f}× ({min(kernel_ratios):.2f}..{max(kernel_ratios):.2f}).",
        "",
    ]
    targets = [
        ("Dask (2 × 1 thread) vs local verify_batch (2 threads)", f"{ratio:.2f}×", f"≤ {LIMIT}×", ratio <= LIMIT),
        (
            "Dask (2 × 1 thread) vs local kernel (2 threads)",
            f"{kernel_ratio:.2f}×",
            f"≤ {LIMIT}×",
            kernel_ratio <= LIMIT,
        ),
    ]
    return lines, targets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1M rows, 3 rounds")
    ap.add_argument("--rows", type=int, help="rows in the data set (default 4M; 1M with --quick)")
    ap.add_argument("--parts", type=int, help="Parquet files (default 8)")
    ap.add_argument("--rounds", type=int, help="timed rounds (default 7; 3 with --quick)")
    args = ap.parse_args(argv)
    from sections import print_section  # benchmarks/sections.py, beside this file

    print_section(section(args.quick, rows=args.rows, parts=args.parts, rounds=args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
