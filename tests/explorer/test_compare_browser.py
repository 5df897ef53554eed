"""The Compare page in a real browser (issue 13): a click on a cell of one model's column marks
its step and unit in every column, and so does a click on the difference view.

Plotly's click on the invisible pick marker of a cell (figures/compare.py) becomes Streamlit's
selection, the page reruns with that step and unit, and every column's figure draws the
frame and the line there. Screenshots in test-artifacts/compare-*.png.
"""
from explorer.figures.compare import rows_of
from test_explorer_browser import ARGS, ARTIFACTS, CHROMIUM, FINGERPRINT, needs_browser, serve, sync_playwright

pytestmark = needs_browser
H = 4  # the shipped recall models' units

# The viewport point of (step, y) on axis pair `ax` ("", "2", "3") of the n-th chart on the page.
POINT = """([n, ax, step, y]) => { const g = document.querySelectorAll('.js-plotly-plot')[n];
    g.scrollIntoView({block: 'center'}); const L = g._fullLayout, r = g.getBoundingClientRect();
    const xa = L['xaxis' + ax], ya = L['yaxis' + ax];
    return [r.left + xa._offset + xa.l2p(step), r.top + ya._offset + ya.l2p(y)]; }"""
MARKS = """() => document.querySelector('.js-plotly-plot').layout.shapes.map(s => [s.type, s.xref, s.x0, s.y0])"""


def click(page, n, ax, step, y):
    x, y = page.evaluate(POINT, [n, ax, step, y])
    page.mouse.move(x, y)
    page.wait_for_timeout(200)  # plotly's hover, which its click-to-select reads
    page.mouse.click(x, y)


def marked_at(page, step, unit):
    """Until every column's grid draws the step line at `step` and the frames on `unit`."""
    want = {("line", ax, step) for ax in ("x", "x2", "x3")} | {("rect", ax, rows_of(r, unit, H) - 0.5)
                                                               for ax in ("x", "x2", "x3") for r in range(4)}
    page.wait_for_function(f"""() => {{ const s = new Set(({MARKS})().map(([t, x, x0, y0]) =>
        t === 'line' ? t + x + x0 : t + x + y0)); return {sorted(
            t + x + str(v) for t, x, v in want)!r}.every(k => s.has(k)); }}""", timeout=60_000)


def test_a_click_in_one_column_marks_the_step_and_unit_in_every_column():
    with serve() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1400})
            page.goto(f"{url}/compare?task=recall&variants=standard,coupled,peephole&input_seed=1")
            page.wait_for_function(FINGERPRINT, timeout=120_000)
            page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 2", timeout=60_000)
            click(page, 0, "", 17, rows_of(1, 1, H))  # column 1 (standard), panel f, unit 1, step 17
            page.wait_for_function("() => location.search.includes('step=17') && location.search.includes('unit=1')",
                                   timeout=60_000)
            marked_at(page, 17, 1)
            page.screenshot(path=str(ARTIFACTS / "compare-picked-in-column-1.png"))
            page.wait_for_timeout(500)
            click(page, 1, "", 25, 2)  # the difference view: step 25, unit 2 of the first model
            page.wait_for_function("() => location.search.includes('step=25') && location.search.includes('unit=2')",
                                   timeout=60_000)
            marked_at(page, 25, 2)
            page.screenshot(path=str(ARTIFACTS / "compare-picked-in-the-difference.png"))
        finally:
            browser.close()


def test_an_lstm_beside_a_gru_a_click_on_the_grus_z_marks_both_columns():
    """variants=standard,gru at 1280x720 and 1600x1000: the GRU column draws r, z, n, h in the rows of
    the LSTM's i, f, g, o, c, h (z beside f, h beside c); a click on its z row picks that step and
    unit in both columns. Screenshots: compare-lstm-gru-<size>.png."""
    rows = 7  # i, r, f/z, g/n, o, c/h, h
    with serve() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for width, height in ((1280, 720), (1600, 1000)):
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(f"{url}/compare?task=recall&variants=standard,gru&input_seed=1&b=2")
                page.wait_for_function(FINGERPRINT, timeout=120_000)
                page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 2",
                                       timeout=60_000)
                page.wait_for_timeout(1000)  # KaTeX of the captions
                page.screenshot(path=str(ARTIFACTS / f"compare-lstm-gru-{width}x{height}.png"))
                labels = page.evaluate("() => document.querySelector('.js-plotly-plot').layout.annotations"
                                       ".map(a => a.text)")
                assert {"<b>z</b>", "<b>n</b>", "<b>f</b>", "— (the GRU has no i)"} <= set(labels)
                click(page, 0, "2", 20, rows_of(2, 1, H))  # column 2 (gru), row f/z: z of unit 1, step 20
                page.wait_for_function("() => location.search.includes('step=20') && "
                                       "location.search.includes('unit=1')", timeout=60_000)
                want = {"line" + ax + "20" for ax in ("x", "x2")} | {
                    "rect" + ax + str(rows_of(r, 1, H) - 0.5) for ax in ("x", "x2") for r in range(rows)
                    if not (ax == "x" and r == 1) and not (ax == "x2" and r in (0, 4, 6))}  # the rows each draws
                page.wait_for_function(f"""() => {{ const s = new Set(({MARKS})().map(([t, x, x0, y0]) =>
                    t === 'line' ? t + x + x0 : t + x + y0)); return {sorted(want)!r}.every(k => s.has(k)); }}""",
                                       timeout=60_000)
                page.screenshot(path=str(ARTIFACTS / f"compare-lstm-gru-picked-{width}x{height}.png"))
                page.close()
        finally:
            browser.close()
