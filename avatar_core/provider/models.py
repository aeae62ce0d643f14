"""Typed provider tasks: what a create or a query says about one avatar task."""

from __future__ import annotations

import enum
import logging
import math
import re
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class TaskStatus(str, enum.Enum):
    SUBMITTED = "submitted"
    PROCESSING = "processing"
    SUCCEED = "succeed"
    FAILED = "failed"
    UNKNOWN = "unknown"  # a value the provider added later: treated as still running

    @property
    def is_terminal(self) -> bool:
        return self in (TaskStatus.SUCCEED, TaskStatus.FAILED)

    @classmethod
    def parse(cls, value: Any) -> TaskStatus:
        text = str(value or "").strip().lower()
        try:
            return cls(text)
        except ValueError:
            log.warning("unknown task_status %r: treating it as still running", text[:40])
            return cls.UNKNOWN


# The provider's words are text from outside: a terminal must not run their escape
# sequences, nor a reader's screen turn their direction (`outside_text`).
_ESCAPE_SEQUENCE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-_])")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
OUTSIDE_TEXT_LIMIT = 500  # characters of the provider's words kept


def outside_text(value: Any, limit: int = OUTSIDE_TEXT_LIMIT) -> str:
    """The provider's words (a failure reason, an error message) as plain text: escape
    sequences (ANSI colours, titles) and control characters dropped, white space folded,
    at most `limit` characters."""
    text = _ESCAPE_SEQUENCE.sub("", str(value if value is not None else ""))
    text = " ".join(_CONTROLS.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number(value: Any) -> float | None:
    """A finite number the provider sent as a number or as a string, or None."""
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        return None
    return parsed if math.isfinite(parsed) else None


def whole_number(value: Any) -> int | None:
    """A code or a timestamp the provider sent as a number or as a string, or None."""
    parsed = number(value)
    return int(parsed) if parsed is not None else None


@dataclass(frozen=True)
class TaskInfo:
    """One snapshot of a task. Times are Unix milliseconds, as the provider sends them."""

    task_id: str
    status: TaskStatus
    raw_status: str = ""
    external_task_id: str | None = None
    created_at_ms: int | None = None
    updated_at_ms: int | None = None
    # how it ended
    status_message: str = ""  # the provider's reason, when a task fails
    video_url: str | None = None
    video_duration_s: float | None = None
    units_charged: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def seconds_taken(self) -> float | None:
        """How long a finished task took, by the provider's own timestamps."""
        if self.is_terminal and self.created_at_ms and self.updated_at_ms:
            taken = (self.updated_at_ms - self.created_at_ms) / 1000
            return taken if 0 < taken < 24 * 3600 else None
        return None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> TaskInfo:
        result = data.get("task_result") if isinstance(data.get("task_result"), dict) else {}
        videos = result.get("videos") if isinstance(result.get("videos"), list) else []
        video = videos[0] if videos and isinstance(videos[0], dict) else {}
        info = data.get("task_info") if isinstance(data.get("task_info"), dict) else {}
        units = data.get("final_unit_deduction")
        return cls(
            task_id=str(data.get("task_id") or ""),
            status=TaskStatus.parse(data.get("task_status")),
            raw_status=str(data.get("task_status") or ""),
            status_message=outside_text(data.get("task_status_msg") or ""),
            external_task_id=info.get("external_task_id") or data.get("external_task_id"),
            created_at_ms=whole_number(data.get("created_at")),
            updated_at_ms=whole_number(data.get("updated_at")),
            video_url=video.get("url") or None,
            video_duration_s=number(video.get("duration")),
            units_charged=str(units) if units not in (None, "") else None,
        )


@dataclass(frozen=True)
class SpeechResult:
    """Audio made by Kling text-to-speech, usable as an avatar's `audio_id`."""

    audio_id: str
    url: str | None
    duration_s: float | None
    task_id: str | None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> SpeechResult:
        result = data.get("task_result") if isinstance(data.get("task_result"), dict) else {}
        audios = result.get("audios") if isinstance(result.get("audios"), list) else []
        audio = audios[0] if audios and isinstance(audios[0], dict) else {}
        return cls(
            audio_id=str(audio.get("id") or ""),
            url=audio.get("url") or None,
            duration_s=number(audio.get("duration")),
            task_id=str(data.get("task_id")) if data.get("task_id") else None,
        )
