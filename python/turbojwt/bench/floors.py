"""The floor of each decode row: the bare signature check of the same token, natively (aws-lc
in a Rust loop, no Python per iteration) and through pyca/cryptography."""

from __future__ import annotations

from typing import Any, Callable

from .material import Case


def awslc_floor(case: Case) -> Callable[[int], float]:
    """``run(n)`` -> seconds for n verifications in turbojwt's Rust loop."""
    from .. import _native

    key = case.secret if case.secret is not None else case.public_pem
    si, sig, alg = case.signing_input, case.signature, case.alg
    _native.bench.verify_floor(alg, key, si, sig, 1)  # raises if it does not verify
    return lambda n: _native.bench.verify_floor(alg, key, si, sig, n)


def pyca_verify(case: Case) -> Callable[[], Any]:
    """One bare verification with pyca/cryptography (raises if the signature is bad)."""
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    si, sig, alg = case.signing_input, case.signature, case.alg
    digest = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}.get(alg[-3:], hashes.SHA256)
    if alg.startswith("HS"):
        secret = case.secret.encode()

        def run() -> None:
            h = hmac.HMAC(secret, digest())
            h.update(si)
            h.verify(sig)

        return run
    key = case.public_key
    if alg.startswith("RS"):
        return lambda: key.verify(sig, si, padding.PKCS1v15(), digest())
    if alg.startswith("PS"):
        pss = padding.PSS(mgf=padding.MGF1(digest()), salt_length=digest().digest_size)
        return lambda: key.verify(sig, si, pss, digest())
    if alg.startswith("ES"):
        n = len(sig) // 2
        der = encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big"))
        return lambda: key.verify(der, si, ec.ECDSA(digest()))
    return lambda: key.verify(sig, si)
