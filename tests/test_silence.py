"""Never paying for silence: real recordings (made here) through the voice check.

The silence before the first phrase and after the last is left out of what is sent, the
check says how many seconds and what that saves; long pauses inside are shortened only
when asked; a tight recording, a silent one, or one that trimming would leave too short
are sent as they are.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from cli_children import run_cli_child
from flows import final
from media import PORTRAIT
from speech_media import decode, encode, speech_like, wav_bytes, write_wav

from avatar_core.config import Secret, Settings
from avatar_core.inputs.audio import prepare_audio
from avatar_core.inputs.silence import EDGE_KEEP_S, PAUSE_KEPT_S
from avatar_core.jobs.pricing import silence_saving
from avatar_core.jobs.studio import Studio
from avatar_core.provider.client import ProviderClient
from avatar_core.waiting.scheduler import PollScheduler

RATE = 16_000


def _first_and_last_sound(samples: np.ndarray, rate: int = RATE) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return loud[0] / rate, (loud[-1] + 1) / rate


def test_silence_at_both_ends_is_left_out_of_what_is_sent(tmp_path):
    speech = speech_like(25.0, lead=2.5, tail=3.5, rate=44_100, channels=2)
    prepared = prepare_audio(wav_bytes(speech.samples, speech.rate))

    sent = tmp_path / f"sent.{prepared.format}"
    sent.write_bytes(prepared.data)
    samples = decode(sent)
    first, last = _first_and_last_sound(samples)
    spoken = speech.last_sound - speech.first_sound
    assert first == pytest.approx(EDGE_KEEP_S, abs=0.05)
    assert len(samples) / RATE - last == pytest.approx(EDGE_KEEP_S, abs=0.06)
    assert prepared.duration_s == pytest.approx(spoken + 2 * EDGE_KEEP_S, abs=0.06)
    assert prepared.silence_left_out_s == pytest.approx(6.0 - 2 * EDGE_KEEP_S, abs=0.06)
    assert prepared.source_duration_s == pytest.approx(25.0, abs=0.01)
    said = " ".join(prepared.changes)
    assert "Left out 5.6 s of silence (2.3 s at the start and 3.3 s at the end)" in said
    zh = " ".join(change.in_language("zh") for change in prepared.changes)
    assert "开头 2.3 秒，结尾 3.3 秒" in zh


def test_the_check_says_what_leaving_out_silence_saves():
    prices = {"std": 0.05, "pro": 0.1}
    saving = silence_saving(5.6, prices)
    assert saving == (
        "Not sending the 5.6 s of silence saves about $0.28 in std mode, $0.56 in pro "
        "(assumed prices)."
    )
    assert silence_saving(0.0, prices) is None


def test_the_command_line_check_reports_the_silence_and_the_saving(tmp_path):
    speech = speech_like(12.0, lead=2.0, tail=2.0)
    voice = write_wav(tmp_path / "voice.wav", speech)
    done = run_cli_child(
        "check", "--image", str(PORTRAIT), "--audio", str(voice), timeout=120,
        env={"PATH": "/usr/bin:/bin", "AVATAR_PRICE_STD": "0.1", "AVATAR_PRICE_PRO": "0.2"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Left out 3.6 s of silence (1.8 s at the start and 1.8 s at the end)" in done.stdout
    assert "saves about $0.36 in std mode, $0.72 in pro" in done.stdout


def test_a_tight_recording_is_sent_byte_for_byte(tmp_path):
    speech = speech_like(8.0, lead=0.4, tail=0.3)
    wav = write_wav(tmp_path / "tight.wav", speech)
    mp3 = encode(wav, tmp_path / "tight.mp3", "-ac", "1", "-ar", "44100", "-b:a", "128k")
    prepared = prepare_audio(mp3)
    assert prepared.data == mp3.read_bytes()
    assert prepared.changes == () and prepared.silence_left_out_s == 0.0


def test_long_pauses_are_shortened_only_when_asked():
    speech = speech_like(40.0, pause=(2.5, 3.5), phrase=(4.0, 6.0), seed=4)
    long_pauses = [b - a for a, b in speech.pauses]
    data = wav_bytes(speech.samples, speech.rate)

    kept = prepare_audio(data)
    assert kept.duration_s == pytest.approx(40.0, abs=0.01)  # no edges to trim, pauses kept
    shortened = prepare_audio(data, shorten_pauses=True)

    removed = sum(gap - PAUSE_KEPT_S for gap in long_pauses)
    assert shortened.duration_s == pytest.approx(40.0 - removed, abs=0.05 * len(long_pauses))
    assert shortened.silence_left_out_s == pytest.approx(removed, abs=0.05 * len(long_pauses))
    said = " ".join(shortened.changes)
    assert f"Shortened {len(long_pauses)} pauses longer than 1.5 s to 0.6 s each" in said


def test_a_silent_recording_is_not_trimmed_and_still_warned_about():
    silence = np.zeros((RATE * 4, 1), dtype=np.int16)
    prepared = prepare_audio(wav_bytes(silence, RATE))
    assert prepared.duration_s == pytest.approx(4.0)
    assert prepared.silence_left_out_s == 0.0
    assert any("silent" in warning for warning in prepared.warnings)


def test_trimming_never_makes_a_voice_too_short_to_send():
    speech = speech_like(5.0, lead=2.0, tail=2.0, phrase=(0.5, 0.6))  # about 1 s of sound
    prepared = prepare_audio(wav_bytes(speech.samples, speech.rate))
    assert prepared.duration_s == pytest.approx(5.0, abs=0.01)
    assert prepared.silence_left_out_s == 0.0


def test_a_voice_over_the_limit_only_by_its_silence_is_accepted():
    speech = speech_like(63.0, lead=2.5, tail=2.5)
    prepared = prepare_audio(wav_bytes(speech.samples, speech.rate))
    assert prepared.duration_s < 60.0
    assert prepared.silence_left_out_s == pytest.approx(4.6, abs=0.06)


def test_the_price_comes_from_the_operators_settings():
    prices = Settings(price_std=1.0, price_pro=2.0).prices
    assert "about $3.00 in std mode, $6.00 in pro" in silence_saving(3.0, prices)


def test_the_video_plays_the_voice_as_sent_without_its_silence(
    simulator, fake_time, tmp_path, portrait_path
):
    speech = speech_like(10.0, lead=2.5, tail=2.5)
    voice = write_wav(tmp_path / "voice.wav", speech)
    settings = Settings(api_key=Secret("test-key"), base_url=simulator.base_url,
                        data_dir=tmp_path / "data")  # fmt: skip
    studio = Studio(
        settings,
        client=ProviderClient(simulator.base_url, "test-key", clock=fake_time),
        scheduler=PollScheduler(clock=fake_time),
        clock=fake_time,
    )
    done = final(studio.generate(portrait_path, str(voice), prompt="Speak."))
    heard = decode(done.video_path)
    first, _last = _first_and_last_sound(heard)
    spoken = speech.last_sound - speech.first_sound
    assert len(heard) / RATE == pytest.approx(spoken + 2 * EDGE_KEEP_S, abs=0.1)
    assert first == pytest.approx(EDGE_KEEP_S, abs=0.1)
    assert studio.journal.get(done.job.job_id).video_seconds < 10.0 - 4.0


def test_a_voice_that_needs_converting_says_why_besides_the_silence_left_out(tmp_path):
    speech = speech_like(8.0, lead=2.0, tail=2.0)
    ogg = encode(write_wav(tmp_path / "v.wav", speech), tmp_path / "v.ogg", "-c:a", "libvorbis")
    prepared = prepare_audio(ogg)
    said = " ".join(prepared.changes)
    assert "Left out" in said and "Converted from Ogg (vorbis) to MP3" in said
    assert prepared.format == "mp3"


def test_a_damaged_long_file_is_measured_or_refused_without_hanging(tmp_path):
    """A damaged MP3 makes ffmpeg write far more messages than a pipe holds: reading its
    loudness must still end (with an envelope or one sentence), never wait on the pipe."""
    import threading

    from avatar_core.errors import MediaToolError
    from avatar_core.inputs.ffmpeg import ffmpeg_exe
    from avatar_core.inputs.loudness import envelope_of_file

    clean = tmp_path / "tone.mp3"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=220:duration=300",
         "-b:a", "64k", str(clean)],
        check=True,
    )  # fmt: skip
    data = bytearray(clean.read_bytes())
    for at in range(1000, len(data) - 8, 300):  # 8 bytes garbled every 300
        data[at : at + 8] = b"\xff\x00\xa5\x5a\xff\x00\xa5\x5a"
    damaged = tmp_path / "damaged.mp3"
    damaged.write_bytes(bytes(data))
    answers: list[object] = []

    def measure() -> None:
        try:
            answers.append(envelope_of_file(damaged, timeout=600))
        except MediaToolError as refused:
            answers.append(refused)

    worker = threading.Thread(target=measure, daemon=True)
    worker.start()
    worker.join(900)  # a bound for a hang, not a speed check: a hang never ends
    assert answers, "reading the damaged file's loudness never ended"
