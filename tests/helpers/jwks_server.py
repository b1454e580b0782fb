"""A real local HTTP server standing in for an identity provider: it serves a JWKS and an
OpenID discovery document whose content, cache headers, delays and failures a test
controls, and counts the requests it gets."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Provider:
    """Mutable responses: ``jwks`` (dict), ``status``, ``headers``, ``delay`` (s), ``body``
    (raw bytes instead of the JWKS), ``config`` (the discovery document)."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.status = 200
        self.headers: dict[str, str] = {"Cache-Control": "max-age=300"}
        self.delay = 0.0
        self.body: bytes | None = None
        self.config: dict[str, Any] | None = None
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Provider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with provider.lock:
                    provider.hits[self.path] += 1
                    delay, status, headers = provider.delay, provider.status, dict(provider.headers)
                    if self.path == "/.well-known/openid-configuration":
                        body = json.dumps(provider.config or {}).encode()
                    elif self.path == "/jwks.json":
                        body = provider.body if provider.body is not None else json.dumps(provider.jwks).encode()
                    else:
                        status, body = 404, b"not found"
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
