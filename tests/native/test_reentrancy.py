"""Decoding re-entered from a finalizer while another decode is building its claims (the
garbage collector can run at any allocation) must work, not deadlock."""

from __future__ import annotations

import gc

import turbojwt

KEY = "k" * 32


def test_decode_from_a_finalizer_during_decode() -> None:
    token = turbojwt.encode({"sub": "x", "roles": ["a", "b"], "n": {"m": [1, 2]}}, KEY)
    decoded = []

    class DecodesWhenCollected:
        def __del__(self) -> None:
            decoded.append(turbojwt.decode(token, KEY, algorithms=["HS256"]))

    old = gc.get_threshold()
    gc.set_threshold(1, 1, 1)  # collect at nearly every allocation
    try:
        for _ in range(500):
            cycle = DecodesWhenCollected()
            cycle.self = cycle
            del cycle
            assert turbojwt.decode(token, KEY, algorithms=["HS256"])["sub"] == "x"
    finally:
        gc.set_threshold(*old)
        gc.collect()
    assert len(decoded) == 500
    assert all(d["roles"] == ["a", "b"] for d in decoded)
