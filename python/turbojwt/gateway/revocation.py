"""Token revocation: a list of revoked ``jti``s and of "every token of subject S issued before
T" rules (logout everywhere), checked by ``Policy`` after a provider has verified a token.

Every process checks its own replica of the list (dictionary lookups, never a network round
trip on a request). Where the list is kept, and how the replica follows it:

* ``memory`` (``Revocations``): this process only; ``revoke`` is the only writer.
* ``file`` (``FileRevocations``): one JSON object per line, rewritten atomically (under a
  lock file) by ``turbojwt revoke`` or ``revoke()``; the replica re-reads it when it changes.
* ``redis`` (``RedisRevocations``): one key per entry that Redis expires by itself, and a
  pub/sub channel announcing each new entry; the replica follows the channel and re-reads
  every key (SCAN) periodically and after each reconnection.

An entry lives until the token it revokes would have expired (its ``exp`` plus the largest
provider leeway), or for a subject rule until the expiry the operator gives, at most
``max_ttl`` from when it is written. A rule without an expiry lives ``max_ttl``.

A synchronised replica that cannot reach its store keeps serving what it has and reports
itself stale; past ``stale_after`` seconds without a confirmed sync it refuses every token
with ``RevocationUnavailableError`` (503, ``on_stale = "closed"``, the default) or keeps
admitting tokens it does not know to be revoked (``on_stale = "open"``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .._time import parse_time
from ..exceptions import InvalidTokenError, PyJWTError

log = logging.getLogger("turbojwt.revocation")

__all__ = [
    "FileRevocations",
    "RedisRevocations",
    "Revocation",
    "RevocationSettings",
    "RevocationStoreError",
    "RevocationUnavailableError",
    "Revocations",
    "TokenRevokedError",
    "revocations_from_settings",
]


class TokenRevokedError(InvalidTokenError):
    """The token is on the revocation list (401 ``invalid_token``)."""

    def __init__(self) -> None:
        super().__init__("The token has been revoked")


class RevocationUnavailableError(PyJWTError):
    """The revocation list has not been synchronised for longer than ``stale_after`` and the
    policy fails closed (503): whether the token is revoked cannot be known."""


class RevocationStoreError(RuntimeError):
    """An entry could not be written to the shared store (it holds in this process only)."""


DAY = 86400.0


@dataclass(frozen=True)
class Revocation:
    """One entry: a ``jti``, or a subject whose tokens issued before ``before`` are revoked.
    ``expires`` (epoch seconds) is when the entry may be forgotten."""

    expires: float
    jti: str | None = None
    sub: str | None = None
    before: float | None = None

    def document(self) -> dict[str, Any]:
        """The JSON object of a file line, a Redis value and a pub/sub message."""
        if self.jti is not None:
            return {"jti": self.jti, "expires": self.expires}
        return {"sub": self.sub, "before": self.before, "expires": self.expires}

    def text(self) -> str:
        return json.dumps(self.document(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def parse(cls, doc: Any) -> Revocation:
        """An entry from its JSON object; ``ValueError`` for anything else."""
        if isinstance(doc, (str, bytes)):
            doc = json.loads(doc)
        if not isinstance(doc, dict):
            raise ValueError("an entry is a JSON object")
        expires = _number(doc.get("expires"), "expires")
        if set(doc) == {"jti", "expires"} and isinstance(doc["jti"], str):
            return cls(expires, jti=doc["jti"])
        if set(doc) == {"sub", "before", "expires"} and isinstance(doc["sub"], str):
            return cls(expires, sub=doc["sub"], before=_number(doc["before"], "before"))
        raise ValueError('an entry is {"jti", "expires"} or {"sub", "before", "expires"}')

    def merged(self, other: Revocation | None) -> Revocation:
        """Two entries for the same jti or subject: the later ``before`` and ``expires``."""
        if other is None:
            return self
        before = None if self.before is None or other.before is None else max(self.before, other.before)
        return replace(self, expires=max(self.expires, other.expires), before=before)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number of epoch seconds")
    return float(value)


@dataclass(frozen=True)
class RevocationSettings:
    """The ``[revocation]`` table of a policy file."""

    store: str = "memory"  # "memory" | "file" | "redis"
    path: Path | None = None  # file store
    url: str | None = None  # redis store: redis://host:port/db
    prefix: str = "turbojwt:revoked:"  # redis key prefix
    channel: str = "turbojwt:revocations"  # redis pub/sub channel
    resync: float = 30.0  # seconds between full re-reads of the store
    stale_after: float = 60.0  # seconds without a confirmed sync before on_stale applies
    on_stale: str = "closed"  # "closed": 503; "open": admit
    max_ttl: float = 30 * DAY  # the longest an entry lives
    timeout: float = 2.0  # redis connect and command timeout

    KEYS = (
        "store",
        "path",
        "url",
        "prefix",
        "channel",
        "resync",
        "stale_after",
        "on_stale",
        "max_ttl",
        "timeout",
    )

    @classmethod
    def from_table(cls, table: Any, base: Path) -> RevocationSettings:
        """The settings of a ``[revocation]`` table; ``ValueError`` names what is wrong."""
        if not isinstance(table, dict):
            raise ValueError("revocation must be a table")
        unknown = set(table) - set(cls.KEYS)
        if unknown:
            raise ValueError(f"revocation: unknown setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for key in ("store", "path", "url", "prefix", "channel", "on_stale"):
            if key in table:
                if not isinstance(table[key], str) or not table[key]:
                    raise ValueError(f"revocation: {key} must be a non-empty string")
                values[key] = table[key]
        for key in ("resync", "stale_after", "max_ttl", "timeout"):
            if key in table:
                value = table[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                    raise ValueError(f"revocation: {key} must be a positive number of seconds")
                values[key] = float(value)
        if "path" in values:
            values["path"] = base / values["path"]
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.store not in ("memory", "file", "redis"):
            raise ValueError(f'revocation: store must be "memory", "file" or "redis", not {self.store!r}')
        if self.on_stale not in ("closed", "open"):
            raise ValueError(f'revocation: on_stale must be "closed" or "open", not {self.on_stale!r}')
        if (self.store == "file") != (self.path is not None):
            raise ValueError('revocation: path is for store = "file", which needs it')
        if (self.store == "redis") != (self.url is not None):
            raise ValueError('revocation: url is for store = "redis", which needs it')
        if self.url is not None and not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("revocation: url must be a redis://, rediss:// or unix:// URL")
        if self.path is not None and not self.path.parent.is_dir():
            raise ValueError(f"revocation: the folder of {self.path} does not exist")


def revocations_from_settings(settings: RevocationSettings) -> Revocations:
    """The replica a policy checks, for its settings (not started: see ``start``)."""
    if settings.store == "file":
        return FileRevocations(settings)
    if settings.store == "redis":
        return RedisRevocations(settings)
    return Revocations(settings)


class Revocations:
    """The revocation list of this process (the ``memory`` store), and the replica that the
    other stores keep. ``check(claims)`` is what ``Policy`` calls on every verified token.

    A ``jti`` entry revokes the token with that ``jti``. A subject rule revokes every token
    of that ``sub`` whose ``iat`` is before ``before``; a token of that subject without a
    numeric ``iat`` is revoked too (fail closed: its issue time cannot be compared).

    ``generation`` counts the changes to the list: every write, merge, full re-read and
    pruning adds one after it is made. A token found not revoked at generation G is not
    revoked while the generation is still G (its claims are fixed), which is how ``Policy``
    skips the lookups for a token it has checked (``check_fresh`` still runs per request).
    Read G before checking: a write racing the check then either shows in the check or
    moves the generation past G."""

    def __init__(self, settings: RevocationSettings | None = None) -> None:
        self.settings = settings or RevocationSettings()
        # The largest leeway of the policy's providers (set by Policy): a token is accepted
        # that long past its exp, so its entry lives that much longer.
        self.grace = 0.0
        self._jti: dict[str, Revocation] = {}
        self._sub: dict[str, Revocation] = {}
        self._lock = threading.Lock()  # writers only; check() reads without it
        self._pruned = time.time()
        self.generation = 0

    # ------------------------------------------------------------------ the request path

    def check(self, claims: Mapping[str, Any]) -> None:
        """Raises ``TokenRevokedError`` for a revoked token, ``RevocationUnavailableError``
        when the replica is too stale to tell (and the policy fails closed)."""
        jtis, subs = self._jti, self._sub
        if jtis:
            jti = claims.get("jti")
            if isinstance(jti, str) and jti in jtis:
                raise TokenRevokedError()
        if subs:
            sub = claims.get("sub")
            rule = subs.get(sub) if isinstance(sub, str) else None
            if rule is not None:
                iat, before = claims.get("iat"), rule.before
                # "not >=": an iat that does not compare (NaN) is before every time. (An int or
                # float, the common case, is told by its type before the isinstance checks.)
                if (type(iat) is not int and type(iat) is not float) and (
                    isinstance(iat, bool) or not isinstance(iat, (int, float))
                ):
                    raise TokenRevokedError()
                if before is None or not iat >= before:
                    raise TokenRevokedError()
        self.check_fresh()

    def check_fresh(self) -> None:
        """Raises ``RevocationUnavailableError`` when the list is too stale to answer from
        (and the policy fails closed)."""
        # (this process's own list is never stale)

    # ------------------------------------------------------------------ writing

    def revoke(self, jti: str, exp: Any = None) -> Revocation:
        """Revokes the token with this ``jti``. ``exp`` is its expiry (anything
        ``turbojwt._time.parse_time`` reads: epoch seconds, ISO 8601, a datetime); without
        it the entry lives ``max_ttl``."""
        if not isinstance(jti, str) or not jti:
            raise ValueError("jti must be a non-empty string")
        entry = Revocation(self._expiry(exp, None), jti=jti)
        return self._write(entry)

    def revoke_subject(self, sub: str, before: Any = None, exp: Any = None) -> Revocation:
        """Revokes every token of subject ``sub`` issued before ``before`` (default: now),
        and every token of it without an ``iat``. ``exp``: when the rule may be forgotten
        (the latest expiry of the tokens it revokes); default ``before + max_ttl``."""
        if not isinstance(sub, str) or not sub:
            raise ValueError("sub must be a non-empty string")
        now = time.time()
        at = now if before is None else parse_time(before)
        entry = Revocation(self._expiry(exp, at), sub=sub, before=at)
        return self._write(entry)

    def _expiry(self, exp: Any, before: float | None) -> float:
        now = time.time()
        limit = now + self.settings.max_ttl
        if exp is None:
            return min((now if before is None else before) + self.settings.max_ttl, limit)
        return min(parse_time(exp) + self.grace, limit)

    def _write(self, entry: Revocation) -> Revocation:
        self.apply(entry)
        return entry

    # ------------------------------------------------------------------ the replica

    def apply(self, entry: Revocation) -> None:
        """Adds an entry to this process's list (merging with one for the same jti or
        subject: the later ``before`` and ``expires`` win)."""
        with self._lock:
            if entry.jti is not None:
                self._jti[entry.jti] = entry.merged(self._jti.get(entry.jti))
            elif entry.sub is not None:
                self._sub[entry.sub] = entry.merged(self._sub.get(entry.sub))
            self.generation += 1
            now = time.time()
            if now - self._pruned > 60:
                self._prune_locked(now)

    def replace_all(self, entries: Iterable[Revocation]) -> None:
        """The whole list, as a full re-read of the store gives it."""
        jti: dict[str, Revocation] = {}
        sub: dict[str, Revocation] = {}
        now = time.time()
        for e in entries:
            if e.expires <= now:
                continue
            if e.jti is not None:
                jti[e.jti] = e.merged(jti.get(e.jti))
            elif e.sub is not None:
                sub[e.sub] = e.merged(sub.get(e.sub))
        with self._lock:
            self._jti, self._sub = jti, sub
            self._pruned = now
            self.generation += 1

    def _prune_locked(self, now: float) -> None:
        self._jti = {k: e for k, e in self._jti.items() if e.expires > now}
        self._sub = {k: e for k, e in self._sub.items() if e.expires > now}
        self._pruned = now
        self.generation += 1

    def entries(self) -> list[Revocation]:
        """The live entries of this process's list."""
        now = time.time()
        return [e for d in (self._jti, self._sub) for e in list(d.values()) if e.expires > now]

    def counts(self) -> dict[str, int]:
        return {"jti": len(self._jti), "sub": len(self._sub)}

    # ------------------------------------------------------------------ operating

    def start(self) -> None:
        """Starts following the store (nothing for the memory store)."""

    def close(self) -> None:
        """Stops following the store; the list keeps answering with what it holds."""

    def same_store(self, other: Revocations) -> bool:
        """Whether ``other`` follows the same store with the same settings (a reloaded
        policy then keeps this replica)."""
        return type(self) is type(other) and self.settings == other.settings and self.settings.store != "memory"

    def status(self) -> dict[str, Any]:
        """For /healthz and /metrics: ``store``, ``stale`` (bool), ``sync_age`` (seconds
        since the replica was last confirmed in sync; None for the memory store),
        ``unavailable`` (past ``stale_after`` and failing closed), ``sync_failures``."""
        return {
            "store": self.settings.store,
            "stale": False,
            "sync_age": None,
            "unavailable": False,
            "sync_failures": 0,
            **{f"entries_{k}": v for k, v in self.counts().items()},
        }


class _SyncedRevocations(Revocations):
    """A replica following a shared store from a background thread: a full read at start and
    every ``resync`` seconds, the store's own change signal in between, reconnection with
    backoff after a failure. ``_synced_at`` is when the replica was last confirmed to hold
    everything the store held (monotonic); requests compare its age to ``stale_after``."""

    def __init__(self, settings: RevocationSettings) -> None:
        super().__init__(settings)
        self._synced_at: float | None = None  # never synced: as stale as can be
        self._healthy = False
        self._failures = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._stop = threading.Event()
        self._warned_open = False
        # How often the store is asked whether it is still there: often enough that a
        # healthy replica never nears stale_after.
        self._heartbeat = min(1.0, settings.stale_after / 4)

    def sync_age(self) -> float:
        synced = self._synced_at
        return math.inf if synced is None else time.monotonic() - synced

    def _mark_synced(self, at: float | None = None) -> None:
        self._synced_at = time.monotonic() if at is None else at
        if not self._healthy:
            self._healthy = True
            self._warned_open = False
            log.info("revocation list in sync with its %s store", self.settings.store)

    def check_fresh(self) -> None:
        if self._thread is None:
            self._start_thread()
        synced = self._synced_at
        if synced is not None and time.monotonic() - synced <= self.settings.stale_after:
            return
        if self.settings.on_stale == "closed":
            raise RevocationUnavailableError("The revocation list is unavailable")
        if not self._warned_open:
            self._warned_open = True
            log.warning("revocation list stale past stale_after: admitting tokens (on_stale = open)")

    def status(self) -> dict[str, Any]:
        age = self.sync_age()
        return {
            **super().status(),
            "stale": not self._healthy or age > self.settings.stale_after,
            "sync_age": age,
            "unavailable": age > self.settings.stale_after and self.settings.on_stale == "closed",
            "sync_failures": self._failures,
        }

    def start(self) -> None:
        """A first full read (here, so that a policy starts with the list), then the
        background thread. A first read that fails is logged; the thread keeps trying.
        A replica checked before ``start`` starts its thread itself (without the first
        read: a request never waits for the store)."""
        if self._thread is not None:
            return
        try:
            self._initial_sync()
        except Exception as e:
            self._failed(e)
        self._start_thread()

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"turbojwt-revocation-{self.settings.store}", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stops the thread for good; the replica keeps answering with what it holds."""
        with self._lock:
            self._closed = True
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)

    def _failed(self, error: BaseException) -> None:
        self._failures += 1
        if self._healthy or self._failures == 1:
            log.warning("revocation %s store unreachable, serving the replica: %s", self.settings.store, error)
        self._healthy = False

    def _run(self) -> None:
        delay = 0.1
        while not self._stop.is_set():
            try:
                self._follow()
                delay = 0.1
            except Exception as e:
                self._failed(e)
                # Exponential backoff with jitter, at most 5 s between attempts.
                self._stop.wait(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 5.0)

    def _initial_sync(self) -> None:
        raise NotImplementedError

    def _follow(self) -> None:
        """Follows the store until it fails (raise) or ``_stop`` is set (return)."""
        raise NotImplementedError


# ---------------------------------------------------------------------- file


class FileRevocations(_SyncedRevocations):
    """The list in a file (one instance, or several sharing a filesystem): one JSON object
    per line, ``{"jti": "...", "expires": 1767225600}`` or ``{"sub": "...", "before":
    1767139200, "expires": 1767225600}`` (epoch seconds). Writers take an exclusive lock on
    ``<path>.lock``, drop expired entries and replace the file atomically (write a temporary
    file, fsync, rename). A missing file is an empty list. The replica checks the file's
    identity (inode, size, mtime) every second and re-reads it when it changed, and every
    ``resync`` seconds; a file that cannot be read or parsed leaves the replica as it was,
    stale."""

    def __init__(self, settings: RevocationSettings) -> None:
        super().__init__(settings)
        assert settings.path is not None
        self.path: Path = settings.path
        self._seen: tuple[int, int, int] | None = None
        self._reload()  # loaded at start: a file that is not a revocation list is refused here

    def _identity(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def read(self) -> list[Revocation]:
        """The file's entries; ``ValueError`` naming the line that is not one."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    out.append(Revocation.parse(line))
                except ValueError as e:
                    raise ValueError(f"{self.path}:{n}: {e}") from None
        return out

    def _reload(self) -> None:
        identity = self._identity()
        self.replace_all(self.read())
        self._seen = identity
        self._mark_synced()

    def _initial_sync(self) -> None:
        self._reload()

    def _follow(self) -> None:
        last_full = time.monotonic()
        if not self._healthy:
            self._reload()
        while not self._stop.wait(self._heartbeat):
            now = time.monotonic()
            if self._identity() != self._seen or now - last_full >= self.settings.resync:
                self._reload()
                last_full = now
            else:
                self._mark_synced(now)

    def _write(self, entry: Revocation) -> Revocation:
        import fcntl  # POSIX; the file store is for one host

        self.apply(entry)
        with open(f"{self.path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            now = time.time()
            entries: dict[tuple[str, str], Revocation] = {}
            for e in [*self.read(), entry]:
                if e.expires > now:
                    key = ("jti", e.jti) if e.jti is not None else ("sub", e.sub or "")
                    entries[key] = e.merged(entries.get(key))
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            try:
                with open(tmp, "w", encoding="utf-8") as f:
                    f.writelines(e.text() + "\n" for e in entries.values())
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            finally:
                tmp.unlink(missing_ok=True)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return entry


# ---------------------------------------------------------------------- redis

# Writes an entry (ARGV[1], JSON) under KEYS[1], merged with the one already there (the later
# "before" and "expires"), expiring when the merged entry does, and announces it on the
# channel ARGV[2]. One script: atomic, so two revocations of one subject cannot lose the later
# "before".
_WRITE = """
local entry = cjson.decode(ARGV[1])
local current = redis.call('GET', KEYS[1])
if current then
    local old = cjson.decode(current)
    if old.expires > entry.expires then entry.expires = old.expires end
    if entry.before and old.before and old.before > entry.before then entry.before = old.before end
end
local text = cjson.encode(entry)
redis.call('SET', KEYS[1], text)
redis.call('PEXPIREAT', KEYS[1], math.ceil(entry.expires * 1000))
redis.call('PUBLISH', ARGV[2], text)
return text
"""


_PING = "turbojwt-revocation-sync"


class RedisRevocations(_SyncedRevocations):
    """The list in Redis, shared by a fleet: each entry is a key (``<prefix>jti:<jti>`` or
    ``<prefix>sub:<sub>``) holding the entry's JSON and expiring with it (PEXPIREAT), written
    and announced on ``channel`` by one Lua script. Each process's replica subscribes to the
    channel, then reads every key (SCAN), and re-reads them every ``resync`` seconds and after
    every reconnection, so an announcement missed while disconnected is caught up. It pings
    over the subscription every second: a reply confirms that everything published before
    the ping has arrived (the sync age)."""

    def __init__(self, settings: RevocationSettings) -> None:
        super().__init__(settings)
        import redis  # the gateway extra

        self._redis = redis
        self._writer: Any = None

    def _client(self) -> Any:
        assert self.settings.url is not None
        return self._redis.Redis.from_url(
            self.settings.url,
            socket_timeout=self.settings.timeout,
            socket_connect_timeout=self.settings.timeout,
            socket_keepalive=True,
            decode_responses=True,
            # RESP2: a PING on a subscribed connection is answered with a "pong" message
            # (redis-py 8 speaks RESP3 by default, where it misreads that answer).
            protocol=2,
        )

    def key(self, entry: Revocation) -> str:
        kind, value = ("jti", entry.jti) if entry.jti is not None else ("sub", entry.sub)
        return f"{self.settings.prefix}{kind}:{value}"

    def read(self, client: Any) -> list[Revocation]:
        """Every entry in Redis (SCAN over the prefix; values read in batches)."""
        out = []
        batch: list[str] = []

        def flush() -> None:
            for value in client.mget(batch):
                if value is not None:  # expired between SCAN and MGET
                    try:
                        out.append(Revocation.parse(value))
                    except ValueError as e:
                        log.warning("ignoring a malformed revocation entry in redis: %s", e)
            batch.clear()

        pattern = self.settings.prefix.replace("\\", "\\\\")
        for c in "*?[]":
            pattern = pattern.replace(c, "\\" + c)
        for key in client.scan_iter(match=pattern + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                flush()
        if batch:
            flush()
        return out

    def _initial_sync(self) -> None:
        client = self._client()
        try:
            self.replace_all(self.read(client))
        finally:
            client.close()
        self._mark_synced()

    def _follow(self) -> None:
        client = self._client()
        pubsub = client.pubsub()
        try:
            # Subscribe first, then read everything: an entry written in between is in both.
            pubsub.subscribe(self.settings.channel)
            deadline = time.monotonic() + self.settings.timeout
            while True:
                msg = pubsub.get_message(timeout=self.settings.timeout)
                if msg is not None and msg["type"] == "subscribe":
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("no subscription confirmation from redis")
            started = time.monotonic()
            self.replace_all(self.read(client))
            self._mark_synced(started)
            last_full = started
            ping_sent: float | None = None
            while not self._stop.is_set():
                msg = pubsub.get_message(timeout=self._heartbeat)
                now = time.monotonic()
                if msg is not None:
                    if msg["type"] == "message":
                        try:
                            self.apply(Revocation.parse(msg["data"]))
                        except ValueError as e:
                            log.warning("ignoring a malformed revocation announcement: %s", e)
                    elif msg["type"] == "pong" and msg["data"] == _PING and ping_sent is not None:
                        self._mark_synced(ping_sent)
                        ping_sent = None
                if now - last_full >= self.settings.resync:
                    self.replace_all(self.read(client))
                    self._mark_synced(now)
                    last_full = now
                if ping_sent is None and now - (self._synced_at or 0) >= self._heartbeat:
                    ping_sent = now
                    pubsub.ping(_PING)
                elif ping_sent is not None and now - ping_sent > self.settings.timeout:
                    raise TimeoutError("redis did not answer a ping")
        finally:
            try:
                pubsub.close()
            finally:
                client.close()

    def _write(self, entry: Revocation) -> Revocation:
        self.apply(entry)
        if self._writer is None:
            self._writer = self._client()
        try:
            text = self._writer.eval(_WRITE, 1, self.key(entry), entry.text(), self.settings.channel)
        except self._redis.RedisError as e:
            raise RevocationStoreError(f"revoked in this process only: redis is unreachable ({e})") from e
        return Revocation.parse(text)

    def close(self) -> None:
        super().close()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
