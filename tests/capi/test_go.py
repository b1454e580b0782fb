"""The Go package over the C ABI (go/turbojwt): ``go vet`` and ``go test`` with Debian's Go
(standard library only), linked against this session's libturbojwt build. Its tests run the
case file tests/capi/cases.json (the PyO3 path's verdicts) and share one verifier among
goroutines."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from helpers import capi_build

pytestmark = pytest.mark.e2e  # `go` runs as a process, and compiles

GO_PACKAGE = capi_build.ROOT / "go" / "turbojwt"


def _go_env(library: Path) -> dict[str, str]:
    target = capi_build.NATIVE / "target"
    return {
        **os.environ,
        # kept between sessions beside the Rust build (git-ignored); no network
        "GOCACHE": str(target / "go-build"),
        "GOPATH": str(target / "go-path"),
        "GOPROXY": "off",
        "GOFLAGS": "",
        "GO111MODULE": "on",
        "CGO_ENABLED": "1",
        "CGO_CFLAGS": f"-I{capi_build.HEADER.parent}",
        "CGO_LDFLAGS": f"-L{library.parent} -Wl,-rpath,{library.parent}",
    }


def test_go_package(capi_library: Path) -> None:
    go = capi_build.require_debian_tool("go", "golang-go")
    gofmt = Path(go).resolve().parent / "gofmt"
    unformatted = subprocess.run(
        [str(gofmt) if gofmt.exists() else "gofmt", "-l", "."], cwd=GO_PACKAGE, capture_output=True, text=True
    )
    assert unformatted.returncode == 0 and not unformatted.stdout.strip(), unformatted.stdout + unformatted.stderr
    env = _go_env(capi_library)
    for args in (["vet", "./..."], ["test", "-count=1", "-v", "./..."]):
        proc = subprocess.run([go, *args], cwd=GO_PACKAGE, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"go {' '.join(args)}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert "--- PASS: TestSameVerdictsAsThePythonPath" in proc.stdout, proc.stdout[-2000:]
    assert "--- PASS: TestSharedByGoroutines" in proc.stdout
