"""Screenshots of the app's main states, for the README: `python docs/screenshots.py`.

Launches the app in demo mode on a simulator of its own (short tasks, a temporary data
folder), drives Debian's Chromium with playwright and writes PNGs beside this file:

    01-empty.png           the page as it opens on a laptop (1366×768)
    02-inputs-checked.png  a face and a voice checked, with their verdicts and the cost
    03-generating.png      the task under way, its status moving
    04-finished.png        the finished (simulated) video playing
    05-input-error.png     a too-small photo and a too-short clip, explained
    06-phone.png           a phone (390×844): the finished video right under Generate
    07-chinese.png         a Chinese browser, a typed text made into speech and video

Needs chromium at /usr/bin/chromium (`apt-get install chromium`) and the playwright
package (requirements-dev.txt; never `playwright install`). Emoji and Chinese glyphs need
fonts: `apt-get install fonts-noto-color-emoji fonts-wqy-microhei`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the app, and the tests' harness for it

from app_harness import CHROMIUM, CHROMIUM_ARGS, InProcessApp, demo_studio  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from avatar_core.inputs.ffmpeg import ffmpeg_exe  # noqa: E402
from avatar_core.simulator import Simulator  # noqa: E402

WAIT_MS = 60_000
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PORTRAIT = ROOT / "assets" / "astronaut.jpg"
SPEECH = ROOT / "assets" / "hello.mp3"
SPOKEN_ZH = "大家好！我是一名宇航员。今天我来给大家讲讲在太空中生活是什么感觉。"


def _bad_inputs(folder: Path) -> tuple[Path, Path]:
    small = folder / "small-photo.png"
    Image.new("RGB", (200, 260), (150, 150, 160)).save(small)
    short = folder / "short-clip.wav"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1.2", str(short)],
        check=True,
    )
    return small, short


def _page(browser, url: str, *, viewport=DESKTOP, locale: str = "en-US"):
    context = browser.new_context(viewport=viewport, locale=locale)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto(url)
    expect(page.locator("#generate")).to_be_visible(timeout=WAIT_MS)
    page.wait_for_timeout(500)  # let web fonts settle before the picture is taken
    return page


def _shoot(page, out: Path, name: str, *, full_page: bool = False) -> None:
    path = out / name
    page.mouse.move(0, 0)  # no hover effects in the picture
    page.screenshot(path=str(path), full_page=full_page)
    Image.open(path).save(path, optimize=True)
    print(f"wrote {path}")


def _add_inputs(page, portrait: Path, voice: Path) -> None:
    page.locator("#portrait input[type=file]").set_input_files(str(portrait))
    expect(page.locator("#portrait_verdict")).to_contain_text("✅", timeout=WAIT_MS)
    page.locator("#voice input[type=file]").set_input_files(str(voice))
    expect(page.locator("#voice_verdict")).to_contain_text("✅", timeout=WAIT_MS)


def take(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="screenshots-") as temp:
        folder = Path(temp)
        small, short = _bad_inputs(folder)
        with Simulator(task_seconds=2.0, submit_seconds=0.5, work_dir=folder / "sim") as sim:
            app = InProcessApp(demo_studio(sim, folder / "data"))
            try:
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=str(CHROMIUM),
                        headless=True,
                        args=[*CHROMIUM_ARGS, "--hide-scrollbars"],
                    )
                    _shoot_all(browser, app.url, sim, out, small, short)
                    browser.close()
            finally:
                app.close()


def _finished(page) -> None:
    """Until the video plays (a second in), then paused for the picture."""
    expect(page.locator("#status")).to_contain_text("✅", timeout=WAIT_MS)
    page.wait_for_function(
        "() => { const v = document.querySelector('#result video');"
        " return v && v.currentTime > 1.5; }",
        timeout=WAIT_MS,
    )
    page.evaluate("document.querySelector('#result video').pause()")
    page.wait_for_timeout(800)  # a smooth scroll, if any, has ended


def _shoot_all(browser, url: str, sim: Simulator, out: Path, small: Path, short: Path) -> None:
    page = _page(browser, url)
    _shoot(page, out, "01-empty.png")

    _add_inputs(page, PORTRAIT, SPEECH)
    expect(page.locator("#cost")).to_contain_text("$")
    page.evaluate("window.scrollTo(0, 0)")
    _shoot(page, out, "02-inputs-checked.png")

    sim.plan_task(task_seconds=8.0)  # long enough to be seen under way
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text("elapsed", timeout=WAIT_MS)
    page.wait_for_timeout(1500)  # a few seconds on the clock
    _shoot(page, out, "03-generating.png")

    _finished(page)
    _shoot(page, out, "04-finished.png")
    page.context.close()

    page = _page(browser, url)
    _add_inputs_unchecked(page, small, short)
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text("300", timeout=WAIT_MS)
    page.evaluate("window.scrollTo(0, 0)")
    _shoot(page, out, "05-input-error.png")
    page.context.close()

    page = _page(browser, url, viewport=PHONE)
    _add_inputs(page, PORTRAIT, SPEECH)
    page.locator("#generate").click()
    _finished(page)
    _shoot(page, out, "06-phone.png")
    page.context.close()

    page = _page(browser, url, locale="zh-CN")
    page.locator("#voice_source label").nth(1).click()
    page.locator("#tts_text textarea").fill(SPOKEN_ZH)
    page.locator("#portrait input[type=file]").set_input_files(str(PORTRAIT))
    expect(page.locator("#portrait_verdict")).to_contain_text("✅", timeout=WAIT_MS)
    page.locator("#generate").click()
    _finished(page)
    _shoot(page, out, "07-chinese.png")
    page.context.close()


def _add_inputs_unchecked(page, portrait: Path, voice: Path) -> None:
    page.locator("#portrait input[type=file]").set_input_files(str(portrait))
    expect(page.locator("#portrait_verdict")).to_contain_text("❌", timeout=WAIT_MS)
    page.locator("#voice input[type=file]").set_input_files(str(voice))
    expect(page.locator("#voice_verdict")).to_contain_text("❌", timeout=WAIT_MS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    take(args.out)


if __name__ == "__main__":
    main()
