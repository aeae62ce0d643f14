"""Hostile and strange inputs: each becomes a result that meets Kling's rules, or one
InputError sentence that names the problem - never another exception, never a hang.

The corpus (tests/hostile_corpus.py) is made by the tests themselves; hypothesis then
throws random bytes and mutated valid files at both preparers. What each specimen led
to is the "hostile inputs" section of RELIABILITY.md.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from app_harness import app_on_a_simulator, generate
from cli_children import run_cli_child
from gradio_client.exceptions import AppError
from hostile_corpus import (
    AUDIO,
    CORPUS,
    IMAGES,
    PREPARED,
    Specimen,
    exif_absurd,
    exif_crowd,
    exif_loop,
    flac_bomb,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live import ROOT, assert_no_traceback, cli_env, jobs_of
from media import audio_bytes, decoded_seconds, exif_block, image_bytes, png_claiming
from PIL import Image
from raw_gradio import run_event
from reliability import check_section, normalize, table

from avatar_core.errors import InputError
from avatar_core.inputs.audio import PreparedAudio, prepare_audio
from avatar_core.inputs.fields import MAX_PROMPT_CHARS, clean_prompt
from avatar_core.inputs.image import PreparedImage, prepare_image, ratio_ok

MB = 1_000_000


@dataclass(frozen=True)
class Seen:
    """What preparing one specimen gave: a prepared input or an exception."""

    prepared: PreparedImage | PreparedAudio | None
    error: BaseException | None


def _key(specimen: Specimen) -> str:
    return f"{specimen.field}: {specimen.name}"


def prepare(specimen: Specimen, path: Path) -> PreparedImage | PreparedAudio:
    if specimen.field == "image":
        return prepare_image(path)
    return prepare_audio(path, trim=specimen.trim)


@pytest.fixture(scope="module")
def seen(tmp_path_factory) -> dict[str, Seen]:
    """Every specimen, written under its (often lying) name and prepared from the file."""
    root = tmp_path_factory.mktemp("corpus")
    outcomes: dict[str, Seen] = {}
    for number, specimen in enumerate(CORPUS):
        path = root / str(number) / specimen.filename
        path.parent.mkdir()
        path.write_bytes(specimen.make())
        try:
            outcomes[_key(specimen)] = Seen(prepare(specimen, path), None)
        except Exception as error:  # everything is recorded; the tests judge it
            outcomes[_key(specimen)] = Seen(None, error)
    return outcomes


# --- what "meets the rules" and "one sentence" mean ----------------------------------------


def assert_image_meets_the_rules(prepared: PreparedImage) -> None:
    assert prepared.format in ("jpeg", "png")
    assert len(prepared.data) <= 10 * MB
    with Image.open(io.BytesIO(prepared.data)) as img:
        img.load()
        assert img.format == prepared.format.upper()
        assert img.size == (prepared.width, prepared.height)
        assert img.mode in ("RGB", "L") or prepared.format == "png"
    assert min(prepared.width, prepared.height) >= 300
    assert ratio_ok(prepared.width, prepared.height)


def assert_audio_meets_the_rules(prepared: PreparedAudio) -> None:
    assert prepared.format in ("mp3", "wav", "m4a", "aac")
    assert len(prepared.data) <= 5 * MB
    seconds = decoded_seconds(prepared.data)
    assert 2.0 <= seconds <= 60.05
    assert seconds == pytest.approx(prepared.duration_s, abs=0.06)


def assert_meets_the_rules(prepared: PreparedImage | PreparedAudio) -> None:
    if isinstance(prepared, PreparedImage):
        assert_image_meets_the_rules(prepared)
    else:
        assert_audio_meets_the_rules(prepared)


def assert_one_sentence(text: str) -> None:
    """One line a person can read: no traceback, no Python names, ends like a sentence."""
    assert "\n" not in text and text.endswith("."), text
    assert 20 < len(text) < 400, text
    for leak in ("Traceback", "Errno", "Error:", "Exception", "<class", "b'"):
        assert leak not in text, text


# --- the corpus ---------------------------------------------------------------------------


def test_the_corpus_is_large_and_covers_both_inputs():
    assert len(CORPUS) >= 40
    assert len(IMAGES) >= 20 and len(AUDIO) >= 20
    assert len({_key(s) for s in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("specimen", CORPUS, ids=_key)
def test_each_specimen_is_prepared_to_the_rules_or_refused_in_one_sentence(specimen, seen):
    outcome = seen[_key(specimen)]
    if specimen.expect == PREPARED:
        assert outcome.error is None, f"{type(outcome.error).__name__}: {outcome.error}"
        assert_meets_the_rules(outcome.prepared)
        return
    assert type(outcome.error) is InputError, f"{type(outcome.error).__name__}: {outcome.error}"
    message = str(outcome.error)
    assert_one_sentence(message)
    assert re.search(specimen.expect, message), message
    assert outcome.error.field == specimen.field


def _described(outcome: Seen) -> tuple[str, str]:
    if outcome.prepared is not None:
        notes = [*outcome.prepared.changes, *outcome.prepared.warnings]
        return "prepared: " + outcome.prepared.summary(), " ".join(notes)
    return "refused (exit 2)", str(outcome.error)


def test_the_hostile_inputs_section_is_current(seen):
    rows = []
    for specimen in CORPUS:
        result, sentence = _described(seen[_key(specimen)])
        name = specimen.name + (" (trim on)" if specimen.trim else "")
        rows.append((specimen.field, name, f"`{specimen.filename}`", result, normalize(sentence)))
    body = (
        f"{len(CORPUS)} files made by `tests/hostile_corpus.py`, each prepared from disk "
        "under the name shown; refused inputs stop `check` and `generate` with exit code 2 "
        "before anything is sent.\n\n"
        + table(("input", "specimen", "arrives as", "outcome", "what the person reads"), rows)
    )
    check_section("hostile-inputs", body)


# --- fuzzing both preparers -----------------------------------------------------------------

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    max_examples=120,
)

_IMAGE_SEEDS = (  # small files, so that a failing example prints readably
    image_bytes(320, 320, fmt="JPEG", quality=30, exif=exif_block(orientation=6, gps=True)),
    image_bytes(320, 320, mode="P", fmt="PNG", pattern="flat"),
    image_bytes(320, 320, mode="P", fmt="GIF", pattern="flat"),
    image_bytes(320, 320, fmt="WEBP", quality=20),
    image_bytes(64, 64, fmt="TIFF"),
    image_bytes(64, 64, fmt="BMP"),
)
_AUDIO_SEEDS = (
    audio_bytes(2.2, fmt="wav", sample_rate=8000),
    audio_bytes(2.2, fmt="mp3", sample_rate=8000),
    audio_bytes(2.2, fmt="m4a", sample_rate=8000),
    audio_bytes(2.2, fmt="ogg", sample_rate=8000),
    audio_bytes(2.2, fmt="flac", sample_rate=8000),
    audio_bytes(2.2, fmt="webm", sample_rate=8000),
)


@st.composite
def mutated(draw, seeds: tuple[bytes, ...]) -> bytes:
    """A valid file with a few bytes changed, a piece cut out or repeated, or cut short."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    action = draw(st.sampled_from(["none", "cut", "splice", "repeat", "header"]))
    at = draw(st.integers(0, len(data)))
    if action == "cut":
        del data[at:]
    elif action == "splice":
        del data[at : at + draw(st.integers(1, 4096))]
    elif action == "repeat":
        data[at:at] = data[at : at + draw(st.integers(1, 4096))]
    elif action == "header":  # the first 64 bytes hold most of what parsers trust
        data[draw(st.integers(0, min(63, len(data) - 1)))] = draw(st.integers(0, 255))
    return bytes(data)


def _survives(prepare_fn, data: bytes) -> None:
    try:
        prepared = prepare_fn(data)
    except InputError as error:
        assert_one_sentence(str(error))
        return
    assert_meets_the_rules(prepared)


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_never_break_image_preparation(data):
    _survives(prepare_image, data)


@FUZZ
@given(mutated(_IMAGE_SEEDS))
def test_mutated_pictures_are_prepared_or_refused(data):
    _survives(prepare_image, data)


@settings(FUZZ, max_examples=60)
@given(st.binary(max_size=4096))
def test_random_bytes_never_break_audio_preparation(data):
    _survives(prepare_audio, data)


@settings(FUZZ, max_examples=60)
@given(mutated(_AUDIO_SEEDS))
def test_mutated_recordings_are_prepared_or_refused(data):
    _survives(prepare_audio, data)


@settings(FUZZ, max_examples=300)
@given(
    st.text(max_size=3000)
    | st.text(alphabet=st.characters(max_codepoint=0x20), max_size=500)
    | st.text(alphabet=st.characters(codec=None, categories=["Cc", "Cs", "Lu"]), max_size=50)
)
def test_any_prompt_is_cleaned_or_refused_in_one_sentence(text):
    try:
        cleaned = clean_prompt(text)
    except InputError as error:
        assert_one_sentence(str(error))
        assert re.search(
            r"The prompt has \d+ characters; the video maker takes at most 2500|The prompt holds a "
            r"(NUL character|control character|lone surrogate) \(U\+[0-9A-F]{4}\) at character",
            str(error),
        ), str(error)
        return
    assert 0 < len(cleaned) <= MAX_PROMPT_CHARS
    assert not any(ord(c) < 32 and c not in "\n\t" for c in cleaned)
    assert cleaned == cleaned.strip()


# --- sizes: refused before they are read ---------------------------------------------------


_MEASURE = """
import sys, tracemalloc
from avatar_core.{module} import prepare_{what}
from avatar_core.errors import InputError
tracemalloc.start()
try:
    prepare_{what}(sys.argv[1])
except InputError as error:
    print(error)
print(tracemalloc.get_traced_memory()[1])
# VmHWM, not ru_maxrss: the latter keeps the high-water mark of the pytest process it forked from
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""


def _measured(what: str, path: Path) -> tuple[str, int, int]:
    """Prepare `path` in a fresh process: (sentence, peak traced bytes, peak RSS in KB)."""
    module = "inputs.image" if what == "image" else "inputs.audio"
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE.format(module=module, what=what), str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
        check=True,
    )
    sentence, traced, rss = done.stdout.strip().splitlines()[-3:]
    return sentence, int(traced), int(rss)


@pytest.mark.parametrize(("what", "cap"), [("image", "50 MB"), ("audio", "100 MB")])
def test_a_huge_file_is_refused_from_its_size_without_being_read(tmp_path, what, cap):
    huge = tmp_path / f"huge.{'jpg' if what == 'image' else 'mp3'}"
    with huge.open("wb") as out:  # a sparse gigabyte: nothing is written but its length
        out.truncate(1_000_000_000)
    sentence, traced, _ = _measured(what, huge)
    assert f"is 1000 MB; the most this app reads is {cap}" in sentence
    assert traced < 20 * MB  # had it been read, a gigabyte would have passed through memory


@pytest.mark.parametrize(
    ("name", "kind"),
    [("zero", "a device"), ("fifo", "a named pipe (FIFO)"), ("folder", "a folder")],
)
def test_what_is_not_a_regular_file_is_refused_without_being_read(tmp_path, name, kind):
    """A device, a named pipe nobody writes to (reading it would wait for ever: the fresh
    process would time out) and a folder, each refused from its metadata."""
    target = {"zero": Path("/dev/zero"), "fifo": tmp_path / "voice.fifo", "folder": tmp_path}[name]
    if name == "fifo":
        os.mkfifo(target)
    sentence, traced, _ = _measured("image", target)
    assert sentence == (f"The image '{target.name}' is {kind}, not a regular file; choose a file.")
    assert traced < 20 * MB  # /dev/zero was read up to the 50 MB cap before


def test_a_tiny_file_that_decodes_to_gigabytes_is_measured_in_bounded_memory(tmp_path):
    bomb = tmp_path / "bomb.flac"
    bomb.write_bytes(flac_bomb(100))
    assert bomb.stat().st_size < 2 * MB  # 100 s of 8 channels at 96 kHz is 154 MB of samples
    sentence, _, rss_kb = _measured("audio", bomb)
    assert "Audio is 100.0 s long" in sentence
    assert rss_kb < 200_000, f"preparing it took {rss_kb // 1000} MB"


# --- prompts, end to end ------------------------------------------------------------------

# The command line's cases below run `main(argv)` in a forked child (tests/cli_children.py):
# what the command reads and says is the point. The interpreter's start with hostile text
# (ESC and bytes that are not UTF-8 in argv) is `python -m avatar_core` in
# tests/test_public_inputs.py's malformed-text cases.


def test_a_100000_character_prompt_is_refused_by_the_cli_before_anything_is_sent(
    tmp_path, portrait_path, speech_path
):
    env = cli_env("http://127.0.0.1:9", tmp_path / "data")  # nothing listens: nothing is sent
    done = run_cli_child(
        "generate", "--image", str(portrait_path), "--audio", str(speech_path),
        "--prompt", "talk " * 20_000, env=env,
    )  # fmt: skip
    assert done.returncode == 2
    assert_no_traceback(done.stderr)
    assert done.stderr.strip().splitlines()[-1] == (
        "The prompt has 99999 characters; the video maker takes at most 2500: shorten it by 97499."
    )
    assert jobs_of(tmp_path / "data") == []


def test_control_characters_in_a_prompt_never_reach_the_provider_or_the_journal(
    tmp_path, portrait_path, speech_path
):
    env = cli_env("http://127.0.0.1:9", tmp_path / "data")  # nothing listens: nothing is sent
    done = run_cli_child(
        "generate", "--image", str(portrait_path), "--audio", str(speech_path),
        "--prompt", "\x1b[2J\x1b[31mSmile\x07 and\u200b\r\nwave\x7f", env=env,
    )  # fmt: skip
    assert done.returncode == 2
    assert_no_traceback(done.stderr)
    assert done.stderr.strip().splitlines()[-1] == (
        "The prompt holds a control character (U+001B) at character 1; it may hold only "
        "printable text, line breaks and tabs: type or paste it again."
    )
    assert jobs_of(tmp_path / "data") == []
    assert clean_prompt("Smile\u200b and\r\nwave\t") == "Smile\u200b and\nwave"


# --- the command line shows sentences, never Python's own complaints ------------------------


@pytest.mark.parametrize("maker", [exif_absurd, exif_crowd, exif_loop], ids=lambda f: f.__name__)
def test_damaged_exif_leaves_no_python_warning_on_the_cli(tmp_path, maker, speech_path):
    image = tmp_path / "photo.jpg"
    image.write_bytes(maker())
    done = run_cli_child("check", "--image", str(image), "--audio", str(speech_path), env=cli_env(
        "http://127.0.0.1:9", tmp_path / "data"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "Removed embedded metadata (EXIF" in done.stdout


def test_two_hostile_files_give_two_lines_and_exit_2(tmp_path):
    image, audio = tmp_path / "page.jpg", tmp_path / "voice.mp3"
    image.write_bytes(b"<!DOCTYPE html><html><body>hello</body></html>")
    audio.write_bytes(png_claiming(100_000, 100_000))
    done = run_cli_child("check", "--image", str(image), "--audio", str(audio), env=cli_env(
        "http://127.0.0.1:9", tmp_path / "data"))  # fmt: skip
    assert done.returncode == 2
    assert_no_traceback(done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert "'page.jpg'" in lines[0] and "web page (HTML)" in lines[0]
    assert "'voice.mp3'" in lines[1] and "PNG picture" in lines[1]


# --- through the app ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("app")
    with app_on_a_simulator(root) as (running, sim):
        yield running, sim


def test_an_upload_over_50_mb_is_refused_by_the_app(app, tmp_path):
    running, _ = app
    big = tmp_path / "huge.jpg"
    with big.open("wb") as out:
        out.truncate(60_000_000)
    with big.open("rb") as body:
        answer = httpx.post(
            running.url.rstrip("/") + "/gradio_api/upload",
            files={"files": ("huge.jpg", body, "image/jpeg")},
            timeout=120,
        )
    assert answer.status_code == 413  # before it is read (ui/request_limits.py)
    assert "This request is larger than the 50 MB this app reads" in answer.text
    assert httpx.get(running.url.rstrip("/") + "/config", timeout=30).status_code == 200


def test_hostile_prompts_through_the_app(app, portrait_path, speech_path):
    running, sim = app
    sim.reset()
    client = running.client()
    with pytest.raises(
        AppError, match=r"The prompt has 100000 characters; the video maker takes at most"
    ):
        generate(client, portrait_path, speech_path, prompt="x" * 100_000)
    assert sim.stats.count("create") == 0
    hostile = "\x1b[31mSmile\x07\x00 and\r\nwave\x7f"
    with pytest.raises(AppError, match=r"holds a control character \(U\+001B\) at character 1"):
        generate(client, portrait_path, speech_path, prompt=hostile)
    assert sim.stats.count("create") == 0
    video = generate(client, portrait_path, speech_path, prompt="Smile\tand\r\nwave")
    [job] = [j for j in running.studio.journal.recent(10) if j.task_id == Path(video).stem]
    assert job.prompt == "Smile and\nwave"  # tidied: tabs and line breaks are text


WRONG_TYPES = [123, 1.5, True, {"a": 1}, [1, 2]]


def test_values_of_the_wrong_type_get_one_sentence_and_no_traceback(app, capfd):
    """Every event with inputs, private ones too, sent a number, a switch, an object or a
    list for each of its values, as a program may: one sentence each, nothing logged as a
    traceback, nothing sent."""
    running, sim = app
    sim.reset()
    capfd.readouterr()
    refused = {}
    for index, fn in running.blocks.fns.items():
        for wrong in WRONG_TYPES if fn.inputs else []:
            answer = run_event(running.url, index, [wrong] * len(fn.inputs), timeout=60)
            if not answer.success:
                refused[f"{fn.api_name} {wrong!r}"] = answer.error or ""
    logged = capfd.readouterr()
    assert "Traceback" not in logged.out + logged.err, logged.err[-3000:]
    assert len(refused) > 50
    for sentence in refused.values():
        assert_one_sentence(sentence)
    assert any(s.startswith('The parameter "task_id" takes text') for s in refused.values())
    assert sim.stats.count("create") == 0 and sim.stats.tts == 0


def test_a_pasted_key_with_letters_no_key_has_is_refused_in_one_sentence(app, capfd):
    running, sim = app
    sim.reset()
    capfd.readouterr()
    [use_key] = [
        i for i, fn in running.blocks.fns.items() if getattr(fn.fn, "__name__", "") == "use_key"
    ]
    answer = run_event(running.url, use_key, ["sk-clé-ünïcode-密钥"])
    note = answer.output["data"][3]
    logged = capfd.readouterr()
    assert answer.success and note.startswith("❌ An API key is made of letters, digits"), note
    assert "Traceback" not in logged.out + logged.err
    assert "clé" not in note and sim.stats.count("query") == 0  # the provider was not asked
