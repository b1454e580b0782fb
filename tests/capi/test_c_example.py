"""The C example (native/capi/examples/verify.c) compiled with the system's C compiler against
the committed header and linked both ways: with the shared library and with the static one
(libturbojwt.a, with the system libraries a Rust static library needs). Each build verifies
the same tokens with PyJWT's verdicts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import jwt
import pytest

from helpers import capi_build

pytestmark = pytest.mark.e2e  # compiles and runs a program

SECRET = "c" * 32
POLICY = '{"algorithms":["HS256"],"audience":"api","options":{"require":["exp"]}}'
EXAMPLE = capi_build.NATIVE / "capi" / "examples" / "verify.c"


@pytest.mark.parametrize("linking", ["shared", "static"])
def test_c_example(linking: str, capi_library: Path, tmp_path: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path / "verify"
    lib_dir = capi_library.parent
    link = (
        [f"-L{lib_dir}", "-lturbojwt", f"-Wl,-rpath,{lib_dir}"]
        if linking == "shared"
        else [str(lib_dir / "libturbojwt.a"), "-lpthread", "-ldl", "-lm"]
    )
    build = subprocess.run(
        [
            cc,
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            f"-I{capi_build.HEADER.parent}",
            str(EXAMPLE),
            "-o",
            str(exe),
            *link,
            "-lm",
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    if linking == "static":
        ldd = subprocess.run(["ldd", str(exe)], capture_output=True, text=True).stdout
        assert "libturbojwt" not in ldd, ldd
    key = tmp_path / "key"
    key.write_text(SECRET)
    tokens = [
        jwt.encode({"sub": "u1", "aud": "api", "exp": 2_000_000_000}, SECRET, "HS256"),
        jwt.encode({"sub": "u2", "aud": "api", "exp": 1_000}, SECRET, "HS256"),
        jwt.encode({"sub": "u3", "aud": "web", "exp": 2_000_000_000}, SECRET, "HS256"),
        jwt.encode({"sub": "u4", "aud": "api"}, SECRET, "HS256"),
        jwt.encode({"sub": "u5", "aud": "api", "exp": 2_000_000_000}, "x" * 32, "HS256"),
        "not.a.token",
        "",
    ]
    run = subprocess.run(
        [str(exe), str(key), POLICY, "1700000000"], input="\n".join(tokens) + "\n", capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        'OK u1 {"sub":"u1","aud":"api","exp":2000000000}',
        "ExpiredSignatureError: Signature has expired",
        "InvalidAudienceError: Audience doesn't match",
        'MissingRequiredClaimError: Token is missing the "exp" claim',
        "InvalidSignatureError: Signature verification failed",
        "DecodeError: Invalid header padding",
        "DecodeError: Not enough segments",
    ]
    bad = subprocess.run([str(exe), str(key), '{"algorithms":["none"]}', "now"], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stdout.startswith("BadPolicy: bad policy:"), bad.stdout
