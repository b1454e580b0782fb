"""The protected service behind nginx in the gateway tests: a loopback HTTP server that
answers every request 200 with what the test's ``answer`` makes of it (the headers nginx
passed on, the request target)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Upstream:
    """``answer(request)`` gives the body of the answer to a GET, HEAD, POST or DELETE
    (HEAD: its headers only); ``content_type`` its Content-Type, if any."""

    def __init__(
        self, answer: Callable[[BaseHTTPRequestHandler], bytes], content_type: str | None = "application/json"
    ) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = answer(self)
                self.send_response(200)
                if content_type is not None:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_HEAD = do_POST = do_DELETE = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
