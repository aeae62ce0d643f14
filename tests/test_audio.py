"""The voice meets Kling's rules after preparation, or a sentence says why it cannot."""

from __future__ import annotations

import base64

import pytest
from media import (
    PORTRAIT,
    SPEECH,
    audio_bytes,
    browser_recording,
    decoded_format,
    decoded_seconds,
    video_bytes,
    wav_of_size,
    wav_seconds,
)

from avatar_core.errors import InputError
from avatar_core.inputs import audio as audio_prep
from avatar_core.inputs.audio import PreparedAudio, prepare_audio
from avatar_core.inputs.ffmpeg import run_ffmpeg


def assert_meets_kling_rules(prepared: PreparedAudio) -> float:
    """Decode what would be sent, independently, and check it; returns its length."""
    assert prepared.format in ("mp3", "wav", "m4a", "aac")
    assert len(prepared.data) <= 5_000_000
    seconds = decoded_seconds(prepared.data)
    assert 2.0 <= seconds <= 60.0 + 0.03  # AAC frames may add a few ms of priming
    assert seconds == pytest.approx(prepared.duration_s, abs=0.05)
    return seconds


@pytest.fixture(scope="module")
def long_mp3() -> bytes:
    return audio_bytes(75, fmt="mp3", sample_rate=22_050)


# --- kept as it is ------------------------------------------------------------------------


def test_a_compliant_mp3_is_sent_byte_for_byte():
    prepared = prepare_audio(SPEECH)
    assert prepared.data == SPEECH.read_bytes()
    assert prepared.format == "mp3" and prepared.extension == "mp3"
    assert prepared.changes == () and prepared.warnings == ()
    assert prepared.duration_s == pytest.approx(7.3, abs=0.1)
    assert (prepared.sample_rate, prepared.channels) == (44_100, 1)
    assert "sent as it is" in prepared.summary()


@pytest.mark.parametrize("fmt", ["wav", "mp3", "m4a", "aac"])
def test_each_format_kling_takes_is_kept_as_it_is(fmt):
    data = audio_bytes(3, fmt=fmt)
    prepared = prepare_audio(data)
    assert prepared.data == data
    assert prepared.format == fmt
    assert prepared.changes == ()
    assert_meets_kling_rules(prepared)


def test_an_mp3_named_wav_is_recognised_and_sent_as_mp3(tmp_path):
    mislabelled = tmp_path / "voice.wav"
    mislabelled.write_bytes(audio_bytes(3, fmt="mp3"))
    prepared = prepare_audio(mislabelled)
    assert prepared.source_format == "mp3"
    assert prepared.format == "mp3" and prepared.extension == "mp3"


def test_base64_is_raw_with_no_data_prefix():
    prepared = prepare_audio(SPEECH)
    assert not prepared.base64.startswith("data:")
    assert base64.b64decode(prepared.base64, validate=True) == prepared.data
    assert prepared.size_bytes == len(prepared.data)


# --- length -------------------------------------------------------------------------------


def test_exactly_2_seconds_is_accepted():
    prepared = prepare_audio(wav_seconds(2.0))
    assert prepared.duration_s == 2.0
    assert_meets_kling_rules(prepared)


def test_1_99_seconds_is_refused_with_its_measured_length():
    with pytest.raises(InputError) as caught:
        prepare_audio(wav_seconds(1.99))
    assert str(caught.value) == (
        "Audio is 1.99 s long; the video maker needs at least 2 s of voice. Record a longer clip."
    )
    assert caught.value.field == "audio"


def test_exactly_60_seconds_is_accepted_as_it_is():
    data = wav_seconds(60.0, sample_rate=16_000)
    prepared = prepare_audio(data)
    assert prepared.data == data and prepared.duration_s == 60.0


def test_60_1_seconds_is_refused_without_trim():
    with pytest.raises(InputError) as caught:
        prepare_audio(wav_seconds(60.1, sample_rate=16_000))
    message = str(caught.value)
    assert "60.1 s" in message and "at most 60 s" in message and "trim" in message


def test_60_1_seconds_is_trimmed_to_60_when_asked():
    prepared = prepare_audio(wav_seconds(60.1, sample_rate=16_000), trim=True)
    seconds = assert_meets_kling_rules(prepared)
    assert seconds == pytest.approx(60.0, abs=0.01)
    assert any("Trimmed from 60.1 s to the first 60 s" in c for c in prepared.changes)


def test_a_long_recording_is_refused_or_trimmed(long_mp3):
    with pytest.raises(InputError, match=r"Audio is 75\.0 s long"):
        prepare_audio(long_mp3)
    trimmed = prepare_audio(long_mp3, trim=True)
    assert trimmed.format == "mp3"
    assert trimmed.source_duration_s == pytest.approx(75.0, abs=0.1)
    assert assert_meets_kling_rules(trimmed) == pytest.approx(60.0, abs=0.01)


def test_too_short_is_refused_even_with_trim():
    with pytest.raises(InputError, match="Record a longer clip"):
        prepare_audio(wav_seconds(1.0), trim=True)


# --- 5 MB ---------------------------------------------------------------------------------


def test_a_wav_of_exactly_5_mb_is_kept_as_it_is():
    data = wav_of_size(5_000_000)
    prepared = prepare_audio(data)
    assert prepared.data == data and prepared.format == "wav"


def test_a_wav_just_over_5_mb_is_converted_to_mp3_that_fits():
    data = wav_of_size(5_000_002)
    prepared = prepare_audio(data)
    assert prepared.format == "mp3"
    seconds = assert_meets_kling_rules(prepared)
    assert seconds == pytest.approx((5_000_002 - 44) / 2 / 44_100, abs=0.01)
    assert any("5 MB" in change for change in prepared.changes)


def test_a_studio_wav_is_converted_to_mono_44_1_khz_mp3():
    data = audio_bytes(30, fmt="wav", sample_rate=48_000, channels=2)
    assert len(data) > 5_000_000
    prepared = prepare_audio(data)
    assert (prepared.format, prepared.sample_rate, prepared.channels) == ("mp3", 44_100, 1)
    assert decoded_format(prepared.data) == (44_100, 1)
    assert_meets_kling_rules(prepared)


# --- other formats ------------------------------------------------------------------------


def test_a_browser_microphone_recording_is_converted_to_mp3():
    data = browser_recording(4.0)
    assert data[:4] == b"\x1a\x45\xdf\xa3"  # WebM, with no duration in its header
    prepared = prepare_audio(data)
    assert prepared.source_format == "webm"
    assert prepared.format == "mp3"
    assert assert_meets_kling_rules(prepared) == pytest.approx(4.0, abs=0.05)
    assert any("WebM" in change for change in prepared.changes)


@pytest.mark.parametrize("fmt", ["flac", "ogg", "opus", "wav24"])
def test_other_formats_are_converted_to_mp3(fmt):
    prepared = prepare_audio(audio_bytes(3, fmt=fmt))
    assert prepared.format == "mp3"
    assert assert_meets_kling_rules(prepared) == pytest.approx(3.0, abs=0.05)
    assert prepared.changes


def test_the_sound_track_of_a_video_is_used():
    prepared = prepare_audio(video_bytes(3, with_audio=True))
    assert prepared.format == "mp3"
    assert_meets_kling_rules(prepared)
    assert any("sound track" in change for change in prepared.changes)


def test_a_video_without_sound_is_refused():
    with pytest.raises(InputError, match="video without a sound track"):
        prepare_audio(video_bytes(3, with_audio=False))


# --- silence ------------------------------------------------------------------------------


def test_digital_silence_is_accepted_with_a_warning():
    prepared = prepare_audio(audio_bytes(3, source="silence"))
    assert prepared.warnings == (
        "The audio is silent (every sample is zero): the avatar would not talk.",
    )


def test_a_nearly_silent_recording_gives_its_peak_level():
    prepared = prepare_audio(audio_bytes(3, volume_db=-30))  # the tone peaks at -18 dBFS
    assert prepared.warnings == (
        "The audio is nearly silent (peak -48 dBFS): the avatar would not talk.",
    )


def test_a_quiet_but_audible_recording_has_no_warning():
    assert prepare_audio(audio_bytes(3, volume_db=-20)).warnings == ()


def test_a_normal_recording_has_no_warning():
    assert prepare_audio(audio_bytes(3, source="noise")).warnings == ()


# --- refusals -----------------------------------------------------------------------------


def test_a_truncated_wav_is_refused():
    data = audio_bytes(4, fmt="wav")
    with pytest.raises(InputError, match="cut short"):
        prepare_audio(data[: len(data) // 2])


def test_a_truncated_m4a_is_refused():
    data = audio_bytes(4, fmt="m4a")
    with pytest.raises(InputError, match="truncated or damaged"):
        prepare_audio(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"\x00" * 4000, "not a sound file"),
        (b"ID3\x03\x00\x00\x00\x00\x00\x10" + b"\x00" * 200, "could not be decoded"),
        (b"<!DOCTYPE html><html>Sign in</html>", "web page"),
        (PORTRAIT.read_bytes(), "looks like a JPEG picture"),
    ],
)
def test_what_is_not_usable_sound_is_named(data, expected):
    with pytest.raises(InputError) as caught:
        prepare_audio(data)
    assert expected in str(caught.value)
    assert caught.value.field == "audio"


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="was not found"):
        prepare_audio(tmp_path / "voice.mp3")


def test_past_the_analysis_cap_the_length_comes_from_the_header(monkeypatch, long_mp3):
    monkeypatch.setattr(audio_prep, "MAX_ANALYSED_SECONDS", 62.0)
    with pytest.raises(InputError, match=r"Audio is 75\.0 s long"):
        prepare_audio(long_mp3)
    trimmed = prepare_audio(long_mp3, trim=True)
    assert assert_meets_kling_rules(trimmed) == pytest.approx(60.0, abs=0.01)


def test_past_the_analysis_cap_without_a_header_length_says_longer_than(monkeypatch):
    monkeypatch.setattr(audio_prep, "MAX_ANALYSED_SECONDS", 62.0)
    with pytest.raises(
        InputError, match=r"Audio is longer than 62 s; the video maker takes at most 60 s"
    ):
        prepare_audio(browser_recording(63.0))


def test_trailing_junk_after_an_mp3_does_not_make_it_unreadable():
    data = audio_bytes(4, fmt="mp3") + b"\x00" * 1000 + b"not audio" * 100
    prepared = prepare_audio(data)
    assert prepared.format == "mp3" and prepared.duration_s == pytest.approx(4.0, abs=0.05)


def test_an_mp3_with_cover_art_is_sound_not_video(tmp_path):
    target = tmp_path / "with-cover.mp3"
    done = run_ffmpeg(
        ["-f", "lavfi", "-i", "sine=f=220:d=3", "-i", str(PORTRAIT),
         "-map", "0:a", "-map", "1:v", "-c:a", "libmp3lame", "-c:v", "copy",
         "-disposition:v", "attached_pic", "-id3v2_version", "3", "-y", str(target)]
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    prepared = prepare_audio(target)
    assert prepared.data == target.read_bytes()
    assert prepared.changes == ()
