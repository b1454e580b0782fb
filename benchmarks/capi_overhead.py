"""Per-call cost of the cffi binding of the C ABI (python/turbojwt_cffi) against the PyO3
`turbojwt.Verifier.decode`, same token, same key and policy, interleaved rounds (issue 17
§5). The Rust side (the ABI against the core's own verify, no Python) is the ignored test
`abi_overhead` in native/capi/src/tests.rs.

    PYTHONPATH=python python benchmarks/capi_overhead.py      # needs the release libturbojwt

Prints ns per call (median of the rounds) for HS256 and RS256 tokens, without a cache.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import turbojwt
import turbojwt_cffi

CLAIMS = {"sub": "user-1", "aud": "api", "iss": "https://idp", "exp": 4_000_000_000, "scope": "read write"}


def per_call(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - start) / n


def main(rounds: int = 7, n: int = 20_000) -> None:
    private = rsa.generate_private_key(65537, 2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    secret = b"s" * 32
    cases = {
        "HS256": (secret, turbojwt.encode(CLAIMS, secret, "HS256")),
        "RS256": (public_pem, turbojwt.encode(CLAIMS, private, "RS256")),
    }
    print("| token | PyO3 Verifier.decode (ns) | cffi Verifier.decode (ns) | cffi - PyO3 (ns) |")
    print("| --- | --: | --: | --: |")
    for alg, (key, token) in cases.items():
        pyo3 = turbojwt.Verifier(key, algorithms=[alg], audience="api", issuer="https://idp")
        cffi = turbojwt_cffi.Verifier(key, algorithms=[alg], audience="api", issuer="https://idp")
        assert pyo3.decode(token) == cffi.decode(token)
        count = n if alg == "HS256" else n // 10
        a, b = [], []
        for _ in range(rounds):
            a.append(per_call(lambda v=pyo3, t=token: v.decode(t), count))
            b.append(per_call(lambda v=cffi, t=token: v.decode(t), count))
        pa, pb = statistics.median(a), statistics.median(b)
        print(f"| {alg} | {pa:.0f} | {pb:.0f} | {pb - pa:+.0f} |")


if __name__ == "__main__":
    main()
