"""Batch verification: millions of tokens per call on every core, each judged as of its own
time (e.g. the request time in a log), with the verdict ``decode`` would give it.

>>> result = turbojwt.verify_batch(tokens, public_pem, algorithms=["RS256"], at=request_times)
>>> result.counts()
{'valid': 9812, 'ExpiredSignatureError': 170, 'InvalidSignatureError': 18}
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import time
import uuid
import warnings
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from . import _native, _reference
from ._pickling import rebuilt_once
from ._time import timestamp
from .api_jwk import PyJWK, PyJWKSet, _verify_refusal
from .exceptions import PyJWKSetError, PyJWTError
from .jwks import JWKSClient
from .keyset import KeySet
from .warnings import InsecureKeyLengthWarning

__all__ = ["BatchError", "BatchResult", "TokenResult", "verify_batch"]

# Tokens per native call when the input is a plain iterable (bounds memory).
ITERABLE_CHUNK = 65536

# The columns of BatchResult.to_arrow(), after "index".
COLUMNS = ("valid", "error", "reason", "kid", "iss", "sub", "aud", "exp", "iat")


class BatchError(NamedTuple):
    """Why a token was refused: the exception ``decode`` would raise, by class name and message."""

    kind: str
    message: str


class TokenResult(NamedTuple):
    index: int  # type: ignore[assignment]  # (the token's index, shadowing tuple.index by design)
    valid: bool
    error: BatchError | None
    claims: dict[str, Any] | None


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# ---------------------------------------------------------------------------- times


def _is_scalar_time(at: Any) -> bool:
    return at is None or isinstance(at, (int, float, datetime, str))


def _times(at: Any, count: int, now: float) -> float | array:
    """One time for all tokens (ValueError if it is not a finite time), or a float64 array
    with one per token (a token's time that is not one is NaN there, which gives that token
    a ``malformed`` verdict with the reason)."""
    if _is_scalar_time(at):
        return timestamp(at, now)
    arrow = _arrow_types()
    if arrow is not None and isinstance(at, arrow):
        at = _arrow_times(sys.modules["pyarrow"], at)
    times = array("d", (_token_time(v, now) for v in at))
    if len(times) != count:
        raise ValueError(f"at has {len(times)} times for {count} tokens")
    return times


def _token_time(value: Any, now: float) -> float:
    try:
        return timestamp(value, now)
    except ValueError:
        return math.nan


def _arrow_times(pa: Any, at: Any) -> list[Any]:
    if pa.types.is_timestamp(at.type):
        per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[at.type.unit]
        return [None if v is None else v / per_second for v in at.cast(pa.int64()).to_pylist()]
    return at.to_pylist()


# ---------------------------------------------------------------------------- keys


def _jwks_entries(jwks: Any) -> list[tuple[str | None, Any]]:
    """(kid, PyJWK) for every signing key of a JWKS given as a dict, PyJWKSet, KeySet or
    JWKSClient (its current keys); a KeySet key appears once per algorithm it allows."""
    if isinstance(jwks, JWKSClient):
        jwks = jwks.get_key_set()
    if isinstance(jwks, KeySet):
        return [(e.kid, e.key(alg)) for e in jwks for alg in e.algorithms]
    if isinstance(jwks, PyJWKSet):
        # A JWK meant for encryption, or whose key_ops leave out verify, never verifies.
        keys = [k for k in jwks.keys if not _verify_refusal(dict(k._jwk_data))]
        entries = [(k.key_id, k) for k in keys]
    else:
        entries = []
        for data in jwks["keys"]:
            if not isinstance(data, Mapping) or _verify_refusal(dict(data)):
                continue
            try:
                jwk = PyJWK(dict(data))
            except PyJWTError:
                continue  # as PyJWKSet does: a key of an unsupported type is left out
            entries.append((jwk.key_id, jwk))
    if not entries:
        raise PyJWKSetError("The JWK Set did not contain any usable keys")
    return entries


def _is_jwks(key: Any) -> bool:
    return isinstance(key, (PyJWKSet, KeySet, JWKSClient)) or (
        isinstance(key, Mapping) and isinstance(key.get("keys"), list)
    )


def _is_jwk(key: Any) -> bool:
    return isinstance(key, Mapping) and "kty" in key


def _set_entries(value: Any) -> list[tuple[str | None, Any]]:
    """A key set from one key, a JWK, a list of keys or a JWKS."""
    if _is_jwks(value):
        return _jwks_entries(value)
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for item in items:
        if _is_jwk(item):
            item = PyJWK(dict(item))
        out.append((item.key_id if isinstance(item, PyJWK) else None, item))
    return out


class KeyTable(NamedTuple):
    keys: list[Any]
    # None (one key), [(kid, index)] or {issuer: [(kid, index)]}
    selection: Any


def key_table(key: Any) -> KeyTable:
    """One key (anything ``decode`` takes, or a JWK dict), a JWKS (dict or PyJWKSet) picked
    by ``kid``, or a mapping issuer -> key(s) picked by the token's ``iss``."""
    if _is_jwks(key):
        entries = _jwks_entries(key)
        selection: Any = [(kid, i) for i, (kid, _) in enumerate(entries)]
        if isinstance(key, (KeySet, JWKSClient)):
            selection = ("strict", selection)  # KeySet.entry's rule for picking the key
        return KeyTable([k for _, k in entries], selection)
    if isinstance(key, Mapping) and not _is_jwk(key):
        if not key or not all(isinstance(iss, str) for iss in key):
            raise TypeError("a key mapping must map issuer strings to keys")
        keys: list[Any] = []
        by_issuer: dict[str, list[tuple[str | None, int]]] = {}
        for iss, value in key.items():
            entries = _set_entries(value)
            by_issuer[iss] = [(kid, len(keys) + i) for i, (kid, _) in enumerate(entries)]
            keys.extend(k for _, k in entries)
        return KeyTable(keys, by_issuer)
    if _is_jwk(key):
        key = PyJWK(dict(key))
    return KeyTable([key], None)


# ---------------------------------------------------------------------------- tokens


def _arrow_arrays(tokens: Any) -> list[Any] | None:
    """The chunks of a pyarrow array or chunked array (read natively through the Arrow C
    data interface: strings or binary, plain, large, view or dictionary-encoded), or None
    when ``tokens`` is not Arrow data."""
    arrow = _arrow_types()
    if arrow is None:
        return None
    if isinstance(tokens, arrow[1]):
        return list(tokens.chunks)
    if isinstance(tokens, arrow[0]):
        return [tokens]
    return None


def _arrow_types() -> tuple[Any, Any] | None:
    """pyarrow's ``Array`` and ``ChunkedArray`` when pyarrow is imported (else the argument
    cannot be Arrow data). A pyarrow being imported on another thread, as verify-logs'
    writer does, is in ``sys.modules`` half made: none of its data exists yet either."""
    pa = sys.modules.get("pyarrow")
    array, chunked = getattr(pa, "Array", None), getattr(pa, "ChunkedArray", None)
    if array is None or chunked is None:
        return None
    return array, chunked


class _Source:
    """Tokens of one native call and how to get token i back as a Python object."""

    def __init__(self, tokens: Any) -> None:
        self.tokens = tokens

    def token(self, i: int) -> Any:
        return self.tokens[i]


class _ArrowSource(_Source):
    def token(self, i: int) -> Any:
        return self.tokens[i].as_py()


# ---------------------------------------------------------------------------- engine


def check_policy_arguments(
    algorithms: Any, options: Any, leeway: Any = 0, *, require_algorithms: bool = False
) -> list[str]:
    """The algorithm names as a list; TypeError for arguments of the wrong type (shared by
    the compiled verifiers: a mistake shows when they are built, not on the first token)."""
    if isinstance(algorithms, str) or not all(isinstance(a, str) for a in algorithms):
        raise TypeError("algorithms must be a list of algorithm names, e.g. ['RS256']")
    if require_algorithms and not algorithms:
        raise ValueError("algorithms must name at least one algorithm")
    if options is not None and not isinstance(options, dict):
        raise TypeError("options must be a dict or None")
    if not isinstance(leeway, (int, float, timedelta)):
        raise TypeError("leeway must be a number of seconds or a timedelta")
    if isinstance(leeway, float) and not math.isfinite(leeway):
        raise ValueError("leeway must be a finite number of seconds")
    return list(algorithms)


def _rebuild_engine(identity: str, key: Any, kwargs: dict[str, Any]) -> BatchEngine:
    def build() -> BatchEngine:
        engine = BatchEngine(key, **kwargs)
        engine._identity = identity
        return engine

    return rebuilt_once(identity, build)


class BatchEngine:
    """A key table and a decode policy compiled once; runs batches."""

    def __init__(
        self,
        key: Any,
        *,
        algorithms: Sequence[str],
        audience: Any = None,
        issuer: Any = None,
        subject: str | None = None,
        leeway: float | timedelta = 0,
        options: dict[str, Any] | None = None,
    ) -> None:
        algorithms = check_policy_arguments(algorithms, options, leeway)
        self.decode_args = dict(
            algorithms=algorithms,
            options=options,
            audience=audience,
            issuer=issuer,
            subject=subject,
            leeway=leeway,
        )
        self._key = key  # with decode_args, what it pickles to (see __reduce__)
        self._identity = uuid.uuid4().hex
        self.table = key_table(key)
        try:
            self.native: Any = _native.BatchVerifier(
                self.table.keys, self.table.selection, algorithms, audience, issuer, subject, leeway, options
            )
        except NotImplementedError:
            self.native = None  # a key only the reference path takes: token by token

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles to its key material and policy, for worker processes (Dask): a process
        rebuilds a given engine once and keeps it (``_pickling.rebuilt_once``). The key must
        pickle: a secret, a PEM, a JWK or JWKS dict, a ``KeySet``."""
        return (_rebuild_engine, (self._identity, self._key, dict(self.decode_args)))

    def run(self, tokens: Any, *, at: Any = None, claims: bool = True, threads: int | None = None) -> BatchResult:
        threads = default_threads() if threads is None else int(threads)
        if threads < 1:
            raise ValueError("threads must be at least 1")
        now = time.time()
        if type(tokens).__module__.split(".")[0] == "polars" and hasattr(tokens, "to_arrow"):
            tokens = tokens.to_arrow()  # a polars Series: its Arrow buffers, not a copy
        arrays = _arrow_arrays(tokens)
        if arrays is not None:
            times = _times(at, len(tokens), now)
            return BatchResult([self._verify_arrow(arrays, _ArrowSource(tokens), times, claims, threads)])
        if isinstance(tokens, (list, tuple)):
            times = _times(at, len(tokens), now)
            return BatchResult([self._verify_list(tokens, times, claims, threads)])
        if isinstance(tokens, (str, bytes)):
            raise TypeError("tokens must be a collection of tokens, not a single token")
        return BatchResult(list(self._iter_parts(iter(tokens), at, now, claims, threads)))

    def _iter_parts(self, tokens: Iterator[Any], at: Any, now: float, claims: bool, threads: int) -> Iterator[Any]:
        scalar = _is_scalar_time(at)
        times_iter = None if scalar else iter(at)
        while True:
            chunk = list(itertools.islice(tokens, ITERABLE_CHUNK))
            if not chunk:
                return
            if scalar:
                times: Any = timestamp(at, now)
            else:
                times = _times(list(itertools.islice(times_iter, len(chunk))), len(chunk), now)  # type: ignore[arg-type]
            yield self._verify_list(chunk, times, claims, threads)

    def _verify_list(self, tokens: Sequence[Any], times: Any, claims: bool, threads: int) -> Any:
        if self.native is None:
            return _ReferencePart(self, _Source(tokens), len(tokens), times, claims)
        return self._finish(self.native.verify(tokens, times, claims, threads))

    def _verify_arrow(self, arrays: list[Any], source: _Source, times: Any, claims: bool, threads: int) -> Any:
        if self.native is None:
            return _ReferencePart(self, source, sum(len(a) for a in arrays), times, claims)
        return self._finish(self.native.verify_arrow(arrays, times, claims, threads))

    def verify_jsonl_block(
        self, block: bytes | memoryview, token_field: str, time_field: str | None, at: float | None, threads: int
    ) -> Any:
        """Verdicts for the tokens of a block of whole JSON lines (the native parser reads the
        lines; a line with no usable token gets the error ``malformed`` and the reason)."""
        time_path = time_field.split(".") if time_field else None
        return self.native.verify_jsonl(block, token_field.split("."), time_path, at, threads)

    def _finish(self, part: Any) -> Any:
        if part.short_key_used():
            warnings.warn(
                "A key used in this batch is shorter than RFC 7518 recommends for its algorithm "
                "(decode() warns on every such call).",
                InsecureKeyLengthWarning,
                stacklevel=4,
            )
        return part

    def reference_verdict(self, token: Any, key: Any, at: float) -> tuple[BatchError | None, Any]:
        """The reference path's verdict for one token, judged as of ``at``."""
        args = self.decode_args
        try:
            payload = _reference.decode(
                token,
                key,
                args["algorithms"],
                args["options"],
                args["audience"],
                args["issuer"],
                args["subject"],
                args["leeway"],
                False,
                at,
            )
            return None, payload
        except Exception as e:
            return BatchError(type(e).__name__, str(e)), None


class _ReferencePart:
    """A batch judged entirely by the reference path (keys the core does not take)."""

    def __init__(self, engine: BatchEngine, source: _Source, count: int, times: Any, claims: bool) -> None:
        self._verdicts = []
        for i in range(count):
            at = times if isinstance(times, float) else times[i]
            error, payload = engine.reference_verdict(source.token(i), engine.table.keys[0], at)
            self._verdicts.append((error, payload if claims else None))
        self._claims = claims

    def __len__(self) -> int:
        return len(self._verdicts)

    def valid(self) -> list[bool]:
        return [e is None for e, _ in self._verdicts]

    def errors(self) -> list[Any]:
        return [e for e, _ in self._verdicts]

    def claims(self) -> list[Any] | None:
        return [c for _, c in self._verdicts] if self._claims else None

    def counts(self) -> dict[str, int]:
        return dict(Counter("valid" if e is None else e.kind for e, _ in self._verdicts))

    def arrow(self, first: int) -> Any:
        return _native.verdict_batch(self.columns(), first)

    def columns(self) -> dict[str, list[Any]]:
        cols: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        for error, payload in self._verdicts:
            cols["valid"].append(error is None)
            cols["error"].append(None if error is None else error.kind)
            cols["reason"].append(None if error is None else error.message)
            for name in ("kid", "iss", "sub", "aud", "exp", "iat"):
                value = (payload or {}).get(name) if name != "kid" else None
                if name == "aud" and isinstance(value, list):
                    value = ",".join(map(str, value))
                cols[name].append(value)
        return cols


# ---------------------------------------------------------------------------- result


class BatchResult:
    """Per-token verdicts of a batch, in input order.

    ``valid`` (bools), ``errors`` (None or ``BatchError(kind, message)``), ``claims`` (dicts,
    None for refused tokens; None altogether with ``claims=False``), ``counts()``,
    ``to_arrow()``, ``len()``, indexing and iteration (``TokenResult`` tuples).
    """

    __slots__ = ("_claims", "_errors", "_len", "_parts", "_valid")

    def __init__(self, parts: list[Any]) -> None:
        self._parts = parts
        self._len = sum(len(p) for p in parts)
        self._valid: list[bool] | None = None
        self._errors: list[BatchError | None] | None = None
        self._claims: list[Any] | None = None

    def __len__(self) -> int:
        return self._len

    @property
    def valid(self) -> list[bool]:
        if self._valid is None:
            self._valid = [v for p in self._parts for v in p.valid()]
        return self._valid

    @property
    def errors(self) -> list[BatchError | None]:
        if self._errors is None:
            self._errors = [None if e is None else BatchError(*e) for p in self._parts for e in p.errors()]
        return self._errors

    @property
    def claims(self) -> list[dict[str, Any] | None] | None:
        if self._claims is None:
            lists = [p.claims() for p in self._parts]
            if any(c is None for c in lists):
                return None
            self._claims = [c for lst in lists for c in lst]
        return self._claims

    def counts(self) -> dict[str, int]:
        """Tokens by outcome: ``"valid"`` or the exception class name, most frequent first."""
        total: Counter[str] = Counter()
        for p in self._parts:
            total.update(p.counts())
        return dict(total.most_common())

    def columns(self) -> dict[str, list[Any]]:
        cols: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        for p in self._parts:
            for name, values in p.columns().items():
                cols[name].extend(values)
        return cols

    def arrow(self) -> list[Any]:
        """The verdicts as Arrow data, one object per part of the batch, built natively and
        exported through the Arrow PyCapsule interface (``pyarrow.table(p)``,
        ``polars.DataFrame(p)``): ``index``, then the columns of ``to_arrow``."""
        out = []
        start = 0
        for p in self._parts:
            out.append(p.arrow(start))
            start += len(p)
        return out

    def to_arrow(self) -> Any:
        """A pyarrow Table: index (int64), valid (bool), error, reason, kid, iss, sub, aud
        (strings), exp, iat (float64 seconds): kid/iss/sub/aud/exp/iat as the token states
        them, also for refused tokens. Built natively as Arrow arrays and handed over without
        a copy (pyarrow required)."""
        import pyarrow as pa

        parts = self.arrow() or [_native.verdict_batch({name: [] for name in COLUMNS}, 0)]
        # (through a stream reader: pa.table() would import pandas first, when installed,
        # to ask whether the argument is a pandas frame)
        return pa.concat_tables([pa.RecordBatchReader.from_stream(p).read_all() for p in parts])

    def __getitem__(self, i: int) -> TokenResult:
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError("batch result index out of range")
        claims = self.claims
        return TokenResult(i, self.valid[i], self.errors[i], None if claims is None else claims[i])

    def __iter__(self) -> Iterator[TokenResult]:
        claims = self.claims
        for i, (ok, err) in enumerate(zip(self.valid, self.errors)):
            yield TokenResult(i, ok, err, None if claims is None else claims[i])

    def __repr__(self) -> str:
        return f"<BatchResult {self._len} tokens: {self.counts()}>"


def verify_batch(
    tokens: Iterable[str | bytes] | Any,
    key: Any,
    *,
    algorithms: Sequence[str],
    audience: str | Iterable[str] | None = None,
    issuer: Any = None,
    subject: str | None = None,
    leeway: float | timedelta = 0,
    options: dict[str, Any] | None = None,
    at: Any = None,
    claims: bool = True,
    threads: int | None = None,
) -> BatchResult:
    """Verifies many tokens at once, on ``threads`` threads (default: every available core)
    with the GIL released, each with the verdict ``decode(token, key, algorithms=..., ...)``
    gives as of ``at``.

    ``tokens``: a list or tuple of str/bytes, any iterable (read in chunks), a pyarrow
    string/binary array or chunked array (read in place), or a polars Series.
    ``key``: anything ``decode`` takes, a JWK dict, a JWKS (dict or ``PyJWKSet``; the key is
    picked by ``kid``), or a mapping issuer -> key(s) (picked by the token's ``iss``).
    ``at``: None (now), one time (a finite number, a datetime, an ASCII decimal or ISO 8601
    string; anything else is a ValueError) or one per token (a token whose time is not one
    gets a ``malformed`` verdict with the reason).
    ``claims=False`` skips building the claim dicts (verdicts are the same).
    """
    engine = BatchEngine(
        key,
        algorithms=algorithms,
        audience=audience,
        issuer=issuer,
        subject=subject,
        leeway=leeway,
        options=options,
    )
    return engine.run(tokens, at=at, claims=claims, threads=threads)
