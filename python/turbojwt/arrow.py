"""The Arrow kernel: a table of tokens in, the same rows plus the verdict columns out.

>>> out = turbojwt.arrow.verify_table(table, verifier, token_column="token", time_column="ts")
>>> out.group_by("error").aggregate([("index", "count")])   # doctest: +SKIP

It takes anything that exports Arrow data through the Arrow PyCapsule interface (a pyarrow
Table or RecordBatch, a polars DataFrame, a DuckDB result, ...), reads the token and time
columns natively through the Arrow C data interface (no Python object per row), verifies on
every core with the GIL released, and appends the verdict columns, built natively as Arrow
arrays: ``valid`` (bool), ``error``, ``reason``, ``kid``, ``iss``, ``sub``, ``aud`` (strings),
``exp``, ``iat`` (float64 seconds), as :meth:`turbojwt.BatchResult.to_arrow` has them.

It is the one function the engine adapters call (Dask ``map_partitions``, Polars
``map_batches``, Spark ``mapInArrow``): see the Arrow page of the documentation.
"""

from __future__ import annotations

import time
from typing import Any

from ._time import timestamp
from .batch import COLUMNS, BatchEngine, default_threads
from .verifier import Verifier

__all__ = ["VERDICT_COLUMNS", "verify_table"]

# The columns the kernel appends, in order.
VERDICT_COLUMNS = COLUMNS


def _engine(verifier: Any) -> BatchEngine:
    if isinstance(verifier, Verifier):
        engine = verifier._batch_engine()
    elif isinstance(verifier, BatchEngine):
        engine = verifier
    else:
        raise TypeError(f"verifier must be a turbojwt.Verifier, not {type(verifier).__name__}")
    if engine.native is None:
        raise TypeError(
            "verify_table needs a key the native core takes (this one is verified token by token "
            "in Python: use turbojwt.verify_batch)"
        )
    return engine


def verify_table(
    table: Any,
    verifier: Verifier | BatchEngine,
    token_column: str = "token",
    time_column: str | None = None,
    *,
    at: Any = None,
    threads: int | None = None,
) -> Any:
    """The rows of ``table`` with the verdict columns after them.

    ``table``: a pyarrow Table or RecordBatch, a polars DataFrame, or any object with
    ``__arrow_c_stream__`` or ``__arrow_c_array__``. ``token_column``: strings or binary
    (UTF-8, large, view or dictionary-encoded); a null token is a ``malformed`` row.
    ``time_column``: the time each token is judged as of: a timestamp (any unit and time
    zone), a date, int or float epoch seconds, or text (ASCII decimal seconds or ISO 8601,
    the one parser every reader uses); a null, or a value that is not a time, makes the row
    ``malformed`` with the reason. Without one, every token is judged as of ``at`` (None:
    now; or one time, as ``verify_batch`` takes it).

    Returns a polars DataFrame for a polars DataFrame, else a pyarrow Table (or, without
    pyarrow, an object exporting the result through the Arrow PyCapsule interface). Its
    record batches follow the input's, cut where the verdict columns were built in parts
    (one per thread): ``table.to_batches()`` gives whole record batches back.

    :raises ValueError: no column ``token_column`` (or ``time_column``), or the table already
        has a verdict column's name.
    :raises TypeError: a token column that is not strings or binary, a time column that is
        not times, or ``table`` that is not Arrow data.
    """
    engine = _engine(verifier)
    if time_column is not None and at is not None:
        raise ValueError("give time_column or at, not both")
    threads = default_threads() if threads is None else int(threads)
    if threads < 1:
        raise ValueError("threads must be at least 1")
    when = timestamp(at, time.time())
    result = engine.native.verify_table(table, token_column, time_column, when, threads)
    return _same_kind(table, result)


def _same_kind(table: Any, result: Any) -> Any:
    """``result`` (native record batches) as the kind of ``table``."""
    module = type(table).__module__.split(".")[0]
    if module == "polars":
        import polars as pl

        return pl.DataFrame(result)
    try:
        import pyarrow as pa
    except ImportError:
        return result
    # (through a stream reader: pa.table() would import pandas first, when installed)
    return pa.RecordBatchReader.from_stream(result).read_all()
