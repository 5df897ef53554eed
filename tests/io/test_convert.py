"""Weights in and out: nn.LSTM, nn.LSTMCell, prefixed state dicts, the needle layout."""
import numpy as np
import pytest
import torch
from torch import nn

import lstm_core
from helpers.equations import close
from helpers import Tagger


@pytest.mark.parametrize("kw", [dict(), dict(num_layers=3, bidirectional=True), dict(proj_size=2, bias=False),
                                dict(batch_first=True, dropout=0.3, num_layers=2)])
def test_from_torch_and_back(kw):
    ref = nn.LSTM(4, 5, **kw)
    ours = lstm_core.from_torch(ref)
    for name in ("num_layers", "bias", "batch_first", "dropout", "bidirectional", "proj_size"):
        assert getattr(ours, name) == getattr(ref, name), name
    back = ours.to_torch()
    x = torch.randn(2, 6, 4)
    ref.eval(), ours.eval(), back.eval()
    close(ours(x)[0], ref(x)[0], 1e-6)
    close(back(x)[0], ref(x)[0], 0.0)


def test_from_lstm_cell():
    cell = nn.LSTMCell(4, 6)
    ours = lstm_core.LSTM.from_torch(cell)
    x, h, c = torch.randn(3, 4), torch.randn(3, 6), torch.randn(3, 6)
    want_h, want_c = cell(x, (h, c))
    _, (got_h, got_c) = ours(x[None], (h[None], c[None]))
    close(got_h[0], want_h, 1e-6)
    close(got_c[0], want_c, 1e-6)
    assert lstm_core.from_state_dict(cell.state_dict()).hidden_size == 6


def test_state_dict_under_a_prefix():
    t = Tagger()
    sd = t.state_dict()
    assert lstm_core.find_lstms(sd) == ["encoder.rnn."]
    ours = lstm_core.from_state_dict(sd, batch_first=True)
    assert (ours.num_layers, ours.bidirectional, ours.hidden_size, ours.batch_first) == (2, True, 8, True)
    x = torch.randn(2, 5, 6)
    close(ours(x)[0], t.encoder.rnn(x)[0], 1e-6)


def test_state_dict_with_several_lstms_needs_a_prefix():
    sd = {**{f"a.{k}": v for k, v in nn.LSTM(2, 3).state_dict().items()},
          **{f"b.{k}": v for k, v in nn.LSTM(3, 4).state_dict().items()}}
    with pytest.raises(ValueError, match=r"state_dict: holds 2 LSTMs, under prefixes \['a.', 'b.'\]: pass prefix="):
        lstm_core.from_state_dict(sd)
    assert lstm_core.from_state_dict(sd, prefix="b.").input_size == 3
    with pytest.raises(ValueError, match=r"prefix: no LSTM weights under 'c.'; found \['a.', 'b.'\]"):
        lstm_core.from_state_dict(sd, prefix="c.")


@pytest.mark.parametrize("variant", lstm_core.VARIANTS)
def test_state_dicts_of_every_variant_round_trip(variant):
    src = lstm_core.LSTM(3, 4, 2, variant=variant, bidirectional=True)
    dst = lstm_core.from_state_dict(src.state_dict(), variant=variant)
    x = torch.randn(5, 2, 3)
    close(dst(x)[0], src(x)[0], 0.0)


@pytest.mark.parametrize("variant", ["standard", "peephole", "full_gate_recurrence"])
def test_variant_read_off_the_names(variant):
    """Shapes and extra parameter names tell these apart; the others need variant=."""
    assert lstm_core.from_state_dict(lstm_core.LSTM(3, 4, variant=variant).state_dict()).variant == variant


STATE_DICT_ERRORS = [
    ({"fc.weight": torch.zeros(2, 2)}, {}, r"state_dict: no LSTM weights found"),
    (lstm_core.LSTM(3, 4, variant="coupled").state_dict(), {},
     r"weights with 3 gate blocks fit several variants \(coupled, no_input_gate, no_forget_gate, no_output_gate\): pass variant="),
    (lstm_core.LSTM(3, 4, variant="coupled").state_dict(), {"variant": "standard"},
     r"variant 'standard' has 4 gate blocks, the weights have 3"),
    ({**nn.LSTM(3, 4).state_dict(), "weight_hh_l0": torch.zeros(16, 5)}, {},
     r"weight_hh_l0: expected \(G\*H, P\) rows a multiple of H=5, found shape \(16, 5\)"),
    ({"weight_ih_l0": torch.zeros(10, 3), "weight_hh_l0": torch.zeros(10, 5)}, {},
     r"weights with 2 gate blocks fit no variant: an LSTM has 4 \(or 3 for a variant with one gate less\)"),
    ({**nn.LSTM(3, 4).state_dict(), "bias_hh_l0": torch.zeros(12)}, {},
     r"bias_hh_l0: expected shape \(16,\), found \(12,\)"),
    ({k: v for k, v in nn.LSTM(3, 4, 2).state_dict().items() if k != "weight_ih_l1"}, {},
     r"weights do not fit 'standard': missing \['weight_ih_l1'\], unexpected none"),
]


@pytest.mark.parametrize("sd,kw,message", STATE_DICT_ERRORS)
def test_state_dict_errors(sd, kw, message):
    with pytest.raises(ValueError, match=message):
        lstm_core.from_state_dict(sd, **kw)


def test_needle_layout():
    """The needle course text stores W_ih as (in, 4H) and computes Z = X W_ih + h W_hh + b."""
    I, H = 3, 4
    rng = np.random.default_rng(0)
    layers = [{"W_ih": rng.normal(size=(I if k == 0 else H, 4 * H)), "W_hh": rng.normal(size=(H, 4 * H)),
               "bias_ih": rng.normal(size=4 * H), "bias_hh": rng.normal(size=4 * H)} for k in range(2)]
    ours = lstm_core.from_needle(layers)
    assert ours.num_layers == 2 and ours.dtype == torch.float64
    x = torch.randn(5, 2, I, dtype=torch.float64)
    # the needle computation, written out
    h = [torch.zeros(2, H, dtype=torch.float64) for _ in layers]
    c = [torch.zeros(2, H, dtype=torch.float64) for _ in layers]
    for t in range(5):
        inp = x[t]
        for k, w in enumerate(layers):
            Z = inp @ torch.tensor(w["W_ih"]) + h[k] @ torch.tensor(w["W_hh"]) + torch.tensor(w["bias_ih"] + w["bias_hh"])
            i, f, g, o = Z.split(H, dim=1)
            c[k] = torch.sigmoid(f) * c[k] + torch.sigmoid(i) * torch.tanh(g)
            h[k] = torch.sigmoid(o) * torch.tanh(c[k])
            inp = h[k]
    _, (h_n, c_n) = ours(x)
    close(h_n.detach(), torch.stack(h), 1e-12)
    flat = {f"lstm_cells.{k}.{n}": v for k, w in enumerate(layers) for n, v in w.items()}
    close(lstm_core.from_needle(flat)(x)[1][1].detach(), torch.stack(c), 1e-12)
    with pytest.raises(ValueError, match=r"layer 0: W_ih expected shape \(input_size, 16\), found \(16, 3\)"):
        lstm_core.from_needle({"W_ih": layers[0]["W_ih"].T, "W_hh": layers[0]["W_hh"]})
    with pytest.raises(ValueError, match=r"weights: unexpected key 'cells.W'"):
        lstm_core.from_needle({"cells.W": 1})


def test_to_torch_refuses_other_variants():
    with pytest.raises(ValueError, match=r"to_torch: torch.nn.LSTM only computes the standard cell; this model is 'coupled'"):
        lstm_core.LSTM(3, 4, variant="coupled").to_torch()
    with pytest.raises(TypeError, match=r"module: expected torch.nn.LSTM or torch.nn.LSTMCell, got GRU"):
        lstm_core.from_torch(nn.GRU(3, 4))
