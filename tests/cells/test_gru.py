"""lstm_core.GRU against torch.nn.GRU over every option, and its record against the equations."""
import itertools

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import lstm_core

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
OPTIONS = list(itertools.product((1, 2), (True, False), (False, True)))  # num_layers, bias, bidirectional
MODES = ("padded", "lengths", "packed", "unbatched")
METHODS = ("auto", "replay", "loop", "reference")


def _pair(num_layers, bias, bidirectional, batch_first=False, dtype=torch.float32):
    ref = nn.GRU(3, 5, num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional, dtype=dtype)
    return ref, lstm_core.GRU.from_torch(ref)


def _equations(w, x, h, reset):
    """r, z, n, h' of one step from the GRU's equations in numpy, float64 (an independent reference).

    w: the layer's parameters as numpy arrays; x (B, I), h (B, H)."""
    def sig(a):
        return 1 / (1 + np.exp(-a))
    H = h.shape[1]
    Wi, Wh = w["weight_ih"], w["weight_hh"]
    bi = w.get("bias_ih", np.zeros(3 * H))
    bh = w.get("bias_hh", np.zeros(3 * H))
    gi = x @ Wi.T + bi
    r = sig(gi[:, :H] + h @ Wh[:H].T + bh[:H])
    z = sig(gi[:, H:2 * H] + h @ Wh[H:2 * H].T + bh[H:2 * H])
    if reset == "after":
        n = np.tanh(gi[:, 2 * H:] + r * (h @ Wh[2 * H:].T + bh[2 * H:]))
    else:
        n = np.tanh(gi[:, 2 * H:] + (r * h) @ Wh[2 * H:].T + bh[2 * H:])
    return r, z, n, (1 - z) * n + z * h


def _check_record(model, tr, x, lengths=None, tol=1e-5):
    """Every valid step's r, z, n, h of every layer and direction recomputed from the equations,
    from the recorded h_{t-1} and the layer's input; NaN on padding."""
    T, B = x.shape[:2]
    lengths = torch.full((B,), T) if lengths is None else torch.as_tensor(lengths)
    layer_in = x.double().numpy()
    for k in range(model.num_layers):
        outs = []
        for d in range(model.num_directions):
            w = {n: p.detach().double().numpy() for n, p in model.layer_weights(k, d).items() if p is not None}
            hs = tr.get("h", k, d).double().numpy()
            for b in range(B):
                n_b = int(lengths[b])
                order = range(n_b) if d == 0 else range(n_b - 1, -1, -1)
                h = np.zeros((1, model.hidden_size))
                for t in order:
                    r, z, n, h_new = _equations(w, layer_in[t, b][None], h, model.reset)
                    for name, want in zip("rznh", (r, z, n, h_new)):
                        got = tr.get(name, k, d)[t, b].double().numpy()
                        assert np.abs(got - want[0]).max() <= tol, (name, k, d, t, b)
                    h = hs[t, b][None]
                assert torch.isnan(tr.get("z", k, d)[n_b:, b]).all()
            outs.append(np.nan_to_num(hs))
        layer_in = np.concatenate(outs, axis=-1)


@pytest.mark.parametrize("num_layers,bias,bidirectional", OPTIONS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_forward_equals_torch(num_layers, bias, bidirectional, mode, dtype):
    ref, model = _pair(num_layers, bias, bidirectional, dtype=dtype)
    T, B = 6, 3
    x = torch.randn(T, B, 3, dtype=dtype)
    h0 = torch.randn(num_layers * (2 if bidirectional else 1), B, 5, dtype=dtype)
    lengths = torch.tensor([6, 2, 4])
    with torch.no_grad():
        if mode == "unbatched":
            want, got = ref(x[:, 0], h0[:, 0]), model(x[:, 0], h0[:, 0])
        elif mode == "packed":
            p = pack_padded_sequence(x, lengths, enforce_sorted=False)
            (wo, wh), (go, gh) = ref(p, h0), model(p, h0)
            assert torch.equal(wo.batch_sizes, go.batch_sizes)
            want, got = (wo.data, wh), (go.data, gh)
        elif mode == "lengths":
            wo, wh = ref(pack_padded_sequence(x, lengths, enforce_sorted=False), h0)
            want = (nn.utils.rnn.pad_packed_sequence(wo)[0], wh)
            got = model(x, h0, lengths=lengths)
        else:
            want, got = ref(x, h0), model(x, h0)
    for w, g in zip(want, got):
        assert g.shape == w.shape
        assert (g - w).abs().max() <= TOL[dtype]


@pytest.mark.parametrize("num_layers,bias,bidirectional", OPTIONS)
@pytest.mark.parametrize("method", METHODS)
def test_trace_records_the_equations(num_layers, bias, bidirectional, method):
    ref, model = _pair(num_layers, bias, bidirectional, dtype=torch.float64)
    x = torch.randn(7, 3, 3, dtype=torch.float64)
    lengths = [7, 3, 5]
    with torch.no_grad():
        tr = model.trace(x, lengths=lengths, method=method)
        out, h_n = ref(pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False))
    assert tr.fields == ("r", "z", "n", "h")
    assert tr.z.shape == (num_layers * model.num_directions, 7, 3, 5)
    assert tr.method == ("replay" if method == "auto" else method)
    assert (tr.h_n - h_n).abs().max() <= 1e-10
    assert (tr.output - nn.utils.rnn.pad_packed_sequence(out)[0]).abs().max() <= 1e-10
    assert tr.c_n is None
    _check_record(model, tr, x, lengths, tol=1e-10)


@pytest.mark.parametrize("method", ("auto", "loop", "reference"))
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_reset_before_is_chos_form(method, dtype):
    """reset="before" has no torch reference: the equations in numpy are it."""
    model = lstm_core.GRU(3, 5, 2, bidirectional=True, reset="before", seed=1, dtype=dtype)
    x = torch.randn(6, 2, 3, dtype=dtype)
    with torch.no_grad():
        tr = model.trace(x, lengths=[6, 4], method=method)
        out, h_n = model(x, lengths=[6, 4])
    assert torch.equal(out.isnan(), torch.zeros_like(out, dtype=torch.bool))
    assert (tr.output - out).abs().max() <= TOL[dtype]
    _check_record(model, tr, x, [6, 4], tol=1e-5 if dtype == torch.float32 else 1e-10)
    # and it is a different cell from torch's: the same weights give another h
    after = lstm_core.GRU(3, 5, 2, bidirectional=True, seed=1, dtype=dtype)
    assert (after(x)[0] - model(x)[0]).abs().max() > 1e-3


def test_batch_first_and_go_backwards():
    ref, model = _pair(2, True, False, batch_first=True)
    x = torch.randn(3, 6, 3)
    with torch.no_grad():
        assert (ref(x)[0] - model(x)[0]).abs().max() <= 1e-5
        tr = model.trace(x)
    assert tr.get("z").shape == (6, 3, 5)  # time-major whatever the input layout
    back = lstm_core.GRU(3, 5, go_backwards=True, seed=2)
    fwd = lstm_core.GRU(3, 5, seed=2)
    xt = torch.randn(6, 2, 3)
    with torch.no_grad():
        ob, hb = back(xt)
        of, hf = fwd(xt.flip(0))
    assert (ob - of.flip(0)).abs().max() <= 1e-6 and (hb - hf).abs().max() <= 1e-6


def test_gradients_equal_torch():
    ref, model = _pair(2, True, True, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    tr = model.trace(x)
    assert tr.method == "reference"  # autograd on and weights need grad: every step is a node
    tr.output.sum().backward()
    want_x = x.grad.clone()
    x.grad = None
    ref(x)[0].sum().backward()
    assert (want_x - x.grad).abs().max() <= 1e-10
    for (name, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        assert (p.grad - q.grad).abs().max() <= 1e-10, name


def test_round_trips_and_cells():
    cell = nn.GRUCell(3, 4)
    model = lstm_core.GRU.from_torch(cell)
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    with torch.no_grad():
        assert (model(x[None], h[None])[0][0] - cell(x, h)).abs().max() <= 1e-6
    ref = nn.GRU(3, 4, 2, bidirectional=True)
    back = lstm_core.GRU.from_torch(ref).to_torch()
    assert isinstance(back, nn.GRU)
    for (a, p), (b, q) in zip(ref.state_dict().items(), back.state_dict().items()):
        assert a == b and torch.equal(p, q)
    torch.manual_seed(3)
    theirs = nn.GRU(3, 4, 2)
    torch.manual_seed(3)
    ours = lstm_core.GRU(3, 4, 2)
    assert all(torch.equal(p, q) for p, q in zip(theirs.parameters(), ours.parameters()))
    assert all(torch.equal(p, q) for p, q in zip(lstm_core.GRU(3, 4, seed=5).parameters(),
                                                  lstm_core.GRU(3, 4, seed=5).parameters()))


def test_declaration_and_cell_parts():
    model = lstm_core.GRU(2, 3, seed=0)
    tr = model.trace(torch.randn(5, 2, 2))
    d = tr.declaration
    assert d.gates == ("r", "z") and d.memory == "h" and d.blocks == "rzn"
    assert d.field("z").range == (0.0, 1.0) and d.field("n").range == (-1.0, 1.0)
    assert "keeps" in d.notes["z"]
    kept, written = tr.cell_parts()
    h_prev = torch.cat([torch.zeros(1, 2, 3), tr.h[0, :-1]])
    assert torch.allclose(kept, tr.z[0] * h_prev, atol=1e-6)
    assert torch.allclose(written, (1 - tr.z[0]) * tr.n[0], atol=1e-6)
    with pytest.raises(AttributeError, match="GRU trace has no stacked i, f, g, o; its fields are r, z, n, h"):
        tr.gates
    with pytest.raises(AttributeError, match="this GRU trace has no field 'f'; it records r, z, n, h"):
        tr.f
    with pytest.raises(ValueError, match="name: expected one of r, z, n, h, got 'c'"):
        tr.get("c")


def test_interventions_clamp_z():
    """z clamped at 1 keeps h: a unit whose update gate is shut never writes."""
    model = lstm_core.GRU(2, 3, seed=0)
    x = torch.randn(6, 1, 2)
    h0 = torch.randn(1, 1, 3)
    tr = model.trace(x, h0, interventions=[lstm_core.Clamp("z", 1.0, units=[1])])
    assert torch.equal(tr.z[0, :, 0, 1], torch.ones(6))
    assert torch.allclose(tr.h[0, :, 0, 1], h0[0, 0, 1].expand(6))


ERRORS = [
    (lambda: lstm_core.GRU(3, 4, reset="middle"), ValueError,
     r"reset: expected 'after' \(torch.nn.GRU, cuDNN\) or 'before' \(Cho et al. 2014\), got 'middle'"),
    (lambda: lstm_core.GRU(3, 0), ValueError, r"hidden_size: expected an int >= 1, got 0"),
    (lambda: lstm_core.GRU(3, 4, bidirectional=True, go_backwards=True), ValueError, r"choose one"),
    (lambda: lstm_core.GRU(3, 4, reset="before").to_torch(), ValueError, r"nn.GRU cannot compute"),
    (lambda: lstm_core.GRU(3, 4, reset="before").trace(torch.randn(2, 1, 3), method="replay"), ValueError,
     r"method: expected one of auto, loop, reference for this GRU \(reset before the matmul, Cho et al. 2014\), "
     r"got 'replay'"),
    (lambda: lstm_core.GRU(3, 4).trace(torch.randn(2, 1, 3), method="compiled"), ValueError,
     r"method: expected one of auto, replay, loop, reference for this GRU, got 'compiled'"),
    (lambda: lstm_core.GRU(3, 4)(torch.randn(2, 1, 3), (torch.zeros(1, 1, 4), torch.zeros(1, 1, 4))), TypeError,
     r"state: expected a tensor h0, got tuple"),
    (lambda: lstm_core.GRU(3, 4)(torch.randn(2, 1, 3), torch.zeros(2, 1, 4)), ValueError,
     r"state: h0 expected shape \(1, 1, 4\)"),
    (lambda: lstm_core.GRU.from_torch(nn.LSTM(3, 4)), TypeError, r"expected torch.nn.GRU or torch.nn.GRUCell, got LSTM"),
    (lambda: lstm_core.GRU(3, 4).copy_weights({}), ValueError, r"weights do not fit this GRU: missing"),
    (lambda: lstm_core.GRU(3, 4).trace(torch.randn(2, 1, 3), interventions=[lstm_core.Clamp("f", 1.0)]),
     ValueError, r"Clamp target: this model's cell records r, z, n, h, got 'f'"),
]


@pytest.mark.parametrize("call,error,message", ERRORS)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_exports_hold_the_grus_fields(tmp_path):
    """NPZ, the long table and LSTMVis read the declaration: r, z, n, h and no c."""
    import h5py

    from lstm_core.io import export
    from lstm_core.io import lstmvis
    model = lstm_core.GRU(2, 3, 2, bidirectional=True, seed=0)
    tr = model.trace(torch.randn(4, 2, 2), lengths=[4, 2])
    arrays = export.to_arrays(tr)
    assert list(arrays["fields"]) == ["r", "z", "n", "h"] and "c" not in arrays and "c_n" not in arrays
    assert str(arrays["cell"]) == "gru" and np.array_equal(arrays["z"], tr.z.detach().numpy(), equal_nan=True)
    df = export.to_long_frame(tr)
    assert list(df.gate.cat.categories) == ["r", "z", "n", "h"]
    assert len(df) == 4 * 2 * 2 * 3 * (4 + 2)  # fields x L*D x H x valid steps
    row = df[(df.gate == "z") & (df.layer == 1) & (df.direction == 1) & (df.step == 1) & (df.batch == 1)]
    assert np.allclose(row.value, tr.get("z", 1, 1)[1, 1].detach().numpy())
    with pytest.raises(ValueError, match="fields: this GRU trace records r, z, n, h, got c"):
        export.to_long_frame(tr, fields=["c"])
    lstmvis.write_lstmvis(tr, tmp_path, gates=True)
    with h5py.File(tmp_path / "states.hdf5") as f:
        assert sorted(f) == ["gate_r1", "gate_r1_reverse", "gate_r2", "gate_r2_reverse", "gate_z1", "gate_z1_reverse",
                             "gate_z2", "gate_z2_reverse", "output1", "output1_reverse", "output2", "output2_reverse",
                             "states1", "states1_reverse", "states2", "states2_reverse"]
        assert np.allclose(f["states2_reverse"][:4], tr.get("h", 1, 1)[:, 0].detach().numpy())


def test_a_step_in_words_follows_the_numbers():
    """The GRU's sentences say z keeps and 1 − z writes, with the step's own numbers."""
    from lstm_core.cells import describe_step
    lines = describe_step(lstm_core.GRU(1, 1).declaration, dict(r=0.3, z=0.8, n=-0.52, h=0.226, h_prev=0.412, prev=3))
    assert lines == ["The state comes from step 3: h = 0.412.",
                     "r lets 30% of the past into the candidate: n = -0.520.",
                     "z keeps 80% of h and writes 20% of n: z·h = 0.330, (1 − z)·n = -0.104.",
                     "So h' = 0.330 − 0.104 = 0.226."]


@pytest.mark.parametrize("reset", ("after", "before"))
def test_the_loop_without_torchscript_gives_the_same_numbers(monkeypatch, reset):
    """TorchScript is deprecated: where it cannot compile the steps, the same functions run as Python."""
    from lstm_core.cells import gru as cell
    model = lstm_core.GRU(3, 5, 2, reset=reset, seed=0, dtype=torch.float64)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        scripted = model.trace(x, method="loop")
        monkeypatch.setattr(cell, "_scripted", lambda: None)
        plain = model.trace(x, method="loop")
    for name in scripted.fields:
        assert torch.equal(scripted.get(name, 1), plain.get(name, 1)), name
    _check_record(model, plain, x, tol=1e-10)


def test_a_forward_with_gradients_runs_torchs_kernel_and_trains_like_it():
    """Training calls forward with autograd on: the fused kernel's own backward, not the step loop."""
    ref, model = _pair(2, True, True, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    out, h_n = model(x)
    (out.sum() + h_n.sum()).backward()
    (ref(x)[0].sum() + ref(x)[1].sum()).backward()
    for (name, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        assert (p.grad - q.grad).abs().max() <= 1e-10, name
    r = model._run(lstm_core.inputs.prepare(model, x), record=False)
    assert r.method == "fused"
