"""Several snapshots of a provider's JWK Set, merged by kid (a month of logs spans key
rotations): in the Python API (turbojwt.keyset.merge_jwks, KeySet.from_snapshots) and in
`turbojwt verify-logs --jwks A --jwks B`, which uses the same function."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import turbojwt
from turbojwt.__main__ import main
from turbojwt.exceptions import PyJWKSetError
from turbojwt.keyset import merge_jwks


@pytest.fixture(scope="module")
def second_rsa():
    return rsa.generate_private_key(65537, 2048)


def jwk_of(private_key, kid: str) -> dict:
    jwk = json.loads(turbojwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def sign(private_key, kid: str, sub: str = "u") -> str:
    return turbojwt.encode({"sub": sub}, private_key, algorithm="RS256", headers={"kid": kid})


def test_snapshots_merge_by_kid(rsa_key, second_rsa):
    first = {"keys": [{**rsa_key.public_jwk, "kid": "2026-10", "alg": "RS256"}]}
    # The next snapshot republishes the old key (same material) beside the new one.
    second = {"keys": [{**rsa_key.public_jwk, "kid": "2026-10", "alg": "RS256"}, jwk_of(second_rsa, "2026-11")]}
    merged = merge_jwks([("oct.json", first), ("nov.json", json.dumps(second))])
    assert [k["kid"] for k in merged["keys"]] == ["2026-10", "2026-11"]
    keys = turbojwt.KeySet.from_snapshots([("oct.json", first), ("nov.json", second)])
    old = turbojwt.encode({"sub": "a"}, rsa_key.private_pem, algorithm="RS256", headers={"kid": "2026-10"})
    new = sign(second_rsa, "2026-11")
    assert turbojwt.decode(old, keys, algorithms=["RS256"])["sub"] == "a"
    assert turbojwt.decode(new, keys, algorithms=["RS256"])["sub"] == "u"
    # A verifier over the merged set travels (pickles) as its JWKs.
    import pickle

    v = pickle.loads(pickle.dumps(turbojwt.Verifier(keys, algorithms=["RS256"])))
    assert v.decode(new)["sub"] == "u"


def test_one_kid_two_keys_is_refused_naming_both(rsa_key, second_rsa):
    a = {"keys": [{**rsa_key.public_jwk, "kid": "k1", "alg": "RS256"}]}
    b = {"keys": [jwk_of(second_rsa, "k1")]}
    with pytest.raises(PyJWKSetError, match=r"kid 'k1' names two different keys: one in a\.json, another in b\.json"):
        merge_jwks([("a.json", a), ("b.json", b)])
    # The same key under the same kid with another algorithm is another key too.
    c = {"keys": [{**rsa_key.public_jwk, "kid": "k1", "alg": "PS256"}]}
    with pytest.raises(PyJWKSetError, match="kid 'k1'"):
        turbojwt.KeySet.from_snapshots([("a.json", a), ("c.json", c)])
    with pytest.raises(PyJWKSetError, match=r"^b\.json: .*keys"):
        merge_jwks([("a.json", a), ("b.json", {"nokeys": []})])


def test_verify_logs_takes_several_jwks(tmp_path, capsys, rsa_key, second_rsa):
    (tmp_path / "oct.json").write_text(json.dumps({"keys": [{**rsa_key.public_jwk, "kid": "r1", "alg": "RS256"}]}))
    (tmp_path / "nov.json").write_text(
        json.dumps({"keys": [{**rsa_key.public_jwk, "kid": "r1", "alg": "RS256"}, jwk_of(second_rsa, "r2")]})
    )
    (tmp_path / "bad.json").write_text(json.dumps({"keys": [jwk_of(second_rsa, "r1")]}))
    old = turbojwt.encode({"sub": "a"}, rsa_key.private_pem, algorithm="RS256", headers={"kid": "r1"})
    src = tmp_path / "t.txt"
    src.write_text("\n".join([old, sign(second_rsa, "r2"), sign(second_rsa, "r3")]) + "\n")
    args = ["verify-logs", str(src), "--json", "--no-progress"]
    assert main([*args, "--jwks", str(tmp_path / "oct.json")]) == 1
    assert json.loads(capsys.readouterr().out)["outcomes"] == {"valid": 1, "PyJWKClientError": 2}
    assert main([*args, "--jwks", str(tmp_path / "oct.json"), "--jwks", str(tmp_path / "nov.json")]) == 1
    assert json.loads(capsys.readouterr().out)["outcomes"] == {"valid": 2, "PyJWKClientError": 1}
    assert main([*args, "--jwks", str(tmp_path / "nov.json"), "--jwks", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert "kid 'r1' names two different keys" in err and "nov.json" in err and "bad.json" in err
