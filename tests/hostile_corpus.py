"""A corpus of bad and strange input files, made on the spot (nothing is downloaded).

Each `Specimen` is a file a person (or an attacker) could upload as the portrait or the
voice, the name it arrives under, and what must happen to it: `PREPARED` (a result that
meets Kling's rules) or a pattern the one-sentence InputError must match.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from media import (
    audio_bytes,
    browser_recording,
    image_bytes,
    make_image,
    png_claiming,
    video_bytes,
    wav_samples,
)
from PIL import Image

from avatar_core.inputs.ffmpeg import run_ffmpeg

PREPARED = "prepared"


@dataclass(frozen=True)
class Specimen:
    name: str  # what it is, for the report
    field: str  # "image" or "audio"
    filename: str  # the name it arrives under (often a lie)
    make: Callable[[], bytes]
    expect: str  # PREPARED, or a regular expression the refusal must match
    trim: bool = False


# --- building blocks ----------------------------------------------------------------------


@functools.cache
def _jpeg() -> bytes:
    return image_bytes(400, 400, fmt="JPEG")


@functools.cache
def _png() -> bytes:
    return image_bytes(400, 400)


@functools.cache
def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello from inside a zip")
        archive.writestr("voice.mp3", _mp3())
    return buffer.getvalue()


@functools.cache
def _mp3() -> bytes:
    return audio_bytes(2.5, fmt="mp3")


@functools.cache
def _lecture() -> bytes:
    """Ten minutes of MP3 at 8 kHz (two specimens: trimming off and on)."""
    return audio_bytes(600, fmt="mp3", sample_rate=8000)


@functools.cache
def _wav() -> bytes:
    return audio_bytes(2.5, fmt="wav")


def _with_jpeg_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    segment = bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def _exif(entries: bytes, count: int, next_ifd: int) -> bytes:
    return (
        b"Exif\x00\x00II*\x00"
        + struct.pack("<IH", 8, count)
        + entries
        + struct.pack("<I", next_ifd)
    )


def exif_loop() -> bytes:
    """Orientation 6, an EXIF sub-IFD pointing back at IFD0, and IFD0 naming itself next."""
    entries = struct.pack("<HHII", 0x0112, 3, 1, 6) + struct.pack("<HHII", 0x8769, 4, 1, 8)
    return _with_jpeg_segment(_jpeg(), 0xE1, _exif(entries, 2, 8))


def exif_absurd() -> bytes:
    """Counts of two billion, offsets past the end of the file."""
    entries = (
        struct.pack("<HHII", 0x0112, 3, 0x7FFFFFFF, 8)
        + struct.pack("<HHII", 0x010F, 2, 0xFFFFFFFF, 8)
        + struct.pack("<HHII", 0x8825, 4, 1, 0xFFFFFFF0)
    )
    return _with_jpeg_segment(_jpeg(), 0xE1, _exif(entries, 3, 0))


def exif_crowd() -> bytes:
    """An APP1 segment filled to its 64 KB limit with 5000 EXIF entries."""
    count = 5000
    entries = b"".join(struct.pack("<HHII", 0x9000 + n % 300, 4, 1, n) for n in range(count))
    return _with_jpeg_segment(_jpeg(), 0xE1, _exif(entries, count, 0)[:65000])


def _corrupt_icc(colour_space: bytes) -> bytes:
    return b"\x00\x00\x01\x00" + b"\x00" * 12 + colour_space + b"\x01" * 300


def jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(_jpeg())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_screen(width: int, height: int) -> bytes:
    data = bytearray(image_bytes(400, 400, fmt="GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def png_bad_crc() -> bytes:
    data = bytearray(_png())
    data[29] ^= 0xFF  # the IHDR checksum
    return bytes(data)


def png_48_bit(width: int = 320, height: int = 320) -> bytes:
    """16 bits per channel RGB, which Pillow reads but cannot write."""
    row = b"".join(struct.pack(">HHH", x * 200, 40000, 65535 - x * 200) for x in range(width))
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def animated(fmt: str, frames: int) -> bytes:
    first = make_image(320, 320, mode="P" if fmt == "GIF" else "RGB")
    rest = [Image.new(first.mode, first.size, n % 200) for n in range(1, frames)]
    buffer = io.BytesIO()
    first.save(buffer, fmt, save_all=True, append_images=rest, duration=20)
    return buffer.getvalue()


def multipage_tiff() -> bytes:
    pages = [make_image(400, 400), make_image(400, 400, pattern="flat")]
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:])
    return buffer.getvalue()


def tiff_second_page_without_width() -> bytes:
    """Two pages; the second one's ImageWidth tag (256) renamed. Counting the pages makes
    Pillow raise TypeError("Missing dimensions")."""
    pages = [make_image(320, 320), make_image(64, 64)]
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:])
    data = bytearray(buffer.getvalue())
    first = struct.unpack_from("<I", data, 4)[0]
    second = struct.unpack_from(
        "<I", data, first + 2 + 12 * struct.unpack_from("<H", data, first)[0]
    )[0]
    assert data[second + 2 : second + 4] == b"\x00\x01"
    data[second + 2] = 0x0A
    return bytes(data)


def wav_with(offset: int, fmt: str, value: int) -> bytes:
    """The 2.5 s WAV with one header field overwritten (a lying header)."""
    data = bytearray(_wav())
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


def ffmpeg_bytes(*args: str) -> bytes:
    done = run_ffmpeg([*args, "pipe:1"])
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


@functools.cache
def flac_bomb(seconds: float = 100) -> bytes:
    """A few hundred KB of FLAC that decodes to 8 channels of 96 kHz: ~150 MB of samples."""
    return ffmpeg_bytes(
        "-f", "lavfi", "-i", f"anullsrc=r=96000:cl=7.1,atrim=duration={seconds}",
        "-c:a", "flac", "-compression_level", "0", "-f", "flac",
    )  # fmt: skip


# --- the corpus ---------------------------------------------------------------------------

DAMAGED = r"(truncated or damaged|cannot read or which is damaged)"
TOO_BIG = r"larger than this app opens \(100 megapixels at most\)"

IMAGES: tuple[Specimen, ...] = (
    Specimen("zero bytes", "image", "portrait.jpg", lambda: b"", r"is empty \(0 bytes\)"),
    Specimen("JPEG cut in half", "image", "cut.jpg", lambda: _jpeg()[: len(_jpeg()) // 2], DAMAGED),
    Specimen("PNG cut in half", "image", "cut.png", lambda: _png()[: len(_png()) // 2], DAMAGED),
    Specimen("JPEG header only (200 bytes)", "image", "head.jpg", lambda: _jpeg()[:200], DAMAGED),
    Specimen("PNG named .jpg", "image", "really-a-png.jpg", _png, PREPARED),
    Specimen("MP3 named .jpg", "image", "song.jpg", _mp3, r"looks like an MP3 audio file"),
    Specimen(
        "plain text named .png",
        "image",
        "notes.png",
        lambda: b"just some words\n" * 40,
        r"not a picture this app can read",
    ),
    Specimen(
        "HTML page named .jpg",
        "image",
        "page.jpg",
        lambda: b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
        r"looks like a web page \(HTML\)",
    ),
    Specimen("ZIP archive named .png", "image", "archive.png", _zip, r"looks like a ZIP archive"),
    Specimen(
        "PDF named .jpg",
        "image",
        "scan.jpg",
        lambda: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        r"looks like a PDF document",
    ),
    Specimen("JPEG+ZIP polyglot", "image", "poly.jpg", lambda: _jpeg() + _zip(), PREPARED),
    Specimen(
        "PNG with an HTML page appended",
        "image",
        "poly.png",
        lambda: _png() + b"<html><script>alert(1)</script></html>",
        PREPARED,
    ),
    Specimen(
        "GIF/JavaScript polyglot",
        "image",
        "poly.gif",
        lambda: b"GIF89a/*\x00\x00\x00\x00\x00*/=1;alert(document.domain);" + b"\x00" * 64,
        DAMAGED,
    ),
    Specimen(
        "PNG header claiming 100000×100000",
        "image",
        "bomb.png",
        lambda: png_claiming(100_000, 100_000),
        TOO_BIG,
    ),
    Specimen(
        "JPEG header claiming 65000×65000",
        "image",
        "bomb.jpg",
        lambda: jpeg_claiming(65_000, 65_000),
        TOO_BIG,
    ),
    Specimen(
        "GIF screen of 65535×65535", "image", "bomb.gif", lambda: gif_screen(65535, 65535), TOO_BIG
    ),
    Specimen("PNG header claiming 0×0", "image", "empty.png", lambda: png_claiming(0, 0), DAMAGED),
    Specimen(
        "1×10000 strip",
        "image",
        "strip.png",
        lambda: image_bytes(1, 10_000),
        r"1×10000 px; the video maker needs each side to be at least 300 px",
    ),
    Specimen("300×10000 strip", "image", "tall.png", lambda: image_bytes(300, 10_000), PREPARED),
    Specimen(
        "10000×300 strip",
        "image",
        "wide.jpg",
        lambda: image_bytes(10_000, 300, fmt="JPEG"),
        PREPARED,
    ),
    Specimen(
        "animated GIF, 300 frames", "image", "anim.gif", lambda: animated("GIF", 300), PREPARED
    ),
    Specimen("animated PNG, 5 frames", "image", "anim.png", lambda: animated("PNG", 5), PREPARED),
    Specimen(
        "CMYK JPEG",
        "image",
        "print.jpg",
        lambda: image_bytes(400, 400, mode="CMYK", fmt="JPEG"),
        PREPARED,
    ),
    Specimen(
        "CMYK JPEG with a corrupt ICC profile",
        "image",
        "print-icc.jpg",
        lambda: image_bytes(400, 400, mode="CMYK", fmt="JPEG", icc_profile=_corrupt_icc(b"CMYK")),
        PREPARED,
    ),
    Specimen(
        "RGB JPEG with a corrupt ICC profile",
        "image",
        "icc.jpg",
        lambda: image_bytes(400, 400, fmt="JPEG", icc_profile=_corrupt_icc(b"RGB ")),
        PREPARED,
    ),
    Specimen(
        "corrupt ICC profile on a photo that needs padding",
        "image",
        "icc-tall.jpg",
        lambda: image_bytes(400, 1200, fmt="JPEG", icc_profile=_corrupt_icc(b"RGB ")),
        PREPARED,
    ),
    Specimen(
        "16-bit greyscale PNG",
        "image",
        "deep.png",
        lambda: image_bytes(400, 400, mode="I;16"),
        PREPARED,
    ),
    Specimen("48-bit RGB PNG", "image", "deep-rgb.png", png_48_bit, PREPARED),
    Specimen(
        "palette PNG with transparency",
        "image",
        "palette.png",
        lambda: image_bytes(400, 400, mode="P", pattern="transparent"),
        PREPARED,
    ),
    Specimen(
        "greyscale + alpha PNG",
        "image",
        "la.png",
        lambda: image_bytes(400, 400, mode="LA"),
        PREPARED,
    ),
    Specimen(
        "fully transparent PNG",
        "image",
        "clear.png",
        lambda: image_bytes(400, 400, mode="RGBA", pattern="transparent"),
        PREPARED,
    ),
    Specimen(
        "1-bit black and white",
        "image",
        "bw.png",
        lambda: image_bytes(400, 400, mode="1"),
        PREPARED,
    ),
    Specimen(
        "32-bit float TIFF",
        "image",
        "float.tif",
        lambda: image_bytes(400, 400, mode="F", fmt="TIFF"),
        PREPARED,
    ),
    Specimen("multi-page TIFF", "image", "pages.tif", multipage_tiff, PREPARED),
    Specimen("EXIF bomb: IFDs pointing at themselves", "image", "loop.jpg", exif_loop, PREPARED),
    Specimen("EXIF with absurd counts and offsets", "image", "absurd.jpg", exif_absurd, PREPARED),
    Specimen("EXIF with 5000 entries (64 KB)", "image", "crowd.jpg", exif_crowd, PREPARED),
    Specimen("PNG with a broken checksum", "image", "crc.png", png_bad_crc, DAMAGED),
    Specimen(
        "TIFF whose second page has no width",
        "image",
        "pages.tif",
        tiff_second_page_without_width,
        DAMAGED,
    ),
    Specimen(
        "SVG drawing",
        "image",
        "vector.svg",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400"/>',
        r"is an SVG drawing",
    ),
    Specimen(
        "EPS (PostScript, never run)",
        "image",
        "print.eps",
        lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 400 400\n(x) print\nshowpage\n",
        r"not a picture this app can read",
    ),
    Specimen(
        "HEIC header",
        "image",
        "iphone.heic",
        lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100,
        r"is a HEIC picture",
    ),
    Specimen(
        "ICO of 256×256",
        "image",
        "favicon.ico",
        lambda: image_bytes(256, 256, fmt="ICO"),
        r"256×256 px; the video maker needs each side",
    ),
    Specimen("WebP", "image", "photo.webp", lambda: image_bytes(400, 400, fmt="WEBP"), PREPARED),
)

AUDIO: tuple[Specimen, ...] = (
    Specimen("zero bytes", "audio", "voice.mp3", lambda: b"", r"is empty \(0 bytes\)"),
    Specimen(
        "plain text named .mp3",
        "audio",
        "lyrics.mp3",
        lambda: b"la la la\n" * 50,
        r"format is not recognised",
    ),
    Specimen(
        "HTML page named .wav",
        "audio",
        "page.wav",
        lambda: b"<!doctype html><html><body>404</body></html>",
        r"looks like a web page \(HTML\)",
    ),
    Specimen("ZIP holding an MP3", "audio", "voice.zip", _zip, r"looks like a ZIP archive"),
    Specimen("JPEG named .mp3", "audio", "cover.mp3", _jpeg, r"looks like a JPEG picture"),
    Specimen(
        "MP3 of digital silence",
        "audio",
        "silence.mp3",
        lambda: audio_bytes(2.5, fmt="mp3", source="silence"),
        PREPARED,
    ),
    Specimen(
        "0.5 s clip",
        "audio",
        "blip.mp3",
        lambda: audio_bytes(0.5, fmt="mp3"),
        r"Audio is 0\.5 s long; the video maker needs at least 2 s",
    ),
    Specimen(
        "10-minute clip",
        "audio",
        "lecture.mp3",
        _lecture,
        r"Audio is 600\.0 s long; the video maker takes at most 60 s",
    ),
    Specimen(
        "10-minute clip, trimming on",
        "audio",
        "lecture.mp3",
        _lecture,
        PREPARED,
        trim=True,
    ),
    Specimen(
        "MP4 video with a sound track",
        "audio",
        "clip.mp4",
        lambda: video_bytes(2.5, with_audio=True),
        PREPARED,
    ),
    Specimen(
        "MP4 video without sound",
        "audio",
        "silent-film.mp4",
        lambda: video_bytes(2.5, with_audio=False),
        r"is a video without a sound track",
    ),
    Specimen(
        "MP4 video with 1 s of sound",
        "audio",
        "short.mp4",
        lambda: video_bytes(1.0, with_audio=True),
        r"Audio is 1\.0 s long",
    ),
    Specimen(
        "WAV whose header promises 10× the data",
        "audio",
        "liar.wav",
        lambda: wav_with(40, "<I", len(_wav()) * 10),
        r"WAV file cut short",
    ),
    Specimen(
        "WAV with streaming sizes (0xFFFFFFFF)",
        "audio",
        "stream.wav",
        lambda: wav_with(40, "<I", 0xFFFFFFFF),
        PREPARED,
    ),
    Specimen("WAV claiming 0 Hz", "audio", "zero-hz.wav", lambda: wav_with(24, "<I", 0), DAMAGED),
    Specimen(
        "WAV claiming 0 channels",
        "audio",
        "no-channels.wav",
        lambda: wav_with(22, "<H", 0),
        DAMAGED,
    ),
    Specimen(
        "WAV claiming 200 channels",
        "audio",
        "crowd.wav",
        lambda: wav_with(22, "<H", 200),
        DAMAGED,
    ),
    Specimen(
        "WAV claiming 4 GHz",
        "audio",
        "fast.wav",
        lambda: wav_with(24, "<I", 4_000_000_000),
        DAMAGED,
    ),
    Specimen(
        "WAV header only (44 bytes)", "audio", "header.wav", lambda: _wav()[:44], r"cut short"
    ),
    Specimen(
        "WAV of a single sample",
        "audio",
        "one.wav",
        lambda: wav_samples(1),
        r"Audio is 0\.0 s long",
    ),
    Specimen(
        "MP3 cut in half",
        "audio",
        "half.mp3",
        lambda: _mp3()[: len(_mp3()) // 2],
        r"Audio is 1\.2 s long",
    ),
    Specimen(
        "M4A cut in half",
        "audio",
        "half.m4a",
        lambda: audio_bytes(2.5, fmt="m4a")[:6000],
        DAMAGED,
    ),
    Specimen(
        "ID3 tag and nothing else",
        "audio",
        "tag.mp3",
        lambda: b"ID3\x04\x00\x00\x00\x00\x00\x10" + b"\x00" * 16,
        DAMAGED,
    ),
    Specimen("MP3+ZIP polyglot", "audio", "poly.mp3", lambda: _mp3() + _zip(), PREPARED),
    Specimen("WAV+ZIP polyglot", "audio", "poly.wav", lambda: _wav() + _zip(), PREPARED),
    Specimen(
        "M3U playlist naming /etc/passwd",
        "audio",
        "list.m3u",
        lambda: b"#EXTM3U\n#EXTINF:1,x\nfile:///etc/passwd\n",
        r"looks like a playlist",
    ),
    Specimen(
        "HLS playlist pointing at loopback",
        "audio",
        "live.m3u8",
        lambda: b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:1/a.ts\n",
        r"looks like a playlist",
    ),
    Specimen(
        "ffconcat script naming /etc/passwd",
        "audio",
        "list.txt",
        lambda: b"ffconcat version 1.0\nfile /etc/passwd\n",
        r"format is not recognised",
    ),
    Specimen("FLAC", "audio", "voice.flac", lambda: audio_bytes(2.5, fmt="flac"), PREPARED),
    Specimen("Ogg Vorbis", "audio", "voice.ogg", lambda: audio_bytes(2.5, fmt="ogg"), PREPARED),
    Specimen(
        "browser WebM recording (no duration)",
        "audio",
        "mic.webm",
        lambda: browser_recording(2.5),
        PREPARED,
    ),
    Specimen(
        "24-bit 96 kHz stereo WAV",
        "audio",
        "studio.wav",
        lambda: audio_bytes(3, fmt="wav24", sample_rate=96_000, channels=2),
        PREPARED,
    ),
    Specimen(
        "µ-law WAV",
        "audio",
        "phone.wav",
        lambda: ffmpeg_bytes(
            "-f", "lavfi", "-i", "sine=d=2.5", "-c:a", "pcm_mulaw", "-ar", "8000", "-f", "wav"
        ),
        PREPARED,
    ),
    Specimen(
        "MP3 with 2 KB of garbage in the middle",
        "audio",
        "glitch.mp3",
        lambda: _mp3()[: len(_mp3()) // 2] + bytes(range(256)) * 8 + _mp3()[len(_mp3()) // 2 :],
        PREPARED,
    ),
    Specimen(
        "8-channel 96 kHz FLAC bomb (300 KB → 150 MB of samples)",
        "audio",
        "bomb.flac",
        flac_bomb,
        r"Audio is 100\.0 s long",
    ),
    Specimen(
        "Matroska header only",
        "audio",
        "empty.mkv",
        lambda: b"\x1a\x45\xdf\xa3" + b"\x00" * 200,
        DAMAGED,
    ),
    Specimen(
        "AVI header only",
        "audio",
        "empty.avi",
        lambda: b"RIFF\x00\x01\x00\x00AVI LIST" + b"\x00" * 100,
        DAMAGED,
    ),
)

CORPUS: tuple[Specimen, ...] = IMAGES + AUDIO
