"""Sessions, visitors and the studios of pasted keys.

A visitor is a browser (a random id it keeps in `gr.BrowserState`, copied into the
session's `gr.State` when the page loads), for API callers one gradio_client session
(Gradio's session hash), or for MCP callers a session code the tools hand out
(ui/mcp_tools.py); each asks from its request's network address. A pasted key lives only
in its session's `gr.State`; the studio it drives is kept here, checked with the provider
before anything is kept, and at most `max_keys` of them at once (the least recently used
goes first, closed as soon as no flow uses it). A key's studio is light: its provider
session sends on the process's one HTTP connection pool, within the one request budget.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import secrets
import threading
import typing
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from avatar_core.catalogue import sentence_for
from avatar_core.jobs.studio import Studio
from avatar_core.storage.visitors import Visitor
from ui.page_runs import PageRuns

MAX_KEY_STUDIOS = 32
MAX_WORDS_KEPT = 2000  # jobs whose typed text's first words this process remembers
LOCAL_VISITOR = "local"  # a handler called outside any Gradio event (tests, scripts)
# Gradio's MCP server relays a call to a queued endpoint through one loopback API session,
# shared by every MCP caller, marked with this header: no visitor can be told apart there.
MCP_RELAY_HEADER = "x-gradio-user"
MCP_RELAY_REFUSAL = sentence_for("mcp:relay_refused")


def visitor_id(browser_id: str | None, request: gr.Request | None) -> str:
    """Who is asking: the browser's kept id, else the API session's, else (a request
    without a session) a visitor of this request only."""
    if browser_id:
        return f"browser:{browser_id}"
    if request is None:
        return LOCAL_VISITOR
    session = getattr(request, "session_hash", None)
    return f"session:{session}" if session else f"once:{secrets.token_hex(16)}"


def relayed_by_mcp(request: Any) -> bool:
    """Whether Gradio's MCP server relayed this call through its loopback API session."""
    headers = getattr(request, "headers", None) or {}
    return str(headers.get(MCP_RELAY_HEADER, "")).lower() == "mcp"


def peer_address(request: Any) -> str | None:
    """The network address a request comes from, as the server sees it (None: unknown)."""
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or None if client else None


def new_browser_id() -> str:
    """A visitor id for a browser that has none yet (unguessable)."""
    return secrets.token_urlsafe(24)


@dataclass
class _KeyStudio:
    studio: Studio
    users: int = 0  # flows and requests using it right now
    dropped: bool = False  # no longer kept: closed when its last user is done


class Sessions:
    """The app's studio, and one a pasted key (kept in memory, never written anywhere)."""

    def __init__(self, studio: Studio, *, max_keys: int = MAX_KEY_STUDIOS) -> None:
        self.default = studio
        self.max_keys = max_keys
        self.made = 0  # key studios made, and closed: what is open is the difference
        self.closed = 0
        self._kept: OrderedDict[str, _KeyStudio] = OrderedDict()
        self._lock = threading.Lock()
        self.runs = PageRuns()  # the page's Generates, so that Stop is the last word
        self._words: OrderedDict[str, str] = OrderedDict()  # job id -> its typed text's start

    @property
    def kept(self) -> int:
        """Key studios kept for sessions to come back to."""
        return len(self._kept)

    def visitor(self, browser_id: str | None, request: gr.Request | None) -> Visitor:
        """The visitor asking, and the network address it asks from (the peer's, as the
        server sees it: behind a proxy named in FORWARDED_ALLOW_IPS, the visitor's own).

        A call relayed by Gradio's MCP server is refused (gr.Error): it comes from one
        session and one address for every MCP caller.
        """
        if relayed_by_mcp(request):
            raise gr.Error(MCP_RELAY_REFUSAL, print_exception=False)
        return self.default.visitor(visitor_id(browser_id, request), peer_address(request))

    def code_visitor(self, code: str, request: Any) -> Visitor:
        """An MCP caller, known by the session code its tools hand out (Gradio's MCP
        transport keeps no session), asking from the request's network address. A tool
        called through Gradio's API instead (gradio_client) has a session, as the page's
        API calls do: its caller is that session's visitor, whatever code it gives."""
        session = getattr(request, "session_hash", None)
        known_as = f"session:{session}" if session else f"mcp:{code}"
        return self.default.visitor(known_as, peer_address(request))

    @contextlib.contextmanager
    def using(self, key: str | None) -> Iterator[Studio]:
        """The studio of a session that pasted `key` (the app's own when it pasted none),
        kept open while the caller uses it."""
        pasted = self.pasted(key)
        if pasted is None:
            yield self.default
            return
        with self._lock:
            entry = self._kept.get(_digest(pasted))
            if entry is not None:
                self._kept.move_to_end(_digest(pasted))
                entry.users += 1
        if entry is None:
            entry = self._keep(pasted, self._make(pasted), users=1)
        try:
            yield entry.studio
        finally:
            with self._lock:
                entry.users -= 1
                done = entry.dropped and entry.users == 0
            if done:
                self._close(entry.studio)

    def remember_words(self, job_id: str, text: str) -> None:
        """The typed text a job speaks, for its History caption (in this process's memory
        only: after a restart a caption gives the voice's length instead)."""
        with self._lock:
            self._words[job_id] = text[:200]
            self._words.move_to_end(job_id)
            while len(self._words) > MAX_WORDS_KEPT:
                self._words.popitem(last=False)

    def words_of(self, job_id: str) -> str | None:
        """The start of the typed text job `job_id` speaks, if this process made it."""
        with self._lock:
            return self._words.get(job_id)

    def asker(self, request: Any) -> Visitor:
        """Who sends `request`, for the request budget's turns: its API or page session
        (a visitor of this request only when it has none) and its network address."""
        return self.default.visitor(visitor_id(None, request), peer_address(request))

    def try_key(self, key: str, request: Any = None) -> None:
        """Check a pasted key with the provider, keeping its studio only once accepted.

        Raises what the check raised (a refusal, or why it could not be checked); nothing
        is kept then. A key already kept is not checked again. The check is a question of
        the session behind `request` in the request budget: a flood of checks waits its
        own turns, after paid work and beside other visitors' questions.
        """
        pasted = self.pasted(key)
        if pasted is None:
            return
        with self._lock:
            if _digest(pasted) in self._kept:
                self._kept.move_to_end(_digest(pasted))
                return
        studio = self._make(pasted)
        try:
            studio.check_key(self.asker(request))
        except BaseException:
            self._close(studio)
            raise
        self._keep(pasted, studio)

    def bind(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """`handler` with these sessions as its first argument, for an event to call.

        A real function of the handler's kind (Gradio streams async generators and awaits
        coroutines) whose signature is the handler's without `sessions`: Gradio names the
        endpoint after it and fills in parameters annotated `gr.Request` or
        `gr.SelectData`.
        """
        if inspect.isasyncgenfunction(handler):

            async def bound(*args: Any) -> Any:
                async with contextlib.aclosing(handler(self, *args)) as updates:
                    async for update in updates:
                        yield update

        elif inspect.iscoroutinefunction(handler):

            async def bound(*args: Any) -> Any:
                return await handler(self, *args)

        else:

            def bound(*args: Any) -> Any:
                return handler(self, *args)

        hints = typing.get_type_hints(handler)  # types, not the strings of the source
        parameters = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in list(inspect.signature(handler).parameters.values())[1:]
        ]
        returns = hints.get("return", inspect.Signature.empty)
        bound.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
        bound.__annotations__ = {p.name: p.annotation for p in parameters}
        bound.__wrapped__ = handler  # type: ignore[attr-defined]  # (its module's names)
        bound.__name__ = bound.__qualname__ = handler.__name__
        bound.__doc__ = handler.__doc__  # an API's or MCP tool's description
        return bound

    # --- keeping and dropping key studios ----------------------------------------------------

    def pasted(self, key: str | None) -> str | None:
        """The pasted key, cleaned; None when it is empty or the app's own key."""
        settings = self.default.settings.with_key(key)  # on Kling: ACCESS_KEY:SECRET_KEY
        if settings.account is None or settings.credentials == self.default.settings.credentials:
            return None
        return (key or "").strip()

    def _make(self, key: str) -> Studio:
        studio = self.default.with_key(key)  # outside the lock: it reads the key's settings
        with self._lock:
            self.made += 1
        return studio

    def _keep(self, key: str, studio: Studio, *, users: int = 0) -> _KeyStudio:
        """Keep `studio` for `key` (unless another thread kept one meanwhile: then that one,
        and `studio` is closed), most recently used; drop the least recently used beyond
        `max_keys`, closing those no flow uses."""
        digest, to_close = _digest(key), []
        with self._lock:
            entry = self._kept.get(digest)
            if entry is None:
                entry = self._kept[digest] = _KeyStudio(studio)
            else:
                to_close.append(studio)
            entry.users += users
            self._kept.move_to_end(digest)
            while len(self._kept) > self.max_keys:
                _, oldest = self._kept.popitem(last=False)
                oldest.dropped = True
                if oldest.users == 0:
                    to_close.append(oldest.studio)
        for unused in to_close:
            self._close(unused)
        return entry

    def _close(self, studio: Studio) -> None:
        studio.close()
        with self._lock:
            self.closed += 1


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()  # the key itself is no dict key
