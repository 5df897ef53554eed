"""lstm_core.check: the course texts' cells, every bug code planted in every layout and call
convention, correct cells passing, unknown and combined bugs, and the error messages.

Set LSTM_CHECKER_FULL=1 to run the whole layout x convention x bug matrix (about 2 minutes);
by default every bug meets every layout and every convention, in a rotation.
"""
import os

import pytest
import torch
from torch import nn

import lstm_core
from lstm_core.checker import BUG_CODES, CheckError, mutants
from lstm_core.checker.core import _probes, _weights
from helpers.checker_students import CONVENTIONS, LAYOUTS, PLANTED, PLANTED_COUPLED, make
from helpers.equations import run_equations

FULL = os.environ.get("LSTM_CHECKER_FULL") == "1"
LAYOUT_NAMES, CONV_NAMES = list(LAYOUTS), list(CONVENTIONS)


def _matrix(bugs, shift=0):
    """Each bug in every layout and in every convention: a Latin square, conventions rotating."""
    if FULL:
        return [(lay, conv, bug) for lay in LAYOUT_NAMES for conv in CONV_NAMES for bug in bugs]
    return [(lay, CONV_NAMES[(j + k + shift) % len(CONV_NAMES)], bug)
            for j, bug in enumerate(bugs) for k, lay in enumerate(LAYOUT_NAMES)]


# --- the course texts (our own versions of their cells; their gate bugs kept) ------------------------
class NotebookCell(nn.Module):
    """The notebook text's cell, its nn.Linear shapes repaired: forward(x, c, h) -> (c, h)."""

    fixed = False

    def __init__(self, input_dim, hidden_dim, wrong_shape=False):
        super().__init__()
        for q in "fioc":
            self.add_module(f"W_{q}", nn.Linear(hidden_dim, input_dim if wrong_shape and q == "f" else hidden_dim,
                                                bias=False))
            self.add_module(f"U_{q}", nn.Linear(input_dim, hidden_dim, bias=False))
            self.register_parameter(f"b_{q}", nn.Parameter(torch.randn(hidden_dim)))

    def forward(self, x, c, h):
        forget = torch.sigmoid(self.W_f(h) + self.U_f(x) + self.b_f)
        keep_in = torch.sigmoid(self.W_i(h) + self.U_i(x) + self.b_i)
        show = torch.sigmoid(self.W_o(h) + self.U_o(x) + self.b_o)
        proposal = torch.tanh(self.W_c(h) + self.U_c(x) + self.b_c)
        new_c = forget * c + keep_in * proposal if self.fixed else forget * keep_in * proposal
        return new_c, show * torch.tanh(new_c)


class NotebookCellFixed(NotebookCell):
    fixed = True


class CoupledNotebookCell(NotebookCell):
    """The notebook's coupled subclass: no input-gate weights, c = f c + (1 - f) g."""

    reversed = False

    def __init__(self, input_dim, hidden_dim):
        super().__init__(input_dim, hidden_dim)
        self.W_i = self.U_i = self.b_i = None

    def forward(self, x, c, h):
        forget = torch.sigmoid(self.W_f(h) + self.U_f(x) + self.b_f)
        show = torch.sigmoid(self.W_o(h) + self.U_o(x) + self.b_o)
        proposal = torch.tanh(self.W_c(h) + self.U_c(x) + self.b_c)
        a, b = (1 - forget, forget) if self.reversed else (forget, 1 - forget)
        new_c = a * c + b * proposal
        return new_c, show * torch.tanh(new_c)


class ScratchLSTM(nn.Module):
    """The from-scratch sequence module of the third text: plain tensors, x @ W, batch-first."""

    gate_fixed = loop_fixed = False

    def __init__(self, input_size, hidden_size, device):
        super().__init__()
        for q in "fioc":
            setattr(self, f"W_x{q}", torch.randn(input_size, hidden_size))
            setattr(self, f"W_h{q}", torch.randn(hidden_size, hidden_size))
            setattr(self, f"b_{q}", torch.zeros(hidden_size))

    def forward(self, X, state):
        prev_h, prev_c = state
        outs = []
        for t in range(X.shape[1]):
            x = X[:, t, :]
            f = torch.sigmoid(x @ self.W_xf + prev_h @ self.W_hf + self.b_f)
            i = torch.sigmoid(x @ self.W_xi + prev_h @ (self.W_hi if self.gate_fixed else self.W_hf) + self.b_i)
            o = torch.sigmoid(x @ self.W_xo + prev_h @ self.W_ho + self.b_o)
            cand = torch.tanh(x @ self.W_xc + prev_h @ self.W_hc + self.b_c)
            Ct = f * prev_c + i * cand
            Ht = o * torch.tanh(Ct)
            outs.append(Ht)
            if self.loop_fixed:
                prev_h, prev_c = Ht, Ct
        return torch.stack(outs, dim=1), (Ht, Ct)


class SchoolLSTM(nn.Module):
    """The text's "school version": weights in a list, forward((src, src_len), state)."""

    fixed = False

    def __init__(self, input_size, hidden_size, device):
        super().__init__()
        D, M = input_size, hidden_size
        self.params = []
        for _ in "cifo":
            self.params += [torch.randn(D, M) * 0.1, torch.randn(M, M) * 0.1, torch.zeros(M)]

    def forward(self, inputs, state):
        src, _ = inputs
        h, c = state
        W_xc, W_hc, b_c, W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o = self.params
        out = []
        for t in range(src.shape[1]):
            x = src[:, t, :]
            f = torch.sigmoid(x @ W_xf + h @ W_hf + b_f)
            i = torch.sigmoid(x @ W_xi + h @ (W_hi if self.fixed else W_hf) + b_i)
            o = torch.sigmoid(x @ W_xo + h @ W_ho + b_o)
            c = f * c + i * torch.tanh(x @ W_xc + h @ W_hc + b_c)
            h = o * torch.tanh(c)
            out.append(h)
        return torch.stack(out, dim=1), (h, c)


SCHOOL_LAYOUT = {}  # the list holds (W_x, W_h, b) for c, i, f, o; W stored (I, H), used as x @ W
for _k in "ifgo":  # the candidate's weights come first in the list, as "c"
    base = 3 * "cifo".index("c" if _k == "g" else _k)
    SCHOOL_LAYOUT.update({f"W_i{_k}": f"params.{base}.T", f"W_h{_k}": f"params.{base + 1}.T",
                          f"b_i{_k}": f"params.{base + 2}"})


def school_call(module, x, h, c):
    _, state = module((x.unsqueeze(1), None), (h, c))
    return state


class NeedleCell(nn.Module):
    """The needle text's cell written with torch: W_ih (I, 4H), the columns split and stacked."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype="float32"):
        super().__init__()
        k = 1 / hidden_size ** 0.5
        self.W_ih = nn.Parameter(torch.empty(input_size, 4 * hidden_size).uniform_(-k, k))
        self.W_hh = nn.Parameter(torch.empty(hidden_size, 4 * hidden_size).uniform_(-k, k))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size).uniform_(-k, k)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size).uniform_(-k, k)) if bias else None

    def forward(self, X, h=None):
        H = self.W_hh.shape[0]
        h0, c0 = h if h is not None else (X.new_zeros(X.shape[0], H),) * 2
        Z = X @ self.W_ih + h0 @ self.W_hh
        if self.bias_ih is not None:  # the text tests the tensor's truth value: repaired
            Z = Z + (self.bias_ih + self.bias_hh).reshape(1, -1)
        stripes = list(Z.split(1, dim=1))
        i = torch.sigmoid(torch.cat(stripes[0:H], 1))
        f = torch.sigmoid(torch.cat(stripes[H:2 * H], 1))
        g = torch.tanh(torch.cat(stripes[2 * H:3 * H], 1))
        o = torch.sigmoid(torch.cat(stripes[3 * H:4 * H], 1))
        c = f * c0 + i * g
        return o * torch.tanh(c), c


def test_notebook_cell_is_cell_update_and_passes_fixed():
    r = lstm_core.check(NotebookCell, input_size=3, hidden_size=5)
    assert not r.ok and r.bug.code == "cell_update"
    text = str(r)
    assert "f ⊙ i ⊙ g" in text and "c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t" in text
    assert "per-gate nn.Linear" in text and "forward(x, c, h) -> (c, h)" in text
    assert r.first_divergence.quantity == "c" and r.first_divergence.step == 0
    assert lstm_core.check(NotebookCellFixed, input_size=3, hidden_size=5).ok


def test_notebook_cell_with_the_texts_shape_error_is_named():
    with pytest.raises(CheckError, match=r"W_f: is nn.Linear\(5, 3\), but acting on h .* nn.Linear\(hidden_size=5"):
        lstm_core.check(NotebookCell(3, 5, wrong_shape=True), input_size=3, hidden_size=5)


def test_coupled_notebook_cell_passes_and_the_reversed_one_is_coupling():
    r = lstm_core.check(CoupledNotebookCell, input_size=3, hidden_size=5)
    assert r.ok and r.variant == "coupled"
    bad = type("Reversed", (CoupledNotebookCell,), {"reversed": True})
    r = lstm_core.check(bad, input_size=3, hidden_size=5)
    assert r.bug.code == "coupling" and "(1 - f_t) ⊙ g_t" in str(r)


def test_scratch_lstm_is_weight_reuse_then_its_loop_then_passes():
    r = lstm_core.check(ScratchLSTM, input_size=3, hidden_size=5)
    assert r.bug.code == "weight_reuse" and "W_hf" in r.bug.explanation
    assert "i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)" in str(r)
    assert any("loop" in n for n in r.notes)
    gate_fixed = type("GateFixed", (ScratchLSTM,), {"gate_fixed": True})
    r = lstm_core.check(gate_fixed, input_size=3, hidden_size=5)
    assert r.bug.code == "unknown" and "does not carry h and c" in r.bug.explanation
    both = type("Fixed", (ScratchLSTM,), {"gate_fixed": True, "loop_fixed": True})
    assert lstm_core.check(both, input_size=3, hidden_size=5).ok


def test_school_lstm_with_layout_and_call_is_weight_reuse_and_passes_fixed():
    r = lstm_core.check(SchoolLSTM, 3, 5, layout=SCHOOL_LAYOUT, call=school_call)
    assert r.bug.code == "weight_reuse" and "explicit layout=" in r.layout and "call=" in r.convention
    fixed = type("Fixed", (SchoolLSTM,), {"fixed": True})
    assert lstm_core.check(fixed, 3, 5, layout=SCHOOL_LAYOUT, call=school_call).ok


def test_a_fused_w_u_pair_of_linears_is_read_by_its_in_features():
    """W = nn.Linear(I, 4H), U = nn.Linear(H, 4H): the most common course layout (issue 21)."""
    r = lstm_core.check(make("fused_linear", "torch_cell"), input_size=3, hidden_size=5)
    assert r.ok and r.layout == "fused nn.Linear pair W (4H, I) on x, U (4H, H) on h", r.layout
    r = lstm_core.check(make("fused_linear_wh", "torch_cell", "missing_output_tanh"), input_size=3, hidden_size=5)
    assert r.bug.code == "missing_output_tanh" and r.layout == "fused nn.Linear pair U (4H, I) on x, W (4H, H) on h"


class ConcatCell(nn.Module):
    """One nn.Linear on the concatenation [h_{t-1}, x_t], as in Olah's "Understanding LSTM Networks"."""

    def __init__(self, input_size, hidden_size, stale=False):
        super().__init__()
        self.gates, self.stale = nn.Linear(hidden_size + input_size, 4 * hidden_size), stale

    def forward(self, x, state):
        h, c = state
        i, f, g, o = self.gates(torch.cat([h, x], dim=-1)).chunk(4, dim=-1)
        new_c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c if self.stale else new_c), new_c


@pytest.mark.parametrize("I", [3, 5])
def test_one_linear_on_the_concatenation_of_h_and_x_is_read(I):
    r = lstm_core.check(ConcatCell, input_size=I, hidden_size=5)
    assert r.ok and r.layout == "fused nn.Linear gates (4H, I + H) on [h, x]", r.layout
    assert lstm_core.check(ConcatCell(I, 5, stale=True), input_size=I, hidden_size=5).bug.code == "stale_cell"


def test_needle_cell_passes_in_its_layout_and_convention():
    r = lstm_core.check(NeedleCell, input_size=3, hidden_size=5)
    assert r.ok and "needle-style fused W_ih (I, 4H)" in r.layout and "needle" in r.convention


# --- planted bugs, correct cells -----------------------------------------------------------------
@pytest.mark.parametrize("layout,convention,bug", _matrix(PLANTED))
def test_planted_bug_is_named(layout, convention, bug):
    r = lstm_core.check(make(layout, convention, bug), input_size=3, hidden_size=5)
    assert not r.ok and r.bug.code == bug, str(r)
    assert r.first_divergence is not None and r.bug.also == ()


@pytest.mark.parametrize("layout,convention,bug", _matrix(PLANTED_COUPLED, shift=1))
def test_planted_bug_in_the_coupled_cell_is_named(layout, convention, bug):
    r = lstm_core.check(make(layout, convention, bug, coupled=True), input_size=3, hidden_size=5)
    assert r.variant == "coupled" and r.bug.code == bug, str(r)


@pytest.mark.parametrize("layout,convention,coupled",
                         [(lay, conv, False) for lay in LAYOUT_NAMES for conv in CONV_NAMES]
                         + [(lay, conv, True) for lay, conv, _ in _matrix([None], shift=2)])
def test_correct_cell_passes(layout, convention, coupled):
    r = lstm_core.check(make(layout, convention, None, coupled), input_size=3, hidden_size=5)
    assert r.ok and r.bug is None and r.first_divergence is None, str(r)
    assert torch.allclose(r.trace.h, r.reference_trace.h, atol=1e-9)
    assert torch.allclose(r.trace.gates, r.reference_trace.gates, atol=1e-9)  # recovered from the match
    assert str(r).startswith("✓")


@pytest.mark.parametrize("layout,bug", [("linear", None), ("linear_wx", None), ("tensors", None),
                                        ("linear_wx", "weight_reuse"), ("tensors", "transposed"),
                                        ("fused_linear", None), ("fused_linear_wh", None),
                                        ("fused_linear_wh", "weight_reuse")])
def test_square_sizes_where_shapes_cannot_tell_x_from_h(layout, bug):
    r = lstm_core.check(make(layout, "torch_cell", bug), input_size=4, hidden_size=4)
    assert (r.ok if bug is None else r.bug.code == bug), str(r)


def test_every_bug_code_has_a_mutant_and_the_reference_step_is_the_equations():
    lib = mutants.library("ifgo", 3, 5, ("bias_ih", "bias_hh"))
    assert {m.code for m in lib} | {"unknown", "coupling"} == set(BUG_CODES)
    assert "coupling" in {m.code for m in mutants.library("fgo", 3, 5, ("b",))}
    g = torch.Generator().manual_seed(0)
    w = _weights("ifgo", 3, 5, 2, g)
    x, h0, c0 = _probes(3, 5, 4, 3, g)
    params = {"weight_ih_l0": w.Wx.reshape(20, 3), "weight_hh_l0": w.Wh.reshape(20, 5),
              "bias_ih_l0": w.biases[0].reshape(-1), "bias_hh_l0": w.biases[1].reshape(-1)}
    ref = run_equations(params, x[1], h0=h0[1][None], c0=c0[1][None])
    h, c = h0[1], c0[1]
    for t in range(4):
        h, c, gates = mutants.step(w, mutants.REFERENCE, x[1, t], h, c)
        assert torch.allclose(h, ref["h"][0, t]) and torch.allclose(c, ref["c"][0, t])
        assert torch.allclose(gates[:, 1], ref["f"][0, t])
    for m in lib:  # no mutant is the reference in disguise
        a, b, _ = mutants.step(w, m.mutation, x[1, 0], h0[1], c0[1])
        ra, rb, _ = mutants.step(w, mutants.REFERENCE, x[1, 0], h0[1], c0[1])
        assert not (torch.allclose(a, ra) and torch.allclose(b, rb)), m


class _Extra(nn.Module):
    """A torch-layout cell with a mistake outside the library: c gets a constant added."""

    def __init__(self, I, H, second=None):
        super().__init__()
        self.weight_ih, self.weight_hh = nn.Parameter(torch.randn(4 * H, I)), nn.Parameter(torch.randn(4 * H, H))
        self.bias_ih, self.bias_hh = nn.Parameter(torch.randn(4 * H)), nn.Parameter(torch.randn(4 * H))
        self.second = second

    def forward(self, x, state):
        h, c = state
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        if self.second == "two":
            i, f, o, g = z.chunk(4, 1)  # gate_order ...
            c = torch.sigmoid(f) * torch.sigmoid(i) * torch.tanh(g)  # ... and cell_update
        else:
            i, f, g, o = z.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g) + 0.1
        return torch.sigmoid(o) * torch.tanh(c), c


def test_unknown_gives_first_divergence_and_per_gate_evidence():
    r = lstm_core.check(_Extra(3, 5), 3, 5)
    assert r.bug.code == "unknown" and not r.ok
    d = r.first_divergence
    assert (d.step, d.quantity, d.units) == (0, "c", (0, 1, 2, 3, 4)) and abs(d.difference - 0.1) < 1e-9
    assert r.bug.evidence["h_t line (from your own c_t)"].endswith(" 0")  # h = o tanh(c) holds for its own c
    assert "outside its range" in r.bug.evidence["gate i alone"]
    assert torch.isnan(r.trace.gates).all() and not torch.isnan(r.reference_trace.gates).any()


def test_two_mistakes_name_one_and_say_a_second_is_needed():
    r = lstm_core.check(_Extra(3, 5, "two"), 3, 5)
    assert {r.bug.code, *r.bug.also} == {"gate_order", "cell_update"}
    assert "second mistake" in r.bug.explanation


# --- errors --------------------------------------------------------------------------------------
class _NoWeights(nn.Module):
    def __init__(self, I, H):
        super().__init__()
        self.kernel = nn.Parameter(torch.randn(I, H))

    def forward(self, x, state):
        return state


class _Uncallable(nn.Module):
    def __init__(self, I, H):
        super().__init__()
        self.weight_ih, self.weight_hh = nn.Parameter(torch.randn(4 * H, I)), nn.Parameter(torch.randn(4 * H, H))

    def forward(self, a, b, c, d):
        raise RuntimeError("never")


ERRORS = [
    (lambda: lstm_core.check(_NoWeights, 3, 5), r"cannot tell where your module keeps its weights \(found: kernel"),
    (lambda: lstm_core.check(_Uncallable, 3, 5), r"(?s)cannot call your module in any convention.*Pass call="),
    (lambda: lstm_core.check(make("torch", "torch_cell"), 0, 5), r"input_size: expected an int >= 1, got 0"),
    (lambda: lstm_core.check(make("torch", "torch_cell"), 3, 5, variant="peephole"), r"knows 'standard' and"),
    (lambda: lstm_core.check(make("torch", "torch_cell"), 3, 5, variant="coupled"), r"no input-gate weights"),
    (lambda: lstm_core.check(make("torch", "torch_cell")(3, 5), 4, 5),
     r"weight_ih: shape \(20, 3\).*expected \(20, 4\)"),
    (lambda: lstm_core.check(SchoolLSTM, 3, 5, layout={**SCHOOL_LAYOUT, "W_ii": "params.99"}),
     r"'params.99': your module has no"),
    (lambda: lstm_core.check(SchoolLSTM, 3, 5, layout={"W_xx": "params.0"}), r"unknown name\(s\) 'W_xx'"),
    (lambda: lstm_core.check(SchoolLSTM, 3, 5, layout={**SCHOOL_LAYOUT, "W_ii": "params.\u00b2"}),
     r"'params.²': your module has no '²' there"),  # '²'.isdigit(), yet int('²') fails
    (lambda: lstm_core.check(SchoolLSTM, 3, 5, layout={"W_ii": "params.0.T"}), r"'W_hi' is missing"),
    (lambda: lstm_core.check(make("torch", "torch_cell"), 3, 5, call=3), r"call: expected a function"),
]


@pytest.mark.parametrize("make_error,message", ERRORS)
def test_errors_say_what_is_wrong(make_error, message):
    with pytest.raises(CheckError, match=message):
        make_error()
