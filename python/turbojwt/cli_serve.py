"""``turbojwt serve``: the forward-auth service (see ``turbojwt.gateway.serve``) on uvicorn."""

from __future__ import annotations

import argparse
import sys


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
    p.add_argument("--scheme", default="Bearer", help="Authorization scheme (default Bearer)")
    p.add_argument("--cookie", help="also read the token from this cookie")
    p.add_argument("--query-param", help="also read the token from this query parameter")
    p.add_argument("--no-prewarm", action="store_true", help="do not fetch JWKS keys at start-up")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def build_app(args: argparse.Namespace):  # -> ForwardAuthApp
    from .gateway.asgi import TokenSource
    from .gateway.policy import Policy
    from .gateway.serve import ForwardAuthApp

    policy = Policy.from_toml(args.config)
    return ForwardAuthApp(policy, TokenSource(args.scheme, args.cookie, args.query_param),
                          prewarm=not args.no_prewarm)


def run(args: argparse.Namespace) -> int:
    try:
        from .gateway.policy import PolicyError

        app = build_app(args)
    except ImportError as e:
        print(f"turbojwt serve: {e} (pip install 'turbojwt[gateway]')", file=sys.stderr)
        return 2
    except PolicyError as e:
        print(f"turbojwt serve: {e}", file=sys.stderr)
        return 2
    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False, lifespan="on")
    return 0
