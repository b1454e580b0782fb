"""The chart: decode time per library, horizontal bars on a log scale, one block per
algorithm, turbojwt highlighted and the verify floors shown for scale."""

from __future__ import annotations

from typing import Any

from .run import Result

TURBO = "#e8590c"
PEER = "#868e96"
NATIVE_PEER = "#495057"
FLOOR = "#74c0fc"


def plot(result: Result, path: str, operation: str = "decode") -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    blocks = []
    for group in result.groups:
        if not group.endswith(operation):
            continue
        # One bar per library: its faster key form.
        best: dict[str, Any] = {}
        for r in result.group_rows(group):
            if r.samples and (r.lib not in best or r.median < best[r.lib].median):
                best[r.lib] = r
        rows = sorted(best.values(), key=lambda r: r.median, reverse=True)
        if rows:
            blocks.append((group, rows))
    if not blocks:
        raise ValueError(f"no timed {operation} rows to plot")
    labels, values, colors, ticks = [], [], [], []
    y = 0
    positions = []
    for group, rows in blocks:
        ticks.append((y + (len(rows) - 1) / 2, group.split()[0]))
        for r in rows:
            labels.append(r.label + (f" ({r.key_form})" if r.key_form else ""))
            values.append(r.median)
            colors.append(
                TURBO
                if r.lib.startswith("turbojwt")
                else FLOOR
                if r.is_floor
                else NATIVE_PEER
                if r.lib in ("oxyjwt", "webtoken", "clasp-jwt", "rsjwt", "pyjwt-rs")
                else PEER
            )
            positions.append(y)
            y += 1
        y += 1  # a gap between algorithms
    fig, ax = plt.subplots(figsize=(10, 0.28 * y + 1.5))
    ax.barh(positions, values, color=colors, height=0.8)
    ax.set_yticks(positions, labels, fontsize=7)
    ax.set_ylim(y - 0.5, -0.7)  # top to bottom, no margins beyond the bars
    ax.set_xscale("log")
    ax.set_xlabel(f"µs per {operation} (log scale; shorter is faster)")
    for value, pos in zip(values, positions):
        ax.text(value * 1.05, pos, f"{value:,.0f}" if value >= 100 else f"{value:.3g}", va="center", fontsize=6)
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    right.set_yticks([t for t, _ in ticks], [name for _, name in ticks], fontsize=10, fontweight="bold")
    ax.set_title(
        f"JWT {operation}: turbojwt (orange) vs Python JWT libraries (grey) and the bare signature floors (blue)",
        fontsize=9,
    )
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
