"""The bug library: the reference step, and mutants of it that make the mistakes students make.

One step of the standard cell, in the notation of `lstm_core.cells.variants` (gate k in i, f, g, o):

    z^k_t = W_ik x_t + b_ik + W_hk h_{t-1} + b_hk
    i_t = σ(z^i_t)   f_t = σ(z^f_t)   g_t = tanh(z^g_t)   o_t = σ(z^o_t)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

(coupled: no i parameters, i_t = 1 - f_t). A `Mutation` is a set of switches on this one
step; the default switches give the reference. Each mutant of `library()` flips the switches
of one mistake and carries the bug code, and a sentence on what the code then does.
Mutations combine (`combine`) to explain code with two mistakes.
"""
import itertools
from dataclasses import dataclass, fields, replace

import torch

BUG_CODES = ("gate_order", "weight_reuse", "cell_update", "missing_output_tanh", "stale_cell", "activation",
             "bias", "transposed", "state_swap", "coupling", "unknown")

GATE_NAMES = {"i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o"}

EQUATIONS = {  # the line of the equations each quantity is computed by
    "i": "i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)",
    "f": "f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)",
    "g": "g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)",
    "o": "o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)",
    "c": "c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t",
    "h": "h_t = o_t ⊙ tanh(c_t)",
}
COUPLED_EQUATIONS = {**{k: EQUATIONS[k] for k in "fgoh"}, "i": "i_t = 1 - f_t",
                     "c": "c_t = f_t ⊙ c_{t-1} + (1 - f_t) ⊙ g_t"}

TITLES = {
    "gate_order": "the gate blocks are read in another order",
    "weight_reuse": "a gate uses another gate's weights",
    "cell_update": "the cell update is not f ⊙ c_{t-1} + i ⊙ g",
    "missing_output_tanh": "h is o ⊙ c: the tanh on the cell state is missing",
    "stale_cell": "h is computed from the previous cell state c_{t-1}",
    "activation": "tanh where σ belongs, or σ where tanh belongs",
    "bias": "a bias is missing, doubled, or one bias vector is used for both",
    "transposed": "a weight matrix is used transposed",
    "state_swap": "h and c are returned in the other order",
    "coupling": "the coupled gate is coupled the wrong way",
    "unknown": "the values differ, and no mistake of the library explains it",
}

CELL_UPDATES = {  # name -> (formula, function of f, c_prev, i, g)
    "standard": ("f ⊙ c_{t-1} + i ⊙ g", lambda f, c, i, g: f * c + i * g),
    "fig": ("f ⊙ i ⊙ g (the old cell c_{t-1} is dropped, the gates multiplied)", lambda f, c, i, g: f * i * g),
    "no_keep": ("i ⊙ g (the kept part f ⊙ c_{t-1} is missing)", lambda f, c, i, g: i * g),
    "no_write": ("f ⊙ c_{t-1} (the written part i ⊙ g is missing)", lambda f, c, i, g: f * c),
    "ungated_write": ("f ⊙ c_{t-1} + g (the input gate i is not applied)", lambda f, c, i, g: f * c + g),
    "ungated_keep": ("c_{t-1} + i ⊙ g (the forget gate f is not applied)", lambda f, c, i, g: c + i * g),
    "product": ("f ⊙ c_{t-1} ⊙ i ⊙ g (a product instead of a sum)", lambda f, c, i, g: f * c * i * g),
}
COUPLINGS = {  # coupled variant only: name -> (formula, function of f, c_prev, g)
    "right": ("f ⊙ c_{t-1} + (1 - f) ⊙ g", lambda f, c, g: f * c + (1 - f) * g),
    "reversed": ("(1 - f) ⊙ c_{t-1} + f ⊙ g", lambda f, c, g: (1 - f) * c + f * g),
    "same": ("f ⊙ c_{t-1} + f ⊙ g (i = f instead of 1 - f)", lambda f, c, g: f * c + f * g),
}


@dataclass(frozen=True)
class Weights:
    """The weights the checker writes into the student's module, torch orientation.

    gates: "ifgo" or "fgo" (coupled), G = len(gates)
    Wx: (G, H, I) with z^k += Wx[k] @ x; Wh: (G, H, H) with z^k += Wh[k] @ h
    biases: tuple of (G, H), the bias vectors the layout has per gate (0 to 3; z^k adds them all)
    sides: for each bias vector, "x" or "h": the side of the matmul it is added on. An LSTM adds
        them all to one sum; a GRU's candidate puts the h side's b_hn inside r ⊙ (...)
    """

    gates: str
    Wx: torch.Tensor
    Wh: torch.Tensor
    biases: tuple
    sides: tuple = ()


@dataclass(frozen=True)
class Mutation:
    """Switches on the reference step; the defaults (None / False) are the reference."""

    order: tuple | None = None  # order[k]: the block gate k reads (weights and biases)
    ih_src: tuple | None = None  # ih_src[k]: whose W_i· gate k uses (after order)
    hh_src: tuple | None = None  # hh_src[k]: whose W_h· gate k uses
    ih_T: tuple | None = None  # gates whose W_i· is used transposed (square only)
    hh_T: tuple | None = None  # gates whose W_h· is used transposed
    bias_src: tuple | None = None  # bias_src[k]: tuple of the bias vectors gate k adds (indices, repeats)
    act: tuple | None = None  # act[k]: "sigmoid" or "tanh" for gate k
    out_act: str | None = None  # "tanh" (reference), "none" (h = o ⊙ c) or "sigmoid"
    cell: str | None = None  # a key of CELL_UPDATES
    coupling: str | None = None  # a key of COUPLINGS
    stale: bool = False  # h_t from c_{t-1}
    swap: bool = False  # returns (c, h)

    def touched(self):
        return {f.name for f in fields(self) if getattr(self, f.name) not in (None, False)}


REFERENCE = Mutation()


def combine(a, b):
    """The mutation with the switches of both, or None when they flip the same switch."""
    if a.touched() & b.touched():
        return None
    return replace(a, **{k: getattr(b, k) for k in b.touched()})


def step(w, m, x, h, c):
    """One step of the mutated cell: x (B, I), h (B, H), c (B, H) ->
    (first, second, gates): what it returns, (h_t, c_t) unless m.swap, and gates (B, 4, H)
    holding the effective i, f, g, o."""
    G = len(w.gates)
    order = m.order or tuple(range(G))
    acts = m.act or tuple("tanh" if k == "g" else "sigmoid" for k in w.gates)
    val = {}
    for k, name in enumerate(w.gates):
        src = order[k]
        Wx = w.Wx[m.ih_src[k] if m.ih_src else src]
        Wh = w.Wh[m.hh_src[k] if m.hh_src else src]
        if m.ih_T and k in m.ih_T:
            Wx = Wx.T
        if m.hh_T and k in m.hh_T:
            Wh = Wh.T
        z = x @ Wx.T + h @ Wh.T  # (B, H)
        for j in (m.bias_src[k] if m.bias_src else range(len(w.biases))):
            z = z + w.biases[j][src]
        val[name] = torch.sigmoid(z) if acts[k] == "sigmoid" else torch.tanh(z)
    f, g, o = val["f"], val["g"], val["o"]
    if "i" in w.gates:
        i = val["i"]
        c_new = CELL_UPDATES[m.cell or "standard"][1](f, c, i, g)
    else:
        i = 1 - f
        c_new = COUPLINGS[m.coupling or "right"][1](f, c, g)
    seen = c if m.stale else c_new
    out = {"tanh": torch.tanh, "none": lambda v: v, "sigmoid": torch.sigmoid}[m.out_act or "tanh"]
    h_new = o * out(seen)
    gates = torch.stack([i, f, g, o], dim=1)  # (B, 4, H)
    return (c_new, h_new, gates) if m.swap else (h_new, c_new, gates)


@dataclass(frozen=True)
class Mutant:
    code: str  # one of BUG_CODES
    what: str  # what the code does, one sentence
    line: str  # the quantity whose equation line it breaks: i f g o c h, or "return"
    mutation: Mutation


def _name(k):
    return GATE_NAMES[k]


def library(gates, input_size, hidden_size, bias_labels):
    """Every single-mistake mutant for a cell with these gates ("ifgo" or "fgo") and these
    bias vectors (their names in the student's code, e.g. ("bias_ih", "bias_hh"))."""
    n_biases = len(bias_labels)
    G = len(gates)
    ident = tuple(range(G))
    out = []
    for perm in itertools.permutations(ident):
        if perm != ident:
            reads = ", ".join(gates[p] for p in perm)
            moved = next(gates[k] for k in ident if perm[k] != k)
            out.append(Mutant("gate_order", f"the gates' weights are read in the order {reads} instead of "
                              f"{', '.join(gates)} (each gate gets another gate's block)", moved, Mutation(order=perm)))
    for k, j in itertools.permutations(ident, 2):
        for side, sym in (("ih_src", "W_i"), ("hh_src", "W_h"), ("both", "W_i and W_h")):
            src = tuple(j if q == k else q for q in ident)
            mut = Mutation(ih_src=src, hh_src=src) if side == "both" else Mutation(**{side: src})
            names = " and ".join(f"{s}{gates[j]}" for s in sym.split(" and "))
            out.append(Mutant("weight_reuse", f"the {_name(gates[k])} is computed with {names}, the weights of "
                              f"the {_name(gates[j])}, instead of its own", gates[k], mut))
    for k in ident:
        for a in ("sigmoid", "tanh"):
            default = "tanh" if gates[k] == "g" else "sigmoid"
            if a != default:
                acts = tuple(a if q == k else ("tanh" if gates[q] == "g" else "sigmoid") for q in ident)
                sym = "σ" if a == "sigmoid" else "tanh"
                out.append(Mutant("activation", f"the {_name(gates[k])} uses {sym} instead of "
                                  f"{'tanh' if a == 'sigmoid' else 'σ'}", gates[k], Mutation(act=acts)))
    out.append(Mutant("activation", "all gates use tanh, the candidate g too", "i",
                      Mutation(act=tuple("tanh" for _ in ident))))
    out.append(Mutant("activation", "all gates use σ, the candidate g too", "g",
                      Mutation(act=tuple("sigmoid" for _ in ident))))
    out.append(Mutant("activation", "h applies σ to the cell state instead of tanh", "h", Mutation(out_act="sigmoid")))
    if "i" in gates:
        for name, (formula, _) in CELL_UPDATES.items():
            if name != "standard":
                out.append(Mutant("cell_update", f"the cell state is computed as c_t = {formula}", "c",
                                  Mutation(cell=name)))
    else:
        for name, (formula, _) in COUPLINGS.items():
            if name != "right":
                out.append(Mutant("coupling", f"the coupled cell computes c_t = {formula}", "c",
                                  Mutation(coupling=name)))
    out.append(Mutant("missing_output_tanh", "h is computed as o ⊙ c_t, without the tanh", "h",
                      Mutation(out_act="none")))
    out.append(Mutant("stale_cell", "h is computed from c_{t-1}, the cell state before this step's update", "h",
                      Mutation(stale=True)))
    out.append(Mutant("state_swap", "h and c are returned in each other's place", "return", Mutation(swap=True)))
    terms = tuple(range(n_biases))
    labels = list(bias_labels)
    for j in terms:
        drop = tuple(q for q in terms if q != j)
        out.append(Mutant("bias", f"{labels[j]} is left out of every gate", "i" if "i" in gates else "f",
                          Mutation(bias_src=tuple(drop for _ in ident))))
        out.append(Mutant("bias", f"{labels[j]} is added twice", "i" if "i" in gates else "f",
                          Mutation(bias_src=tuple(terms + (j,) for _ in ident))))
        for j2 in terms:
            if j2 != j:
                used = tuple(j2 if q == j else q for q in terms)
                out.append(Mutant("bias", f"{labels[j2]} is used in place of {labels[j]}, one bias vector "
                                  "for both", "i" if "i" in gates else "f",
                                  Mutation(bias_src=tuple(used for _ in ident))))
    if n_biases:
        for k in ident:
            out.append(Mutant("bias", f"the {_name(gates[k])} has no bias", gates[k],
                              Mutation(bias_src=tuple(() if q == k else terms for q in ident))))
    sides = [("hh_T", "W_h")] + ([("ih_T", "W_i")] if input_size == hidden_size else [])
    for side, sym in sides:
        out.append(Mutant("transposed", f"every gate's {sym}· is used transposed", gates[0],
                          Mutation(**{side: ident})))
        for k in ident:
            out.append(Mutant("transposed", f"{sym}{gates[k]} is used transposed in the {_name(gates[k])}",
                              gates[k], Mutation(**{side: (k,)})))
    return out
