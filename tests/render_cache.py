"""One real render per distinct portrait, voice and size in a test process.

Every simulated task renders a real H.264 + AAC MP4 (ffmpeg, about a second of both cores
for the 7 s speech). The simulator already renders the very same inputs once, but each
test makes its own simulator, so across tests the same portrait and voice were rendered
again and again. `SharedRenders` stands in for the simulator's `render_avatar` for the
whole test process: the first task with given inputs renders for real, later ones get a
copy of that file, byte for byte what the render would have made again (it is
deterministic). A render that fails is not kept, so the next one tries for real.

The render itself is tested directly in tests/test_simulator_render.py; tests that count
or break renders (monkeypatch `tasks.render_avatar`) still see every call the simulator
makes, since they patch over this.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from avatar_core.inputs.cache import PreparedCache, content_key
from avatar_core.simulator.render import DEFAULT_MAX_SIDE, RenderResult

Render = Callable[..., RenderResult]


class SharedRenders:
    """A `render_avatar` that renders each distinct input once, keeping the file in
    `folder`, and copies it (written whole, then moved into place) for later tasks."""

    def __init__(self, render: Render, folder: Path) -> None:
        self._render = render
        self._folder = folder
        self._kept: PreparedCache[RenderResult] = PreparedCache(lambda _: 1, max_bytes=100_000)
        self._count = 0
        self._lock = threading.Lock()

    @property
    def renders(self) -> int:
        """How many real renders were made."""
        return self._kept.misses

    @property
    def copies(self) -> int:
        return self._kept.hits

    def __call__(
        self,
        image_bytes: bytes,
        audio_path: str | Path,
        out_path: str | Path,
        *,
        max_side: int = DEFAULT_MAX_SIDE,
    ) -> RenderResult:
        key = content_key(image_bytes + b"|" + Path(audio_path).read_bytes(), max_side)

        def render() -> RenderResult:
            with self._lock:
                self._count += 1
                kept = self._folder / f"render-{self._count}.mp4"
            return self._render(image_bytes, audio_path, kept, max_side=max_side)

        original = self._kept.get_or_make(key, render)
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        partial = out_path.with_name(out_path.stem + ".partial.mp4")
        shutil.copyfile(original.path, partial)
        os.replace(partial, out_path)
        return replace(original, path=out_path)
