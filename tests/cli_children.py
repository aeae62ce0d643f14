"""The command line in a process of its own that skips the interpreter's start.

`python -m avatar_core` spends most of a short run starting Python and importing numpy,
Pillow, httpx and the core (about half a second of CPU each time). A test that runs the
command line dozens of times (the fault matrix) runs it here instead: a fork server that
imported `avatar_core.cli.main` once forks a child per run, and the child runs
`main(argv)` with its own environment, working folder, file size limit, its descriptors 1
and 2 going to files, and its own exit code, as `python -m avatar_core` would. What it does
not test is the start itself (`avatar_core/__main__.py`, the interpreter's encoding of its
streams): tests of that run `python -m avatar_core` (live.run_cli), and so do some rows of
every test that uses this.

`run_cli_child(*args, env=...)` answers like `live.run_cli`: a CompletedProcess.

`quick=True` runs the command with quicker real-time waits where their length is not what
a test checks (QUICK_WAITS): its first status check 0.2 s after the create instead of 2 s
(`Pacing.first_s`), checks 0.2 s to 1 s apart (were 1 s to 30 s: a task of a few seconds
is seen within a second of its end, not up to its own age later), and retries backing off
from 0.05 s instead of 0.5 s (`RetryPolicy.base_delay_s`): the same kinds of checks and
the same retries, sooner. A Retry-After the provider asks for is honoured as asked. Tests
of the real pacing and back-off run `python -m avatar_core` (or the command without
`quick`).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_lock = threading.Lock()
_server: tuple[subprocess.Popen[bytes], str] | None = None


# --- in the fork server ---------------------------------------------------------------------


def _warm_up() -> None:
    """What a command loads, on its first run too (image plugins, the HTTP stack): loaded
    once, in the fork server, rather than in every child."""
    import certifi  # noqa: F401
    import httpcore  # noqa: F401
    import numpy.ma  # noqa: F401
    from PIL import Image

    import avatar_core.cli.main  # noqa: F401

    Image.init()


def _serve(address: str) -> None:
    """Accept one request a connection; fork a waiter for each, which forks the command."""
    sys.path[:0] = [str(ROOT)]
    parent = os.getppid()
    _warm_up()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(address + ".new")
    listener.listen(64)
    os.rename(address + ".new", address)  # ready: the test process waits for this name
    listener.settimeout(1.0)
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the test process is gone
                return
            continue
        if os.fork() == 0:
            listener.close()
            _wait_for_command(connection)
        connection.close()


def _wait_for_command(connection: socket.socket) -> None:
    """In the waiter: fork the command, tell its pid, then its exit code (-N: signal N)."""
    request = json.loads(connection.makefile("r").readline())
    pid = os.fork()
    if pid == 0:
        connection.close()
        _run_command(**request)
    connection.sendall(f"{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with contextlib.suppress(OSError):
        connection.sendall(f"{code}\n".encode())
    os._exit(0)


# What `quick=True` changes in the child (the defaults of these policies, for the child
# only: every Pacing() and RetryPolicy() it makes).
QUICK_WAITS = {
    "avatar_core.waiting.pacing.Pacing": {
        "first_s": 0.2,
        "floor_s": 0.2,
        "close_s": 1.0,
        "cap_s": 1.0,
    },
    "avatar_core.provider.retry.RetryPolicy": {"base_delay_s": 0.05},
}


def _quicken() -> None:
    """In the child: QUICK_WAITS become the defaults of those dataclasses."""
    import importlib
    import inspect

    for name, changes in QUICK_WAITS.items():
        module, _, attribute = name.rpartition(".")
        init = getattr(importlib.import_module(module), attribute).__init__
        defaults = [p for p in inspect.signature(init).parameters.values()
                    if p.default is not inspect.Parameter.empty]  # fmt: skip
        assert len(defaults) == len(init.__defaults__) and set(changes) <= {
            p.name for p in defaults
        }, name
        init.__defaults__ = tuple(changes.get(p.name, p.default) for p in defaults)


def _run_command(
    args: list[str],
    env: dict[str, str],
    cwd: str,
    out: str,
    err: str,
    size_limit: int | None,
    quick: bool = False,
) -> None:
    """In the child: become the command's process, run `main(argv)`, exit with its code."""
    code = 1
    try:
        if quick:
            _quicken()
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        if size_limit is not None:  # as live.cli_command's wrapper: a write past it: EFBIG
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (size_limit, size_limit))
        for fd, path in ((1, out), (2, err)):  # one file for both: one description, shared
            if fd == 2 and err == out:
                os.dup2(1, 2)
                continue
            target = os.open(path, os.O_WRONLY | os.O_TRUNC)
            os.dup2(target, fd)
            os.close(target)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), "utf-8")
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), "utf-8")
        sys.argv = [str(ROOT / "avatar_core" / "__main__.py"), *args]
        from avatar_core.cli.main import main

        code = main(args)
    except BaseException:  # as the interpreter would: the traceback on stderr, exit 1
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


# --- in the test process ----------------------------------------------------------------------


def _address() -> str:
    """The fork server's socket, the server started on first use (one per test process)."""
    global _server
    with _lock:
        if _server is None or _server[0].poll() is not None:
            address = tempfile.mktemp(prefix="cli-fork-", suffix=".sock")
            command = [sys.executable, __file__, address]
            process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL)
            atexit.register(_stop, process)
            _server = (process, address)
        process, address = _server
    while not os.path.exists(address):
        if process.poll() is not None:
            raise RuntimeError(f"the CLI fork server stopped (exit {process.returncode})")
        threading.Event().wait(0.02)
    return address


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def run_cli_child(
    *args: str,
    env: dict[str, str],
    timeout: float = 120,
    file_size_limit: int | None = None,
    cwd: Path = ROOT,
    quick: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`python -m avatar_core ARGS` with `env`, run as a forked child: its exit code and
    what it wrote to stdout and stderr (TimeoutExpired after `timeout`, the child killed).
    `quick`: with QUICK_WAITS (the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="cli-child-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        out.touch()
        err.touch()
        request = {"args": list(args), "env": dict(env), "cwd": str(cwd), "out": str(out),
                   "err": str(err), "size_limit": file_size_limit, "quick": quick}  # fmt: skip
        with socket.socket(socket.AF_UNIX) as connection:
            connection.connect(_address())
            connection.sendall(json.dumps(request).encode() + b"\n")
            connection.settimeout(timeout)
            answers = connection.makefile("r")
            pid = int(answers.readline())
            try:
                code = int(answers.readline())
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(["avatar_core", *args], timeout) from None
        return subprocess.CompletedProcess(
            ["avatar_core", *args],
            code,
            out.read_text(encoding="utf-8", errors="replace"),
            err.read_text(encoding="utf-8", errors="replace"),
        )


class CliChild:
    """A command started by `start_cli_child`: what the tests use of a Popen (`pid`,
    `poll`, `wait`, `returncode`), so that live.sigkill kills it as it kills any other."""

    def __init__(self, args: list[str], connection: socket.socket) -> None:
        self.args, self._connection, self._read = args, connection, b""
        self.pid = int(self._line(None) or b"0")
        self.returncode: int | None = None

    def _line(self, timeout: float | None) -> bytes | None:
        """The waiter's next line (the pid, then the exit code); None if none came within
        `timeout`; b"" if the waiter went away without one."""
        while b"\n" not in self._read:
            if not select.select([self._connection], [], [], timeout)[0]:
                return None
            chunk = self._connection.recv(64)
            if not chunk:
                return b""
            self._read += chunk
        line, self._read = self._read.split(b"\n", 1)
        return line

    def _read_code(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            line = self._line(timeout)
            if line is None:
                return None
            if not line.strip():
                raise RuntimeError(f"the fork server's waiter gave no exit code for {self.pid}")
            self.returncode = int(line)
            self._connection.close()
        return self.returncode

    def poll(self) -> int | None:
        return self._read_code(0.0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._read_code(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return code


def start_cli_child(
    *args: str,
    env: dict[str, str],
    log: Path,
    cwd: Path = ROOT,
    out: Path | None = None,
    quick: bool = False,
) -> CliChild:
    """`python -m avatar_core ARGS` in the background as a forked child, as live.start_cli
    starts it: stdout and stderr both going to `log` (made empty first), or stdout to
    `out` when given. `quick`: with QUICK_WAITS (the module's docstring)."""
    log.write_bytes(b"")
    if out is not None:
        out.write_bytes(b"")
    request = {"args": list(args), "env": dict(env), "cwd": str(cwd), "out": str(out or log),
               "err": str(log), "size_limit": None, "quick": quick}  # fmt: skip
    connection = socket.socket(socket.AF_UNIX)
    connection.connect(_address())
    connection.sendall(json.dumps(request).encode() + b"\n")
    return CliChild(["avatar_core", *args], connection)


if __name__ == "__main__":
    _serve(sys.argv[1])
