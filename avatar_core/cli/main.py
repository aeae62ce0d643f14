"""The command line: `python -m avatar_core COMMAND ...`.

Each command is a subparser whose defaults carry `handler(args, out, err) -> int`; a
module adds its commands with a registrar function listed in `_registrars()`. `main`
turns every error into one line per problem on stderr, never a traceback.

Exit codes: 0 done; 1 the provider or the task failed (or something unexpected);
2 the input or a setting is not acceptable (nothing was sent).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from avatar_core import __version__
from avatar_core.catalogue import in_language, sentence_for
from avatar_core.cli.batch import add_batch_command
from avatar_core.cli.check import add_check_command
from avatar_core.cli.codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED
from avatar_core.cli.doctor import add_doctor_command
from avatar_core.cli.jobs import add_job_commands
from avatar_core.config import Settings, terminal_language
from avatar_core.errors import AvatarError, InputError, SettingsError

Registrar = Callable[[argparse._SubParsersAction], None]


# --- the parser ---------------------------------------------------------------------------


def _registrars() -> list[Registrar]:
    """Every module's command registrar, in the order `--help` lists them."""
    return [add_check_command, add_job_commands, add_batch_command, add_doctor_command]


def _program_name() -> str:
    """`avatar-studio` when installed as that command, else `python -m avatar_core`."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name.startswith("avatar-studio") else "python -m avatar_core"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_program_name(),
        description=sentence_for("cli:program"),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _registrars():
        register(subparsers)
    return parser


def _tolerant(stream: TextIO) -> None:
    """Never crash on a terminal that cannot show × or →."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):  # a closed or odd stream
            reconfigure(errors="replace")


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run one command; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    _tolerant(out)
    _tolerant(err)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error (argparse printed it)
        return exit_.code if isinstance(exit_.code, int) else EXIT_BAD_INPUT
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(err)
        return EXIT_BAD_INPUT
    language = args.language = terminal_language()  # the sentences follow LANG
    try:
        Settings.from_env()  # every setting read strictly before any command starts
        return handler(args, out, err)
    except InputError as error:
        for problem in error.problems:
            print(in_language(problem, language), file=err)
        return EXIT_BAD_INPUT
    except SettingsError as error:
        print(error.in_language(language), file=err)
        return EXIT_BAD_INPUT
    except AvatarError as error:
        print(error.in_language(language), file=err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(sentence_for("cli.stopped").in_language(language), file=err)
        return EXIT_INTERRUPTED
    except Exception as error:  # the promise: one line, never a traceback
        unexpected = sentence_for("cli.unexpected", kind=type(error).__name__, error=error)
        print(unexpected.in_language(language), file=err)
        return EXIT_FAILED
