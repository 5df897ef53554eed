"""The app in a real browser: served by `streamlit run` on a free port, driven in headless Chromium.

Uses Debian's chromium through Playwright's `executable_path` (Playwright's own
browser download cannot work offline); skips with a reason when either is
missing. Screenshots go to test-artifacts/ (git-ignored): look at them.
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

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

needs_browser = pytest.mark.skipif(
    sync_playwright is None or not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)),
    reason=f"needs the playwright package and a Chromium at {CHROMIUM} (set CHROMIUM=...)")

# A fingerprint of what the first Plotly chart on the page draws: it changes when the heatmap redraws.
FINGERPRINT = """() => { const g = document.querySelector('.js-plotly-plot');
    if (!g || !g.data || !g._fullLayout) return null;
    const tail = s => s.length + ':' + s.slice(-120);
    return g.data.map(d => d.type + ':' + tail(d.source || JSON.stringify(d.z || d.y || []))).join('|'); }"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve():
    """`streamlit run explorer/app.py` on a free local port; yields its base URL."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "explorer/app.py", "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        for _ in range(120):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: see {ARTIFACTS / 'streamlit.log'}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@contextlib.contextmanager
def serve_and_open(path="", color_scheme="light", width=1600, height=1800):
    """A server and a Chromium page showing `path`, with the first chart drawn."""
    with serve() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, color_scheme=color_scheme)
            page.goto(url + "/" + path.lstrip("/"))
            page.wait_for_function(FINGERPRINT, timeout=90_000)
            yield page
        finally:
            browser.close()


def wait_redrawn(page, before, timeout=60_000):
    page.wait_for_function(f"() => {{ const f = ({FINGERPRINT})(); return f && f !== {before!r}; }}",
                           timeout=timeout)
    page.wait_for_timeout(300)  # let Plotly finish painting before a screenshot


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def number_input(page, label, value):
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")


@needs_browser
def test_heatmap_redraws_and_the_link_reproduces_it():
    with serve_and_open() as page:
        assert page.get_by_text("What the gates of an LSTM do, step by step").is_visible()
        assert page.locator("text=Traceback").count() == 0
        shot(page, "gates_light")
        rows = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData.find(d => d.type === 'heatmap').z.length")
        assert rows == 8  # H = 8 units
        before = page.evaluate(FINGERPRINT)
        number_input(page, "hidden size H", 12)
        wait_redrawn(page, before)
        assert page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData.find(d => d.type === 'heatmap').z.length") == 12
        page.wait_for_function("() => window.location.search.includes('hidden=12')", timeout=10_000)
        link = page.url
        drawn = page.evaluate(FINGERPRINT)
        shot(page, "gates_hidden12")
        page.goto(link)  # what a colleague sees who opens the copied link
        page.wait_for_function(FINGERPRINT, timeout=60_000)
        page.wait_for_timeout(300)
        assert page.evaluate(FINGERPRINT) == drawn


@needs_browser
def test_pages_dark_theme_and_long_input():
    with serve_and_open("?steps=100000&input=sine&p_sine_period=2000&batch=1", color_scheme="dark") as page:
        page.wait_for_timeout(500)
        assert page.get_by_text("Reduced for display: 100,000 steps").is_visible()
        shot(page, "gates_dark_100k_steps")
        base, query = page.url.split("?", 1)
        for path, ready in (("units", "Saturation"), ("step", "Split Z into stripes"), ("export", "Trace data")):
            page.goto(f"{base.rstrip('/')}/{path}?{query}")
            page.get_by_text(ready).first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            assert page.locator("text=Traceback").count() == 0
            shot(page, f"{path}_dark")


@needs_browser
def test_step_and_units_pages_light():
    with serve_and_open("units") as page:
        page.wait_for_timeout(500)
        shot(page, "units_light")
        page.goto(page.url.split("/units")[0] + "/step?t=28")
        page.get_by_text("Every number above matches").wait_for(timeout=60_000)
        page.locator("svg[viewBox='0 0 860 430']").wait_for(timeout=30_000)  # the cell diagram
        page.wait_for_timeout(500)
        shot(page, "step_light")
