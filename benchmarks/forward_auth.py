"""The forward-auth service (issue 6) on uvicorn and on granian, measured with wrk: the same
ASGI app (`turbojwt.gateway.serve.ForwardAuthApp`), the same RS256 policy, one worker each,
interleaved rounds. This is how `turbojwt serve` chose its server.

    python benchmarks/forward_auth.py [--quick]     # needs wrk (apt-get install wrk), granian, uvicorn

`compare.py` includes this section in RESULTS.md when wrk and granian are present.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import turbojwt

ISSUER = "https://idp.bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(url)


def wrk(url: str, token: str, seconds: int, connections: int) -> tuple[float, float]:
    """(requests/s, mean latency ms)."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", f"Authorization: Bearer {token}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
    latency = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw refusals:\n{out}")
    return rate, latency


def section(quick: bool, log=lambda s: print(s, file=sys.stderr)) -> list[str]:
    if not shutil.which("wrk"):
        return ["## Forward-auth service (issue 6)", "", "_Skipped: wrk is not installed._", ""]
    try:
        import granian  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        return ["## Forward-auth service (issue 6)", "", f"_Skipped: {e.name} is not installed._", ""]
    rounds, seconds = (2, 2) if quick else (5, 4)
    key = rsa.generate_private_key(65537, 2048)
    token = turbojwt.encode(
        {"iss": ISSUER, "aud": "api", "sub": "alice", "exp": int(time.time()) + 3600}, key, algorithm="RS256"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "key.pem").write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        for cache in (0, 10000):
            config = tmp_path / f"gateway-{cache}.toml"
            config.write_text(
                textwrap.dedent(f"""
                [[provider]]
                issuer = "{ISSUER}"
                key_file = "key.pem"
                audiences = ["api"]
                algorithms = ["RS256"]
                cache = {cache}
                [claim_to_headers]
                "X-Auth-Subject" = "sub"
            """)
            )
            (tmp_path / f"app{cache}.py").write_text(
                textwrap.dedent(f"""
                from turbojwt.gateway.policy import Policy
                from turbojwt.gateway.serve import ForwardAuthApp
                app = ForwardAuthApp(Policy.from_toml({str(config)!r}))
            """)
            )
            servers = {}
            env = {**os.environ, "PYTHONPATH": tmp + os.pathsep + os.environ.get("PYTHONPATH", "")}
            port = free_port()
            servers["uvicorn"] = (
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--port",
                        str(port),
                        "--workers",
                        "1",
                        "--no-access-log",
                        "--log-level",
                        "warning",
                        f"app{cache}:app",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                    cwd=tmp,
                ),
                port,
            )
            port = free_port()
            servers["granian"] = (
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "granian",
                        "--interface",
                        "asgi",
                        "--port",
                        str(port),
                        "--workers",
                        "1",
                        "--no-access-log",
                        "--log-level",
                        "warning",
                        f"app{cache}:app",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                    cwd=tmp,
                ),
                port,
            )
            try:
                for _, port in servers.values():
                    wait_up(f"http://127.0.0.1:{port}/healthz")
                results: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
                for r in range(rounds):
                    for name, (_, port) in servers.items():
                        results[name].append(wrk(f"http://127.0.0.1:{port}/check", token, seconds, 32))
                    log(f"  forward auth cache={cache} round {r + 1}/{rounds}")
            finally:
                for proc, _ in servers.values():
                    proc.terminate()
                    proc.wait(10)
            for name, values in results.items():
                rates = [v[0] for v in values]
                lat = [v[1] for v in values]
                rows.append(
                    f"| {name} | {'on' if cache else 'off'} | {statistics.median(rates):,.0f} "
                    f"({min(rates):,.0f}..{max(rates):,.0f}) | {statistics.median(lat):.2f} |"
                )
    return [
        "## Forward-auth service (issue 6)",
        "",
        f"`turbojwt serve`'s app on each server, one worker, RS256 token, wrk -t1 -c32, {rounds} interleaved "
        f"rounds of {seconds} s (server and wrk share the 2 cores). Median requests/s (min..max) and mean latency.",
        "",
        "| server | token cache | requests/s | latency ms |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    print("\n".join(section(ap.parse_args().quick)))


if __name__ == "__main__":
    main()
