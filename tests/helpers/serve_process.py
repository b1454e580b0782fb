"""``turbojwt serve`` as a real process on a free loopback port, its output in a file (a pipe
nobody reads could fill up and stall the server), and the polling the end-to-end tests do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

import turbojwt
from helpers.redis_server import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The folder holding the turbojwt package this process imports, for child processes' PYTHONPATH.
IMPORTED_FROM = str(Path(turbojwt.__file__).resolve().parents[1])


class ServeProcess:
    def __init__(self, config: Path, log: Path, *args: str) -> None:
        self.config = config
        self.log_path = log
        self.port = free_port()
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServeProcess:
        env = dict(os.environ)
        # The turbojwt this test process imports (an installed package, or python/ with its
        # built module beside it): never python/ of a fresh clone, which has no native module.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [IMPORTED_FROM, env.get("PYTHONPATH")]))
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "turbojwt", "serve", "--config", str(self.config), "--port", str(self.port)]
                + list(self.args),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        wait_until(lambda: httpx.get(self.url + "/healthz").status_code in (200, 503), "turbojwt serve", 30)
        return self

    def hup(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check(self, token: str | None, client: httpx.Client | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return (client or httpx).get(self.url + "/check", headers=headers)

    def metric(self, name: str) -> float | None:
        for line in httpx.get(self.url + "/metrics").text.splitlines():
            if line.startswith((name + " ", name + "{")):
                return float(line.rsplit(" ", 1)[1])
        return None


def wait_until(check, what: str, timeout: float = 10.0) -> None:
    """Polls ``check`` until it is true; fails after ``timeout`` seconds (a deadline, not a
    timing: the tests assert that something happens, never how fast)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")
