"""A speech longer than the provider takes in one task, split into parts at its pauses.

The provider takes at most `max_part_s` of audio a task (its profile's `max_part_seconds`);
a speech may be up to the operator's `AVATAR_MAX_SPEECH_SECONDS` (600 s by default). Where
to cut is read from the loudness envelope (`loudness.py`), never from the samples held in
memory:

- every cut falls in the middle of a pause (a run of windows under the recording's
  silence threshold at least `MIN_PAUSE_S` long), so no word is cut;
- among the ways to cut at pauses, the one with the fewest parts (fewer seams, fewer
  tasks, and more of them run at once), then with the longest pauses;
- no part is longer than `max_part_s`, nor shorter than `min_part_s` (2 s, the provider's
  minimum: a short tail stays with its neighbour);
- a speech with a stretch longer than a part and no pause in it is cut part by part
  instead: in the last `search_s` before each limit, in its longest pause, or without
  one in the quietest `QUIET_SPAN_S` (that cut is marked `in_pause=False`).

`split_file` then writes each part as an MP3 the provider takes (mono, 24 kHz), cut to
the sample in one ffmpeg pass: the parts together are the speech, sample for sample at
that rate.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar_core.errors import InputError
from avatar_core.inputs.ffmpeg import run_ffmpeg_files
from avatar_core.inputs.loudness import Envelope
from avatar_core.units import format_seconds
from avatar_core.words import say

DEFAULT_MAX_SPEECH_S = 600.0  # AVATAR_MAX_SPEECH_SECONDS when the operator sets none
MIN_PART_S = 2.0
SEARCH_S = 15.0
MIN_PAUSE_S = 0.2
QUIET_SPAN_S = 0.3
# What the provider lip-syncs to (the video plays the speech as sent, not this): speech
# needs no more than 24 kHz, and 300 s (the longest part any profile takes) at 64 kb/s is
# 2.4 MB, under the provider's 5 MB. Half the encoding time of 44.1 kHz.
PART_RATE = 24_000
PART_BITRATE = "64k"
SPLIT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Cut:
    """Where one part ends and the next begins, in seconds of the speech."""

    at_s: float
    level_dbfs: float  # how loud the speech is there (the quiet span around the cut)
    in_pause: bool  # False: no pause near the boundary, cut in the quietest place


@dataclass(frozen=True)
class PartPlan:
    """The cuts of a speech of `duration_s`, in order; no cuts: it goes whole."""

    cuts: tuple[Cut, ...]
    duration_s: float

    @property
    def spans(self) -> list[tuple[float, float]]:
        """(start, end) of each part, in seconds of the speech."""
        edges = [0.0, *(cut.at_s for cut in self.cuts), self.duration_s]
        return list(itertools.pairwise(edges))

    @property
    def seams(self) -> list[float]:
        return [cut.at_s for cut in self.cuts]


@dataclass(frozen=True)
class SpeechPart:
    index: int  # from 0
    path: Path
    start_s: float
    end_s: float

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


def check_speech_length(
    seconds: float, *, max_speech_s: float = DEFAULT_MAX_SPEECH_S, min_s: float = MIN_PART_S
) -> None:
    """One sentence when a speech is too long (or too short) to be made at all."""
    shown = format_seconds(seconds, min_s, max_speech_s)
    if seconds > max_speech_s:
        raise InputError(
            say("speech.too_long", length=shown, maximum=format_seconds(max_speech_s)),
            field="audio",
        )
    if seconds < min_s:
        raise InputError(
            say("speech.too_short", length=shown, minimum=format_seconds(min_s)), field="audio"
        )


def _smoothed(levels: np.ndarray, span: int) -> np.ndarray:
    """The level (dBFS) of the `span` windows centred on each window."""
    power = np.power(10.0, levels.astype(np.float64) / 10.0)
    kernel = np.ones(span) / span
    mean = np.convolve(power, kernel, mode="same")
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.maximum(mean, 1e-12))


def _longest_pause(quiet: np.ndarray, lo: int, hi: int, shortest: int) -> tuple[int, int] | None:
    """The longest run of quiet windows inside [lo, hi) (the later on a tie), or None."""
    inside = np.concatenate(([False], quiet[lo:hi], [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(inside))
    best = None
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start >= shortest and (best is None or end - start >= best[1] - best[0]):
            best = (lo + int(start), lo + int(end))
    return best


def _cut_between(envelope: Envelope, smooth: np.ndarray, quiet: np.ndarray, lo: int, hi: int):
    window = envelope.window_s
    pause = _longest_pause(quiet, lo, hi, max(1, round(MIN_PAUSE_S / window)))
    if pause is not None:
        middle = (pause[0] + pause[1]) // 2
        return Cut(middle * window, float(smooth[middle]), True)
    span = smooth[lo:hi]
    quietest = lo + int(np.flatnonzero(span <= span.min() + 0.5)[-1])
    return Cut(quietest * window, float(smooth[quietest]), False)


def _pauses(envelope: Envelope, smooth: np.ndarray, quiet: np.ndarray) -> list[tuple[Cut, int]]:
    """A cut in the middle of every pause, with the pause's length in windows."""
    shortest = max(1, round(MIN_PAUSE_S / envelope.window_s))
    found = []
    padded = np.concatenate(([False], quiet, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start >= shortest:
            middle = int(start + end) // 2
            cut = Cut(middle * envelope.window_s, float(smooth[middle]), True)
            found.append((cut, int(end - start)))
    return found


def _fewest_cuts_at_pauses(
    envelope: Envelope, smooth: np.ndarray, quiet: np.ndarray, max_part_s: float, min_part_s: float
) -> list[Cut] | None:
    """The cuts at pauses that make the fewest parts within the limits (then the longest
    pauses in all); None when no such way exists. A shortest-path search over the pauses:
    `best[i]` is the best way to end a part at pause i."""
    total = envelope.duration_s
    pauses = _pauses(envelope, smooth, quiet)
    points = [0.0] + [cut.at_s for cut, _ in pauses] + [total]
    weights = [0] + [length for _, length in pauses] + [0]
    unreached = (len(points) + 1, 0)
    best = [(0, 0)] + [unreached] * (len(points) - 1)  # (parts, -pause windows) to here
    previous = [-1] * len(points)
    for i in range(1, len(points)):
        for j in range(i - 1, -1, -1):
            span = points[i] - points[j]
            if span > max_part_s:
                break
            if best[j] == unreached or span < min_part_s:
                continue
            option = (best[j][0] + 1, best[j][1] - weights[i])
            if option < best[i]:
                best[i], previous[i] = option, j
    if best[-1] == unreached:
        return None
    chosen, i = [], previous[-1]
    while i > 0:
        chosen.append(pauses[i - 1][0])
        i = previous[i]
    return chosen[::-1]


def plan_parts(
    envelope: Envelope,
    *,
    max_part_s: float,
    min_part_s: float = MIN_PART_S,
    search_s: float = SEARCH_S,
) -> PartPlan:
    """Where to cut a speech so each part is at most `max_part_s` and at least
    `min_part_s` long, each cut in a pause near the limit (see the module's docstring)."""
    if max_part_s < 2 * min_part_s + 1:
        raise ValueError("max_part_s must leave room for two parts of min_part_s")
    total = envelope.duration_s
    window = envelope.window_s
    search = min(search_s, max_part_s / 4)
    smooth = _smoothed(envelope.levels, max(1, round(QUIET_SPAN_S / window)))
    quiet = ~envelope.sound_mask() if envelope.silence_threshold() is not None else None
    if quiet is None:  # silence throughout: every place is as good; cut at the limit
        quiet = np.zeros(len(envelope.levels), dtype=bool)
    if total <= max_part_s:
        return PartPlan((), total)
    at_pauses = _fewest_cuts_at_pauses(envelope, smooth, quiet, max_part_s, min_part_s)
    if at_pauses is not None:
        return PartPlan(tuple(at_pauses), total)
    cuts: list[Cut] = []
    start = 0.0
    while total - start > max_part_s:
        lo = start + max(min_part_s, max_part_s - search)
        hi = min(start + max_part_s, total - min_part_s)
        cut = _cut_between(envelope, smooth, quiet, int(np.ceil(lo / window)), int(hi / window))
        cuts.append(cut)
        start = cut.at_s
    return PartPlan(tuple(cuts), total)


def split_file(
    speech: str | Path, plan: PartPlan, folder: Path, *, timeout: float = SPLIT_TIMEOUT_S
) -> list[SpeechPart]:
    """Write each part of `plan` as `folder/part-NN.mp3` (mono, 24 kHz), cut to the
    sample, in one decode of `speech`."""
    folder.mkdir(parents=True, exist_ok=True)
    spans = plan.spans
    samples = [(round(a * PART_RATE), round(b * PART_RATE)) for a, b in spans]
    labels = "".join(f"[s{i}]" for i in range(len(spans)))
    graph = f"[0:a]aresample={PART_RATE},aformat=channel_layouts=mono,asplit={len(spans)}{labels};"
    graph += ";".join(
        f"[s{i}]atrim=start_sample={a}:end_sample={b},asetpts=PTS-STARTPTS[p{i}]"
        for i, (a, b) in enumerate(samples)
    )
    parts = [
        SpeechPart(i, folder / f"part-{i + 1:02d}.mp3", start, end)
        for i, (start, end) in enumerate(spans)
    ]
    command = ["-y", "-i", f"file:{speech}", "-filter_complex", graph]
    for part in parts:
        command += ["-map", f"[p{part.index}]", "-c:a", "libmp3lame", "-b:a", PART_BITRATE]
        command += ["-map_metadata", "-1", "-f", "mp3", f"file:{part.path}"]
    run_ffmpeg_files(command, timeout=timeout, failed="speech.not_split")
    return parts


def plan_with_first_part(envelope: Envelope, *, max_part_s: float, first_s: float) -> PartPlan:
    """A plan whose first part lasts at most `first_s` (a preview of the speech), cut in a
    pause as `plan_parts` cuts; the rest cut as `plan_parts` cuts it, in parts of at most
    `max_part_s`. A speech no longer than `first_s` goes whole."""
    if envelope.duration_s <= first_s:
        return plan_parts(envelope, max_part_s=max_part_s)
    head_s = min(envelope.duration_s, first_s + max_part_s)  # enough to choose the first cut
    head_windows = round(head_s / envelope.window_s)
    head = Envelope(envelope.levels[:head_windows], envelope.window_s, head_s)
    first = plan_parts(head, max_part_s=first_s).cuts[0]
    start = round(first.at_s / envelope.window_s)
    rest = Envelope(envelope.levels[start:], envelope.window_s, envelope.duration_s - first.at_s)
    later = plan_parts(rest, max_part_s=max_part_s).cuts
    moved = (Cut(cut.at_s + first.at_s, cut.level_dbfs, cut.in_pause) for cut in later)
    return PartPlan((first, *moved), envelope.duration_s)
