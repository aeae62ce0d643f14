"""Settings from the environment, read in one place.

- COMETAPI_KEY: the CometAPI key; unset means demo mode on the built-in simulator.
- COMETAPI_BASE_URL: the API's base URL (default https://api.cometapi.com).
- AVATAR_DATA_DIR: where the journal and the videos live (default ./data; on Hugging Face
  Spaces, /data/avatar-studio when the Space has persistent storage).
- AVATAR_PUBLIC_URL: the app's public base URL for provider callbacks (SPACE_HOST gives it too).
- AVATAR_ALLOW_PRIVATE_URLS: "1" lets input URLs point at loopback or private hosts (local dev).
- AVATAR_DEMO_TASK_SECONDS: how long a simulated task takes in demo mode (default 8).
- AVATAR_HTTP_TIMEOUT: seconds to wait for the provider to answer one request (default 30;
  video downloads wait twice as long between two pieces of the file).
- AVATAR_MAX_QUERIES_PER_S: the most status queries a second this process sends (default 10).
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
- AVATAR_SHARED_HISTORY: "1" lets every visitor see (and look up) every job made on the
  operator's key, for a private team demo.

- LC_ALL, LC_MESSAGES, LANG (the first one set, in that order, as POSIX locales go): the
  command line's language; `zh_*` gives Chinese, anything else English.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from avatar_core.words import Language, language_of

DEFAULT_BASE_URL = "https://api.cometapi.com"
DEFAULT_HTTP_TIMEOUT_S = 30.0  # for HTTP clients made without Settings at hand
DEFAULT_CREATE_TIMEOUT_S = 120.0  # a create carries megabytes of base64
DEFAULT_FOLLOW_DEADLINE_S = 3600.0  # how long a flow follows a task by default

# ASSUMED prices in US dollars per second of video: public resellers list Kling Avatar at
# these; CometAPI's own price was not found. The operator sets the real ones.
DEFAULT_PRICE_STD = 0.056
DEFAULT_PRICE_PRO = 0.112


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):
        raise TypeError("a Secret is not to be pickled")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _count(value: str | None, *, default: int) -> int:
    """A whole number of at least 0 (0 often meaning "no limit"); the default otherwise."""
    try:
        number = int((value or "").strip()) if (value or "").strip() else default
    except ValueError:
        return default
    return number if number >= 0 else default


def _seconds(value: str | None, *, default: float) -> float:
    try:
        number = float(value) if value not in (None, "") else default
    except ValueError:
        return default
    return number if number >= 0 else default


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


def _price(value: str | None, *, default: float) -> float:
    """A price per second above 0; anything else keeps the default."""
    price = _seconds(value, default=default)
    return price if 0 < price < 1000 else default


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults the README documents."""

    api_key: Secret | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
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

    @property
    def demo_mode(self) -> bool:
        """No key: the built-in simulator stands in for the provider."""
        return self.api_key is None

    def with_key(self, key: str | None) -> Settings:
        cleaned = (key or "").strip()
        return replace(self, api_key=Secret(cleaned) if cleaned else None)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, spaces_storage: Path = SPACES_STORAGE
    ) -> Settings:
        env = os.environ if environ is None else environ
        data_dir, ephemeral = _data_dir(env, spaces_storage)
        key = (env.get("COMETAPI_KEY") or "").strip()
        public = (env.get("AVATAR_PUBLIC_URL") or "").strip()
        if not public and (env.get("SPACE_HOST") or "").strip():
            public = "https://" + env["SPACE_HOST"].strip()
        return cls(
            api_key=Secret(key) if key else None,
            base_url=((env.get("COMETAPI_BASE_URL") or "").strip() or DEFAULT_BASE_URL).rstrip("/"),
            data_dir=data_dir,
            data_is_ephemeral=ephemeral,
            public_url=public.rstrip("/") or None,
            allow_private_urls=_truthy(env.get("AVATAR_ALLOW_PRIVATE_URLS")),
            demo_task_seconds=_seconds(env.get("AVATAR_DEMO_TASK_SECONDS"), default=8.0),
            http_timeout_s=_seconds(env.get("AVATAR_HTTP_TIMEOUT"), default=DEFAULT_HTTP_TIMEOUT_S)
            or DEFAULT_HTTP_TIMEOUT_S,
            max_queries_per_s=_seconds(env.get("AVATAR_MAX_QUERIES_PER_S"), default=10.0) or 10.0,
            create_timeout_s=_seconds(
                env.get("AVATAR_CREATE_TIMEOUT"), default=DEFAULT_CREATE_TIMEOUT_S
            )
            or DEFAULT_CREATE_TIMEOUT_S,
            follow_deadline_s=_seconds(
                env.get("AVATAR_FOLLOW_DEADLINE"), default=DEFAULT_FOLLOW_DEADLINE_S
            )
            or DEFAULT_FOLLOW_DEADLINE_S,
            price_std=_price(env.get("AVATAR_PRICE_STD"), default=DEFAULT_PRICE_STD),
            price_pro=_price(env.get("AVATAR_PRICE_PRO"), default=DEFAULT_PRICE_PRO),
            max_active_per_visitor=_count(env.get("AVATAR_MAX_ACTIVE_PER_VISITOR"), default=2),
            max_daily_per_visitor=_count(env.get("AVATAR_MAX_DAILY_PER_VISITOR"), default=10),
            max_daily_video_seconds=_seconds(env.get("AVATAR_MAX_DAILY_VIDEO_SECONDS"), default=0),
            max_daily_per_address=_count(env.get("AVATAR_MAX_DAILY_PER_ADDRESS"), default=0),
            shared_history=_truthy(env.get("AVATAR_SHARED_HISTORY")),
        )


def terminal_language(environ: Mapping[str, str] | None = None) -> Language:
    """The command line's language from the locale: "zh" for `zh_CN.UTF-8` and the like."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = (env.get(name) or "").strip()
        if value:
            return language_of(value)
    return "en"
