"""The differential corpus: turbojwt against PyJWT 2.15.1 (the tests are
tests/compat/test_differential_*.py; tests/native/test_verifier.py reuses the corpus).

Every case computes PyJWT's verdict and turbojwt's verdict for the same call
(claims / return value, or exception class name + message, plus the warnings
emitted) and requires them to be equal, except for the deliberate, documented
deviations where turbojwt is stricter (or, for key formats, more lenient):

  D1 padding   base64url segments carrying '=' padding are refused with
               DecodeError (RFC 7515 section 2 forbids padding; PyJWT accepts
               it, e.g. for AWS ALB tokens).
  D2 dup       duplicate member names in the header or claims JSON are refused
               with DecodeError (PyJWT keeps the last one, so two parsers can
               disagree on "alg" or "exp").
  D3 utf       header/claims JSON that is not UTF-8 (UTF-16/32, which Python's
               json.loads auto-detects) is refused with DecodeError
               (RFC 8259 section 8.1 requires UTF-8 between systems); so are
               escapes of lone surrogates ("\\ud800"), which denote no Unicode
               scalar value and cannot be held in UTF-8.
  D4 limits    tokens longer than 1 MiB and JSON nested deeper than 64 levels
               are refused with DecodeError (resource limits).
  D5 digits    exp/nbf/iat given as strings of non-ASCII digits are refused
               (PyJWT's int() accepts e.g. Arabic-Indic digits); turbojwt
               treats them like any other non-integer string.
  D6 crit      duplicate names in the crit header ("b64" twice) are refused with
               InvalidTokenError (RFC 7515 section 4.1.11 forbids them).
  U  key use   a PyJWK whose "use" is not "sig" or whose "key_ops" lack "verify"
               (PyJWT writes RSA private JWKs with "key_ops": ["sign"]) is refused
               for verification with InvalidKeyError (RFC 7517 section 4.2-4.3).
  K  keys      X.509 certificate PEM and DER SubjectPublicKeyInfo keys are
               accepted for RS*/PS*/ES*/EdDSA (PyJWT raises), and an RSA
               private key may be used to verify (its public half is used;
               PyJWT fails with AttributeError).  turbojwt's verdict must then
               equal PyJWT's verdict with the equivalent public PEM key.

Exception messages must match exactly, except where PyJWT's message embeds an
object repr (key-type errors such as "Expected one of <generator object ...>")
or is produced by ``cryptography``/the interpreter rather than PyJWT itself
(ValueError/AttributeError from key loading); there only the class is compared.

The corpus (``CASES``) is generated from itertools products of signers,
claim shapes, option sets, key forms and token mutations. ``decode_concern``
says which test module runs a decode case: claims (claim shapes x option sets),
tokens (token mutations) or keys (key forms, wrong keys, short keys).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import jwt
import jwt.algorithms
import jwt.api_jws
import jwt.api_jwt

import turbojwt
from helpers.verdicts import Verdict, _resolve, assert_same_verdict, verdict

# ==========================================================================
# constants, signers, helpers
# ==========================================================================

NOW = int(time.time())
FUT = NOW + 86400  # clearly in the future (1 day)
PAST = NOW - 86400  # clearly in the past (1 day)
SOON = NOW + 600  # future, but inside a 3600 s leeway
RECENT = NOW - 600  # past, but inside a 3600 s leeway
AUD = "urn:turbojwt:audience"
ISS = "https://issuer.example"
SUB = "user-1234"

ALGS = [
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
    "EdDSA",
]

# signer id -> (alg, keyring name)
SIGNERS: dict[str, tuple[str, str]] = {
    "HS256": ("HS256", "hs256"),
    "HS384": ("HS384", "hs384"),
    "HS512": ("HS512", "hs512"),
    "RS256": ("RS256", "rsa"),
    "RS384": ("RS384", "rsa"),
    "RS512": ("RS512", "rsa"),
    "PS256": ("PS256", "rsa"),
    "PS384": ("PS384", "rsa"),
    "PS512": ("PS512", "rsa"),
    "ES256": ("ES256", "p256"),
    "ES256K": ("ES256K", "secp256k1"),
    "ES384": ("ES384", "p384"),
    "ES512": ("ES512", "p521"),
    "EdDSA": ("EdDSA", "ed25519"),
    "EdDSA-Ed448": ("EdDSA", "ed448"),
    # short keys, used to check InsecureKeyLengthWarning / enforce_minimum_key_length
    "HS256-short": ("HS256", "hs_short"),
    "RS256-1024": ("RS256", "rsa1024"),
}
MAIN_SIGNERS = [s for s in SIGNERS if not s.endswith(("-short", "-1024"))]
DETERMINISTIC_SIGNERS = [s for s in MAIN_SIGNERS if SIGNERS[s][0][:2] in ("HS", "RS", "Ed")]
RSA_ALGS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

KEY_KIND = {
    "hs256": "oct",
    "hs384": "oct",
    "hs512": "oct",
    "hs_short": "oct",
    "rsa": "RSA",
    "rsa2": "RSA",
    "rsa1024": "RSA",
    "p256": "EC",
    "p384": "EC",
    "p521": "EC",
    "secp256k1": "EC",
    "ed25519": "OKP",
    "ed448": "OKP",
}
NO_SSH = {"secp256k1", "ed448"}  # OpenSSH has no encoding for these

# the "other" algorithm each signer's token is re-labelled with
SIBLING = {
    "HS256": "HS384",
    "HS384": "HS512",
    "HS512": "HS256",
    "RS256": "PS256",
    "RS384": "RS512",
    "RS512": "RS256",
    "PS256": "RS256",
    "PS384": "PS512",
    "PS512": "PS256",
    "ES256": "ES256K",
    "ES256K": "ES256",
    "ES384": "ES512",
    "ES512": "ES384",
    "EdDSA": "ES256",
}

_PY_ALGS = jwt.algorithms.get_default_algorithms()


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def raw_sign(alg: str, km: Any, signing_input: bytes) -> bytes:
    """Sign arbitrary bytes with PyJWT's algorithm objects (no JSON involved)."""
    if alg == "none":
        return b""
    algo = _PY_ALGS[alg]
    key = km.secret if km.kind == "oct" else km.private
    return algo.sign(signing_input, algo.prepare_key(key))


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


# ==========================================================================
# claim shapes
# ==========================================================================

_ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _time_shapes(claim: str) -> dict[str, Any]:
    # a value PyJWT accepts for this claim: future for exp, past for nbf/iat
    good = FUT if claim == "exp" else PAST
    return {
        f"{claim}_past": {claim: PAST},
        f"{claim}_future": {claim: FUT},
        f"{claim}_recent": {claim: RECENT},
        f"{claim}_soon": {claim: SOON},
        f"{claim}_float_past": {claim: PAST + 0.75},
        f"{claim}_float_future": {claim: FUT + 0.25},
        f"{claim}_numstr_past": {claim: str(PAST)},
        f"{claim}_numstr_future": {claim: str(FUT)},
        f"{claim}_numstr_spaces": {claim: f" {good} "},
        f"{claim}_numstr_plus": {claim: f"+{good}"},
        f"{claim}_numstr_underscore": {claim: "1_000"},
        f"{claim}_numstr_float": {claim: f"{good}.5"},
        f"{claim}_junk": {claim: "not-a-number"},
        f"{claim}_true": {claim: True},
        f"{claim}_false": {claim: False},
        f"{claim}_null": {claim: None},
        f"{claim}_zero": {claim: 0},
        f"{claim}_negative": {claim: -5},
        f"{claim}_bigint": {claim: 10**30},
        f"{claim}_neg_bigint": {claim: -(10**30)},
        f"{claim}_hugefloat": {claim: 1e300},
        f"{claim}_list": {claim: [good]},
        f"{claim}_object": {claim: {"t": good}},
        # D5: non-ASCII digits; PyJWT's int() accepts them
        f"{claim}_arabic_digits": {claim: str(good).translate(_ARABIC)},
        f"{claim}_fullwidth_digits": {claim: str(good).translate(_FULLWIDTH)},
    }


CLAIM_SHAPES: dict[str, Any] = {
    "empty": {},
    "twelve": {
        "iss": ISS,
        "sub": SUB,
        "aud": AUD,
        "exp": FUT,
        "nbf": PAST,
        "iat": PAST,
        "jti": "id-1",
        "name": "Ada",
        "admin": True,
        "roles": ["a", "b"],
        "scope": "read write",
        "n": 42,
    },
    "all_valid": {
        "iss": ISS,
        "sub": SUB,
        "aud": [AUD, "other"],
        "exp": FUT,
        "nbf": PAST,
        "iat": PAST,
        "jti": "id-2",
    },
    "nested": {"ctx": {"a": [1, {"b": None, "c": [True, 2.5, "x"]}], "d": {}}, "e": [[], [[]]], "exp": FUT},
    "unicode": {"name": "Zoë ☃ 𝄞 中文", "rtl": "שלום", "emoji": "🙂👍🏽", "nfd": "e\u0301"},
    "unicode_keys": {"ключ": "значение", "🔑": 1, "": "empty key"},
    "escapes": {"q": 'quote" back\\ slash / \b\f\n\r\t', "ctrl": "\x00\x1f\x7f", "ls": "\u2028\u2029"},
    "many_claims": {f"c{i:03d}": i for i in range(200)},
    "long_string": {"s": "x" * 5000, "exp": FUT},
    "bigints": {"big": 2**64 + 1, "neg": -(2**70), "huge": 10**300, "exp": 10**20},
    "floats": {
        "f": 1.5,
        "tiny": 5e-324,
        "negzero": -0.0,
        "max": 1.7976931348623157e308,
        "third": 1 / 3,
        "exp": FUT + 0.5,
    },
    "aud_str": {"aud": AUD},
    "aud_list": {"aud": [AUD, "other"]},
    "aud_list_other": {"aud": ["x", "y"]},
    "aud_empty_list": {"aud": []},
    "aud_empty_str": {"aud": ""},
    "aud_int": {"aud": 5},
    "aud_zero": {"aud": 0},
    "aud_mixed": {"aud": [AUD, 5]},
    "aud_null": {"aud": None},
    "aud_object": {"aud": {"a": AUD}},
    "aud_nested_list": {"aud": [[AUD]]},
    "iss": {"iss": ISS},
    "iss_other": {"iss": "https://evil.example"},
    "iss_int": {"iss": 7},
    "iss_list": {"iss": [ISS]},
    "iss_null": {"iss": None},
    "iss_empty": {"iss": ""},
    "sub": {"sub": SUB},
    "sub_other": {"sub": "mallory"},
    "sub_int": {"sub": 1},
    "sub_null": {"sub": None},
    "sub_list": {"sub": [SUB]},
    "jti": {"jti": "abc"},
    "jti_empty": {"jti": ""},
    "jti_int": {"jti": 1},
    "jti_list": {"jti": ["a"]},
    "jti_null": {"jti": None},
    "jti_bool": {"jti": False},
    **_time_shapes("exp"),
    **_time_shapes("nbf"),
    **_time_shapes("iat"),
}

# D5 shapes and the "junk string" shape whose PyJWT verdict turbojwt must give
CLAIM_SHADOW = {f"{c}_{kind}_digits": f"{c}_junk" for c in ("exp", "nbf", "iat") for kind in ("arabic", "fullwidth")}
BASE_CLAIMS = {"sub": SUB, "name": "base", "iat": PAST, "exp": FUT}
OTHER_CLAIMS = {"sub": "mallory", "admin": True, "exp": FUT}


# ==========================================================================
# option sets (decode keyword arguments)
# ==========================================================================

_ALL_VERIFY = ("exp", "nbf", "iat", "aud", "iss", "sub", "jti")

OPTION_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "no_sig": {"options": {"verify_signature": False}},
    "no_sig_no_algs": {"options": {"verify_signature": False}, "algorithms": None},
    "no_sig_verify_exp": {"options": {"verify_signature": False, "verify_exp": True}},
    "no_sig_verify_all": {
        "options": {"verify_signature": False, **{f"verify_{c}": True for c in _ALL_VERIFY}},
        "audience": AUD,
        "issuer": ISS,
    },
    **{f"no_{c}": {"options": {f"verify_{c}": False}} for c in _ALL_VERIFY},
    "all_claim_checks_off": {"options": {f"verify_{c}": False for c in _ALL_VERIFY}},
    "no_aud_with_audience": {"options": {"verify_aud": False}, "audience": "nope"},
    "no_iss_with_issuer": {"options": {"verify_iss": False}, "issuer": "nope"},
    "require_exp": {"options": {"require": ["exp"]}},
    "require_time": {"options": {"require": ["exp", "iat", "nbf"]}},
    "require_ids": {"options": {"require": ["iss", "sub", "jti", "aud"]}, "audience": AUD},
    "require_unknown": {"options": {"require": ["foo"]}},
    "require_with_no_sig": {"options": {"verify_signature": False, "require": ["exp"]}},
    "strict_aud": {"audience": AUD, "options": {"strict_aud": True}},
    "strict_aud_list": {"audience": [AUD], "options": {"strict_aud": True}},
    "strict_aud_wrong": {"audience": "nope", "options": {"strict_aud": True}},
    "aud": {"audience": AUD},
    "aud_list": {"audience": [AUD, "other"]},
    "aud_tuple": {"audience": ("other", AUD)},
    "aud_wrong": {"audience": "nope"},
    "aud_wrong_list": {"audience": ["nope"]},
    "aud_empty_list": {"audience": []},
    "aud_empty_str": {"audience": ""},
    "aud_int": {"audience": 123},
    "iss": {"issuer": ISS},
    "iss_list": {"issuer": [ISS, "x"]},
    "iss_tuple": {"issuer": ("x", ISS)},
    "iss_frozenset": {"issuer": frozenset({ISS})},
    "iss_wrong": {"issuer": "nope"},
    "iss_wrong_list": {"issuer": ["nope"]},
    "iss_int": {"issuer": 5},
    "sub": {"subject": SUB},
    "sub_wrong": {"subject": "nope"},
    "leeway_int": {"leeway": 3600},
    "leeway_float": {"leeway": 3600.5},
    "leeway_timedelta": {"leeway": dt.timedelta(hours=2)},
    "leeway_negative": {"leeway": -7200},
    "leeway_small": {"leeway": 10},
    "enforce_min_key": {"options": {"enforce_minimum_key_length": True}},
    "legacy_verify_false": {"verify": False},
    "legacy_verify_true": {"verify": True},
    "unknown_kwarg": {"foo": "bar"},
    "algs_multi": {"algorithms": lambda alg: ["HS512", alg, "RS256"]},
    "algs_tuple": {"algorithms": lambda alg: (alg,)},
    "algs_bare_string": {"algorithms": lambda alg: alg},
    "algs_other": {"algorithms": ["HS999"]},
    "algs_none": {"algorithms": None},
    "algs_empty": {"algorithms": []},
    "everything": {
        "audience": AUD,
        "issuer": ISS,
        "subject": SUB,
        "leeway": 10,
        "options": {"require": ["exp", "iat", "iss", "sub", "aud"], "strict_aud": False},
    },
}

# keyword arguments a PyJWS-level call understands
_JWS_KWARGS = {"algorithms", "options", "detached_payload"}


# ==========================================================================
# keys in every form
# ==========================================================================

KEY_FORMS_OCT = [
    "pem",
    "pem_bytes",
    "pyjwk",
    "pyjwk_noalg",
    "jwk_dict",
    "jwk_json",
    "none",
    "empty",
    "int",
    "bytearray",
]
KEY_FORMS_ASYM = [
    "pem",
    "pem_bytes",
    "obj",
    "priv_pem",
    "priv_pem_bytes",
    "priv_obj",
    "pyjwk",
    "pyjwk_priv",
    "pyjwk_noalg",
    "ssh",
    "ssh_bytes",
    "jwk_dict",
    "jwk_json",
    "cert",
    "cert_bytes",
    "der",
    "none",
    "empty",
    "int",
]


def key_form_applies(keyname: str, form: str) -> bool:
    kind = KEY_KIND[keyname]
    if kind == "oct":
        return form in KEY_FORMS_OCT
    if form in ("ssh", "ssh_bytes") and keyname in NO_SSH:
        return False
    return form in KEY_FORMS_ASYM


def make_key(mod: Any, km: Any, form: str, alg: str) -> Any:
    """Build the verification key ``form`` of key ``km`` for module ``mod``
    (PyJWK objects are built with the module's own PyJWK class)."""
    oct_ = km.kind == "oct"
    if form == "pem":
        return km.secret_str if oct_ else km.public_pem
    if form == "pem_bytes":
        return km.secret if oct_ else km.public_pem_bytes
    if form == "bytearray":
        return bytearray(km.secret)
    if form == "obj":
        return km.public
    if form == "priv_pem":
        return km.private_pem
    if form == "priv_pem_bytes":
        return km.private_pem_bytes
    if form == "priv_obj":
        return km.private
    if form == "pyjwk":
        return mod.PyJWK(copy.deepcopy(km.public_jwk), alg)
    if form == "pyjwk_priv":
        return mod.PyJWK(copy.deepcopy(km.private_jwk), alg)
    if form == "pyjwk_noalg":
        return mod.PyJWK(copy.deepcopy(km.public_jwk))
    if form == "ssh":
        return km.ssh
    if form == "ssh_bytes":
        return km.ssh.encode()
    if form == "jwk_dict":
        return copy.deepcopy(km.public_jwk)
    if form == "jwk_json":
        return json.dumps(km.public_jwk)
    if form == "cert":
        return km.cert_pem
    if form == "cert_bytes":
        return km.cert_pem.encode()
    if form == "der":
        return km.public_der
    if form == "none":
        return None
    if form == "empty":
        return ""
    if form == "int":
        return 12345
    raise AssertionError(f"unknown key form {form}")


def secret_material(km: Any, form: str) -> bytes:
    """Bytes of a key form, as an attacker would use them as an HMAC secret."""
    return {
        "pem": lambda: km.public_pem.encode(),
        "ssh": lambda: km.ssh.encode(),
        "cert": lambda: km.cert_pem.encode(),
        "der": lambda: km.public_der,
        "jwk_json": lambda: json.dumps(km.public_jwk).encode(),
    }[form]()


# ==========================================================================
# token mutations
# ==========================================================================


class Ctx:
    """Token-building context for one signer."""

    def __init__(self, ring: dict, signer: str) -> None:
        self.ring = ring
        self.signer = signer
        self.alg, self.keyname = SIGNERS[signer]
        self.km = ring[self.keyname]
        self._valid: Optional[str] = None
        self._other: Optional[str] = None

    def header(self, **extra: Any) -> dict:
        return {"alg": self.alg, "typ": "JWT", **extra}

    def sign(
        self,
        header: Any = None,
        payload: Any = None,
        *,
        alg: Optional[str] = None,
        sig: Optional[bytes] = None,
        raw_payload: bool = False,
        detached: bool = False,
        pad: str = "",
    ) -> str:
        """Build a compact token.  ``header``/``payload`` may be dicts or raw
        bytes.  ``raw_payload``: the payload goes into the signing input
        unencoded (RFC 7797).  ``detached``: the payload segment is emptied.
        ``pad``: which of "h", "p" get '=' padding before signing."""
        hb = dumps(self.header() if header is None else header) if not isinstance(header, bytes) else header
        pb = dumps(BASE_CLAIMS if payload is None else payload) if not isinstance(payload, bytes) else payload
        hseg = b64e(hb)
        pseg = pb.decode("latin-1") if raw_payload else b64e(pb)
        if "h" in pad:
            hseg += "=" * (-len(hseg) % 4)
        if "p" in pad:
            pseg += "=" * (-len(pseg) % 4)
        signing_input = f"{hseg}.{pseg}"
        if sig is None:
            sig = raw_sign(alg or self.alg, self.km, signing_input.encode("latin-1"))
        if detached:
            pseg = ""
        return f"{hseg}.{pseg}.{b64e(sig)}"

    @property
    def valid(self) -> str:
        if self._valid is None:
            self._valid = self.sign()
        return self._valid

    @property
    def other(self) -> str:
        if self._other is None:
            self._other = self.sign(self.header(kid="other"), OTHER_CLAIMS)
        return self._other

    @property
    def parts(self) -> list[str]:
        return self.valid.split(".")

    def with_sig(self, sig: bytes) -> str:
        h, p, _ = self.parts
        return f"{h}.{p}.{b64e(sig)}"

    @property
    def sig(self) -> bytes:
        return b64d(self.parts[2])


def _mid_char_swap(segment: str) -> str:
    i = len(segment) // 2
    c = "A" if segment[i] != "A" else "B"
    return segment[:i] + c + segment[i + 1 :]


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _padded_kid_header(ctx: Ctx) -> dict:
    # choose a kid length so that the header's base64url form needs padding
    for n in range(1, 8):
        h = ctx.header(kid="k" * n)
        if len(b64e(dumps(h))) % 4:
            return h
    raise AssertionError("unreachable")


def _padded_payload(ctx: Ctx) -> dict:
    for n in range(1, 8):
        p = {**BASE_CLAIMS, "pad": "p" * n}
        if len(b64e(dumps(p))) % 4:
            return p
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Dev:
    """A deliberate deviation.

    kind:   "strict"  turbojwt must raise exactly DecodeError;
            "either"  turbojwt's verdict equals PyJWT's or is DecodeError;
            "shadow"  turbojwt's verdict must equal PyJWT's verdict for the
                      shadow case (see ``shadow_mut``/``shadow_keyform``);
            "crit"    InvalidTokenError for duplicate crit names (D6);
            "keyuse"  InvalidKeyError for a JWK that must not verify (U).
    scope:  "token"   applies to every entry point that parses the token;
            "claims"  only where the claims JSON is parsed/validated
                      (api_jwt-level decode/decode_complete/PyJWT().decode).
    """

    kind: str
    scope: str
    reason: str
    shadow_mut: Optional[str] = None
    shadow_keyform: Optional[str] = None


@dataclass(frozen=True)
class Mut:
    name: str
    build: Callable[[Ctx], Any]
    extra: Optional[Callable[[Ctx], dict]] = None
    dev: Optional[Dev] = None
    applies: Callable[[str], bool] = lambda signer: True


MUTATIONS: dict[str, Mut] = {}


def mut(
    name: str,
    build: Callable[[Ctx], Any],
    *,
    extra: Any = None,
    dev: Optional[Dev] = None,
    applies: Callable[[str], bool] = lambda signer: True,
) -> None:
    if isinstance(extra, dict):
        fixed = extra
        extra = lambda ctx: dict(fixed)  # noqa: E731
    MUTATIONS[name] = Mut(name, build, extra, dev, applies)


_asym = lambda signer: KEY_KIND[SIGNERS[signer][1]] != "oct"  # noqa: E731
_asym_ssh = lambda signer: _asym(signer) and SIGNERS[signer][1] not in NO_SSH  # noqa: E731

D1 = "D1: RFC 7515 section 2 forbids base64url padding; PyJWT accepts '=' padded segments"
D2 = "D2: duplicate member names let two JSON parsers disagree (PyJWT keeps the last)"
D3 = "D3: JOSE JSON must be UTF-8; PyJWT's json.loads auto-detects UTF-16/32"
D4 = "D4: resource limits (token > 1 MiB, JSON nesting > 64)"
D5 = "D5: non-ASCII digit strings are not integers (PyJWT's int() accepts them)"
D6 = "D6: RFC 7515 section 4.1.11 forbids duplicate names in crit (PyJWT accepts them)"

# --- signature tampering ---------------------------------------------------
mut("valid", lambda c: c.valid)
mut("sig_flip_first", lambda c: c.with_sig(bytes([c.sig[0] ^ 0x01]) + c.sig[1:]))
mut("sig_flip_last", lambda c: c.with_sig(c.sig[:-1] + bytes([c.sig[-1] ^ 0x80])))
mut("sig_truncated", lambda c: c.with_sig(c.sig[:-1]))
mut("sig_extended", lambda c: c.with_sig(c.sig + b"\x00"))
mut("sig_empty", lambda c: c.with_sig(b""))
mut("sig_zeros", lambda c: c.with_sig(b"\x00" * len(c.sig)))
mut("sig_char_changed", lambda c: ".".join(c.parts[:2] + [_mid_char_swap(c.parts[2])]))
mut("sig_last_char_changed", lambda c: c.valid[:-1] + ("A" if c.valid[-1] != "A" else "B"))
mut("payload_swapped", lambda c: f"{c.parts[0]}.{c.other.split('.')[1]}.{c.parts[2]}")
mut("header_swapped", lambda c: f"{c.other.split('.')[0]}.{c.parts[1]}.{c.parts[2]}")
mut("sig_from_other_token", lambda c: f"{c.parts[0]}.{c.parts[1]}.{c.other.split('.')[2]}")
mut("payload_char_changed", lambda c: f"{c.parts[0]}.{_mid_char_swap(c.parts[1])}.{c.parts[2]}")

# --- alg none ------------------------------------------------------------
for _variant in ("none", "None", "NONE"):
    mut(f"alg_{_variant}_nosig", lambda c, v=_variant: c.sign(c.header(alg=v), sig=b""))
    mut(f"alg_{_variant}_with_sig", lambda c, v=_variant: c.sign(c.header(alg=v), sig=c.sig))
    mut(
        f"alg_{_variant}_allowed",
        lambda c, v=_variant: c.sign(c.header(alg=v), sig=b""),
        extra=lambda c, v=_variant: {"algorithms": [c.alg, v]},
    )
mut(
    "alg_none_allowed_null_key",
    lambda c: c.sign(c.header(alg="none"), sig=b""),
    extra={"algorithms": ["none"], "__key__": None},
)
mut(
    "alg_none_allowed_empty_key",
    lambda c: c.sign(c.header(alg="none"), sig=b""),
    extra={"algorithms": ["none"], "__key__": ""},
)
mut(
    "alg_none_unverified",
    lambda c: c.sign(c.header(alg="none"), sig=b""),
    extra={"options": {"verify_signature": False}},
)

# --- header alg changed ------------------------------------------------------
mut("alg_sibling_not_allowed", lambda c: c.sign(c.header(alg=SIBLING[c.alg]), sig=c.sig))
mut(
    "alg_sibling_allowed",
    lambda c: c.sign(c.header(alg=SIBLING[c.alg]), sig=c.sig),
    extra=lambda c: {"algorithms": [c.alg, SIBLING[c.alg]]},
)
mut(
    "alg_sibling_resigned",
    lambda c: c.sign(c.header(alg=SIBLING[c.alg])),
    extra=lambda c: {"algorithms": [c.alg, SIBLING[c.alg]]},
)
mut("alg_missing", lambda c: c.sign({"typ": "JWT"}))
mut("alg_null", lambda c: c.sign(c.header(alg=None)))
mut("alg_empty", lambda c: c.sign(c.header(alg="")))
mut("alg_int", lambda c: c.sign(c.header(alg=256)))
mut("alg_list", lambda c: c.sign(c.header(alg=[c.alg])))
mut(
    "alg_lowercase",
    lambda c: c.sign(c.header(alg=c.alg.lower())),
    extra=lambda c: {"algorithms": [c.alg, c.alg.lower()]},
)
mut("alg_unknown_allowed", lambda c: c.sign(c.header(alg="HS1024")), extra=lambda c: {"algorithms": [c.alg, "HS1024"]})

# --- algorithm confusion: HS256 signed with the public key as secret --------
for _form in ("pem", "ssh", "cert", "der", "jwk_json"):
    mut(
        f"confusion_hs256_{_form}",
        lambda c, f=_form: c.sign(
            {"alg": "HS256", "typ": "JWT"},
            sig=hmac.new(
                secret_material(c.km, f),
                c.sign({"alg": "HS256", "typ": "JWT"}, sig=b"").rsplit(".", 1)[0].encode(),
                hashlib.sha256,
            ).digest(),
        ),
        extra=lambda c, f=_form: {"algorithms": [c.alg, "HS256"], "__keyform__": f},
        applies=_asym_ssh if _form == "ssh" else _asym,
    )

# --- structure -------------------------------------------------------------
mut("two_segments", lambda c: ".".join(c.parts[:2]))
mut("one_segment", lambda c: c.parts[0])
mut("four_segments", lambda c: c.valid + "." + c.parts[2])
mut("five_segments", lambda c: ".".join([c.parts[0], "", c.parts[1], c.parts[1], c.parts[2]]))
mut("empty_string", lambda c: "")
mut("dots_only", lambda c: "..")
mut("trailing_dot", lambda c: c.valid + ".")
mut("leading_dot", lambda c: "." + c.valid)
mut("header_bad_chars", lambda c: f"!!!!.{c.parts[1]}.{c.parts[2]}")
mut("payload_bad_chars", lambda c: f"{c.parts[0]}.$$$$.{c.parts[2]}")
mut("sig_bad_chars", lambda c: f"{c.parts[0]}.{c.parts[1]}.++//")
mut(
    "header_std_b64",
    lambda c: f"{base64.b64encode(dumps(c.header(kid='>>>???'))).decode().rstrip('=')}.{c.parts[1]}.{c.parts[2]}",
)
mut("header_len_mod4_1", lambda c: f"{c.parts[0]}A.{c.parts[1]}.{c.parts[2]}")
mut("space_inside", lambda c: c.valid[:10] + " " + c.valid[10:])
mut("trailing_newline", lambda c: c.valid + "\n")
mut("non_ascii_char", lambda c: f"{c.parts[0]}.{c.parts[1][:5]}é{c.parts[1][6:]}.{c.parts[2]}")
mut("bytes_token", lambda c: c.valid.encode())
mut("bytearray_token", lambda c: bytearray(c.valid.encode()))
mut("int_token", lambda c: 12345)
mut("none_token", lambda c: None)

# --- header JSON -------------------------------------------------------------
mut("header_not_json", lambda c: c.sign(b"not json"))
mut("header_array", lambda c: c.sign(b'["alg"]'))
mut("header_string", lambda c: c.sign(b'"HS256"'))
mut("header_number", lambda c: c.sign(b"42"))
mut("header_null", lambda c: c.sign(b"null"))
mut("header_empty_object", lambda c: c.sign(b"{}"))
mut("header_empty_bytes", lambda c: c.sign(b""))
# invalid UTF-8 is refused by both; D3 makes "not UTF-8" turbojwt's own DecodeError (message may differ)
mut(
    "header_invalid_utf8",
    lambda c: c.sign(b'{"alg":"%s","x":"\xff"}' % c.alg.encode()),
    dev=Dev("strict", "token", D3 + " (invalid UTF-8 bytes)"),
)
mut("header_trailing_garbage", lambda c: c.sign(dumps(c.header()) + b" x"))
mut("header_whitespace", lambda c: c.sign(b' \n{ "alg" : "%s" ,\t"typ":"JWT" }\r\n' % c.alg.encode()))
mut("header_nan", lambda c: c.sign(b'{"alg":"%s","x":NaN}' % c.alg.encode()))
mut(
    "header_bom",
    lambda c: c.sign(b"\xef\xbb\xbf" + dumps(c.header())),
    dev=Dev("either", "token", "UTF-8 BOM: RFC 8259 lets parsers refuse it; PyJWT's json.loads skips it"),
)
mut("kid_str", lambda c: c.sign(c.header(kid="key-1")))
mut("kid_int", lambda c: c.sign(c.header(kid=1)))
mut("kid_null", lambda c: c.sign(c.header(kid=None)))
mut("kid_list", lambda c: c.sign(c.header(kid=["a"])))
mut("typ_int", lambda c: c.sign(c.header(typ=7)))
mut("unknown_header_member", lambda c: c.sign(c.header(zzz={"nested": [1, 2]})))

# --- crit / b64 ----------------------------------------------------------
mut("crit_unknown", lambda c: c.sign(c.header(crit=["exp"], exp=1)))
mut("crit_unknown_missing", lambda c: c.sign(c.header(crit=["http://example.com/x"])))
mut("crit_empty", lambda c: c.sign(c.header(crit=[])))
mut("crit_string", lambda c: c.sign(c.header(crit="b64", b64=True)))
mut("crit_int_member", lambda c: c.sign(c.header(crit=[1])))
mut("crit_null", lambda c: c.sign(c.header(crit=None)))
mut("crit_b64_missing", lambda c: c.sign(c.header(crit=["b64"])))
mut("crit_b64_true", lambda c: c.sign(c.header(b64=True, crit=["b64"])))
mut("crit_b64_twice", lambda c: c.sign(c.header(b64=True, crit=["b64", "b64"])), dev=Dev("crit", "token", D6))
mut("b64_true_no_crit", lambda c: c.sign(c.header(b64=True)))
mut("b64_string_false", lambda c: c.sign(c.header(b64="false")))
mut(
    "b64_false_no_crit",
    lambda c: c.sign(c.header(b64=False), dumps(BASE_CLAIMS), raw_payload=True, detached=True),
    extra=lambda c: {"detached_payload": dumps(BASE_CLAIMS)},
)
mut(
    "b64_false_nonempty_payload",
    lambda c: c.sign(c.header(b64=False, crit=["b64"]), b"{}", raw_payload=True),
    extra=lambda c: {"detached_payload": b"{}"},
)
mut(
    "b64_false_no_detached_payload",
    lambda c: c.sign(c.header(b64=False, crit=["b64"]), dumps(BASE_CLAIMS), raw_payload=True, detached=True),
)
mut(
    "b64_false_detached",
    lambda c: c.sign(c.header(b64=False, crit=["b64"]), dumps(BASE_CLAIMS), raw_payload=True, detached=True),
    extra=lambda c: {"detached_payload": dumps(BASE_CLAIMS)},
)
mut(
    "b64_false_detached_wrong",
    lambda c: c.sign(c.header(b64=False, crit=["b64"]), dumps(BASE_CLAIMS), raw_payload=True, detached=True),
    extra=lambda c: {"detached_payload": dumps(OTHER_CLAIMS)},
)
mut("b64_true_with_detached_payload", lambda c: c.valid, extra=lambda c: {"detached_payload": dumps(BASE_CLAIMS)})

# --- payload JSON ------------------------------------------------------------
mut("payload_not_json", lambda c: c.sign(payload=b"hello"))
mut("payload_array", lambda c: c.sign(payload=b"[1,2]"))
mut("payload_string", lambda c: c.sign(payload=b'"claims"'))
mut("payload_null", lambda c: c.sign(payload=b"null"))
mut("payload_number", lambda c: c.sign(payload=b"1"))
mut("payload_empty_bytes", lambda c: c.sign(payload=b""))
mut(
    "payload_invalid_utf8",
    lambda c: c.sign(payload=b'{"x":"\xc3\x28"}'),
    dev=Dev("strict", "claims", D3 + " (invalid UTF-8 bytes)"),
)
mut("payload_trailing_comma", lambda c: c.sign(payload=b'{"a":1,}'))
mut("payload_single_quotes", lambda c: c.sign(payload=b"{'a':1}"))
mut("payload_nan_inf", lambda c: c.sign(payload=b'{"x":NaN,"y":Infinity,"z":-Infinity}'))
mut("payload_exp_nan", lambda c: c.sign(payload=b'{"exp":NaN}'))
mut("payload_exp_inf", lambda c: c.sign(payload=b'{"exp":1e400}'))
mut(
    "payload_lone_surrogate",
    lambda c: c.sign(payload=b'{"x":"\\ud800","y":"a\\udfffb"}'),
    dev=Dev("strict", "claims", D3 + " (lone surrogate escapes)"),
)
mut("payload_escaped_unicode", lambda c: c.sign(payload=b'{"x":"\\u00e9\\ud83d\\ude00\\u0000"}'))
mut("payload_raw_utf8", lambda c: c.sign(payload='{"x":"é😀"}'.encode()))
mut("payload_int_4000_digits", lambda c: c.sign(payload=b'{"n":' + b"7" * 4000 + b"}"))
mut("payload_int_5000_digits", lambda c: c.sign(payload=b'{"n":' + b"7" * 5000 + b"}"))
mut("payload_float_forms", lambda c: c.sign(payload=b'{"a":1E3,"b":-0,"c":1.0e-2,"d":0.1,"e":12345678901234567890.5}'))
mut("payload_whitespace", lambda c: c.sign(payload=b' \t\n{ "exp" : %d }\r\n ' % FUT))
mut("payload_deep_ok", lambda c: c.sign(payload=b'{"d":' + _nested(20) + b"}"))
mut("payload_large_ok", lambda c: c.sign(payload={"pad": "x" * 600_000, "exp": FUT}))

# --- D1 padding ------------------------------------------------------------
mut("pad_header", lambda c: c.sign(_padded_kid_header(c), pad="h"), dev=Dev("strict", "token", D1))
mut("pad_payload", lambda c: c.sign(payload=_padded_payload(c), pad="p"), dev=Dev("strict", "token", D1))
mut("pad_signature", lambda c: c.valid + "=" * (-len(c.parts[2]) % 4 or 2), dev=Dev("strict", "token", D1))
mut("pad_header_excess", lambda c: f"{c.parts[0]}====.{c.parts[1]}.{c.parts[2]}", dev=Dev("strict", "token", D1))

# --- D2 duplicate members ----------------------------------------------------
mut(
    "dup_header_alg",
    lambda c: c.sign(b'{"alg":"none","alg":"%s","typ":"JWT"}' % c.alg.encode()),
    dev=Dev("strict", "token", D2),
)
mut(
    "dup_header_kid",
    lambda c: c.sign(b'{"alg":"%s","kid":"a","kid":"b"}' % c.alg.encode()),
    dev=Dev("strict", "token", D2),
)
mut("dup_claims_exp", lambda c: c.sign(payload=b'{"exp":%d,"exp":%d}' % (PAST, FUT)), dev=Dev("strict", "claims", D2))
mut(
    "dup_claims_sub",
    lambda c: c.sign(payload=b'{"sub":"admin","sub":"%s"}' % SUB.encode()),
    dev=Dev("strict", "claims", D2),
)
mut(
    "dup_claims_nested",
    lambda c: c.sign(payload=b'{"ctx":{"role":"admin","role":"user"}}'),
    dev=Dev("either", "claims", D2 + " (nested objects: either verdict is acceptable)"),
)

# --- D3 encodings ------------------------------------------------------------
mut("utf16le_header", lambda c: c.sign(json.dumps(c.header()).encode("utf-16-le")), dev=Dev("strict", "token", D3))
mut("utf16be_header", lambda c: c.sign(json.dumps(c.header()).encode("utf-16-be")), dev=Dev("strict", "token", D3))
mut(
    "utf16_payload", lambda c: c.sign(payload=json.dumps(BASE_CLAIMS).encode("utf-16")), dev=Dev("strict", "claims", D3)
)
mut(
    "utf16le_payload",
    lambda c: c.sign(payload=json.dumps(BASE_CLAIMS).encode("utf-16-le")),
    dev=Dev("strict", "claims", D3),
)
mut(
    "utf32_payload",
    lambda c: c.sign(payload=json.dumps(BASE_CLAIMS).encode("utf-32-le")),
    dev=Dev("strict", "claims", D3),
)

# --- D4 limits ---------------------------------------------------------------
mut("payload_deep_100", lambda c: c.sign(payload=b'{"d":' + _nested(100) + b"}"), dev=Dev("strict", "claims", D4))
mut("payload_deep_100k", lambda c: c.sign(payload=b'{"d":' + _nested(100_000) + b"}"), dev=Dev("strict", "claims", D4))
mut(
    "header_deep_100",
    lambda c: c.sign(b'{"alg":"%s","x":' % c.alg.encode() + _nested(100) + b"}"),
    dev=Dev("strict", "token", D4),
)
mut(
    "token_over_1mib",
    lambda c: c.sign(payload={"pad": "x" * (1024 * 1024), "exp": FUT}),
    dev=Dev("strict", "token", D4),
)

# --- D5 non-ASCII digits -----------------------------------------------------
for _claim in ("exp", "nbf", "iat"):
    for _kind in ("arabic", "fullwidth"):
        mut(
            f"{_claim}_{_kind}_digits",
            lambda c, s=f"{_claim}_{_kind}_digits": c.sign(payload=CLAIM_SHAPES[s]),
            dev=Dev("shadow", "claims", D5, shadow_mut=f"{_claim}_junk"),
        )
    mut(f"{_claim}_junk", lambda c, s=f"{_claim}_junk": c.sign(payload=CLAIM_SHAPES[s]))


# ==========================================================================
# the corpus
# ==========================================================================

CLAIMS_FNS = {"decode", "decode_complete", "pyjwt_obj"}
FNS = {
    "decode": "decode",
    "decode_complete": "decode_complete",
    "jws_decode": "api_jws.decode",
    "jws_decode_complete": "api_jws.decode_complete",
    "header": "get_unverified_header",
}


@dataclass(frozen=True)
class Case:
    """One differential decode case (all fields are names; nothing is built
    until ``prepare`` is called with a keyring)."""

    fn: str  # key of FNS, or "pyjwt_obj" (options given to the PyJWT constructor)
    signer: str  # key of SIGNERS
    token: tuple  # ("claims", shape) or ("mut", mutation)
    keyname: str
    keyform: str
    opts: str  # key of OPTION_SETS
    group: str = field(default="", compare=False)  # batched into one test item when set

    @property
    def id(self) -> str:
        return f"{self.fn}-{self.signer}-{self.token[1]}-{self.keyname}:{self.keyform}-{self.opts}"

    @property
    def alg(self) -> str:
        return SIGNERS[self.signer][0]


def case_deviation(case: Case) -> Optional[Dev]:
    """The deliberate deviation (if any) that applies to ``case``."""
    kind, name = case.token
    if kind == "mut":
        dev = MUTATIONS[name].dev
        if dev is not None and (dev.scope == "token" or case.fn in CLAIMS_FNS):
            return dev
    if kind == "claims" and name in CLAIM_SHADOW and case.fn in CLAIMS_FNS:
        return Dev("shadow", "claims", D5, shadow_mut=CLAIM_SHADOW[name])
    if kind == "mut" and name in ("valid", "sig_flip_first") and KEY_KIND[case.keyname] != "oct":
        # K: certificate / DER keys are accepted for asymmetric algorithms and
        # an RSA private key verifies with its public half; the verdict must
        # be what PyJWT says for the equivalent public key.
        if case.keyform in ("cert", "cert_bytes", "der"):
            return Dev(
                "shadow",
                "token",
                "K: X.509 certificate PEM / DER SPKI accepted as verification keys",
                shadow_keyform="pem",
            )
        if case.alg in RSA_ALGS and case.keyform == "pyjwk_priv":
            # U: PyJWT writes RSA private JWKs with "key_ops": ["sign"]; such a key does not
            # verify (RFC 7517 section 4.3).
            return Dev("keyuse", "token", "U: a JWK whose key_ops lack verify is refused")
        if case.alg in RSA_ALGS and case.keyform in ("priv_pem", "priv_pem_bytes", "priv_obj"):
            return Dev("shadow", "token", "K: an RSA private key verifies with its public half", shadow_keyform="pem")
    return None


# claim shapes used with every algorithm (validation itself is alg-independent)
REPRESENTATIVE_SHAPES = [
    "empty",
    "twelve",
    "all_valid",
    "nested",
    "unicode",
    "unicode_keys",
    "escapes",
    "bigints",
    "floats",
    "many_claims",
    "long_string",
    "aud_list",
    "aud_int",
    "iss_int",
    "sub_int",
    "jti_int",
    "exp_past",
    "exp_future",
    "exp_float_future",
    "exp_numstr_future",
    "exp_null",
    "exp_true",
    "exp_bigint",
    "exp_arabic_digits",
    "nbf_future",
    "nbf_fullwidth_digits",
    "iat_future",
    "iat_junk",
    "iat_arabic_digits",
]
TIME_SHAPES = [s for s in CLAIM_SHAPES if s.split("_")[0] in ("exp", "nbf", "iat")]
OTHER_SHAPES = [s for s in CLAIM_SHAPES if s not in TIME_SHAPES]
TIME_OPTIONS = [
    "default",
    "no_sig",
    "no_sig_verify_exp",
    "no_sig_verify_all",
    "no_exp",
    "no_nbf",
    "no_iat",
    "all_claim_checks_off",
    "require_time",
    "require_with_no_sig",
    "leeway_int",
    "leeway_float",
    "leeway_timedelta",
    "leeway_negative",
    "leeway_small",
    "everything",
    "legacy_verify_false",
]
# mutations whose verdict depends on the algorithm/key run for every signer;
# the rest (JSON/structure) for three signers of different families
ALG_DEPENDENT_MUTATIONS = {
    m
    for m in MUTATIONS
    if m.startswith(
        (
            "valid",
            "sig_",
            "payload_swapped",
            "header_swapped",
            "payload_char",
            "alg_",
            "confusion_",
            "pad_",
            "dup_header",
            "b64_false_detached",
            "kid_str",
            "crit_b64_true",
        )
    )
}
HEAVY_MUTATIONS = {"token_over_1mib", "payload_large_ok", "payload_deep_100k", "payload_int_5000_digits"}
STRUCTURE_SIGNERS = ["HS256", "RS256", "ES256"]
# RSA private-key PEM loading costs ~70 ms per call in cryptography; two signers suffice
RSA_PRIVATE_PEM_SIGNERS = {"RS256", "PS512"}
# one entry point per signer for the non-decode entry points
OTHER_FNS = {"decode_complete": "ES256", "jws_decode": "HS256", "jws_decode_complete": "RS256", "header": "EdDSA"}


def _gen_cases() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    default_key = lambda s: SIGNERS[s][1]  # noqa: E731

    # 1. every algorithm x representative claim shapes (default options)
    for signer, shape in itertools.product(MAIN_SIGNERS, REPRESENTATIVE_SHAPES):
        add(Case("decode", signer, ("claims", shape), default_key(signer), "pem", "default"))

    # 2. claim shapes x option sets (HS256; claim validation is alg-independent)
    for shape, opts in itertools.product(OTHER_SHAPES, OPTION_SETS):
        add(Case("decode", "HS256", ("claims", shape), "hs256", "pem", opts, group=f"options-x-{shape}"))
    for shape, opts in itertools.product(TIME_SHAPES, TIME_OPTIONS):
        add(Case("decode", "HS256", ("claims", shape), "hs256", "pem", opts, group=f"options-x-{shape}"))

    # 3. every algorithm x every option set
    for signer, opts in itertools.product(MAIN_SIGNERS, OPTION_SETS):
        add(Case("decode", signer, ("claims", "twelve"), default_key(signer), "pem", opts, group=f"options-x-{signer}"))

    # 4. PyJWT(options=...) instances and decode_complete over the option sets
    for fn, shape, opts in itertools.product(("pyjwt_obj", "decode_complete"), ("twelve", "exp_recent"), OPTION_SETS):
        add(Case(fn, "ES256", ("claims", shape), "p256", "pem", opts, group=f"options-x-{fn}-{shape}"))

    # 5. every algorithm x every key form x (valid, tampered) token
    for signer, mname in itertools.product(MAIN_SIGNERS, ("valid", "sig_flip_first")):
        keyname = default_key(signer)
        forms = KEY_FORMS_OCT if KEY_KIND[keyname] == "oct" else KEY_FORMS_ASYM
        for form in forms:
            if not key_form_applies(keyname, form):
                continue
            if (
                form in ("priv_pem", "priv_pem_bytes")
                and SIGNERS[signer][0] in RSA_ALGS
                and signer not in RSA_PRIVATE_PEM_SIGNERS
            ):
                continue
            add(Case("decode", signer, ("mut", mname), keyname, form, "default"))
    for signer, form in itertools.product(MAIN_SIGNERS, ("pem", "pyjwk")):
        add(Case("decode", signer, ("mut", "valid"), default_key(signer), form, "algs_none"))

    # 6. keys of the wrong type / curve / key
    wrong = ["hs256", "rsa2", "p256", "p384", "p521", "secp256k1", "ed25519", "ed448"]
    for signer, keyname, form in itertools.product(MAIN_SIGNERS, wrong, ("pem", "obj", "ssh", "pyjwk")):
        if keyname == default_key(signer) or not key_form_applies(keyname, form):
            continue
        add(Case("decode", signer, ("mut", "valid"), keyname, form, "default"))

    # 7. token mutations
    for signer, mname in itertools.product(MAIN_SIGNERS, MUTATIONS):
        if not MUTATIONS[mname].applies(signer):
            continue
        if mname not in ALG_DEPENDENT_MUTATIONS and signer not in STRUCTURE_SIGNERS:
            continue
        if mname in HEAVY_MUTATIONS and signer not in ("HS256", "ES256"):
            continue
        add(Case("decode", signer, ("mut", mname), default_key(signer), "pem", "default"))

    # 8. mutations through the other entry points
    for (fn, signer), mname in itertools.product(OTHER_FNS.items(), MUTATIONS):
        if MUTATIONS[mname].applies(signer):
            add(Case(fn, signer, ("mut", mname), default_key(signer), "pem", "default"))

    # 9. short keys: InsecureKeyLengthWarning / enforce_minimum_key_length
    for signer, opts, form in itertools.product(
        ("HS256-short", "RS256-1024"), ("default", "enforce_min_key", "no_sig"), ("pem", "pyjwk")
    ):
        add(Case("decode", signer, ("claims", "twelve"), SIGNERS[signer][1], form, opts))
        add(Case("jws_decode", signer, ("claims", "twelve"), SIGNERS[signer][1], form, opts))

    seen: set[str] = set()
    unique = []
    for c in cases:
        if c.id not in seen:
            seen.add(c.id)
            unique.append(c)
    return unique


CASES: list[Case] = _gen_cases()


# ==========================================================================
# materialising a case
# ==========================================================================

_TOKENS: dict[tuple, Any] = {}
_CTX: dict[tuple, Ctx] = {}
_KEYS: dict[tuple, Any] = {}


def get_ctx(ring: dict, signer: str) -> Ctx:
    k = (id(ring), signer)
    if k not in _CTX:
        _CTX[k] = Ctx(ring, signer)
    return _CTX[k]


def get_token(ring: dict, signer: str, token: tuple) -> Any:
    k = (id(ring), signer, token)
    if k not in _TOKENS:
        ctx = get_ctx(ring, signer)
        kind, name = token
        if kind == "claims":
            _TOKENS[k] = ctx.sign(payload=CLAIM_SHAPES[name])
        else:
            _TOKENS[k] = MUTATIONS[name].build(ctx)
    tok = _TOKENS[k]
    return bytearray(tok) if isinstance(tok, bytearray) else tok  # fresh mutable copy


def get_key(mod: Any, ring: dict, keyname: str, form: str, alg: str) -> Any:
    """Key ``form`` for ``mod``; cached (PyJWK construction is not free), but
    construction errors are re-raised on every call."""
    k = (mod.__name__, id(ring), keyname, form, alg)
    if k in _KEYS:
        return _KEYS[k]
    key = make_key(mod, ring[keyname], form, alg)
    if form not in ("jwk_dict", "bytearray"):  # mutable forms are rebuilt each time
        _KEYS[k] = key
    return key


@dataclass
class Call:
    fn: str
    token: Any
    key_thunk: Callable[[], Any]
    kwargs: dict


def prepare(
    mod: Any, case: Case, ring: dict, *, keyform: Optional[str] = None, token_override: Optional[tuple] = None
) -> Call:
    """Everything needed to run ``case`` against ``mod``."""
    alg = case.alg
    ctx = get_ctx(ring, case.signer)
    token = get_token(ring, case.signer, token_override or case.token)

    kwargs: dict[str, Any] = {"algorithms": [alg]}
    for k, v in OPTION_SETS[case.opts].items():
        kwargs[k] = v(alg) if callable(v) else copy.deepcopy(v)
    if case.token[0] == "mut" and MUTATIONS[case.token[1]].extra is not None:
        for k, v in MUTATIONS[case.token[1]].extra(ctx).items():
            if k == "options":
                kwargs["options"] = {**kwargs.get("options", {}), **v}
            else:
                kwargs[k] = v

    form = kwargs.pop("__keyform__", keyform or case.keyform)
    if "__key__" in kwargs:
        literal = kwargs.pop("__key__")
        key_thunk = lambda: literal  # noqa: E731
    else:
        key_thunk = lambda: get_key(mod, ring, case.keyname, form, alg)  # noqa: E731

    if case.fn.startswith("jws_"):
        kwargs = {k: v for k, v in kwargs.items() if k in _JWS_KWARGS}
        if "options" in kwargs:
            kwargs["options"] = {
                k: v for k, v in kwargs["options"].items() if k in ("verify_signature", "enforce_minimum_key_length")
            }
    return Call(case.fn, token, key_thunk, kwargs)


def run_call(mod: Any, call: Call) -> Any:
    if call.fn == "header":
        return mod.get_unverified_header(call.token)
    kwargs = dict(call.kwargs)
    if call.fn == "pyjwt_obj":
        options = kwargs.pop("options", None)
        obj = mod.PyJWT(options) if options is not None else mod.PyJWT()
        return obj.decode(call.token, call.key_thunk(), **kwargs)
    fn = _resolve(mod, FNS[call.fn])
    return fn(call.token, call.key_thunk(), **kwargs)


def case_verdict(mod: Any, case: Case, ring: dict, **prep: Any) -> Verdict:
    return verdict(mod, lambda: run_call(mod, prepare(mod, case, ring, **prep)))


def expected_turbojwt(case: Case, ring: dict, py: Verdict) -> tuple[Optional[Dev], Verdict]:
    """(deviation, verdict turbojwt must match) for a case."""
    dev = case_deviation(case)
    if dev is None or dev.kind != "shadow":
        return dev, py
    if dev.shadow_keyform:
        return dev, case_verdict(jwt, case, ring, keyform=dev.shadow_keyform)
    shadow = case_verdict(jwt, case, ring, token_override=("mut", dev.shadow_mut))
    # If PyJWT accepts even the junk value (the claim is not validated under
    # these options), nothing is refused and the original verdict stands.
    return dev, (shadow if not shadow.ok else py)


def check_case(case: Case, ring: dict) -> None:
    py = case_verdict(jwt, case, ring)
    tj = case_verdict(turbojwt, case, ring)
    dev, expected = expected_turbojwt(case, ring, py)
    what = f"case {case.id}" + (f" [deviation: {dev.reason}]" if dev else "")
    if dev is None:
        assert_same_verdict(py, tj, what=what)
    elif dev.kind == "crit":
        assert tj.outcome == ("err", "InvalidTokenError", "Invalid 'crit' header: duplicate names"), (
            f"turbojwt must refuse the duplicate crit names: {what}\n  turbojwt: {tj}\n  PyJWT: {py}"
        )
    elif dev.kind == "keyuse":
        assert tj.outcome[:2] == ("err", "InvalidKeyError") and "key_ops" in tj.outcome[2], (
            f"turbojwt must refuse the key with InvalidKeyError: {what}\n  turbojwt: {tj}\n  PyJWT: {py}"
        )
    elif dev.kind == "strict":
        assert tj.outcome[:2] == ("err", "DecodeError"), (
            f"turbojwt must refuse with DecodeError: {what}\n  turbojwt: {tj}\n  PyJWT: {py}"
        )
    elif dev.kind == "either":
        if tj.outcome[:2] != ("err", "DecodeError"):
            assert_same_verdict(py, tj, check_warnings=False, what=what)
    else:  # shadow
        assert_same_verdict(expected, tj, check_warnings=False, what=what)


# ==========================================================================
# the decode cases, by concern
# ==========================================================================


SINGLE_CASES = [c for c in CASES if not c.group]
CASE_GROUPS: dict[str, list[Case]] = {}
for _c in CASES:
    if _c.group:
        CASE_GROUPS.setdefault(_c.group, []).append(_c)


def decode_concern(case: Case) -> str:
    """The test module a single decode case runs in: "keys" when the key is not the
    signer's own key as PEM (another form, another key, a short key), else "claims" for a
    token made from a claim shape and "tokens" for a mutated token."""
    if case.signer not in MAIN_SIGNERS or case.keyform != "pem" or case.keyname != SIGNERS[case.signer][1]:
        return "keys"
    return "claims" if case.token[0] == "claims" else "tokens"


def single_cases(concern: str) -> list[Case]:
    return [c for c in SINGLE_CASES if decode_concern(c) == concern]
