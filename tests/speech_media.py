"""Speech-like sound made on the spot: phrases of voiced sound with pauses between them.

espeak-ng is not on every machine, so a "phrase" is a harmonic tone whose pitch glides and
whose loudness pulses like syllables (never falling silent inside a phrase), and a pause
is near-silence (a faint hiss at about -80 dBFS, as a quiet room). The layout is known, so
a test can check that a cut fell inside a pause.

`speech_like(seconds, ...)` gives the samples and the layout; `wav_bytes` and
`write_wav` make a WAV of them; `encode(path, out, ...)` any other format through the
app's ffmpeg.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar_core.inputs.ffmpeg import run_ffmpeg


@dataclass(frozen=True)
class SpeechLike:
    samples: np.ndarray  # int16, shape (frames, channels)
    rate: int
    pauses: tuple[tuple[float, float], ...]  # (start, end) seconds of each pause inside
    first_sound: float
    last_sound: float

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def _phrase(seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    pitch = rng.uniform(110, 220) * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    syllables = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(3.0, 5.0) * t) ** 2
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.03)
    return 0.25 * voice * syllables * ramp


def speech_like(
    seconds: float,
    *,
    rate: int = 44_100,
    channels: int = 1,
    lead: float = 0.0,
    tail: float = 0.0,
    phrase: tuple[float, float] = (2.5, 9.0),
    pause: tuple[float, float] = (0.5, 1.2),
    seed: int = 1,
) -> SpeechLike:
    """About `seconds` of phrases and pauses (exactly `seconds` with `lead` and `tail`
    seconds of near-silence before the first phrase and after the last)."""
    rng = np.random.default_rng(seed)
    pieces, pauses = [], []
    now = lead
    body = seconds - lead - tail
    while True:
        remaining = lead + body - now
        if remaining <= phrase[1] + pause[1] + phrase[0]:  # the last phrase fills the body
            pieces.append(_phrase(remaining, rate, rng))
            break
        length = rng.uniform(*phrase)
        pieces.append(_phrase(length, rate, rng))
        now += length
        gap = rng.uniform(*pause)
        pauses.append((now, now + gap))
        pieces.append(np.zeros(round((now + gap) * rate) - round(now * rate)))
        now += gap
    voiced = np.concatenate(pieces)
    frames = round(seconds * rate)
    mono = np.zeros(frames)
    start = round(lead * rate)
    mono[start : start + len(voiced)] = voiced[: frames - start]
    mono += rng.normal(0.0, 1e-4, frames)  # a quiet room, not digital silence
    last = (start + len(voiced)) / rate
    left = _pcm16(mono * 32767)
    if channels == 1:
        samples = left[:, None]
    else:  # the right channel at 0.8 of the left (the same arithmetic as scaling it first)
        right = _pcm16(mono * 0.8 * 32767) if channels == 2 else left
        samples = np.column_stack([left, right, *[left] * (channels - 2)])
    return SpeechLike(samples, rate, tuple(pauses), first_sound=lead, last_sound=last)


def _pcm16(scaled: np.ndarray) -> np.ndarray:
    """16-bit samples of `scaled` (clipped, truncated towards zero), made in place."""
    np.clip(scaled, -32768, 32767, out=scaled)
    return scaled.astype(np.int16)


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """A 16-bit PCM WAV of `samples` (frames × channels)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


def write_wav(path: Path, speech: SpeechLike) -> Path:
    path.write_bytes(wav_bytes(speech.samples, speech.rate))
    return path


def encode(source: Path, out: Path, *args: str) -> Path:
    """`source` re-encoded by ffmpeg to `out` (the format from its suffix), with `args`."""
    done = run_ffmpeg(["-y", "-i", str(source), *args, str(out)])
    assert done.returncode == 0, done.stderr.decode()
    return out


def decode(path: Path, *, rate: int = 16_000) -> np.ndarray:
    """The first audio stream of `path` as mono float32 at `rate`."""
    args = ["-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(rate)]
    done = run_ffmpeg([*args, "-f", "f32le", "pipe:1"])
    assert done.returncode == 0, done.stderr.decode()
    return np.frombuffer(done.stdout, dtype="<f4")
