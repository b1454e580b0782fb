"""turbojwt.dask on a real Dask cluster (a LocalCluster of two single-threaded worker
processes on loopback): the same verdicts as a local verify_batch, the verifier rebuilt once
per worker process."""

from __future__ import annotations

import pickle
import time

import pytest

import turbojwt
from turbojwt import verify_batch
from turbojwt._pickling import rebuilt, rebuilt_identities
from turbojwt.arrow import VERDICT_COLUMNS

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

from turbojwt.dask import verify_dataframe  # noqa: E402

# (a Dask cluster of worker processes)
pytestmark = pytest.mark.e2e

SECRET = "s" * 32
OTHER = "o" * 32
NOW = int(time.time())


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    # (the workers' scratch space in the test's temporary directory, not in /tmp)
    scratch = tmp_path_factory.mktemp("dask")
    import dask

    with (
        dask.config.set({"temporary-directory": str(scratch)}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # (no fixed port: 8787 may be taken)
            local_directory=str(scratch),
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def none(x):
    """pandas' missing value (NaN, NA) as None."""
    return None if pd.isna(x) else x


def corpus(n: int) -> tuple[list, list]:
    toks, times = [], []
    for i in range(n):
        key = OTHER if i % 11 == 0 else SECRET
        toks.append(turbojwt.encode({"sub": f"u{i}", "aud": "api", "exp": NOW + (i % 5) * 60}, key))
        times.append(NOW + (i % 7) * 40)
    toks[3] = "not-a-token"
    return toks, times


def test_verifier_pickles_to_its_key_and_policy_once_per_process():
    v = turbojwt.Verifier(SECRET, algorithms=["HS256"], audience="api", leeway=5)
    a, b = pickle.loads(pickle.dumps(v)), pickle.loads(pickle.dumps(v))
    assert a is b and a is not v  # rebuilt once in this process, then kept
    tok = turbojwt.encode({"aud": "api"}, SECRET)
    assert a.decode(tok) == v.decode(tok) and a.leeway == 5


def test_dataframe_verdicts_equal_local_verify_batch(client):
    toks, times = corpus(2000)
    pdf = pd.DataFrame({"id": range(len(toks)), "token": toks, "ts": times})
    ddf = dd.from_pandas(pdf, npartitions=8)
    v = turbojwt.Verifier(SECRET, algorithms=["HS256"], audience="api")
    out = verify_dataframe(ddf, v, time_column="ts", threads=1)
    assert list(out.columns) == ["id", "token", "ts", *VERDICT_COLUMNS]
    got = out.compute()
    assert got["id"].tolist() == list(range(len(toks)))  # every row once, in order
    want = verify_batch(toks, SECRET, algorithms=["HS256"], audience="api", at=times).to_arrow()
    for name in VERDICT_COLUMNS:
        g = [none(x) for x in got[name].tolist()]
        assert g == want.column(name).to_pylist(), name
    # Each worker process rebuilt the verifier once, for all of its partitions.
    kept = client.run(rebuilt_identities)
    assert len(kept) == 2 and all(ids == [v._identity] for ids in kept.values())


def test_bad_input_is_refused_before_the_graph_runs(client):
    ddf = dd.from_pandas(pd.DataFrame({"jwt": ["a.b.c"], "n": [1]}), npartitions=1)
    v = turbojwt.Verifier(SECRET, algorithms=["HS256"])
    with pytest.raises(ValueError, match="no column 'token'"):
        verify_dataframe(ddf, v)
    with pytest.raises(TypeError, match="the frame: column .n. holds Int64, not tokens"):
        verify_dataframe(ddf, v, token_column="n").compute()
    with pytest.raises(TypeError, match="turbojwt.Verifier"):
        verify_dataframe(ddf, SECRET)


def test_log_files_one_task_each_as_verify_logs_reads_them(client, tmp_path):
    import gzip
    import json

    from turbojwt.dask import REPORT_FIELDS, verify_files

    toks, times = corpus(300)
    lines = [json.dumps({"ts": t, "auth": "Bearer " + tok}) for tok, t in zip(toks, times)]
    lines[5] = "{not json"
    (tmp_path / "a.jsonl").write_text("\n".join(lines[:100]) + "\n")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as f:
        f.write("\n".join(lines[100:200]) + "\n")
    (tmp_path / "c.csv").write_text("ts,token\n" + "".join(f"{t},{tok}\n" for tok, t in zip(toks[200:], times[200:])))
    v = turbojwt.Verifier(SECRET, algorithms=["HS256"], audience="api")
    paths = [tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"]
    out = verify_files(paths, v, token_field="auth", time_field="ts", threads=1)
    assert out.npartitions == 2 and tuple(out.columns) == REPORT_FIELDS
    got = out.compute()
    csv_out = verify_files([tmp_path / "c.csv"], v, column="token", time_field="ts").compute()
    want = verify_batch(toks, SECRET, algorithms=["HS256"], audience="api", at=times).to_arrow()
    errors = got["error"].tolist() + csv_out["error"].tolist()
    assert [none(e) for e in errors[:5]] == want.column("error").to_pylist()[:5]
    assert errors[5] == "malformed" and got["reason"].iloc[5].startswith("invalid JSON")
    rest = [none(e) for e in errors[6:]]
    assert rest == want.column("error").to_pylist()[6:]
    assert got["line"].tolist() == list(range(1, 101)) * 2  # line numbers within each file
    assert set(got["source"]) == {str(p) for p in paths}
    with pytest.raises(ValueError, match="cannot read .*missing.jsonl"):
        verify_files([tmp_path / "missing.jsonl"], v, token_field="auth").compute()


def test_jwks_client_verifier_travels_as_configuration(client, rsa_key):
    from helpers.jwks_server import Provider

    provider = Provider()
    provider.jwks = {"keys": [{**rsa_key.public_jwk, "kid": "r1", "alg": "RS256", "use": "sig"}]}
    provider.start()
    try:
        toks = [
            turbojwt.encode(
                {"sub": f"u{i}", "exp": NOW + 3600},  # (judged now, minutes after NOW was taken)
                rsa_key.private_pem,
                algorithm="RS256",
                headers={"kid": "r1" if i % 5 else "zz"},
            )
            for i in range(60)
        ]
        jwks_client = turbojwt.JWKSClient(provider.url + "/jwks.json")
        v = turbojwt.Verifier(jwks_client, algorithms=["RS256"])
        ddf = dd.from_pandas(pd.DataFrame({"token": toks}), npartitions=4)
        got = verify_dataframe(ddf, v).compute()
        want = verify_batch(toks, turbojwt.KeySet(provider.jwks), algorithms=["RS256"]).to_arrow()
        assert [none(e) for e in got["error"]] == want.column("error").to_pylist()
        assert got["valid"].sum() == 48
        # Each worker process rebuilt the client from its configuration and fetched the set.
        identity = v._identity
        fetches = client.run(lambda: rebuilt(identity).key.stats()["fetches"])
        assert len(fetches) == 2 and all(n >= 1 for n in fetches.values())
        with pytest.raises(TypeError, match="does not pickle"):
            pickle.dumps(turbojwt.JWKSClient(provider.url + "/jwks.json", http_client=object()))
    finally:
        provider.stop()
