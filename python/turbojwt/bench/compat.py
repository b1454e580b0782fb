"""The compatibility view: for each library, how many accept/refuse verdicts on a corpus of
valid, expired, misaddressed, malformed, forged and algorithm-confused tokens match PyJWT's,
and whether it accepted any forged or confused token (a security failure, not a mismatch)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .adapters import KEY_FORMS, Adapter, Unsupported
from .material import ALGORITHMS, Case, b64url, make_case


@dataclass
class Variant:
    name: str
    token: str
    # A forged or algorithm-confused token: accepting it is a security failure.
    attack: bool = False


def _sign(case: Case, signing_input: bytes) -> bytes:
    from jwt.algorithms import get_default_algorithms

    impl = get_default_algorithms()[case.alg]
    key = impl.prepare_key(case.secret if case.secret is not None else case.private_pem)
    return impl.sign(signing_input, key)


def _raw(case: Case, header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes) -> str:
    """A token signed over exactly these header and payload bytes."""
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    p = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    si = b64url(h) + "." + b64url(p)
    return si + "." + b64url(_sign(case, si.encode()))


def variants(case: Case) -> list[Variant]:
    now = int(time.time())
    c = case.claims
    head = {"alg": case.alg, "typ": "JWT"}

    def with_claims(**changes: Any) -> str:
        claims = {k: v for k, v in {**c, **changes}.items() if v is not None}
        return _raw(case, head, claims)

    h, p, s = case.token.split(".")
    out = [
        Variant("valid", case.token),
        Variant("expired", with_claims(exp=now - 3600)),
        Variant("not yet valid (nbf)", with_claims(nbf=now + 3600)),
        Variant("issued in the future (iat)", with_claims(iat=now + 3600)),
        Variant("other audience", with_claims(aud="https://other.example.com")),
        Variant("audience list with ours", with_claims(aud=["https://x.example", case.audience])),
        Variant("no audience", with_claims(aud=None)),
        Variant("other issuer", with_claims(iss="https://evil.example.com")),
        Variant("no issuer", with_claims(iss=None)),
        Variant("exp as a string", with_claims(exp=str(now + 3600))),
        Variant("exp as a float", with_claims(exp=now + 3600.5)),
        Variant("typ at+jwt and a kid", _raw(case, {**head, "typ": "at+jwt", "kid": "k1"}, c)),
        Variant("kid not a string", _raw(case, {**head, "kid": 7}, c)),
        Variant("unknown crit extension", _raw(case, {**head, "crit": ["urn:x"], "urn:x": 1}, c)),
        Variant("payload not JSON", _raw(case, head, b"{nope")),
        Variant("payload a JSON list", _raw(case, head, b"[1,2]")),
        Variant("two segments", h + "." + p),
        Variant("four segments", case.token + ".x"),
        Variant("signature not base64url", h + "." + p + ".!!!"),
        Variant("padded signature", case.token + "=" * (-len(s) % 4 or 4)),
        Variant("empty signature", h + "." + p + "."),
    ]
    for what, token in case.forged.items():
        out.append(Variant(f"forged: {what}", token, attack=True))
    for alg in ("None", "NONE", "nOnE"):
        out.append(
            Variant(f"forged: alg {alg}", b64url(json.dumps({"alg": alg}).encode()) + "." + p + ".", attack=True)
        )
    if case.secret is None and case.public_pem is not None:
        for variant in ("public PEM bytes", "public JWK JSON"):
            key = case.public_pem.encode() if variant == "public PEM bytes" else json.dumps(case.public_jwk).encode()
            si = b64url(b'{"alg":"HS256","typ":"JWT"}') + "." + p
            mac = hmac.new(key, si.encode(), hashlib.sha256).digest()
            out.append(Variant(f"confused: HS256 keyed with the {variant}", si + "." + b64url(mac), attack=True))
    return out


@dataclass
class LibraryCompat:
    label: str
    total: int = 0
    matching: int = 0
    differing: list[str] = field(default_factory=list)
    attacks_accepted: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


def _verdict(decode: Callable[[str], Any], token: str) -> bool:
    try:
        decode(token)
        return True
    except Exception:
        return False


def compatibility(adapters: list[Adapter], algorithms: list[str] | None = None) -> list[LibraryCompat]:
    """Each library's verdicts against PyJWT's, per algorithm, with the key as a string (or
    the library's prepared key when it takes no strings)."""
    import jwt as pyjwt

    cases = [make_case(alg) for alg in (algorithms or ALGORITHMS)]
    corpus = [(case, variants(case)) for case in cases]
    reference: dict[tuple[str, str], bool] = {}
    for case, vs in corpus:
        key = case.secret if case.secret is not None else case.public_pem
        ref = lambda t, case=case, key=key: pyjwt.decode(  # noqa: E731
            t, key, algorithms=[case.alg], audience=case.audience, issuer=case.issuer
        )
        for v in vs:
            reference[(case.alg, v.name)] = _verdict(ref, v.token)
    out = []
    for adapter in adapters:
        lib = LibraryCompat(adapter.label)
        for case, vs in corpus:
            decode = None
            for form in KEY_FORMS[::-1]:  # pem first
                try:
                    decode = adapter.decoder(case, form)
                    break
                except Unsupported:
                    continue
                except Exception:
                    break
            if decode is None:
                lib.unsupported.append(case.alg)
                continue
            for v in vs:
                accepted = _verdict(decode, v.token)
                lib.total += 1
                if accepted == reference[(case.alg, v.name)]:
                    lib.matching += 1
                else:
                    lib.differing.append(f"{case.alg} {v.name} ({'accepted' if accepted else 'refused'})")
                if accepted and v.attack:
                    lib.attacks_accepted.append(f"{case.alg} {v.name}")
        out.append(lib)
    return out


def markdown(rows: list[LibraryCompat]) -> list[str]:
    lines = [
        "| library | verdicts matching PyJWT | differing (library's verdict) | forged or confused tokens accepted |",
        "| :-- | --: | :-- | :-- |",
    ]
    for r in rows:
        share = f"{r.matching}/{r.total} ({r.matching / r.total:.1%})" if r.total else "—"
        diff = "; ".join(_summarise(r.differing)) or "none"
        attacks = ("**" + "; ".join(_summarise(r.attacks_accepted)) + "**") if r.attacks_accepted else "none"
        if r.unsupported:
            diff += f" (no {', '.join(r.unsupported)})"
        lines.append(f"| {r.label} | {share} | {diff} | {attacks} |")
    return lines


def _summarise(items: list[str]) -> list[str]:
    """Groups "ALG what (verdict)" by what, listing the algorithms once."""
    by_what: dict[str, list[str]] = {}
    for item in items:
        alg, what = item.split(" ", 1)
        by_what.setdefault(what, []).append(alg)
    return [f"{what}: {', '.join(algs) if len(algs) < len(ALGORITHMS) else 'all'}" for what, algs in by_what.items()]
