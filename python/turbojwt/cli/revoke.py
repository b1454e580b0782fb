"""``turbojwt revoke``: adds an entry to the revocation list a gateway policy configures (its
``[revocation]`` table: a file or Redis; the memory store belongs to one process and cannot
be written from here).

    turbojwt revoke --config gateway.toml --jti ID [--exp TIME]
    turbojwt revoke --config gateway.toml --sub S [--before TIME] [--exp TIME]

Times are epoch seconds or ISO 8601 (the project's one time parser, ``turbojwt._time``).
Prints the entry written, as JSON. Exit status: 0 written, 1 the store could not be
written, 2 bad arguments or policy.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "revoke",
        help="revoke a token (by jti) or a subject's tokens issued before a time",
        description="Writes to the revocation store of a gateway policy ([revocation] store = "
        '"file" or "redis"); running gateways pick the entry up by themselves. The entry expires '
        "when the token would have (--exp, plus the largest provider leeway), at most the "
        "store's max_ttl.",
    )
    p.add_argument("--config", required=True, help="gateway policy (TOML) whose [revocation] store to write")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--jti", help="revoke the token with this jti")
    what.add_argument("--sub", help="revoke every token of this subject issued before --before")
    p.add_argument("--before", help="with --sub: tokens issued before this time (default: now)")
    p.add_argument("--exp", help="when the entry may be forgotten: the token's exp (for --sub, the latest one)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..gateway.policy import Policy, PolicyError
    from ..gateway.revocation import RevocationStoreError

    if args.before is not None and args.sub is None:
        print("turbojwt revoke: --before goes with --sub", file=sys.stderr)
        return 2
    try:
        policy = Policy.from_toml(args.config)
    except PolicyError as e:
        print(f"turbojwt revoke: {e}", file=sys.stderr)
        return 2
    revocations = policy.revocations
    store = revocations.settings.store
    try:
        if store == "memory":
            print(
                "turbojwt revoke: the policy's revocation store is \"memory\" (one process's own); "
                'configure [revocation] store = "file" or "redis"',
                file=sys.stderr,
            )
            return 2
        try:
            if args.jti is not None:
                entry = revocations.revoke(args.jti, exp=args.exp)
            else:
                entry = revocations.revoke_subject(args.sub, before=args.before, exp=args.exp)
        except (TypeError, ValueError) as e:
            print(f"turbojwt revoke: {e}", file=sys.stderr)
            return 2
        except RevocationStoreError as e:
            print(f"turbojwt revoke: nothing was written: {e.__cause__ or e}", file=sys.stderr)
            return 1
        except OSError as e:
            print(f"turbojwt revoke: nothing was written: {e}", file=sys.stderr)
            return 1
    finally:
        revocations.close()
    print(entry.text())
    return 0
