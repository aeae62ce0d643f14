"""A long voice made ready to send as parts: the silence left out, then split at pauses.

`prepare_long_speech` is what a speech longer than the provider's part limit goes
through before any part is sent:

1. its loudness is measured through a pipe (`loudness.envelope_of_file`);
2. the silence before the first sound and after the last (and, on request, the length of
   long pauses) is left out (`silence.plan_silence`), and what is left is written as the
   *speech as sent*: a 48 kHz FLAC file, lossless. It is the sound the finished video
   plays (`media/join.py` lays it over the joined parts);
3. its length is checked against the speech limit (`AVATAR_MAX_SPEECH_SECONDS`);
4. it is cut at pauses into parts the provider takes (`speech_parts`).

Nothing here holds the decoded speech in memory: ffmpeg reads and writes files, Python
reads 10 ms loudness levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from avatar_core.inputs import speech_parts
from avatar_core.inputs.ffmpeg import run_ffmpeg_files
from avatar_core.inputs.loudness import envelope_of_file
from avatar_core.inputs.silence import SilencePlan, kept_envelope, plan_silence
from avatar_core.inputs.speech_parts import PartPlan, SpeechPart

SPEECH_RATE = 48_000
TIMEOUT_S = 600.0
_FRAME = SPEECH_RATE // 100  # samples of one 10 ms loudness window


@dataclass(frozen=True)
class LongSpeech:
    speech: Path  # the speech as sent: what the video plays
    silence: SilencePlan | None  # what was left out of the source (None: made before)
    plan: PartPlan  # where it is cut (seconds of the speech as sent)
    parts: list[SpeechPart]

    @property
    def seconds(self) -> float:
        return self.plan.duration_s


def keep_only(source: str | Path, silence: SilencePlan, out: Path) -> Path:
    """Write the stretches `silence` keeps of `source` to `out` (FLAC, 48 kHz, mono or
    stereo), each to the 10 ms window the plan was measured in."""
    wanted = "+".join(f"between(t,{a - 0.005:.3f},{b - 0.005:.3f})" for a, b in silence.keep)
    chain = (
        f"asetpts=PTS-STARTPTS,aresample={SPEECH_RATE},"
        "aformat=sample_fmts=s16:channel_layouts=mono|stereo,"
        f"asetnsamples=n={_FRAME}:p=0,aselect='{wanted}',asetpts=N/SR/TB"
    )
    return _write_flac(source, chain, out)


def write_speech(source: str | Path, out: Path) -> Path:
    """The whole of `source` as the speech as sent (FLAC, 48 kHz, mono or stereo)."""
    chain = f"aresample={SPEECH_RATE},aformat=sample_fmts=s16:channel_layouts=mono|stereo"
    return _write_flac(source, chain, out)


def _write_flac(source: str | Path, chain: str, out: Path) -> Path:
    """`source`'s first audio stream through the filter `chain`, written to `out` as FLAC."""
    run_ffmpeg_files(
        ["-y", "-i", f"file:{source}", "-map", "0:a:0", "-vn", "-af", chain,
         "-c:a", "flac", "-compression_level", "1", "-f", "flac", f"file:{out}"],
        timeout=TIMEOUT_S,
        failed="speech.not_written",
    )  # fmt: skip
    return out


def prepare_long_speech(
    source: str | Path,
    folder: Path,
    *,
    max_part_s: float,
    max_speech_s: float = speech_parts.DEFAULT_MAX_SPEECH_S,
    shorten_pauses: bool = False,
    first_part_s: float | None = None,
) -> LongSpeech:
    """The speech as sent and its parts, written into `folder`; raises InputError with one
    sentence when the speech (without its silence) is longer than `max_speech_s`.
    `first_part_s`: the first part lasts at most this (a preview of the speech)."""
    folder.mkdir(parents=True, exist_ok=True)
    measured = envelope_of_file(source)
    silence = plan_silence(
        measured, shorten_pauses=shorten_pauses, min_seconds=speech_parts.MIN_PART_S
    )
    speech_parts.check_speech_length(silence.kept_s, max_speech_s=max_speech_s)
    speech = folder / "speech.flac"
    if silence.changed:
        keep_only(source, silence, speech)
    else:
        write_speech(source, speech)
    envelope = kept_envelope(measured, silence)
    if first_part_s is None:
        plan = speech_parts.plan_parts(envelope, max_part_s=max_part_s)
    else:  # a preview's part first: at most `first_part_s`
        plan = speech_parts.plan_with_first_part(
            envelope, max_part_s=max_part_s, first_s=first_part_s
        )
    parts = speech_parts.split_file(speech, plan, folder / "parts")
    return LongSpeech(speech, silence, plan, parts)
