"""The C ABI's tests: the library is built once per session (helpers/capi_build.py)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from helpers import capi_build


@pytest.fixture(scope="session")
def capi_library() -> Path:
    return capi_build.library()


@pytest.fixture(scope="session")
def cffi_binding(capi_library: Path) -> ModuleType:
    """The turbojwt_cffi package, its library loaded from this session's build."""
    package = capi_build.cffi_package()
    return package


@pytest.fixture(scope="session")
def cffi_library(cffi_binding: ModuleType, capi_library: Path) -> Any:
    return cffi_binding.Library(capi_library, capi_build.HEADER)
