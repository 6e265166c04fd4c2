"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright (its own browser
download does not work offline). Tests using these fixtures skip with the reason when either is missing.

Every page a test opens is watched: a JavaScript dialog (alert, confirm, prompt), an uncaught error or a console
error fails the test at the end, with what happened."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PANDIAN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")  # not session: a live sync playwright leaves its asyncio loop marked running in
def browser(tmp_path_factory):  # this thread, and a later in-process asyncio.run (serve-model) would then refuse
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not found at {CHROMIUM}: `apt-get install chromium fonts-wqy-microhei` (make test "
                    "does it as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install "
                                                                  "'pandian[test]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)  # playwright gives it a fresh profile
        yield b
        b.close()


class Watched:
    """A page with its dialogs, page errors, console errors and requests recorded."""

    def __init__(self, page):
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.on("request", lambda r: self.requests.append(r.url))

    def assert_clean(self):
        assert not self.dialogs, f"a dialog opened: {self.dialogs}"
        assert not self.errors, f"errors in the page: {self.errors}"


@pytest.fixture
def watched(browser):
    """new_page(**context options) -> Watched; every page is checked clean at the end of the test."""
    pages, contexts = [], []

    def new_page(**kw):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, **kw)
        contexts.append(ctx)
        w = Watched(ctx.new_page())
        pages.append(w)
        return w

    yield new_page
    for c in contexts:
        c.close()
    for w in pages:
        w.assert_clean()


@pytest.fixture(scope="session")
def shots(tmp_path_factory):
    """screenshot(page, name, selector=None) -> path: under PANDIAN_SCREENSHOTS when set (to look at them), else
    in pytest's temporary folder."""
    folder = Path(os.environ["PANDIAN_SCREENSHOTS"]) if os.environ.get("PANDIAN_SCREENSHOTS") else \
        tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, selector: str | None = None, full_page: bool = False) -> Path:
        path = folder / f"{name}.png"
        if selector:
            page.locator(selector).first.screenshot(path=str(path))
        else:
            page.screenshot(path=str(path), full_page=full_page)
        assert path.stat().st_size > 1000
        return path

    return take
