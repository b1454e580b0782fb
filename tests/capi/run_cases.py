"""Runs the C ABI case file (tests/capi/cases.json) through the cffi binding
(python/turbojwt_cffi) and exits non-zero when a verdict differs. Standard library, cffi and
a built libturbojwt only: tests/capi/test_case_file.py runs it under pypy3.

    pypy3 tests/capi/run_cases.py [CASE_FILE]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "python"), str(ROOT / "tests")]

from helpers.capi_runner import CASE_FILE, run  # noqa: E402
from turbojwt_cffi import Error, Verifier  # noqa: E402


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else CASE_FILE
    count, failures = run(path, Verifier, Error)
    for f in failures[:50]:
        print(f)
    print(f"{count} cases, {len(failures)} differ ({sys.implementation.name} {sys.version.split()[0]})")
    return 1 if failures or not count else 0


if __name__ == "__main__":
    sys.exit(main())
