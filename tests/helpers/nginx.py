"""A real nginx for the end-to-end tests (forward auth, consumers, resty.turbojwt): Debian's
package (``helpers.debian``; a test module fails under CI=true if it cannot be had, so it
cannot pass by skipping), free loopback ports, polling with a deadline, running nginx in the
foreground, and stopping processes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from helpers.debian import debian_command


def nginx_binary() -> str | None:
    """Debian's nginx (nginx-light), installed when missing; None when it cannot be had."""
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


def _print_output(proc: subprocess.Popen, name: str) -> None:
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    if out:
        print(f"--- {name} output ---\n{out.decode(errors='replace')}")


def stop(processes: list[tuple[subprocess.Popen, str]]) -> None:
    """Terminates each process (killing it if it lingers) and prints its output."""
    for proc, _ in processes:
        proc.terminate()
    for proc, name in processes:
        _print_output(proc, name)


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
        _print_output(proc, "nginx")
        if log.exists():
            print(f"--- nginx error.log ---\n{log.read_text(errors='replace')[-5000:]}")
