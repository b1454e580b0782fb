"""A real nginx for the end-to-end tests (tests/gateway/test_forward_auth_nginx.py,
tests/lua/test_nginx_lua.py): Debian's package, installed with apt-get when missing (the
importing module fails under CI=true when it cannot be, so a test cannot pass by skipping
there); free loopback ports; polling with a deadline."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from helpers.debian import apt_install


def nginx_binary() -> str | None:
    """Debian's nginx (nginx-light), installed when missing; None when it cannot be had."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found:
        return found
    if apt_install("nginx-light"):
        return shutil.which("nginx") or "/usr/sbin/nginx"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(check: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    """Polls ``check`` until it is true (connection errors count as false) or ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {timeout} s")


@contextlib.contextmanager
def running(nginx: str, prefix: Path, conf: str, ready_url: str) -> Iterator[Path]:
    """nginx in the foreground with ``conf`` under ``prefix`` (its ``logs/`` and ``temp/``
    made), until ``ready_url`` answers; stopped afterwards, its output and the end of its
    error log printed (pytest shows them for a failed test). Yields the error log's path."""
    (prefix / "logs").mkdir(exist_ok=True)
    (prefix / "temp").mkdir(exist_ok=True)
    (prefix / "nginx.conf").write_text(conf, encoding="utf-8")
    proc = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    log = prefix / "logs" / "error.log"
    try:
        wait_until(lambda: proc.poll() is None and httpx.get(ready_url).status_code < 500, "nginx")
        yield log
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if out:
            print(f"--- nginx output ---\n{out.decode(errors='replace')}")
        if log.exists():
            print(f"--- nginx error.log ---\n{log.read_text(errors='replace')[-5000:]}")
