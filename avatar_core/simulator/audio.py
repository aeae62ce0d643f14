"""Audio as the provider sees it: the format by content, the samples by decoding.

Durations are measured by decoding with ffmpeg (not read from headers, which lie for
VBR MP3s), and the same samples drive the render's motion.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from avatar_core.errors import MediaToolError
from avatar_core.inputs.ffmpeg import run_ffmpeg

ANALYSIS_RATE = 16_000  # Hz; enough to measure duration and loudness

_M4A_BRANDS = {b"M4A ", b"M4B ", b"mp42", b"mp41", b"isom", b"iso2", b"iso5", b"iso6", b"dash"}


class AudioDecodeError(Exception):
    """ffmpeg found no audio it could decode."""


def _skip_id3(data: bytes) -> bytes:
    if data[:3] == b"ID3" and len(data) >= 10:
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        return data[10 + size :]
    return data


def sniff_audio(data: bytes) -> str | None:
    """The format - "mp3", "wav", "m4a" or "aac" - judged from the bytes; None if none."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[4:8] == b"ftyp" and data[8:12] in _M4A_BRANDS:
        return "m4a"
    body = _skip_id3(data)
    if body[:4] == b"ADIF":
        return "aac"
    if len(body) >= 2 and body[0] == 0xFF:
        if (body[1] & 0xF6) == 0xF0:  # 12-bit sync, layer 00: ADTS
            return "aac"
        if (body[1] & 0xE0) == 0xE0 and ((body[1] >> 1) & 0x03) == 0x01:  # MPEG layer III
            return "mp3"
    if body is not data:  # an ID3 tag in front of something else: call it MP3, let ffmpeg judge
        return "mp3"
    return None


def decode_mono(path: str | Path, rate: int = ANALYSIS_RATE) -> np.ndarray:
    """The first audio stream of a file as mono float32 samples in [-1, 1] at `rate`."""
    try:
        done = run_ffmpeg(
            ["-i", str(path), "-vn", "-map", "0:a:0", "-ac", "1", "-ar", str(rate),
             "-f", "s16le", "-acodec", "pcm_s16le", "-"],
            timeout=60,
        )  # fmt: skip
    except MediaToolError as exc:
        raise AudioDecodeError(str(exc)) from exc
    if done.returncode != 0 or len(done.stdout) < 2:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AudioDecodeError(reason[-1] if reason else "no audio samples")
    pcm = np.frombuffer(done.stdout[: len(done.stdout) // 2 * 2], dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def decode_bytes(data: bytes, rate: int = ANALYSIS_RATE) -> np.ndarray:
    """Like decode_mono, for bytes (through a temporary file: M4A needs to seek)."""
    with tempfile.NamedTemporaryFile(suffix=".audio") as handle:
        handle.write(data)
        handle.flush()
        return decode_mono(handle.name, rate)


def duration_of(samples: np.ndarray, rate: int = ANALYSIS_RATE) -> float:
    return len(samples) / float(rate)
