"""The join: a long speech's parts made into one video with the speech as sent laid over
it. Real media throughout: speech-like sound made here, part videos rendered by the
simulator's renderer or encoded by ffmpeg, the result decoded again."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from media import PORTRAIT
from speech_media import decode, speech_like, write_wav

from avatar_core.errors import MediaToolError
from avatar_core.inputs.ffmpeg import run_ffmpeg
from avatar_core.inputs.long_speech import prepare_long_speech
from avatar_core.media.join import frame_targets, join_parts
from avatar_core.media.probe import probe_video
from avatar_core.simulator.render import render_avatar

RATE = 16_000
FPS = 25
FRAME_S = 1 / FPS
# the made-up parts of the cases below: 4 s each (the join counts frames, whatever the length)
SEAM = 4.0
PART = round(SEAM * FPS)  # 100 frames


def _same_sound(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


class _Encoded:
    """The part videos encoded in this module, each distinct one once (`folder`: set for
    the module by `_encoded_once`)."""

    folder: Path | None = None
    made: dict[tuple, Path] = {}  # noqa: RUF012 - one module's, cleared by the fixture


@pytest.fixture(scope="module", autouse=True)
def _encoded_once(tmp_path_factory):
    _Encoded.folder, _Encoded.made = tmp_path_factory.mktemp("part-videos"), {}
    yield
    _Encoded.folder, _Encoded.made = None, {}


def _part_video(path: Path, frames: int, *, size="128x128", tone=300, profile="high"):
    """A part's video as a provider might send it: H.264 + AAC, its own sound a tone
    (encoded once for each distinct set of arguments; each test gets its own copy)."""
    key = (frames, size, tone, profile)
    if key not in _Encoded.made:
        assert _Encoded.folder is not None
        made = _Encoded.folder / f"part-{len(_Encoded.made)}.mp4"
        seconds = frames / FPS
        done = run_ffmpeg(
            ["-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={FPS}",
             "-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=44100:duration={seconds}",
             "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast",
             "-profile:v", profile, "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(made)]
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        _Encoded.made[key] = made
    shutil.copyfile(_Encoded.made[key], path)
    return path


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A three-minute speech (made here, with pauses and silent edges, 48 kHz mono: a
    stereo speech is laid over in `test_the_sound_laid_over_is_the_speech_not_the_parts_own`),
    its parts, each part rendered by the simulator's renderer (48 px, all at once: the join
    does not care how large), and the join."""
    folder = tmp_path_factory.mktemp("join")
    speech = speech_like(180.0, lead=1.5, tail=2.0, rate=48_000, seed=11)
    long = prepare_long_speech(write_wav(folder / "voice.wav", speech), folder, max_part_s=60)
    portrait = PORTRAIT.read_bytes()
    with ThreadPoolExecutor(len(long.parts)) as renders:  # each part its own ffmpeg, at once
        videos = list(
            renders.map(
                lambda part: render_avatar(
                    portrait, part.path, folder / f"video-{part.index + 1}.mp4", max_side=48
                ),
                long.parts,
            )
        )
    joined = join_parts(
        [video.path for video in videos],
        long.speech,
        folder / "speech.mp4",
        seams=long.plan.seams,
        work=folder / "work",
    )
    return speech, long, joined


def test_a_three_minute_speech_becomes_one_video_as_long_as_its_sound(made):
    _, long, joined = made
    facts = probe_video(joined.path)
    sound = decode(joined.path, rate=RATE)
    assert len(long.parts) >= 3
    assert facts.frames == joined.frames
    assert abs(facts.seconds - long.seconds) <= FRAME_S
    assert len(sound) / RATE == pytest.approx(long.seconds, abs=0.01)


def test_the_video_plays_the_speech_as_sent(made):
    _, long, joined = made
    heard, sent = decode(joined.path, rate=RATE), decode(long.speech, rate=RATE)
    assert _same_sound(heard, sent) > 0.999
    n = min(len(heard), len(sent))
    assert np.abs(heard[:n] - sent[:n]).max() < 0.05  # sample by sample, not only alike
    # and the speech as sent is the recording without its silent edges
    lead = round(long.silence.lead_s * RATE)
    recorded = decode(long.speech.parent / "voice.wav", rate=RATE)  # the recording made
    assert _same_sound(sent, recorded[lead : lead + len(sent)]) > 0.999


def test_the_seams_are_the_cut_points_and_fall_in_pauses(made):
    speech, long, joined = made
    assert len(joined.seams) == len(long.plan.seams)
    for seam, cut in zip(joined.seams, long.plan.seams, strict=True):
        assert abs(seam - cut) <= FRAME_S
    lead = long.silence.lead_s
    for cut in long.plan.seams:
        assert any(a + 0.1 <= cut + lead <= b - 0.1 for a, b in speech.pauses)


def test_parts_alike_are_copied_not_reencoded(made):
    _, _, joined = made
    assert joined.reencoded == () and not joined.reencoded_all


def test_the_sound_laid_over_is_the_speech_not_the_parts_own(tmp_path):
    speech = speech_like(8.0, rate=48_000, channels=2, seed=3)  # a studio's stereo
    voice = write_wav(tmp_path / "voice.wav", speech)
    parts = [_part_video(tmp_path / f"p{i}.mp4", PART, tone=300 + 200 * i) for i in range(2)]
    joined = join_parts(parts, voice, tmp_path / "out.mp4", seams=[SEAM], work=tmp_path / "w")
    heard, said = decode(joined.path, rate=RATE), decode(voice, rate=RATE)
    assert _same_sound(heard, said) > 0.999
    assert joined.frames == 2 * PART and joined.reencoded == ()


def test_a_part_of_another_size_is_reencoded_alone(tmp_path):
    voice = write_wav(tmp_path / "voice.wav", speech_like(12.0, seed=5))
    parts = [
        _part_video(tmp_path / "p1.mp4", PART),
        _part_video(tmp_path / "p2.mp4", PART, size="160x120"),
        _part_video(tmp_path / "p3.mp4", PART),
    ]
    joined = join_parts(
        parts, voice, tmp_path / "out.mp4", seams=[SEAM, 2 * SEAM], work=tmp_path / "w"
    )
    facts = probe_video(joined.path)
    assert joined.reencoded == (1,)
    assert (facts.width, facts.height, facts.frames) == (128, 128, 3 * PART)
    assert joined.seams == (SEAM, 2 * SEAM)


def test_the_last_frame_is_held_or_the_extra_trimmed_to_the_sounds_length(tmp_path):
    voice = write_wav(tmp_path / "voice.wav", speech_like(8.0, seed=6))
    short = [_part_video(tmp_path / "a1.mp4", PART), _part_video(tmp_path / "a2.mp4", PART - 20)]
    held = join_parts(short, voice, tmp_path / "held.mp4", seams=[SEAM], work=tmp_path / "w1")
    long = [_part_video(tmp_path / "b1.mp4", PART), _part_video(tmp_path / "b2.mp4", PART + 30)]
    cut = join_parts(long, voice, tmp_path / "cut.mp4", seams=[SEAM], work=tmp_path / "w2")
    for joined in (held, cut):
        assert probe_video(joined.path).frames == 2 * PART
        assert joined.reencoded == (1,)


def test_a_last_part_a_frame_long_or_short_is_copied_and_ends_within_a_frame_of_the_sound(
    tmp_path,
):
    """A provider's video is often a frame longer than its share of the speech (its length
    rounded up to whole frames): trimming that frame would re-encode the part, then the
    whole picture, for 40 ms."""
    voice = write_wav(tmp_path / "voice.wav", speech_like(8.0, seed=7))
    for extra in (1, -1):
        parts = [
            _part_video(tmp_path / "e1.mp4", PART),
            _part_video(tmp_path / "e2.mp4", PART + extra),
        ]
        out = tmp_path / f"out{extra}.mp4"
        joined = join_parts(parts, voice, out, seams=[SEAM], work=tmp_path / f"w{extra}")
        assert joined.reencoded == () and not joined.reencoded_all
        facts = probe_video(joined.path)
        assert facts.frames == joined.frames == 2 * PART + extra
        assert abs(joined.video_s - joined.audio_s) <= FRAME_S + 1e-9
        assert len(decode(joined.path, rate=RATE)) / RATE == pytest.approx(8.0, abs=0.01)
    # two frames off is past the slack: that last part is re-encoded to end with the sound
    parts = [_part_video(tmp_path / "e1.mp4", PART), _part_video(tmp_path / "e2.mp4", PART + 2)]
    joined = join_parts(parts, voice, tmp_path / "out2.mp4", seams=[SEAM], work=tmp_path / "w2")
    assert joined.reencoded == (1,) and probe_video(joined.path).frames == 2 * PART


def test_a_part_from_other_encoder_settings_is_reencoded_alone(tmp_path):
    voice = write_wav(tmp_path / "voice.wav", speech_like(8.0, seed=8))
    parts = [
        _part_video(tmp_path / "c1.mp4", PART),
        _part_video(tmp_path / "c2.mp4", PART, profile="baseline"),
    ]
    joined = join_parts(parts, voice, tmp_path / "out.mp4", seams=[SEAM], work=tmp_path / "w")
    assert probe_video(joined.path).frames == 2 * PART
    assert joined.reencoded == (1,) and not joined.reencoded_all


def test_when_a_reencoded_part_cannot_match_the_first_the_picture_is_reencoded_whole(tmp_path):
    voice = write_wav(tmp_path / "voice.wav", speech_like(8.0, seed=9))
    first = _part_video(tmp_path / "d1.mp4", PART, profile="baseline")  # not the join's settings
    parts = [first, _part_video(tmp_path / "d2.mp4", PART, size="160x120")]
    joined = join_parts(parts, voice, tmp_path / "out.mp4", seams=[SEAM], work=tmp_path / "w")
    facts = probe_video(joined.path)
    assert joined.reencoded == (1,) and joined.reencoded_all
    assert (facts.width, facts.height, facts.frames) == (128, 128, 2 * PART)


def test_frame_targets_put_each_seam_on_its_nearest_frame():
    assert frame_targets([10.0, 20.01], 29.99, Fraction(25)) == [250, 250, 250]
    assert frame_targets([], 7.3, Fraction(25)) == [183]


def test_parts_at_an_ntsc_frame_rate_keep_their_seams(tmp_path):
    voice = write_wav(tmp_path / "voice.wav", speech_like(2 * SEAM, seed=12))
    ntsc = Fraction(30000, 1001)
    parts = []
    for index, frames in enumerate(frame_targets([SEAM], 2 * SEAM, ntsc)):
        path = tmp_path / f"n{index}.mp4"
        done = run_ffmpeg(
            ["-y", "-f", "lavfi", "-i", "testsrc2=size=128x128:rate=30000/1001",
             "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast",
             "-pix_fmt", "yuv420p", str(path)]
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        parts.append(path)
    joined = join_parts(parts, voice, tmp_path / "out.mp4", seams=[SEAM], work=tmp_path / "w")
    assert joined.fps == ntsc and joined.reencoded == ()
    assert abs(joined.seams[0] - SEAM) <= float(1 / ntsc)
    assert abs(probe_video(joined.path).seconds - 2 * SEAM) <= float(1 / ntsc)


def test_a_file_without_a_picture_is_refused_in_one_sentence(tmp_path):
    voice = write_wav(tmp_path / "voice.wav", speech_like(5.0, seed=13))
    with pytest.raises(MediaToolError) as refused:
        join_parts([voice], voice, tmp_path / "out.mp4", seams=[], work=tmp_path / "w")
    assert str(refused.value) == "The part's video voice.wav has no picture ffmpeg can read."
    assert not (tmp_path / "out.mp4").exists()
