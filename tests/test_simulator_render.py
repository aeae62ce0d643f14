"""The simulated video is a real, browser-playable MP4 as long as the voice, it moves when
the voice is loud and stays still in silence, and it always says it is simulated."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from simulator_support import (
    audio_seconds,
    image_bytes,
    picture,
    probe,
    quiet_then_talking_path,
    tone_path,
    video_frames,
)

from avatar_core.simulator.render import FPS, render_avatar


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """One render of a 480x360 picture with 1.5 s of silence then 1.5 s of "speech"."""
    out = tmp_path_factory.mktemp("render") / "avatar.mp4"
    result = render_avatar(image_bytes(480, 360), quiet_then_talking_path(), out)
    return result, video_frames(out, result.width, result.height)


def test_it_is_an_h264_yuv420p_and_aac_mp4_that_starts_fast(rendered):
    result, _ = rendered
    info = probe(result.path)
    assert "Video: h264" in info and "yuv420p" in info, info
    assert "Audio: aac" in info, info
    data = result.path.read_bytes()
    assert data[4:8] == b"ftyp"
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: playable while loading


def test_video_and_audio_last_as_long_as_the_voice(rendered):
    result, frames = rendered
    assert result.duration == pytest.approx(3.0, abs=0.001)
    assert len(frames) / FPS == pytest.approx(3.0, abs=1.5 / FPS)
    assert audio_seconds(result.path) == pytest.approx(3.0, abs=0.05)


def test_the_picture_moves_where_the_voice_is_loud_and_not_in_silence(rendered):
    _, frames = rendered
    frames = frames.astype(np.int16)
    quiet = frames[2 : int(1.4 * FPS)]
    talking = frames[int(1.6 * FPS) :]
    still = np.abs(np.diff(quiet, axis=0)).mean(axis=(1, 2, 3)).max()
    moving = np.abs(np.diff(talking, axis=0)).mean(axis=(1, 2, 3)).max()
    assert still < 1.0, still  # only encoder noise
    assert moving > 4 * max(still, 0.5), (moving, still)
    assert np.abs(talking.mean(axis=0) - quiet.mean(axis=0)).mean() > 2


def test_every_frame_carries_the_simulated_label(rendered):
    result, frames = rendered
    source = np.asarray(picture(480, 360).resize((result.width, result.height))).astype(int)
    band = slice(0, result.height // 12)
    for frame in (frames[0], frames[len(frames) // 2], frames[-1]):
        top = np.abs(frame[band].astype(int) - source[band]).mean()
        assert top > 25, top  # the dark band with white text, not the picture
        middle = np.abs(frame[result.height // 3 : result.height // 2].astype(int)
                        - source[result.height // 3 : result.height // 2]).mean()  # fmt: skip
        assert top > 2 * middle
    # the band's text is white on dark: both extremes are present
    assert frames[0][band].max() > 200 and frames[0][band].min() < 60


@pytest.mark.parametrize(
    ("size", "expected"), [((1201, 601), (512, 256)), ((301, 303), (300, 302))]
)
def test_large_pictures_are_scaled_down_and_sides_made_even(tmp_path, size, expected):
    out = io.BytesIO()
    picture(*size).save(out, "PNG")
    result = render_avatar(out.getvalue(), tone_path(2.0), tmp_path / "v.mp4")
    assert (result.width, result.height) == expected
    assert f"{expected[0]}x{expected[1]}" in probe(result.path)


def test_a_portrait_photo_is_shown_upright(tmp_path):
    sideways = picture(400, 320)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to display
    out = io.BytesIO()
    sideways.save(out, "JPEG", exif=exif)
    result = render_avatar(out.getvalue(), tone_path(2.0), tmp_path / "v.mp4")
    assert (result.width, result.height) == (320, 400)
