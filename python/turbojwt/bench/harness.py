"""Correctness gates, calibration and interleaved timing rounds."""

from __future__ import annotations

import gc
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .material import Case


def check_decoder(decode: Callable[[str], Any], case: Case) -> str | None:
    """None when ``decode`` returns the signed claims and refuses every forged token; else
    what went wrong."""
    problems = decode_problems(decode, case)
    return problems[0] if problems else None


def decode_problems(
    decode: Callable[[str], Any], case: Case, refuse: tuple[type[BaseException], ...] = (Exception,)
) -> list[str]:
    """Everything wrong with ``decode`` on ``case`` (empty when it returns the signed claims
    and refuses every forged token). A refusal is an exception of the ``refuse`` types (any
    by default; :func:`refusal_types` gives a library's own); a forged token refused with
    another exception is a problem too."""
    try:
        claims = decode(case.token)
    except Exception as e:
        return [f"refused the valid token: {type(e).__name__}: {e}"]
    problems = []
    if claims != case.claims:
        problems.append(f"returned other claims: {claims!r:.120}")
    for what, token in case.forged.items():
        try:
            decode(token)
        except refuse:
            continue
        except Exception as e:
            problems.append(f"refused a forged token ({what}) with an unexpected {type(e).__name__}: {e}")
            continue
        problems.append(f"ACCEPTED a forged token ({what})")
    return problems


def refusal_types(lib: Any) -> tuple[type[BaseException], ...]:
    """The exceptions that count as a proper refusal from a PyJWT-shaped library: its
    ``PyJWTError``, ``InvalidTokenError`` or (oxyjwt) ``OxyJWTError``; any exception when it
    has none of these."""
    names = ("PyJWTError", "InvalidTokenError", "OxyJWTError")
    types = tuple(t for t in (getattr(lib, n, None) for n in names) if isinstance(t, type))
    return types or (Exception,)


def check_encoder(encode: Callable[[dict], Any], case: Case) -> str | None:
    """None when ``encode`` makes a token PyJWT verifies back to the claims."""
    import jwt as pyjwt

    try:
        token = encode(case.claims)
        if isinstance(token, bytes):
            token = token.decode()
        key: Any = case.secret if case.secret is not None else case.public_pem
        back = pyjwt.decode(token, key, algorithms=[case.alg], audience=case.audience, issuer=case.issuer)
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return None if back == case.claims else "PyJWT reads other claims back"


@dataclass
class Row:
    """One timed contender: a library's call for one algorithm, operation and key form."""

    group: str  # e.g. "HS256 decode"
    lib: str  # adapter name
    label: str
    key_form: str
    call: Callable[[], Any] | None = None
    # Instead of ``call``: seconds for n operations timed natively (the aws-lc floor).
    batch: Callable[[int], float] | None = None
    status: str = "ok"  # ok | failed | skipped
    reason: str = ""
    loops: int = 1
    samples: list[float] = field(default_factory=list)  # µs per op, one per round
    is_floor: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def quantile(self, q: float) -> float:
        xs = sorted(self.samples)
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median."""
        return (self.quantile(0.75) - self.quantile(0.25)) / self.median if self.samples else 0.0


def _batch(call: Callable[[], Any], loops: int) -> float:
    """Seconds for ``loops`` calls, with the cyclic GC off."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(loops):
            call()
        return time.perf_counter() - start
    finally:
        if gc_was:
            gc.enable()


def _timed(row: Row, loops: int) -> float:
    if row.batch is not None:
        return row.batch(loops)
    assert row.call is not None  # (a row times either a batch or a call)
    return _batch(row.call, loops)


def calibrate(row: Row, target_s: float) -> None:
    """Sets ``row.loops`` so that one batch takes about ``target_s``."""
    loops = 1
    while True:
        took = _timed(row, loops)
        if took >= target_s / 4 or loops >= 1 << 22:
            row.loops = max(1, int(loops * target_s / max(took, 1e-9)))
            return
        loops *= 4


def run_rounds(
    rows: list[Row], rounds: int, warmup: int, target_s: float, seed: int, log: Callable[[str], None] = lambda s: None
) -> None:
    """Every timed row once per round, in an order shuffled each round (seeded), after
    ``warmup`` unrecorded rounds; each batch gives one µs/op sample."""
    timed = [r for r in rows if r.status == "ok"]
    for r in timed:
        calibrate(r, target_s)
    rng = random.Random(seed)
    for n in range(warmup + rounds):
        order = timed[:]
        rng.shuffle(order)
        for r in order:
            took = _timed(r, r.loops)
            if n >= warmup:
                r.samples.append(took / r.loops * 1e6)
        if (n + 1) % 5 == 0:
            log(f"  round {n + 1}/{warmup + rounds}")
