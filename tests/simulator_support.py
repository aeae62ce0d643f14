"""Helpers for the simulator's tests: media made on the spot, a fake clock, small servers.

Media comes from Pillow and ffmpeg's lavfi sources, so nothing is downloaded; results are
cached per session because several tests want the same clip.
"""

from __future__ import annotations

import atexit
import base64
import functools
import io
import json
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

from avatar_core.inputs.ffmpeg import ffmpeg_exe

MB = 1024 * 1024
CREATE = "/kling/v1/videos/avatar/image2video"
AVATAR_QUERY = "/kling/v1/videos/avatar/image2video/"
GENERIC_QUERY = "/kling/v1/videos/image2video/"
TTS = "/kling/v1/audio/tts"
KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}

_TMP = Path(tempfile.mkdtemp(prefix="sim-test-media-"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)


def eventually(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll `predicate` until true (background work such as callbacks); False on timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- images -------------------------------------------------------------------------------


def picture(width: int, height: int) -> Image.Image:
    """A portrait-like picture: a gradient with a light "face" disc, so motion shows."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)),
                    np.full((height, width), 96.0)], axis=-1)  # fmt: skip
    yy, xx = np.mgrid[0:height, 0:width]
    disc = (xx - width / 2) ** 2 + (yy - height * 0.45) ** 2 < (min(width, height) * 0.3) ** 2
    rgb[disc] = (230, 190, 160)
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


@functools.cache
def image_bytes(width: int = 320, height: int = 320, fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    picture(width, height).save(out, fmt)
    return out.getvalue()


# --- audio --------------------------------------------------------------------------------


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args],
        check=True,
        capture_output=True,
    )


@functools.cache
def tone_path(seconds: float, fmt: str = "wav", rate: int = 8000) -> Path:
    """A 440 Hz tone of exactly `seconds` (for WAV) in `fmt`: wav, mp3, m4a, aac, ogg."""
    path = _TMP / f"tone-{seconds}-{rate}.{fmt}"
    codec = {
        "wav": ["-c:a", "pcm_s16le"],
        "mp3": ["-c:a", "libmp3lame", "-b:a", "32k"],
        "m4a": ["-c:a", "aac", "-b:a", "32k"],
        "aac": ["-c:a", "aac", "-b:a", "32k", "-f", "adts"],
        "ogg": ["-c:a", "libvorbis"],
    }[fmt]
    _ffmpeg("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={rate}:duration={seconds}",
            *codec, str(path))  # fmt: skip
    return path


def tone(seconds: float, fmt: str = "wav") -> bytes:
    return tone_path(seconds, fmt).read_bytes()


def wav_of_size(size: int, rate: int = 48000) -> bytes:
    """A valid mono 16-bit WAV of exactly `size` bytes (44-byte header, even size)."""
    frames = (size - 44) // 2
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        t = np.arange(frames) / rate
        w.writeframes((np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes())
    data = out.getvalue()
    assert len(data) == size, len(data)
    return data


@functools.cache
def quiet_then_talking_path() -> Path:
    """1.5 s of silence, then 1.5 s of a tone that swells and fades four times a second."""
    path = _TMP / "quiet-then-talking.wav"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:sample_rate=16000:duration=3",
            "-af", "volume='if(lt(t,1.5),0,0.2+0.8*abs(sin(2*PI*2*t)))':eval=frame",
            "-c:a", "pcm_s16le", str(path))  # fmt: skip
    return path


# --- probing results without ffprobe --------------------------------------------------------


def probe(path: Path) -> str:
    """ffmpeg's description of a file's streams (stderr of `ffmpeg -i`)."""
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True
    )
    return done.stderr.decode("utf-8", "replace")


def video_frames(path: Path, width: int, height: int) -> np.ndarray:
    """Every video frame as RGB, shape (frames, height, width, 3)."""
    done = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(done.stdout, np.uint8).reshape(-1, height, width, 3)


def audio_seconds(path: Path) -> float:
    """The decoded length of a file's first audio stream."""
    done = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0",
         "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return len(done.stdout) / 2 / 16000


# --- small local servers ------------------------------------------------------------------


@contextmanager
def file_server(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on loopback; yields the base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    with _serving(Quiet) as url:
        yield url


class CallbackReceiver:
    """Collects JSON bodies POSTed to it; `wait_for(n)` blocks until n have arrived."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self._changed = threading.Condition()

    def add(self, body: dict) -> None:
        with self._changed:
            self.bodies.append(body)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.bodies) >= count, timeout)
            return list(self.bodies)


@contextmanager
def callback_receiver() -> Iterator[tuple[str, CallbackReceiver]]:
    """A loopback receiver for provider callbacks; yields (url, receiver)."""
    receiver = CallbackReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            receiver.add(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    with _serving(Handler) as url:
        yield url + "/hook", receiver


@contextmanager
def _serving(handler) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
