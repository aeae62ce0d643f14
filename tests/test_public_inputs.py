"""What strangers type reaches nothing it should not.

- The app's URL boxes take web addresses only: a path on the server gets the same
  sentence whatever it names (a file, nothing, a folder, a device, a pipe, the journal),
  nothing is read, nothing is sent; a file path the app did not receive is refused too.
- The command line keeps local paths, but reads only regular files.
- Text holding a lone surrogate, a NUL or a control character gets one sentence on every
  event of the app (public endpoints and the page's own, called by index as a hostile
  client would) and in the command line, with no traceback anywhere.

Each group runs all its cases in one module fixture; the "URL boxes" and "malformed text"
sections of RELIABILITY.md are written from what they saw.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from app_harness import InProcessApp, app_on_a_simulator
from cli_children import run_cli_child
from live import assert_no_traceback, cli_command, cli_env, jobs_of
from raw_gradio import Answer, call_api, run_event
from reliability import check_section, normalize, table
from speech_media import speech_like, write_wav

from conftest import ASSETS

NOT_WEB = "The {what} link is not a web address: paste a link that starts with https://."
NOT_UPLOADED = (
    "A file given to this app must be uploaded to it first (POST /gradio_api/upload); "
    "a path on the server is not accepted."
)
MALFORMED = {  # what is sent: the character at position 2, and how the sentence names it
    "lone surrogate": ("a\ud800b", "a lone surrogate (U+D800)"),
    "NUL": ("a\x00b", "a NUL character (U+0000)"),
    "control character (BEL)": ("a\x07b", "a control character (U+0007)"),
}
TEXT_INPUTS = ("Textbox", "Dropdown", "Radio")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("public")
    with app_on_a_simulator(root) as (running, sim):
        yield running, sim, root


def _index(running: InProcessApp, name: str) -> int:
    """The first event whose handler is `name` (the page's own events have no API name)."""
    return next(i for i, fn in running.blocks.fns.items() if fn.name == name)


def _data(answer: Answer) -> list:
    assert answer.success, answer
    return answer.output["data"]


# --- URL boxes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Typed:
    shown: str  # how the report names it
    value: str  # what is typed


@pytest.fixture(scope="module")
def server_paths(app) -> list[Typed]:
    running, _, root = app
    fifo = root / "voice.fifo"
    os.mkfifo(fifo)  # whoever opened it for reading would wait for ever
    journal = Path(running.studio.settings.data_dir) / "journal.sqlite3"
    # a voice longer than one task takes, on the server's disk: the long-speech check must
    # refuse its path as any other, never measure it (let alone make a video of it)
    long_voice = write_wav(root / "long-voice.wav", speech_like(75, rate=16_000))
    return [
        Typed("a long voice on the server's disk", str(long_voice)),
        Typed("/etc/passwd", "/etc/passwd"),
        Typed("/nonexistent", "/nonexistent"),
        Typed("/root", "/root"),
        Typed("/dev/zero", "/dev/zero"),
        Typed("a named pipe (FIFO)", str(fifo)),
        Typed("the journal (`<data>/journal.sqlite3`)", str(journal)),
        Typed("`/proc/self/cwd/data/journal.sqlite3`", "/proc/self/cwd/data/journal.sqlite3"),
        Typed("`~/.bashrc`", "~/.bashrc"),
        Typed("`file:///etc/passwd`", "file:///etc/passwd"),
        Typed("`ftp://example.org/face.jpg`", "ftp://example.org/face.jpg"),
    ]


@dataclass(frozen=True)
class BoxesSeen:
    """What the page's events answered for one path typed into the URL boxes."""

    portrait: str  # the portrait verdict
    voice: str  # the voice verdict
    generate: str  # the status after Generate with both boxes holding it
    api_file: str  # /generate given the path as its files


@pytest.fixture(scope="module")
def boxes(app, server_paths) -> tuple[dict[str, BoxesSeen], int]:
    """What each path got, and how many creates reached the provider meanwhile."""
    running, sim, _ = app
    sim.reset()
    url = running.url
    portrait, voice, generate = (
        _index(running, name) for name in ("check_portrait", "check_voice", "run_make")
    )
    seen = {}
    for typed in server_paths:
        path = typed.value
        # the page's Generate: a picture's and a voice's web address both holding the path
        both_boxes = [None, path, "file", None, path, "", "", "", None, None, 1.0, "", "std",
                      False, None, None, None, False]  # fmt: skip
        as_file = {"path": path, "meta": {"_type": "gradio.FileData"}}
        seen[typed.shown] = BoxesSeen(
            portrait=_data(run_event(url, portrait, [None, path, None]))[0],
            voice=_data(run_event(url, voice, [None, path, False, None]))[0],
            generate=_data(run_event(url, generate, both_boxes))[0],
            api_file=call_api(url, "generate", [as_file, as_file, "", "std"]).error or "",
        )
    return seen, sim.stats.creates


def test_a_server_path_in_a_url_box_gets_the_same_sentence_whatever_it_names(boxes):
    for shown, seen in boxes[0].items():
        assert seen.portrait == "❌ " + NOT_WEB.format(what="image"), shown
        assert seen.voice == "❌ " + NOT_WEB.format(what="audio"), shown


def test_generate_with_server_paths_names_both_boxes_and_sends_nothing(boxes):
    both = f"❌ {NOT_WEB.format(what='image')}\n\n❌ {NOT_WEB.format(what='audio')}"
    for shown, seen in boxes[0].items():
        assert seen.generate == both, shown
    assert boxes[1] == 0


def test_a_server_path_given_to_generate_as_a_file_is_refused_in_one_sentence(boxes):
    for shown, seen in boxes[0].items():
        assert seen.api_file == NOT_UPLOADED, shown


# --- the command line: regular files only ----------------------------------------------------


@pytest.fixture(scope="module")
def cli_paths(tmp_path_factory) -> dict[str, tuple[int, str]]:
    """(exit code, last line of stderr) of `check --image <path>` for each kind of path,
    each run as a forked child (tests/cli_children.py): what it reads is the point, not the
    interpreter's start (the malformed-text cases below start `python -m avatar_core`)."""
    root = tmp_path_factory.mktemp("cli-paths")
    fifo = root / "portrait.fifo"
    os.mkfifo(fifo)
    env = cli_env("http://127.0.0.1:9", root / "data")  # nothing listens: nothing is sent
    cases = {
        "/etc/passwd (a regular file)": "/etc/passwd",
        "/nonexistent": "/nonexistent",
        "/root (a folder)": "/root",
        "/dev/zero (a device)": "/dev/zero",
        "a named pipe (FIFO) nobody writes to": str(fifo),
    }
    seen = {}
    for shown, path in cases.items():
        done = run_cli_child(
            "check", "--image", path, "--audio", str(ASSETS / "hello.mp3"), env=env
        )
        assert_no_traceback(done.stdout, done.stderr)
        seen[shown] = (done.returncode, done.stderr.strip().splitlines()[-1])
    return seen


def test_the_command_line_reads_regular_files_only(cli_paths):
    assert cli_paths["/dev/zero (a device)"] == (
        2, "The image 'zero' is a device, not a regular file; choose a file."
    )  # fmt: skip
    assert cli_paths["a named pipe (FIFO) nobody writes to"] == (
        2, "The image 'portrait.fifo' is a named pipe (FIFO), not a regular file; choose a file."
    )  # fmt: skip
    assert cli_paths["/root (a folder)"] == (
        2, "The image 'root' is a folder, not a regular file; choose a file."
    )  # fmt: skip
    assert cli_paths["/nonexistent"] == (
        2, "The image file 'nonexistent' was not found; check the path."
    )  # fmt: skip
    code, line = cli_paths["/etc/passwd (a regular file)"]
    assert code == 2 and "is not a picture" in line  # a local path is still read


def test_the_url_boxes_section_is_current(boxes, cli_paths):
    seen, creates = boxes
    rows = [(shown, one.portrait, one.voice, one.api_file) for shown, one in seen.items()]
    cli_rows = [(shown, code, normalize(line)) for shown, (code, line) in cli_paths.items()]
    columns = ("typed into the URL boxes", "portrait verdict", "voice verdict",
               "`/generate` with it as a file")  # fmt: skip
    body = (
        "The app, through its page's events called over HTTP as a hostile client would "
        "(`check_portrait`, `check_voice`), and `/generate` given the same path as its "
        f"files; Generate with both boxes holding the path sent {creates} creates.\n\n"
        + table(columns, rows)
        + "\n\nThe command line keeps local paths: `python -m avatar_core check --image "
        "<path>`.\n\n" + table(("path", "exit code", "what the person reads"), cli_rows)
    )
    check_section("url-boxes", body)


# --- malformed text ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TextCase:
    event: str  # its API name (the page's own events have private ones)
    public: bool  # one of the page's endpoints for gradio_client (documented or not)
    handler: str
    field: str  # the component's English label
    kind: str  # a key of MALFORMED
    answer: Answer


def _field_label(component) -> str:
    from ui.text_guard import field_name

    return field_name(component)


@pytest.fixture(scope="module")
def malformed(app) -> tuple[list[TextCase], str, Answer, Answer]:
    """Every text input of every event, with each kind of malformed text; the console
    meanwhile; then /history, and a history row picked with a malformed selection."""
    running, sim, _ = app
    sim.reset()
    cases = []
    console = io.StringIO()
    with contextlib.redirect_stderr(console), contextlib.redirect_stdout(console):
        for index, fn in running.blocks.fns.items():
            kinds = [type(component).__name__ for component in fn.inputs]
            for position, kind_name in enumerate(kinds):
                if kind_name not in TEXT_INPUTS:
                    continue
                for kind, (value, _) in MALFORMED.items():
                    data = [None] * len(kinds)
                    data[position] = value
                    answer = run_event(running.url, index, data)
                    label = _field_label(fn.inputs[position])
                    public = fn.api_visibility != "private"
                    case = TextCase(fn.api_name or "", public, fn.name, label, kind, answer)
                    cases.append(case)
        gallery = next(fn for fn in running.blocks.fns.values() if fn.name == "pick_from_gallery")
        picked = run_event(
            running.url,
            _index(running, "pick_from_gallery"),
            [None, None, None],
            event_data={"index": 0, "value": "a\ud800b"},
            trigger_id=gallery.targets[0][0],
        )
        history = call_api(running.url, "history", [])
    creates = sim.stats.creates
    assert creates == 0
    return cases, console.getvalue(), picked, history


def _expected(case: TextCase) -> str:
    described = MALFORMED[case.kind][1]
    return (
        f"The {case.field} holds {described} at character 2; it may hold only printable "
        "text, line breaks and tabs: type or paste it again."
    )


def test_every_text_input_of_every_event_refuses_malformed_text_in_one_sentence(malformed):
    cases, _, _, _ = malformed
    public = {case.event for case in cases if case.public}
    assert public == {"generate", "status", "use_key", "tts"}
    assert len({case.handler for case in cases}) >= 8
    for case in cases:
        assert not case.answer.success, case
        assert case.answer.error == _expected(case), case


def test_a_history_picture_picked_with_malformed_text_is_refused_and_history_still_answers(
    malformed,
):
    _, _, picked, history = malformed
    assert picked.error == (
        "The selection holds a lone surrogate (U+D800) at character 2; it may hold only "
        "printable text, line breaks and tabs: type or paste it again."
    )
    assert history.success and history.output[0]["headers"][0] == "created"


def test_malformed_text_leaves_no_traceback_on_the_console(malformed):
    _, console, _, _ = malformed
    assert_no_traceback(console)


CLI_TEXT = {
    "`status` with a task id holding BEL": ("status", "a\x07b"),
    "`status` with a task id of undecodable bytes (a lone surrogate)": ("status", b"a\xffb"),
    "`generate --tts-text` holding ESC": ("generate", "--image", "<portrait>", "--tts-text",
                                         "Hi \x1b[31m", "--voice-id", "genshin_vindi2"),
    "`generate --prompt` holding ESC": ("generate", "--image", "<portrait>", "--audio",
                                        "<speech>", "--prompt", "\x1b[2J smile"),
}  # fmt: skip


# Started as `python -m avatar_core` (the interpreter's start with hostile argv: bytes that
# are not UTF-8, ESC); the others as forked children (tests/cli_children.py), `main(argv)`
# reading the same text.
THROUGH_PYTHON_M = (
    "`status` with a task id of undecodable bytes (a lone surrogate)",
    "`generate --tts-text` holding ESC",
)


@pytest.fixture(scope="module")
def cli_text(tmp_path_factory) -> dict[str, tuple[int, str, int]]:
    """(exit code, last line, jobs in the journal) for each malformed command line."""
    import subprocess

    from live import ROOT

    root = tmp_path_factory.mktemp("cli-text")
    env = cli_env("http://127.0.0.1:9", root / "data")  # nothing listens: nothing is sent
    places = {"<portrait>": str(ASSETS / "astronaut.jpg"), "<speech>": str(ASSETS / "hello.mp3")}
    seen = {}
    for shown, args in CLI_TEXT.items():
        argv = [places.get(arg, arg) if isinstance(arg, str) else arg for arg in args]
        if shown in THROUGH_PYTHON_M:
            done = subprocess.run(
                [*cli_command(), *argv], capture_output=True, env=env, cwd=ROOT, timeout=120
            )
            code, stderr = done.returncode, done.stderr.decode(errors="backslashreplace")
        else:
            child = run_cli_child(*argv, env=env)  # type: ignore[arg-type]
            code, stderr = child.returncode, child.stderr
        assert_no_traceback(stderr)
        jobs = len(jobs_of(root / "data"))
        seen[shown] = (code, stderr.strip().splitlines()[-1], jobs)
    return seen


def test_the_command_line_refuses_malformed_text_with_exit_2_before_anything_is_sent(cli_text):
    pattern = re.compile(
        r"^The (task id|speech text|prompt) holds a (control character|lone surrogate) "
        r"\(U\+[0-9A-F]{4}\) at character \d+; it may hold only printable text"
    )
    for shown, (code, line, jobs) in cli_text.items():
        assert code == 2, (shown, line)
        assert pattern.match(line), (shown, line)
        assert jobs == 0, shown


def test_the_malformed_text_section_is_current(malformed, cli_text):
    cases, _, picked, history = malformed
    by_field: dict[tuple[str, str], dict[str, str]] = {}
    events: dict[tuple[str, str], list[TextCase]] = {}
    for case in cases:
        key = (case.handler, case.field)
        events.setdefault(key, []).append(case)
        outcome = "one sentence" if case.answer.error == _expected(case) else str(case.answer)
        by_field.setdefault(key, {})[case.kind] = outcome
    rows = []
    for (handler, field), outcomes in sorted(by_field.items()):
        seen = events[(handler, field)]
        public = sorted({case.event for case in seen if case.public})
        count = len({case.event for case in seen})
        plural = "s" if count > 1 else ""
        name = f"`/{public[0]}`" if public else f"`{handler}` (page, {count} event{plural})"
        rows.append((name, field.removeprefix("field "), *(outcomes[k] for k in MALFORMED)))
    picked_outcome = "one sentence" if picked.error else str(picked)
    rows.append(("`pick_history` (page)", "its selection", picked_outcome, "—", "—"))
    answered = "answers as usual" if history.success else str(history)
    rows.append(("`/history`", "— (no text input)", answered, "—", "—"))
    cli_rows = [(shown, code, line) for shown, (code, line, _) in cli_text.items()]
    body = (
        "Every text input of every event of the app, sent over HTTP with the character at "
        "position 2 (`/gradio_api/queue/join`, as a hostile client would: gradio_client "
        'cannot send a lone surrogate); "one sentence" is `The field "<label>" holds '
        "<the character, by code point> at character 2; it may hold only printable text, "
        "line breaks and tabs: type or paste it again.`, with no traceback on the console "
        "and nothing sent to the provider.\n\n"
        + table(("event", "field", *MALFORMED), rows)
        + "\n\nThe command line (nothing sent, no job journaled):\n\n"
        + table(("command", "exit code", "what the person reads"), cli_rows)
    )
    check_section("malformed-text", body)


def test_a_damaged_photo_gets_one_sentence_and_generate_stays_usable(app):
    """A file named like a photo that is not one (a half-downloaded picture): Gradio's own
    image check used to stop the events with a bare "Error" on every output, no sentence,
    and Generate greyed out for good (found by a cold tester)."""
    running, sim, _ = app
    sim.reset()
    uploaded = httpx.post(
        running.url + "gradio_api/upload",
        files=[("files", ("photo.jpg", b"not a picture at all " * 40, "image/jpeg"))],
        timeout=60,
    ).json()[0]
    photo = {"path": uploaded, "orig_name": "photo.jpg", "meta": {"_type": "gradio.FileData"}}
    verdict = _data(run_event(running.url, _index(running, "check_portrait"), [photo, "", None]))
    assert verdict[0].startswith("❌ ") and "\n" not in verdict[0].strip(), verdict
    voice = {"path": httpx.post(
        running.url + "gradio_api/upload",
        files=[("files", ("voice.mp3", (ASSETS / "hello.mp3").read_bytes(), "audio/mpeg"))],
        timeout=60,
    ).json()[0], "orig_name": "voice.mp3", "meta": {"_type": "gradio.FileData"}}  # fmt: skip
    make = [photo, "", "file", voice, "", "", "", "", None, None, 1.0, "", "std", False, None,
            None, None, False]  # fmt: skip
    status = _data(run_event(running.url, _index(running, "run_make"), make))[0]
    assert status.startswith("❌ ") and verdict[0].split("❌ ")[1][:20] in status, status
    assert sim.stats.creates == 0
