"""Commands from Debian packages that tests run for real (nginx, redis-server): found on the
PATH or in the usual places, else installed with apt-get (as root, or with password-less
sudo). ``.ci/run`` installs the same packages up front."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence


def debian_command(command: str, package: str, places: Sequence[str]) -> str | None:
    """The path of ``command``, installing ``package`` when it is missing; None when it is
    missing and cannot be installed here."""
    found = shutil.which(command) or next((p for p in places if os.access(p, os.X_OK)), None)
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"] if shutil.which("sudo") else None
    if shutil.which("apt-get") and sudo is not None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

        def apt(*args: str) -> bool:
            return subprocess.run([*sudo, "apt-get", *args], env=env, capture_output=True).returncode == 0

        install = ("install", "-y", "-q", package)
        if apt(*install) or (apt("update", "-q") and apt(*install)):
            return shutil.which(command) or next((p for p in places if os.access(p, os.X_OK)), None)
    return None
