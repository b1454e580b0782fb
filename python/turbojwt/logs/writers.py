"""Report writers: the per-line verdict records of ``turbojwt verify-logs --out`` as JSON
lines, CSV or Parquet, chosen by the file name (:func:`open_writer`).

Each writer takes the records of a chunk as one Arrow record batch (anything exporting it
through the Arrow PyCapsule interface) with the columns ``fields`` (``source`` when there
are several inputs, then ``line``, ``valid``, ``error``, ``reason``, ``iss``, ``sub``,
``kid``, ``exp``), and writes it whole, so an interrupted run leaves whole chunks only.
JSON lines and CSV are serialised natively from the arrays (``_native.report_jsonl``,
``_native.report_csv``), Parquet by pyarrow's writer: never a Python object per record.
The CSV writer neutralises cells a spreadsheet would read as formulas (:func:`csv_cell`).
"""

from __future__ import annotations

import csv
import gzip
import io
import queue
import threading
from typing import IO, Any

from .. import _native
from .readers import guess_format

FIELDS = ("line", "valid", "error", "reason", "iss", "sub", "kid", "exp")


class JsonlWriter:
    def __init__(self, path: str, extra: tuple[str, ...]) -> None:
        self.fields = extra + FIELDS
        self.file: IO[bytes] = (
            gzip.open(path, "wb") if path.endswith(".gz") else open(path, "wb")  # type: ignore[assignment]  # noqa: SIM115
        )

    def write(self, batch: Any) -> None:
        """Each record as ``orjson.dumps(dict(record))`` would write it, one per line."""
        # One write per chunk: an interrupted run leaves whole chunks only.
        self.file.write(_native.report_jsonl(batch))
        self.file.flush()

    def close(self) -> None:
        self.file.close()


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, "CSV
# Injection"): = + - @, tab and carriage return.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as a CSV report writes it (the native writer, ``_native.report_csv``, applies
    the same rule; the tests hold the two together): None empty, booleans ``true``/``false``, numbers
    as they are (``-5`` stays a number), and text that a spreadsheet would take for a
    formula prefixed with ``'`` (``=cmd|...`` -> ``'=cmd|...``). Every text cell is also
    quoted (``csv.QUOTE_NONNUMERIC``), so a separator inside it never starts a new cell,
    whatever separator the spreadsheet assumes."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    return value


class CsvWriter:
    """CSV records. The text cells come from tokens anyone can forge (``iss``, ``sub``,
    ``kid``, reasons) and the report may be opened in a spreadsheet: see :func:`csv_cell`."""

    def __init__(self, path: str, extra: tuple[str, ...]) -> None:
        self.fields = extra + FIELDS
        self.file: IO[bytes] = (
            gzip.open(path, "wb") if path.endswith(".gz") else open(path, "wb")  # type: ignore[assignment]  # noqa: SIM115
        )
        header = io.StringIO()
        csv.writer(header, quoting=csv.QUOTE_NONNUMERIC).writerow(self.fields)
        self.file.write(header.getvalue().encode("utf-8"))

    def write(self, batch: Any) -> None:
        """The records as ``csv.writer(quoting=QUOTE_NONNUMERIC)`` writes their
        :func:`csv_cell` values."""
        self.file.write(_native.report_csv(batch))
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class ParquetWriter:
    def __init__(self, path: str, extra: tuple[str, ...]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.fields = extra + FIELDS
        types = {"line": pa.int64(), "valid": pa.bool_(), "exp": pa.float64()}
        self.schema = pa.schema([(f, types.get(f, pa.string())) for f in self.fields])
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, batch: Any) -> None:
        # Each chunk is a row group: a closed file holds every complete chunk.
        # (a stream reader: pa.table() would import pandas first, when installed)
        self.writer.write_table(self.pa.RecordBatchReader.from_stream(batch).read_all())

    def close(self) -> None:
        self.writer.close()


class BackgroundWriter:
    """A writer whose chunks are written on a thread of its own while the run verifies the
    next one (building the columns, serialising, compressing and writing release the GIL).
    A chunk is a record batch, or a function that builds it (called on that thread).
    Chunks are written whole and in order; ``close`` writes every chunk handed over first;
    a write error is raised by the next ``write`` or by ``close``, and no chunk is written
    after it."""

    def __init__(self, writer: Any, fields: tuple[str, ...] | None = None) -> None:
        """``writer``: a writer, or a function that makes one on the writer's thread (then
        ``fields``, its columns): pyarrow's import, some 0.1 s, overlaps the first chunk's
        verification that way; an error making it is raised as a write error is."""
        self.writer = writer
        self.fields: tuple[str, ...] = writer.fields if fields is None else fields
        self.error: BaseException | None = None
        # (two chunks in flight at most: memory stays bounded)
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.thread = threading.Thread(target=self._run, name="turbojwt-report-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        if callable(self.writer):
            try:
                self.writer = self.writer()
            except BaseException as e:
                self.error, self.writer = e, None
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            if self.error is None and self.writer is not None:
                try:
                    self.writer.write(batch() if callable(batch) else batch)
                except BaseException as e:  # handed to the run's thread
                    self.error = e

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def write(self, batch: Any) -> None:
        self._raise()
        self.queue.put(batch)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        try:
            self._raise()
        finally:
            if self.writer is not None:
                self.writer.close()


def open_writer(path: str, extra: tuple[str, ...] = ()) -> Any:
    """A JSONL, CSV or Parquet writer chosen by the file name (``.gz`` compresses JSONL/CSV),
    writing on a thread of its own (:class:`BackgroundWriter`)."""
    kind = guess_format(path)
    if kind == "jsonl":
        return BackgroundWriter(JsonlWriter(path, extra))
    if kind == "csv":
        return BackgroundWriter(CsvWriter(path, extra))
    if kind == "parquet":
        # (opened here, so that a path that cannot be written is refused now; pyarrow is
        # imported and the writer made on the writer's thread)
        open(path, "wb").close()
        return BackgroundWriter(lambda: ParquetWriter(path, extra), extra + FIELDS)
    raise ValueError(f"--out must end in .jsonl, .csv or .parquet (optionally .gz for JSONL/CSV): {path}")
