"""Settings from the environment, read in one place, strictly (env_values.py): a value that
cannot be read stops start-up with one sentence naming the variable, the value and the form
expected; an unset or empty variable takes its default. Switches read 1/0, true/false,
yes/no, on/off.

- The provider's keys and base URL: COMETAPI_KEY and COMETAPI_BASE_URL
  (provider/cometapi.py), KLING_ACCESS_KEY, KLING_SECRET_KEY and KLING_BASE_URL
  (provider/kling.py), each read by its provider's module (`Provider.read_settings`); which
  provider they choose, with demo mode when no key is set: provider/choice.py.
- AVATAR_DATA_DIR: where the journal and the videos live (default ./data; on Hugging Face
  Spaces, /data/avatar-studio when the Space has persistent storage).
- AVATAR_PUBLIC_URL: the app's public base URL for provider callbacks (SPACE_HOST gives it too).
- AVATAR_ALLOW_PRIVATE_URLS: on lets input URLs point at loopback or private hosts (local dev).
- AVATAR_DEMO_TASK_SECONDS: how long a simulated task takes in demo mode (default 8).
- AVATAR_HTTP_TIMEOUT: seconds to wait for the provider to answer one request (default 30;
  video downloads wait twice as long between two pieces of the file).
- AVATAR_MAX_QUERIES_PER_S: the most requests a second this process sends the provider
  (default 10): creates, status checks and text to speech share this one budget.
- AVATAR_CREATE_TIMEOUT: seconds to wait for the answer to a create, whose body carries the
  media as base64 (default 120).
- AVATAR_FOLLOW_DEADLINE: seconds to follow a task before leaving it to a later lookup
  (default 3600: real tasks have taken up to an hour at peak).

- AVATAR_PRICE_STD, AVATAR_PRICE_PRO: the ASSUMED US dollars per second of video in each
  mode, for the cost estimate (default 0.056 and 0.112).

- AVATAR_MAX_ACTIVE_PER_VISITOR: a visitor's jobs at once on the operator's key (default 2;
  0: no limit).
- AVATAR_MAX_DAILY_PER_VISITOR: a visitor's jobs and speeches per 24 h on the operator's key
  (default 10; 0: no limit).
- AVATAR_MAX_DAILY_VIDEO_SECONDS: all visitors' seconds of audio sent to make videos per 24 h
  on the operator's key (default 0: no limit).
- AVATAR_MAX_DAILY_PER_ADDRESS: jobs and speeches per 24 h from one network address on the
  operator's key (default 0: no limit); for an app that sees its visitors' own addresses
  (behind a proxy: uvicorn's FORWARDED_ALLOW_IPS names the proxy).
- AVATAR_MAX_RUNNING_TASKS: the most tasks running at the provider at once on one account
  (default 0: not set; the line in front of creates learns it from the provider's 1303).
- AVATAR_MAX_IN_LINE: the most jobs waiting in the line of one account at once (default
  100; 0: no limit); a job beyond it is refused before its inputs are kept, so strangers
  cannot fill the disk with kept inputs.
- AVATAR_SHARED_HISTORY: on lets every visitor see (and look up) every job made on the
  operator's key, for a private team demo.
- AVATAR_MAX_SPEECH_SECONDS: the longest speech one video may carry (default 600); longer
  than the provider's part limit, it is split and joined.
- AVATAR_KEEP_DAYS: days a finished video is kept in the data folder (default 7 in demo
  mode, 0 with a key; 0: for ever).
- GRADIO_MCP_SERVER: Gradio's MCP server and the tools it serves (default on); off, they
  are reachable by no route.

- LC_ALL, LC_MESSAGES, LANG (the first one set, in that order, as POSIX locales go): the
  command line's language; `zh_*` gives Chinese, anything else English.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from avatar_core import env_values as read
from avatar_core.provider.choice import all_keys, provider_of, settings_from
from avatar_core.provider.cometapi import DEFAULT_BASE_URL
from avatar_core.provider.kling import DEFAULT_BASE_URL as DEFAULT_KLING_BASE_URL
from avatar_core.secret import Secret
from avatar_core.timeouts import DEFAULT_CREATE_TIMEOUT_S, DEFAULT_HTTP_TIMEOUT_S
from avatar_core.words import Language, language_of, say

DEFAULT_FOLLOW_DEADLINE_S = 3600.0  # how long a flow follows a task by default

# ASSUMED prices in US dollars per second of video: public resellers list Kling Avatar at
# these; CometAPI's own price was not found. The operator sets the real ones.
DEFAULT_PRICE_STD = 0.056
DEFAULT_PRICE_PRO = 0.112
DEFAULT_MAX_SPEECH_SECONDS = 600
DEMO_KEEP_DAYS = 7  # AVATAR_KEEP_DAYS in demo mode; with a key it is 0 (for ever)


SPACES_STORAGE = Path("/data")  # Hugging Face Spaces' persistent storage, when bought


def _data_dir(env: Mapping[str, str], spaces_storage: Path) -> tuple[Path, bool]:
    """Where the journal and videos live, and whether they are lost at the next restart.

    AVATAR_DATA_DIR wins; on Spaces (SPACE_ID set) persistent storage is used when it is
    writable, and otherwise the default folder lives only as long as the Space's container.
    """
    chosen = (env.get("AVATAR_DATA_DIR") or "").strip()
    if chosen:
        return Path(chosen), False
    if not (env.get("SPACE_ID") or "").strip():
        return Path("data"), False
    if spaces_storage.is_dir() and os.access(spaces_storage, os.W_OK | os.X_OK):
        return spaces_storage / "avatar-studio", False
    return Path("data"), True


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults the README documents. The provider's
    fields (its keys, its base URL) hold what the environment says; what they mean is the
    provider's (provider/: `provider_of(settings)`)."""

    api_key: Secret | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    kling_access_key: Secret | None = field(default=None, repr=False)
    kling_secret_key: Secret | None = field(default=None, repr=False)
    kling_base_url: str = DEFAULT_KLING_BASE_URL
    # the values of providers without fields of their own here: (name, value) pairs, read
    # and written by their modules only (provider/base.py `value`, `with_fields`)
    provider_values: tuple[tuple[str, object], ...] = field(default=(), repr=False)
    data_dir: Path = Path("data")
    data_is_ephemeral: bool = False  # on Spaces without persistent storage
    public_url: str | None = None
    allow_private_urls: bool = False
    demo_task_seconds: float = 8.0
    http_timeout_s: float = DEFAULT_HTTP_TIMEOUT_S
    max_queries_per_s: float = 10.0
    create_timeout_s: float = DEFAULT_CREATE_TIMEOUT_S
    follow_deadline_s: float = DEFAULT_FOLLOW_DEADLINE_S

    price_std: float = DEFAULT_PRICE_STD
    price_pro: float = DEFAULT_PRICE_PRO

    @property
    def prices(self) -> dict[str, float]:
        """Mode -> assumed US dollars per second of video, for the estimate."""
        return {"std": self.price_std, "pro": self.price_pro}

    max_active_per_visitor: int = 2  # 0: no limit
    max_daily_per_visitor: int = 10  # 0: no limit
    max_daily_video_seconds: float = 0.0  # 0: no limit
    max_daily_per_address: int = 0  # 0: no limit
    shared_history: bool = False
    max_running_tasks: int = 0  # per account; 0: learnt from the provider's 1303 answers
    max_in_line: int = 100  # jobs waiting in one account's line; 0: no limit
    max_speech_seconds: int = DEFAULT_MAX_SPEECH_SECONDS  # one video's speech, split if longer
    keep_days: int = DEMO_KEEP_DAYS  # a finished video's days in the data folder; 0: for ever
    mcp_server: bool = True  # Gradio's MCP server (GRADIO_MCP_SERVER)

    @property
    def provider(self) -> str:
        """ "cometapi", "kling" or "demo": the name of the provider these settings choose
        (provider/choice.py)."""
        return provider_of(self).name

    @property
    def demo_mode(self) -> bool:
        """No key: the built-in simulator stands in for the provider."""
        return provider_of(self).simulated

    @property
    def account(self) -> Secret | None:
        """What tells whose account pays (never a secret key); None in demo mode. Its
        keyed tag is a pasted key's owner tag."""
        return provider_of(self).account(self)

    @property
    def credentials(self) -> tuple[Secret | None, ...]:
        """Every key these settings send with, to tell whether a pasted key is new."""
        return all_keys(self)

    def with_key(self, key: str | None) -> Settings:
        """These settings with a person's pasted key, written as the provider in use
        takes it (on Kling's own API "ACCESS_KEY:SECRET_KEY"). Empty: these settings' own
        key, or none (demo mode)."""
        return provider_of(self).with_key(self, (key or "").strip())

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, spaces_storage: Path = SPACES_STORAGE
    ) -> Settings:
        env = os.environ if environ is None else environ
        data_dir, ephemeral = _data_dir(env, spaces_storage)
        provider_values = _provider_fields(settings_from(env))
        keyless = provider_of(cls(**provider_values)).simulated
        return cls(
            **provider_values,
            data_dir=data_dir,
            data_is_ephemeral=ephemeral,
            public_url=_public_url(env),
            allow_private_urls=read.switch(env, "AVATAR_ALLOW_PRIVATE_URLS", False),
            demo_task_seconds=read.seconds(env, "AVATAR_DEMO_TASK_SECONDS", 8.0, example="8",
                                           zero=True),
            **_waits(env),
            price_std=read.price(env, "AVATAR_PRICE_STD", DEFAULT_PRICE_STD, example="0.056"),
            price_pro=read.price(env, "AVATAR_PRICE_PRO", DEFAULT_PRICE_PRO, example="0.112"),
            **_limits(env),
            shared_history=read.switch(env, "AVATAR_SHARED_HISTORY", False),
            keep_days=read.days(env, "AVATAR_KEEP_DAYS", DEMO_KEEP_DAYS if keyless else 0,
                                example=DEMO_KEEP_DAYS),
            mcp_server=read.switch(env, "GRADIO_MCP_SERVER", True),
        )  # fmt: skip


def _provider_fields(values: dict[str, object]) -> dict[str, object]:
    """The providers' values as Settings fields: their own fields, and the rest kept in
    `provider_values`."""
    names = {each.name for each in fields(Settings)}
    others = sorted((name, v) for name, v in values.items() if name not in names)
    own = {name: v for name, v in values.items() if name in names}
    return {**own, "provider_values": tuple(others)} if others else own


def _public_url(env: Mapping[str, str]) -> str | None:
    """AVATAR_PUBLIC_URL, else the address Hugging Face Spaces gives (SPACE_HOST)."""
    example = "https://avatar.example.org"
    public = read.web_address(env, "AVATAR_PUBLIC_URL", "", example=example)
    host = read.given(env, "SPACE_HOST")
    if not public and host:
        public = "https://" + host
        if not read.is_web_address(public) or "/" in host:
            raise read.refusal(
                "SPACE_HOST", host, "settings.rule.host", example="someone-avatar.hf.space"
            )
    return public or None


def _waits(env: Mapping[str, str]) -> dict[str, float]:
    """How long to wait for the provider: each a number of seconds above 0."""
    return {
        "http_timeout_s": read.seconds(env, "AVATAR_HTTP_TIMEOUT", DEFAULT_HTTP_TIMEOUT_S,
                                       example="30"),
        "max_queries_per_s": read.rate(env, "AVATAR_MAX_QUERIES_PER_S", 10.0, example="10"),
        "create_timeout_s": read.seconds(env, "AVATAR_CREATE_TIMEOUT",
                                         DEFAULT_CREATE_TIMEOUT_S, example="120"),
        "follow_deadline_s": read.seconds(env, "AVATAR_FOLLOW_DEADLINE",
                                          DEFAULT_FOLLOW_DEADLINE_S, example="3600"),
    }  # fmt: skip


def _limits(env: Mapping[str, str]) -> dict[str, int]:
    """The limits on what is spent and kept: whole numbers, 0 (where allowed) no limit."""
    return {
        "max_active_per_visitor": read.limit(env, "AVATAR_MAX_ACTIVE_PER_VISITOR", 2,
                                             example=2),
        "max_daily_per_visitor": read.limit(env, "AVATAR_MAX_DAILY_PER_VISITOR", 10,
                                            example=10),
        "max_daily_video_seconds": read.limit_seconds(env, "AVATAR_MAX_DAILY_VIDEO_SECONDS", 0,
                                                      example=600),
        "max_daily_per_address": read.limit(env, "AVATAR_MAX_DAILY_PER_ADDRESS", 0,
                                            example=40),
        "max_running_tasks": read.limit(env, "AVATAR_MAX_RUNNING_TASKS", 0, example=3),
        "max_in_line": read.limit(env, "AVATAR_MAX_IN_LINE", 100, example=100),
        "max_speech_seconds": read.whole_seconds(env, "AVATAR_MAX_SPEECH_SECONDS",
                                                 DEFAULT_MAX_SPEECH_SECONDS, example=600),
    }  # fmt: skip


def limits_in_force(settings: Settings) -> list[str]:
    """What the doctor says of the limits these settings put on visitors and keeping (each
    line its variable, its value, and what it bounds; 0: no limit)."""
    values = [
        ("AVATAR_MAX_ACTIVE_PER_VISITOR", settings.max_active_per_visitor, "doctor.active"),
        ("AVATAR_MAX_DAILY_PER_VISITOR", settings.max_daily_per_visitor, "doctor.daily"),
        ("AVATAR_MAX_DAILY_PER_ADDRESS", settings.max_daily_per_address, "doctor.address"),
        ("AVATAR_MAX_DAILY_VIDEO_SECONDS", int(settings.max_daily_video_seconds),
         "doctor.seconds"),
        ("AVATAR_MAX_IN_LINE", settings.max_in_line, "doctor.in_line"),
        ("AVATAR_MAX_RUNNING_TASKS", settings.max_running_tasks, "doctor.running"),
        ("AVATAR_MAX_SPEECH_SECONDS", settings.max_speech_seconds, "doctor.speech"),
        ("AVATAR_KEEP_DAYS", settings.keep_days, "doctor.keep"),
        ("AVATAR_MAX_QUERIES_PER_S", f"{settings.max_queries_per_s:g}", "doctor.rate"),
        ("GRADIO_MCP_SERVER", int(settings.mcp_server), "doctor.mcp"),
    ]  # fmt: skip
    return [say("doctor.limits")] + [
        say("doctor.limit_line", name=name, value=value, meaning=say(meaning))
        for name, value, meaning in values
    ]


def terminal_language(environ: Mapping[str, str] | None = None) -> Language:
    """The command line's language from the locale: "zh" for `zh_CN.UTF-8` and the like."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = (env.get(name) or "").strip()
        if value:
            return language_of(value)
    return "en"
