"""RELIABILITY.md is written from what the tests saw, so it cannot drift from them.

Each test module that tries faults, crashes or hostile inputs runs all its cases in one
module fixture (whatever `-k` selected), asserts each case in its own test, and owns one
section of the report between `<!-- BEGIN name -->` and `<!-- END name -->`. Its
`test_..._section_is_current` renders the section from what was observed and compares it
with the file. After a deliberate change, regenerate with `python -m tests.reliability_report`
(which runs those tests with RELIABILITY_UPDATE=1).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

REPORT = Path(__file__).resolve().parent.parent / "RELIABILITY.md"
UPDATE_VARIABLE = "RELIABILITY_UPDATE"

_VOLATILE = (
    (re.compile(r"tas-[0-9a-f]{32}"), "<job id>"),
    (re.compile(r"(?<![\d.])\d{18}(?!\d)"), "<task id>"),
    (re.compile(r"https?://127\.0\.0\.1:\d+"), "<provider>"),
    (re.compile(r"'[^']*/tmp[^']*'|/tmp/\S+"), "<path>"),
    (re.compile(r"\d+:\d\d elapsed"), "m:ss elapsed"),
)


def normalize(text: str, *paths: Path | str) -> str:
    """`text` with what changes from run to run (ids, ports, folders) replaced by names."""
    for path in sorted((str(p) for p in paths), key=len, reverse=True):
        text = text.replace(path, "<data>")
    for pattern, name in _VOLATILE:
        text = pattern.sub(name, text)
    return " ".join(text.split())


def table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table; cells may hold any text (pipes and newlines are escaped)."""

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return " ".join(text.replace("|", "\\|").split()) or "—"

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"


def _same(recorded: str, observed: str, lenient_marker: str | None) -> bool:
    """Equal, except that an observed table row holding `lenient_marker` (a case this
    machine cannot run) accepts whatever the file recorded for the same case."""
    if recorded == observed or lenient_marker is None:
        return recorded == observed
    old, new = recorded.splitlines(), observed.splitlines()
    if len(old) != len(new):
        return False
    for was, now in zip(old, new, strict=True):
        same_case = was.split("|")[:2] == now.split("|")[:2]
        if was != now and not (lenient_marker in now and same_case):
            return False
    return True


def check_section(name: str, body: str, *, lenient_marker: str | None = None) -> None:
    """Compare the section `name` of RELIABILITY.md with `body`, or rewrite it on request."""
    begin, end = _markers(name)
    text = REPORT.read_text(encoding="utf-8") if REPORT.exists() else ""
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if os.environ.get(UPDATE_VARIABLE) == "1":
        if lenient_marker and lenient_marker in body and pattern.search(text):
            return  # this machine could not run every case: keep what a full run recorded
        if pattern.search(text):
            text = pattern.sub(lambda _: block, text)
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        REPORT.write_text(text, encoding="utf-8")
        return
    found = pattern.search(text)
    assert found, f"RELIABILITY.md has no section {name}: run `python -m tests.reliability_report`"
    if not _same(found.group(0), block, lenient_marker):
        diff = "\n".join(
            difflib.unified_diff(
                found.group(0).splitlines(), block.splitlines(), "RELIABILITY.md", "observed", n=0
            )
        )
        raise AssertionError(
            f"RELIABILITY.md section {name} no longer matches what the tests saw; if the "
            f"change is intended, run `python -m tests.reliability_report`.\n{diff}"
        )
