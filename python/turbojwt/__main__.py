"""turbojwt's command line: ``python -m turbojwt COMMAND`` or the ``turbojwt`` script.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``, which
registers the command and sets ``func`` (``args -> exit status``) as a default.
To add one (bench, verify-logs, serve ...), write ``turbojwt/cli/<name>.py`` with
that function and list the module in ``SUBCOMMAND_MODULES``. Subcommand modules
import anything heavy inside their ``func``, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Optional

# Order here is the order shown by --help.
SUBCOMMAND_MODULES: tuple = (
    "turbojwt.cli.demo",
    "turbojwt.cli.verify_logs",
    "turbojwt.cli.bench",
    "turbojwt.cli.serve",
    "turbojwt.cli.policy",
    "turbojwt.cli.revoke",
)


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("turbojwt")
    except PackageNotFoundError:
        pass
    except Exception:
        pass
    mod = sys.modules.get("turbojwt")
    return str(getattr(mod, "__version__", "unknown"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="turbojwt",
        description="turbojwt: fast, safe JWT verification (a PyJWT 2.x drop-in with a Rust core).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `turbojwt demo | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
