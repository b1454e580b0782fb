"""nginx for the end-to-end tests: the Debian package's binary (installed with apt-get when
missing; a test module fails under CI=true if it cannot be, so it cannot pass by skipping),
free loopback ports, and waiting for a server to answer."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable

import httpx
import pytest


def nginx_binary() -> str | None:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"] if shutil.which("sudo") else None
    if shutil.which("apt-get") and sudo is not None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

        def apt(*args: str) -> bool:
            return subprocess.run([*sudo, "apt-get", *args], env=env, capture_output=True).returncode == 0

        install = ("install", "-y", "-q", "nginx-light")
        if apt(*install) or (apt("update", "-q") and apt(*install)):
            return shutil.which("nginx") or "/usr/sbin/nginx"
    return None


def require_nginx() -> str:
    """The nginx binary, or the calling module skipped (failed under CI=true)."""
    nginx = nginx_binary()
    if nginx is None:
        if os.environ.get("CI"):
            raise RuntimeError("nginx is missing and could not be installed with apt-get")
        pytest.skip(
            "nginx is not installed and cannot be installed here (needs apt-get as root or sudo)",
            allow_module_level=True,
        )
    return nginx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up")


def stop(processes: list[tuple[subprocess.Popen, str]]) -> None:
    """Terminates each process (killing it if it lingers) and prints its output."""
    for proc, _ in processes:
        proc.terminate()
    for proc, name in processes:
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if out:
            print(f"--- {name} output ---\n{out.decode(errors='replace')}")
