"""HTTP to Kling Avatar as CometAPI serves it: create, query, text to speech.

Whether a failed request is sent again is decided in one place (provider/retry.py):
queries on connection errors, 429 (honouring Retry-After) and 5xx; a create only when it
certainly did not reach the provider (connection refused, or a rate limit that rejected
it). Any other doubt about a create becomes CreateOutcomeUnknownError, because a second
create is a second paid task.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import quote

import httpx

from avatar_core import errors as e
from avatar_core.config import DEFAULT_HTTP_TIMEOUT_S, Secret
from avatar_core.provider.models import SpeechResult, TaskInfo
from avatar_core.provider.protocol import parse_answer
from avatar_core.provider.retry import NEVER_SENT, RetryPolicy, with_retries

log = logging.getLogger(__name__)

CREATE_PATH = "/kling/v1/videos/avatar/image2video"
QUERY_PATHS = (
    "/kling/v1/videos/avatar/image2video/{id}",  # Kling's own route for avatar tasks
    "/kling/v1/videos/image2video/{id}",  # CometAPI's generic route, the fallback
)
TTS_PATH = "/kling/v1/audio/tts"
USER_AGENT = "talking-avatar-studio/0.1"


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


def redact(text: str, secret: Secret | None) -> str:
    if secret and secret.reveal() and secret.reveal() in text:
        return text.replace(secret.reveal(), "********")
    return text


def _scrubbed(error: e.AvatarError, secret: Secret | None) -> e.AvatarError:
    """The same error with the key taken out of every text it carries."""
    error.message = redact(error.message, secret)
    error.args = (error.message,)
    if isinstance(error, e.ProviderError) and error.detail:
        error.detail = redact(error.detail, secret)
    return error


def _connection_error(exc: httpx.HTTPError, what: str) -> e.ProviderConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return e.ProviderTimeoutError(
            f"The provider did not answer {what} in time: check the connection and try again."
        )
    return e.ProviderConnectionError(
        f"The provider could not be reached {what} ({type(exc).__name__}): check the "
        "connection and COMETAPI_BASE_URL, then try again."
    )


def _what_broke(exc: httpx.HTTPError) -> str:
    """A transport failure in words, for a sentence (not the exception's class name)."""
    if isinstance(exc, httpx.TimeoutException):
        return "no answer came in time"
    return "the connection broke"


def _route_missing(response: httpx.Response) -> bool:
    """True when the gateway does not serve this query route (not: the task is unknown)."""
    if response.is_redirect:
        return True
    head = response.content.lstrip()[:1]
    if head == b"<" and response.status_code < 500:
        return True
    if response.status_code != 404:
        return False
    try:
        body = response.json()
    except ValueError:
        return True
    return not (isinstance(body, dict) and str(body.get("code")) == "1203")


class KlingClient:
    """A small synchronous client; one per key. Thread-safe (httpx.Client is)."""

    def __init__(
        self,
        base_url: str,
        api_key: Secret | str,
        *,
        timeout: float = DEFAULT_HTTP_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key if isinstance(api_key, Secret) else Secret(api_key)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
        self._query_path: str | None = None  # the route that answered, once known

    def __repr__(self) -> str:
        return f"KlingClient(base_url={self.base_url!r}, api_key=Secret('********'))"

    def close(self) -> None:
        self._http.close()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    def __enter__(self) -> KlingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests -------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._key.reveal()}", "Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body).encode()
        return self._http.request(method, self.base_url + path, headers=headers, content=content)

    def _answer(self, response: httpx.Response, task_id: str | None = None) -> dict[str, Any]:
        try:
            return parse_answer(
                response.status_code, response.headers, response.content, task_id=task_id
            )
        except e.AvatarError as error:
            raise _scrubbed(error, self._key) from None

    # --- the API --------------------------------------------------------------------------

    def create_task(self, request: AvatarRequest) -> TaskInfo:
        """Submit one avatar task. Never repeated once it may have reached the provider."""
        external_id = request.external_task_id or ""
        body = request.to_json()
        try:
            data = with_retries(
                lambda: self._answer(self._send("POST", CREATE_PATH, body)),
                policy=self._retry,
                sleep=self._sleep,
                what="create",
                create=True,
            )
        except NEVER_SENT as exc:
            raise _connection_error(exc, "to create the task") from None
        except httpx.HTTPError as exc:
            raise self._unknown_outcome(external_id, _what_broke(exc)) from None
        except e.ServerError as exc:
            raise self._unknown_outcome(external_id, exc.detail or exc.message) from None
        return self._task(data)

    def _unknown_outcome(self, external_id: str, why: str) -> e.CreateOutcomeUnknownError:
        return e.CreateOutcomeUnknownError(
            "The create request was sent but no clear answer came back "
            f"({redact(why, self._key)}); "
            f"it was not resent, to avoid paying twice: look the task up by its external id "
            f"{external_id} before trying again.",
            external_task_id=external_id,
        )

    def get_task(self, task_id: str) -> TaskInfo:
        """Query a task by its task id (or external task id), with the route fallback."""
        what = "while checking the task"
        try:
            data = with_retries(
                lambda: self._query_once(task_id), policy=self._retry, sleep=self._sleep, what=what
            )
        except httpx.HTTPError as exc:
            raise _connection_error(exc, what) from None
        return self._task(data)

    def _task(self, data: dict[str, Any]) -> TaskInfo:
        """The task as the provider describes it, with the key taken out of every text: a
        reason or a link that echoes the key would otherwise reach the journal and the page."""
        info = TaskInfo.from_data(data)
        texts = {f.name: getattr(info, f.name) for f in fields(info)}
        scrubbed = {k: redact(v, self._key) for k, v in texts.items() if type(v) is str}
        changed = {k: v for k, v in scrubbed.items() if v != texts[k]}
        return replace(info, **changed) if changed else info

    def _query_once(self, task_id: str) -> dict[str, Any]:
        paths = [self._query_path] if self._query_path else list(QUERY_PATHS)
        for index, template in enumerate(paths):
            path = template.format(id=quote(task_id, safe=""))
            response = self._send("GET", path, None)
            if _route_missing(response) and index + 1 < len(paths):
                log.info(
                    "query route %s not served (HTTP %d); trying the next",
                    template,
                    response.status_code,
                )
                continue
            data = self._answer(response, task_id=task_id)
            if self._query_path is None:
                self._query_path = template
            return data
        raise AssertionError("unreachable")

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
            response = self._send("POST", TTS_PATH, body)
        except httpx.HTTPError as exc:
            raise _connection_error(exc, "to make the speech") from None
        result = SpeechResult.from_data(self._answer(response))
        if not result.audio_id:
            raise e.ServerError("The provider's speech answer has no audio id: try again.")
        return result
