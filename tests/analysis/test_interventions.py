"""What-if runs (Clamp) and gradient probes."""
import torch

import lstm_core
from lstm_core import Clamp
from helpers.equations import close


def test_clamped_forget_gate_holds_the_cell():
    m = lstm_core.LSTM(2, 3, variant="coupled", dtype=torch.float64)
    x = torch.randn(10, 1, 2, dtype=torch.float64)
    with torch.no_grad():
        tr = m.trace(x, interventions=[Clamp("f", 1.0, units=[1], steps=range(3, 8))])
    assert torch.equal(tr.f[0, 3:8, 0, 1], torch.ones(5, dtype=torch.float64))
    assert torch.equal(tr.i[0, 3:8, 0, 1], torch.zeros(5, dtype=torch.float64))  # coupled: i = 1 - f
    assert torch.allclose(tr.c[0, 3:8, 0, 1], tr.c[0, 2, 0, 1].expand(5))  # held
    base = m.trace(x.clone()).c.detach()
    close(tr.c[0, :3], base[0, :3], 0.0)  # nothing changes before the intervention


def test_ablating_units_matches_zeroed_weights():
    """Clamping h of a unit to 0 at every step = removing that unit's outgoing weights."""
    m = lstm_core.LSTM(2, 4, 2, dtype=torch.float64)
    x = torch.randn(6, 2, 2, dtype=torch.float64)
    with torch.no_grad():
        got = m.trace(x, interventions=[Clamp("h", 0.0, units=[2], layer=0)])
        m.weight_hh_l0[:, 2] = 0
        m.weight_ih_l1[:, 2] = 0
        want = m.trace(x)
    close(got.h[1], want.h[1], 1e-12)
    close(got.output, want.output, 1e-12)


def test_clamps_in_the_reverse_direction_count_steps_in_time():
    m = lstm_core.LSTM(2, 3, bidirectional=True, dtype=torch.float64)
    x = torch.randn(6, 2, 2, dtype=torch.float64)
    with torch.no_grad():
        tr = m.trace(x, lengths=[6, 4], interventions=[Clamp("o", 0.0, steps=[1], direction=1)])
    assert torch.equal(tr.o[1, 1], torch.zeros(2, 3, dtype=torch.float64))
    assert torch.equal(tr.h[1, 1], torch.zeros(2, 3, dtype=torch.float64))
    assert (tr.o[1, 0] != 0).all() and (tr.o[0, 1] != 0).all()


def test_probes_give_derivatives_with_respect_to_each_state():
    m = lstm_core.LSTM(2, 3, dtype=torch.float64)
    x = torch.randn(8, 1, 2, dtype=torch.float64)
    tr = m.trace(x, probes=True)
    dc, = torch.autograd.grad(tr.c_n.sum(), tr.probes["c"])
    assert torch.equal(dc[0, -1], torch.ones(1, 3, dtype=torch.float64))  # dc_T/dc_T = 1
    # finite differences: nudge c_3 of unit 0 and rerun the tail by hand through interventions
    eps = 1e-6
    with torch.no_grad():
        c3 = tr.c[0, 3, 0, 0].item()
        up = m.trace(x, interventions=[Clamp("c", c3 + eps, units=[0], steps=[3])]).c_n.sum()
        down = m.trace(x, interventions=[Clamp("c", c3 - eps, units=[0], steps=[3])]).c_n.sum()
    assert abs((up - down).item() / (2 * eps) - dc[0, 3, 0, 0].item()) < 1e-6
