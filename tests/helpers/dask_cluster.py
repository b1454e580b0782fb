"""A real Dask cluster of separate processes: ``dask scheduler`` and ``dask worker``
(distributed's command line, run as ``python -m dask scheduler`` with this interpreter) on loopback, free ports, no dashboard, each
worker single-threaded and without a nanny (the worker process is the one a test kills),
their scratch space in the test's folder, the turbojwt this test process imports on their
path (an installed package, or python/ with its built module beside it: never python/ of a
fresh clone, which has no native module)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import turbojwt
from helpers.redis_server import free_port

# The folder holding the turbojwt package this process imports, for child processes' PYTHONPATH.
IMPORTED_FROM = str(Path(turbojwt.__file__).resolve().parents[1])


class DaskCluster:
    """``start(n_workers)``, ``stop()``, ``address``, ``workers`` (their processes),
    ``kill_worker(address)`` (SIGKILL, as a machine that dies)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [IMPORTED_FROM, env.get("PYTHONPATH")]))
        env["DASK_TEMPORARY_DIRECTORY"] = str(self.folder)
        env["OPENBLAS_NUM_THREADS"] = "1"
        return env

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        with open(self.folder / log, "wb") as out:
            return subprocess.Popen(
                [sys.executable, "-m", *args], env=self._env(), stdout=out, stderr=subprocess.STDOUT, cwd=self.folder
            )

    def start(self, n_workers: int = 2) -> DaskCluster:
        self.scheduler = self._spawn(
            [
                "dask",
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-dashboard",
                # (its HTTP endpoints, on a free port: 8787 may be taken)
                "--dashboard-address",
                "127.0.0.1:0",
            ],
            "scheduler.log",
        )
        for i in range(n_workers):
            self.workers.append(
                self._spawn(
                    [
                        "dask",
                        "worker",
                        self.address,
                        "--host",
                        "127.0.0.1",
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--dashboard-address",
                        "127.0.0.1:0",
                        "--local-directory",
                        str(self.folder),
                        "--name",
                        f"w{i}",
                    ],
                    f"worker-{i}.log",
                )
            )
        from distributed import Client

        deadline = time.monotonic() + 90
        while True:
            try:
                with Client(self.address, timeout="5s") as client:
                    client.wait_for_workers(n_workers, timeout=60)
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline or self.scheduler.poll() is not None:
                    self.stop()
                    raise RuntimeError("the Dask cluster did not start: " + self.logs()) from None
                time.sleep(0.2)
        return self

    def kill_worker(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(self.folder.glob("*.log")))

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in [*self.workers, self.scheduler]:
            if proc is None:
                continue
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
