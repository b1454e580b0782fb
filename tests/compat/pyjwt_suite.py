"""Runs PyJWT 2.15.1's own test suite against turbojwt.

    python tests/compat/pyjwt_suite.py [--json results.json]

Downloads the published sdist (pip download) into ``.cache/`` at the project root (ignored
by git; nothing of PyJWT's is committed), then runs its ``tests/`` with its own pytest
configuration (warning filters included) and ``jwt`` aliased to turbojwt (``alias_jwt``,
imported before pytest starts). Prints the counts and each test that did not pass.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

VERSION = "2.15.1"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = ROOT / ".cache"


def download(archive: Path) -> None:
    """The published sdist, through pip (and so through the configured index)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"pyjwt=={VERSION}",
            "-d",
            str(archive.parent),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def sdist_dir() -> Path:
    """The unpacked sdist, downloaded on first use."""
    target = CACHE / f"pyjwt-{VERSION}"
    if (target / "tests").is_dir():
        return target
    CACHE.mkdir(exist_ok=True)
    archive = CACHE / f"pyjwt-{VERSION}.tar.gz"
    if not archive.exists():
        download(archive)
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(CACHE)
    return target


def run() -> dict:
    src = sdist_dir()
    report = CACHE / "pyjwt-suite.xml"
    # Absolute entries: the suite runs from the cache directory, where a relative one (the usual
    # PYTHONPATH=python) would miss this checkout and import whichever turbojwt is installed.
    inherited = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *inherited]))
    # Run from the cache directory (not the sdist, whose `jwt/` package would be importable),
    # with the sdist's own pytest configuration.
    launcher = "import alias_jwt, sys, pytest; sys.exit(pytest.main(sys.argv[1:]))"
    subprocess.run(
        [
            sys.executable,
            "-c",
            launcher,
            "-c",
            str(src / "pyproject.toml"),
            "--rootdir",
            str(src),
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            str(src / "tests"),
        ],
        cwd=str(CACHE),
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        status = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                status = "failed"
            elif child.tag == "skipped":
                status = "skipped"
        outcomes[name] = status
    return outcomes


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", help="write {test: outcome} here")
    args = p.parse_args()
    outcomes = run()
    counts = {s: sum(1 for v in outcomes.values() if v == s) for s in ("passed", "failed", "skipped")}
    print(f"PyJWT {VERSION} test suite against turbojwt: {counts} of {len(outcomes)}")
    for name, status in sorted(outcomes.items()):
        if status != "passed":
            print(f"  {status}: {name}")
    if args.json:
        Path(args.json).write_text(json.dumps(outcomes, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
