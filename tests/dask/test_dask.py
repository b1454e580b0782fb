"""turbojwt.dask on a real Dask cluster (a LocalCluster of two single-threaded worker
processes on loopback): the same verdicts as a local verify_batch, the verifier rebuilt once
per worker process."""

from __future__ import annotations

import pickle
import time

import pytest

import turbojwt
from turbojwt import verify_batch
from turbojwt.arrow import VERDICT_COLUMNS

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

from turbojwt.dask import verify_dataframe  # noqa: E402

SECRET = "s" * 32
OTHER = "o" * 32
NOW = int(time.time())


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


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
        g = [None if x is None or x != x else x for x in got[name].tolist()]
        assert g == want.column(name).to_pylist(), name
    # Each worker process rebuilt the verifier once, for all of its partitions.
    kept = client.run(lambda: list(turbojwt.verifier._UNPICKLED))
    assert len(kept) == 2 and all(ids == [v._identity] for ids in kept.values())


def test_bad_input_is_refused_before_the_graph_runs(client):
    ddf = dd.from_pandas(pd.DataFrame({"jwt": ["a.b.c"], "n": [1]}), npartitions=1)
    v = turbojwt.Verifier(SECRET, algorithms=["HS256"])
    with pytest.raises(ValueError, match="no column 'token'"):
        verify_dataframe(ddf, v)
    with pytest.raises(TypeError, match="column 'n' holds Int64, not tokens"):
        verify_dataframe(ddf, v, token_column="n").compute()
    with pytest.raises(TypeError, match="turbojwt.Verifier"):
        verify_dataframe(ddf, SECRET)
