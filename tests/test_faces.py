"""The face check: a portrait with no face gets a warning (never a refusal)."""

from __future__ import annotations

import io

import pytest
from media import image_bytes
from PIL import Image

from avatar_core.inputs import faces
from avatar_core.inputs.image import prepare_image

pytestmark = pytest.mark.skipif(
    not faces.detector_available(), reason="dlib-bin (the face detector) is not installed"
)


def _encoded(img: Image.Image, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt)
    return buffer.getvalue()


def test_the_example_portrait_has_a_face_and_no_warning(portrait_path):
    data = portrait_path.read_bytes()
    assert faces.count_faces(data) >= 1
    assert faces.face_warnings(data) == ()


@pytest.mark.parametrize("pattern", ["flat", "noise", "portrait"])
def test_a_picture_without_a_face_gets_the_warning(pattern):
    data = image_bytes(600, 600, pattern=pattern)
    assert faces.count_faces(data) == 0
    assert faces.face_warnings(data) == (faces.NO_FACE_WARNING,)


def test_a_face_in_a_large_photo_is_found(portrait_path):
    big = Image.open(portrait_path).convert("RGB").resize((3000, 3000))
    assert faces.count_faces(_encoded(big)) >= 1


def test_a_face_in_a_wide_padded_picture_is_found(portrait_path):
    """What image_prep sends for a too-wide photo: the face, padded at its sides."""
    wide = Image.new("RGB", (1536, 512), "white")
    wide.paste(Image.open(portrait_path).convert("RGB"), (512, 0))
    prepared = prepare_image(_encoded(wide, "PNG"))
    assert faces.face_warnings(prepared.data) == ()


def test_without_a_detector_the_check_is_skipped(monkeypatch, portrait_path):
    monkeypatch.setattr(faces, "_detector", lambda: None)
    blank = image_bytes(600, 600, pattern="flat")
    assert faces.count_faces(blank) is None
    assert faces.face_warnings(blank) == ()
