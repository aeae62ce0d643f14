"""What a request may bring, bounded before it is read: an ASGI middleware on the app.

- Every request body has a cap (`body_cap`): a declared length over it is refused (413)
  before a byte of the body is read; a body sent without one (chunked) is counted as it
  streams in and refused as soon as it goes over. An upload's cap is one file of the
  upload limit (it is streamed to disk); anything else (the queue's JSON, the API's, MCP
  calls, the provider's callbacks), read into memory, DEFAULT_BODY_BYTES: what Gradio's
  MCP server takes itself (the `mcp` package's transport refuses more), so a data: URL
  reaches a tool up to about 3 MB of file, by MCP or by the API alike.
- Uploads (`/gradio_api/upload`) are limited per network address (an IPv6 /64 is one),
  in files and bytes a minute (`UploadLedger`): one more is refused (429) before it is
  read, and an upload found over the files limit once parsed is deleted and refused.
  Gradio's upload request carries no session, so an address is all that can be counted.
- Uploaded files are deleted UPLOAD_KEEP_S after their last upload (checked at the next
  request, at most every SWEEP_EVERY_S); Gradio's own cache cleaning is the backstop.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradio.utils import get_upload_folder
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware

from avatar_core.catalogue import language_of, sentence_for
from avatar_core.clock import SYSTEM, Clock
from avatar_core.storage.visitors import network_of
from ui.limits import MAX_UPLOAD_BYTES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

KB = 1024
MB = 1024 * KB
UPLOAD_PATH = "/gradio_api/upload"
DEFAULT_BODY_BYTES = 4 * MB  # the mcp package's own cap (DEFAULT_MAX_REQUEST_BODY_SIZE)
MULTIPART_SLACK = 64 * KB  # a multipart body's headers and boundaries around its file
UPLOADS_PER_MINUTE = 30  # files, per network address
UPLOAD_BYTES_PER_MINUTE = 150 * MB  # per network address
UPLOAD_KEEP_S = 15 * 60.0  # an uploaded file is deleted this long after its last upload
SWEEP_EVERY_S = 30.0
WINDOW_S = 60.0


def body_cap(path: str, max_upload: int | None = None) -> int:
    """The most bytes a request body to `path` may hold."""
    most = MAX_UPLOAD_BYTES if max_upload is None else max_upload
    if path == UPLOAD_PATH or path.startswith(UPLOAD_PATH + "/"):
        return most + MULTIPART_SLACK
    return DEFAULT_BODY_BYTES


@dataclass
class _Spent:
    """One address's uploads in the last minute: [time, files, bytes] per request (an
    upload under way holds the bytes it may still send, settled once it is read)."""

    requests: deque[list[float]] = field(default_factory=deque)

    def totals(self, now: float) -> tuple[int, int]:
        while self.requests and self.requests[0][0] <= now - WINDOW_S:
            self.requests.popleft()
        return sum(r[1] for r in self.requests), sum(r[2] for r in self.requests)


class UploadLedger:
    """Uploads per network address in the last minute, and the uploaded files' ages."""

    def __init__(
        self,
        *,
        files_per_minute: int = UPLOADS_PER_MINUTE,
        bytes_per_minute: int = UPLOAD_BYTES_PER_MINUTE,
        keep_s: float = UPLOAD_KEEP_S,
        clock: Clock = SYSTEM,
    ) -> None:
        self.files_per_minute = files_per_minute
        self.bytes_per_minute = bytes_per_minute
        self.keep_s = keep_s
        self._clock = clock
        self.deleted = 0  # uploaded files deleted (their time was up, or refused)
        self._spent: dict[str, _Spent] = {}
        self._files: dict[Path, float] = {}  # uploaded file -> when it was last uploaded
        self._swept = float("-inf")
        self._lock = threading.Lock()

    def room(self, address: str) -> tuple[int, int]:
        """(files, bytes) `address` may still upload this minute."""
        with self._lock:
            files, size = self._spent.setdefault(address, _Spent()).totals(self._clock.now())
        return self.files_per_minute - files, self.bytes_per_minute - size

    def spend(self, address: str, files: int, size: int) -> None:
        with self._lock:
            spent = self._spent.setdefault(address, _Spent())
            spent.requests.append([self._clock.now(), files, size])

    def reserve(self, address: str, most: int, declared: int | None) -> list[float] | None:
        """Hold room for an upload about to be read: its declared bytes, else at most
        `most`, as one check and one entry (uploads sent at once cannot each see the whole
        minute's room); None when the address has no room left. `settle` it once read."""
        with self._lock:
            spent = self._spent.setdefault(address, _Spent())
            files, size = spent.totals(self._clock.now())
            left = self.bytes_per_minute - size
            held = min(most, left) if declared is None else declared
            if files >= self.files_per_minute or left <= 0 or held > left:
                return None
            entry = [self._clock.now(), 0, held]
            spent.requests.append(entry)
            return entry

    def settle(self, entry: list[float], size: int) -> None:
        """The bytes a reserved upload really brought."""
        with self._lock:
            entry[2] = size

    def keep(self, paths: list[Path]) -> None:
        """Remember uploaded files, to delete them once their time is up."""
        with self._lock:
            now = self._clock.now()
            for path in paths:
                self._files[path] = now

    def delete(self, paths: list[Path]) -> None:
        for path in paths:
            _remove(path)
            with self._lock:
                self._files.pop(path, None)
                self.deleted += 1

    def sweep(self, *, force: bool = False) -> None:
        """Delete the uploaded files whose time is up (at most every SWEEP_EVERY_S), and
        forget addresses that uploaded nothing for a minute."""
        with self._lock:
            now = self._clock.now()
            if not force and now - self._swept < SWEEP_EVERY_S:
                return
            self._swept = now
            old = [p for p, when in self._files.items() if now - when >= self.keep_s]
            for address in [a for a, s in self._spent.items() if s.totals(now) == (0, 0)]:
                del self._spent[address]
        self.delete(old)


def _remove(path: Path) -> None:
    """Delete an uploaded file, and its folder (Gradio's, one per content) once empty."""
    try:
        path.unlink(missing_ok=True)
        path.parent.rmdir()
    except OSError:
        pass  # the folder holds another upload, or it is gone already


class _TooLarge(MultiPartException):
    """A body over its cap. Gradio's upload parser deletes its half-written files for
    this kind of error (and answers, an answer `_Reply` replaces with ours)."""

    def __init__(self) -> None:
        super().__init__("request body too large")


class RequestLimits:
    """The middleware: `app` behind the body caps and the upload limits (module docstring).

    `upload_folder` is where Gradio keeps uploads (only files in it are ever deleted).
    """

    def __init__(
        self,
        app: Asgi,
        *,
        upload_folder: str | Path,
        ledger: UploadLedger | None = None,
        max_upload: int | None = None,
    ) -> None:
        self.app = app
        self.upload_folder = Path(upload_folder).resolve()
        self.ledger = ledger or UploadLedger()
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.ledger.sweep()
        path, headers, root = scope.get("path", ""), _headers(scope), scope.get("root_path", "")
        if root and path.startswith(root):  # (behind a proxy that serves the app under a path)
            path = path[len(root) :]
        cap, language = body_cap(path, self.max_upload), language_of(headers.get("accept-language"))
        declared = _declared_length(headers)
        if declared is not None and declared > cap:
            await _refuse(send, *self._over(False, cap), language)
            return
        upload = scope.get("method") == "POST" and path.rstrip("/") == UPLOAD_PATH
        address = network_of((scope.get("client") or ("unknown",))[0] or "unknown")
        held = self.ledger.reserve(address, cap, declared) if upload else None
        if upload and held is None:
            await _refuse(send, *self._over(True, cap), language)
            return
        counted = _Counted(receive, min(cap, int(held[2])) if held else cap)
        refusal = lambda: _refuse(  # noqa: E731  # the answer once the body went over
            send, *self._over(upload and counted.bytes <= cap, cap), language
        )
        reply = _Reply(send, hold=upload, counted=counted, refusal=refusal)
        try:
            await self.app(scope, counted.receive, reply.send)
        except _TooLarge:  # (an app that catches it answers: `reply` says ours instead)
            if not reply.started:
                await refusal()
            return
        finally:
            if held is not None:
                self.ledger.settle(held, counted.bytes)
        if upload and not counted.over:
            await self._hand_on(reply, send, address, language)

    def _over(self, per_minute: bool, cap: int) -> tuple[int, str, dict[str, int]]:
        """(status, sentence, its values) for a body over its cap or the minute's bytes."""
        if per_minute:
            most = {"files": self.ledger.files_per_minute,
                    "megabytes": self.ledger.bytes_per_minute // MB}  # fmt: skip
            return 429, "limits.uploads_per_minute", most
        return 413, "limits.body_too_large", {"most": max(1, cap // MB)}

    async def _hand_on(self, reply: _Reply, send: Send, address: str, language: str) -> None:
        """Pass an upload's answer on, keeping its files for the sweep; an upload that
        holds more files than the address may still send this minute is deleted, refused."""
        paths = self._uploaded(reply)
        files, _ = self.ledger.room(address)
        if len(paths) > files:
            self.ledger.delete(paths)
            self.ledger.spend(address, max(files, 0), 0)
            await _refuse(send, *self._over(True, 0), language)
            return
        self.ledger.spend(address, len(paths), 0)
        self.ledger.keep(paths)
        for message in reply.messages:
            await send(message)

    def _uploaded(self, reply: _Reply) -> list[Path]:
        if reply.status != 200:
            return []
        try:
            listed = json.loads(b"".join(reply.body))
        except ValueError:
            return []
        paths = [Path(p).resolve() for p in listed if isinstance(p, str)]
        return [p for p in paths if p.is_relative_to(self.upload_folder)]


class _Counted:
    """The request's `receive`, counting the body's bytes; over `cap`: _TooLarge."""

    def __init__(self, receive: Receive, cap: int) -> None:
        self._receive = receive
        self.cap = cap
        self.bytes = 0
        self.over = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message.get("type") == "http.request":
            self.bytes += len(message.get("body", b""))
            if self.bytes > self.cap:
                self.over = True
                raise _TooLarge
        return message


class _Reply:
    """The app's answer, passed on (whether it has started is known), or with `hold`, an
    upload's, held (a short JSON list of paths) until it has been looked at. Once the body
    went over its cap, the app's answer (e.g. "invalid JSON") is replaced by `refusal`."""

    def __init__(
        self,
        send: Send,
        *,
        hold: bool,
        counted: _Counted,
        refusal: Callable[[], Awaitable[None]],
    ) -> None:
        self._send = send
        self.hold = hold
        self.counted = counted
        self.refusal = refusal
        self.messages: list[Message] = []
        self.body: list[bytes] = []
        self.status = 0
        self.started = False

    async def send(self, message: Message) -> None:
        if self.counted.over:
            if message["type"] == "http.response.start" and not self.started:
                self.started = True
                await self.refusal()
            return
        if message["type"] == "http.response.start":
            self.started = True
            self.status = int(message.get("status", 0))
        if not self.hold:
            await self._send(message)
            return
        if message["type"] == "http.response.body":
            self.body.append(message.get("body", b""))
        self.messages.append(message)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _declared_length(headers: dict[str, str]) -> int | None:
    text = headers.get("content-length", "").strip()
    return int(text) if text.isdigit() else None


async def _refuse(send: Send, status: int, key: str, values: dict[str, int], language: str) -> None:
    """Answer with one sentence; the body that was not read is left unread (the
    connection closes)."""
    body = sentence_for(key, **values).in_language(language).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()), (b"connection", b"close")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def request_limits(ledger: UploadLedger | None = None) -> Middleware:
    """The middleware for the app's `app_kwargs` (app.launch_options), on Gradio's upload
    folder; tests pass a ledger of their own (its clock, its limits) to look into it."""
    return Middleware(RequestLimits, upload_folder=get_upload_folder(), ledger=ledger)
