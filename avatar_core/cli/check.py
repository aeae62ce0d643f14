"""`check`: measure and fix the inputs against Kling's rules; nothing is sent."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from avatar_core.catalogue import in_language, sentence_for
from avatar_core.cli.codes import EXIT_OK
from avatar_core.config import Settings
from avatar_core.errors import StorageError
from avatar_core.inputs.preparation import InputPreparer
from avatar_core.jobs.pricing import silence_saving


def add_check_command(subparsers: argparse._SubParsersAction) -> None:
    """Register `check --image IMG --audio AUD [--trim] [--save DIR]`."""
    check = subparsers.add_parser(
        "check",
        help=sentence_for("cli:check"),
        description=sentence_for("cli:check_about"),
    )
    check.add_argument("--image", required=True, help=sentence_for("cli:image"))
    check.add_argument("--audio", required=True, help=sentence_for("cli:audio"))
    check.add_argument("--trim", action="store_true", help=sentence_for("cli:check_trim"))
    check.add_argument(
        "--shorten-pauses", action="store_true", help=sentence_for("cli:check_shorten_pauses")
    )
    check.add_argument(
        "--save",
        type=Path,
        metavar="DIR",
        help=sentence_for("cli:save"),
    )
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    settings = Settings.from_env()
    preparer = InputPreparer(allow_private_urls=settings.allow_private_urls)
    shorten_pauses = getattr(args, "shorten_pauses", False)
    inputs = preparer.prepare(args.image, args.audio, trim=args.trim, shorten_pauses=shorten_pauses)
    language = getattr(args, "language", "en")
    for line in inputs.report_lines():
        print(in_language(line, language), file=out)
    saving = inputs.audio and silence_saving(inputs.audio.silence_left_out_s, settings.prices)
    if saving:
        print(saving.in_language(language), file=out)
    if args.save is not None:
        folder: Path = args.save
        files = {"image": inputs.image, "audio": inputs.audio}
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, prepared in files.items():
                if prepared is None:
                    continue
                target = folder / f"{name}.{prepared.extension}"
                target.write_bytes(prepared.data)
                print(sentence_for("cli.saved", path=target).in_language(language), file=out)
        except OSError as exc:
            raise StorageError(
                sentence_for("cli.not_saved", folder=folder, reason=exc.strerror or exc)
            ) from exc
    print(sentence_for("cli.ready").in_language(language), file=out)
    return EXIT_OK
