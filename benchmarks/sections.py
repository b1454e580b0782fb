"""What the section scripts beside this file share (batch.py, token_cache.py,
forward_auth.py, gateway_policy.py, arrow_out.py, dask_cluster.py, nginx_lua.py): each has
a ``section(quick)`` giving its RESULTS.md lines and its target rows (name, measured,
limit, ok); ``compare.py`` puts them into RESULTS.md and each script run alone prints them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

Target = tuple[str, str, str, bool]
Section = tuple[list[str], list[Target]]


def targets_table(targets: Sequence[Target], issue: int | None = None) -> list[str]:
    """The target rows as a Markdown table, headed "### Targets (issue N)" when ``issue``
    is given."""
    lines = [f"### Targets (issue {issue})", ""] if issue is not None else []
    lines += ["| target | measured | limit | result |", "| :-- | :-- | :-- | :-: |"]
    lines += [
        f"| {name} | {measured} | {limit} | {'PASS' if ok else '**MISS**'} |" for name, measured, limit, ok in targets
    ]
    return lines + [""]


def print_section(section: Section) -> None:
    """A section's lines, then its target table."""
    lines, targets = section
    print("\n".join([*lines, "", *targets_table(targets)]))


def section_main(section: Callable[[bool], Section], doc: str | None) -> None:
    """The command line of a section script: ``[--quick]``, then the section printed."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer and shorter rounds")
    print_section(section(ap.parse_args().quick))
