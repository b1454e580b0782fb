"""pytest-benchmark suites: decode and encode for nine algorithms with every Python JWT
library that has an adapter in ``turbojwt.bench`` (the same calls ``turbojwt bench``
times), and batch verification.

    pytest benchmarks/ --benchmark-group-by=group --benchmark-json=out.json
    pytest benchmarks/ -k "RS256 and decode" --benchmark-columns=median,iqr,ops

Every benchmark first passes the correctness gate (same claims back, every forged token
refused) and fails instead of timing a wrong answer; a library that is not installed, or
cannot do a case, is skipped with the reason. Not collected by the normal test run.
"""

from __future__ import annotations

import pytest

from turbojwt.bench.adapters import KEY_FORMS, Unsupported, all_adapters
from turbojwt.bench.harness import check_decoder, check_encoder
from turbojwt.bench.material import ALGORITHMS, make_case

pytest.importorskip("pytest_benchmark", reason="pip install pytest-benchmark (or '.[bench]')")

ADAPTERS = all_adapters()


@pytest.fixture(scope="module", params=ALGORITHMS)
def case(request):
    return make_case(request.param)


def _adapter(name):
    adapter = ADAPTERS[name]
    try:
        adapter.load()
    except ImportError as e:
        pytest.skip(f"{name} is not installed: {e}")
    return adapter


@pytest.mark.parametrize("key_form", KEY_FORMS)
@pytest.mark.parametrize("lib", list(ADAPTERS))
def test_decode(benchmark, case, lib, key_form):
    adapter = _adapter(lib)
    try:
        decode = adapter.decoder(case, key_form)
    except Unsupported as e:
        pytest.skip(str(e))
    problem = check_decoder(decode, case)
    assert problem is None, problem
    benchmark.group = f"{case.alg} decode"
    benchmark.extra_info.update(library=lib, alg=case.alg, key_form=key_form)
    assert benchmark(decode, case.token) == case.claims


@pytest.mark.parametrize("lib", list(ADAPTERS))
def test_encode(benchmark, case, lib):
    adapter = _adapter(lib)
    try:
        encode = adapter.encoder(case)
    except Unsupported as e:
        pytest.skip(str(e))
    problem = check_encoder(encode, case)
    assert problem is None, problem
    benchmark.group = f"{case.alg} encode"
    benchmark.extra_info.update(library=lib, alg=case.alg)
    benchmark(encode, case.claims)


@pytest.mark.parametrize("alg", ["HS256", "RS256"])
@pytest.mark.parametrize("claims", [False, True], ids=["verdicts", "claims"])
def test_verify_batch(benchmark, alg, claims):
    import turbojwt

    case = make_case(alg)
    n = 100_000 if alg == "HS256" else 5_000
    tokens = [case.token] * n
    key = case.secret if case.secret is not None else case.public_pem
    verifier = turbojwt.Verifier(key, algorithms=[alg], audience=case.audience, issuer=case.issuer)
    assert all(verifier.verify_batch(tokens[:100]).valid)
    benchmark.group = f"{alg} verify_batch ({n:,} tokens per call)"
    benchmark.extra_info.update(library="turbojwt", alg=alg, tokens=n, claims=claims)
    result = benchmark.pedantic(verifier.verify_batch, args=(tokens,), kwargs={"claims": claims}, rounds=5)
    assert len(result) == n


def test_pyjwt_loop_for_batch_comparison(benchmark):
    """The batch rows' baseline: PyJWT decoding the same HS256 tokens one by one."""
    import jwt

    case = make_case("HS256")
    tokens = [case.token] * 2_000

    def loop():
        for t in tokens:
            jwt.decode(t, case.secret, algorithms=["HS256"], audience=case.audience, issuer=case.issuer)

    benchmark.group = "HS256 verify_batch (100,000 tokens per call)"
    benchmark.extra_info.update(library="pyjwt loop", alg="HS256", tokens=len(tokens))
    benchmark.pedantic(loop, rounds=3)
