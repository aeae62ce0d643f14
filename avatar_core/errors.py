"""One exception tree for the whole package.

Every error carries `message`: one sentence a person can act on (what happened, the
measured value where there is one, the rule, and the fix). `str(error)` is that sentence,
so the UI and the CLI print it as it is and never show a traceback.

The sentence is a catalogued `Message` (`sentence_for(key, ...)` from `avatar_core.catalogue`): its
`str` is English, and `error.in_language("zh")` gives it in Chinese.
"""

from __future__ import annotations

from avatar_core.catalogue import in_language, sentence_for


class AvatarError(Exception):
    """Root of every error this package raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def in_language(self, language: str) -> str:
        """The sentence in `language` ("en", "zh"), as far as the catalogue has it."""
        return in_language(self.message, language)


# --- inputs -------------------------------------------------------------------------------


class InputError(AvatarError):
    """An input is not acceptable; nothing was sent and nothing was charged.

    `field` names the input ("image", "audio", "prompt", "mode", ...). An error that
    gathers several problems keeps each one's sentence in `problems`.
    """

    def __init__(
        self, message: str, *, field: str | None = None, problems: list[str] | None = None
    ):
        super().__init__(message)
        self.field = field
        self.problems = problems if problems is not None else [message]

    @classmethod
    def gather(cls, errors: list[InputError]) -> InputError:
        """One error that carries every problem of several."""
        if len(errors) == 1:
            return errors[0]
        problems = [p for e in errors for p in e.problems]
        return cls(sentence_for("sentences", problems=problems), problems=problems)


class UnsafeURLError(InputError):
    """A URL that may not be fetched (wrong scheme, internal address, too large)."""


class MediaToolError(AvatarError):
    """ffmpeg could not be found or failed in a way that is not the input's fault."""


# --- the provider -------------------------------------------------------------------------


class ProviderError(AvatarError):
    """The provider answered with an error, or could not be reached.

    Carries what is known: the HTTP status, Kling's numeric code or the gateway's string
    code (`gateway_code`), the request id.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        request_id: str | None = None,
        detail: str | None = None,
        gateway_code: str = "",  # "" when the answer had none
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.detail = detail
        self.gateway_code = gateway_code


class AuthenticationError(ProviderError):
    """The key is missing, wrong or expired (Kling 1000-1004, HTTP 401)."""


class PermissionDeniedError(ProviderError):
    """The account may not use this API or model (Kling 1103, HTTP 403)."""


class QuotaError(ProviderError):
    """The caller's own account is short of balance or blocked (CometAPI's
    `insufficient_user_quota`)."""


class UpstreamUnavailableError(ProviderError):
    """The gateway could not serve the request upstream: its own Kling account (Kling
    1100-1102 answered through CometAPI) or no channel for the model (`model_not_found`).
    Not the caller's balance; a create refused this way made no task."""


class RateLimitError(ProviderError):
    """Too many requests or tasks at once (Kling 1302-1304, HTTP 429)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InvalidRequestError(ProviderError):
    """The provider refused the request's parameters (Kling 1200-1202, HTTP 400)."""


class ContentPolicyError(ProviderError):
    """The provider's content rules blocked the request (Kling 1300, 1301)."""


class NotFoundError(ProviderError):
    """The task (or route) does not exist (Kling 1203, HTTP 404)."""


class ServerError(ProviderError):
    """The provider failed on its side (Kling 5000-5002, HTTP 5xx), or answered nonsense."""


class ProviderConnectionError(ProviderError):
    """The provider could not be reached, or the connection broke."""


class ProviderTimeoutError(ProviderConnectionError):
    """The provider did not answer in time."""


class CreateOutcomeUnknownError(ProviderConnectionError):
    """A create request may have reached the provider but no answer came back.

    It is never resent automatically: a second create is a second charge. The journal
    keeps the job with its `external_task_id` so a person can look it up.
    """

    def __init__(self, message: str, *, external_task_id: str, why: str = "", **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.external_task_id = external_task_id
        self.why = why  # what went wrong, in a few words ("the connection broke")


class UnclearError(ProviderError):
    """Whether the provider has a job's task cannot be told just now: a create whose answer
    was lost and whose lookup by external id found nothing, or a task unknown on every
    query route. Never "failed", never "not charged": the job stays unfinished in the
    journal and is looked for again; only a person may choose to send it again."""

    def __init__(self, message: str, *, job_id: str, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.job_id = job_id


# --- the task -----------------------------------------------------------------------------


class TaskFailedError(ProviderError):
    """The task ended in `failed`; `reason` is the provider's `task_status_msg`."""

    def __init__(self, message: str, *, task_id: str, reason: str = "", **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.task_id = task_id
        self.reason = reason


class TaskStillRunningError(AvatarError):
    """The deadline passed while the task was still running; it can be picked up later."""

    def __init__(self, message: str, *, task_id: str, status: str) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.status = status


class ResultDownloadError(AvatarError):
    """The finished video could not be downloaded or is not a playable MP4."""


class VideoLinkGoneError(ResultDownloadError):
    """The video link answered 401, 403, 404 or 410 after every retry: expired, or not
    in place yet. `status` is the last HTTP status."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class StorageError(AvatarError):
    """The data folder or the journal cannot be written or read (full disk, corruption)."""


# --- this app's own rules for its visitors -------------------------------------------------


class LimitReachedError(AvatarError):
    """A visitor's job or speech would pass one of the operator's spending limits; nothing
    was sent and nothing was journaled."""


class NotYoursError(AvatarError):
    """A visitor looked up a task that is not among its own jobs; nothing was asked of the
    provider."""


# --- settings ------------------------------------------------------------------------------


class SettingsError(AvatarError):
    """A setting from the environment cannot be used as it is (e.g. only one of the two
    Kling keys); nothing was started."""
