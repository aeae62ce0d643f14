"""Prepared inputs by content hash: the same bytes are prepared once.

A demo's example clicked by a hundred people, or a person pressing Generate again, costs
one preparation. Concurrent requests for the same bytes wait for the one already under
way. Only successes are kept (a refusal is cheap to repeat and may depend on settings);
the cache is bounded by the size of what it holds.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_MAX_BYTES = 96 * 1024 * 1024


def content_key(data: bytes, *extra: Hashable) -> tuple[Hashable, ...]:
    return (hashlib.sha256(data).hexdigest(), *extra)


class PreparedCache(Generic[T]):
    """A thread-safe LRU of prepared results, bounded by `size_of` their values."""

    def __init__(self, size_of: Callable[[T], int], max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._size_of = size_of
        self._max = max_bytes
        self._held = 0
        self._done: OrderedDict[Hashable, T] = OrderedDict()
        self._running: dict[Hashable, Future[T]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_make(self, key: Hashable, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                self.hits += 1
                return self._done[key]
            future = self._running.get(key)
            owner = future is None
            if owner:
                future = self._running[key] = Future()
                self.misses += 1
            else:
                self.hits += 1
        if not owner:
            return future.result()
        try:
            value = make()
        except BaseException as error:
            future.set_exception(error)
            raise
        finally:
            with self._lock:
                self._running.pop(key, None)
        self._keep(key, value)
        future.set_result(value)
        return value

    def _keep(self, key: Hashable, value: T) -> None:
        size = self._size_of(value)
        if size > self._max:
            return
        with self._lock:
            self._done[key] = value
            self._held += size
            while self._held > self._max:
                _, dropped = self._done.popitem(last=False)
                self._held -= self._size_of(dropped)

    def clear(self) -> None:
        with self._lock:
            self._done.clear()
            self._held = 0
            self.hits = self.misses = 0
