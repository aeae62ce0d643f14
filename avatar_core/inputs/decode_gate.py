"""Very large pictures, and very large sound files, are decoded one at a time per process.

A PNG of 9000×9000 can be a hundred kilobytes and still decode to 324 MB of pixels. A
picture over LARGE_PIXELS is decoded by one thread of the process at a time (the others
wait their turn), so several people sending one each cost what one costs; after each
turn, the memory the decode freed is handed back to the system. A sound file's decode is
read as it comes (inputs/audio.py), but the file itself is held while it is checked: one
over LARGE_SOUND_BYTES is read and checked one at a time, on a gate of its own.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

LARGE_PIXELS = 16_000_000  # above this, one decode at a time per process
LARGE_SOUND_BYTES = 8 * 1024 * 1024  # a sound file above this: one at a time per process


class DecodeGate:
    """Lets one decode of a very large picture (or file) run at a time; counts what it saw."""

    def __init__(self, large: int = LARGE_PIXELS) -> None:
        self.large = large
        self._turn = threading.Lock()
        self._count = threading.Lock()
        self.running = 0
        self.most_at_once = 0  # the most large decodes seen running together
        self.turns = 0

    @contextmanager
    def turn(self, size: int) -> Iterator[None]:
        """Wait for this decode's turn when its size (pixels, bytes) is over `large`."""
        if size <= self.large:
            yield
            return
        with self._turn:
            with self._count:
                self.running += 1
                self.turns += 1
                self.most_at_once = max(self.most_at_once, self.running)
            try:
                yield
            finally:
                with self._count:
                    self.running -= 1
                give_back_freed_memory()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to ask for
        return None


def give_back_freed_memory() -> None:
    """Ask the C library to return what the decode freed to the system. glibc keeps freed
    memory in one pool per thread that allocated it, so without this, each of the many
    threads that take a turn would keep a large picture's worth of memory for ever."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


GATE = DecodeGate()  # one per process
SOUND_GATE = DecodeGate(LARGE_SOUND_BYTES)  # one per process, apart: a picture's turn can
# be taken by a thread that then waits for its sound's (a job checks both)


def one_large_decode(pixels: int) -> AbstractContextManager[None]:
    """The process's turn for decoding a picture of `pixels` (see DecodeGate)."""
    return GATE.turn(pixels)


def one_large_sound(size: int) -> AbstractContextManager[None]:
    """The process's turn for checking a sound file of `size` bytes (see DecodeGate)."""
    return SOUND_GATE.turn(size)
