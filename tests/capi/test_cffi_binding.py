"""The cffi binding (python/turbojwt_cffi) over libturbojwt: its declarations come from the
committed header, and the ABI's handles, errors and threading hold through it."""

from __future__ import annotations

import math
import re
import threading
from types import ModuleType
from typing import Any

import jwt
import pytest

from helpers import capi_build

SECRET = "s" * 32
POLICY = b'{"algorithms":["HS256"],"audience":"api"}'


def test_cdef_declares_every_function_of_the_header(cffi_binding: ModuleType) -> None:
    header = capi_build.HEADER.read_text(encoding="utf-8")
    cdef = cffi_binding.cdef_from_header(header)
    declared = set(re.findall(r"\b(tj_\w+)\(", header))
    assert declared >= {"tj_verifier_new", "tj_verify", "tj_result_claims", "tj_error_free"}
    assert set(re.findall(r"\b(tj_\w+)\(", cdef)) == declared
    assert "#define TJ_ABI_VERSION 1" in cdef
    assert "extern" not in cdef and "#include" not in cdef


@pytest.mark.parametrize(
    "header",
    ["#if FOO\nint x;\n#endif\n", '#define TJ_NAME "text"\n', '#ifdef __cplusplus\nextern "C" {\n'],
)
def test_cdef_refuses_what_it_does_not_understand(cffi_binding: ModuleType, header: str) -> None:
    with pytest.raises(ValueError, match=r"turbojwt\.h"):
        cffi_binding.cdef_from_header(header)


def test_library_version_is_the_crates(cffi_library: Any) -> None:
    cargo = (capi_build.NATIVE / "Cargo.toml").read_text(encoding="utf-8")
    version = re.search(r'\[workspace\.package\]\nversion = "([^"]+)"', cargo)
    assert version and cffi_library.version == version.group(1)
    assert cffi_library.lib.tj_abi_version() == cffi_library.lib.TJ_ABI_VERSION == 1
    assert cffi_library.code_name(cffi_library.lib.TJ_ERR_EXPIRED_SIGNATURE) == "ExpiredSignatureError"


def test_decode_and_errors(cffi_binding: ModuleType, cffi_library: Any) -> None:
    token = jwt.encode({"sub": "u", "aud": "api", "exp": 2_000_000_000}, SECRET, "HS256")
    v = cffi_binding.Verifier(SECRET, algorithms=["HS256"], audience="api", library=cffi_library)
    assert v.decode(token) == {"sub": "u", "aud": "api", "exp": 2_000_000_000}
    assert v.decode(token.encode(), at=1e9)["sub"] == "u"
    with pytest.raises(cffi_binding.Error, match="^Signature has expired$") as e:
        v.decode(token, at=2_000_000_000)
    assert (e.value.name, e.value.code) == ("ExpiredSignatureError", 4)
    with pytest.raises(cffi_binding.Error, match="Not enough segments"):
        v.decode("")
    with pytest.raises(TypeError):
        v.decode(5)  # type: ignore[arg-type]
    with pytest.raises(cffi_binding.Error, match='unknown option "verify_foo"') as e:
        cffi_binding.Verifier(SECRET, algorithms=["HS256"], options={"verify_foo": True}, library=cffi_library)
    assert e.value.name == "BadPolicy"
    with pytest.raises(cffi_binding.Error) as e:
        cffi_binding.Verifier("{}", key_kind="jwks", algorithms=["HS256"], library=cffi_library)
    assert e.value.name == "PyJWKSetError"


def test_raw_calls_with_null_and_bad_bytes(cffi_library: Any) -> None:
    """Through the raw functions: NULL pointers, a policy that is not UTF-8, an unknown key
    kind: error codes and messages, never a crash."""
    ffi, lib = cffi_library.ffi, cffi_library.lib
    err = ffi.new("TjError **")
    for key_kind, key, policy, code in [
        (lib.TJ_KEY_MATERIAL, b"k", b'{"algorithms":["HS\xff"]}', lib.TJ_ERR_INVALID_UTF8),
        (lib.TJ_KEY_MATERIAL, ffi.NULL, POLICY, lib.TJ_ERR_NULL_ARGUMENT),
        (lib.TJ_KEY_MATERIAL, b"k", ffi.NULL, lib.TJ_ERR_NULL_ARGUMENT),
        (77, b"k", POLICY, lib.TJ_ERR_BAD_ARGUMENT),
        (lib.TJ_KEY_JWK, b"{", POLICY, lib.TJ_ERR_INVALID_KEY),
    ]:
        length = 5 if key == ffi.NULL else len(key)
        plen = 5 if policy == ffi.NULL else len(policy)
        assert lib.tj_verifier_new(key_kind, key, length, policy, plen, 0, err) == ffi.NULL
        assert lib.tj_error_code(err[0]) == code
        size = ffi.new("size_t *")
        message = ffi.string(lib.tj_error_message(err[0], size))
        assert len(message) == size[0] > 0
        lib.tj_error_free(err[0])
    result = lib.tj_result_new()
    assert lib.tj_verify(ffi.NULL, b"a.b.c", 5, math.nan, result) == lib.TJ_ERR_NULL_ARGUMENT
    assert ffi.string(lib.tj_result_message(result, ffi.NULL)) == b"verifier is NULL"
    assert lib.tj_result_claims(result, ffi.NULL) == ffi.NULL
    lib.tj_result_free(result)


def test_registered_claims_as_fields(cffi_library: Any) -> None:
    ffi, lib = cffi_library.ffi, cffi_library.lib
    token = jwt.encode(
        {"iss": "idp", "sub": "u", "aud": ["api", "x"], "exp": 2_000_000_000, "jti": "j"},
        SECRET,
        "HS256",
        headers={"kid": "k1"},
    ).encode()
    v = lib.tj_verifier_new(lib.TJ_KEY_MATERIAL, SECRET.encode(), 32, POLICY, len(POLICY), 0, ffi.NULL)
    r = lib.tj_result_new()
    try:
        assert lib.tj_verify(v, token, len(token), 1e9, r) == lib.TJ_OK
        size = ffi.new("size_t *")

        def field(claim: int) -> bytes:
            return bytes(ffi.buffer(lib.tj_result_claim(r, claim, size), size[0]))

        assert [field(c) for c in (lib.TJ_CLAIM_ISS, lib.TJ_CLAIM_SUB, lib.TJ_CLAIM_AUD, lib.TJ_CLAIM_JTI)] == [
            b"idp",
            b"u",
            b"api",
            b"j",
        ]
        assert (field(lib.TJ_CLAIM_KID), field(lib.TJ_CLAIM_ALG), field(lib.TJ_CLAIM_TYP)) == (b"k1", b"HS256", b"JWT")
        assert lib.tj_result_aud_count(r) == 2
        out = ffi.new("double *")
        assert lib.tj_result_time(r, lib.TJ_CLAIM_EXP, out) and out[0] == 2e9
        assert not lib.tj_result_time(r, lib.TJ_CLAIM_NBF, out)
    finally:
        lib.tj_result_free(r)
        lib.tj_verifier_free(v)


def test_one_verifier_shared_by_threads(cffi_binding: ModuleType, cffi_library: Any) -> None:
    tokens = [jwt.encode({"aud": "api", "n": i, "exp": 1_000_000_000 + i}, SECRET, "HS256") for i in range(20)]
    for cache in (0, 64):
        v = cffi_binding.Verifier(SECRET, algorithms=["HS256"], audience="api", cache=cache, library=cffi_library)
        errors: list[str] = []

        def work(offset: int, v: Any = v) -> None:
            for round_ in range(100):
                i = (round_ * 3 + offset) % len(tokens)
                try:
                    got = v.decode(tokens[i], at=1_000_000_010)
                    if i <= 10 or got["n"] != i:
                        errors.append(f"{i}: verified")
                except cffi_binding.Error as e:
                    if i > 10 or e.name != "ExpiredSignatureError":
                        errors.append(f"{i}: {e.name}")

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:5]


def test_the_cffi_package_never_imports_turbojwt() -> None:
    """It must load where the PyO3 module cannot (PyPy): nothing of ``turbojwt`` is imported."""
    import ast

    package = capi_build.ROOT / "python" / "turbojwt_cffi"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            assert not [n for n in names if n.split(".")[0] == "turbojwt"], (path.name, names)


def test_check_key_gives_pyjwts_key_refusal(cffi_binding: ModuleType, cffi_library: Any) -> None:
    """check_key (tj_verifier_check_key) refuses key material no policy algorithm can use,
    with the class and message PyJWT's decode raises for it; a usable key passes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(65537, 2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    cffi_binding.Verifier(public_pem, algorithms=["RS256"], library=cffi_library).check_key()
    cffi_binding.Verifier(SECRET, algorithms=["RS256", "HS256"], library=cffi_library).check_key()
    rs_token = jwt.encode({"sub": "u"}, private, "RS256")
    hs_token = jwt.encode({"sub": "u"}, SECRET, "HS256")
    for key, alg, token in ((public_pem, "HS256", hs_token), (b"not a key", "RS256", rs_token)):
        v = cffi_binding.Verifier(key, algorithms=[alg], library=cffi_library)  # made: read lazily
        with pytest.raises(jwt.InvalidKeyError) as theirs:
            jwt.decode(token, key, algorithms=[alg])
        with pytest.raises(cffi_binding.Error) as ours:
            v.check_key()
        assert (ours.value.name, ours.value.code, str(ours.value)) == ("InvalidKeyError", 10, str(theirs.value))


def test_max_token_bytes(cffi_binding: ModuleType, cffi_library: Any) -> None:
    token = jwt.encode({"sub": "u", "pad": "x" * 100}, SECRET, "HS256")
    limited = cffi_binding.Verifier(SECRET, algorithms=["HS256"], max_token_bytes=100, library=cffi_library)
    with pytest.raises(cffi_binding.Error) as e:
        limited.decode(token)
    assert (e.value.name, str(e.value)) == (
        "DecodeError",
        f"Token is {len(token)} bytes long, over the limit of 100 bytes",
    )
    assert cffi_binding.Verifier(SECRET, algorithms=["HS256"], library=cffi_library).decode(token)["sub"] == "u"
    with pytest.raises(cffi_binding.Error, match="max_token_bytes") as e:
        cffi_binding.Verifier(SECRET, algorithms=["HS256"], max_token_bytes=0, library=cffi_library)
    assert e.value.name == "BadPolicy"
