"""The MCP tools' answers, from the `mcp` namespace of the catalogue.

They are read by an assistant, so they are English only (README, "Use it from an AI
assistant"; avatar_core/catalogue/loader.py); the core's own sentences inside them come
from the core's namespace. Each is a `Message`, a `str` of its English text.
"""

from __future__ import annotations

from avatar_core.catalogue import Message, sentence

NOTHING_TO_CHECK = sentence("mcp:nothing_to_check")
NO_PORTRAIT = sentence("mcp:no_portrait")
BOTH_VOICES = sentence("mcp:both_voices")
NO_VOICE = sentence("mcp:no_voice")
NO_CODE = sentence("mcp:no_code")
BAD_CODE = sentence("mcp:bad_code")
NO_VIDEO = sentence("mcp:no_video")
SIMULATED = sentence("mcp:simulated")
BROKE = sentence("mcp:broke")


def _follow(ref: str, code: str) -> Message:
    return sentence("mcp:follow", ref=ref, code=code)


def _shown(state: str) -> str:
    """A state in parentheses after what it qualifies, or nothing."""
    return f" ({state.rstrip('.')})" if state else ""


def not_yours(ref: str) -> Message:
    return sentence("mcp:not_yours", ref=ref[:64])


def busy(calls: int) -> Message:
    return sentence("mcp:busy", calls=calls)


def too_many_runs(runs: int) -> Message:
    return sentence("mcp:too_many_runs", runs=runs)


def still_running(task_id: str, code: str, status: str) -> Message:
    return sentence(
        "mcp:still_running", task_id=task_id, shown=_shown(status), follow=_follow(task_id, code)
    )


def in_line(job_id: str, code: str, place: str) -> Message:
    return sentence("mcp:in_line", job_id=job_id, shown=_shown(place), follow=_follow(job_id, code))


def preparing(ref: str, code: str) -> Message:
    return sentence("mcp:preparing", ref=ref, follow=_follow(ref, code))


def unclear(message: str, ref: str, code: str) -> Message:
    return sentence("mcp:unclear", message=message, follow=_follow(ref, code))
