"""``turbojwt serve``: the forward-auth service (see ``turbojwt.gateway.serve``) on granian.

Granian, not uvicorn (with uvloop and httptools): measured with the same app, one worker,
RS256 tokens (benchmarks/forward_auth.py; numbers in benchmarks/RESULTS.md), granian answered
more requests per second in every run, with and without the token cache (3-40% more without
it, 30-55% more with it on the 2-core development machine), at lower latency. Its HTTP stack runs on Rust threads, which
overlap with the native verification (that releases the GIL for public-key algorithms).

SIGHUP (and, with ``--reload-on-change``, a change of the policy or key files) reloads the
policy in every worker without dropping a request (``turbojwt.gateway.reload``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the forward-auth service (nginx auth_request, Traefik ForwardAuth, Envoy ext_authz)",
        description="Answers a proxy's auth sub-request: 200 with claim headers for a token the policy "
        "accepts, else 401/403 with an RFC 6750 WWW-Authenticate header. /healthz and "
        "/metrics (Prometheus) are served too.",
    )
    p.add_argument("--config", required=True, help="gateway policy (TOML; see turbojwt.gateway.policy)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--scheme", help="Authorization scheme (default Bearer)")
    p.add_argument("--cookie", help="also read the token from this cookie")
    p.add_argument("--query-param", help="also read the token from this query parameter")
    # (These three, or the policy's [token] table; not both.)
    p.add_argument(
        "--proxy",
        choices=["nginx", "traefik", "envoy"],
        help="the proxy whose headers give the original method and path (overrides [forward_auth] proxy; "
        "needed by a policy with [[route]] tables)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1; each keeps its own caches and /metrics counters)",
    )
    p.add_argument("--no-prewarm", action="store_true", help="do not fetch JWKS keys at start-up")
    p.add_argument(
        "--reload-on-change",
        action="store_true",
        help="reload the policy when its file or a key file it names changes (SIGHUP always reloads)",
    )
    p.add_argument(
        "--watch-interval", type=float, default=1.0, help="seconds between checks of --reload-on-change (default 1)"
    )
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


_ENV = "TURBOJWT_SERVE_ARGS"


def build_app(
    config: str,
    scheme: str | None = None,
    cookie: str | None = None,
    query_param: str | None = None,
    prewarm: bool = True,
    proxy: str | None = None,
    watch: float | None = None,
):  # -> ForwardAuthApp
    from ..gateway.asgi import TokenSource
    from ..gateway.policy import Policy, PolicyError
    from ..gateway.reload import PolicyReloader
    from ..gateway.serve import ForwardAuthApp

    source = None
    if scheme is not None or cookie is not None or query_param is not None:
        try:
            source = TokenSource(scheme or "Bearer", cookie, query_param)
        except ValueError as e:
            raise PolicyError(str(e)) from e
    # (A policy with a [token] table as well is refused by ForwardAuthApp, at start and on reloads.)
    reloader = PolicyReloader(lambda: Policy.from_toml(config), Path(config), watch)
    return ForwardAuthApp(Policy.from_toml(config), source, prewarm=prewarm, proxy=proxy, reloader=reloader)


def app_from_env():  # -> ForwardAuthApp
    """Granian's factory in each worker process: the arguments come through the environment."""
    return build_app(**json.loads(os.environ[_ENV]))


def run(args: argparse.Namespace) -> int:
    settings = {
        "config": str(Path(args.config).resolve()),
        "scheme": args.scheme,
        "cookie": args.cookie,
        "query_param": args.query_param,
        "prewarm": not args.no_prewarm,
        "proxy": args.proxy,
        "watch": args.watch_interval if args.reload_on_change else None,
    }
    try:
        from granian import Granian
        from granian.constants import Interfaces

        from ..gateway.policy import PolicyError

        build_app(**{**settings, "prewarm": False})  # refuse a bad policy here, with exit status 2
    except ImportError as e:
        print(f"turbojwt serve: {e} (pip install 'turbojwt[gateway]')", file=sys.stderr)
        return 2
    except PolicyError as e:
        print(f"turbojwt serve: {e}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("turbojwt serve: --workers must be at least 1", file=sys.stderr)
        return 2
    if not args.watch_interval > 0:
        print("turbojwt serve: --watch-interval must be a positive number of seconds", file=sys.stderr)
        return 2
    os.environ[_ENV] = json.dumps(settings)
    from ..gateway.reload import forward_sighup_to_workers

    # SIGHUP reloads the policy inside each worker (turbojwt.gateway.reload says why not
    # granian's own respawning reload).
    forward_sighup_to_workers()
    Granian(
        "turbojwt.cli.serve:app_from_env",
        factory=True,
        interface=Interfaces.ASGI,
        address=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        log_access=False,
    ).serve()
    return 0
