"""turbojwt's core through its C ABI (``libturbojwt``, native/capi) with cffi: a second Python
path to the same decode sequence, for interpreters that cannot load the PyO3 module (PyPy).

A package of its own, beside ``turbojwt``: importing ``turbojwt`` loads the PyO3 extension
``turbojwt._native``, which PyPy cannot, so this one imports nothing from it. It needs
``cffi`` (PyPy ships it) and a built ``libturbojwt.so``
(``cargo build --release --manifest-path native/Cargo.toml -p turbojwt-capi``); see
docs/c-abi.md.

>>> v = Verifier(public_pem, algorithms=["RS256"], audience="api")
>>> claims = v.decode(token)
"""

from __future__ import annotations

from ._cdef import cdef_from_header
from ._library import Library, load
from .verifier import Error, Verifier

__all__ = ["Error", "Library", "Verifier", "cdef_from_header", "load"]
