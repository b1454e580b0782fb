"""Finding and loading ``libturbojwt`` and its header, once per process."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from cffi import FFI

from ._cdef import cdef_from_header

_HERE = Path(__file__).resolve().parent
# The source tree this package sits in (python/turbojwt_cffi -> the repository root).
_REPO = _HERE.parent.parent

#: The ABI version this binding is written for (``TJ_ABI_VERSION``).
ABI_VERSION = 1


def header_path() -> Path:
    """``$TURBOJWT_HEADER``, a ``turbojwt.h`` beside this package, or the source tree's."""
    env = os.environ.get("TURBOJWT_HEADER")
    if env:
        return Path(env)
    beside = _HERE / "turbojwt.h"
    return beside if beside.is_file() else _REPO / "native" / "capi" / "include" / "turbojwt.h"


def library_path() -> Path:
    """``$TURBOJWT_LIBRARY``, a ``libturbojwt.so`` beside this package, or the source tree's
    release build (``native/target/release``)."""
    env = os.environ.get("TURBOJWT_LIBRARY")
    if env:
        return Path(env)
    beside = _HERE / "libturbojwt.so"
    return beside if beside.is_file() else _REPO / "native" / "target" / "release" / "libturbojwt.so"


class Library:
    """The loaded library: ``ffi`` (the declarations) and ``lib`` (the functions)."""

    def __init__(self, library: Path | None = None, header: Path | None = None) -> None:
        header = header or header_path()
        library = library or library_path()
        self.ffi = FFI()
        self.ffi.cdef(cdef_from_header(header.read_text(encoding="utf-8")))
        if not library.is_file():
            raise OSError(
                f"{library} not found: build it with "
                "`cargo build --release --manifest-path native/Cargo.toml -p turbojwt-capi` "
                "or set TURBOJWT_LIBRARY"
            )
        self.lib: Any = self.ffi.dlopen(str(library))
        found = self.lib.tj_abi_version()
        if found != ABI_VERSION or self.lib.TJ_ABI_VERSION != ABI_VERSION:
            raise OSError(f"{library} implements ABI version {found}; this binding needs {ABI_VERSION}")
        self.path = library

    @property
    def version(self) -> str:
        return str(self.ffi.string(self.lib.tj_version()).decode("ascii"))

    def code_name(self, code: int) -> str:
        return str(self.ffi.string(self.lib.tj_code_name(code)).decode("ascii"))


_loaded: Library | None = None
_lock = threading.Lock()


def load() -> Library:
    """The library, loaded on first use from :func:`library_path` and :func:`header_path`."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = Library()
        return _loaded
