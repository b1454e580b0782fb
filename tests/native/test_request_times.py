"""Times a token is judged as of must be finite, and are read by one parser in every format.

A NaN time makes every ``exp``/``nbf`` comparison false, so every expired token would pass:
a scalar ``at`` that is not a finite time is a ``ValueError``; a per-token time that is not
one gives that token a ``malformed`` verdict with the reason; log cells that are not times
are that line's ``malformed`` verdict, the same in JSON lines (read natively), CSV and
Parquet (read in Python). Accepted: ASCII decimal epoch seconds and ISO 8601 only.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import turbojwt
from turbojwt import _native, logs
from turbojwt.__main__ import main

SECRET = "t" * 32
# Expired long ago: valid only as of a time before 1000.
EXPIRED = turbojwt.encode({"sub": "x", "exp": 1000, "nbf": 500}, SECRET, algorithm="HS256")
NOT_FINITE = [math.nan, math.inf, -math.inf, float("-nan")]
NOT_TIMES = ["nan", "NaN", "inf", "-Infinity", "1_700_000_000", "\u0661\u0667\u0660\u0660", "1e3", "0x10", "", "soon"]
REASON = "the request time is not a finite number of seconds or an ISO 8601 date-time"


@pytest.mark.parametrize("at", NOT_FINITE + NOT_TIMES, ids=repr)
def test_a_scalar_time_that_is_not_one_is_a_value_error(at) -> None:
    with pytest.raises(ValueError):
        turbojwt.verify_batch([EXPIRED], SECRET, algorithms=["HS256"], at=at)
    with pytest.raises(ValueError):
        turbojwt.Verifier(SECRET, algorithms=["HS256"]).verify_batch([EXPIRED], at=at)


@pytest.mark.parametrize("at", NOT_FINITE + NOT_TIMES, ids=repr)
def test_a_per_token_time_that_is_not_one_makes_a_malformed_verdict(at) -> None:
    for times in ([600, at, 2000], pa.array([600.0, at, 2000.0]) if isinstance(at, float) else None):
        if times is None:
            continue
        result = turbojwt.verify_batch([EXPIRED] * 3, SECRET, algorithms=["HS256"], at=times, threads=1)
        assert result.valid == [True, False, False]
        assert result.errors[1] == ("malformed", REASON)
        assert result.errors[2].kind == "ExpiredSignatureError"
        assert result.counts() == {"valid": 1, "malformed": 1, "ExpiredSignatureError": 1}


@pytest.mark.parametrize("leeway", [math.nan, math.inf])
def test_a_leeway_that_is_not_finite_is_refused_by_compiled_verifiers(leeway) -> None:
    with pytest.raises(ValueError, match="leeway"):
        turbojwt.Verifier(SECRET, algorithms=["HS256"], leeway=leeway)
    with pytest.raises(ValueError, match="leeway"):
        turbojwt.verify_batch([EXPIRED], SECRET, algorithms=["HS256"], leeway=leeway)


def test_decode_with_a_nan_leeway_fails_closed() -> None:
    # PyJWT accepts every expired token here (NaN comparisons are false); the core refuses.
    expired = turbojwt.encode({"exp": 1000}, SECRET, algorithm="HS256")
    with pytest.raises(turbojwt.ExpiredSignatureError):
        turbojwt.decode(expired, SECRET, algorithms=["HS256"], leeway=math.nan)
    with pytest.raises(turbojwt.ImmatureSignatureError):
        turbojwt.decode(EXPIRED, SECRET, algorithms=["HS256"], leeway=math.nan)


@pytest.mark.parametrize(
    "text, seconds",
    [("1700000000", 1_700_000_000.0), (" 1700000000.5 ", 1_700_000_000.5), ("-5", -5.0),
     ("2023-11-14T22:13:20Z", 1_700_000_000.0), ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
     ("2023-11-14T22:13:20", 1_700_000_000.0)],
)
def test_the_one_parser_reads_decimal_seconds_and_iso_8601(text, seconds) -> None:
    assert _native.parse_time(text) == seconds
    assert logs.parse_time(text) == seconds
    assert turbojwt.verify_batch([EXPIRED], SECRET, algorithms=["HS256"], at=[text]).errors[0] is not None


@pytest.mark.parametrize("text", NOT_TIMES)
def test_the_one_parser_refuses_everything_else(text) -> None:
    with pytest.raises(ValueError):
        _native.parse_time(text)
    with pytest.raises(ValueError):
        logs.parse_time(text)


# ---------------------------------------------------------------------------- verify-logs


def run(args: list[str], capsys) -> tuple[int, dict]:
    code = main(["verify-logs", *args, "--secret", SECRET, "--json", "--no-progress"])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else {})


@pytest.mark.parametrize("at", ["nan", "inf", "-inf", "1_700_000_000", "1e3"])
def test_verify_logs_at_that_is_not_a_time_is_a_usage_error(tmp_path, capsys, at) -> None:
    src = tmp_path / "tokens.txt"
    src.write_text(EXPIRED + "\n")
    code = main(["verify-logs", str(src), "--secret", SECRET, f"--at={at}", "--no-progress"])
    assert code == 2
    assert "--at" in capsys.readouterr().err


@pytest.mark.parametrize("leeway", ["nan", "inf"])
def test_verify_logs_leeway_that_is_not_finite_is_a_usage_error(tmp_path, capsys, leeway) -> None:
    src = tmp_path / "tokens.txt"
    src.write_text(EXPIRED + "\n")
    with pytest.raises(SystemExit) as exit_:
        main(["verify-logs", str(src), "--secret", SECRET, f"--leeway={leeway}", "--no-progress"])
    assert exit_.value.code == 2
    assert "--leeway" in capsys.readouterr().err


# Cells as each format writes them: the same texts, and what JSON and Parquet add (numbers).
CELLS = ["600", "2000", "nan", "NaN", "inf", "-inf", "1_700_000_000", "\u0661\u0667", "1e3",
         "1970-01-01T00:10:00Z"]
EXPECTED = ["valid", "ExpiredSignatureError", "malformed", "malformed", "malformed", "malformed", "malformed",
            "malformed", "malformed", "valid"]


def outcomes(path: Path) -> list[str]:
    return [r["error"] or "valid" for r in map(json.loads, path.read_text().splitlines())]


def test_every_log_format_reads_times_alike(tmp_path, capsys) -> None:
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_text("".join(json.dumps({"t": c, "tok": EXPIRED}) + "\n" for c in CELLS))
    csv_path = tmp_path / "log.csv"
    with csv_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "tok"])
        w.writerows([c, EXPIRED] for c in CELLS)
    parquet = tmp_path / "log.parquet"
    pq.write_table(pa.table({"t": CELLS, "tok": [EXPIRED] * len(CELLS)}), parquet)
    for src, where in ((jsonl, ["--token-field", "tok"]), (csv_path, ["--column", "tok"]),
                       (parquet, ["--column", "tok"])):
        out = tmp_path / f"{src.name}.out.jsonl"
        run([str(src), *where, "--time-field", "t", "--out", str(out)], capsys)
        assert outcomes(out) == EXPECTED, src.name


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_in_logs_are_malformed(tmp_path, capsys, value) -> None:
    parquet = tmp_path / "log.parquet"
    pq.write_table(pa.table({"t": [600.0, value], "tok": [EXPIRED, EXPIRED]}), parquet)
    out = tmp_path / "out.jsonl"
    run([str(parquet), "--column", "tok", "--time-field", "t", "--out", str(out)], capsys)
    assert outcomes(out) == ["valid", "malformed"]
    # JSON lines with NaN/Infinity literals (which Python's json writes) and float columns
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_text(json.dumps({"t": 600, "tok": EXPIRED}) + "\n" + json.dumps({"t": value, "tok": EXPIRED}) + "\n")
    run([str(jsonl), "--token-field", "tok", "--time-field", "t", "--out", str(out)], capsys)
    assert outcomes(out) == ["valid", "malformed"]


def test_python_readers_refuse_non_finite_numbers() -> None:
    for value in NOT_FINITE:
        with pytest.raises(ValueError):
            logs.parse_time(value)
    assert logs.parse_time(datetime(1970, 1, 1, 0, 10, tzinfo=timezone.utc)) == 600.0
    with pytest.raises(TypeError):
        logs.parse_time(True)
