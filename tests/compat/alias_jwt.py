"""Makes ``import jwt`` and ``jwt.<submodule>`` load turbojwt: imported before pytest starts
(pytest resolves the warning filters of PyJWT's configuration, which name
``jwt.warnings.InsecureKeyLengthWarning``, before it loads ``-p`` plugins), so that PyJWT's
own test suite tests turbojwt."""

import importlib
import sys

import turbojwt

SUBMODULES = (
    "algorithms",
    "api_jwk",
    "api_jws",
    "api_jwt",
    "exceptions",
    "help",
    "jwk_set_cache",
    "jwks_client",
    "types",
    "utils",
    "warnings",
)

sys.modules["jwt"] = turbojwt
for _name in SUBMODULES:
    sys.modules[f"jwt.{_name}"] = importlib.import_module(f"turbojwt.{_name}")
