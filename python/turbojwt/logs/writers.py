"""Report writers: the per-line verdict records of ``turbojwt verify-logs --out`` as JSON
lines, CSV or Parquet, chosen by the file name (:func:`open_writer`).

Each writer takes the output columns of a chunk (``line``, ``valid``, ``error``,
``reason``, ``iss``, ``sub``, ``kid``, ``exp``, and ``source`` when there are several
inputs) and writes them whole, so an interrupted run leaves whole chunks only. The CSV
writer neutralises cells a spreadsheet would read as formulas (:func:`csv_cell`).
"""

from __future__ import annotations

import csv
import gzip
import io
from typing import IO, Any

import orjson

from .readers import guess_format

FIELDS = ("line", "valid", "error", "reason", "iss", "sub", "kid", "exp")


class JsonlWriter:
    def __init__(self, path: str, extra: tuple[str, ...]) -> None:
        self.fields = extra + FIELDS
        self.file: IO[bytes] = (
            gzip.open(path, "wb") if path.endswith(".gz") else open(path, "wb")  # type: ignore[assignment]  # noqa: SIM115
        )

    def write(self, columns: dict[str, list[Any]]) -> None:
        rows = zip(*(columns[f] for f in self.fields))
        keys = self.fields
        # One write per chunk: an interrupted run leaves whole chunks only.
        self.file.write(b"".join(orjson.dumps(dict(zip(keys, row))) + b"\n" for row in rows))
        self.file.flush()

    def close(self) -> None:
        self.file.close()


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, "CSV
# Injection"): = + - @, tab and carriage return.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as a CSV report writes it: None empty, booleans ``true``/``false``, numbers
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
        raw = (
            gzip.open(path, "wt", newline="", encoding="utf-8")  # noqa: SIM115 (closed by close())
            if path.endswith(".gz")
            else open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        )
        self.file = raw
        self.writer = csv.writer(raw, quoting=csv.QUOTE_NONNUMERIC)
        self.writer.writerow(self.fields)

    def write(self, columns: dict[str, list[Any]]) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, quoting=csv.QUOTE_NONNUMERIC)
        w.writerows([csv_cell(v) for v in row] for row in zip(*(columns[f] for f in self.fields)))
        self.file.write(buf.getvalue())
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

    def write(self, columns: dict[str, list[Any]]) -> None:
        cols = {f: columns[f] for f in self.fields}
        cols["exp"] = [None if v is None else float(v) for v in cols["exp"]]
        # Each chunk is a row group: a closed file holds every complete chunk.
        self.writer.write_table(self.pa.table(cols, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


def open_writer(path: str, extra: tuple[str, ...] = ()) -> Any:
    """A JSONL, CSV or Parquet writer chosen by the file name (``.gz`` compresses JSONL/CSV)."""
    kind = guess_format(path)
    if kind == "jsonl":
        return JsonlWriter(path, extra)
    if kind == "csv":
        return CsvWriter(path, extra)
    if kind == "parquet":
        return ParquetWriter(path, extra)
    raise ValueError(f"--out must end in .jsonl, .csv or .parquet (optionally .gz for JSONL/CSV): {path}")
