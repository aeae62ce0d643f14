"""A real web server on loopback for download tests: each path misbehaves its own way."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

    def do_GET(self) -> None:
        body: bytes = self.server.body
        self.server.paths.append(self.path)
        if self.path == "/file":
            self._head(200, {"Content-Length": str(len(body))})
            self.wfile.write(body)
        elif self.path == "/declared-huge":
            self._head(200, {"Content-Length": str(10**12)})
            self.wfile.write(body)
        elif self.path == "/short":  # promises the whole body, sends a tenth, hangs up
            self._head(200, {"Content-Length": str(len(body))})
            self.wfile.write(body[: len(body) // 10])
            self.close_connection = True
        elif self.path == "/no-length":  # the body runs until the server closes
            self._head(200, {"Connection": "close"})
            self.wfile.write(body)
            self.close_connection = True
        elif self.path == "/busy":
            self._head(503, {"Retry-After": "7", "Content-Length": "0"})
        else:
            self._head(404, {"Content-Length": "0"})


@contextmanager
def file_server(body: bytes) -> Iterator[ThreadingHTTPServer]:
    """A server whose paths serve `body`; `server.url(path)` names them, `server.paths`
    lists what was asked for."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.body, server.paths = body, []
    server.url = lambda path: f"http://127.0.0.1:{server.server_address[1]}{path}"
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
