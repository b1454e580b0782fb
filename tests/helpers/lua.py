"""resty.turbojwt (lua/resty/turbojwt.lua) for the tests: its LuaJIT FFI declarations made from
the committed header, a standalone LuaJIT (Debian's luajit2) with lua-cjson to run it
outside nginx, and the Debian packages the nginx tests need."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from helpers import capi_build
from helpers.debian import apt_install
from helpers.nginx import nginx_binary

ROOT = capi_build.ROOT
LUA_DIR = ROOT / "lua"
MODULE = LUA_DIR / "resty" / "turbojwt.lua"
VERDICTS = ROOT / "tests" / "lua" / "verdicts.lua"

_BLOCK = re.compile(
    r'(-- BEGIN GENERATED CDEF.*?\n)if not pcall\(ffi\.typeof, "TjVerifier"\) then (ffi\.cdef \[\[\n.*?\]\]) end\n'
    r"(local TJ_ABI_VERSION = \d+\n)(-- END GENERATED CDEF)",
    re.S,
)


def cdef_block(header: str) -> str:
    """The module's generated block for ``header``'s text: the cffi binding's declarations
    (python/turbojwt_cffi/_cdef.py, one reading of the header) without the ``#define``s, which
    LuaJIT's ``ffi.cdef`` does not take; ``TJ_ABI_VERSION`` becomes a Lua constant."""
    cdef = capi_build.cffi_package().cdef_from_header(header)
    lines = cdef.splitlines()
    defines = [line.split() for line in lines if line.startswith("#define")]
    if [d[1] for d in defines] != ["TJ_ABI_VERSION"]:
        raise ValueError(f"turbojwt.h: #defines the Lua module does not know: {defines}")
    body = "\n".join(line for line in lines if not line.startswith("#define"))
    return f"ffi.cdef [[\n{body}\n]]\nlocal TJ_ABI_VERSION = {defines[0][2]}\n"


def module_cdef(text: str) -> str:
    match = _BLOCK.search(text)
    if match is None:
        raise ValueError(f"{MODULE}: no generated cdef block")
    return match.group(2) + "\n" + match.group(3)


def bless_module(text: str, header: str) -> str:
    """The module's text with its generated block rewritten from ``header``."""
    declarations, constant = cdef_block(header).split("\n]]\n")
    generated = f'if not pcall(ffi.typeof, "TjVerifier") then {declarations}\n]] end\n{constant}'
    return _BLOCK.sub(lambda m: m.group(1) + generated + m.group(4), text)


def require_luajit() -> str:
    """A standalone LuaJIT (Debian's luajit2: the OpenResty branch nginx's lua module uses)
    that can load cjson (Debian's lua-cjson), installed when missing."""
    luajit = capi_build.require_debian_tool("luajit", "luajit2")
    if subprocess.run([luajit, "-e", "require 'cjson'"], capture_output=True).returncode != 0:
        apt_install("lua-cjson")
    return luajit


def run_lua(
    luajit: str, code: str, stdin: str = "", library: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """Runs ``code`` (``turbojwt`` is the module, loaded with ``library``; ``cjson`` is
    cjson) and returns its standard output."""
    prelude = (
        f"package.path = {json.dumps(str(LUA_DIR))} .. '/?.lua;' .. package.path\n"
        "local turbojwt = require 'resty.turbojwt'\nlocal cjson = require 'cjson'\n"
    )
    if library is not None:
        prelude += f"assert(turbojwt.library({json.dumps(str(library))}))\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", encoding="utf-8") as script:
        script.write(prelude + code)
        script.flush()
        proc = subprocess.run(
            [luajit, script.name], input=stdin, capture_output=True, text=True, env={**os.environ, **(env or {})}
        )
    if proc.returncode != 0:
        raise RuntimeError(f"luajit failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def verdicts(luajit: str, library: Path, cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Runs tests/lua/verdicts.lua over ``cases`` ({id, key_kind, key (bytes), config, token
    (bytes), at}); its answers by id."""
    lines = [
        json.dumps(
            {
                "id": c["id"],
                "key_kind": c["key_kind"],
                "key_hex": c["key"].hex(),
                "config": c["config"],
                "token_hex": c["token"].hex(),
                "at": c.get("at"),
            }
        )
        for c in cases
    ]
    proc = subprocess.run(
        [luajit, str(VERDICTS), str(LUA_DIR), str(library)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"verdicts.lua failed ({proc.returncode}):\n{proc.stderr}")
    answers = [json.loads(line) for line in proc.stdout.split("\n") if line]
    return {a["id"]: a for a in answers}


LUA_MODULE = Path("/usr/lib/nginx/modules/ngx_http_lua_module.so")


def _has_cjson() -> bool:
    query = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "lua-cjson"], capture_output=True, text=True)
    return "install ok installed" in query.stdout


def nginx_with_lua() -> str | None:
    """Debian's nginx with its lua module (libnginx-mod-http-lua: LuaJIT, lua-resty-core)
    and lua-cjson, installed when missing; None when they cannot be had."""
    nginx = nginx_binary()
    if nginx is None:
        return None
    if not LUA_MODULE.is_file() or not _has_cjson():
        apt_install("libnginx-mod-http-lua", "lua-cjson")
    return nginx if LUA_MODULE.is_file() and _has_cjson() else None
