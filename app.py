"""Talking Avatar Studio: one portrait and one voice become a talking-avatar video.

The Gradio UI only: layout, event wiring and formatting. Everything else is in
`avatar_core`. Run `python app.py`; with no COMETAPI_KEY it runs in demo mode on the
built-in simulator.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

# No usage analytics leave this app unless its operator asks for them.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from fastapi import Request
from fastapi.responses import JSONResponse

from avatar_core.config import Settings
from avatar_core.demo import DEMO_NOTICE
from avatar_core.errors import (
    AuthenticationError,
    AvatarError,
    InputError,
    PermissionDeniedError,
)
from avatar_core.inputs.fields import DEFAULT_PROMPT, MAX_PROMPT_CHARS
from avatar_core.jobs.events import Done, Progress, final_progress, with_heartbeat
from avatar_core.jobs.pricing import Estimate, estimate_cost, format_money, format_rate
from avatar_core.jobs.studio import Studio, open_studio
from avatar_core.provider.voices import DEFAULT_VOICE, VOICES
from avatar_core.storage.journal import Job, Stage
from avatar_core.storage.speech_files import save_speech
from avatar_core.waiting.callbacks import CALLBACK_PATH, MAX_CALLBACK_BYTES, CallbackRegistry
from ui_text import I18N, t

log = logging.getLogger("talking_avatar_studio")

ASSETS = Path(__file__).parent / "assets"
MAX_UPLOAD = "50mb"  # the provider takes 10 MB photos and 5 MB audio; bigger files get fixed
VOICE_SOURCES = ("File or recording", "Audio URL", "Text to speech", "Audio id")
STAGE_LABELS = {
    Stage.CREATING: "sending",
    Stage.OUTCOME_UNKNOWN: "unclear: check the external id",
    Stage.NOT_CREATED: "not created",
    Stage.RUNNING: "running",
    Stage.DOWNLOADING: "downloading",
    Stage.DONE: "done",
    Stage.FAILED: "failed",
    Stage.LOST: "lost",
}
CSS = """
#status {min-height: 3em}
.verdict p {margin: 0.2em 0}
#cost p {margin: 0.2em 0}
button:focus-visible, input:focus-visible, textarea:focus-visible {
    outline: 3px solid #4f46e5; outline-offset: 2px;
}
@media (min-width: 769px) {  /* side by side: the status and the video stay in view */
    #output_column {position: sticky; top: 12px; align-self: flex-start}
}
.gradio-container {overflow: clip !important}  /* "hidden" would stop the sticking */
@media (max-width: 480px) {
    .gradio-container {padding-left: 6px !important; padding-right: 6px !important}
    #result video {max-height: 60vh}
}
"""
# Screen readers announce the status and the verdicts as they change (Gradio renders the
# page itself, so the attributes are set once its elements exist).
A11Y_JS = """
() => {
    const live = {status: "status", portrait_verdict: null, voice_verdict: null, cost: null};
    const mark = () => {
        for (const [id, role] of Object.entries(live)) {
            const element = document.getElementById(id);
            if (!element || element.getAttribute("aria-live")) continue;
            element.setAttribute("aria-live", "polite");
            element.setAttribute("aria-atomic", "true");
            if (role) element.setAttribute("role", role);
        }
    };
    mark();
    new MutationObserver(mark).observe(document.body, {childList: true, subtree: true});
}
"""


# --- sessions: a pasted key lives only in that browser session's server-side state ----------


class Studios:
    """The app's studio, and one per pasted key (kept in memory, never written anywhere)."""

    def __init__(self, studio: Studio) -> None:
        self.default = studio
        self._by_key: dict[str, Studio] = {}
        self._lock = threading.Lock()

    def for_session(self, key: str | None) -> Studio:
        if not key:
            return self.default
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self._lock:
            if digest not in self._by_key:
                self._by_key[digest] = self.default.with_key(key)
            return self._by_key[digest]


# --- formatting -------------------------------------------------------------------------------


def _bullets(lines: list[str] | tuple[str, ...], mark: str) -> str:
    return "".join(f"\n- {mark} {line}" for line in lines)


def _verdict_ok(summary: str, changes: tuple[str, ...], warnings: tuple[str, ...]) -> str:
    return f"✅ {summary}" + _bullets(changes, "🔧") + _bullets(warnings, "⚠️")


def _verdict_error(error: AvatarError) -> str:
    problems = error.problems if isinstance(error, InputError) else [str(error)]
    return "\n\n".join(f"❌ {p}" for p in problems)  # a paragraph each


def _status(text: str, kind: str = "info") -> str:
    icon = {"info": "⏳", "done": "✅", "error": "❌", "stopped": "⏹️"}[kind]
    return f"{icon} {text}"


def _details(progress: Progress) -> str:
    job = progress.job
    if job is None:
        return ""
    rows = [f"**Task id:** `{job.task_id}`" if job.task_id else "", f"**Job:** `{job.job_id}`"]
    if job.video_seconds:
        rows.append(f"**Video:** {job.video_seconds:.1f} s")
    if job.units_charged:
        rows.append(f"**Credits charged:** {job.units_charged}")
    if job.demo:
        rows.append("**Simulated** (demo mode)")
    return " · ".join(r for r in rows if r)


def _cost_text(estimate: Estimate | None) -> str:
    """The estimate beside the mode (one translated label plus the numbers)."""
    if estimate is None:
        return str(t("cost_unknown"))
    return (
        f"💰 {t('cost_label')} **≈ {format_money(estimate.total)}** "
        f"({estimate.seconds:.1f} s × {format_rate(estimate.price_per_second)}, {estimate.mode})"
    )


def _history_rows(jobs: list[Job]) -> list[list[Any]]:
    rows = []
    for job in jobs:
        when = dt.datetime.fromtimestamp(job.created_at).strftime("%Y-%m-%d %H:%M:%S")
        rows.append(
            [
                when,
                STAGE_LABELS[job.stage] + (" (demo)" if job.demo else ""),
                job.task_id or "",
                job.mode,
                f"{job.video_seconds:.1f}" if job.video_seconds else "",
                job.error or "",
                job.job_id,
            ]
        )
    return rows


async def _stream(events: AsyncIterator[Progress]) -> AsyncIterator[tuple[str, Any, str]]:
    """A flow's steps as (status, video, details) updates; its error as the status."""
    try:
        async for progress in with_heartbeat(events):
            if isinstance(progress, Done):
                yield (
                    _status(progress.message, "done"),
                    str(progress.video_path),
                    _details(progress),
                )
            else:
                yield _status(progress.message), gr.skip(), _details(progress)
    except AvatarError as error:
        yield _verdict_error(error), gr.skip(), gr.skip()


def _error(message: str) -> gr.Error:
    """An error for the caller; the console gets no traceback for an expected refusal."""
    return gr.Error(message, print_exception=False)


# --- the app ----------------------------------------------------------------------------------


def build_app(studio: Studio) -> gr.Blocks:
    """The whole UI around one studio (tests pass one pointed at their simulator)."""
    studios = Studios(studio)

    # handlers: thin, they call the core and format ---------------------------------------

    def session_studio(key: str | None) -> Studio:
        return studios.for_session(key)

    def check_portrait(image_path: str | None, image_url: str, key: str | None) -> str:
        source = image_path or (image_url or "").strip()
        if not source:
            return ""
        try:
            prepared = session_studio(key).check_image(source)
        except AvatarError as error:
            return _verdict_error(error)
        warnings = prepared.warnings + session_studio(key).inputs.face_warnings(prepared)
        return _verdict_ok(prepared.summary(), prepared.changes, warnings)

    def check_voice(
        audio_path: str | None, audio_url: str, trim: bool, key: str | None
    ) -> tuple[str, float | None]:
        """The voice's verdict, and its length in seconds (for the cost estimate)."""
        source = audio_path or (audio_url or "").strip()
        if not source:
            return "", None
        try:
            prepared = session_studio(key).check_audio(source, trim=trim)
        except AvatarError as error:
            return _verdict_error(error), None
        verdict = _verdict_ok(prepared.summary(), prepared.changes, prepared.warnings)
        return verdict, prepared.duration_s

    def count_prompt(prompt: str) -> str:
        used = len(prompt or "")
        if used > MAX_PROMPT_CHARS:
            return f"{used} / {MAX_PROMPT_CHARS} {t('chars_too_long')}"
        if not (prompt or "").strip():
            return f"{used} / {MAX_PROMPT_CHARS} {t('chars_empty')}"
        return f"{used} / {MAX_PROMPT_CHARS} {t('chars')}"

    def show_cost(
        voice_source: str, file_seconds: float | None, speech_seconds: float | None, mode: str
    ) -> str:
        spoken = voice_source not in VOICE_SOURCES[:2]  # text to speech, or its audio id
        return _cost_text(estimate_cost(speech_seconds if spoken else file_seconds, mode))

    def show_voice_source(source: str):
        return [gr.update(visible=source == name) for name in VOICE_SOURCES]

    def make_speech(text: str, voice: str, speed: float, key: str | None):
        speaker = session_studio(key)
        try:
            result = speaker.speak(text, voice, VOICES[voice][0], speed)
        except AvatarError as error:
            return gr.skip(), gr.skip(), None, _verdict_error(error), None
        length = f"{result.duration_s:.1f} s" if result.duration_s else "unknown length"
        try:  # a local copy to listen to (the link may expire, or be the demo's loopback)
            preview = save_speech(
                result.url or "",
                speaker.settings.data_dir,
                result.audio_id,
                timeout=speaker.settings.http_timeout_s,
            )
        except AvatarError:
            preview = None
        return (
            result.audio_id,
            result.task_id or "",
            str(preview) if preview else None,
            f"✅ Speech made ({length}): its audio id is filled in below.",
            result.duration_s,  # a State: not part of what /tts returns
        )

    async def run_generate(
        image_path, image_url, voice_source, audio_path, audio_url, audio_id, prior_task_id,
        prompt, mode, trim, key,
    ) -> AsyncIterator[tuple[str, Any, str]]:  # fmt: skip
        image = image_path or (image_url or "").strip() or None
        if image is None:
            yield _status(t("need_portrait"), "error"), None, ""
            return
        audio, use_audio_id, prior = None, None, None
        if voice_source == VOICE_SOURCES[0]:
            audio = audio_path
        elif voice_source == VOICE_SOURCES[1]:
            audio = (audio_url or "").strip() or None
        else:
            use_audio_id = (audio_id or "").strip() or None
            prior = (prior_task_id or "").strip() or None
        events = session_studio(key).generate(
            image,
            audio,
            audio_id=use_audio_id,
            prior_task_id=prior,
            prompt=prompt,
            mode=mode,
            trim=bool(trim),
        )
        async for update in _stream(events):
            yield update

    async def run_lookup(task_id: str, key: str | None) -> AsyncIterator[tuple[str, Any, str]]:
        task_id = (task_id or "").strip()
        if not task_id:
            yield _status(t("need_task_id"), "error"), None, ""
            return
        async for update in _stream(session_studio(key).follow(task_id)):
            yield update

    async def api_generate(
        image_path: str, audio_path: str, prompt: str, mode: str, key: str | None
    ) -> str:
        """The finished video's path; errors reach the caller as their one sentence."""
        if not image_path or not audio_path:
            raise _error("Both a portrait image and a voice recording are needed.")
        events = session_studio(key).generate(image_path, audio_path, prompt=prompt, mode=mode)
        try:
            done = await final_progress(events)
        except AvatarError as error:
            raise _error(str(error)) from None
        return str(done.video_path)

    async def api_status(task_id: str, key: str | None) -> str:
        """Follow a task to the end; the video's path."""
        try:
            done = await final_progress(session_studio(key).follow((task_id or "").strip()))
        except AvatarError as error:
            raise _error(str(error)) from None
        return str(done.video_path)

    def use_key(key_text: str):
        key = (key_text or "").strip() or None
        if not key:
            return None, "", gr.update(visible=studio.demo), "Key forgotten."
        try:
            session_studio(key).check_key()
        except (AuthenticationError, PermissionDeniedError) as error:
            return gr.skip(), "", gr.skip(), f"❌ {error}"
        except AvatarError as error:
            note = f"🔑 This browser session now uses your key (not checked just now: {error})"
            return key, "", gr.update(visible=False), note
        return key, "", gr.update(visible=False), "🔑 This browser session now uses your key."

    def refresh_history(key: str | None = None) -> list[list[Any]]:
        """This session's jobs: the app's own, or those made with the key it pasted."""
        owner = session_studio(key).owner
        return _history_rows(studio.journal.recent(100, owner=owner))

    def pick_history(rows, key: str | None, event: gr.SelectData):
        try:
            job_id = rows.iloc[event.index[0], -1]
        except (AttributeError, IndexError, TypeError):
            return None, ""
        job = studio.journal.find(str(job_id), owner=session_studio(key).owner)
        if job is None:
            return None, ""
        if job.stage is Stage.DONE and job.video_path and Path(job.video_path).is_file():
            return job.video_path, f"Task `{job.task_id}` · {STAGE_LABELS[job.stage]}"
        return None, f"Task `{job.task_id or '-'}` · {STAGE_LABELS[job.stage]} · {job.error or ''}"

    # layout ---------------------------------------------------------------------------------

    with gr.Blocks(title="Talking Avatar Studio") as app:
        key_state = gr.State(None)
        voice_seconds = gr.State(None)  # the checked voice file's length, for the estimate
        speech_seconds = gr.State(None)  # the text to speech audio's length
        gr.Markdown(t("intro"))
        banner = gr.Markdown(t("demo_banner"), visible=studio.demo, elem_id="demo_banner")

        with gr.Row():
            with gr.Column(scale=1):
                portrait = gr.Image(
                    label=t("portrait"),
                    type="filepath",
                    image_mode=None,
                    sources=["upload", "webcam", "clipboard"],
                    elem_id="portrait",
                    height=320,
                )
                portrait_url = gr.Textbox(
                    label=t("portrait_url"), placeholder="https://…", elem_id="portrait_url"
                )
                portrait_verdict = gr.Markdown(elem_id="portrait_verdict", elem_classes="verdict")

                voice_source = gr.Radio(
                    [
                        (t(key), name)
                        for key, name in zip(
                            ("source_file", "source_url", "source_tts", "source_audio_id"),
                            VOICE_SOURCES,
                            strict=True,
                        )
                    ],
                    value=VOICE_SOURCES[0],
                    label=t("voice_from"),
                    elem_id="voice_source",
                )
                with gr.Group(visible=True) as voice_file_group:
                    voice = gr.Audio(
                        label=t("voice"),
                        type="filepath",
                        sources=["upload", "microphone"],
                        elem_id="voice",
                    )
                with gr.Group(visible=False) as voice_url_group:
                    voice_url = gr.Textbox(
                        label=t("voice_url"), placeholder="https://….mp3", elem_id="voice_url"
                    )
                with gr.Group(visible=False) as tts_group:
                    tts_text = gr.Textbox(
                        label=t("tts_text"),
                        lines=3,
                        elem_id="tts_text",
                    )
                    with gr.Row():
                        tts_voice = gr.Dropdown(
                            [(f"{label} ({vid})", vid) for vid, (_, label) in VOICES.items()],
                            value=DEFAULT_VOICE,
                            label=t("tts_voice"),
                            elem_id="tts_voice",
                        )
                        tts_speed = gr.Slider(
                            0.8, 2.0, value=1.0, step=0.1, label=t("tts_speed"), elem_id="tts_speed"
                        )
                    tts_button = gr.Button(t("make_speech"), elem_id="tts_button")
                    tts_preview = gr.Audio(
                        label=t("speech_preview"), interactive=False, elem_id="tts_preview"
                    )
                    tts_verdict = gr.Markdown(elem_id="tts_verdict", elem_classes="verdict")
                with gr.Group(visible=False) as audio_id_group:
                    audio_id = gr.Textbox(label=t("audio_id"), elem_id="audio_id")
                    prior_task_id = gr.Textbox(
                        label=t("prior_task_id"),
                        elem_id="prior_task_id",
                    )
                trim = gr.Checkbox(label=t("trim"), value=False, elem_id="trim")
                voice_verdict = gr.Markdown(elem_id="voice_verdict", elem_classes="verdict")

                prompt = gr.Textbox(
                    label=t("prompt"),
                    placeholder=DEFAULT_PROMPT,
                    lines=2,
                    elem_id="prompt",
                )
                prompt_count = gr.Markdown(count_prompt(""), elem_id="prompt_count")
                mode = gr.Radio(
                    [
                        (t("mode_std"), "std"),
                        (t("mode_pro"), "pro"),
                    ],
                    value="std",
                    label=t("mode"),
                    elem_id="mode",
                )
                cost = gr.Markdown(_cost_text(None), elem_id="cost")
                with gr.Row():
                    generate_button = gr.Button(
                        t("generate"), variant="primary", elem_id="generate"
                    )
                    stop_button = gr.Button(t("stop"), variant="stop", elem_id="stop")

            with gr.Column(scale=1, elem_id="output_column"):
                status = gr.Markdown(t("ready"), elem_id="status")
                result = gr.Video(label=t("result"), elem_id="result", autoplay=True)
                details = gr.Markdown(elem_id="details")
                with gr.Accordion(t("lookup"), open=False, elem_id="lookup"):
                    lookup_id = gr.Textbox(label=t("task_id"), elem_id="lookup_id")
                    lookup_button = gr.Button(t("follow"), elem_id="lookup_button")
                with gr.Accordion(t("own_key"), open=False, elem_id="own_key"):
                    key_box = gr.Textbox(
                        label=t("key_box"),
                        type="password",
                        elem_id="key_box",
                    )
                    with gr.Row():
                        key_button = gr.Button(t("use_key"), elem_id="key_button")
                        forget_button = gr.Button(t("forget_key"), elem_id="forget_button")
                    key_note = gr.Markdown(elem_id="key_note")

        example = gr.Examples(
            [[str(ASSETS / "astronaut.jpg"), str(ASSETS / "hello.mp3")]],
            inputs=[portrait, voice],
            label=t("example"),
            cache_examples=False,
        )
        example.dataset.headers = ["🖼️", "🔊"]  # Gradio does not translate these headers

        with gr.Accordion(t("history"), open=False, elem_id="history_panel"):
            history = gr.Dataframe(
                headers=["created", "status", "task id", "mode", "video s", "note", "job"],
                value=refresh_history,
                interactive=False,
                wrap=True,
                elem_id="history",
            )
            history_refresh = gr.Button(t("history_refresh"), elem_id="history_refresh")
            history_video = gr.Video(label=t("history_video"), elem_id="history_video")
            history_note = gr.Markdown()

        # hidden components behind the programmatic endpoints
        with gr.Group(visible=False):
            api_image = gr.File(label="image_path", type="filepath")
            api_audio = gr.File(label="audio_path", type="filepath")
            api_prompt = gr.Textbox(label="prompt")
            api_mode = gr.Textbox(label="mode", value="std")
            api_task = gr.Textbox(label="task_id")
            api_video = gr.File(label="video_path")
            api_generate_button = gr.Button("api generate")
            api_status_button = gr.Button("api status")
            api_key_button = gr.Button("api key")

        # wiring -----------------------------------------------------------------------------
        # the public endpoints first, so that their names stay exactly as documented
        api_generate_button.click(
            api_generate,
            [api_image, api_audio, api_prompt, api_mode, key_state],
            api_video,
            api_name="generate",
            concurrency_limit=None,
        )
        api_status_button.click(
            api_status, [api_task, key_state], api_video, api_name="status", concurrency_limit=None
        )
        api_key_button.click(lambda k: use_key(k)[0], api_prompt, key_state, api_name="use_key")
        private = {"api_visibility": "private"}
        for trigger in (portrait.change, portrait_url.submit, portrait_url.blur):
            trigger(
                check_portrait, [portrait, portrait_url, key_state], portrait_verdict, **private
            )
        cost_inputs = [voice_source, voice_seconds, speech_seconds, mode]
        for trigger in (voice.change, voice_url.submit, voice_url.blur, trim.change):
            trigger(
                check_voice,
                [voice, voice_url, trim, key_state],
                [voice_verdict, voice_seconds],
                **private,
            ).then(show_cost, cost_inputs, cost, show_progress="hidden", **private)
        for trigger in (mode.change, voice_source.change):
            trigger(show_cost, cost_inputs, cost, show_progress="hidden", **private)
        prompt.change(count_prompt, prompt, prompt_count, show_progress="hidden", **private)
        voice_source.change(
            show_voice_source,
            voice_source,
            [voice_file_group, voice_url_group, tts_group, audio_id_group],
            **private,
        )
        tts_button.click(
            make_speech,
            [tts_text, tts_voice, tts_speed, key_state],
            [audio_id, prior_task_id, tts_preview, tts_verdict, speech_seconds],
            api_name="tts",
        ).then(show_cost, cost_inputs, cost, show_progress="hidden", **private)
        generating = generate_button.click(
            run_generate,
            [portrait, portrait_url, voice_source, voice, voice_url, audio_id, prior_task_id,
             prompt, mode, trim, key_state],
            [status, result, details],
            concurrency_limit=None,
            **private,
        )  # fmt: skip
        generating.then(refresh_history, key_state, history, **private)
        stop_button.click(
            lambda: _status(t("stopped"), "stopped"), None, status, cancels=[generating], **private
        ).then(refresh_history, key_state, history, **private)
        looking = lookup_button.click(
            run_lookup, [lookup_id, key_state], [status, result, details], concurrency_limit=None,
            **private,
        )  # fmt: skip
        looking.then(refresh_history, key_state, history, **private)
        key_button.click(use_key, key_box, [key_state, key_box, banner, key_note], **private)
        forget_button.click(
            lambda: use_key(""), None, [key_state, key_box, banner, key_note], **private
        )
        history_refresh.click(refresh_history, key_state, history, api_name="history")
        history.select(pick_history, [history, key_state], [history_video, history_note], **private)
        app.load(refresh_history, key_state, history, **private)
    return app


def launch_options(settings: Settings) -> dict[str, Any]:
    """What `launch()` needs beyond the server address: limits, paths, look."""
    return {
        "max_file_size": MAX_UPLOAD,
        "allowed_paths": [str(Path(settings.data_dir).resolve())],
        "css": CSS,
        "js": A11Y_JS,
        "i18n": I18N,
        "theme": gr.themes.Soft(),
        "ssr_mode": False,
        "max_threads": 200,
    }


def add_callback_route(server: Any, registry: CallbackRegistry) -> None:
    """Serve `POST /kling/callback/<secret>` beside the UI, for provider callbacks."""

    async def kling_callback(secret: str, request: Request) -> JSONResponse:
        body = b""
        async for chunk in request.stream():  # size-capped; never believed (see callbacks)
            body += chunk
            if len(body) > MAX_CALLBACK_BYTES:
                return JSONResponse({"error": "body too large"}, status_code=413)
        if not registry.receive(secret, body):
            return JSONResponse({"error": "unknown callback"}, status_code=404)
        return JSONResponse({"ok": True})

    server.add_api_route(CALLBACK_PATH + "{secret}", kling_callback, methods=["POST"])


def resume_in_background(studio: Studio) -> threading.Thread:
    """Finish the journal's unfinished jobs without holding up start-up."""

    async def resume() -> None:
        async for progress in studio.resume():
            log.info("resume: %s", progress.message)

    def run() -> None:
        try:
            asyncio.run(resume())
        except AvatarError as error:
            log.warning("resume stopped: %s", error)

    thread = threading.Thread(target=run, name="resume-jobs", daemon=True)
    thread.start()
    return thread


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every URL, signed links too
    settings = Settings.from_env()
    try:
        studio = open_studio(settings)
    except AvatarError as error:  # e.g. a damaged journal or an unwritable data folder
        print(error, file=sys.stderr)
        raise SystemExit(1) from None
    if studio.demo:
        log.info(DEMO_NOTICE)
    resume_in_background(studio)
    blocks = build_app(studio).queue(default_concurrency_limit=8)
    server, _, _ = blocks.launch(prevent_thread_lock=True, **launch_options(settings))
    add_callback_route(server, studio.callbacks)
    blocks.block_thread()


if __name__ == "__main__":
    main()
