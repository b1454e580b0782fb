"""Dask: verify the token column of a Dask DataFrame on a cluster, lazily, partition by
partition, through the Arrow kernel (:func:`turbojwt.arrow.verify_table`).

>>> ddf = dask.dataframe.read_parquet("logs/*.parquet")
>>> out = turbojwt.dask.verify_dataframe(ddf, verifier, token_column="token", time_column="ts")
>>> out.groupby("error").size().compute()   # doctest: +SKIP

Needs the ``dask`` extra (``pip install 'turbojwt[dask]'``). The verifier travels to the
workers as its key material and policy (a ``Verifier`` pickles to them); each worker process
rebuilds it once and keeps it, so its parsed keys and repeated-token memory stay warm from
partition to partition.
"""

from __future__ import annotations

from typing import Any

from . import _native
from ._time import parse_time
from .arrow import VERDICT_COLUMNS, verify_table
from .log_sources import NativeBlock, SourceOptions, close_all, source_format, verify_source
from .logs import ReadError
from .verifier import Verifier

__all__ = ["REPORT_FIELDS", "verify_dataframe", "verify_file", "verify_files", "verify_partition"]

# The columns of verify_files' records: those of `turbojwt verify-logs --out`, source first.
REPORT_FIELDS = ("source", "line", "valid", "error", "reason", "iss", "sub", "kid", "exp")


def verify_partition(
    df: Any,
    verifier: Verifier,
    token_column: str = "token",
    time_column: str | None = None,
    at: Any = None,
    threads: int | None = 1,
) -> Any:
    """One pandas partition with the verdict columns after its own (index and columns as
    they were): only the token and time columns go through Arrow, into the kernel."""
    import pyarrow as pa

    names = [token_column] + ([time_column] if time_column is not None else [])
    for name in names:
        if name not in df.columns:
            raise ValueError(f"the partition has no column '{name}' (columns: {', '.join(map(str, df.columns))})")
    clash = [c for c in VERDICT_COLUMNS if c in df.columns]
    if clash:
        raise ValueError(f"the partition already has a column '{clash[0]}', which the verdict columns would repeat")
    columns = {}
    for name in names:
        try:
            columns[name] = pa.Array.from_pandas(df[name])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise TypeError(f"column '{name}' cannot be read as Arrow data: {e}") from e
    verdicts = verify_table(pa.table(columns), verifier, token_column, time_column, at=at, threads=threads)
    out = df.copy(deep=False)
    for name in VERDICT_COLUMNS:
        column = verdicts.column(name).to_pandas()
        column.index = df.index
        out[name] = column
    return out


def verify_dataframe(
    ddf: Any,
    verifier: Verifier,
    token_column: str = "token",
    time_column: str | None = None,
    *,
    at: Any = None,
    threads: int | None = 1,
) -> Any:
    """The Dask DataFrame ``ddf`` with the verdict columns (``valid``, ``error``, ``reason``,
    ``kid``, ``iss``, ``sub``, ``aud``, ``exp``, ``iat``: see :mod:`turbojwt.arrow`) after its
    own, computed lazily partition by partition on the workers (``threads`` per partition:
    1 by default, since Dask runs a task per worker thread; None for every core).

    The token and time columns follow :func:`turbojwt.arrow.verify_table`'s rules (a null
    token or time is a ``malformed`` row). A missing column is a ``ValueError`` now, not when
    the graph runs."""
    if not isinstance(verifier, Verifier):
        raise TypeError(f"verifier must be a turbojwt.Verifier, not {type(verifier).__name__}")
    meta = verify_partition(ddf._meta, verifier, token_column, time_column, at, threads)
    return ddf.map_partitions(
        verify_partition,
        verifier,
        token_column,
        time_column,
        at,
        threads,
        meta=meta,
        align_dataframes=False,
    )


def _records_frame(tables: list[Any]) -> Any:
    import pyarrow as pa

    if not tables:
        empty = _native.report_batch({f: [] for f in REPORT_FIELDS}, list(REPORT_FIELDS))
        tables = [pa.RecordBatchReader.from_stream(empty).read_all()]
    return pa.concat_tables(tables).to_pandas()


def verify_file(path: str, verifier: Verifier, options: SourceOptions | None = None, at: float | None = None) -> Any:
    """The records of one log file (a pandas frame with :data:`REPORT_FIELDS`), read and
    verified as ``turbojwt verify-logs`` reads and verifies it (the same readers, the same
    options), each line as of its own time, or ``at``.

    :raises ValueError: an option the format needs is missing, or the file cannot be read
        (to its end: a truncated ``.gz`` names the line reached)."""
    import pyarrow as pa

    options = options or SourceOptions()
    engine = verifier._batch_engine()
    opened: list[Any] = []
    tables = []
    try:
        blocks = verify_source(options, engine, path, source_format(options, path), at, opened)
        for block in blocks:
            if isinstance(block, NativeBlock):
                batch = block.report(REPORT_FIELDS, path)
            else:
                block["source"] = [path] * len(block["line"])
                batch = _native.report_batch(block, list(REPORT_FIELDS))
            tables.append(pa.RecordBatchReader.from_stream(batch).read_all())
    except ReadError as e:
        raise ValueError(f"cannot read {path} at {e}") from e
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from e
    finally:
        close_all(opened)
    return _records_frame(tables)


def verify_files(
    paths: Any,
    verifier: Verifier,
    *,
    format: str = "auto",
    token_field: str | None = None,
    time_field: str | None = None,
    column: str | None = None,
    token_regex: str | None = None,
    at: Any = None,
    threads: int | None = 1,
    chunk_size: int = 65536,
) -> Any:
    """A Dask DataFrame of the records of a set of log files (JSON lines, CSV, Parquet,
    access logs, one token per line; gzip read transparently), one partition per file,
    each read and verified by one task on a worker as ``turbojwt verify-logs`` would (the
    options are the command's of the same names, with ``threads`` 1 by default, as in
    :func:`verify_dataframe`; see :func:`verify_file`). The columns are
    :data:`REPORT_FIELDS`; ``source`` is the file's path as given (the workers read it by
    that path)."""
    import dask.dataframe as dd

    if not isinstance(verifier, Verifier):
        raise TypeError(f"verifier must be a turbojwt.Verifier, not {type(verifier).__name__}")
    paths = [str(p) for p in paths]
    if not paths:
        raise ValueError("no files to verify")
    options = SourceOptions(format, token_field, time_field, column, token_regex, threads, chunk_size)
    return dd.from_map(
        verify_file,
        paths,
        verifier=verifier,
        options=options,
        at=None if at is None else parse_time(at),
        meta=_records_frame([]),
    )
