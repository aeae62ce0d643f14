"""The portrait box: Gradio's image component, handing an uploaded file over as it came.

Gradio's own `Image.preprocess` opens every upload with Pillow before any handler runs; a
file Pillow cannot open (a damaged or mislabelled photo) then stops the event with a bare
"Error" on every output and no sentence. The core reads pictures itself (every format it
takes, EXIF rotation, one sentence for what it cannot use), so the page gives it the file.
(The instance's method is replaced rather than the class subclassed: Gradio writes a
`.pyi` file beside the module of any component subclass.)
"""

from __future__ import annotations

from typing import Any

import gradio as gr


def unopened(image: gr.Image) -> gr.Image:
    """`image` (type "filepath"), its uploads reaching the handler unopened; webcam and
    clipboard pictures as Gradio makes them."""
    opened = image.preprocess

    def preprocess(payload: Any) -> Any:
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return opened(payload)

    image.preprocess = preprocess  # type: ignore[method-assign]
    return image
