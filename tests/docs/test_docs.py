"""The documentation site builds with `mkdocs build --strict`: no broken link, missing anchor,
page left out of the nav, or docstring that mkdocstrings cannot render. mkdocs, the material
theme and mkdocstrings come with the test extra (pip install '.[test]'), so a missing one is a
failure, not a skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # runs mkdocs in a subprocess

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    env = dict(os.environ)
    # mkdocstrings reads the package from the repository's python/ directory.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "python"), env.get("PYTHONPATH")]))
    env["NO_MKDOCS_2_WARNING"] = "1"  # material's end-of-life banner
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    assert (tmp_path / "site" / "index.html").is_file()
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    # The reference was rendered from the docstrings, not left empty.
    for name in ("turbojwt.verifier.Verifier", "turbojwt.batch.verify_batch", "turbojwt.jwks.JWKSClient"):
        assert f'id="{name}"' in api, name
