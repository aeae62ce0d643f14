"""Reading one setting from the environment strictly: its value, or one sentence.

A setting the operator typed wrong must never quietly become its default (a mistyped
spending limit would then mean "no limit"). Each reader takes the environment, the
variable's name and its default; an unset or empty variable gives the default, anything
else is read exactly or refused with a SettingsError naming the variable, the value and
the form expected (`AVATAR_MAX_DAILY_VIDEO_SECONDS=1O0: not a whole number of seconds;
write e.g. 600, or 0 for no limit`).

Numbers are written with ASCII digits and at most one decimal point: no sign, no
exponent, no thousands separator, no unit, no `nan` or `inf`. Switches read 1/0,
true/false, yes/no, on/off in any case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from avatar_core.catalogue import sentence_for
from avatar_core.errors import SettingsError

_WHOLE = re.compile(r"[0-9]{1,12}")
_DECIMAL = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")
_SWITCHES = {"1": True, "true": True, "yes": True, "on": True,
             "0": False, "false": False, "no": False, "off": False}  # fmt: skip
_KEY_CHARACTERS = re.compile(r"[!-~]+")  # printable ASCII, no space: what a key is made of
_SHOWN_AT_MOST = 60  # characters of a refused value repeated in the sentence


def given(env: Mapping[str, str], name: str) -> str:
    """The variable's value without surrounding spaces ("" when unset)."""
    return (env.get(name) or "").strip()


def refusal(name: str, value: str, rule: str, **params: object) -> SettingsError:
    """The one sentence for `name=value`, which does not follow `rule` (its catalogue key)."""
    shown = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    if len(shown) > _SHOWN_AT_MOST:
        shown = shown[:_SHOWN_AT_MOST] + "…"
    return SettingsError(sentence_for("settings.bad_value", name=name, value=shown,
                             rule=sentence_for(rule, **params)))  # fmt: skip


def limit(env: Mapping[str, str], name: str, default: int, *, example: int) -> int:
    """A whole number of things, 0 meaning no limit."""
    value = given(env, name)
    if not value:
        return default
    if not _WHOLE.fullmatch(value):
        raise refusal(name, value, "settings.rule.limit", example=example)
    return int(value)


def limit_seconds(env: Mapping[str, str], name: str, default: int, *, example: int) -> int:
    """A whole number of seconds, 0 meaning no limit."""
    value = given(env, name)
    if not value:
        return default
    if not _WHOLE.fullmatch(value):
        raise refusal(name, value, "settings.rule.limit_seconds", example=example)
    return int(value)


def whole_seconds(env: Mapping[str, str], name: str, default: int, *, example: int) -> int:
    """A whole number of seconds above 0."""
    value = given(env, name)
    if not value:
        return default
    if not _WHOLE.fullmatch(value) or int(value) == 0:
        raise refusal(name, value, "settings.rule.whole_seconds", example=example)
    return int(value)


def days(env: Mapping[str, str], name: str, default: int, *, example: int) -> int:
    """A whole number of days, 0 meaning for ever."""
    value = given(env, name)
    if not value:
        return default
    if not _WHOLE.fullmatch(value):
        raise refusal(name, value, "settings.rule.days", example=example)
    return int(value)


def seconds(
    env: Mapping[str, str], name: str, default: float, *, example: str, zero: bool = False
) -> float:
    """A number of seconds above 0 (`zero`: 0 too)."""
    value = given(env, name)
    if not value:
        return default
    if not _DECIMAL.fullmatch(value) or (float(value) == 0 and not zero):
        raise refusal(
            name,
            value,
            "settings.rule.seconds_or_zero" if zero else "settings.rule.seconds",
            example=example,
        )
    return float(value)


def rate(env: Mapping[str, str], name: str, default: float, *, example: str) -> float:
    """A number of requests a second above 0."""
    value = given(env, name)
    if not value:
        return default
    if not _DECIMAL.fullmatch(value) or float(value) == 0:
        raise refusal(name, value, "settings.rule.rate", example=example)
    return float(value)


def price(env: Mapping[str, str], name: str, default: float, *, example: str) -> float:
    """US dollars per second of video, above 0 and below 1000."""
    value = given(env, name)
    if not value:
        return default
    if not _DECIMAL.fullmatch(value) or not 0 < float(value) < 1000:
        raise refusal(name, value, "settings.rule.price", example=example)
    return float(value)


def switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    """On or off: 1/0, true/false, yes/no, on/off, in any case."""
    value = given(env, name)
    if not value:
        return default
    if value.lower() not in _SWITCHES:
        raise refusal(name, value, "settings.rule.switch")
    return _SWITCHES[value.lower()]


def web_address(env: Mapping[str, str], name: str, default: str, *, example: str) -> str:
    """An http(s) address with a host, without its trailing slash."""
    value = given(env, name)
    if not value:
        return default
    if not is_web_address(value):
        raise refusal(name, value, "settings.rule.url", example=example)
    return value.rstrip("/")


def is_web_address(value: str) -> bool:
    """Whether `value` is an http(s) address naming a host, with nothing odd in it."""
    if not value.isascii() or not value.isprintable() or " " in value:
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # e.g. a port that is not a number
        return False


def key(env: Mapping[str, str], name: str) -> str:
    """An API key as the provider can read it: printable ASCII without spaces. The
    refusal never repeats the value (it is a secret)."""
    value = given(env, name)
    if value and not is_key(value):
        raise SettingsError(sentence_for("settings.bad_key", name=name))
    return value


def is_key(value: str) -> bool:
    """Whether `value` could be an API key: printable ASCII without spaces (an HTTP header
    carries nothing else)."""
    return bool(_KEY_CHARACTERS.fullmatch(value))
