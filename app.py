"""Talking Avatar Studio: one portrait and one voice become a talking-avatar video.

The entry only: settings, the studio, the app, launch, the provider's callback route and
the start-up resume. The interface is the `ui` package; everything else is `avatar_core`.
Run `python app.py`; with no COMETAPI_KEY it runs in demo mode on the built-in simulator.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from avatar_core.config import Settings
from avatar_core.demo import DEMO_NOTICE
from avatar_core.errors import AvatarError, SettingsError
from avatar_core.jobs.studio import Studio, open_studio
from avatar_core.storage.layout import private_paths
from avatar_core.storage.retention import keep_sweeping
from avatar_core.waiting.callbacks import CALLBACK_PATH, MAX_CALLBACK_BYTES, CallbackRegistry
from ui import build_app, launch, page_options
from ui.limits import MAX_UPLOAD_BYTES, mcp_spending_note, queue_options
from ui.request_limits import request_limits

__all__ = ["add_callback_route", "build_app", "launch_options", "main", "resume_in_background"]

log = logging.getLogger("talking_avatar_studio")


def launch_options(settings: Settings) -> dict[str, Any]:
    """What `launch()` needs beyond the server address: limits, paths, the page's look.

    The data folder is not among the paths Gradio may serve, and what it holds is blocked
    outright: videos reach visitors only as copies made by the handlers (ui/delivery.py).
    Gradio's MCP server is on (at /gradio_api/mcp/) unless GRADIO_MCP_SERVER is off.
    Request bodies and uploads are bounded before they are read (ui/request_limits.py).
    Gradio's monitoring is off: its summary (every event's function, outcome and time)
    would be open to any stranger at /monitoring/summary.
    """
    return {
        "app_kwargs": {"middleware": [request_limits()]},
        "max_file_size": MAX_UPLOAD_BYTES,  # the MCP tools' data: URLs too (ui/limits.py)
        "blocked_paths": private_paths(settings.data_dir),
        "max_threads": 200,
        "mcp_server": settings.mcp_server,
        "enable_monitoring": False,
        **page_options(),
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

    async def resume() -> None:  # through the studio's scheduler and request budget
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
    try:  # a setting that cannot be read stops the app before it serves: one sentence
        settings = Settings.from_env()
    except SettingsError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    try:
        studio = open_studio(settings)
    except AvatarError as error:  # e.g. a damaged journal or an unwritable data folder
        print(error, file=sys.stderr)
        raise SystemExit(1) from None
    log.info(studio.provider)
    if studio.demo:
        log.info(DEMO_NOTICE)
    resume_in_background(studio)
    keep_sweeping(settings.data_dir, settings.keep_days)  # deletes videos older than that
    options = launch_options(settings)
    note = mcp_spending_note(settings, options["mcp_server"])
    if note:
        log.log(logging.INFO if settings.max_daily_per_address else logging.WARNING, note)
    blocks = build_app(studio).queue(**queue_options())
    server, _, _ = launch(blocks, prevent_thread_lock=True, **options)
    add_callback_route(server, studio.callbacks)
    try:
        blocks.block_thread()
    finally:
        studio.close()  # the demo simulator, the poll loop and the provider's connections


if __name__ == "__main__":
    main()
