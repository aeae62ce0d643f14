"""One video from the parts of a long speech: the parts' pictures in order, the speech as
sent laid over the whole.

- **The original sound.** The parts' own sound tracks are dropped; the speech as sent
  (`inputs/long_speech.py`) is laid over the joined picture, so the sound has no seams and
  any lip-sync error of a part stays inside that part instead of building up.
- **The seams in place.** Part k's picture belongs between cut k-1 and cut k of the
  speech. Each part is counted in frames against that span; a part may run a frame long
  or short at a seam, but never more (a seam is in a pause, where the face is at rest),
  and the picture ends within a frame of the audio's end: a last part further off has its
  last frame held, or the extra trimmed. (A part's video is often a frame longer than
  its share of the speech, its length rounded up to whole frames; trimming that one
  frame would mean re-encoding the part, and then, its encoder's settings differing from
  the provider's, the whole picture.)
- **Re-encoded only where needed.** A part that has the first part's codec (H.264),
  size, frame rate, pixel format and parameter sets, and the right number of frames, is
  copied as it is (ffmpeg's concat demuxer, stream copy). Any other part is re-encoded
  alone to the first part's format and to its exact frame count. Only when a re-encoded
  part's parameter sets still differ from the copied parts' (another encoder's settings)
  is the whole picture re-encoded in one pass.

Memory: ffmpeg reads and writes files; this process holds no picture and no sound.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from avatar_core.catalogue import sentence_for
from avatar_core.errors import MediaToolError
from avatar_core.inputs.ffmpeg import run_ffmpeg_files
from avatar_core.inputs.loudness import envelope_of_file
from avatar_core.media.probe import VideoFacts, probe_video

CRF = "23"
PRESET = "veryfast"
AUDIO_BITRATE = "160k"
JOIN_TIMEOUT_S = 1800.0
SEAM_SLACK_FRAMES = 1  # how far a copied part may move a seam, in frames


@dataclass(frozen=True)
class Joined:
    path: Path
    seams: tuple[float, ...]  # seconds of the video where one part ends and the next begins
    frames: int
    fps: Fraction
    audio_s: float
    reencoded: tuple[int, ...]  # the parts (from 0) re-encoded to fit; the others copied
    reencoded_all: bool = False

    @property
    def video_s(self) -> float:
        return float(self.frames / self.fps)


def _round(value: float) -> int:
    return math.floor(value + 0.5)


def frame_targets(seams: Sequence[float], audio_s: float, fps: Fraction) -> list[int]:
    """How many frames each part should have so that part k ends at seam k and the last
    ends at the audio's end (each to the nearest frame)."""
    ends = [_round(seam * fps) for seam in seams] + [_round(audio_s * fps)]
    starts = [0, *ends[:-1]]
    return [end - start for start, end in zip(starts, ends, strict=True)]


def plan_copies(facts: Sequence[VideoFacts], targets: Sequence[int]) -> list[int | None]:
    """For each part, None to copy it as it is, or the frame count to re-encode it to:
    a part is copied when it has the first part's format and leaves the running picture
    within SEAM_SLACK_FRAMES of its seam (the last one: of the audio's end)."""
    reference = facts[0]
    plan: list[int | None] = []
    drift = 0  # frames the picture is ahead (+) or behind (-) of the seams so far
    for part, target in zip(facts, targets, strict=True):
        after = drift + part.frames - target
        if reference.same_format(part) and abs(after) <= SEAM_SLACK_FRAMES:
            plan.append(None)
            drift = after
        else:
            plan.append(max(1, target - drift))
            drift = 0
    return plan


def _reencode(part: VideoFacts, reference: VideoFacts, frames: int, out: Path) -> Path:
    """`part`'s picture in `reference`'s format, `frames` long (its last frame held when
    it is shorter)."""
    width, height, fps = reference.width, reference.height, reference.fps
    hold = max(0.0, float((frames - part.frames) / fps)) + 1.0
    chain = (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={fps},"
        f"tpad=stop_mode=clone:stop_duration={hold:.3f},format=yuv420p"
    )
    run_ffmpeg_files(
        ["-y", "-i", f"file:{part.path}", "-map", "0:v:0", "-vf", chain,
         "-frames:v", str(frames), "-c:v", "libx264", "-preset", PRESET, "-crf", CRF,
         "-an", "-f", "mp4", f"file:{out}"],
        timeout=JOIN_TIMEOUT_S,
        failed="join.failed",
    )  # fmt: skip
    return out


def _concat_list(pieces: Sequence[tuple[Path, float]], folder: Path) -> Path:
    """The concat demuxer's list; each piece's duration is its picture's (frames / fps),
    so a part's sound track running longer does not push the next part later."""
    listing = folder / "parts.txt"
    lines = ["ffconcat version 1.0"]
    for path, seconds in pieces:
        quoted = str(path.resolve()).replace("'", "'\\''")
        lines += [f"file '{quoted}'", f"duration {seconds:.6f}"]
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return listing


def _concatenate(
    pieces: Sequence[tuple[Path, float]], folder: Path, out: Path, *, copy: bool
) -> None:
    listing = _concat_list(pieces, folder)
    codec = ["-c:v", "copy"] if copy else ["-c:v", "libx264", "-preset", PRESET, "-crf", CRF]
    run_ffmpeg_files(
        ["-y", "-f", "concat", "-safe", "0", "-i", f"file:{listing}", "-map", "0:v:0",
         *codec, "-an", "-f", "mp4", f"file:{out}"],
        timeout=JOIN_TIMEOUT_S,
        failed="join.failed",
    )  # fmt: skip


def _lay_over(picture: Path, speech: Path, out: Path) -> None:
    """The picture with `speech` as its only sound, playable in a browser."""
    run_ffmpeg_files(
        ["-y", "-i", f"file:{picture}", "-i", f"file:{speech}", "-map", "0:v:0", "-map", "1:a:0",
         "-c:v", "copy", "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-map_metadata", "-1",
         "-movflags", "+faststart", "-f", "mp4", f"file:{out}"],
        timeout=JOIN_TIMEOUT_S,
        failed="join.failed",
    )  # fmt: skip


def join_parts(
    videos: Sequence[Path],
    speech: Path,
    out: Path,
    *,
    seams: Sequence[float],
    work: Path,
    audio_s: float | None = None,
) -> Joined:
    """Join the parts' `videos` (in order; `seams`: the cut points of `speech`, one fewer
    than the parts) with `speech` laid over them, into `out` (written whole, then moved
    into place). `work` is a folder for the intermediate files; `audio_s`, the speech's
    length, is measured when not given."""
    if not videos or len(seams) != len(videos) - 1:
        raise ValueError("one video per part, and one seam between each two")
    work.mkdir(parents=True, exist_ok=True)
    if audio_s is None:
        audio_s = envelope_of_file(speech).duration_s
    facts = [probe_video(Path(video)) for video in videos]
    reference = facts[0]
    if reference.codec != "h264" or reference.pix_fmt != "yuv420p":
        raise MediaToolError(sentence_for("join.unexpected_format", codec=reference.codec))
    targets = frame_targets(seams, audio_s, reference.fps)
    plan = plan_copies(facts, targets)
    pieces: list[tuple[Path, int]] = []
    for index, (part, frames) in enumerate(zip(facts, plan, strict=True)):
        if frames is None:
            pieces.append((part.path, part.frames))
        else:
            fitted = _reencode(part, reference, frames, work / f"fitted-{index + 1:02d}.mp4")
            pieces.append((fitted, frames))
    reencoded = tuple(i for i, frames in enumerate(plan) if frames is not None)
    fitted_sets = {probe_video(pieces[i][0]).parameter_sets for i in reencoded}
    copy = fitted_sets <= {reference.parameter_sets}
    picture = work / "picture.mp4"
    timed = [(path, float(frames / reference.fps)) for path, frames in pieces]
    _concatenate(timed, work, picture, copy=copy)
    partial = out.with_name(out.stem + ".partial.mp4")
    _lay_over(picture, speech, partial)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(partial, out)
    counts = [frames for _, frames in pieces]
    starts = [sum(counts[: k + 1]) for k in range(len(counts) - 1)]
    return Joined(
        path=out,
        seams=tuple(float(start / reference.fps) for start in starts),
        frames=sum(counts),
        fps=reference.fps,
        audio_s=audio_s,
        reencoded=reencoded,
        reencoded_all=not copy,
    )
