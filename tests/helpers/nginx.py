"""nginx for the end-to-end tests: the Debian package's binary (``helpers.debian``; a test
module fails under CI=true if it cannot be had, so it cannot pass by skipping), free
loopback ports, waiting for a server to answer, and stopping processes."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable

import httpx
import pytest

from helpers.debian import debian_command


def nginx_binary() -> str | None:
    return debian_command("nginx", "nginx-light", ("/usr/sbin/nginx", "/usr/local/sbin/nginx"))


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
