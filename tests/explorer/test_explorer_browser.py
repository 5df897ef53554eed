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
from helpers import shot  # noqa: F401  (test_explorer_demo_browser imports it from here)

ROOT = Path(__file__).resolve().parents[2]
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
    """`streamlit run explorer/app.py` on a free local port; yields its base URL. Its log is
    test-artifacts/streamlit-<port>.log: one a server, as two test workers may run two at once."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"streamlit-{port}.log"
    log = open(path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "explorer/app.py", "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        for _ in range(240):  # up to a minute: a busy machine imports torch slowly
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: see {path}")
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
    """Wait until the first chart draws something else than `before` (a FINGERPRINT)."""
    page.wait_for_function(f"() => {{ const f = ({FINGERPRINT})(); return f && f !== {before!r}; }}",
                           timeout=timeout)
    page.wait_for_timeout(300)  # let Plotly finish painting before a screenshot


def number_input(page, label, value):
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")


@pytest.fixture(scope="module")
def browser():
    """One server and one Chromium for the module; each test opens its own page."""
    with serve() as url, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield url, chromium
        finally:
            chromium.close()


# The hand-wired random model on the generated remember-and-recall input, which these tests were
# written for; the app opens on a shipped model (issue 5), tested in test_explorer_demo_browser.py.
HAND_WIRED = {"source": "demo", "input": "recall"}


def hand_wired(path):
    """path ("units?steps=9") with HAND_WIRED's parameters where it does not set them itself."""
    page, _, query = path.lstrip("/").partition("?")
    params = dict(p.split("=", 1) for p in query.split("&") if p)
    return page + "?" + "&".join(f"{k}={v}" for k, v in {**HAND_WIRED, **params}.items())


def open_page(browser, path="", color_scheme="light", ready=FINGERPRINT, own_defaults=False):
    """A new page at `path`, on the hand-wired model unless own_defaults (what the app opens on)."""
    url, chromium = browser
    page = chromium.new_page(viewport={"width": 1600, "height": 1800}, color_scheme=color_scheme,
                             accept_downloads=True)
    page.goto(url + "/" + (path.lstrip("/") if own_defaults else hand_wired(path)))
    if ready == FINGERPRINT:
        page.wait_for_function(FINGERPRINT, timeout=90_000)
    else:
        page.get_by_text(ready).first.wait_for(timeout=90_000)
    return page


@needs_browser
def test_heatmap_redraws_and_the_link_reproduces_it(browser):
    page = open_page(browser)
    assert page.get_by_text("What the gates of an LSTM do, step by step").is_visible()
    assert page.locator("[data-testid=stException]").count() == 0
    shot(page, "gates_light")
    rows = "() => document.querySelector('.js-plotly-plot')._fullData.find(d => d.type === 'heatmap').z.length"
    assert page.evaluate(rows) == 8  # H = 8 units
    before = page.evaluate(FINGERPRINT)
    number_input(page, "hidden size H", 12)
    wait_redrawn(page, before)
    assert page.evaluate(rows) == 12
    page.wait_for_function("() => window.location.search.includes('hidden=12')", timeout=10_000)
    link = page.url
    drawn = page.evaluate(FINGERPRINT)
    shot(page, "gates_hidden12")
    other = browser[1].new_page(viewport={"width": 1600, "height": 1800})  # a colleague opens the copied link
    other.goto(link)
    other.wait_for_function(FINGERPRINT, timeout=60_000)
    assert other.evaluate(FINGERPRINT) == drawn
    other.close()
    page.close()


@needs_browser
def test_dark_theme_every_page_and_a_long_input(browser):
    query = "?steps=100000&input=sine&p_sine_period=2000&batch=1"
    page = open_page(browser, query, color_scheme="dark")
    assert page.get_by_text("Reduced for display: 100,000 steps").is_visible()
    shot(page, "gates_dark_100k_steps")
    for path, ready in (("units", "Saturation"), ("step", "Split Z into stripes"), ("export", "Trace data")):
        page.goto(f"{browser[0]}/{hand_wired(path + query)}")
        page.get_by_text(ready).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        assert page.locator("[data-testid=stException]").count() == 0
        shot(page, f"{path}_dark")
    page.close()


@needs_browser
def test_units_and_step_pages(browser):
    page = open_page(browser, "units")
    # box-select the points of the forget-gate panel near (0 %, 0 %): the random units, never saturated
    box = page.evaluate("""() => { const g = document.querySelector('.js-plotly-plot'), fl = g._fullLayout;
        const xa = fl.xaxis2, ya = fl.yaxis2, r = g.getBoundingClientRect();
        return [r.left + xa._offset + xa.l2p(-0.03), r.top + ya._offset + ya.l2p(0.1),
                r.left + xa._offset + xa.l2p(0.1), r.top + ya._offset + ya.l2p(-0.03)]; }""")
    page.mouse.move(box[0], box[1])
    page.mouse.down()
    page.mouse.move((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, steps=5)
    page.mouse.move(box[2], box[3], steps=5)
    page.mouse.up()
    traces = """() => { const g = document.querySelectorAll('.js-plotly-plot')[1];
        return g ? g.data.filter(d => d.showlegend !== false).map(d => d.name).join(',') : ''; }"""
    page.wait_for_function(f"() => ({traces})() === 'unit 3,unit 4,unit 5,unit 6,unit 7'", timeout=60_000)
    assert page.locator("[data-testid=stException]").count() == 0
    page.wait_for_timeout(1000)
    shot(page, "units_light")
    page.goto(browser[0] + "/" + hand_wired("step?t=28"))
    page.get_by_text("Every number above matches").wait_for(timeout=60_000)
    page.locator("svg[viewBox='0 0 860 430']").wait_for(timeout=30_000)  # the cell diagram
    assert "0.999" in page.locator("svg[viewBox='0 0 860 430']").text_content()  # f of the memory unit holds
    page.wait_for_timeout(500)
    shot(page, "step_light")
    page.get_by_role("button", name="▶ play").click()  # one step every 0.8 s, the URL follows
    page.wait_for_function("() => Number(new URLSearchParams(location.search).get('t')) >= 30", timeout=30_000)
    page.get_by_role("button", name="⏸ pause").click()
    page.get_by_role("button", name="▶ play").wait_for(timeout=10_000)
    assert page.locator("[data-testid=stException]").count() == 0
    page.close()


@needs_browser
def test_downloads_hold_the_trace(browser):
    import numpy as np
    import pandas as pd
    import torch

    from explorer.logic import inputs as signals
    from explorer.logic import models as demo
    from explorer.logic.settings import ModelSettings
    page = open_page(browser, "export", ready="Figures as standalone HTML")
    sig = signals.generate("recall", 120, 4, 3)
    with torch.no_grad():
        tr = demo.build(ModelSettings()).trace(torch.from_numpy(sig.x))
    with page.expect_download() as d:
        page.get_by_role("button", name="trace.npz").click()
    npz = np.load(d.value.path())
    for name in "ifgoch":
        np.testing.assert_allclose(npz[name], getattr(tr, name).numpy(), atol=1e-6)
    with page.expect_download() as d:
        page.get_by_role("button", name="trace.csv (long format)").click()
    long = pd.read_csv(d.value.path())
    assert list(long.columns) == ["layer", "direction", "step", "batch", "unit", "gate", "value"]
    assert len(long) == 120 * 4 * 8 * 6
    row = long[(long.gate == "c") & (long.step == 28) & (long.batch == 0) & (long.unit == 0)]
    assert row.value.item() == pytest.approx(tr.c[0, 28, 0, 0].item(), abs=1e-6)
    with page.expect_download() as d:
        page.get_by_role("button", name="gate heatmaps").click()
    html = Path(d.value.path()).read_text()
    assert "<html>" in html[:100] and "plotly.js v" in html and len(html) > 3_000_000  # works offline
    page.close()


@needs_browser
def test_upload_through_the_browser(browser):
    """A real upload passes the server's XSRF check and size limit (.streamlit/config.toml)."""
    page = open_page(browser, "?input=upload", ready="CSV or NPY")
    rows = "\n".join(f"{t / 10:.1f},{(t % 7) / 7:.3f}" for t in range(40))
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "two.csv", "mimeType": "text/csv", "buffer": ("a,b\n" + rows).encode()}])
    page.wait_for_function(FINGERPRINT, timeout=60_000)
    spec_rows = "() => document.querySelector('.js-plotly-plot')._fullData.filter(d => d.type === 'scatter' && d.mode === 'lines').map(d => d.y.length)"
    assert page.evaluate(spec_rows)[:2] == [40, 40]  # two input features of 40 steps
    assert page.get_by_text("with fewer the model is random").is_visible()
    page.close()


# Where the controls of a row lie against the page: (label, left, right, top, bottom, clipped) of
# each visible widget label of the main area, and the main area's right edge.
ROW_BOXES = """() => { const main = document.querySelector('[data-testid=stMainBlockContainer]').getBoundingClientRect();
    const labels = [...document.querySelectorAll('[data-testid=stMain] [data-testid=stWidgetLabel]')].map(e => {
        const r = e.getBoundingClientRect(), t = e.querySelector('p') || e;
        return [e.innerText, r.left, r.right, r.top, r.bottom, t.scrollWidth > t.clientWidth + 1]; });
    return {right: main.right, labels}; }"""
SETTLED = "() => document.querySelectorAll('[data-testid=stSkeleton]').length === 0"


def projector_page(browser, path, width=1280, height=720):
    """`path` as the app opens it (own defaults) at a projector's size, its first chart drawn."""
    url, chromium = browser
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.goto(url + "/" + path)
    page.wait_for_function(FINGERPRINT if not path.startswith("step") else SETTLED, timeout=90_000)
    page.wait_for_function(SETTLED, timeout=60_000)
    page.wait_for_timeout(500)
    return page


@needs_browser
def test_at_1280x720_the_first_figure_is_on_the_first_screen(browser):
    """The projector's size (issue 21, item 5): the title on one line, the View row readable (no
    label on two lines, no label cut, every chip of the panels shown) and the heatmaps' top on the
    first screen, with room to see them; at 1600 px a bidirectional model's row is not cut."""
    page = projector_page(browser, "")
    shot(page, "gates_1280x720")
    lines = page.evaluate("""() => { const r = document.createRange(); r.selectNodeContents(document.querySelector('h1 [data-heading-text]'));
        return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }""")
    assert lines == 1  # the title on one line (it wrapped "step" alone)
    row = page.evaluate(ROW_BOXES)
    for label in ("layer", "sequence b", "panels", "time window (steps)", "exact hover values"):
        (box,) = [b for b in row["labels"] if b[0] == label]
        assert box[4] - box[3] < 30 and not box[5], box  # one line, nothing cut off
        assert box[2] <= row["right"] + 1, (box, row["right"])
    chips = page.evaluate("""() => { const c = document.querySelector('.st-key-fields [data-testid=stMultiSelectTagsContainer]');
        return [c.innerText.split(/\\s+/).join(''), c.scrollWidth <= c.clientWidth + 1]; }""")
    assert chips == ["ifgoch", True], chips  # every chip in view: h was under the fade of a scrolled row
    top = page.evaluate("() => document.querySelector('.js-plotly-plot').getBoundingClientRect().top")
    assert top < 720 / 2, top  # measured: 814 at first, 564 with the caption box above it, 3xx under it
    page.close()
    page = projector_page(browser, "?source=random&bidir=true", 1600, 1000)
    shot(page, "gates_bidirectional_1600x1000")
    row = page.evaluate(ROW_BOXES)
    shown = [b[0] for b in row["labels"]]
    assert {"layer", "direction", "sequence b", "panels", "time window (steps)", "exact hover values"} <= set(shown)
    assert all(b[2] <= row["right"] + 1 and not b[5] for b in row["labels"]), row
    page.close()


@needs_browser
def test_at_1280x720_the_step_buttons_show_their_arrows(browser):
    """◀ and ▶ were 0.6 column shares wide, drawn as "·" and "ı" at 1280 px (issue 21, item 4)."""
    page = projector_page(browser, "step")
    page.get_by_text("Every number above matches").wait_for(timeout=60_000)
    shot(page, "step_1280x720")
    for name in ("◀", "▶", "▶ play"):
        button = page.get_by_role("button", name=name, exact=True)
        fits = button.evaluate("b => { const p = b.querySelector('p') || b; return [p.scrollWidth <= p.clientWidth + 1,"
                               " b.getBoundingClientRect().width]; }")
        assert fits[0] and fits[1] >= 32, (name, fits)
    page.close()


@needs_browser
def test_pages_without_the_sidebar_hide_it(browser):
    """Train and Debug > Load draw nothing in the sidebar: arriving from an Explore page, the sidebar
    was kept open, 340 px of empty grey (issue 21), and the Train page showed the Explore sidebar's
    task and variant beside its own (item 11). Back on Explore it is there, its values kept."""
    page = open_page(browser, "?hidden=12")
    sidebar = page.locator("[data-testid=stSidebar]")
    assert sidebar.is_visible()
    for section, title, ready in (("Train", "Train a model", "Train a model and watch its gates"),
                                  ("Debug your model", "Load model and data", "Debug your own model"),
                                  ("Explore", "Gate heatmaps", "What the gates of an LSTM do")):
        page.get_by_text(section, exact=True).first.click()
        page.locator("a", has_text=title).last.click()
        page.get_by_text(ready).first.wait_for(timeout=60_000)
        page.wait_for_function(SETTLED, timeout=60_000)
        page.wait_for_timeout(500)
        assert sidebar.is_visible() == (section == "Explore"), title
    assert sidebar.get_by_label("hidden size H", exact=True).input_value() == "12"
    page.close()
