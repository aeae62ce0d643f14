"""What a provider is, as the rest of the app sees it: `Provider`, one object per provider.

Each provider's module (`cometapi.py`, `kling.py`, `demo.py`) subclasses `Provider` and
owns everything about it: its routes (`ProviderPaths`), the variables it reads from the
environment and the `Settings` fields they fill, its default base URL, its credential,
whose account pays, how a person's pasted key is written and checked, what the doctor and
the page say of it, and its errors in its own words. `choice.py` lists them and says which
one a person's settings choose. Nothing outside `provider/` asks which provider it is.

Settings are passed as `avatar_core.config.Settings`, which is not imported here: config
reads the environment through these objects (`read_settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from avatar_core import env_values as read
from avatar_core import errors as e
from avatar_core.catalogue import Message, sentence_for
from avatar_core.errors import SettingsError
from avatar_core.provider.auth import ApiKey, Credential
from avatar_core.secret import Secret

Settings = Any  # avatar_core.config.Settings (config imports this module)

# The longest audio one task takes; a longer speech is split into parts of at most this
# (inputs/speech_parts.py). 60 s on every provider until a larger limit is confirmed:
# CometAPI documents 60 s, Kling's own documents 300 s.
DEFAULT_MAX_PART_SECONDS = 60.0


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


@dataclass(frozen=True)
class PageTexts:
    """The page's catalogue keys (avatar_core/catalogue/page.json) for this provider: its
    name on the provider line, the key panel's title and the key box's label."""

    name: str
    own_key: str = "page:own_key"
    key_box: str = "page:key_box"


class Provider:
    """One provider. Subclasses set the class attributes and override what differs; what
    is not overridden is a gateway with one bearer key (`key_setting`), whose pasted key
    is that key.

    Its values live in the Settings field named `base_field` and `key_fields`, or, for a
    provider without fields of its own in config.py, in `Settings.provider_values` under
    those names (`value`, `with_fields`): a new provider needs no change in config.py.
    """

    name: str  # "cometapi", "kling", "demo": the journal and logs say it
    label: str  # what people read: "CometAPI"
    paths: ProviderPaths
    base_setting: str  # the variable naming its base URL, for sentences: "COMETAPI_BASE_URL"
    default_base_url: str
    key_setting: str = ""  # the variable holding its key ("" for none, or several)
    base_field: str = "base_url"  # where the settings keep its base URL
    key_fields: tuple[str, ...] = ()  # where the settings keep its keys
    simulated: bool = False  # the built-in simulator stands in for it (demo mode)
    page: PageTexts

    def __repr__(self) -> str:
        return f"<provider {self.name}>"

    # --- settings -----------------------------------------------------------------------

    def read_settings(self, env: Mapping[str, str]) -> dict[str, Any]:
        """The values this provider keeps in the settings, read from the environment
        (strictly: a value that cannot be read is one SettingsError)."""
        key = read.key(env, self.key_setting)
        base_url = read.web_address(
            env, self.base_setting, self.default_base_url, example=self.default_base_url
        )
        # only what is set: an unset value is the default (`value` says None, `profile`
        # takes default_base_url), so Settings() and a bare environment's settings agree
        values: dict[str, Any] = {self.key_fields[0]: Secret(key)} if key else {}
        if base_url != self.default_base_url:
            values[self.base_field] = base_url
        return values

    def keys_set(self, settings: Settings) -> bool:
        """Whether the settings hold every key this provider needs."""
        return bool(self.key_fields) and all(self.keys(settings))

    def chosen_by(self, settings: Settings) -> bool:
        """Whether these settings choose this provider (`choice.PROVIDERS` asks in order)."""
        return self.keys_set(settings)

    def keys(self, settings: Settings) -> tuple[Secret | None, ...]:
        """The keys of this provider the settings hold, set or not."""
        return tuple(value(settings, f) for f in self.key_fields)

    # --- the session --------------------------------------------------------------------

    def credential(self, settings: Settings) -> Credential:
        """What goes in the `Authorization` header (auth.py)."""
        return ApiKey(self.keys(settings)[0] or "")

    def profile(self, settings: Settings, base_url: str | None = None) -> ProviderProfile:
        """This provider as the client speaks to it; `base_url` None: the settings' own."""
        where = base_url if base_url is not None else value(settings, self.base_field)
        where = where or self.default_base_url
        return ProviderProfile(self, str(where).rstrip("/"), self.credential(settings))

    def account(self, settings: Settings) -> Secret | None:
        """What tells whose account pays (None: nobody's, the simulator). Its keyed tag is
        a pasted key's owner tag, so it must differ between two accounts."""
        return self.keys(settings)[0]

    def with_key(self, settings: Settings, key: str) -> Settings:
        """The settings with a person's pasted `key` (cleaned; "" for none) written in, or a
        SettingsError in one sentence that does not repeat it."""
        return with_fields(settings, **{self.key_fields[0]: Secret(pasted(key)) if key else None})

    # --- what people read ---------------------------------------------------------------

    def host(self, base_url: str) -> str | None:
        """The host the page and the command line show (None: there is none to show)."""
        return urlsplit(base_url).netloc or base_url

    def line(self, base_url: str) -> Message:
        """ "Provider: Kling (api-singapore.klingai.com)"."""
        return sentence_for("provider.line", label=self.label, where=self.host(base_url))

    def key_label(self, settings: Settings) -> str:
        """What the doctor says of the key: whether there is one and its length, never it."""
        key = self.keys(settings)[0]
        return key_label(key.reveal() if key else None)

    def notes(self, settings: Settings) -> list[str]:
        """The doctor's notes about this provider."""
        return []

    def ignored_note(self) -> str | None:
        """What the doctor says when this provider's keys are set but another comes first."""
        return None

    def reworded(self, error: e.ProviderError) -> e.ProviderError:
        """`error` in this provider's words: protocol.py's sentences are a gateway's, and a
        refused key names this provider and the variable of its key."""
        message = error.message
        if isinstance(error, e.AuthenticationError) and _said(message, "provider.bad_key"):
            where = message.params.get("where", "")
            error.message = sentence_for(
                "provider.key_refused", label=self.label, setting=self.key_setting, where=where
            )
            error.args = (error.message,)
        return error


@dataclass(frozen=True)
class ProviderProfile:
    """One provider as the client speaks to it: where, and with which credential."""

    provider: Provider
    base_url: str
    credential: Credential = field(repr=False)
    # the longest audio one task takes (DEFAULT_MAX_PART_SECONDS)
    max_part_seconds: float = DEFAULT_MAX_PART_SECONDS

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def label(self) -> str:
        return self.provider.label

    @property
    def paths(self) -> ProviderPaths:
        return self.provider.paths

    @property
    def base_setting(self) -> str:
        return self.provider.base_setting


def _said(message: object, key: str) -> bool:
    """Whether `message` is the catalogue's sentence `key`."""
    return isinstance(message, Message) and message.key == key


def key_label(key: str | None) -> str:
    """What the doctor says of a key: whether there is one and its length, never the key."""
    return f"set, {len(key)} characters (not shown)" if key else "none"


def pasted(key: str) -> str:
    """A pasted key as it is, if an HTTP header can carry it (else one sentence)."""
    if not read.is_key(key):
        raise SettingsError(sentence_for("settings.paste_characters"))
    return key


def value(settings: Settings, name: str) -> Any:
    """A provider's value in the settings: the field `name`, or its entry in
    `provider_values` (None when it has none)."""
    if hasattr(settings, name):
        return getattr(settings, name)
    return dict(settings.provider_values).get(name)


def with_fields(settings: Settings, **values: Any) -> Settings:
    """The settings with these provider values changed (they are a frozen dataclass)."""
    own = {name: v for name, v in values.items() if hasattr(settings, name)}
    others = {name: v for name, v in values.items() if name not in own}
    if others:
        kept = {**dict(settings.provider_values), **others}
        own["provider_values"] = tuple(sorted(kept.items(), key=lambda item: item[0]))
    return replace(settings, **own)
