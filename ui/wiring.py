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

import inspect
from typing import Any

import gradio as gr

import ui.formatting as fmt
import ui.handlers as handlers
import ui.mcp_tools as tools
from ui.downloads import no_download, offer_download
from ui.history_watch import keep_watching, rest, settled, still_running
from ui.layout import Page
from ui.limits import GENERATES, PORTRAIT_CHECKS, VOICE_CHECKS
from ui.sessions import Sessions

PRIVATE: dict[str, Any] = {"api_visibility": "private"}
PAGE_API: dict[str, Any] = {"api_visibility": "undocumented"}  # gradio_client's, not MCP's
QUIET: dict[str, Any] = {"show_progress": "hidden", **PRIVATE}  # small, frequent updates
# The History waits on the provider (its unfinished jobs asked about, at most
# handlers.REFRESH_WAIT_S): no visitor's History queues behind another's.
GALLERY: dict[str, Any] = {**QUIET, "concurrency_limit": None}


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
    speech = page.voice.speech
    return [page.voice.source, page.voice_seconds, page.speech_seconds, page.job.mode,
            speech.text, speech.language, page.key_state, page.voice.preview_first]  # fmt: skip


def _wire_api(page: Page, sessions: Sessions) -> None:
    """The programmatic endpoints, on hidden components whose labels name the API's
    arguments and returns for gradio_client."""
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
    api.tts.click(  # /tts: (text, voice_id, speed, language); the rest is state
        sessions.bind(handlers.make_speech),
        [api.tts_text, api.tts_voice, api.tts_speed, page.key_state, api.tts_language,
         page.visitor_state],
        [api.tts_audio_id, api.tts_task_id, api.tts_file, api.tts_message, page.speech_seconds],
        api_name="tts",  # documented: see the module's docstring
    )  # fmt: skip
    api.list_history.click(
        sessions.bind(handlers.refresh_history),
        _visitor(page),
        api.history,
        api_name="history",
        **PAGE_API,
    )


def _wire_tools(sessions: Sessions) -> None:
    """The MCP tools, named after their functions; unqueued (see ui/mcp_tools.py). With the
    MCP server off (GRADIO_MCP_SERVER) they are not made at all: an endpoint of Gradio's
    API would still answer them."""
    if not sessions.default.settings.mcp_server:
        return
    for tool in (tools.make_talking_avatar_video, tools.check_avatar_inputs,
                 tools.follow_avatar_task):  # fmt: skip
        bound = sessions.bind(tool)
        gr.api(bound, api_name=tool.__name__, queue=False)
        _name_arguments(bound, tools.RETURNS[tool.__name__])


def _name_arguments(bound: Any, returns: tuple[str, ...]) -> None:
    """gradio_client's names for an endpoint gr.api just made: its parameters' names and
    `returns`, instead of Gradio's "1st", "2nd" (what MCP reads is the docstring's)."""
    context = gr.context.get_blocks_context()
    block = context.fns[max(context.fns)] if context is not None else None
    if block is None or block.fn is not bound:
        return
    names = [name for name in inspect.signature(bound).parameters if name != "request"]
    for component, name in zip(block.inputs, names, strict=False):
        component.label = name
    for component, name in zip(block.outputs, returns, strict=False):
        component.label = name


def _wire_checks(page: Page, sessions: Sessions) -> None:
    """Verdicts as inputs are added; the estimate as the voice, the text or the mode
    changes; a style fills in its prompt."""
    portrait, voice, job = page.portrait, page.voice, page.job
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
        ).then(show_cost, _cost_inputs(page), job.cost, **QUIET)
    for trigger in (job.mode.change, voice.source.change, voice.speech.text.change,
                    voice.speech.language.change, voice.preview_first.change):  # fmt: skip
        trigger(show_cost, _cost_inputs(page), job.cost, **QUIET)
    portrait.refused.change(handlers.refused_portrait, portrait.refused, portrait.verdict,
                            **QUIET)  # fmt: skip
    ready = [portrait.image, portrait.url, voice.source, voice.file, voice.url,
             voice.speech.text, page.phase]  # fmt: skip
    for trigger in (portrait.image.change, portrait.url.change, voice.source.change,
                    voice.file.change, voice.url.change, voice.speech.text.change):  # fmt: skip
        trigger(handlers.readiness, ready, page.outputs.status, **QUIET)
    job.prompt.change(fmt.prompt_count, job.prompt, job.prompt_count, **QUIET)
    job.style.input(handlers.show_style, job.style, job.prompt, **QUIET)


def _wire_voice_source(page: Page) -> None:
    shown = [*page.voice.groups, page.voice.speech.options]  # the text's options with its box
    page.voice.source.change(handlers.show_voice_source, page.voice.source, shown, **PRIVATE).then(
        handlers.show_file_verdict, page.voice.source, page.voice.verdict, **QUIET
    )


def _wire_speech(page: Page, sessions: Sessions) -> None:
    """The voices follow the speech's language; a new text forgets the speech made."""
    speech = page.voice.speech
    speech.language.change(
        handlers.show_voices, [speech.language, speech.voice], speech.voice, **PRIVATE
    )


def _visitor(page: Page) -> list[gr.components.Component]:
    return [page.key_state, page.visitor_state]


def _allowance(page: Page, sessions: Sessions) -> tuple[Any, Any, Any]:
    """(handler, inputs, output) showing what the visitor has left today."""
    return sessions.bind(handlers.show_allowance), _visitor(page), page.job.allowance


def _gallery(page: Page, sessions: Sessions) -> tuple[Any, Any, Any]:
    """(handler, inputs, outputs) showing the visitor's History."""
    history = page.history
    return sessions.bind(handlers.history_gallery), _visitor(page), [history.gallery, history.jobs]


def _show_history(event: Any, page: Page, sessions: Sessions) -> Any:
    """After `event`: the History refreshed, then its timer ticking on while one of its
    jobs is unfinished (ui/history_watch.py)."""
    shown = event.then(*_gallery(page, sessions), **GALLERY)
    shown.then(sessions.bind(keep_watching), _visitor(page), page.history.timer, **QUIET)
    return shown


def _wire_jobs(page: Page, sessions: Sessions) -> None:
    """Generate (Stop shown while it runs), stop, make another, look a task up; each ends
    by refreshing the History."""
    portrait, voice, job, outputs = page.portrait, page.voice, page.job, page.outputs
    speech = voice.speech
    buttons = [job.stop, job.generate, outputs.make_another]
    shown = [outputs.status, outputs.result, outputs.details]
    job.generate.click(handlers.running_buttons, None, buttons, **QUIET, queue=False)
    job.generate.click(no_download, None, outputs.download, **QUIET, queue=False)
    job.generate.click(
        handlers.clear_result, None, [outputs.result, outputs.details, outputs.badge], **QUIET,
        queue=False,
    )  # fmt: skip
    job.generate.click(rest, None, page.history.timer, **QUIET, queue=False)  # the flow follows
    generating = job.generate.click(
        sessions.bind(handlers.run_make),
        [portrait.image, portrait.url, voice.source, voice.file, voice.url, voice.audio_id,
         voice.prior_task_id, speech.text, speech.voice, speech.language, speech.speed,
         job.prompt, job.mode, voice.trim, page.spoken, *_visitor(page), voice.preview_first],
        [*shown, speech.preview, page.spoken, page.phase, job.cost],
        **GENERATES,
        **PRIVATE,
    )  # fmt: skip
    ended = generating.then(handlers.idle_buttons, outputs.result, buttons, **QUIET)
    ended.then(offer_download, outputs.result, outputs.download, **QUIET)
    _show_history(ended.then(*_badge(page, sessions), **QUIET), page, sessions).then(
        *_allowance(page, sessions), **QUIET
    )
    stopping = job.stop.click(  # no Stop waits behind another tab's
        sessions.bind(handlers.stopped_at),
        page.phase,
        [outputs.status, job.stop, job.generate, page.history.panel],
        cancels=[generating],
        concurrency_limit=None,
        **PRIVATE,
    )
    _show_history(stopping, page, sessions)
    outputs.make_another.click(
        handlers.make_another,
        None,
        [*shown, outputs.make_another, page.phase],
        **QUIET,
    ).then(*_badge(page, sessions), **QUIET).then(no_download, None, outputs.download, **QUIET)
    looking = outputs.lookup_button.click(
        sessions.bind(handlers.run_lookup),
        [outputs.lookup_id, *_visitor(page)],
        shown,
        concurrency_limit=None,
        **PRIVATE,
    )
    _show_history(looking.then(*_badge(page, sessions), **QUIET), page, sessions)
    looking.then(offer_download, outputs.result, outputs.download, **QUIET)


def _badge(page: Page, sessions: Sessions) -> tuple[Any, Any, Any]:
    """(handler, inputs, output) showing the SIMULATED badge over a demo video."""
    return (
        sessions.bind(handlers.badge_for),
        [page.outputs.result, page.key_state],
        page.outputs.badge,
    )


def _wire_key(page: Page, sessions: Sessions) -> None:
    key = page.key
    shown = [page.key_state, key.box, page.banner, key.note]
    used = key.use.click(sessions.bind(handlers.use_key), key.box, shown, **PRIVATE)
    forgotten = key.forget.click(sessions.bind(handlers.forget_key), None, shown, **PRIVATE)
    show_cost = sessions.bind(handlers.show_cost)
    for event in (used, forgotten):
        event.then(*_allowance(page, sessions), **QUIET).then(
            show_cost, _cost_inputs(page), page.job.cost, **QUIET
        )
    key.doctor.click(sessions.bind(handlers.run_doctor), page.key_state, key.report, **PRIVATE)


def _wire_history(app: gr.Blocks, page: Page, sessions: Sessions) -> None:
    """The visitor is known once the page loads: its id, then its History (its unfinished
    jobs asked about) and allowance; the page's language sets the speech's."""
    history = page.history
    refreshed = history.refresh.click(*_gallery(page, sessions), **PRIVATE, concurrency_limit=None)
    refreshed.then(sessions.bind(keep_watching), _visitor(page), history.timer, **QUIET).then(
        sessions.bind(settled), [page.outputs.status, *_visitor(page)], page.outputs.status,
        **QUIET,
    )  # fmt: skip
    ticked = history.timer.tick(
        *_gallery(page, sessions), **{**GALLERY, "trigger_mode": "once"}
    )  # a tick while the last refresh still waits on the provider is dropped
    ticked.then(sessions.bind(keep_watching), _visitor(page), history.timer, **QUIET).then(
        sessions.bind(settled), [page.outputs.status, *_visitor(page)], page.outputs.status,
        **QUIET,
    )  # fmt: skip
    history.gallery.select(
        sessions.bind(handlers.pick_from_gallery),
        [*_visitor(page), history.jobs],
        [history.video, history.note],
        **PRIVATE,
    ).then(offer_download, history.video, history.download, **QUIET)
    speech = page.voice.speech
    app.load(
        handlers.page_language,
        None,
        [speech.language, speech.voice, page.job.prompt, *page.examples],
        **QUIET,
    )
    opened = app.load(
        sessions.bind(handlers.open_page),
        [page.browser_id, page.key_state],
        [page.browser_id, page.visitor_state, page.api.history, page.job.allowance],
        **PRIVATE,
    )
    # A reload during a run: said, History open, from the journal as the page left it, before
    # the History's refresh (it may bring the video home and join a long speech's parts:
    # checked after it, such a video was never said to be coming); once the refresh shows
    # it made, "ready" (`settled`).
    said = opened.then(
        sessions.bind(still_running), _visitor(page), [page.outputs.status, history.panel],
        **QUIET,
    )  # fmt: skip
    _show_history(said, page, sessions).then(
        sessions.bind(settled), [page.outputs.status, *_visitor(page)], page.outputs.status,
        **QUIET,
    )  # fmt: skip
