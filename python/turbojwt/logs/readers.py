"""Log readers: a source (plain or gzip) in :class:`Records` chunks, or in blocks of whole
lines for the native JSON-lines parser.

Each record is one input line (or row): its 1-based line number, the token found (or None
and the reason none was), and the request time when the format has one. Nothing here
verifies; ``turbojwt verify-logs`` (``turbojwt.cli.verify_logs``) joins the readers,
``turbojwt.batch`` and the writers (``turbojwt.logs.writers``).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import orjson

from .. import _native
from .._time import parse_time
from ..batch import _arrow_times

FORMATS = ("lines", "jsonl", "access", "csv", "parquet")

# An access-log line's bearer credential: whatever follows the word "Bearer" up to a space,
# quote or separator (a malformed one is verified, and reported as such, rather than
# skipped). The client writes more of the line than the Authorization header (the request
# line, Referer, User-Agent, the user): a line where two different tokens are found is
# malformed, not judged by whichever comes first (a valid token in the User-Agent would
# otherwise vouch for a forged one in the header).
BEARER = re.compile(rb"\bBearer\s+([^\s\"',;]+)", re.IGNORECASE)
# The common and combined log formats (Apache, nginx) begin ``%h %l %u %t "%r"``: host,
# ident, user, [time], "request". The user (basic-auth name) is the client's to choose, may
# hold spaces and brackets, and comes before the time, so the time is not the first bracketed
# text: it is the bracketed field that the quoted request follows. The servers escape a
# quote in the user (\" or \x22), so nothing before %t can end in '] "'; nor can the time
# hold a bracket, so an unclosed '[' in the user is skipped. (vhost_combined, whose '%v:%p'
# comes first, fits too.)
ACCESS_LINE = re.compile(rb'^\S+ \S+ .*? \[([^\[\]\n]*)\] "')
# %t: [10/Oct/2000:13:55:36 -0700]
ACCESS_TIME = re.compile(rb"(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")
MONTHS = {
    m: i
    for i, m in enumerate(
        (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"), 1
    )
}


# What reading a source can raise part way: I/O errors, a gzip stream cut short (EOFError) or
# corrupt (zlib.error; a bad header or CRC is an OSError).
READ_ERRORS = (OSError, EOFError, zlib.error)


class ReadError(Exception):
    """A source could not be read past ``line - 1``: the readers have handed out every line
    before ``line`` (whole lines only) and stop with this."""

    def __init__(self, line: int, cause: BaseException) -> None:
        self.line = line
        self.cause = cause
        text = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        super().__init__(f"line {line}: {text or type(cause).__name__}")


@dataclass
class Records:
    """One chunk of input: parallel lists, one entry per input line or row."""

    lines: list[int] = field(default_factory=list)
    tokens: list[str | None] = field(default_factory=list)
    # None for the whole chunk when the format carries no time; else one per record
    # (None where the record has none).
    times: list[float | None] | None = None
    # Why a line has no token (or no usable time); None when it has one.
    problems: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)

    def add(self, line: int, token: str | None, problem: str | None, at: float | None = None) -> None:
        self.lines.append(line)
        self.tokens.append(token)
        self.problems.append(problem)
        if self.times is not None:
            self.times.append(at)


def guess_format(path: str) -> str:
    """The format a file name suggests (``.gz`` aside): jsonl, csv, parquet, access or lines."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    return {
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
        ".csv": "csv",
        ".parquet": "parquet",
        ".pq": "parquet",
        ".log": "access",
    }.get(suffix, "lines")


class _GzipSource(gzip.GzipFile):
    """A gunzipping stream that closes the file under it as well (a plain GzipFile leaves a
    file it was handed open)."""

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__(fileobj=source)
        self._source = source

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._source.close()


def open_source(path: str, stdin: IO[bytes] | None = None) -> IO[bytes]:
    """A binary stream of the source, gunzipped when it starts with the gzip magic. Closing
    it closes the file (stdin too: the caller decides whether to close it)."""
    raw: IO[bytes] = stdin if path == "-" and stdin is not None else open(path, "rb")  # noqa: SIM115
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return _GzipSource(buffered)  # type: ignore[return-value]
    return buffered


def strip_bearer(token: str) -> str:
    token = token.strip()
    if token[:6].lower() == "bearer" and (len(token) == 6 or token[6].isspace()):
        return token[6:].strip()
    return token


def _dotted(obj: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            raise KeyError(part)
        obj = obj[part]
    return obj


def _chunks(lines: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    """Lists of ``size`` lines (the last shorter). A read error ends them with
    :class:`ReadError` after a last list of the whole lines read before it."""
    chunk: list[bytes] = []
    n = 0
    try:
        for line in lines:
            chunk.append(line)
            if len(chunk) >= size:
                n += len(chunk)
                yield chunk
                chunk = []
    except READ_ERRORS as e:
        if chunk:
            n += len(chunk)
            yield chunk
        raise ReadError(n + 1, e) from e
    if chunk:
        yield chunk


def read_lines(stream: IO[bytes], chunk_size: int) -> Iterator[Records]:
    """One token per line (a leading ``Bearer`` is dropped); blank lines get a record."""
    n = 0
    for chunk in _chunks(iter(stream), chunk_size):
        out = Records()
        for raw in chunk:
            n += 1
            try:
                token = strip_bearer(raw.decode("utf-8"))
            except UnicodeDecodeError:
                out.add(n, None, "line is not UTF-8")
                continue
            out.add(n, token or None, None if token else "empty line")
        yield out


def read_blocks(stream: IO[bytes], chunk_lines: int, block_bytes: int = 8 << 20) -> Iterator[tuple[int, memoryview]]:
    """(first line number, whole lines): at most ``chunk_lines`` lines or about
    ``block_bytes`` bytes per block (a longer line makes its block longer).

    Each block is a view into one buffer that the next block reuses: use it, or copy it,
    before asking for the next. (A fresh 8 MiB object per block costs more in page faults
    than the native parser spends on its lines.)

    A read error ends the blocks with :class:`ReadError` once the whole lines read before
    it have been handed out. (The buffer fills through ``readinto1``, one underlying read
    at a time, so what a gzip stream decompressed before it broke off is kept: one
    ``readinto`` of 8 MiB would drop it all with the error.)"""
    buf = bytearray(max(block_bytes, 1))
    filled = 0  # bytes in buf; those after the last line end start the next block
    first = 1
    read = getattr(stream, "readinto1", None) or stream.readinto  # type: ignore[attr-defined]
    ended = False
    error: BaseException | None = None
    while not ended:
        if filled == len(buf):
            # A line longer than the buffer: a larger one (the old one may still be viewed).
            grown = bytearray(2 * len(buf))
            grown[:filled] = buf[:filled]
            buf = grown
        with memoryview(buf) as free:
            try:
                while filled < len(buf):
                    n = read(free[filled:])
                    if not n:
                        ended = True
                        break
                    filled += n
            except READ_ERRORS as e:
                ended, error = True, e
        cut = buf.rfind(b"\n", 0, filled) + 1
        if cut == 0:
            continue  # no line end yet: read on
        view = memoryview(buf)
        start = 0
        while start < cut:
            # After the chunk_lines-th line end, or at the lines' end (memchr, natively).
            lines, end = _native.line_ends(buf, start, cut, chunk_lines)
            yield first, view[start:end]
            first += lines
            start = end
        # The partial line left moves to the front (same length: allowed while viewed).
        buf[: filled - cut] = buf[cut:filled]
        filled -= cut
    if error is not None:
        raise ReadError(first, error) from error  # (a partial line is not a line)
    if filled:
        yield first, memoryview(buf)[:filled]


def read_jsonl(stream: IO[bytes], chunk_size: int, token_field: str, time_field: str | None) -> Iterator[Records]:
    """JSON lines; the token at a dotted path, the request time at another (optional)."""
    token_path = token_field.split(".")
    time_path = time_field.split(".") if time_field else None
    n = 0
    for chunk in _chunks(iter(stream), chunk_size):
        out = Records(times=[] if time_path else None)
        for raw in chunk:
            n += 1
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                out.add(n, None, f"invalid JSON: {e}")
                continue
            try:
                value = _dotted(obj, token_path)
            except KeyError:
                out.add(n, None, f"missing field {token_field}")
                continue
            if not isinstance(value, str):
                out.add(n, None, f"field {token_field} is not a string")
                continue
            at = None
            if time_path:
                try:
                    at = parse_time(_dotted(obj, time_path))
                except KeyError:
                    out.add(n, None, f"missing time field {time_field}")
                    continue
                except (ValueError, TypeError, OverflowError):
                    out.add(n, None, f"time field {time_field} is not a time")
                    continue
            token = strip_bearer(value)
            out.add(n, token or None, None if token else f"field {token_field} is empty", at)
        yield out


def access_time(text: bytes) -> float:
    """Epoch seconds of a ``%t`` field's text (``10/Oct/2000:13:55:36 -0700``); ValueError
    when it is not one, or names no date (31/Feb, a month that is not one, hour 24...)."""
    m = ACCESS_TIME.fullmatch(text)
    if not m:
        raise ValueError("not day/Mon/year:hh:mm:ss +zone")
    day, mon, year, hour, minute, second, sign, zh, zm = m.groups()
    month = MONTHS.get(mon.lower())
    if month is None:
        raise ValueError(f"no month {mon.decode()}")
    if int(zh) >= 24 or int(zm) >= 60:
        raise ValueError("no zone offset")
    offset = timedelta(hours=int(zh), minutes=int(zm))
    zone = timezone(-offset if sign == b"-" else offset)
    try:
        return datetime(int(year), month, int(day), int(hour), int(minute), int(second), tzinfo=zone).timestamp()
    except OverflowError as e:
        raise ValueError(str(e)) from e


def read_access(stream: IO[bytes], chunk_size: int, token_regex: str | None) -> Iterator[Records]:
    """Web-server access logs: the token from ``Authorization: Bearer ...`` (or the group
    ``token`` of ``token_regex``, else its first; a line where two different tokens are
    found is ``malformed``, see ``BEARER``); the request time from the ``%t`` field of the
    common and combined formats (``host ident user [day/Mon/year:h:m:s zone] "request" ...``, see
    ``ACCESS_LINE``). A line in another layout has no request time (it is judged as of now,
    or ``--at``); one whose time is no date (31/Feb) is ``malformed``, with the reason."""
    try:
        pattern = re.compile(token_regex.encode()) if token_regex else BEARER
    except re.error as e:
        raise ValueError(f"--token-regex: {e}") from e
    group: int | str = "token" if "token" in pattern.groupindex else (1 if pattern.groups else 0)
    n = 0
    for chunk in _chunks(iter(stream), chunk_size):
        out = Records(times=[])
        for raw in chunk:
            n += 1
            at = None
            t = ACCESS_LINE.match(raw)
            if t:
                try:
                    at = access_time(t.group(1))
                except ValueError as e:
                    shown = t.group(1)[:64].decode("utf-8", "replace")
                    out.add(n, None, f"request time [{shown}] is not a date ({e})")
                    continue
            found = {m.group(group) for m in pattern.finditer(raw)} - {None}
            if not found:
                out.add(n, None, "no token found", at)
                continue
            if len(found) > 1:
                out.add(n, None, f"{len(found)} different tokens on the line (--token-regex can name the field)", at)
                continue
            out.add(n, found.pop().decode("utf-8", "replace"), None, at)
        yield out


def read_csv(stream: IO[bytes], chunk_size: int, column: str, time_field: str | None) -> Iterator[Records]:
    """CSV with a header row; the token in ``column``, the request time in ``time_field``."""
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
    try:
        reader = csv.DictReader(text)
        try:
            fieldnames = reader.fieldnames
        except READ_ERRORS as e:
            raise ReadError(reader.line_num + 1, e) from e
        except csv.Error as e:
            raise ValueError(f"CSV header: {e}") from e
        if fieldnames is None:
            return
        for name in [column] + ([time_field] if time_field else []):
            if name not in fieldnames:
                raise ValueError(f"CSV has no column {name!r} (columns: {', '.join(fieldnames)})")
        out = Records(times=[] if time_field else None)
        rows = iter(reader)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except READ_ERRORS as e:
                if len(out):
                    yield out  # the whole rows read before it
                raise ReadError(reader.line_num + 1, e) from e
            except csv.Error as e:
                # A row the csv module refuses (a field over csv.field_size_limit()): that row's
                # problem; the reader goes on with the next line.
                out.add(reader.line_num + 1, None, f"not a CSV row: {e}")
                if len(out) >= chunk_size:
                    yield out
                    out = Records(times=[] if time_field else None)
                continue
            line = reader.line_num
            try:
                at = parse_time(row.get(time_field) or "") if time_field else None
            except (ValueError, TypeError, OverflowError):
                out.add(line, None, f"time field {time_field} is not a time")
            else:
                value = row.get(column)
                if value is None:
                    out.add(line, None, f"missing column {column}", at)
                else:
                    token = strip_bearer(value)
                    out.add(line, token or None, None if token else f"column {column} is empty", at)
            if len(out) >= chunk_size:
                yield out
                out = Records(times=[] if time_field else None)
        if len(out):
            yield out
    finally:
        # The stream is the caller's to close: let go of it without closing it (a wrapper
        # left to the garbage collector would close it there, with a ResourceWarning).
        with contextlib.suppress(ValueError):
            text.detach()


def read_parquet(path: str, chunk_size: int, column: str, time_field: str | None) -> Iterator[Records]:
    """Parquet, read in row groups; line = row number (1-based)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    try:
        names = pf.schema_arrow.names
        for name in [column] + ([time_field] if time_field else []):
            if name not in names:
                raise ValueError(f"Parquet file has no column {name!r} (columns: {', '.join(names)})")
        n = 0
        cols = [column] + ([time_field] if time_field else [])
        batches = pf.iter_batches(batch_size=chunk_size, columns=cols)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except (*READ_ERRORS, pa.ArrowException) as e:
                raise ReadError(n + 1, e) from e
            tokens = batch.column(0)
            if tokens.type != "string" and tokens.type != "large_string":
                kind = tokens.type.value_type if pa.types.is_dictionary(tokens.type) else tokens.type
                textual = ("is_string", "is_large_string", "is_binary", "is_large_binary", "is_string_view")
                if not any(getattr(pa.types, test, lambda _: False)(kind) for test in textual):
                    # (numbers are no tokens: a wrong --column, said once rather than as
                    # a malformed verdict per row)
                    raise ValueError(f"Parquet column {column!r} holds {tokens.type}, not tokens (strings)")
                tokens = pc.cast(tokens, "large_string")
            times: list[Any] | None = None
            if time_field:
                times = _arrow_times(pa, batch.column(1))
            out = Records(times=[] if time_field else None)
            for i, value in enumerate(tokens.to_pylist()):
                n += 1
                at = None
                if times is not None:
                    try:
                        at = parse_time(times[i])
                    except (ValueError, TypeError, OverflowError):
                        out.add(n, None, f"time field {time_field} is not a time")
                        continue
                if value is None:
                    out.add(n, None, f"column {column} is null", at)
                else:
                    token = strip_bearer(value)
                    out.add(n, token or None, None if token else f"column {column} is empty", at)
            yield out
    finally:
        pf.close()
