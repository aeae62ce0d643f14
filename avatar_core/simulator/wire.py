"""The provider's wire format: requests, answers, error envelopes, Kling code -> HTTP status.

The HTTP layer turns each request into a `Request` and writes back the `Response` it gets;
everything in between is framework-free. A few faults need more than a body (close the
socket, cut the body short, answer late), so a `Response` can carry that too.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

ERROR_SHAPES: tuple[str, ...] = ("kling", "gateway", "wrapped")

# Kling code ranges and the HTTP status the provider pairs with them.
_STATUS_BY_CODE: tuple[tuple[int, int, int], ...] = (
    (1000, 1004, 401),
    (1100, 1102, 429),
    (1103, 1103, 403),
    (1200, 1201, 400),
    (1202, 1203, 404),
    (1300, 1301, 400),
    (1302, 1304, 429),
    (5000, 5000, 500),
    (5001, 5001, 503),
    (5002, 5002, 504),
)

# The reverse, for plain HTTP faults that want a plausible code in their JSON body.
CODE_BY_STATUS: dict[int, int] = {
    400: 1200,
    401: 1000,
    403: 1103,
    404: 1203,
    429: 1302,
    500: 5000,
    502: 5000,
    503: 5001,
    504: 5002,
}


# Kling codes a gateway answers in its own words (the option error_codes="cometapi"):
# its string code and HTTP status. The caller's account is the gateway's, so the
# account's balance codes become the gateway's quota code.
COMETAPI_EQUIVALENTS: dict[int, tuple[str, int]] = {
    **{code: ("invalid_api_key", 401) for code in range(1000, 1005)},
    1101: ("insufficient_user_quota", 403),
    1102: ("insufficient_user_quota", 403),
    1203: ("task_not_exist", 400),
}


def http_status_for(code: int) -> int:
    """The HTTP status the provider sends with a Kling error code (500 if unknown)."""
    for low, high, status in _STATUS_BY_CODE:
        if low <= code <= high:
            return status
    return 500


def new_request_id() -> str:
    return str(uuid.uuid4())


def new_numeric_id() -> str:
    """An 18-digit numeric string, the form Kling's task ids take."""
    return str(10**17 + secrets.randbelow(9 * 10**17))


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""
    server_url: str = ""  # the server's own root URL, for a request without a Host header

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def base_url(self) -> str:
        """The root URL the client used, so result links point where it can reach."""
        host = self.header("host")
        return f"http://{host}" if host else self.server_url


@dataclass
class Response:
    """One answer. `action` asks the HTTP layer for a socket-level misbehaviour."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # None: answer normally; "reset": close the socket without answering;
    # "truncate": announce the full Content-Length, send half the body, close.
    action: Literal["reset", "truncate"] | None = None
    delay: float = 0.0  # seconds to wait before answering (a slow provider)
    file_path: str | None = None  # stream this file as the body instead of `body`


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(
        status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    )


def html_response(status: int, title: str, text: str) -> Response:
    """An HTML page, as a gateway or a web server in front of the API would send."""
    page = (
        f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n"
        f"<body><center><h1>{title}</h1></center><hr><p>{text}</p><hr>"
        "<center>nginx</center></body></html>\n"
    )
    return Response(status, page.encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"})


def success(data: dict[str, Any], request_id: str | None = None) -> Response:
    """The provider's success envelope around `data`."""
    return json_response(
        200,
        {
            "code": 0,
            "message": "SUCCEED",
            "request_id": request_id or new_request_id(),
            "data": data,
        },
    )


def error_body(code: int, message: str, shape: str, request_id: str) -> dict[str, Any]:
    """An error payload in one of the three shapes CometAPI is seen to use."""
    if shape == "gateway":
        return {
            "error": {
                "message": f"{message} (request id: {request_id})",
                "type": "comet_api_error",
                "param": "",
                "code": str(code),
            }
        }
    if shape == "wrapped":
        return {
            "message": message,
            "data": {
                "data": {"code": code, "message": message, "request_id": request_id},
                "message": message,
            },
        }
    if shape == "kling":
        return {"code": code, "message": message, "request_id": request_id}
    raise ValueError(f"unknown error shape {shape!r}; use one of {', '.join(ERROR_SHAPES)}")


def error_response(
    code: int,
    message: str,
    *,
    shape: str = "kling",
    http_status: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error answer: the body in `shape`, the HTTP status Kling pairs with `code`."""
    status = http_status if http_status is not None else http_status_for(code)
    return json_response(status, error_body(code, message, shape, new_request_id()), headers)


def gateway_error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An error in the gateway's own envelope with its string `code` ("invalid_request")."""
    body = {
        "error": {
            "message": f"{message} (request id: {new_request_id()})",
            "type": "comet_api_error",
            "param": "",
            "code": code,
        }
    }
    return json_response(status, body, headers)


def invalid_url_response(method: str, path: str) -> Response:
    """What a gateway of CometAPI's family answers for a route it does not serve."""
    body = {
        "error": {
            "message": f"Invalid URL ({method} {path})",
            "type": "invalid_request_error",
            "param": "",
            "code": "",
        }
    }
    return json_response(404, body)


class WireError(Exception):
    """Raised inside request handling to answer with a Kling error."""

    def __init__(self, code: int, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status

    def response(self, shape: str = "kling", codes: str = "kling") -> Response:
        """The answer in `shape`; with `codes="cometapi"`, in the gateway's own words where
        it has them."""
        equivalent = COMETAPI_EQUIVALENTS.get(self.code) if codes == "cometapi" else None
        if equivalent is not None:
            name, status = equivalent
            return gateway_error_response(status, name, self.message)
        return error_response(self.code, self.message, shape=shape, http_status=self.http_status)


def s3_error_response(status: int, code: str, message: str) -> Response:
    """An error page in the XML an S3-style object store sends for result URLs."""
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId>"
        f"<HostId>{secrets.token_urlsafe(24)}</HostId></Error>"
    )
    return Response(status, xml.encode("utf-8"), {"Content-Type": "application/xml"})


def expired_url_response() -> Response:
    """What an S3-style store answers for a presigned URL whose time is up."""
    return s3_error_response(403, "AccessDenied", "Request has expired")
