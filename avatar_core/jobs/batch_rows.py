"""A batch file (CSV) read and checked row by row, before anything is sent.

Columns: `image`, then `audio` or `tts_text` with `voice_id` (and `voice_language`), then
optional `prompt` and `mode`. Paths are relative to the CSV's folder; http(s) URLs are read
as `generate` reads them. Every problem of every row is gathered into one InputError whose
sentences each name the row (as a spreadsheet numbers it: the header is row 1) and the
column. A row's identity (`BatchRow.key`) is a hash of its content (the bytes of its
files, the text of its fields) and of how many rows above it hold the same content, so a
rerun finds the job it made. Not its line number: a blank line added or removed, or a new
row put above it, leaves every other row's identity as it was (nothing is sent twice);
two identical rows are two videos.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from avatar_core.catalogue import Message, sentence_for
from avatar_core.errors import InputError, MediaToolError
from avatar_core.inputs.audio import MAX_SOURCE_BYTES as MAX_AUDIO_BYTES
from avatar_core.inputs.fields import check_mode, clean_prompt
from avatar_core.inputs.image import MAX_SOURCE_BYTES as MAX_IMAGE_BYTES
from avatar_core.inputs.loudness import envelope_of_file
from avatar_core.inputs.preparation import InputPreparer
from avatar_core.inputs.silence import plan_silence
from avatar_core.inputs.sources import looks_like_url, read_source
from avatar_core.inputs.speech_parts import DEFAULT_MAX_SPEECH_S, MIN_PART_S, check_speech_length
from avatar_core.inputs.text import shown
from avatar_core.provider.base import DEFAULT_MAX_PART_SECONDS
from avatar_core.provider.speech import check_speech_request
from avatar_core.provider.speech_groups import group_text
from avatar_core.provider.voices import DEFAULT_VOICE

COLUMNS = ("image", "audio", "tts_text", "voice_id", "voice_language", "prompt", "mode")
MAX_ROWS = 1000
MAX_FILE_BYTES = 10 * 1024 * 1024
CHECKS_AT_ONCE = 2  # rows whose files are read and measured at once (memory, two cores)


@dataclass(frozen=True)
class SpeechLimits:
    """How long a task's audio (`part_s`, the provider profile's) and a whole speech
    (`speech_s`, AVATAR_MAX_SPEECH_SECONDS) may be: a longer voice or text is made in
    parts and joined, as `generate` makes it."""

    part_s: float = DEFAULT_MAX_PART_SECONDS
    speech_s: float = DEFAULT_MAX_SPEECH_S


_NO_IMAGE = sentence_for("batch.no_image")
_SPEECH_FIELDS = {"text": "tts_text", "voice_id": "voice_id", "voice_language": "voice_language"}


@dataclass(frozen=True)
class BatchRow:
    """One row of the file, as given, and (once checked) its identity."""

    number: int  # as a spreadsheet numbers it: the header is row 1
    image: str
    audio: str = ""
    tts_text: str = ""
    voice_id: str = ""
    voice_language: str = ""
    prompt: str = ""
    mode: str = ""
    folder: Path = Path(".")  # the CSV's folder, which relative paths start from
    key: str = ""  # the row's identity, set by `check_rows`
    in_parts: bool = False  # its voice may speak longer than a part (set by `check_row`)

    @property
    def speaks(self) -> bool:
        """Whether the voice is made by text to speech."""
        return bool(self.tts_text.strip())

    def source(self, column: str) -> str | Path:
        """The image or audio as `generate` takes it: a URL as it is, a path from the folder."""
        value = getattr(self, column).strip()
        return value if looks_like_url(value) else self.folder / Path(value).expanduser()


def _problem(number: int, column: str, sentence: Message) -> InputError:
    problem = sentence_for("batch.row_problem", row=number, column=column, sentence=sentence)
    return InputError(problem, field=column)


def _file_error(path: Path, sentence: Message) -> InputError:
    return InputError(
        sentence_for("batch.file_problem", path=path, sentence=sentence), field="file"
    )


# --- reading the file ----------------------------------------------------------------------


def _text_of(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            most = MAX_FILE_BYTES // (1024 * 1024)
            raise _file_error(
                path, sentence_for("batch.file_too_large", size=size / 1e6, maximum=most)
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise _file_error(path, sentence_for("batch.not_found")) from None
    except IsADirectoryError:
        raise _file_error(path, sentence_for("batch.folder")) from None
    except OSError as exc:
        raise _file_error(
            path, sentence_for("batch.unreadable", reason=exc.strerror or exc)
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = f"0x{data[exc.start]:02x}"
        raise _file_error(
            path, sentence_for("batch.not_utf8", at=exc.start + 1, byte=byte)
        ) from None


def _header(path: Path, cells: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    unknown = [shown(cell) for cell, name in zip(cells, names, strict=True) if name not in COLUMNS]
    if "image" not in names:
        seen = ", ".join(f"'{shown(cell)}'" for cell in cells[:4])
        raise _file_error(
            path, sentence_for("batch.no_header", seen=seen, known=", ".join(COLUMNS))
        )
    if unknown:
        strange = ", ".join(repr(u) for u in unknown)
        raise _file_error(
            path, sentence_for("batch.unknown_columns", unknown=strange, known=", ".join(COLUMNS))
        )
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise _file_error(path, sentence_for("batch.columns_twice", columns=", ".join(twice)))
    return names


def _records(path: Path, text: str) -> list[list[str]]:
    """The cells of each line, separated by commas (or, as some spreadsheets save CSV, by
    semicolons or tabs: whichever the first line holds most of)."""
    first = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise _file_error(path, sentence_for("batch.not_csv", reason=exc)) from None


def read_rows(path: Path, *, max_rows: int = MAX_ROWS) -> list[BatchRow]:
    """The file's rows (blank ones skipped); InputError for a file that cannot be a batch."""
    path = Path(path)
    records = _records(path, _text_of(path))
    filled = [
        number for number, record in enumerate(records, start=1) if any(map(str.strip, record))
    ]
    if not filled:
        raise _file_error(path, sentence_for("batch.empty_file"))
    names = _header(path, records[filled[0] - 1])
    rows, problems = [], []
    for index in filled[1:]:  # as a spreadsheet numbers rows; blank ones are skipped
        record = records[index - 1]
        if len(record) > len(names):
            problems.append(
                InputError(
                    sentence_for(
                        "batch.extra_cells", row=index, cells=len(record), columns=len(names)
                    ),
                    field="file",
                )
            )
            continue
        values = dict(zip(names, (cell.strip() for cell in record), strict=False))
        rows.append(BatchRow(number=index, folder=path.parent.resolve(), **values))
    if len(rows) > max_rows:
        raise _file_error(
            path, sentence_for("batch.too_many_rows", rows=len(rows), maximum=max_rows)
        )
    if problems:
        raise InputError.gather(problems)
    if not rows:
        raise _file_error(path, sentence_for("batch.no_rows"))
    return rows


# --- checking each row ---------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked_file(
    row: BatchRow,
    column: str,
    prepare: Callable[[bytes], object],
    max_bytes: int,
    allow_private_urls: bool,
    limits: SpeechLimits | None = None,
) -> tuple[str, bool]:
    """The digest of the row's file in `column`, once it passed `prepare`'s checks (a
    voice given `limits`: or it speaks longer than a part, and is made in parts); and
    whether it is longer than a part (`limits.part_s`) may be."""
    source = row.source(column)
    read = read_source(
        source, what=column, max_bytes=max_bytes, allow_private_urls=allow_private_urls
    )
    try:
        prepared = prepare(read.data)
    except InputError:
        if limits is None or not _long_voice(read.data, limits):
            raise
        return _digest(read.data), True
    seconds = getattr(prepared, "source_duration_s", None) or getattr(prepared, "duration_s", 0)
    return _digest(read.data), limits is not None and seconds > limits.part_s


def _long_voice(data: bytes, limits: SpeechLimits) -> bool:
    """Whether `data` is a voice that speaks (its silence aside) longer than a part, and
    so is made in parts; InputError, one sentence, when longer than a speech may be."""
    with tempfile.NamedTemporaryFile(prefix="batch-voice-") as file:
        file.write(data)
        file.flush()
        try:
            envelope = envelope_of_file(file.name)
        except MediaToolError:
            return False
    if envelope.duration_s <= limits.part_s:
        return False
    kept_s = plan_silence(envelope, min_seconds=MIN_PART_S).kept_s
    if kept_s <= limits.part_s:
        return False
    check_speech_length(kept_s, max_speech_s=limits.speech_s)
    return True


def _voice_problems(row: BatchRow, limits: SpeechLimits) -> list[InputError]:
    """The choice of voice: exactly one of audio and tts_text; voice fields only with text."""
    if row.audio and row.speaks:
        return [_problem(row.number, "audio and tts_text", sentence_for("batch.both_voices"))]
    if not row.audio and not row.speaks:
        return [_problem(row.number, "audio or tts_text", sentence_for("batch.no_voice"))]
    if row.audio:
        return [
            _problem(
                row.number,
                column,
                sentence_for("batch.tts_field", value=shown(getattr(row, column)), column=column),
            )
            for column in ("voice_id", "voice_language")
            if getattr(row, column)
        ]
    if not row.voice_id:
        missing = sentence_for("batch.no_voice_id", example=DEFAULT_VOICE)
        return [_problem(row.number, "voice_id", missing)]
    try:  # a text longer than one speech is spoken in groups of sentences, each checked
        groups = group_text(row.tts_text, max_part_s=limits.part_s, max_speech_s=limits.speech_s)
        for group in groups:
            check_speech_request(group, row.voice_id, row.voice_language or None, 1.0)
    except InputError as error:
        # several problems at once keep no field each: name the columns they come from
        column = _SPEECH_FIELDS.get(error.field or "", "tts_text, voice_id or voice_language")
        return [_problem(row.number, column, sentence) for sentence in error.problems]
    return []


def check_row(
    row: BatchRow, preparer: InputPreparer, limits: SpeechLimits | None = None
) -> tuple[BatchRow, list[InputError]]:
    """The row with the digest of its content as `key` (`check_rows` adds how many rows
    above hold the same), and its problems (each naming its row and column). A voice or
    a text longer than `limits.part_s` passes up to `limits.speech_s`."""
    limits = limits or SpeechLimits()
    problems = _voice_problems(row, limits)
    digests: dict[str, str | None] = {"image": None, "audio": None}
    in_parts = False
    files = {"image": (preparer.image, MAX_IMAGE_BYTES), "audio": (preparer.audio, MAX_AUDIO_BYTES)}
    for column, (prepare, max_bytes) in files.items():
        if not getattr(row, column):
            if column == "image":
                problems.append(_problem(row.number, "image", _NO_IMAGE))
            continue
        try:
            digests[column], long = _checked_file(
                row, column, prepare, max_bytes, preparer.allow_private_urls,
                limits if column == "audio" else None,
            )  # fmt: skip
            in_parts = in_parts or long
        except InputError as error:
            problems += [_problem(row.number, column, s) for s in error.problems]
    fields = {"prompt": clean_prompt, "mode": check_mode}
    cleaned: dict[str, str] = {}
    for column, check in fields.items():
        try:
            cleaned[column] = check(getattr(row, column) or None)
        except InputError as error:
            problems += [_problem(row.number, column, s) for s in error.problems]
    if problems:
        return row, problems
    content = [digests["image"], digests["audio"], row.tts_text, row.voice_id,
               row.voice_language.lower(), cleaned["prompt"], cleaned["mode"]]  # fmt: skip
    key = _digest(json.dumps(content, ensure_ascii=False).encode())  # made whole by check_rows
    return replace(row, mode=cleaned["mode"], key=key, in_parts=in_parts), []


def check_rows(
    rows: list[BatchRow], preparer: InputPreparer, limits: SpeechLimits | None = None
) -> list[BatchRow]:
    """Every row checked (a few at once); one InputError naming every problem of every row."""
    with ThreadPoolExecutor(max_workers=CHECKS_AT_ONCE, thread_name_prefix="batch-check") as pool:
        outcomes = list(pool.map(lambda row: check_row(row, preparer, limits), rows))
    problems = [problem for _, found in outcomes for problem in found]
    if problems:
        raise InputError.gather(problems)
    seen: dict[str, int] = {}  # content -> rows above holding it
    checked = []
    for row, _ in outcomes:
        occurrence = seen.get(row.key, 0)
        seen[row.key] = occurrence + 1
        key = "batch-" + _digest(f"{row.key}:{occurrence}".encode())
        checked.append(replace(row, key=key))
    return checked
