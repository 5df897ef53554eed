"""explorer/demo_figures.py as plain functions: what each figure holds, cell by cell."""
import math

import numpy as np
import plotly.graph_objects as go
import pytest

from explorer.figures.lines import loss_curve, unit_ranking, unit_vs_latent
from explorer.figures.text import BAR_ROOM, NEWLINE, text_layout, text_view
from lstm_core.analysis.units import UnitScore


def test_text_layout_rows_columns_and_wrapping():
    rows, cols, shown = text_layout("ab\ncdefg", width=3)
    assert rows.tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    assert cols.tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    assert shown == ["a", "b", NEWLINE, "c", "d", "e", "f", "g"]


def test_text_view_colours_each_character_by_its_value():
    text = "x = 1\ny"
    values = np.arange(len(text), dtype=float) - 3
    fig = text_view(text, values, label="c[7]")
    heat = fig.data[0]
    assert isinstance(fig, go.Figure) and isinstance(heat, go.Heatmap)
    z, chars, steps = np.array(heat.z, dtype=float), np.array(heat.text), np.array(heat.customdata)
    assert z.shape == (2, 6)
    assert chars[0].tolist() == ["x", " ", "=", " ", "1", NEWLINE] and chars[1, 0] == "y"
    assert z[0, 2] == -1.0 and steps[0, 2] == 2 and steps[1, 0] == 6
    assert math.isnan(z[1, 1]) and steps[1, 1] == -1  # no character there
    assert (heat.zmin, heat.zmax) == (-3.0, 3.0)  # symmetric around 0
    assert type(fig.layout.height) is int and fig.layout.height == 60 + BAR_ROOM + 22 * 2  # Streamlit drops numpy ints
    assert "step %{customdata}" in heat.hovertemplate and "c[7] = %{z:.3f}" in heat.hovertemplate


def test_text_view_escapes_what_plotly_would_read_as_html():
    chars = np.array(text_view("a<b>&lt;", np.zeros(8)).data[0].text).ravel().tolist()
    assert chars == ["a", "&lt;", "b", "&gt;", "&amp;", "l", "t", ";"]


def test_text_view_gate_range_and_errors():
    fig = text_view("ab", [0.2, 0.9], zmin=0, zmax=1)
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0, 1)
    with pytest.raises(ValueError, match=r"values: expected shape \(2,\), one per character of text, got \(3,\)"):
        text_view("ab", [1, 2, 3])


def test_unit_ranking_bars():
    scores = [UnitScore("c", 7, 0.9, 100), UnitScore("f", 2, -0.5, 100)]
    fig = unit_ranking(scores, latent="value")
    bar = fig.data[0]
    assert list(bar.y) == ["c[7]", "f[2]"] and list(bar.x) == [0.9, -0.5]
    assert [list(c) for c in bar.customdata] == [["c", 7], ["f", 2]]
    assert bar.marker.color[0] != bar.marker.color[1]  # sign shows
    assert "over 100 steps" in bar.hovertemplate and fig.layout.yaxis.autorange == "reversed"


def test_unit_vs_latent_two_axes():
    latent = np.array([np.nan, 1.0, 1.0, np.nan])
    fig = unit_vs_latent({"c[1]": [0, 0.5, 0.6, 0.1], "o[1]": [0.1, 0.1, 0.9, 0.1]}, latent,
                         latent_name="value", start=10)
    assert [d.name for d in fig.data] == ["c[1]", "o[1]", "value"]
    assert fig.data[2].yaxis == "y2" and list(fig.data[0].x) == [10, 11, 12, 13]
    assert fig.layout.yaxis2.overlaying == "y"
    with pytest.raises(ValueError, match=r"series\['c\[1\]'\]: expected shape \(4,\) like the latent, got \(3,\)"):
        unit_vs_latent({"c[1]": [1, 2, 3]}, latent, latent_name="value")


def test_loss_curve_with_baseline_and_target():
    fig = loss_curve([(1, 0.5), (2, 0.25)], [(0, 0.3), (2, 0.01)], metric_name="recall MSE",
                     baseline=0.34, target=0.0002)
    names = [d.name for d in fig.data]
    assert names == ["training loss", "recall MSE", "baseline: 0.34", "shipped model: 0.0002"]
    assert list(fig.data[0].y) == [0.5, 0.25] and fig.layout.yaxis.type == "log"
    assert list(fig.data[3].x) == [0, 2] and fig.data[3].yaxis == "y2"
    assert fig.layout.yaxis2.type == "linear"
    assert loss_curve([(1, 0.5)], [(1, 0.3)], metric_name="MSE", log_metric=True).layout.yaxis2.type == "log"
    empty = loss_curve([], metric_name="MSE")  # before the first step
    assert len(empty.data) == 0
