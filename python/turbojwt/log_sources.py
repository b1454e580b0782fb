"""Log sources verified chunk by chunk: the readers (``turbojwt.logs``) joined to the batch
engine (``turbojwt.batch``). ``turbojwt verify-logs`` and ``turbojwt.dask`` run
their sources through it; each chunk is a :class:`NativeBlock` (JSON lines, parsed and
verified natively) or the output columns of a chunk of records as Python lists.

The options are any object with the attributes of :class:`SourceOptions` (the command's
parsed arguments have them). The readers are called through the ``turbojwt.logs`` package,
so that they can be replaced there, as the tests do.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .logs.report import Summary


class SourceError(ValueError):
    """A source that cannot be read as asked: an option its format needs is missing, or it
    cannot be opened."""


@dataclass(frozen=True)
class SourceOptions:
    """How to read the sources (the options of ``turbojwt verify-logs`` of the same names)."""

    format: str = "auto"
    token_field: str | None = None
    time_field: str | None = None
    column: str | None = None
    token_regex: str | None = None
    threads: int | None = None
    chunk_size: int = 65536


def verify_source(args: Any, engine: Any, source: str, fmt: str, at_all: float | None, opened: list[Any]) -> Any:
    """Output columns chunk by chunk for one source (a :class:`NativeBlock`, or a dict of
    lists); the file it opens is added to ``opened`` (the caller closes them all at its end,
    however it ends, with :func:`close_all`; stdin is not added: not ours).

    :raises SourceError: an option the format needs is missing, or the source cannot be
        opened."""

    if fmt == "jsonl" and engine.native is not None:
        if not args.token_field:
            raise SourceError("JSON lines input needs --token-field")
        stream = _open(source, opened)
        return _jsonl_native(args, engine, stream, at_all)
    records = _records(args, source, fmt, opened)
    return (verify_records(engine, r, at_all, args.threads) for r in records)


def failure_message(source: str, error: Exception) -> str | None:
    """What went wrong with ``source`` in one line naming it, for an error a source can
    raise while it is opened or read (None for any other): a read that stopped (a truncated
    .gz names the line reached), a file that cannot be opened, a column or field missing."""
    from .logs import ReadError

    if isinstance(error, ReadError):
        return f"cannot read {source} at {error}"
    if isinstance(error, SourceError):
        return str(error) if source in str(error) else f"{source}: {error}"
    if isinstance(error, OSError):
        return f"cannot read {source}: {error.strerror or error}"
    if isinstance(error, ValueError):
        return f"{source}: {error}"
    return None


def close_all(streams: list[Any]) -> None:
    """Closes the streams :func:`verify_source` opened."""
    for stream in streams:
        with contextlib.suppress(OSError, ValueError):  # (a truncated .gz may complain again)
            stream.close()


def _open(source: str, opened: list[Any]) -> Any:
    from . import logs

    try:
        stream = logs.open_source(source, sys.stdin.buffer if source == "-" else None)
    except OSError as e:
        raise SourceError(f"cannot read {source}: {e.strerror or e}") from e
    if source != "-":
        opened.append(stream)
    return stream


def _jsonl_native(args: Any, engine: Any, stream: Any, at_all: float | None) -> Any:
    """JSON lines parsed, and their tokens verified, in the native core (no Python object per line)."""
    from . import logs
    from .batch import default_threads

    threads = args.threads or default_threads()
    for first, block in logs.read_blocks(stream, args.chunk_size):
        yield NativeBlock(engine.verify_jsonl_block(block, args.token_field, args.time_field, at_all, threads), first)


class NativeBlock:
    """The verdicts of a block of lines, read from the native part on demand: the summary
    alone needs no Python object per line."""

    __slots__ = ("first", "part")

    def __init__(self, part: Any, first: int) -> None:
        self.part = part
        self.first = first

    def report(self, fields: tuple[str, ...], source: str) -> Any:
        """The records of the block as an Arrow batch with the columns ``fields``, built
        natively from the verdict arrays."""
        return self.part.report(list(fields), self.first, source)

    def add_to(self, summary: Summary) -> int:
        outcomes, expired_only_now, (issuers, kids, subjects) = self.part.tally(summary.expired_before)
        summary.add(len(self.part), outcomes, expired_only_now, issuers, kids, subjects)
        return len(self.part)


def tally_block(block: Any, summary: Summary, fields: tuple[str, ...] | None, source: str) -> tuple[int, Any]:
    """Adds one block of :func:`verify_source` to ``summary``; returns its number of lines
    and, when ``fields`` are asked for, its records: an Arrow batch, or a callable building
    it (on the writer's thread), for a ``turbojwt.logs`` writer. A ``source`` field holds
    ``source``."""
    from . import _native

    if isinstance(block, NativeBlock):
        lines = block.add_to(summary)
        return lines, (functools.partial(block.report, fields, source) if fields else None)
    summary.update(block)
    lines = len(block["line"])
    if not fields:
        return lines, None
    if "source" in fields:
        block["source"] = [source] * lines
    return lines, _native.report_batch(block, list(fields))


def _records(args: Any, source: str, fmt: str, opened: list[Any]) -> Any:
    """The records of one source."""
    from . import logs

    if fmt == "parquet":
        if source == "-":
            raise SourceError("Parquet cannot be read from stdin")
        if not args.column:
            raise SourceError("Parquet input needs --column")
        return logs.read_parquet(source, args.chunk_size, args.column, args.time_field)
    if fmt == "jsonl" and not args.token_field:
        raise SourceError("JSON lines input needs --token-field")
    if fmt == "csv" and not args.column:
        raise SourceError("CSV input needs --column")
    stream = _open(source, opened)
    if fmt == "jsonl":
        return logs.read_jsonl(stream, args.chunk_size, args.token_field, args.time_field)
    if fmt == "csv":
        return logs.read_csv(stream, args.chunk_size, args.column, args.time_field)
    if fmt == "access":
        return logs.read_access(stream, args.chunk_size, args.token_regex)
    return logs.read_lines(stream, args.chunk_size)


def source_format(args: Any, source: str) -> str:
    """The format of ``source``: the one given, else what its name suggests."""
    from . import logs

    if args.format != "auto":
        return args.format
    if source == "-":
        return "jsonl" if args.token_field else ("csv" if args.column else "lines")
    return logs.guess_format(source)


def verify_records(engine: Any, records: Any, at_all: float | None, threads: int | None) -> dict[str, list[Any]]:
    """Verifies the records that have a token; returns the output columns for every record."""
    n = len(records)
    has_token = [t is not None for t in records.tokens]
    picked = [i for i in range(n) if has_token[i]]
    tokens = [records.tokens[i] for i in picked]
    if at_all is not None:
        at: Any = at_all
    elif records.times is not None:
        now = time.time()
        at = [now if records.times[i] is None else records.times[i] for i in picked]
    else:
        at = None
    verdicts = engine.run(tokens, at=at, claims=False, threads=threads).columns() if tokens else None
    columns: dict[str, list[Any]] = {
        "line": records.lines,
        "valid": [False] * n,
        "error": [None] * n,
        "reason": list(records.problems),
        "iss": [None] * n,
        "sub": [None] * n,
        "kid": [None] * n,
        "exp": [None] * n,
    }
    for i in range(n):
        if not has_token[i]:
            columns["error"][i] = "malformed"
    if verdicts is not None:
        if len(picked) == n:
            for name in ("valid", "error", "reason", "iss", "sub", "kid", "exp"):
                columns[name] = verdicts[name]
        else:
            for j, i in enumerate(picked):
                for name in ("valid", "error", "reason", "iss", "sub", "kid", "exp"):
                    columns[name][i] = verdicts[name][j]
    return columns
