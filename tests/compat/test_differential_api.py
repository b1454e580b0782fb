"""Differential API surface: PyJWT's public names, exception and warning classes and
algorithm registry exist in turbojwt alike; and the differential corpus covers every
algorithm, mutation and option set."""

from __future__ import annotations

from typing import Any

import jwt

import turbojwt
from helpers.differential import ALGS, CASES, MUTATIONS, OPTION_SETS
from helpers.verdicts import assert_same_verdict, verdict


def test_corpus_is_large_and_covers_every_algorithm() -> None:
    assert len(CASES) > 3000
    assert {c.alg for c in CASES} >= set(ALGS)
    assert {c.token[1] for c in CASES if c.token[0] == "mut"} == set(MUTATIONS)
    assert {c.opts for c in CASES} == set(OPTION_SETS)


def test_public_names_exist() -> None:
    missing = [n for n in jwt.__all__ if not hasattr(turbojwt, n)]
    assert not missing, f"turbojwt lacks PyJWT public names: {missing}"
    for mod in ("exceptions", "api_jws", "api_jwt", "algorithms"):
        assert hasattr(turbojwt, mod), f"turbojwt.{mod} missing"


def _exception_classes(mod: Any) -> dict[str, type]:
    return {n: o for n, o in vars(mod).items() if isinstance(o, type) and issubclass(o, BaseException)}


def test_exception_hierarchy_matches() -> None:
    py = _exception_classes(jwt.exceptions)
    tj = _exception_classes(turbojwt.exceptions)
    for name, cls in py.items():
        if cls.__module__ != "jwt.exceptions":
            continue
        assert name in tj, f"turbojwt.exceptions.{name} missing"
        py_mro = [c.__name__ for c in cls.__mro__]
        tj_mro = [c.__name__ for c in tj[name].__mro__]
        assert tj_mro == py_mro, f"{name}: {tj_mro} != {py_mro}"
        if hasattr(turbojwt, name):
            assert getattr(turbojwt, name) is tj[name]
    assert str(turbojwt.exceptions.MissingRequiredClaimError("exp")) == 'Token is missing the "exp" claim'
    assert turbojwt.exceptions.MissingRequiredClaimError("aud").claim == "aud"


def test_warning_classes() -> None:
    assert issubclass(turbojwt.InsecureKeyLengthWarning, UserWarning)
    assert turbojwt.InsecureKeyLengthWarning.__name__ == "InsecureKeyLengthWarning"


def test_algorithm_registry_matches(keyring) -> None:
    assert sorted(turbojwt.PyJWS().get_algorithms()) == sorted(jwt.PyJWS().get_algorithms())
    for name in ("HS256", "RS256", "ES256", "EdDSA", "none"):
        assert type(turbojwt.get_algorithm_by_name(name)).__name__ == type(jwt.get_algorithm_by_name(name)).__name__
    py = verdict(jwt, "get_algorithm_by_name", "HS1024")
    tj = verdict(turbojwt, "get_algorithm_by_name", "HS1024")
    assert_same_verdict(py, tj)
