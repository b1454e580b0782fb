"""Reading tokens out of logs and writing verdict reports: the library behind
``turbojwt verify-logs``.

- :mod:`turbojwt.logs.readers`: a source (plain or gzip) in :class:`Records` chunks (every
  input line or row: its line number, the token found or why none was, the request time
  when the format has one), for one token per line, JSON lines, access logs, CSV and
  Parquet; :func:`read_blocks` hands whole lines to the native JSON-lines parser.
- :mod:`turbojwt.logs.writers`: verdict records as JSON lines, CSV or Parquet.
- :mod:`turbojwt.logs.report`: the run's summary (outcomes, heavy hitters) and its
  printing, every value from the logs escaped for the terminal.

Nothing here verifies: ``turbojwt.log_sources`` joins the readers to ``turbojwt.batch``,
source by source, for the command (``turbojwt.cli.verify_logs``, which adds the writers and
the summary) and ``turbojwt.dask``. The public names of these modules are importable from
``turbojwt.logs`` itself; the readers and :func:`open_writer` are called through this
package (so that they can be replaced here, as the tests do).
"""

from __future__ import annotations

from .._time import parse_time
from .readers import (
    ACCESS_LINE,
    ACCESS_TIME,
    BEARER,
    FORMATS,
    MONTHS,
    READ_ERRORS,
    ReadError,
    Records,
    access_time,
    guess_format,
    open_source,
    read_access,
    read_blocks,
    read_csv,
    read_jsonl,
    read_lines,
    read_parquet,
    strip_bearer,
)
from .report import Summary, TopCounter, print_summary, printable
from .writers import (
    FIELDS,
    FORMULA_START,
    BackgroundWriter,
    CsvWriter,
    JsonlWriter,
    ParquetWriter,
    csv_cell,
    open_writer,
)

__all__ = [
    "ACCESS_LINE",
    "ACCESS_TIME",
    "BEARER",
    "FIELDS",
    "FORMATS",
    "FORMULA_START",
    "MONTHS",
    "READ_ERRORS",
    "BackgroundWriter",
    "CsvWriter",
    "JsonlWriter",
    "NativeBlock",
    "ParquetWriter",
    "ReadError",
    "Records",
    "SourceError",
    "SourceOptions",
    "Summary",
    "TopCounter",
    "access_time",
    "close_all",
    "csv_cell",
    "guess_format",
    "open_source",
    "open_writer",
    "parse_time",
    "print_summary",
    "printable",
    "read_access",
    "read_blocks",
    "read_csv",
    "read_jsonl",
    "read_lines",
    "read_parquet",
    "source_format",
    "strip_bearer",
    "verify_records",
    "verify_source",
]
