"""How loud a voice is, 10 ms at a time: the one measure silence trimming and splitting read.

An `Envelope` holds one level in dBFS per window (the RMS of every sample of every channel
in it), so ten minutes are 60,000 numbers whatever the sample rate. It is made from
samples already in memory (`envelope_of_pcm`, block by block so no float copy of the whole
sound is made) or from a file decoded by ffmpeg through a pipe (`envelope_of_file`: the
file is never held decoded in memory).

What counts as silence is judged against the recording itself (`silence_threshold`): a
quiet room's hiss is silence beside the voice, and a whisper is still sound.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar_core.catalogue import sentence_for
from avatar_core.errors import MediaToolError
from avatar_core.inputs.ffmpeg import stream_ffmpeg

WINDOW_S = 0.01
ANALYSIS_RATE = 16_000  # Hz, of the decode `envelope_of_file` reads: plenty for loudness
FLOOR_DBFS = -100.0  # digital silence reads as this, not -inf
SILENT_RECORDING_DBFS = -60.0  # a recording whose loud part is quieter has no sound to find
_BLOCK_WINDOWS = 1000  # windows measured at a time (10 s)
_READ_BYTES = ANALYSIS_RATE // 100 * 2 * _BLOCK_WINDOWS
DECODE_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Envelope:
    """One loudness level (dBFS) per window of `window_s`; `duration_s` is exact."""

    levels: np.ndarray  # float32, one per window
    window_s: float
    duration_s: float

    def __len__(self) -> int:
        return len(self.levels)

    def silence_threshold(self) -> float | None:
        """The level under which a window is silence here; None when the whole recording
        is silence (nothing to trim, nowhere better to cut).

        Silence is at least 30 dB under the loud part (its 95th percentile), or 10 dB
        above the noise floor (the 10th percentile) when the room is noisy, but never
        closer than 15 dB to the loud part, so a recording without pauses stays sound.
        """
        if len(self.levels) == 0:
            return None
        loud = float(np.percentile(self.levels, 95))
        if loud < SILENT_RECORDING_DBFS:
            return None
        floor = float(np.percentile(self.levels, 10))
        return max(min(max(loud - 30.0, floor + 10.0), loud - 15.0), -70.0)

    def sound_mask(self) -> np.ndarray:
        """True for each window above the silence threshold (all False: no sound)."""
        threshold = self.silence_threshold()
        if threshold is None:
            return np.zeros(len(self.levels), dtype=bool)
        return self.levels > threshold

    def time_of(self, index: int) -> float:
        """The start of window `index`, in seconds (the end of the sound past the last)."""
        return min(index * self.window_s, self.duration_s)


def _levels(squares: np.ndarray, per_window: int) -> np.ndarray:
    """dBFS of each whole window of a block of squared samples (the last may be partial)."""
    windows = -(-len(squares) // per_window)
    padded = np.zeros(windows * per_window, dtype=np.float64)
    padded[: len(squares)] = squares
    counts = np.full(windows, per_window, dtype=np.float64)
    counts[-1] = len(squares) - (windows - 1) * per_window
    mean = padded.reshape(windows, per_window).sum(axis=1) / counts
    with np.errstate(divide="ignore"):
        decibels = 10.0 * np.log10(mean / (32768.0 * 32768.0))
    return np.maximum(decibels, FLOOR_DBFS).astype(np.float32)


def envelope_of_pcm(pcm: bytes | memoryview, *, channels: int, rate: int) -> Envelope:
    """The envelope of interleaved 16-bit little-endian samples (a WAV's data, pydub's
    `raw_data`), measured 10 s at a time."""
    samples = np.frombuffer(pcm, dtype="<i2")
    frames = len(samples) // channels
    per_window = max(1, round(rate * WINDOW_S))
    block = per_window * _BLOCK_WINDOWS
    parts = []
    for start in range(0, frames, block):
        chunk = samples[start * channels : min(frames, start + block) * channels]
        squared = np.square(chunk.reshape(-1, channels).astype(np.float64)).mean(axis=1)
        parts.append(_levels(squared, per_window))
    levels = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    return Envelope(levels, per_window / rate, frames / rate)


def envelope_of_file(path: str | Path, *, timeout: float = DECODE_TIMEOUT_S) -> Envelope:
    """The envelope of a sound file's first audio stream, decoded by ffmpeg to mono
    16 kHz through a pipe and measured as it comes (memory stays a few hundred KB)."""
    args = [
        "-i", f"file:{path}", "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(ANALYSIS_RATE),
        "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1",
    ]  # fmt: skip
    per_window = ANALYSIS_RATE // 100
    parts: list[np.ndarray] = []
    samples = 0
    carry = b""
    # ffmpeg's messages go to a file and a timer stops it: a damaged file's many messages
    # never fill a pipe nobody reads, and a decode never outlasts `timeout`
    with tempfile.TemporaryDirectory(prefix="avatar-loudness-") as folder:
        with stream_ffmpeg(args, log=Path(folder) / "ffmpeg.log", timeout=timeout) as run:
            while chunk := run.output.read(_READ_BYTES):
                data = carry + chunk
                whole = len(data) // (2 * per_window) * (2 * per_window)
                data, carry = data[:whole], data[whole:]
                if data:
                    squared = np.square(np.frombuffer(data, dtype="<i2").astype(np.float64))
                    parts.append(_levels(squared, per_window))
                    samples += len(data) // 2
        if len(carry) >= 2:
            tail = np.frombuffer(carry[: len(carry) // 2 * 2], dtype="<i2").astype(np.float64)
            parts.append(_levels(np.square(tail), per_window))
            samples += len(tail)
        if run.returncode != 0 or samples == 0:
            reason = " ".join(run.log_text().strip().splitlines()[-1:]) or "no samples"
            raise MediaToolError(sentence_for("speech.undecodable", reason=reason))
    levels = np.concatenate(parts)
    return Envelope(levels, per_window / ANALYSIS_RATE, samples / ANALYSIS_RATE)
