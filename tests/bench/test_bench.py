"""The benchmark harness behind `turbojwt bench`: it runs, its JSON and chart are well
formed, a missing library is skipped with a note, and a wrong adapter fails its check
instead of being timed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from turbojwt.bench import report
from turbojwt.bench.adapters import BUILTIN, Adapter, all_adapters
from turbojwt.bench.harness import check_decoder
from turbojwt.bench.material import ALGORITHMS, make_case
from turbojwt.bench.run import benchmark

pytest.importorskip("matplotlib")


@pytest.mark.e2e  # (runs the command in a subprocess)
def test_cli_quick_run_writes_json_and_png(tmp_path):
    out_json, out_png, out_md = tmp_path / "b.json", tmp_path / "b.png", tmp_path / "b.md"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "turbojwt",
            "bench",
            "--quick",
            "--libs",
            "turbojwt,pyjwt",
            "--algs",
            "HS256,ES256",
            "--rounds",
            "2",
            "--json",
            str(out_json),
            "--plot",
            str(out_png),
            "--out",
            str(out_md),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "## HS256 decode" in r.stdout and "## ES256 encode" in r.stdout
    assert out_md.read_text().strip() == r.stdout.strip()
    data = json.loads(out_json.read_text())
    assert set(data) >= {"machine", "mode", "algorithms", "versions", "skipped_libraries", "noisy", "rows"}
    assert data["mode"] == "quick" and data["algorithms"] == ["HS256", "ES256"]
    assert {"cpu", "cores", "python"} <= set(data["machine"])
    groups = {row["group"] for row in data["rows"]}
    assert groups == {"HS256 decode", "HS256 encode", "ES256 decode", "ES256 encode"}
    turbo = [row for row in data["rows"] if row["library"] == "turbojwt" and row["group"] == "HS256 decode"]
    assert {row["key_form"] for row in turbo} == {"pem", "prepared"}
    for row in turbo:
        assert row["status"] == "ok" and row["rounds"] == 2
        assert row["median_us"] > 0 and row["ops_per_s"] > 0 and row["speedup_vs_pyjwt"] > 0 and row["x_floor"] > 0
    floors = [row for row in data["rows"] if row["floor"]]
    assert {row["library"] for row in floors} == {"aws-lc", "cryptography"}
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _registry(**extra: Adapter) -> dict[str, Adapter]:
    reg = {a.name: a for a in BUILTIN}
    reg.update(extra)
    return reg


def test_missing_library_is_skipped_with_a_note():
    ghost = Adapter("ghost", "ghost.decode", "turbojwt_no_such_module_xyz", "ghost")
    result = benchmark(
        mode="quick",
        algorithms=["HS256"],
        libs=["turbojwt", "ghost", "unknown"],
        ops=["decode"],
        adapters=_registry(ghost=ghost),
        rounds=1,
    )
    assert result.skipped["ghost"].startswith("not installed")
    assert result.skipped["unknown"] == "no adapter for this library"
    text = report.markdown(result, "turbojwt bench")
    assert "**Skipped ghost:** not installed" in text
    assert not [r for r in result.rows if r.lib == "ghost"]


def test_wrong_adapters_fail_the_check_and_are_not_timed():
    def wrong_claims(lib, case, key_form):
        return lambda token: {"sub": "someone else"}

    def trusts_anything(lib, case, key_form):
        # Reads the claims without checking the signature: forged tokens get through.
        return lambda token: lib.decode(token, options={"verify_signature": False})

    def broken_setup(lib, case, key_form):
        raise RuntimeError("cannot parse the key")

    reg = _registry(
        liar=Adapter("liar", "liar.decode", "jwt", "PyJWT", make_decoder=wrong_claims),
        trusting=Adapter("trusting", "trusting.decode", "jwt", "PyJWT", make_decoder=trusts_anything),
        broken=Adapter("broken", "broken.decode", "jwt", "PyJWT", make_decoder=broken_setup),
    )
    result = benchmark(
        mode="quick",
        algorithms=["HS256", "RS256"],
        libs=["turbojwt", "liar", "trusting", "broken"],
        ops=["decode"],
        adapters=reg,
        rounds=1,
    )
    by_lib = {}
    for r in result.rows:
        by_lib.setdefault(r.lib, []).append(r)
    for r in by_lib["liar"]:
        assert r.status == "failed" and r.reason.startswith("returned other claims") and not r.samples
    for r in by_lib["trusting"]:
        assert r.status == "failed" and "ACCEPTED a forged token" in r.reason and not r.samples
    for r in by_lib["broken"]:
        assert r.status == "failed" and "cannot parse the key" in r.reason
    assert all(r.samples for r in by_lib["turbojwt"])
    text = report.markdown(result, "turbojwt bench")
    assert "failed the correctness check, not timed" in text
    data = report.to_json(result)
    assert any(row["status"] == "failed" and row["library"] == "trusting" for row in data["rows"])


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_turbojwt_and_pyjwt_adapters_pass_every_algorithm(alg):
    case = make_case(alg)
    adapters = all_adapters()
    for name in ("turbojwt", "turbojwt-verifier", "pyjwt"):
        for form in ("pem", "prepared"):
            assert check_decoder(adapters[name].decoder(case, form), case) is None


def test_bad_cli_arguments():
    from turbojwt.__main__ import main

    assert main(["bench", "--algs", "HS999", "--libs", "turbojwt"]) == 2
    assert main(["bench", "--ops", "sign"]) == 2


def test_compatibility_view_counts_mismatches_and_flags_accepted_forgeries():
    from turbojwt.bench.compat import compatibility, markdown

    def trusts_anything(lib, case, key_form):
        return lambda token: lib.decode(token, options={"verify_signature": False})

    reg = all_adapters()
    trusting = Adapter("trusting", "trusting.decode", "jwt", "PyJWT", make_decoder=trusts_anything)
    rows = {r.label: r for r in compatibility([reg["turbojwt"], reg["pyjwt"], trusting], ["HS256", "ES256"])}
    assert rows["PyJWT"].matching == rows["PyJWT"].total > 40
    turbo = rows["turbojwt.decode"]
    assert not turbo.attacks_accepted
    # the one deliberate difference in this corpus: base64url padding is refused
    assert all("padded signature (refused)" in d for d in turbo.differing) and turbo.differing
    assert rows["trusting.decode"].attacks_accepted
    text = "\n".join(markdown(list(rows.values())))
    assert "**" in text.splitlines()[-1]  # accepted forgeries are shown in bold


def test_hs256_stage_timer_takes_valid_tokens_only():
    # The floor under benchmarks/batch.py's rows: every stage is timed, over tokens that
    # really verify (a wrong secret or a malformed token is refused, not timed).
    import turbojwt
    from turbojwt._native import bench

    secret = b"stage-timer-secret-of-at-least-32-bytes"
    tokens = [turbojwt.encode({"sub": f"u{i}", "exp": 2_000_000_000}, secret) for i in range(50)]
    stages = dict(bench.hs256_stages(tokens, secret, 2))
    assert list(stages) == ["split", "base64", "claims", "hmac"]
    assert all(v >= 0 for v in stages.values())
    with pytest.raises(ValueError, match="token 0 .*signature"):
        bench.hs256_stages(tokens, b"another-secret-of-at-least-32-bytes!!", 1)
    with pytest.raises(ValueError, match="token 50"):
        bench.hs256_stages([*tokens, "a.b"], secret, 1)
