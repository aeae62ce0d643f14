"""What a stranger's requests may cost the machine: memory, CPU and disk stay bounded.

Memory and CPU: a long sound is measured holding its first minute only, large sound
files are checked one at a time, the heavy events share limits and the queue has an end,
and a request body over its cap is refused before it is read. Disk: uploads are limited
per network address and deleted after a short time, a video on another disk is copied
once however often it is viewed, demo mode has the visitors' limits, and old videos are
deleted (AVATAR_KEEP_DAYS). The figures (megabytes, seconds) are bench/bench_memory.py's.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from app_harness import InProcessApp, generate, make_studio
from fake_clock import FakeClock
from gradio.utils import get_upload_folder
from gradio_client.exceptions import AppError
from live import keep_logging, wait_until
from media import speech_with_pauses, wav_seconds

import ui.limits as limits
from avatar_core.config import Settings
from avatar_core.errors import SettingsError
from avatar_core.inputs import audio
from avatar_core.inputs.audio import prepare_audio
from avatar_core.inputs.decode_gate import LARGE_SOUND_BYTES, SOUND_GATE, one_large_sound
from avatar_core.inputs.sniff import sniff
from avatar_core.jobs.steps import video_stored
from avatar_core.simulator import Simulator
from avatar_core.storage.retention import DAY_S, delete_old_videos
from avatar_core.storage.visitors import network_of
from ui.delivery import COPY_PREFIX
from ui.request_limits import SWEEP_EVERY_S, UploadLedger

BODY_TOO_LARGE = "This request is larger than the"
TOO_MANY_UPLOADS = "Too many uploads from this network address"


@contextlib.contextmanager
def running_app(root: Path, *, key: str | None = "app-key", data_dir: Path | None = None,
                queue: dict | None = None, ledger: UploadLedger | None = None,
                **settings: object) -> Iterator[InProcessApp]:  # fmt: skip
    """The app on a simulator of its own, on one fake clock."""
    fake = FakeClock()
    with Simulator(task_seconds=20, clock=fake.now, work_dir=root / "sim") as sim:
        studio = make_studio(sim, fake, data_dir or root / "data", key=key, **settings)
        running = InProcessApp(studio, queue=queue, ledger=ledger)
        try:
            yield running
        finally:
            running.close()


def upload(running: InProcessApp, *files: tuple[str, bytes]) -> httpx.Response:
    return httpx.post(
        running.url + "gradio_api/upload",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        timeout=60,
    )


def uploaded_files(name: str) -> list[Path]:
    return sorted(Path(get_upload_folder()).rglob(name))


# --- memory and CPU -------------------------------------------------------------------------


def test_a_ten_minute_flac_is_counted_whole_but_only_its_first_minute_is_held(tmp_path):
    # ten minutes at 16 kHz mono: 19 MB of samples counted, KEPT_SECONDS of them held (the
    # same file at 48 kHz stereo, 115 MB, cost three times the CPU for the same checks)
    data = speech_with_pauses(600, rate=16_000, channels=1)
    decoded = audio._decode(data, sniff(data), tmp_path, "")
    assert decoded.seconds == pytest.approx(600, abs=0.05)
    assert decoded.segment.duration_seconds == pytest.approx(audio.KEPT_SECONDS, abs=0.01)
    prepared = prepare_audio(data, trim=True)
    assert prepared.source_duration_s == pytest.approx(600, abs=0.05)
    assert prepared.duration_s == pytest.approx(60, abs=0.1)
    assert "600" in prepared.changes[0] and prepared.warnings == ()
    with pytest.raises(Exception, match=r"10 min|600"):
        prepare_audio(data, trim=False)


def test_large_sound_files_are_checked_one_at_a_time(tmp_path):
    big = wav_seconds(100)  # 8.8 MB of WAV
    assert len(big) > LARGE_SOUND_BYTES
    paths = []
    for n in range(3):
        path = tmp_path / f"long-{n}.wav"
        path.write_bytes(big[:-2] + bytes([n, n]))  # each file different: no cache shared
        paths.append(path)
    turns, results = SOUND_GATE.turns, []
    checks = [
        threading.Thread(target=lambda p=p: results.append(prepare_audio(p, trim=True)))
        for p in paths
    ]
    for check in checks:
        check.start()
    for check in checks:
        check.join()
    assert [r.duration_s for r in results] == [pytest.approx(60, abs=0.1)] * 3
    assert SOUND_GATE.turns - turns == 3 and SOUND_GATE.most_at_once == 1


def _join(running: InProcessApp, fn_index: int, data: list) -> httpx.Response:
    body = {"data": data, "fn_index": fn_index, "session_hash": uuid.uuid4().hex,
            "event_data": None, "trigger_id": None}  # fmt: skip
    return httpx.post(running.url + "gradio_api/queue/join", json=body, timeout=30)


def test_voice_checks_share_one_limit_whatever_triggers_them_and_the_queue_has_an_end(
    tmp_path,
):
    with running_app(tmp_path, queue={"max_size": 2}) as running:
        triggers = [i for i, fn in running.blocks.fns.items() if fn.name == "check_voice"]
        assert len(triggers) == 4  # a file, a URL typed or left, the trim box
        answer = upload(running, ("long.wav", wav_seconds(100)))
        assert answer.status_code == 200, answer.text
        voice = {"path": answer.json()[0], "meta": {"_type": "gradio.FileData"}}
        waiting = running.blocks._queue
        with one_large_sound(LARGE_SOUND_BYTES + 1):  # every check of it waits its turn
            for index in triggers:  # one through each trigger: four at once, the most
                assert _join(running, index, [voice, None, True, None]).status_code == 200
                wait_until(lambda: len(waiting) == 0, "the check to start")
            for index in triggers[:2]:  # a fifth and a sixth wait, whatever their trigger
                assert _join(running, index, [voice, None, True, None]).status_code == 200
            assert len(waiting) == 2
            full = _join(running, triggers[2], [voice, None, True, None])
            assert full.status_code == 503 and "Queue is full" in full.text
        wait_until(lambda: len(waiting) == 0, "the waiting checks to run")
    assert limits.queue_options()["max_size"] == limits.QUEUE_MAX_SIZE > 0


def _raw_request(url: str, head: str) -> socket.socket:
    host, port = url.split("//")[1].strip("/").split(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    connection.sendall(head.encode())
    return connection


def _answer(connection: socket.socket) -> str:
    """What the server answered, up to the end its content-length gives."""
    received = b""
    while True:
        head, _, body = received.partition(b"\r\n\r\n")
        if _:
            fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
            if len(body) >= int(fields.get(b"content-length", b"0")):
                break
        try:
            piece = connection.recv(65536)
        except OSError:  # reset once answered, with the body left unread
            break
        if not piece:
            break
        received += piece
    return received.decode("utf-8", "replace")


class LedgerInUse:
    """The module app's upload ledger: the one the running test gave it (`ledgered`), else
    one without limits (as InProcessApp's own). The app's request limits read whatever it
    holds at each request."""

    def __init__(self) -> None:
        self.none = UploadLedger(files_per_minute=10**6, bytes_per_minute=2**50)
        self.current = self.none

    def __getattr__(self, name: str) -> object:
        return getattr(self.current, name)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app for the module's request and upload limits (`ledgered` gives it a test's
    ledger)."""
    ledger = LedgerInUse()
    with running_app(tmp_path_factory.mktemp("resources"), ledger=ledger) as running:
        running.ledger_in_use = ledger  # type: ignore[attr-defined]
        yield running


@pytest.fixture
def ledgered(app):
    """`ledgered(ledger)`: the module app, its uploads limited by `ledger` for this test."""
    in_use: LedgerInUse = app.ledger_in_use

    def use(ledger: UploadLedger) -> InProcessApp:
        in_use.current = ledger
        return app

    yield use
    in_use.current = in_use.none


@pytest.mark.parametrize("path", ["/gradio_api/queue/join", "/gradio_api/upload",
                                  "/gradio_api/mcp/", "/kling/callback/x"])  # fmt: skip
def test_a_declared_body_over_its_cap_is_refused_before_it_is_read(app, path):
    with _raw_request(app.url, (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {200 * 1024 * 1024}\r\n\r\n"
    )) as connection:  # fmt: skip
        answer = _answer(connection)  # not a byte of the 200 MB was sent
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert BODY_TOO_LARGE in answer


def test_a_body_without_a_length_is_refused_once_it_goes_over(app):
    with _raw_request(app.url, (
        "POST /gradio_api/queue/join HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )) as connection:  # fmt: skip
        piece, sent = b"x" * 65536, 0
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        while sent < 200 * 1024 * 1024:
            if select.select([connection], [], [], 0)[0]:
                break  # answered: it read no further
            try:
                connection.sendall(chunk)
            except OSError:
                break
            sent += len(piece)
        answer = _answer(connection)
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert sent < 20 * 1024 * 1024  # it stopped soon after the 4 MB cap, not at 200 MB


def test_a_body_under_its_cap_is_read_as_before(app, speech_path):
    answer = upload(app, ("hello.mp3", speech_path.read_bytes()))
    assert answer.status_code == 200 and Path(answer.json()[0]).is_file()


# --- disk -------------------------------------------------------------------------------------


def test_uploads_are_limited_per_address_in_files_and_bytes_a_minute(ledgered):
    clock = FakeClock()
    ledger = UploadLedger(files_per_minute=3, bytes_per_minute=1024 * 1024, clock=clock)
    tag = uuid.uuid4().hex
    running = ledgered(ledger)
    for n in range(3):
        assert upload(running, (f"{tag}-{n}.txt", b"a" * 100)).status_code == 200
    refused = upload(running, (f"{tag}-3.txt", b"a" * 100))
    assert refused.status_code == 429 and TOO_MANY_UPLOADS in refused.text
    assert not uploaded_files(f"{tag}-3.txt")  # not kept
    clock.advance(61)  # a new minute
    many = upload(running, *((f"{tag}-many-{n}.txt", bytes([n]) * 10) for n in range(4)))
    assert many.status_code == 429 and not uploaded_files(f"{tag}-many-*")
    clock.advance(61)
    heavy = upload(running, (f"{tag}-heavy.bin", b"b" * (1024 * 1024 + 1)))
    assert heavy.status_code == 429 and not uploaded_files(f"{tag}-heavy.bin")
    assert upload(running, (f"{tag}-small.txt", b"c")).status_code == 200


def test_uploads_sent_at_once_share_the_minutes_bytes(ledgered):
    """Eight uploads of 300 KB at once from one address, with 1 MB a minute: the room is
    held as each is let in, so no more than three get through (each saw the whole minute's
    room when it was only read at the start)."""
    ledger = UploadLedger(files_per_minute=100, bytes_per_minute=1024 * 1024, clock=FakeClock())
    tag = uuid.uuid4().hex
    running = ledgered(ledger)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda n: upload(running, (f"{tag}-{n}.bin", bytes([n]) * 300_000)), range(8)
        ))  # fmt: skip
        codes = sorted(answer.status_code for answer in answers)
        assert codes.count(200) <= 3 and set(codes) <= {200, 429}, codes
        assert len(uploaded_files(f"{tag}-*.bin")) == codes.count(200)


def test_an_upload_without_a_length_that_goes_over_leaves_nothing_behind(ledgered):
    ledger = UploadLedger(bytes_per_minute=1024 * 1024, clock=FakeClock())
    folder = Path(get_upload_folder())
    running = ledgered(ledger)
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"{boundary}.bin\"\r\nContent-Type: application/octet-stream"
            "\r\n\r\n").encode()  # fmt: skip

    def body() -> Iterator[bytes]:  # no length: sent chunked
        yield head
        for _ in range(40):
            yield b"z" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    before = set(folder.iterdir())
    answer = httpx.post(
        running.url + "gradio_api/upload",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        timeout=60,
    )
    assert answer.status_code == 429 and TOO_MANY_UPLOADS in answer.text
    assert set(folder.iterdir()) - before == set() and not uploaded_files(f"{boundary}.bin")


def test_an_ipv6_address_is_counted_by_its_network():
    assert network_of("2001:db8:1:2::1") == network_of("2001:db8:1:2:ffff::9")
    assert network_of("2001:db8:1:3::1") != network_of("2001:db8:1:2::1")
    assert network_of("203.0.113.7") != network_of("203.0.113.8")
    assert network_of("::ffff:203.0.113.7") == network_of("203.0.113.7")


def test_uploads_are_deleted_a_short_time_after_their_upload(ledgered):
    clock = FakeClock()
    ledger = UploadLedger(keep_s=600, clock=clock)
    tag = uuid.uuid4().hex
    running = ledgered(ledger)
    first = Path(upload(running, (f"{tag}-old.txt", b"old")).json()[0])
    clock.advance(400)
    second = Path(upload(running, (f"{tag}-new.txt", b"new")).json()[0])
    clock.advance(200 + SWEEP_EVERY_S)
    assert httpx.get(running.url + "config", timeout=30).status_code == 200
    assert not first.exists() and second.is_file()
    clock.advance(600)
    httpx.get(running.url + "config", timeout=30)
    assert not second.exists()


@pytest.fixture
def other_disk() -> Iterator[Path]:
    """A data folder on another filesystem than Gradio's upload folder (as Spaces' /data)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(get_upload_folder()).st_dev:
        pytest.skip("no second filesystem here")
    with tempfile.TemporaryDirectory(dir=shm) as folder:
        yield Path(folder)


def test_a_video_on_another_disk_is_copied_once_however_often_it_is_viewed(
    tmp_path, other_disk, portrait_path, speech_path
):
    with running_app(tmp_path, data_dir=other_disk) as running:
        client = running.client()
        earlier = handed_out("*.mp4")  # other tests' (their task ids can be the same)
        generate(client, portrait_path, speech_path)
        (job,) = running.studio.history()
        made = handed_out(Path(job.video_path).name) - earlier
        assert len(made) == 1  # /generate's
        for _ in range(3):
            client.predict(job.task_id, api_name="/status")
        assert handed_out(Path(job.video_path).name) - earlier == made


def handed_out(name: str) -> set[int]:
    """The files (inodes) the app handed out under `name` (gradio_client downloads into
    the same folder: those are not counted)."""
    shown = [p for p in uploaded_files(name) if p.parent.name.startswith(COPY_PREFIX)]
    return {os.stat(p).st_ino for p in shown}


@pytest.fixture(scope="module")
def demo(tmp_path_factory, portrait_path, speech_path):
    """A demo-mode app with one video a day for each visitor: a visitor's video, then its
    second asking (the app, its one job, the video handed out, what the second got)."""
    with running_app(tmp_path_factory.mktemp("demo"), key=None, max_daily_per_visitor=1) as running:
        client = running.client()
        video = Path(generate(client, portrait_path, speech_path))
        second = ""
        try:
            generate(client, portrait_path, speech_path)
        except AppError as refused:
            second = str(refused)
        (job,) = running.studio.history()
        yield running, job, video, second


def test_demo_mode_has_the_visitors_limits(demo):
    running, _, video, second = demo
    assert running.studio.demo
    assert video.is_file()
    assert "You have used 1 of this app's 1 videos" in second


def test_old_videos_are_deleted_in_demo_mode_and_kept_with_a_key(demo, tmp_path):
    """(On the demo app of the visitors' limits: its one video.)"""
    running, job, _, _ = demo
    data_dir = running.studio.settings.data_dir
    days = running.studio.settings.keep_days
    assert days == 7
    assert delete_old_videos(data_dir, days, now=lambda: time.time() + 6 * DAY_S) == []
    assert video_stored(job)
    eight_days_on = delete_old_videos(data_dir, days, now=lambda: time.time() + 8 * DAY_S)
    assert eight_days_on == [Path(job.video_path)] and not video_stored(job)
    with_key = {"COMETAPI_KEY": "k"}
    assert Settings.from_env(with_key).keep_days == 0  # for ever: the operator paid for them
    assert Settings.from_env({"AVATAR_KEEP_DAYS": "0"}).keep_days == 0
    assert delete_old_videos(tmp_path, 0, now=lambda: time.time() + 1e9) == []
    with pytest.raises(SettingsError, match="AVATAR_KEEP_DAYS=1O: not a whole number"):
        Settings.from_env({**with_key, "AVATAR_KEEP_DAYS": "1O"})


def test_a_malformed_keep_days_stops_the_app_in_one_sentence(tmp_path, monkeypatch, capsys):
    """app.py's main() in this process (its start as `python app.py` on a setting it cannot
    read is tests/test_config.py's): it stops before it serves, with one sentence."""

    import app

    for name in [k for k in os.environ if k.startswith(("COMETAPI_", "AVATAR_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AVATAR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AVATAR_KEEP_DAYS", "7 days")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "9")
    keep_logging(monkeypatch)
    with pytest.raises(SystemExit) as stopped:
        app.main()
    said = capsys.readouterr()
    assert stopped.value.code == 2 and "Traceback" not in said.err
    assert said.err.strip() == (
        "AVATAR_KEEP_DAYS=7 days: not a whole number of days; write e.g. 7, or 0 to keep "
        "videos for ever."
    )
    assert not (tmp_path / "data").exists()  # nothing opened: no journal, nothing served


def test_the_readme_states_the_retention():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    hosting = readme.split("Hosting it publicly", 1)[1]
    assert "AVATAR_KEEP_DAYS" in hosting and "default 7 in demo mode" in hosting
