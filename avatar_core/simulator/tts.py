"""The simulator's text to speech: speech-like audio, and the audio ids it has issued.

No speech engine is guaranteed on the machine (espeak-ng is optional), so the voice is
synthesised: a buzzing "voice" whose pitch depends on the voice id, with a loudness that
follows the text - letters sound, spaces dip, punctuation pauses. It is not words, but it
has the rhythm of speech, which is what the render's motion and the tests need. The same
text and voice always give the same audio. Every voice speaks each language the voice table
lists it in; Chinese is spoken a character at a time, so it is slower per character.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avatar_core.errors import MediaToolError
from avatar_core.inputs.ffmpeg import run_ffmpeg
from avatar_core.simulator.wire import new_numeric_id, now_ms

CHARS_PER_SECOND = {"en": 14.0, "zh": 5.0}  # letters of English, characters of Chinese
MIN_SECONDS = 1.0
SAMPLE_RATE = 22_050
_HARMONICS = 10
_PAUSES = set(".,;:!?\n")
_VOWELS = set("aeiouyAEIOUY")


@dataclass(frozen=True)
class AudioClip:
    """An audio the simulator's TTS made; `id` is what a create's `audio_id` refers to."""

    id: str
    task_id: str
    path: Path
    duration: float
    voice_id: str
    created_at: int


def tts_data(clip: AudioClip, base_url: str) -> dict[str, Any]:
    """The `data` a TTS request answers with: the audio is ready at once."""
    return {
        "task_id": clip.task_id,
        "task_status": "succeed",
        "task_status_msg": "",
        "created_at": clip.created_at,
        "updated_at": clip.created_at,
        "task_result": {
            "audios": [
                {
                    "id": clip.id,
                    "url": f"{base_url}/results/audio/{clip.id}.mp3",
                    "duration": f"{clip.duration:.1f}",
                }
            ]
        },
    }


def speech_seconds(text: str, speed: float, language: str = "en") -> float:
    """How long the simulated voice takes to say `text` at `speed` in `language`."""
    return max(MIN_SECONDS, len(text) / CHARS_PER_SECOND[language] / speed)


def synthesize(text: str, voice_id: str, speed: float = 1.0, language: str = "en") -> np.ndarray:
    """Speech-like mono float32 samples at SAMPLE_RATE."""
    seed = int.from_bytes(hashlib.sha256(f"{voice_id}\0{text}".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    total = round(speech_seconds(text, speed, language) * SAMPLE_RATE)
    chars = text if text else " "
    bounds = np.linspace(0, total, len(chars) + 1).astype(int)

    voice_hash = int(hashlib.sha256(voice_id.encode()).hexdigest()[:8], 16)
    f0_base = 95.0 + voice_hash % 140  # Hz: low male to high child voices
    t = np.arange(total, dtype=np.float64) / SAMPLE_RATE
    f0 = f0_base * (1.0 + 0.08 * np.sin(2 * np.pi * 0.7 * t) + 0.03 * np.sin(2 * np.pi * 3.1 * t))
    phase = np.cumsum(2 * np.pi * f0 / SAMPLE_RATE)

    out = np.zeros(total, dtype=np.float64)
    level = np.zeros(total, dtype=np.float64)
    k = np.arange(1, _HARMONICS + 1)
    for index, char in enumerate(chars):
        start, end = bounds[index], bounds[index + 1]
        if end <= start:
            continue
        if char in _PAUSES:
            level[start:end] = 0.0
            continue
        if char.isspace():
            level[start:end] = 0.08
            continue
        level[start:end] = 1.0 if char in _VOWELS else 0.6 + 0.2 * rng.random()
        formant = 350.0 + (ord(char) * 37) % 1800
        weights = np.exp(-((((k * f0_base) - formant) / 400.0) ** 2)) + 0.35 / k
        segment = np.sin(np.outer(phase[start:end], k)) @ weights
        if char not in _VOWELS and char.isalpha():  # consonants hiss a little
            segment = 0.6 * segment + 1.5 * rng.standard_normal(end - start)
        out[start:end] = segment

    # Smooth the loudness so syllables swell and fade instead of clicking.
    window = max(1, int(0.03 * SAMPLE_RATE))
    level = np.convolve(level, np.hanning(window) / np.hanning(window).sum(), mode="same")
    out *= level
    peak = float(np.max(np.abs(out))) or 1.0
    return (0.6 * out / peak).astype(np.float32)


def encode_mp3(samples: np.ndarray, path: Path, rate: int = SAMPLE_RATE) -> None:
    """Write mono float samples as an MP3 with ffmpeg."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    done = run_ffmpeg(
        ["-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "-",
         "-c:a", "libmp3lame", "-b:a", "64k", "-y", str(path)],
        input_bytes=pcm,
    )  # fmt: skip
    if done.returncode != 0:
        raise MediaToolError("ffmpeg could not encode the simulated speech as MP3.")


class AudioStore:
    """The audios the TTS issued, by id (thread-safe). Files live in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._clips: dict[str, AudioClip] = {}

    def speak(self, text: str, voice_id: str, speed: float, language: str = "en") -> AudioClip:
        samples = synthesize(text, voice_id, speed, language)
        self.folder.mkdir(parents=True, exist_ok=True)
        clip_id = new_numeric_id()
        path = self.folder / f"{clip_id}.mp3"
        encode_mp3(samples, path)
        clip = AudioClip(
            id=clip_id,
            task_id=new_numeric_id(),
            path=path,
            duration=len(samples) / SAMPLE_RATE,
            voice_id=voice_id,
            created_at=now_ms(),
        )
        with self._lock:
            self._clips[clip_id] = clip
        return clip

    def get(self, clip_id: str) -> AudioClip | None:
        with self._lock:
            return self._clips.get(clip_id)

    def clear(self) -> None:
        with self._lock:
            self._clips.clear()
