"""Builds the rows (every library, algorithm, operation and key form, plus the floors),
gates them on correctness, times them interleaved, and summarises."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable

from .adapters import KEY_FORMS, Adapter, Unsupported, all_adapters
from .floors import awslc_floor, pyca_verify
from .harness import Row, check_decoder, check_encoder, run_rounds
from .material import ALGORITHMS, make_case

MODES = {
    # warm-up rounds, recorded rounds, seconds per batch
    "quick": (1, 7, 0.003),
    "full": (3, 31, 0.02),
}
DEFAULT_LIBS = (
    "turbojwt",
    "turbojwt-verifier",
    "pyjwt",
    "python-jose",
    "joserfc",
    "authlib",
    "jwcrypto",
    "oxyjwt",
    "webtoken",
    "clasp-jwt",
    "rsjwt",
    "pyjwt-rs",
)
# A row whose interquartile range exceeds this share of its median marks the run noisy.
NOISY_SPREAD = 0.25


@dataclass
class Result:
    mode: str
    algorithms: list[str]
    rows: list[Row]
    versions: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # library -> why
    libraries: list[str] = field(default_factory=list)  # adapter names that ran

    def group_rows(self, group: str) -> list[Row]:
        return [r for r in self.rows if r.group == group]

    def baseline(self, group: str) -> Row | None:
        """PyJWT with the key as a string: what speed-ups are relative to."""
        for r in self.group_rows(group):
            if r.lib == "pyjwt" and r.key_form in ("pem", "") and r.samples:
                return r
        return None

    def floor(self, group: str) -> Row | None:
        for r in self.group_rows(group):
            if r.lib == "aws-lc" and r.samples:
                return r
        return None

    def noisy_rows(self) -> list[Row]:
        return [r for r in self.rows if r.samples and r.spread > NOISY_SPREAD]

    @property
    def groups(self) -> list[str]:
        seen: list[str] = []
        for r in self.rows:
            if r.group not in seen:
                seen.append(r.group)
        return seen


def gate_row(row: Row, make: Callable[[], Callable], check: Callable) -> None:
    """Sets up the row's call and runs the correctness gate; failures are not timed."""
    try:
        fn = make()
    except Unsupported as e:
        row.status, row.reason = "skipped", str(e)
        return
    except Exception as e:
        row.status, row.reason = "failed", f"set-up failed: {type(e).__name__}: {e}"
        return
    problem = check(fn)
    if problem:
        row.status, row.reason = "failed", problem
    else:
        row.call = fn


def build_rows(algorithms: list[str], adapters: list[Adapter], ops: list[str], log: Callable[[str], None]) -> list[Row]:
    rows: list[Row] = []
    for alg in algorithms:
        log(f"  {alg}: keys, tokens and correctness checks")
        case = make_case(alg)
        if "decode" in ops:
            group = f"{alg} decode"
            for adapter in adapters:
                for form in KEY_FORMS:
                    row = Row(group, adapter.name, adapter.label, form)
                    gate_row(row, lambda: adapter.decoder(case, form), lambda fn: check_decoder(fn, case))
                    if row.call is not None:
                        token, fn = case.token, row.call
                        row.call = lambda fn=fn, token=token: fn(token)
                    rows.append(row)
            floor = Row(group, "aws-lc", "aws-lc verify floor (Rust loop)", "", is_floor=True)
            try:
                floor.batch = awslc_floor(case)
            except Exception as e:
                floor.status, floor.reason = "skipped", f"{type(e).__name__}: {e}"
            rows.append(floor)
            pyca = Row(
                group, "cryptography", "pyca/cryptography bare verify", "", call=pyca_verify(case), is_floor=True
            )
            rows.append(pyca)
        if "encode" in ops:
            group = f"{alg} encode"
            for adapter in adapters:
                row = Row(group, adapter.name, adapter.label.replace("decode", "encode"), "")
                gate_row(row, lambda: adapter.encoder(case), lambda fn: check_encoder(fn, case))
                if row.call is not None:
                    claims, fn = case.claims, row.call
                    row.call = lambda fn=fn, claims=claims: fn(claims)
                rows.append(row)
    # A library that supports nothing here (e.g. no encode at all) is dropped from the table.
    return [r for r in rows if not (r.status == "skipped" and r.reason in ("no encode adapter", "no decode adapter"))]


def benchmark(
    *,
    mode: str = "full",
    algorithms: list[str] | None = None,
    libs: list[str] | None = None,
    ops: list[str] | None = None,
    adapters: dict[str, Adapter] | None = None,
    seed: int = 20261128,
    rounds: int | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> Result:
    """Runs the benchmark; ``adapters`` overrides the registry (tests pass their own)."""
    registry = all_adapters() if adapters is None else adapters
    algorithms = list(algorithms or ALGORITHMS)
    for alg in algorithms:
        if alg not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {alg!r} (choose from {', '.join(ALGORITHMS)})")
    names = list(libs or [n for n in DEFAULT_LIBS if n in registry] + [n for n in registry if n not in DEFAULT_LIBS])
    result = Result(mode, algorithms, [])
    available: list[Adapter] = []
    for name in names:
        adapter = registry.get(name)
        if adapter is None:
            result.skipped[name] = "no adapter for this library"
            continue
        try:
            adapter.load()
        except ImportError as e:
            result.skipped[name] = f"not installed ({e})"
            continue
        result.versions[adapter.label] = adapter.version()
        result.libraries.append(adapter.name)
        available.append(adapter)
    result.rows = build_rows(algorithms, available, list(ops or ["decode", "encode"]), log)
    warmup, n_rounds, target = MODES[mode]
    timed = sum(r.status == "ok" for r in result.rows)
    log(f"  timing {timed} rows: {warmup} warm-up + {rounds or n_rounds} rounds")
    run_rounds(result.rows, rounds or n_rounds, warmup, target, seed, log)
    return result


def ratio(a: Row, b: Row | None) -> float | None:
    if b is None or not a.samples or not b.samples:
        return None
    return statistics.median(a.samples) / statistics.median(b.samples)
