"""Demo mode: no key is set, and the built-in simulator (started by `open_studio` on
loopback, `avatar_core/demo.py`) speaks CometAPI's side with a key only it accepts.

Nobody's account pays, so there is no account; a key a person pastes is a CometAPI key
and leaves demo mode for that person only. The doctor says it is the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from avatar_core import errors as e
from avatar_core.catalogue import Message, sentence_for
from avatar_core.provider.auth import ApiKey, Credential
from avatar_core.provider.base import PageTexts, Settings
from avatar_core.provider.cometapi import COMETAPI, CometAPI
from avatar_core.secret import Secret

DEMO_KEY = "demo-mode-key"  # accepted by the simulator only; not a secret


class Demo(CometAPI):
    name = "demo"
    label = "demo"
    key_fields = ()
    simulated = True
    page = PageTexts(name="page:provider_demo")

    def read_settings(self, env: Mapping[str, str]) -> dict[str, Any]:
        return {}  # COMETAPI_BASE_URL is CometAPI's: a pasted key goes there

    def chosen_by(self, settings: Settings) -> bool:
        return True  # last in line: no other provider's keys are set

    def credential(self, settings: Settings) -> Credential:
        return ApiKey(Secret(DEMO_KEY))

    def account(self, settings: Settings) -> Secret | None:
        return None

    def with_key(self, settings: Settings, key: str) -> Settings:
        return COMETAPI.with_key(settings, key)  # a key pasted on the demo is CometAPI's

    def reworded(self, error: e.ProviderError) -> e.ProviderError:
        return COMETAPI.reworded(error)  # the simulator speaks CometAPI's side

    def host(self, base_url: str) -> str | None:
        return None  # a loopback port of this run: nothing a person needs

    def line(self, base_url: str) -> Message:
        return sentence_for(
            "provider.line", label=self.label, where=sentence_for("provider.demo_where")
        )

    def key_label(self, settings: Settings) -> str:
        return "the demo key"

    def notes(self, settings: Settings) -> list[str]:
        return ["demo mode: this is the built-in simulator, not CometAPI"]


DEMO = Demo()
