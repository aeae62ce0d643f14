"""Long speeches on the page in a real browser (Debian's Chromium, the real app): a long
voice (made here, with pauses) and a long typed text each give ONE video, the parts'
progress ("part k of n") shown in the status, in an English and a Chinese browser (the
Chinese page's long voice is the three-minute one).

Kept cheap: the app's provider profile takes parts of at most 6 s (as the part limit of
a gateway profile would), so a 14 s voice and three short paragraphs make three parts
each; the simulator's tasks take 0.2 real seconds (`TASK_S`: done by the app's first
check, 0.25 s after the create) and render 48 px wide (the join does not care how large).
For a three-minute voice on a Chinese page the app's profile takes the provider's real
limit of 60 s a part (`_at_the_providers_own_limit`). A part that must outlast a Stop
runs until the test moves the simulator's clock past it (no real wait). The app runs in
demo mode in this process; every wait is for a condition, with a generous upper bound.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_harness import CHROMIUM, NO_LIMITS, InProcessApp
from browser_tabs import Tabs, chromium_tabs, done
from fake_clock import FakeClock
from media import PORTRAIT
from speech_media import speech_like, write_wav

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM}", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright")
expect = sync_api.expect

from avatar_core.config import Settings  # noqa: E402
from avatar_core.demo import DEMO_KEY  # noqa: E402
from avatar_core.jobs.studio import Studio  # noqa: E402
from avatar_core.provider.client import ProviderClient  # noqa: E402
from avatar_core.provider.cometapi import cometapi_profile  # noqa: E402
from avatar_core.simulator import Simulator  # noqa: E402
from avatar_core.waiting.pacing import Pacing  # noqa: E402
from avatar_core.waiting.scheduler import PollScheduler  # noqa: E402
from ui import history_watch  # noqa: E402

WAIT_MS = 45_000  # the upper bound of any one wait; test_browser's too (expect's is global)
expect.set_options(timeout=WAIT_MS)
PART_S = 6.0
VOICE_S = 14.0

TEXTS = {
    "en-US": (
        "The harbour wakes before the town does. Boats knock against the pier.\n\n"
        "By eight the market is full. Children weave between the stalls.\n\n"
        "In the evening the wind turns. The lights come on along the water."
    ),
    "zh-CN": (
        "清晨的港口比小镇醒得更早。渔船轻轻碰着码头。\n\n"
        "到了八点，市场已经挤满了人。孩子们在摊位之间穿来穿去。\n\n"
        "傍晚时分，风向变了。岸边的灯一盏接一盏亮起来。"
    ),
}
# "Part 2 of 3 is ready (2 of 3 ready)", in the browser's language: (number, count)
PART_READY = {
    "en-US": re.compile(r"Part (\d+) of (\d+) is ready"),
    "zh-CN": re.compile(r"第 (\d+) 段（共 (\d+) 段）已完成"),
}
IN_PARTS = {"en-US": "it will be made in 3 parts", "zh-CN": "分成 3 段制作"}

RECORD_STATUS = """() => {
    window.statusSeen = [];
    const status = document.getElementById('status');
    const note = () => {
        const text = status.innerText.trim();
        if (text && window.statusSeen[window.statusSeen.length - 1] !== text) {
            window.statusSeen.push(text);
        }
    };
    new MutationObserver(note).observe(
        status, {subtree: true, childList: true, characterData: true});
}"""
# The video shown plays; its length in seconds (once the browser knows it).
PLAYING_FOR = """() => {
    const video = document.querySelector('#result video');
    return video !== null && video.currentTime > 0.5 && isFinite(video.duration)
        ? video.duration : null;
}"""


# The app asks the provider first 0.25 s after the create (the product: after 2 s), then
# about every second; a part's real seconds: done by that first check.
PACING = Pacing(first_s=0.25, floor_s=0.3, cap_s=1.0)
TASK_S = 0.2
RUNNING_S = 3600.0  # a part planned to run until the test moves the simulator's clock


@pytest.fixture(scope="module")
def sim_clock() -> FakeClock:
    """The simulator's clock: real time, plus whatever a test skips (`advance`)."""
    return FakeClock(real_time=True)


@pytest.fixture(scope="module")
def sim(sim_clock, tmp_path_factory) -> Iterator[Simulator]:
    with Simulator(
        task_seconds=TASK_S,
        submit_seconds=0.05,
        clock=sim_clock.now,
        work_dir=tmp_path_factory.mktemp("long-sim"),
    ) as simulator:
        simulator.options.render_max_side = 48
        yield simulator


# The History asks the provider again every second while a job is unfinished (the page's
# own is every 5 s, ui/history_watch.EVERY_S): the same refresh, sooner (as test_browser's).
HISTORY_EVERY_S = 1.0


def _launched(studio: Studio) -> InProcessApp:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(history_watch, "EVERY_S", HISTORY_EVERY_S)
        return InProcessApp(studio)


@pytest.fixture(scope="module")
def app(sim, tmp_path_factory) -> Iterator[InProcessApp]:
    """Demo mode on this module's simulator, in real time, with parts of at most 6 s."""
    settings = Settings(
        api_key=None, base_url=sim.base_url or "", data_dir=tmp_path_factory.mktemp("data"),
        **NO_LIMITS,  # type: ignore[arg-type]
    )  # fmt: skip
    profile = dataclasses.replace(
        cometapi_profile(settings.base_url, DEMO_KEY), max_part_seconds=PART_S
    )
    studio = Studio(
        settings,
        client=ProviderClient(settings.base_url, DEMO_KEY, profile=profile),
        scheduler=PollScheduler(pacing=PACING),
    )
    running = _launched(studio)
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Tabs]:
    """Chromium's tabs, kept from test to test, each taken as a new visitor's (browser_tabs)."""
    with chromium_tabs(WAIT_MS) as tabs:
        yield tabs


def _open(browser: Tabs, url: str, locale: str, width: int, height: int):
    """A new visitor's tab at `url` with the portrait added (give it back with `done`)."""
    page = browser.open(url, locale=locale, width=width, height=height)
    expect(page.locator("#generate")).to_be_visible()
    page.locator("#portrait input[type=file]").set_input_files(str(PORTRAIT))
    expect(page.locator("#portrait_verdict")).to_contain_text("✅")
    return page


@pytest.fixture(scope="module")
def long_voice(tmp_path_factory) -> Path:
    """14 s of speech-like sound with pauses, half a second of silence at each end."""
    folder = tmp_path_factory.mktemp("voice")
    return write_wav(folder / "long.wav", speech_like(VOICE_S, lead=0.5, tail=0.5, seed=7))


def _generate_one_video(page, sim: Simulator, locale: str) -> tuple[float, int]:
    """Generate, until the video plays: (its length, how many parts it was made of); the
    status said each part's progress, and the parts were one create each."""
    page.evaluate(RECORD_STATUS)
    creates = sim.stats.creates
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text(re.compile("✅|❌"), timeout=WAIT_MS)
    seen = page.evaluate("window.statusSeen")
    assert "✅" in page.locator("#status").inner_text(), seen
    seconds = page.wait_for_function(PLAYING_FOR, timeout=WAIT_MS).json_value()
    ready = [found for text in seen for found in PART_READY[locale].findall(text)]
    counts = {int(count) for _, count in ready}
    assert len(counts) == 1, seen  # one speech, its parts counted
    (count,) = counts
    assert count >= 3 and {int(n) for n, _ in ready} == set(range(1, count + 1)), seen
    assert sim.stats.creates == creates + count  # a task a part, one video shown
    return seconds, count


def test_a_long_voice_and_a_long_text_each_give_one_video_with_their_parts_progress(
    browser, app, sim, long_voice
):
    page = _open(browser, app.url, "en-US", 1280, 1000)
    try:
        page.locator("#voice input[type=file]").set_input_files(str(long_voice))
        expect(page.locator("#voice_verdict")).to_contain_text(IN_PARTS["en-US"])

        seconds, count = _generate_one_video(page, sim, "en-US")
        assert count == 3
        assert seconds > 2 * PART_S  # the whole speech joined, not a part
        assert seconds == pytest.approx(VOICE_S, abs=0.6)  # the speech, its silent edges out

        page.locator("#make_another").click()
        expect(page.locator("#status")).not_to_contain_text("✅")  # the next ✅ is the text's
        _long_text_gives_one_video(page, sim, "en-US")
    finally:
        done(page)


def test_a_long_text_gives_one_video_with_its_parts_progress_on_a_chinese_page(browser, app, sim):
    """The Chinese page's long voice, its verdict and its parts' progress in Chinese, is
    the three-minute voice's test (at the provider's real limit)."""
    page = _open(browser, app.url, "zh-CN", 1280, 1000)
    try:
        _long_text_gives_one_video(page, sim, "zh-CN")
    finally:
        done(page)


def _long_text_gives_one_video(page, sim: Simulator, locale: str) -> None:
    """ "Type a text", three paragraphs: one video of the groups' parts joined."""
    page.locator("#voice_source label").nth(1).click()  # "Type a text"
    expect(page.locator("#tts_text")).to_be_visible()
    page.locator("#tts_text").get_by_role("textbox").fill(TEXTS[locale])
    speeches = sim.stats.tts
    seconds, count = _generate_one_video(page, sim, locale)
    assert seconds > 2 * PART_S  # the groups' parts joined, not a part
    assert sim.stats.tts == speeches + count  # a speech a group, a part a group


HISTORY_PLAYING_FOR = """() => {
    const video = document.querySelector('#history_video video');
    return video !== null && video.currentTime > 0.5 && isFinite(video.duration)
        ? video.duration : null;
}"""


def _parts(app: InProcessApp) -> dict[str, object]:
    """The app's journaled parts of long speeches, by job id."""
    jobs = app.studio.journal.recent(100)
    return {job.job_id: job for job in jobs if (job.batch_key or "").startswith("speech:")}


def _every_part_sent(app: InProcessApp, page, before: set[str], count: int) -> None:
    """Until the app's journal holds `count` new parts (not in `before`), each with its
    task at the provider."""
    for _ in range(WAIT_MS // 250):
        new = [job for job_id, job in _parts(app).items() if job_id not in before]
        if len(new) >= count and all(job.task_id for job in new):  # type: ignore[attr-defined]
            return
        page.wait_for_timeout(250)
    raise AssertionError("the speech's parts were not all sent")


def test_a_long_voice_stopped_after_its_parts_were_sent_is_joined_in_history_and_plays(
    browser, app, sim, sim_clock, tmp_path
):
    """Stop once the provider has every part: the History (its own refresh, no reload)
    shows the one entry finished once the parts end, joined, and plays the whole."""
    voice = write_wav(tmp_path / "other.wav", speech_like(VOICE_S, lead=0.5, tail=0.5, seed=8))
    page = _open(browser, app.url, "en-US", 1366, 768)
    try:
        page.locator("#voice input[type=file]").set_input_files(str(voice))
        expect(page.locator("#voice_verdict")).to_contain_text(IN_PARTS["en-US"])
        sim.plan_task(task_seconds=RUNNING_S, times=3)  # the parts outlast the Stop
        creates, before = sim.stats.creates, set(_parts(app))
        page.locator("#generate").click()
        _every_part_sent(app, page, before, 3)
        page.locator("#stop").click()
        expect(page.locator("#status")).to_contain_text("Stopped")
        expect(page.locator("#status")).not_to_contain_text("✅")
        sim_clock.advance(RUNNING_S)  # the parts end at the provider, after the Stop

        opened = page.locator("#history_panel button.label-wrap")
        expect(opened).to_have_class(re.compile(r"\bopen\b"))  # by Stop: "…appear in History"
        item = page.locator("#history .thumbnail-item").first
        expect(item).to_contain_text("one video of 3 parts")  # no reload, no Refresh pressed
        expect(page.locator("#history .thumbnail-item")).to_have_count(1)  # one entry
        item.click()
        seconds = page.wait_for_function(HISTORY_PLAYING_FOR, timeout=WAIT_MS).json_value()
        assert seconds == pytest.approx(VOICE_S, abs=0.6)  # the joined whole
        assert sim.stats.creates == creates + 3  # nothing sent again
    finally:
        done(page)


THREE_MINUTES_S = 180.0


@contextlib.contextmanager
def _at_the_providers_own_limit(app: InProcessApp) -> Iterator[None]:
    """The app's provider profile, for a while, the product's own: the provider's limit
    of 60 s a part (as an app of its own had it; the profile is read at each use)."""
    client = app.studio.client
    shorter = client.profile
    own = cometapi_profile(app.studio.settings.base_url, DEMO_KEY)  # as ProviderClient's
    assert own.max_part_seconds == 60.0
    client.profile = dataclasses.replace(shorter, max_part_seconds=own.max_part_seconds)
    try:
        yield
    finally:
        client.profile = shorter


def test_a_three_minute_voice_gives_one_video_of_three_minutes_on_a_chinese_page(
    browser, app, sim, tmp_path
):
    """A person's three-minute speech, at the provider's real limit of 60 s a task: one
    press, its parts' progress in Chinese, one video as long as the speech. (The module's
    app at that limit while the test sends: it was an app of its own.)"""
    voice = write_wav(
        tmp_path / "three-minutes.wav",
        speech_like(THREE_MINUTES_S, rate=16_000, lead=0.5, tail=0.5, seed=11),
    )
    page = _open(browser, app.url, "zh-CN", 1366, 768)
    try:
        with _at_the_providers_own_limit(app):  # the part this page sends
            page.locator("#voice input[type=file]").set_input_files(str(voice))
            verdict = page.locator("#voice_verdict")
            expect(verdict).to_contain_text(re.compile(r"分成 \d 段制作"))
            said = re.search(r"分成 (\d) 段制作", verdict.inner_text())
            seconds, count = _generate_one_video(page, sim, "zh-CN")
        assert count >= 3  # 60 s parts at most: three at the fewest
        assert said is not None and int(said.group(1)) == count  # the parts it said
        assert seconds == pytest.approx(THREE_MINUTES_S, abs=0.6)  # the whole speech
    finally:
        done(page)
