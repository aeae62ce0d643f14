"""Prompt, mode and voice choice: tidy what can be tidied, refuse with a sentence otherwise.
Also: every problem of a request is reported at once, and malformed text (control
characters, NUL, lone surrogates) is refused in every field."""

from __future__ import annotations

import pytest
from media import PORTRAIT, SPEECH, audio_bytes, image_bytes

from avatar_core.errors import InputError
from avatar_core.inputs.fields import (
    DEFAULT_PROMPT,
    MAX_PROMPT_CHARS,
    check_audio_choice,
    check_mode,
    check_task_id,
    clean_prompt,
)
from avatar_core.inputs.preparation import InputPreparer
from avatar_core.inputs.text import shown, text_problem
from avatar_core.provider.speech import check_speech_request

prepare_inputs = InputPreparer().prepare

# --- prompt -------------------------------------------------------------------------------


@pytest.mark.parametrize("empty", [None, "", "   ", "\n\t\n", "\r\n\r"])
def test_an_empty_prompt_becomes_the_default(empty):
    assert clean_prompt(empty) == DEFAULT_PROMPT


def test_newlines_and_tabs_stay_in_a_prompt():
    assert clean_prompt("Smile\tand wave.\r\nThen nod.") == "Smile and wave.\nThen nod."


@pytest.mark.parametrize(
    ("prompt", "found"),
    [
        ("Smile\x00 and wave.", "a NUL character (U+0000) at character 6"),
        ("Smile and\x1b[31m wave.", "a control character (U+001B) at character 10"),
        ("Then nod.\x7f", "a control character (U+007F) at character 10"),
        ("\x9bnod", "a control character (U+009B) at character 1"),
        ("Smile \ud800", "a lone surrogate (U+D800) at character 7"),
    ],
)
def test_control_characters_nul_and_lone_surrogates_are_refused_in_one_sentence(prompt, found):
    with pytest.raises(InputError) as caught:
        clean_prompt(prompt)
    assert str(caught.value) == (
        f"The prompt holds {found}; it may hold only printable text, line breaks and tabs: "
        "type or paste it again."
    )
    assert caught.value.field == "prompt"


def test_runaway_whitespace_is_collapsed():
    assert clean_prompt("  Look   up,\t\tthen  down.  \n\n\n\n\nBlink. ") == (
        "Look up, then down.\n\nBlink."
    )


def test_emoji_and_other_scripts_are_kept():
    text = "Sonríe 😊 y saluda 👋🏽 — 微笑"
    assert clean_prompt(text) == text


def test_2500_characters_is_accepted_and_2501_is_refused_with_the_count():
    assert len(clean_prompt("a" * MAX_PROMPT_CHARS)) == 2500
    with pytest.raises(InputError) as caught:
        clean_prompt("a" * (MAX_PROMPT_CHARS + 1))
    assert str(caught.value) == (
        "The prompt has 2501 characters; the video maker takes at most 2500: shorten it by 1."
    )
    assert caught.value.field == "prompt"


def test_the_limit_counts_what_is_sent_after_tidying():
    assert len(clean_prompt("a" * 2500 + "      ")) == 2500


# --- mode ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected"), [("std", "std"), (" PRO ", "pro"), (None, "std")])
def test_modes_are_forgiving_about_case_and_spaces(given, expected):
    assert check_mode(given) == expected


def test_an_unknown_mode_names_the_choices():
    with pytest.raises(InputError, match=r"use std .* or pro") as caught:
        check_mode("fast")
    assert "'fast'" in str(caught.value) and caught.value.field == "mode"


# --- voice choice -------------------------------------------------------------------------


def test_exactly_one_voice_source():
    assert check_audio_choice(True, None) is None
    assert check_audio_choice(True, "  ") is None
    assert check_audio_choice(False, " 8787 ") == "8787"
    with pytest.raises(InputError, match="exactly one"):
        check_audio_choice(True, "8787")
    with pytest.raises(InputError, match="No voice was given"):
        check_audio_choice(False, None)
    with pytest.raises(InputError, match="not a Kling audio id"):
        check_audio_choice(False, "two words")


# --- all together -------------------------------------------------------------------------


def test_every_problem_is_reported_at_once():
    with pytest.raises(InputError) as caught:
        prepare_inputs(
            image_bytes(200, 200),
            audio_bytes(1.0),
            prompt="x" * 3000,
            mode="turbo",
        )
    problems = caught.value.problems
    assert len(problems) == 4
    assert any("200×200" in p for p in problems)
    assert any("1.0 s long" in p for p in problems)
    assert any("3000 characters" in p for p in problems)
    assert any("'turbo'" in p for p in problems)


def test_a_missing_image_and_both_voices_are_both_reported():
    with pytest.raises(InputError) as caught:
        prepare_inputs("", SPEECH, audio_id="123")
    assert len(caught.value.problems) == 2
    assert "No image was given" in caught.value.problems[0]


def test_good_inputs_are_ready_with_a_report():
    inputs = prepare_inputs(PORTRAIT, SPEECH, prompt="  Smile.  ", mode="PRO")
    assert (inputs.prompt, inputs.mode, inputs.audio_id) == ("Smile.", "pro", None)
    lines = inputs.report_lines()
    assert lines[0].startswith("Image: JPEG 512×512") and lines[1].startswith("Audio: MP3 7.3 s")
    assert "Mode: pro." in lines


def test_a_tts_audio_id_needs_no_file():
    inputs = prepare_inputs(PORTRAIT, audio_id="8787")
    assert inputs.audio is None and inputs.audio_id == "8787"
    assert inputs.prompt == DEFAULT_PROMPT
    assert any("audio_id 8787" in line for line in inputs.report_lines())


# --- malformed text in the other fields -------------------------------------------------


def test_the_mode_audio_id_and_task_id_refuse_malformed_text_without_echoing_it():
    with pytest.raises(InputError) as caught:
        check_mode("st\x00d")
    assert str(caught.value) == (
        "The mode holds a NUL character (U+0000) at character 3; it may hold only printable "
        "text: type or paste it again."
    )
    with pytest.raises(InputError, match=r"audio_id holds a lone surrogate \(U\+D800\)"):
        check_audio_choice(False, "87\ud80087")
    with pytest.raises(InputError, match=r"task id holds a control character \(U\+000A\)"):
        check_task_id(" 8787\n99 ")
    assert check_task_id("  877505391037279506 \n") == "877505391037279506"


def test_every_malformed_speech_field_is_named_at_once():
    with pytest.raises(InputError) as caught:
        check_speech_request("Hello\x00", "genshin\x1b", "e\ud800n", 1.0)
    assert [problem.split(" holds")[0] for problem in caught.value.problems] == [
        "The speech text",
        "The voice id",
        "The speech language",
    ]
    assert check_speech_request("Hello\nthere\t!", "genshin_vindi2", "en", 1.0)[0] == (
        "Hello there !"
    )


def test_text_is_shown_in_sentences_with_what_cannot_be_printed_escaped():
    assert shown("photo\udcff\x07.jpg") == "photo\\udcff\\x07.jpg"
    assert shown("x" * 100, limit=5) == "xxxxx"
    assert text_problem("Smile 😊 and\twave\n", multiline=True) is None
    assert text_problem("tab\there") == "a control character (U+0009) at character 4"
