"""The simulator's routes: a request in, a `Response` out, with faults applied.

Framework-free on purpose: `server.py` turns HTTP into `Request` and writes the answer;
everything the provider decides (auth, validation, task state, faults, the rate limit)
happens here, on the `SimulatorParts` the routes are given.

Every provider's routes are served (`served.py`, from the providers' own modules):
CometAPI's (`/kling/v1/...`, a bearer key) and Kling's own (`/v1/...`, the same routes
without the prefix; with the `kling_keys` option set, a JWT checked by `kling_auth.py`).
Faults and stats name the route the same on all of them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import unquote

from avatar_core.provider.kling import KLING
from avatar_core.simulator.accounts import account_id
from avatar_core.simulator.control import CONTROL_PREFIX, answer_control
from avatar_core.simulator.kling_auth import verify_token
from avatar_core.simulator.parts import SimulatorParts
from avatar_core.simulator.served import api_prefixes, served_routes
from avatar_core.simulator.tasks import create_data, duplicate_external_id
from avatar_core.simulator.tts import tts_data
from avatar_core.simulator.validation import (
    check_create_fields,
    check_create_media,
    check_tts,
    parse_body,
)
from avatar_core.simulator.wire import (
    Request,
    Response,
    WireError,
    error_response,
    expired_url_response,
    gateway_error_response,
    html_response,
    invalid_url_response,
    s3_error_response,
    success,
)

ROUTES = served_routes()  # every provider's own (provider/choice.py)
API_PREFIXES = api_prefixes(ROUTES)
VIDEO_RESULT = re.compile(r"^/results/(\d+)\.mp4$")
AUDIO_RESULT = re.compile(r"^/results/audio/(\d+)\.mp3$")

Handler = Callable[[Request], Response]


class Routes:
    """Answers requests with the simulator's parts; `handle` is what the HTTP server calls."""

    def __init__(self, parts: SimulatorParts) -> None:
        self.parts = parts

    # --- dispatch -------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return answer_control(self.parts, request)
        arrived = time.monotonic()
        route, handler = self._match(request)
        response = self._answer_route(route, handler, request)
        self.parts.stats.request(route, response.status, None if route == "result" else arrived)
        return response

    def _answer_route(self, route: str, handler: Handler | None, request: Request) -> Response:
        parts = self.parts
        if handler is None:
            return self._not_found(request)
        if route != "result" and parts.rate.over(parts.options.rate_limit_per_s):
            response = self._error(WireError(1302, "Rate limit exceeded, please slow down"))
            response.headers["Retry-After"] = "1"
            return response
        fault = parts.faults.take(route)
        if fault is None:
            return self._answer(handler, request)
        parts.stats.fault(fault.kind)
        if not fault.handles_request_first(route):
            return fault.answer_instead()
        return fault.spoil(self._answer(handler, request))

    def _match(self, request: Request) -> tuple[str, Handler | None]:
        method, path = request.method, request.path
        for route in ROUTES:
            ident = route.match(path)
            if ident is None:
                continue
            if method != route.method or (
                route.optional and not self.parts.options.avatar_query_route
            ):
                return route.kind, None  # not served (a gateway without this query path)
            if route.kind == "query":
                return "query", partial(self._query, ident=unquote(ident))
            return route.kind, (self._create if route.kind == "create" else self._tts)
        for pattern, serve in ((VIDEO_RESULT, self._video), (AUDIO_RESULT, self._audio)):
            found = pattern.match(path)
            if found:
                ok = method in ("GET", "HEAD")
                return "result", (partial(serve, ident=found.group(1)) if ok else None)
        return "other", None

    def _not_found(self, request: Request) -> Response:
        if any(r.optional and r.match(request.path) is not None for r in ROUTES):
            return self._unserved(request)  # a query route this gateway does not serve
        if request.path.startswith(API_PREFIXES):
            return error_response(
                1202, f"Invalid request method or path: {request.method} {request.path}"
            )
        return html_response(404, "404 Not Found", "The requested URL was not found.")

    def _unserved(self, request: Request) -> Response:
        answer = self.parts.options.unserved_route
        if answer == "json_400":
            return gateway_error_response(400, "task_not_exist", "task_not_exist")
        if answer == "json_404":
            return invalid_url_response(request.method, request.path)
        return html_response(404, "404 Not Found", "The requested URL was not found.")

    def _answer(self, handler: Handler, request: Request) -> Response:
        try:
            return handler(request)
        except WireError as exc:
            return self._error(exc)

    def _error(self, error: WireError) -> Response:
        options = self.parts.options
        return error.response(options.error_shape, options.error_codes)

    # --- the provider's routes ------------------------------------------------------

    def _create(self, request: Request) -> Response:
        parts = self.parts
        account = self._authorize(request, "create")
        body = parse_body(request.body)
        fields = check_create_fields(body)
        if parts.book.external_id_taken(account, fields["external_task_id"]):
            raise duplicate_external_id(fields["external_task_id"])
        checked = check_create_media(
            body, fields, parts.audio, max_audio_seconds=parts.options.max_audio_seconds
        )
        try:
            task = parts.book.create(account, checked, request.base_url())
        except WireError as refused:
            if refused.code == 1303:
                parts.stats.refused_busy()
            raise
        parts.stats.created()
        answer = success(create_data(task))
        answer.delay = parts.options.create_delay_s  # a slow gateway: the task already exists
        return answer

    def _query(self, request: Request, ident: str) -> Response:
        account = self._authorize(request, "query")
        by_external = self.parts.options.external_id_lookups
        task = self.parts.book.find(account, ident, by_external_id=by_external)
        if task is None:
            raise WireError(1203, f"Task {ident} does not exist")
        return success(self.parts.book.snapshot(task))

    def _tts(self, request: Request) -> Response:
        parts = self.parts
        self._authorize(request, "tts")
        checked = check_tts(parse_body(request.body))
        clip = parts.audio.speak(
            checked.text, checked.voice_id, checked.voice_speed, checked.voice_language
        )
        parts.stats.spoke()
        return success(tts_data(clip, request.base_url()))

    def _authorize(self, request: Request, route: str) -> str:
        """The caller's account: a bearer key on /kling/ routes; on Kling's own routes, with
        `kling_keys` set, the access key of a valid JWT (its state set by that key)."""
        keys = self.parts.options.kling_keys
        authorization = request.header("authorization")
        if keys is None or not _kling_own(request.path):
            return self.parts.accounts.authorize(authorization, route)
        access = verify_token(authorization, *keys)
        self.parts.accounts.check_state(account_id(access), route)
        return account_id(access)

    def _video(self, request: Request, ident: str) -> Response:
        expires = request.query.get("expires", "")
        if expires.isdigit() and int(expires) < time.time():
            return expired_url_response()
        earlier = self.parts.book.count_download(ident) if request.method == "GET" else 0
        if earlier < self.parts.options.video_link_misses:  # storage not in place yet
            return _file(None, "video/mp4")
        return _file(self.parts.book.results_dir / f"{ident}.mp4", "video/mp4")

    def _audio(self, request: Request, ident: str) -> Response:
        clip = self.parts.audio.get(ident)
        return _file(clip.path if clip else None, "audio/mpeg")


def _kling_own(path: str) -> bool:
    """Whether `path` is one of Kling's own routes (which take a JWT with `kling_keys`)."""
    return any(r.provider is KLING and r.match(path) is not None for r in ROUTES)


def _file(path: Path | None, content_type: str) -> Response:
    if path is None or not path.is_file():
        return s3_error_response(404, "NoSuchKey", "The specified key does not exist.")
    return Response(200, headers={"Content-Type": content_type}, file_path=str(path))
