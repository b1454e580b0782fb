"""Debian packages the end-to-end tests need (nginx, its lua module, LuaJIT, PyPy, Go),
installed with apt-get when missing, as .ci/run does up front."""

from __future__ import annotations

import os
import shutil
import subprocess


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
