"""The application of tests/gateway/test_consumers_asgi_server.py, served by a real ASGI
server: ``JWTAuthMiddleware`` with the policy named by ``TURBOJWT_TEST_POLICY`` in front of
an app that answers with the request it was given (path, query, headers, consumer)."""

from __future__ import annotations

import json
import os
from typing import Any

from turbojwt.gateway import JWTAuthMiddleware, Policy


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = json.dumps(
        {
            "path": scope["path"],
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "consumer": scope["state"]["jwt_consumer"],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def app() -> JWTAuthMiddleware:
    """Granian's factory."""
    return JWTAuthMiddleware(echo, Policy.from_toml(os.environ["TURBOJWT_TEST_POLICY"]))
