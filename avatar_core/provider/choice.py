"""Which provider a person's settings choose, from the providers this app knows.

`PROVIDERS` is asked in order: the first whose keys the settings hold is chosen (COMETAPI_KEY
first, so a deployment that works keeps working; then Kling's own pair), and demo mode
(the built-in simulator) when none is. A new provider is a module of its own (see
docs/architecture.md, "Add a gateway") and its place in this tuple.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from avatar_core.provider.base import Provider, Settings
from avatar_core.provider.cometapi import COMETAPI
from avatar_core.provider.demo import DEMO
from avatar_core.provider.kling import KLING
from avatar_core.secret import Secret

PROVIDERS: tuple[Provider, ...] = (COMETAPI, KLING, DEMO)


def provider_of(settings: Settings) -> Provider:
    """The provider these settings choose."""
    return next(provider for provider in PROVIDERS if provider.chosen_by(settings))


def named(name: str) -> Provider:
    """The provider called `name` ("cometapi", "kling", "demo")."""
    return next(provider for provider in PROVIDERS if provider.name == name)


def settings_from(env: Mapping[str, str]) -> dict[str, Any]:
    """Every provider's Settings fields, read from the environment."""
    values: dict[str, Any] = {}
    for provider in PROVIDERS:
        values.update(provider.read_settings(env))
    return values


def all_keys(settings: Settings) -> tuple[Secret | None, ...]:
    """Every key these settings send with, to tell whether a pasted key is new (a known
    access key with another secret key is another credential)."""
    return tuple(key for provider in PROVIDERS for key in provider.keys(settings))


def doctor_notes(settings: Settings) -> list[str]:
    """The doctor's notes: the chosen provider's, then the keys set but ignored because
    a provider before theirs is chosen."""
    chosen = provider_of(settings)
    later = PROVIDERS[PROVIDERS.index(chosen) + 1 :]
    ignored = [p.ignored_note() for p in later if p.keys_set(settings) and p.ignored_note()]
    return chosen.notes(settings) + [note for note in ignored if note]
