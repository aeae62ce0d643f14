"""Render the simulated avatar video: a real H.264 + AAC MP4 from one image and one audio.

The portrait moves with the voice - it leans in and nods as the audio gets loud, and a
level meter at the bottom lights up - so a demo looks alive and a test can see that motion
follows sound. (Without face detection there is no honest place to draw a mouth.)
A "SIMULATED - demo mode" band is drawn on every frame: demo videos must never pass for
real ones.

Speed: frames depend only on the loudness level, so one frame per quantised level is drawn
with Pillow and reused; ffmpeg reads raw frames from a pipe and cuts the output at the
audio's exact length with `-t` (`-shortest` overshoots with piped video).
"""

from __future__ import annotations

import functools
import io
import math
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from avatar_core.errors import MediaToolError
from avatar_core.inputs.ffmpeg import ffmpeg_exe
from avatar_core.simulator.audio import ANALYSIS_RATE, AudioDecodeError, decode_mono

FPS = 25
LEVELS = 12
LABEL = "SIMULATED — demo mode"
LABEL_ZH = "模拟视频 · 演示模式"  # a second line, where the machine has a Chinese font
CJK_FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", "/System/Library/Fonts")
CJK_FONT_NAMES = ("wqy-microhei", "wqy-zenhei", "NotoSansCJK", "NotoSansSC", "DroidSansFallback",
                  "PingFang")  # fmt: skip
DEFAULT_MAX_SIDE = 512
RENDER_TIMEOUT_S = 300.0


class RenderError(MediaToolError):
    """The simulated video could not be made."""


@dataclass(frozen=True)
class RenderResult:
    path: Path
    duration: float  # seconds, the audio's measured length and the video's
    frames: int
    width: int
    height: int


def loudness_levels(samples: np.ndarray, frames: int, rate: int = ANALYSIS_RATE) -> np.ndarray:
    """One loudness level (0..LEVELS-1) per video frame, from the RMS of its audio slice.

    Levels are relative to the clip's own loud parts, so a quiet recording still moves;
    silence stays at 0.
    """
    hop = rate / FPS
    padded = np.zeros(math.ceil(frames * hop) + 1, dtype=np.float32)
    padded[: len(samples)] = samples[: len(padded)]
    rms = np.array(
        [
            math.sqrt(float(np.mean(np.square(padded[int(i * hop) : int((i + 1) * hop)]))))
            for i in range(frames)
        ]
    )
    reference = float(np.percentile(rms, 95)) if frames else 0.0
    if reference < 1e-3:  # about -60 dBFS: silence
        return np.zeros(frames, dtype=int)
    relative = np.clip(rms / reference, 0.0, 1.0)
    relative[rms < 1e-3] = 0.0
    return np.rint(relative * (LEVELS - 1)).astype(int)


def prepare_portrait(image_bytes: bytes, max_side: int) -> Image.Image:
    """The portrait upright, in RGB, no side longer than `max_side`, both sides even."""
    with Image.open(io.BytesIO(image_bytes)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    scale = min(1.0, max_side / max(image.size))
    width = max(2, int(image.width * scale) // 2 * 2)
    height = max(2, int(image.height * scale) // 2 * 2)
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _label_band(width: int, height: int) -> Image.Image:
    """The demo-mode band: white text on a dark, half-transparent strip at the top.

    Pillow's built-in font has no em dash, so the dash between the two words is drawn.
    """
    size = max(12, min(width, height) // 16)
    font = ImageFont.load_default(size=size)
    band_height = int(size * 1.8)
    band = Image.new("RGBA", (width, band_height), (0, 0, 0, 170))
    draw = ImageDraw.Draw(band)
    first, second = (part.strip() for part in LABEL.split("—"))
    gap = size // 3
    dash = size
    first_box = draw.textbbox((0, 0), first, font=font)
    second_box = draw.textbbox((0, 0), second, font=font)
    total = (first_box[2] - first_box[0]) + (second_box[2] - second_box[0]) + dash + 4 * gap
    x = max(0, (width - total) // 2)
    top = min(first_box[1], second_box[1])
    bottom = max(first_box[3], second_box[3])
    y = (band_height - (bottom - top)) // 2 - top
    white = (255, 255, 255, 255)
    draw.text((x - first_box[0], y), first, font=font, fill=white)
    x += first_box[2] - first_box[0] + 2 * gap
    middle = band_height // 2
    thickness = max(2, size // 12)
    dash_box = (x, middle - thickness // 2, x + dash, middle + (thickness + 1) // 2)
    draw.rectangle(dash_box, fill=white)
    x += dash + 2 * gap
    draw.text((x - second_box[0], y), second, font=font, fill=white)
    return _with_chinese_line(band, size)


@functools.cache
def _cjk_font_file() -> Path | None:
    """A font that draws Chinese, if the machine has one of the usual ones."""
    for folder in CJK_FONT_FOLDERS:
        root = Path(folder)
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.tt[cf]")) + sorted(root.rglob("*.otf")):
            if any(name.lower() in path.name.lower() for name in CJK_FONT_NAMES):
                return path
    return None


def _with_chinese_line(band: Image.Image, size: int) -> Image.Image:
    """The band with LABEL_ZH under the English (the band as it is without a Chinese
    font: Pillow's own draws no Chinese)."""
    found = _cjk_font_file()
    if found is None:
        return band
    try:
        font = ImageFont.truetype(str(found), size=max(10, int(size * 0.8)))
    except OSError:
        return band
    width, height = band.size
    taller = Image.new("RGBA", (width, height + int(size * 1.2)), (0, 0, 0, 170))
    taller.paste(band, (0, 0))
    draw = ImageDraw.Draw(taller)
    box = draw.textbbox((0, 0), LABEL_ZH, font=font)
    x = max(0, (width - (box[2] - box[0])) // 2) - box[0]
    draw.text((x, height - box[1] - size // 8), LABEL_ZH, font=font, fill=(255, 255, 255, 255))
    return taller


def _draw_meter(frame: Image.Image, level: int) -> Image.Image:
    """A row of bars at the bottom, as many lit as the voice is loud."""
    width, height = frame.size
    overlay = Image.new("RGBA", frame.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    bar_w = max(3, width // 60)
    step = bar_w * 2
    total = step * (LEVELS - 1) - bar_w
    x0 = (width - total) // 2
    base = height - max(6, height // 30)
    for index in range(1, LEVELS):
        lit = index <= level
        bar_h = max(4, int(height * 0.06 * (0.35 + 0.65 * index / (LEVELS - 1))))
        x = x0 + (index - 1) * step
        fill = (255, 255, 255, 230) if lit else (0, 0, 0, 90)
        draw.rectangle((x, base - bar_h, x + bar_w - 1, base), fill=fill)
    return Image.alpha_composite(frame.convert("RGBA"), overlay).convert("RGB")


def draw_frame(portrait: Image.Image, level: int, band: Image.Image) -> Image.Image:
    """The portrait at one loudness level: leaned in and nodding, meter lit, label on top."""
    width, height = portrait.size
    amount = level / (LEVELS - 1)
    zoom = 1.0 + 0.06 * amount
    crop_w, crop_h = width / zoom, height / zoom
    left = (width - crop_w) / 2
    top = (height - crop_h) / 2 - 0.02 * height * amount  # a small nod up on loud syllables
    top = min(max(0.0, top), height - crop_h)
    frame = portrait.resize(
        (width, height), Image.Resampling.BILINEAR, box=(left, top, left + crop_w, top + crop_h)
    )
    frame = _draw_meter(frame, level)
    frame.paste(band, (0, 0), band)
    return frame


def render_avatar(
    image_bytes: bytes,
    audio_path: str | Path,
    out_path: str | Path,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
) -> RenderResult:
    """Make the MP4 at `out_path` (written whole, then moved into place)."""
    out_path = Path(out_path)
    try:
        samples = decode_mono(audio_path)
    except AudioDecodeError as exc:
        raise RenderError(f"the audio could not be decoded ({exc})") from exc
    duration = len(samples) / ANALYSIS_RATE
    # Whole frames covering the audio (its last frame may outlast it by under 1/FPS s; a
    # long speech's join trims or holds to the speech's exact length).
    frames = max(1, math.ceil(duration * FPS - 1e-6))
    levels = loudness_levels(samples, frames)
    try:
        portrait = prepare_portrait(image_bytes, max_side)
    except OSError as exc:
        raise RenderError(f"the image could not be read ({exc})") from exc
    band = _label_band(*portrait.size)
    cache: dict[int, bytes] = {}

    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.stem + ".partial.mp4")
    command = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{portrait.width}x{portrait.height}",
        "-r", str(FPS), "-i", "-",
        "-i", str(audio_path),
        "-map", "0:v:0", "-map", "1:a:0", "-t", f"{duration:.3f}",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "128k",
        "-movflags", "+faststart", str(partial),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=errors)
        except OSError as exc:
            raise RenderError(f"ffmpeg could not be started ({exc.strerror})") from exc
        try:
            assert process.stdin is not None
            for level in levels:
                frame = cache.get(int(level))
                if frame is None:
                    frame = draw_frame(portrait, int(level), band).tobytes()
                    cache[int(level)] = frame
                process.stdin.write(frame)
            process.stdin.close()
            returncode = process.wait(timeout=RENDER_TIMEOUT_S)
        except (BrokenPipeError, subprocess.TimeoutExpired) as exc:
            process.kill()
            process.wait()
            returncode = process.returncode or -1
            if isinstance(exc, subprocess.TimeoutExpired):
                raise RenderError("ffmpeg took too long to render the video") from exc
        if returncode != 0:
            errors.seek(0)
            lines = errors.read().decode("utf-8", "replace").strip().splitlines()
            partial.unlink(missing_ok=True)
            raise RenderError(f"ffmpeg failed ({lines[-1] if lines else returncode})")
    os.replace(partial, out_path)
    return RenderResult(out_path, duration, frames, portrait.width, portrait.height)
