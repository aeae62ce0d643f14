"""The portrait meets Kling's rules after preparation, or a sentence says why it cannot."""

from __future__ import annotations

import base64
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from media import (
    PORTRAIT,
    SPEECH,
    exif_block,
    image_bytes,
    make_image,
    pixels_of,
    png_claiming,
    png_with_text,
)
from PIL import Image, ImageChops, ImageStat

from avatar_core.errors import InputError
from avatar_core.inputs import image as image_prep
from avatar_core.inputs.image import PreparedImage, prepare_image


def assert_meets_kling_rules(prepared: PreparedImage) -> Image.Image:
    """Re-open what would be sent and measure it, independently of what it claims."""
    img = Image.open(io.BytesIO(prepared.data))
    assert img.format in ("JPEG", "PNG")
    assert img.format.lower() == prepared.format
    assert img.size == (prepared.width, prepared.height)
    width, height = img.size
    assert min(width, height) >= 300
    assert max(width, height) <= 4096
    assert width / height <= 2.5 and height / width <= 2.5
    assert len(prepared.data) <= 10_000_000
    img.load()  # decodes completely
    return img


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


# --- kept as it is ------------------------------------------------------------------------


def test_a_compliant_jpeg_without_metadata_is_sent_byte_for_byte():
    original = PORTRAIT.read_bytes()
    prepared = prepare_image(PORTRAIT)
    assert prepared.data == original
    assert prepared.changes == ()
    assert prepared.format == "jpeg" and prepared.extension == "jpg"
    assert (prepared.width, prepared.height) == (512, 512)
    assert "sent as it is" in prepared.summary()


def test_gps_and_camera_data_are_removed_without_touching_the_pixels():
    data = image_bytes(800, 600, fmt="JPEG", exif=exif_block(gps=True), comment=b"at home")
    assert b"Exif" in data
    prepared = prepare_image(data)
    assert b"Exif" not in prepared.data and b"at home" not in prepared.data
    assert not Image.open(io.BytesIO(prepared.data)).getexif()
    assert pixels_of(prepared.data).tobytes() == pixels_of(data).tobytes()  # not re-encoded
    assert any("GPS location" in change and "privacy" in change for change in prepared.changes)


def test_a_compliant_png_stays_png_and_loses_its_text_chunks():
    data = png_with_text(600, 600, Author="Jane Doe", Location="Home")
    prepared = prepare_image(data)
    assert prepared.format == "png" and prepared.extension == "png"
    assert b"Jane Doe" not in prepared.data
    assert pixels_of(prepared.data).tobytes() == pixels_of(data).tobytes()
    assert any("text notes" in change for change in prepared.changes)


def test_the_format_comes_from_the_content_not_the_name(tmp_path):
    mislabelled = tmp_path / "portrait.jpg"
    mislabelled.write_bytes(image_bytes(600, 600, fmt="PNG"))
    prepared = prepare_image(mislabelled)
    assert prepared.source_format == "png"
    assert_meets_kling_rules(prepared)


def test_base64_is_raw_with_no_data_prefix():
    prepared = prepare_image(image_bytes(400, 400, fmt="JPEG"))
    assert not prepared.base64.startswith("data:")
    assert base64.b64decode(prepared.base64, validate=True) == prepared.data
    assert prepared.size_bytes == len(prepared.data)
    assert "\n" not in prepared.summary()


# --- the side rule ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(299, 600), (600, 299), (299, 299), (100, 100)])
def test_a_side_under_300_px_is_refused_with_the_measured_size(size):
    with pytest.raises(InputError) as caught:
        prepare_image(image_bytes(*size))
    message = str(caught.value)
    assert f"{size[0]}×{size[1]}" in message and "300 px" in message
    assert caught.value.field == "image"


@pytest.mark.parametrize("size", [(300, 600), (600, 300), (300, 300)])
def test_exactly_300_px_is_accepted_unchanged_in_size(size):
    prepared = prepare_image(image_bytes(*size))
    assert (prepared.width, prepared.height) == size
    assert any("sharper video" in warning for warning in prepared.warnings)


# --- the ratio rule -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [(1000, 400), (400, 1000)])
def test_a_ratio_of_exactly_2_5_is_accepted_without_padding(size):
    prepared = prepare_image(image_bytes(*size, fmt="JPEG"))
    assert (prepared.width, prepared.height) == size
    assert not any("Padded" in change for change in prepared.changes)


@pytest.mark.parametrize(
    ("size", "padded"),
    [
        ((1004, 400), (1004, 402)),  # 2.51:1
        ((400, 1004), (402, 1004)),  # 1:2.51
        ((1000, 300), (1000, 400)),
        ((300, 1500), (600, 1500)),
    ],
)
def test_a_ratio_past_2_5_is_padded_to_it_and_nothing_is_cropped(size, padded):
    source = make_image(*size)
    prepared = prepare_image(image_bytes(*size, fmt="PNG"))
    out = assert_meets_kling_rules(prepared).convert("RGB")
    assert out.size == padded
    left = (padded[0] - size[0]) // 2
    top = (padded[1] - size[1]) // 2
    middle = out.crop((left, top, left + size[0], top + size[1]))
    assert mean_difference(middle, source) < 3  # the whole picture is there (JPEG noise aside)
    padding = out.crop((0, 0, padded[0], top) if top else (0, 0, left, padded[1]))
    if padding.width and padding.height:
        black = Image.new("RGB", padding.size)
        assert mean_difference(padding, black) > 5  # a fill made of the picture, not black bars
    sentence = next(change for change in prepared.changes if change.startswith("Padded"))
    assert f"{size[0]}×{size[1]}" in sentence and f"{padded[0]}×{padded[1]}" in sentence
    assert "nothing was cropped" in sentence


def test_a_ratio_far_out_is_padded_and_downscaled_together():
    prepared = prepare_image(image_bytes(6000, 400, fmt="JPEG"))
    out = assert_meets_kling_rules(prepared)
    assert out.width == 4096 and out.height == 1639


# --- the longest side ---------------------------------------------------------------------


def test_a_large_photo_is_downscaled_to_4096_and_says_so():
    prepared = prepare_image(image_bytes(8200, 4100, fmt="JPEG", quality=80))
    assert_meets_kling_rules(prepared)
    assert (prepared.width, prepared.height) == (4096, 2048)
    assert (prepared.source_width, prepared.source_height) == (8200, 4100)
    assert any("8200×4100 to 4096×2048" in change for change in prepared.changes)


def test_4096_px_is_kept_and_4097_is_downscaled():
    assert prepare_image(image_bytes(4096, 600, fmt="JPEG")).width == 4096
    shrunk = prepare_image(image_bytes(4097, 1700, fmt="JPEG"))
    assert (shrunk.width, shrunk.height) == (4096, 1700)


# --- 10 MB --------------------------------------------------------------------------------


def test_the_10_mb_limit_at_and_just_past_it(monkeypatch):
    data = image_bytes(900, 900, fmt="JPEG", pattern="noise", quality=95)
    stripped = len(prepare_image(data).data)
    monkeypatch.setattr(image_prep, "MAX_OUTPUT_BYTES", stripped)
    kept = prepare_image(data)
    assert len(kept.data) == stripped and kept.changes == ()
    monkeypatch.setattr(image_prep, "MAX_OUTPUT_BYTES", stripped - 1)
    squeezed = prepare_image(data)
    assert len(squeezed.data) <= stripped - 1
    assert any("quality" in change for change in squeezed.changes)


def test_a_real_photo_over_10_mb_comes_out_under_it():
    data = image_bytes(2600, 2600, fmt="JPEG", pattern="noise", quality=100)
    assert len(data) > 10_000_000
    prepared = prepare_image(data)
    assert_meets_kling_rules(prepared)
    assert any("10 MB" in change for change in prepared.changes)


# --- orientation, colour, transparency, formats -------------------------------------------


def test_the_exif_orientation_is_applied_so_the_face_is_upright():
    # Stored 600×400 with orientation 6 (rotate 90° clockwise to display): 400×600 upright,
    # and the red mark stored at the top-left ends up at the top-right.
    data = image_bytes(600, 400, fmt="JPEG", exif=exif_block(orientation=6))
    prepared = prepare_image(data)
    out = assert_meets_kling_rules(prepared).convert("RGB")
    assert out.size == (400, 600)
    red, green, blue = out.getpixel((out.width - 10, 10))
    assert red > 200 and green < 60 and blue < 60
    assert not out.getexif().get(0x0112)
    assert any("upright" in change for change in prepared.changes)


def test_a_transparent_background_becomes_white_and_is_sent_as_jpeg():
    prepared = prepare_image(image_bytes(600, 600, mode="RGBA", pattern="transparent"))
    out = assert_meets_kling_rules(prepared).convert("RGB")
    assert prepared.format == "jpeg"
    assert min(out.getpixel((5, 5))) > 245  # the corner was transparent
    assert any("white" in change for change in prepared.changes)


def test_an_opaque_alpha_channel_is_dropped_silently():
    prepared = prepare_image(image_bytes(600, 600, mode="RGBA"))
    assert not any("transparent" in change for change in prepared.changes)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("RGB", "WEBP"),
        ("RGB", "BMP"),
        ("RGB", "TIFF"),
        ("P", "GIF"),
        ("L", "JPEG"),
        ("LA", "PNG"),
        ("P", "PNG"),
        ("CMYK", "JPEG"),
        ("CMYK", "TIFF"),
        ("I;16", "PNG"),
        ("1", "PNG"),
    ],
)
def test_any_common_picture_becomes_a_compliant_rgb_jpeg(mode, fmt):
    data = image_bytes(500, 400, mode=mode, fmt=fmt)
    prepared = prepare_image(data)
    out = assert_meets_kling_rules(prepared)
    assert out.mode == "RGB" and prepared.format == "jpeg"
    assert (prepared.width, prepared.height) == (500, 400)
    grey = ImageStat.Stat(out.convert("L"))
    assert 30 < grey.mean[0] < 225 and grey.stddev[0] > 10  # not washed out, not blank
    if fmt not in ("JPEG", "PNG"):
        assert any(
            "the video maker takes only JPEG or PNG" in change for change in prepared.changes
        )


def test_sixteen_bit_grey_is_scaled_not_clipped_to_white():
    data = image_bytes(400, 400, mode="I;16", fmt="PNG")
    out = pixels_of(prepare_image(data).data, "L")
    low, high = out.getextrema()
    assert low < 30 and high > 200


def test_an_animated_gif_gives_its_first_frame():
    frames = [make_image(400, 400).convert("P"), make_image(400, 400, pattern="flat").convert("P")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    prepared = prepare_image(buffer.getvalue())
    assert any("first frame" in change for change in prepared.changes)
    assert ImageStat.Stat(pixels_of(prepared.data, "L")).stddev[0] > 10  # not the flat frame


def test_a_blank_picture_is_accepted_with_a_warning():
    prepared = prepare_image(image_bytes(600, 600, pattern="flat"))
    assert any("blank" in warning for warning in prepared.warnings)


def test_a_good_portrait_has_no_warnings():
    assert prepare_image(image_bytes(800, 800, fmt="JPEG")).warnings == ()


# --- refusals -----------------------------------------------------------------------------


def test_a_decompression_bomb_is_refused_from_its_header():
    bomb = png_claiming(50_000, 50_000)
    assert len(bomb) < 200
    with pytest.raises(InputError, match="megapixels"):
        prepare_image(bomb)


def test_a_header_over_100_megapixels_is_refused_before_decoding():
    with pytest.raises(InputError) as caught:
        prepare_image(png_claiming(12_000, 10_000))
    assert "12000×10000" in str(caught.value) and "100 megapixels" in str(caught.value)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_truncated_picture_is_refused(fmt):
    data = image_bytes(800, 800, fmt=fmt, pattern="noise")
    with pytest.raises(InputError, match="truncated or damaged"):
        prepare_image(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"just some text, not a picture at all", "not a picture"),
        (b"%PDF-1.7\n...", "PDF document"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "web page"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC picture"),
    ],
)
def test_what_is_not_a_usable_picture_is_named(data, expected):
    with pytest.raises(InputError) as caught:
        prepare_image(data)
    assert expected in str(caught.value)
    assert caught.value.field == "image"


def test_an_mp3_named_like_a_picture_is_named_as_audio(tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(SPEECH.read_bytes())
    with pytest.raises(InputError, match="looks like an MP3 audio file"):
        prepare_image(fake)


def test_missing_files_and_folders_are_explained(tmp_path):
    with pytest.raises(InputError, match=r"'nope\.png' was not found"):
        prepare_image(tmp_path / "nope.png")
    with pytest.raises(InputError, match="is a folder"):
        prepare_image(tmp_path)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        prepare_image(empty)


def test_odd_file_names_are_read_and_a_nul_in_a_path_is_one_sentence(tmp_path):
    """A name that is not UTF-8 (Python holds its bytes as lone surrogates) is a file like
    any other, shown escaped; a NUL cannot be in a path."""
    odd = tmp_path / "caf\udce9 \x07.png"
    odd.write_bytes(image_bytes(320, 320))
    assert prepare_image(odd).width == 320
    with pytest.raises(InputError) as caught:
        prepare_image(str(odd) + ".missing")
    assert "'caf\\udce9 \\x07.png.missing' was not found" in str(caught.value)
    with pytest.raises(InputError) as caught:
        prepare_image(str(tmp_path / "a\x00b.png"))
    assert str(caught.value) == (
        "The image path holds a NUL character (U+0000), which no file path can hold; check "
        "the path."
    )


def test_an_input_over_50_mb_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.png"
    with big.open("wb") as handle:
        handle.truncate(50_000_001)  # sparse: costs no disk or time
    with pytest.raises(InputError, match="50 MB"):
        prepare_image(big)


# --- property -----------------------------------------------------------------------------


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(
    width=st.integers(min_value=200, max_value=4400),
    height=st.integers(min_value=200, max_value=1800),
    transpose=st.booleans(),
    mode=st.sampled_from(["RGB", "RGBA", "L", "P"]),
    fmt=st.sampled_from(["PNG", "JPEG"]),
)
def test_any_size_and_ratio_comes_out_compliant_or_is_refused(width, height, transpose, mode, fmt):
    if transpose:
        width, height = height, width
    if fmt == "JPEG" and mode in ("RGBA", "P"):
        mode = "RGB"
    data = image_bytes(width, height, mode=mode, fmt=fmt, pattern="flat")
    if min(width, height) < 300:
        with pytest.raises(InputError):
            prepare_image(data)
        return
    prepared = prepare_image(data)
    out = assert_meets_kling_rules(prepared)
    # Nothing is cropped and nothing is enlarged: the picture's own ratio survives inside.
    scale = min(1.0, 4096 / max(width, height))
    assert out.width >= round(width * scale) - 1 and out.height >= round(height * scale) - 1
