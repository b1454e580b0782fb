#!/usr/bin/env python
"""Regenerate benchmarks/RESULTS.md: turbojwt vs PyJWT vs oxyjwt vs the verify floors.

    python benchmarks/compare.py [--quick] [--out benchmarks/RESULTS.md]

All contenders run side by side in ONE process. After calibration and a warm-up,
each round visits every contender once (round-robin, order shuffled per round with
a fixed seed) and times one batch of calls with time.perf_counter_ns; the per-op
time of each batch is one sample. We report the median over rounds with its
spread (min … p90, and the IQR), the speed-up over PyJWT with a PEM/str key, and
the ratio to turbojwt's native aws-lc verify floor.

Before anything is timed, every contender must return the right claims and
refuse every forged token; failures are reported instead of timed. Keys, tokens,
forgeries, the correctness gates and the bare-verify floors come from turbojwt's
benchmark toolkit (``turbojwt.bench``), so turbojwt must be importable; oxyjwt is
optional (its rows are skipped with a note), and so is the native floor.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import importlib.metadata
import itertools
import os
import platform
import random
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jwt as pyjwt

from sections import targets_table  # benchmarks/sections.py, beside this file

try:
    import turbojwt as turbo
    from turbojwt.bench.adapters import signing_key, verify_key
    from turbojwt.bench.floors import BareVerify, check_awslc_floor
    from turbojwt.bench.harness import check_encoder, decode_problems, refusal_types
    from turbojwt.bench.material import AUDIENCE, ISSUER, Case, make_case, make_claims
    from turbojwt.bench.report import cpu_model
except ImportError as exc:  # the toolkit is part of the package: nothing to compare without it
    sys.exit(
        f"compare.py needs this checkout's turbojwt and its benchmark toolkit, turbojwt.bench ({exc}): "
        "build it first (python3 -m pip install '.[bench]', or maturin develop --release)"
    )

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "RESULTS.md"
# The algorithms of the issue-2 tables (turbojwt bench covers all nine).
ALGS = ("HS256", "RS256", "ES256", "EdDSA")
ASYMMETRIC_ALGS = ("RS256", "ES256", "EdDSA")

MODES = {
    # target_ms: wall time of one batch; rounds: recorded rounds; warmup: unrecorded rounds
    "quick": dict(target_ms=15.0, rounds=31, warmup=2),
    "full": dict(target_ms=40.0, rounds=81, warmup=4),
}


# ---------------------------------------------------------------------------
# Contenders
# ---------------------------------------------------------------------------


@dataclass
class Contender:
    group: str  # e.g. "RS256 decode"
    name: str  # stable id, e.g. "turbojwt-pem"
    label: str  # row label
    key_desc: str
    batch: Optional[Callable[[int], int]] = None  # n -> elapsed ns for n ops
    status: str = "ok"  # ok | skipped | failed
    reason: str = ""
    n: int = 1
    est_batch_ns: float = 0.0
    samples_us: list = field(default_factory=list)

    @property
    def timed(self) -> bool:
        return self.status == "ok" and self.batch is not None


def make_batch(stmt: str, namespace: dict) -> Callable[[int], int]:
    """Compile ``for _ in range(n): <stmt>`` timed by perf_counter_ns (timeit-style:
    no per-call lambda overhead, the statement is exactly what a user writes)."""
    g = dict(namespace)
    g["_pc"] = time.perf_counter_ns
    g["_repeat"] = itertools.repeat
    src = (
        "def _batch(_n):\n"
        "    _it = _repeat(None, _n)\n"
        "    _t0 = _pc()\n"
        "    for _ in _it:\n"
        f"        {stmt}\n"
        "    return _pc() - _t0\n"
    )
    exec(compile(src, f"<batch: {stmt[:40]}>", "exec"), g)
    return g["_batch"]


def _decode_contender(group, name, label, key_desc, lib, alg, key, case: Case):
    c = Contender(group, name, label, key_desc)
    algorithms = [alg]

    def call(token: str):
        # The exact call benchmarked: audience and issuer checked, one allowed algorithm.
        return lib.decode(token, key, algorithms=algorithms, audience=AUDIENCE, issuer=ISSUER)

    problems = decode_problems(call, case, refusal_types(lib))
    if problems:
        c.status, c.reason = "failed", "; ".join(problems)
        return c
    ns = dict(_lib=lib, _tok=case.token, _key=key, _algs=[alg], _aud=AUDIENCE, _iss=ISSUER)
    c.batch = make_batch("_lib.decode(_tok, _key, algorithms=_algs, audience=_aud, issuer=_iss)", ns)
    return c


def _safe(factory: Callable[[], Contender], group, name, label, key_desc) -> Contender:
    try:
        return factory()
    except Exception as exc:  # setup itself blew up: report, never crash the run
        return Contender(
            group, name, label, key_desc, status="failed", reason=f"setup raised {type(exc).__name__}: {exc}"
        )


def oxyjwt_decoding_key(oxy, case: Case):
    """oxyjwt's prepared key: ``oxyjwt.DecodingKey.from_*`` (its documented way; the HMAC
    secret as bytes)."""
    dk = oxy.DecodingKey
    if case.secret is not None:
        return dk.from_secret(verify_key(case, "prepared"))
    family = {"RS": "rsa", "PS": "rsa", "ES": "ec", "Ed": "ed"}[case.alg[:2]]
    return getattr(dk, f"from_{family}_pem")(case.public_pem)


def build_contenders(cases: dict, floor, floor_why, oxy, oxy_why, notes):
    out = []
    for alg in ALGS:
        case = cases[alg]
        # The key as a caller passes it (the secret or the public PEM, as str) and prepared
        # (the secret as bytes, or the pyca/cryptography public key object).
        key_str, key_obj = verify_key(case, "pem"), verify_key(case, "prepared")
        g = f"{alg} decode"
        hs = alg == "HS256"
        str_desc = "secret str" if hs else "PEM str"
        obj_desc = "secret bytes" if hs else "cryptography key object"

        def skipped(name, label, key_desc, why):
            return Contender(g, name, label, key_desc, status="skipped", reason=why)

        # turbojwt ------------------------------------------------------------
        out.append(
            _safe(
                lambda: _decode_contender(g, "turbojwt-pem", "turbojwt.decode", str_desc, turbo, alg, key_str, case),
                g,
                "turbojwt-pem",
                "turbojwt.decode",
                str_desc,
            )
        )
        out.append(
            _safe(
                lambda: _decode_contender(
                    g, "turbojwt-prepared", "turbojwt.decode", obj_desc, turbo, alg, key_obj, case
                ),
                g,
                "turbojwt-prepared",
                "turbojwt.decode",
                obj_desc,
            )
        )

        def make_verifier(alg=alg, case=case, key_str=key_str):
            c = Contender(g, "turbojwt-verifier", "turbojwt.Verifier.decode", str_desc)
            v = turbo.Verifier(key_str, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)
            problems = decode_problems(v.decode, case, refusal_types(turbo))
            if problems:
                c.status, c.reason = "failed", "; ".join(problems)
            else:
                c.batch = make_batch("_v.decode(_tok)", dict(_v=v, _tok=case.token))
            return c

        out.append(_safe(make_verifier, g, "turbojwt-verifier", "turbojwt.Verifier.decode", str_desc))

        # PyJWT ---------------------------------------------------------------
        out.append(
            _safe(
                lambda: _decode_contender(g, "pyjwt-pem", "jwt.decode (PyJWT)", str_desc, pyjwt, alg, key_str, case),
                g,
                "pyjwt-pem",
                "jwt.decode (PyJWT)",
                str_desc,
            )
        )
        out.append(
            _safe(
                lambda: _decode_contender(
                    g, "pyjwt-prepared", "jwt.decode (PyJWT)", obj_desc, pyjwt, alg, key_obj, case
                ),
                g,
                "pyjwt-prepared",
                "jwt.decode (PyJWT)",
                obj_desc,
            )
        )

        # oxyjwt --------------------------------------------------------------
        oxy_desc = (
            "DecodingKey.from_secret"
            if hs
            else ("DecodingKey.from_" + {"RS256": "rsa", "ES256": "ec", "EdDSA": "ed"}[alg] + "_pem")
        )
        if oxy is None:
            out.append(skipped("oxyjwt-prepared", "oxyjwt.decode", oxy_desc, oxy_why))
        else:
            out.append(
                _safe(
                    lambda: _decode_contender(
                        g, "oxyjwt-prepared", "oxyjwt.decode", oxy_desc, oxy, alg, oxyjwt_decoding_key(oxy, case), case
                    ),
                    g,
                    "oxyjwt-prepared",
                    "oxyjwt.decode",
                    oxy_desc,
                )
            )

        # native aws-lc floor ---------------------------------------------------
        floor_label = "aws-lc floor (_native.bench.verify_floor)"
        if floor is None:
            out.append(skipped("floor", floor_label, str_desc, floor_why))
        else:

            def make_floor(alg=alg, case=case, key_str=key_str):
                c = Contender(g, "floor", floor_label, str_desc)
                problems, fnotes = check_awslc_floor(case, floor)
                notes.extend(fnotes)
                if problems:
                    c.status, c.reason = "failed", "; ".join(problems)
                    return c
                key, si, sig = key_str, case.signing_input, case.signature
                c.batch = lambda n: round(floor(alg, key, si, sig, n) * 1e9)
                return c

            out.append(_safe(make_floor, g, "floor", floor_label, str_desc))

        # pyca/cryptography bare verify -----------------------------------------
        def make_bare(case=case):
            c = Contender(g, "bare-crypto", "pyca/cryptography bare verify", obj_desc)
            bv = BareVerify(case)
            problems = bv.check()
            if problems:
                c.status, c.reason = "failed", "; ".join(problems)
            else:
                c.batch = make_batch(bv.stmt, bv.namespace)
            return c

        out.append(_safe(make_bare, g, "bare-crypto", "pyca/cryptography bare verify", obj_desc))

    # RS256 encode with a PEM private key string --------------------------------
    g = "RS256 encode"
    case = cases["RS256"]
    claims, pem = case.claims, signing_key(case)
    for name, lib, label in (("turbojwt-pem", turbo, "turbojwt.encode"), ("pyjwt-pem", pyjwt, "jwt.encode (PyJWT)")):

        def make_enc(lib=lib, name=name, label=label):
            c = Contender(g, name, label, "PEM str (PKCS#8)")
            # A token PyJWT verifies back to the claims, with the header's alg RS256.
            problem = check_encoder(lambda claims: lib.encode(claims, pem, algorithm="RS256"), case)
            if problem:
                c.status, c.reason = "failed", problem
                return c
            ns = dict(_lib=lib, _claims=claims, _key=pem)
            c.batch = make_batch('_lib.encode(_claims, _key, algorithm="RS256")', ns)
            return c

        out.append(_safe(make_enc, g, name, label, "PEM str (PKCS#8)"))
    return out


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def _timed(batch, n) -> int:
    gc_was = gc.isenabled()
    gc.disable()
    try:
        return batch(n)
    finally:
        if gc_was:
            gc.enable()


def calibrate(c: Contender, target_ns: float) -> None:
    n = 1
    t = _timed(c.batch, n)
    while t < target_ns / 8 and n < (1 << 26):
        grow = max(2, min(16, int(target_ns / 8 / max(t, 1)) + 1))
        n *= grow
        t = _timed(c.batch, n)
    c.n = max(1, round(target_ns / (t / n)))
    c.est_batch_ns = c.n * t / n


def run_rounds(contenders, rounds: int, warmup: int, target_ms: float, seed: int, log) -> None:
    timed = [c for c in contenders if c.timed]
    target_ns = target_ms * 1e6
    log(f"calibrating {len(timed)} contenders (batch ≈ {target_ms:g} ms) ...")
    for c in timed:
        try:
            calibrate(c, target_ns)
        except Exception as exc:
            c.status, c.reason = "failed", f"raised while timing: {type(exc).__name__}: {exc}"
    timed = [c for c in timed if c.timed]
    est = sum(c.est_batch_ns for c in timed) * (rounds + warmup) / 1e9
    log(f"{warmup} warm-up + {rounds} recorded rounds, ~{est:.0f} s ...")
    rng = random.Random(seed)
    warm: dict = {}
    t_start = time.monotonic()
    for r in range(warmup + rounds):
        order = list(timed)
        rng.shuffle(order)
        for c in order:
            if not c.timed:
                continue
            try:
                ns = _timed(c.batch, c.n)
            except Exception as exc:
                c.status, c.reason = "failed", f"raised while timing: {type(exc).__name__}: {exc}"
                continue
            per_op_us = ns / c.n / 1000.0
            if r >= warmup:
                c.samples_us.append(per_op_us)
            else:
                warm.setdefault(c.name + "|" + c.group, []).append(per_op_us)
        if r == warmup - 1:
            # Re-size batches from warm (post-JIT-free, caches hot) per-op times: the
            # first calibration runs cold and tends to undersize them.
            for c in timed:
                w = warm.get(c.name + "|" + c.group)
                if c.timed and w:
                    c.n = max(1, round(target_ns / (percentile(w, 0.5) * 1000.0)))
        if (r + 1) % 10 == 0:
            log(f"  round {r + 1}/{warmup + rounds} ({time.monotonic() - t_start:.0f} s)")


# ---------------------------------------------------------------------------
# Statistics and report
# ---------------------------------------------------------------------------


def percentile(xs, q: float) -> float:
    s = sorted(xs)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclass
class Stats:
    median: float
    min: float
    p25: float
    p75: float
    p90: float
    n_samples: int

    @classmethod
    def of(cls, xs):
        return cls(
            percentile(xs, 0.5), min(xs), percentile(xs, 0.25), percentile(xs, 0.75), percentile(xs, 0.9), len(xs)
        )


def fmt_us(x: float) -> str:
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.1f}"
    if x >= 10:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_ops(us: float) -> str:
    ops = 1e6 / us
    return f"{ops:,.0f}"


def dist_version(dist: str, module=None) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        v = getattr(module, "__version__", None)
        return f"{v} (not installed as a distribution)" if v else "not installed"


def header_lines(args, mode, oxy) -> list:
    import cryptography

    try:
        from cryptography.hazmat.backends.openssl import backend as _be

        ossl = _be.openssl_version_text()
    except Exception:
        ossl = "?"
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    cmd = shlex.join(["python", *sys.argv])
    cfg = MODES[mode]
    return [
        "# turbojwt benchmark results",
        "",
        f"- **Date:** {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **Command:** `{cmd}` (mode: {mode}; {cfg['warmup']} warm-up + {cfg['rounds']} recorded "
        f"rounds; one batch ≈ {cfg['target_ms']:g} ms per contender per round; seed {args.seed})",
        f"- **CPU:** {cpu_model()} — {os.cpu_count()} logical cores ({affinity} usable by this process)",
        f"- **OS:** {platform.system()} {platform.release()} ({platform.machine()})",
        f"- **Python:** {platform.python_implementation()} {platform.python_version()}",
        f"- **Versions:** turbojwt {dist_version('turbojwt', turbo)}, "
        f"PyJWT {dist_version('PyJWT', pyjwt)}, cryptography {cryptography.__version__} ({ossl}), "
        f"oxyjwt {dist_version('oxyjwt', oxy) if oxy else 'not available'}",
        "",
    ]


def by_name(contenders, group):
    return {c.name: c for c in contenders if c.group == group}


def stats_of(c: Optional[Contender]) -> Optional[Stats]:
    if c is None or not c.timed or not c.samples_us:
        return None
    return Stats.of(c.samples_us)


def paired_ratio(a: Contender, b: Contender) -> Stats:
    """Per-round ratios a_i / b_i (both timed in the same round, so drift and
    neighbours largely cancel); falls back to all-pairs when lengths differ."""
    if len(a.samples_us) == len(b.samples_us):
        rs = [x / y for x, y in zip(a.samples_us, b.samples_us)]
    else:  # pragma: no cover - only if a row stopped mid-run
        rs = [x / y for x in a.samples_us for y in b.samples_us]
    return Stats.of(rs)


def fmt_ratio(r: Stats, digits: int = 3) -> str:
    return f"{r.median:.{digits}f}× (IQR {r.p25:.{digits}f}–{r.p75:.{digits}f}×)"


def targets_section(contenders) -> list:
    lines = [
        "## Targets (issue 2)",
        "",
        "Each ratio is the median of per-round ratios (both rows timed in the same round); "
        "the IQR of those ratios shows the noise: a MISS whose IQR straddles the limit is "
        "within this machine's noise.",
        "",
        "| target | measured | limit | result |",
        "| :-- | :-- | :-- | :-: |",
    ]
    counts = {"PASS": 0, "MISS": 0, "N/A": 0}

    def row(name, measured, limit, ok):
        res = "N/A" if ok is None else ("PASS" if ok else "MISS")
        counts[res] += 1
        lines.append(f"| {name} | {measured} | {limit} | **{res}** |")

    def na(c, what):
        if c is None:
            return f"{what}: no such row"
        return f"{what}: {c.status}" + (f" ({c.reason[:80]})" if c.reason else "")

    # 1. HS256 decode >= 30x PyJWT
    g = by_name(contenders, "HS256 decode")
    t, p = stats_of(g.get("turbojwt-pem")), stats_of(g.get("pyjwt-pem"))
    if t and p:
        sp = paired_ratio(g["pyjwt-pem"], g["turbojwt-pem"])
        row(
            "HS256 decode (secret str) speed-up vs PyJWT",
            f"{fmt_ratio(sp, 1)} ({fmt_us(p.median)} vs {fmt_us(t.median)} µs)",
            "≥ 30×",
            sp.median >= 30,
        )
    else:
        row(
            "HS256 decode (secret str) speed-up vs PyJWT",
            na(g.get("turbojwt-pem") if not t else g.get("pyjwt-pem"), "missing"),
            "≥ 30×",
            None,
        )

    # 2. RS256/ES256/EdDSA decode with PEM
    for alg in ASYMMETRIC_ALGS:
        g = by_name(contenders, f"{alg} decode")
        tp = stats_of(g.get("turbojwt-pem"))
        checks = (
            (
                "turbojwt-prepared",
                1.10,
                f"{alg} decode: PEM str vs same call with prepared key",
                "≤ 1.10× (within 10%)",
            ),
            ("oxyjwt-prepared", 1.00, f"{alg} decode: PEM str vs oxyjwt with prepared key", "≤ 1.00× (no slower)"),
            ("floor", 1.15, f"{alg} decode: PEM str vs bare aws-lc verify floor", "≤ 1.15× (within 15%)"),
        )
        for ref_name, limit, label, limit_txt in checks:
            ref = stats_of(g.get(ref_name))
            if tp and ref:
                r = paired_ratio(g["turbojwt-pem"], g[ref_name])
                row(
                    label,
                    f"{fmt_ratio(r)} ({fmt_us(tp.median)} vs {fmt_us(ref.median)} µs)",
                    limit_txt,
                    r.median <= limit,
                )
            else:
                missing = g.get("turbojwt-pem") if not tp else g.get(ref_name)
                row(label, na(missing, ref_name if tp else "turbojwt-pem"), limit_txt, None)

    # 3. RS256 encode PEM >= 50x PyJWT
    g = by_name(contenders, "RS256 encode")
    t, p = stats_of(g.get("turbojwt-pem")), stats_of(g.get("pyjwt-pem"))
    if t and p:
        sp = paired_ratio(g["pyjwt-pem"], g["turbojwt-pem"])
        row(
            "RS256 encode (PEM private key str) speed-up vs PyJWT",
            f"{fmt_ratio(sp, 1)} ({fmt_us(p.median)} vs {fmt_us(t.median)} µs)",
            "≥ 50×",
            sp.median >= 50,
        )
    else:
        row(
            "RS256 encode (PEM private key str) speed-up vs PyJWT",
            na(g.get("turbojwt-pem") if not t else g.get("pyjwt-pem"), "missing"),
            "≥ 50×",
            None,
        )

    lines += ["", f"**{counts['PASS']} PASS, {counts['MISS']} MISS, {counts['N/A']} N/A**", ""]
    return lines


def group_table(contenders, group) -> list:
    rows = [c for c in contenders if c.group == group]
    g = by_name(contenders, group)
    base = stats_of(g.get("pyjwt-pem"))
    floor = stats_of(g.get("floor"))
    is_decode = group.endswith("decode")
    lines = [f"### {group}", ""]
    hdr = "| contender | key | median µs/op | min … p90 µs | IQR | ops/s | speed-up vs PyJWT (PEM/str) |"
    sep = "| :-- | :-- | --: | --: | --: | --: | --: |"
    if is_decode:
        hdr += " × floor |"
        sep += " --: |"
    lines += [hdr, sep]
    for c in rows:
        s = stats_of(c)
        if s is None:
            tag = "skipped" if c.status == "skipped" else "**FAILED**"
            cells = [c.label, c.key_desc, tag, "", "", "", ""] + ([""] if is_decode else [])
            lines.append("| " + " | ".join(cells) + " |")
            continue
        iqr_pct = (s.p75 - s.p25) / s.median * 100
        cells = [
            c.label,
            c.key_desc,
            f"**{fmt_us(s.median)}**",
            f"{fmt_us(s.min)} … {fmt_us(s.p90)}",
            f"±{iqr_pct / 2:.1f}%",
            fmt_ops(s.median),
            f"{base.median / s.median:.2f}×" if base else "—",
        ]
        if is_decode:
            cells.append(f"{s.median / floor.median:.2f}" if floor else "—")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def notes_section(contenders, notes) -> list:
    lines = []
    failed = [c for c in contenders if c.status == "failed"]
    skipped = [c for c in contenders if c.status == "skipped"]
    if failed:
        lines += ["## Correctness failures (not timed)", ""]
        for c in failed:
            lines.append(f"- **{c.group} / {c.label} ({c.key_desc})**: {c.reason}")
        lines.append("")
    if skipped or notes:
        lines += ["## Skipped rows and notes", ""]
        reasons = {}
        for c in skipped:
            reasons.setdefault(c.reason, []).append(f"{c.group} / {c.label} ({c.key_desc})")
        for why, which in reasons.items():
            lines.append(f"- {why} — skipped: {'; '.join(which)}")
        for n in notes:
            lines.append(f"- {n}")
        lines.append("")
    return lines


METHOD = """## Method

- Token: 12 claims (iss, sub, aud, exp, nbf, iat, jti + name, email, roles, tenant, scope), signed
  once by PyJWT; every decode row verifies that same token with `algorithms=[alg]`, `audience` and
  `issuer` checked. Keys: HMAC secret of 64 chars, RSA-2048, P-256, Ed25519, generated per run.
- *PEM/str key*: the key passed as it sits in a config file — a PEM string (the HMAC secret as str).
  *Prepared key*: what PyJWT's `prepare_key` would build — a pyca/cryptography key object (the
  secret as bytes for HS256); for oxyjwt its own `DecodingKey.from_*` object (oxyjwt refuses PEM
  strings for asymmetric algorithms). `turbojwt.Verifier` is built once with the PEM string and
  the same audience/issuer.
- *aws-lc floor*: `turbojwt._native.bench.verify_floor`, bare signature verifications of the same
  signing input and signature in a Rust loop (no base64, no JSON, key parsed once); its own
  timing of the loop is used. *pyca/cryptography bare verify*: the same signature verified by
  `public_key.verify(...)` (HMAC: `hmac.HMAC(...).verify`) — the crypto cost PyJWT cannot avoid.
- Before timing, each row must return the expected claims and refuse a tampered payload, a token
  signed by another key, a flipped signature bit, `alg=none` and (asymmetric) HS256 keyed with
  the public PEM; rows that fail are listed and not timed.
- One process, gc disabled inside a batch. Each contender is calibrated to a batch of the target
  wall time, then all contenders are run round-robin (order shuffled every round) so machine
  noise hits them alike. µs/op = batch time / batch size; median over rounds; *IQR* shown as
  ±half the interquartile range relative to the median. *speed-up vs PyJWT* = PyJWT (PEM/str)
  median / row median; *× floor* = row median / floor median. The targets use the median of
  per-round ratios instead (pairs timed in the same round), with the IQR of those ratios.
"""


def load_native_floor():
    """(``turbojwt._native.bench.verify_floor`` | None, why not)."""
    from turbojwt import _native

    fn = getattr(getattr(_native, "bench", None), "verify_floor", None)
    return (fn, "") if fn is not None else (None, "turbojwt._native has no bench.verify_floor")


def load_oxyjwt():
    """(the oxyjwt module | None, why not): its rows are skipped when it is not installed."""
    try:
        return importlib.import_module("oxyjwt"), ""
    except Exception as exc:
        return None, f"oxyjwt is not importable ({type(exc).__name__}: {exc}); `pip install oxyjwt`"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="short run (< 60 s) for a sanity check")
    ap.add_argument(
        "--out",
        default=str(DEFAULT_OUT),
        help="markdown file to write (default benchmarks/RESULTS.md; '-' = stdout only)",
    )
    ap.add_argument("--seed", type=int, default=20240601, help="seed for the per-round order shuffle")
    ap.add_argument("--rounds", type=int, help="override the number of recorded rounds")
    ap.add_argument("--batch-ms", type=float, help="override the target wall time of one batch")
    ap.add_argument("--no-batch", action="store_true", help="leave out batch verification (benchmarks/batch.py)")
    ap.add_argument(
        "--no-cache", action="store_true", help="leave out the verified-token cache (benchmarks/token_cache.py)"
    )
    ap.add_argument(
        "--no-serve",
        action="store_true",
        help="leave out the forward-auth servers (benchmarks/forward_auth.py; needs wrk)",
    )
    ap.add_argument(
        "--no-gateway",
        action="store_true",
        help="leave out the gateway policy's decision (benchmarks/gateway_policy.py)",
    )
    ap.add_argument(
        "--no-arrow",
        action="store_true",
        help="leave out the Arrow results (benchmarks/arrow_out.py: to_arrow and verify-logs --out)",
    )
    ap.add_argument(
        "--no-dask",
        action="store_true",
        help="leave out scale-out on a Dask cluster (benchmarks/dask_cluster.py; needs the dask extra)",
    )
    ap.add_argument(
        "--no-nginx-lua",
        action="store_true",
        help="leave out turbojwt inside nginx and the C ABI's per-call cost (benchmarks/nginx_lua.py; needs wrk, "
        "nginx's lua module and the release libturbojwt)",
    )
    ap.add_argument(
        "--no-libs", action="store_true", help="leave out the all-libraries comparison (turbojwt bench) and its chart"
    )
    args = ap.parse_args(argv)

    mode = "quick" if args.quick else "full"
    cfg = dict(MODES[mode])
    if args.rounds:
        cfg["rounds"] = args.rounds
    if args.batch_ms:
        cfg["target_ms"] = args.batch_ms
    MODES[mode] = cfg

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    t0 = time.monotonic()
    floor, floor_why = load_native_floor()
    oxy, oxy_why = load_oxyjwt()
    notes = []
    for mod, why in ((floor, floor_why), (oxy, oxy_why)):
        if mod is None and why:
            log(f"NOTE: {why} — those rows are skipped.")
    if floor is None:
        notes.append("the native floor was skipped, so the turbojwt targets against it are N/A.")

    log("generating keys and tokens ...")
    claims = make_claims()
    cases = {alg: make_case(alg, claims) for alg in ALGS}
    contenders = build_contenders(cases, floor, floor_why, oxy, oxy_why, notes)
    for c in contenders:
        if c.status == "failed":
            log(f"FAILED correctness check: {c.group} / {c.label} ({c.key_desc}): {c.reason}")

    run_rounds(contenders, cfg["rounds"], cfg["warmup"], cfg["target_ms"], args.seed, log)

    lines = header_lines(args, mode, oxy)
    lines += targets_section(contenders)
    lines += ["## Results", ""]
    for group in [f"{a} decode" for a in ALGS] + ["RS256 encode"]:
        lines += group_table(contenders, group)
    if not args.no_batch:
        import batch as batch_bench  # benchmarks/batch.py, beside this file

        log("batch verification ...")
        batch_lines, batch_targets = batch_bench.section(args.quick, log)
        lines += batch_lines + targets_table(batch_targets, 3)
    if not args.no_cache:
        import token_cache as cache_bench  # benchmarks/token_cache.py, beside this file

        log("verified-token cache ...")
        cache_lines, cache_targets = cache_bench.section(args.quick, log)
        lines += cache_lines + targets_table(cache_targets, 6)
    gateway_targets = []  # issue 18's, from the forward-auth and the policy decision sections
    if not args.no_serve:
        import forward_auth  # benchmarks/forward_auth.py, beside this file

        log("forward-auth service ...")
        serve_lines, serve_targets = forward_auth.section(args.quick, log)
        lines += serve_lines
        gateway_targets += serve_targets
    if not args.no_gateway:
        import gateway_policy  # benchmarks/gateway_policy.py, beside this file

        log("gateway policy decision ...")
        policy_lines, policy_targets = gateway_policy.section(args.quick, log)
        lines += policy_lines
        gateway_targets += policy_targets
    if gateway_targets:
        lines += targets_table(gateway_targets, 18)
    if not args.no_arrow:
        import arrow_out  # benchmarks/arrow_out.py, beside this file

        log("Arrow results ...")
        arrow_lines, arrow_targets = arrow_out.section(args.quick, log)
        lines += arrow_lines + targets_table(arrow_targets, 16)
    if not args.no_dask:
        try:
            import dask_cluster  # benchmarks/dask_cluster.py, beside this file
        except ImportError as exc:  # (dask_cluster itself imports dask only when run)
            notes.append(f"the Dask section was skipped: {exc}")
        else:
            log("Dask cluster ...")
            try:
                dask_lines, dask_targets = dask_cluster.section(args.quick, log)
            except ImportError as exc:  # the dask extra is not installed
                notes.append(f"the Dask section was skipped (pip install 'turbojwt[dask]'): {exc}")
            else:
                lines += dask_lines + targets_table(dask_targets, 16)
    if not args.no_nginx_lua:
        import nginx_lua  # benchmarks/nginx_lua.py, beside this file

        log("turbojwt inside nginx (resty.turbojwt) and the C ABI ...")
        nginx_lines, nginx_targets = nginx_lua.section(args.quick, log)
        lines += nginx_lines + (targets_table(nginx_targets, 17) if nginx_targets else [])
    if not args.no_libs:
        from turbojwt.bench import report as bench_report
        from turbojwt.bench.plot import plot as bench_plot
        from turbojwt.bench.run import benchmark as bench_all

        log("every library (turbojwt bench) ...")
        everyone = bench_all(mode=mode, log=log)
        chart = Path(args.out).with_name("chart.png") if args.out != "-" else None
        text = bench_report.markdown(everyone, "turbojwt bench" + (" --quick" if args.quick else ""))
        # Its own title becomes a section of this file.
        lines += ["## Every library (`turbojwt bench`)", ""] + text.split("\n", 2)[2].replace(
            "\n## ", "\n### "
        ).splitlines()
        if chart is not None:
            bench_plot(everyone, str(chart))
            lines += ["", f"![decode, every library]({chart.name})", ""]
        from turbojwt.bench.adapters import all_adapters
        from turbojwt.bench.compat import compatibility
        from turbojwt.bench.compat import markdown as compat_markdown

        log("compatibility corpus ...")
        registry = all_adapters()
        present = [registry[n] for n in everyone.libraries if n in registry]
        lines += [
            "## Compatibility with PyJWT",
            "",
            "Accept/refuse verdicts of each library on the same corpus for all nine algorithms (valid, "
            "expired, not yet valid, wrong or missing audience and issuer, malformed, unknown `crit`, "
            "forged, `alg: none` spellings, HS256 keyed with the public key), compared with PyJWT's. "
            "turbojwt's only differences are the deliberate ones listed in docs/SECURITY.md.",
            "",
        ]
        lines += compat_markdown(compatibility(present)) + [""]
    lines += notes_section(contenders, notes)
    lines += [METHOD, f"_Run took {time.monotonic() - t0:.0f} s._", ""]
    report = "\n".join(lines)
    print(report)

    if args.out != "-":
        out = Path(args.out)
        out.write_text(report, encoding="utf-8")
        log(f"wrote {out}")
    failed = any(c.status == "failed" for c in contenders)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
