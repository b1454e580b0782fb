"""Reloading a running service's policy (``turbojwt serve``: on SIGHUP, and optionally when
the policy file or a key file it names changes) without dropping a request.

The reload happens inside each worker process: the new policy is loaded beside the running
one, started (its revocation replica synchronised, its JWKS keys fetched), and then swapped
in with one assignment. A request holds the policy it started with to its end, so requests in
flight finish on the old policy while new ones get the new one; no connection is closed. A
policy that does not load (a TOML error, a missing key file, a bad setting) leaves the
running one in place: the error is logged and counted (``failures``, exported as
``turbojwt_policy_reload_failures_total``). When the new policy keeps the same revocation
store and settings, it keeps the running replica too (no resync, no moment without the list).

Why not granian's own reload (SIGHUP respawns every worker): a new worker starts with empty
caches and an unsynchronised replica, a worker whose policy is broken exits instead of
keeping the old one, and the old worker is stopped with its keep-alive connections, which a
client may be reusing at that instant. So the main process of ``turbojwt serve`` handles
SIGHUP itself (``forward_sighup_to_workers``) and passes it on to the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .policy import Policy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

log = logging.getLogger("turbojwt.serve")


class HoldsPolicy(Protocol):
    policy: Policy
    prewarm: bool

    def check_policy(self, policy: Policy) -> None:
        """Raises ``PolicyError`` for a policy the holder cannot serve."""


def policy_files(config: Path) -> list[Path]:
    """The policy file and the key files its providers and consumers name (what a change of
    reloads)."""
    files = [config]
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return files
    for table, keys in (("provider", ("key_file", "jwks_file")), ("consumer", ("public_key_file",))):
        entries = data.get(table)
        for p in entries if isinstance(entries, list) else []:
            for key in keys:
                name = p.get(key) if isinstance(p, dict) else None
                if isinstance(name, str):
                    files.append(config.parent / name)
    return files


def _identity(files: list[Path]) -> tuple[Any, ...]:
    out: list[Any] = []
    for f in files:
        try:
            st = os.stat(f)
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return tuple(out)


class PolicyReloader:
    """Reloads ``holder.policy`` with ``load()``. ``config``: the policy file, watched every
    ``watch`` seconds with the key files it names when ``watch`` is set."""

    def __init__(self, load: Callable[[], Policy], config: Path | None = None, watch: float | None = None) -> None:
        self.load = load
        self.config = config
        self.watch = watch
        self.reloads = 0
        self.failures = 0
        self.last_error: str | None = None
        self._lock: asyncio.Lock | None = None  # made on the worker's loop (attach)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._holder: HoldsPolicy | None = None

    async def reload(self) -> bool:
        """Loads and starts a new policy and swaps it in; False (the old one kept) when it
        does not load."""
        holder, lock = self._holder, self._lock
        assert holder is not None and lock is not None, "attach() first"
        async with lock:  # one reload at a time; signals during one queue behind it
            old = holder.policy
            try:
                new = await asyncio.to_thread(self.load)
                holder.check_policy(new)
            except Exception as e:
                self.failures += 1
                self.last_error = str(e)
                log.error("policy reload failed, the running policy stays: %s", e)
                return False
            if old.revocations.same_store(new.revocations):
                kept = old.revocations
                kept.grace = new.revocations.grace
                new.revocations.close()
                new.revocations = kept
            else:
                await asyncio.to_thread(new.start)
            if holder.prewarm:
                for name, client in new.jwks_clients():
                    try:
                        await client.aprewarm()
                    except Exception as e:
                        log.warning("prewarming the keys of %s failed: %s", name, e)
            holder.policy = new  # requests in flight keep the policy they started with
            if new.revocations is not old.revocations:
                await asyncio.to_thread(old.close)
            self.reloads += 1
            self.last_error = None
            log.info("policy reloaded")
            return True

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def attach(self, holder: HoldsPolicy) -> None:
        """From the worker's event loop (the app's lifespan startup): SIGHUP reloads, and
        the file watch starts when configured."""
        self._holder = holder
        self._lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.reload()))
        except (NotImplementedError, RuntimeError, ValueError) as e:  # not the main thread, or no SIGHUP
            log.warning("SIGHUP will not reload the policy here: %s", e)
        else:
            # The main process of `turbojwt serve` blocks SIGHUP before starting the workers
            # (they inherit the mask), so that one arriving before this handler is installed
            # waits instead of killing the worker.
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        if self.watch and self.config is not None:
            self._spawn(self._watch(self.config, self.watch))

    async def _watch(self, config: Path, every: float) -> None:
        files = await asyncio.to_thread(policy_files, config)
        seen = await asyncio.to_thread(_identity, files)
        while True:
            await asyncio.sleep(every)
            now = await asyncio.to_thread(_identity, files)
            if now != seen:
                seen = now
                log.info("policy files changed: reloading")
                await self.reload()
                files = await asyncio.to_thread(policy_files, config)
                seen = await asyncio.to_thread(_identity, files)

    async def detach(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            fields = stat[stat.rfind(b")") + 2 :].split()
            if len(fields) > 1 and int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def forward_sighup_to_workers() -> None:
    """In the main process, before the server starts its workers: SIGHUP is blocked (the
    workers inherit that, and unblock it once their handler is in place, see ``attach``)
    and a thread waits for it and sends it on to every child process. A child that never
    unblocks it (one that is not a worker) keeps it pending, harmlessly. Linux only."""
    if not sys.platform.startswith("linux"):
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    me = os.getpid()

    def forward() -> None:
        while True:
            signal.sigwait({signal.SIGHUP})
            children = _children(me)
            log.info("SIGHUP: reloading the policy in %d worker(s)", len(children))
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)

    threading.Thread(target=forward, name="turbojwt-sighup", daemon=True).start()
