"""A long text to speak, grouped into parts: sentences kept whole, each group within the
text-to-speech request's characters and a part's seconds, the whole within the speech
limit; pure functions, no provider."""

from __future__ import annotations

import pytest

from avatar_core.errors import InputError
from avatar_core.provider.speech_groups import (
    PART_FILL,
    estimated_seconds,
    group_text,
    sentences,
)

SENTENCE = "The quick brown fox jumps over the lazy dog near the quiet river bank."


def _paragraphs(count: int, per: int) -> str:
    return "\n\n".join(" ".join([SENTENCE] * per) for _ in range(count))


def test_sentences_end_at_their_marks_and_at_line_breaks():
    text = 'He said "stop." Then he left! Did he? 你好。我们走吧！好\nNew line'
    assert sentences(text) == [
        'He said "stop."',
        "Then he left!",
        "Did he?",
        "你好。",
        "我们走吧！",
        "好",
        "New line",
    ]


def test_a_long_text_is_grouped_by_whole_sentences_within_a_part():
    text = _paragraphs(6, 8)  # 48 sentences, about 4 minutes
    groups = group_text(text, max_part_s=60.0)
    assert len(groups) > 1
    assert " ".join(groups) == " ".join(sentences(text))  # nothing lost, reordered or doubled
    for group in groups:
        assert len(group) <= 1000
        assert estimated_seconds(group) <= 60.0 * PART_FILL
        assert group.endswith(".")  # no sentence cut


def test_a_longer_part_limit_takes_fewer_groups():
    text = _paragraphs(6, 8)
    assert len(group_text(text, max_part_s=300.0)) < len(group_text(text, max_part_s=60.0))
    for group in group_text(text, max_part_s=300.0):
        assert len(group) <= 1000  # the request's limit still holds


def test_chinese_runs_on_without_spaces_and_speaks_slower():
    text = "今天天气很好，我们一起去公园散步吧。" * 30
    groups = group_text(text, max_part_s=60.0)
    assert "".join(groups) == text
    assert all(" " not in group for group in groups)
    assert estimated_seconds("今天天气很好") > estimated_seconds("Today")


def test_a_sentence_too_long_for_a_part_is_cut_at_its_clauses():
    clause = "and then the fox ran over the hill to see the river"
    text = ", ".join([clause] * 40) + "."
    groups = group_text(text, max_part_s=20.0)
    assert len(groups) > 1
    assert all(estimated_seconds(group) <= 20.0 * PART_FILL for group in groups)
    assert " ".join(groups).replace(" ", "") == text.replace(" ", "")


def test_a_text_past_the_speech_limit_is_refused_before_anything_is_spoken():
    text = _paragraphs(20, 10)
    with pytest.raises(InputError) as refused:
        group_text(text, max_part_s=60.0, max_speech_s=600.0)
    message = str(refused.value)
    assert message.startswith(f"The text ({len(text)} characters) would speak for about ")
    assert "at most 600.0 s of speech on this app" in message
    assert "AVATAR_" not in message  # a visitor reads it: no setting's name
    assert "最多承载 600.0 秒" in refused.value.message.in_language("zh")


def test_an_empty_text_is_refused():
    with pytest.raises(InputError, match="empty"):
        group_text(" \n\n ", max_part_s=60.0)


def test_speaking_faster_fits_more_in_a_part():
    text = _paragraphs(4, 8)
    faster = group_text(text, max_part_s=30.0, speed=2.0)
    assert len(faster) < len(group_text(text, max_part_s=30.0))


def test_a_group_too_short_for_a_task_joins_its_neighbour_and_the_voice_is_checked_first():
    from avatar_core.jobs.long_text import SHORT_GROUP_S, TextSpeech, groups_of

    long = " ".join([SENTENCE] * 3)  # about 12 s: one group of a 16 s part
    speech = TextSpeech(f"{long}\n\nYes.", "genshin_vindi2", "en")
    assert group_text(speech.text, max_part_s=16.0)[-1] == "Yes."  # alone: under 2 s
    groups = groups_of(speech, max_part_s=16.0, max_speech_s=600.0)
    assert groups == [f"{long} Yes."]  # joined to the group before it
    assert all(estimated_seconds(group) >= SHORT_GROUP_S for group in groups)
    chinese = TextSpeech("你好，这是一段测试语音。" * 12, "oversea_male1", "zh")
    with pytest.raises(InputError, match="speaks English only, not Chinese"):
        groups_of(chinese, max_part_s=16.0, max_speech_s=600.0)  # before anything is paid
