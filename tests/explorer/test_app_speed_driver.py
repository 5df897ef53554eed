"""benchmarks/browser_redraw.py still finds and works every control it times on the Gate heatmaps page.

Not a timing test (speed belongs in benchmarks/): each change must redraw the heatmaps, and the
driver must tell the figure's message and the run's end apart, on a small model so that it is quick.
Its `--browser` run once failed on the layer select of a redesigned View row (issue 21).
"""
import sys
from pathlib import Path

from test_explorer_browser import needs_browser, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import browser_redraw  # noqa: E402

# images by default (6 x 16 x 700 cells > heatmaps.EXACT_CELLS), so that 'exact hover values' changes the figure
SMALL = dict(browser_redraw.QUERY, steps="700", hidden="16", layers="2", batch="2")


@needs_browser
def test_the_driver_redraws_the_heatmaps_with_every_control_and_plotly_keeps_the_margins():
    with browser_redraw.serve() as url, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=browser_redraw.CHROMIUM, args=browser_redraw.ARGS)
        try:
            s = browser_redraw.open_session(chromium, url, SMALL, limit_ms=60_000)
            # the figure's margins are the ones it ends with: Plotly did not grow them, which costs a
            # second drawing of every change (heatmaps.MARGIN)
            given, drawn = s.page.evaluate(f"""() => {{ const g = document.querySelector('{browser_redraw.CHART}');
                const s = g._fullLayout._size; return [g.layout.margin, {{l: s.l, r: s.r, t: s.t, b: s.b}}]; }}""")
            assert drawn == {k: given[k] for k in drawn}, (given, drawn)
            kinds = {}
            for name, action in browser_redraw.changes(0, SMALL):
                t = browser_redraw.timed(s, action)  # raises if a control is not found or nothing redraws
                assert 0 < t.to_figure <= t.total and t.server > 0, (name, t)
                kinds[name] = t.figure_kb
            assert s.page.locator("[data-testid=stException]").count() == 0
            # a new figure is sent in full; the view seen before comes back as its reference
            assert kinds["exact hover values on"] > 10 * kinds["exact hover values off (a view seen before)"]
        finally:
            chromium.close()
