"""The app's tools for AI assistants, served by Gradio's MCP server (`launch(mcp_server=True)`).

Each tool is a module-level function of the app's `Sessions`, bound like the page's
handlers (`Sessions.bind`) and registered with `gr.api` (ui/wiring.py): Gradio names the
tool after the function and describes it, and each parameter, from its docstring. They
call the same studio and the same verdicts as the page.

The tools run unqueued: Gradio's MCP server then calls them with the MCP request itself,
so a call is known by its own network address (a queued tool is called through one
loopback client shared by every MCP caller). So Gradio's queue does not bound them:
`ui.limits.MCP_CALLS` does (the page's concurrency; one more call is refused). Gradio
sends progress notifications for queued tools only, so these answer within `WAIT_S` of
the call instead: a job not done by then goes on in a run the app owns (in line, sent,
followed, stored; ui/mcp_runs.py), answered by its id, to follow with
`follow_avatar_task`.

Gradio's MCP transport keeps no session, so a caller is known by a session code the
tools hand out (`Sessions.code_visitor`): its jobs are its own (following needs the
code). A caller may leave the code empty on every call and be a new visitor each time,
so the limits for each visitor do not bound a stranger: only the limits for each
network address do (AVATAR_MAX_DAILY_PER_ADDRESS; README, "Visitors and limits").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal
from urllib.parse import quote

import gradio as gr

import ui.formatting as fmt
import ui.handlers as handlers
import ui.mcp_answers as answers
from avatar_core.errors import AvatarError, InputError, NotYoursError
from avatar_core.jobs.events import Done, Progress, Unclear
from avatar_core.jobs.long_text import TextSpeech
from avatar_core.jobs.studio import Source, Studio
from avatar_core.jobs.video_flow import make_video
from avatar_core.provider.voices import DEFAULT_VOICES
from avatar_core.storage.visitors import Visitor
from ui.delivery import page_copy
from ui.limits import MCP_CALLS
from ui.mcp_runs import MAX_RUNS, Run, runs_of
from ui.mcp_sources import FILE_ROUTE, app_root, tool_source
from ui.sessions import Sessions, new_browser_id
from ui.text_guard import Refusal as ToolError

# MCP clients often give up on a tool call after 60 s: a call answers within WAIT_S of
# its start, and a job not done by then goes on in its run (ui/mcp_runs.py).
WAIT_S = 45.0
ToolAnswer = tuple[str, str, str, str]  # (what happened, video link, task id, session code)
# What a gradio_client caller reads each tool's returns as (view_api).
RETURNS = {
    "make_talking_avatar_video": ("message", "video_url", "task_id", "session_code"),
    "follow_avatar_task": ("message", "video_url", "task_id", "session_code"),
    "check_avatar_inputs": ("portrait_verdict", "voice_verdict"),
}


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
    with MCP_CALLS.call():  # it decodes pictures, runs ffmpeg and fetches links
        verdicts = [_verdict(sessions.default, request, what, value, bool(trim))
                    for what, value in (("portrait", portrait), ("voice", voice))]  # fmt: skip
    if not any(verdicts):
        raise ToolError(answers.NOTHING_TO_CHECK)
    return verdicts[0], verdicts[1]


def _verdict(studio: Studio, request: Any, what: str, value: str, trim: bool) -> str:
    """One input's verdict, as the page shows it ("" when it was not given)."""
    try:
        source = _sources(studio, request, **{what: value})[what]
    except InputError as error:
        return fmt.verdict_error(error)
    if source is None:
        return ""
    if what == "portrait":
        return handlers.portrait_verdict(studio, source)
    return handlers.voice_verdict(studio, source, trim)[0]


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
    """Make a talking-avatar video with Kling Avatar: the person in a portrait photo speaks a voice recording, or a text read by one of Kling's voices. It is paid for on this app's key, within its limits for each visitor and each network address (videos at once, videos a day); check_avatar_inputs checks the inputs first and charges nothing. In demo mode (no key set) the video comes from a simulator and says so. The call answers within about 45 s: a job not done by then goes on in this app (waiting in line for its turn, then made and stored) and is returned by its id, to follow with follow_avatar_task.

    Args:
        portrait: The photo of one face: an https:// link, the link an upload to this app returned (POST /gradio_api/upload, or Gradio's upload_file_to_gradio tool: …/gradio_api/file=…), or a data: URL (base64). Never a path on the server. JPG or PNG (other pictures are converted), each side at least 300 px, sides at most 2.5 times each other; larger pictures are scaled down to 10 MB.
        voice: The recording the avatar speaks, given like the portrait: MP3, WAV, M4A or AAC (others are converted), 2 s or longer (a voice longer than one task takes is made in parts and joined into one video). Empty: speak speech_text instead.
        speech_text: Text for Kling's text to speech instead of a recording; paid as a request of its own. A text longer than one speech takes (1000 characters, or about 45 s of speech) is spoken in parts that follow its sentences (a request each) and made into one video, up to the app's speech limit (10 minutes unless the operator set less).
        voice_id: The Kling voice reading speech_text (e.g. genshin_vindi2); empty: the language's first voice.
        language: The language of speech_text, "en" or "zh"; empty: the voice's own.
        prompt: What the person does while speaking, up to 2500 characters; empty: speaks naturally to the camera.
        mode: "std" (standard) or "pro" (higher quality, about twice the price).
        trim: Keep the first 60 s of a longer recording instead of refusing it.
        session_code: The session code an earlier call returned, to keep this conversation's videos together; empty on a first call (a new one is returned). follow_avatar_task needs it.
    Returns:
        What happened, in one sentence; the link to download the video (an .mp4; empty while it is being made); the task id (or the job's id before it is sent), for follow_avatar_task; the session code, for follow_avatar_task and later calls.
    """  # noqa: E501 - Gradio reads each of these lines whole
    with MCP_CALLS.call():
        code = _session_code(session_code)
        visitor = sessions.code_visitor(code, request)
        studio = sessions.default
        runs = runs_of(sessions)
        if runs.under_way() >= MAX_RUNS:
            raise ToolError(answers.too_many_runs(MAX_RUNS))
        try:  # decoding a data: URL of up to 50 MB is no work for the event loop
            found = await asyncio.to_thread(
                _sources, studio, request, portrait=portrait, voice=voice
            )
            if found["portrait"] is None:
                raise InputError(answers.NO_PORTRAIT, field="image")
            _check_voice(found["voice"], speech_text)
        except AvatarError as error:
            raise _refusal(error) from None
        flow = _job(
            studio, visitor, found["portrait"], found["voice"], speech_text, voice_id, language,
            prompt=prompt, mode=mode, trim=bool(trim),
        )  # fmt: skip
        run = runs.start(flow, code)
    await run.watch(WAIT_S)  # holding no slot: a wait costs nothing
    return _answer(run, code, request)


async def follow_avatar_task(
    sessions: Sessions, task_id: str, session_code: str, request: gr.Request | None = None
) -> ToolAnswer:
    """Follow a talking-avatar task that make_talking_avatar_video started, until its video is made (waits up to about 45 s a call; call again while it is still being made). A job still waiting in line for its turn is answered with its place. Only the tasks made with the same session code can be followed.

    Args:
        task_id: The id make_talking_avatar_video returned: a task id, or a job id (not sent yet), or an mcp-… id (still being prepared).
        session_code: The session code returned with it.
    Returns:
        What happened, in one sentence; the link to download the video (an .mp4; empty while it is being made); the task id; the session code.
    """  # noqa: E501 - Gradio reads each of these lines whole
    with MCP_CALLS.call():
        code = (session_code or "").strip()
        if not handlers.BROWSER_ID.fullmatch(code):
            raise ToolError(answers.NO_CODE)
        runs = runs_of(sessions)
        run = runs.find(task_id, code)
        if run is None or (run.ended.is_set() and run.job_id):  # the journal knows best
            if runs.under_way() >= MAX_RUNS:
                raise ToolError(answers.too_many_runs(MAX_RUNS))
            ref = (run.task_id or run.job_id) if run is not None else task_id
            visitor = sessions.code_visitor(code, request)
            run = runs.start(sessions.default.follow(ref, visitor=visitor), code)
    await run.watch(WAIT_S, until_ended=True)  # holding no slot: a wait costs nothing
    return _answer(run, code, request, asked=task_id)


def _session_code(given: str | None) -> str:
    code = (given or "").strip()
    if not code:
        return new_browser_id()
    if not handlers.BROWSER_ID.fullmatch(code):
        raise ToolError(answers.BAD_CODE)
    return code


def _check_voice(audio: Source | None, text: str) -> None:
    if audio is not None and (text or "").strip():
        raise InputError(answers.BOTH_VOICES, field="audio")
    if audio is None and not (text or "").strip():
        raise InputError(answers.NO_VOICE, field="audio")


async def _job(
    studio: Studio,
    visitor: Visitor,
    portrait: Source,
    audio: Source | None,
    text: str,
    voice_id: str,
    language: str,
    **options: Any,
) -> AsyncIterator[Progress]:
    """The whole job (`make_video`): a text given is spoken first (paid, counted in the
    visitor's day, only once the visitor may still make its video and the portrait
    passes), a text longer than one speech a task takes group by group, its whole
    admitted before the first speech, and made into one video of parts."""
    speech = None
    if audio is None:
        language = (language or "").strip().lower()
        voice = (voice_id or "").strip() or DEFAULT_VOICES.get(language or "en", "")
        speech = TextSpeech(text, voice, language or None, 1.0)
    flow = make_video(studio, portrait, audio, visitor=visitor, text=speech, **options)
    async with contextlib.aclosing(flow):
        async for progress in flow:
            yield progress


def _answer(run: Run, code: str, request: Any, asked: str = "") -> ToolAnswer:
    """What a run has come to: its video, a refusal, or where it stands (it goes on)."""
    last = run.last
    if isinstance(run.error, NotYoursError):
        raise ToolError(answers.not_yours((asked or "").strip()))
    if run.ended.is_set() and run.error is not None:
        raise _refusal(run.error)
    if isinstance(last, Unclear):
        ref = run.task_id or run.job_id
        return answers.unclear(last.message, ref, code), "", ref, code
    if run.ended.is_set():
        if not isinstance(last, Done) or last.video_path is None:
            raise ToolError(answers.NO_VIDEO)
        return _done(last, code, request)
    status = last.message if last is not None else ""
    if run.task_id:
        return answers.still_running(run.task_id, code, status), "", run.task_id, code
    if run.job_id:
        return answers.in_line(run.job_id, code, run.place), "", run.job_id, code
    return answers.preparing(run.run_id, code), "", run.run_id, code


def _done(done: Done, code: str, request: Any) -> ToolAnswer:
    job = done.job
    copy = page_copy(done.video_path or "")
    root = app_root(request) if request is not None else ""
    message = done.message + (answers.SIMULATED if job and job.demo else "")
    return message, f"{root}{FILE_ROUTE}{quote(copy)}", (job.task_id if job else "") or "", code
