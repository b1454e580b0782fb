"""``turbojwt demo``: sign a batch of tokens, verify them with turbojwt and PyJWT, try forgeries.

Uses only turbojwt's public API (encode / decode / exception classes); keys come
from pyca/cryptography (a turbojwt dependency) and the standard library. PyJWT is
optional: without it only turbojwt's rate is shown.
"""

from __future__ import annotations

import argparse
import base64
import functools
import gc
import hashlib
import hmac
import json
import platform
import secrets
import statistics
import time
from typing import Callable, Optional

AUDIENCE = "https://api.example.com"
ISSUER = "https://auth.example.com"
# Verification is timed as ``turbojwt bench`` times it: one warm-up round, then ROUNDS
# rounds, each over its share of the tokens, alternating the libraries, the cyclic GC
# paused inside each timed batch; medians over the rounds.
ROUNDS = 5


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "demo",
        help="sign and verify a batch of tokens with turbojwt (and PyJWT), then try forged tokens",
        description=(
            "Generate an HS256 secret and an RSA key, sign a batch of 12-claim tokens with "
            "turbojwt, verify them with turbojwt and (if installed) PyJWT — the same call, "
            "key passed as a string, audience and issuer checked — print both rates and the "
            "speed-up, and check that forged tokens are refused. Exit status 1 if anything "
            "is wrong."
        ),
    )
    p.add_argument(
        "-n",
        "--count",
        type=int,
        default=20_000,
        metavar="N",
        help="HS256 tokens to sign and verify (default: %(default)s)",
    )
    p.add_argument(
        "--rsa-count",
        type=int,
        default=2_000,
        metavar="N",
        help="RS256 tokens to sign and verify (default: %(default)s; RSA signing costs "
        "~1 ms per token, so this batch is smaller)",
    )
    p.add_argument(
        "--rsa-bits", type=int, default=2048, choices=(2048, 3072, 4096), help="RSA key size (default: %(default)s)"
    )
    p.add_argument("--no-pyjwt", action="store_true", help="do not compare with PyJWT")
    p.set_defaults(func=run)
    return p


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_b64(obj) -> str:
    return _b64url(json.dumps(obj, separators=(",", ":")).encode())


def make_claims(i: int, now: int) -> dict:
    """Token number ``i``: 7 registered claims + 5 custom claims."""
    return {
        "iss": ISSUER,
        "sub": f"user-{i}",
        "aud": AUDIENCE,
        "exp": now + 3600,
        "nbf": now - 5,
        "iat": now,
        "jti": f"{i:08x}-{secrets.token_hex(8)}",
        "name": f"User {i}",
        "email": f"user{i}@example.com",
        "roles": ["reader"] if i % 3 else ["reader", "admin"],
        "tenant": f"tenant-{i % 17}",
        "scope": "read:all write:own",
    }


def _rsa_keypair(bits: int):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private_pem, public_pem


def _timed(fn: Callable[[], list]):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _timed_batch(fn: Callable[[], list]):
    """``_timed`` with the cyclic GC paused, as the benchmark harness times a batch: a
    collection triggered by the claims dicts kept so far is not the decode's cost."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        return _timed(fn)
    finally:
        if gc_was:
            gc.enable()


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} tokens/s" if seconds > 0 else "          inf tokens/s"


def _load_pyjwt(disabled: bool):
    if disabled:
        return None, "disabled by --no-pyjwt"
    try:
        import jwt as pyjwt
    except ImportError:
        return None, "PyJWT is not installed (pip install pyjwt[crypto])"
    if not hasattr(pyjwt, "decode"):
        return None, "the 'jwt' module found is not PyJWT"
    return pyjwt, ""


# ---------------------------------------------------------------------------
# the demo
# ---------------------------------------------------------------------------


def _run_scheme(
    tj, pyjwt, alg: str, label: str, sign_key: str, verify_key: str, count: int, now: int, out: Callable[[str], None]
) -> bool:
    """Sign ``count`` tokens with turbojwt, verify with turbojwt (and PyJWT). True if all good."""
    ok = True
    claims = [make_claims(i, now) for i in range(count)]
    algorithms = [alg]

    tokens, t_sign = _timed(lambda: [tj.encode(c, sign_key, algorithm=alg) for c in claims])
    out(f"{label}: signed {count:,} tokens with turbojwt in {t_sign:.2f} s ({_rate(count, t_sign).strip()})")

    def verify(lib, part: list[str]) -> list[dict]:
        dec = lib.decode
        return [dec(t, verify_key, algorithms=algorithms, audience=AUDIENCE, issuer=ISSUER) for t in part]

    libs = [("turbojwt", tj)] + ([("PyJWT", pyjwt)] if pyjwt is not None else [])
    rounds = min(ROUNDS, count)
    bounds = [(count * r // rounds, count * (r + 1) // rounds) for r in range(rounds)]
    per_token: dict[str, list[float]] = {name: [] for name, _ in libs}  # seconds per token, per recorded round
    same = {name: True for name, _ in libs}
    # A warm-up round over the first share (not recorded), then every share once; each
    # round alternates which library goes first. Every token is verified by both.
    for r, (lo, hi) in enumerate([bounds[0]] + bounds):
        for name, lib in libs if r % 2 else libs[::-1]:
            try:
                got, seconds = _timed_batch(functools.partial(verify, lib, tokens[lo:hi]))
            except Exception as exc:  # PyJWT refusing turbojwt's tokens is an interop bug
                if lib is tj:
                    raise
                out(f"  verify  PyJWT     FAILED: {type(exc).__name__}: {exc}")
                return False
            if r:
                per_token[name].append(seconds / (hi - lo))
                same[name] &= got == claims[lo:hi]
    for name, _ in libs:
        ok &= same[name]
        median = statistics.median(per_token[name])
        out(
            f"  verify  {name:<9} {count:>7,} tokens {median * 1e6:8.2f} µs/token {_rate(1, median)}"
            + ("" if same[name] else "   !! claims differ from what was signed")
        )
    if pyjwt is not None and min(per_token["turbojwt"]) > 0:
        ratio = statistics.median([py / t for py, t in zip(per_token["PyJWT"], per_token["turbojwt"])])
        out(
            f"  speed-up: {ratio:.1f}x (turbojwt vs PyJWT, same call"
            + (", identical claims)" if all(same.values()) else ")")
        )
    return ok


def _forgery_cases(tj, hs_secret: str, rsa_private: str, rsa_public: str, now: int, other_rsa_private: Optional[str]):
    """(description, token, verify key, algorithm) — every one must be refused."""
    claims = make_claims(0, now)
    hs = tj.encode(claims, hs_secret, algorithm="HS256")
    rs = tj.encode(claims, rsa_private, algorithm="RS256")
    evil = _json_b64(dict(claims, sub="admin", roles=["reader", "admin", "root"]))

    def with_payload(token: str, payload_b64: str) -> str:
        h, _, s = token.split(".")
        return f"{h}.{payload_b64}.{s}"

    h_none = _json_b64({"alg": "none", "typ": "JWT"})
    h_hs = _json_b64({"alg": "HS256", "typ": "JWT"})
    body = _json_b64(claims)
    confused_mac = hmac.new(rsa_public.encode(), f"{h_hs}.{body}".encode(), hashlib.sha256).digest()
    flipped = bytearray(base64.urlsafe_b64decode(rs.split(".")[2] + "=="))
    flipped[-1] ^= 1

    cases = [
        ("HS256 payload tampered (sub -> admin)", with_payload(hs, evil), hs_secret, "HS256"),
        (
            "HS256 signed with another secret",
            tj.encode(claims, secrets.token_urlsafe(32), algorithm="HS256"),
            hs_secret,
            "HS256",
        ),
        ("RS256 payload tampered (sub -> admin)", with_payload(rs, evil), rsa_public, "RS256"),
        ("RS256 signature bit flipped", ".".join(rs.split(".")[:2] + [_b64url(bytes(flipped))]), rsa_public, "RS256"),
        ("alg=none with the signature stripped", f"{h_none}.{body}.", rsa_public, "RS256"),
        (
            "alg confusion: HS256 MAC keyed with the RSA public PEM",
            f"{h_hs}.{body}.{_b64url(confused_mac)}",
            rsa_public,
            "RS256",
        ),
        (
            "expired token (exp 1 h ago)",
            tj.encode(dict(claims, exp=now - 3600, iat=now - 7200, nbf=now - 7200), hs_secret, algorithm="HS256"),
            hs_secret,
            "HS256",
        ),
        (
            "wrong audience",
            tj.encode(dict(claims, aud="https://other.example.com"), hs_secret, algorithm="HS256"),
            hs_secret,
            "HS256",
        ),
    ]
    if other_rsa_private is not None:
        cases.insert(
            3,
            (
                "RS256 signed by another RSA key",
                tj.encode(claims, other_rsa_private, algorithm="RS256"),
                rsa_public,
                "RS256",
            ),
        )
    return cases


def run(args: argparse.Namespace) -> int:
    import turbojwt as tj

    def out(line: str = "") -> None:
        print(line, flush=True)

    if args.count < 1 or args.rsa_count < 1:
        out("demo: --count and --rsa-count must be >= 1")
        return 2

    pyjwt, why_no_pyjwt = _load_pyjwt(args.no_pyjwt)
    version = getattr(tj, "__version__", None)
    if version is None:
        from turbojwt.__main__ import _version

        version = _version()
    out(
        f"turbojwt {version} demo — Python {platform.python_version()}"
        + (f", PyJWT {getattr(pyjwt, '__version__', '?')}" if pyjwt else f" ({why_no_pyjwt})")
    )
    out("Each token has 12 claims; decode checks signature, exp/nbf/iat, audience and issuer;")
    out("both libraries get the same call with the key as a string (secret / PEM).")
    out(f"Verification is timed as `turbojwt bench` times it: after a warm-up, {ROUNDS} rounds over a")
    out("share of the tokens each, the libraries alternating, the garbage collector paused while a")
    out("batch is timed; rates are medians over the rounds, the speed-up the median per-round ratio.")
    out()

    now = int(time.time())
    hs_secret = secrets.token_urlsafe(32)
    t0 = time.perf_counter()
    rsa_private, rsa_public = _rsa_keypair(args.rsa_bits)
    other_rsa_private, _ = _rsa_keypair(2048)
    out(f"keys: HS256 secret (256 bits), RSA-{args.rsa_bits} key pair (generated in {time.perf_counter() - t0:.2f} s)")
    out()

    ok = _run_scheme(tj, pyjwt, "HS256", "HS256", hs_secret, hs_secret, args.count, now, out)
    out()
    ok &= _run_scheme(
        tj, pyjwt, "RS256", f"RS256 (RSA-{args.rsa_bits})", rsa_private, rsa_public, args.rsa_count, now, out
    )
    out()

    out("forged and invalid tokens (each must be refused by turbojwt.decode):")
    refused_types: tuple[type[BaseException], ...] = tuple(
        t
        for t in (getattr(tj, "PyJWTError", None), getattr(tj, "InvalidTokenError", None))
        if isinstance(t, type) and issubclass(t, BaseException)
    ) or (Exception,)
    for desc, token, key, alg in _forgery_cases(tj, hs_secret, rsa_private, rsa_public, now, other_rsa_private):
        try:
            tj.decode(token, key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)
        except refused_types as exc:
            out(f"  ok       refused  {desc}  ({type(exc).__name__})")
        except Exception as exc:
            ok = False
            out(f"  FAIL     {desc}: unexpected {type(exc).__name__}: {exc}")
        else:
            ok = False
            out(f"  FAIL     ACCEPTED {desc}")
    out()
    out("demo OK" if ok else "demo FAILED")
    return 0 if ok else 1
