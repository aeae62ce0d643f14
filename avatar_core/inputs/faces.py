"""Is there a face in the portrait? A warning, never a refusal, when none is found.

Kling animates a face; a photo without a visible one is accepted by the provider's checks
but makes a poor video or fails after it was paid for. This check says so before Generate.

The detector is dlib's frontal-face detector (HOG features and a linear classifier), from
the `dlib-bin` wheel: its model is compiled into the library, so nothing is downloaded at
run time. The wheel is about 4 MB (11 MB installed, no dependencies), `import dlib` takes
about 10 ms, building the detector about 0.2 s (once per process), and a check about
0.1 s on the picture shrunk to 640 px. It finds faces turned roughly towards the camera
that fill at least about a sixteenth of the picture's longest side; a face in profile can
be missed, which is why the result is only a warning.

Without dlib (it is in requirements.txt, but the app still runs without it) the check is
skipped: `count_faces` returns None and no warning is given.
"""

from __future__ import annotations

import functools
import io
import threading
from typing import Any

from PIL import Image, ImageOps

from avatar_core.catalogue import sentence_for
from avatar_core.inputs.cache import PreparedCache, content_key

CHECK_SIDE = 640  # the picture is shrunk to this longest side before looking
UPSAMPLE = 1  # dlib looks at a 2x enlarged copy too: faces down to ~40 px at CHECK_SIDE
NO_FACE_WARNING = sentence_for("image.no_face")

_lock = threading.Lock()  # one detection at a time: dlib's detector is not documented as
# thread-safe


@functools.cache
def _detector() -> Any | None:
    try:
        import dlib
    except ImportError:
        return None
    return dlib.get_frontal_face_detector()


def detector_available() -> bool:
    """Whether a face detector is installed (dlib-bin)."""
    return _detector() is not None


def _grey_pixels(data: bytes) -> Any:
    import numpy as np

    with Image.open(io.BytesIO(data)) as img:
        img.draft("L", (CHECK_SIDE, CHECK_SIDE))  # JPEG: decode at a reduced scale
        img = ImageOps.exif_transpose(img).convert("L")
        img.thumbnail((CHECK_SIDE, CHECK_SIDE), Image.Resampling.BILINEAR)
        return np.asarray(img, dtype=np.uint8)


def count_faces(data: bytes, cache: PreparedCache[int] | None = None) -> int | None:
    """How many faces the detector sees in an encoded picture; None without a detector.

    With a `cache`, the same picture is looked at once.
    """
    detector = _detector()
    if detector is None:
        return None

    def look() -> int:
        pixels = _grey_pixels(data)
        with _lock:
            return len(detector(pixels, UPSAMPLE))

    return look() if cache is None else cache.get_or_make(content_key(data), look)


def face_warnings(data: bytes, cache: PreparedCache[int] | None = None) -> tuple[str, ...]:
    """The warning to show with a portrait in which no face is found (or none)."""
    return (NO_FACE_WARNING,) if count_faces(data, cache) == 0 else ()
