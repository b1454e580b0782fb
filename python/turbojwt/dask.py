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

from .arrow import VERDICT_COLUMNS, verify_table
from .verifier import Verifier

__all__ = ["verify_dataframe", "verify_partition"]


def verify_partition(
    df: Any,
    verifier: Verifier,
    token_column: str = "token",
    time_column: str | None = None,
    at: Any = None,
    threads: int | None = None,
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
    threads: int | None = None,
) -> Any:
    """The Dask DataFrame ``ddf`` with the verdict columns (``valid``, ``error``, ``reason``,
    ``kid``, ``iss``, ``sub``, ``aud``, ``exp``, ``iat``: see :mod:`turbojwt.arrow`) after its
    own, computed lazily partition by partition on the workers (``threads`` per partition:
    by default every core of the worker; give 1 with one single-threaded worker per core).

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
