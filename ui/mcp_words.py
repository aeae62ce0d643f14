"""Every sentence the MCP tools answer, in one place.

They are read by an assistant, so they stay English (README, "Use it from an AI
assistant"); the core's own sentences inside them come from its catalogue (`say()`).
"""

from __future__ import annotations

FOLLOW = 'Call follow_avatar_task with task_id "{ref}" and session_code "{code}"'

NOTHING_TO_CHECK = "Nothing to check: give a portrait, a voice, or both."
NO_PORTRAIT = "A portrait is needed: give the photo of one face."
BOTH_VOICES = "Give a voice recording or a speech text, not both."
NO_VOICE = "A voice is needed: a recording (voice) or a text to speak (speech_text)."
NO_CODE = (
    "A session code is needed: the one make_talking_avatar_video returned with this task "
    "(only its own tasks can be followed)."
)
BAD_CODE = (
    "The session code is not one this app hands out: leave it empty, or give the one an "
    "earlier call returned."
)
NO_VIDEO = "The task ended without a video; follow it again to see why."
SIMULATED = " Simulated (demo mode): not made by Kling."
BROKE = "The job stopped on an unexpected error of this app; make the video again."


def not_yours(ref: str) -> str:
    return (
        f"Task {ref[:64]} is not one of this session code's videos: follow only a task "
        "make_talking_avatar_video returned with the same code."
    )


def busy(calls: int) -> str:
    return (
        f"This app is answering {calls} tool calls at once, its most: nothing was done; "
        "call again in a minute."
    )


def too_many_runs(runs: int) -> str:
    return (
        f"This app is making {runs} videos for MCP callers, its most: nothing was sent; "
        "call again in a few minutes."
    )


def still_running(task_id: str, code: str, status: str) -> str:
    shown = f" ({status.rstrip('.')})" if status else ""
    return (
        f"Task {task_id} is still being made{shown}; it goes on at the provider. "
        f"{FOLLOW.format(ref=task_id, code=code)} in a minute to get the video."
    )


def in_line(job_id: str, code: str, place: str) -> str:
    shown = f" ({place.rstrip('.')})" if place else ""
    return (
        f"Job {job_id} waits in line for its turn to be sent{shown}; it goes on without "
        f"this call. {FOLLOW.format(ref=job_id, code=code)} in a minute to learn its place "
        "or get the video."
    )


def preparing(ref: str, code: str) -> str:
    return (
        f"The job {ref} is still being prepared (its inputs checked and fixed); it goes on "
        f"without this call. {FOLLOW.format(ref=ref, code=code)} in a minute to get the video."
    )


def unclear(message: str, ref: str, code: str) -> str:
    return (
        f"{message} {FOLLOW.format(ref=ref, code=code)} in a few minutes to learn what "
        "became of it."
    )
