"""The page's events: which handler each control calls, with which inputs and outputs.

The public endpoints (`/generate`, `/status`, `/use_key`, `/tts`, `/history`) keep their
names and argument order; every other event is private.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

import ui.formatting as fmt
import ui.handlers as handlers
from ui.layout import Page
from ui.sessions import Sessions

PRIVATE: dict[str, Any] = {"api_visibility": "private"}
QUIET: dict[str, Any] = {"show_progress": "hidden", **PRIVATE}  # small, frequent updates


def wire(app: gr.Blocks, page: Page, sessions: Sessions) -> None:
    """Connect every control of `page` (inside `app`'s context)."""
    _wire_api(page, sessions)  # first, so that their names stay exactly as documented
    _wire_checks(page, sessions)
    _wire_voice_source(page)
    _wire_speech(page, sessions)
    _wire_jobs(page, sessions)
    _wire_key(page, sessions)
    _wire_history(app, page, sessions)


def _cost_inputs(page: Page) -> list[gr.components.Component]:
    return [page.voice.source, page.voice_seconds, page.speech_seconds, page.job.mode]


def _wire_api(page: Page, sessions: Sessions) -> None:
    api = page.api
    api.generate.click(
        sessions.bind(handlers.api_generate),
        [api.image, api.audio, api.prompt, api.mode, page.key_state],
        api.video,
        api_name="generate",
        concurrency_limit=None,
    )
    api.status.click(
        sessions.bind(handlers.api_status),
        [api.task_id, page.key_state],
        api.video,
        api_name="status",
        concurrency_limit=None,
    )
    api.use_key.click(
        sessions.bind(handlers.api_use_key), api.key, page.key_state, api_name="use_key"
    )


def _wire_checks(page: Page, sessions: Sessions) -> None:
    """Verdicts as inputs are added; the estimate as the voice or the mode changes."""
    portrait, voice = page.portrait, page.voice
    show_cost = sessions.bind(handlers.show_cost)
    for trigger in (portrait.image.change, portrait.url.submit, portrait.url.blur):
        trigger(
            sessions.bind(handlers.check_portrait),
            [portrait.image, portrait.url, page.key_state],
            portrait.verdict,
            **PRIVATE,
        )
    for trigger in (voice.file.change, voice.url.submit, voice.url.blur, voice.trim.change):
        trigger(
            sessions.bind(handlers.check_voice),
            [voice.file, voice.url, voice.trim, page.key_state],
            [voice.verdict, page.voice_seconds],
            **PRIVATE,
        ).then(show_cost, _cost_inputs(page), page.job.cost, **QUIET)
    for trigger in (page.job.mode.change, voice.source.change):
        trigger(show_cost, _cost_inputs(page), page.job.cost, **QUIET)
    page.job.prompt.change(fmt.prompt_count, page.job.prompt, page.job.prompt_count, **QUIET)


def _wire_voice_source(page: Page) -> None:
    page.voice.source.change(
        handlers.show_voice_source, page.voice.source, page.voice.groups, **PRIVATE
    )


def _wire_speech(page: Page, sessions: Sessions) -> None:
    speech, voice = page.voice.speech, page.voice
    speech.language.change(
        handlers.show_voices, [speech.language, speech.voice], speech.voice, **PRIVATE
    )
    speech.button.click(  # /tts: (text, voice, speed, language); the key is session state
        sessions.bind(handlers.make_speech),
        [speech.text, speech.voice, speech.speed, page.key_state, speech.language],
        [voice.audio_id, voice.prior_task_id, speech.preview, speech.verdict, page.speech_seconds],
        api_name="tts",
    ).then(sessions.bind(handlers.show_cost), _cost_inputs(page), page.job.cost, **QUIET)


def _wire_jobs(page: Page, sessions: Sessions) -> None:
    """Generate, stop waiting, look a task up; each ends by refreshing the history."""
    portrait, voice, job, outputs = page.portrait, page.voice, page.job, page.outputs
    shown = [outputs.status, outputs.result, outputs.details]
    refresh = sessions.bind(handlers.refresh_history)
    generating = job.generate.click(
        sessions.bind(handlers.run_generate),
        [portrait.image, portrait.url, voice.source, voice.file, voice.url, voice.audio_id,
         voice.prior_task_id, job.prompt, job.mode, voice.trim, page.key_state],
        shown,
        concurrency_limit=None,
        **PRIVATE,
    )  # fmt: skip
    generating.then(refresh, page.key_state, page.history.table, **PRIVATE)
    job.stop.click(handlers.stopped, None, outputs.status, cancels=[generating], **PRIVATE).then(
        refresh, page.key_state, page.history.table, **PRIVATE
    )
    looking = outputs.lookup_button.click(
        sessions.bind(handlers.run_lookup),
        [outputs.lookup_id, page.key_state],
        shown,
        concurrency_limit=None,
        **PRIVATE,
    )
    looking.then(refresh, page.key_state, page.history.table, **PRIVATE)


def _wire_key(page: Page, sessions: Sessions) -> None:
    key = page.key
    shown = [page.key_state, key.box, page.banner, key.note]
    key.use.click(sessions.bind(handlers.use_key), key.box, shown, **PRIVATE)
    key.forget.click(sessions.bind(handlers.forget_key), None, shown, **PRIVATE)
    key.doctor.click(sessions.bind(handlers.run_doctor), page.key_state, key.report, **PRIVATE)


def _wire_history(app: gr.Blocks, page: Page, sessions: Sessions) -> None:
    history = page.history
    refresh = sessions.bind(handlers.refresh_history)
    history.refresh.click(refresh, page.key_state, history.table, api_name="history")
    history.table.select(
        _history_pick(sessions), page.key_state, [history.video, history.note], **PRIVATE
    )
    app.load(refresh, page.key_state, history.table, **PRIVATE)


def _history_pick(sessions: Sessions) -> Any:
    """The select handler: Gradio gives the picked row only to a parameter annotated
    `gr.SelectData`, which a bound handler cannot declare."""

    def pick_history(key: str | None, event: gr.SelectData) -> tuple[str | None, str]:
        return handlers.pick_history(sessions, key, event.row_value)

    return pick_history
