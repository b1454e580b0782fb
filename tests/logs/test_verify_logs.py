"""`turbojwt verify-logs` end to end on generated logs of every format."""

from __future__ import annotations

import csv
import errno
import gzip
import io
import json
import subprocess
import sys
import time
import tracemalloc
import zlib
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import turbojwt
from turbojwt import logs
from turbojwt.__main__ import main

SECRET = "s" * 32
NOW = int(time.time())
# Requests made a day ago with tokens that lived an hour: valid then, expired now.
DAY_AGO = NOW - 86400


def token(i: int, *, key: str = SECRET, exp_offset: int = 3600, **extra) -> str:
    claims = {
        "iss": f"https://idp{i % 2}",
        "sub": f"user-{i % 3}",
        "aud": "api",
        "iat": DAY_AGO,
        "exp": DAY_AGO + exp_offset,
        **extra,
    }
    return turbojwt.encode(claims, key, headers={"kid": f"k{i % 2}"})


def corpus() -> list[tuple[str, int]]:
    """(token, request time): 6 valid at request time (expired now), 1 expired at request
    time, 1 forged, 1 wrong audience, 1 not a token."""
    rows = [(token(i), DAY_AGO + 60) for i in range(6)]
    rows.append((token(6, exp_offset=30), DAY_AGO + 60))
    rows.append((token(7, key="f" * 32), DAY_AGO + 60))
    rows.append((turbojwt.encode({"aud": "other", "exp": DAY_AGO + 3600}, SECRET), DAY_AGO + 60))
    rows.append(("garbage", DAY_AGO + 60))
    return rows


EXPECTED_OUTCOMES = {
    "valid": 6,
    "ExpiredSignatureError": 1,
    "InvalidSignatureError": 1,
    "InvalidAudienceError": 1,
    "DecodeError": 1,
}


def run_cli(args: list[str], capsys) -> tuple[int, dict]:
    code = main(["verify-logs", *args, "--json", "--no-progress"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def write_jsonl(path: Path, rows, *, gz: bool = False) -> None:
    text = "".join(json.dumps({"time": t, "http": {"authorization": "Bearer " + tok}}) + "\n" for tok, t in rows)
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_jsonl_with_request_times_and_records(tmp_path, capsys):
    src = tmp_path / "requests.jsonl"
    rows = corpus()
    write_jsonl(src, rows)
    with src.open("a") as f:
        f.write("{not json\n")
        f.write(json.dumps({"time": DAY_AGO}) + "\n")  # no token field
        f.write(json.dumps({"http": {"authorization": rows[0][0]}}) + "\n")  # no time field
    out = tmp_path / "report.jsonl"
    code, s = run_cli(
        [
            str(src),
            "--token-field",
            "http.authorization",
            "--time-field",
            "time",
            "--secret",
            SECRET,
            "--aud",
            "api",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 1
    assert s["lines"] == 13 and s["tokens"] == 10
    assert s["outcomes"] == {**EXPECTED_OUTCOMES, "malformed": 3}
    assert s["expired_at_request_time"] == 1
    assert s["valid_at_request_time_but_expired_now"] == 6
    assert dict(s["top_issuers"])["https://idp0"] == 4  # forged tokens still show who they claim to be
    assert dict(s["top_kids"]) == {"k0": 4, "k1": 4}
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in records] == list(range(1, 14))
    assert set(records[0]) == {"line", "valid", "error", "reason", "iss", "sub", "kid", "exp"}
    assert records[0]["valid"] and records[0]["sub"] == "user-0" and records[0]["exp"] == DAY_AGO + 3600
    assert records[6]["error"] == "ExpiredSignatureError" and records[6]["reason"] == "Signature has expired"
    assert records[7]["error"] == "InvalidSignatureError" and records[7]["sub"] == "user-1"
    assert records[10]["error"] == "malformed" and records[10]["reason"].startswith("invalid JSON")
    assert records[11]["reason"] == "missing field http.authorization"
    assert records[12]["reason"] == "missing time field time"


def test_summary_alone_counts_as_the_records_do(tmp_path, capsys):
    # Without --out the summary is counted natively, with no record per line; it must be the
    # summary of the records, ties in the top lists in order of first appearance included.
    src = tmp_path / "requests.jsonl"
    rows = corpus() * 40 + [(token(i, sub=f"late-{i}"), DAY_AGO + 60) for i in range(30)]
    write_jsonl(src, rows)
    with src.open("a") as f:
        f.write("{not json\n")
    args = [
        str(src),
        "--token-field",
        "http.authorization",
        "--time-field",
        "time",
        "--secret",
        SECRET,
        "--aud",
        "api",
        "--chunk-size",
        "64",
        "--top",
        "40",
    ]
    _, alone = run_cli(args, capsys)
    _, with_records = run_cli([*args, "--out", str(tmp_path / "r.jsonl")], capsys)
    for s in (alone, with_records):
        s.pop("seconds"), s.pop("lines_per_second")
    assert alone == with_records
    assert alone["lines"] == len(rows) + 1 and alone["outcomes"]["malformed"] == 1
    assert [v for v, _ in alone["top_subjects"]][3:] == [f"late-{i}" for i in range(30)]


def test_without_request_times_tokens_are_judged_now(tmp_path, capsys):
    src = tmp_path / "requests.jsonl"
    write_jsonl(src, corpus())
    code, s = run_cli([str(src), "--token-field", "http.authorization", "--secret", SECRET, "--aud", "api"], capsys)
    assert code == 1
    # exp is checked before aud: the wrong-audience token is also expired now
    assert s["outcomes"]["ExpiredSignatureError"] == 8 and "valid" not in s["outcomes"]
    # --at: one time for every line
    code, s = run_cli(
        [
            str(src),
            "--token-field",
            "http.authorization",
            "--secret",
            SECRET,
            "--aud",
            "api",
            "--at",
            datetime.fromtimestamp(DAY_AGO + 60, tz=timezone.utc).isoformat(),
        ],
        capsys,
    )
    assert s["outcomes"] == EXPECTED_OUTCOMES


def test_all_valid_exits_0_and_gzip_and_csv_output(tmp_path, capsys, monkeypatch):
    src = tmp_path / "requests.jsonl.gz"
    write_jsonl(src, corpus()[:6], gz=True)
    out = tmp_path / "report.csv"
    monkeypatch.setenv("TOKEN_SECRET", SECRET)
    code, s = run_cli(
        [
            str(src),
            "--token-field",
            "http.authorization",
            "--time-field",
            "time",
            "--secret-env",
            "TOKEN_SECRET",
            "--aud",
            "api",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0 and s["valid"] == s["lines"] == 6
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["line"] for r in rows] == [str(i) for i in range(1, 7)]
    assert rows[0]["valid"] == "true" and rows[0]["error"] == "" and rows[0]["iss"] == "https://idp0"


def test_lines_format_and_parquet_output(tmp_path, capsys):
    src = tmp_path / "tokens.txt"
    rows = corpus()
    src.write_text("".join(tok + "\n" for tok, _ in rows) + "\n")
    out = tmp_path / "report.parquet"
    code, s = run_cli(
        [str(src), "--secret", SECRET, "--aud", "api", "--at", str(DAY_AGO + 60), "--out", str(out)], capsys
    )
    assert code == 1
    assert s["outcomes"] == {**EXPECTED_OUTCOMES, "malformed": 1}
    table = pq.read_table(out)
    assert table.column_names == ["line", "valid", "error", "reason", "iss", "sub", "kid", "exp"]
    assert table.column("line").to_pylist() == list(range(1, 12))
    assert table.column("reason").to_pylist()[-1] == "empty line"


def test_access_log_times_come_from_the_log(tmp_path, capsys):
    src = tmp_path / "access.log"
    lines = []
    for tok, t in corpus():
        stamp = datetime.fromtimestamp(t, tz=timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
        lines.append(f'203.0.113.7 - - [{stamp}] "GET /api/items HTTP/1.1" 200 512 "-" "curl/8.5" "Bearer {tok}"')
    lines.append('203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8.5" "-"')
    src.write_text("\n".join(lines) + "\n")
    code, s = run_cli([str(src), "--secret", SECRET, "--aud", "api"], capsys)
    assert s["outcomes"] == {**EXPECTED_OUTCOMES, "malformed": 1}
    # a custom regex: the token after "jwt="
    src2 = tmp_path / "custom.log"
    src2.write_text("".join(f"[{i}] jwt={tok} ok\n" for i, (tok, _) in enumerate(corpus()[:6])))
    code, s = run_cli(
        [
            str(src2),
            "--format",
            "access",
            "--token-regex",
            r"jwt=(?P<token>\S+)",
            "--secret",
            SECRET,
            "--aud",
            "api",
            "--at",
            str(DAY_AGO + 60),
        ],
        capsys,
    )
    assert code == 0 and s["valid"] == 6


def test_csv_and_parquet_inputs(tmp_path, capsys):
    rows = corpus()
    src = tmp_path / "requests.csv"
    with src.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts", "token", "path"])
        for tok, t in rows:
            w.writerow([datetime.fromtimestamp(t, tz=timezone.utc).isoformat(), tok, "/x"])
        w.writerow(["not a time", rows[0][0], "/y"])
    _code, s = run_cli(
        [str(src), "--column", "token", "--time-field", "ts", "--secret", SECRET, "--aud", "api"], capsys
    )
    assert s["outcomes"] == {**EXPECTED_OUTCOMES, "malformed": 1}

    pq_src = tmp_path / "requests.parquet"
    table = pa.table(
        {
            "token": [tok for tok, _ in rows] + [None],
            "ts": pa.array([t * 1000 for _, t in rows] + [DAY_AGO * 1000], pa.timestamp("ms")),
        }
    )
    pq.write_table(table, pq_src, row_group_size=4)
    out = tmp_path / "out.jsonl"
    _code, s = run_cli(
        [
            str(pq_src),
            "--column",
            "token",
            "--time-field",
            "ts",
            "--secret",
            SECRET,
            "--aud",
            "api",
            "--out",
            str(out),
            "--chunk-size",
            "3",
        ],
        capsys,
    )
    assert s["outcomes"] == {**EXPECTED_OUTCOMES, "malformed": 1}
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["line"] for r in records] == list(range(1, 12))
    assert records[-1]["reason"] == "column token is null"


def test_jwks_and_pem_keys(tmp_path, capsys, rsa_key):
    jwk = {**rsa_key.public_jwk, "kid": "r1", "alg": "RS256"}
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    (tmp_path / "key.pem").write_text(rsa_key.public_pem)
    toks = [
        turbojwt.encode({"sub": str(i)}, rsa_key.private_pem, algorithm="RS256", headers={"kid": "r1"})
        for i in range(3)
    ]
    toks.append(turbojwt.encode({"sub": "x"}, rsa_key.private_pem, algorithm="RS256", headers={"kid": "nope"}))
    src = tmp_path / "t.txt"
    src.write_text("\n".join(toks) + "\n")
    code, s = run_cli([str(src), "--jwks", str(tmp_path / "jwks.json")], capsys)  # --alg from the JWK
    assert s["outcomes"] == {"valid": 3, "PyJWKClientError": 1}
    code, s = run_cli([str(src), "--key", str(tmp_path / "key.pem"), "--alg", "RS256"], capsys)
    assert code == 0 and s["valid"] == 4


def test_several_sources_and_stdin(tmp_path, capsys, monkeypatch):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(token(0) + "\n")
    b.write_text(token(1) + "\nbad\n")
    out = tmp_path / "o.jsonl"
    code, s = run_cli(
        [str(a), str(b), "--secret", SECRET, "--aud", "api", "--at", str(DAY_AGO), "--out", str(out)], capsys
    )
    assert s["lines"] == 3
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["source"], r["line"]) for r in records] == [(str(a), 1), (str(b), 1), (str(b), 2)]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress((token(2) + "\n").encode()))))
    code, s = run_cli(["-", "--secret", SECRET, "--aud", "api", "--at", str(DAY_AGO)], capsys)
    assert code == 0 and s["valid"] == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["{src}", "--secret", SECRET, "--format", "jsonl"], "needs --token-field"),
        (["{src}", "--secret", SECRET, "--format", "csv"], "needs --column"),
        (["{dir}/missing.txt", "--secret", SECRET], "cannot read"),
        (["{src}", "--key", "{dir}/missing.pem", "--alg", "RS256"], "cannot read"),
        (["{src}", "--secret", SECRET, "--out", "{dir}/out.xml"], "--out must end in"),
        (["{src}", "--secret-env", "TURBOJWT_TEST_UNSET"], "is not set"),
        (["{src}", "--key", "{src}"], "--alg"),
        (["{src}", "--secret", SECRET, "--at", "yesterday"], "--at"),
        (["{src}", "--secret", SECRET, "--at", "1", "--time-field", "t"], "exclude"),
        (["{src}", "--secret", SECRET, "--format", "access", "--token-regex", "("], "--token-regex: missing )"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, args, message):
    src = tmp_path / "t.txt"
    src.write_text(token(0) + "\n")
    args = [a.format(src=src, dir=tmp_path) for a in args]
    assert main(["verify-logs", *args]) == 2
    assert message in capsys.readouterr().err


def test_missing_key_option_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["verify-logs", "x.txt"])
    assert e.value.code == 2


def test_interrupt_keeps_whole_chunks(tmp_path, capsys, monkeypatch):
    src = tmp_path / "t.txt"
    src.write_text("".join(token(i) + "\n" for i in range(10)))
    real = logs.read_lines

    def interrupted(stream, chunk_size):
        for n, chunk in enumerate(real(stream, chunk_size)):
            if n == 2:
                raise KeyboardInterrupt
            yield chunk

    monkeypatch.setattr(logs, "read_lines", interrupted)
    for out in (tmp_path / "o.jsonl", tmp_path / "o.parquet", tmp_path / "o.csv"):
        code = main(
            [
                "verify-logs",
                str(src),
                "--secret",
                SECRET,
                "--chunk-size",
                "3",
                "--out",
                str(out),
                "--no-progress",
                "--at",
                str(DAY_AGO),
                "--aud",
                "api",
            ]
        )
        assert code == 130
        if out.suffix == ".parquet":
            lines = pq.read_table(out).column("line").to_pylist()
        elif out.suffix == ".csv":
            lines = [int(r["line"]) for r in csv.DictReader(io.StringIO(out.read_text()))]
        else:
            lines = [json.loads(x)["line"] for x in out.read_text().splitlines()]
        assert lines == list(range(1, 7))  # two complete chunks, nothing partial


def test_memory_is_bounded_by_the_chunk(tmp_path, capsys):
    src = tmp_path / "big.txt"
    tok = token(0)
    n = 60_000
    src.write_text((tok + "\n") * n)
    out = tmp_path / "o.jsonl"
    tracemalloc.start()
    main(
        [
            "verify-logs",
            str(src),
            "--secret",
            SECRET,
            "--chunk-size",
            "2000",
            "--out",
            str(out),
            "--no-progress",
            "--json",
            "--at",
            str(DAY_AGO),
            "--aud",
            "api",
        ]
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(out.read_bytes().splitlines()) == n
    # The input is ~13 MB and the output ~8 MB; a chunk of 2,000 lines needs well under 4 MB.
    assert peak < 4_000_000, peak


@pytest.mark.e2e  # (runs the command in a subprocess)
def test_console_entry_points(tmp_path):
    src = tmp_path / "t.txt"
    src.write_text(token(0) + "\n")
    for cmd in ([sys.executable, "-m", "turbojwt"],):
        r = subprocess.run(
            [*cmd, "verify-logs", str(src), "--secret", SECRET, "--aud", "api", "--at", str(DAY_AGO)],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
        assert "1 valid" in r.stdout
    r = subprocess.run([sys.executable, "-m", "turbojwt", "verify-logs", "--help"], capture_output=True, text=True)
    assert "--token-field" in r.stdout


@pytest.mark.parametrize("block_bytes", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("chunk_lines", [1, 2, 5, 1000])
def test_blocks_hold_whole_lines_in_order(block_bytes, chunk_lines):
    text = b"".join(b"line %d %s\n" % (i, b"x" * (i * 7 % 50)) for i in range(40)) + b"last without newline"
    # (each block is a view into a buffer the next one reuses: copied as it comes)
    blocks = [(first, bytes(block)) for first, block in logs.read_blocks(io.BytesIO(text), chunk_lines, block_bytes)]
    assert b"".join(b for _, b in blocks) == text
    firsts = [first for first, _ in blocks]
    assert firsts[0] == 1
    for (first, block), (nxt, _) in zip(blocks, blocks[1:]):
        assert block.endswith(b"\n") and block.count(b"\n") <= chunk_lines
        assert nxt == first + block.count(b"\n")


def test_jsonl_with_a_key_only_the_reference_path_takes(tmp_path, capsys, ed448_key):
    # Ed448 is verified by the Python reference path: the Python JSON-lines reader is used.
    toks = [
        turbojwt.encode({"sub": str(i), "exp": DAY_AGO + 3600}, ed448_key.private_pem, algorithm="EdDSA")
        for i in range(3)
    ]
    src = tmp_path / "r.jsonl"
    src.write_text("".join(json.dumps({"t": DAY_AGO, "tok": t}) + "\n" for t in toks) + "{bad\n")
    (tmp_path / "k.pem").write_text(ed448_key.public_pem)
    _code, s = run_cli(
        [str(src), "--token-field", "tok", "--time-field", "t", "--key", str(tmp_path / "k.pem"), "--alg", "EdDSA"],
        capsys,
    )
    assert s["outcomes"] == {"valid": 3, "malformed": 1}
    # As a JWK: a cryptography object, verified by the reference path token by token.
    (tmp_path / "k.jwk").write_text(json.dumps({**ed448_key.public_jwk, "alg": "EdDSA"}))
    _code, s = run_cli(
        [str(src), "--token-field", "tok", "--time-field", "t", "--key", str(tmp_path / "k.jwk")], capsys
    )
    assert s["outcomes"] == {"valid": 3, "malformed": 1}


def test_python_jsonl_reader_matches_the_native_one():
    # The Python reader serves keys the native engine cannot take at all.
    lines = [
        {"t": 5, "a": {"tok": "Bearer x.y.z"}},
        {"t": "1970-01-01T00:00:10Z", "a": {"tok": "x.y.z"}},
        {"a": {"tok": "x.y.z"}},
        {"t": 1, "a": {"tok": 5}},
        {"t": 1, "a": {}},
        {"t": "soon", "a": {"tok": "x"}},
        {"t": 1, "a": {"tok": "Bearer "}},
    ]
    data = b"".join(json.dumps(x).encode() + b"\n" for x in lines) + b"{bad\n"
    (records,) = list(logs.read_jsonl(io.BytesIO(data), 100, "a.tok", "t"))
    assert records.lines == list(range(1, 9))
    assert records.tokens[:2] == ["x.y.z", "x.y.z"] and records.times[:2] == [5.0, 10.0]
    assert records.problems[2:] == [
        "missing time field t",
        "field a.tok is not a string",
        "missing field a.tok",
        "time field t is not a time",
        "field a.tok is empty",
        records.problems[7],
    ]
    assert records.problems[7].startswith("invalid JSON")


# ---------------------------------------------------------------------------- hardening
# Every line of a log is attacker input: a forged token chooses its claims.

FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+2", "-2+3", "@SUM(1)", "\tx", "\rcmd"]


def test_csv_report_neutralises_formulas(tmp_path, capsys):
    # Forged tokens (wrong key) whose claims are spreadsheet formulas, and a token whose exp
    # is a negative number: text cells get a leading ', numbers stay numbers.
    toks = [token(i, key="f" * 32, sub=f, iss=f) for i, f in enumerate(FORMULAS)]
    toks.append(turbojwt.encode({"sub": "-", "exp": -5}, SECRET, headers={"kid": "@kid"}))
    src = tmp_path / "t.txt"
    src.write_text("".join(t + "\n" for t in toks))
    out = tmp_path / "report.csv"
    code, _ = run_cli([str(src), "--secret", SECRET, "--aud", "api", "--at", str(DAY_AGO), "--out", str(out)], capsys)
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode(), newline="")))
    assert [r["sub"] for r in rows] == ["'" + f for f in FORMULAS] + ["'-"]
    assert [r["iss"] for r in rows[:-1]] == ["'" + f for f in FORMULAS]
    assert rows[-1]["kid"] == "'@kid" and rows[-1]["exp"] == "-5" and rows[-1]["line"] == "7"
    assert rows[0]["error"] == "InvalidSignatureError" and rows[0]["valid"] == "false"
    # Text cells are quoted (a spreadsheet that splits on ';' or tabs keeps them whole);
    # numbers are not.
    last = out.read_text().splitlines()[-1]
    assert last.startswith('7,"false","ExpiredSignatureError"') and last.endswith(",-5")
    assert out.read_text().count("\"'=HYPERLINK(") == 2


ESCAPES = ["\x1b]0;owned\x07", "\x1b[2J\x1b[Hall clear", "\u202egnp.exe", "\x9b31m", "a\rb\nc\x7f", "back\\x1b"]


def test_terminal_summary_escapes_control_characters(tmp_path, capsys):
    # A forged token's claims reach the summary; they must not drive the terminal.
    toks = [token(i, key="f" * 32, sub=e, iss=e) for i, e in enumerate(ESCAPES)]
    toks.append(turbojwt.encode({"exp": DAY_AGO + 3600}, SECRET, headers={"kid": "\x1b[8mhidden"}))
    src = tmp_path / "t.txt"
    src.write_text("".join(t + "\n" for t in toks))
    code = main(["verify-logs", str(src), "--secret", SECRET, "--at", str(DAY_AGO), "--no-progress", "--top", "20"])
    assert code == 1
    out = capsys.readouterr().out
    assert all(ch.isprintable() for ch in out.replace("\n", "")), repr(out)
    lines = out.splitlines()
    for shown in [
        "\\x1b]0;owned\\x07",
        "\\x1b[2J\\x1b[Hall clear",
        "\\u202egnp.exe",
        "\\x9b31m",
        "a\\rb\\nc\\x7f",
        "back\\\\x1b",
        "\\x1b[8mhidden",
    ]:
        assert any(line.endswith("  " + shown) for line in lines), shown


def test_terminal_summary_survives_an_encoding_without_the_claims(tmp_path, capsys, monkeypatch):
    src = tmp_path / "t.txt"
    src.write_text(token(0, key="f" * 32, sub="José 東京") + "\n")
    buf = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(buf, encoding="ascii"))
    code = main(["verify-logs", str(src), "--secret", SECRET, "--at", str(DAY_AGO), "--no-progress"])
    sys.stdout.flush()
    assert code == 1
    assert "Jos\\xe9 \\u6771\\u4eac" in buf.getvalue().decode("ascii")


def test_error_lines_escape_what_the_input_says(tmp_path, capsys):
    # The CSV header is file content: an error quoting it must not carry its escapes.
    src = tmp_path / "r.csv"
    src.write_text("ts,\x1b]0;owned\x07tok\n1,x\n")
    assert main(["verify-logs", str(src), "--secret", SECRET, "--column", "token", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "\\x1b]0;owned\\x07tok" in err and "\x1b" not in err and "\x07" not in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("kind", ["same", "dotted", "symlink", "hardlink", "stdin"])
@pytest.mark.parametrize("name", ["requests.jsonl", "report.csv", "report.parquet"])
def test_out_naming_an_input_is_refused_before_writing(tmp_path, capsys, monkeypatch, request, kind, name):
    src = tmp_path / name
    if name.endswith(".parquet"):
        pq.write_table(pa.table({"token": [token(0)]}), src)
    else:
        write_jsonl(src, corpus()[:2]) if name.endswith(".jsonl") else src.write_text("token\n" + token(0) + "\n")
    before = src.read_bytes()
    (tmp_path / "sub").mkdir()
    out = {
        "same": src,
        "dotted": tmp_path / "sub" / ".." / name,
        "symlink": tmp_path / "sub" / name,
        "hardlink": tmp_path / "sub" / name,
        "stdin": src,
    }[kind]
    if kind == "symlink":
        out.symlink_to(src)
    elif kind == "hardlink":
        out.hardlink_to(src)
    args = ["--token-field", "http.authorization", "--column", "token", "--secret", SECRET, "--no-progress"]
    if kind == "stdin":
        if name.endswith(".parquet"):
            pytest.skip("Parquet is not read from stdin")
        stdin = src.open()
        request.addfinalizer(stdin.close)
        monkeypatch.setattr(sys, "stdin", stdin)
        sources = ["-", "--format", "jsonl" if name.endswith(".jsonl") else "csv"]
    else:
        sources = [str(tmp_path / "other.txt"), str(src)]
        (tmp_path / "other.txt").write_text(token(1) + "\n")
    real_open_writer = logs.open_writer

    def open_writer(*a, **k):
        # Without the check the writer empties the input, and a JSON-lines run then reads its
        # own records back forever: stop there (the test fails) rather than fill the disk.
        raise AssertionError("a writer was opened over an input")

    monkeypatch.setattr(logs, "open_writer", open_writer)
    code = main(["verify-logs", *sources, *args, "--out", str(out)])
    monkeypatch.setattr(logs, "open_writer", real_open_writer)
    assert code == 2
    err = capsys.readouterr().err
    assert "--out" in err and "is the input" in err and err.count("\n") == 1
    assert src.read_bytes() == before


def test_out_naming_the_key_file_is_refused(tmp_path, capsys, rsa_key):
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**rsa_key.public_jwk, "kid": "r1", "alg": "RS256"}]}))
    before = jwks.read_bytes()
    src = tmp_path / "t.txt"
    src.write_text(token(0) + "\n")
    assert main(["verify-logs", str(src), "--jwks", str(jwks), "--no-progress", "--out", str(jwks)]) == 2
    assert "is the input" in capsys.readouterr().err and jwks.read_bytes() == before


def test_out_next_to_the_input_is_fine(tmp_path, capsys):
    src = tmp_path / "t.txt"
    src.write_text(token(0) + "\n")
    (tmp_path / "link.txt").symlink_to(src)
    out = tmp_path / "t.jsonl"
    code, _s = run_cli(
        [str(tmp_path / "link.txt"), "--secret", SECRET, "--aud", "api", "--at", str(DAY_AGO), "--out", str(out)],
        capsys,
    )
    assert code == 0 and len(out.read_text().splitlines()) == 1


def clf(stamp: int | str, tok: str, user: str = "-") -> str:
    """A combined-format line (with the Authorization header logged last)."""
    if isinstance(stamp, int):
        stamp = datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'203.0.113.7 - {user} [{stamp}] "GET /api HTTP/1.1" 200 512 "-" "curl/8.5" "Bearer {tok}"\n'


def test_access_log_time_is_the_t_field_not_the_users(tmp_path, capsys):
    # A token that had expired by its request (exp 30 s after iat, request 60 s after): the
    # client-chosen basic-auth user field carries a time when it was still valid.
    expired = token(0, exp_offset=30)
    fake = datetime.fromtimestamp(DAY_AGO + 10, tz=timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    users = [f"[{fake}]", f"x [{fake}] y", f"[{fake}] \\x22", f'[{fake}] \\"', f"[ [{fake}]", f"x[{fake}]["]
    src = tmp_path / "access.log"
    src.write_text(
        "".join(clf(DAY_AGO + 60, expired, user) for user in users)
        # vhost_combined: "%v:%p" first
        + "api.example:443 "
        + clf(DAY_AGO + 60, expired, users[1])
    )
    code, s = run_cli([str(src), "--secret", SECRET, "--aud", "api"], capsys)
    assert s["outcomes"] == {"ExpiredSignatureError": len(users) + 1}
    # and the same lines with an honest time are valid
    src.write_text("".join(clf(DAY_AGO + 10, expired, user) for user in users))
    code, s = run_cli([str(src), "--secret", SECRET, "--aud", "api"], capsys)
    assert code == 0 and s["valid"] == len(users)


def test_access_log_impossible_dates_are_that_lines_problem(tmp_path, capsys):
    good = token(0)
    bad = [
        "31/Feb/2026:10:00:00 +0000",
        "10/Foo/2026:10:00:00 +0000",
        "10/Oct/2026:24:00:00 +0000",
        "10/Oct/2026:10:00:00 +9999",
        "00/Oct/2026:10:00:00 +0000",
        "10/Oct/0000:10:00:00 +0000",
        "10/Oct/26:10:00:00 +0000",
    ]
    src = tmp_path / "access.log"
    src.write_text(clf(DAY_AGO + 60, good) + "".join(clf(b, good) for b in bad) + clf(DAY_AGO + 60, good))
    out = tmp_path / "r.jsonl"
    code, s = run_cli([str(src), "--secret", SECRET, "--aud", "api", "--out", str(out)], capsys)
    assert code == 1
    assert s["outcomes"] == {"valid": 2, "malformed": len(bad)}
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["line"] for r in records] == list(range(1, len(bad) + 3))
    for r, b in zip(records[1:-1], bad):
        assert r["error"] == "malformed" and r["reason"].startswith(f"request time [{b}] is not a date")
    assert "day is out of range" in records[1]["reason"] and "no month Foo" in records[2]["reason"]


def test_access_log_token_other_fields_cannot_vouch_for(tmp_path, capsys):
    # The client writes the User-Agent and the request line too: a valid token there must not
    # stand for a forged one in the Authorization header logged after them.
    valid, forged = token(0), token(1, key="f" * 32)
    stamp = datetime.fromtimestamp(DAY_AGO + 60, tz=timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    lines = [
        f'203.0.113.7 - - [{stamp}] "GET /api HTTP/1.1" 200 5 "-" "Bearer {valid}" "Bearer {forged}"\n',
        f'203.0.113.7 - - [{stamp}] "GET /?Bearer {valid} HTTP/1.1" 200 5 "-" "curl" "Bearer {forged}"\n',
        # the same token twice (two headers logged) is one token; "XBearer" is not the word
        f'203.0.113.7 - - [{stamp}] "GET /api HTTP/1.1" 200 5 "-" "Bearer {valid}" "Bearer {valid}"\n',
        f'203.0.113.7 - - [{stamp}] "GET /api HTTP/1.1" 200 5 "-" "XBearer junk" "Bearer {valid}"\n',
    ]
    src = tmp_path / "access.log"
    src.write_text("".join(lines))
    out = tmp_path / "r.jsonl"
    _code, s = run_cli([str(src), "--secret", SECRET, "--aud", "api", "--out", str(out)], capsys)
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["error"] for r in records] == ["malformed", "malformed", None, None]
    assert records[0]["reason"].startswith("2 different tokens on the line")
    # a --token-regex the client can also feed is held to the same rule
    src.write_text(f"[1] ua=jwt={valid} jwt={forged}\n[2] jwt={valid}\n")
    _code, s = run_cli(
        [
            str(src),
            "--format",
            "access",
            "--token-regex",
            r"jwt=(?P<token>[^\s=]+)",
            "--secret",
            SECRET,
            "--aud",
            "api",
            "--at",
            str(DAY_AGO + 60),
        ],
        capsys,
    )
    assert s["outcomes"] == {"malformed": 1, "valid": 1}


def _gz_cut(data: bytes) -> tuple[bytes, int]:
    """A gzip stream of `data` cut off two thirds in, and how many whole lines it still holds."""
    gz = gzip.compress(data)
    cut = gz[: len(gz) * 2 // 3]
    return cut, zlib.decompressobj(wbits=31).decompress(cut).count(b"\n")


def read_records(out: Path) -> list[int]:
    if out.suffix == ".parquet":
        return pq.read_table(out).column("line").to_pylist()
    if out.name.endswith(".csv.gz"):
        return [int(r["line"]) for r in csv.DictReader(gzip.open(out, "rt", newline=""))]
    return [json.loads(x)["line"] for x in out.read_text().splitlines()]


@pytest.mark.parametrize("fmt", ["lines", "jsonl", "csv"])
def test_truncated_gz_ends_with_exit_2_and_keeps_what_was_read(tmp_path, capsys, fmt):
    toks = [token(i) for i in range(1500)]
    if fmt == "lines":
        data, args, first = "".join(t + "\n" for t in toks), [], 1
    elif fmt == "jsonl":  # read and verified in the native core
        data, args, first = "".join(json.dumps({"tok": t}) + "\n" for t in toks), ["--token-field", "tok"], 1
    else:
        data, args, first = "token\n" + "".join(t + "\n" for t in toks), ["--column", "token"], 2
    cut, whole = _gz_cut(data.encode())
    assert 100 < whole < len(toks)
    src = tmp_path / f"requests.{'txt' if fmt == 'lines' else fmt}.gz"
    src.write_bytes(cut)
    for out in (tmp_path / "o.jsonl", tmp_path / "o.parquet", tmp_path / "o.csv.gz"):
        code = main(
            [
                "verify-logs",
                str(src),
                "--secret",
                SECRET,
                "--aud",
                "api",
                "--at",
                str(DAY_AGO),
                "--no-progress",
                "--chunk-size",
                "128",
                "--out",
                str(out),
                *args,
            ]
        )
        err = capsys.readouterr().err
        assert code == 2
        assert err.count("\n") == 1 and "Traceback" not in err
        assert f"cannot read {src} at line {whole + 1}: Compressed file ended" in err and str(out) in err
        # every line read before the cut, whole files (Parquet footer, gzip trailer written)
        assert read_records(out) == list(range(first, whole + 1))


@pytest.mark.parametrize("damage, says", [("block", "invalid block type"), ("crc", "CRC check failed")])
def test_corrupt_gz_ends_with_exit_2_naming_the_line(tmp_path, capsys, damage, says):
    gz = bytearray(gzip.compress("".join(token(i) + "\n" for i in range(300)).encode()))
    if damage == "block":  # a second gzip member whose deflate block type is the reserved one
        gz += gzip.compress(b"", mtime=0)[:10] + b"\x06" + b"\x00" * 16
    else:  # the first member's CRC (checked once all its data is out)
        gz[-8] ^= 0xFF
    src = tmp_path / "t.txt.gz"
    src.write_bytes(bytes(gz))
    out = tmp_path / "o.jsonl"
    code = main(["verify-logs", str(src), "--secret", SECRET, "--no-progress", "--chunk-size", "16", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"cannot read {src} at line 301: " in err and says in err
    assert read_records(out) == list(range(1, 301))


def test_a_write_error_is_not_called_a_read_error(tmp_path, capsys, monkeypatch):
    def full(self, columns):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(logs.JsonlWriter, "write", full)
    src = tmp_path / "t.txt"
    src.write_text(token(0) + "\n")
    out = tmp_path / "o.jsonl"
    assert main(["verify-logs", str(src), "--secret", SECRET, "--no-progress", "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"turbojwt verify-logs: cannot write {out}: No space left on device\n"


def test_damaged_parquet_row_group_ends_with_exit_2_naming_the_row(tmp_path, capsys):
    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({"token": [token(i) for i in range(400)]}), src, row_group_size=100)
    page = pq.ParquetFile(src).metadata.row_group(2).column(0).data_page_offset
    data = bytearray(src.read_bytes())
    data[page : page + 200] = b"\xff" * 200  # the third row group's page header
    src.write_bytes(bytes(data))
    out = tmp_path / "o.parquet"
    code = main(
        [
            "verify-logs",
            str(src),
            "--column",
            "token",
            "--secret",
            SECRET,
            "--no-progress",
            "--chunk-size",
            "50",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1  # (pyarrow's message has line breaks: escaped)
    assert f"cannot read {src} at line 201: " in err
    assert read_records(out) == list(range(1, 201))


def test_csv_row_the_csv_module_refuses_is_that_rows_problem(tmp_path, capsys):
    src = tmp_path / "r.csv"
    src.write_text("token\n" + token(0) + "\n" + "x" * (csv.field_size_limit() + 1) + "\n" + token(1) + "\n")
    out = tmp_path / "o.jsonl"
    code, s = run_cli(
        [str(src), "--column", "token", "--secret", SECRET, "--aud", "api", "--at", str(DAY_AGO), "--out", str(out)],
        capsys,
    )
    assert code == 1 and s["outcomes"] == {"valid": 2, "malformed": 1}
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["line"] for r in records] == [2, 3, 4]
    assert records[1]["reason"].startswith("not a CSV row: field larger than field limit")
    # a header the csv module refuses is a usage error (exit 2), not a traceback
    src.write_text("token," + "h" * (csv.field_size_limit() + 1) + "\n" + token(0) + ",1\n")
    assert main(["verify-logs", str(src), "--column", "token", "--secret", SECRET, "--no-progress"]) == 2
    assert "CSV header: field larger than field limit" in capsys.readouterr().err
