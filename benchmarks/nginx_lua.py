"""turbojwt inside nginx (issue 17 §5): wrk on loopback against one nginx worker, in one run
with interleaved rounds, RS256 and HS256 tokens:

1. nginx answering 200 with no authentication (the ceiling);
2. ``access_by_lua`` + resty.turbojwt with its token cache (target: >= 80% of the ceiling),
   and the same with the claims decoded into ``ngx.ctx`` (``ctx_key``, off by default);
3. the same without the cache (every request verified), and the verification's share of a
   request's time (1 - rate(3) / rate(1));
4. nginx ``auth_request`` to ``turbojwt serve`` (one granian worker, token cache on, kept-alive
   connections from nginx) (target: (2) >= 3x its requests/s).

Every location serves the same static file, so the rows differ by the authentication alone.
A run where wrk sees one answer that is not 2xx is refused (no number is reported).

Then the per-call cost of the C ABI: libturbojwt's ``tj_verify`` against the core's own
``Verifier::verify`` (native/capi/examples/abi_overhead.rs, no Python), and the cffi binding
(python/turbojwt_cffi) against the PyO3 ``turbojwt.Verifier.decode``.

    PYTHONPATH=python python benchmarks/nginx_lua.py [--quick]

Needs wrk, nginx with libnginx-mod-http-lua and lua-cjson, granian, cargo and the release
libturbojwt (``cargo build --release -p turbojwt-capi``); a missing part skips its rows with a
note. ``compare.py`` includes this section unless ``--no-nginx-lua``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import turbojwt

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
LIBRARY = NATIVE / "target" / "release" / "libturbojwt.so"
LUA_MODULE = Path("/usr/lib/nginx/modules/ngx_http_lua_module.so")
NDK_MODULE = LUA_MODULE.with_name("ndk_http_module.so")
ISSUER = "https://idp"
AUDIENCE = "api"
ALGS = ("RS256", "HS256")
SECRET = b"an HMAC secret of at least 32 bytes!"
SETUPS = ("ceiling", "lua_cache", "lua_cache_ctx", "lua_nocache", "auth_request")
LABELS = {
    "ceiling": "nginx, no authentication (ceiling)",
    "lua_cache": "access_by_lua + resty.turbojwt, token cache",
    "lua_cache_ctx": "the same, claims decoded into ngx.ctx (ctx_key)",
    "lua_nocache": "access_by_lua + resty.turbojwt, no cache",
    "auth_request": "auth_request -> turbojwt serve (granian, 1 worker, cache)",
}
TITLE = "## turbojwt inside nginx: resty.turbojwt and the C ABI (issue 17)"

Log = Callable[[str], None]
Rates = dict[tuple[str, str], list[float]]
Target = tuple[str, str, str, bool]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_up(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers={"Authorization": "Bearer x"}).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def wrk(url: str, token: str, seconds: float, connections: int = 32) -> float:
    """Requests/s; refuses (RuntimeError) a run with any answer that is not 2xx."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", f"Authorization: Bearer {token}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        answer = subprocess.run(
            ["curl", "-s", "-i", "-H", f"Authorization: Bearer {token}", url], capture_output=True, text=True
        ).stdout[:600]
        raise RuntimeError(f"wrk saw refused or failed requests at {url}:\n{out}\none answer:\n{answer}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not found:
        raise RuntimeError(f"no rate in wrk's output:\n{out}")
    return float(found.group(1))


def missing_parts() -> list[str]:
    """What the nginx rows need and this machine lacks."""
    missing = []
    if not shutil.which("wrk"):
        missing.append("wrk")
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").is_file()):
        missing.append("nginx")
    if not LUA_MODULE.is_file() or not NDK_MODULE.is_file():
        missing.append("nginx's lua module (libnginx-mod-http-lua)")
    if subprocess.run(["luajit", "-v"], capture_output=True).returncode != 0 if shutil.which("luajit") else False:
        missing.append("luajit")
    if not LIBRARY.is_file():
        missing.append(f"{LIBRARY.relative_to(ROOT)} (cargo build --release -p turbojwt-capi)")
    try:
        import granian  # noqa: F401
    except ImportError:
        missing.append("granian")
    return missing


def make_keys(tmp: Path) -> dict[str, tuple[bytes, str]]:
    """Per algorithm: the verification key's bytes and a token it verifies (files in tmp)."""
    private = rsa.generate_private_key(65537, 2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "exp": int(time.time()) + 24 * 3600,
        "scope": "read write",
    }
    out = {
        "RS256": (public_pem, turbojwt.encode(claims, private, algorithm="RS256")),
        "HS256": (SECRET, turbojwt.encode(claims, SECRET, algorithm="HS256")),
    }
    for alg, (key, token) in out.items():
        (tmp / f"{alg}.key").write_bytes(key)
        (tmp / f"{alg}.token").write_text(token)
    return out


def nginx_conf(tmp: Path, port: int, auth_ports: dict[str, int]) -> str:
    verifiers = "\n".join(
        f'{alg}_{name} = assert(turbojwt.new{{ key = assert(read("{tmp}/{alg}.key")), algorithms = {{ "{alg}" }}, '
        f'audience = "{AUDIENCE}", issuer = "{ISSUER}", cache = {cache} }}),'
        for alg in ALGS
        for name, cache in (("cache", 10000), ("nocache", 0))
    )
    locations = (
        "\n".join(
            f"location = /lua_{name}_{alg} {{ access_by_lua_block {{ "
            f'require("resty.turbojwt").access(package.loaded.bench_verifiers.{alg}_{name}) }} }}'
            for alg in ALGS
            for name in ("cache", "nocache")
        )
        + "\n"
        + "\n".join(
            f"location = /lua_cache_ctx_{alg} {{ access_by_lua_block {{ "
            f'require("resty.turbojwt").access(package.loaded.bench_verifiers.{alg}_cache, '
            f"package.loaded.bench_verifiers.ctx_options) }} }}"
            for alg in ALGS
        )
    )
    auth = "\n".join(
        f"""
        location = /auth_request_{alg} {{ auth_request /_auth_{alg}; }}
        location = /_auth_{alg} {{
            internal;
            proxy_pass http://serve_{alg}/check;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }}"""
        for alg in ALGS
    )
    upstreams = "\n".join(
        f"upstream serve_{alg} {{ server 127.0.0.1:{p}; keepalive 64; }}" for alg, p in auth_ports.items()
    )
    return textwrap.dedent(f"""
    load_module {NDK_MODULE};
    load_module {LUA_MODULE};
    worker_processes 1;
    {"user root;" if os.geteuid() == 0 else ""}
    pid {tmp}/nginx.pid;
    error_log {tmp}/error.log warn;
    events {{ worker_connections 1024; }}
    http {{
        access_log off;
        client_body_temp_path {tmp}/body;
        proxy_temp_path {tmp}/proxy;
        fastcgi_temp_path {tmp}/fastcgi;
        uwsgi_temp_path {tmp}/uwsgi;
        scgi_temp_path {tmp}/scgi;
        lua_package_path "{ROOT}/lua/?.lua;;";
        init_worker_by_lua_block {{
            local turbojwt = require "resty.turbojwt"
            assert(turbojwt.library("{LIBRARY}"))
            local function read(path)
                local f = assert(io.open(path, "rb")); local data = f:read("*a"); f:close(); return data
            end
            package.loaded.bench_verifiers = {{
                {verifiers}
                ctx_options = {{ ctx_key = "jwt" }},
            }}
        }}
        {upstreams}
        server {{
            listen 127.0.0.1:{port} backlog=1024;
            root {tmp}/www;
            location = /ceiling {{ }}
            {locations}
            {auth}
        }}
    }}
    """)


def gateway_toml(tmp: Path, alg: str) -> Path:
    path = tmp / f"gateway-{alg}.toml"
    path.write_text(
        textwrap.dedent(f"""
        [[provider]]
        issuer = "{ISSUER}"
        key_file = "{alg}.key"
        audiences = ["{AUDIENCE}"]
        algorithms = ["{alg}"]
        cache = 10000
    """)
    )
    return path


@contextmanager
def processes(tmp: Path, log: Log) -> Iterator[int]:
    """nginx (one worker) and one `turbojwt serve` per algorithm; yields nginx's port."""
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        auth_ports = {}
        for alg in ALGS:
            auth_ports[alg] = free_port()
            serve = subprocess.Popen(
                [sys.executable, "-m", "turbojwt", "serve", "--config", str(gateway_toml(tmp, alg))]
                + ["--port", str(auth_ports[alg]), "--workers", "1", "--log-level", "warning"],
                stdout=subprocess.DEVNULL,
                stderr=open(tmp / f"serve-{alg}.log", "wb"),  # noqa: SIM115 (closed with the process)
                env=env,
                cwd=tmp,
            )
            started.append((serve, f"turbojwt serve {alg}"))
        (tmp / "www").mkdir(exist_ok=True)
        (tmp / "www" / "ceiling").write_text("ok\n")
        for alg in ALGS:
            for name in ("lua_cache", "lua_cache_ctx", "lua_nocache", "auth_request"):
                (tmp / "www" / f"{name}_{alg}").write_text("ok\n")
        port = free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_conf(tmp, port, auth_ports))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        proc = subprocess.Popen(
            [nginx, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append((proc, "nginx"))
        for alg in ALGS:
            wait_up(f"http://127.0.0.1:{auth_ports[alg]}/healthz")
        wait_up(f"http://127.0.0.1:{port}/ceiling")
        log(f"  nginx on {port}, turbojwt serve on {sorted(auth_ports.values())}")
        yield port
    finally:
        for proc, _ in reversed(started):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def measure_nginx(quick: bool, log: Log, tmp: Path, keys: dict[str, tuple[bytes, str]]) -> Rates:
    rounds, seconds = (2, 2) if quick else (5, 4)
    rates: dict[tuple[str, str], list[float]] = {(s, a): [] for s in SETUPS for a in ALGS}
    with processes(tmp, log) as port:
        urls = {(s, a): f"http://127.0.0.1:{port}/{s if s == 'ceiling' else f'{s}_{a}'}" for s in SETUPS for a in ALGS}
        for (_, a), url in urls.items():  # warm-up: caches filled, LuaJIT traces compiled
            wrk(url, keys[a][1], 1)
        for r in range(rounds):
            order = [(s, a) for a in ALGS for s in SETUPS]
            if r % 2:
                order.reverse()
            for s, a in order:
                rates[(s, a)].append(wrk(urls[(s, a)], keys[a][1], seconds))
            log(f"  nginx round {r + 1}/{rounds}")
    return rates


def fmt_rate(xs: list[float]) -> str:
    return f"{statistics.median(xs):,.0f} ({min(xs):,.0f}..{max(xs):,.0f})"


def paired(a: list[float], b: list[float]) -> list[float]:
    """Per-round ratios a/b (the rounds interleave, so round i of each shares the machine's state)."""
    return [x / y for x, y in zip(a, b)]


def nginx_lines(rates: Rates, rounds_note: str) -> tuple[list[str], list[Target]]:
    lines = [
        rounds_note,
        "",
        "| token | setup | requests/s, median (min..max) | of the ceiling |",
        "| --- | --- | --: | --: |",
    ]
    targets: list[Target] = []
    for a in ALGS:
        ceiling = rates[("ceiling", a)]
        for s in SETUPS:
            share = statistics.median(paired(rates[(s, a)], ceiling))
            lines.append(f"| {a} | {LABELS[s]} | {fmt_rate(rates[(s, a)])} | {share:.0%} |")
    lines += [
        "",
        "| token | verification's share of a request (no cache: 1 - rate / ceiling) | per request (µs) |",
        "| --- | --: | --: |",
    ]
    for a in ALGS:
        ratio = statistics.median(paired(rates[("lua_nocache", a)], rates[("ceiling", a)]))
        per = (1 / statistics.median(rates[("lua_nocache", a)]) - 1 / statistics.median(rates[("ceiling", a)])) * 1e6
        lines.append(f"| {a} | {1 - ratio:.0%} | {per:.1f} |")
    for a in ALGS:
        cache_ratio = statistics.median(paired(rates[("lua_cache", a)], rates[("ceiling", a)]))
        targets.append(
            (f"{a}: access_by_lua + cache vs the ceiling", f"{cache_ratio:.0%}", ">= 80%", cache_ratio >= 0.8)
        )
        fa_ratio = statistics.median(paired(rates[("lua_cache", a)], rates[("auth_request", a)]))
        targets.append(
            (f"{a}: access_by_lua + cache vs auth_request to serve", f"{fa_ratio:.1f}x", ">= 3x", fa_ratio >= 3)
        )
    return lines, targets


def abi_overhead(tmp: Path, quick: bool, log: Log) -> list[dict[str, Any]] | str:
    """The Rust bench binary's rows, or why there are none."""
    if not shutil.which("cargo"):
        return "cargo is not installed"
    log("  C ABI vs the core (cargo run --example abi_overhead) ...")
    calls = ("HS256:50000", "RS256:5000") if quick else ("HS256:200000", "RS256:20000")
    run = subprocess.run(
        ["cargo", "run", "--quiet", "--release", "--manifest-path", str(NATIVE / "Cargo.toml")]
        + ["-p", "turbojwt-capi", "--example", "abi_overhead", "--", str(tmp), *calls]
        + ["--rounds", "3" if quick else "7"],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        return f"the abi_overhead example failed: {run.stderr.strip()[-500:]}"
    return [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]


def cffi_overhead(keys: dict[str, tuple[bytes, str]], quick: bool, log: Log) -> list[dict[str, Any]] | str:
    """ns per decode of the PyO3 Verifier and of the cffi binding, same token, key, policy."""
    if not LIBRARY.is_file():
        return "the release libturbojwt is not built"
    try:
        sys.path.insert(0, str(ROOT / "python"))
        import turbojwt_cffi
    except ImportError as e:
        return f"the cffi binding cannot be loaded: {e}"
    os.environ.setdefault("TURBOJWT_LIBRARY", str(LIBRARY))
    log("  cffi vs PyO3 ...")
    rounds = 3 if quick else 7
    rows = []
    for alg in ALGS:
        key, token = keys[alg]
        pyo3 = turbojwt.Verifier(key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)
        cffi = turbojwt_cffi.Verifier(key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)
        if pyo3.decode(token) != cffi.decode(token):
            return f"{alg}: the two paths disagree on the claims"
        n = (20_000 if alg == "HS256" else 2_000) // (4 if quick else 1)
        a: list[float] = []
        b: list[float] = []
        for _ in range(rounds):
            a.append(per_call(pyo3.decode, token, n))
            b.append(per_call(cffi.decode, token, n))
        rows.append({"alg": alg, "pyo3": a, "cffi": b})
    return rows


def per_call(fn: Callable[[str], object], token: str, n: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(n):
        fn(token)
    return (time.perf_counter_ns() - start) / n


def spread_ns(xs: list[float]) -> str:
    return f"{statistics.median(xs):,.0f} ({min(xs):,.0f}..{max(xs):,.0f})"


def overhead_lines(abi: list[dict[str, Any]] | str, cffi: list[dict[str, Any]] | str) -> list[str]:
    lines = ["### Per-call cost of the C ABI", ""]
    if isinstance(abi, str):
        lines += [f"_C ABI vs the core skipped: {abi}._", ""]
    else:
        lines += [
            "`tj_verify` (libturbojwt, C ABI) against the core's own `Verifier::verify`, same token, key and "
            "policy, no cache, no Python (native/capi/examples/abi_overhead.rs; median of the rounds, min..max):",
            "",
            "| token | core verify (ns) | C ABI tj_verify (ns) | ABI - core (ns) |",
            "| --- | --: | --: | --: |",
        ]
        for row in abi:
            lines.append(
                f"| {row['alg']} | {row['core_ns']:,.0f} ({row['core_min']:,.0f}..{row['core_max']:,.0f}) "
                f"| {row['abi_ns']:,.0f} ({row['abi_min']:,.0f}..{row['abi_max']:,.0f}) "
                f"| {row['abi_ns'] - row['core_ns']:+,.0f} |"
            )
        lines.append("")
    if isinstance(cffi, str):
        lines += [f"_cffi vs PyO3 skipped: {cffi}._", ""]
    else:
        lines += [
            "The cffi binding (python/turbojwt_cffi over libturbojwt) against the PyO3 `turbojwt.Verifier.decode`, "
            "CPython, same token, key and policy, no cache (median of the rounds, min..max):",
            "",
            "| token | PyO3 decode (ns) | cffi decode (ns) | cffi - PyO3 (ns) |",
            "| --- | --: | --: | --: |",
        ]
        for row in cffi:
            pa, pb = statistics.median(row["pyo3"]), statistics.median(row["cffi"])
            lines.append(f"| {row['alg']} | {spread_ns(row['pyo3'])} | {spread_ns(row['cffi'])} | {pb - pa:+,.0f} |")
        lines.append("")
    return lines


def section(quick: bool, log: Log = _stderr) -> tuple[list[str], list[Target]]:
    """The section's lines and its targets (what, measured, limit, met)."""
    lines = [TITLE, ""]
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="turbojwt-nginx-lua-") as name:
        tmp = Path(name)
        keys = make_keys(tmp)
        missing = missing_parts()
        if missing:
            lines += [f"_nginx rows skipped: {', '.join(missing)} missing._", ""]
        else:
            rates = measure_nginx(quick, log, tmp, keys)
            rounds, seconds = (2, 2) if quick else (5, 4)
            note = (
                f"wrk -t1 -c32 on loopback, one nginx worker (nginx, wrk and granian share the machine's "
                f"{os.cpu_count()} cores), {rounds} interleaved rounds of {seconds} s per row, every location "
                'serving the same static file; a run with any non-2xx answer is refused. "Of the ceiling" is the '
                "median of the per-round ratios."
            )
            body, targets = nginx_lines(rates, note)
            lines += body + [""]
        lines += overhead_lines(abi_overhead(tmp, quick, log), cffi_overhead(keys, quick, log))
    return lines, targets


def main() -> None:
    from sections import section_main  # benchmarks/sections.py, beside this file

    section_main(section, __doc__)


if __name__ == "__main__":
    main()
