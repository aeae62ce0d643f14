"""Real processes against a simulator in the test process: the CLI, `python app.py`, a
clock the test can push forward, and a TCP gate that can hold a create on its way.

Import it from any test module (`from live import ...`; pytest puts tests/ on sys.path).
Nothing here sleeps as an assertion: `wait_until` polls a condition under a generous
bound and fails with a sentence saying what never happened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from avatar_core.storage.journal import Job, Journal

ROOT = Path(__file__).resolve().parent.parent
CREATE_REQUEST = b"POST /kling/v1/videos/avatar/image2video "


def keep_logging(monkeypatch) -> None:
    """What `app.main()` sets up for the process's logging, given back after the test (a
    test that calls it in process)."""
    monkeypatch.setattr(logging.root, "handlers", list(logging.root.handlers))
    monkeypatch.setattr(logging.root, "level", logging.root.level)
    monkeypatch.setattr(logging.getLogger("httpx"), "level", logging.getLogger("httpx").level)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], object], what: str, timeout: float = 60.0) -> object:
    """Poll `predicate` until it returns something truthy (returned); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for: {what}")
        time.sleep(0.02)


# --- the command line ---------------------------------------------------------------------


CANARY_KEY = "sk-canary-3f9d2c7e-never-show-me"  # a key that must appear nowhere we look

# Sets RLIMIT_FSIZE, then becomes `python -m avatar_core ...`: no preexec_fn (unsafe with
# the threads a test process runs), and SIGXFSZ ignored so a write past it fails with EFBIG.
_FILE_SIZE_LIMITED = (
    "import os, resource, signal, sys; "
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
    "limit = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)); "
    "os.execv(sys.executable, [sys.executable, '-m', 'avatar_core', *sys.argv[2:]])"
)


def cli_command(*args: str, file_size_limit: int | None = None) -> list[str]:
    if file_size_limit is not None:
        return [sys.executable, "-c", _FILE_SIZE_LIMITED, str(file_size_limit), *args]
    return [sys.executable, "-m", "avatar_core", *args]


def cli_env(base_url: str, data_dir: Path, key: str = "live-key", **extra: str) -> dict[str, str]:
    """The environment of a CLI or app process talking to `base_url` with `key`."""
    drop = ("COMETAPI_", "AVATAR_", "PYTHONWARNINGS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        COMETAPI_KEY=key,
        COMETAPI_BASE_URL=base_url,
        AVATAR_DATA_DIR=str(data_dir),
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 120, file_size_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(*args, file_size_limit=file_size_limit),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def start_cli(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A CLI process in the background, its output in `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            cli_command(*args), env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )


def sigkill(process: subprocess.Popen) -> None:
    """SIGKILL one process this test started, and reap it."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback (most recent call last)" not in text, text
        assert "Unexpected error" not in text, text


# --- a small disk ---------------------------------------------------------------------------


class Unavailable(Exception):
    """What a test needs cannot be had on this machine (say, mounting without root)."""


@contextlib.contextmanager
def small_disk(path: Path, size: int) -> Iterator[Callable[[int], None]]:
    """A tmpfs of `size` bytes mounted at `path` (a real full disk: writes fail with
    ENOSPC); yields a function that grows it. Needs root and `mount`."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        raise Unavailable("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        raise Unavailable(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")

    def grow(new_size: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={new_size}", str(path)], check=True)

    try:
        yield grow
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


# --- the app as a process -----------------------------------------------------------------


class AppProcess:
    """`python app.py` on a free port, as a person starts it; output kept in `log`; run
    from `cwd` (the project's folder unless said otherwise)."""

    def __init__(self, env: dict[str, str], log: Path, cwd: Path = ROOT) -> None:
        self.env, self.log, self.cwd = env, log, cwd
        self._start()

    def _start(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(self.env, GRADIO_SERVER_PORT=str(self.port), GRADIO_SERVER_NAME="127.0.0.1")
        env["GRADIO_TEMP_DIR"] = str(self.log.with_suffix(".gradio-cache"))  # its own uploads
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "app.py")],
                env=env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 180.0) -> AppProcess:
        # A generous bound: on a loaded machine (the suite's two workers, other work) importing
        # gradio alone has taken over a minute.
        tries = [2]  # starts left if another process took the free port first

        def answers() -> bool:
            if self.process.poll() is not None:
                if "empty port" in self.output() and tries[0] > 0:
                    tries[0] -= 1
                    self._start()
                    return False
                raise AssertionError(f"the app exited early:\n{self.output()}")
            try:  # a refused connection costs nothing; an HTTP client is asked once it listens
                socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
                return httpx.get(self.url + "/config", timeout=2).status_code == 200
            except (OSError, httpx.HTTPError):
                return False

        wait_until(answers, "the app to answer on its port", timeout)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        sigkill(self.process)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def running_app(env: dict[str, str], log: Path, cwd: Path = ROOT) -> Iterator[AppProcess]:
    app = AppProcess(env, log, cwd)
    try:
        yield app
    finally:
        app.stop()


# --- the journal, read from outside -------------------------------------------------------


def jobs_of(data_dir: Path) -> list[Job]:
    """Every job in the journal of `data_dir`, oldest first (empty when there is none)."""
    if not (data_dir / "journal.sqlite3").exists():
        return []
    journal = Journal(data_dir)
    try:
        return sorted(journal.recent(10_000), key=lambda job: job.created_at)
    finally:
        journal.close()


def newest_job(data_dir: Path, after: Sequence[Job] = ()) -> Job | None:
    """The job created since `after` was read, if there is one."""
    known = {job.job_id for job in after}
    fresh = [job for job in jobs_of(data_dir) if job.job_id not in known]
    return fresh[-1] if fresh else None


# --- a gate between the processes and the simulator ---------------------------------------


@dataclass
class _Held:
    client: socket.socket
    release: threading.Event
    forward: bool = False


class TcpGate:
    """A TCP relay in front of the simulator that can hold requests before they arrive.

    While a hold is on (`hold_creates()`, or `hold(prefix, count)`), a connection whose
    first request starts with the prefix is accepted and left unread: the sender has sent
    it, the provider has not seen it. Held connections are later dropped (`drop_held`: the
    request never arrives) or forwarded (`forward_held`: it arrives late). Everything else
    is relayed byte for byte.
    """

    def __init__(self, upstream_url: str) -> None:
        parsed = httpx.URL(upstream_url)
        self._upstream = (parsed.host, parsed.port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._hold_prefix: bytes | None = None
        self._hold_left: int | None = None  # None: every matching connection
        self._held: list[_Held] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="gate", daemon=True).start()

    # steering
    def hold_creates(self) -> None:
        self.hold(CREATE_REQUEST)

    def hold(self, prefix: bytes, count: int | None = None) -> None:
        """Hold the next `count` connections (all, when None) whose request starts so."""
        with self._lock:
            self._hold_prefix, self._hold_left = prefix, count

    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def drop_held(self) -> None:
        self._let_go(forward=False)

    def forward_held(self) -> None:
        self._let_go(forward=True)

    def _let_go(self, *, forward: bool) -> None:
        with self._lock:
            self._hold_prefix = None
            held, self._held = self._held, []
        for item in held:
            item.forward = forward
            item.release.set()

    def close(self) -> None:
        self._closed = True
        self.drop_held()
        self._listener.close()

    # relaying
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            client.settimeout(30)
            head = client.recv(64, socket.MSG_PEEK | socket.MSG_WAITALL)
            client.settimeout(None)
            if not self._wait_if_held(client, head):
                return
            upstream = socket.create_connection(self._upstream)
            back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            back.start()
            _pump(client, upstream)
            back.join(timeout=120)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()

    def _wait_if_held(self, client: socket.socket, head: bytes) -> bool:
        """False when the connection was held and then dropped."""
        with self._lock:
            prefix = self._hold_prefix
            if prefix is None or not head.startswith(prefix) or self._hold_left == 0:
                return True
            if self._hold_left is not None:
                self._hold_left -= 1
            item = _Held(client, threading.Event())
            self._held.append(item)
        item.release.wait()
        return item.forward


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Copy one direction until it ends; a reset is passed on as a reset."""
    try:
        while chunk := source.recv(1 << 16):
            target.sendall(chunk)
    except ConnectionResetError:
        with contextlib.suppress(OSError):
            target.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    for sock in (source, target):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
