"""The C library (libturbojwt, native/capi) for the tests that call it: built with cargo
(release, in native/target) once per test session, so that a fresh clone runs them; and the
cffi binding (python/turbojwt_cffi) loaded from the source tree over that build."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from helpers.debian import apt_install

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "native"
RELEASE = NATIVE / "target" / "release"
HEADER = NATIVE / "capi" / "include" / "turbojwt.h"


@functools.cache
def library() -> Path:
    """``libturbojwt.so``, built (or brought up to date: cargo does nothing when it is) once
    per session."""
    cargo = shutil.which("cargo")
    if cargo is None:
        raise RuntimeError("cargo is needed to build libturbojwt (native/capi)")
    subprocess.run(
        [cargo, "build", "--release", "--quiet", "--manifest-path", str(NATIVE / "Cargo.toml"), "-p", "turbojwt-capi"],
        check=True,
    )
    return RELEASE / "libturbojwt.so"


@functools.cache
def cffi_package() -> ModuleType:
    """``turbojwt_cffi`` from python/, imported by its path: putting python/ on sys.path would
    let the source tree's ``turbojwt`` (without its built extension) shadow the installed one."""
    name = "turbojwt_cffi"
    if name in sys.modules:
        return sys.modules[name]
    package_dir = ROOT / "python" / name
    spec = importlib.util.spec_from_file_location(
        name, package_dir / "__init__.py", submodule_search_locations=[str(package_dir)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def debian_tool(command: str, package: str) -> str | None:
    """The path of ``command``, installing Debian's ``package`` with apt-get when it is missing
    (as root, or with passwordless sudo); None when it cannot be had."""
    found = shutil.which(command)
    if found:
        return found
    if apt_install(package):
        return shutil.which(command)
    return None


def require_debian_tool(command: str, package: str) -> str:
    """:func:`debian_tool`, or a failure under CI and a skip elsewhere when it cannot be had."""
    import pytest

    found = debian_tool(command, package)
    if found is None:
        if os.environ.get("CI"):
            raise RuntimeError(f"{command} is missing and could not be installed with apt-get ({package})")
        pytest.skip(f"{command} is not installed and cannot be installed here (Debian package {package})")
    return found
