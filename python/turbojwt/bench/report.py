"""The benchmark as Markdown (tables per algorithm and operation) and as JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from datetime import datetime, timezone
from typing import Any

from .harness import Row
from .run import NOISY_SPREAD, Result


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def paired(a: Row, b: Row | None) -> float | None:
    """Median over rounds of b/a (both timed in the same round)."""
    if b is None or not a.samples or not b.samples:
        return None
    return statistics.median(y / x for x, y in zip(a.samples, b.samples))


def fmt_us(us: float) -> str:
    if us >= 1000:
        return f"{us:,.0f}"
    if us >= 100:
        return f"{us:.1f}"
    if us >= 10:
        return f"{us:.2f}"
    return f"{us:.3f}"


def row_dict(result: Result, r: Row) -> dict[str, Any]:
    d: dict[str, Any] = {
        "group": r.group,
        "library": r.lib,
        "label": r.label,
        "key_form": r.key_form or None,
        "status": r.status,
        "reason": r.reason or None,
        "floor": r.is_floor,
    }
    if r.samples:
        base, floor = result.baseline(r.group), result.floor(r.group)
        vs_floor = paired(r, floor)
        d.update(
            median_us=r.median,
            p25_us=r.quantile(0.25),
            p75_us=r.quantile(0.75),
            min_us=min(r.samples),
            max_us=max(r.samples),
            rounds=len(r.samples),
            ops_per_s=1e6 / r.median,
            spread=r.spread,
            speedup_vs_pyjwt=paired(r, base),
            x_floor=1 / vs_floor if vs_floor else None,
        )
    return d


def to_json(result: Result) -> dict[str, Any]:
    return {
        "machine": machine(),
        "mode": result.mode,
        "algorithms": result.algorithms,
        "versions": result.versions,
        "skipped_libraries": result.skipped,
        "noisy": bool(result.noisy_rows()),
        "rows": [row_dict(result, r) for r in result.rows],
    }


def write_json(result: Result, path: str) -> None:
    with open(path, "w") as f:
        json.dump(to_json(result), f, indent=2)


def markdown(result: Result, command: str) -> str:
    m = machine()
    out = [
        "# turbojwt benchmark",
        "",
        f"- **Command:** `{command}` (mode: {result.mode})",
        f"- **Machine:** {m['cpu']}, {m['usable_cores']} usable of {m['cores']} cores; {m['os']}; {m['python']}",
        f"- **Date:** {m['date']}",
        "- **Libraries:** " + ", ".join(f"{k} {v}" for k, v in result.versions.items()),
    ]
    for name, why in result.skipped.items():
        out.append(f"- **Skipped {name}:** {why}")
    noisy = result.noisy_rows()
    if noisy:
        out.append(
            f"- **Noisy run:** {len(noisy)} rows have an interquartile range over {NOISY_SPREAD:.0%} of "
            "their median; compare ratios, and re-run on a quieter machine for absolute times."
        )
    out += [
        "",
        "Median µs per call over interleaved rounds (min … max); speed-up and × floor are medians of "
        "per-round ratios. Decode verifies the signature, `aud`, `iss` and `exp` of a 12-claim token; "
        "key *pem* = the key (or HMAC secret) as a string on every call, *prepared* = the library's key "
        "object made once.",
        "",
    ]
    for group in result.groups:
        rows = result.group_rows(group)
        out += [
            f"## {group}",
            "",
            "| library | key | µs/op | min … max | ops/s | vs PyJWT | × floor |",
            "| :-- | :-- | --: | --: | --: | --: | --: |",
        ]
        timed = sorted((r for r in rows if r.samples), key=lambda r: r.median)
        for r in timed:
            d = row_dict(result, r)
            name = f"**{r.label}**" if r.lib.startswith("turbojwt") else r.label
            vs = f"{d['speedup_vs_pyjwt']:.1f}×" if d.get("speedup_vs_pyjwt") else ""
            xf = f"{d['x_floor']:.2f}" if d.get("x_floor") else ""
            out.append(
                f"| {name} | {r.key_form} | {fmt_us(r.median)} | {fmt_us(min(r.samples))} … "
                f"{fmt_us(max(r.samples))} | {1e6 / r.median:,.0f} | {vs} | {xf} |"
            )
        for r in rows:
            if r.status == "failed":
                out.append(
                    f"| {r.label} | {r.key_form} | **failed the correctness check, not timed:** {r.reason} | | | | |"
                )
        skipped = [r for r in rows if r.status == "skipped"]
        if skipped:
            out += ["", "Not run: " + "; ".join(f"{r.label} ({r.key_form or '-'}): {r.reason}" for r in skipped)]
        out.append("")
    return "\n".join(out)


def command_line() -> str:
    return " ".join(["turbojwt", *sys.argv[1:]]) if sys.argv else "turbojwt bench"
