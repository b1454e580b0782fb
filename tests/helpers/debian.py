"""Debian packages the tests run for real (nginx and its lua module, redis-server, LuaJIT,
PyPy, Go): commands found on the PATH or in the usual places, else installed with apt-get
(as root, or with password-less sudo). ``.ci/run`` installs the same packages up front."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence


def apt_install(*packages: str) -> bool:
    """Installs Debian packages with apt-get (as root, or with passwordless sudo); False when
    that cannot be done here or fails."""
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"] if shutil.which("sudo") else None
    if not shutil.which("apt-get") or sudo is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> bool:
        return subprocess.run([*sudo, "apt-get", *args], env=env, capture_output=True).returncode == 0

    install = ("install", "-y", "-q", *packages)
    return apt(*install) or (apt("update", "-q") and apt(*install))


def debian_command(command: str, package: str, places: Sequence[str]) -> str | None:
    """The path of ``command``, installing ``package`` when it is missing; None when it is
    missing and cannot be installed here."""

    def find() -> str | None:
        return shutil.which(command) or next((p for p in places if os.access(p, os.X_OK)), None)

    found = find()
    if found is None and apt_install(package):
        found = find()
    return found
