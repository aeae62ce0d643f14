"""How the simulated provider behaves: every option in one place.

The constructor (`Simulator(task_seconds=2, error_shape="gateway")`), tests
(`sim.options.error_shape = "wrapped"`) and the control route (`POST /_simulator/settings`)
all set the same fields, each checked when set. A new way the real gateway may behave is
one field here with its check; the parts that care read it when they serve a request, so a
change applies to the next request.

`PROFILES` names sets of options for the ways a gateway in front of Kling may differ from
Kling's own API (docs/provider.md says which source suggests each): `Simulator(profile=...)`,
`simulator.use_profile(...)`, `POST /_simulator/settings {"profile": ...}` or
`python -m avatar_core simulator --profile ...`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from avatar_core.simulator.render import DEFAULT_MAX_SIDE
from avatar_core.simulator.wire import ERROR_SHAPES


def _seconds(name: str, value: Any) -> float:
    seconds = float(value)
    if not seconds >= 0:  # also refuses NaN
        raise ValueError(f"{name} must be a number of seconds, at least 0")
    return seconds


def _interval(name: str, value: Any) -> float:
    seconds = float(value)
    if not seconds > 0:
        raise ValueError(f"{name} must be a number of seconds above 0")
    return seconds


def _limit(name: str, value: Any) -> float | None:
    """A rate; None or 0 means no limit."""
    if value is None:
        return None
    number = float(value)
    if not number >= 0:
        raise ValueError(f"{name} must be a number, at least 0 (0 or None: no limit)")
    return number


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value


def _error_shape(name: str, value: Any) -> str:
    if value not in ERROR_SHAPES:
        raise ValueError(f"unknown {name} {value!r}; use one of {', '.join(ERROR_SHAPES)}")
    return str(value)


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"unknown {name} {value!r}; use one of {', '.join(allowed)}")
        return str(value)

    return check


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 0:
        raise ValueError(f"{name} must be a whole number, at least 0")
    return int(value)


def _key_pair(name: str, value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    pair = tuple(value) if isinstance(value, (list, tuple)) else ()
    if len(pair) != 2 or not all(isinstance(part, str) and part for part in pair):
        raise ValueError(f"{name} must be an (access key, secret key) pair, or None")
    return (pair[0], pair[1])


def _side(name: str, value: Any) -> int:
    side = int(value)
    if side < 2:
        raise ValueError(f"{name} must be at least 2 pixels")
    return side


@dataclass
class SimulatorOptions:
    """The simulator's behaviour. Times are in seconds of the simulator's clock."""

    task_seconds: float = 8.0  # from create to the end of a task
    submit_seconds: float = 1.0  # how long a new task stays "submitted"
    task_seconds_jitter: float = 0.0  # ± seconds, so tasks vary like real ones
    avatar_query_route: bool = True  # False: a gateway that serves only the generic query path
    # how a query route the gateway does not serve answers: an HTML 404 page, JSON 400
    # {"error": {"code": "task_not_exist"}}, or JSON 404 {"error": {"message": "Invalid URL"}}
    unserved_route: str = "html"
    external_id_lookups: bool = True  # False: queries find tasks by their task id only
    error_codes: str = "kling"  # "cometapi": the gateway's string codes where it has its own
    video_link_misses: int = 0  # the first downloads of each video answer 404 (lagging storage)
    create_delay_s: float = 0.0  # creates answer this late (the task is made at once)
    error_shape: str = "kling"  # the shape of the simulator's own (non-fault) errors
    rate_limit_per_s: float | None = None  # API requests a second before 429 (1302); 0: none
    max_running_tasks: int = 0  # an account's tasks running at once before 1303; 0: no limit
    max_audio_seconds: float = 60.0  # the longest audio a task takes (the part limit)
    render_max_side: int = DEFAULT_MAX_SIDE  # the simulated video's longer side, in pixels
    callback_interval: float = 0.1  # real seconds between looks for callbacks to send
    # Kling's own routes (no /kling prefix) take a JWT signed with this (access key, secret
    # key) pair (kling_auth.py); None: they take any accepted bearer key, as /kling/ does
    kling_keys: tuple[str, str] | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, _check(name, value))

    def update(self, **changes: Any) -> None:
        """Set several options; nothing is changed when one of them is refused."""
        checked = {name: _check(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            super().__setattr__(name, value)


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "task_seconds": _seconds,
    "submit_seconds": _seconds,
    "task_seconds_jitter": _seconds,
    "avatar_query_route": _flag,
    "unserved_route": _choice("html", "json_400", "json_404"),
    "external_id_lookups": _flag,
    "error_codes": _choice("kling", "cometapi"),
    "video_link_misses": _count,
    "create_delay_s": _seconds,
    "error_shape": _error_shape,
    "rate_limit_per_s": _limit,
    "max_running_tasks": _count,
    "max_audio_seconds": _interval,
    "render_max_side": _side,
    "callback_interval": _interval,
    "kling_keys": _key_pair,
}


# Gateway profiles: how a gateway in front of Kling may differ from Kling's own API.
PROFILES: dict[str, dict[str, Any]] = {
    "kling": {},  # Kling's own behaviour, on CometAPI's paths
    "unserved-json-400": {"avatar_query_route": False, "unserved_route": "json_400"},
    "unserved-json-404": {"avatar_query_route": False, "unserved_route": "json_404"},
    "no-external-ids": {"external_id_lookups": False},
    "cometapi-codes": {"error_codes": "cometapi", "error_shape": "gateway"},
    "lagging-links": {"video_link_misses": 2},
    "slow-creates": {"create_delay_s": 3.0},
    # a gateway taking Kling's own documented 300 s of audio a task (CometAPI: 60 s)
    "long-parts": {"max_audio_seconds": 300.0},
    # what the sources suggest CometAPI does, every unconfirmed point at once
    "cometapi-likely": {
        "avatar_query_route": False,
        "unserved_route": "json_400",
        "external_id_lookups": False,
        "error_codes": "cometapi",
        "error_shape": "gateway",
    },
}


def profile_options(name: str) -> dict[str, Any]:
    """The options a gateway profile sets (every other option keeps its default)."""
    if name not in PROFILES:
        raise ValueError(f"unknown gateway profile {name!r}; use one of {', '.join(PROFILES)}")
    defaults = {f.name: f.default for f in fields(SimulatorOptions) if f.name in _PROFILED}
    return {**defaults, **PROFILES[name]}


_PROFILED = frozenset(name for options in PROFILES.values() for name in options)


def _check(name: str, value: Any) -> Any:
    check = _CHECKS.get(name)
    if check is None:
        raise ValueError(f"unknown simulator option {name!r}; use one of {names()}")
    return check(name, value)


def names() -> str:
    """The options' names, for messages."""
    return ", ".join(field.name for field in fields(SimulatorOptions))
