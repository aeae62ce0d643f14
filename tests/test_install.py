"""`pip install .` gives an `avatar-studio` command equal to `python -m avatar_core`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _source_copy(folder: Path) -> Path:
    """What `pip install .` reads, copied, so the build leaves nothing in the checkout."""
    folder.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, folder / name)
    shutil.copytree(
        ROOT / "avatar_core", folder / "avatar_core", ignore=shutil.ignore_patterns("__pycache__")
    )
    return folder


def test_pip_install_gives_a_working_avatar_studio_command(tmp_path):
    source = _source_copy(tmp_path / "source")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--target", str(target), str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert (target / "avatar_core" / "cli" / "main.py").is_file()
    assert (target / "avatar_core" / "simulator" / "routes.py").is_file()
    assert not (target / "tests").exists() and not (target / "ui").exists()
    command = target / "bin" / "avatar-studio"
    # the installed copy, not this checkout, answers (dependencies from this environment)
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, str(command), "--help"],
        capture_output=True, text=True, timeout=120, cwd=elsewhere, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: avatar-studio")
    for command_name in ("check", "generate", "status", "resume", "batch", "simulator"):
        assert command_name in done.stdout
    located = subprocess.run(
        [sys.executable, "-c", "import avatar_core; print(avatar_core.__file__)"],
        capture_output=True, text=True, timeout=60, cwd=elsewhere, env=env,
    )  # fmt: skip
    assert located.stdout.strip().startswith(str(target))
