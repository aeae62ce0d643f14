"""What the page's events do: each handler takes the app's `Sessions` (when it needs a
studio) and its inputs' values, calls the core through the session's studio, and formats
the answer for the page.

Every call to a studio is in this module, so a change of the studio's API is a change
here only. The wiring binds `sessions` (`Sessions.bind`); tests call the handlers as
they are, on a studio pointed at the simulator. Handlers that show or spend something
take the visitor: `browser` (the id the browser keeps, None for API callers) and the
event's `request` (whose session identifies an API caller); called without them, as in
tests, they act for one local visitor. Videos and speech go out as copies
(`delivery.page_copy`), never as paths into the data folder. What the core says is shown
in the language the request asks for (`visitor_language`: the browser's, or English for a
program that asks for none).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

import ui.formatting as fmt
from avatar_core.errors import (
    AuthenticationError,
    AvatarError,
    PermissionDeniedError,
    SettingsError,
)
from avatar_core.jobs.events import Done, InLine, Progress, final_progress, with_heartbeat
from avatar_core.jobs.pricing import estimate_cost, silence_saving
from avatar_core.jobs.steps import video_home
from avatar_core.jobs.studio import Source, Studio
from avatar_core.provider.voices import DEFAULT_VOICES, speaks, voices_in
from avatar_core.storage.speech_files import save_speech
from ui.delivery import page_copy
from ui.sessions import Sessions, new_browser_id
from ui.texts import t, ui_text, visitor_language

# The voice source radio's values (stable keys) and the texts of their labels.
VOICE_SOURCES: dict[str, str] = {
    "file": "source_file",
    "url": "source_url",
    "tts": "source_tts",
    "audio_id": "source_audio_id",
}
SPOKEN_SOURCES = ("tts", "audio_id")  # the voice is Kling text to speech, by its audio id
# The speech language radio: (label, value); each language's name in that language.
SPEECH_LANGUAGES: dict[str, str] = {"English": "en", "中文": "zh"}

BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")  # what `new_browser_id` makes
Update = Any  # a component's new value, gr.update(...) or gr.skip()
StreamUpdate = tuple[str, Any, str]  # (status, video, details)


def _source(path: str | None, url: str | None) -> Path | str | None:
    """An uploaded file (as a `Path`: a file the app received), else the typed URL (text:
    the core takes web addresses only from it), else None."""
    return Path(path) if path else (url or "").strip() or None


# --- checking inputs as they are added ---------------------------------------------------


def check_portrait(
    sessions: Sessions,
    image_path: str | None,
    image_url: str | None,
    key: str | None,
    request: gr.Request | None = None,
) -> str:
    """The portrait's verdict: what will be sent, fixes, warnings (a missing face too)."""
    source = _source(image_path, image_url)
    if source is None:
        return ""
    language = visitor_language(request)
    with sessions.using(key) as studio:
        return portrait_verdict(studio, source, language)


def portrait_verdict(studio: Studio, source: Source, language: str = "en") -> str:
    """What `studio` would send of a portrait, or why not (for the page and the tools)."""
    try:
        prepared = studio.check_image(source)
    except AvatarError as error:
        return fmt.verdict_error(error, language)
    warnings = prepared.warnings + studio.inputs.face_warnings(prepared)
    return fmt.verdict_ok(prepared.summary(), prepared.changes, warnings, language)


def check_voice(
    sessions: Sessions,
    audio_path: str | None,
    audio_url: str | None,
    trim: bool,
    key: str | None,
    request: gr.Request | None = None,
) -> tuple[str, float | None]:
    """The voice's verdict, and its length in seconds (for the cost estimate)."""
    source = _source(audio_path, audio_url)
    if source is None:
        return "", None
    language = visitor_language(request)
    try:
        with sessions.using(key) as studio:
            return voice_verdict(studio, source, bool(trim), language)
    except AvatarError as error:  # a pasted key's studio could not be made
        return fmt.verdict_error(error, language), None


def voice_verdict(
    studio: Studio, source: Source, trim: bool, language: str = "en"
) -> tuple[str, float | None]:
    """What `studio` would send of a voice, or why not; its length in seconds."""
    try:
        prepared = studio.check_audio(source, trim=trim)
    except AvatarError as error:
        return fmt.verdict_error(error, language), None
    saving = silence_saving(prepared.silence_left_out_s, studio.settings.prices)
    changes = prepared.changes + ((saving,) if saving else ())
    verdict = fmt.verdict_ok(prepared.summary(), changes, prepared.warnings, language)
    return verdict, prepared.duration_s


def show_cost(
    sessions: Sessions,
    voice_source: str,
    file_seconds: float | None,
    speech_seconds: float | None,
    mode: str,
) -> str:
    """The estimate for the chosen voice (the checked file's length, or the speech's) at
    the app's assumed prices."""
    seconds = speech_seconds if voice_source in SPOKEN_SOURCES else file_seconds
    return fmt.cost_text(estimate_cost(seconds, mode, sessions.default.settings.prices))


def show_voice_source(voice_source: str) -> list[Update]:
    """Show the group of the chosen source only (in VOICE_SOURCES' order)."""
    return [gr.update(visible=voice_source == source) for source in VOICE_SOURCES]


# --- text to speech ----------------------------------------------------------------------


def voice_choices(language: str) -> list[tuple[str, str]]:
    """The voice list's (label, voice id) choices for one language."""
    return [(f"{voice.label} ({voice.id})", voice.id) for voice in voices_in(language)]


def show_voices(language: str, voice: str | None) -> Update:
    """The voices of the chosen language; the chosen voice stays if it speaks it."""
    keep = voice if voice and speaks(voice, language) else DEFAULT_VOICES.get(language)
    return gr.update(choices=voice_choices(language), value=keep)


def make_speech(
    sessions: Sessions,
    text: str,
    voice: str,
    speed: float,
    key: str | None,
    language: str | None = None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> tuple[Update, Update, str | None, str, float | None]:
    """Speech for the avatar: (audio id, its task id, a preview file, verdict, seconds).
    The page's and gradio_client's `/tts`; an MCP caller is refused: make_talking_avatar_video
    speaks a text itself.

    `language` None: the voice's first language. The seconds go to a State (for the
    estimate); they are not part of what /tts returns.
    """
    visitor = sessions.visitor(browser, request)
    reader = visitor_language(request)
    with sessions.using(key) as studio:
        try:
            result = studio.speak(text, voice, language or None, speed, visitor=visitor)
        except AvatarError as error:
            return gr.skip(), gr.skip(), None, fmt.verdict_error(error, reader), None
        try:  # a local copy to listen to (the link may expire, or be the demo's loopback)
            preview = page_copy(
                save_speech(
                    result.url or "",
                    studio.settings.data_dir,
                    result.audio_id,
                    timeout=studio.settings.http_timeout_s,
                )
            )
        except AvatarError:
            preview = None
    length = f" ({result.duration_s:.1f} s)" if result.duration_s else ""
    return (
        result.audio_id,
        result.task_id or "",
        preview,
        f"{ui_text('speech_made', reader)}{length}",  # plain words: /tts returns it to programs
        result.duration_s,
    )


# --- jobs on the page --------------------------------------------------------------------


async def _stream(
    events: AsyncIterator[Progress], language: str = "en"
) -> AsyncIterator[StreamUpdate]:
    """A flow's steps as (status, video, details) updates; its error as the status."""
    try:
        async for progress in with_heartbeat(events):
            shown = fmt.details(progress, language)
            if isinstance(progress, Done):
                done = fmt.status(progress.message, "done", language)
                video = await asyncio.to_thread(page_copy, progress.video_path)
                yield done, video, shown
            elif isinstance(progress, InLine):
                yield fmt.in_line(progress, language), gr.skip(), shown
            else:
                yield fmt.status(progress.message, "info", language), gr.skip(), shown
    except AvatarError as error:
        yield fmt.verdict_error(error, language), gr.skip(), gr.skip()


def voice_choice(
    voice_source: str,
    audio_path: str | None,
    audio_url: str | None,
    audio_id: str | None,
    prior_task_id: str | None,
) -> tuple[Path | str | None, str | None, str | None]:
    """(audio, audio id, prior task id) for the chosen source; the other boxes are ignored."""
    if voice_source == "file":
        return _source(audio_path, None), None, None
    if voice_source == "url":
        return _source(None, audio_url), None, None
    return None, (audio_id or "").strip() or None, (prior_task_id or "").strip() or None


async def run_generate(
    sessions: Sessions,
    image_path: str | None,
    image_url: str | None,
    voice_source: str,
    audio_path: str | None,
    audio_url: str | None,
    audio_id: str | None,
    prior_task_id: str | None,
    prompt: str | None,
    mode: str,
    trim: bool,
    key: str | None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> AsyncIterator[StreamUpdate]:
    """Generate, streaming (status, video, details) as the job moves."""
    image = _source(image_path, image_url)
    if image is None:
        yield fmt.status(str(t("need_portrait")), "error"), None, ""
        return
    audio, chosen_id, prior = voice_choice(
        voice_source, audio_path, audio_url, audio_id, prior_task_id
    )
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        events = studio.generate(
            image,
            audio,
            audio_id=chosen_id,
            prior_task_id=prior,
            prompt=prompt,
            mode=mode,
            trim=bool(trim),
            visitor=visitor,
        )
        async for update in _stream(events, visitor_language(request)):
            yield update


async def run_lookup(
    sessions: Sessions,
    task_id: str | None,
    key: str | None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> AsyncIterator[StreamUpdate]:
    """Follow one of the visitor's tasks by its id to the end, streaming like
    `run_generate`."""
    task_id = (task_id or "").strip()
    if not task_id:
        yield fmt.status(str(t("need_task_id")), "error"), None, ""
        return
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        follow = studio.follow(task_id, visitor=visitor)
        async for update in _stream(follow, visitor_language(request)):
            yield update


def stopped() -> str:
    """The status once a person stops waiting (the task goes on at the provider)."""
    return fmt.status(str(t("stopped")), "stopped")


# --- the programmatic API (English, unless the request's Accept-Language asks for zh) -----


def _error(message: str) -> gr.Error:
    """An error for the caller; the console gets no traceback for an expected refusal."""
    return gr.Error(message, print_exception=False)


async def _video_of(events: AsyncIterator[Progress], language: str = "en") -> str:
    """The finished video of a flow, as a copy for the caller; its error as gr.Error."""
    try:
        done = await final_progress(events)
        return await asyncio.to_thread(page_copy, done.video_path)
    except AvatarError as error:
        raise _error(error.in_language(language)) from None


async def api_generate(
    sessions: Sessions,
    image_path: str | None,
    audio_path: str | None,
    prompt: str | None,
    mode: str,
    key: str | None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> str:
    """`/generate`: the finished video; errors reach the caller as their sentence."""
    if not image_path or not audio_path:
        raise _error(ui_text("api_need_inputs", visitor_language(request)))
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        events = studio.generate(
            Path(image_path), Path(audio_path), prompt=prompt, mode=mode, visitor=visitor
        )
        return await _video_of(events, visitor_language(request))


async def api_status(
    sessions: Sessions, task_id: str | None, key: str | None,
    browser: str | None = None, request: gr.Request | None = None,
) -> str:  # fmt: skip
    """`/status`: follow one of the caller's tasks to the end; its video."""
    task_id = (task_id or "").strip()
    if not task_id:
        raise _error(ui_text("api_need_task_id", visitor_language(request)))
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        return await _video_of(studio.follow(task_id, visitor=visitor), visitor_language(request))


# --- a person's own key ------------------------------------------------------------------


def use_key(
    sessions: Sessions, key_text: str | None, request: gr.Request | None = None
) -> tuple[Update, str, Update, str]:
    """(the session's key, the emptied key box, the demo banner, a note) for a pasted key.

    An empty box forgets the key. A key the provider refuses is not taken; one that could
    not be checked just now is taken, saying so. Nothing is kept for a key before the
    provider has accepted it.
    """
    key = (key_text or "").strip() or None
    if key is None:
        return None, "", gr.update(visible=sessions.default.demo), str(t("key_forgotten"))
    try:
        sessions.try_key(key, request)
    except (AuthenticationError, PermissionDeniedError, SettingsError) as error:
        return gr.skip(), "", gr.skip(), fmt.verdict_error(error, visitor_language(request))
    except AvatarError as error:
        why = error.in_language(visitor_language(request))
        return key, "", gr.update(visible=False), f"{t('key_used_unchecked')} {why})"
    return key, "", gr.update(visible=False), str(t("key_used"))


def forget_key(sessions: Sessions) -> tuple[Update, str, Update, str]:
    """Back to the app's own key (or demo mode)."""
    return use_key(sessions, "")


def run_doctor(sessions: Sessions, key: str | None, request: gr.Request | None = None) -> str:
    """The doctor's report (free requests only) for this session's key, to paste into a
    bug report; the key is not in it."""
    with sessions.using(key) as studio:
        try:  # the app's own key's latest job is some visitor's: its ids are not shown
            report = studio.diagnose(
                ask_about_a_job=studio is not sessions.default, visitor=sessions.asker(request)
            )
        except AvatarError as error:
            return fmt.verdict_error(error, visitor_language(request))
    return fmt.doctor_report(report.text())


def api_use_key(sessions: Sessions, key: str | None) -> Update:
    """`/use_key`: the session's key state only (the key is never returned to the caller:
    gradio_client does not receive State outputs)."""
    return use_key(sessions, key)[0]


# --- the visitor: history and what is left today ------------------------------------------


def refresh_history(
    sessions: Sessions,
    key: str | None = None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> list[list[Any]]:
    """The visitor's jobs: on the app's own key, those it asked for (everyone's when the
    operator shares the history); on a pasted key, those made with that key."""
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        return fmt.history_rows(studio.history(visitor), visitor_language(request))


def pick_history(
    sessions: Sessions,
    key: str | None,
    row: Sequence[Any] | None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> tuple[str | None, str]:
    """(video, note) for a history row picked by this visitor (a job id it may not see
    shows nothing)."""
    job_id = str(row[-1]) if row else ""
    if not job_id:
        return None, ""
    visitor = sessions.visitor(browser, request)
    with sessions.using(key) as studio:
        job = studio.job_of(visitor, job_id)
    if job is None:
        return None, ""
    language = visitor_language(request)
    if not video_home(job):
        return None, fmt.history_note(job, with_video=False, language=language)
    try:
        video = page_copy(job.video_path or "")
    except AvatarError:
        return None, fmt.history_note(job, with_video=False, language=language)
    return video, fmt.history_note(job, with_video=True, language=language)


def pick_from_history(
    sessions: Sessions,
    key: str | None,
    browser: str | None,
    event: gr.SelectData,
    request: gr.Request,
) -> tuple[str | None, str]:
    """The History table's select event (Gradio gives the picked row to `event`)."""
    return pick_history(sessions, key, event.row_value, browser, request)


def show_allowance(
    sessions: Sessions,
    key: str | None,
    browser: str | None = None,
    request: gr.Request | None = None,
) -> str:
    """What the visitor has left today ("" when no daily limit applies)."""
    if sessions.pasted(key):
        return str(t("allowance_own_key"))
    return fmt.allowance_text(sessions.default.allowance(sessions.visitor(browser, request)))


def open_page(
    sessions: Sessions,
    browser_id: str | None,
    key: str | None,
    request: gr.Request | None = None,
) -> tuple[str, str, Update, str]:
    """On page load: (the browser's visitor id, kept in the browser and in the session,
    the visitor's history with its headers in the visitor's language, what it has left
    today). A browser without a plausible id gets a new one."""
    if not _plausible_id(browser_id):
        browser_id = new_browser_id()
    rows = refresh_history(sessions, key, browser_id, request)
    table = gr.update(value=rows, headers=fmt.history_headers(visitor_language(request)))
    return browser_id, browser_id, table, show_allowance(sessions, key, browser_id, request)


def _plausible_id(browser_id: object) -> bool:
    """An id `new_browser_id` could have made (anything else a browser sends is replaced)."""
    return isinstance(browser_id, str) and BROWSER_ID.fullmatch(browser_id) is not None
