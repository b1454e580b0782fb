"""Shared by the side-by-side tests of turbojwt's pure-Python support modules against
PyJWT 2.15.1 (tests/compat/test_pyjwt_*.py, one module per PyJWT module; their ``km`` key
material fixture is in tests/compat/conftest.py).

Every check runs the same operation through both libraries and compares the
outcome: the returned value (keys compared by their serialised bytes) or the
raised exception (class name and message; object addresses in messages are
masked).  Keys are generated with ``cryptography`` at test time.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
import types
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

jwt = pytest.importorskip("jwt")
if getattr(jwt, "__version__", None) != "2.15.1":  # pragma: no cover
    pytest.skip("needs PyJWT 2.15.1 as the reference", allow_module_level=True)

# The modules compared, imported once here (the test modules import these names from here):
# PyJWT's as j*, turbojwt's as t*.
import jwt.algorithms as jalg  # noqa: E402 (re-exported to the test modules)
import jwt.api_jwk as japi_jwk  # noqa: E402, F401 (re-exported to the test modules)
import jwt.exceptions as jexc  # noqa: E402, F401 (re-exported to the test modules)
import jwt.help as jhelp  # noqa: E402, F401 (re-exported to the test modules)
import jwt.jwk_set_cache as jcache  # noqa: E402, F401 (re-exported to the test modules)
import jwt.jwks_client as jclient  # noqa: E402, F401 (re-exported to the test modules)
import jwt.types as jtypes  # noqa: E402, F401 (re-exported to the test modules)
import jwt.utils as jutils  # noqa: E402 (re-exported to the test modules)
import jwt.warnings as jwarn  # noqa: E402, F401 (re-exported to the test modules)
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import (  # noqa: E402
    ec,
    ed448,
    ed25519,
    rsa,
)
from cryptography.x509.oid import NameOID  # noqa: E402


def _bare_package() -> types.ModuleType:
    """A ``turbojwt`` package object whose ``__init__`` has not run."""
    spec = importlib.util.find_spec("turbojwt")
    assert spec is not None and spec.submodule_search_locations, "turbojwt not on sys.path"
    pkg = types.ModuleType("turbojwt")
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__package__ = "turbojwt"
    return pkg


def _load_support_modules() -> None:
    # These modules must work without the native extension and without the
    # JWS/JWT layers.  When the full facade cannot be imported here (e.g. the
    # extension is not built in this checkout), load them through a bare
    # package so they are still tested on their own.
    try:
        import turbojwt  # noqa: F401
    except ImportError:
        sys.modules["turbojwt"] = _bare_package()


_load_support_modules()

import turbojwt.algorithms as talg  # noqa: E402 (re-exported to the test modules)
import turbojwt.api_jwk as tapi_jwk  # noqa: E402, F401 (re-exported to the test modules)
import turbojwt.exceptions as texc  # noqa: E402, F401 (re-exported to the test modules)
import turbojwt.help as thelp  # noqa: E402, F401 (re-exported to the test modules)
import turbojwt.jwk_set_cache as tcache  # noqa: E402, F401 (re-exported to the test modules)
import turbojwt.jwks_client as tclient  # noqa: E402, F401 (re-exported to the test modules)
import turbojwt.types as ttypes  # noqa: E402, F401 (re-exported to the test modules)
import turbojwt.utils as tutils  # noqa: E402, F401 (re-exported to the test modules)
import turbojwt.warnings as twarn  # noqa: E402, F401 (re-exported to the test modules)

if not hasattr(sys.modules["turbojwt"], "__file__"):
    # Drop the bare package again so other test modules importing turbojwt
    # see the real import error instead of a half-empty package.
    del sys.modules["turbojwt"]

Enc = serialization.Encoding
PrivFmt = serialization.PrivateFormat
PubFmt = serialization.PublicFormat
NoEnc = serialization.NoEncryption

ALG_NAMES = [
    "none",
    "HS256",
    "HS384",
    "HS512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES256K",
    "ES384",
    "ES512",
    "ES521",
    "EdDSA",
]


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


_LIBS = ("jwt", "turbojwt")


def _mask(text: str) -> str:
    """Hide object addresses (e.g. generator reprs) so messages compare."""
    return _ADDRESS.sub(" at 0x?", text)


def _exc_id(exc: BaseException) -> tuple[str, str]:
    cls = type(exc)
    # The two libraries' own exception classes are distinct objects with the
    # same name (hierarchy is checked separately); anything else must be the
    # very same class (ValueError, cryptography's UnsupportedAlgorithm, ...).
    if cls.__module__.split(".")[0] in _LIBS:
        return ("lib", cls.__name__)
    return ("ext", f"{cls.__module__}.{cls.__qualname__}")


def describe(value: Any) -> Any:
    """A comparable, library-neutral description of a returned value."""
    if isinstance(
        value, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)
    ):
        return ("private", type(value).__name__, value.private_bytes(Enc.DER, PrivFmt.PKCS8, NoEnc()))
    if isinstance(value, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return ("public", type(value).__name__, value.public_bytes(Enc.DER, PubFmt.SubjectPublicKeyInfo))
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if isinstance(value, dict):
        return {k: describe(v) for k, v in value.items()}
    if isinstance(value, (str, bytes, int, float, bool, type(None))):
        return value
    return ("object", type(value).__name__)


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple:
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:
        return ("raise", _exc_id(exc), _mask(str(exc)), tuple(_mask(repr(a)) for a in exc.args))
    return ("return", describe(value))


def assert_no_mismatch(mismatches: list) -> None:
    assert not mismatches, "\n".join(
        f"{label}:\n  pyjwt:    {theirs!r}\n  turbojwt: {ours!r}" for label, theirs, ours in mismatches[:15]
    ) + (f"\n... {len(mismatches)} mismatches" if len(mismatches) > 15 else "")


@dataclasses.dataclass
class KeyMaterial:
    private: dict[str, Any]
    inputs: dict[str, Any]  # label -> candidate key argument for prepare_key


def _pem(key: Any, fmt: Any) -> bytes:
    return key.private_bytes(Enc.PEM, fmt, NoEnc())


def _self_signed_cert(key: Any) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "turbojwt test")])
    now = datetime.now(timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def _jwk_algo_for(key: Any) -> Any:
    # Reference JWKs come from PyJWT so our from_jwk is fed independent data.
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return jalg.RSAAlgorithm
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return jalg.ECAlgorithm
    return jalg.OKPAlgorithm


def _algos(name: str) -> tuple[Any, Any]:
    return jalg.get_default_algorithms()[name], talg.get_default_algorithms()[name]


# Which generated keys belong to which algorithm family (for sign/verify).
SIGNING_KEYS = {
    "HS256": ["secret/64"],
    "HS384": ["secret/64"],
    "HS512": ["secret/64"],
    "RS256": ["rsa2048", "rsa1024"],
    "RS384": ["rsa2048"],
    "RS512": ["rsa2048"],
    "PS256": ["rsa2048"],
    "PS384": ["rsa2048"],
    "PS512": ["rsa2048"],
    "ES256": ["p256"],
    "ES256K": ["k256"],
    "ES384": ["p384"],
    "ES512": ["p521"],
    "ES521": ["p521"],
    "EdDSA": ["ed25519", "ed448"],
}


def _b64(data: bytes) -> str:
    return jutils.base64url_encode(data).decode()


def _describe_pyjwk(jwk: Any) -> tuple:
    return (
        jwk.algorithm_name,
        jwk.key_type,
        jwk.key_id,
        jwk.public_key_use,
        type(jwk.Algorithm).__name__,
        describe(jwk.key),
    )


def _jwk_dicts(km: KeyMaterial) -> dict[str, tuple[Any, Any]]:
    """label -> (jwk data, explicit algorithm argument)."""
    out: dict[str, tuple[Any, Any]] = {}
    for name, key in km.private.items():
        if name == "x25519":
            continue
        algo = _jwk_algo_for(key)
        for part, obj in (("private", key), ("public", key.public_key())):
            data = algo.to_jwk(obj, as_dict=True)
            out[f"{name}/{part}"] = ({**data, "kid": f"{name}-{part}", "use": "sig"}, None)
    out.update(
        {
            "ed448/no-alg": (out["ed448/public"][0], None),
            "ed448/alg-arg": (out["ed448/public"][0], "EdDSA"),
            "ed448/alg-member": ({**out["ed448/public"][0], "alg": "EdDSA"}, None),
            "rsa/alg-PS384": ({**out["rsa2048/public"][0], "alg": "PS384"}, None),
            "rsa/arg-overrides-member": ({**out["rsa2048/public"][0], "alg": "PS384"}, "RS512"),
            "rsa/alg-ES256-mismatch": ({**out["rsa2048/public"][0], "alg": "ES256"}, None),
            "p384/alg-ES256-curve-mismatch": (out["p384/public"][0], "ES256"),
            "p521/crv-default": (out["p521/public"][0], None),
            "k256/crv-default": (out["k256/public"][0], None),
            "ec/no-crv": ({k: v for k, v in out["p256/public"][0].items() if k != "crv"}, None),
            "ec/unsupported-crv": ({**out["p256/public"][0], "crv": "P-192"}, None),
            "okp/no-crv": ({"kty": "OKP", "x": "abc"}, None),
            "okp/unsupported-crv": ({"kty": "OKP", "crv": "X25519", "x": "abc"}, None),
            "oct": ({"kty": "oct", "k": _b64(b"s" * 32), "kid": "hmac"}, None),
            "oct/alg-HS512": ({"kty": "oct", "k": _b64(b"s" * 32), "alg": "HS512"}, None),
            "oct/empty-k": ({"kty": "oct", "k": ""}, None),
            "oct/no-k": ({"kty": "oct"}, None),
            "oct/alg-none": ({"kty": "oct", "k": "abc"}, "none"),
            "missing-kty": ({"k": "abc"}, None),
            "empty-kty": ({"kty": ""}, None),
            "unsupported-kty": ({"kty": "XYZ"}, None),
            "unknown-alg": ({"kty": "oct", "k": "abc", "alg": "XX256"}, None),
            "unhashable-alg": ({"kty": "oct", "k": "abc", "alg": ["HS256"]}, None),
            "rsa/int-n": ({"kty": "RSA", "n": 5, "e": "AQAB"}, None),
            "rsa/bad-b64": ({"kty": "RSA", "n": "a", "e": "AQAB"}, None),
            "rsa/zero-n": ({"kty": "RSA", "n": "AA", "e": "AQAB"}, None),
            "not-a-dict": (["kty"], None),
        }
    )
    return out
