"""The page's events: which handler each control calls, with which inputs and outputs.

The page's programmatic endpoints (`/generate`, `/status`, `/use_key`, `/tts`,
`/history`) keep their names and argument order for gradio_client. Gradio's MCP server
makes a tool of every documented endpoint and calls queued ones through one loopback API
session shared by every MCP caller (one history, one pasted key), so they are
undocumented, but for `/tts`: gradio_client fills its optional language only from the
documented API. Relayed by MCP, `/tts` is refused (`Sessions.visitor`); the MCP tools are
in ui/mcp_tools.py. Every other event is private.
Handlers that show or spend something also get the visitor's id (`page.visitor_state`, a
State: not an API argument) and the request (Gradio fills it in).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

import ui.formatting as fmt
import ui.handlers as handlers
import ui.mcp_tools as tools
from ui.layout import Page
from ui.limits import GENERATES, PORTRAIT_CHECKS, VOICE_CHECKS
from ui.sessions import Sessions

PRIVATE: dict[str, Any] = {"api_visibility": "private"}
PAGE_API: dict[str, Any] = {"api_visibility": "undocumented"}  # gradio_client's, not MCP's
QUIET: dict[str, Any] = {"show_progress": "hidden", **PRIVATE}  # small, frequent updates


def wire(app: gr.Blocks, page: Page, sessions: Sessions) -> None:
    """Connect every control of `page` (inside `app`'s context)."""
    _wire_api(page, sessions)  # first, so that their names stay exactly as documented
    _wire_tools(sessions)
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
        [api.image, api.audio, api.prompt, api.mode, page.key_state, page.visitor_state],
        api.video,
        api_name="generate",
        **GENERATES,
        **PAGE_API,
    )
    api.status.click(
        sessions.bind(handlers.api_status),
        [api.task_id, page.key_state, page.visitor_state],
        api.video,
        api_name="status",
        concurrency_limit=None,
        **PAGE_API,
    )
    api.use_key.click(
        sessions.bind(handlers.api_use_key), api.key, page.key_state, api_name="use_key",
        **PAGE_API,
    )  # fmt: skip


def _wire_tools(sessions: Sessions) -> None:
    """The MCP tools, named after their functions; unqueued (see ui/mcp_tools.py). With the
    MCP server off (GRADIO_MCP_SERVER) they are not made at all: an endpoint of Gradio's
    API would still answer them."""
    if not sessions.default.settings.mcp_server:
        return
    for tool in (tools.make_talking_avatar_video, tools.check_avatar_inputs,
                 tools.follow_avatar_task):  # fmt: skip
        gr.api(sessions.bind(tool), api_name=tool.__name__, queue=False)


def _wire_checks(page: Page, sessions: Sessions) -> None:
    """Verdicts as inputs are added; the estimate as the voice or the mode changes."""
    portrait, voice = page.portrait, page.voice
    show_cost = sessions.bind(handlers.show_cost)
    for trigger in (portrait.image.change, portrait.url.submit, portrait.url.blur):
        trigger(
            sessions.bind(handlers.check_portrait),
            [portrait.image, portrait.url, page.key_state],
            portrait.verdict,
            **PORTRAIT_CHECKS,
            **PRIVATE,
        )
    for trigger in (voice.file.change, voice.url.submit, voice.url.blur, voice.trim.change):
        trigger(
            sessions.bind(handlers.check_voice),
            [voice.file, voice.url, voice.trim, page.key_state],
            [voice.verdict, page.voice_seconds],
            **VOICE_CHECKS,
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
    spoken = speech.button.click(  # /tts: (text, voice, speed, language); the rest is state
        sessions.bind(handlers.make_speech),
        [speech.text, speech.voice, speech.speed, page.key_state, speech.language,
         page.visitor_state],
        [voice.audio_id, voice.prior_task_id, speech.preview, speech.verdict, page.speech_seconds],
        api_name="tts",  # documented: see the module's docstring
    )  # fmt: skip
    spoken.then(sessions.bind(handlers.show_cost), _cost_inputs(page), page.job.cost, **QUIET)
    spoken.then(*_allowance(page, sessions), **QUIET)


def _visitor(page: Page) -> list[gr.components.Component]:
    return [page.key_state, page.visitor_state]


def _allowance(page: Page, sessions: Sessions) -> tuple[Any, Any, Any]:
    """(handler, inputs, output) showing what the visitor has left today."""
    return sessions.bind(handlers.show_allowance), _visitor(page), page.job.allowance


def _wire_jobs(page: Page, sessions: Sessions) -> None:
    """Generate, stop waiting, look a task up; each ends by refreshing the history."""
    portrait, voice, job, outputs = page.portrait, page.voice, page.job, page.outputs
    shown = [outputs.status, outputs.result, outputs.details]
    refresh = sessions.bind(handlers.refresh_history), _visitor(page), page.history.table
    generating = job.generate.click(
        sessions.bind(handlers.run_generate),
        [portrait.image, portrait.url, voice.source, voice.file, voice.url, voice.audio_id,
         voice.prior_task_id, job.prompt, job.mode, voice.trim, *_visitor(page)],
        shown,
        **GENERATES,
        **PRIVATE,
    )  # fmt: skip
    generating.then(*refresh, **PRIVATE).then(*_allowance(page, sessions), **QUIET)
    job.stop.click(handlers.stopped, None, outputs.status, cancels=[generating], **PRIVATE).then(
        *refresh, **PRIVATE
    )
    looking = outputs.lookup_button.click(
        sessions.bind(handlers.run_lookup),
        [outputs.lookup_id, *_visitor(page)],
        shown,
        concurrency_limit=None,
        **PRIVATE,
    )
    looking.then(*refresh, **PRIVATE)


def _wire_key(page: Page, sessions: Sessions) -> None:
    key = page.key
    shown = [page.key_state, key.box, page.banner, key.note]
    used = key.use.click(sessions.bind(handlers.use_key), key.box, shown, **PRIVATE)
    forgotten = key.forget.click(sessions.bind(handlers.forget_key), None, shown, **PRIVATE)
    for event in (used, forgotten):
        event.then(*_allowance(page, sessions), **QUIET)
    key.doctor.click(sessions.bind(handlers.run_doctor), page.key_state, key.report, **PRIVATE)


def _wire_history(app: gr.Blocks, page: Page, sessions: Sessions) -> None:
    """The visitor is known once the page loads: its id, then its history and allowance."""
    history = page.history
    history.refresh.click(
        sessions.bind(handlers.refresh_history),
        _visitor(page),
        history.table,
        api_name="history",
        **PAGE_API,
    )
    history.table.select(
        sessions.bind(handlers.pick_from_history),
        _visitor(page),
        [history.video, history.note],
        **PRIVATE,
    )
    app.load(
        sessions.bind(handlers.open_page),
        [page.browser_id, page.key_state],
        [page.browser_id, page.visitor_state, history.table, page.job.allowance],
        **PRIVATE,
    )
