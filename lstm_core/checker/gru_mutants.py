"""The GRU's bug library: the reference step and the mutants that make the mistakes students make.

One step of the GRU (`lstm_core.cells.gru`; blocks r | z | n, z the fraction of h_{t-1} kept):

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))     reset="after" (torch, cuDNN)
    n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)     reset="before" (Cho et al. 2014)
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

A `GRUMutation` is a set of switches on this step, as `mutants.Mutation` is on the LSTM's;
the defaults give the reference of the reset asked for. `mutants.combine` joins two of them.
Two mistakes give the same numbers and are named together: r and z exchanged in the
equations, and the blocks read in Keras's and ONNX's order z, r, n (the gate computed from
rows 0..H acts as the update gate either way).
"""
import itertools
from dataclasses import dataclass, fields

import torch

from ..cells import gru as cell
from .mutants import Mutant

BUG_CODES = ("rz_swap", "gate_order", "reset_place", "update_flipped", "bhn_folded", "reset_missing",
             "missing_tanh", "activation", "weight_reuse", "bias", "transposed", "stale_state", "unknown")

GATE_NAMES = {"r": "reset gate r", "z": "update gate z", "n": "candidate n"}

TITLES = {
    "rz_swap": "r and z are swapped",
    "gate_order": "the gate blocks are read in another order",
    "reset_place": "the reset gate is applied on the other side of the matmul",
    "update_flipped": "h_t = z ⊙ n + (1 − z) ⊙ h_{t-1}: the update is flipped",
    "bhn_folded": "b_hn is folded into b_in, outside r ⊙ (...)",
    "reset_missing": "the candidate ignores the reset gate",
    "missing_tanh": "the candidate n has no tanh",
    "activation": "tanh where σ belongs, or σ where tanh belongs",
    "weight_reuse": "a gate uses another gate's weights",
    "bias": "a bias is missing, doubled, or one bias vector is used for both",
    "transposed": "a weight matrix is used transposed",
    "stale_state": "the loop over time does not carry h from one step to the next",
    "unknown": "the values differ, and no mistake of the library explains it",
}

RESET_FORMS = {  # reset -> the candidate's reset term, and whose form it is
    "after": ("r ⊙ (W_hn h_{t-1} + b_hn)", "torch.nn.GRU's and cuDNN's form, reset='after'"),
    "before": ("W_hn (r ⊙ h_{t-1}) + b_hn", "Cho et al. 2014's form, ONNX's linear_before_reset=0 and Keras's "
               "reset_after=False, reset='before'"),
}


def form(reset):
    """'the reset after the matmul, r ⊙ (W_hn h_{t-1} + b_hn) (torch.nn.GRU's ...)' for a sentence."""
    term, whose = RESET_FORMS[reset]
    return f"the reset {reset} the matmul, {term} ({whose})"


_ACTS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "none": lambda v: v}
_DEFAULT_ACTS = ("sigmoid", "sigmoid", "tanh")


def equations(reset):
    """quantity -> the line of the equations that computes it, for reset "after" or "before"."""
    return dict(zip("rznh", cell.declaration(reset).equations))


@dataclass(frozen=True)
class GRUMutation:
    """Switches on the GRU step; the defaults (None / False) are the reference."""

    order: tuple | None = None  # order[k]: the block gate k (r, z, n) reads, weights and biases
    ih_src: tuple | None = None  # ih_src[k]: whose W_i· gate k uses (after order)
    hh_src: tuple | None = None  # hh_src[k]: whose W_h· gate k uses
    ih_T: tuple | None = None  # gates whose W_i· is used transposed (square only)
    hh_T: tuple | None = None  # gates whose W_h· is used transposed
    bias_src: tuple | None = None  # bias_src[k]: the bias vectors gate k adds (indices, repeats)
    act: tuple | None = None  # act[k]: "sigmoid", "tanh" or "none" for r, z, n
    reset: str | None = None  # "after" or "before": where r acts, when not the reference's
    fold_bhn: bool = False  # b_hn added outside r ⊙ (...), as if part of b_in
    no_reset: bool = False  # the candidate sees h_{t-1} whole: r is not applied
    flipped: bool = False  # h_t = z ⊙ n + (1 - z) ⊙ h_{t-1}

    def touched(self):
        return {f.name for f in fields(self) if getattr(self, f.name) not in (None, False)}


REFERENCE = GRUMutation()


def _sides(w):
    """The side, "x" or "h", of each bias vector: as the layout says, else the first on x."""
    return w.sides or tuple("x" if j == 0 else "h" for j in range(len(w.biases)))


def step(w, m, x, h, reset):
    """One step of the mutated GRU: x (B, I), h (B, H) -> (h_t (B, H), gates (B, 3, H) holding
    the effective r, z, n). w: `mutants.Weights` with gates "rzn"; reset: the reference's."""
    order = m.order or (0, 1, 2)
    acts = m.act or _DEFAULT_ACTS
    sides = _sides(w)
    pre_x, pre_h, b_x, b_h = [], [], [], []
    for k in range(3):
        src = order[k]
        Wx = w.Wx[m.ih_src[k] if m.ih_src else src]
        Wh = w.Wh[m.hh_src[k] if m.hh_src else src]
        Wx = Wx.T if m.ih_T and k in m.ih_T else Wx
        Wh = Wh.T if m.hh_T and k in m.hh_T else Wh
        pre_x.append(x @ Wx.T)  # (B, H)
        pre_h.append(Wh)  # (H, H): the n block's matmul depends on where r acts
        used = m.bias_src[k] if m.bias_src else range(len(w.biases))
        b_x.append(sum((w.biases[j][src] for j in used if sides[j] == "x"), torch.zeros_like(w.Wh[0, 0])))
        b_h.append(sum((w.biases[j][src] for j in used if sides[j] == "h"), torch.zeros_like(w.Wh[0, 0])))
    r = _ACTS[acts[0]](pre_x[0] + b_x[0] + h @ pre_h[0].T + b_h[0])
    z = _ACTS[acts[1]](pre_x[1] + b_x[1] + h @ pre_h[1].T + b_h[1])
    gate = torch.ones_like(r) if m.no_reset else r
    if (m.reset or reset) == "after":
        inner = h @ pre_h[2].T + (0 if m.fold_bhn else b_h[2])
        n_pre = pre_x[2] + b_x[2] + gate * inner + (b_h[2] if m.fold_bhn else 0)
    else:
        n_pre = pre_x[2] + b_x[2] + (gate * h) @ pre_h[2].T + b_h[2]
    n = _ACTS[acts[2]](n_pre)
    h_new = z * n + (1 - z) * h if m.flipped else (1 - z) * n + z * h
    return h_new, torch.stack([r, z, n], dim=1)  # (B, H), (B, 3, H)


def library(reset, input_size, hidden_size, bias_labels, bias_sides):
    """Every single-mistake mutant of a GRU with this reset ("after" or "before") and these
    bias vectors (their names in the student's code, and the side each is added on)."""
    ident = (0, 1, 2)
    gates = "rzn"
    out = []
    for perm in itertools.permutations(ident):
        if perm == (1, 0, 2):
            out.append(Mutant("rz_swap", "the gate computed from the r block acts as the update gate and the one "
                              "from the z block as the reset gate: r and z are exchanged in the equations, or the "
                              "blocks are read in the order z, r, n (Keras's and ONNX's) instead of torch's r, z, n "
                              "(the two give the same numbers)", "r", GRUMutation(order=perm)))
        elif perm != ident:
            reads = ", ".join(gates[p] for p in perm)
            moved = next(gates[k] for k in ident if perm[k] != k)
            out.append(Mutant("gate_order", f"the gates' weights are read in the order {reads} instead of torch's "
                              "r, z, n (each gate gets another gate's block)", moved, GRUMutation(order=perm)))
    other = "before" if reset == "after" else "after"
    out.append(Mutant("reset_place", f"the candidate applies {form(other)}, where {form(reset)} was asked for",
                      "n", GRUMutation(reset=other)))
    out.append(Mutant("update_flipped", "the state is updated as h_t = z ⊙ n + (1 − z) ⊙ h_{t-1}: z weighs the "
                      "candidate, where it is the fraction of h_{t-1} kept (torch, ONNX and Keras)", "h",
                      GRUMutation(flipped=True)))
    if reset == "after" and "h" in _sides_of(bias_labels, bias_sides):
        out.append(Mutant("bhn_folded", "b_hn is added outside the reset, r ⊙ (W_hn h_{t-1}) + b_hn, as if it "
                          "were part of b_in; with the reset after the matmul it must be inside: "
                          "r ⊙ (W_hn h_{t-1} + b_hn)", "n", GRUMutation(fold_bhn=True)))
    out.append(Mutant("reset_missing", "the candidate is computed from h_{t-1} without the reset gate r", "n",
                      GRUMutation(no_reset=True)))
    out.append(Mutant("missing_tanh", "the candidate n is its pre-activation, without the tanh", "n",
                      GRUMutation(act=("sigmoid", "sigmoid", "none"))))
    for k in ident:
        a = "tanh" if _DEFAULT_ACTS[k] == "sigmoid" else "sigmoid"
        acts = tuple(a if q == k else _DEFAULT_ACTS[q] for q in ident)
        out.append(Mutant("activation", f"the {GATE_NAMES[gates[k]]} uses {'σ' if a == 'sigmoid' else 'tanh'} "
                          f"instead of {'tanh' if a == 'sigmoid' else 'σ'}", gates[k], GRUMutation(act=acts)))
    out.append(Mutant("activation", "all of r, z and n use tanh", "r", GRUMutation(act=("tanh",) * 3)))
    out.append(Mutant("activation", "all of r, z and n use σ, the candidate n too", "n",
                      GRUMutation(act=("sigmoid",) * 3)))
    for k, j in itertools.permutations(ident, 2):
        src = tuple(j if q == k else q for q in ident)
        for mut, sym in ((GRUMutation(ih_src=src), ("W_i",)), (GRUMutation(hh_src=src), ("W_h",)),
                         (GRUMutation(ih_src=src, hh_src=src), ("W_i", "W_h"))):
            names = " and ".join(f"{s}{gates[j]}" for s in sym)
            out.append(Mutant("weight_reuse", f"the {GATE_NAMES[gates[k]]} is computed with {names}, the weights of "
                              f"the {GATE_NAMES[gates[j]]}, instead of its own", gates[k], mut))
    out += _bias_mutants(bias_labels)
    sides = [("hh_T", "W_h")] + ([("ih_T", "W_i")] if input_size == hidden_size else [])
    for side, sym in sides:
        out.append(Mutant("transposed", f"every gate's {sym}· is used transposed", "r",
                          GRUMutation(**{side: ident})))
        for k in ident:
            out.append(Mutant("transposed", f"{sym}{gates[k]} is used transposed in the {GATE_NAMES[gates[k]]}",
                              gates[k], GRUMutation(**{side: (k,)})))
    return out


def _sides_of(labels, sides):
    return sides or tuple("x" if j == 0 else "h" for j in range(len(labels)))


def _bias_mutants(labels):
    terms = tuple(range(len(labels)))
    ident = (0, 1, 2)
    out = []
    for j in terms:
        drop = tuple(q for q in terms if q != j)
        out.append(Mutant("bias", f"{labels[j]} is left out of every gate", "r",
                          GRUMutation(bias_src=(drop,) * 3)))
        out.append(Mutant("bias", f"{labels[j]} is added twice", "r", GRUMutation(bias_src=(terms + (j,),) * 3)))
    if terms:
        for k in ident:
            out.append(Mutant("bias", f"the {GATE_NAMES['rzn'[k]]} has no bias", "rzn"[k],
                              GRUMutation(bias_src=tuple(() if q == k else terms for q in ident))))
    return out
