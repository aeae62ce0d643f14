"""Generate's streams on the page, one a browser tab, so that Stop's sentence is the last
word: once Stop is pressed, the stopped stream shows nothing more but Stop's own sentence.

Gradio sends a session's updates in the order they are handed to it, over one stream.
A page run (`PageRuns.run`) marks each update while it is on its way (`Run.showing`,
around the `yield`: Gradio asks for the next update only once it has sent this one) and
checks, before each update, whether Stop was pressed. Stop (`PageRuns.stop`) marks the run
stopped, then waits only for an update already on its way to be sent (or for the stream to
be closed, as Gradio's `cancels=` closes it): its own sentence is handed to Gradio after
every update the stream will ever show, whatever the load. Nothing waits on a clock but a
safety net (`STOP_WAIT_S`) for a stream Gradio neither resumes nor closes.

When a stream ends by itself, Gradio sends its last update once more as the event's end,
and that can reach the page after Stop's answer: a stream that ends after Stop was pressed
(rather than being cancelled first, a race under load) would put its last "Making your
video…" back over Stop's sentence. So Stop hands its sentence to the run (`Run.last_word`),
and the stopped stream's last update is that same sentence: whichever comes last says it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

STOP_WAIT_S = 5.0  # never reached in practice: Gradio resumes or closes a stream at once
LOCAL_RUN = "local"  # a handler called outside any Gradio event (tests)


def tab_of(request: Any) -> str:
    """The browser tab (Gradio's session) a page event comes from."""
    return getattr(request, "session_hash", None) or LOCAL_RUN


class Run:
    """One Generate's stream: whether Stop was pressed, and whether an update is on its
    way to the browser."""

    def __init__(self) -> None:
        self.stopped = False
        self.last_word: Any = None  # Stop's sentence, once Stop was pressed
        self._sent = asyncio.Event()  # no update on its way
        self._sent.set()

    @contextlib.contextmanager
    def showing(self) -> Iterator[None]:
        """Around a `yield`: the update is on its way until the stream is resumed (Gradio
        sent it) or closed."""
        self._sent.clear()
        try:
            yield
        finally:
            self._sent.set()

    async def sent(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._sent.wait(), STOP_WAIT_S)


class PageRuns:
    """The page's running Generates, by browser tab (one at a time in a tab)."""

    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}

    @contextlib.contextmanager
    def run(self, request: Any) -> Iterator[Run]:
        """A Generate's stream for the tab of `request`, for as long as it lasts."""
        tab, run = tab_of(request), Run()
        earlier = self._runs.get(tab)
        if earlier is not None:  # a tab shows one stream: an earlier one shows no more
            earlier.stopped = True
        self._runs[tab] = run
        try:
            yield run
        finally:
            if self._runs.get(tab) is run:
                del self._runs[tab]

    async def stop(self, request: Any, last_word: Any = None) -> None:
        """Stop the tab's stream: it shows nothing more but `last_word` (Stop's own
        sentence); returns once an update already on its way was sent (at once when none
        is)."""
        run = self._runs.get(tab_of(request))
        if run is None:
            return
        run.last_word = last_word
        run.stopped = True
        await run.sent()

    def running(self, request: Any) -> bool:
        """Whether the tab of `request` has a Generate running (and not stopped)."""
        run = self._runs.get(tab_of(request))
        return run is not None and not run.stopped
