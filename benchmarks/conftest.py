"""Fixtures for the pytest-benchmark suite in benchmarks/.

Run with ``pytest benchmarks/`` (the normal test run only collects tests/).
turbojwt and oxyjwt are optional: their benchmarks skip with a reason when the
package (or turbojwt's native module) is not installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import bench_common as bc  # noqa: E402

@pytest.fixture(scope="session")
def material() -> bc.Material:
    """Fresh keys, the 12-claim payload and PyJWT-signed reference tokens (+ forgeries)."""
    return bc.make_material()


@pytest.fixture(scope="session")
def pyjwt_mod():
    import jwt

    return jwt


@pytest.fixture(scope="session")
def turbojwt_mod():
    mod, why = bc.load_turbojwt()
    if mod is None:
        pytest.skip(why)
    return mod


@pytest.fixture(scope="session")
def oxyjwt_mod():
    mod, why = bc.load_oxyjwt()
    if mod is None:
        pytest.skip(why)
    return mod


@pytest.fixture
def lib(request):
    """Indirect fixture: 'turbojwt' | 'pyjwt' | 'oxyjwt' -> the module (or a skip)."""
    return request.getfixturevalue(f"{request.param}_mod")
