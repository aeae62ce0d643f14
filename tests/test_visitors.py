"""Visitors are strangers, and the operator's money has limits: tried for real.

- Two gradio_client sessions on one app (the operator's key): B sees nothing of A's
  (history, lookups by task id and by `tas-` external id, a pasted key's video), and no
  file of the data folder answers by path; the same for `python app.py` run with the
  default `./data`, through `/gradio_api/file=/proc/self/cwd/data/...`.
- Each spending limit refuses in one sentence with nothing sent (the simulator's stats),
  requests at once included, and a restart does not reset the day.
- A flood of pasted keys keeps a bounded number of key studios and open HTTP clients, and
  key checks and lookups stay within the request budget, counted at the simulator.
- Gradio's upload folder is cleaned on a schedule.

Each area runs its cases in one module fixture; RELIABILITY.md's `visitors` section is
written from what they observed.
"""

from __future__ import annotations

import base64
import gc
import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from app_harness import InProcessApp, generate, make_studio
from fake_clock import FakeClock
from flows import final
from gradio import route_utils as gradio_route_utils
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from live import CANARY_KEY, assert_no_traceback, cli_env, running_app, wait_until
from media import audio_bytes, image_bytes
from reliability import check_section, normalize, table

from avatar_core.errors import LimitReachedError
from avatar_core.provider.client import AvatarRequest, ProviderClient
from avatar_core.provider.voices import DEFAULT_VOICE
from avatar_core.simulator import Simulator
from avatar_core.simulator.tts import speech_seconds as sim_speech_seconds
from avatar_core.storage.journal import Journal
from avatar_core.storage.layout import PRIVATE_NAMES
from ui.sessions import Sessions

APP_KEY = "the-operators-key"
PASTED = "sk-visitor-own-key"
NOT_YOURS = "is not one of your jobs"
PROVIDER_ROUTES = ("create", "query", "tts")  # every request that is the provider's API


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "face.jpg").write_bytes(image_bytes(320, 320, fmt="JPEG"))
    (folder / "voice.wav").write_bytes(audio_bytes(2.5))
    return {"face": folder / "face.jpg", "voice": folder / "voice.wav"}


def _answer(call: Callable[[], object]) -> str:
    try:
        return f"answer: {call()}"
    except AppError as error:
        return f"refused: {error}"


def _provider_requests(sim: Simulator) -> int:
    return sum(sim.stats.count(route) for route in PROVIDER_ROUTES)


def _fetch_status(base: str, path: str) -> int:
    return httpx.get(f"{base.rstrip('/')}/gradio_api/file={path}", timeout=30).status_code


def _sessions_at_once(work: dict[Client, list[Callable[[Client], object]]]) -> None:
    """Each session makes its calls one after another; the sessions run at once."""
    with ThreadPoolExecutor(len(work)) as pool:
        list(pool.map(lambda item: [call(item[0]) for call in item[1]], work.items()))


def _use_key(key: str) -> Callable[[Client], object]:
    return lambda client: client.predict(key, api_name="/use_key")


def _same_session(url: str, visitor: Client, **options: object) -> Client:
    client = Client(url, verbose=False, **options)  # type: ignore[arg-type]
    client.session_hash = visitor.session_hash
    return client


# --- two sessions on one app ------------------------------------------------------------------


@dataclass
class Strangers:
    seen: dict[str, str] = field(default_factory=dict)  # what B (or A) tried -> outcome
    files: dict[str, int] = field(default_factory=dict)  # file asked for by path -> status
    a_history: list[str] = field(default_factory=list)
    b_history: list[str] = field(default_factory=list)
    a_jobs: list[str] = field(default_factory=list)  # A's task and external ids
    b_lookup_requests: int = -1
    a_video: str = ""
    shown_copy: str = ""
    data: Path = Path()


def _make_a_trail(app: InProcessApp, sim: Simulator, a: Client, inputs) -> dict[str, str]:
    """A's speech, video and a pasted key's video; the ids a stranger could try."""
    a.predict("Hello from visitor A, a few words.", DEFAULT_VOICE, 1.0, api_name="/tts")
    video = generate(a, inputs["face"], inputs["voice"])
    job = app.studio.journal.recent(1)[0]
    keyed = app.client()
    keyed.predict(PASTED, api_name="/use_key")
    keyed_video = generate(keyed, inputs["face"], inputs["voice"])
    with ProviderClient(sim.base_url or "", APP_KEY) as other:  # another program, our account
        elsewhere = other.create_task(
            AvatarRequest(
                image=base64.b64encode(inputs["face"].read_bytes()).decode(),
                sound_file=base64.b64encode(inputs["voice"].read_bytes()).decode(),
                prompt="made elsewhere",
            )
        )
    return {
        "video": video,
        "task": job.task_id or "",
        "external": job.job_id,
        "keyed": Path(keyed_video).stem,
        "elsewhere": elsewhere.task_id,
    }


@pytest.fixture(scope="module")
def strangers(tmp_path_factory, inputs) -> Iterator[Strangers]:
    root = tmp_path_factory.mktemp("strangers")
    fake = FakeClock()
    seen = Strangers(data=root / "data")
    with Simulator(task_seconds=20, clock=fake.now, work_dir=root / "sim") as sim:
        app = InProcessApp(make_studio(sim, fake, seen.data, key=APP_KEY))
        try:
            a, b = app.client(), app.client()
            trail = _make_a_trail(app, sim, a, inputs)
            seen.a_video, seen.a_jobs = trail["video"], [trail["task"], trail["external"]]
            seen.a_history = [row[-1] for row in a.predict(api_name="/history")["data"]]
            seen.b_history = [row[-1] for row in b.predict(api_name="/history")["data"]]
            before = _provider_requests(sim)
            tries = {
                "B's `/status` with A's task id": trail["task"],
                "B's `/status` with A's external id (`tas-…`)": trail["external"],
                "B's `/status` with the task id of a video made with a pasted key": trail["keyed"],
                "B's `/status` with a task made elsewhere on the operator's account": trail[
                    "elsewhere"
                ],
            }
            for name, wanted in tries.items():
                seen.seen[name] = _answer(lambda w=wanted: b.predict(w, api_name="/status"))
            seen.b_lookup_requests = _provider_requests(sim) - before
            seen.seen["A's `/status` with its own task id"] = _answer(
                lambda: Path(a.predict(trail["task"], api_name="/status")).name
            )
            remote = _same_session(app.url, a, download_files=False)
            copy = remote.predict(trail["task"], api_name="/status")
            seen.shown_copy = copy["path"] if isinstance(copy, dict) else str(copy)
            seen.files = _ask_for_files(app.url, seen.data, trail, seen.shown_copy)
        finally:
            app.close()
    yield seen


def _ask_for_files(url: str, data: Path, trail: dict[str, str], shown_copy: str) -> dict[str, int]:
    speech = next((data / "speech").iterdir())
    wanted = {
        "journal.sqlite3": data / "journal.sqlite3",
        "journal.sqlite3-wal": data / "journal.sqlite3-wal",
        "owner.salt": data / "owner.salt",
        "videos/<A's task id>.mp4": data / "videos" / f"{trail['task']}.mp4",
        "videos/<a pasted key's task id>.mp4": data / "videos" / f"{trail['keyed']}.mp4",
        "speech/<audio id>.mp3": speech,
    }
    for path in wanted.values():
        assert path.exists(), f"the test expected {path} to exist"
    statuses = {f"<data>/{name}": _fetch_status(url, str(p)) for name, p in wanted.items()}
    statuses["<the copy /status handed A>"] = _fetch_status(url, shown_copy)
    return statuses


def test_b_lists_none_of_as_jobs(strangers):
    assert strangers.a_history, "A's history should list A's job"
    assert not set(strangers.b_history) & set(strangers.a_history)
    assert strangers.b_history == []


@pytest.mark.parametrize(
    "tried",
    [
        "B's `/status` with A's task id",
        "B's `/status` with A's external id (`tas-…`)",
        "B's `/status` with the task id of a video made with a pasted key",
        "B's `/status` with a task made elsewhere on the operator's account",
    ],
)
def test_b_cannot_look_up_what_is_not_its_own(strangers, tried):
    outcome = strangers.seen[tried]
    assert outcome.startswith("refused: Task ") and NOT_YOURS in outcome, outcome


def test_b_lookups_asked_nothing_of_the_provider(strangers):
    assert strangers.b_lookup_requests == 0


def test_a_still_finds_its_own_video_by_task_id(strangers):
    task_id = strangers.a_jobs[0]
    assert strangers.seen["A's `/status` with its own task id"] == f"answer: {task_id}.mp4"


def test_the_video_handed_out_is_a_copy_under_an_unguessable_name(strangers):
    copy = Path(strangers.shown_copy)
    assert copy.parent.name.startswith("shown-") and len(copy.parent.name) >= 6 + 32
    assert not str(copy).startswith(str(strangers.data))


@pytest.mark.parametrize(
    "name",
    [
        "<data>/journal.sqlite3",
        "<data>/journal.sqlite3-wal",
        "<data>/owner.salt",
        "<data>/videos/<A's task id>.mp4",
        "<data>/videos/<a pasted key's task id>.mp4",
        "<data>/speech/<audio id>.mp3",
    ],
)
def test_no_file_of_the_data_folder_downloads_by_path(strangers, name):
    assert strangers.files[name] == 403


def test_the_file_route_does_serve_a_handed_out_copy(strangers):
    assert strangers.files["<the copy /status handed A>"] == 200


# --- the operator's limits ------------------------------------------------------------------------


@dataclass
class LimitRun:
    outcomes: dict[str, str] = field(default_factory=dict)  # case -> what happened
    creates: dict[str, int] = field(default_factory=dict)  # case -> creates it caused
    left: str = ""
    speeches: list[str] = field(default_factory=list)  # /tts once the day's seconds are used
    speeches_paid: int = -1  # speeches the simulator made in the day's seconds case
    ipv6: list[str] = field(default_factory=list)  # the IPv6 /64 case's outcomes


def _at_once(client: Client, inputs, count: int) -> list[str]:
    """`count` /generate calls at once from one session (pro mode, as a greedy visitor)."""
    jobs = [
        client.submit(handle_file(str(inputs["face"])), handle_file(str(inputs["voice"])),
                      "", "pro", api_name="/generate")
        for _ in range(count)
    ]  # fmt: skip
    return [_answer(job.result) for job in jobs]


def _limits_at_once(sim, fake, root, inputs, run: LimitRun) -> None:
    sim.reset()
    sim.plan_task("stuck", times=6)
    app = InProcessApp(make_studio(sim, fake, root / "at-once", key=APP_KEY,
                                   max_active_per_visitor=2))  # fmt: skip
    try:
        answers = _at_once(app.client(), inputs, 6)
        refused = [a for a in answers if a.startswith("refused: You already have")]
        run.outcomes["6 `pro` videos at once from one visitor (at most 2 at once)"] = (
            f"{6 - len(refused)} accepted, {len(refused)} refused: {refused[0][9:]}"
            if refused
            else "all accepted"
        )
        run.creates["at once"] = sim.stats.creates
    finally:
        app.close()


def _limits_daily(sim, fake, root, inputs, run: LimitRun) -> None:
    sim.reset()
    data = root / "daily"
    app = InProcessApp(make_studio(sim, fake, data, key=APP_KEY, max_daily_per_visitor=3))
    try:
        a = app.client()
        assert _speech(a, "Text to speech is paid too, so it counts.") == "made"
        for _ in range(2):
            generate(a, inputs["face"], inputs["voice"])
        spent = sim.stats
        run.outcomes["a 4th request in a day (3 a day; 1 speech and 2 videos made)"] = _answer(
            lambda: generate(a, inputs["face"], inputs["voice"])
        )
        run.outcomes["then a speech"] = _speech(a, "One more, please.")
        run.creates["daily"] = sim.stats.creates - spent.creates + sim.stats.tts - spent.tts
        b = app.client()
        run.outcomes["another visitor, the same day"] = _outcome(
            _answer(lambda: generate(b, inputs["face"], inputs["voice"]))
        )
    finally:
        app.close()
    again = InProcessApp(make_studio(sim, fake, data, key=APP_KEY, max_daily_per_visitor=3))
    try:
        a_again = _same_session(again.url, a)
        run.outcomes["the same visitor after a restart"] = _answer(
            lambda: generate(a_again, inputs["face"], inputs["voice"])
        )
        a_again.predict(PASTED, api_name="/use_key")
        run.outcomes["the same visitor with its own pasted key"] = _outcome(
            _answer(lambda: generate(a_again, inputs["face"], inputs["voice"]))
        )
    finally:
        again.close()


def _limits_seconds(sim, fake, root, inputs, run: LimitRun) -> None:
    sim.reset()
    app = InProcessApp(make_studio(sim, fake, root / "seconds", key=APP_KEY,
                                   max_daily_video_seconds=6))  # fmt: skip
    try:
        for visitor in ("first", "second"):
            run.outcomes[f"the {visitor} visitor's 2.5 s voice (6 s a day for all)"] = _outcome(
                _answer(lambda: generate(app.client(), inputs["face"], inputs["voice"]))
            )
        before = sim.stats.creates
        run.outcomes["a third visitor's 2.5 s voice"] = _answer(
            lambda: generate(app.client(), inputs["face"], inputs["voice"])
        )
        run.creates["seconds"] = sim.stats.creates - before
        # 1 s is left, less than any video takes: five new sessions asking /tts for a speech
        run.speeches = [_speech(app.client(), SPOKEN) for _ in range(5)]
        run.speeches_paid = sim.stats.tts
    finally:
        app.close()


def _speech(client: Client, text: str) -> str:
    """`/tts` answers with its verdict (the 4th output): "made" or "refused: <sentence>"."""
    verdict = client.predict(text, DEFAULT_VOICE, 1.0, api_name="/tts")[3]
    return f"refused: {verdict[2:]}" if verdict.startswith("❌ ") else "made"


def _from(app: InProcessApp, address: str) -> Client:
    """A new session whose requests say they come from `address` (X-Forwarded-For)."""
    return Client(app.url, verbose=False, headers={"X-Forwarded-For": address})


def _limits_address(sim, fake, root, inputs, run: LimitRun) -> None:
    """Two a day per address: behind a trusted proxy (uvicorn trusts loopback by default),
    then with loopback not trusted (FORWARDED_ALLOW_IPS names another proxy)."""
    sim.reset()
    studio = make_studio(sim, fake, root / "address", key=APP_KEY, max_daily_per_address=2)
    app = InProcessApp(studio)
    try:
        for n in (1, 2, 3):
            run.outcomes[f"visitor {n} from 203.0.113.7, behind the proxy (2 a day an address)"] = (
                _outcome(_answer(lambda: generate(_from(app, "203.0.113.7"), inputs["face"],
                                                  inputs["voice"]))))  # fmt: skip
        run.outcomes["a visitor from 198.51.100.9"] = _outcome(
            _answer(lambda: generate(_from(app, "198.51.100.9"), inputs["face"], inputs["voice"]))
        )
        before = sim.stats.creates  # then addresses none of the above used: IPv6 networks
        run.ipv6 = [_outcome(_answer(lambda a=a: generate(_from(app, a), inputs["face"],
                                                          inputs["voice"])))
                    for a in IPV6_CASE]  # fmt: skip
        run.creates["ipv6"] = sim.stats.creates - before
    finally:
        app.close()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FORWARDED_ALLOW_IPS", "192.0.2.1")  # loopback is no proxy of ours now
        sim.reset()
        studio = make_studio(sim, fake, root / "spoofed", key=APP_KEY, max_daily_per_address=2)
        app = InProcessApp(studio)
    try:
        for n, claimed in enumerate(("192.0.2.10", "192.0.2.11", "192.0.2.12"), start=1):
            run.outcomes[f"visitor {n} claiming to come from {claimed}, not behind a proxy"] = (
                _outcome(_answer(lambda c=claimed: generate(_from(app, c), inputs["face"],
                                                            inputs["voice"]))))  # fmt: skip
    finally:
        app.close()


def _outcome(answer: str) -> str:
    return "made" if answer.startswith("answer: ") else answer


@pytest.fixture(scope="module")
def limits(tmp_path_factory, inputs) -> LimitRun:
    root = tmp_path_factory.mktemp("limits")
    fake, run = FakeClock(), LimitRun()
    with Simulator(task_seconds=20, clock=fake.now, work_dir=root / "sim") as sim:
        _limits_at_once(sim, fake, root, inputs, run)
        _limits_daily(sim, fake, root, inputs, run)
        _limits_seconds(sim, fake, root, inputs, run)
        _limits_address(sim, fake, root, inputs, run)
    run.left = _journal_counts(root / "daily")
    return run


def _journal_counts(data: Path) -> str:
    journal = Journal(data)
    try:
        return f"{len(journal.recent(100))} jobs journaled"
    finally:
        journal.close()


def test_requests_at_once_beyond_the_limit_are_refused_and_not_sent(limits):
    outcome = limits.outcomes["6 `pro` videos at once from one visitor (at most 2 at once)"]
    assert outcome.startswith("2 accepted, 4 refused: You already have 2 videos being made")
    assert limits.creates["at once"] == 2


def test_the_daily_limit_counts_speech_and_survives_a_restart(limits):
    for case in ("a 4th request in a day (3 a day; 1 speech and 2 videos made)",
                 "then a speech", "the same visitor after a restart"):  # fmt: skip
        outcome = limits.outcomes[case]
        assert outcome.startswith("refused: You have used 3 of this app's 3 videos"), outcome
        assert "frees up in about" in outcome and "your own API key" in outcome
    assert limits.creates["daily"] == 0


def test_the_daily_limit_is_per_visitor_and_not_for_a_pasted_key(limits):
    assert limits.outcomes["another visitor, the same day"] == "made"
    assert limits.outcomes["the same visitor with its own pasted key"] == "made"


def test_the_daily_limit_per_address_counts_every_visitor_from_it(limits):
    outcomes = [limits.outcomes[f"visitor {n} from 203.0.113.7, behind the proxy (2 a day an "
                                "address)"] for n in (1, 2, 3)]  # fmt: skip
    assert outcomes[:2] == ["made", "made"]
    assert outcomes[2].startswith("refused: Your network address has used 2 of this app's 2")
    assert limits.outcomes["a visitor from 198.51.100.9"] == "made"


def test_an_address_claimed_without_a_trusted_proxy_is_not_believed(limits):
    outcomes = [o for case, o in limits.outcomes.items() if case.endswith("not behind a proxy")]
    assert outcomes[:2] == ["made", "made"] and len(outcomes) == 3
    assert outcomes[2].startswith("refused: Your network address has used 2 of this app's 2")


def test_the_daily_seconds_are_for_all_visitors_together(limits):
    assert limits.outcomes["the first visitor's 2.5 s voice (6 s a day for all)"] == "made"
    assert limits.outcomes["the second visitor's 2.5 s voice (6 s a day for all)"] == "made"
    outcome = limits.outcomes["a third visitor's 2.5 s voice"]
    assert outcome.startswith("refused: This app's videos for today are used up"), outcome
    assert "5.0 of its 6 s" in outcome and "at least 2 s" in outcome  # 1 s left: no video fits
    assert limits.creates["seconds"] == 0


# --- every paid request counts; a line holds no one else's share ------------------------------

SPOKEN = "Hello there, this is a speech of a few seconds."  # 3.4 s at the simulator


def test_no_speech_is_paid_for_once_the_days_seconds_are_used_up(limits):
    """Two 2.5 s videos of a 6 s day leave 1 s, less than any video takes: five new
    sessions asking /tts for a speech are refused before anything is paid for (on the
    limits' day-seconds app, after its two videos and the third visitor's refusal)."""
    answers = limits.speeches
    assert limits.speeches_paid == 0 and len(answers) == 5, answers
    for answer in answers:
        assert answer.startswith("refused: This app's videos for today are used up"), answer
        assert "5.0 of its 6 s" in answer and "at least 2 s" in answer


def test_a_speech_longer_than_the_days_seconds_left_is_refused_before_it_is_paid(tmp_path):
    """The day's 10 s hold 6.8 s of A's speeches: B's text, which would speak for about
    50 s, is refused before anything is paid for, and C, who asked for nothing, may still
    make a video."""
    long_text = " ".join(
        ["This sentence makes the speech last much longer than the day allows."] * 9
    )
    assert sim_speech_seconds(long_text, 1.0) > 10
    fake = FakeClock()
    with Simulator(task_seconds=20, clock=fake.now, work_dir=tmp_path / "sim") as sim:
        studio = make_studio(sim, fake, tmp_path / "data", key=APP_KEY,
                             max_daily_video_seconds=10)  # fmt: skip
        try:
            a, b, c = (studio.visitor(f"browser:{name}") for name in "abc")
            for _ in range(2):
                studio.speak(SPOKEN, DEFAULT_VOICE, visitor=a)
            paid = sim.stats.tts
            with pytest.raises(LimitReachedError, match="of its 10 s"):
                studio.speak(long_text, DEFAULT_VOICE, visitor=b)
            assert sim.stats.tts == paid  # nothing more was paid for
            studio.check_allowed(c)  # C is not shut out
        finally:
            studio.close()


def test_a_speech_counts_toward_the_days_seconds_once(tmp_path, inputs):
    """A's speech is paid for and its video is to come: B's videos find the day's 10 s
    holding it (two of 2.5 s, not three). On a 5 s day, a video made from a 3.4 s speech
    is let in (its seconds are the speech's, counted already) and counts them once."""
    assert 2.5 < sim_speech_seconds(SPOKEN, 1.0) <= 5
    fake = FakeClock()
    with Simulator(task_seconds=20, clock=fake.now, work_dir=tmp_path / "sim") as sim:
        studio = make_studio(sim, fake, tmp_path / "data", key=APP_KEY,
                             max_daily_video_seconds=10)  # fmt: skip
        app = InProcessApp(studio)
        try:
            a, b = app.client(), app.client()
            assert _speech(a, SPOKEN) == "made"
            said = sim_speech_seconds(SPOKEN, 1.0)
            answers = [_outcome(_answer(lambda: generate(b, inputs["face"], inputs["voice"])))
                       for _ in range(3)]  # fmt: skip
            used = studio.journal.visitors_audio_seconds(0)
        finally:
            app.close()
        other = make_studio(sim, fake, tmp_path / "other", key=APP_KEY, max_daily_video_seconds=5)
        try:
            c = other.visitor("c")
            made = other.speak(SPOKEN, DEFAULT_VOICE, visitor=c)
            before = other.journal.visitors_audio_seconds(0)
            spoken = {"audio_id": made.audio_id, "prior_task_id": made.task_id}
            final(
                other.generate(inputs["face"], audio_seconds=made.duration_s, visitor=c, **spoken)
            )
            after = other.journal.visitors_audio_seconds(0)
        finally:
            other.close()
    assert answers[:2] == ["made", "made"]
    assert answers[2].startswith("refused: This app's videos for today are used up"), answers
    assert f"{said + 5:.1f} of its 10 s" in answers[2]
    assert used == pytest.approx(said + 5, abs=0.1)
    assert before == pytest.approx(said, abs=0.1)
    assert after == pytest.approx(before, abs=0.1)  # the video of a speech counts it once


def test_throwaway_sessions_in_line_cannot_shut_out_another_visitor(tmp_path, inputs):
    """The account runs one task at a time and one is stuck: five throwaway sessions
    queue a 2.5 s video each behind it (more than the 10 s day holds). A sixth visitor
    is still let into the line: each job in line holds only its own visitor's share."""
    fake = FakeClock()
    with Simulator(task_seconds=20, clock=fake.now, work_dir=tmp_path / "sim") as sim:
        sim.plan_task("stuck", times=1)
        studio = make_studio(sim, fake, tmp_path / "data", key=APP_KEY,
                             max_daily_video_seconds=10, max_running_tasks=1)  # fmt: skip
        app = InProcessApp(studio)
        waiting = []
        try:
            waiting.append(_submit(app.client(), inputs))
            wait_until(lambda: sim.stats.creates == 1, "the stuck task")
            for n in range(2, 7):
                waiting.append(_submit(app.client(), inputs))
                wait_until(lambda n=n: _in_line(studio) == n - 1 or waiting[-1].done(),
                           f"job {n} in line or refused")  # fmt: skip
            sixth = waiting[-1]
            shut_out = sixth.done() and _answer(sixth.result)
            queued = _in_line(studio)
        finally:
            for job in waiting:
                job.cancel()
            app.close()
    assert not shut_out, shut_out
    assert queued == 5 and sim.stats.creates == 1


def test_jobs_in_line_are_checked_against_the_day_again_as_they_are_sent(tmp_path, inputs):
    """One task at a time: two more visitors' 2.5 s videos wait behind a running one on a
    6 s day (each let in: its own share fits). As they leave the line, the second one sent
    fills the day and the third is refused unsent, in one sentence."""
    fake, provider_time = FakeClock(), FakeClock()  # the provider's tasks end when told
    with Simulator(task_seconds=20, clock=provider_time.now, work_dir=tmp_path / "sim") as sim:
        studio = make_studio(sim, fake, tmp_path / "data", key=APP_KEY,
                             max_daily_video_seconds=6, max_running_tasks=1)  # fmt: skip
        app = InProcessApp(studio)
        try:
            jobs = [_submit(app.client(), inputs)]
            wait_until(lambda: sim.stats.creates == 1, "the first task")
            for n in (1, 2):
                jobs.append(_submit(app.client(), inputs))
                wait_until(lambda n=n: _in_line(studio) == n, f"{n} in line")
            wait_until(lambda: provider_time.sleep(30) or all(j.done() for j in jobs), "the end")
            answers = [_outcome(_answer(job.result)) for job in jobs]
        finally:
            app.close()
    assert answers[:2] == ["made", "made"], answers
    assert answers[2].startswith("refused: This app's videos for today are used up"), answers
    assert "5.0 of its 6 s" in answers[2] and sim.stats.creates == 2


# three addresses of one IPv6 /64, another /64, an IPv4 address written as IPv6 and as itself
IPV6_CASE = ("2001:db8:5:6::1", "2001:db8:5:6:ffff::2", "2001:db8:5:6:1:2:3:4", "2001:db8:5:7::1",
             "::ffff:198.51.100.10", "198.51.100.10", "198.51.100.10")  # fmt: skip


def test_an_ipv6_network_of_64_bits_is_one_address(limits):
    """Two a day an address: visitors from three addresses of one IPv6 /64 (behind the
    proxy) are one address; another /64, and an IPv4 address, are others (on the limits'
    address app, after its own cases, from addresses they did not use)."""
    answers = limits.ipv6
    assert answers[:2] == ["made", "made"], answers
    assert answers[2].startswith("refused: Your network address has used 2 of this app's 2")
    assert answers[3:5] == ["made", "made"], answers  # another /64; an IPv4 address
    assert answers[5] == "made"  # the same IPv4 address, written as itself: its second
    assert answers[6].startswith("refused: Your network address has used 2"), answers
    assert limits.creates["ipv6"] == 5


def _submit(client: Client, inputs) -> object:
    return client.submit(handle_file(str(inputs["face"])), handle_file(str(inputs["voice"])),
                         "", "std", api_name="/generate")  # fmt: skip


def _in_line(studio) -> int:
    return studio.journal.queued_count(studio.client.base_url, None, demo=False)


# --- a flood of pasted keys ---------------------------------------------------------------------


@dataclass
class Flood:
    keys: int = 0
    accepted: int = 0
    kept: int = 0
    made: int = 0
    closed: int = 0
    open_clients: int = 0  # ProviderClients of this app still open after the flood
    checks_at_provider: int = 0
    evicted_key_still_works: str = ""


FLOOD_KEEP = 4


def _open_clients(base_url: str) -> int:
    gc.collect()
    return sum(
        1
        for thing in gc.get_objects()
        if isinstance(thing, ProviderClient) and thing.base_url == base_url and not thing.closed
    )


@pytest.fixture(scope="module")
def flood(tmp_path_factory, inputs) -> Flood:
    """120 keys through `/use_key` from four sessions at once: 100 the provider refuses,
    20 it accepts; the app keeps at most FLOOD_KEEP key studios."""
    root = tmp_path_factory.mktemp("flood")
    fake, run = FakeClock(), Flood()
    good = [f"sk-good-{n}" for n in range(20)]
    bad = [f"sk-random-{n}" for n in range(100)]
    with Simulator(task_seconds=20, clock=fake.now, work_dir=root / "sim",
                   accepted_keys=[APP_KEY, *good]) as sim:  # fmt: skip
        studio = make_studio(sim, fake, root / "data", key=APP_KEY)
        sessions = Sessions(studio, max_keys=FLOOD_KEEP)
        app = InProcessApp(studio, sessions=sessions)
        try:
            first = app.client()
            first.predict(good[0], api_name="/use_key")
            keys = bad[:50] + good[1:] + bad[50:]
            _sessions_at_once({app.client(): [_use_key(k) for k in keys[n::4]] for n in range(4)})
            run.keys, run.accepted = len(keys) + 1, len(good)
            run.kept, run.made, run.closed = sessions.kept, sessions.made, sessions.closed
            run.checks_at_provider = sim.stats.count("query")
            run.open_clients = _open_clients(sim.base_url or "")
            run.evicted_key_still_works = _outcome(
                _answer(lambda: generate(first, inputs["face"], inputs["voice"]))
            )
        finally:
            app.close()
    return run


def test_a_key_flood_keeps_a_bounded_number_of_studios_and_clients(flood):
    assert flood.kept == FLOOD_KEEP
    assert flood.made - flood.closed == FLOOD_KEEP  # every other key studio was closed
    assert flood.open_clients <= FLOOD_KEEP + 1  # and the app's own
    assert flood.made == flood.keys  # one studio a key checked, none kept before the check


def test_each_key_is_checked_once_and_an_evicted_key_is_made_again(flood):
    # one lookup a refused key; an accepted one asks both query routes while neither is
    # known to answer (an unknown task proves no route)
    assert flood.checks_at_provider == flood.keys + flood.accepted
    assert flood.evicted_key_still_works == "made"


# --- the request budget, counted at the simulator ------------------------------------------------


def _lookup(task_id: str) -> Callable[[Client], object]:
    return lambda client: _answer(lambda: client.predict(task_id, api_name="/status"))


@dataclass
class Budget:
    rate: float
    sent: int = 0
    seconds: float = 0.0
    visitor_lookups: int = 0
    visitor_lookup_requests: int = -1


BUDGET_RATE = 5.0


@pytest.fixture(scope="module")
def budget(tmp_path_factory) -> Budget:
    """Six sessions at once: three paste 5 keys each that the provider refuses, three with a
    pasted key look up 4 unknown task ids each; then 20 lookups by a visitor on the
    operator's key. The budget waits on a fake clock, which moves only as the budget waits
    (answers take none of its time, so the budget is always what spaces the requests); the
    budget on the real clock, at the simulator second by second, is
    tests/test_request_budget.py's 100 pasted keys."""
    root = tmp_path_factory.mktemp("budget")
    run, fake = Budget(rate=BUDGET_RATE), FakeClock()
    with Simulator(task_seconds=5, work_dir=root / "sim", clock=fake.now,
                   accepted_keys=[APP_KEY, PASTED]) as sim:  # fmt: skip
        studio = make_studio(sim, fake, root / "data", key=APP_KEY, rate_per_s=BUDGET_RATE)
        app = InProcessApp(studio)
        try:
            keyed = [app.client() for _ in range(3)]
            for client in keyed:
                client.predict(PASTED, api_name="/use_key")
            sim.reset()
            work = {app.client(): [_use_key(f"sk-flood-{n}-{k}") for k in range(5)]
                    for n in range(3)}  # fmt: skip
            for n, client in enumerate(keyed):
                work[client] = [_lookup(str(10**17 + 10 * n + k)) for k in range(4)]
            started = fake.now()
            _sessions_at_once(work)
            run.seconds = fake.now() - started
            run.sent = _provider_requests(sim)
            visitor = app.client()
            for n in range(20):
                _answer(lambda n=n: visitor.predict(str(2 * 10**17 + n), api_name="/status"))
            run.visitor_lookups = 20
            run.visitor_lookup_requests = _provider_requests(sim) - run.sent
        finally:
            app.close()
    return run


def test_key_checks_and_lookups_stay_within_the_request_budget(budget):
    # each check and each lookup: one request, or one on each query route while neither is
    # known to answer; every one of them waits for its slot
    assert 27 <= budget.sent <= 2 * 27
    # the budget spaces requests 1/rate apart from the first, so the requests that arrived
    # cannot outnumber the slots of the time they took (the budget's clock's time: a request
    # that went around it would have taken none)
    assert budget.sent <= budget.rate * budget.seconds + 1


def test_a_visitors_lookups_of_unknown_tasks_cost_no_request(budget):
    assert budget.visitor_lookup_requests == 0


# --- Gradio's upload folder ----------------------------------------------------------------------


CLEANING = (1, 5)  # every second, files over five seconds old


class _CleaningClock(datetime):
    """Gradio's cleaning ages files by `datetime.now()` less their ctime: this `now` is
    the real one plus `moved` seconds, so that a file is five seconds old when the test
    says so rather than five real seconds later (the schedule, every second, is real)."""

    moved = 0.0

    @classmethod
    def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
        return datetime.now(tz) + timedelta(seconds=cls.moved)


@pytest.fixture(scope="module")
def cleaning(tmp_path_factory, inputs) -> Iterator[dict[str, bool]]:
    """An upload and a handed-out copy, on an app cleaning on the CLEANING schedule: each
    is there when made, and gone after the cleaning once older than its age on Gradio's
    clock, moved past it (the data folder's video stays)."""
    root = tmp_path_factory.mktemp("cleaning")
    fake = FakeClock()
    with (
        pytest.MonkeyPatch.context() as patch,
        Simulator(task_seconds=20, clock=fake.now, work_dir=root / "sim") as sim,
    ):
        patch.setattr(gradio_route_utils, "datetime", _CleaningClock)
        patch.setattr(_CleaningClock, "moved", 0.0)
        app = InProcessApp(make_studio(sim, fake, root / "data", key=APP_KEY),
                           cache_cleaning=CLEANING)  # fmt: skip
        try:
            with inputs["voice"].open("rb") as voice:
                answer = httpx.post(app.url.rstrip("/") + "/gradio_api/upload",
                                    files={"files": voice}, timeout=30)  # fmt: skip
            uploaded = Path(json.loads(answer.text)[0])
            seen = {"an upload, when made": uploaded.exists()}
            client = app.client()
            task = Path(generate(client, inputs["face"], inputs["voice"])).stem
            remote = _same_session(app.url, client, download_files=False)
            copy = Path(remote.predict(task, api_name="/status")["path"])
            seen["a video handed out, when made"] = copy.exists()
            _CleaningClock.moved = CLEANING[1] + 1  # both are older than the age now
            for name, path in (("the upload", uploaded), ("the copy", copy)):
                wait_until(lambda p=path: not p.exists(), f"{name} to be cleaned", 60)
                seen[f"{name}, later: gone"] = not path.exists()
            video = root / "data" / "videos" / f"{task}.mp4"
            seen["the data folder's video, later: kept"] = video.is_file()
        finally:
            app.close()
    yield seen


def test_gradios_upload_folder_is_cleaned_on_a_schedule(cleaning):
    assert set(cleaning.values()) == {True}, cleaning


# --- `python app.py` with the default ./data: /proc/self/cwd -----------------------------------


@dataclass
class AppProcessRun:
    """What `python app.py` did, run with the default ./data and the canary key."""

    files: dict[str, int]  # a data folder's file asked for by path -> HTTP status
    answers: list[str]  # /generate: a video, a photo too small, a failure quoting the key
    pages: list[str]  # / and /config
    output: str  # everything the process wrote
    creates: int


@pytest.fixture(scope="module", autouse=True)
def _app_process_started(request, tmp_path_factory, inputs) -> Iterator[Future | None]:
    """`app_process`'s run, started in a thread as the module starts when one of its
    selected tests needs it: most of its seconds are waits (the process's start, its
    first status check of each task on the real clock), spent beside the in-process cases
    (the tests that read it come after them). `app_process` waits for its end."""
    wanted = any(
        "app_process" in item.fixturenames
        for item in request.session.items
        if getattr(item, "module", None) is request.module
    )
    if not wanted:
        yield None
        return
    root = tmp_path_factory.mktemp("cwd-app")
    with ThreadPoolExecutor(1) as pool:
        yield pool.submit(_run_app_process, root, inputs)


@pytest.fixture(scope="module")
def app_process(_app_process_started: Future) -> AppProcessRun:
    """The app as a process, run from a folder of its own with AVATAR_DATA_DIR unset and the
    canary key: this module's /proc/self/cwd case, and tests/test_secrets.py's `python
    app.py` case (the key nowhere in its answers, pages and output), on one process."""
    return _app_process_started.result()


def _run_app_process(root: Path, inputs: dict[str, Path]) -> AppProcessRun:
    home = root / "home"
    home.mkdir()
    tiny = root / "tiny.png"
    tiny.write_bytes(image_bytes(100, 100))
    with Simulator(task_seconds=0.5, submit_seconds=0.1, work_dir=root / "sim") as sim:
        env = cli_env(sim.base_url or "", home / "unused", key=CANARY_KEY)
        env.pop("AVATAR_DATA_DIR")
        with running_app(env, root / "app.log", cwd=home) as app:
            app.wait_ready()
            client = Client(app.url, verbose=False)
            video = generate(client, inputs["face"], inputs["voice"])
            data = home / "data"
            names = [*PRIVATE_NAMES[:2], PRIVATE_NAMES[3], f"videos/{Path(video).name}"]
            statuses = {}
            for name in names:
                assert (data / name).exists(), name
                for spelling in (f"/proc/self/cwd/data/{name}", str(data / name)):
                    statuses[spelling.replace(str(data), "<data>")] = _fetch_status(
                        app.url, spelling
                    )
            answers = [f"answer: {video}"]
            answers.append(_answer(lambda: generate(client, tiny, inputs["voice"])))
            sim.plan_task("fail", reason=f"no face; key {CANARY_KEY}")
            answers.append(_answer(lambda: generate(client, inputs["face"], inputs["voice"])))
            pages = [httpx.get(app.url.rstrip("/") + p, timeout=30).text for p in ("/", "/config")]
        return AppProcessRun(statuses, answers, pages, app.output(), sim.stats.creates)


@pytest.fixture(scope="module")
def default_data_folder(app_process) -> dict[str, int]:
    return app_process.files


def test_the_default_data_folder_does_not_download_through_proc_self_cwd(default_data_folder):
    assert default_data_folder and set(default_data_folder.values()) == {403}


# The canary key and `python app.py` (tests/test_secrets.py's canary runs are in-process):
def test_the_app_process_shows_the_key_nowhere(app_process):
    answers, pages, output = app_process.answers, app_process.pages, app_process.output
    assert answers[0].startswith("answer: ") and app_process.creates == 2
    assert "the video maker needs each side to be at least 300 px" in answers[1]
    assert "no face; key ********" in answers[2]
    for text in [*answers, *pages, output]:
        assert CANARY_KEY not in text


def test_the_app_logs_a_refused_input_without_a_traceback(app_process):
    assert_no_traceback(app_process.output)


# --- RELIABILITY.md -----------------------------------------------------------------------------


def test_the_visitors_section_is_current(strangers, default_data_folder, limits, flood, budget,
                                         cleaning):  # fmt: skip
    data = strangers.data
    rows = [("B's `/history`", f"lists {len(strangers.b_history)} jobs (A's lists "
             f"{len(strangers.a_history)})")]  # fmt: skip
    rows += [(name, normalize(outcome, data).replace("answer: ", "the video, as a copy: "))
             for name, outcome in strangers.seen.items()]  # fmt: skip
    rows.append(("provider requests caused by B's four lookups", strangers.b_lookup_requests))
    files = [(f"`GET /gradio_api/file={name}`", "in-process app", status)
             for name, status in strangers.files.items()]  # fmt: skip
    files += [(f"`GET /gradio_api/file={normalize(name)}`", "`python app.py`, default `./data`",
               status) for name, status in default_data_folder.items()]  # fmt: skip
    spent = [(case, normalize(outcome, data)) for case, outcome in limits.outcomes.items()]
    spent.append(("creates at the simulator for the 6 at once", limits.creates["at once"]))
    spent.append(("creates and speeches at the simulator for the refused daily and seconds "
                  "cases", sum(limits.creates[c] for c in ("daily", "seconds"))))  # fmt: skip
    keys = [
        ("keys pasted through `/use_key` (4 sessions at once)", f"{flood.keys}: "
         f"{flood.accepted} accepted by the provider, the rest refused"),
        ("key studios kept / made / closed", f"{flood.kept} / {flood.made} / {flood.closed}"),
        ("HTTP clients of the app still open", flood.open_clients),
        ("key checks at the simulator", flood.checks_at_provider),
        ("a session whose key was dropped, generating again", flood.evicted_key_still_works),
        (f"27 key checks and lookups at once, budget {budget.rate:.0f}/s: requests at the "
         "simulator", f"{budget.sent}, within the budget's slots for the time taken"),
        (f"{budget.visitor_lookups} lookups of unknown task ids by a visitor on the "
         "operator's key: requests", budget.visitor_lookup_requests),
    ]  # fmt: skip
    cleaned = [(name, "yes" if held else "no") for name, held in cleaning.items()]
    body = "\n\n".join([
        "Two gradio_client sessions, A and B, on one app with the operator's key: A made a "
        "speech, a video, and a video with a pasted key; another program made a task on "
        "the same account. What B tried:",
        table(("tried", "what happened"), rows),
        "The data folder by path (`403`: refused; the control is a copy the app handed out):",
        table(("asked for", "app", "HTTP status"), files),
        "The limits (each case on an app with only that limit set):",
        table(("case", "what happened"), spent),
        "Pasted keys and the request budget:",
        table(("case", "observed"), keys),
        f"Gradio's upload folder, cleaned every {CLEANING[0]} s for files over {CLEANING[1]} s "
        "old (the app itself cleans every 10 minutes, files over an hour old):",
        table(("file", "true?"), cleaned),
    ])  # fmt: skip
    check_section("visitors", body)
