"""The app as people see it: Debian's Chromium, driven by playwright, on the real app.

The app runs in this process in demo mode, pointed at a simulator of its own whose tasks
take a fraction of a real second (`TASK_S`); every wait is for a condition, with a generous
upper bound. A test that needs a job running while it acts (watch the status move, press
Stop, scroll on a phone) plans a task that runs until the test moves the simulator's clock
past it (`_plan_running_task`, `_finish_running_tasks`): no test waits out a task's seconds.
"""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_harness import CHROMIUM, InProcessApp, demo_studio, real_time_studio
from browser_tabs import Tabs, chromium_tabs, done
from fake_clock import FakeClock

if not CHROMIUM.exists():
    pytest.skip(
        f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the playwright package (pip)"
)
expect = sync_api.expect

from avatar_core.catalogue import sentence_for  # noqa: E402
from avatar_core.demo import DEMO_KEY  # noqa: E402
from avatar_core.inputs.audio import prepare_audio  # noqa: E402
from avatar_core.inputs.faces import NO_FACE_WARNING, detector_available  # noqa: E402
from avatar_core.inputs.ffmpeg import ffmpeg_exe  # noqa: E402
from avatar_core.jobs.pricing import PRICE_PER_SECOND, format_money  # noqa: E402
from avatar_core.provider.client import AvatarRequest, ProviderClient  # noqa: E402
from avatar_core.provider.models import TaskStatus  # noqa: E402
from avatar_core.simulator import Simulator  # noqa: E402
from avatar_core.waiting.pacing import Pacing  # noqa: E402
from ui import history_watch  # noqa: E402
from ui.texts import EN, ZH  # noqa: E402

ASSETS = Path(__file__).resolve().parent.parent / "assets"
WAIT_MS = 45_000  # the upper bound of any one wait; conditions usually hold in a second
expect.set_options(timeout=WAIT_MS)

# The video shown has played half a second; then paused (its frames painted to the end
# cost about 0.25 s of Chromium's CPU a second while the test goes on, and a typed text's
# video lasts 20 s). PLAYING_ON leaves it playing (for what shows while it plays).
PLAYING_ON = """() => {
    const video = document.querySelector('#result video');
    return video !== null && video.currentTime > 0.5;
}"""
PLAYING = """() => {
    const video = document.querySelector('#result video');
    if (video === null || !(video.currentTime > 0.5)) return false;
    video.pause();
    return true;
}"""
# Every text the status shows, in order, as the page changes it.
RECORD_STATUS = """() => {
    window.statusSeen = [];
    const status = document.getElementById('status');
    const note = () => {
        const text = status.innerText.trim();
        if (text && window.statusSeen[window.statusSeen.length - 1] !== text) {
            window.statusSeen.push(text);
        }
    };
    const what = {subtree: true, childList: true, characterData: true};
    new MutationObserver(note).observe(status, what);
}"""
# Visible form controls without an accessible name (a label, aria-label or button text).
UNLABELLED = """() => {
    const shown = (el) => {
        const box = el.getBoundingClientRect();
        const style = getComputedStyle(el);
        return box.width > 0 && box.height > 0 && style.visibility !== 'hidden';
    };
    const named = (el) => {
        if ((el.getAttribute('aria-label') || '').trim()) return true;
        const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
        if (ids.some((id) => (document.getElementById(id)?.textContent || '').trim())) return true;
        if (el.labels && [...el.labels].some((label) => label.textContent.trim())) return true;
        if (el.tagName === 'BUTTON' && (el.textContent.trim() || el.title)) return true;
        return Boolean((el.title || '').trim());
    };
    return [...document.querySelectorAll('input, textarea, select, button')]
        .filter((el) => el.type !== 'hidden' && shown(el) && !named(el))
        .map((el) => el.outerHTML.slice(0, 160));
}"""


# --- the app and the browser ----------------------------------------------------------------


# The apps' studios ask the provider first 0.25 s after the create (the harness's real-time
# studios after 0.5 s; the product's after 2 s), then about every second.
PACING = Pacing(first_s=0.25, floor_s=0.3, cap_s=1.0)
# A simulated task's real seconds: done by the app's first poll (PACING.first_s).
TASK_S = 0.2
# A task planned to run until the test moves the simulator's clock past it.
RUNNING_S = 3600.0


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
        work_dir=tmp_path_factory.mktemp("browser-sim"),
    ) as simulator:
        # 128 px on the longer side (the default 512): the page shows every video in the
        # same box, and a typed text's 20 s video took 1.2 s of x264 at 512 px
        simulator.options.render_max_side = 128
        yield simulator


def _plan_running_task(sim) -> None:
    """The next task runs (the page shows it being made) until `_finish_running_tasks`."""
    sim.plan_task(task_seconds=RUNNING_S)


def _until_the_provider_has_it(page, sim, creates: int) -> None:
    """Until the simulator has more tasks than `creates`: the page's flow has sent its
    task (a task planned and never sent would be the next test's)."""
    for _ in range(WAIT_MS // 100):
        if sim.stats.creates > creates:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the page's task never reached the provider")


def _finish_running_tasks(sim_clock) -> None:
    """The simulator's clock moves past every running task: each is done at its next poll
    (a task planned "stuck" stays stuck)."""
    sim_clock.advance(RUNNING_S)


# The History asks the provider again every second while a job is unfinished (the page's
# own is every 5 s, ui/history_watch.EVERY_S): the same refresh, sooner.
HISTORY_EVERY_S = 1.0


def _launched(studio) -> InProcessApp:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(history_watch, "EVERY_S", HISTORY_EVERY_S)
        return InProcessApp(studio)


@pytest.fixture(scope="module")
def app(sim, tmp_path_factory) -> Iterator[InProcessApp]:
    """Demo mode (no key) on this module's simulator; a pasted key goes to it as well."""
    running = _launched(demo_studio(sim, tmp_path_factory.mktemp("data"), pacing=PACING))
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Tabs]:
    """Chromium's tabs, kept from test to test, each taken as a new visitor's (browser_tabs)."""
    with chromium_tabs(WAIT_MS) as tabs:
        yield tabs


def _open(browser, url: str, *, locale: str = "en-US", width: int = 1280, height: int = 1000):
    """A new visitor's tab at `url` (give it back with `done`)."""
    page = browser.open(url, locale=locale, width=width, height=height)
    expect(page.locator("#generate")).to_be_visible()
    return page


@pytest.fixture
def page(browser, app):
    page = _open(browser, app.url)
    yield page
    done(page)


# --- media ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speech_path(tmp_path_factory) -> Path:
    """The voice of this module's videos: the first 2.7 s of assets/hello.mp3 (its first
    two phrases, cut in a pause). A video plays on to its end while a test goes on, about
    0.25 s of Chromium's CPU a second: the whole file's videos played 7.3 s each."""
    voice = tmp_path_factory.mktemp("media") / "hello-start.mp3"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(ASSETS / "hello.mp3"), "-t", "2.7",
         "-c:a", "libmp3lame", "-b:a", "96k", str(voice)],
        check=True,
    )  # fmt: skip
    return voice


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    clip = tmp_path_factory.mktemp("media") / "short.wav"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=1.2", str(clip)],
        check=True,
    )
    return clip


@pytest.fixture(scope="module")
def small_photo(tmp_path_factory) -> Path:
    from PIL import Image

    photo = tmp_path_factory.mktemp("media") / "small.png"
    Image.new("RGB", (200, 400), "gray").save(photo)
    return photo


@pytest.fixture(scope="module")
def faceless_photo(tmp_path_factory) -> Path:
    from PIL import Image

    photo = tmp_path_factory.mktemp("media") / "landscape.png"
    Image.linear_gradient("L").resize((600, 600)).convert("RGB").save(photo)
    return photo


# --- steps a person takes ------------------------------------------------------------------


def _upload(page, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))


def _add_inputs(page, portrait: Path, voice: Path | None = None) -> None:
    _upload(page, "portrait", portrait)
    expect(page.locator("#portrait_verdict")).to_contain_text(re.compile("✅|❌"))
    if voice is not None:
        _upload(page, "voice", voice)
        expect(page.locator("#voice_verdict")).to_contain_text(re.compile("✅|❌"))


def _open_panel(page, elem_id: str) -> None:
    """Unfold a panel (one the page opened itself, as Stop opens History, stays open).

    The page may open it itself between our look and our click (after a reload, History
    is opened when a job is still being made): that click folds it again, so look again
    until it is seen open. (Its own toggle is the first: folds inside it have theirs.) A
    click unfolds it in the browser alone, in the same frame: 3 s a look is ample, and a
    slower one only means one more look."""
    toggle = page.locator(f"#{elem_id} button.label-wrap").first
    opened = re.compile(r"(^|\s)open(\s|$)")
    for _ in range(5):
        if opened.search(toggle.get_attribute("class") or ""):
            return
        toggle.click()
        try:
            expect(toggle).to_have_class(opened, timeout=3_000)
        except AssertionError:
            continue
    expect(toggle).to_have_class(opened)


def _as_read(sentence: str) -> str:
    """A page sentence as the browser shows it: a link's words without its markup."""
    return re.sub(r"\[([^\]]+)\]\(#[\w-]+\)", r"\1", sentence)


def _details(page):
    """The folded Details (the ids), opened to read them."""
    if page.locator("#details").count() == 0 or page.locator("#details").is_hidden():
        _open_panel(page, "details_panel")
    return page.locator("#details")


def _task_id(page) -> str:
    """The task id, from the folded Details."""
    expect(_details(page)).to_contain_text("Reference number:")
    found = re.search(r"Reference number:\s*(\S+)", page.locator("#details").inner_text())
    assert found, page.locator("#details").inner_text()
    return found.group(1)


FOLDED_IN = {
    "lookup": "for_programmers",
    "audio_id": "for_programmers",
}  # a panel inside a fold of "More options"


def _open_options(page, elem_id: str | None = None) -> None:
    """Unfold "More options" (and one panel inside it, and the fold that holds it)."""
    if page.locator("#prompt").is_hidden():
        _open_panel(page, "more_options")
    outer = FOLDED_IN.get(elem_id or "")
    if outer is not None and page.locator(f"#{elem_id} button.label-wrap").is_hidden():
        _open_panel(page, outer)
    if elem_id is not None:
        _open_panel(page, elem_id)


def _history_items(page):
    """The History's pictures, each with its caption (when, the state in words)."""
    return page.locator("#history .thumbnail-item")


def _choose_text(page) -> None:
    """Step 2's second choice: "Type a text" (in either language)."""
    page.locator("#voice_source label").nth(1).click()
    expect(page.locator("#tts_text")).to_be_visible()


def _wait_for_video(page, *, playing=PLAYING) -> None:
    """Until the flow ends; then it must have ended with a video that plays (`playing`:
    PLAYING pauses it once seen playing, PLAYING_ON leaves it playing)."""
    status = page.locator("#status")
    expect(status).to_contain_text(re.compile("✅ Done|❌"))
    assert "✅ Done" in status.inner_text(), status.inner_text()
    page.wait_for_function(playing, timeout=WAIT_MS)


# --- the main path -------------------------------------------------------------------------


def test_upload_generate_watch_the_status_move_the_video_play_and_after_a_reload_lookup_it(
    page, sim, sim_clock, portrait_path, speech_path
):
    """The main path, watched; then, on the same page, what
    `test_after_a_page_reload_history_is_there_and_lookup_by_task_id_brings_the_video`
    checked of its own video (`_after_a_page_reload_history_is_there_and_lookup_...`)."""
    _add_inputs(page, portrait_path, speech_path)
    expect(page.locator("#portrait_verdict")).to_have_text("✅ Face ready (512×512 px).")
    expect(page.locator("#voice_verdict")).to_contain_text("✅ Voice ready (")
    page.evaluate(RECORD_STATUS)
    creates = sim.stats.creates
    _plan_running_task(sim)

    page.locator("#generate").click()

    expect(page.locator("#status")).to_contain_text("elapsed")  # the job, seen running
    _finish_running_tasks(sim_clock)
    _wait_for_video(page, playing=PLAYING_ON)  # its controls are checked while it plays
    seen = page.evaluate("window.statusSeen")
    assert any("accepted" in text or "elapsed" in text for text in seen), seen
    assert seen[-1].startswith("✅ Done"), seen
    expect(_details(page)).to_contain_text("Simulated")
    expect(page.locator("#simulated_badge")).to_contain_text("SIMULATED")
    assert sim.stats.creates == creates + 1
    controls = "getComputedStyle(document.querySelector('#result .controls')).opacity"
    page.mouse.move(0, 0)  # not hovering the player: its controls show all the same
    assert page.evaluate(controls) == "1"
    _after_a_page_reload_history_is_there_and_lookup_by_task_id_brings_the_video(
        page, _task_id(page)
    )


DOWNLOAD_NAME = re.compile(r"talking-avatar-\d{4}-\d{2}-\d{2}-\d{4}\.mp4")


DOWNLOAD_LABEL = {"en-US": "Download the video", "zh-CN": "下载视频"}


def _a_finished_video_has_a_download_button_giving_a_readable_file_name(page, locale) -> None:
    """(The laptop's video, `test_a_video_made_on_a_laptop_...`.)"""
    download = page.locator("#download")
    _wait_for_video_in_any_language(page)
    expect(download).to_have_text(DOWNLOAD_LABEL[locale])
    assert _in_first_screen(page, "#download")

    with page.expect_download() as saving:
        download.click()

    saved = saving.value
    assert DOWNLOAD_NAME.fullmatch(saved.suggested_filename), saved.suggested_filename
    assert Path(saved.path()).read_bytes()[4:8] == b"ftyp"  # an MP4, whole


def _make_another_clears_the_video_and_its_download(page) -> None:
    page.locator("#make_another").click()
    expect(page.locator("#download")).to_be_hidden()
    expect(page.locator("#result video")).to_have_count(0)


def test_a_too_short_clip_and_a_too_small_photo_are_explained_before_anything_is_sent(
    page, sim, short_clip, small_photo
):
    _add_inputs(page, small_photo, short_clip)
    portrait_verdict = page.locator("#portrait_verdict")
    expect(portrait_verdict).to_contain_text("❌")
    expect(portrait_verdict).to_contain_text("200×400")
    expect(portrait_verdict).to_contain_text("at least 300 px")
    expect(page.locator("#voice_verdict")).to_contain_text("1.2 s")
    expect(page.locator("#voice_verdict")).to_contain_text("at least 2 s")
    creates = sim.stats.creates

    page.locator("#generate").click()

    status = page.locator("#status")
    expect(status).to_contain_text("at least 300 px")
    expect(status).to_contain_text("1.2 s")
    assert sim.stats.creates == creates


def test_server_paths_in_the_url_boxes_get_one_sentence_and_nothing_is_read(page, sim):
    """Whatever a path names (a file, nothing, a folder, a device), the answer is the same:
    the page says nothing about the server's files, and nothing is sent."""
    boxes = [("portrait_url", "portrait_verdict", "image"), ("voice_url", "voice_verdict", "audio")]
    creates = sim.stats.creates
    _open_options(page, "from_the_web")  # the web addresses are under "More options"
    for box, verdict_id, what in boxes:
        typed = page.locator(f"#{box}").get_by_role("textbox")
        verdict = page.locator(f"#{verdict_id}")
        for path in ("/etc/passwd", "/nonexistent", "/root", "/dev/zero"):
            typed.fill(path)
            typed.press("Enter")
            expect(verdict).to_have_text(
                f"❌ The {what} link is not a web address: paste a link that starts with https://."
            )
            typed.fill("")
            typed.press("Enter")
            expect(verdict).to_have_text("")  # so that the next path's answer is its own
    for box, _, _ in boxes:
        page.locator(f"#{box}").get_by_role("textbox").fill("/dev/zero")
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text(
        "The image link is not a web address: paste a link that starts with https://."
    )
    expect(page.locator("#status")).to_contain_text("The audio link is not a web address")
    assert sim.stats.creates == creates


@pytest.mark.skipif(not detector_available(), reason="dlib-bin (the face check) is not installed")
def test_a_photo_without_a_face_is_accepted_with_a_warning(page, faceless_photo, portrait_path):
    verdict = page.locator("#portrait_verdict")
    _add_inputs(page, faceless_photo)
    expect(verdict).to_contain_text("✅")
    expect(verdict).to_contain_text(NO_FACE_WARNING[:40])

    _add_inputs(page, portrait_path)
    expect(verdict).to_contain_text("512×512")  # the verdict is the astronaut's
    expect(verdict).not_to_contain_text("No face")


def test_the_cost_in_demo_mode_says_nothing_is_charged_and_follows_voice_and_mode(
    page, speech_path
):
    """Demo mode shows no price as a charge: what a key would cost, said as such."""
    seconds = prepare_audio(speech_path).duration_s
    cost = page.locator("#cost")
    expect(cost).to_have_text("Demo: free, nothing is charged.")  # before a voice, too

    _upload(page, "voice", speech_path)
    std = format_money(seconds * PRICE_PER_SECOND["std"])
    expect(cost).to_have_text(
        "Demo: free, nothing is charged (with a key, the code of a paid CometAPI account, "
        f"this would cost about {std})"
    )
    _open_options(page)
    page.locator("#mode").get_by_text("Professional").click()
    expect(cost).to_contain_text(format_money(seconds * PRICE_PER_SECOND["pro"]))
    assert "Estimated cost" not in page.locator("body").inner_text()


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_a_typed_text_and_one_press_give_a_video_and_the_same_speech_is_reused(
    browser, app, sim, sim_clock, portrait_path, locale
):
    """In English, then (on the same page, once its two videos are made)
    `_the_voice_list_follows_the_chosen_language` and its Chinese speech's video (was a
    test and a page of its own)."""
    page = _open(browser, app.url, locale=locale, width=1366, height=768)
    try:
        _choose_text(page)
        text = (  # a few lines in the box, as a tester types (one speech still takes it)
            "Hello from a browser test, said by text to speech. The page keeps Stop and the "
            "status in sight while the video is made, on a laptop's one screen, however many "
            "lines the text takes in its box. A tester typed about this much and saw Stop "
            "pushed down."
            if locale == "en-US"
            else "你好，这是一段浏览器测试里用文字生成的语音。视频制作的时候，页面要让停止按钮"
            "和状态一直留在笔记本电脑的第一屏里，不需要滚动。不管文字在框里占几行，测试人员"
            "输入了差不多这么多文字，就看到停止按钮被挤到了下面。"
        )
        page.locator("#tts_text").get_by_role("textbox").fill(text)
        expect(page.locator("#cost")).to_contain_text(re.compile(r"\$\d"))
        _add_inputs(page, portrait_path)
        speeches, creates = sim.stats.tts, sim.stats.creates
        _plan_running_task(sim)

        page.locator("#generate").click()

        _until_the_provider_has_it(page, sim, creates)  # the speech made, the video under way
        expect(page.locator("#tts_preview")).to_be_visible()  # the speech, playable
        expect(page.locator("#stop")).to_be_visible()
        for shown in RUN_CONTROLS:  # the preview pushed Stop below a laptop's screen once
            assert _in_first_screen(page, shown), (shown, page.locator(shown).bounding_box())
        _finish_running_tasks(sim_clock)
        expect(page.locator("#status")).to_contain_text("✅", timeout=WAIT_MS)
        page.wait_for_function(PLAYING, timeout=WAIT_MS)
        expect(page.locator("#tts_preview audio").first).to_be_attached()
        assert _in_first_screen(page, "#generate")  # the laptop's one screen, at every stage
        assert _in_first_screen(page, "#result video", half=True)
        assert (sim.stats.tts, sim.stats.creates) == (speeches + 1, creates + 1)
        page.locator("#make_another").click()
        expect(page.locator("#status")).not_to_contain_text("✅")  # a fresh start, shown
        page.locator("#generate").click()  # the same text and voice again
        expect(page.locator("#status")).to_contain_text("✅", timeout=WAIT_MS)
        assert (sim.stats.tts, sim.stats.creates) == (speeches + 1, creates + 2)
        if locale == "en-US":
            page.locator("#make_another").click()
            expect(page.locator("#status")).not_to_contain_text("✅")  # so the next is its own
            _the_voice_list_follows_the_chosen_language(page)
    finally:
        done(page)


def _the_voice_list_follows_the_chosen_language(page) -> None:
    """(The English typed text's page: text mode, its face in.)"""
    voice = page.locator("#tts_voice").get_by_role("combobox")
    expect(voice).to_have_value("Anchor")
    _open_options(page)
    page.locator("#tts_language").get_by_text("Chinese").click()
    expect(voice).to_have_value("阳光少年")
    voice.click()
    expect(page.get_by_role("option", name="运动少年", exact=True)).to_be_visible()
    expect(page.get_by_role("option", name="Anchor")).to_have_count(0)
    page.keyboard.press("Escape")
    page.locator("#tts_text").get_by_role("textbox").fill(
        "你好，这是一段用中文说的浏览器测试语音。"
    )
    page.locator("#generate").click()
    _wait_for_video(page)


# --- sessions, history, lookup, stop ------------------------------------------------------


def test_a_pasted_key_leaves_demo_mode_in_its_tab_only(
    browser, app, sim, portrait_path, speech_path
):
    key = "sk-browser-test-4242"
    sim.set_key_state(key, "no_credit")  # the provider answers this key "balance used up"
    mine = _open(browser, app.url)
    theirs = _open(browser, app.url)
    try:
        expect(mine.locator("#demo_banner")).to_be_visible()
        _open_options(mine, "own_key")
        mine.locator("#key_box").get_by_role("textbox").fill(key)
        mine.locator("#key_button").click()
        expect(mine.locator("#key_note")).to_contain_text("uses your key")
        expect(mine.locator("#demo_banner")).to_be_hidden()
        _add_inputs(mine, portrait_path, speech_path)
        mine.locator("#generate").click()
        expect(mine.locator("#status")).to_contain_text("balance is used up")
        assert key not in mine.content()

        expect(theirs.locator("#demo_banner")).to_be_visible()
        _add_inputs(theirs, portrait_path, speech_path)
        theirs.locator("#generate").click()
        _wait_for_video(theirs)
        expect(_details(theirs)).to_contain_text("Simulated")
        assert key not in theirs.content()
    finally:
        done(mine)
        done(theirs)


def test_the_key_panel_checks_for_free_and_a_task_made_elsewhere_is_not_shown(
    page, sim, portrait_path, speech_path
):
    """The key panel's check of the key and the provider costs nothing; then, on the same
    page, `_a_task_made_elsewhere_on_the_account_is_not_shown_to_visitors` (was a test of
    its own, a page of its own: any new visitor)."""
    creates = sim.stats.count("create")
    _open_options(page, "own_key")
    page.locator("#doctor_button").click()
    report = page.locator("#doctor_report")
    expect(report).to_contain_text("key accepted: yes")
    expect(report).to_contain_text("lookups by external id:")
    expect(report).to_contain_text("demo mode: this is the built-in simulator, not CometAPI")
    assert sim.stats.count("create") == creates  # free requests only
    _a_task_made_elsewhere_on_the_account_is_not_shown_to_visitors(
        page, sim, portrait_path, speech_path
    )


def _video_made(page, portrait: Path, voice: Path) -> str:
    """Make a video from the page; its task id."""
    _add_inputs(page, portrait, voice)
    page.locator("#generate").click()
    _wait_for_video(page)
    return _task_id(page)


def _reload(page) -> None:
    page.reload()
    expect(page.locator("#generate")).to_be_visible()


def _after_a_page_reload_history_is_there_and_lookup_by_task_id_brings_the_video(
    page, task_id: str
) -> None:
    """The History is there after a reload; and a visitor's own task, looked up by its id
    once the page has forgotten it, brings its video. (The main path's video,
    `test_upload_generate_watch_the_status_move_the_video_play_and_...`.)"""
    _reload(page)
    _open_panel(page, "history_panel")

    expect(_history_items(page).first).to_contain_text("done (demo)")
    _open_options(page, "lookup")
    page.locator("#lookup_id").get_by_role("textbox").fill(task_id)

    page.locator("#lookup_button").click()

    _wait_for_video(page)
    assert _task_id(page) == task_id


HISTORY_PLAYING = """() => {
    const video = document.querySelector('#history_video video');
    if (video === null || !(video.currentTime > 0.5)) return false;
    video.pause();  // seen playing (as PLAYING)
    return true;
}"""


# History reads on any screen: no sideways scrolling of its pictures (Gradio's four
# columns of at least 100 px did, on a phone), each caption whole under its picture.
HISTORY_FITS = """() => {
    const grid = document.querySelector('#history .grid-wrap');
    const tiles = [...document.querySelectorAll('#history .thumbnail-item')];
    const fits = (tile) => {
        const caption = tile.querySelector('.caption-label');
        const picture = tile.querySelector('img, video');
        if (!caption || !picture) return false;
        const box = caption.getBoundingClientRect(), outer = tile.getBoundingClientRect();
        return caption.scrollWidth <= caption.clientWidth && box.left >= outer.left - 1
            && box.right <= outer.right + 1 && box.bottom <= outer.bottom + 1
            && box.top >= picture.getBoundingClientRect().bottom - 1;
    };
    return tiles.length > 0 && grid.scrollWidth <= grid.clientWidth && tiles.every(fits);
}"""
# History's first picture on screen (brought there by a smooth scroll).
HISTORY_IN_VIEW = """() => {
    const box = document.querySelector('#history .thumbnail-item').getBoundingClientRect();
    return box.top >= 0 && box.bottom <= window.innerHeight;
}"""


def _finished_at_the_provider(page, sim, task_id: str) -> None:
    """Until the provider says the task succeeded (asked directly, as another program would;
    the page is not asked)."""
    with ProviderClient(sim.base_url or "", DEMO_KEY) as provider:
        for _ in range(WAIT_MS // 250):
            if provider.get_task(task_id).status is TaskStatus.SUCCEED:
                return
            page.wait_for_timeout(250)
    raise AssertionError(f"task {task_id} did not finish at the provider")


def _stopped_while_running(page, sim, portrait: Path, voice: Path) -> str:
    """Generate, then Stop once the provider has the task (running until the test moves
    the simulator's clock: `_finish_running_tasks`); its task id."""
    _plan_running_task(sim)
    _add_inputs(page, portrait, voice)
    page.locator("#generate").click()
    task_id = _task_id(page)  # the provider has it
    expect(page.locator("#stop")).to_be_visible()
    page.locator("#stop").click()
    expect(page.locator("#status")).to_contain_text("Stopped waiting")
    return task_id


def test_after_stop_and_a_reload_the_history_shows_the_finished_job_and_plays_it(
    browser, app, sim, sim_clock, portrait_path, speech_path
):
    """The provider finished a task the person stopped waiting for: the History asks."""
    page = _open(browser, app.url, width=1366, height=768)
    try:
        task_id = _stopped_while_running(page, sim, portrait_path, speech_path)
        _finish_running_tasks(sim_clock)
        _finished_at_the_provider(page, sim, task_id)

        _reload(page)
        _open_panel(page, "history_panel")  # the page may open it itself: looked at again

        item = _history_items(page).first
        expect(item).to_contain_text("done (demo)")
        item.click()
        page.wait_for_function(HISTORY_PLAYING, timeout=WAIT_MS)
    finally:
        done(page)


def test_a_reload_during_a_run_says_the_video_is_still_being_made_and_history_shows_it(
    browser, app, sim, sim_clock, portrait_path, speech_path
):
    # a cold tester reloaded while the video was being made and saw an empty page
    _plan_running_task(sim)
    page = _open(browser, app.url, width=1366, height=768)
    try:
        _add_inputs(page, portrait_path, speech_path)
        page.locator("#generate").click()
        _task_id(page)  # the provider has it

        _reload(page)

        expect(page.locator("#status")).to_have_text("⏳ " + _as_read(EN["still_being_made"]))
        item = _history_items(page).first  # the History opened by itself
        expect(item).to_contain_text("running (demo)")  # still running after the reload
        _finish_running_tasks(sim_clock)
        expect(item).to_contain_text("done (demo)")
        item.click()
        page.wait_for_function(HISTORY_PLAYING, timeout=WAIT_MS)
    finally:
        done(page)


def test_stop_says_what_is_true_and_history_shows_the_job_finished_without_a_reload(
    browser, app, sim, sim_clock, portrait_path, speech_path
):
    """Stop shows only while a job runs, and says what is true then (was
    `test_stop_shows_only_while_a_job_runs_and_says_what_is_true_then`, on a task the
    provider never finished). Then the History keeps asking while the job is unfinished:
    the person stopped waiting, the provider finished later, and the open page shows it
    done, and plays it (was `test_a_stopped_job_shows_finished_in_history_without_a_reload`,
    its own video)."""
    page = _open(browser, app.url, width=1366, height=768)
    try:
        stop, status = page.locator("#stop"), page.locator("#status")
        expect(stop).to_be_hidden()
        _plan_running_task(sim)  # the provider does not finish it while the test looks
        _add_inputs(page, portrait_path, speech_path)
        page.locator("#generate").click()
        expect(status).to_contain_text("elapsed")
        task_id = _task_id(page)  # the provider has it
        expect(stop).to_be_visible()

        stop.click()

        expect(status).to_contain_text("Stopped waiting")
        expect(status).to_contain_text("will appear in History")
        expect(stop).to_be_hidden()
        item = _history_items(page).first
        expect(item).to_be_visible()  # History opened by Stop, below a laptop's screen:
        expect(item).to_contain_text("running (demo)")
        expect(status).to_contain_text("Stopped waiting")  # no late update
        page.locator("#status a").get_by_text("History").click()  # the sentence's way there
        page.wait_for_function(HISTORY_IN_VIEW, timeout=WAIT_MS)
        expect(item).to_contain_text("running (demo)")  # shown unfinished first
        expect(page.locator("#history_video")).to_be_hidden()  # no empty player yet
        _finish_running_tasks(sim_clock)
        _finished_at_the_provider(page, sim, task_id)

        expect(item).to_contain_text("done (demo)")  # no reload, no Refresh pressed

        item.click()
        page.wait_for_function(HISTORY_PLAYING, timeout=WAIT_MS)
    finally:
        done(page)


def _a_lone_job_in_history_plays_on_a_click_in_view_with_its_download(page) -> None:
    """One job in History: a click plays it (Gradio's gallery shows a lone picture as
    chosen already), its player comes into view, and it downloads under a readable name.
    (The laptop's video, `test_a_video_made_on_a_laptop_...`.)"""
    if page.locator("#history").is_hidden():
        _open_panel(page, "history_panel")
    expect(_history_items(page)).to_have_count(1)
    # its caption under the picture, once laid out (its picture may still be loading)
    page.wait_for_function(HISTORY_FITS, timeout=WAIT_MS)
    expect(page.locator("#history_video")).to_be_hidden()  # no empty player before a pick

    _history_items(page).first.click()

    expect(page.locator("#history_video video")).to_have_count(1)
    page.wait_for_function(HISTORY_PLAYING, timeout=WAIT_MS)
    page.wait_for_function(
        "() => { const box = document.querySelector('#history_video video')"
        ".getBoundingClientRect();"
        " return box.top >= 0 && box.top + box.height / 2 <= window.innerHeight; }",
        timeout=WAIT_MS,
    )  # brought into view (a smooth scroll)
    with page.expect_download() as saving:
        page.locator("#history_download").click()
    assert DOWNLOAD_NAME.fullmatch(saving.value.suggested_filename)
    assert not re.search(r"\d{12,}", page.locator("#history_panel").inner_text())  # no ids


# --- visitors: each browser sees its own ------------------------------------------------


def _look_up(page, task_id: str) -> None:
    page.locator("#lookup_id").get_by_role("textbox").fill(task_id)
    page.locator("#lookup_button").click()


# (Before the second browser: the module's tests are dealt into two shares, every other
# one (conftest.SPLIT_MODULES), and the two tests with two visitors at once, the pasted
# key's and the second browser's, in the same share make one more tab for it, not two.)
@pytest.fixture(scope="module")
def limited_app(sim, tmp_path_factory) -> Iterator[InProcessApp]:
    """The operator's own key (on this module's simulator), 3 videos a day per visitor."""
    studio = real_time_studio(
        sim, tmp_path_factory.mktemp("limited"), key="operator-key", max_daily_per_visitor=3,
        pacing=PACING,
    )  # fmt: skip
    running = _launched(studio)
    yield running
    running.close()


def test_the_page_shows_how_many_videos_are_left_today(
    browser, limited_app, portrait_path, speech_path
):
    page = _open(browser, limited_app.url)
    try:
        allowance = page.locator("#allowance")
        expect(allowance).to_contain_text("today: 3 / 3 (a typed text counts twice")
        _video_made(page, portrait_path, speech_path)
        expect(allowance).to_contain_text("today: 2 / 3 (a typed text counts twice")
        _reload(page)
        expect(page.locator("#allowance")).to_contain_text("2 / 3")  # counted in the journal
    finally:
        done(page)


def test_a_second_browser_sees_nothing_of_the_first(browser, app, portrait_path, speech_path):
    first, second = _open(browser, app.url), _open(browser, app.url)
    try:
        task_id = _video_made(first, portrait_path, speech_path)
        job_id = app.studio.journal.find(task_id).job_id
        shown = first.locator("#result video").get_attribute("src") or ""
        data = app.studio.settings.data_dir
        assert "/shown-" in shown and str(data) not in shown  # a copy, not the data folder
        _open_panel(first, "history_panel")
        expect(_history_items(first).first).to_contain_text("done (demo)")

        _video_made(second, portrait_path, speech_path)  # after the first's
        _open_panel(second, "history_panel")
        expect(_history_items(second)).to_have_count(1)
        expect(_history_items(second).first).to_contain_text("done (demo)")
        _open_options(second, "lookup")
        for wanted in (task_id, job_id):
            _look_up(second, wanted)
            expect(second.locator("#status")).to_contain_text(f"Task {wanted} is not one of")
        expect(second.locator("#history_video video")).to_have_count(0)
        for name in (f"videos/{task_id}.mp4", f"videos/{task_id}.jpg", "journal.sqlite3",
                     "owner.salt"):  # fmt: skip
            answer = second.request.get(f"{app.url.rstrip('/')}/gradio_api/file={data / name}")
            assert answer.status == 403, (name, answer.status)
    finally:
        done(first)
        done(second)


def _a_task_made_elsewhere_on_the_account_is_not_shown_to_visitors(
    page, sim, portrait_path: Path, speech_path: Path
) -> None:
    """(`test_the_key_panel_checks_for_free_and_...`'s page.)"""
    with ProviderClient(sim.base_url or "", DEMO_KEY) as other:  # another program, same account
        task = other.create_task(
            AvatarRequest(
                image=base64.b64encode(portrait_path.read_bytes()).decode(),
                sound_file=base64.b64encode(speech_path.read_bytes()).decode(),
                prompt="made by another program",
            )
        )
    _open_options(page, "lookup")

    _look_up(page, task.task_id)

    expect(page.locator("#status")).to_contain_text(f"Task {task.task_id} is not one of")
    expect(page.locator("#result video")).to_have_count(0)


# --- for everyone --------------------------------------------------------------------------


def test_every_control_is_labelled_generate_works_by_keyboard_and_the_status_is_announced(
    page,
):
    """Was three tests, each a page of its own: this one,
    `test_generate_is_reachable_and_operable_by_keyboard` (`_generate_is_reachable_...`,
    on the page as it opened, nothing unfolded, no face) and, at the end (still no face),
    `test_an_example_fills_everything_in_and_one_press_makes_its_video[en-US]`."""
    assert page.evaluate(UNLABELLED) == []
    _generate_is_reachable_and_operable_by_keyboard(page)
    _an_english_browser_gets_the_english_interface(page)  # (it unfolds "More options")
    _open_options(page, "own_key")
    _open_options(page, "lookup")
    _open_options(page, "from_the_web")
    _open_panel(page, "history_panel")
    _choose_text(page)
    assert page.evaluate(UNLABELLED) == []
    status = page.locator("#status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_have_attribute("role", "status")
    _an_example_fills_everything_in_and_one_press_makes_its_video(page, "en-US")


def _generate_is_reachable_and_operable_by_keyboard(page) -> None:
    page.locator("#voice_source input").first.focus()
    for _ in range(20):
        if page.evaluate("document.activeElement.id") == "generate":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "generate"

    page.keyboard.press("Enter")

    expect(page.locator("#status")).to_contain_text("Add a face first")


def test_a_chinese_browser_gets_the_chinese_interface_and_a_too_short_clip_explained_in_chinese(
    browser, app, short_clip
):
    """The core's sentences follow the browser's language too, not only the interface's.
    Then, on the same page (no face added), what
    `test_an_example_fills_everything_in_and_one_press_makes_its_video[zh-CN]` checked on a
    page of its own."""
    chinese = _open(browser, app.url, locale="zh-CN")
    try:
        expect(chinese.locator("#generate")).to_have_text("生成")
        expect(chinese.locator("#demo_banner")).to_contain_text("演示模式")
        expect(chinese.locator("#portrait")).to_contain_text("一张脸")
        _open_options(chinese)
        expect(chinese.locator("#prompt_count")).to_contain_text("个字符")

        _upload(chinese, "voice", short_clip)
        verdict = chinese.locator("#voice_verdict")
        expect(verdict).to_contain_text("❌ 音频长 1.2 秒；视频生成服务至少需要 2 秒的声音。")
        expect(verdict).to_contain_text("请录制更长的片段")
        assert "Record a longer clip" not in verdict.inner_text()
        expect(chinese.locator("#history_panel")).to_contain_text("历史记录")
        _an_example_fills_everything_in_and_one_press_makes_its_video(chinese, "zh-CN")
    finally:
        done(chinese)


def _an_english_browser_gets_the_english_interface(page):
    """(`test_every_control_is_labelled_and_the_status_is_announced`'s page.)"""
    expect(page.locator("#generate")).to_have_text("Generate")
    _open_options(page)
    expect(page.locator("#prompt_count")).to_contain_text("characters")


# --- one screen, honest words, both languages ---------------------------------------------

LAPTOP, PHONE = (1366, 768), (390, 844)
SMALL_PHONE_HEIGHT = 667  # a small phone's (390×667)
LANGUAGES = ["en-US", "zh-CN"]
# Every environment variable the app reads (DESIGN.md): the operator's words, never a page's.
SETTING_NAMES = re.compile(r"\b(COMETAPI_\w+|KLING_\w+_KEY|KLING_BASE_URL|AVATAR_\w+|GRADIO_\w+)")
# What a non-technical tester stumbled on: the provider's queue, ids, the file's technical
# line, Gradio's footer link (the ids themselves stay in the folded Details).
ENGINEERS_WORDS = re.compile(
    r"Queued at the provider|sent as it is|kHz|mono|Task id|task id|Use via API|\d{15,}"
)
# In Chinese, Latin letters are for brand names, file formats and units only (seconds are
# 秒, not "s").
LATIN_ALLOWED = {"Kling", "CometAPI", "Avatar", "Gradio", "API", "MCP", "MP3", "WAV", "M4A",
                 "AAC", "JPG", "JPEG", "PNG", "px", "x", "KB", "MB", "kHz", "std",
                 "pro"}  # fmt: skip


# What a person needs on the first screen while a job runs: Stop, and what is happening.
RUN_CONTROLS = ("#stop", "#status")


def _in_first_screen(page, selector: str, *, half: bool = False) -> bool:
    """Whether the element (its upper half, with `half`) is on screen without scrolling."""
    box = page.locator(selector).bounding_box()
    height = page.viewport_size["height"]
    bottom = box["y"] + (box["height"] / 2 if half else box["height"])
    return box is not None and box["y"] >= 0 and bottom <= height


# Whether the page is scrolling: a smooth scroll's `scroll` events end with `scrollend`.
# (The page scrolls to a new video when its source is set, well before it has played 0.5 s.)
WATCH_SCROLLING = """() => {
    window.scrollsStarted = 0;
    window.scrollsEnded = 0;
    const started = () => { window.scrolling = true; window.scrollsStarted += 1; };
    const ended = () => { window.scrolling = false; window.scrollsEnded += 1; };
    window.scrolling = false;
    addEventListener("scroll", started, {capture: true});
    addEventListener("scrollend", ended, {capture: true});
}"""
SCROLL_ENDED = "() => window.scrolling === false"


def _generate_then_the_video_are_on_screen_without_scrolling(
    page, sim, sim_clock, portrait: Path, voice: Path
) -> None:
    """On a laptop's screen everything stays where it is. (A phone's:
    `test_on_a_phone_generate_brings_the_status_then_the_video_into_view`.)"""
    assert _in_first_screen(page, "#generate"), page.locator("#generate").bounding_box()
    _add_inputs(page, portrait, voice)
    page.evaluate("window.scrollTo(0, 0)")
    assert _in_first_screen(page, "#generate")
    page.evaluate(WATCH_SCROLLING)
    _plan_running_task(sim)
    creates = sim.stats.creates
    page.locator("#generate").dispatch_event("click")  # a press, with no scrolling

    _until_the_provider_has_it(page, sim, creates)
    expect(page.locator("#stop")).to_be_visible()
    for shown in RUN_CONTROLS:  # while it runs: Stop and the status (a typed text's too)
        assert _in_first_screen(page, shown), page.locator(shown).bounding_box()
    _finish_running_tasks(sim_clock)
    page.wait_for_function(PLAYING, timeout=WAIT_MS)
    page.wait_for_function(SCROLL_ENDED, timeout=WAIT_MS)  # a smooth scroll, if any
    assert _in_first_screen(page, "#result video", half=True)
    assert _in_first_screen(page, "#status")


@pytest.mark.parametrize("locale", LANGUAGES)
def test_a_video_made_on_a_laptop_is_on_screen_downloads_and_plays_in_history_with_no_setting_shown(
    browser, app, sim, sim_clock, portrait_path, speech_path, locale
):
    """One video made on a laptop's screen (1366×768) in each language, and what is checked
    of it, in turn: Generate and then the video on screen without scrolling; its download
    button and file name; no setting name, charge or engineer's word shown, everything
    unfolded; the lone job in History plays on a click, in view, and downloads; "Make
    another" takes the video and its download away. In Chinese, also: the text's voice is
    a Chinese one, and the page with the video, its options and History reads Chinese."""
    width, height = LAPTOP
    page = _open(browser, app.url, locale=locale, width=width, height=height)
    try:
        expect(page.locator("#download")).to_be_hidden()  # nothing to download yet
        if locale == "zh-CN":
            _a_chinese_browser_gets_the_chinese_voice_then_chooses_the_voice_file(page)
        _generate_then_the_video_are_on_screen_without_scrolling(
            page, sim, sim_clock, portrait_path, speech_path
        )
        _a_finished_video_has_a_download_button_giving_a_readable_file_name(page, locale)
        if locale == "zh-CN":
            _a_chinese_browser_reads_a_chinese_page(page)
        unfolded = _no_setting_name_or_engineers_word_is_shown(page)
        _a_lone_job_in_history_plays_on_a_click_in_view_with_its_download(page)
        _no_engineers_word_or_charge_is_shown_with_history_chosen(page, locale, unfolded)
        _make_another_clears_the_video_and_its_download(page)
    finally:
        done(page)


STATUS_IN_VIEW = """() => {
    const box = document.getElementById('status').getBoundingClientRect();
    return box.top >= 0 && box.bottom <= window.innerHeight;
}"""
STOP_IN_VIEW = """() => {
    const box = document.getElementById('stop').getBoundingClientRect();
    return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
}"""
NO_VIDEO_YET = "() => !document.querySelector('#result video')?.getAttribute('src')"


@pytest.mark.parametrize("locale", LANGUAGES)
def test_on_a_phone_generate_brings_the_status_then_the_video_into_view(
    browser, app, sim, sim_clock, portrait_path, speech_path, locale
):
    """A phone's screen (390×844): no sideways scrolling, Generate on the first screen (was
    `test_generate_then_the_video_are_on_screen_without_scrolling_on_a_phone`, with a video
    of its own). Then, the same page on a small phone's screen (390×667: on a taller one
    the short verdicts leave the status in view), one video: the status sits under
    Generate, below the screen, and pressing Generate brings it into view while the job
    runs (not only once the video is ready); then the video is brought into view, and
    History reads as two pictures a row (was
    `test_on_a_phone_pressing_generate_brings_the_status_into_view`, its own page at
    390×667). (The laptop's: `test_a_video_made_on_a_laptop_...`.)"""
    width, height = PHONE
    page = _open(browser, app.url, locale=locale, width=width, height=height)
    try:
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        box = page.locator("#generate").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        assert _in_first_screen(page, "#generate"), box
        _add_inputs(page, portrait_path, speech_path)
        page.set_viewport_size({"width": width, "height": SMALL_PHONE_HEIGHT})
        page.evaluate("window.scrollTo(0, 0)")
        assert not page.evaluate(STATUS_IN_VIEW)  # below the screen before the press
        page.evaluate(WATCH_SCROLLING)
        _plan_running_task(sim)
        creates = sim.stats.creates
        page.locator("#generate").dispatch_event("click")  # a press, with no scrolling
        page.wait_for_function(STATUS_IN_VIEW, timeout=WAIT_MS)
        assert page.evaluate(NO_VIDEO_YET)  # brought by the press, not by the video
        expect(page.locator("#stop")).to_be_visible()
        page.wait_for_function(STOP_IN_VIEW, timeout=WAIT_MS)  # and Stop, just above it
        _until_the_provider_has_it(page, sim, creates)  # the planned task is this one's
        _finish_running_tasks(sim_clock)
        expect(page.locator("#status")).to_contain_text("✅")
        page.wait_for_function(PLAYING, timeout=WAIT_MS)
        page.wait_for_function(SCROLL_ENDED, timeout=WAIT_MS)  # a smooth scroll, if any
        assert _in_first_screen(page, "#result video", half=True)
        _open_panel(page, "history_panel")  # on a phone: two pictures a row, read as such
        expect(_history_items(page)).to_have_count(1)
        try:  # once laid out (its pictures may still be loading)
            page.wait_for_function(HISTORY_FITS, timeout=WAIT_MS)
        except sync_api.TimeoutError:
            raise AssertionError(page.locator("#history").inner_html()[:2000]) from None
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    finally:
        _finish_running_tasks(sim_clock)
        done(page)


def _no_setting_name_or_engineers_word_is_shown(page) -> str:
    """With a video made and everything unfolded (the key, the lookup, the details, the
    provider's check): no setting name, no engineer's word outside the Details; the
    Details' text. (The laptop's video, `test_a_video_made_on_a_laptop_...`.)"""
    _open_options(page, "own_key")
    _open_options(page, "lookup")
    _open_panel(page, "details_panel")
    page.locator("#doctor_button").click()
    expect(page.locator("#doctor_report")).not_to_be_empty()
    shown = page.locator("body").inner_text()
    assert SETTING_NAMES.findall(shown) == []
    unfolded = page.locator("#details").inner_text()  # where the ids are kept, opened
    assert ENGINEERS_WORDS.findall(shown.replace(unfolded, "")) == []
    return unfolded


def _no_engineers_word_or_charge_is_shown_with_history_chosen(page, locale, unfolded) -> None:
    """The chosen History video's line too; and demo mode shows no charge."""
    expect(page.locator("#history_video video")).to_have_count(1)
    shown = page.locator("body").inner_text().replace(unfolded, "")
    assert ENGINEERS_WORDS.findall(shown) == []
    demo = "Demo: free, nothing is charged" if locale == "en-US" else "演示：免费，不会扣费"
    expect(page.locator("#cost")).to_contain_text(demo)
    assert not re.search(r"(Estimated cost|预估费用)", shown)


def _wait_for_video_in_any_language(page) -> None:
    expect(page.locator("#status")).to_contain_text("✅")
    page.wait_for_function(PLAYING, timeout=WAIT_MS)


def _a_chinese_browser_gets_the_chinese_voice_then_chooses_the_voice_file(page) -> None:
    """(The Chinese laptop's video, `test_a_video_made_on_a_laptop_...`, is made next.)"""
    _choose_text(page)
    expect(page.locator("#tts_voice").get_by_role("combobox")).to_have_value("阳光少年")
    page.locator("#voice_source label").nth(0).click()


def _a_chinese_browser_reads_a_chinese_page(page) -> None:
    """With the video made, the options and History open: Chinese words only (Latin
    letters for brand names, formats and units). (The Chinese laptop's video.)"""
    _wait_for_video_in_any_language(page)
    expect(page.locator("#simulated_badge")).to_contain_text("模拟视频")
    _open_options(page)
    _open_panel(page, "history_panel")
    expect(page.locator("#prompt").get_by_role("textbox")).to_have_value(re.compile("眨眼"))
    shown = page.locator("body").inner_text()
    words = re.compile(r"[A-Za-z][A-Za-z0-9]*")
    latin = set(words.findall(shown)) - LATIN_ALLOWED
    assert not latin, [line for line in shown.splitlines() if set(words.findall(line)) & latin]


def _an_example_fills_everything_in_and_one_press_makes_its_video(page, locale) -> None:
    """On a page with no face yet (was a laptop's page of its own, 1366×768)."""
    examples = page.locator(f"#examples_{locale[:2]} button")
    expect(examples).to_have_count(3)
    expect(page.locator("#portrait img")).to_have_count(0)  # the face will be the example's
    examples.nth(0 if locale == "zh-CN" else 1).click()  # a typed text, with a face
    expect(page.locator("#tts_text").get_by_role("textbox")).not_to_have_value("")
    voice = "Grace" if locale == "en-US" else "职场女青"  # a woman's, as the face is
    expect(page.locator("#tts_voice").get_by_role("combobox")).to_have_value(voice)
    expect(page.locator("#portrait img")).to_have_count(1)
    ready = (EN if locale == "en-US" else ZH)["ready_to_generate"]
    expect(page.locator("#status")).to_have_text(ready)  # not "add a face and a voice"

    page.locator("#generate").click()

    _wait_for_video_in_any_language(page)


LONG_TEXTS = {
    "en-US": "This is a long text a tester types to see how the page copes with it. " * 12,
    "zh-CN": "这是一段测试人员输入的很长的文字，用来看看页面如何应对它。" * 12,
}


@pytest.mark.parametrize("locale", LANGUAGES)
def test_a_long_text_a_text_file_as_the_photo_and_more_options_read_as_a_person_expects(
    browser, app, tmp_path, portrait_path, locale
):
    """Three tests, each a laptop's page of its own before, now one page in turn (none
    needs what the others leave undone), each kept as a helper of its old name: a text
    file chosen as the photo (the photo box still empty, as before) gets the page's own
    sentence; in text mode a long text keeps Generate on the first screen; More options
    reads as plain words (with the text mode's options shown too)."""
    page = _open(browser, app.url, locale=locale, width=1366, height=768)
    try:
        _a_text_file_chosen_as_the_photo_gets_the_pages_own_sentence(
            page, tmp_path, portrait_path, locale
        )
        _in_text_mode_with_a_long_text_generate_stays_in_the_first_screen(
            page, portrait_path, locale
        )
        _more_options_reads_as_plain_words_with_the_ids_in_a_fold_for_programmers(page, locale)
    finally:
        done(page)


def _more_options_reads_as_plain_words_with_the_ids_in_a_fold_for_programmers(page, locale) -> None:
    # a cold tester met "Speech id from an earlier text to speech" among the options
    _open_options(page)
    options = page.locator("#more_options")
    for elem_id in ("audio_id", "prior_task_id", "lookup_id"):
        expect(page.locator(f"#{elem_id}")).to_be_hidden()
    texts = EN if locale == "en-US" else ZH
    plain = options.inner_text().replace(texts["for_programmers"], "")  # the fold's name
    assert not re.search(r"\bids?\b|\bID\b|编号|reference number", plain), plain
    expect(page.locator("#for_programmers")).to_contain_text(texts["for_programmers"])
    _open_panel(page, "for_programmers")
    expect(page.locator("#audio_id")).to_be_visible()
    expect(page.locator("#lookup")).to_be_visible()


def _a_text_file_chosen_as_the_photo_gets_the_pages_own_sentence(
    page, tmp_path, portrait_path, locale
) -> None:
    # a cold tester chose a .txt as the photo and got Gradio's English "Invalid file type"
    notes = tmp_path / "notes.txt"
    notes.write_text("a shopping list, not a picture")
    expect(page.locator("#status")).to_have_attribute("aria-live", "polite")  # script on
    page.locator("#portrait input[type=file]").set_input_files(str(notes))
    said = sentence_for("page:photo_not_picture", name="notes.txt").in_language(locale[:2])
    expect(page.locator("#portrait_verdict")).to_have_text("❌ " + said)
    assert page.get_by_text("Invalid file type").count() == 0
    _add_inputs(page, portrait_path)  # a picture after it is taken as ever
    expect(page.locator("#portrait_verdict")).to_contain_text("✅")


def _in_text_mode_with_a_long_text_generate_stays_in_the_first_screen(
    page, portrait_path, locale
) -> None:
    _choose_text(page)
    _add_inputs(page, portrait_path)
    cost = page.locator("#cost").inner_text()
    page.locator("#tts_text textarea").fill(LONG_TEXTS[locale])
    expect(page.locator("#cost")).not_to_have_text(cost)  # the price line grew
    page.evaluate("window.scrollTo(0, 0)")
    assert _in_first_screen(page, "#generate"), page.locator("#generate").bounding_box()


@pytest.mark.parametrize("locale", ["zh", "zh-HK"])
def test_a_browser_asking_for_chinese_without_a_region_gradio_knows_reads_chinese_labels(
    browser, app, locale
):
    # Gradio chose English for "zh" and "zh-HK" while the server wrote Chinese sentences
    page = _open(browser, app.url, locale=locale, width=1366, height=768)
    try:
        expect(page.locator("#generate")).to_have_text(ZH["generate"])
        expect(page.locator("#status")).to_have_text(ZH["ready"])
        voice = page.locator("#voice")  # Gradio's own upload words, made once in English
        expect(voice).to_contain_text(ZH["upload_drop_audio"])
        assert "Drop Audio Here" not in voice.inner_text()
    finally:
        done(page)
