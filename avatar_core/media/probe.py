"""What a video file is, read with ffmpeg alone (there is no ffprobe): its codec, size,
frame rate and pixel format, its frame count, and its H.264 parameter sets.

Two H.264 streams can be joined without re-encoding only when all of these agree: the
parameter sets (SPS and PPS, which carry the encoder's settings) are written once at the
start of an MP4, so a part encoded differently would be decoded with the wrong ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from avatar_core.catalogue import sentence_for
from avatar_core.errors import MediaToolError
from avatar_core.inputs.ffmpeg import run_ffmpeg

PROBE_TIMEOUT_S = 120.0
_VIDEO = re.compile(r"Stream #0:\d+[^:]*: Video: (\w+)[^,]*, (\w+)[^,]*(?:\([^)]*\))?, (\d+)x(\d+)")
_FPS = re.compile(r"Stream #0:\d+[^:]*: Video: .*?, ([\d.]+(?:/\d+)?) fps")
_FRAMES = re.compile(r"frame=\s*(\d+)")
_START_CODE = re.compile(b"\x00\x00\x01")


@dataclass(frozen=True)
class VideoFacts:
    path: Path
    codec: str  # "h264", ...
    pix_fmt: str  # "yuv420p", ...
    width: int
    height: int
    fps: Fraction
    frames: int
    parameter_sets: bytes  # SPS and PPS of an H.264 stream; b"" for any other codec

    @property
    def seconds(self) -> float:
        return float(self.frames / self.fps)

    def same_format(self, other: VideoFacts) -> bool:
        """True when `other` can follow this in one stream without re-encoding."""
        return (
            self.codec == other.codec == "h264"
            and (self.pix_fmt, self.width, self.height, self.fps)
            == (other.pix_fmt, other.width, other.height, other.fps)
            and self.parameter_sets == other.parameter_sets != b""
        )


def _fps(text: str) -> Fraction:
    if "/" in text:
        top, bottom = text.split("/")
        return Fraction(int(top), int(bottom))
    shown = float(text)  # ffmpeg rounds to two decimals: 29.97 is 30000/1001
    candidates = [Fraction(round(shown * d), d) for d in (1, 2, 4)]
    candidates.append(Fraction(round(shown * 1.001) * 1000, 1001))  # NTSC rates
    for fps in candidates:
        if abs(float(fps) - shown) < 0.005:
            return fps
    return Fraction(text).limit_denominator(1001)


def probe_video(path: Path) -> VideoFacts:
    """The facts of `path`'s first video stream; MediaToolError when it has none."""
    done = run_ffmpeg(
        ["-v", "info", "-stats", "-i", f"file:{path}", "-map", "0:v:0", "-c", "copy",
         "-f", "null", "-"],
        timeout=PROBE_TIMEOUT_S,
    )  # fmt: skip
    log = done.stderr.decode("utf-8", "replace")
    stream, rate = _VIDEO.search(log), _FPS.search(log)
    frames = _FRAMES.findall(log)
    if done.returncode != 0 or stream is None or rate is None or not frames:
        raise MediaToolError(sentence_for("join.not_a_video", name=path.name))
    codec, pix_fmt, width, height = stream.groups()
    return VideoFacts(
        path=path,
        codec=codec,
        pix_fmt=pix_fmt,
        width=int(width),
        height=int(height),
        fps=_fps(rate.group(1)),
        frames=int(frames[-1]),
        parameter_sets=_parameter_sets(path) if codec == "h264" else b"",
    )


def _parameter_sets(path: Path) -> bytes:
    """The SPS and PPS NAL units of an H.264 stream, as the first frame carries them in
    Annex B form."""
    done = run_ffmpeg(
        ["-i", f"file:{path}", "-map", "0:v:0", "-c", "copy", "-bsf:v", "h264_mp4toannexb",
         "-frames:v", "1", "-f", "h264", "pipe:1"],
        timeout=PROBE_TIMEOUT_S,
    )  # fmt: skip
    units = [u for u in (part.rstrip(b"\x00") for part in _START_CODE.split(done.stdout)) if u]
    return b"".join(b"\x00\x00\x01" + unit for unit in units if unit[0] & 0x1F in (7, 8))
