"""CometAPI: Kling Avatar under a `/kling` prefix, with a bearer key.

- COMETAPI_KEY: the CometAPI key; unset (and no Kling keys) means demo mode on the
  built-in simulator. When it is set it wins over the Kling keys, so a deployment that
  works keeps working.
- COMETAPI_BASE_URL: the API's base URL (default https://api.cometapi.com).

Which query route CometAPI serves for avatar tasks is unconfirmed (docs/provider.md): the
client tries Kling's avatar route under the prefix, then CometAPI's generic one, and
remembers the first that answers (`routes.RouteMemory`). A pasted key is a CometAPI key.
"""

from __future__ import annotations

from avatar_core.provider.auth import ApiKey
from avatar_core.provider.base import (
    PageTexts,
    Provider,
    ProviderPaths,
    ProviderProfile,
    Settings,
)
from avatar_core.secret import Secret

DEFAULT_BASE_URL = "https://api.cometapi.com"

COMETAPI_PATHS = ProviderPaths(
    create="/kling/v1/videos/avatar/image2video",
    # Kling's avatar route under the prefix, then CometAPI's generic route (the fallback)
    queries=("/kling/v1/videos/avatar/image2video/{id}", "/kling/v1/videos/image2video/{id}"),
    tts="/kling/v1/audio/tts",
)


class CometAPI(Provider):
    name = "cometapi"
    label = "CometAPI"
    paths = COMETAPI_PATHS
    base_setting = "COMETAPI_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    key_setting = "COMETAPI_KEY"
    base_field = "base_url"
    key_fields = ("api_key",)
    page = PageTexts(name="page:provider_cometapi")

    def chosen_by(self, settings: Settings) -> bool:
        return settings.api_key is not None  # set, even to nothing usable: it comes first


COMETAPI = CometAPI()


def cometapi_profile(base_url: str, key: Secret | str) -> ProviderProfile:
    """CometAPI at `base_url` with `key` (tests, and clients made without settings)."""
    return ProviderProfile(COMETAPI, base_url.rstrip("/"), ApiKey(key))
