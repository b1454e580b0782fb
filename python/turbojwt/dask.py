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

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import _native
from ._time import parse_time
from .arrow import VERDICT_COLUMNS, verify_table
from .batch import BatchEngine
from .log_sources import (
    NativeBlock,
    SourceOptions,
    close_all,
    failure_message,
    source_format,
    tally_block,
    verify_source,
)
from .logs.report import Summary
from .verifier import Verifier

__all__ = [
    "REPORT_FIELDS",
    "cluster_client",
    "part_names",
    "verify_dataframe",
    "verify_file",
    "verify_files",
    "verify_log_part",
    "verify_log_parts",
    "verify_partition",
]

# The columns of verify_files' records: those of `turbojwt verify-logs --out`, source first.
REPORT_FIELDS = ("source", "line", "valid", "error", "reason", "iss", "sub", "kid", "exp")


def verify_partition(
    df: Any,
    verifier: Verifier,
    token_column: str = "token",
    time_column: str | None = None,
    at: Any = None,
    threads: int | None = 1,
    partition_info: dict[str, Any] | None = None,
) -> Any:
    """One pandas partition with the verdict columns after its own (index and columns as
    they were): only the token and time columns go through Arrow, into the kernel. Errors
    name the partition (its number, which Dask's ``map_partitions`` passes as
    ``partition_info``)."""
    import pyarrow as pa

    which = "the frame" if partition_info is None else f"partition {partition_info['number']}"
    names = [token_column] + ([time_column] if time_column is not None else [])
    for name in names:
        if name not in df.columns:
            raise ValueError(f"{which} has no column '{name}' (columns: {', '.join(map(str, df.columns))})")
    clash = [c for c in VERDICT_COLUMNS if c in df.columns]
    if clash:
        raise ValueError(f"{which} already has a column '{clash[0]}', which the verdict columns would repeat")
    columns = {}
    for name in names:
        try:
            columns[name] = pa.Array.from_pandas(df[name])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise TypeError(f"{which}: column '{name}' cannot be read as Arrow data: {e}") from e
    try:
        verdicts = verify_table(pa.table(columns), verifier, token_column, time_column, at=at, threads=threads)
    except TypeError as e:
        raise TypeError(f"{which}: {e}") from e
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
    except Exception as e:
        message = failure_message(path, e)
        if message is None:
            raise
        raise ValueError(message) from e
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


# ---------------------------------------------------------------------------- verify-logs --dask


def part_names(paths: Sequence[str]) -> list[str]:
    """The file name of each input part in a partitioned Parquet output: the input's name
    without ``.gz`` and its own extension, then ``.parquet`` (``2026-11-01.jsonl.gz`` ->
    ``2026-11-01.parquet``).

    :raises ValueError: two inputs would give one name (both named)."""
    names: list[str] = []
    first: dict[str, str] = {}
    for path in paths:
        name = Path(path).name
        if name.endswith(".gz"):
            name = name[:-3]
        stem = Path(name).stem if Path(name).suffix else name
        part = f"{stem or name}.parquet"
        if part in first:
            raise ValueError(f"{first[part]} and {path} would both be written to {part}: rename one")
        first[part] = path
        names.append(part)
    return names


def verify_log_part(
    path: str,
    verifier: Verifier | BatchEngine,
    options: SourceOptions,
    at: float | None,
    summary: Summary,
    out: str | None = None,
) -> Summary:
    """One input part of ``turbojwt verify-logs --dask`` (a task on a worker): the file read
    and verified as the command reads and verifies it, tallied into ``summary`` (an empty
    part of the run's summary, :meth:`Summary.part`), which is returned; with ``out``, its
    records (``source`` and the ``--out`` fields) written there as Parquet, under a hidden
    name first and renamed once whole, so that a part that fails leaves nothing.

    :raises ValueError: the file cannot be read, or lacks what the options name (one line
        naming the file)."""
    from . import logs

    engine = verifier._batch_engine() if isinstance(verifier, Verifier) else verifier
    opened: list[Any] = []
    writer = None
    partial = None

    def cannot_write(e: OSError) -> ValueError:
        return ValueError(f"cannot write {out}: {e.strerror or e}")

    try:
        if out is not None:
            partial = os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.{uuid.uuid4().hex}.parquet")
            try:
                writer = logs.open_writer(partial, ("source",))
            except OSError as e:
                raise cannot_write(e) from e
        fields = writer.fields if writer else None
        try:
            for block in verify_source(options, engine, path, source_format(options, path), at, opened):
                _, records = tally_block(block, summary, fields, path)
                if writer:
                    try:
                        writer.write(records)
                    except OSError as e:
                        raise cannot_write(e) from e
        except Exception as e:
            if isinstance(e, ValueError) and str(e).startswith("cannot write"):
                raise
            message = failure_message(path, e)
            if message is None:
                raise
            raise ValueError(message) from e
        if writer:
            try:
                writer.close()
                writer = None
                assert partial is not None and out is not None
                os.replace(partial, out)
            except OSError as e:
                raise cannot_write(e) from e
            partial = None
    finally:
        close_all(opened)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        if partial is not None:
            with contextlib.suppress(OSError):
                os.remove(partial)
    return summary


def verify_log_parts(
    client: Any,
    paths: Sequence[str],
    verifier: Verifier | BatchEngine,
    options: SourceOptions,
    summary: Summary,
    *,
    at: float | None = None,
    out_dir: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """``turbojwt verify-logs`` on a Dask cluster: each file one task on the workers
    (:func:`verify_log_part`), each task's tallies merged into ``summary`` in the order of
    ``paths`` (so that the summary is the local command's), ``progress(lines)`` called as
    each file is done. With ``out_dir``, one Parquet file per input there
    (:func:`part_names`). Returns the paths of the parts written.

    A task that fails stops the run: the tasks not done are cancelled and its error is
    raised (a ``ValueError`` naming the file); the parts already written are kept, and the
    tallies of the files done are merged (an interrupt leaves them too)."""
    from distributed import as_completed

    outs: list[str | None] = [None] * len(paths)
    if out_dir is not None:
        # (the workers' working directory is not ours)
        outs = [os.path.join(os.path.abspath(out_dir), name) for name in part_names(paths)]
    futures = [
        client.submit(verify_log_part, path, verifier, options, at, summary.part(), out, pure=False)
        for path, out in zip(paths, outs)
    ]
    index = {future.key: i for i, future in enumerate(futures)}
    parts: list[Summary | None] = [None] * len(paths)
    try:
        for future in as_completed(futures):
            part = future.result()  # (the task's exception, raised here)
            parts[index[future.key]] = part
            if progress is not None:
                progress(part.lines)
    finally:
        client.cancel([f for f in futures if not f.done()])
        for part in parts:
            if part is not None:
                summary.merge(part)
    return [out for out, part in zip(outs, parts) if out is not None and part is not None]


@contextlib.contextmanager
def cluster_client(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``address``, or for ``"local"`` of a
    ``LocalCluster`` of single-threaded worker processes, one per core (on loopback, no
    dashboard), closed on exit."""
    from distributed import Client, LocalCluster

    if address == "local":
        with (
            LocalCluster(
                n_workers=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",  # (no fixed port: 8787 may be taken)
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        with Client(address, timeout="30s") as client:
            yield client
