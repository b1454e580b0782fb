"""Environment report for bug reports: ``python -m turbojwt.help``.

Same JSON shape as PyJWT's ``jwt.help`` so existing tooling can read it.
"""

from __future__ import annotations

import json
import platform
import sys

import cryptography

cryptography_version = cryptography.__version__


def _package_version() -> str:
    # Read lazily from the package so this module imports on its own.
    version = getattr(sys.modules.get(__package__ or "turbojwt"), "__version__", None)
    if version:
        return str(version)
    try:
        from importlib.metadata import version as dist_version

        return dist_version("turbojwt")
    except Exception:  # not installed as a distribution (e.g. source tree)
        return ""


def __getattr__(name: str) -> str:
    # PyJWT exposes the version as a module constant; ours is looked up on
    # access because the package may not be initialised when this loads.
    if name == "pyjwt_version":
        return _package_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _implementation_version() -> str:
    implementation = platform.python_implementation()
    if implementation == "CPython":
        return platform.python_version()
    if implementation == "PyPy":
        info = sys.pypy_version_info  # type: ignore[attr-defined]
        version = f"{info.major}.{info.minor}.{info.micro}"
        if info.releaselevel != "final":
            version += info.releaselevel
        return version
    return "Unknown"


def info() -> dict[str, dict[str, str]]:
    """Platform, interpreter and library versions, as a nested dict."""
    try:
        platform_info = {"system": platform.system(), "release": platform.release()}
    except OSError:
        platform_info = {"system": "Unknown", "release": "Unknown"}

    return {
        "platform": platform_info,
        "implementation": {
            "name": platform.python_implementation(),
            "version": _implementation_version(),
        },
        "cryptography": {"version": cryptography_version},
        # Key kept as "pyjwt" so consumers of PyJWT's report format still work.
        "pyjwt": {"version": _package_version()},
    }


def main() -> None:
    """Print :func:`info` as pretty JSON."""
    print(json.dumps(info(), sort_keys=True, indent=2))


if __name__ == "__main__":
    main()
