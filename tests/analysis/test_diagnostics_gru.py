"""Diagnostics of a GRU (issue 20): findings read the cell's declaration, so they mean something for it."""
import math

import numpy as np
import pytest
import torch

import lstm_core
from lstm_core.analysis import diagnostics as dg
from lstm_core import zoo
from lstm_core.io.checkpoint import load_checkpoint
from lstm_core.tasks import get_task

from helpers.debug_models import GRU_PLANTED, planted_gru, walks

LOGIT_09 = math.log(0.9 / 0.1)  # σ(LOGIT_09) = 0.9


def planted_report(**kw):
    x, lengths = walks()
    return dg.diagnose(lstm_core.GRU.from_torch(planted_gru()), torch.tensor(x), torch.tensor(lengths), **kw)


def test_the_planted_faults_of_a_gru_are_found_and_nothing_else():
    """Each planted unit (tests/helpers/debug_models.py) has its finding, in the GRU's words, and no other
    unit has a saturation finding."""
    f = planted_report(gradients=False).findings
    sat = f[f.view == "saturation"]
    found = sorted((int(r.unit), r.gate, r.what.split(" (")[0]) for r in sat.itertuples())
    assert found == [(1, "h", "dead unit: h never changes"),  # z = 1 from h_0 = 0: h stays 0
                     (1, "z", "z stuck at 1: never writes"),
                     (3, "z", "z stuck at 0: keeps nothing"),
                     (5, "r", "r closed: the candidate ignores the past"),
                     (6, "h", "dead unit: h never changes")]
    assert set(sat.severity) == {"warning"} and {int(u) for u in sat.unit} == set(GRU_PLANTED)
    assert not f.what.str.contains(r"\bc\b|\bf\b|\|c\|").any()  # nothing of an LSTM's cell
    longest = f[f.view == "memory"].iloc[0]
    assert longest.unit == 1 and longest.gate == "z"  # z ≈ 1 keeps h for ever


def test_a_gru_has_no_cell_growth_and_its_gradient_flow_is_through_x():
    """h of a GRU is a convex mix of h_{t-1} and n in −1..1: it cannot grow, so no rows; its
    gradient flow is ‖∂h_T/∂x_t‖ (its trace has no probes for ∂h_T/∂h_t)."""
    r = planted_report(max_units=4)
    assert r.cell_growth.empty and r.cell_growth[r.cell_growth.growing].columns.tolist() == list(dg.GROWTH_COLUMNS)
    assert set(r.gradient_flow.quantity) == {"dh_T/dx_t"} and r.gradient_flow.steps_back.max() == 39
    assert r.memory.gate.unique().tolist() == ["z"]


def test_memory_of_a_z_fixed_at_09_is_ten_steps():
    """h_t keeps z ⊙ h_{t-1}: with z = 0.9 the time constant is 1 / (1 − 0.9) = 10 steps, as an
    LSTM's f = 0.9."""
    m = lstm_core.GRU(1, 2)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.bias_ih_l0[2:4] = LOGIT_09  # z's block
    tr = m.trace(torch.randn(30, 2, 1), lengths=torch.tensor([30, 20]))
    mem = dg.memory(tr)
    assert mem.gate.tolist() == ["z", "z"] and mem.mean_f.tolist() == pytest.approx([0.9, 0.9])
    assert mem.time_constant.tolist() == pytest.approx([10.0, 10.0], rel=1e-5)
    assert dg.survival(tr, t0=5)[15, 0, 0] == pytest.approx(0.9 ** 10, rel=1e-5)


def test_a_healthy_shipped_gru_has_no_warnings():
    model, meta = load_checkpoint("assets/models/recall-gru.safetensors")
    s = get_task("recall", meta["task_config"]).sample(16, 0, "eval")
    report = dg.diagnose(model.lstm, s.x)
    assert report.findings.severity.tolist() == ["info"] * len(report.findings)
    assert set(report.saturation.gate) == {"r", "z", "h"}


def test_roles_are_read_from_the_declaration():
    """z keeps and sets the write (1 − z), as a coupled LSTM's f; r lets the past into n;
    a standard LSTM's f only keeps, and its findings read as before ("f stuck closed")."""
    gru, coupled, std = (dg.roles(zoo.build(a, 1, 1)) for a in ("gru", "coupled", "standard"))
    assert (gru.memory, gru.keep, gru.keep_writes, gru.past, gru.measured, gru.bounded) == \
        ("h", "z", True, ("r",), ("r", "z"), True)
    assert (coupled.keep, coupled.keep_writes, coupled.measured) == ("f", True, ("f", "o"))
    assert (std.memory, std.keep, std.keep_writes, std.past, std.bounded) == ("c", "f", False, (), False)
    assert dg.roles(zoo.build("no_forget_gate", 1, 1)).keep is None


def test_what_if_on_a_gru_clamps_z_and_measures_h():
    """Clamping z to 1 from step 10 freezes h there: the change shows in h only (a GRU has no c)."""
    torch.manual_seed(0)
    m = lstm_core.GRU(2, 3)
    x = torch.randn(20, 2, 2)
    res = dg.what_if(m, x, [lstm_core.Clamp("z", 1.0, units=[1], steps=range(10, 20))])
    assert set(res.effect.field) == {"h"} and res.first_changed_step == 10
    h = res.changed.get("h")[:, :, 1]
    assert torch.equal(h[10:], h[9:10].expand(10, -1))  # never writes: h stays at its step-9 value


def test_clamp_targets_follow_the_declaration():
    """The what-if page's targets: an LSTM's as they were (f first), a GRU's z first and said to keep."""
    from explorer.logic.diagnosis import clamp_targets, clamp_value_help

    assert clamp_targets(zoo.build("standard", 1, 1)) == {
        "f": "forget gate f", "i": "input gate i", "o": "output gate o", "g": "candidate g", "c": "cell state c",
        "h": "hidden state h"}
    assert list(clamp_targets(zoo.build("gru", 1, 1)).values()) == [
        "update gate z (keeps h; 1 − z writes)", "reset gate r", "candidate n", "hidden state h"]
    assert clamp_targets(zoo.build("coupled", 1, 1))["i"] == "input gate i — i = 1 − f: tied to the f gate"
    assert clamp_value_help(zoo.build("gru", 1, 1)) == \
        "gates (r, z) live in 0..1 (z = 1 keeps everything, 0 keeps nothing), n, h in -1..1"


def test_a_gru_finding_of_many_units_is_one_row():
    """Five units with z pinned at σ(8..12): one row at the most saturated, naming the others, as the
    LSTM's grouped findings."""
    m = lstm_core.GRU(1, 6)
    with torch.no_grad():
        m.bias_ih_l0[6:11] = torch.tensor([8.0, 9.0, 12.0, 10.0, 11.0])  # z of units 0..4
        m.weight_ih_l0[6:11] = 0
        m.weight_hh_l0[6:11] = 0
    tr = m.trace(torch.randn(30, 2, 1))
    f = dg.findings(dg.saturation(tr), dg.memory(tr), dg.cell_growth(tr))  # the roles from saturation's attrs
    (row,) = f[f.what.str.startswith("z stuck at 1")].itertuples()
    assert row.what.startswith("z stuck at 1: never writes in 5 units, most in unit ")
    assert row.what.endswith(f"; also units {', '.join(str(u) for u in range(5) if u != row.unit)}")


def test_a_bidirectional_two_layer_gru_is_read_in_each_directions_order():
    """Every layer and direction has its rows; the reverse direction's memory is counted in the
    order it reads, and the gradient flow is per direction of the last layer."""
    torch.manual_seed(1)
    m = lstm_core.GRU(2, 3, num_layers=2, bidirectional=True)
    x, lengths = torch.randn(12, 3, 2), torch.tensor([12, 9, 5])
    r = dg.diagnose(m, x, lengths, max_units=2)
    keys = {(int(a), int(b)) for a, b in r.saturation[["layer", "direction"]].values}
    assert keys == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert sorted({(int(a), int(b)) for a, b in r.gradients[["layer", "direction"]].values}) == [(1, 0), (1, 1)]
    tr = m.trace(x, lengths=lengths).detach()
    s = dg.survival(tr, layer=0, direction=1)  # (T, B, H) in the order the reverse direction reads
    z = tr.get("z", 0, 1).numpy()  # (T, B, H) in time order
    np.testing.assert_allclose(s[1, 2], z[3, 2], rtol=1e-6)  # sequence 2 (5 steps) is read t = 4, 3, ...
    np.testing.assert_allclose(s[4, 2], z[3::-1, 2].prod(0), rtol=1e-5)
    assert np.isnan(s[5:, 2]).all()  # its padding, after its 5 steps in reading order
    assert r.gradient_flow.groupby(["layer", "direction"]).steps_back.max().tolist() == [11, 11]
