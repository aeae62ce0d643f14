"""HTTP to Kling Avatar, as CometAPI serves it or Kling's own API: create, query, text to
speech. Which routes and which credential is the client's `ProviderProfile` (base.py);
the client only asks the credential for its header.

Whether a failed request is sent again is decided in one place (provider/retry.py):
queries on connection errors, 429 (honouring Retry-After) and 5xx; a create only when it
certainly did not reach the provider (connection refused, or a rate limit that rejected
it). Any other doubt about a create becomes CreateOutcomeUnknownError, because a second
create is a second paid task. A create waits longer than other requests for its answer
(`create_timeout`): its body carries the media as base64.

Every request goes through `_send`, which takes its slot in the process's request budget
(`connection.py`, `budget.py`) on the HTTP connection pool the process's sessions share.

Queries try the route remembered for this base URL first, then the others, whenever an
answer says the route or the task is unknown there, in any shape gateways use (a provider
with one known query route, Kling's own, has nothing to discover).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import quote

import httpx

from avatar_core import errors as e
from avatar_core.catalogue import Message, sentence_for
from avatar_core.clock import SYSTEM, Clock
from avatar_core.provider.base import ProviderProfile
from avatar_core.provider.cometapi import cometapi_profile
from avatar_core.provider.connection import (
    ProviderConnection,
    http_timeout,
)
from avatar_core.provider.models import SpeechResult, TaskInfo
from avatar_core.provider.protocol import find_error, parse_answer
from avatar_core.provider.retry import NEVER_SENT, RetryPolicy, with_retries
from avatar_core.provider.routes import RouteMemory
from avatar_core.secret import Secret
from avatar_core.timeouts import DEFAULT_CREATE_TIMEOUT_S, DEFAULT_HTTP_TIMEOUT_S

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AvatarRequest:
    """The body of a create. `image` and `sound_file` are raw base64 or public URLs."""

    image: str = field(repr=False)
    prompt: str
    sound_file: str | None = field(default=None, repr=False)
    audio_id: str | None = None
    mode: str = "std"
    task_id: str | None = None
    external_task_id: str | None = None
    callback_url: str | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"image": self.image, "prompt": self.prompt, "mode": self.mode}
        optional = {
            "sound_file": self.sound_file,
            "audio_id": self.audio_id,
            "task_id": self.task_id,
            "external_task_id": self.external_task_id,
            "callback_url": self.callback_url,
        }
        body.update({k: v for k, v in optional.items() if v})
        return body


def redact(text: str, hidden: Secret | tuple[str, ...] | None) -> str:
    """`text` with every hidden text (a key, a secret, a token) masked."""
    if isinstance(hidden, Secret):
        hidden = (hidden.reveal(),)
    for value in sorted(hidden or (), key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, "********")
    return text


def _scrubbed(error: e.AvatarError, hidden: tuple[str, ...]) -> e.AvatarError:
    """The same error with the credential taken out of every text it carries."""
    error.message = redact(error.message, hidden)
    error.args = (error.message,)
    if isinstance(error, e.ProviderError) and error.detail:
        error.detail = redact(error.detail, hidden)
    return error


def _connection_error(
    exc: httpx.HTTPError, what: Message, setting: str
) -> e.ProviderConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return e.ProviderTimeoutError(sentence_for("connection.no_answer", what=what))
    return e.ProviderConnectionError(
        sentence_for("connection.unreachable", what=what, kind=type(exc).__name__, setting=setting)
    )


def _never_sent(exc: httpx.HTTPError, setting: str) -> e.ProviderConnectionError:
    """A create that provably never left: the one case, besides a refusal, that proves
    nothing was charged."""
    return e.ProviderConnectionError(
        sentence_for("connection.never_sent", kind=type(exc).__name__, setting=setting)
    )


def _unknown_everywhere(error: e.NotFoundError, task_id: str, routes: int) -> e.NotFoundError:
    """The task is unknown on every query route: one sentence that says so."""
    if error.gateway_code:
        where = sentence_for("where.gateway", name=error.gateway_code)
    elif error.code:
        where = sentence_for("where.kling_code", code=error.code)
    else:
        where = sentence_for("where.http", status=error.status)
    on = sentence_for("provider.on_both_routes") if routes > 1 else ""
    error.message = sentence_for("provider.unknown_task", task_id=task_id, on=on, where=where)
    error.args = (error.message,)
    return error


def _what_broke(exc: httpx.HTTPError) -> Message:
    """A transport failure in words, for a sentence (not the exception's class name)."""
    if isinstance(exc, httpx.TimeoutException):
        return sentence_for("connection.no_answer_in_time")
    return sentence_for("connection.broke")


def says_unknown(response: httpx.Response) -> bool:
    """True when the answer says this route, or this task, is unknown here, in any shape a
    gateway uses: a redirect, an HTML page, a 404, a JSON 400 `task_not_exist`, a JSON
    "Invalid URL", Kling's 1202 (no such route) or 1203 (no such task)."""
    status = response.status_code
    if response.is_redirect or status == 404:
        return True
    if response.content.lstrip()[:1] == b"<":
        return status < 500
    try:
        body = response.json()
    except ValueError:
        return False
    found = find_error(body)
    if found is None:
        return False
    return (
        found.gateway_code == "task_not_exist"
        or found.code in (1202, 1203)
        or "invalid url" in found.message.lower()
    )


class ProviderClient:
    """A provider session: one account's base URL, credential and routes, sending on a
    `ProviderConnection` (its pool and request budget) that a process's sessions share.
    A light object: one per key. Thread-safe.

    `ProviderClient(base_url, key)` speaks to CometAPI (or the simulator) with a bearer key;
    `profile` (`Provider.profile`, base.py) chooses another provider, its routes and its
    credential. With no `connection`, it makes one of its own (closed with it).
    """

    def __init__(
        self,
        base_url: str,
        api_key: Secret | str = "",
        *,
        profile: ProviderProfile | None = None,
        timeout: float = DEFAULT_HTTP_TIMEOUT_S,
        create_timeout: float = DEFAULT_CREATE_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM,
        connection: ProviderConnection | None = None,
        routes: RouteMemory | None = None,
    ) -> None:
        self.profile = profile or cometapi_profile(base_url, api_key)
        self.base_url = self.profile.base_url
        self._credential = self.profile.credential
        self._paths = self.profile.paths
        self._retry = retry or RetryPolicy()
        self._clock = clock  # what waits between attempts
        self._owns_connection = connection is None
        self.connection = connection or ProviderConnection(timeout=timeout)
        self._timeout = http_timeout(timeout)
        self._create_timeout = http_timeout(create_timeout)
        self.routes = routes or RouteMemory()  # the query route that answers, once known
        self._closed = False

    def __repr__(self) -> str:
        return f"ProviderClient(base_url={self.base_url!r}, credential={self._credential!r})"

    def close(self) -> None:
        """Done with this session; its connection too when it is the session's own."""
        self._closed = True
        if self._owns_connection:
            self.connection.close()

    @property
    def closed(self) -> bool:
        return self._closed or self.connection.closed

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests -------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """Every request to the provider: its slot in the budget, then the request."""
        authorization = self._credential.authorization()
        headers = {"Authorization": authorization, "Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body).encode()
        return self.connection.send(
            method,
            self.base_url + path,
            headers=headers,
            content=content,
            timeout=timeout or self._timeout,
        )

    @property
    def query_paths(self) -> tuple[str, ...]:
        """The provider's query route templates, in the order first tried."""
        return self._paths.queries

    def scrub(self, text: str) -> str:
        """`text` with this client's credential (key, secret, token) taken out."""
        return redact(text, self._credential.hidden())

    def ask(self, path: str) -> httpx.Response:
        """One GET of `path` as it comes back: no retry, no parsing (for the doctor)."""
        return self._send("GET", path, None)

    def _answer(self, response: httpx.Response, task_id: str | None = None) -> dict[str, Any]:
        try:
            return parse_answer(
                response.status_code,
                response.headers,
                response.content,
                task_id=task_id,
                base_setting=self.profile.base_setting,
            )
        except e.ProviderError as error:
            reworded = self.profile.provider.reworded(error)
            raise _scrubbed(reworded, self._credential.hidden()) from None
        except e.AvatarError as error:
            raise _scrubbed(error, self._credential.hidden()) from None

    # --- the API --------------------------------------------------------------------------

    def create_task(self, request: AvatarRequest) -> TaskInfo:
        """Submit one avatar task. Never repeated once it may have reached the provider."""
        external_id = request.external_task_id or ""
        body = request.to_json()
        try:
            data = with_retries(
                lambda: self._answer(
                    self._send("POST", self._paths.create, body, self._create_timeout)
                ),
                policy=self._retry,
                clock=self._clock,
                what="create",
                create=True,
            )
        except NEVER_SENT as exc:
            raise _never_sent(exc, self.profile.base_setting) from None
        except httpx.HTTPError as exc:
            raise self._unknown_outcome(external_id, _what_broke(exc)) from None
        except e.ServerError as exc:
            raise self._unknown_outcome(external_id, exc.detail or exc.message) from None
        return self._task(data)

    def _unknown_outcome(self, external_id: str, why: str) -> e.CreateOutcomeUnknownError:
        why = self.scrub(why)
        return e.CreateOutcomeUnknownError(
            sentence_for("create.outcome_unknown", why=why, external_id=external_id),
            external_task_id=external_id,
            why=why,
        )

    def get_task(self, task_id: str) -> TaskInfo:
        """Query a task by its task id (or external task id), with the route fallback."""
        what = "while checking the task"
        try:
            data = with_retries(
                lambda: self._query_once(task_id),
                policy=self._retry,
                clock=self._clock,
                what=what,
            )
        except httpx.HTTPError as exc:
            checking = sentence_for("connection.checking_task")
            raise _connection_error(exc, checking, self.profile.base_setting) from None
        return self._task(data)

    def _task(self, data: dict[str, Any]) -> TaskInfo:
        """The task as the provider describes it, with the key taken out of every text: a
        reason or a link that echoes the key would otherwise reach the journal and the page."""
        info = TaskInfo.from_data(data)
        texts = {f.name: getattr(info, f.name) for f in fields(info)}
        scrubbed = {k: self.scrub(v) for k, v in texts.items() if type(v) is str}
        changed = {k: v for k, v in scrubbed.items() if v != texts[k]}
        return replace(info, **changed) if changed else info

    def _query_once(self, task_id: str) -> dict[str, Any]:
        """One answer about the task: the remembered route first, then the others, while
        each says the route or the task is unknown there. A task unknown in so many words
        on one route is unknown, whatever page another route answers with."""
        paths = self._paths.queries
        remembered = self.routes.get(self.base_url) if self._paths.discovered else None
        order = [remembered] if remembered in paths else []
        order += [template for template in paths if template not in order]
        unknown: e.NotFoundError | None = None
        for number, template in enumerate(order, 1):
            response = self._send("GET", template.format(id=quote(task_id, safe="")), None)
            if says_unknown(response):
                unknown = unknown or self._unknown_task(response, task_id)
                if number < len(order):
                    log.info("query route %s: unknown there (HTTP %d); trying the next",
                             template, response.status_code)  # fmt: skip
                    continue
                if unknown is not None:
                    raise _unknown_everywhere(unknown, task_id, len(order))
            try:
                data = self._answer(response, task_id=task_id)
            except e.NotFoundError as error:
                raise _unknown_everywhere(error, task_id, len(order)) from None
            if self._paths.discovered:
                self.routes.remember(self.base_url, template)
            return data
        raise AssertionError("unreachable")

    def _unknown_task(self, response: httpx.Response, task_id: str) -> e.NotFoundError | None:
        """The answer's "no such task" error, if that is what it says (not a page)."""
        try:
            self._answer(response, task_id=task_id)
        except e.NotFoundError as error:
            return error
        except e.AvatarError:
            return None
        return None

    def text_to_speech(
        self, text: str, voice_id: str, language: str = "en", speed: float = 1.0
    ) -> SpeechResult:
        """Kling TTS; the result's `audio_id` can drive an avatar. Not retried (it is paid)."""
        body = {
            "text": text,
            "voice_id": voice_id,
            "voice_language": language,
            "voice_speed": round(float(speed), 1),
        }
        try:
            response = self._send("POST", self._paths.tts, body)
        except httpx.HTTPError as exc:
            setting = self.profile.base_setting
            raise _connection_error(
                exc, sentence_for("connection.making_speech"), setting
            ) from None
        result = SpeechResult.from_data(self._answer(response))
        if not result.audio_id:
            raise e.ServerError(sentence_for("speech.no_audio_id"))
        return result
