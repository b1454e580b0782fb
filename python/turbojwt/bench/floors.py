"""The floor of each decode row: the bare signature check of the same token, natively (aws-lc
in a Rust loop, no Python per iteration) and through pyca/cryptography, as a callable
(:func:`pyca_verify`, for ``turbojwt bench``) or as one statement for a loop compiled
around it (:class:`BareVerify`, for ``benchmarks/compare.py``)."""

from __future__ import annotations

from typing import Any, Callable

from .material import Case


def awslc_floor(case: Case) -> Callable[[int], float]:
    """``run(n)`` -> seconds for n verifications in turbojwt's Rust loop."""
    from .. import _native

    key = case.secret if case.secret is not None else case.public_pem
    assert key is not None  # (a case has its secret or its public PEM)
    si, sig, alg = case.signing_input, case.signature, case.alg
    _native.bench.verify_floor(alg, key, si, sig, 1)  # raises if it does not verify
    return lambda n: _native.bench.verify_floor(alg, key, si, sig, n)


def pyca_verify(case: Case) -> Callable[[], Any]:
    """One bare verification with pyca/cryptography (raises if the signature is bad)."""
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    si, sig, alg = case.signing_input, case.signature, case.alg
    digest: Any = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}.get(alg[-3:], hashes.SHA256)
    if alg.startswith("HS"):
        assert case.secret is not None  # (an HMAC case has its secret)
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


def check_awslc_floor(case: Case, floor: Callable[..., float] | None = None) -> tuple[list[str], list[str]]:
    """(problems, notes) for the Rust-loop floor (``floor``, default
    ``turbojwt._native.bench.verify_floor``) on this case: a problem when it fails on the
    valid signature or returns no time; a note when it does not refuse the flipped one
    (then it cannot be confirmed that it really verifies)."""
    if floor is None:
        from .. import _native

        floor = _native.bench.verify_floor
    key: Any = case.secret if case.secret is not None else case.public_pem
    try:
        t = floor(case.alg, key, case.signing_input, case.signature, 3)
    except Exception as exc:
        return [f"floor failed on the valid signature: {type(exc).__name__}: {exc}"], []
    if not isinstance(t, (int, float)) or t < 0:
        return [f"floor returned {t!r}, expected seconds >= 0"], []
    try:
        floor(case.alg, key, case.signing_input, case.forged_signature, 1)
    except Exception:
        return [], []
    return [], [
        f"{case.alg}: bench.verify_floor did not raise on a forged signature; cannot confirm that it really verifies"
    ]


class BareVerify:
    """pyca/cryptography's verification of the token's signature, as one Python statement.

    ``stmt`` is the statement a timed loop runs (``compile``d inline, so no call per
    iteration is timed besides the verification itself); the names it uses are the keys
    of ``namespace``, the key, signature and padding made once. :meth:`check` returns the
    problems (empty when the signature verifies and the flipped one does not).
    """

    def __init__(self, case: Case) -> None:
        from cryptography.hazmat.primitives import hashes, hmac
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        alg, sig, forged = case.alg, case.signature, case.forged_signature
        digest: Any = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}.get(alg[-3:], hashes.SHA256)
        ns: dict[str, Any] = {"_si": case.signing_input}
        if alg.startswith("HS"):
            ns.update(_HMAC=hmac.HMAC, _DIGEST=digest, _key=(case.secret or "").encode())
            self.stmt = "_h = _HMAC(_key, _DIGEST()); _h.update(_si); _h.verify(_sig)"
        elif alg.startswith(("RS", "PS")):
            pad = (
                padding.PKCS1v15()
                if alg.startswith("RS")
                else padding.PSS(mgf=padding.MGF1(digest()), salt_length=digest().digest_size)
            )
            ns.update(_pub=case.public_key, _pad=pad, _hash=digest())
            self.stmt = "_pub.verify(_sig, _si, _pad, _hash)"
        elif alg.startswith("ES"):
            # JWS carries r||s; pyca wants DER. Converted once, outside the loop.
            def der(raw: bytes) -> bytes:
                n = len(raw) // 2
                return encode_dss_signature(int.from_bytes(raw[:n], "big"), int.from_bytes(raw[n:], "big"))

            sig, forged = der(sig), der(forged)
            ns.update(_pub=case.public_key, _ecdsa=ec.ECDSA(digest()))
            self.stmt = "_pub.verify(_sig, _si, _ecdsa)"
        else:  # EdDSA
            ns.update(_pub=case.public_key)
            self.stmt = "_pub.verify(_sig, _si)"
        ns["_sig"] = sig
        self.alg = alg
        self.namespace = ns
        self._forged_sig = forged

    def _run(self, sig: bytes) -> None:
        exec(self.stmt, {**self.namespace, "_sig": sig})

    def check(self) -> list[str]:
        from cryptography.exceptions import InvalidSignature

        try:
            self._run(self.namespace["_sig"])
        except Exception as exc:
            return [f"valid signature rejected: {type(exc).__name__}: {exc}"]
        try:
            self._run(self._forged_sig)
        except InvalidSignature:
            return []
        except Exception as exc:
            return [f"forged signature raised unexpected {type(exc).__name__}: {exc}"]
        return ["FORGED SIGNATURE ACCEPTED"]
