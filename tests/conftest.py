"""Shared fixtures for the turbojwt test suite.

Key material is generated once per session with ``cryptography`` and exposed
in every form the API accepts: PEM text/bytes, DER, key objects, JWK dicts,
OpenSSH public keys and self-signed X.509 certificates.

Markers (registered in pyproject.toml): ``slow`` and ``e2e``, set in the test modules.
Benchmarks live in ``benchmarks/`` and are never collected from here.
"""

from __future__ import annotations

import datetime as _dt
import os
import random
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

# Test modules in every subfolder import the shared code in tests/helpers/ as
# ``helpers.<module>``. pytest's default import mode happens to put this file's directory
# on sys.path already; saying it here keeps that true under any --import-mode, and is the
# one place that makes tests/ importable.
TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from helpers.vector_files import VECTORS_DIR  # noqa: E402

PROJECT_ROOT = TESTS_DIR.parent


# --------------------------------------------------------------------------
# key material
# --------------------------------------------------------------------------


@dataclass
class KeyMaterial:
    """One key in all of its serialisations.

    ``kind`` is the JWK ``kty`` ("oct", "RSA", "EC", "OKP").  For "oct" keys
    only ``secret`` (bytes), ``secret_str`` and the JWK dicts are set.
    ``ssh`` is None where OpenSSH has no encoding (secp256k1, Ed448).
    """

    name: str
    kind: str
    private: Any = None
    public: Any = None
    private_pem: Optional[str] = None
    public_pem: Optional[str] = None
    public_der: Optional[bytes] = None
    private_jwk: dict = field(default_factory=dict)
    public_jwk: dict = field(default_factory=dict)
    ssh: Optional[str] = None
    cert_pem: Optional[str] = None
    cert_der: Optional[bytes] = None
    secret: Optional[bytes] = None

    @property
    def secret_str(self) -> Optional[str]:
        return None if self.secret is None else self.secret.decode("ascii")

    @property
    def private_pem_bytes(self) -> Optional[bytes]:
        return None if self.private_pem is None else self.private_pem.encode()

    @property
    def public_pem_bytes(self) -> Optional[bytes]:
        return None if self.public_pem is None else self.public_pem.encode()


def _jwk_dicts(private_key: Any) -> tuple[dict, dict]:
    # PyJWT's own serialiser is the reference for the JWK shapes.
    from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

    if isinstance(private_key, rsa.RSAPrivateKey):
        alg = RSAAlgorithm
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        alg = ECAlgorithm
    else:
        alg = OKPAlgorithm
    priv = alg.to_jwk(private_key, as_dict=True)
    pub = alg.to_jwk(private_key.public_key(), as_dict=True)
    return dict(priv), dict(pub)


def _self_signed_cert(private_key: Any, cn: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _dt.timedelta(days=3650))
    )
    if isinstance(private_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return builder.sign(private_key, None)
    return builder.sign(private_key, hashes.SHA256())


def _asymmetric(name: str, kind: str, private_key: Any) -> KeyMaterial:
    public_key = private_key.public_key()
    priv_jwk, pub_jwk = _jwk_dicts(private_key)
    try:
        ssh = public_key.public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH).decode()
    except (ValueError, TypeError):
        ssh = None  # no OpenSSH encoding for this key type (secp256k1, Ed448)
    cert = _self_signed_cert(private_key, f"turbojwt-test-{name}")
    return KeyMaterial(
        name=name,
        kind=kind,
        private=private_key,
        public=public_key,
        private_pem=private_key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()).decode(),
        public_pem=public_key.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo).decode(),
        public_der=public_key.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo),
        private_jwk=priv_jwk,
        public_jwk=pub_jwk,
        ssh=ssh,
        cert_pem=cert.public_bytes(ser.Encoding.PEM).decode(),
        cert_der=cert.public_bytes(ser.Encoding.DER),
    )


def _secret(name: str, nbytes: int, rng: random.Random) -> KeyMaterial:
    # ASCII so the same secret can be passed as str and as bytes.
    alphabet = string.ascii_letters + string.digits + "-_"
    secret = "".join(rng.choice(alphabet) for _ in range(nbytes)).encode()
    from jwt.algorithms import HMACAlgorithm

    jwk = dict(HMACAlgorithm.to_jwk(secret, as_dict=True))
    return KeyMaterial(name=name, kind="oct", secret=secret, private_jwk=jwk, public_jwk=jwk)


def build_keyring() -> dict[str, KeyMaterial]:
    rng = random.Random(int.from_bytes(os.urandom(8), "big"))
    ring = {
        "hs256": _secret("hs256", 32, rng),
        "hs384": _secret("hs384", 48, rng),
        "hs512": _secret("hs512", 64, rng),
        # shorter than any HMAC digest: must trigger InsecureKeyLengthWarning
        "hs_short": _secret("hs_short", 8, rng),
        "rsa": _asymmetric("rsa", "RSA", rsa.generate_private_key(65537, 2048)),
        "rsa2": _asymmetric("rsa2", "RSA", rsa.generate_private_key(65537, 2048)),
        # below the 2048-bit minimum: must trigger InsecureKeyLengthWarning
        "rsa1024": _asymmetric("rsa1024", "RSA", rsa.generate_private_key(65537, 1024)),
        "p256": _asymmetric("p256", "EC", ec.generate_private_key(ec.SECP256R1())),
        "p384": _asymmetric("p384", "EC", ec.generate_private_key(ec.SECP384R1())),
        "p521": _asymmetric("p521", "EC", ec.generate_private_key(ec.SECP521R1())),
        "secp256k1": _asymmetric("secp256k1", "EC", ec.generate_private_key(ec.SECP256K1())),
        "ed25519": _asymmetric("ed25519", "OKP", ed25519.Ed25519PrivateKey.generate()),
        "ed448": _asymmetric("ed448", "OKP", ed448.Ed448PrivateKey.generate()),
    }
    return ring


_KEYRING: Optional[dict[str, KeyMaterial]] = None


def get_keyring() -> dict[str, KeyMaterial]:
    """Process-wide key ring (the session fixtures below return this one)."""
    global _KEYRING
    if _KEYRING is None:
        _KEYRING = build_keyring()
    return _KEYRING


@pytest.fixture(scope="session")
def keyring() -> dict[str, KeyMaterial]:
    return get_keyring()


@pytest.fixture(scope="session")
def rsa_key(keyring) -> KeyMaterial:
    return keyring["rsa"]


@pytest.fixture(scope="session")
def ec_p256_key(keyring) -> KeyMaterial:
    return keyring["p256"]


@pytest.fixture(scope="session")
def ec_p384_key(keyring) -> KeyMaterial:
    return keyring["p384"]


@pytest.fixture(scope="session")
def ec_p521_key(keyring) -> KeyMaterial:
    return keyring["p521"]


@pytest.fixture(scope="session")
def ec_secp256k1_key(keyring) -> KeyMaterial:
    return keyring["secp256k1"]


@pytest.fixture(scope="session")
def ed25519_key(keyring) -> KeyMaterial:
    return keyring["ed25519"]


@pytest.fixture(scope="session")
def ed448_key(keyring) -> KeyMaterial:
    return keyring["ed448"]


@pytest.fixture(scope="session")
def hmac_secrets(keyring) -> dict[int, KeyMaterial]:
    """HMAC secrets keyed by length in bytes (32, 48, 64)."""
    return {32: keyring["hs256"], 48: keyring["hs384"], 64: keyring["hs512"]}


# --------------------------------------------------------------------------
# test vectors (vendored in tests/vectors, see tests/helpers/vector_files.py)
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """``tests/vectors``. Tests read it through ``vector_files.vector_path``, so a missing file
    (or directory) fails the test itself, naming the path: never a skip, nor a fixture error."""
    return VECTORS_DIR
