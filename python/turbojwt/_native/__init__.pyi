# Type stubs for turbojwt's native module (Rust, PyO3). Use the public API in `turbojwt`
# rather than these functions directly.
#
# A stub package beside the extension module (`_native.*.so`), as pyca/cryptography lays out
# its `_rust` bindings: a directory without `__init__.py` does not shadow the extension.
# The submodules `bench` and `testing` hold the benchmark and test hooks. Classes are final,
# as PyO3 classes are at runtime (checked by mypy's stubtest).

from collections.abc import Callable, Mapping
from typing import Any, final

from typing_extensions import Self

from turbojwt._native import bench as bench
from turbojwt._native import testing as testing

__all__ = [
    "ArrowBatches",
    "ArrowRecordBatch",
    "BatchPart",
    "BatchVerifier",
    "KeyGeneration",
    "Verifier",
    "__version__",
    "bench",
    "decode",
    "decode_complete",
    "decode_fast",
    "encode_fast",
    "get_limits",
    "has_roca_fingerprint",
    "key_cache_clear",
    "key_cache_info",
    "keyset_check",
    "line_ends",
    "parse_time",
    "report_batch",
    "report_csv",
    "report_jsonl",
    "set_global_registry_modified",
    "set_key_cache_size",
    "set_limits",
    "set_reference",
    "testing",
    "typ_matches",
    "unverified_issuer",
    "verdict_batch",
]

__version__: str

def decode(
    jwt: str | bytes,
    key: Any = "",
    algorithms: Any = None,
    options: dict[str, Any] | None = None,
    verify: bool | None = None,
    detached_payload: bytes | None = None,
    audience: Any = None,
    subject: str | None = None,
    issuer: Any = None,
    leeway: Any = 0,
    **kwargs: Any,
) -> dict[str, Any]: ...
def decode_complete(
    jwt: str | bytes,
    key: Any = "",
    algorithms: Any = None,
    options: dict[str, Any] | None = None,
    verify: bool | None = None,
    detached_payload: bytes | None = None,
    audience: Any = None,
    issuer: Any = None,
    subject: str | None = None,
    leeway: Any = 0,
    **kwargs: Any,
) -> dict[str, Any]: ...

# Decodes natively, or hands the call over to turbojwt._reference.decode (with jwt=instance).
def decode_fast(
    jwt: Any,
    key: Any,
    algorithms: Any,
    options: Any,
    audience: Any,
    issuer: Any,
    subject: Any,
    leeway: Any,
    base_options: Mapping[str, Any] | None,
    complete: bool,
    instance: Any = None,
) -> Any: ...
def set_reference(decode: Callable[..., Any]) -> None: ...
def typ_matches(typ: Any, want: str) -> bool: ...
def unverified_issuer(token: Any) -> tuple[bool, str | None]: ...
def keyset_check(
    json: bytes, min_rsa_bits: int, allow_symmetric: bool
) -> tuple[list[tuple[int, list[str]]], list[tuple[int, str]]]: ...
def has_roca_fingerprint(modulus: bytes) -> bool: ...
def encode_fast(
    payload: Any,
    key: Any,
    algorithm: str | None,
    headers: Any,
    sort_headers: bool,
    enforce_minimum_key_length: bool,
) -> Any: ...
def set_global_registry_modified() -> None: ...

# The version of a changing key set (a JWKSClient's), bumped when the set changes.
@final
class KeyGeneration:
    def __new__(cls) -> Self: ...
    def bump(self) -> int: ...
    @property
    def value(self) -> int: ...

@final
class Verifier:
    def __new__(
        cls,
        key: Any,
        algorithms: list[str],
        audience: Any,
        issuer: Any,
        subject: Any,
        leeway: Any,
        options: dict[str, Any] | None,
        cache_size: int = 0,
        cache_ttl: float = 600.0,
        cache_max_token: int = 8192,
        cache_negative_ttl: float = 0.0,
        key_resolver: Callable[[str | None, str], tuple[Any, float, int]] | None = None,
        key_generation: KeyGeneration | None = None,
        typ: str | None = None,
    ) -> Self: ...
    def decode(self, token: str | bytes) -> dict[str, Any]: ...
    def decode_complete(self, token: str | bytes) -> dict[str, Any]: ...
    def cache_info(self) -> tuple[int, int, int, int] | None: ...
    def cache_clear(self) -> None: ...
    def keys_held(self) -> int: ...
    def keys_clear(self) -> None: ...
    @property
    def algorithms(self) -> list[str]: ...

# A policy and key table for batches: `selection` is None (one key), a list of
# `(kid, key index)`, `("strict", that list)` (a `KeySet`) or a dict issuer -> such
# a list.
@final
class BatchVerifier:
    def __new__(
        cls,
        keys: list[Any],
        selection: list[tuple[str | None, int]]
        | tuple[str, list[tuple[str | None, int]]]
        | dict[str, list[tuple[str | None, int]]]
        | None,
        algorithms: list[str],
        audience: Any,
        issuer: Any,
        subject: Any,
        leeway: Any,
        options: dict[str, Any] | None,
    ) -> Self: ...
    def verify(self, tokens: list[Any] | tuple[Any, ...], at: Any, claims: bool, threads: int) -> BatchPart: ...
    def verify_arrow(self, arrays: list[Any], at: Any, claims: bool, threads: int) -> BatchPart: ...
    def verify_table(
        self, table: Any, token_column: str, time_column: str | None, at: float, threads: int
    ) -> ArrowBatches | ArrowRecordBatch: ...
    def verify_jsonl(
        self,
        block: bytes | bytearray | memoryview,
        token_path: list[str],
        time_path: list[str] | None,
        at: float | None,
        threads: int,
    ) -> BatchPart: ...

@final
class BatchPart:
    def __len__(self) -> int: ...
    def short_key_used(self) -> bool: ...
    def valid(self) -> list[bool]: ...
    def errors(self) -> list[tuple[str, str] | None]: ...
    def claims(self) -> list[dict[str, Any] | None] | None: ...
    def counts(self) -> dict[str, int]: ...
    def columns(self) -> dict[str, list[Any]]: ...
    def tally(self, expired_before: float) -> tuple[dict[str, int], int, list[dict[str, int]]]: ...
    def arrow(self, first: int) -> ArrowBatches | ArrowRecordBatch: ...
    def report(self, fields: list[str], first_line: int, source: str | None) -> ArrowBatches | ArrowRecordBatch: ...

# Record batches exported through the Arrow PyCapsule interface (as a stream; one batch is an
# ArrowRecordBatch, which is also an array).
@final
class ArrowBatches:
    def __len__(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    def __arrow_c_schema__(self) -> Any: ...
    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any: ...

@final
class ArrowRecordBatch:
    def __len__(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    def __arrow_c_schema__(self) -> Any: ...
    def __arrow_c_array__(self, requested_schema: Any = None) -> tuple[Any, Any]: ...
    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any: ...

def verdict_batch(columns: dict[str, list[Any]], first: int) -> ArrowBatches | ArrowRecordBatch: ...
def report_batch(columns: dict[str, list[Any]], fields: list[str]) -> ArrowBatches | ArrowRecordBatch: ...
def report_jsonl(batch: Any) -> bytes: ...
def report_csv(batch: Any) -> bytes: ...
def key_cache_info() -> tuple[int, int, int, int]: ...
def key_cache_clear() -> None: ...
def set_key_cache_size(maxsize: int) -> None: ...
def set_limits(max_token_length: int | None = None, max_json_depth: int | None = None) -> tuple[int, int]: ...
def get_limits() -> tuple[int, int]: ...
def parse_time(text: str) -> float: ...
def line_ends(block: bytes | bytearray | memoryview, start: int, end: int, max_lines: int) -> tuple[int, int]: ...
