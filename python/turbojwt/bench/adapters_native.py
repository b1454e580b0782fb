"""Adapters for the native (Rust) peers: oxyjwt, webtoken, clasp-jwt, rsjwt, pyjwt-rs."""

from __future__ import annotations

from .adapters import Adapter

ADAPTERS: list[Adapter] = []
