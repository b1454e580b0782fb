"""Adapters for the pure-Python peers: python-jose, joserfc, authlib, jwcrypto."""

from __future__ import annotations

from .adapters import Adapter

ADAPTERS: list[Adapter] = []
