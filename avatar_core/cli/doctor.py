"""`python -m avatar_core doctor`: what the provider behind the keys really does.

Free requests only (nothing is created): the report (stdout) names the provider (CometAPI,
Kling's own API or demo: provider/choice.py) and says whether the key is
accepted, how each query route answers an unknown task, whether lookups by external id
are answered and the clock offset, for pasting into a bug report; the key is not in it.
Then the limits in force on visitors, the line and keeping videos (`limits_in_force`).
Without a key it examines the demo simulator and says so. Exit 0 when the key is accepted
and a query route answers, else 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from avatar_core.cli.codes import EXIT_FAILED, EXIT_OK
from avatar_core.config import Settings, limits_in_force
from avatar_core.jobs.studio import open_studio
from avatar_core.words import sentence_for


def add_doctor_command(subparsers: argparse._SubParsersAction) -> None:
    doctor = subparsers.add_parser("doctor", help=sentence_for("cli:doctor"))
    doctor.set_defaults(handler=run_doctor)


def run_doctor(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    settings = Settings.from_env()
    studio = open_studio(settings)
    try:
        report = studio.diagnose()
    finally:
        studio.close()
    print(report.text(), file=out)
    limits = limits_in_force(settings)  # what visitors may spend, and what is kept
    print(
        "\n".join(line.in_language(getattr(args, "language", "en")) for line in limits),
        file=out,
        flush=True,
    )
    return EXIT_OK if report.ok else EXIT_FAILED
