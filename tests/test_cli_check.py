"""`python -m avatar_core check` as a person runs it, on real files: once as a real
subprocess (the installed entry point, its streams and exit code), and otherwise through
the same `main(argv)` the module runs, in this process, with its own streams and
environment (a process start costs more than most checks)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from media import (
    PORTRAIT,
    REPO_ROOT,
    SPEECH,
    audio_bytes,
    decoded_seconds,
    exif_block,
    image_bytes,
    pixels_of,
)
from PIL import Image

from avatar_core.cli import check as check_command
from avatar_core.cli import main as cli


def run_check_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m avatar_core check ARGS` in a process of its own."""
    environment = {k: v for k, v in os.environ.items() if k != "AVATAR_ALLOW_PRIVATE_URLS"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "avatar_core", "check", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**environment, "PYTHONIOENCODING": "utf-8"},
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )


@contextlib.contextmanager
def _environment(env: dict[str, str]):
    saved = dict(os.environ)
    os.environ.pop("AVATAR_ALLOW_PRIVATE_URLS", None)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`check ARGS` through `main(argv)` in this process, as `python -m avatar_core` runs
    it: its environment (AVATAR_ALLOW_PRIVATE_URLS only when given), stdout and stderr
    (argparse's usage errors too) captured, the exit code returned."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["check", *args]
    with (
        _environment(env or {}),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = cli.main(argv, out=out, err=err)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def assert_no_traceback(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("check-media")
    made = {
        "wide.png": image_bytes(1200, 300),
        "tiny.png": image_bytes(250, 250),
        "gps.jpg": image_bytes(700, 600, fmt="JPEG", exif=exif_block(gps=True)),
        "short.wav": audio_bytes(1.0),
        "long.mp3": audio_bytes(70, fmt="mp3", sample_rate=16_000),
        "voice.ogg": audio_bytes(3, fmt="ogg"),
    }
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in made}


@pytest.mark.slow
def test_good_inputs_exit_0_and_say_what_was_measured():
    done = run_check_process("--image", str(PORTRAIT), "--audio", str(SPEECH))
    assert_no_traceback(done)
    assert done.returncode == 0, done.stderr
    assert "Image: JPEG 512×512" in done.stdout
    assert "Audio: MP3 7.3 s" in done.stdout
    assert "nothing was sent" in done.stdout
    assert done.stderr == ""


def test_fixes_are_reported_and_saved_files_are_exactly_what_would_be_sent(files, tmp_path):
    out = tmp_path / "to-send"
    done = run_check(
        "--image", str(files["wide.png"]), "--audio", str(files["voice.ogg"]), "--save", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "Padded from 1200×300" in done.stdout
    assert "Converted from Ogg" in done.stdout
    image, audio = out / "image.jpg", out / "audio.mp3"
    assert sorted(p.name for p in out.iterdir()) == ["audio.mp3", "image.jpg"]
    assert pixels_of(image.read_bytes()).size == (1200, 480)
    assert decoded_seconds(audio.read_bytes()) == pytest.approx(3.0, abs=0.05)


def test_saved_photo_has_no_gps(files, tmp_path):
    done = run_check(
        "--image", str(files["gps.jpg"]), "--audio", str(SPEECH), "--save", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert "GPS location" in done.stdout
    saved = (tmp_path / "image.jpg").read_bytes()
    assert not Image.open(io.BytesIO(saved)).getexif()


def test_every_problem_gets_one_line_on_stderr_and_exit_2(files):
    done = run_check("--image", str(files["tiny.png"]), "--audio", str(files["short.wav"]))
    assert_no_traceback(done)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2
    assert "250×250" in lines[0] and "300 px" in lines[0]
    assert (
        lines[1]
        == "Audio is 1.0 s long; the video maker needs at least 2 s of voice. Record a longer clip."
    )
    assert "Ready" not in done.stdout


def test_a_missing_file_is_one_line(tmp_path):
    done = run_check("--image", str(tmp_path / "nope.jpg"), "--audio", str(SPEECH))
    assert_no_traceback(done)
    assert done.returncode == 2
    assert done.stderr.strip() == "The image file 'nope.jpg' was not found; check the path."


def test_long_audio_is_refused_unless_trim_is_asked(files, tmp_path):
    refused = run_check("--image", str(PORTRAIT), "--audio", str(files["long.mp3"]))
    assert refused.returncode == 2
    assert "70.0 s long" in refused.stderr and "trim" in refused.stderr
    trimmed = run_check(
        "--image", str(PORTRAIT), "--audio", str(files["long.mp3"]), "--trim",
        "--save", str(tmp_path),
    )  # fmt: skip
    assert trimmed.returncode == 0, trimmed.stderr
    assert "Trimmed from 70.0 s" in trimmed.stdout
    assert decoded_seconds((tmp_path / "audio.mp3").read_bytes()) == pytest.approx(60, abs=0.01)


def test_a_usage_error_exits_2():
    done = run_check("--image", str(PORTRAIT))
    assert done.returncode == 2
    assert "--audio" in done.stderr


@pytest.fixture(scope="module")
def web():
    handler = partial(SimpleHTTPRequestHandler, directory=str(PORTRAIT.parent))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urls_to_this_machine_are_refused_unless_allowed(web):
    image, audio = f"{web}/{PORTRAIT.name}?key=SECRET", f"{web}/{SPEECH.name}"
    refused = run_check("--image", image, "--audio", audio)
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 2
    assert "loopback" in refused.stderr and "SECRET" not in refused.stderr
    allowed = run_check("--image", image, "--audio", audio, env={"AVATAR_ALLOW_PRIVATE_URLS": "1"})
    assert allowed.returncode == 0, allowed.stderr
    assert "Image: JPEG 512×512" in allowed.stdout


def test_an_unexpected_error_is_one_line_and_exit_1(monkeypatch, capsys):
    def explode(args, out, err):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(check_command, "run_check", explode)
    code = cli.main(["check", "--image", str(PORTRAIT), "--audio", str(SPEECH)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.strip() == "Unexpected error: RuntimeError: disk on fire"
