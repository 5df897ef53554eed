"""explorer.walkthrough: the "split Z into stripes" numbers against hand-computed ones and every variant's trace."""
import math

import numpy as np
import pytest
import torch

import lstm_core
from explorer.logic import walkthrough


def sig(z):
    return 1 / (1 + math.exp(-z))


def tiny():
    """I = 1, H = 1, weights chosen so the first step can be done on paper."""
    m = lstm_core.LSTM(1, 1)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.tensor([[0.5], [1.0], [-1.0], [2.0]]))  # rows i, f, g, o
        m.weight_hh_l0.copy_(torch.tensor([[0.1], [0.2], [0.3], [0.4]]))
        m.bias_ih_l0.copy_(torch.tensor([0.0, 0.5, 0.0, -1.0]))
        m.bias_hh_l0.copy_(torch.tensor([0.1, 0.0, 0.2, 0.0]))
    return m


def test_hand_computed_steps():
    m = tiny()
    x = torch.tensor([[[1.0]], [[2.0]]])  # (T=2, B=1, I=1)
    with torch.no_grad():
        tr = m.trace(x).detach()
    w0 = walkthrough.walk(m, tr, x, 0, [0], [0])
    # step 0, h = c = 0: z = W_ih x + b_ih + b_hh = (0.5 + 0.1, 1.0 + 0.5, -1.0 + 0.2, 2.0 - 1.0)
    np.testing.assert_allclose(w0.z, [[0.6, 1.5, -0.8, 1.0]], atol=1e-7)
    assert w0.z_columns == [0, 1, 2, 3] and w0.prev_step == [-1]
    i, f, g, o = sig(0.6), sig(1.5), math.tanh(-0.8), sig(1.0)
    assert (w0.act["i"][0, 0], w0.act["f"][0, 0], w0.act["g"][0, 0], w0.act["o"][0, 0]) == pytest.approx((i, f, g, o))
    c0 = f * 0.0 + i * g
    h0 = o * math.tanh(c0)
    assert w0.c[0, 0] == pytest.approx(c0) and w0.h[0, 0] == pytest.approx(h0)
    assert c0 == pytest.approx(-0.42873, abs=1e-5)  # the number on paper
    # step 1 takes h0, c0 from step 0
    w1 = walkthrough.walk(m, tr, x, 1, [0], [0])
    z = [0.5 * 2 + 0.1 * h0 + 0.1, 1.0 * 2 + 0.2 * h0 + 0.5, -1.0 * 2 + 0.3 * h0 + 0.2, 2.0 * 2 + 0.4 * h0 - 1.0]
    np.testing.assert_allclose(w1.z[0], z, atol=1e-6)
    assert w1.h_prev[0, 0] == pytest.approx(h0, abs=1e-6) and w1.c_prev[0, 0] == pytest.approx(c0, abs=1e-6)
    c1 = sig(z[1]) * c0 + sig(z[0]) * math.tanh(z[2])
    assert w1.c[0, 0] == pytest.approx(c1, abs=1e-6)
    assert w1.h[0, 0] == pytest.approx(sig(z[3]) * math.tanh(c1), abs=1e-6)
    assert w1.max_error < 1e-6
    assert walkthrough.describe(w1)[1] == f"The forget gate keeps {sig(z[1]):.1%} of it: f·c = {sig(z[1]) * c0:.3f}."


def test_the_course_texts_layout_batch_2_hidden_3():
    """Z (2, 12) split into four (2, 3) stripes, in the order i, f, g, o, as the needle text."""
    m = lstm_core.LSTM(4, 3, seed=0)
    x = torch.randn(5, 2, 4)
    with torch.no_grad():
        tr = m.trace(x).detach()
    wt = walkthrough.walk(m, tr, x, 2, [0, 1], [0, 1, 2])
    assert wt.z.shape == (2, 12) and wt.z_columns == list(range(12))
    w_ih, w_hh = m.weight_ih_l0.detach().double().numpy(), m.weight_hh_l0.detach().double().numpy()
    b = (m.bias_ih_l0 + m.bias_hh_l0).detach().double().numpy()
    Z = x[2].double().numpy() @ w_ih.T + tr.h[0, 1].double().numpy() @ w_hh.T + b  # (B, 4H)
    np.testing.assert_allclose(wt.z, Z, atol=1e-6)
    for j, k in enumerate("ifgo"):
        np.testing.assert_array_equal(wt.stripes[k], wt.z[:, 3 * j:3 * (j + 1)])  # stripes[jH:(j+1)H]
        np.testing.assert_allclose(wt.stripes[k], Z[:, 3 * j:3 * (j + 1)], atol=1e-6)
    np.testing.assert_allclose(wt.act["i"], 1 / (1 + np.exp(-Z[:, 0:3])), atol=1e-6)
    np.testing.assert_allclose(wt.act["g"], np.tanh(Z[:, 6:9]), atol=1e-6)
    np.testing.assert_allclose(wt.c, wt.act["f"] * wt.c_prev + wt.act["i"] * wt.act["g"])
    np.testing.assert_allclose(wt.h, wt.act["o"] * np.tanh(wt.c))


def test_a_slice_picks_its_columns_of_z():
    m = lstm_core.LSTM(2, 5, seed=1)
    x = torch.randn(3, 4, 2)
    with torch.no_grad():
        tr = m.trace(x).detach()
    full = walkthrough.walk(m, tr, x, 1, [0, 1, 2, 3], list(range(5)))
    part = walkthrough.walk(m, tr, x, 1, [3, 1], [4, 0])
    assert part.z_columns == [4, 0, 9, 5, 14, 10, 19, 15]
    np.testing.assert_allclose(part.z, full.z[[3, 1]][:, part.z_columns])


CONFIGS = [dict(), dict(num_layers=2, bidirectional=True), dict(proj_size=2, num_layers=2),
           dict(peephole=True, peephole_output="previous"), dict(gate_activation="hard_sigmoid")]


@pytest.mark.parametrize("variant", lstm_core.VARIANTS)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "plain")
def test_every_variant_matches_its_trace(variant, config):
    """The walk-through is an independent recomputation: it must give the trace's numbers."""
    m = lstm_core.LSTM(3, 5, variant=variant, init="normal", seed=3, **config)
    x = torch.randn(7, 3, 3)
    lengths = torch.tensor([7, 4, 1])
    with torch.no_grad():
        tr = m.trace(x, lengths=lengths).detach()
    for layer in range(m.num_layers):
        for d in range(m.num_directions):
            for t in (0, 3, 6):
                wt = walkthrough.walk(m, tr, x, t, [0, 1, 2], [0, 2, 4], layer, d)
                assert wt.max_error < 1e-5, (layer, d, t)
                assert wt.valid.tolist() == [True, t < 4, t < 1]


def test_float64_is_exact():
    m = lstm_core.LSTM(3, 4, variant="peephole", dtype=torch.float64, seed=0, init="normal")
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        tr = m.trace(x).detach()
    assert max(walkthrough.walk(m, tr, x, t, [0, 1], [0, 1, 2, 3]).max_error for t in range(6)) < 1e-12


def test_rules_and_extras_name_the_variant():
    x = torch.randn(4, 1, 2)

    def w(variant, **kw):
        m = lstm_core.LSTM(2, 3, variant=variant, seed=0, **kw)
        with torch.no_grad():
            return walkthrough.walk(m, m.trace(x).detach(), x, 2, [0], [0, 1])
    assert w("coupled").rule["i"] == "1 − f (coupled)"
    assert w("no_input_gate").rule["i"] == "1 (no input gate)" and "i" not in w("no_input_gate").stripes
    assert w("no_forget_gate").rule["f"] == "1 (no forget gate)"
    assert w("no_output_gate").rule["o"] == "1 (no output gate)"
    assert w("no_input_activation").rule["g"] == "z (no tanh)"
    assert w("no_output_activation").h_rule == "o ⊙ c' (no tanh)"
    assert w("peephole").extra["o"][0] == "p ⊙ c'" and w("peephole").extra["f"][0] == "p ⊙ c"
    assert w("full_gate_recurrence").extra["i"][0] == "W_gg [i, f, o]_{t-1}"
    assert w("standard", gate_activation="hard_sigmoid").rule["f"].startswith("hard σ(z)")


def test_reverse_direction_and_padding():
    m = lstm_core.LSTM(2, 3, bidirectional=True, seed=0)
    x = torch.randn(5, 2, 2)
    with torch.no_grad():
        tr = m.trace(x, lengths=torch.tensor([5, 3])).detach()
    wt = walkthrough.walk(m, tr, x, 2, [0, 1], [0], direction=1)
    assert wt.prev_step == [3, -1]  # the reverse direction comes from t + 1; sequence 1 ends at step 2
    pad = walkthrough.walk(m, tr, x, 4, [1], [0])
    assert pad.valid.tolist() == [False] and "padding" in walkthrough.describe(pad)[0]


def test_diagram_values():
    m = lstm_core.LSTM(3, 4, proj_size=2, seed=0)
    x = torch.randn(3, 1, 3)
    with torch.no_grad():
        tr = m.trace(x).detach()
    wt = walkthrough.walk(m, tr, x, 1, [0], [1, 3])
    v = walkthrough.diagram_values(wt, 0, 1)  # unit 3
    assert v["f"] == wt.act["f"][0, 1] and v["z_f"] == pytest.approx(wt.stripes["f"][0, 1])
    assert v["h_prev"] is None  # h has P = 2 features, unit 3 has none
    assert wt.projected and "before the projection" in walkthrough.describe(wt, 0, 1)[-1]


ERRORS = [
    (dict(t=9), r"step: expected 0..4, got 9"),
    (dict(rows=[2]), r"sequence: expected 0..1, got 2"),
    (dict(units=[3]), r"unit: expected 0..2, got 3"),
    (dict(layer=1), r"layer: expected 0..0, got 1"),
]


@pytest.mark.parametrize("kwargs,message", ERRORS)
def test_errors(kwargs, message):
    m = lstm_core.LSTM(2, 3, seed=0)
    x = torch.randn(5, 2, 2)
    with torch.no_grad():
        tr = m.trace(x).detach()
    args = dict(t=0, rows=[0], units=[0], layer=0) | kwargs
    with pytest.raises(ValueError, match=message):
        walkthrough.walk(m, tr, x, args["t"], args["rows"], args["units"], args["layer"])


@pytest.mark.parametrize("variant, line", [("coupled", "i = 1 − f (coupled)"), ("no_forget_gate", "f = 1: no f gate"),
                                           ("no_input_gate", "i = 1: no i gate"), ("standard", None)])
def test_the_diagram_names_a_gate_without_parameters(variant, line):
    """Issue 10, item 9: the coupled cell's i was drawn as "σ" with "z = —"."""
    from explorer.figures import diagram
    m = lstm_core.LSTM(3, 4, variant=variant, seed=0)
    x = torch.randn(6, 2, 3)
    with torch.no_grad():
        tr = m.trace(x).detach()
    svg = diagram.cell_svg(walkthrough.diagram_values(walkthrough.walk(m, tr, x, 3, [0], [1])))
    assert "z = —" not in svg and "${" not in svg
    if line is None:
        assert svg.count(">σ</text>") == 3 and svg.count(">z = ") == 4
    else:
        assert line in svg and svg.count(">σ</text>") == 2
