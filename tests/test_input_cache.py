"""The same bytes are prepared once, however many people send them at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from avatar_core.errors import InputError
from avatar_core.inputs.cache import PreparedCache
from avatar_core.inputs.preparation import InputPreparer


def test_an_example_sent_by_many_people_is_prepared_once(portrait_path, speech_path):
    preparer = InputPreparer()
    with ThreadPoolExecutor(8) as pool:
        images = list(pool.map(lambda _: preparer.image(portrait_path), range(16)))
        audios = list(pool.map(lambda _: preparer.audio(speech_path), range(16)))
    assert preparer.images.misses == 1 and preparer.voices.misses == 1
    assert all(i is images[0] for i in images) and all(a is audios[0] for a in audios)


def test_different_bytes_or_options_are_prepared_apart(portrait_path, speech_path, tmp_path):
    copy = tmp_path / "other.jpg"
    copy.write_bytes(portrait_path.read_bytes() + b"\0")  # one byte more: other content
    preparer = InputPreparer()
    preparer.image(portrait_path)
    preparer.image(copy)
    preparer.audio(speech_path)
    preparer.audio(speech_path, trim=True)
    assert preparer.images.misses == 2 and preparer.voices.misses == 2


def test_two_apps_keep_their_own_caches(portrait_path):
    first, second = InputPreparer(), InputPreparer()
    first.image(portrait_path)
    second.image(portrait_path)
    assert first.images.misses == 1 and second.images.misses == 1


def test_refusals_are_not_kept_and_concurrent_waiters_get_the_same_error():
    cache: PreparedCache[bytes] = PreparedCache(len)
    started, release = threading.Event(), threading.Event()
    calls = []

    def refuse():
        calls.append(1)
        started.set()
        release.wait(5)
        raise InputError("no")

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cache.get_or_make, "k", refuse)
        started.wait(5)
        second = pool.submit(cache.get_or_make, "k", refuse)
        release.set()
        for future in (first, second):
            with pytest.raises(InputError):
                future.result()
    with pytest.raises(InputError):
        cache.get_or_make("k", refuse)
    assert len(calls) == 2  # the waiter shared the first try; the refusal was not kept


def test_the_cache_stays_within_its_size():
    cache: PreparedCache[bytes] = PreparedCache(len, max_bytes=100)
    for n in range(10):
        cache.get_or_make(n, lambda: b"x" * 40)
    assert cache.get_or_make(9, lambda: b"new") == b"x" * 40  # the newest is kept
    assert cache.get_or_make(0, lambda: b"new") == b"new"  # the oldest went
