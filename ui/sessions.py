"""Browser sessions and their studios: a pasted key lives only in that session's state."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable
from typing import Any

from avatar_core.jobs.studio import Studio


class Sessions:
    """The app's studio, and one per pasted key (kept in memory, never written anywhere).

    A session holds its pasted key in a `gr.State`; handlers pass it here to get the
    studio that key drives. Sessions with the same key share one studio.
    """

    def __init__(self, studio: Studio) -> None:
        self.default = studio
        self._by_key: dict[str, Studio] = {}
        self._lock = threading.Lock()

    def studio_for(self, key: str | None) -> Studio:
        """The studio of a session that pasted `key` (the app's own when it pasted none)."""
        if not key:
            return self.default
        digest = hashlib.sha256(key.encode()).hexdigest()  # the key itself is no dict key
        with self._lock:
            if digest not in self._by_key:
                self._by_key[digest] = self.default.with_key(key)
            return self._by_key[digest]

    def bind(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """`handler` with these sessions as its first argument, for an event to call.

        It keeps the handler's name (Gradio names an event's endpoint after it).
        """
        bound = functools.partial(handler, self)
        bound.__name__ = handler.__name__  # type: ignore[attr-defined]
        return bound
