"""The pure figure builders, downsampling, colouring and the cell diagram, as plain functions."""
import base64
import io
import re

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from explorer.figures import diagram, downsample, heatmaps, lines, raster, saturation, style
from explorer.logic import subject

RNG = np.random.default_rng(0)


def decode_png(uri):
    """RGBA array of a data URI made by raster.png_data_uri."""
    data = base64.b64decode(uri.split(",", 1)[1])
    return np.array(Image.open(io.BytesIO(data)).convert("RGBA"))


def as_array(v):
    """A trace attribute as numpy: plotly keeps numpy arrays, or a typed-array dict after to_dict."""
    return np.asarray(v)


# --- downsampling -------------------------------------------------------------------------------

def test_plan():
    assert not downsample.plan(1000, 1200).reduced
    p = downsample.plan(100_000, 1200)
    assert p.bucket == 167 and p.buckets == 599 and 2 * p.buckets <= 1200
    assert "100,000 steps drawn as 1,198 columns, the minimum and the maximum of every 167 steps" in p.note()
    assert downsample.plan(10, 1200).note() == ""


def test_minmax_columns_keeps_every_peak():
    a = RNG.standard_normal((3, 10_000)).astype(np.float32)
    a[1, 4321] = 50.0  # a one-step spike
    a[2, 777] = -60.0
    p = downsample.plan(10_000, 200)
    r = downsample.minmax_columns(a, p)
    assert r.shape == (3, 2 * p.buckets)
    np.testing.assert_array_equal(r.max(axis=1), a.max(axis=1))
    np.testing.assert_array_equal(r.min(axis=1), a.min(axis=1))
    k = p.bucket
    np.testing.assert_array_equal(r[:, 0], a[:, :k].min(axis=1))  # column 0: min of bucket 0
    np.testing.assert_array_equal(r[:, 1], a[:, :k].max(axis=1))  # column 1: its max


def test_minmax_columns_ignores_padding_but_keeps_blank_buckets():
    a = np.arange(20, dtype=np.float32)[None].repeat(2, 0)
    a[0, 12:] = np.nan  # padding after step 12
    r = downsample.minmax_columns(a, downsample.Plan(20, 4))
    np.testing.assert_array_equal(r[0, :6], [0, 3, 4, 7, 8, 11])
    assert np.isnan(r[0, 6:]).all()  # buckets of padding only stay NaN: drawn blank
    np.testing.assert_array_equal(r[1], [0, 3, 4, 7, 8, 11, 12, 15, 16, 19])


def test_minmax_line_in_time_order():
    y = np.array([0, 5, -3, 1, 9, 2, -8, 0, 4], np.float32)
    steps, vals = downsample.minmax_line(y, downsample.Plan(9, 3))
    assert steps.tolist() == [1, 2, 3, 4, 6, 8]  # (min, max) of each bucket, whichever comes first
    np.testing.assert_array_equal(vals, y[steps])


def test_window():
    a = np.arange(10)[None]
    w, start = downsample.window(a, 3, 6)
    assert start == 3 and w.tolist() == [[3, 4, 5, 6]]
    assert downsample.window(a, 5, None)[0].tolist() == [[5, 6, 7, 8, 9]]


# --- colouring ----------------------------------------------------------------------------------

def test_png_colours_are_the_scale_and_nan_is_transparent():
    z = np.array([[0.0, 0.5, 1.0, np.nan], [2.0, -1.0, 0.25, 0.75]], np.float32)
    rgba = decode_png(raster.png_data_uri(z, 0.0, 1.0, "Viridis"))
    lut = raster.lut("Viridis")
    assert rgba[0, 0, :3].tolist() == lut[0].tolist() == [68, 1, 84]  # viridis' first colour
    assert rgba[0, 2, :3].tolist() == lut[255].tolist() == [253, 231, 37]  # its last
    assert rgba[0, 3, 3] == 0 and rgba[0, :3, 3].tolist() == [255, 255, 255]
    assert rgba[1, 0, :3].tolist() == lut[255].tolist() and rgba[1, 1, :3].tolist() == lut[0].tolist()  # clipped
    assert raster.indices(z, 0.0, 1.0).tolist() == [[0, 127, 254, 255], [254, 0, 64, 191]]


def test_diverging_scale_is_white_at_zero():
    rgba = decode_png(raster.png_data_uri(np.array([[-1.0, 0.0, 1.0]]), -1.0, 1.0, style.DIVERGING))
    assert rgba[0, 1, :3].min() > 240  # white-ish at 0
    assert rgba[0, 0, 2] > rgba[0, 0, 0] and rgba[0, 2, 0] > rgba[0, 2, 2]  # blue below, red above


# --- the heatmap figure -------------------------------------------------------------------------

def fields(U=4, S=30, nan_from=None):
    out = {}
    for name in style.FIELDS:  # an LSTM's six (FIELD_NAMES also names a GRU's r, z, n)
        z = RNG.uniform(0, 1, (U, S)) if name in heatmaps.GATES01 else RNG.uniform(-2, 2, (U, S))
        if nan_from is not None:
            z[:, nan_from:] = np.nan
        out[name] = z.astype(np.float32)
    return out


def test_exact_heatmaps_hold_the_values():
    f = fields()
    x = RNG.standard_normal((30, 2)).astype(np.float32)
    fig = heatmaps.gate_heatmaps(f, x, ("a", "b"), start=10)
    assert isinstance(fig, go.Figure) and fig.layout.meta["representation"] == "heatmap"
    lines = [t for t in fig.data if t.type == "scatter" and t.mode == "lines"]
    maps = [t for t in fig.data if t.type == "heatmap"]
    assert [t.name for t in lines] == ["a", "b"] and [t.name for t in maps] == list("ifgoch")
    np.testing.assert_array_equal(as_array(lines[1].y), x[:, 1])
    np.testing.assert_array_equal(as_array(lines[0].x), np.arange(10, 40))
    for t in maps:
        np.testing.assert_array_equal(as_array(t.z), f[t.name])
        assert t.x0 == 10 and t.dx == 1
        assert "unit %{y:.0f}" in t.hovertemplate and f"{t.name} = %{{z:.4f}}" in t.hovertemplate
    by = {t.name: t for t in maps}
    assert (by["i"].zmin, by["i"].zmax) == (0.0, 1.0) and by["i"].colorscale[0][1] == "#440154"
    c_bound = float(np.percentile(np.abs(f["c"]), 99))
    assert (by["c"].zmin, by["c"].zmax) == pytest.approx((-c_bound, c_bound))  # diverging, centred at 0
    assert fig.layout.meta["clipped"]["c"] == pytest.approx((c_bound, float(np.abs(f["c"]).max())))
    assert fig.layout.yaxis2.autorange == "reversed"  # unit 0 at the top
    assert fig.layout.xaxis3.matches == "x"  # one shared step axis


def test_value_ranges():
    assert heatmaps.value_range("f", np.array([0.2, 0.3])) == (0.0, 1.0)
    assert heatmaps.value_range("g", np.array([-0.5, 0.2])) == (-1.0, 1.0)  # tanh-bounded keeps ±1
    assert heatmaps.value_range("h", np.array([-3.0, 0.2])) == pytest.approx((-2.972, 2.972))  # NOAF: unbounded
    c = np.concatenate([np.linspace(-1, 1, 199), [50.0, np.nan]])  # one runaway value
    lo, hi = heatmaps.value_range("c", c)
    assert hi == pytest.approx(np.percentile(np.abs(c[:-1]), 99)) and lo == -hi and hi <= 1.0
    assert heatmaps.clipped("c", c, hi) == 50.0 and heatmaps.clipped("c", c, 60.0) is None


def test_the_colour_scale_can_follow_the_framed_unit():
    """Issue 21: one unit drifting to 22 set c's scale to ±21.6, and the framed unit (|c| < 0.4) was white.
    follow= gives c the framed unit's own range, says so in the panel title and in meta["scales"]."""
    f = fields(U=4, S=40)
    f["c"][:] = 0.1 * RNG.standard_normal((4, 40))
    f["c"][0] = np.linspace(-0.35, 0.3, 40)  # the unit that holds the value
    f["c"][3] = np.linspace(0, 22, 40)  # a runaway integrator
    f["g"] = np.tanh(f["g"])
    x = RNG.standard_normal((40, 1)).astype(np.float32)
    shared = {t.name: t for t in heatmaps.gate_heatmaps(f, x, ("x",)).data if t.type == "heatmap"}
    assert shared["c"].zmax > 20  # the percentile over all units: unit 0 within 2% of white
    fig = heatmaps.gate_heatmaps(f, x, ("x",), follow=0)
    by = {t.name: t for t in fig.data if t.type == "heatmap"}
    assert (by["c"].zmin, by["c"].zmax) == pytest.approx((-0.35, 0.35))
    assert (by["g"].zmin, by["g"].zmax) == (-1.0, 1.0)  # tanh-bounded: its own scale stays
    assert fig.layout.yaxis6.title.text.endswith("<br>±0.35, unit 0's")
    assert fig.layout.meta["scales"]["c"] == "±0.35, the largest |c| of unit 0, the framed one"
    assert fig.layout.meta["clipped"]["c"] == pytest.approx((0.35, 22.0))
    assert heatmaps.gate_heatmaps(f, x, ("x",)).layout.meta["scales"]["c"].endswith(
        "the 99th percentile of |c| over all units")
    still = f["c"].copy()
    still[0] = 0.0  # a framed unit that never moves: the percentile, not a scale of ±0
    assert heatmaps.value_range("c", still, follow=0) == heatmaps.value_range("c", still)


def test_the_first_lessons_framed_unit_sets_the_colour_scale_of_c():
    """Lesson 1, slide 1 frames unit 0 of the recall model, whose c stays within ±0.36 while unit 3's
    drifts to 22: its row must span the whole scale, not 2% of it."""
    from explorer.logic.lessons import load_lesson
    from explorer.ui import slides

    slide = load_lesson("assets/lessons/one-step.toml").slides[0]
    (name, fig), = slides.render(slide, {}).figures
    c = next(t for t in fig.data if t.type == "heatmap" and t.name == "c")
    z = np.asarray(c.z)
    assert np.nanmax(np.abs(z[0])) == pytest.approx(c.zmax) and c.zmin == -c.zmax
    assert np.nanmax(np.abs(z[3])) > 10 * c.zmax  # the runaway unit takes the end colour
    assert "unit 0, the framed one" in fig.layout.meta["scales"]["c"]


def test_compare_columns_scale_c_on_their_marked_unit():
    """Issue 21 on Compare and the variants lesson: each column's c on its marked unit's own range,
    written under the column; without a marked unit, or with every |c| within 1, the largest |c|."""
    from explorer.figures.compare import compare_grid

    c = 0.2 * RNG.standard_normal((4, 30)).astype(np.float32)
    c[3] = np.linspace(0, 22, 30)  # the runaway unit
    c[1, 5] = -0.5
    f = RNG.uniform(size=(4, 30)).astype(np.float32)
    fig = compare_grid([("a", {"f": f, "c": c}, 1), ("b", {"f": f, "c": c / 30}, 1), ("c", {"f": f, "c": c}, None)],
                       ["f", "c"], pick=False)
    z = {t.name: t for t in fig.data if t.type == "heatmap"}
    assert (z["a c"].zmin, z["a c"].zmax) == pytest.approx((-0.5, 0.5))
    assert z["b c"].zmax == pytest.approx(22 / 30) and z["c c"].zmax == pytest.approx(22)
    assert (z["a f"].zmin, z["a f"].zmax) == (0.0, 1.0)
    notes = [a.text for a in fig.layout.annotations if a.text.startswith("colour scales")]
    assert notes == ["colour scales: c ±0.5, unit 1's range", "colour scales: c ±0.73", "colour scales: c ±22"]


def test_large_views_are_images_with_the_same_colours():
    f = fields(U=128, S=500)
    fig = heatmaps.gate_heatmaps(f, np.zeros((500, 1), np.float32), ("x0",))
    assert fig.layout.meta["representation"] == "image"
    images = [t for t in fig.data if t.type == "image"]
    assert [t.name for t in images] == list("ifgoch")
    rgba = decode_png(images[0].source)
    assert rgba.shape == (128, 500, 4)
    want = raster.lut("Viridis")[np.round(raster.indices(f["i"], 0, 1).astype(float) * 255 / 254).astype(int)]
    np.testing.assert_array_equal(rgba[..., :3], want)
    bars = [t for t in fig.data if t.type == "scatter" and t.marker.showscale]
    assert len(bars) == 2 and bars[0].marker.colorbar.orientation == "h"  # shared: gates and signed
    assert (bars[0].marker.cmin, bars[0].marker.cmax) == (0, 1) and list(bars[1].marker.colorbar.ticktext) == [
        "−r", "0", "+r"]
    assert "±" in fig.layout.yaxis6.title.text  # c's range r in its title
    panel = heatmaps.gate_heatmaps(f, np.zeros((500, 1), np.float32), ("x0",), colorbars="panel")
    bars = [t for t in panel.data if t.type == "scatter" and t.marker.showscale]
    assert len(bars) == 6 and bars[4].marker.cmax == pytest.approx(np.percentile(np.abs(f["c"]), 99), rel=1e-5)
    exact = heatmaps.gate_heatmaps(f, np.zeros((500, 1), np.float32), ("x0",), exact=True)
    assert exact.layout.meta["representation"] == "heatmap"


def test_padding_is_blank():
    f = fields(S=30, nan_from=20)
    x = np.zeros((30, 1), np.float32)
    x[20:] = np.nan
    fig = heatmaps.gate_heatmaps(f, x, ("x0",), exact=False)
    rgba = decode_png([t for t in fig.data if t.type == "image"][0].source)
    assert (rgba[:, 20:, 3] == 0).all() and (rgba[:, :20, 3] == 255).all()
    exact = heatmaps.gate_heatmaps(f, x, ("x0",), exact=True)
    assert np.isnan(as_array(exact.data[1].z)[:, 20:]).all() and exact.data[1].hoverongaps is False


def test_long_sequences_are_reduced_with_a_note():
    S = 20_000
    f = {"i": RNG.uniform(0, 1, (4, S)).astype(np.float32)}
    f["i"][2, 12_345] = 1.0  # a spike must survive
    fig = heatmaps.gate_heatmaps(f, RNG.standard_normal((S, 1)).astype(np.float32), ("x0",), columns=1000,
                                 exact=True)
    p = downsample.plan(S, 1000)
    hm = fig.data[1]
    assert fig.layout.meta["bucket"] == p.bucket == 40 and as_array(hm.z).shape == (4, 2 * p.buckets)
    assert as_array(hm.z)[2].max() == 1.0
    assert hm.dx == 20 and hm.x0 == pytest.approx(9.5)  # column j covers steps 20j .. 20j + 19
    assert len(as_array(fig.data[0].x)) == 2 * p.buckets
    assert "min and max of every 40 steps" in fig.layout.annotations[0].text
    assert "exports keep full resolution" in fig.layout.meta["note"]


def test_text_input_row_shows_the_characters():
    x = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]  # one-hot over 3 characters, 4 steps
    fig = heatmaps.gate_heatmaps({"h": np.zeros((2, 4), np.float32)}, x, ("'a'", "'b'", "' '"),
                                 labels=np.array(["a", "b", " ", "a"]))
    assert fig.data[0].type == "image"
    assert list(fig.layout.xaxis.ticktext) == ["a", "b", "␣", "a"]
    assert list(fig.layout.yaxis.ticktext) == ["'a'", "'b'", "' '"]  # few characters: rows named
    bar = [d.marker.colorbar for d in fig.data if d.type == "scatter" and d.marker.showscale][0]
    plot_px = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    assert bar.y == pytest.approx(1 + heatmaps.CHAR_TICKS_PX / plot_px)  # above the characters, not over them
    plain = heatmaps.gate_heatmaps({"h": np.zeros((2, 4), np.float32)}, x, ("'a'", "'b'", "' '"))
    assert [d.marker.colorbar.y for d in plain.data if d.type == "scatter" and d.marker.showscale] == [1.0]
    assert plain.layout.height == fig.layout.height - heatmaps.CHAR_TICKS_PX


def test_fixed_gate_note_in_the_panel_title():
    fig = heatmaps.gate_heatmaps({"f": np.ones((2, 5), np.float32)}, np.zeros((5, 1), np.float32), ("x0",),
                                 notes={"f": "fixed at 1 in this variant"})
    assert "fixed at 1 in this variant" in fig.layout.yaxis2.title.text


# --- line figures -------------------------------------------------------------------------------

def test_unit_traces():
    S = 50
    f = {k: RNG.uniform(0, 1, (S, 2)).astype(np.float32) for k in "ifgoch"}
    fig = lines.unit_traces(f, [3, 7], start=5, marker_step=20)
    assert len(fig.data) == 12
    first = fig.data[1]
    assert first.name == "unit 7" and first.line.color == style.unit_color(7)
    np.testing.assert_array_equal(as_array(first.y), f["i"][:, 1])
    np.testing.assert_array_equal(as_array(first.x), np.arange(5, 55))
    assert [t.showlegend for t in fig.data[:4]] == [True, True, False, False]  # one legend entry per unit
    assert fig.layout.shapes[0].x0 == 20


def test_saturation_fractions_by_hand():
    gate = np.array([[[0.05, 0.5]], [[0.95, 0.5]], [[0.05, 0.99]], [[np.nan, np.nan]]])  # (T=4, B=1, H=2)
    mask = np.array([[True], [True], [True], [False]])
    left, right = subject.saturation_fractions(gate, mask)
    np.testing.assert_allclose(left, [2 / 3, 0])
    np.testing.assert_allclose(right, [1 / 3, 1 / 3])


def test_saturation_figure_and_selection():
    groups = [dict(layer=0, direction=0, left={k: np.array([0.1, 0.2]) for k in "ifo"},
                   right={k: np.array([0.7, 0.0]) for k in "ifo"}),
              dict(layer=1, direction=0, left={k: np.array([0.0, 0.5]) for k in "ifo"},
                   right={k: np.array([1.0, 0.5]) for k in "ifo"})]
    fig = saturation.saturation(groups, selected=[(1, 0, 1)])
    assert len(fig.data) == 6  # 3 gates x 2 layers
    t = fig.data[1]
    np.testing.assert_array_equal(as_array(t.x), [0.0, 0.5])
    assert as_array(t.customdata).tolist() == [[1, 0, 0, 1], [1, 0, 1, 1]]  # [layer, direction, unit, on its spot]
    assert list(t.marker.line.width) == [0, 3]  # the selected unit is ringed
    assert fig.data[0].marker.color != t.marker.color  # a colour per layer
    sel = {"points": [{"customdata": [1, 0, 1]}, {"customdata": [1, 0, 0]}, {"customdata": {"0": 0, "1": 0, "2": 1}},
                      {"x": 1}, {"customdata": [1, "x"]}]}
    assert saturation.units_from_selection(sel) == {(1, 0): [0, 1], (0, 0): [1]}
    assert saturation.units_from_selection(None) == {}


def test_cell_update_adds_up():
    kept, written = RNG.standard_normal(40), RNG.standard_normal(40)
    fig = lines.cell_update(kept + written, kept, written, unit=3, start=2)
    names = [t.name.split()[0] for t in fig.data]
    assert names == ["written", "kept", "c"]
    w, k, c = (as_array(t.y) for t in fig.data)
    np.testing.assert_allclose(c, k + w)
    assert as_array(fig.data[0].x)[0] == 2 and "unit 3" in fig.layout.title.text


# --- the cell diagram ---------------------------------------------------------------------------

def test_cell_svg_shows_the_values():
    v = dict(i=0.9, f=0.1, g=-0.5, o=0.7, c=0.3, h=0.2, c_prev=0.5, h_prev=-0.1, z_i=2.2, z_f=-2.2, z_g=-0.55,
             z_o=None, x=[1.0, 0.0, 0.5, 0.25])
    svg = diagram.cell_svg(v, title="layer 0, step 3", footer="note <b>")
    assert "${" not in svg and svg.startswith("<svg")
    for text in ("0.900", "0.100", "−0.500", "0.700", "c<tspan", "= 0.300", "kept f·c", "= 0.050",
                 "written i·g = −0.450", f"tanh(c<tspan baseline-shift=\"sub\" font-size=\"11\">t</tspan>) = "
                 f"{np.tanh(0.3):.3f}", "[1.00, 0.00, 0.50, …]", "z = 2.200", "z = —", "layer 0, step 3", "note &lt;b&gt;"):
        assert text in svg, text
    lut = raster.lut("Viridis")
    k = round(0.9 * 255)
    assert f'fill="rgb({lut[k][0]},{lut[k][1]},{lut[k][2]})"' in svg  # i's box has i's heatmap colour
    assert "\n" not in diagram.one_line(svg) and "<!--" not in diagram.one_line(svg)


def test_fmt():
    assert diagram.fmt(-0.12345) == "−0.123" and diagram.fmt(None) == "—" and diagram.fmt(float("nan")) == "—"
    assert re.fullmatch(r"\[0\.10, 0\.20\]", diagram.fmt_vector([0.1, 0.2]))


def test_exact_hover_has_a_ceiling():
    f = {"i": np.zeros((1024, 1200), np.float32), "f": np.zeros((1024, 1200), np.float32)}
    fig = heatmaps.gate_heatmaps(f, np.zeros((1200, 1), np.float32), ("x0",), exact=True)
    assert fig.layout.meta["representation"] == "image" and fig.layout.meta["refused_exact"]


def test_many_saturation_points_go_to_webgl():
    groups = [dict(layer=k, direction=0, left={g: np.zeros(1024) for g in "ifo"},
                   right={g: np.zeros(1024) for g in "ifo"}) for k in range(2)]
    assert saturation.saturation(groups).data[0].type == "scattergl"
    few = [dict(layer=0, direction=0, left={g: np.zeros(8) for g in "ifo"}, right={g: np.zeros(8) for g in "ifo"})]
    assert saturation.saturation(few).data[0].type == "scatter"


# --- issue 10, item 9: what a lecturer noticed ------------------------------------------------------

def test_a_latent_of_few_levels_gets_its_levels_as_ticks():
    from explorer.figures.lines import unit_vs_latent
    flag = np.array([0, 0, 1, 1, np.nan, 0, 1], dtype=float)
    axis = unit_vs_latent({"c[3]": np.linspace(-1, 1, 7)}, flag, latent_name="in_string").layout.yaxis2
    assert list(axis.tickvals) == [0.0, 1.0] and list(axis.ticktext) == ["0", "1"] and axis.range[0] < 0 < 1 < axis.range[1]
    depth = unit_vs_latent({"c[3]": np.zeros(5)}, np.array([0, 1, 2, 3, 2.0]), latent_name="depth").layout.yaxis2
    assert list(depth.tickvals) == [0, 1, 2, 3]
    smooth = unit_vs_latent({"c[3]": np.zeros(5)}, np.linspace(0, 1, 5), latent_name="value").layout.yaxis2
    assert smooth.tickvals is None  # a continuous latent keeps Plotly's ticks


def test_the_text_views_colour_bar_is_not_squashed():
    from explorer.figures.text import text_view
    fig = text_view("abc", np.array([-0.5, 0.0, 0.9]), label="c[7]")
    bar = fig.data[0].colorbar
    assert bar.orientation == "h" and bar.lenmode == "pixels" and bar.len >= 200  # beside one line: its own room
    assert list(bar.tickvals) == [-0.9, 0.0, 0.9]
    assert fig.layout.margin.t >= 40


def test_the_step_pages_heading_keeps_each_number_with_its_name():
    """Issue 21: at 1280 px the heading beside the cell diagram wrapped, leaving a "0" alone on its line."""
    from helpers import app

    at = app("step")
    (heading,) = [h.value for h in at.subheader if h.value.startswith("layer")]
    assert heading == "layer\u00a00, step\u00a00, sequence\u00a0b=0, unit\u00a00"


def test_the_explore_page_scales_c_on_the_captions_unit_and_says_so():
    """Issue 21: the standard recall model's unit 3 drifts to 22; c's scale follows the framed unit, and the
    page names the scale in use and what it clips."""
    import json

    from helpers import app

    at = app(defaults={})
    at.selectbox(key="shipped_variant").set_value("standard")
    at.run()
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    c = next(t for t in spec["data"] if t.get("name") == "c")
    said = [x.value for x in at.caption if x.value.startswith("The colour scale of c")]
    assert said == [f"The colour scale of c is ±{c['zmax']:.3g}, the largest |c| of unit 0, the framed one; larger "
                    f"values, up to 22, take its end colours."]
    assert c["zmax"] < 1
