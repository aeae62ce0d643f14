"""The one place that knows each provider: its name, base URL, routes and credential.

- CometAPI serves Kling under a `/kling` prefix, with a bearer key; which query route it
  serves for avatar tasks is unconfirmed, so the client discovers it (`RouteMemory`).
- Kling's own API has the same routes without the prefix, a JWT signed with the secret key
  (`auth.KlingToken`), and one known query route.
- Demo mode is CometAPI's side, spoken by the built-in simulator.

Which provider a person's settings choose is `Settings.provider` (config.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from avatar_core import errors as e
from avatar_core.config import Secret, Settings
from avatar_core.provider.auth import ApiKey, Credential, KlingToken
from avatar_core.words import Message, say


@dataclass(frozen=True)
class ProviderPaths:
    """The routes of one provider. Query templates have `{id}`; the first is tried first."""

    create: str
    queries: tuple[str, ...]
    tts: str

    @property
    def discovered(self) -> bool:
        """More than one query route: which one answers is found out and remembered."""
        return len(self.queries) > 1


COMETAPI_PATHS = ProviderPaths(
    create="/kling/v1/videos/avatar/image2video",
    # Kling's avatar route under the prefix, then CometAPI's generic route (the fallback)
    queries=("/kling/v1/videos/avatar/image2video/{id}", "/kling/v1/videos/image2video/{id}"),
    tts="/kling/v1/audio/tts",
)
KLING_PATHS = ProviderPaths(
    create="/v1/videos/avatar/image2video",
    queries=("/v1/videos/avatar/image2video/{id}",),
    tts="/v1/audio/tts",
)

DEFAULT_MAX_PART_SECONDS = 60.0

# What people read about each provider (and which settings to check when it refuses).
LABELS = {"cometapi": "CometAPI", "kling": "Kling", "demo": "demo"}
BASE_SETTINGS = {
    "cometapi": "COMETAPI_BASE_URL",
    "kling": "KLING_BASE_URL",
    "demo": "COMETAPI_BASE_URL",
}


@dataclass(frozen=True)
class ProviderProfile:
    """One provider as the client speaks to it."""

    name: str  # "cometapi", "kling" or "demo"
    base_url: str
    paths: ProviderPaths
    credential: Credential = field(repr=False)
    # The longest audio one task takes; a longer speech is split into parts of at most
    # this (inputs/speech_parts.py). 60 s on every provider until a larger limit is
    # confirmed: CometAPI documents 60 s, Kling's own documents 300 s.
    max_part_seconds: float = DEFAULT_MAX_PART_SECONDS

    @property
    def label(self) -> str:
        return LABELS[self.name]

    @property
    def base_setting(self) -> str:
        return BASE_SETTINGS[self.name]


def cometapi_profile(base_url: str, key: Secret | str) -> ProviderProfile:
    return ProviderProfile("cometapi", base_url.rstrip("/"), COMETAPI_PATHS, ApiKey(key))


def kling_profile(
    base_url: str,
    access_key: Secret,
    secret_key: Secret,
    clock: Callable[[], float] | None = None,
) -> ProviderProfile:
    """Kling's own API; `clock` (Unix seconds) is for tests that age the token."""
    extra = {"clock": clock} if clock is not None else {}
    token = KlingToken(access_key, secret_key, **extra)
    return ProviderProfile("kling", base_url.rstrip("/"), KLING_PATHS, token)


def profile_for(settings: Settings) -> ProviderProfile:
    """The provider these settings choose (not demo mode: that needs the simulator's URL)."""
    if settings.provider == "kling":
        assert settings.kling_access_key and settings.kling_secret_key
        return kling_profile(
            settings.kling_base_url, settings.kling_access_key, settings.kling_secret_key
        )
    return cometapi_profile(settings.base_url, settings.api_key or "")


def provider_line(name: str, base_url: str) -> str:
    """The line the page and the command line show: "Provider: Kling (host)"."""
    where = (
        say("provider.demo_where") if name == "demo" else (urlsplit(base_url).netloc or base_url)
    )
    return say("provider.line", label=LABELS[name], where=where)


def reworded(profile: ProviderProfile, error: e.ProviderError) -> e.ProviderError:
    """`error` in the words of `profile`'s provider. The sentences of protocol.py speak of
    CometAPI; on Kling's own API a refused token names the Kling keys, and the account
    codes (1100-1102) are the caller's own account, not a gateway's."""
    if profile.name != "kling":
        return error
    kw = {
        "status": error.status,
        "code": error.code,
        "request_id": error.request_id,
        "detail": error.detail,
    }
    if isinstance(error, e.AuthenticationError):
        where = (
            say("where.kling_code", code=error.code)
            if error.code
            else say("where.http", status=error.status)
        )
        return e.AuthenticationError(say("kling.auth_refused", where=where), **kw)
    if error.code == 1100:
        return e.QuotaError(say("kling.account_1100", detail=error.detail or ""), **kw)
    if error.code in (1101, 1102):
        key = "kling.account_1101" if error.code == 1101 else "kling.account_1102"
        return e.QuotaError(say(key), **kw)
    message = error.message
    if isinstance(message, Message) and "setting" in message.params:
        error.message = say(message.key, **{**message.params, "setting": profile.base_setting})
    else:
        error.message = message.replace("COMETAPI_BASE_URL", profile.base_setting)
    error.args = (error.message,)
    return error
