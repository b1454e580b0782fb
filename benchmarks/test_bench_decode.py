"""pytest-benchmark: decode a 12-claim token (audience + issuer checked) and RS256 encode.

    pytest benchmarks/ --benchmark-group-by=group
    pytest benchmarks/ -k "RS256 and decode" --benchmark-columns=median,iqr,ops

Every benchmark first checks the contender's answer (same claims back, all forged
tokens refused) and fails instead of timing a wrong answer.

Key forms:
  pem       the key as a string: PEM SubjectPublicKeyInfo (HS256: the secret as str)
  prepared  turbojwt/PyJWT: the pyca/cryptography public key object (HS256: secret bytes);
            oxyjwt: ``oxyjwt.DecodingKey.from_*`` (its own prepared key type)
"""

from __future__ import annotations

import pytest

import bench_common as bc

pytest.importorskip("pytest_benchmark", reason="pip install pytest-benchmark (or '.[bench]')")

LIBS = ("turbojwt", "pyjwt", "oxyjwt")
KEY_FORMS = ("pem", "prepared")


def _decode_key(libname: str, lib, alg: str, am: bc.AlgMaterial, key_form: str):
    if libname == "oxyjwt":
        if key_form == "prepared":
            return bc.oxyjwt_decoding_key(lib, alg, am)
        if alg != "HS256":
            pytest.skip("oxyjwt.decode refuses PEM strings for asymmetric algorithms "
                        "(InvalidKeyError: use DecodingKey.from_*)")
    return am.verify_key_str if key_form == "pem" else am.verify_key_obj


@pytest.mark.parametrize("key_form", KEY_FORMS)
@pytest.mark.parametrize("lib", LIBS, indirect=True)
@pytest.mark.parametrize("alg", bc.ALGS)
def test_decode(benchmark, request, lib, alg, key_form, material):
    libname = request.node.callspec.params["lib"]
    am = material.algs[alg]
    key = _decode_key(libname, lib, alg, am, key_form)
    call = bc.decode_call(lib, alg, key)

    problems = bc.check_decode(call, am, material.claims, bc.library_error_types(lib))
    assert not problems, problems

    benchmark.group = f"decode {alg}"
    benchmark.extra_info.update(library=libname, alg=alg, key_form=key_form)
    result = benchmark(call, am.token)
    assert result == material.claims


@pytest.mark.parametrize("alg", bc.ALGS)
def test_decode_turbojwt_verifier(benchmark, turbojwt_mod, alg, material):
    if not hasattr(turbojwt_mod, "Verifier"):
        pytest.skip("turbojwt has no Verifier")
    am = material.algs[alg]
    v = turbojwt_mod.Verifier(am.verify_key_str, algorithms=[alg], audience=bc.AUDIENCE, issuer=bc.ISSUER)
    problems = bc.check_decode(v.decode, am, material.claims, bc.library_error_types(turbojwt_mod))
    assert not problems, problems

    benchmark.group = f"decode {alg}"
    benchmark.extra_info.update(library="turbojwt.Verifier", alg=alg, key_form="pem")
    assert benchmark(v.decode, am.token) == material.claims


@pytest.mark.parametrize("lib", ("turbojwt", "pyjwt"), indirect=True)
def test_encode_rs256_pem(benchmark, request, lib, material):
    am = material.algs["RS256"]
    claims = material.claims

    token = lib.encode(claims, am.sign_key_str, algorithm="RS256")
    problems = bc.check_encoded_token(token, "RS256", am, claims)
    assert not problems, problems

    benchmark.group = "encode RS256 (PEM private key)"
    benchmark.extra_info.update(library=request.node.callspec.params["lib"], alg="RS256", key_form="pem")
    # PyJWT re-parses (and validates) the RSA private key on every call: tens of ms each.
    benchmark.pedantic(lib.encode, args=(claims, am.sign_key_str), kwargs={"algorithm": "RS256"},
                       rounds=10 if lib.__name__ == "jwt" else 200, warmup_rounds=1)
