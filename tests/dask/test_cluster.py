"""turbojwt on a real Dask cluster of separate processes (``dask scheduler`` and two
single-threaded ``dask worker`` processes on loopback, started here): verdicts row for row
those of a local verify_batch on the same partitioned data (HS256 and RS256 over several
JWKS snapshots, a time per row, malformed rows); ``turbojwt verify-logs --dask`` end to end
against the local command; a worker killed mid-run; bad input (LocalCluster, quick)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time

import pytest

import turbojwt
from turbojwt import verify_batch
from turbojwt.arrow import VERDICT_COLUMNS

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from helpers.dask_cluster import IMPORTED_FROM, DaskCluster  # noqa: E402
from turbojwt.dask import verify_dataframe, verify_log_parts  # noqa: E402
from turbojwt.log_sources import SourceOptions  # noqa: E402
from turbojwt.logs.report import Summary  # noqa: E402

# (separate scheduler and worker processes)
pytestmark = pytest.mark.e2e

SECRET = "s" * 32
# The tokens' times and expiries a day back: every token is judged as of its row's time, and
# the summaries' "expired now" counts cannot change between two runs of a test.
NOW = int(time.time()) - 86400


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    running = DaskCluster(tmp_path_factory.mktemp("dask-cluster")).start(2)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster.address) as c:
        yield c


@pytest.fixture(scope="module")
def rotation(rsa_key):
    """Two snapshots of a provider's set over a key rotation: r1, then r1 and r2."""
    newer = rsa.generate_private_key(65537, 2048)
    r2 = json.loads(turbojwt.algorithms.RSAAlgorithm.to_jwk(newer.public_key()))
    r1 = {**rsa_key.public_jwk, "kid": "r1", "alg": "RS256"}
    snapshots = [("oct.json", {"keys": [r1]}), ("nov.json", {"keys": [r1, {**r2, "kid": "r2", "alg": "RS256"}]})]
    return rsa_key.private_pem, newer, snapshots


def none(x):
    return None if pd.isna(x) else x


def hs256_rows(n: int) -> tuple[list, list]:
    toks, times = [], []
    for i in range(n):
        key = "o" * 32 if i % 11 == 0 else SECRET
        toks.append(turbojwt.encode({"sub": f"u{i % 13}", "aud": "api", "exp": NOW + (i % 5) * 60}, key))
        times.append(float(NOW + (i % 7) * 40))
    for i in (i for i in (3, 50, 97) if i < n):
        toks[i] = ["not-a-token", "a.b.c", ""][i % 3]
    return toks, times


def rs256_rows(rotation, n: int) -> tuple[list, list]:
    old, new, _ = rotation
    toks, times = [], []
    for i in range(n):
        # r1 until the rotation, r2 after; a kid nobody published; r2's key under r1's kid.
        key, kid = (old, "r1") if i < n // 2 else (new, "r2")
        if i % 17 == 0:
            kid = "r9"
        if i % 19 == 0:
            key, kid = new, "r1"
        claims = {"sub": f"u{i % 5}", "iss": "idp", "exp": NOW + (i % 4) * 60}
        toks.append(turbojwt.encode(claims, key, algorithm="RS256", headers={"kid": kid}))
        times.append(float(NOW + (i % 6) * 45))
    toks[7] = "x.y"
    return toks, times


def write_parts(folder, toks, times, n_parts: int) -> None:
    folder.mkdir()
    size = -(-len(toks) // n_parts)
    for p in range(n_parts):
        rows = range(p * size, min(len(toks), (p + 1) * size))
        table = pa.table({"id": list(rows), "token": [toks[i] for i in rows], "ts": [times[i] for i in rows]})
        pq.write_table(table, folder / f"part-{p:02d}.parquet")


def assert_same_verdicts(got, toks, times, key, **policy) -> None:
    got = got.sort_values("id")
    assert got["id"].tolist() == list(range(len(toks)))  # every row exactly once
    want = verify_batch(toks, key, at=times, threads=1, **policy).to_arrow()
    for name in VERDICT_COLUMNS:
        assert [none(x) for x in got[name].tolist()] == want.column(name).to_pylist(), name


@pytest.mark.parametrize("alg", ["HS256", "RS256"])
def test_partitioned_parquet_verdicts_equal_local_verify_batch(client, tmp_path, rotation, alg):
    if alg == "HS256":
        toks, times = hs256_rows(3000)
        key, policy = SECRET, dict(algorithms=["HS256"], audience="api")
    else:
        toks, times = rs256_rows(rotation, 400)
        key, policy = turbojwt.KeySet.from_snapshots(rotation[2]), dict(algorithms=["RS256"], issuer="idp")
    write_parts(tmp_path / "data", toks, times, 8)
    ddf = dd.read_parquet(str(tmp_path / "data"))
    assert ddf.npartitions == 8
    out = verify_dataframe(ddf, turbojwt.Verifier(key, **policy), time_column="ts")
    got = out.compute()
    assert_same_verdicts(got, toks, times, key, **policy)
    # Both workers took part.
    assert len(client.run(lambda: 1)) == 2
    errors = set(got["error"].dropna())
    if alg == "RS256":
        assert {"PyJWKClientError", "InvalidSignatureError", "DecodeError"} <= errors or "KeyNotFoundError" in errors
    assert got["valid"].any() and not got["valid"].all()


def write_logs(folder, toks, times) -> list[str]:
    """The rows as four log files of four formats."""
    folder.mkdir()
    quarter = len(toks) // 4
    rows = list(zip(toks, times))
    a, b, c, d = (rows[i * quarter : (i + 1) * quarter] for i in range(4))
    lines = [json.dumps({"ts": t, "tok": tok}) for tok, t in a]
    lines[2] = "{not json"
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "b.jsonl.gz").write_bytes(
        gzip.compress("".join(json.dumps({"ts": t, "tok": x}) + "\n" for x, t in b).encode())
    )
    (folder / "c.csv").write_text("ts,token\n" + "".join(f"{t},{x}\n" for x, t in c))
    pq.write_table(pa.table({"token": [x for x, _ in d], "ts": [t for _, t in d]}), folder / "d.parquet")
    return [str(folder / n) for n in ("a.jsonl", "b.jsonl.gz", "c.csv", "d.parquet")]


def run_command(args: list[str], cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": IMPORTED_FROM}
    return subprocess.run(
        [sys.executable, "-m", "turbojwt", "verify-logs", *args], cwd=cwd, env=env, capture_output=True, timeout=300
    )


def test_verify_logs_dask_equals_the_local_command(cluster, tmp_path, rotation):
    toks, times = rs256_rows(rotation, 400)
    sources = write_logs(tmp_path / "logs", toks, times)
    for name, doc in rotation[2]:
        (tmp_path / name).write_text(json.dumps(doc))
    common = [*sources, "--jwks", "oct.json", "--jwks", "nov.json", "--iss", "idp", "--token-field", "tok"]
    common += ["--column", "token", "--time-field", "ts", "--json", "--no-progress"]
    local = run_command([*common, "--threads", "1", "--out", "local.parquet"], tmp_path)
    remote = run_command([*common, "--dask", cluster.address, "--out", "parts"], tmp_path)
    assert local.returncode == remote.returncode == 1, (local.stderr, remote.stderr)
    want, got = json.loads(local.stdout), json.loads(remote.stdout)
    for summary in (want, got):
        del summary["seconds"], summary["lines_per_second"]
    assert got == want and got["lines"] == 400 and 0 < got["valid"] < 400
    # One Parquet file per input, named after it, holding the local command's records.
    names = sorted(os.listdir(tmp_path / "parts"))
    assert names == ["a.parquet", "b.parquet", "c.parquet", "d.parquet"]
    records = pq.read_table(tmp_path / "local.parquet").to_pylist()
    for source, name in zip(sources, names):
        part = pq.read_table(tmp_path / "parts" / name).to_pylist()
        assert part == [r for r in records if r["source"] == source], name
    # The same data set read back whole, as Dask or pyarrow read a partitioned data set.
    assert dd.read_parquet(str(tmp_path / "parts")).compute()["line"].count() == 400


def test_a_worker_killed_mid_run_still_gives_every_row_once(tmp_path):
    cluster = DaskCluster(tmp_path).start(2)
    try:
        with distributed.Client(cluster.address) as client:
            pids = client.run(os.getpid)
            toks, times = hs256_rows(1600)
            pdf = pd.DataFrame({"id": range(len(toks)), "token": toks, "ts": times})
            ddf = dd.from_pandas(pdf, npartitions=16)

            # (the test slows its own tasks, so that the kill lands while both workers are busy)
            def slowly(df):
                time.sleep(0.4)
                return df

            v = turbojwt.Verifier(SECRET, algorithms=["HS256"], audience="api")
            out = verify_dataframe(ddf.map_partitions(slowly, meta=ddf._meta), v, time_column="ts")
            parts = client.compute(out.to_delayed())
            finished = distributed.as_completed(parts)
            next(finished)  # the first results are in
            busy = [w for w, tasks in client.processing().items() if tasks]
            assert busy, "no worker was busy when the kill was due"
            victim = busy[0]
            cluster.kill_worker(pids[victim])
            got = pd.concat(client.gather(parts))
            assert victim not in client.scheduler_info()["workers"]
            assert_same_verdicts(got, toks, times, SECRET, algorithms=["HS256"], audience="api")
    finally:
        cluster.stop()


# ---------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    """A LocalCluster of one single-threaded worker process: tasks run in the order given,
    so the parts before a bad one are written before it fails."""
    import dask

    scratch = tmp_path_factory.mktemp("dask-one")
    with (
        dask.config.set({"temporary-directory": str(scratch)}),
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # (no fixed port: 8787 may be taken)
            local_directory=str(scratch),
        ) as local,
        distributed.Client(local) as c,
    ):
        yield c


def good_parquet(path, n: int = 50) -> None:
    toks, times = hs256_rows(n)
    pq.write_table(pa.table({"token": toks, "ts": times}), path)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("c.parquet", lambda p: pq.write_table(pa.table({"jwt": ["a.b.c"]}), p), "has no column 'token'"),
        ("c.parquet", lambda p: pq.write_table(pa.table({"token": [1, 2]}), p), "holds int64, not tokens"),
        ("c.parquet", lambda p: p.write_bytes(b"PAR1 not parquet"), ""),
        ("c.jsonl.gz", lambda p: p.write_bytes(gzip.compress(b'{"tok": "a.b.c"}\n' * 500)[:-30]), "at line"),
        ("c.jsonl", None, "No such file"),
    ],
)
def test_bad_part_is_named_and_parts_written_are_kept(one_worker, tmp_path, name, make, message):
    good = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    for path in good:
        good_parquet(path)
    bad = tmp_path / name
    if make is not None:
        make(bad)
    out = tmp_path / "out"
    out.mkdir()
    v = turbojwt.Verifier(SECRET, algorithms=["HS256"], audience="api")
    options = SourceOptions(column="token", token_field="tok", threads=1)
    summary = Summary(0.0)
    with pytest.raises(ValueError, match=f"{bad}.*{message}") as caught:
        verify_log_parts(one_worker, [*map(str, good), str(bad)], v, options, summary, out_dir=str(out))
    assert str(bad) in str(caught.value)
    # The parts before it are whole; nothing of the bad one, no partial file left.
    assert sorted(os.listdir(out)) == ["a.parquet", "b.parquet"]
    assert [pq.read_table(out / p.name).num_rows for p in good] == [50, 50]
    assert summary.lines == 100


def test_verify_logs_dask_names_the_bad_file_and_keeps_parts(one_worker, tmp_path):
    from turbojwt.__main__ import main

    good_parquet(tmp_path / "a.parquet")
    pq.write_table(pa.table({"token": [1, 2]}), tmp_path / "b.parquet")
    args = ["verify-logs", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"), "--secret", SECRET]
    args += ["--aud", "api", "--column", "token", "--no-progress", "--json", "--out", str(tmp_path / "out")]
    proc = subprocess.run(
        [sys.executable, "-m", "turbojwt", *args, "--dask", one_worker.scheduler.address],
        env={**os.environ, "PYTHONPATH": IMPORTED_FROM},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "b.parquet" in proc.stderr and "holds int64" in proc.stderr and "are kept in" in proc.stderr
    assert os.listdir(tmp_path / "out") == ["a.parquet"]
    # --out must be a directory with --dask; stdin cannot be a part.
    (tmp_path / "report.jsonl").write_text("")
    assert main([*args[:-2], "--out", str(tmp_path / "report.jsonl"), "--dask", "tcp://127.0.0.1:9"]) == 2
    assert main(["verify-logs", "-", "--secret", SECRET, "--dask", "tcp://127.0.0.1:9"]) == 2


def test_dataframe_partition_without_the_token_column_is_named(one_worker):
    def part(i: int):
        return pd.DataFrame({"token": ["a.b.c"]}) if i != 2 else pd.DataFrame({"jwt": ["a.b.c"]})

    ddf = dd.from_map(part, range(4), meta=pd.DataFrame({"token": pd.Series([], dtype=object)}))
    v = turbojwt.Verifier(SECRET, algorithms=["HS256"])
    with pytest.raises(ValueError, match="partition 2 has no column 'token' \\(columns: jwt\\)"):
        verify_dataframe(ddf, v).compute()


def test_verify_logs_dask_local_starts_its_own_cluster(tmp_path, capsys):
    from turbojwt.__main__ import main

    toks, times = hs256_rows(120)
    sources = write_logs(tmp_path / "logs", toks, times)
    args = ["verify-logs", *sources, "--secret", SECRET, "--aud", "api", "--token-field", "tok"]
    args += ["--column", "token", "--time-field", "ts", "--json", "--no-progress", "--threads", "1"]
    assert main(args) == 1
    want = json.loads(capsys.readouterr().out)
    assert main([*args, "--dask", "local"]) == 1
    got = json.loads(capsys.readouterr().out)
    for summary in (want, got):
        del summary["seconds"], summary["lines_per_second"]
    assert got == want and got["lines"] == 120
