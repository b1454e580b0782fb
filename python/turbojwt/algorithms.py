"""JWS algorithm implementations backed by pyca/cryptography.

Public surface and behaviour (key types returned, exceptions and their
messages) match PyJWT 2.x ``jwt.algorithms``, so code that registers,
subclasses or calls these classes directly keeps working.  The fast
decode/encode path lives in the native core; these classes serve the
Python-level API (``PyJWK``, custom algorithms, ``get_algorithm_by_name``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, Optional, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ec import (
    ECDSA,
    SECP256K1,
    SECP256R1,
    SECP384R1,
    SECP521R1,
    EllipticCurve,
    EllipticCurvePrivateKey,
    EllipticCurvePrivateNumbers,
    EllipticCurvePublicKey,
    EllipticCurvePublicNumbers,
)
from cryptography.hazmat.primitives.asymmetric.ed448 import (
    Ed448PrivateKey,
    Ed448PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import (
    RSAPrivateKey,
    RSAPrivateNumbers,
    RSAPublicKey,
    RSAPublicNumbers,
    rsa_crt_dmp1,
    rsa_crt_dmq1,
    rsa_crt_iqmp,
    rsa_recover_prime_factors,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_public_key,
    load_pem_private_key,
    load_pem_public_key,
    load_ssh_public_key,
)

from .exceptions import InvalidKeyError
from .types import HashlibHash, JWKDict
from .utils import (
    base64url_decode,
    base64url_encode,
    der_to_raw_signature,
    force_bytes,
    from_base64url_uint,
    is_pem_format,
    is_ssh_key,
    raw_to_der_signature,
    to_base64url_uint,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import (
        PrivateKeyTypes,
        PublicKeyTypes,
    )

# ``cryptography`` is a hard dependency of turbojwt; the flag stays for code
# written against PyJWT that checks it.
has_crypto = True

# Key-type aliases (same names as PyJWT, used in signatures and by callers).
AllowedRSAKeys = Union[RSAPrivateKey, RSAPublicKey]
AllowedECKeys = Union[EllipticCurvePrivateKey, EllipticCurvePublicKey]
AllowedOKPKeys = Union[Ed25519PrivateKey, Ed25519PublicKey, Ed448PrivateKey, Ed448PublicKey]
AllowedKeys = Union[AllowedRSAKeys, AllowedECKeys, AllowedOKPKeys]
#: Private key classes accepted for signing.
AllowedPrivateKeys = Union[RSAPrivateKey, EllipticCurvePrivateKey, Ed25519PrivateKey, Ed448PrivateKey]
#: Public key classes accepted for verification.
AllowedPublicKeys = Union[RSAPublicKey, EllipticCurvePublicKey, Ed25519PublicKey, Ed448PublicKey]

#: Algorithm names that would need ``cryptography`` (always available here).
requires_cryptography = {
    "RS256",
    "RS384",
    "RS512",
    "ES256",
    "ES256K",
    "ES384",
    "ES521",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
}


def get_default_algorithms() -> dict[str, Algorithm]:
    """Return a fresh ``{name: Algorithm}`` map of every built-in algorithm."""
    return {
        "none": NoneAlgorithm(),
        "HS256": HMACAlgorithm(HMACAlgorithm.SHA256),
        "HS384": HMACAlgorithm(HMACAlgorithm.SHA384),
        "HS512": HMACAlgorithm(HMACAlgorithm.SHA512),
        "RS256": RSAAlgorithm(RSAAlgorithm.SHA256),
        "RS384": RSAAlgorithm(RSAAlgorithm.SHA384),
        "RS512": RSAAlgorithm(RSAAlgorithm.SHA512),
        "ES256": ECAlgorithm(ECAlgorithm.SHA256, SECP256R1),
        "ES256K": ECAlgorithm(ECAlgorithm.SHA256, SECP256K1),
        "ES384": ECAlgorithm(ECAlgorithm.SHA384, SECP384R1),
        "ES521": ECAlgorithm(ECAlgorithm.SHA512, SECP521R1),
        # PyJWT keeps "ES512" as an alias of ES521 for backward compatibility.
        "ES512": ECAlgorithm(ECAlgorithm.SHA512, SECP521R1),
        "PS256": RSAPSSAlgorithm(RSAPSSAlgorithm.SHA256),
        "PS384": RSAPSSAlgorithm(RSAPSSAlgorithm.SHA384),
        "PS512": RSAPSSAlgorithm(RSAPSSAlgorithm.SHA512),
        "EdDSA": OKPAlgorithm(),
    }


def _jwk_to_dict(jwk: str | JWKDict) -> Any:
    """Accept a JWK as JSON text or an already-decoded dict."""
    if isinstance(jwk, dict):
        return jwk
    if isinstance(jwk, str):
        try:
            return json.loads(jwk)
        except ValueError:
            pass
    raise InvalidKeyError("Key is not valid JSON")


def _dump_jwk(obj: JWKDict, as_dict: bool) -> JWKDict | str:
    return obj if as_dict else json.dumps(obj)


class Algorithm(ABC):
    """Interface of a JWS signing/verification algorithm."""

    # Key classes a cryptography-based algorithm accepts; prepare_key checks
    # loaded keys against it so e.g. an EC PEM is refused by RS256.
    _crypto_key_types: ClassVar[Optional[tuple[type, ...]]] = None

    def compute_hash_digest(self, bytestr: bytes) -> bytes:
        """Hash *bytestr* with this algorithm's hash (``NotImplementedError`` if none)."""
        hash_alg = getattr(self, "hash_alg", None)
        if hash_alg is None:
            raise NotImplementedError
        if isinstance(hash_alg, type) and issubclass(hash_alg, hashes.HashAlgorithm):
            digest = hashes.Hash(hash_alg(), backend=default_backend())
            digest.update(bytestr)
            return bytes(digest.finalize())
        return bytes(hash_alg(bytestr).digest())

    def check_crypto_key_type(self, key: PublicKeyTypes | PrivateKeyTypes) -> None:
        """Raise ``InvalidKeyError`` unless *key* is of this algorithm's key family."""
        if self._crypto_key_types is None:
            raise ValueError(
                "This method requires the cryptography library, and should only "
                "be used by cryptography-based algorithms."
            )
        if isinstance(key, self._crypto_key_types):
            return
        # PyJWT interpolates a generator object here (its repr, not the class
        # names); users match on this text, so keep it byte-compatible apart
        # from the object address.
        valid_classes = (cls.__name__ for cls in self._crypto_key_types)
        raise InvalidKeyError(
            f"Expected one of {valid_classes}, got: {key.__class__.__name__}. "
            f"Invalid Key type for {self.__class__.__name__}"
        )

    @abstractmethod
    def prepare_key(self, key: Any) -> Any:
        """Validate/convert *key* into the form ``sign``/``verify`` take."""

    @abstractmethod
    def sign(self, msg: bytes, key: Any) -> bytes:
        """Return the signature of *msg* under *key*."""

    @abstractmethod
    def verify(self, msg: bytes, key: Any, sig: bytes) -> bool:
        """Return whether *sig* is a valid signature of *msg* under *key*."""

    @staticmethod
    @abstractmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> JWKDict | str:
        """Serialise a key as a JWK (dict or JSON text)."""

    @staticmethod
    @abstractmethod
    def from_jwk(jwk: str | JWKDict) -> Any:
        """Build a key from a JWK (dict or JSON text)."""

    def check_key_length(self, key: Any) -> str | None:
        """Warning text if *key* is shorter than recommended, else ``None``."""
        return None


class NoneAlgorithm(Algorithm):
    """``alg: none`` -- no signature at all."""

    def prepare_key(self, key: str | None) -> None:
        # An empty string is treated as "no key", like PyJWT.
        if key == "":
            key = None
        if key is not None:
            raise InvalidKeyError('When alg = "none", key value must be None.')
        return key

    def sign(self, msg: bytes, key: None) -> bytes:
        return b""

    def verify(self, msg: bytes, key: None, sig: bytes) -> bool:
        return False

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> NoReturn:
        raise NotImplementedError()

    @staticmethod
    def from_jwk(jwk: str | JWKDict) -> NoReturn:
        raise NotImplementedError()


_JWK_AS_HMAC_SECRET = (
    "The specified key looks like a JWK and should not be used directly as an "
    "HMAC secret. Load it via PyJWK / HMACAlgorithm.from_jwk first."
)

# A JSON string literal (escape-aware) and the separator that makes it a key.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_MEMBER_COLON = re.compile(r"[ \t\r\n]*:")


def _holds_kty_member(value: Any) -> bool:
    """True if any object nested anywhere in *value* has a ``kty`` member."""
    pending = [value]
    while pending:  # iterative: the nesting depth is attacker-controlled
        item = pending.pop()
        if isinstance(item, dict):
            if "kty" in item:
                return True
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _too_deep_json_looks_like_jwk(key_bytes: bytes) -> bool:
    """Best-effort JWK sniffing for JSON too deeply nested for ``json.loads``.

    Any top-level object is refused; a top-level array only if some
    ``"kty":`` member name appears in it.
    """
    try:
        text = key_bytes.decode(json.detect_encoding(key_bytes), errors="surrogatepass")
    except UnicodeError:
        text = ""
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("{"):
        return True
    if not head.startswith("["):
        return False
    pos = text.find('"')
    while pos != -1:
        literal = _JSON_STRING.match(text, pos)
        if literal is None:  # unterminated string: nothing after it can match
            return False
        if _MEMBER_COLON.match(text, literal.end()):
            try:
                if json.loads(literal.group()) == "kty":
                    return True
            except ValueError:
                pass
        pos = text.find('"', literal.end())
    return False


class HMACAlgorithm(Algorithm):
    """HMAC with SHA-2 (HS256/HS384/HS512)."""

    SHA256: ClassVar[HashlibHash] = hashlib.sha256
    SHA384: ClassVar[HashlibHash] = hashlib.sha384
    SHA512: ClassVar[HashlibHash] = hashlib.sha512

    def __init__(self, hash_alg: HashlibHash) -> None:
        self.hash_alg = hash_alg

    @staticmethod
    def _is_der_key(key_bytes: bytes) -> bool:
        """True if *key_bytes* parse as a DER public key or certificate."""
        for loader in (load_der_public_key, x509.load_der_x509_certificate):
            try:
                loader(key_bytes)
            except (TypeError, ValueError, UnsupportedAlgorithm):
                continue
            return True
        return False

    def prepare_key(self, key: str | bytes) -> bytes:
        key_bytes = force_bytes(key)
        if not key_bytes:
            raise InvalidKeyError("HMAC key must not be empty.")

        # Algorithm-confusion defence: a token header can force HS* onto a
        # key meant for RS*/ES*/EdDSA, whose public half is no secret.
        if is_pem_format(key_bytes) or is_ssh_key(key_bytes) or self._is_der_key(key_bytes):
            raise InvalidKeyError(
                "The specified key is an asymmetric key or x509 certificate and should not be used as an HMAC secret."
            )

        # Same defence for JWK text: its bytes are not the secret material.
        # parse_int is stubbed so huge integers cannot make parsing fail and
        # slip a JWK past this check.
        try:
            parsed = json.loads(key_bytes, parse_int=lambda _: 0)
        except RecursionError:
            if _too_deep_json_looks_like_jwk(key_bytes):
                raise InvalidKeyError(_JWK_AS_HMAC_SECRET) from None
            parsed = None
        except ValueError:
            parsed = None
        if _holds_kty_member(parsed):
            raise InvalidKeyError(_JWK_AS_HMAC_SECRET)

        return key_bytes

    @staticmethod
    def to_jwk(key_obj: str | bytes, as_dict: bool = False) -> JWKDict | str:
        jwk = {"k": base64url_encode(force_bytes(key_obj)).decode(), "kty": "oct"}
        return _dump_jwk(jwk, as_dict)

    @staticmethod
    def from_jwk(jwk: str | JWKDict) -> bytes:
        obj = _jwk_to_dict(jwk)
        if obj.get("kty") != "oct":
            raise InvalidKeyError("Not an HMAC key")
        secret = base64url_decode(obj["k"])
        if not secret:
            raise InvalidKeyError("HMAC key must not be empty.")
        return secret

    def check_key_length(self, key: bytes) -> str | None:
        # RFC 7518 3.2: the key must be at least as long as the hash output.
        digest = self.hash_alg()
        if len(key) >= digest.digest_size:
            return None
        return (
            f"The HMAC key is {len(key)} bytes long, which is below the minimum "
            f"recommended length of {digest.digest_size} bytes for "
            f"{digest.name.upper()}. See RFC 7518 Section 3.2."
        )

    def sign(self, msg: bytes, key: bytes) -> bytes:
        return hmac.new(key, msg, self.hash_alg).digest()

    def verify(self, msg: bytes, key: bytes, sig: bytes) -> bool:
        return hmac.compare_digest(sig, self.sign(msg, key))


class RSAAlgorithm(Algorithm):
    """RSASSA-PKCS1-v1_5 (RS256/RS384/RS512)."""

    SHA256: ClassVar[type[hashes.HashAlgorithm]] = hashes.SHA256
    SHA384: ClassVar[type[hashes.HashAlgorithm]] = hashes.SHA384
    SHA512: ClassVar[type[hashes.HashAlgorithm]] = hashes.SHA512

    _crypto_key_types = (RSAPrivateKey, RSAPublicKey)
    _MIN_KEY_SIZE: ClassVar[int] = 2048

    def __init__(self, hash_alg: type[hashes.HashAlgorithm]) -> None:
        self.hash_alg = hash_alg

    def check_key_length(self, key: AllowedRSAKeys) -> str | None:
        if key.key_size >= self._MIN_KEY_SIZE:
            return None
        return (
            f"The RSA key is {key.key_size} bits long, which is below the minimum "
            f"recommended size of {self._MIN_KEY_SIZE} bits. See NIST SP 800-131A."
        )

    def _checked(self, key: Any) -> Any:
        self.check_crypto_key_type(key)
        return key

    def prepare_key(self, key: AllowedRSAKeys | str | bytes) -> AllowedRSAKeys:
        if isinstance(key, self._crypto_key_types):
            return key
        if not isinstance(key, (bytes, str)):
            raise TypeError("Expecting a PEM-formatted key.")

        key_bytes = force_bytes(key)
        # Private PEM (or an OpenSSH line) first; anything cryptography rejects
        # with ValueError gets a second chance as a public PEM.
        try:
            if key_bytes.startswith(b"ssh-rsa"):
                return self._checked(load_ssh_public_key(key_bytes))
            return self._checked(load_pem_private_key(key_bytes, password=None))
        except ValueError:
            pass
        try:
            return self._checked(load_pem_public_key(key_bytes))
        except (ValueError, UnsupportedAlgorithm):
            raise InvalidKeyError("Could not parse the provided public key.") from None

    @staticmethod
    def to_jwk(key_obj: AllowedRSAKeys, as_dict: bool = False) -> JWKDict | str:
        # Duck-typed like PyJWT: private keys expose private_numbers(),
        # public keys verify().
        if hasattr(key_obj, "private_numbers"):
            priv = key_obj.private_numbers()
            members = {
                "n": priv.public_numbers.n,
                "e": priv.public_numbers.e,
                "d": priv.d,
                "p": priv.p,
                "q": priv.q,
                "dp": priv.dmp1,
                "dq": priv.dmq1,
                "qi": priv.iqmp,
            }
            ops = "sign"
        elif hasattr(key_obj, "verify"):
            pub = key_obj.public_numbers()
            members = {"n": pub.n, "e": pub.e}
            ops = "verify"
        else:
            raise InvalidKeyError("Not a public or private key")

        jwk: JWKDict = {"kty": "RSA", "key_ops": [ops]}
        for name, number in members.items():
            jwk[name] = to_base64url_uint(number).decode()
        return _dump_jwk(jwk, as_dict)

    @staticmethod
    def from_jwk(jwk: str | JWKDict) -> AllowedRSAKeys:
        obj = _jwk_to_dict(jwk)
        if obj.get("kty") != "RSA":
            raise InvalidKeyError("Not an RSA key")

        if "d" in obj and "e" in obj and "n" in obj:
            if "oth" in obj:
                raise InvalidKeyError("Unsupported RSA private key: > 2 primes not supported")
            crt_names = ("p", "q", "dp", "dq", "qi")
            present = [name in obj for name in crt_names]
            if any(present) and not all(present):
                raise InvalidKeyError("RSA key must include all parameters if any are present besides d")

            public_numbers = RSAPublicNumbers(from_base64url_uint(obj["e"]), from_base64url_uint(obj["n"]))
            d = from_base64url_uint(obj["d"])
            if any(present):
                p, q, dp, dq, qi = (from_base64url_uint(obj[n]) for n in crt_names)
            else:
                # Only d given: recover the primes and the CRT values.
                p, q = rsa_recover_prime_factors(public_numbers.n, d, public_numbers.e)
                dp, dq, qi = rsa_crt_dmp1(d, p), rsa_crt_dmq1(d, q), rsa_crt_iqmp(p, q)
            return RSAPrivateNumbers(
                p=p, q=q, d=d, dmp1=dp, dmq1=dq, iqmp=qi, public_numbers=public_numbers
            ).private_key()

        if "n" in obj and "e" in obj:
            return RSAPublicNumbers(from_base64url_uint(obj["e"]), from_base64url_uint(obj["n"])).public_key()

        raise InvalidKeyError("Not a public or private key")

    def sign(self, msg: bytes, key: RSAPrivateKey) -> bytes:
        return key.sign(msg, padding.PKCS1v15(), self.hash_alg())

    def verify(self, msg: bytes, key: RSAPublicKey, sig: bytes) -> bool:
        if isinstance(key, RSAPrivateKey):
            # (PyJWT raises AttributeError here; a private key verifies with its public half)
            key = key.public_key()
        try:
            key.verify(sig, msg, padding.PKCS1v15(), self.hash_alg())
        except InvalidSignature:
            return False
        return True


class RSAPSSAlgorithm(RSAAlgorithm):
    """RSASSA-PSS with MGF1, salt length = hash length (PS256/PS384/PS512)."""

    def _pss(self) -> padding.PSS:
        return padding.PSS(
            mgf=padding.MGF1(self.hash_alg()),
            salt_length=self.hash_alg().digest_size,
        )

    def sign(self, msg: bytes, key: RSAPrivateKey) -> bytes:
        return key.sign(msg, self._pss(), self.hash_alg())

    def verify(self, msg: bytes, key: RSAPublicKey, sig: bytes) -> bool:
        if isinstance(key, RSAPrivateKey):
            # (PyJWT raises AttributeError here; a private key verifies with its public half)
            key = key.public_key()
        try:
            key.verify(sig, msg, self._pss(), self.hash_alg())
        except InvalidSignature:
            return False
        return True


# JWK "crv" name <-> cryptography curve class, with the coordinate size.
_EC_CURVES: dict[str, tuple[type[EllipticCurve], int]] = {
    "P-256": (SECP256R1, 32),
    "P-384": (SECP384R1, 48),
    "P-521": (SECP521R1, 66),
    "secp256k1": (SECP256K1, 32),
}


class ECAlgorithm(Algorithm):
    """ECDSA with SHA-2; signatures in JWS ``r || s`` form."""

    SHA256: ClassVar[type[hashes.HashAlgorithm]] = hashes.SHA256
    SHA384: ClassVar[type[hashes.HashAlgorithm]] = hashes.SHA384
    SHA512: ClassVar[type[hashes.HashAlgorithm]] = hashes.SHA512

    _crypto_key_types = (EllipticCurvePrivateKey, EllipticCurvePublicKey)

    def __init__(
        self,
        hash_alg: type[hashes.HashAlgorithm],
        expected_curve: type[EllipticCurve] | None = None,
    ) -> None:
        self.hash_alg = hash_alg
        self.expected_curve = expected_curve

    def _validate_curve(self, key: AllowedECKeys) -> None:
        """Refuse a key on another curve than the one the ``alg`` names."""
        expected = self.expected_curve
        if expected is not None and not isinstance(key.curve, expected):
            raise InvalidKeyError(
                f"The key's curve '{key.curve.name}' does not match the expected "
                f"curve '{expected.name}' for this algorithm"
            )

    def _checked(self, key: Any) -> Any:
        self.check_crypto_key_type(key)
        self._validate_curve(key)
        return key

    def prepare_key(self, key: AllowedECKeys | str | bytes) -> AllowedECKeys:
        if isinstance(key, self._crypto_key_types):
            self._validate_curve(key)
            return key
        if not isinstance(key, (bytes, str)):
            raise TypeError("Expecting a PEM-formatted key.")

        key_bytes = force_bytes(key)
        # Public first; only a ValueError from the public loaders falls back to
        # the private loader (whose own errors then propagate unchanged).
        public_key: Any  # (checked by _checked: only the EC key types pass)
        try:
            if key_bytes.startswith(b"ecdsa-sha2-"):
                public_key = load_ssh_public_key(key_bytes)
            else:
                public_key = load_pem_public_key(key_bytes)
        except ValueError:
            return self._checked(load_pem_private_key(key_bytes, password=None))
        return self._checked(public_key)

    def sign(self, msg: bytes, key: EllipticCurvePrivateKey) -> bytes:
        der_sig = key.sign(msg, ECDSA(self.hash_alg()))
        return der_to_raw_signature(der_sig, key.curve)

    def verify(self, msg: bytes, key: AllowedECKeys, sig: bytes) -> bool:
        try:
            der_sig = raw_to_der_signature(sig, key.curve)
        except ValueError:
            return False
        if isinstance(key, EllipticCurvePrivateKey):
            key = key.public_key()
        try:
            key.verify(der_sig, msg, ECDSA(self.hash_alg()))
        except InvalidSignature:
            return False
        return True

    @staticmethod
    def to_jwk(key_obj: AllowedECKeys, as_dict: bool = False) -> JWKDict | str:
        if isinstance(key_obj, EllipticCurvePrivateKey):
            public_numbers = key_obj.public_key().public_numbers()
        elif isinstance(key_obj, EllipticCurvePublicKey):
            public_numbers = key_obj.public_numbers()
        else:
            raise InvalidKeyError("Not a public or private key")

        curve = key_obj.curve
        for crv, (curve_cls, _) in _EC_CURVES.items():  # noqa: B007 (crv: the match, used below)
            if isinstance(curve, curve_cls):
                break
        else:
            raise InvalidKeyError(f"Invalid curve: {curve}")

        # Coordinates are fixed-width (RFC 7518 6.2.1.2), hence bit_length.
        def uint(value: int) -> str:
            return to_base64url_uint(value, bit_length=curve.key_size).decode()

        jwk: JWKDict = {
            "kty": "EC",
            "crv": crv,
            "x": uint(public_numbers.x),
            "y": uint(public_numbers.y),
        }
        if isinstance(key_obj, EllipticCurvePrivateKey):
            jwk["d"] = uint(key_obj.private_numbers().private_value)
        return _dump_jwk(jwk, as_dict)

    @staticmethod
    def from_jwk(jwk: str | JWKDict) -> AllowedECKeys:
        obj = _jwk_to_dict(jwk)
        if obj.get("kty") != "EC" or "x" not in obj or "y" not in obj:
            raise InvalidKeyError("Not an Elliptic curve key")

        x = base64url_decode(obj.get("x"))
        y = base64url_decode(obj.get("y"))

        crv = obj.get("crv")
        # Compared with == (not a dict lookup): crv may be any JSON value,
        # including unhashable ones.
        for name, (curve_cls, size) in _EC_CURVES.items():  # noqa: B007 (the match, used below)
            if crv == name:
                break
        else:
            raise InvalidKeyError(f"Invalid curve: {crv}")
        if not len(x) == len(y) == size:
            raise InvalidKeyError(f"Coords should be {size} bytes for curve {name}")

        public_numbers = EllipticCurvePublicNumbers(
            x=int.from_bytes(x, byteorder="big"),
            y=int.from_bytes(y, byteorder="big"),
            curve=curve_cls(),
        )
        if "d" not in obj:
            return public_numbers.public_key()

        d = base64url_decode(obj.get("d"))
        if len(d) != len(x):
            # PyJWT passes the values as extra exception args rather than
            # formatting them; kept identical since callers may inspect args.
            raise InvalidKeyError("D should be {} bytes for curve {}", len(x), crv)
        return EllipticCurvePrivateNumbers(int.from_bytes(d, byteorder="big"), public_numbers).private_key()


def _utf8(value: Any) -> Any:
    # Only str is converted; other buffers go to cryptography untouched.
    return value.encode("utf-8") if isinstance(value, str) else value


class OKPAlgorithm(Algorithm):
    """EdDSA over Ed25519 or Ed448 (``alg: EdDSA``)."""

    _crypto_key_types = (
        Ed25519PrivateKey,
        Ed25519PublicKey,
        Ed448PrivateKey,
        Ed448PublicKey,
    )

    def __init__(self, **kwargs: Any) -> None:
        pass

    def prepare_key(self, key: AllowedOKPKeys | str | bytes) -> AllowedOKPKeys:
        if not isinstance(key, (str, bytes)):
            self.check_crypto_key_type(key)
            return key

        key_str = key if isinstance(key, str) else key.decode("utf-8")
        key_bytes = key if isinstance(key, bytes) else key.encode("utf-8")

        loaded: Any  # (checked by check_crypto_key_type: only the OKP key types pass)
        if "-----BEGIN PUBLIC" in key_str:
            loaded = load_pem_public_key(key_bytes)
        elif "-----BEGIN PRIVATE" in key_str:
            loaded = load_pem_private_key(key_bytes, password=None)
        elif key_str.startswith("ssh-"):
            loaded = load_ssh_public_key(key_bytes)
        else:
            raise InvalidKeyError("Not a public or private key")

        self.check_crypto_key_type(loaded)
        return loaded

    def sign(self, msg: str | bytes, key: Ed25519PrivateKey | Ed448PrivateKey) -> bytes:
        """Sign *msg* (str is UTF-8 encoded) with an Ed25519/Ed448 private key."""
        return key.sign(_utf8(msg))

    def verify(self, msg: str | bytes, key: AllowedOKPKeys, sig: str | bytes) -> bool:
        """Check *sig* over *msg* with an Ed25519/Ed448 key (private keys allowed)."""
        try:
            if isinstance(key, (Ed25519PrivateKey, Ed448PrivateKey)):
                key = key.public_key()
            key.verify(_utf8(sig), _utf8(msg))
        except InvalidSignature:
            return False
        return True

    @staticmethod
    def _crv(key: Any) -> str:
        return "Ed25519" if isinstance(key, (Ed25519PublicKey, Ed25519PrivateKey)) else "Ed448"

    @staticmethod
    def to_jwk(key: AllowedOKPKeys, as_dict: bool = False) -> JWKDict | str:
        def raw_public(pub: Any) -> str:
            raw = pub.public_bytes(encoding=Encoding.Raw, format=PublicFormat.Raw)
            return base64url_encode(raw).decode()

        # Member order (x, [d,] kty, crv) follows PyJWT so the JSON text matches.
        if isinstance(key, (Ed25519PublicKey, Ed448PublicKey)):
            jwk: JWKDict = {"x": raw_public(key)}
        elif isinstance(key, (Ed25519PrivateKey, Ed448PrivateKey)):
            raw_d = key.private_bytes(
                encoding=Encoding.Raw,
                format=PrivateFormat.Raw,
                encryption_algorithm=NoEncryption(),
            )
            jwk = {"x": raw_public(key.public_key()), "d": base64url_encode(raw_d).decode()}
        else:
            raise InvalidKeyError("Not a public or private key")
        jwk["kty"] = "OKP"
        jwk["crv"] = OKPAlgorithm._crv(key)
        return _dump_jwk(jwk, as_dict)

    @staticmethod
    def from_jwk(jwk: str | JWKDict) -> AllowedOKPKeys:
        obj = _jwk_to_dict(jwk)
        if obj.get("kty") != "OKP":
            raise InvalidKeyError("Not an Octet Key Pair")

        crv = obj.get("crv")
        if crv != "Ed25519" and crv != "Ed448":
            raise InvalidKeyError(f"Invalid curve: {crv}")
        if "x" not in obj:
            raise InvalidKeyError('OKP should have "x" parameter')
        x = base64url_decode(obj.get("x"))

        ed25519 = crv == "Ed25519"
        try:
            if "d" not in obj:
                public_cls = Ed25519PublicKey if ed25519 else Ed448PublicKey
                return public_cls.from_public_bytes(x)
            private_cls = Ed25519PrivateKey if ed25519 else Ed448PrivateKey
            private_key = private_cls.from_private_bytes(base64url_decode(obj.get("d")))
            derived_x = private_key.public_key().public_bytes(encoding=Encoding.Raw, format=PublicFormat.Raw)
            if derived_x != x:
                raise InvalidKeyError("Public key does not match private key")
            return private_key
        except ValueError as err:
            raise InvalidKeyError("Invalid key parameter") from err
