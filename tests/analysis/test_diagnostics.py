"""Diagnostics against hand-computed values on models whose weights are set by hand."""
import json
import math

import numpy as np
import pytest
import torch

import lstm_core
from lstm_core import Clamp
from lstm_core.analysis import diagnostics as dg
from lstm_core.io.data import from_arrays, load_data

LOGIT_09 = math.log(0.9 / 0.1)  # σ(LOGIT_09) = 0.9


def hand_model(I=1, H=2, variant="standard", bidirectional=False, num_layers=1, **bias):
    """Zero weights, W_hh = 0, and the given gate biases: {gate: value or per-unit list}."""
    m = lstm_core.LSTM(I, H, num_layers, variant=variant, bidirectional=bidirectional)
    gates = m.cell.gates
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.zero_()
            if name.startswith("bias_ih"):
                for k, v in bias.items():
                    j = gates.index(k)
                    p[j * H:(j + 1) * H] = torch.as_tensor(v, dtype=p.dtype)
    return m


def test_saturation_fractions_stuck_and_dead():
    """Units 0 and 1 see no input: unit 0's i is pinned at σ(10) (stuck open), unit 1's f at σ(-10)
    (stuck closed), and both h are constant (dead). Unit 2's i follows σ(x_t): its left/right
    fractions are those of the inputs."""
    m = hand_model(H=3, i=[10.0, 0, 0], f=[0, -10.0, 0])
    with torch.no_grad():
        m.weight_ih_l0[2, 0] = 1.0  # unit 2 of the i gate reads x
        m.weight_ih_l0[8, 0] = 1.0  # and so does its g, so its c and h move
    z = torch.tensor([-3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 3.0, 4.0])
    tr = m.trace(z.view(-1, 1, 1))
    sat = dg.saturation(tr).set_index(["unit", "gate"])
    want_left = float((torch.sigmoid(z) < 0.1).float().mean())
    want_right = float((torch.sigmoid(z) > 0.9).float().mean())
    assert sat.loc[(2, "i"), "left"] == pytest.approx(want_left) == 2 / 8
    assert sat.loc[(2, "i"), "right"] == pytest.approx(want_right) == 3 / 8
    assert sat.loc[(0, "i"), "right"] == 1.0 and sat.loc[(0, "i"), "stuck"]
    assert sat.loc[(1, "f"), "left"] == 1.0 and sat.loc[(1, "f"), "stuck"]
    assert sat.loc[(0, "h"), "dead"] and sat.loc[(1, "h"), "dead"] and not sat.loc[(2, "h"), "dead"]
    assert not sat.loc[(2, "i"), "stuck"] and not sat.loc[(2, "i"), "dead"]
    assert set(sat.index.get_level_values("gate")) == {"i", "f", "o", "h"}
    found = dg.findings(dg.saturation(tr), dg.memory(tr), dg.cell_growth(tr))
    stuck = found[found.what.str.contains("stuck")]
    assert list(zip(stuck.unit, stuck.gate)) == [(0, "i"), (1, "f")]
    assert stuck.what.tolist() == ["i stuck open (right-saturated at 100% of steps)",
                                   "f stuck closed (left-saturated at 100% of steps)"]
    dead = found[found.what.str.startswith("dead unit")]
    assert dead.unit.tolist() == [0, 1] and set(dead.view) == {"saturation"}


def test_saturation_skips_gates_a_variant_does_not_have():
    tr = lstm_core.LSTM(2, 3, variant="coupled").trace(torch.randn(5, 2, 2))
    assert set(dg.saturation(tr).gate) == {"f", "o", "h"}


def test_memory_horizon_of_a_forget_gate_fixed_at_09():
    m = hand_model(f=LOGIT_09)
    T = 30
    tr = m.trace(torch.randn(T, 2, 1), lengths=torch.tensor([30, 20]))
    mem = dg.memory(tr)
    assert mem.mean_f.tolist() == pytest.approx([0.9, 0.9])
    assert mem.time_constant.tolist() == pytest.approx([10.0, 10.0], rel=1e-5)
    assert mem.half_life[0] == pytest.approx(math.log(0.5) / math.log(0.9), rel=1e-5)
    assert mem.steps_to_1e[0] == 10  # 0.9^9 = 0.387 > 1/e > 0.9^10 = 0.349
    assert mem.survival_end[0] == pytest.approx((0.9 ** 29 + 0.9 ** 19) / 2, rel=1e-4)
    assert mem.mean_length[0] == 25 and mem.ratio[0] == pytest.approx(0.4, rel=1e-5)
    s = dg.survival(tr, t0=5)
    assert np.isnan(s[:5]).all() and s[5, 0, 0] == 1.0
    assert s[15, 0, 0] == pytest.approx(0.9 ** 10, rel=1e-5)
    assert np.isnan(s[25, 1, 0])  # padding of the second sequence


def test_memory_counts_the_reverse_direction_in_its_reading_order():
    m = hand_model(f=LOGIT_09, bidirectional=True)
    with torch.no_grad():
        m.bias_ih_l0_reverse[2:4] = math.log(0.5 / 0.5) + torch.tensor([0.0, 2.0])  # f = 0.5 and σ(2)
    tr = m.trace(torch.randn(12, 1, 1), lengths=None)
    mem = dg.memory(tr).set_index(["direction", "unit"])
    assert mem.loc[(1, 0), "time_constant"] == pytest.approx(2.0, rel=1e-5)
    f1 = 1 / (1 + math.exp(-2))
    assert mem.loc[(1, 1), "time_constant"] == pytest.approx(1 / (1 - f1), rel=1e-5)
    s = dg.survival(tr, direction=1)
    assert s[3, 0, 0] == pytest.approx(0.5 ** 3)  # three reverse steps after its first (t = 11)


def test_short_memory_is_flagged():
    m = hand_model(f=0.0)  # f = 0.5: time constant 2
    tr = m.trace(torch.randn(40, 1, 1))
    found = dg.findings(dg.saturation(tr), dg.memory(tr), dg.cell_growth(tr))
    short = found[found.what.str.startswith("short memory")]
    assert short.what.tolist() == ["short memory: no unit keeps c longer than 2 steps (time constant), sequences "
                                   "are 40 steps long"]
    assert short.severity.tolist() == ["warning"] and short.view.tolist() == ["memory"]


def test_cell_state_growth_without_a_forget_gate():
    """No forget gate, i = σ(2), g = tanh(1): c_t = (t + 1) σ(2) tanh(1), a straight line."""
    m = hand_model(variant="no_forget_gate", i=2.0, g=1.0)
    T = 50
    tr = m.trace(torch.zeros(T, 3, 1))
    step = torch.sigmoid(torch.tensor(2.0)) * torch.tanh(torch.tensor(1.0))
    growth = dg.cell_growth(tr)
    assert growth.slope.tolist() == pytest.approx([float(step)] * 2, rel=1e-4)
    assert growth.max_abs[0] == pytest.approx(T * float(step), rel=1e-5)
    assert growth.growing.all()
    bounded = dg.cell_growth(hand_model(f=LOGIT_09, i=2.0, g=1.0).trace(torch.zeros(T, 3, 1)))
    assert not bounded.growing.any()  # c -> 10 σ(2) tanh(1) and stays
    found = dg.findings(dg.saturation(tr), dg.memory(tr), growth)
    grow = found[found.view == "cell_state"]
    assert grow.unit.tolist() == [0, 1] and grow.what[grow.index[0]].startswith("|c| keeps growing: +0.671 per step")


@pytest.mark.parametrize("bidirectional", [False, True])
def test_cell_gradient_of_a_fixed_forget_gate(bidirectional):
    """W_hh = 0 and f = 0.9: ∂c_T/∂c_t = 0.9^(T-t) I, so its norm is sqrt(H) 0.9^steps_back."""
    H = 3
    m = hand_model(H=H, f=LOGIT_09, bidirectional=bidirectional)
    lengths = torch.tensor([12, 7])
    threads = torch.get_num_threads()
    flow = dg.gradient_flow(m, torch.randn(12, 2, 1), lengths)
    assert torch.get_num_threads() == threads
    for d in range(2 if bidirectional else 1):
        c = flow[(flow.quantity == "dc_T/dc_t") & (flow.direction == d)]
        assert c.steps_back.tolist() == list(range(12))
        np.testing.assert_allclose(c.norm, math.sqrt(H) * 0.9 ** c.steps_back, rtol=1e-5)
        # a lag the short sequence reaches is averaged over both, the same here
        np.testing.assert_allclose(c.norm_min, c.norm_max, rtol=1e-5)
    summary = dg.gradient_summary(flow)
    row = summary[summary.quantity == "dc_T/dc_t"].iloc[0]
    assert row.ratio == pytest.approx(0.9 ** 11, rel=1e-4) and row.horizon == 11 and not row.vanishing
    # parameters untouched: no .grad, requires_grad restored; and torch's thread count restored
    assert m.weight_ih_l0.grad is None and all(p.requires_grad for p in m.parameters())


def test_input_gradient_matches_torch_jacobian():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(2, 4, 2, bidirectional=True)
    model = lstm_core.from_torch(ref)
    x = torch.randn(6, 2, 2)
    lengths = torch.tensor([6, 4])
    flow = dg.gradient_flow(model, x, lengths)
    for d in (0, 1):
        got = flow[(flow.quantity == "dh_T/dx_t") & (flow.direction == d)].set_index("steps_back").norm
        per_seq = []
        for b, n in enumerate(lengths.tolist()):
            xb = x[:n, b]
            jac = torch.autograd.functional.jacobian(lambda z: ref(z)[1][0][2 + d], xb)  # (P, n, I)
            norms = jac.pow(2).sum(dim=(0, 2)).sqrt()  # (n,)
            lags = (n - 1 - torch.arange(n)) if d == 0 else torch.arange(n)
            per_seq.append(dict(zip(lags.tolist(), norms.tolist())))
        for lag in got.index:
            want = np.mean([p[lag] for p in per_seq if lag in p])
            assert got[lag] == pytest.approx(want, rel=1e-4)


def test_what_if_clamping_f_to_zero():
    """W_hh = 0, f = 0.9, g reads x: forgetting unit 1 at step 5 removes 0.9 c_4 from c_5; the
    difference then decays by 0.9 a step, and unit 0 does not move."""
    m = hand_model(f=LOGIT_09, i=10.0)
    with torch.no_grad():
        m.weight_ih_l0[4:6, 0] = 1.0  # g = tanh(x) for both units
    x = torch.rand(10, 1, 1) + 0.5
    res = dg.what_if(m, x, [Clamp("f", 0.0, units=[1], steps=[5])])
    c = res.base.c[0, :, 0]  # (T, H)
    lost = 0.9 * float(c[4, 1])
    eff = res.effect[(res.effect.field == "c")].set_index("step")
    assert (eff.loc[:4, "max_abs_change"] == 0).all()
    for t in range(5, 10):
        assert eff.loc[t, "max_abs_change"] == pytest.approx(lost * 0.9 ** (t - 5), rel=1e-4)
        assert eff.loc[t, "mean_abs_change"] == pytest.approx(lost * 0.9 ** (t - 5) / 2, rel=1e-4)
    assert res.first_changed_step == 5 and res.output_change[:5].sum() == 0


def test_zero_units_silences_h():
    m = lstm_core.LSTM(2, 4)
    res = dg.what_if(m, torch.randn(7, 3, 2), dg.zero_units([1, 2], steps=range(3, 7)))
    assert torch.all(res.changed.h[0, 3:, :, 1:3] == 0)
    assert res.first_changed_step == 3


def test_diagnose_report_on_sequences():
    m = hand_model(H=3, variant="no_forget_gate", i=[2.0, 10.0, 0.0], g=1.0)
    seqs = from_arrays(np.random.default_rng(0).normal(size=(2, 40, 1)), [40, 30])
    report = dg.diagnose(m, seqs)
    assert list(report.findings.columns) == list(dg.FINDING_COLUMNS)
    assert report.findings.severity.tolist() == sorted(report.findings.severity, key=dg.SEVERITIES.index)
    assert set(report.findings.view) <= set(dg.VIEWS)
    assert {"cell_state", "saturation", "gradient_flow"} <= set(report.findings.view)
    json.dumps(report.to_dict())  # plain data all the way down
    quick = dg.diagnose(m, seqs, gradients=False, min_slope=100.0)
    assert quick.gradients is None and "cell_state" not in set(quick.findings.view)
    with pytest.raises(TypeError, match=r"diagnose: unknown thresholds \['slope'\]"):
        dg.diagnose(m, seqs, gradients=False, slope=1)


def test_go_backwards_is_read_in_its_own_order():
    """A go_backwards model (ONNX direction="reverse") reads each sequence from its end: its memory and
    gradient flow equal those of the same weights running forward on the reversed sequences."""
    back = lstm_core.LSTM(2, 3, go_backwards=True, seed=3, forget_bias=1.0)
    fwd = lstm_core.LSTM(2, 3, seed=3, forget_bias=1.0)
    x, lengths = torch.randn(9, 2, 2), torch.tensor([9, 5])
    x_rev = lstm_core.engine.reverse_time(x, lengths)
    with torch.no_grad():
        tb, tf = back.trace(x, lengths=lengths), fwd.trace(x_rev, lengths=lengths)
    pd_testing = pytest.importorskip("pandas").testing
    pd_testing.assert_frame_equal(dg.memory(tb), dg.memory(tf), atol=1e-6)
    flow_b, flow_f = dg.gradient_flow(back, x, lengths), dg.gradient_flow(fwd, x_rev, lengths)
    pd_testing.assert_frame_equal(flow_b, flow_f, atol=1e-6)
    assert flow_b[flow_b.quantity == "dc_T/dc_t"].set_index("steps_back").norm.is_monotonic_decreasing


def test_growth_needs_a_steady_rise_on_the_units_own_scale_on_a_real_character_model():
    """Issue 21: on the shipped character model 40 of 128 units were "growing", some printed as
    "+-0.0658 per step" (the second half fell, the last quarter rose). Now only units whose |c|
    rises steadily by a large part of its own scale are, all in one row."""
    model = lstm_core.load("assets/examples/char.pt")
    seqs = load_data("assets/examples/code.txt", vocab="assets/examples/vocab.json", lines=True)
    report = dg.diagnose(model, seqs, gradients=False)
    growth = report.cell_growth
    grows = growth[growth.growing]
    assert 1 <= len(grows) <= 16
    assert (grows.slope > 0).all() and (grows.rise >= 0.25).all() and (grows.fit >= 0.9).all()
    assert not report.findings.what.str.contains(r"\+-").any()
    (row,) = report.findings[report.findings.view == "cell_state"].itertuples()
    top = grows.loc[grows.slope.idxmax()]
    assert row.unit == top.unit
    assert row.what.startswith(f"|c| keeps growing in {len(grows)} units, most in unit {top.unit} (+{top.slope:.3g} "
                               f"per step")


def test_findings_shared_by_many_units_are_one_row():
    """Five units without a forget gate grow at 5 slopes: one row at the fastest, naming the others."""
    m = hand_model(H=5, variant="no_forget_gate", i=[1.0, 2.0, 3.0, 4.0, 0.5], g=1.0)
    tr = m.trace(torch.zeros(50, 2, 1))
    sat, mem, growth = dg.saturation(tr), dg.memory(tr), dg.cell_growth(tr)
    assert growth.growing.all()
    grow = dg.findings(sat, mem, growth).query("view == 'cell_state'")
    assert grow.unit.tolist() == [3]
    assert grow.what.iloc[0].startswith("|c| keeps growing in 5 units, most in unit 3 (+0.")
    assert grow.what.iloc[0].endswith("); also units 0, 1, 2, 4")
    apart = dg.findings(sat, mem, growth, group=6).query("view == 'cell_state'")
    assert apart.unit.tolist() == [0, 1, 2, 3, 4]
    from explorer.logic.diagnosis import units_named  # the Findings page's "units named": all five, not one

    assert units_named(dg.Report(dg.findings(sat, mem, growth), sat, mem, growth, None, None)) == 5


def test_the_shipped_examples_planted_faults_are_found_and_nothing_else_grows():
    """README: diagnose on assets/examples reports layer 0's f stuck closed (unit 1), |c| keeps growing
    (unit 3) and a dead unit (unit 5); unit 2, whose |c| wobbles up to 2.8, is no longer "growing"."""
    report = dg.diagnose(lstm_core.load("assets/examples/tagger.safetensors"), load_data("assets/examples/walks.npz"),
                         gradients=False)
    f = report.findings
    layer0 = f[(f.layer == 0) & (f.severity == "warning")]
    found = {(int(r.unit), r.what.split(":")[0].split(" (")[0]) for r in layer0.itertuples()}
    assert {(1, "f stuck closed"), (3, "|c| keeps growing"), (5, "dead unit")} <= found
    assert report.cell_growth.query("growing")[["layer", "unit"]].values.tolist() == [[0, 3]]
