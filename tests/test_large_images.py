"""Very large pictures: PNGs decoded band by band give the same pixels as a full decode,
broken ones get the same sentence as before, and one large decode runs at a time.

What this saves in memory is measured by `bench/bench_memory.py` (a benchmark prints
figures; tests state behaviour).
"""

from __future__ import annotations

import functools
import io
import struct
import threading
import zlib

import pytest
from media import exif_block, make_image
from PIL import Image, ImageChops, ImageStat
from reliability import check_section, table

from avatar_core.errors import InputError
from avatar_core.inputs.decode_gate import GATE
from avatar_core.inputs.image import prepare_image
from avatar_core.inputs.png_bands import DamagedPNG, decode_png_reduced, reduce_factor

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def chunks_of(data: bytes) -> list[tuple[bytes, bytes]]:
    found, at = [], len(SIGNATURE)
    while at < len(data):
        (length,) = struct.unpack_from(">I", data, at)
        found.append((data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return found


def png_of(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return SIGNATURE + b"".join(chunk(kind, body) for kind, body in chunks)


def saved_png(img: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "PNG", **options)
    return buffer.getvalue()


def filters_used(data: bytes) -> set[int]:
    """The filter type of each row of an 8-bit PNG (0 none, 1 sub, 2 up, 3 average, 4 paeth)."""
    parts = chunks_of(data)
    width, height, _, colour = struct.unpack(">IIBB", parts[0][1][:10])
    raw = zlib.decompress(b"".join(body for kind, body in parts if kind == b"IDAT"))
    stride = width * {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour] + 1
    return {raw[row * stride] for row in range(height)}


def _filtered(row: bytes, above: bytes, bpp: int, kind: int) -> bytes:
    """`row` under PNG filter `kind`, as an encoder writes it."""
    out = bytearray(len(row))
    for i, value in enumerate(row):
        left = row[i - bpp] if i >= bpp else 0
        up = above[i]
        corner = above[i - bpp] if i >= bpp else 0
        if kind == 1:
            guess = left
        elif kind == 2:
            guess = up
        elif kind == 3:
            guess = (left + up) // 2
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
        else:
            guess = 0
        out[i] = (value - guess) & 0xFF
    return bytes(out)


def every_filter(data: bytes) -> bytes:
    """The same PNG with its rows filtered in turn by each of the five filter types."""
    parts = chunks_of(data)
    width, height, _, colour = struct.unpack(">IIBB", parts[0][1][:10])
    bpp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(b"".join(body for kind, body in parts if kind == b"IDAT"))
    stride = width * bpp
    rows = [raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)] for y in range(height)]
    above = [bytes(stride), *rows[:-1]]
    out = b"".join(
        bytes((y % 5,)) + _filtered(rows[y], above[y], bpp, y % 5) for y in range(height)
    )
    kept = [(kind, body) for kind, body in parts if kind != b"IDAT" and kind != b"IEND"]
    return png_of([*kept, (b"IDAT", zlib.compress(out)), (b"IEND", b"")])


@functools.cache
def banded_png(width: int, height: int, seed: int = 0) -> bytes:
    """An 8-bit RGB PNG written row by row (bands of colour): tens of megapixels in a
    few hundred kilobytes, without ever holding the picture (made once for each size and
    seed: the large cases start from the same picture)."""
    squeeze = zlib.compressobj(9)
    parts = []
    for y in range(height):
        shade = (seed * 37 + y // 97) % 256
        parts.append(squeeze.compress(b"\x00" + bytes((shade, 255 - shade, seed % 256)) * width))
    parts.append(squeeze.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return png_of([(b"IHDR", header), (b"IDAT", b"".join(parts)), (b"IEND", b"")])


def interlaced(data: bytes) -> bytes:
    """The PNG with its header saying Adam7 (Pillow writes no interlaced PNGs)."""
    parts = chunks_of(data)
    parts[0] = (b"IHDR", parts[0][1][:12] + b"\x01")
    return png_of(parts)


def full_reduce(data: bytes, factor: int) -> Image.Image:
    """What Pillow gives for the whole picture, reduced the same way."""
    img = Image.open(io.BytesIO(data))
    img.load()
    keyed = "transparency" in img.info
    if img.mode == "P":
        img = img.convert("RGBA" if keyed else "RGB")
    elif keyed and img.mode in ("L", "RGB"):
        img = img.convert("LA" if img.mode == "L" else "RGBA")
    return img.reduce(factor)


# --- the same pixels as a full decode ------------------------------------------------------


def _noisy(mode: str, width: int = 301, height: int = 203) -> Image.Image:
    """Noise over a portrait: every PNG filter type gets used (checked below)."""
    img = make_image(width, height)
    noise = make_image(width, height, pattern="noise")
    return Image.blend(img, noise, 0.3).convert(mode)


def _with_transparency(mode: str) -> bytes:
    img = _noisy(mode)
    key = 0 if mode == "L" else (0, 0, 0) if mode == "RGB" else 3
    return saved_png(img, transparency=key)


_CASES = {
    "RGB": lambda: saved_png(_noisy("RGB")),
    "RGBA": lambda: saved_png(_noisy("RGBA")),
    "L": lambda: saved_png(_noisy("L")),
    "LA": lambda: saved_png(_noisy("LA")),
    "P": lambda: saved_png(_noisy("RGB").quantize(64)),
    "P with tRNS": lambda: saved_png(_noisy("RGB").quantize(64), transparency=3),
    "L with tRNS": lambda: _with_transparency("L"),
    "RGB with tRNS": lambda: _with_transparency("RGB"),
    "RGB, every filter": lambda: every_filter(saved_png(_noisy("RGB"))),
    "P, every filter": lambda: every_filter(saved_png(_noisy("RGB").quantize(64))),
}
# each case's PNG made once (the filtered ones are written byte by byte in Python)
CASES = {kind: functools.cache(make) for kind, make in _CASES.items()}


@pytest.mark.parametrize("kind", CASES)
@pytest.mark.parametrize(("factor", "band_bytes"), [(2, 5000), (3, 1), (2, 10**9)])
def test_band_decoding_gives_the_pixels_of_a_full_decode(kind, factor, band_bytes):
    """Bands of a few rows (one row's worth of bytes: one band per `factor` rows), uneven
    last bands, and one band for everything; odd sizes so edges are partial blocks."""
    data = CASES[kind]()
    img = Image.open(io.BytesIO(data))
    wanted = (img.width // factor, img.height // factor)
    assert reduce_factor(img.size, wanted) == factor
    banded = decode_png_reduced(data, wanted, band_bytes=band_bytes)
    expected = full_reduce(data, factor)
    assert banded is not None
    assert (banded.mode, banded.size) == (expected.mode, expected.size)
    assert ImageChops.difference(banded, expected).getbbox() is None


def test_the_band_cases_use_every_png_filter():
    """Rows that refer to the row above (up, average, paeth) are what bands must carry over."""
    used = set().union(*(filters_used(make()) for make in CASES.values()))
    assert {1, 2, 3, 4} <= used, used


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("16 bits per channel", lambda: saved_png(Image.new("I;16", (400, 400), 300))),
        ("interlaced", lambda: interlaced(saved_png(_noisy("RGB", 400, 400)))),
        (
            "animated",
            lambda: saved_png(
                _noisy("RGB", 400, 400), save_all=True, append_images=[_noisy("RGB", 400, 400)]
            ),
        ),
        ("no reduction by 2 or more", lambda: saved_png(_noisy("RGB", 400, 400))),
    ],
)
def test_other_pngs_are_left_to_pillow(name, data):
    wanted = (300, 300) if name.startswith("no reduction") else (100, 100)
    assert decode_png_reduced(data(), wanted) is None


def test_broken_image_data_is_damage():
    parts = chunks_of(saved_png(_noisy("RGB")))
    idat = next(i for i, (kind, _) in enumerate(parts) if kind == b"IDAT")
    cut = [*parts[:idat], (b"IDAT", parts[idat][1][:400]), (b"IEND", b"")]
    with pytest.raises(DamagedPNG):
        decode_png_reduced(png_of(cut), (100, 100))
    garbled = [*parts[:idat], (b"IDAT", b"\x78\x9c" + b"\xff" * 500), (b"IEND", b"")]
    with pytest.raises(DamagedPNG):
        decode_png_reduced(png_of(garbled), (100, 100))
    data = bytearray(saved_png(_noisy("RGB")))
    data[-20] ^= 0xFF  # inside the last IDAT chunk: its checksum no longer matches
    with pytest.raises(DamagedPNG):
        decode_png_reduced(bytes(data), (100, 100))


# --- through the preparer ------------------------------------------------------------------

LARGE = (8200, 4100)  # 33.6 megapixels: over LARGE_PIXELS, and reduced by 2 while decoded
AT_ONCE = (4100, 4100)  # 16.8 megapixels: over LARGE_PIXELS, so each decode takes a turn


def _cut_in_half(data: bytes) -> bytes:
    parts = chunks_of(data)
    return png_of([parts[0], (b"IDAT", parts[1][1][: len(parts[1][1]) // 2]), (b"IEND", b"")])


def _orientation_after_pixels(data: bytes) -> bytes:
    """Orientation 6 in an eXIf chunk after the pixel data (where Pillow, to find it,
    would decode the whole picture)."""
    parts = chunks_of(data)
    exif = exif_block(orientation=6, camera=False).tobytes()
    return png_of([*parts[:-1], (b"eXIf", exif), parts[-1]])


def _gif(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (width, height), 3).save(buffer, "GIF")
    return buffer.getvalue()


def _deep_png(width: int, height: int) -> bytes:
    """A 16-bit PNG header claiming width×height (refused before any decoding)."""
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return png_of([(b"IHDR", header), (b"IDAT", zlib.compress(b"\0" * 16)), (b"IEND", b"")])


LARGE_CASES = {
    "8-bit PNG, 8200×4100 (34 MP), a few hundred KB": lambda: banded_png(*LARGE),
    "the same, orientation 6 in EXIF after the pixel data": lambda: _orientation_after_pixels(
        banded_png(*LARGE)
    ),
    "the same, cut in the middle of its pixel data": lambda: _cut_in_half(banded_png(*LARGE)),
    "8-bit PNG, 7000×7000 (49 MP)": lambda: banded_png(7000, 7000),
    "16-bit PNG claiming 7000×7000": lambda: _deep_png(7000, 7000),
    "GIF, 6400×6400 (41 MP)": lambda: _gif(6400, 6400),
}


@pytest.fixture(scope="module")
def large_seen() -> dict[str, object]:
    """Each large case prepared (a PreparedImage or the InputError), and three different
    large PNGs prepared at once from three threads while a small one is prepared too."""
    seen: dict[str, object] = {}
    for name, make in LARGE_CASES.items():
        try:
            seen[name] = prepare_image(make())
        except InputError as error:
            seen[name] = error
    pictures = [banded_png(*AT_ONCE, seed=seed) for seed in range(1, 4)]
    turns, results = GATE.turns, []
    threads = [
        threading.Thread(target=lambda data=data: results.append(prepare_image(data)))
        for data in pictures
    ]
    for thread in threads:
        thread.start()
    prepare_image(saved_png(make_image(600, 600)))  # a small picture takes no turn
    for thread in threads:
        thread.join()
    seen["at once"] = (len(results), GATE.turns - turns, GATE.most_at_once)
    return seen


def test_a_large_png_is_prepared_to_the_rules_with_the_pixels_of_a_full_decode(large_seen):
    prepared = large_seen["8-bit PNG, 8200×4100 (34 MP), a few hundred KB"]
    assert (prepared.width, prepared.height) == (4096, 2048)
    assert prepared.changes[:2] == (
        "Converted from PNG to JPEG.",
        "Downscaled from 8200×4100 to 4096×2048 (longest side at most 4096 px).",
    )
    sent = Image.open(io.BytesIO(prepared.data)).convert("RGB")
    reference = Image.open(io.BytesIO(banded_png(*LARGE))).resize(sent.size, Image.BICUBIC)
    assert sum(ImageStat.Stat(ImageChops.difference(sent, reference)).mean) / 3 < 2.0


def test_a_large_png_with_its_orientation_after_the_pixels_is_turned_upright(large_seen):
    prepared = large_seen["the same, orientation 6 in EXIF after the pixel data"]
    assert (prepared.width, prepared.height) == (2048, 4096)
    assert "Turned upright as the photo's orientation tag says." in prepared.changes


def test_a_large_png_cut_short_gets_the_sentence_of_any_damaged_png(large_seen):
    assert str(large_seen["the same, cut in the middle of its pixel data"]) == (
        "The image is truncated or damaged (its PNG data could not be decoded); export or "
        "download it again."
    )


def test_large_pictures_are_decoded_one_at_a_time(large_seen):
    assert large_seen["at once"] == (3, 3, 1)  # 3 prepared, 3 turns taken, never 2 at once


def test_what_can_only_be_decoded_in_full_is_refused_over_40_mp_from_the_header(large_seen):
    assert str(large_seen["GIF, 6400×6400 (41 MP)"]) == (
        "The image is a GIF of 6400×6400 px (41 megapixels), which this app can only decode "
        "in full; it opens such pictures up to 40 megapixels (JPEG and 8-bit PNG up to 100): "
        "save it as JPEG or PNG, or resize it."
    )
    deep = str(large_seen["16-bit PNG claiming 7000×7000"])
    assert "is a PNG of 7000×7000 px (49 megapixels), which this app can only" in deep
    assert large_seen["8-bit PNG, 7000×7000 (49 MP)"].width == 4096


def test_the_large_pictures_section_is_current(large_seen):
    rows = []
    for name in LARGE_CASES:
        outcome = large_seen[name]
        if isinstance(outcome, InputError):
            rows.append((name, "refused (exit 2)", str(outcome)))
        else:
            rows.append((name, "prepared: " + outcome.summary(), " ".join(outcome.changes)))
    done, turns, most = large_seen["at once"]
    rows.append(
        ("three different 17 MP PNGs from three threads at once, a small one meanwhile",
         f"{done} prepared, {turns} turns taken", f"most large decodes at once: {most}")
    )  # fmt: skip
    body = (
        "Pictures made by `tests/test_large_images.py`, prepared as the app and the command "
        "line prepare them. What this saves in memory is measured by `bench/bench_memory.py`."
        "\n\n" + table(("picture", "outcome", "what the person reads"), rows)
    )
    check_section("large-pictures", body)
