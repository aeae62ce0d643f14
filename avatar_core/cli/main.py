"""The command line: `python -m avatar_core COMMAND ...`.

Each command is a subparser whose defaults carry `handler(args, out, err) -> int`; a
module adds its commands with a registrar function listed in `_registrars()`. `main`
turns every error into one line per problem on stderr, never a traceback.

Exit codes: 0 done; 1 the provider or the task failed (or something unexpected);
2 the input is not acceptable (nothing was sent).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from avatar_core import __version__
from avatar_core.config import Settings
from avatar_core.errors import AvatarError, InputError, StorageError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

Registrar = Callable[[argparse._SubParsersAction], None]


# --- check --------------------------------------------------------------------------------


def add_check_command(subparsers: argparse._SubParsersAction) -> None:
    """Register `check --image IMG --audio AUD [--trim] [--save DIR]`."""
    check = subparsers.add_parser(
        "check",
        help="validate and fix the inputs without sending anything",
        description="Measure the portrait and the voice against Kling's rules, fix what can "
        "be fixed, and say what cannot. Nothing is sent and nothing is charged.",
    )
    check.add_argument("--image", required=True, help="portrait: a local path or an http(s) URL")
    check.add_argument("--audio", required=True, help="voice: a local path or an http(s) URL")
    check.add_argument("--trim", action="store_true", help="keep the first 60 s of longer audio")
    check.add_argument(
        "--save",
        type=Path,
        metavar="DIR",
        help="write the exact files that would be sent, as DIR/image.<ext> and DIR/audio.<ext>",
    )
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from avatar_core.inputs.preparation import prepare_inputs

    settings = Settings.from_env()
    inputs = prepare_inputs(
        args.image, args.audio, trim=args.trim, allow_private_urls=settings.allow_private_urls
    )
    for line in inputs.report_lines():
        print(line, file=out)
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
                print(f"Saved {target}", file=out)
        except OSError as exc:
            raise StorageError(
                f"Could not write the files into {folder} ({exc.strerror or exc}); "
                "choose a folder you can write to."
            ) from exc
    print("Ready: the inputs meet Kling's rules (nothing was sent).", file=out)
    return EXIT_OK


# --- the parser ---------------------------------------------------------------------------


def _registrars() -> list[Registrar]:
    """Every module's command registrar, in the order `--help` lists them."""
    from avatar_core.cli.jobs import add_job_commands

    return [add_check_command, add_job_commands]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m avatar_core",
        description="Talking Avatar Studio: one portrait and one voice make a talking-avatar "
        "video with Kling Avatar (CometAPI).",
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
    try:
        return handler(args, out, err)
    except InputError as error:
        for problem in error.problems:
            print(problem, file=err)
        return EXIT_BAD_INPUT
    except AvatarError as error:
        print(error.message, file=err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("Stopped.", file=err)
        return 130
    except Exception as error:  # the promise: one line, never a traceback
        print(f"Unexpected error: {type(error).__name__}: {error}", file=err)
        return EXIT_FAILED
