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
from avatar_core.catalogue import Message, sentence_for
from avatar_core.provider.models import outside_text, whole_number

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
        return ErrorInfo(None, sentence_for("provider.not_json_object"), None)
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
    return outside_text(text, limit).rstrip(".")


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
    where = (
        sentence_for("where.kling_code", code=code)
        if code
        else sentence_for("where.http", status=status)
    )
    if info.gateway_code and not code:
        where = sentence_for("where.gateway_code_http", name=info.gateway_code, status=status)
    if code in (1100, 1101, 1102):
        return _upstream_account(code, detail, kw)
    return _by_code_and_status(status, code, detail, where, retry_after, task_id, kw)


# CometAPI's string codes: the class of each, and its sentence's key ({where} names the code).
_GATEWAY_CODES: dict[str, tuple[type[e.ProviderError], str]] = {
    "invalid_api_key": (e.AuthenticationError, "gateway.invalid_api_key"),
    "insufficient_user_quota": (e.QuotaError, "gateway.insufficient_user_quota"),
    "model_not_found": (e.UpstreamUnavailableError, "gateway.model_not_found"),
    "invalid_request": (e.InvalidRequestError, "gateway.invalid_request"),
    "task_not_exist": (e.NotFoundError, "gateway.task_not_exist"),
}


def _gateway_error(
    name: str, detail: str, task_id: str | None, kw: dict[str, Any]
) -> e.ProviderError | None:
    """The error for one of CometAPI's own string codes, or None for a code not known here."""
    known = _GATEWAY_CODES.get(name)
    if known is None:
        return None
    kind, key = known
    where = sentence_for("where.gateway_code", name=name)
    return kind(sentence_for(key, where=where, detail=detail, what=_asked_for(task_id)), **kw)


def _asked_for(task_id: str | None) -> Message:
    return (
        sentence_for("provider.task", task_id=task_id)
        if task_id
        else sentence_for("provider.what_asked")
    )


def _upstream_account(code: int, detail: str, kw: dict[str, Any]) -> e.UpstreamUnavailableError:
    """Kling's account codes, answered through CometAPI: the gateway's Kling account."""
    what = {
        1102: sentence_for("upstream.balance"),
        1101: sentence_for("upstream.arrears"),
    }.get(code, sentence_for("upstream.problem", detail=detail))
    return e.UpstreamUnavailableError(sentence_for("upstream.unavailable", what=what), **kw)


def _by_code_and_status(
    status: int,
    code: int | None,
    detail: str,
    where: Message,
    retry_after: float | None,
    task_id: str | None,
    kw: dict[str, Any],
) -> e.ProviderError:
    """The error for Kling's numeric codes, else for the HTTP status alone."""
    if code in range(1000, 1005) or (code is None and status == 401):
        return e.AuthenticationError(sentence_for("provider.bad_key", where=where), **kw)
    if code == 1103 or (code is None and status == 403):
        return e.PermissionDeniedError(sentence_for("provider.not_permitted", where=where), **kw)
    if code == 1303:
        return e.RateLimitError(sentence_for("provider.plan_limit"), retry_after=retry_after, **kw)
    if code == 1304:
        return e.RateLimitError(sentence_for("provider.ip_refused"), retry_after=retry_after, **kw)
    if code == 1302 or (code is None and status == 429):
        return e.RateLimitError(
            sentence_for("provider.rate_limited", where=where), retry_after=retry_after, **kw
        )
    if code in (1300, 1301):
        return e.ContentPolicyError(
            sentence_for("provider.content_policy", code=code, detail=detail), **kw
        )
    if code == 1203 or (code is None and status == 404):
        return e.NotFoundError(
            sentence_for("provider.not_found", what=_asked_for(task_id), where=where), **kw
        )
    if code in (1200, 1201, 1202) or (code is None and status in (400, 405, 422)):
        return e.InvalidRequestError(
            sentence_for("provider.refused", where=where, detail=detail), **kw
        )
    if code in (5000, 5001, 5002) or status >= 500:
        key = {5001: "provider.maintenance", 5002: "provider.timed_out"}.get(
            code or 0, "provider.server_error"
        )
        return e.ServerError(sentence_for(key, where=where), **kw)
    return e.ProviderError(sentence_for("provider.error", where=where, detail=detail), **kw)


def parse_answer(
    status: int,
    headers: Any,
    body: bytes,
    *,
    task_id: str | None = None,
    base_setting: str,
) -> dict[str, Any]:
    """The `data` of a successful answer; raises the mapped ProviderError otherwise.
    `base_setting` names the variable of the provider's base URL, for a page where an
    answer was expected (a wrong base URL)."""
    content_type = (headers.get("content-type") or "") if headers is not None else ""
    try:
        parsed = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if parsed is None:
        looks_html = "html" in content_type or body.lstrip()[:1] == b"<"
        kind = sentence_for("provider.html") if looks_html else sentence_for("provider.not_json")
        info = ErrorInfo(None, kind, None)
        if status >= 400:
            return_error = error_for(status, info, retry_after=retry_after_seconds(headers))
            if isinstance(return_error, (e.NotFoundError, e.InvalidRequestError)):
                raise e.ServerError(
                    sentence_for(
                        "provider.odd_answer_url",
                        kind=kind,
                        status=status,
                        setting=base_setting,
                    ),
                    status=status,
                    detail=kind,
                )
            raise return_error
        raise e.ServerError(
            sentence_for("provider.odd_answer", kind=kind, status=status),
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
            sentence_for("provider.no_task_data", status=status),
            status=status,
            request_id=parsed.get("request_id"),
        )
    return data
