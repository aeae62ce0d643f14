"""A speech longer than the provider takes, split at its pauses: real sound made here,
cut by the app's ffmpeg, the parts decoded again.

Three minutes in parts of 60 s (the CometAPI profile's limit) where the whole speech is
the point; the other cases at a part limit of SHORT_PART_S with speeches a third as
long: the same search for pauses, quiet places and shortest parts, on a third of the
sound."""

from __future__ import annotations

import numpy as np
import pytest
from speech_media import decode, speech_like, write_wav

from avatar_core.errors import InputError
from avatar_core.inputs.audio import prepare_audio
from avatar_core.inputs.long_speech import prepare_long_speech
from avatar_core.inputs.loudness import envelope_of_file, envelope_of_pcm
from avatar_core.inputs.speech_parts import MIN_PART_S, plan_parts, split_file
from avatar_core.provider.cometapi import cometapi_profile

RATE = 16_000
SHORT_PART_S = 20.0  # a part limit a third of 60 s, for speeches a third as long


def _envelope(speech):
    return envelope_of_pcm(
        speech.samples.tobytes(), channels=speech.samples.shape[1], rate=speech.rate
    )


def _inside_a_pause(at: float, pauses, margin: float = 0.1) -> bool:
    return any(start + margin <= at <= end - margin for start, end in pauses)


@pytest.fixture(scope="module")
def three_minutes(tmp_path_factory):
    """Three minutes of speech-like sound, 48 kHz stereo, with pauses between phrases."""
    speech = speech_like(180.0, rate=48_000, channels=2, seed=7)
    path = write_wav(tmp_path_factory.mktemp("speech") / "speech.wav", speech)
    return speech, path


def test_a_three_minute_speech_is_cut_in_its_pauses(three_minutes):
    speech, path = three_minutes
    plan = plan_parts(envelope_of_file(path), max_part_s=60.0)

    lengths = [end - start for start, end in plan.spans]
    assert len(plan.cuts) >= 3
    assert max(lengths) <= 60.0 and min(lengths) >= MIN_PART_S
    assert sum(lengths) == pytest.approx(180.0)
    for cut in plan.cuts:
        assert cut.in_pause
        assert _inside_a_pause(cut.at_s, speech.pauses), (cut, speech.pauses)


def test_the_parts_written_are_the_speech_cut_to_the_sample(three_minutes, tmp_path):
    _speech, path = three_minutes
    plan = plan_parts(envelope_of_file(path), max_part_s=60.0)
    parts = split_file(path, plan, tmp_path / "parts")

    decoded = [decode(part.path, rate=RATE) for part in parts]
    assert [len(d) / RATE for d in decoded] == pytest.approx(
        [part.seconds for part in parts], abs=0.01
    )
    whole = decode(path, rate=RATE)
    joined = np.concatenate(decoded)[: len(whole)]
    assert len(joined) == pytest.approx(len(whole), abs=RATE * 0.02)
    correlation = np.corrcoef(whole[: len(joined)], joined)[0, 1]
    assert correlation > 0.98  # the same sound in the same order, nothing dropped or doubled
    for part in parts:  # every part passes the provider's rules as it is
        prepared = prepare_audio(part.path)
        assert prepared.data == part.path.read_bytes()


def test_a_boundary_without_a_pause_is_cut_in_the_quietest_place():
    speech = speech_like(50.0, pause=(0.0, 0.0), phrase=(400.0, 400.0), seed=2)
    envelope = _envelope(speech)
    dip = int(100 * 17.0)  # a quieter stretch (not silent) around 17 s, before the 20 s limit
    envelope.levels[dip - 20 : dip + 20] -= 12.0
    plan = plan_parts(envelope, max_part_s=SHORT_PART_S)
    assert plan.cuts[0].in_pause is False
    assert plan.cuts[0].at_s == pytest.approx(17.0, abs=0.2)
    assert max(end - start for start, end in plan.spans) <= SHORT_PART_S


def test_no_part_is_shorter_than_two_seconds():
    speech = speech_like(61.0, pause=(0.7, 0.7), phrase=(5.0, 5.0), seed=3)
    plan = plan_parts(_envelope(speech), max_part_s=60.0)
    lengths = [end - start for start, end in plan.spans]
    assert len(lengths) == 2 and min(lengths) >= MIN_PART_S and max(lengths) <= 60.0


def test_a_speech_within_the_limit_goes_whole():
    speech = speech_like(59.0)
    assert plan_parts(_envelope(speech), max_part_s=60.0).cuts == ()


def test_a_gateway_with_a_longer_part_limit_takes_fewer_parts(three_minutes):
    _, path = three_minutes
    envelope = envelope_of_file(path)
    profile = cometapi_profile("https://example.invalid", "key")
    assert profile.max_part_seconds == 60.0
    long_parts = plan_parts(envelope, max_part_s=300.0)
    assert long_parts.cuts == ()
    assert len(plan_parts(envelope, max_part_s=profile.max_part_seconds).spans) >= 4


def test_a_long_speech_is_trimmed_then_split(tmp_path):
    speech = speech_like(50.0, lead=3.0, tail=4.0, seed=5)
    source = write_wav(tmp_path / "voice.wav", speech)
    made = prepare_long_speech(source, tmp_path / "made", max_part_s=SHORT_PART_S)

    spoken = speech.last_sound - speech.first_sound
    assert made.silence.removed_s == pytest.approx(7.0 - 0.4, abs=0.06)
    assert len(decode(made.speech, rate=RATE)) / RATE == pytest.approx(spoken + 0.4, abs=0.05)
    assert made.seconds == pytest.approx(spoken + 0.4, abs=0.05)
    assert len(made.parts) == 3
    for part in made.parts:
        assert MIN_PART_S <= len(decode(part.path, rate=RATE)) / RATE <= SHORT_PART_S
    shifted = [(a - made.silence.lead_s, b - made.silence.lead_s) for a, b in speech.pauses]
    assert all(_inside_a_pause(at, shifted) for at in made.plan.seams)


def test_a_speech_over_the_speech_limit_is_refused_in_one_sentence(three_minutes, tmp_path):
    _, path = three_minutes
    with pytest.raises(InputError) as refused:
        prepare_long_speech(path, tmp_path / "made", max_part_s=60.0, max_speech_s=120.0)
    assert str(refused.value) == (
        "The speech lasts 180.0 s; one video carries at most 120.0 s of speech "
        "on this app. Shorten it or split it into several videos."
    )
    assert not (tmp_path / "made" / "parts").exists()  # nothing cut, nothing to send


def test_long_pauses_shortened_in_a_long_speech_leave_the_rest_sample_for_sample(tmp_path):
    speech = speech_like(40.0, lead=2.0, tail=2.0, pause=(2.0, 3.0), seed=9)
    source = write_wav(tmp_path / "voice.wav", speech)
    made = prepare_long_speech(
        source, tmp_path / "made", max_part_s=SHORT_PART_S, shorten_pauses=True
    )

    assert made.silence.pauses_shortened == len(speech.pauses)
    sent = decode(made.speech, rate=RATE)
    assert len(sent) / RATE == pytest.approx(made.silence.kept_s, abs=0.02)
    whole = decode(source, rate=RATE)
    kept = np.concatenate([whole[round(a * RATE) : round(b * RATE)] for a, b in made.silence.keep])
    n = min(len(kept), len(sent))
    assert abs(len(kept) - len(sent)) <= RATE * 0.02
    assert np.corrcoef(kept[:n], sent[:n])[0, 1] > 0.999  # the kept stretches, in order
    assert len(made.parts) >= 2 and all(
        MIN_PART_S <= part.seconds <= SHORT_PART_S for part in made.parts
    )


def test_a_speech_is_cut_into_as_few_parts_as_its_pauses_allow():
    # three parts of at most 20 s can hold it (phrases a third as long as three minutes')
    speech = speech_like(57.0, phrase=(1.0, 3.0), seed=13)
    plan = plan_parts(_envelope(speech), max_part_s=SHORT_PART_S)
    assert len(plan.spans) == 3
    assert all(_inside_a_pause(cut.at_s, speech.pauses) for cut in plan.cuts)
