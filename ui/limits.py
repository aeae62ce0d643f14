"""The app's bounds on work a stranger can start: shared by the page and the MCP tools.

`CALLS_AT_ONCE` is the page's queue concurrency (app.py) and the most MCP tool calls
answered at once (the tools are unqueued, so Gradio's queue does not bound them);
`MAX_UPLOAD_BYTES` is the page's upload limit and the largest file a data: URL may hold.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import ui.mcp_words as words
from ui.text_guard import Refusal

CALLS_AT_ONCE = 8
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # the provider takes 10 MB photos and 5 MB audio


class CallGate:
    """At most `limit` calls at once; one more is refused at once, in one sentence (a
    caller waiting for a slot would hold its connection and its inputs meanwhile)."""

    def __init__(self, limit: int = CALLS_AT_ONCE) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise Refusal(words.busy(self.limit))
        try:
            yield
        finally:
            self._slots.release()


MCP_CALLS = CallGate()  # every MCP tool call of the process
