"""Test media made on the spot with Pillow and ffmpeg's lavfi sources: nothing downloaded.

Import it from any test module (`from media import ...`; pytest puts tests/ on sys.path).
Every function returns bytes (write them with `path.write_bytes`) so a test can also
mislabel, truncate or corrupt them. Audio comes from the same ffmpeg the app uses
(`avatar_core.inputs.ffmpeg`), so no system ffmpeg or ffprobe is needed.

Images: `image_bytes(w, h, mode=..., fmt=..., pattern=...)`, `exif_block(...)`,
`png_claiming(w, h)` (a tiny decompression bomb), `pixels_of(data)`.
Audio: `audio_bytes(seconds, fmt=...)`, `wav_samples(n)`, `wav_of_size(bytes)`,
`browser_recording(seconds)`, `video_bytes(seconds, with_audio=...)`, `decoded_seconds(data)`.
"""

from __future__ import annotations

import io
import struct
import tempfile
import wave
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

from avatar_core.inputs.ffmpeg import run_ffmpeg

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS = REPO_ROOT / "assets"
PORTRAIT = ASSETS / "astronaut.jpg"  # 512×512 JPEG, no metadata
SPEECH = ASSETS / "hello.mp3"  # 7.3 s mono 44.1 kHz MP3

# --- images -------------------------------------------------------------------------------


def _portrait(width: int, height: int) -> Image.Image:
    """A cheap stand-in for a portrait: a gradient with a face-like ellipse and a red mark.

    The red square at the top-left corner lets tests check orientation and padding.
    """
    base = Image.linear_gradient("L").resize((width, height), Image.Resampling.NEAREST)
    img = Image.merge("RGB", (base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base))
    draw = ImageDraw.Draw(img)
    cx, cy, r = width // 2, height // 2, max(2, min(width, height) // 4)
    draw.ellipse((cx - r, cy - int(r * 1.3), cx + r, cy + int(r * 1.3)), fill=(230, 190, 160))
    draw.ellipse((cx - r // 2, cy - r // 3, cx - r // 4, cy - r // 6), fill=(40, 40, 40))
    draw.ellipse((cx + r // 4, cy - r // 3, cx + r // 2, cy - r // 6), fill=(40, 40, 40))
    mark = max(4, min(width, height) // 10)
    draw.rectangle((0, 0, mark, mark), fill=(255, 0, 0))
    return img


def _noise(width: int, height: int) -> Image.Image:
    """Incompressible colour noise: the worst case for JPEG and PNG sizes."""
    channels = [Image.effect_noise((width, height), 100) for _ in range(3)]
    return Image.merge("RGB", channels)


def make_image(width: int, height: int, *, mode: str = "RGB", pattern: str = "portrait"):
    """A Pillow image of any size and mode.

    pattern: "portrait" (default), "noise" (incompressible), "flat" (one grey colour),
    "transparent" (a portrait on a fully transparent background; for alpha modes).
    """
    if pattern == "noise":
        img = _noise(width, height)
    elif pattern == "flat":
        img = Image.new("RGB", (width, height), (128, 128, 128))
    else:
        img = _portrait(width, height)
    if pattern == "transparent":
        rgba = img.convert("RGBA")
        alpha = Image.new("L", (width, height), 0)
        ImageDraw.Draw(alpha).ellipse(
            (width // 4, height // 4, 3 * width // 4, 3 * height // 4), 255
        )
        rgba.putalpha(alpha)
        img = rgba
    if mode == img.mode:
        return img
    if mode.startswith("I;16"):
        grey = img.convert("L")
        return grey.point(lambda v: v * 257, mode="I").convert(mode)
    if mode == "P" and img.mode == "RGBA":
        return img.convert("RGBA").quantize(colors=255)
    return img.convert(mode)


def image_bytes(
    width: int,
    height: int,
    *,
    mode: str = "RGB",
    fmt: str = "PNG",
    pattern: str = "portrait",
    **save_options,
) -> bytes:
    """An encoded picture: `fmt` is any Pillow format (PNG, JPEG, WEBP, GIF, BMP, TIFF...).

    `save_options` go to `Image.save` (quality=, exif=, icc_profile=, pnginfo=, ...).
    """
    img = make_image(width, height, mode=mode, pattern=pattern)
    buffer = io.BytesIO()
    img.save(buffer, fmt, **save_options)
    return buffer.getvalue()


def exif_block(*, orientation: int | None = None, gps: bool = False, camera: bool = True):
    """An `Image.Exif` to pass as `exif=`: orientation tag, camera make/model, GPS position."""
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if camera:
        exif[0x010F] = "TestCam"
        exif[0x0110] = "Model 1"
    if gps:
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 8.0)}
    return exif


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A ~60-byte PNG whose header claims width×height: a decompression bomb's calling card."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _png_chunk(b"IEND", b"")
    )


def png_with_text(width: int, height: int, **text: str) -> bytes:
    """An 8-bit RGB PNG carrying tEXt chunks (metadata that should be removed)."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    return image_bytes(width, height, fmt="PNG", pnginfo=info)


def pixels_of(data: bytes, mode: str = "RGB") -> Image.Image:
    """Decode a picture fully (raises if it is broken)."""
    img = Image.open(io.BytesIO(data))
    img.load()
    return img.convert(mode)


# --- audio --------------------------------------------------------------------------------

# name -> (ffmpeg output options, muxer)
AUDIO_FORMATS: dict[str, tuple[list[str], str]] = {
    "wav": (["-c:a", "pcm_s16le"], "wav"),
    "wav24": (["-c:a", "pcm_s24le"], "wav"),
    "mp3": (["-c:a", "libmp3lame", "-b:a", "64k"], "mp3"),
    "m4a": (["-c:a", "aac", "-b:a", "64k"], "ipod"),
    "aac": (["-c:a", "aac", "-b:a", "64k"], "adts"),
    "flac": (["-c:a", "flac"], "flac"),
    "ogg": (["-c:a", "libvorbis", "-q:a", "2"], "ogg"),
    "opus": (["-c:a", "libopus", "-b:a", "32k"], "opus"),
    "webm": (["-c:a", "libopus", "-b:a", "32k"], "webm"),
}


def _source_filter(seconds: float, rate: int, source: str, frequency: float) -> str:
    if source == "silence":
        return f"anullsrc=r={rate}:cl=mono,atrim=duration={seconds}"
    if source == "noise":
        return f"anoisesrc=r={rate}:a=0.3:d={seconds}"
    return f"sine=f={frequency}:r={rate}:d={seconds}"


def audio_bytes(
    seconds: float,
    *,
    fmt: str = "wav",
    sample_rate: int = 44_100,
    channels: int = 1,
    source: str = "tone",
    volume_db: float = 0.0,
    frequency: float = 220.0,
) -> bytes:
    """Sound of any length in any of AUDIO_FORMATS.

    source: "tone" (a sine at `frequency`, peak -18 dBFS), "noise", or "silence"
    (all samples zero). `volume_db` shifts the level (-60 makes it nearly silent).
    Written through a file, so containers carry their real length (see browser_recording
    for one that does not).
    """
    options, muxer = AUDIO_FORMATS[fmt]
    graph = _source_filter(seconds, sample_rate, source, frequency)
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "out"
        done = run_ffmpeg(
            ["-f", "lavfi", "-i", graph, "-af", f"volume={volume_db}dB",
             "-ac", str(channels), *options, "-map_metadata", "-1", "-fflags", "+bitexact",
             "-f", muxer, "-y", str(target)]
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        return target.read_bytes()


def speech_with_pauses(
    seconds: float, *, fmt: str = "flac", rate: int = 48_000, channels: int = 2
) -> bytes:
    """A long, small file: stereo 48 kHz unless told, one second of tone in every ten, the
    rest silence (ten minutes are under 3 MB of FLAC, and decode to 115 MB of samples; at
    16 kHz mono, to 19 MB)."""
    options, muxer = AUDIO_FORMATS[fmt]
    tone = f"sine=f=220:r={rate}:d={seconds}"
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "out"
        done = run_ffmpeg(
            ["-f", "lavfi", "-i", tone,
             "-af", "volume=-20dB,volume='if(lt(mod(t\\,10)\\,1)\\,1\\,0)':eval=frame",
             "-ac", str(channels), *options, "-map_metadata", "-1", "-f", muxer, "-y",
             str(target)]
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        return target.read_bytes()


def browser_recording(seconds: float) -> bytes:
    """WebM/Opus at 48 kHz written to a pipe, as MediaRecorder makes it: no duration inside."""
    done = run_ffmpeg(
        ["-f", "lavfi", "-i", f"sine=f=300:r=48000:d={seconds}", "-ac", "1",
         "-c:a", "libopus", "-b:a", "32k", "-f", "webm", "pipe:1"]
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def wav_samples(frames: int, *, sample_rate: int = 44_100, channels: int = 1) -> bytes:
    """A 16-bit PCM WAV of exactly `frames` sample frames with a plain 44-byte header."""
    seconds = frames / sample_rate + 0.1
    done = run_ffmpeg(
        ["-f", "lavfi", "-i", f"sine=f=220:r={sample_rate}:d={seconds}", "-ac", str(channels),
         "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1"]
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    pcm = done.stdout[: frames * 2 * channels]
    assert len(pcm) == frames * 2 * channels
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def wav_seconds(seconds: float, *, sample_rate: int = 44_100, channels: int = 1) -> bytes:
    """A 16-bit PCM WAV of exactly round(seconds × rate) frames."""
    return wav_samples(round(seconds * sample_rate), sample_rate=sample_rate, channels=channels)


def wav_of_size(total_bytes: int) -> bytes:
    """A mono 16-bit 44.1 kHz WAV file of exactly `total_bytes` bytes (even, >= 46)."""
    assert total_bytes % 2 == 0 and total_bytes >= 46
    data = wav_samples((total_bytes - 44) // 2)
    assert len(data) == total_bytes
    return data


def video_bytes(seconds: float, *, with_audio: bool) -> bytes:
    """A tiny H.264 MP4 (64×64, 5 fps), with or without an AAC sound track."""
    inputs = ["-f", "lavfi", "-i", f"testsrc=s=64x64:r=5:d={seconds}"]
    codecs = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    if with_audio:
        inputs += ["-f", "lavfi", "-i", f"sine=f=220:r=44100:d={seconds}"]
        codecs += ["-c:a", "aac", "-shortest"]
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "out.mp4"
        done = run_ffmpeg([*inputs, *codecs, "-y", str(target)])
        assert done.returncode == 0, done.stderr.decode()
        return target.read_bytes()


def decoded_seconds(data: bytes) -> float:
    """The length of any sound file, measured by decoding it (independent of the app)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in"
        source.write_bytes(data)
        done = run_ffmpeg(["-i", str(source), "-f", "s16le", "-ac", "1", "-ar", "48000", "pipe:1"])
        assert done.returncode == 0, done.stderr.decode()
        return len(done.stdout) / 2 / 48_000


def decoded_format(data: bytes) -> tuple[int, int]:
    """(sample rate, channels) of a sound file, read from ffmpeg's WAV output header."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in"
        source.write_bytes(data)
        done = run_ffmpeg(["-i", str(source), "-t", "0.1", "-f", "wav", "pipe:1"])
        assert done.returncode == 0, done.stderr.decode()
        channels, rate = struct.unpack("<HI", done.stdout[22:28])
        return rate, channels
