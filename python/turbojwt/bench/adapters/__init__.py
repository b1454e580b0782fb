"""Adapters: one per JWT library the benchmark compares, each building a decoder and an
encoder for a case (a key, an algorithm, a token). ``all_adapters()`` is the registry:
turbojwt's own and PyJWT (``BUILTIN``), the pure-Python peers (``python_libs``) and the
native ones (``native_libs``), by name. An adapter whose library is not installed, or that
cannot do a case, says so (``Unsupported``) instead of failing."""

from __future__ import annotations

from . import native_libs, python_libs
from .base import (
    KEY_FORMS,
    Adapter,
    Unsupported,
    _pyjwt_style_decoder,
    _pyjwt_style_encoder,
    _turbojwt_verifier_decoder,
    signing_key,
    verify_key,
)

__all__ = ["BUILTIN", "KEY_FORMS", "Adapter", "Unsupported", "all_adapters", "signing_key", "verify_key"]

BUILTIN = [
    Adapter("turbojwt", "turbojwt.decode", "turbojwt", "turbojwt", True, _pyjwt_style_decoder, _pyjwt_style_encoder),
    Adapter("turbojwt-verifier", "turbojwt.Verifier", "turbojwt", "turbojwt", True, _turbojwt_verifier_decoder),
    Adapter("pyjwt", "PyJWT", "jwt", "PyJWT", False, _pyjwt_style_decoder, _pyjwt_style_encoder),
]


def all_adapters() -> dict[str, Adapter]:
    """Every adapter by name: the builtin ones, then the Python and native peers."""
    out: dict[str, Adapter] = {}
    for adapter in [*BUILTIN, *python_libs.ADAPTERS, *native_libs.ADAPTERS]:
        out[adapter.name] = adapter
    return out
