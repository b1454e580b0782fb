"""Verdict columns built natively as Arrow arrays and handed over through the Arrow PyCapsule
interface: BatchResult.to_arrow/columns, the kernel turbojwt.arrow.verify_table on pyarrow
and polars input, and the report writers that serialise from the arrays."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import time
import tracemalloc
from datetime import datetime, timezone

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import turbojwt
from turbojwt import _native, verify_batch
from turbojwt.arrow import VERDICT_COLUMNS, verify_table
from turbojwt.logs import csv_cell

SECRET = "s" * 32
OTHER = "o" * 32
NOW = int(time.time())
HS = dict(algorithms=["HS256"], audience="api")
SCHEMA = pa.schema(
    [("index", pa.int64()), ("valid", pa.bool_())]
    + [(n, pa.string()) for n in ("error", "reason", "kid", "iss", "sub", "aud")]
    + [("exp", pa.float64()), ("iat", pa.float64())]
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs_corpus() -> list[str]:
    """Valid, expired, forged, wrong audience, list audiences, fractional times, kids, and
    tokens that are not tokens at all."""
    enc = turbojwt.encode
    toks = []
    for i in range(30):
        toks.append(enc({"sub": f"u{i}", "iss": "https://idp", "aud": "api", "exp": NOW + 3600 + i}, SECRET))
    toks += [
        enc({"sub": "old", "aud": "api", "exp": NOW - 100, "iat": NOW - 200}, SECRET, headers={"kid": "k1"}),
        enc({"sub": "forged", "aud": ["api", "x"], "exp": NOW + 3600}, OTHER, headers={"kid": "k2"}),
        enc({"sub": "elsewhere", "aud": "other", "exp": NOW + 0.5, "iat": NOW - 0.25}, SECRET),
        enc({"sub": "\x1b[31m=cmd|x", "iss": 'quote"d', "aud": "api"}, SECRET),
        "not-a-token",
        "a.b",
        "",
        b64(b'{"alg":"HS256"}') + "." + b64(b"[1,2]") + ".sig",
    ]
    return toks


def unverified_fields(token: str) -> dict:
    """kid, iss, sub, aud, exp, iat as the token states them, read with PyJWT's unverified
    decode (None throughout when it cannot be read)."""
    import jwt as pyjwt

    try:
        header = pyjwt.get_unverified_header(token)
        payload = pyjwt.decode(token, options={"verify_signature": False})
    except pyjwt.PyJWTError:
        return dict.fromkeys(("kid", "iss", "sub", "aud", "exp", "iat"))
    aud = payload.get("aud")
    return {
        "kid": header.get("kid"),
        "iss": payload.get("iss"),
        "sub": payload.get("sub"),
        "aud": ",".join(aud) if isinstance(aud, list) else aud,
        # (as PyJWT reads them: int() of the number)
        "exp": None if payload.get("exp") is None else float(int(payload["exp"])),
        "iat": None if payload.get("iat") is None else float(int(payload["iat"])),
    }


def expected_rows(result, tokens) -> list[dict]:
    rows = []
    for i, (err, tok) in enumerate(zip(result.errors, tokens)):
        # (a token judged as of no usable time is not read at all)
        fields = unverified_fields(tok if err is None or err.kind != "malformed" else "")
        rows.append(
            {
                "index": i,
                "valid": err is None,
                "error": None if err is None else err.kind,
                "reason": None if err is None else err.message,
                **fields,
            }
        )
    return rows


@pytest.mark.parametrize("threads", [1, 2])
def test_hs256_columns_row_for_row(threads):
    toks = hs_corpus() * 40  # several chunks: groups of rows built side by side
    times = [NOW + (i % 7) * 30 for i in range(len(toks))]
    r = verify_batch(toks, SECRET, at=times, threads=threads, **HS)
    table = r.to_arrow()
    assert table.schema == SCHEMA
    assert table.to_pylist() == expected_rows(r, toks)
    # columns() reads the same arrays (exp/iat whole seconds as ints, as before)
    cols = r.columns()
    assert cols == {k: v for k, v in table.to_pydict().items() if k != "index"}
    assert cols["exp"][0] == NOW + 3600 and isinstance(cols["exp"][0], int)


def test_rs256_key_set_per_row_times_and_malformed_times(rsa_key):
    jwks = {"keys": [{**rsa_key.public_jwk, "kid": "r1"}]}
    good = turbojwt.encode({"sub": "a", "exp": NOW + 10}, rsa_key.private_pem, algorithm="RS256", headers={"kid": "r1"})
    unknown = turbojwt.encode({"sub": "b"}, rsa_key.private_pem, algorithm="RS256", headers={"kid": "zz"})
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    toks = [good, good, unknown, forged, good]
    at = [NOW, NOW + 3600, NOW, NOW, "not a time"]
    r = verify_batch(toks, jwks, algorithms=["RS256"], at=at)
    rows = r.to_arrow().to_pylist()
    assert rows == expected_rows(r, toks)
    assert [row["error"] for row in rows] == [
        None,
        "ExpiredSignatureError",
        "PyJWKClientError",
        "InvalidSignatureError",
        "malformed",
    ]


def test_reference_path_parts_and_nulls():
    # None and a non-string go to the reference path (verify_batch semantics: DecodeError);
    # an iterable makes several parts, whose index runs on.
    toks = [turbojwt.encode({"aud": "api"}, SECRET), None, 12345]
    r = verify_batch(iter(toks * 3), SECRET, **HS)
    t = r.to_arrow()
    assert t.schema == SCHEMA and t.column("index").to_pylist() == list(range(9))
    assert t.column("error").to_pylist()[:3] == [None, "DecodeError", "DecodeError"]
    empty = verify_batch([], SECRET, **HS).to_arrow()
    assert empty.num_rows == 0 and empty.schema == SCHEMA


def test_exported_through_the_capsule_interface_without_copies():
    toks = [turbojwt.encode({"sub": f"u{i}", "aud": "api"}, SECRET) for i in range(3000)]
    r = verify_batch(toks, SECRET, threads=2, **HS)
    (part,) = r.arrow()
    # Two groups of rows (one per thread): a stream of two record batches.
    assert hasattr(part, "__arrow_c_schema__") and hasattr(part, "__arrow_c_stream__")
    assert len(pa.table(part).to_batches()) == 2
    assert pa.schema(part) == SCHEMA
    # pyarrow takes the native buffers as they are: its own pool allocates nothing.
    before = pa.total_allocated_bytes()
    table = r.to_arrow()
    assert pa.total_allocated_bytes() == before
    assert table.num_rows == 3000
    # No Python object per row: what the Python allocator holds at its peak does not grow
    # with the rows (tracemalloc sees Python objects; the arrays are native memory).
    r2 = verify_batch(toks * 10, SECRET, threads=2, **HS)
    tracemalloc.start()
    try:
        r2.to_arrow()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200_000, peak  # 30,000 rows: a list of them alone would be > 240 kB
    pl = pytest.importorskip("polars")
    df = pl.DataFrame(part)
    assert df.height == 3000 and df["valid"].all()


def test_single_group_part_is_a_record_batch():
    r = verify_batch([turbojwt.encode({"aud": "api"}, SECRET)], SECRET, **HS)
    (part,) = r.arrow()
    batch = pa.record_batch(part)
    assert batch.schema == SCHEMA and batch.num_rows == 1


# ---------------------------------------------------------------------------- kernel


def kernel_tokens() -> list[str]:
    toks = hs_corpus() * 25
    return toks


def verdicts_of(table) -> dict:
    return {name: table.column(name).to_pylist() for name in VERDICT_COLUMNS}


def reference(tokens, times=None) -> dict:
    r = verify_batch(tokens, SECRET, at=times, **HS)
    t = r.to_arrow()
    return {name: t.column(name).to_pylist() for name in VERDICT_COLUMNS}


@pytest.mark.parametrize(
    "make",
    [
        lambda toks: pa.array(toks, pa.string()),
        lambda toks: pa.array(toks, pa.large_string()),
        lambda toks: pa.array(toks, pa.string_view()),
        lambda toks: pa.array([t.encode() for t in toks], pa.binary()),
        lambda toks: pa.array([t.encode() for t in toks], pa.large_binary()),
        lambda toks: pa.array(toks).dictionary_encode(),
    ],
    ids=["string", "large_string", "string_view", "binary", "large_binary", "dictionary"],
)
def test_kernel_token_column_types(make):
    toks = kernel_tokens()
    v = turbojwt.Verifier(SECRET, **HS)
    table = pa.table({"id": list(range(len(toks))), "token": make(toks)})
    out = verify_table(table, v)
    assert isinstance(out, pa.Table)
    assert out.column_names == ["id", "token", *VERDICT_COLUMNS]
    assert out.column("id").to_pylist() == list(range(len(toks)))  # the same rows, in order
    assert verdicts_of(out) == reference(toks)


@pytest.mark.parametrize(
    "make_times",
    [
        lambda ts: pa.array([t * 1000 for t in ts], pa.timestamp("ms", tz="Europe/Paris")),
        lambda ts: pa.array(ts, pa.timestamp("s")),
        lambda ts: pa.array([t * 1_000_000_000 for t in ts], pa.timestamp("ns", tz="UTC")),
        lambda ts: pa.array(ts, pa.int64()),
        lambda ts: pa.array([t + 0.25 for t in ts], pa.float64()),
        lambda ts: pa.array([datetime.fromtimestamp(t, timezone.utc).isoformat() for t in ts], pa.string()),
        lambda ts: pa.array([str(t) for t in ts], pa.large_string()),
    ],
    ids=["timestamp-ms-tz", "timestamp-s", "timestamp-ns", "int", "float", "iso-string", "decimal-string"],
)
def test_kernel_time_column_types(make_times):
    toks = kernel_tokens()
    times = [NOW - 200 + (i % 9) * 40 for i in range(len(toks))]
    v = turbojwt.Verifier(SECRET, **HS)
    table = pa.table({"token": toks, "ts": make_times(times)})
    out = verify_table(table, v, time_column="ts")
    assert verdicts_of(out) == reference(toks, [t + 0.25 for t in times] if "float" in str(out.schema) else times)


def test_kernel_nulls_and_bad_times_are_malformed_rows():
    good = turbojwt.encode({"aud": "api", "exp": NOW + 3600}, SECRET)
    table = pa.table(
        {
            "jwt": pa.array([good, None, good, good, None]),
            "at": pa.array([str(NOW), str(NOW), "soon", None, None]),
        }
    )
    v = turbojwt.Verifier(SECRET, **HS)
    out = verify_table(table, v, token_column="jwt", time_column="at").to_pylist()
    assert [r["error"] for r in out] == [None, "malformed", "malformed", "malformed", "malformed"]
    assert out[1]["reason"] == "column jwt is null"
    assert "not a finite number" in out[2]["reason"] and "not a finite number" in out[3]["reason"]
    assert out[0]["valid"] and out[0]["exp"] == NOW + 3600


def test_kernel_batches_chunks_and_record_batch_input():
    toks = kernel_tokens()
    v = turbojwt.Verifier(SECRET, **HS)
    chunked = pa.Table.from_batches(
        [
            pa.record_batch({"token": toks[:7]}),
            pa.record_batch({"token": toks[7:500]}),
            pa.record_batch({"token": toks[500:]}),
        ]
    )
    out = verify_table(chunked, v, threads=2)
    assert out.num_rows == len(toks) and verdicts_of(out) == reference(toks)
    out = verify_table(pa.record_batch({"token": toks}), v, threads=2)
    assert isinstance(out, pa.Table) and verdicts_of(out) == reference(toks)
    out = verify_table(pa.table({"token": pa.array([], pa.string())}), v)
    assert out.num_rows == 0 and out.column_names == ["token", *VERDICT_COLUMNS]


def test_kernel_polars_in_and_out_and_map_batches():
    pl = pytest.importorskip("polars")
    toks = kernel_tokens()
    times = [NOW + (i % 5) * 60 for i in range(len(toks))]
    df = pl.DataFrame({"token": toks, "ts": pl.from_epoch(pl.Series(times), time_unit="s")})
    v = turbojwt.Verifier(SECRET, **HS)
    out = verify_table(df, v, time_column="ts")
    assert isinstance(out, pl.DataFrame)
    assert out.columns == ["token", "ts", *VERDICT_COLUMNS]
    assert {n: out[n].to_list() for n in VERDICT_COLUMNS} == reference(toks, times)
    # The Polars plug: LazyFrame.map_batches hands the kernel a DataFrame, takes one back.
    # (map_batches needs the schema it gives back: the input's and the verdict columns')
    verdict_types = {"valid": pl.Boolean, "exp": pl.Float64, "iat": pl.Float64}
    schema = {**df.schema, **{n: verdict_types.get(n, pl.String) for n in VERDICT_COLUMNS}}
    lazy = df.lazy().map_batches(lambda d: verify_table(d, v, time_column="ts"), schema=schema)
    assert lazy.collect()["error"].to_list() == out["error"].to_list()


def test_kernel_bad_inputs():
    v = turbojwt.Verifier(SECRET, **HS)
    table = pa.table({"token": ["a.b.c"], "n": [1], "flag": [True]})
    with pytest.raises(ValueError, match="no column 'jwt'.*columns: token, n, flag"):
        verify_table(table, v, token_column="jwt")
    with pytest.raises(ValueError, match="no column 'when'"):
        verify_table(table, v, time_column="when")
    with pytest.raises(TypeError, match="column 'n' holds Int64, not tokens"):
        verify_table(table, v, token_column="n")
    with pytest.raises(TypeError, match="column 'flag' holds Boolean, not times"):
        verify_table(table, v, time_column="flag")
    with pytest.raises(ValueError, match="already has a column 'valid'"):
        verify_table(pa.table({"token": ["x"], "valid": [True]}), v)
    with pytest.raises(TypeError, match="expected Arrow data"):
        verify_table(["a.b.c"], v)
    with pytest.raises(TypeError, match="not a single array"):
        verify_table(pa.array(["a.b.c"]), v)
    rows = pa.StructArray.from_arrays([pa.array(["a.b.c", "x"])], names=["token"], mask=pa.array([False, True]))
    with pytest.raises(TypeError, match="null rows"):
        verify_table(rows, v)
    with pytest.raises(TypeError, match="turbojwt.Verifier"):
        verify_table(table, SECRET)
    with pytest.raises(ValueError, match="not both"):
        verify_table(table, v, time_column="n", at=NOW)
    pl = pytest.importorskip("polars")
    with pytest.raises(TypeError, match="column 'token' holds"):
        verify_table(pl.DataFrame({"token": [1, 2]}), v)


# ---------------------------------------------------------------------------- reports

texts = st.one_of(
    st.none(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(["=1+2", "-", "@x", "\tx", "\rx", 'a"b', "a,b\nc"]),
)
seconds = st.one_of(
    st.none(),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False, allow_infinity=True),
    st.sampled_from([1e16, 9.5e15, 1.5e-7, 1e-5, 1e-6, 0.0001, -0.0, 1e300]),
)


def python_seconds(v):
    """exp as the native columns() hand it over: an int when it is whole seconds."""
    if isinstance(v, float) and math.isfinite(v) and v == int(v) and abs(v) < 9e15:
        return int(v)
    return v


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**9), st.booleans(), texts, texts, seconds), max_size=8))
def test_native_report_writers_match_orjson_and_csv(rows):
    fields = ["source", "line", "valid", "error", "reason", "iss", "sub", "kid", "exp"]
    columns = {
        "source": ["in.jsonl"] * len(rows),
        "line": [r[0] for r in rows],
        "valid": [r[1] for r in rows],
        "error": [r[2] for r in rows],
        "reason": [r[3] for r in rows],
        "iss": [r[2] for r in rows],
        "sub": [r[3] for r in rows],
        "kid": [None] * len(rows),
        "exp": [python_seconds(r[4]) for r in rows],
    }
    batch = _native.report_batch(columns, fields)
    want_jsonl = b"".join(orjson.dumps(dict(zip(fields, row))) + b"\n" for row in zip(*columns.values()))
    assert _native.report_jsonl(batch) == want_jsonl
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_NONNUMERIC).writerows(
        [csv_cell(v) for v in row] for row in zip(*columns.values())
    )
    assert _native.report_csv(batch) == buf.getvalue().encode()
    # pyarrow's own record batch is read the same way
    assert _native.report_jsonl(pa.record_batch(batch)) == want_jsonl
    assert json.loads(want_jsonl.splitlines()[0]) if rows else True


def test_reference_path_verdicts_give_the_same_columns(ed448_key, rsa_key):
    # A JWK meant for encryption never verifies: the whole batch is judged by the Python
    # reference path, whose verdicts become the same Arrow columns.
    enc = turbojwt.PyJWK({**rsa_key.public_jwk, "use": "enc"})
    tok = turbojwt.encode({"sub": "a"}, rsa_key.private_pem, algorithm="RS256")
    r = verify_batch([tok, "x.y.z"], enc, algorithms=["RS256"])
    table = r.to_arrow()
    assert table.schema == SCHEMA
    assert table.column("error").to_pylist() == [e.kind for e in r.errors]
    # Ed448 keys only pyca/cryptography takes: each token handed over, in the kernel too.
    toks = [turbojwt.encode({"sub": "a", "exp": NOW + 3600}, ed448_key.private_pem, algorithm="EdDSA"), "x.y.z"]
    r = verify_batch(toks, ed448_key.public_pem, algorithms=["EdDSA"])
    rows = r.to_arrow().to_pylist()
    assert rows[0]["valid"] and rows[0]["sub"] == "a" and rows[0]["exp"] == NOW + 3600
    assert rows[1]["error"] == "DecodeError"
    v = turbojwt.Verifier(ed448_key.public_pem, algorithms=["EdDSA"])
    out = verify_table(pa.table({"token": toks}), v)
    assert out.drop_columns(["token"]).to_pylist() == [{k: v for k, v in row.items() if k != "index"} for row in rows]
