"""The figures as Chromium draws them, without the app: ticks, ranges and labels that collide
(issue 21). Each figure is written to a page with its own Plotly.js (offline) and read back from
Plotly's drawn layout (`_fullLayout`) and the elements' boxes."""
import re

import numpy as np
import pandas as pd
import pytest

from explorer.figures import checking, diagnostics, diagram, heatmaps, lines, saturation, slides
from test_explorer_browser import ARGS, CHROMIUM, needs_browser, sync_playwright

pytestmark = needs_browser
RNG = np.random.default_rng(0)

DRAWN = """() => { const g = document.querySelector('.js-plotly-plot'), L = g._fullLayout, out = {axes: {}, labels: []};
  for (const k of Object.keys(L)) if (/^[xy]axis\\d*$/.test(k))
    out.axes[k] = {range: L[k].range, ticks: (L[k]._vals || []).map(v => v.x)};
  out.shapes = (L.shapes || []).map(s => [s.xref, s.yref]);
  document.querySelectorAll('.annotation-text, .gtitle, .legendtext, .xtitle, .ytitle, .cbtitle').forEach(e => {
    const r = e.getBoundingClientRect(); out.labels.push([e.textContent, r.left, r.top, r.right, r.bottom]); });
  return out; }"""


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def drawn(browser, fig, width=800):
    """What Plotly drew of `fig` at `width` px: {axes: {name: {range, ticks}}, shapes, labels: [[text, box]]}."""
    height = int(fig.layout.height or 450)
    page = browser.new_page(viewport=dict(width=width + 40, height=height + 40))
    try:
        page.set_content(fig.to_html(include_plotlyjs=True, full_html=True, default_width=f"{width}px",
                                     default_height=f"{height}px"))
        page.wait_for_function("() => { const g = document.querySelector('.js-plotly-plot'); return g && g._fullLayout"
                               " && g.querySelector('.main-svg'); }")
        return page.evaluate(DRAWN)
    finally:
        page.close()


def overlaps(boxes, pad=0.0):
    """The pairs of [text, left, top, right, bottom] boxes that overlap (by more than pad px)."""
    out = []
    for k, a in enumerate(boxes):
        for b in boxes[k + 1:]:
            if a[3] - pad > b[1] and b[3] - pad > a[1] and a[4] - pad > b[2] and b[4] - pad > a[2]:
                out.append((a[0], b[0]))
    return out


def round_steps(ticks):
    """True if the ticks are evenly spaced by 1, 2 or 5 x 10^k and sit on multiples of it."""
    t = np.asarray(ticks, float)
    step = np.diff(t)
    if len(t) < 2 or not np.allclose(step, step[0]):
        return False
    mantissa = step[0] / 10 ** np.floor(np.log10(step[0]))
    return bool(np.isclose(mantissa, [1, 2, 5]).any() and np.allclose(t / step[0], np.round(t / step[0]), atol=1e-6))


LEVELS = np.concatenate([np.full(10, np.nan), np.full(30, 0.205), np.full(20, -0.636)])  # a held value


@pytest.mark.parametrize("make", [
    lambda: lines.unit_vs_latent({"c[0]": RNG.standard_normal(60)}, LEVELS, latent_name="value"),
    lambda: lines.loss_curve([(i, 1 / (i + 1)) for i in range(100)], [(i * 10, 0.3 - 0.02 * i) for i in range(10)],
                             metric_name="bits per character", baseline=0.205, target=-0.1),
    lambda: slides.unit_story({"i": RNG.uniform(size=60)}, RNG.standard_normal(60), LEVELS, unit=0,
                              latent_name="value")], ids=["unit_vs_latent", "loss_curve", "unit_story"])
def test_right_axes_tick_at_round_values(browser, make):
    """Plotly's template synced a right axis's ticks to the left one's grid: 0.205, -0.636, 0.017."""
    axes = drawn(browser, make())["axes"]
    right = axes["yaxis3"] if "yaxis3" in axes else axes["yaxis2"]
    assert round_steps(right["ticks"]), right["ticks"]


def test_unit_axes_have_whole_ticks_with_two_units(browser):
    """A projection P = 2 gave h two rows, and ticks at -0.5, 0.5, 1.5."""
    fields = {"c": RNG.standard_normal((4, 30)), "h": RNG.standard_normal((2, 30))}
    axes = drawn(browser, heatmaps.gate_heatmaps(fields, RNG.standard_normal((30, 1)), ("x",)))["axes"]
    assert sorted(axes["yaxis3"]["ticks"]) == [0, 1] and sorted(axes["yaxis2"]["ticks"]) == [0, 1, 2, 3]
    axes = drawn(browser, checking.difference_heatmaps({"h": RNG.standard_normal((2, 30))}))["axes"]
    assert sorted(axes["yaxis"]["ticks"]) == [0, 1]
    mem = pd.DataFrame(dict(layer=0, direction=0, unit=[0, 1], time_constant=[3.0, 40.0], mean_f=[0.6, 0.97],
                            half_life=[1.5, 23.0], mean_length=30.0))
    assert drawn(browser, diagnostics.time_constants(mem))["axes"]["xaxis"]["ticks"] == [0, 1]


def test_saturation_map_keeps_its_fraction_axes_on_a_wide_page(browser):
    """Square by narrowing the plot, not by running x from -0.5 to 1.5."""
    sat = pd.DataFrame(dict(layer=0, direction=0, unit=np.arange(8).repeat(3), gate=list("ifo") * 8,
                            left=RNG.uniform(size=24), right=RNG.uniform(size=24) * 0.3, mean=0.5, stuck=False))
    axes = drawn(browser, saturation.saturation_map(sat), width=1200)["axes"]
    assert axes["xaxis"]["range"] == pytest.approx([-0.03, 1.03]) and axes["yaxis"]["range"] == pytest.approx(
        [-0.03, 1.03])


def test_stacked_saturation_points_say_how_many(browser):
    """16 units at (0%, 0%) read as one dot: the stack is drawn larger and labelled, each unit selectable."""
    zero, some = np.zeros(16), np.r_[np.zeros(12), [0.5, 0.5, 0.2, 0.9]]
    groups = [dict(layer=0, direction=0, left={k: zero for k in "ifo"}, right={k: some for k in "ifo"})]
    fig = saturation.saturation(groups)
    points = fig.data[0]
    assert len(points.x) == 16 and [c[3] for c in points.customdata] == [12] * 12 + [2, 2, 1, 1]
    assert points.marker.size[0] > points.marker.size[12] > points.marker.size[15] == 9
    labels = [b[0] for b in drawn(browser, fig, width=1000)["labels"] if b[0].startswith("×")]
    assert sorted(labels) == ["×12", "×12", "×12", "×2", "×2", "×2"]
    assert saturation.units_from_selection({"points": [{"customdata": c} for c in points.customdata]}) == {
        (0, 0): list(range(16))}


def test_the_check_pages_first_difference_is_a_line_in_every_panel_and_no_label_collides(browser):
    diffs = {k: RNG.standard_normal((4, 20)) for k in "ifgoch"}
    fig = checking.mark_step(checking.difference_heatmaps(diffs), 7)
    d = drawn(browser, fig, width=400)
    assert sorted(d["shapes"]) == sorted([["x", "y domain"]] + [[f"x{k}", f"y{k} domain"] for k in range(2, 7)])
    assert not overlaps(d["labels"])
    yours = checking.mark_step(heatmaps.gate_heatmaps(diffs, RNG.standard_normal((20, 3)), ["x0", "x1", "x2"],
                                                      exact=True), 7)
    d = drawn(browser, yours, width=400)
    assert len(d["shapes"]) == 7 and not overlaps(d["labels"]), overlaps(d["labels"])  # the bar titles too


def test_the_cell_diagrams_labels_clear_each_other_and_the_arrows(browser):
    """"kept f·c_{t-1} = -1.585" ran into the forget gate's arrow."""
    vals = dict(i=0.9, f=0.12, g=-0.37, o=0.8, c=-12.345, h=-0.8, c_prev=-13.21, h_prev=0.5, z_i=2.1, z_f=-2.0,
                z_g=-0.39, z_o=1.4, x=np.array([0.3, 1.0, 0.0, 0.0]))
    svg = diagram.cell_svg(vals, "layer 0, step 5, sequence b=2, unit 0")
    page = browser.new_page(viewport=dict(width=600, height=400))
    try:
        page.set_content(f"<html><body style='margin:0;width:560px'>{svg}</body></html>")
        texts = page.evaluate("""() => [...document.querySelectorAll('svg > g > text, svg > text')].map(e => {
            const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.top, r.right, r.bottom]; })""")
        arrow = page.evaluate("""() => { const r = [...document.querySelectorAll('svg line')].find(l =>
            l.getAttribute('x1') === '260' && l.getAttribute('y1') === '212').getBoundingClientRect();
            return [r.left, r.top, r.right, r.bottom]; }""")
    finally:
        page.close()
    kept = [t for t in texts if re.match(r"kept|= −1\.585", t[0])]
    assert len(kept) == 2 and all(t[3] < arrow[0] - 2 for t in kept), (kept, arrow)
    assert not overlaps(texts, pad=0.5)


@pytest.mark.parametrize("reset", ["after", "before"])
def test_the_gru_diagrams_labels_clear_each_other_and_its_lines(browser, reset):
    """The GRU's diagram (issue 20), with long negative numbers: no label on another or on a line."""
    vals = dict(r=0.123, z=0.876, n=-0.999, h=-12.345, h_prev=-13.21, a_r=-1.965, a_z=1.957, a_n=-3.802,
                rpart=-12.345, x=np.array([-0.3, 1.0, 0.0, 0.0]), reset=reset)
    svg = diagram.gru_svg(vals, "layer 0, step 5, sequence b=2, unit 0", "reverse direction: the previous step is t+1")
    page = browser.new_page(viewport=dict(width=600, height=400))
    try:
        page.set_content(f"<html><body style='margin:0;width:560px'>{svg}</body></html>")
        texts = page.evaluate("""() => [...document.querySelectorAll('svg > g > text, svg > text')].map(e => {
            const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.top, r.right, r.bottom]; })""")
        lines = page.evaluate("""() => [...document.querySelectorAll('svg line')].map(l => {
            const r = l.getBoundingClientRect(); return ['line', r.left, r.top, r.right, r.bottom]; })""")
    finally:
        page.close()
    assert not overlaps(texts, pad=0.5), overlaps(texts, pad=0.5)
    values = [t for t in texts if "=" in t[0] or "(" in t[0]]  # the numbers, not the box labels a line enters
    assert len(values) >= 10
    assert not [(t, l) for t in values for l in lines if overlaps([t, l], pad=1.0)]
