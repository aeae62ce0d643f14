"""Regenerate RELIABILITY.md from what the tests observe: `python -m tests.reliability_report`.

It runs the tests that own a section of the report with RELIABILITY_UPDATE=1, so each
rewrites its section from the outcomes it just saw instead of comparing. Extra arguments
go to pytest (`-k crash` regenerates one section).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
MODULES = (
    "test_fault_matrix.py",
    "test_crash_safety.py",
    "test_hostile_inputs.py",
    "test_large_images.py",
    "test_public_inputs.py",
    "test_secrets.py",
    "test_visitors.py",
)


def main(argv: list[str]) -> int:
    os.environ["RELIABILITY_UPDATE"] = "1"
    os.chdir(TESTS.parent)
    paths = [str(TESTS / name) for name in MODULES if (TESTS / name).exists()]
    return int(pytest.main([*paths, "-q", "-k", "section_is_current", *argv]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
