"""The app's bounds on work a stranger can start: shared by the page and the MCP tools.

`CALLS_AT_ONCE` is the page's queue concurrency (app.py) and the most MCP tool calls
answered at once (the tools are unqueued, so Gradio's queue does not bound them);
`MAX_UPLOAD_BYTES` is the page's upload limit and the largest file a data: URL may hold.
The queue holds at most QUEUE_MAX_SIZE waiting events (one more is told the queue is
full); the heavy events share limits whatever triggers them: every voice check together
(a file, a URL typed or left, the trim box), every portrait check, every generate (the
page's and /generate). What a request body may hold is in ui/request_limits.py.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import ui.mcp_answers as answers
from avatar_core.catalogue import sentence_for
from avatar_core.config import Settings
from ui.text_guard import Refusal

CALLS_AT_ONCE = 8
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # the provider takes 10 MB photos and 5 MB audio
QUEUE_MAX_SIZE = 64  # events waiting in Gradio's queue, all kinds together
CHECKS_AT_ONCE = 4  # voice checks at once, all their triggers together; portrait checks too
GENERATES_AT_ONCE = 64  # mostly waiting on the provider; their inputs' checks are gated too

VOICE_CHECKS: dict[str, Any] = {
    "concurrency_id": "voice_check",
    "concurrency_limit": CHECKS_AT_ONCE,
}
PORTRAIT_CHECKS: dict[str, Any] = {
    "concurrency_id": "portrait_check",
    "concurrency_limit": CHECKS_AT_ONCE,
}
GENERATES: dict[str, Any] = {"concurrency_id": "generate", "concurrency_limit": GENERATES_AT_ONCE}


def queue_options() -> dict[str, Any]:
    """What `Blocks.queue()` is given (app.py, and the tests' app)."""
    return {"default_concurrency_limit": CALLS_AT_ONCE, "max_size": QUEUE_MAX_SIZE}


class CallGate:
    """At most `limit` calls at once; one more is refused at once, in one sentence (a
    caller waiting for a slot would hold its connection and its inputs meanwhile)."""

    def __init__(self, limit: int = CALLS_AT_ONCE) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise Refusal(busy_sentence())
        try:
            yield
        finally:
            self._slots.release()


MCP_CALLS = CallGate()  # every MCP tool call of the process


def busy_sentence() -> str:
    return answers.busy(MCP_CALLS.limit)


def mcp_spending_note(settings: Settings, mcp_server: bool) -> str | None:
    """What the operator should know at start-up about MCP callers spending on its key.

    A caller may leave the session code empty on every call: each call is then a new
    visitor, so only the limit for each network address bounds what one stranger spends.
    It stays 0 (no limit) by default, as documented: a default would also refuse the
    page's visitors who share one address (an office, a phone network).
    """
    if not mcp_server or settings.demo_mode:
        return None
    most = settings.max_daily_per_address
    if most:
        return sentence_for("mcp:spending_capped", most=most)
    return sentence_for("mcp:spending_open")
