"""Never paying for silence: which stretches of a voice are kept, and leaving out the rest.

The provider bills by the second of audio and the video is as long as the audio, so
silence before the first word and after the last is paid for and shows as a staring face.
`plan_silence` reads a loudness envelope (`loudness.py`) and keeps:

- from `EDGE_KEEP_S` before the first sound to `EDGE_KEEP_S` after the last (the face
  starts and ends at rest, and no soft first or last syllable is clipped); an edge is
  trimmed only when it holds at least `MIN_EDGE_CUT_S` more silence than that, so a
  recording that is already tight is sent as it is;
- with `shorten_pauses` (off by default), every pause inside the speech longer than
  `LONG_PAUSE_S` shortened to `PAUSE_KEPT_S`, cut in its middle.

Nothing is trimmed from a recording that is silence throughout (the voice check warns
about it), nor when trimming would leave it shorter than the provider's minimum. The
speech as trimmed is what is sent and what the video plays.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from avatar_core.catalogue import Message, sentence_for
from avatar_core.inputs.loudness import Envelope, envelope_of_pcm
from avatar_core.units import format_seconds

EDGE_KEEP_S = 0.2
MIN_EDGE_CUT_S = 0.5
LONG_PAUSE_S = 1.5
PAUSE_KEPT_S = 0.6

Span = tuple[float, float]


@dataclass(frozen=True)
class SilencePlan:
    """The stretches of the source kept (seconds, in order) and what was left out."""

    keep: tuple[Span, ...]
    source_s: float
    lead_s: float = 0.0  # trimmed before the first sound
    tail_s: float = 0.0  # trimmed after the last sound
    pauses_s: float = 0.0  # taken out of long pauses inside the speech
    pauses_shortened: int = 0

    @property
    def removed_s(self) -> float:
        return self.lead_s + self.tail_s + self.pauses_s

    @property
    def kept_s(self) -> float:
        return sum(end - start for start, end in self.keep)

    @property
    def changed(self) -> bool:
        return self.removed_s > 0

    def sentences(self) -> list[Message]:
        """What was left out, for the voice check (nothing when nothing was)."""
        said = []
        lead, tail = format_seconds(self.lead_s), format_seconds(self.tail_s)
        if self.lead_s and self.tail_s:
            where = sentence_for("silence.start_and_end", lead=lead, tail=tail)
        elif self.lead_s or self.tail_s:
            where = sentence_for(
                "silence.at_start" if self.lead_s else "silence.at_end",
                seconds=lead if self.lead_s else tail,
            )
        if self.lead_s or self.tail_s:
            edges = format_seconds(self.lead_s + self.tail_s)
            said.append(sentence_for("silence.edges_left_out", seconds=edges, where=where))
        if self.pauses_shortened:
            said.append(
                sentence_for(
                    "silence.pauses_shortened",
                    count=self.pauses_shortened,
                    longer=format_seconds(LONG_PAUSE_S),
                    kept=format_seconds(PAUSE_KEPT_S),
                    seconds=format_seconds(self.pauses_s),
                )
            )
        return said


def kept_envelope(envelope: Envelope, plan: SilencePlan) -> Envelope:
    """The envelope of the voice as `plan` keeps it (the windows of the kept stretches),
    so the kept voice need not be measured again."""
    window = envelope.window_s
    pieces = [envelope.levels[round(a / window) : round(b / window)] for a, b in plan.keep]
    levels = np.concatenate(pieces) if pieces else envelope.levels[:0]
    return Envelope(levels, window, min(plan.kept_s, len(levels) * window))


def unchanged(source_s: float) -> SilencePlan:
    return SilencePlan(keep=((0.0, source_s),), source_s=source_s)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) window indexes of each run of True in `mask`."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def plan_silence(
    envelope: Envelope, *, shorten_pauses: bool = False, min_seconds: float = 0.0
) -> SilencePlan:
    """What of the voice to keep; `min_seconds`: never trim it shorter than this."""
    total = envelope.duration_s
    sound = envelope.sound_mask()
    if not sound.any():
        return unchanged(total)
    runs = _runs(sound)
    first, last = envelope.time_of(runs[0][0]), envelope.time_of(runs[-1][1])
    start = max(0.0, first - EDGE_KEEP_S) if first >= EDGE_KEEP_S + MIN_EDGE_CUT_S else 0.0
    end = min(total, last + EDGE_KEEP_S) if total - last >= EDGE_KEEP_S + MIN_EDGE_CUT_S else total
    keep: list[Span] = []
    removed_pauses, shortened = 0.0, 0
    cursor = start
    if shorten_pauses:
        for (_, gap_start), (gap_end, _) in itertools.pairwise(runs):
            a, b = envelope.time_of(gap_start), envelope.time_of(gap_end)
            if b - a > LONG_PAUSE_S:
                keep.append((cursor, a + PAUSE_KEPT_S / 2))
                cursor = b - PAUSE_KEPT_S / 2
                removed_pauses += b - a - PAUSE_KEPT_S
                shortened += 1
    keep.append((cursor, end))
    plan = SilencePlan(
        keep=tuple(keep),
        source_s=total,
        lead_s=start,
        tail_s=total - end,
        pauses_s=removed_pauses,
        pauses_shortened=shortened,
    )
    if plan.changed and plan.kept_s < min_seconds:
        return unchanged(total)
    return plan


def leave_out_silence(
    pcm: bytes, *, channels: int, rate: int, shorten_pauses: bool = False, min_seconds: float = 0.0
) -> tuple[bytes, SilencePlan]:
    """Interleaved 16-bit samples without the silence `plan_silence` leaves out, and the
    plan (the same bytes when nothing is left out)."""
    envelope = envelope_of_pcm(pcm, channels=channels, rate=rate)
    plan = plan_silence(envelope, shorten_pauses=shorten_pauses, min_seconds=min_seconds)
    if not plan.changed:
        return pcm, plan
    frame = 2 * channels
    view = memoryview(pcm)
    kept = b"".join(view[round(a * rate) * frame : round(b * rate) * frame] for a, b in plan.keep)
    return kept, plan
