"""``turbojwt policy``: ``check`` validates a gateway policy file; ``explain`` says which
route and rules apply to a request (method and path), as ``Policy.route_for`` decides."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "policy",
        help="check a gateway policy file, or explain which route and rules apply to a request",
        description="Loading a policy checks everything checked when `turbojwt serve` starts (no keys are "
        "fetched). Exit status 0 when the policy is valid, 2 when it is not (with the reason).",
    )
    commands = p.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    check = commands.add_parser("check", help="validate a policy file")
    check.add_argument("config", help="gateway policy (TOML)")
    check.set_defaults(func=run_check)
    explain = commands.add_parser(
        "explain",
        help="show the route, auth mode, roles, scopes and max_age for a request",
        description="Example: turbojwt policy explain gateway.toml GET /secure/x",
    )
    explain.add_argument("config", help="gateway policy (TOML)")
    explain.add_argument("method", help="the request method (GET, POST, ...)")
    explain.add_argument("path", help="the request path as sent (a query after '?' is ignored)")
    explain.set_defaults(func=run_explain)
    return p


def _load(config: str) -> Any:
    from ..gateway.policy import Policy, PolicyError

    try:
        return Policy.from_toml(config)
    except PolicyError as e:
        print(f"turbojwt policy: {e}", file=sys.stderr)
        return None


def run_check(args: argparse.Namespace) -> int:
    policy = _load(args.config)
    if policy is None:
        return 2
    table = policy.route_table
    routes = "no [[route]] tables (every request needs a token)" if table is None else f"{len(table.routes)} route(s)"
    names = ", ".join(p.name for p in policy.providers)
    consumers = policy.consumers.consumers if policy.consumers else []
    who = f", {len(consumers)} consumer(s) ({', '.join(c.name for c in consumers)})" if consumers else ""
    print(f"{args.config}: valid; {len(policy.providers)} provider(s) ({names}){who}, {routes}")
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from ..gateway.routes import PathError

    policy = _load(args.config)
    if policy is None:
        return 2
    raw = args.path.split("?", 1)[0]
    try:
        number, route, normal = policy.route_for(args.method, raw, strict_path=False)
    except PathError as e:
        print(f"request:   {args.method} {raw}")
        print(f"answer:    400 invalid_request ({e})")
        return 0
    lines = [("request", f"{args.method} {raw}")]
    if normal is None:
        lines.append(("path", "not read (the policy has no [[route]] tables)"))
    else:
        lines.append(("path", normal.path))
        if normal.segments_changed:
            lines.append(
                (
                    "note",
                    "its '//', '.' or '..' segments are resolved by the ASGI middleware (which passes the "
                    "normal path on); turbojwt serve, require_token and JWTAuthBackend refuse it (400)",
                )
            )
    if route.path is None:
        what = "[default_route]" if number == 0 and policy.has_routes else route.name
    else:
        methods = ", ".join(sorted(route.methods)) if route.methods else "any"
        what = f"route {number}{f' ({route.name})' if route.name else ''}: path {route.path}, methods {methods}"
    lines.append(("route", what))
    lines.append(("auth", route.auth))
    if route.auth != "public":
        if route.roles_any:
            lines.append(("roles", "any of " + ", ".join(route.roles_any)))
        if route.roles_all:
            lines.append(("roles", "all of " + ", ".join(route.roles_all)))
        scopes = [*policy.required_scopes, *route.scopes]
        lines.append(("scopes", " ".join(scopes) if scopes else "none"))
        for p in policy.providers:
            max_age = p.max_age if p.max_age is not None else policy.max_age
            rules = p.roles or policy.roles
            mapping = "" if rules.mapping is None else ", mapped"
            age = "none" if max_age is None else f"{max_age:g} s"
            lines.append(("provider", f"{p.name} ({p.issuer}): max_age {age}, roles from {rules.claim}{mapping}"))
        for c in policy.consumers.consumers if policy.consumers else ():
            age = "none" if policy.max_age is None else f"{policy.max_age:g} s"
            held = ", ".join(c.roles) or "none"
            lines.append(
                (
                    "consumer",
                    f"{c.name} ({c.algorithm}): max_age {age}, roles {held}, scopes {' '.join(c.scopes) or 'none'}",
                )
            )
    width = max(len(k) for k, _ in lines) + 1
    for key, value in lines:
        print(f"{key + ':':<{width}} {value}")
    return 0
