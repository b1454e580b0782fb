"""PyJWT's ``jwt.exceptions``, ``jwt.warnings``, ``jwt.types`` and ``jwt.help`` against
turbojwt's; and the support modules import on their own, without the native core or the
JWS/JWT layers."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from helpers.pyjwt_modules import jexc, jhelp, jtypes, jwarn, texc, thelp, ttypes, twarn


def _classes(module: Any, base: type) -> dict[str, type]:
    return {
        name: obj
        for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, base) and obj.__module__ == module.__name__
    }


def test_exception_hierarchy_matches() -> None:
    theirs, ours = _classes(jexc, BaseException), _classes(texc, BaseException)
    assert len(theirs) == 19
    assert sorted(ours) == sorted(theirs)
    for name, cls in theirs.items():
        assert [c.__name__ for c in ours[name].__mro__] == [c.__name__ for c in cls.__mro__], name
        # each of our classes derives from our own base classes, not PyJWT's
        for base in ours[name].__mro__[1:]:
            if base.__name__ in theirs:
                assert base is ours[base.__name__]
        if name != "MissingRequiredClaimError":
            assert str(ours[name]("boom")) == str(cls("boom")) == "boom"
    t_err, o_err = jexc.MissingRequiredClaimError("exp"), texc.MissingRequiredClaimError("exp")
    assert str(o_err) == str(t_err) == 'Token is missing the "exp" claim'
    assert o_err.claim == t_err.claim and o_err.args == t_err.args
    assert issubclass(texc.InvalidSignatureError, texc.DecodeError)
    assert not issubclass(texc.InvalidKeyError, texc.InvalidTokenError)


def test_warning_classes_match() -> None:
    theirs, ours = _classes(jwarn, Warning), _classes(twarn, Warning)
    assert sorted(ours) == sorted(theirs) == ["InsecureKeyLengthWarning", "RemovedInPyjwt3Warning"]
    for name, cls in theirs.items():
        assert [c.__name__ for c in ours[name].__mro__] == [c.__name__ for c in cls.__mro__]
        assert ours[name].__mro__[1:] == cls.__mro__[1:]  # same builtin bases


def test_types_match() -> None:
    assert ttypes.JWKDict == jtypes.JWKDict
    assert ttypes.HashlibHash == jtypes.HashlibHash
    for name in ("SigOptions", "Options", "FullOptions"):
        o, t = getattr(ttypes, name), getattr(jtypes, name)
        assert o.__annotations__ == t.__annotations__, name
        assert o.__total__ == t.__total__
        assert o.__required_keys__ == t.__required_keys__
        assert o.__optional_keys__ == t.__optional_keys__


def test_help_info_shape() -> None:
    theirs, ours = jhelp.info(), thelp.info()
    assert {k: sorted(v) for k, v in ours.items()} == {k: sorted(v) for k, v in theirs.items()}
    for section in ("platform", "implementation", "cryptography"):
        assert ours[section] == theirs[section]
    assert isinstance(ours["pyjwt"]["version"], str)


def test_help_main_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    thelp.main()
    assert json.loads(capsys.readouterr().out) == thelp.info()


def test_modules_import_standalone() -> None:
    """No support module may pull in the native core or the JWS/JWT layers."""
    import subprocess

    # The package __init__ (the full facade) is bypassed on purpose: the
    # point is what these modules pull in by themselves.
    code = (
        "import importlib.util, sys, types\n"
        "spec = importlib.util.find_spec('turbojwt')\n"
        "pkg = types.ModuleType('turbojwt')\n"
        "pkg.__path__ = list(spec.submodule_search_locations)\n"
        "sys.modules['turbojwt'] = pkg\n"
        "import turbojwt.exceptions, turbojwt.warnings, turbojwt.types, turbojwt.utils\n"
        "import turbojwt.algorithms, turbojwt.api_jwk, turbojwt.jwk_set_cache\n"
        # jwks_client is left out: like PyJWT's, it decodes tokens through api_jwt.
        "import turbojwt.help\n"
        "bad = [m for m in ('turbojwt._native', 'turbojwt.api_jws', 'turbojwt.api_jwt', 'jwt')"
        " if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    env_path = [p for p in sys.path if p]
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": ":".join(env_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
