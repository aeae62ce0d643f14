"""Kling's own API: CometAPI's routes without the `/kling` prefix, one known query route,
and a JWT signed with the secret key (`auth.KlingToken`).

- KLING_ACCESS_KEY, KLING_SECRET_KEY: both needed (the client signs a JWT with the secret
  key); one without the other is refused at start-up. Used when COMETAPI_KEY is unset.
- KLING_BASE_URL: the API's base URL (default https://api-singapore.klingai.com, the
  global endpoint; https://api-beijing.klingai.com serves mainland China).

A person pastes Kling's keys as ACCESS_KEY:SECRET_KEY. The account is the access key
(never the secret key). A refused token names the Kling keys, and the account codes
(1100-1102) are the caller's own account, not a gateway's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from avatar_core import env_values as read
from avatar_core import errors as e
from avatar_core.catalogue import sentence_for
from avatar_core.errors import SettingsError
from avatar_core.provider.auth import Credential, KlingToken
from avatar_core.provider.base import (
    PageTexts,
    Provider,
    ProviderPaths,
    ProviderProfile,
    Settings,
    key_label,
    pasted,
    with_fields,
)
from avatar_core.secret import Secret

DEFAULT_BASE_URL = "https://api-singapore.klingai.com"  # Kling's global endpoint
ACCESS_KEY, SECRET_KEY = "KLING_ACCESS_KEY", "KLING_SECRET_KEY"

KLING_PATHS = ProviderPaths(
    create="/v1/videos/avatar/image2video",
    queries=("/v1/videos/avatar/image2video/{id}",),
    tts="/v1/audio/tts",
)


class Kling(Provider):
    name = "kling"
    label = "Kling"
    paths = KLING_PATHS
    base_setting = "KLING_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    base_field = "kling_base_url"
    key_fields = ("kling_access_key", "kling_secret_key")
    page = PageTexts(
        name="page:provider_kling", own_key="page:own_key_kling", key_box="page:key_box_kling"
    )

    def read_settings(self, env: Mapping[str, str]) -> dict[str, Any]:
        access, secret = read.key(env, ACCESS_KEY), read.key(env, SECRET_KEY)
        if bool(access) != bool(secret):
            given, missing = (ACCESS_KEY, SECRET_KEY) if access else (SECRET_KEY, ACCESS_KEY)
            raise SettingsError(sentence_for("settings.half_set", given=given, missing=missing))
        return {
            "kling_access_key": Secret(access) if access else None,
            "kling_secret_key": Secret(secret) if secret else None,
            "kling_base_url": read.web_address(
                env, self.base_setting, DEFAULT_BASE_URL, example=DEFAULT_BASE_URL
            ),
        }

    def credential(self, settings: Settings) -> Credential:
        access, secret = self.keys(settings)
        assert access and secret
        return KlingToken(access, secret)

    def account(self, settings: Settings) -> Secret | None:
        return Secret("kling:" + (settings.kling_access_key or Secret("")).reveal())

    def with_key(self, settings: Settings, key: str) -> Settings:
        """ "ACCESS_KEY:SECRET_KEY"; empty: these settings' own keys."""
        if not key:
            return settings
        access, colon, secret = (part.strip() for part in key.partition(":"))
        if not (colon and access and secret):
            raise SettingsError(sentence_for("settings.paste_rule"))
        access, secret = pasted(access), pasted(secret)
        return with_fields(
            settings, kling_access_key=Secret(access), kling_secret_key=Secret(secret)
        )

    def key_label(self, settings: Settings) -> str:
        access, secret = (key.reveal() if key else None for key in self.keys(settings))
        return f"access key {key_label(access)}; secret key {key_label(secret)}"

    def ignored_note(self) -> str | None:
        return sentence_for("settings.both_set")

    def reworded(self, error: e.ProviderError) -> e.ProviderError:
        kw = {
            "status": error.status,
            "code": error.code,
            "request_id": error.request_id,
            "detail": error.detail,
        }
        if isinstance(error, e.AuthenticationError):
            where = (
                sentence_for("where.kling_code", code=error.code)
                if error.code
                else sentence_for("where.http", status=error.status)
            )
            return e.AuthenticationError(sentence_for("kling.auth_refused", where=where), **kw)
        if error.code == 1100:
            return e.QuotaError(sentence_for("kling.account_1100", detail=error.detail or ""), **kw)
        if error.code in (1101, 1102):
            key = "kling.account_1101" if error.code == 1101 else "kling.account_1102"
            return e.QuotaError(sentence_for(key), **kw)
        return error

    def key_pair(self, settings: Settings) -> tuple[str, str] | None:
        """(access key, secret key) as they are, when both are set (the simulator's
        `--kling-auth` checks tokens signed with them)."""
        access, secret = self.keys(settings)
        return (access.reveal(), secret.reveal()) if access and secret else None


KLING = Kling()


def kling_profile(
    base_url: str,
    access_key: Secret,
    secret_key: Secret,
    clock: Callable[[], float] | None = None,
) -> ProviderProfile:
    """Kling's own API at `base_url`; `clock` (Unix seconds) is for tests that age the token."""
    extra = {"clock": clock} if clock is not None else {}
    token = KlingToken(access_key, secret_key, **extra)
    return ProviderProfile(KLING, base_url.rstrip("/"), token)
