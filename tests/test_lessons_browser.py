"""A lesson presented in a real browser at 1280x720: a screenshot per slide in test-artifacts/,
the arrow keys move the slide and the URL follows, no sidebar and no navigation (issue 13).

`streamlit run` on a free port, headless Chromium through Playwright with Debian's browser
(`executable_path`; set CHROMIUM=...); skips with the reason when either is missing.
LESSONS_BROWSER_LESSON picks another lesson (default: counting, 3 slides).
"""
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from explorer.logic.lessons import shipped_lessons

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LESSON = os.environ.get("LESSONS_BROWSER_LESSON", "counting")

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = pytest.mark.skipif(
    sync_playwright is None or not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)),
    reason=f"needs the playwright package and a Chromium at {CHROMIUM} (set CHROMIUM=...)")



def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve():
    """`streamlit run explorer/app.py` on a free local port; yields its base URL."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "streamlit-lessons.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "explorer/app.py", "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(240):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: see {ARTIFACTS / 'streamlit-lessons.log'}")
            time.sleep(0.25)
        yield f"http://localhost:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


SETTLED = """([counter, narration]) => {
    const text = document.querySelector('.lesson-narration'), count = document.querySelector('.lesson-counter');
    return !!(text && count && text.innerText.startsWith(narration) && count.innerText.startsWith(counter)
              && !document.querySelector('[data-stale="true"]')
              && (document.querySelector('.lesson-diagram svg') || (document.querySelector('.js-plotly-plot')
                  && document.querySelector('.js-plotly-plot')._fullLayout))); }"""


def wait_for_slide(page, n, N, slide):
    """Until slide n's counter, narration and figure (or cell diagram) are drawn, and nothing is stale."""
    page.wait_for_function(SETTLED, arg=[f"{n} / {N}", slide.narration[:40]], timeout=90_000)
    page.wait_for_timeout(800)  # plotly's transition, Streamlit's fade-in


def test_present_a_lesson_with_the_keyboard_at_1280x720():
    lesson = shipped_lessons()[LESSON]
    N = len(lesson.slides)
    with serve() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{url}/?lesson={LESSON}&slide=1&present=1")
            for n, slide in enumerate(lesson.slides, start=1):
                wait_for_slide(page, n, N, slide)
                assert f"lesson={LESSON}" in page.url and f"slide={n}" in page.url
                page.screenshot(path=str(ARTIFACTS / f"lesson-{LESSON}-{n}.png"))
                assert not page.locator('[data-testid="stSidebar"]').is_visible()
                assert not page.locator('[data-testid="stHeader"]').is_visible()
                assert page.locator('[data-testid="stNavigation"], [data-testid="stTopNavLinkContainer"]').count() == 0 \
                    or not page.locator('[data-testid="stTopNavLinkContainer"]').first.is_visible()
                size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.lesson-narration'))"
                                     ".fontSize)")
                assert size >= 24, f"narration font {size}px"
                bottom = page.locator(".st-key-ls_next button").bounding_box()
                assert bottom["y"] + bottom["height"] <= 720, f"slide {n}: Next is below the 720px screen"
                if n < N:
                    page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowLeft")
            wait_for_slide(page, N - 1, N, lesson.slides[N - 2])
            assert f"slide={N - 1}" in page.url
        finally:
            browser.close()
