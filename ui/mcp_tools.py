"""The app's tools for AI assistants, served by Gradio's MCP server (`launch(mcp_server=True)`).

Each tool is a module-level function of the app's `Sessions`, bound like the page's
handlers (`Sessions.bind`) and registered with `gr.api` (ui/wiring.py): Gradio names the
tool after the function and describes it, and each parameter, from its docstring. They
call the same studio and the same verdicts as the page.

The tools run unqueued: Gradio's MCP server then calls them with the MCP request itself,
so a call is known by its own network address (a queued tool is called through one
loopback client shared by every MCP caller). Gradio sends progress notifications for
queued tools only, so these answer within `WAIT_S` instead: a task still running then
is returned by its id, to follow with `follow_avatar_task`.

Gradio's MCP transport keeps no session, so a caller is known by a session code the
tools hand out (`Sessions.code_visitor`): its jobs are its own (following needs the
code) and the app's limits for each visitor and each network address apply to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, Literal
from urllib.parse import quote

import gradio as gr

import ui.formatting as fmt
import ui.handlers as handlers
from avatar_core.errors import AvatarError, InputError, NotYoursError
from avatar_core.jobs.events import Done, Progress, Unclear
from avatar_core.jobs.studio import Source, Studio
from avatar_core.provider.voices import DEFAULT_VOICES
from avatar_core.storage.visitors import Visitor
from ui.delivery import page_copy
from ui.mcp_sources import FILE_ROUTE, app_root, tool_source
from ui.sessions import Sessions, new_browser_id
from ui.text_guard import Refusal as ToolError

# MCP clients often give up on a tool call after 60 s; a task still running by then is
# returned by its id (tests set 0: the answer comes as soon as the provider has the task).
WAIT_S = 45.0
ToolAnswer = tuple[str, str, str, str]  # (what happened, video link, task id, session code)


def _refusal(error: AvatarError) -> ToolError:
    problems = error.problems if isinstance(error, InputError) else [str(error)]
    return ToolError(" ".join(problems))


def _sources(studio: Studio, request: Any, **given: str) -> dict[str, Source | None]:
    """Each given input as the core's source (raises InputError for what may not be read)."""
    root = app_root(request) if request is not None else ""
    blocked = [studio.settings.data_dir]
    return {
        what: tool_source(value, what=what, root=root, blocked=blocked)
        for what, value in given.items()
    }


def check_avatar_inputs(
    sessions: Sessions,
    portrait: str = "",
    voice: str = "",
    trim: bool = False,
    request: gr.Request | None = None,
) -> tuple[str, str]:
    """Check a portrait and a voice for a talking-avatar video without sending anything
    (nothing is charged): what would be sent, what would be fixed, and what is wrong.

    Args:
        portrait: The photo of one face, as for make_talking_avatar_video (an https link, the link of an upload to this app, or a data: URL). Empty: not checked.
        voice: The recording to speak, given the same ways. Empty: not checked.
        trim: Keep the first 60 s of a longer recording instead of refusing it.
    Returns:
        The portrait's verdict (empty when no portrait was given); the voice's verdict (empty when no voice was given). A verdict starts with ✅ (accepted, with the fixes and warnings) or ❌ (refused, saying what to change).
    """  # noqa: E501 - Gradio reads each of these lines whole
    studio = sessions.default
    verdicts = []
    for what, value in (("portrait", portrait), ("voice", voice)):
        try:
            source = _sources(studio, request, **{what: value})[what]
        except InputError as error:
            verdicts.append(fmt.verdict_error(error))
            continue
        if source is None:
            verdicts.append("")
        elif what == "portrait":
            verdicts.append(handlers.portrait_verdict(studio, source))
        else:
            verdicts.append(handlers.voice_verdict(studio, source, bool(trim))[0])
    if not any(verdicts):
        raise ToolError("Nothing to check: give a portrait, a voice, or both.")
    return verdicts[0], verdicts[1]


async def make_talking_avatar_video(
    sessions: Sessions,
    portrait: str,
    voice: str = "",
    speech_text: str = "",
    voice_id: str = "",
    language: str = "",
    prompt: str = "",
    mode: Literal["std", "pro"] = "std",
    trim: bool = False,
    session_code: str = "",
    request: gr.Request | None = None,
) -> ToolAnswer:
    """Make a talking-avatar video with Kling Avatar: the person in a portrait photo speaks a voice recording, or a text read by one of Kling's voices. It is paid for on this app's key, within its limits for each visitor and each network address (videos at once, videos a day); check_avatar_inputs checks the inputs first and charges nothing. In demo mode (no key set) the video comes from a simulator and says so. The call waits for the video up to about 45 s; a task still being made then goes on at the provider and is returned by its id, to follow with follow_avatar_task.

    Args:
        portrait: The photo of one face: an https:// link, the link an upload to this app returned (POST /gradio_api/upload, or Gradio's upload_file_to_gradio tool: …/gradio_api/file=…), or a data: URL (base64). Never a path on the server. JPG or PNG (other pictures are converted), each side at least 300 px, sides at most 2.5 times each other; larger pictures are scaled down to 10 MB.
        voice: The recording the avatar speaks, given like the portrait: MP3, WAV, M4A or AAC (others are converted), 2 to 60 s long. Empty: speak speech_text instead.
        speech_text: Text for Kling's text to speech instead of a recording, up to 1000 characters (its speech must last 2 to 60 s); paid as a request of its own.
        voice_id: The Kling voice reading speech_text (e.g. genshin_vindi2); empty: the language's first voice.
        language: The language of speech_text, "en" or "zh"; empty: the voice's own.
        prompt: What the person does while speaking, up to 2500 characters; empty: speaks naturally to the camera.
        mode: "std" (standard) or "pro" (higher quality, about twice the price).
        trim: Keep the first 60 s of a longer recording instead of refusing it.
        session_code: The session code an earlier call returned, to keep this conversation's videos together; empty on a first call (a new one is returned). follow_avatar_task needs it.
    Returns:
        What happened, in one sentence; the link to download the video (an .mp4; empty while it is being made); the task id; the session code, for follow_avatar_task and later calls.
    """  # noqa: E501 - Gradio reads each of these lines whole
    code = _session_code(session_code)
    visitor = sessions.code_visitor(code, request)
    studio = sessions.default
    try:
        found = _sources(studio, request, portrait=portrait, voice=voice)
        if found["portrait"] is None:
            raise InputError("A portrait is needed: give the photo of one face.", field="image")
        spoken = await _speech(studio, visitor, found["voice"], speech_text, voice_id, language)
        events = studio.generate(
            found["portrait"], found["voice"], prompt=prompt, mode=mode, trim=bool(trim),
            visitor=visitor, **spoken,
        )  # fmt: skip
        return await _answer(events, code, request)
    except AvatarError as error:
        raise _refusal(error) from None


async def follow_avatar_task(
    sessions: Sessions, task_id: str, session_code: str, request: gr.Request | None = None
) -> ToolAnswer:
    """Follow a talking-avatar task that make_talking_avatar_video started, until its video is made (waits up to about 45 s a call; call again while it is still being made). Only the tasks made with the same session code can be followed.

    Args:
        task_id: The task id (or the job id) make_talking_avatar_video returned.
        session_code: The session code returned with it.
    Returns:
        What happened, in one sentence; the link to download the video (an .mp4; empty while it is being made); the task id; the session code.
    """  # noqa: E501 - Gradio reads each of these lines whole
    code = (session_code or "").strip()
    if not handlers.BROWSER_ID.fullmatch(code):
        raise ToolError(
            "A session code is needed: the one make_talking_avatar_video returned with "
            "this task (only its own tasks can be followed)."
        )
    visitor = sessions.code_visitor(code, request)
    try:
        return await _answer(sessions.default.follow(task_id, visitor=visitor), code, request)
    except NotYoursError:
        raise ToolError(
            f"Task {(task_id or '').strip()[:64]} is not one of this session code's videos: "
            "follow only a task make_talking_avatar_video returned with the same code."
        ) from None
    except AvatarError as error:
        raise _refusal(error) from None


def _session_code(given: str | None) -> str:
    code = (given or "").strip()
    if not code:
        return new_browser_id()
    if not handlers.BROWSER_ID.fullmatch(code):
        raise ToolError(
            "The session code is not one this app hands out: leave it empty, or give the "
            "one an earlier call returned."
        )
    return code


async def _speech(
    studio: Studio,
    visitor: Visitor,
    audio: Source | None,
    text: str,
    voice_id: str,
    language: str,
) -> dict[str, Any]:
    """The generate arguments for the voice: none for a recording, else speech made from
    `text` by Kling text to speech (a paid request, counted in the visitor's day)."""
    if audio is not None and (text or "").strip():
        raise InputError("Give a voice recording or a speech text, not both.", field="audio")
    if audio is not None:
        return {}
    if not (text or "").strip():
        raise InputError(
            "A voice is needed: a recording (voice) or a text to speak (speech_text).",
            field="audio",
        )
    language = (language or "").strip().lower()
    voice = (voice_id or "").strip() or DEFAULT_VOICES.get(language or "en", "")
    result = await asyncio.to_thread(
        studio.speak, text, voice, language or None, 1.0, visitor=visitor
    )
    return {
        "audio_id": result.audio_id,
        "prior_task_id": result.task_id,
        "audio_seconds": result.duration_s,
    }


async def _answer(events: AsyncIterator[Progress], code: str, request: Any) -> ToolAnswer:
    """Follow a flow to its video, or until WAIT_S has passed once the provider has the
    task (then the flow stops; the task goes on and a later follow brings it home)."""
    iterator = events.__aiter__()
    last: Progress | None = None
    started = time.monotonic()
    try:
        while True:
            task_id = last.job.task_id if last is not None and last.job else None
            step = iterator.__anext__()
            try:
                if task_id:
                    left = max(WAIT_S - (time.monotonic() - started), 0.0)
                    last = await asyncio.wait_for(step, timeout=left)
                else:
                    last = await step
            except StopAsyncIteration:
                break
            except TimeoutError:
                return _still_running(last, task_id or "", code)
            if isinstance(last, Unclear):
                return _unclear(last, code)
    finally:
        with contextlib.suppress(RuntimeError):  # a generator already ended by the timeout
            await iterator.aclose()
    if not isinstance(last, Done) or last.video_path is None:
        raise ToolError("The task ended without a video; follow it again to see why.")
    return _done(last, code, request)


def _done(done: Done, code: str, request: Any) -> ToolAnswer:
    job = done.job
    copy = page_copy(done.video_path or "")
    root = app_root(request) if request is not None else ""
    simulated = " Simulated (demo mode): not made by Kling." if job and job.demo else ""
    message = done.message + simulated
    return message, f"{root}{FILE_ROUTE}{quote(copy)}", (job.task_id if job else "") or "", code


def _still_running(last: Progress | None, task_id: str, code: str) -> ToolAnswer:
    status = f" ({last.message.rstrip('.')})" if last is not None else ""
    return (
        f"Task {task_id} is still being made{status}; it goes on at the provider. Call "
        f'follow_avatar_task with task_id "{task_id}" and session_code "{code}" in a minute '
        "to get the video.",
        "",
        task_id,
        code,
    )


def _unclear(unclear: Unclear, code: str) -> ToolAnswer:
    job = unclear.job
    ref = (job.task_id or job.job_id) if job else ""
    return (
        f'{unclear.message} Call follow_avatar_task with task_id "{ref}" and session_code '
        f'"{code}" in a few minutes to learn what became of it.',
        "",
        ref,
        code,
    )
