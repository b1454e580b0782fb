"""Checks adapters against every algorithm: ``python -m turbojwt.bench.selfcheck [NAME ...]``.

For each adapter, algorithm and key form it prints ok (the claims come back equal and
every forged token is refused), the Unsupported reason, or the failure.
"""

from __future__ import annotations

import sys
from typing import Callable

from .adapters import KEY_FORMS, all_adapters
from .harness import Row, check_decoder, check_encoder
from .material import ALGORITHMS, make_cases
from .run import gate_row


def check(make: Callable[[], Callable], gate: Callable[[Callable], str | None]) -> tuple[bool, str]:
    """(failed, what to print) for one adapter call, through the harness's own gate."""
    row = Row("", "", "", "")
    gate_row(row, make, gate)
    if row.status == "skipped":
        return False, f"unsupported: {row.reason}"
    return row.status == "failed", f"FAILED: {row.reason}" if row.status == "failed" else "ok"


def main(names: list[str]) -> int:
    adapters = all_adapters()
    cases = make_cases(ALGORITHMS)
    bad = 0
    for name in names or list(adapters):
        adapter = adapters[name]
        try:
            adapter.load()
        except ImportError as e:
            print(f"{name}: not installed ({e})")
            continue
        for alg, case in cases.items():
            for form in KEY_FORMS:
                failed, text = check(lambda: adapter.decoder(case, form), lambda fn: check_decoder(fn, case))
                bad += failed
                print(f"{name:18} {alg:6} decode/{form:8} {text}")
            failed, text = check(lambda: adapter.encoder(case), lambda fn: check_encoder(fn, case))
            bad += failed
            print(f"{name:18} {alg:6} encode          {text}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
