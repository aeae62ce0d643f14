"""Every sentence the core shows people comes from one catalogue, in English and Chinese.

Read from the source (like test_architecture): a sentence raised or reported as a plain
string or f-string, instead of `sentence_for(key, ...)`, fails here with its file and line, so a
new English-only sentence is caught when it is written.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from catalogue_guard import (
    catalogue_problems,
    keys_in_code,
    sentences_outside_the_catalogue,
    unknown_keys,
    unused_keys,
)
from media import wav_seconds

from avatar_core.catalogue import Message, in_language, language_of, sentence_for
from avatar_core.catalogue.loader import CATALOGUE, NAMESPACES
from avatar_core.config import terminal_language
from avatar_core.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "avatar_core"
# Not the provider's words (the simulator plays the provider) and not the catalogue itself.
NOT_PEOPLES = ("simulator", "catalogue")


def _core_sources() -> list[Path]:
    return [
        path
        for path in sorted(CORE.rglob("*.py"))
        if not any(part in NOT_PEOPLES for part in path.relative_to(CORE).parts)
    ]


def _classes_in(path: Path) -> set[str]:
    return {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ClassDef)}


APP = ROOT / "app.py"
CODE = [*_core_sources(), *sorted((ROOT / "ui").rglob("*.py")), APP]
ERRORS = _classes_in(CORE / "errors.py")  # every class there descends from AvatarError
EVENTS = _classes_in(CORE / "jobs" / "events.py") - {"Step"}


def _called(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _words_in(node: ast.AST) -> bool:
    """A literal (or the literal parts of an f-string, or of a `+`) holding words; a
    bracketed tag such as "[     speech]" is not a sentence."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
    elif isinstance(node, ast.BinOp):
        return _words_in(node.left) or _words_in(node.right)
    elif isinstance(node, ast.IfExp):
        return _words_in(node.body) or _words_in(node.orelse)
    elif isinstance(node, ast.BoolOp):
        return any(_words_in(value) for value in node.values)
    else:
        return False
    while "[" in text and "]" in text.split("[", 1)[1]:
        head, rest = text.split("[", 1)
        text = head + rest.split("]", 1)[1]
    return any(char.isalpha() for char in text)


def _sentence_of(node: ast.Call) -> ast.AST | None:
    if node.args:
        return node.args[0]
    return next((k.value for k in node.keywords if k.arg == "message"), None)


def uncatalogued(paths: list[Path], root: Path = ROOT) -> list[str]:
    """file:line of every error raised, event made or line printed with a literal sentence."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and _words_in(node.value):
                targets = [t for t in node.targets if isinstance(t, ast.Attribute)]
                if any(t.attr == "message" for t in targets):  # `error.message = "..."`
                    found.append((path.relative_to(root), node.lineno, "message"))
            if not isinstance(node, ast.Call):
                continue
            name = _called(node)
            if name in ERRORS or name in EVENTS or (name == "print" and "cli" in path.parts):
                sentence = _sentence_of(node)
                if sentence is not None and _words_in(sentence):
                    found.append((path.relative_to(root), node.lineno, name))
    return [f"{path}:{line} {name}" for path, line, name in sorted(found)]


# What holds a catalogued sentence: an error, a Message, `x.message`, a job's or a row's
# stored `x.error`, `sentence_for(...)`, and any name made from one of these.
BEARING = ERRORS | {"Exception", "BaseException", "Message"}


def _names_bearing(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names in `func` that hold a sentence: parameters annotated with an error or a
    Message, `except SomeError as name`, and names assigned from what holds one."""
    names = set()
    for arg in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]:
        annotation = arg.annotation
        if annotation is not None and BEARING & {_name_of(n) for n in ast.walk(annotation)}:
            names.add(arg.arg)
    for node in ast.walk(func):
        caught = isinstance(node, ast.ExceptHandler) and node.name and node.type is not None
        if caught and BEARING & {_name_of(n) for n in ast.walk(node.type)}:
            names.add(node.name)
    for _ in range(3):  # names made from names made from…
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and _bears(node.value, names):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _names_worded(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names in `func` given literal words (`again = "running it again follows it"`)."""
    return {
        target.id
        for node in ast.walk(func)
        if isinstance(node, ast.Assign) and _words_in(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _name_of(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _bears(node: ast.AST, names: set[str]) -> bool:
    """Whether the expression holds (or is made from) a catalogued sentence (an error's
    `type(error)` is its class, not its sentence)."""
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Attribute) and node.attr in ("message", "error"):
        return True
    if isinstance(node, ast.Call) and _called(node) in ("sentence_for", "type"):
        return _called(node) == "sentence_for"
    return any(_bears(child, names) for child in ast.iter_child_nodes(node))


def english_around_messages(paths: list[Path], root: Path = ROOT) -> list[str]:
    """file:line of every f-string or `+` that writes English words around a sentence
    (which turns it into English whatever the reader's language): write the words as a
    catalogued template with the sentence as its parameter instead."""
    found = []
    for path in paths:
        relative = path.relative_to(root)
        for func in ast.walk(ast.parse(path.read_text())):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            names, worded = _names_bearing(func), _names_worded(func)
            for node in ast.walk(func):
                if isinstance(node, ast.JoinedStr):
                    inside = [p.value for p in node.values if isinstance(p, ast.FormattedValue)]
                elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
                    inside = [node.left, node.right]
                else:
                    continue
                spelt = any(isinstance(v, ast.Name) and v.id in worded for v in inside)
                if not (_words_in(node) or spelt):  # none, or a bracketed tag: "[   speech] "
                    continue
                if any(_bears(value, names) for value in inside):
                    found.append(f"{relative}:{node.lineno}")
    return sorted(set(found))


# --- the catalogue ---------------------------------------------------------------------------


def test_every_key_has_its_namespaces_languages_with_the_same_placeholders():
    """Core and page: English and Chinese. MCP: English only, as its answers are
    (avatar_core/catalogue/loader.py says why); a Chinese text there would never be read."""
    assert catalogue_problems(CATALOGUE, NAMESPACES) == []


def test_every_key_the_code_says_exists_and_every_key_is_said():
    said, constants, starts = keys_in_code(CODE)
    assert unknown_keys(said, CATALOGUE) == []
    assert unused_keys(CATALOGUE, constants, starts) == []


def test_no_sentence_of_the_page_the_tools_or_the_command_line_is_outside_the_catalogue():
    """Any literal of two words or more in ui/ (the page, the MCP tools), app.py and the
    command line's code, but docstrings, log lines and catalogue_guard.NOT_SENTENCES."""
    paths = [*sorted((ROOT / "ui").rglob("*.py")), *sorted((CORE / "cli").rglob("*.py")), APP]
    found = sentences_outside_the_catalogue(paths, ROOT)
    assert found == [], (
        "write each as sentence_for('page:what', name=value) ('mcp:what' for an MCP tool's "
        "answer, 'cli:what' for --help, a bare core key for what a command reports) from "
        "avatar_core.catalogue and add the key to its file in avatar_core/catalogue/: "
        + ", ".join(found)
    )


def test_the_catalogue_checks_name_a_missing_language_and_a_placeholder_that_differs():
    bad = {
        "core": {"a": {"en": "A {n}.", "zh": "甲 {m}。"}, "b": {"en": "B."}},
        "page": {"c": {"en": "C.", "zh": "  "}},
        "mcp": {"d": {"en": "D.", "zh": "丁。"}, "e": {"en": "E {x}."}},
    }
    assert [problem.split(":")[:2] for problem in catalogue_problems(bad, NAMESPACES)] == [
        ["core", "a"],
        ["core", "b"],
        ["page", "c"],
        ["mcp", "d"],
    ]


def test_the_key_checks_name_an_unknown_key_and_a_key_no_code_says(tmp_path):
    module = tmp_path / "ui" / "fresh.py"
    module.parent.mkdir()
    module.write_text(
        "def f(style):\n"
        "    sentence_for('page:nowhere')\n"
        "    sentence_for('mcp:busy', calls=1), sentence_for('image.none'), page_text('intro')\n"
        "    return ui_text(f'style_{style}', 'en')\n"
    )
    said, constants, starts = keys_in_code([module])
    assert unknown_keys(said, CATALOGUE) == ["page:nowhere"]
    catalogue = {
        "core": {"image.none": {}, "noun.x": {}, "image.unsaid": {}},
        "page": {"intro": {}, "style_calm": {}, "outro": {}},
        "mcp": {"busy": {}, "idle": {}},
    }
    assert unused_keys(catalogue, constants, starts) == [
        "core:image.unsaid",
        "mcp:idle",
        "page:outro",
    ]


def test_the_check_names_a_sentence_written_in_the_pages_code(tmp_path):
    module = tmp_path / "ui" / "fresh.py"
    module.parent.mkdir()
    module.write_text(
        '"""A docstring is for the reader of the code."""\n'
        "import logging\n"
        "log = logging.getLogger(__name__)\n"
        "REFUSAL = 'This endpoint is not for MCP callers.'\n"
        "def f(name, gr):\n"
        "    log.warning('a log line is for the operator %s', name)\n"
        "    gr.Warning(f'The file {name} is gone.')\n"
        "    label = sentence_for('page:field_labelled', label=name)\n"
        "    raise KeyError(f'no page text {name!r} in page.json')\n"
        "def g(gr):\n"
        "    return gr.Button('api generate'), gr.Textbox(label='task_id', value='Type here')\n"
    )
    found = sentences_outside_the_catalogue([module], tmp_path)
    assert found == ["ui/fresh.py:11", "ui/fresh.py:4", "ui/fresh.py:7"]


def test_no_sentence_for_people_is_written_outside_the_catalogue():
    found = uncatalogued(_core_sources())
    assert found == [], (
        "write each as a catalogued sentence (avatar_core.catalogue) and add the key, in "
        "English and Chinese, to avatar_core/catalogue/core.json: " + ", ".join(found)
    )


def test_no_sentence_is_turned_into_english_by_words_written_around_it():
    found = english_around_messages(_core_sources())
    assert found == [], (
        "a catalogued sentence (an error, a Message, a job's error) is put inside English "
        "words: make the words a catalogue template taking it as a parameter: " + ", ".join(found)
    )


def fresh_module(root: Path, package: str, source: str) -> Path:
    """A module of the core written for a guard to read: `avatar_core/<package>/fresh.py`."""
    module = root / "avatar_core" / package / "fresh.py"
    module.parent.mkdir(parents=True)
    module.write_text(source)
    return module


def test_the_check_names_english_words_around_a_sentence(tmp_path):
    module = fresh_module(
        tmp_path,
        "jobs",
        "def failed(self, result, error: Exception) -> None:\n"
        "    self._end(result, 'failed', f'{error} (no video task was sent).')\n"
        "def before(job) -> str:\n"
        "    reason = (job.error or 'none').rstrip('.')\n"
        "    return f'It failed in an earlier run ({reason}): run again.'\n"
        "def told(problem):\n"
        "    sentence = sentence_for('voice.none')\n"
        "    line = 'Row 3: ' + sentence\n"
        "    return f'{problem}: {problem}', f'[{sentence}]', line\n"
        "def unclear(error: AvatarError):\n"
        "    again = 'running the file again follows it'\n"
        "    return f'{error} ({again}).'\n"
        "def caught():\n"
        "    try:\n"
        "        pass\n"
        "    except InputError as bad:\n"
        "        print(f'Bad: {bad.message}')\n",
    )
    found = english_around_messages([module], root=tmp_path)
    assert found == [
        "avatar_core/jobs/fresh.py:12",
        "avatar_core/jobs/fresh.py:17",
        "avatar_core/jobs/fresh.py:2",
        "avatar_core/jobs/fresh.py:5",
        "avatar_core/jobs/fresh.py:8",
    ]


def test_the_check_names_an_english_only_sentence_by_file_and_line(tmp_path):
    module = fresh_module(
        tmp_path,
        "cli",
        "from avatar_core.errors import InputError\n"
        "def check(n):\n"
        "    if n < 3:\n"
        "        raise InputError(f'Only {n} items; at least 3 are needed.', field='n')\n"
        "    print(sentence_for('cli.ready') if n else '[     speech]')\n"
        "    print(f'{n} done.')\n"
        "    raise InputError(sentence_for('voice.none'), field='audio')\n"
        "def rename(error):\n"
        "    error.message = 'Something else went wrong.'\n",
    )
    found = uncatalogued([module], root=tmp_path)
    assert found == [
        "avatar_core/cli/fresh.py:4 InputError",
        "avatar_core/cli/fresh.py:6 print",
        "avatar_core/cli/fresh.py:9 message",
    ]


# --- rendering -------------------------------------------------------------------------------


def test_a_message_is_its_english_sentence_and_renders_in_chinese():
    length = sentence_for("audio.length", shown="1.2 s")
    message = sentence_for("audio.too_short", length=length, minimum=2.0)
    assert isinstance(message, str) and isinstance(message, Message)
    assert (
        message
        == "Audio is 1.2 s long; the video maker needs at least 2 s of voice. Record a longer clip."
    )
    assert (
        message.in_language("zh")
        == "音频长 1.2 s；视频生成服务至少需要 2 秒的声音。请录制更长的片段。"
    )
    assert message.in_language("fr") == message  # a language the catalogue lacks: English


def test_an_error_keeps_its_message_and_each_problem_its_own_language():
    problem = sentence_for("text.problem", kind=sentence_for("text.nul"), code="U+0000", index=3)
    malformed = sentence_for(
        "text.malformed", what="prompt", problem=problem, allowed=sentence_for("text.allowed")
    )
    error = InputError.gather(
        [InputError(sentence_for("image.none"), field="image"), InputError(malformed)]
    )
    assert str(error).startswith("No image was given; add a portrait")
    assert "The prompt holds a NUL character (U+0000) at character 3" in str(error)
    chinese = error.in_language("zh")
    assert (
        chinese.startswith("没有提供肖像图片")
        and "提示词中含有第 3 个字符处的一个 NUL 字符" in chinese
    )
    assert [in_language(p, "zh")[:4] for p in error.problems] == ["没有提供", "提示词中"]
    assert in_language("a path as it is", "zh") == "a path as it is"


def test_a_message_survives_a_copy_and_a_pickle():
    import copy
    import pickle

    message = sentence_for("wait.minutes", minutes=2)
    for again in (copy.deepcopy(message), pickle.loads(pickle.dumps(message))):
        assert isinstance(again, Message) and again.in_language("zh") == "约 2 分钟"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("zh-TW", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("", "en"),
        (None, "en"),
        ("*", "en"),
    ],
)
def test_the_page_follows_the_browsers_first_language(header, language):
    assert language_of(header) == language


@pytest.mark.parametrize(
    ("env", "language"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_TW.UTF-8"}, "zh"),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": "C.UTF-8"}, "en"),
        ({"LC_ALL": "", "LANG": "zh_SG"}, "zh"),
        ({}, "en"),
    ],
)
def test_the_command_line_follows_the_locale(env, language):
    assert terminal_language(env) == language


def test_the_command_line_explains_a_too_short_clip_in_chinese(tmp_path, portrait_path):
    clip = tmp_path / "short.wav"
    clip.write_bytes(wav_seconds(1.2))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    env.update(LANG="zh_CN.UTF-8", AVATAR_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run(
        [sys.executable, "-m", "avatar_core", "check", "--image", str(portrait_path),
         "--audio", str(clip)],
        capture_output=True, text=True, encoding="utf-8", env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr.strip() == "音频长 1.2 秒；视频生成服务至少需要 2 秒的声音。请录制更长的片段。"
    )


def test_the_page_renders_the_cores_sentences_and_its_labels_in_the_visitors_language():
    from types import SimpleNamespace

    import ui.formatting as fmt
    from ui.texts import visitor_language

    chinese = SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"})
    program = SimpleNamespace(headers={"user-agent": "python-httpx"})
    assert (visitor_language(chinese), visitor_language(program), visitor_language(None)) == (
        "zh",
        "en",
        "en",
    )
    error = InputError(sentence_for("image.none"), field="image")
    assert fmt.verdict_error(error, "zh").startswith("❌ 没有提供肖像图片；请添加一张肖像")
    assert fmt.verdict_error(error) == f"❌ {error}"
    waiting = sentence_for("wait.elapsed", what=sentence_for("wait.queued"), clock="0:07")
    assert fmt.status(waiting, "info", "zh") == "⏳ 在服务商处排队中… 已用时 0:07。"
    assert fmt.history_headers("zh")[:2] == ["创建时间", "状态"]
    assert fmt.history_headers() == fmt.HISTORY_HEADERS


SETTING_NAME = re.compile(r"\b(COMETAPI_\w+|KLING_\w+_KEY|KLING_BASE_URL|AVATAR_\w+|GRADIO_\w+)")


def test_no_sentence_a_page_run_shows_names_a_setting():
    """A visitor never reads the operator's setting names: not in the page's own sentences,
    nor in a long speech's progress (the long voice's estimate named AVATAR_PRICE_STD)."""
    catalogue = Path(__file__).resolve().parent.parent / "avatar_core" / "catalogue"
    shown = {
        f"page:{key}": text
        for key, text in json.loads((catalogue / "page.json").read_text("utf-8")).items()
    } | {
        key: text
        for key, text in json.loads((catalogue / "core.json").read_text("utf-8")).items()
        if key.startswith("long.")
    }
    named = {
        key: SETTING_NAME.findall(f"{text.get('en', '')} {text.get('zh', '')}")
        for key, text in shown.items()
        if isinstance(text, dict)
    }
    assert {key: names for key, names in named.items() if names} == {}
