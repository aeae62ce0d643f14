"""The simulator's routes: a request in, a `Response` out, with faults applied.

Framework-free on purpose: `server.py` turns HTTP into `Request` and writes the answer;
everything the provider decides (auth, validation, task state, faults) happens here.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from avatar_core.simulator.faults import Fault
from avatar_core.simulator.tasks import create_data, duplicate_external_id
from avatar_core.simulator.validation import (
    check_create_fields,
    check_create_media,
    check_tts,
    parse_body,
)
from avatar_core.simulator.wire import (
    Response,
    WireError,
    error_response,
    expired_url_response,
    html_response,
    json_response,
    s3_error_response,
    success,
)

if TYPE_CHECKING:
    from avatar_core.simulator.service import Simulator

log = logging.getLogger(__name__)

CREATE_PATH = "/kling/v1/videos/avatar/image2video"
AVATAR_QUERY = re.compile(r"^/kling/v1/videos/avatar/image2video/([^/]+)$")
GENERIC_QUERY = re.compile(r"^/kling/v1/videos/image2video/([^/]+)$")
TTS_PATH = "/kling/v1/audio/tts"
VIDEO_RESULT = re.compile(r"^/results/(\d+)\.mp4$")
AUDIO_RESULT = re.compile(r"^/results/audio/(\d+)\.mp3$")
CONTROL_PREFIX = "/_simulator/"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Routes:
    """Dispatches requests for one Simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._recent: deque[float] = deque()  # when the last API requests came (real time)
        self._recent_lock = threading.Lock()

    def _over_rate_limit(self) -> bool:
        """Like the provider's rate limit (Kling code 1302): over N API requests a second."""
        limit = self.sim.rate_limit_per_s
        if not limit:
            return False
        now = time.monotonic()
        with self._recent_lock:
            while self._recent and self._recent[0] <= now - 1.0:
                self._recent.popleft()
            if len(self._recent) >= limit:
                return True
            self._recent.append(now)
            return False

    # --- dispatch -------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return self._control(request)
        route, handler = self._match(request)
        if handler is None:
            response = self._not_found(request)
            self.sim._stats.request(route, response.status)
            return response
        if route != "result" and self._over_rate_limit():
            response = WireError(1302, "Rate limit exceeded, please slow down").response(
                self.sim.error_shape
            )
            response.headers["Retry-After"] = "1"
            self.sim._stats.request(route, response.status)
            return response
        fault = self.sim._faults.take(route)
        if fault is not None:
            self.sim._stats.fault(fault.kind)
        response = self._with_fault(route, fault, handler, request)
        self.sim._stats.request(route, response.status)
        return response

    def _match(self, request: Request) -> tuple[str, Callable[[Request, str], Response] | None]:
        method, path = request.method, request.path
        if path == CREATE_PATH:
            return "create", (self._create if method == "POST" else None)
        if path == TTS_PATH:
            return "tts", (self._tts if method == "POST" else None)
        for pattern in (AVATAR_QUERY, GENERIC_QUERY):
            found = pattern.match(path)
            if found:
                if method != "GET":
                    return "query", None
                if pattern is AVATAR_QUERY and not self.sim.avatar_query_route:
                    return "query", None  # a gateway that does not serve this path
                return "query", _bind(self._query, unquote(found.group(1)))
        for pattern, serve in ((VIDEO_RESULT, self._video), (AUDIO_RESULT, self._audio)):
            found = pattern.match(path)
            if found:
                ok = method in ("GET", "HEAD")
                return "result", (_bind(serve, found.group(1)) if ok else None)
        return "other", None

    def _not_found(self, request: Request) -> Response:
        if request.path.startswith("/kling/") and not AVATAR_QUERY.match(request.path):
            return error_response(
                1202, f"Invalid request method or path: {request.method} {request.path}"
            )
        return html_response(404, "404 Not Found", "The requested URL was not found.")

    def _with_fault(
        self,
        route: str,
        fault: Fault | None,
        handler: Callable[[Request, str], Response],
        request: Request,
    ) -> Response:
        if fault is not None and not fault.handles_request_first(route):
            return fault.answer_instead()
        response = self._answer(handler, request)
        return fault.spoil(response) if fault is not None else response

    def _answer(self, handler: Callable[[Request, str], Response], request: Request) -> Response:
        try:
            return handler(request, self._base_url(request))
        except WireError as exc:
            return exc.response(self.sim.error_shape)

    def _base_url(self, request: Request) -> str:
        host = request.header("host")
        return f"http://{host}" if host else (self.sim.base_url or "")

    # --- the provider's routes ------------------------------------------------------

    def _create(self, request: Request, base_url: str) -> Response:
        account = self.sim._accounts.authorize(request.header("authorization"), "create")
        body = parse_body(request.body)
        fields = check_create_fields(body)
        book = self.sim._book
        if book.external_id_taken(account, fields["external_task_id"]):
            raise duplicate_external_id(fields["external_task_id"])
        checked = check_create_media(body, fields, self.sim._audio)
        task = book.create(account, checked, base_url)
        self.sim._stats.created()
        return success(create_data(task))

    def _query(self, request: Request, base_url: str, ident: str) -> Response:
        account = self.sim._accounts.authorize(request.header("authorization"), "query")
        task = self.sim._book.find(account, ident)
        if task is None:
            raise WireError(1203, f"Task {ident} does not exist")
        return success(self.sim._book.snapshot(task))

    def _tts(self, request: Request, base_url: str) -> Response:
        self.sim._accounts.authorize(request.header("authorization"), "tts")
        checked = check_tts(parse_body(request.body))
        clip = self.sim._audio.speak(checked.text, checked.voice_id, checked.voice_speed)
        self.sim._stats.spoke()
        return success(
            {
                "task_id": clip.task_id,
                "task_status": "succeed",
                "task_status_msg": "",
                "created_at": clip.created_at,
                "updated_at": clip.created_at,
                "task_result": {
                    "audios": [
                        {
                            "id": clip.id,
                            "url": f"{base_url}/results/audio/{clip.id}.mp3",
                            "duration": f"{clip.duration:.1f}",
                        }
                    ]
                },
            }
        )

    def _video(self, request: Request, base_url: str, task_id: str) -> Response:
        expires = request.query.get("expires", "")
        if expires.isdigit() and int(expires) < time.time():
            return expired_url_response()
        return _file(self.sim._book.results_dir / f"{task_id}.mp4", "video/mp4")

    def _audio(self, request: Request, base_url: str, clip_id: str) -> Response:
        clip = self.sim._audio.get(clip_id)
        return _file(clip.path if clip else None, "audio/mpeg")

    # --- control routes (for tests driving a simulator in another process) -----------

    def _control(self, request: Request) -> Response:
        action = request.path[len(CONTROL_PREFIX) :]
        try:
            if request.method == "GET" and action == "stats":
                return json_response(200, self.sim.stats.to_json())
            if request.method != "POST":
                return json_response(405, {"error": "use POST (GET only for stats)"})
            body = parse_body(request.body) if request.body.strip() else {}
            return json_response(200, self._control_action(action, body))
        except WireError as exc:
            return json_response(400, {"error": exc.message})
        except KeyError as exc:
            return json_response(400, {"error": f"missing field {exc}"})
        except (TypeError, ValueError) as exc:
            return json_response(400, {"error": str(exc)})

    def _control_action(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        sim = self.sim
        if action == "faults":
            items = body.get("faults", [body])
            for item in items:
                params = dict(item)
                sim.inject(params.pop("route"), params.pop("kind"), params.pop("times", 1),
                           **params)  # fmt: skip
            return {"ok": True, "pending_faults": sim._faults.pending()}
        if action == "plan":
            sim.plan_task(**body)
            return {"ok": True, "pending_plans": sim._book.pending_plans()}
        if action == "reset":
            sim.reset()
            return {"ok": True}
        if action == "keys":
            sim.set_key_state(body["key"], body.get("state", "ok"))
            return {"ok": True}
        if action == "settings":
            if "avatar_query_route" in body:
                sim.avatar_query_route = bool(body["avatar_query_route"])
            if "error_shape" in body:
                sim.error_shape = body["error_shape"]
            return {"ok": True}
        raise ValueError(f"unknown control action {action!r}")


def _bind(handler: Callable[..., Response], ident: str) -> Callable[[Request, str], Response]:
    return lambda request, base_url: handler(request, base_url, ident)


def _file(path: Path | None, content_type: str) -> Response:
    if path is None or not path.is_file():
        return s3_error_response(404, "NoSuchKey", "The specified key does not exist.")
    return Response(200, headers={"Content-Type": content_type}, file_path=str(path))
