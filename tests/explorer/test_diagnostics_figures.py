"""The diagnostics figures as plain functions: tables in, go.Figure out, with the right data in it."""
import math

import numpy as np
import pytest
import torch

import lstm_core
from explorer.figures import diagnostics as figs
from lstm_core import Clamp
from lstm_core.analysis import diagnostics as dg


@pytest.fixture(scope="module")
def report():
    torch.manual_seed(0)
    model = lstm_core.LSTM(2, 4, num_layers=2, bidirectional=True)
    x = torch.randn(15, 3, 2)
    return model, x, dg.diagnose(model, x, torch.tensor([15, 10, 6]), max_units=4)


def test_saturation_map_points(report):
    _, _, r = report
    fig = figs.saturation_map(r.saturation, layer=1, direction=1)
    gates = {t.name: t for t in fig.data if t.mode == "markers"}
    assert set(gates) == {"i", "f", "o"}
    want = r.saturation.query("layer == 1 and direction == 1 and gate == 'f'")
    np.testing.assert_allclose(gates["f"].x, want.left)
    np.testing.assert_allclose(gates["f"].y, want.right)
    assert "reverse" in fig.layout.title.text


def test_memory_figures():
    m = lstm_core.LSTM(1, 2)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.bias_ih_l0[2:4] = math.log(9)  # f = 0.9
    tr = m.trace(torch.zeros(20, 1, 1))
    fig = figs.time_constants(dg.memory(tr))
    np.testing.assert_allclose(fig.data[0].y, [10, 10], rtol=1e-5)
    assert fig.layout.yaxis.type == "log" and fig.layout.shapes[0].y0 == 20
    curves = figs.survival_curves(dg.survival(tr), units=[1])
    assert len(curves.data) == 1 and curves.data[0].y[10] == pytest.approx(0.9 ** 10, rel=1e-5)


def test_gradient_flow_figure(report):
    _, _, r = report
    fig = figs.gradient_flow(r.gradient_flow)
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == len(r.gradients)  # one per quantity, layer, direction
    assert fig.layout.yaxis.type == "log"


def test_cell_growth_and_intervention_figures(report):
    model, x, r = report
    tr = model.trace(x).detach()
    fig = figs.cell_state_growth(tr.c[0], r.cell_growth, top=2)
    assert len(fig.data) == 2
    res = dg.what_if(model, x, [Clamp("f", 0.0, units=[0], steps=range(4, 6))])
    fig = figs.intervention_effect(res.effect, res.output_change, field="c", steps=range(4, 6))
    assert [t.name for t in fig.data][-1] == "output" and len(fig.data) == 5  # 4 layer-directions + output
    assert fig.layout.shapes[0].x0 == 3.5


def test_findings_table(report):
    _, _, r = report
    fig = figs.findings_table(r.findings)
    assert list(fig.data[0].header.values) == ["severity", "layer", "direction", "unit", "gate", "what", "view"]
    assert len(fig.data[0].cells.values[5]) == len(r.findings)


def test_no_streamlit_import():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(figs))
    names = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any("streamlit" in (m or "") for m in names | mods)
