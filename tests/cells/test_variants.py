"""Every variant against its equations (tests/helpers/equations.py), on every path, and the
special settings under which a variant reduces to another."""
import pytest
import torch
from torch.autograd import gradcheck
from torch.func import functional_call

import lstm_core
from helpers.equations import close, run_equations, variant_kwargs
from lstm_core.cells.variants import REGISTRY

D64 = torch.float64
# (num_layers, bidirectional, proj_size, bias, with lengths and state)
LAYOUTS = [(2, True, 0, True, True), (1, False, 2, False, False), (2, False, 0, True, True)]
CELLS = [(v, None, "current") for v in lstm_core.VARIANTS]
CELLS += [(v, True, po) for v in lstm_core.VARIANTS if v != "peephole" for po in ("current", "previous")]
CELLS += [("peephole", None, "previous"), ("standard", None, ("hard_sigmoid", 0.2, 0.5)),
          ("coupled", True, ("hard_sigmoid", 1 / 6, 0.5))]


def _model(variant, peephole, extra, layout, dtype=D64):
    L, bi, proj, bias, _ = layout
    kw = {"gate_activation": extra} if isinstance(extra, tuple) else {"peephole_output": extra}
    m = lstm_core.LSTM(3, 4, L, variant=variant, bidirectional=bi, proj_size=proj, bias=bias,
                       peephole=peephole, dtype=dtype, init="normal", **kw)
    return m


def _call(m, layout, dtype=D64):
    T, B = 6, 3
    x = torch.randn(T, B, 3, dtype=dtype)
    if not layout[4]:
        return x, None, None
    LD, P = m.num_layers * m.num_directions, m.proj_size or m.hidden_size
    state = (torch.randn(LD, B, P, dtype=dtype), torch.randn(LD, B, 4, dtype=dtype))
    return x, state, torch.tensor([6, 3, 1])


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda l: f"L{l[0]}{'bi' if l[1] else ''}p{l[2]}")
@pytest.mark.parametrize("variant,peephole,extra", CELLS)
def test_every_path_matches_the_equations(variant, peephole, extra, layout):
    m = _model(variant, peephole, extra, layout)
    x, state, lengths = _call(m, layout)
    want = run_equations(dict(m.named_parameters()), x, h0=state and state[0], c0=state and state[1],
                         lengths=lengths, **variant_kwargs(m))
    methods = ["reference", "loop"] + (["replay"] if m.cell.fusable else [])
    for method in methods:
        with torch.set_grad_enabled(method == "reference"):
            tr = m.trace(x, state, lengths=lengths, method=method)
        assert tr.method == method
        for name in ("i", "f", "g", "o", "c", "h", "output", "h_n", "c_n"):
            close(getattr(tr, name).detach(), want[name], 1e-10)
    out, (h_n, c_n) = m(x, state, lengths=lengths)
    close(out.detach(), want["output"], 1e-10)
    close(h_n.detach(), want["h_n"], 1e-10)
    close(c_n.detach(), want["c_n"], 1e-10)


@pytest.mark.parametrize("T,B,H", [(40, 4, 8), (12, 32, 64)])  # narrow and wide batches take other code
@pytest.mark.parametrize("variant", lstm_core.VARIANTS)
def test_float32_paths_agree(variant, T, B, H):
    m = lstm_core.LSTM(5, H, 2, variant=variant, bidirectional=True)
    x = torch.randn(T, B, 5)
    with torch.no_grad():
        ref = m.trace(x, method="reference")
        for method in ["loop"] + (["replay"] if m.cell.fusable else []):
            tr = m.trace(x, method=method)
            for name in ("gates", "c", "h"):
                close(getattr(tr, name), getattr(ref, name), 1e-5)


@pytest.mark.parametrize("variant,peephole,extra", [("standard", None, "current"), ("coupled", True, "current"),
                                                     ("full_gate_recurrence", None, "current")])
@pytest.mark.parametrize("layout", [LAYOUTS[1], LAYOUTS[2]], ids=["L1p2", "L2"])
def test_go_backwards_matches_the_equations(variant, peephole, extra, layout):
    """go_backwards (ONNX direction="reverse"): every layer from each sequence's own end to its
    start, everything returned in input time order; interventions are given in time order too."""
    L, bi, proj, bias, _ = layout
    m = lstm_core.LSTM(3, 4, L, variant=variant, proj_size=proj, bias=bias, peephole=peephole, dtype=D64,
                       init="normal", go_backwards=True)
    x, state, lengths = _call(m, layout)
    want = run_equations(dict(m.named_parameters()), x, h0=state and state[0], c0=state and state[1],
                         lengths=lengths, **variant_kwargs(m))
    for method in ["reference", "loop"] + (["replay"] if m.cell.fusable else []):
        with torch.set_grad_enabled(method == "reference"):
            tr = m.trace(x, state, lengths=lengths, method=method)
        for name in ("i", "f", "g", "o", "c", "h", "output", "h_n", "c_n"):
            close(getattr(tr, name).detach(), want[name], 1e-10)
    out, (h_n, c_n) = m(x, state, lengths=lengths)
    close(out.detach(), want["output"], 1e-10)
    close(c_n.detach(), want["c_n"], 1e-10)
    # a clamp at step 2 changes the steps before it (run later), never the ones after
    with torch.no_grad():
        free = m.trace(x, state, lengths=lengths, method="reference")
        held = m.trace(x, state, lengths=lengths, interventions=[lstm_core.Clamp("f", 0.0, units=[1], steps=[2])])
    assert torch.equal(held.c[-1, 3:].nan_to_num(), free.c[-1, 3:].nan_to_num())
    assert (held.f[0, 2, :2, 1] == 0).all()  # sequence 2 has one step: 2 is padding
    assert not torch.equal(held.c[-1, :2].nan_to_num(), free.c[-1, :2].nan_to_num())


def test_go_backwards_is_the_reverse_half_of_torch_bidirectional():
    ref = torch.nn.LSTM(3, 5, bidirectional=True)
    m = lstm_core.LSTM(3, 5, go_backwards=True)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(getattr(ref, name + "_reverse"))
    x, lengths = torch.randn(7, 4, 3), torch.tensor([7, 2, 5, 1])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, (h_n, c_n) = ref(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=7)
    with torch.no_grad():
        tr = m.trace(x, lengths=lengths)
    close(tr.output, out[..., 5:], 1e-6)
    close(tr.h_n[0], h_n[1], 1e-6)
    close(tr.c_n[0], c_n[1], 1e-6)
    with pytest.raises(ValueError, match="go_backwards=True runs the one direction backwards; bidirectional=True"):
        lstm_core.LSTM(3, 5, bidirectional=True, go_backwards=True)
    with pytest.raises(ValueError, match="to_torch: torch.nn.LSTM has no go_backwards"):
        m.to_torch()


def test_effective_gates_of_gateless_variants():
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        for variant, name in (("no_input_gate", "i"), ("no_forget_gate", "f"), ("no_output_gate", "o")):
            tr = lstm_core.LSTM(3, 4, variant=variant).trace(x)
            assert torch.equal(getattr(tr, name), torch.ones_like(tr.c))
        tr = lstm_core.LSTM(3, 4, variant="coupled").trace(x)
        close(tr.i, 1 - tr.f, 1e-7)
        tr = lstm_core.LSTM(3, 4, variant="no_output_activation").trace(x)
        close(tr.h, tr.o * tr.c, 1e-7)
        tr = lstm_core.LSTM(3, 4, variant="no_forget_gate").trace(x)
        close(tr.c[0, 1:], tr.c[0, :-1] + (tr.i * tr.g)[0, 1:], 1e-6)


def _copy_common(src, dst, gates_src, gates_dst):
    """Copy the gate rows dst has from src (both lstm_core.LSTM, same sizes)."""
    H = src.hidden_size
    with torch.no_grad():
        for name, p in dst.named_parameters():
            q = dict(src.named_parameters()).get(name)
            if q is None:
                p.zero_()
            elif name.startswith(("weight_ih", "weight_hh", "bias")):
                for j, k in enumerate(gates_dst):
                    s = gates_src.index(k)
                    p[j * H:(j + 1) * H] = q[s * H:(s + 1) * H]
            else:
                p.copy_(q)


@pytest.mark.parametrize("variant", [v for v in lstm_core.VARIANTS if v != "peephole"])
def test_zero_peepholes_reduce_to_the_cell_without(variant):
    plain = lstm_core.LSTM(3, 4, 2, variant=variant, dtype=D64)
    peep = lstm_core.LSTM(3, 4, 2, variant=variant, peephole=True, dtype=D64)
    g = REGISTRY[variant].gates
    _copy_common(plain, peep, g, g)
    x = torch.randn(6, 2, 3, dtype=D64)
    close(peep(x)[0].detach(), plain(x)[0].detach(), 1e-12)


def test_zero_gate_recurrence_reduces_to_standard():
    std = lstm_core.LSTM(3, 4, dtype=D64)
    fgr = lstm_core.LSTM(3, 4, variant="full_gate_recurrence", dtype=D64)
    _copy_common(std, fgr, "ifgo", "ifgo")
    x = torch.randn(6, 2, 3, dtype=D64)
    close(fgr(x)[0].detach(), std(x)[0].detach(), 1e-12)


def test_coupled_is_standard_with_negated_forget_rows_as_input_gate():
    cpl = lstm_core.LSTM(3, 4, variant="coupled", dtype=D64)
    std = lstm_core.LSTM(3, 4, dtype=D64)
    H = 4
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            f, g, o = getattr(cpl, name).split(H)
            getattr(std, name).copy_(torch.cat([-f, f, g, o]))
    x = torch.randn(6, 2, 3, dtype=D64)
    close(std(x)[0].detach(), cpl(x)[0].detach(), 1e-12)


def test_no_input_activation_is_linear_in_the_candidate():
    m = lstm_core.LSTM(3, 4, variant="no_input_activation", dtype=D64)
    x = torch.randn(4, 1, 3, dtype=D64)
    with torch.no_grad():
        tr = m.trace(x)
        w = m.layer_weights(0)
        h_prev = torch.cat([torch.zeros(1, 1, 4, dtype=D64), tr.h[0, :-1]])
        z = x @ w.w_ih.T + h_prev @ w.w_hh.T + w.bias
        close(tr.g[0], z[..., 8:12], 1e-12)


@pytest.mark.parametrize("variant,peephole", [(v, None) for v in lstm_core.VARIANTS] + [("coupled", True)])
def test_gradcheck(variant, peephole):
    m = lstm_core.LSTM(2, 3, 2, variant=variant, peephole=peephole, bidirectional=True, dtype=D64)
    names = [n for n, _ in m.named_parameters()]
    x = torch.randn(4, 2, 2, dtype=D64, requires_grad=True)
    h0 = torch.randn(4, 2, 3, dtype=D64, requires_grad=True)
    params = [p.detach().clone().requires_grad_() for p in m.parameters()]

    def f(x, h0, *ps):
        tr = functional_call(m, dict(zip(names, ps)), (x, (h0, torch.zeros_like(h0))),
                             {"lengths": torch.tensor([4, 2])}, strict=True)
        return tr[0], tr[1][1]

    assert gradcheck(f, (x, h0, *params), eps=1e-6, atol=1e-5)
    tr = m.trace(x, (h0, torch.zeros_like(h0)))
    assert tr.c.requires_grad and tr.gates.requires_grad


def test_fused_and_reference_gradients_agree():
    m = lstm_core.LSTM(3, 4, 2, variant="no_forget_gate", dtype=D64)
    x = torch.randn(5, 2, 3, dtype=D64)
    m(x)[0].sum().backward()
    fused = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    m.trace(x).output.sum().backward()
    for a, p in zip(fused, m.parameters()):
        close(a, p.grad, 1e-10)
