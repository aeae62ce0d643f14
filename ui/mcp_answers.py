"""The MCP tools' answers, from the `mcp` namespace of the catalogue.

They are read by an assistant, so they are English only (README, "Use it from an AI
assistant"; avatar_core/catalogue/loader.py); the core's own sentences inside them come
from the core's namespace. Each is a `Message`, a `str` of its English text.
"""

from __future__ import annotations

from avatar_core.catalogue import Message, sentence_for

NOTHING_TO_CHECK = sentence_for("mcp:nothing_to_check")
NO_PORTRAIT = sentence_for("mcp:no_portrait")
BOTH_VOICES = sentence_for("mcp:both_voices")
NO_VOICE = sentence_for("mcp:no_voice")
NO_CODE = sentence_for("mcp:no_code")
BAD_CODE = sentence_for("mcp:bad_code")
NO_VIDEO = sentence_for("mcp:no_video")
SIMULATED = sentence_for("mcp:simulated")
BROKE = sentence_for("mcp:broke")


def _follow(ref: str, code: str) -> Message:
    return sentence_for("mcp:follow", ref=ref, code=code)


def _shown(state: str) -> str:
    """A state in parentheses after what it qualifies, or nothing."""
    return f" ({state.rstrip('.')})" if state else ""


def not_yours(ref: str) -> Message:
    return sentence_for("mcp:not_yours", ref=ref[:64])


def busy(calls: int) -> Message:
    return sentence_for("mcp:busy", calls=calls)


def too_many_runs(runs: int) -> Message:
    return sentence_for("mcp:too_many_runs", runs=runs)


def still_running(task_id: str, code: str, status: str) -> Message:
    return sentence_for(
        "mcp:still_running", task_id=task_id, shown=_shown(status), follow=_follow(task_id, code)
    )


def in_line(job_id: str, code: str, place: str) -> Message:
    return sentence_for(
        "mcp:in_line", job_id=job_id, shown=_shown(place), follow=_follow(job_id, code)
    )


def preparing(ref: str, code: str) -> Message:
    return sentence_for("mcp:preparing", ref=ref, follow=_follow(ref, code))


def unclear(message: str, ref: str, code: str) -> Message:
    return sentence_for("mcp:unclear", message=message, follow=_follow(ref, code))
