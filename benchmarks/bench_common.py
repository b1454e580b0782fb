"""Shared material for turbojwt's benchmarks (compare.py and the pytest-benchmark suite).

Everything here is benchmark-side only: the library (python/turbojwt) never imports it.

* ``make_material()`` builds fresh keys for HS256/RS256/ES256/EdDSA, the 12-claim
  payload, a reference token per algorithm signed by PyJWT, and forged variants.
* ``load_turbojwt()`` / ``load_oxyjwt()`` import the optional contenders and say why
  when they are unavailable, so callers can skip rows instead of crashing.
* ``decode_call()`` / ``check_decode()`` define *the* call each contender makes and
  the correctness gate (same claims back; every forged token refused) that must
  pass before a contender is timed.
"""

from __future__ import annotations

import base64
import importlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import jwt as pyjwt  # PyJWT: the reference signer and the baseline
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

ALGS = ("HS256", "RS256", "ES256", "EdDSA")
ASYMMETRIC_ALGS = ("RS256", "ES256", "EdDSA")
AUDIENCE = "https://api.example.com"
ISSUER = "https://auth.example.com"


# ---------------------------------------------------------------------------
# Token material
# ---------------------------------------------------------------------------


def make_claims(now: Optional[int] = None, jti: str = "b1d6c0f2-5e1b-4c7d-9a53-1f0e3a7c2d44") -> dict:
    """The 12-claim payload: 7 registered claims + 5 custom ones."""
    now = int(time.time()) if now is None else now
    return {
        "iss": ISSUER,
        "sub": "user-42",
        "aud": AUDIENCE,
        "exp": now + 10 * 365 * 24 * 3600,  # far future: never expires mid-run
        "nbf": now - 60,
        "iat": now - 60,
        "jti": jti,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "roles": ["admin", "billing", "reader"],
        "tenant": "acme-eu-1",
        "scope": "read:all write:own",
    }


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _pem_private(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _pem_public(key) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


@dataclass
class AlgMaterial:
    """Keys and tokens for one algorithm.

    ``verify_key_str``  what a caller passes as a string: the HMAC secret (str) or
                        the SubjectPublicKeyInfo PEM (str).
    ``verify_key_obj``  the "prepared" key, i.e. what PyJWT's ``prepare_key`` would
                        produce: a pyca/cryptography public key object, or the
                        secret as bytes for HS256.
    ``sign_key_str``    HMAC secret (str) or PKCS#8 private PEM (str).
    """

    alg: str
    verify_key_str: str
    verify_key_obj: Any
    sign_key_str: str
    sign_key_obj: Any
    token: str
    forged: dict  # description -> forged token
    signing_input: bytes = b""
    signature: bytes = b""  # raw JWS signature (ES256: r||s, 64 bytes)
    forged_signature: bytes = b""


@dataclass
class Material:
    claims: dict
    algs: dict = field(default_factory=dict)  # alg -> AlgMaterial


def _new_keypair(alg: str):
    """Return (sign_key_str, sign_key_obj, verify_key_str, verify_key_obj)."""
    if alg == "HS256":
        secret = secrets.token_urlsafe(32)  # 43 chars, 256 bits of entropy
        return secret, secret.encode(), secret, secret.encode()
    if alg == "RS256":
        priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES256":
        priv = ec.generate_private_key(ec.SECP256R1())
    elif alg == "EdDSA":
        priv = ed25519.Ed25519PrivateKey.generate()
    else:  # pragma: no cover
        raise ValueError(alg)
    pub = priv.public_key()
    return _pem_private(priv), priv, _pem_public(pub), pub


def _split(token: str):
    h, p, s = token.split(".")
    return h, p, s


def make_material(claims: Optional[dict] = None) -> Material:
    """Fresh keys + PyJWT-signed reference tokens + forged variants for every alg."""
    claims = make_claims() if claims is None else claims
    mat = Material(claims=claims)
    for alg in ALGS:
        sk_str, sk_obj, vk_str, vk_obj = _new_keypair(alg)
        token = pyjwt.encode(claims, sk_obj if alg != "HS256" else sk_str, algorithm=alg)
        h, p, s = _split(token)
        sig = b64url_decode(s)

        forged = {}
        # 1. payload changed, original signature kept
        evil = dict(claims, sub="admin", roles=["root"])
        evil_p = b64url(json.dumps(evil, separators=(",", ":")).encode())
        forged["tampered payload"] = f"{h}.{evil_p}.{s}"
        # 2. same claims, signed by an attacker's key of the same type
        other_sk, other_obj, _, _ = _new_keypair(alg)
        forged["signed by another key"] = pyjwt.encode(
            claims, other_obj if alg != "HS256" else other_sk, algorithm=alg
        )
        # 3. last signature byte flipped
        bad_sig = bytearray(sig)
        bad_sig[-1] ^= 0x01
        forged["signature bit flipped"] = f"{h}.{p}.{b64url(bytes(bad_sig))}"
        # 4. alg=none, empty signature
        none_h = b64url(json.dumps({"alg": "none", "typ": "JWT"}, separators=(",", ":")).encode())
        forged["alg=none"] = f"{none_h}.{p}."
        if alg != "HS256":
            # 5. algorithm confusion: HS256 MAC keyed with the public PEM
            hs_h = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
            mac = crypto_hmac.HMAC(vk_str.encode(), hashes.SHA256())
            mac.update(f"{hs_h}.{p}".encode())
            forged["alg confusion (HS256 keyed with public PEM)"] = f"{hs_h}.{p}.{b64url(mac.finalize())}"

        mat.algs[alg] = AlgMaterial(
            alg=alg,
            verify_key_str=vk_str,
            verify_key_obj=vk_obj,
            sign_key_str=sk_str,
            sign_key_obj=sk_obj,
            token=token,
            forged=forged,
            signing_input=f"{h}.{p}".encode("ascii"),
            signature=sig,
            forged_signature=bytes(bad_sig),
        )
    return mat


# ---------------------------------------------------------------------------
# Optional contenders
# ---------------------------------------------------------------------------


def load_turbojwt():
    """Return (module | None, reason). Needs the facade *and* the native module."""
    try:
        mod = importlib.import_module("turbojwt")
    except Exception as exc:  # ImportError, or the facade failing on a missing _native
        return None, f"turbojwt is not importable ({type(exc).__name__}: {exc})"
    missing = [n for n in ("encode", "decode") if not hasattr(mod, n)]
    if missing:
        return None, (
            f"turbojwt at {getattr(mod, '__file__', '?')} lacks {', '.join(missing)} "
            "(native module not built/installed yet?)"
        )
    return mod, ""


def load_native_floor():
    """Return (turbojwt._native.bench.verify_floor | None, reason)."""
    try:
        native = importlib.import_module("turbojwt._native")
    except Exception as exc:
        return None, f"turbojwt._native is not importable ({type(exc).__name__}: {exc})"
    fn = getattr(getattr(native, "bench", None), "verify_floor", None)
    if fn is None:
        return None, "turbojwt._native has no bench.verify_floor"
    return fn, ""


def load_oxyjwt():
    try:
        mod = importlib.import_module("oxyjwt")
    except Exception as exc:
        return None, f"oxyjwt is not importable ({type(exc).__name__}: {exc}); `pip install oxyjwt`"
    return mod, ""


def oxyjwt_decoding_key(oxy, alg: str, am: AlgMaterial):
    """oxyjwt's prepared key: ``oxyjwt.DecodingKey.from_*`` (its documented way)."""
    dk = oxy.DecodingKey
    if alg.startswith("HS"):
        return dk.from_secret(am.verify_key_obj)
    if alg.startswith(("RS", "PS")):
        return dk.from_rsa_pem(am.verify_key_str)
    if alg.startswith("ES"):
        return dk.from_ec_pem(am.verify_key_str)
    if alg == "EdDSA":
        return dk.from_ed_pem(am.verify_key_str)
    raise ValueError(alg)


def library_error_types(lib) -> tuple:
    """Exceptions that count as a proper refusal from a PyJWT-shaped library."""
    types = tuple(
        t for t in (getattr(lib, "PyJWTError", None), getattr(lib, "InvalidTokenError", None),
                    getattr(lib, "OxyJWTError", None))
        if isinstance(t, type)
    )
    return types or (Exception,)


# ---------------------------------------------------------------------------
# Calls and correctness gates
# ---------------------------------------------------------------------------


def decode_call(lib, alg: str, key) -> Callable[[str], Any]:
    """The exact decode call benchmarked: audience and issuer checked, 1 allowed alg."""
    algorithms = [alg]

    def call(token: str):
        return lib.decode(token, key, algorithms=algorithms, audience=AUDIENCE, issuer=ISSUER)

    return call


def check_decode(call: Callable[[str], Any], am: AlgMaterial, claims: dict, refuse: tuple) -> list:
    """Return a list of problems (empty == correct)."""
    problems = []
    try:
        got = call(am.token)
    except Exception as exc:
        return [f"valid token rejected: {type(exc).__name__}: {exc}"]
    if got != claims:
        problems.append(f"wrong claims: {got!r}")
    for what, tok in am.forged.items():
        try:
            call(tok)
        except refuse:
            continue
        except Exception as exc:
            problems.append(f"forged token ({what}) raised an unexpected {type(exc).__name__}: {exc}")
            continue
        problems.append(f"FORGED TOKEN ACCEPTED ({what})")
    return problems


def check_encoded_token(token: Any, alg: str, am: AlgMaterial, claims: dict) -> list:
    """An encoded token must verify under PyJWT with the matching public key."""
    if isinstance(token, bytes):
        token = token.decode("ascii")
    if not isinstance(token, str):
        return [f"encode returned {type(token).__name__}, expected str"]
    problems = []
    try:
        header = pyjwt.get_unverified_header(token)
        if header.get("alg") != alg:
            problems.append(f"header alg is {header.get('alg')!r}")
        got = pyjwt.decode(token, am.verify_key_obj, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)
        if got != claims:
            problems.append(f"claims differ after PyJWT decode: {got!r}")
    except Exception as exc:
        problems.append(f"PyJWT refused the token: {type(exc).__name__}: {exc}")
    return problems


# pyca/cryptography bare verification of the very signature inside the token ----


class BareVerify:
    """pyca/cryptography verify of ``am.signature`` over ``am.signing_input``.

    ``stmt`` is a single Python statement used in the timed loop (names are the
    keys of ``namespace``); ``check()`` returns a list of problems.
    """

    def __init__(self, am: AlgMaterial):
        self.alg = am.alg
        ns: dict = {"_si": am.signing_input}
        if am.alg == "HS256":
            ns.update(_HMAC=crypto_hmac.HMAC, _SHA256=hashes.SHA256, _key=am.verify_key_obj,
                      _sig=am.signature)
            self.stmt = "_h = _HMAC(_key, _SHA256()); _h.update(_si); _h.verify(_sig)"
            self._forged_sig = am.forged_signature
        elif am.alg == "RS256":
            ns.update(_pub=am.verify_key_obj, _sig=am.signature, _pad=padding.PKCS1v15(),
                      _hash=hashes.SHA256())
            self.stmt = "_pub.verify(_sig, _si, _pad, _hash)"
            self._forged_sig = am.forged_signature
        elif am.alg == "ES256":
            # JWS carries r||s; pyca wants DER. Converted once, outside the loop.
            def der(raw: bytes) -> bytes:
                return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))

            ns.update(_pub=am.verify_key_obj, _sig=der(am.signature), _ecdsa=ec.ECDSA(hashes.SHA256()))
            self.stmt = "_pub.verify(_sig, _si, _ecdsa)"
            self._forged_sig = der(am.forged_signature)
        elif am.alg == "EdDSA":
            ns.update(_pub=am.verify_key_obj, _sig=am.signature)
            self.stmt = "_pub.verify(_sig, _si)"
            self._forged_sig = am.forged_signature
        else:  # pragma: no cover
            raise ValueError(am.alg)
        self.namespace = ns

    def _run(self, sig: bytes) -> None:
        exec(self.stmt, {**self.namespace, "_sig": sig})

    def check(self) -> list:
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


def check_floor(floor, am: AlgMaterial) -> tuple:
    """Return (problems, notes) for turbojwt._native.bench.verify_floor on this alg."""
    try:
        t = floor(am.alg, am.verify_key_str, am.signing_input, am.signature, 3)
    except Exception as exc:
        return [f"floor failed on the valid signature: {type(exc).__name__}: {exc}"], []
    if not isinstance(t, (int, float)) or t < 0:
        return [f"floor returned {t!r}, expected seconds >= 0"], []
    try:
        floor(am.alg, am.verify_key_str, am.signing_input, am.forged_signature, 1)
    except Exception:
        return [], []
    return [], [f"{am.alg}: bench.verify_floor did not raise on a forged signature; "
                "cannot confirm that it really verifies"]
