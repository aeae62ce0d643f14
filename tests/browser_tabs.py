"""Tabs of one Chromium, kept open from test to test: a page load in a new browser context
costs about 2 s of CPU (a new renderer process, Gradio's scripts compiled again, its files
fetched again); the same tab loading the page again costs about 0.6 s.

Each tab has a browser context of its own (one per language: a context's locale is the
browser's language). A test takes a tab (`open`), uses it as a new visitor would, and
gives it back (`done`): the tab forgets the site as a visitor who never came would be,
its storage (the visitor's id in `localStorage`, Gradio's `BrowserState`) cleared and the
page left for `about:blank`, so the next test's page is a new document in a new Gradio
session, of a new visitor. Tests that need two visitors at once get two tabs, each with a
context of its own (a context's storage is its visitors'). A context a test closed itself
(`page.context.close()`) is dropped and made again when needed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

FORGET = """() => {
    try { localStorage.clear(); sessionStorage.clear(); } catch (error) {}
}"""


STORAGE = "cookies,local_storage,indexeddb,cache_storage,service_workers"


class Tabs:
    """Tabs of `browser` (playwright's sync Browser), each in a context of its own."""

    def __init__(self, browser: Any, timeout_ms: float) -> None:
        self.browser = browser
        self.timeout_ms = timeout_ms
        self.free: dict[str, list[Any]] = {}  # locale -> pages given back

    def open(self, url: str, *, locale: str, width: int, height: int) -> Any:
        """A tab of a new visitor in `locale`, its screen `width`×`height`, at `url`."""
        page = self._take(locale)
        origin = "/".join(url.split("/")[:3])
        page._tab_cdp.send(  # whatever this origin's earlier visitors left, even mid-write
            "Storage.clearDataForOrigin", {"origin": origin, "storageTypes": STORAGE}
        )
        page.set_viewport_size({"width": width, "height": height})
        page.goto(url)
        return page

    def done(self, page: Any) -> None:
        """Take the tab back: the site forgotten, or its context closed if it cannot be."""
        locale = getattr(page, "_tab_locale", None)
        try:
            if page.is_closed() or locale is None:
                raise RuntimeError("not a tab to keep")
            if page.url.startswith("http"):
                page.evaluate(FORGET)
            page.goto("about:blank")
            page.context.clear_cookies()
        except Exception:
            self._close(page)
            return
        self.free.setdefault(locale, []).append(page)

    def close(self) -> None:
        for pages in self.free.values():
            for page in pages:
                self._close(page)
        self.free.clear()

    def _take(self, locale: str) -> Any:
        pages = self.free.get(locale, [])
        while pages:
            page = pages.pop()
            if not page.is_closed():
                return page
        context = self.browser.new_context(locale=locale)
        context.set_default_timeout(self.timeout_ms)
        page = context.new_page()
        page._tab_locale = locale
        page._tabs = self
        page._tab_cdp = context.new_cdp_session(page)
        return page

    @staticmethod
    def _close(page: Any) -> None:
        with contextlib.suppress(Exception):  # closed already (by the test, or the browser)
            page.context.close()


def done(page: Any) -> None:
    """Give a tab back to its `Tabs` (a page of a context of its own: its context closed)."""
    tabs = getattr(page, "_tabs", None)
    if tabs is None:
        Tabs._close(page)
    else:
        tabs.done(page)


@contextlib.contextmanager
def chromium_tabs(timeout_ms: float) -> Iterator[Tabs]:
    """Debian's Chromium, headless, as the page's tests drive it, and its tabs."""
    from app_harness import CHROMIUM, CHROMIUM_ARGS
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        tabs = Tabs(chromium, timeout_ms)
        try:
            yield tabs
        finally:
            tabs.close()
            chromium.close()
