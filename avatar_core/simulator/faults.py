"""Fault injection: queued misbehaviours consumed, in order, by the next matching requests.

`Simulator.inject(route, kind, times=1, **params)`; route is "create", "query", "tts",
"result" (video and audio downloads) or "*" (any of them). A request takes the first queued
fault for its route; each fault serves `times` requests.

kind          params (defaults)                          what the client gets
error         code=5000, shape="kling", http_status=None, a Kling error in shape "kling", "gateway"
              message=None, retry_after=None             or "wrapped"; HTTP status from the code
gateway_error code="invalid_request", status=500,        the gateway's own string code in its
              message=None                               envelope ({"error": {"code": ...}})
http          status=503, retry_after=None, body="json"  a bare HTTP failure ("json" or "html")
html          status=200                                 an HTML page instead of JSON
malformed     after_create=False                         HTTP 200, a JSON body cut in half
code_in_200   code=5000, shape="kling", message=None     HTTP 200 whose body has a non-zero code
reset         after_create=False                         the socket closed (TCP RST), no answer
slow          delay=5.0                                  the normal answer, `delay` seconds late
expired       (route "result" only)                      403, S3-style XML "Request has expired"
truncated     (route "result" only)                      full Content-Length, half the bytes

Some faults replace the answer outright (nothing is processed: `error`, `gateway_error`,
`http`, `html`, `code_in_200`, `expired`, and `reset`/`malformed` on a create by default);
the others let the request be handled and then spoil the answer (`slow`, `truncated`, and
`reset`/`malformed` on other routes). For creates that difference is the whole point:
`after_create=True` means the task IS created and only the answer is lost - the case a
client must never resolve by sending the create again. A `slow` create is always created.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from avatar_core.simulator.wire import (
    CODE_BY_STATUS,
    ERROR_SHAPES,
    Response,
    error_response,
    expired_url_response,
    gateway_error_response,
    html_response,
    new_request_id,
)

ROUTES: tuple[str, ...] = ("create", "query", "tts", "result")
ANY_ROUTE = "*"

# kind -> the parameters it takes (with defaults)
KINDS: dict[str, dict[str, Any]] = {
    "error": {"code": 5000, "shape": "kling", "http_status": None, "message": None,
              "retry_after": None},
    "gateway_error": {"code": "invalid_request", "status": 500, "message": None},
    "http": {"status": 503, "retry_after": None, "body": "json"},
    "html": {"status": 200},
    "malformed": {"after_create": False},
    "code_in_200": {"code": 5000, "shape": "kling", "message": None},
    "reset": {"after_create": False},
    "slow": {"delay": 5.0},
    "expired": {},
    "truncated": {},
}  # fmt: skip

RESULT_ONLY_KINDS = frozenset({"expired", "truncated"})

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}

_DEFAULT_MESSAGES = {
    1302: "The request rate limit has been exceeded, please try again later",
    1303: "The concurrency limit of the resource pack has been exceeded",
    5000: "Internal server error (simulated fault)",
    5001: "The service is under maintenance, please try again later",
    5002: "The server timed out (simulated fault)",
}


@dataclass(frozen=True)
class Fault:
    route: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    def handles_request_first(self, route: str) -> bool:
        """True when the request is processed normally and only the answer is spoiled."""
        if self.kind in ("slow", "truncated"):
            return True
        if self.kind in ("reset", "malformed"):
            return route != "create" or bool(self.params["after_create"])
        return False

    def answer_instead(self) -> Response:
        """The answer for a fault that replaces processing altogether."""
        kind, p = self.kind, self.params
        if kind in ("error", "code_in_200"):
            code = int(p["code"])
            message = p["message"] or _DEFAULT_MESSAGES.get(code, f"Simulated error {code}")
            status = 200 if kind == "code_in_200" else p["http_status"]
            return error_response(
                code, message, shape=p["shape"], http_status=status,
                headers=_retry_after(p.get("retry_after")),
            )  # fmt: skip
        if kind == "gateway_error":
            message = p["message"] or f"{p['code']} (simulated gateway error)"
            return gateway_error_response(int(p["status"]), str(p["code"]), message)
        if kind == "http":
            status = int(p["status"])
            reason = _REASONS.get(status, "Error")
            headers = _retry_after(p["retry_after"])
            if p["body"] == "html":
                response = html_response(status, f"{status} {reason}", reason)
                response.headers.update(headers)
                return response
            code = CODE_BY_STATUS.get(status, 5000)
            return error_response(code, f"{reason} (simulated fault)", http_status=status,
                                  headers=headers)  # fmt: skip
        if kind == "html":
            return html_response(
                int(p["status"]), "Just a moment...", "Checking your browser before accessing."
            )
        if kind == "malformed":
            return _truncated_json(
                json.dumps({"code": 0, "message": "SUCCEED", "request_id": new_request_id(),
                            "data": {"task_id": "8781062428318924", "task_status": "submitted"}})
            )  # fmt: skip
        if kind == "reset":
            return Response(0, action="reset")
        if kind == "expired":
            return expired_url_response()
        raise AssertionError(f"fault {kind} does not replace the answer")  # pragma: no cover

    def spoil(self, response: Response) -> Response:
        """Spoil the normal answer of a request that was processed."""
        if self.kind == "slow":
            response.delay = float(self.params["delay"])
            return response
        if self.kind == "reset":
            return Response(0, action="reset")
        if self.kind == "malformed":
            return _truncated_json(response.body.decode("utf-8", "replace"))
        if self.kind == "truncated":
            if response.status == 200 and response.file_path:
                response.action = "truncate"
            return response
        raise AssertionError(f"fault {self.kind} does not spoil an answer")  # pragma: no cover


def _retry_after(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    seconds = float(value)
    return {"Retry-After": str(int(seconds)) if seconds.is_integer() else f"{seconds:g}"}


def _truncated_json(text: str) -> Response:
    cut = text[: max(1, len(text) // 2)]
    return Response(200, cut.encode("utf-8"), {"Content-Type": "application/json"})


def make_fault(route: str, kind: str, params: dict[str, Any]) -> Fault:
    """Check a fault's route, kind and parameters; fill in the defaults."""
    if route not in (*ROUTES, ANY_ROUTE):
        raise ValueError(f"unknown route {route!r}; use one of {', '.join(ROUTES)} or '*'")
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}")
    if kind in RESULT_ONLY_KINDS and route != "result":
        raise ValueError(f"fault {kind!r} only applies to the 'result' route")
    unknown = set(params) - set(KINDS[kind])
    if unknown:
        raise ValueError(f"fault {kind!r} takes no parameter {', '.join(sorted(unknown))}")
    full = {**KINDS[kind], **params}
    if "shape" in full and full["shape"] not in ERROR_SHAPES:
        raise ValueError(f"unknown error shape {full['shape']!r}")
    if kind == "http" and full["body"] not in ("json", "html"):
        raise ValueError("fault 'http' takes body='json' or body='html'")
    return Fault(route, kind, full)


class FaultQueue:
    """Faults waiting for requests; thread-safe, first in first out per matching route."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[list[Any]] = deque()  # [fault, remaining]

    def inject(self, route: str, kind: str, times: int = 1, **params: Any) -> Fault:
        if int(times) < 1:
            raise ValueError("times must be at least 1")
        fault = make_fault(route, kind, params)
        with self._lock:
            self._queue.append([fault, int(times)])
        return fault

    def take(self, route: str) -> Fault | None:
        """The next fault for a request on `route`, used up by this call."""
        with self._lock:
            for entry in self._queue:
                fault = entry[0]
                if fault.route != route and fault.route != ANY_ROUTE:
                    continue
                if fault.kind in RESULT_ONLY_KINDS and route != "result":
                    continue
                entry[1] -= 1
                if entry[1] == 0:
                    self._queue.remove(entry)
                return fault
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(entry[1] for entry in self._queue)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
