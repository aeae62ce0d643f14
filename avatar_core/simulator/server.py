"""HTTP for the simulator: stdlib ThreadingHTTPServer on loopback, keep-alive, and the
socket-level misbehaviours some faults need (a reset, a body cut short, a late answer)."""

from __future__ import annotations

import logging
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from avatar_core.simulator.wire import Request, Response, error_response

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 40 * 1024 * 1024  # a 10 MB image and a 5 MB sound, base64, with room


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not hold up stop()
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], answer: Callable[[Request], Response]) -> None:
        super().__init__(address, _Handler)
        self.answer = answer

    @property
    def base_url(self) -> str:
        """The root URL clients use, e.g. "http://127.0.0.1:PORT" (loopback for 0.0.0.0)."""
        host, port = self.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else str(host)
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{port}"

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """A client that hangs up is normal here (timeouts, cancelled downloads): no noise."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            log.debug("client %s went away", client_address)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "KlingSimulator/1.0"
    timeout = 60  # seconds an idle keep-alive connection is kept
    # The headers and the body go out as two writes: with Nagle's algorithm the body waited
    # for the client's delayed ACK (up to 40 ms on loopback) on every answer.
    disable_nagle_algorithm = True
    server: SimulatorHTTPServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _read_body(self) -> bytes | None:
        """The request body (plain or chunked); None when it is over the size limit."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            body = None
        if body is None:
            self.close_connection = True
            self._write(error_response(1200, "Request body is too large or malformed"), head=False)
            return
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            server_url=self.server.base_url,
        )
        try:
            response = self.server.answer(request)
        except Exception:
            log.exception("simulator failed on %s %s", self.command, parts.path)
            response = error_response(5000, "Internal error in the simulator")
        self._write(response, head=self.command == "HEAD")

    def _write(self, response: Response, *, head: bool) -> None:
        try:
            if response.delay > 0:
                time.sleep(response.delay)
            if response.action == "reset":
                self._reset()
                return
            body = Path(response.file_path).read_bytes() if response.file_path else response.body
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if response.action == "truncate":
                self.send_header("Connection", "close")
            self.end_headers()
            if head:
                return
            if response.action == "truncate":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the client gave up (a read timeout, say)

    def _reset(self) -> None:
        """Drop the connection with a TCP reset, answering nothing."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


def start_server(
    answer: Callable[[Request], Response], host: str, port: int
) -> tuple[SimulatorHTTPServer, threading.Thread]:
    """Bind and serve in a daemon thread, answering each request with `answer`; returns the
    server and its thread."""
    server = SimulatorHTTPServer((host, port), answer)
    # The poll interval bounds how long stop() waits; 50 ms keeps test teardowns quick.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sim-http", daemon=True
    )
    thread.start()
    return server, thread
