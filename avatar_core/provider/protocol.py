"""Reading the provider's answers: every envelope shape, and errors mapped to the tree.

Shapes seen (see kling-api.md): Kling's own `{"code", "message", "request_id", "data"}`;
CometAPI's gateway `{"error": {"message", "type", "code"}}`; an upstream error wrapped as
`{"message", "data": {"data": {"code", "message", "request_id"}}}`; and, on a wrong
route, HTML or a redirect. `code` other than 0 is an error even under HTTP 200.

CometAPI's own string codes (`invalid_request`, `insufficient_user_quota`, ...) decide the
class before the HTTP status does: its documented 500 with `invalid_request` is a refusal,
not a server error. Under CometAPI, Kling's account codes (1100-1102) describe the
gateway's own Kling account, never the caller's balance. docs/provider.md has the sources.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from avatar_core import errors as e
from avatar_core.provider.models import whole_number

_REQUEST_ID_IN_TEXT = re.compile(r"request id:?\s*([A-Za-z0-9_-]+)", re.IGNORECASE)
_REQUEST_ID_NOTE = re.compile(r"\s*\(request id:?\s*[A-Za-z0-9_-]+\)", re.IGNORECASE)


@dataclass(frozen=True)
class ErrorInfo:
    """What an error answer said, whatever its shape: Kling's numeric `code`, or the
    gateway's string code (`gateway_code`, e.g. "insufficient_user_quota")."""

    code: int | None
    message: str
    request_id: str | None
    gateway_code: str | None = None


def _string_code(value: Any) -> str | None:
    """A gateway's string code ("invalid_request"), or None for a number or nothing."""
    if value in (None, "") or whole_number(value) is not None:
        return None
    return str(value).strip().lower() or None


def _find_error(body: Any) -> ErrorInfo | None:
    """The error an answer carries, or None when it says success."""
    if not isinstance(body, dict):
        return ErrorInfo(None, "the answer is not a JSON object", None)
    gateway = body.get("error")
    if isinstance(gateway, dict):
        message = str(gateway.get("message") or gateway.get("type") or "unknown error")
        found = _REQUEST_ID_IN_TEXT.search(message)
        return ErrorInfo(
            whole_number(gateway.get("code")),
            _REQUEST_ID_NOTE.sub("", message).strip() or message,
            found.group(1) if found else None,
            _string_code(gateway.get("code")),
        )
    if isinstance(gateway, str) and gateway:
        return ErrorInfo(None, gateway, None)
    outer = body.get("data")
    inner = outer.get("data") if isinstance(outer, dict) else None
    if isinstance(inner, dict) and whole_number(inner.get("code")) not in (None, 0):
        return ErrorInfo(
            whole_number(inner.get("code")),
            str(inner.get("message") or body.get("message") or "unknown error"),
            inner.get("request_id") or body.get("request_id"),
        )
    code = whole_number(body.get("code"))
    if code not in (None, 0):
        return ErrorInfo(code, str(body.get("message") or "unknown error"), body.get("request_id"))
    if "code" in body and code is None and body.get("code") not in (None, ""):
        text = str(body.get("message") or body.get("code"))
        return ErrorInfo(None, text, body.get("request_id"), _string_code(body.get("code")))
    return None


def find_error(body: Any) -> ErrorInfo | None:
    """The error a parsed JSON answer carries, or None when it says success."""
    return _find_error(body)


def _clean(text: str, limit: int = 200) -> str:
    text = " ".join(text.split()).rstrip(".")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def retry_after_seconds(headers: Any) -> float | None:
    """`Retry-After` in seconds (either form), or None."""
    return _parse_retry_after(headers.get("retry-after") if headers is not None else None)


def error_for(
    status: int, info: ErrorInfo, *, retry_after: float | None = None, task_id: str | None = None
) -> e.ProviderError:
    """The exception (with its sentence for people) for an error answer."""
    code, detail, rid = info.code, _clean(info.message), info.request_id
    kw: dict[str, Any] = {"status": status, "code": code, "request_id": rid, "detail": detail}
    kw["gateway_code"] = info.gateway_code or ""
    if info.gateway_code:
        known = _gateway_error(info.gateway_code, detail, task_id, kw)
        if known is not None:
            return known
    where = f" (Kling code {code})" if code else f" (HTTP {status})"
    if info.gateway_code and not code:
        where = f" (CometAPI code {info.gateway_code}, HTTP {status})"
    if code in (1100, 1101, 1102):
        return _upstream_account(code, detail, kw)
    return _by_code_and_status(status, code, detail, where, retry_after, task_id, kw)


# CometAPI's string codes: the class of each, and its sentence ({where} names the code).
_GATEWAY_CODES: dict[str, tuple[type[e.ProviderError], str]] = {
    "invalid_api_key": (
        e.AuthenticationError,
        "CometAPI did not accept the API key {where}: check COMETAPI_KEY or paste a valid key.",
    ),
    "insufficient_user_quota": (
        e.QuotaError,
        "Your CometAPI balance is too low for this request {where}: top up your CometAPI "
        "account, then try again.",
    ),
    "model_not_found": (
        e.UpstreamUnavailableError,
        "CometAPI has no channel serving Kling Avatar for this key just now {where}: try again "
        "later, or check in the CometAPI console which models the key may use.",
    ),
    "invalid_request": (
        e.InvalidRequestError,
        "The provider refused the request {where}: {detail}.",
    ),
    "task_not_exist": (e.NotFoundError, "The provider does not know {what} {where}."),
}


def _gateway_error(
    name: str, detail: str, task_id: str | None, kw: dict[str, Any]
) -> e.ProviderError | None:
    """The error for one of CometAPI's own string codes, or None for a code not known here."""
    known = _GATEWAY_CODES.get(name)
    if known is None:
        return None
    kind, sentence = known
    what = f"task {task_id}" if task_id else "what was asked for"
    text = sentence.format(where=f"(CometAPI code {name})", detail=detail, what=what)
    return kind(text, **kw)


def _upstream_account(code: int, detail: str, kw: dict[str, Any]) -> e.UpstreamUnavailableError:
    """Kling's account codes, answered through CometAPI: the gateway's Kling account."""
    what = {
        1102: "CometAPI's own Kling balance is used up (Kling code 1102: the gateway's "
        "resource pack, not your CometAPI balance)",
        1101: "CometAPI's own Kling account is in arrears (Kling code 1101: the gateway's "
        "account, not yours)",
    }.get(code, f"CometAPI's own Kling account reports a problem (Kling code 1100: {detail})")
    return e.UpstreamUnavailableError(
        f"{what}: try again later, or tell CometAPI's support if it lasts.", **kw
    )


def _by_code_and_status(
    status: int,
    code: int | None,
    detail: str,
    where: str,
    retry_after: float | None,
    task_id: str | None,
    kw: dict[str, Any],
) -> e.ProviderError:
    """The error for Kling's numeric codes, else for the HTTP status alone."""
    if code in range(1000, 1005) or (code is None and status == 401):
        return e.AuthenticationError(
            f"CometAPI did not accept the API key{where}: check COMETAPI_KEY or paste a valid key.",
            **kw,
        )
    if code == 1103 or (code is None and status == 403):
        return e.PermissionDeniedError(
            f"This key may not use Kling Avatar{where}: enable the model for your account or use "
            "another key.",
            **kw,
        )
    if code == 1303:
        return e.RateLimitError(
            "Your plan's limit of tasks at once is reached (Kling code 1303): wait for a task to "
            "finish, then try again.",
            retry_after=retry_after,
            **kw,
        )
    if code == 1304:
        return e.RateLimitError(
            "The provider refused this machine's IP address (Kling code 1304): check the IP "
            "whitelist of your account.",
            retry_after=retry_after,
            **kw,
        )
    if code == 1302 or (code is None and status == 429):
        return e.RateLimitError(
            f"The provider is limiting the rate of requests{where}: wait a moment and try again.",
            retry_after=retry_after,
            **kw,
        )
    if code in (1300, 1301):
        return e.ContentPolicyError(
            f"The provider's content policy blocked this request (Kling code {code}: {detail}): "
            "try another photo, voice or prompt.",
            **kw,
        )
    if code == 1203 or (code is None and status == 404):
        what = f"task {task_id}" if task_id else "what was asked for"
        return e.NotFoundError(
            f"The provider does not know {what}{where}: check the task id.", **kw
        )
    if code in (1200, 1201, 1202) or (code is None and status in (400, 405, 422)):
        return e.InvalidRequestError(f"The provider refused the request{where}: {detail}.", **kw)
    if code in (5000, 5001, 5002) or status >= 500:
        label = {5001: "is under maintenance", 5002: "timed out"}.get(code or 0, "had an error")
        return e.ServerError(
            f"The provider {label} on its side{where}: try again in a few minutes.", **kw
        )
    return e.ProviderError(f"The provider answered with an error{where}: {detail}.", **kw)


def parse_answer(
    status: int,
    headers: Any,
    body: bytes,
    *,
    task_id: str | None = None,
) -> dict[str, Any]:
    """The `data` of a successful answer; raises the mapped ProviderError otherwise."""
    content_type = (headers.get("content-type") or "") if headers is not None else ""
    try:
        parsed = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if parsed is None:
        looks_html = "html" in content_type or body.lstrip()[:1] == b"<"
        kind = "an HTML page" if looks_html else "something that is not JSON"
        info = ErrorInfo(None, kind, None)
        if status >= 400:
            return_error = error_for(status, info, retry_after=retry_after_seconds(headers))
            if isinstance(return_error, (e.NotFoundError, e.InvalidRequestError)):
                raise e.ServerError(
                    f"The provider answered with {kind} (HTTP {status}): check COMETAPI_BASE_URL.",
                    status=status,
                    detail=kind,
                )
            raise return_error
        raise e.ServerError(
            f"The provider answered with {kind} (HTTP {status}): try again in a few minutes.",
            status=status,
            detail=kind,
        )
    found = _find_error(parsed)
    if found is not None or status >= 400:
        found = found or ErrorInfo(None, f"HTTP {status}", None)
        raise error_for(status, found, retry_after=retry_after_seconds(headers), task_id=task_id)
    data = parsed.get("data")
    if not isinstance(data, dict):
        raise e.ServerError(
            f"The provider's answer has no task data (HTTP {status}): try again in a few minutes.",
            status=status,
            request_id=parsed.get("request_id"),
        )
    return data
