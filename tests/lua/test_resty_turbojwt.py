"""resty.turbojwt (lua/resty/turbojwt.lua) in a standalone LuaJIT (Debian's luajit2, the
OpenResty branch that nginx's lua module runs): its FFI declarations are the committed
header's, every case of the C ABI case file gets the PyO3 path's verdict through it, and its
claim headers and refusals are the Python gateway's."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st

import turbojwt
from helpers import capi_build
from helpers.capi_runner import CASE_FILE, blob
from helpers.lua import MODULE, bless_module, cdef_block, module_cdef, require_luajit, run_lua, verdicts
from turbojwt import errors, exceptions, keyset
from turbojwt.gateway.asgi import denial_for
from turbojwt.gateway.policy import header_value


@pytest.fixture(scope="module")
def luajit() -> str:
    return require_luajit()


@pytest.fixture(scope="module")
def library() -> Path:
    return capi_build.library()


def test_cdef_is_the_headers() -> None:
    header = capi_build.HEADER.read_text(encoding="utf-8")
    text = MODULE.read_text(encoding="utf-8")
    if os.environ.get("TURBOJWT_BLESS"):
        MODULE.write_text(bless_module(text, header), encoding="utf-8")
        text = MODULE.read_text(encoding="utf-8")
    assert module_cdef(text) == cdef_block(header), (
        "lua/resty/turbojwt.lua's ffi.cdef is stale: TURBOJWT_BLESS=1 python3 -m pytest "
        "tests/lua/test_resty_turbojwt.py -k cdef rewrites it"
    )


def test_library_version_and_abi(luajit: str, library: Path) -> None:
    out = run_lua(luajit, "print(turbojwt.library(), turbojwt.ABI_VERSION)", library=library)
    version, abi = out.split()
    assert version == capi_build.cffi_package().Library(library, capi_build.HEADER).version
    assert abi == "1"


def test_library_lookup(luajit: str, library: Path, tmp_path: Path) -> None:
    """$TURBOJWT_LIBRARY, then libturbojwt.so on package.cpath, then ld.so's search."""
    probe = "print(turbojwt.library())"
    version = run_lua(luajit, probe, library=library).strip()
    assert run_lua(luajit, probe, env={"TURBOJWT_LIBRARY": str(library)}).strip() == version
    on_cpath = f"package.cpath = {json.dumps(str(library.parent))} .. '/?.so;' .. package.cpath\n" + probe
    assert run_lua(luajit, on_cpath, env={"TURBOJWT_LIBRARY": ""}).strip() == version
    system = {"TURBOJWT_LIBRARY": "", "LD_LIBRARY_PATH": str(library.parent)}
    assert run_lua(luajit, probe, env=system).strip() == version  # ffi.load("turbojwt"): libturbojwt.so
    nowhere = {"TURBOJWT_LIBRARY": "", "LD_LIBRARY_PATH": str(tmp_path)}
    assert run_lua(luajit, probe, env=nowhere).startswith("nil\tcannot load libturbojwt (turbojwt)")


def test_library_not_found_is_an_error_not_a_crash(luajit: str, tmp_path: Path) -> None:
    out = run_lua(
        luajit,
        f"print(turbojwt.library({json.dumps(str(tmp_path / 'missing.so'))}))\n"
        "print(turbojwt.new{ key = 'k', algorithms = { 'HS256' } })",
    )
    first, second = out.splitlines()
    assert first.startswith("nil\tcannot load libturbojwt") and "missing.so" in first
    assert second.startswith("nil\tcannot load libturbojwt") and second.endswith("LibraryNotFound")


def _same(expected: Any, got: Any) -> bool:
    """The claims as the PyO3 path gives them and as cjson decoded (re-encoded) them: equal,
    numbers as doubles (cjson has no ints), NaN and infinities as null."""
    if isinstance(expected, bool) or expected is None:
        return expected is got or (expected is None and got is None)
    if isinstance(expected, (int, float)):
        if isinstance(got, bool) or (got is not None and not isinstance(got, (int, float))):
            return False
        if isinstance(expected, float) and not math.isfinite(expected):
            return got is None
        if isinstance(expected, int) and abs(expected) >= 2**1024:
            return got is None  # past a double's range: cjson gives an infinity
        return got is not None and math.isclose(float(expected), float(got), rel_tol=1e-13)
    if isinstance(expected, dict):
        if expected == {} and got == []:
            return True  # cjson cannot tell an empty object from an empty list
        return isinstance(got, dict) and set(expected) == set(got) and all(_same(expected[k], got[k]) for k in expected)
    if isinstance(expected, list):
        if expected == [] and got == {}:
            return True  # cjson cannot tell an empty list from an empty object
        return isinstance(got, list) and len(got) == len(expected) and all(map(_same, expected, got))
    return bool(expected == got)


KINDS = {"material": "pem", "jwk": "jwk", "jwks": "jwks"}


def test_case_file_verdicts(luajit: str, library: Path) -> None:
    """Every case of tests/capi/cases.json (the PyO3 path's verdicts: claims, or PyJWT's
    exception class and message) through resty.turbojwt."""
    doc = json.loads(CASE_FILE.read_text(encoding="utf-8"))
    cases = [
        {
            "id": c["id"],
            "key_kind": KINDS[c["kind"]],
            "key": blob(doc["keys"][c["key"]]),
            "config": doc["policies"][c["policy"]],
            "token": blob(doc["tokens"][c["token"]]),
            "at": doc["at"],
        }
        for c in doc["cases"]
    ]
    answers = verdicts(luajit, library, cases)
    assert len(answers) == len(doc["cases"])
    failures = []
    for case in doc["cases"]:
        got = answers[case["id"]]
        if not got["ok"] and got["name"] == "Unsupported" and case.get("unsupported_ok"):
            continue
        if "claims" in case:
            expected = json.loads(doc["claims"][case["claims"]])
            ok = got["ok"] and _same(expected, got["claims"])
            registered = got.get("registered", {})
            ok = ok and all(
                registered.get(k) == expected.get(k) for k in ("iss", "sub", "jti") if isinstance(expected.get(k), str)
            )
        else:
            want = (case["error"], doc["messages"][case["message"]])
            ok = not got["ok"] and got["name"] == want[0] and (case.get("inexact") or got["message"] == want[1])
        if not ok:
            failures.append(f"{case['id']}: expected {case.get('error') or 'claims'}, got {str(got)[:300]}")
    assert not failures, f"{len(failures)} differ:\n" + "\n".join(failures[:25])


HEADER_VALUES: list[Any] = [
    "alice",
    "Alice Smith",
    " lead",
    "trail ",
    " ",
    "",
    "a,b",
    'say "hi"',
    "100%",
    "Zoë 李",
    "tab\there",
    "nel\u0085",
    "del\x7f",
    "nul\x00",
    "🙂👍🏽",
    "\\back/slash",
    ["buyer", "admin"],
    ["sales,eu", "ops", "a\x85b"],
    [],
    ["x", 1, True, None, 2.5],
    42,
    -7,
    0,
    2.5,
    -0.001,
    1e-7,
    1e22,
    123456.789,
    True,
    False,
    [["nested"]],
    {"only": "é"},
]


def test_claim_headers_are_the_gateways(luajit: str, library: Path) -> None:
    """header_value of each value (decoded by cjson from the claims JSON, as in access()) is
    python/turbojwt/gateway/policy.py's."""
    lines = "\n".join(json.dumps({"v": v}) for v in HEADER_VALUES)
    out = run_lua(
        luajit,
        "for line in io.lines() do\n"
        "  local v = turbojwt.header_value(cjson.decode(line).v)\n"
        "  io.write(cjson.encode({ v = v or cjson.null }), '\\n')\nend\n",
        stdin=lines,
        library=library,
    )
    got = [json.loads(line)["v"] for line in out.split("\n") if line]
    assert got == [header_value(v) for v in HEADER_VALUES]


def _exception_class(name: str) -> type[BaseException] | None:
    for module in (exceptions, errors, keyset):
        cls = getattr(module, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            return cls
    return None


def test_refusals_are_the_gateways(luajit: str, library: Path) -> None:
    """For every code the library has, access()'s answer (status, error, description) is the
    one the Python gateway's denial_for gives for that PyJWT exception class; codes with no
    such class (Unsupported, ...) get the generic invalid_token answer."""
    out = run_lua(
        luajit,
        "local lib = require('ffi').load(turbojwt_path)\n".replace("turbojwt_path", json.dumps(str(library)))
        + "local out = {}\n"
        "for _, code in ipairs({0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,100,101,102,103,104,105}) do\n"
        "  local name = require('ffi').string(lib.tj_code_name(code))\n"
        "  out[name] = { turbojwt.denial_for(name) }\nend\n"
        "print(cjson.encode(out))\n",
        library=library,
    )
    answers = json.loads(out)
    assert len(answers) == 24
    for name, (status, error, description) in answers.items():
        cls = _exception_class(name)
        if name == "Ok":
            continue
        if cls is None:
            assert (status, error, description) == (401, "invalid_token", "The token is invalid"), name
            continue
        denial = denial_for(cls("x") if name != "MissingRequiredClaimError" else cls("exp"))
        assert (status, error, description) == (denial.status, denial.error, denial.description), name
    assert answers["ExpiredSignatureError"][2] == "The token has expired"


def test_bad_configurations_are_errors(luajit: str, library: Path) -> None:
    out = run_lua(
        luajit,
        "for _, config in ipairs({\n"
        "  { key = 'k', algorithms = { 'none' } },\n"
        "  { key = 'k', algorithms = {} },\n"
        "  { key = 'k', algorithms = { 'HS256' }, audence = 'typo' },\n"
        "  { key = 'k', algorithms = { 'HS256' }, key_kind = 'x509' },\n"
        "  { key = '{', key_kind = 'jwk', algorithms = { 'RS256' } },\n"
        "  { key = 'k', algorithms = { 'HS256' }, options = { verify_everything = true } },\n"
        "  { key = 42, algorithms = { 'HS256' } },\n"
        "}) do\n"
        "  local v, err, name = turbojwt.new(config)\n"
        "  print(v == nil, name, err)\nend\n",
        library=library,
    )
    rows = [line.split("\t") for line in out.splitlines()]
    assert [r[:2] for r in rows] == [
        ["true", "BadPolicy"],
        ["true", "BadPolicy"],
        ["true", "BadArgument"],
        ["true", "BadArgument"],
        ["true", "InvalidKeyError"],
        ["true", "BadPolicy"],
        ["true", "BadArgument"],
    ], out
    assert "audence" in rows[2][2] and 'unknown option "verify_everything"' in rows[5][2]


def test_verify_against_decode(luajit: str, library: Path) -> None:
    """A few tokens straight through verify() and verify_registered() at the current time
    (the library's clock), against turbojwt.decode's claims or exception class and message."""
    secret = "s" * 32
    now = int(time.time())
    tokens = {
        "good": turbojwt.encode({"sub": "alice", "aud": ["a", "b"], "exp": now + 600, "iss": "me"}, secret, "HS256"),
        "expired": turbojwt.encode({"sub": "alice", "exp": now - 600}, secret, "HS256"),
        "wrong audience": turbojwt.encode({"aud": "c"}, secret, "HS256"),
        "forged": turbojwt.encode({"sub": "alice"}, "t" * 32, "HS256"),
        "junk": "a.b.c",
        "two segments": "a.b",
    }
    config = {"algorithms": ["HS256"], "audience": "a"}
    cases = [
        {"id": name, "key_kind": "secret", "key": secret.encode(), "config": config, "token": tok.encode(), "at": None}
        for name, tok in tokens.items()
    ]
    answers = verdicts(luajit, library, cases)
    assert answers["good"]["claims"] == turbojwt.decode(tokens["good"], secret, algorithms=["HS256"], audience="a")
    assert answers["good"]["registered"] == {
        "sub": "alice",
        "iss": "me",
        "aud": ["a", "b"],
        "exp": now + 600,
        "alg": "HS256",
        "typ": "JWT",
    }
    for name, tok in tokens.items():
        if name == "good":
            continue
        with pytest.raises(turbojwt.PyJWTError) as e:
            turbojwt.decode(tok, secret, algorithms=["HS256"], audience="a")
        assert (answers[name]["name"], answers[name]["message"]) == (type(e.value).__name__, str(e.value)), name


def test_check_key(luajit: str, library: Path) -> None:
    """check_key() (tj_verifier_check_key; watch() runs it on every key file it loads): key
    material the library would refuse on every token is found out when it is loaded, with
    PyJWT's InvalidKeyError message where PyJWT has one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    rsa_pem = (
        rsa.generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    asymmetric = "The specified key is an asymmetric key or x509 certificate and should not be used as an HMAC secret."
    rows = [
        (rsa_pem, ["RS256"], "usable"),
        (rsa_pem, ["ES256", "RS256"], "usable"),
        (rsa_pem, ["HS256"], f"InvalidKeyError: {asymmetric}"),  # a PEM is no HMAC secret
        (ec_pem, ["RS256"], "InvalidKeyError: The key cannot be used with RS256"),
        (ec_pem, ["ES256"], "usable"),
        (
            b"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n",
            ["RS256"],
            "InvalidKeyError: Could not parse the provided public key.",
        ),
        (b"a secret of 32 bytes, not a PEM", ["HS256"], "usable"),
        (b"", ["HS256"], "InvalidKeyError: HMAC key must not be empty."),
    ]
    code = "".join(
        f"do local v = assert(turbojwt.new{{ key = {lua_bytes(key)}, algorithms = {{ {', '.join(map(json.dumps, algs))} }} }})\n"
        "  local ok, why, name = v:check_key()\n"
        "  print(ok and 'usable' or (name .. ': ' .. why)) end\n"
        for key, algs, _ in rows
    )
    out = run_lua(luajit, code, library=library).splitlines()
    assert out == [want for _, _, want in rows]


def test_max_token_bytes(luajit: str, library: Path) -> None:
    """max_token_bytes (8192 by default) is the library's limit: a longer token is refused
    unread with the core's DecodeError message."""
    secret = "0123456789abcdef0123456789abcdef"
    tok = turbojwt.encode({"pad": "x" * 9000}, secret, algorithm="HS256")
    small = turbojwt.encode({"sub": "s"}, secret, algorithm="HS256")
    code = (
        f"local big, small = {json.dumps(tok)}, {json.dumps(small)}\n"
        f"for _, limit in ipairs({{ false, 100000, {len(small)} }}) do\n"
        f"  local v = assert(turbojwt.new{{ key = {json.dumps(secret)}, algorithms = {{ 'HS256' }},\n"
        "    max_token_bytes = limit or nil })\n"
        "  for _, t in ipairs({ big, small }) do\n"
        "    local claims, err, name = v:verify(t)\n"
        "    print(claims and 'ok' or (name .. ': ' .. err)) end end\n"
        f"print(select(2, turbojwt.new{{ key = {json.dumps(secret)}, algorithms = {{ 'HS256' }}, max_token_bytes = 0 }}))\n"
    )
    out = run_lua(luajit, code, library=library).splitlines()
    refused = f"DecodeError: Token is {len(tok)} bytes long, over the limit of"
    assert out[:6] == [
        f"{refused} 8192 bytes",
        "ok",
        "ok",
        "ok",
        f"{refused} {len(small)} bytes",
        "ok",
    ]
    assert "max_token_bytes" in out[6]


def lua_bytes(data: bytes) -> str:
    return '"' + "".join(f"\\{b}" for b in data) + '"'


def test_module_loads_twice(luajit: str, library: Path) -> None:
    """A second load in the same LuaJIT state (nginx with lua_code_cache off, two copies on
    the path) does not redefine the FFI types, and both copies work."""
    out = run_lua(
        luajit,
        "package.loaded['resty.turbojwt'] = nil\n"
        "local again = require 'resty.turbojwt'\n"
        "assert(again ~= turbojwt)\n"
        f"assert(again.library({json.dumps(str(library))}))\n"
        "local v = assert(again.new{ key = string.rep('k', 32), key_kind = 'secret', algorithms = { 'HS256' } })\n"
        "print(select(3, v:verify('a.b.c')))\n",
        library=library,
    )
    assert out.strip() == "DecodeError"


_SCALARS = (
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer())
)
# cjson keeps neither an object's member order nor an integral float's ".0" (docs/nginx-lua.md):
# objects of one member, floats that are not integral.
_CLAIMS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, min_size=1, max_size=1),
    max_leaves=6,
)


@hypothesis.settings(max_examples=25, deadline=None, derandomize=True)
@hypothesis.given(values=st.lists(_CLAIMS, min_size=1, max_size=40))
def test_claim_headers_property(luajit_and_library: tuple[str, Path], values: list[Any]) -> None:
    """Random claims (text of any code point, lists, one-member objects, numbers, booleans)
    give the gateway's header values."""
    luajit, library = luajit_and_library
    lines = "\n".join(json.dumps({"v": v}) for v in values)
    out = run_lua(
        luajit,
        "for line in io.lines() do\n"
        "  local v = turbojwt.header_value(cjson.decode(line).v)\n"
        "  io.write(cjson.encode({ v = v or cjson.null }), '\\n')\nend\n",
        stdin=lines,
        library=library,
    )
    got = [json.loads(line)["v"] for line in out.split("\n") if line]
    assert got == [header_value(v) for v in values]


@pytest.fixture(scope="module")
def luajit_and_library(luajit: str, library: Path) -> tuple[str, Path]:
    return luajit, library
