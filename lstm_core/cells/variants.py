"""The LSTM variants, as switches on one cell.

Greff et al. 2017, "LSTM: A Search Space Odyssey" (Section 2 and 3), define
each variant as an ablation of one "vanilla" cell. We do the same: the cell is
written once (`lstm_core.cells.lstm_cell.step`), and a variant is a class whose attributes
switch parts of it off. Each class's docstring gives its equations in the
notation of the standard cell below, where

    z^k_t = W_ik x_t + b_ik + W_hk h_{t-1} + b_hk        for a gate k in {i, f, g, o}

and σ is the logistic sigmoid, ⊙ the element-wise product.

Rules. `variant_rules(name)` (or `rules_of(cls)`) turns a variant's switches into
its `Rules`: for each gate, whether it has parameters, is fixed at 1 or tied to
1 - another gate, which gates see c through peepholes, and the equations as text.
The cell, the engine's paths and the app read a variant only through them.

Parameter layout. A variant keeps nn.LSTM's names and row order (i, f, g, o) for
the gates it has parameters for, with rows only for those gates: `weight_ih_l0`
is (G*H, I) with G = len(variant.gates). Extra parameters are named:
    weight_peephole_l{k}  (len(peephole gates), H)  rows in the order i, f, o
    weight_gg_l{k}        (3*H, 3*H)                full gate recurrence (i, f, o) <- (i, f, o)
"""
import functools
from dataclasses import dataclass


class Variant:
    """The standard LSTM, exactly `torch.nn.LSTM` (Hochreiter & Schmidhuber 1997,
    with the forget gate of Gers et al. 2000).

        i_t = σ(z^i_t)
        f_t = σ(z^f_t)
        g_t = tanh(z^g_t)
        o_t = σ(z^o_t)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        h_t = o_t ⊙ tanh(c_t)

    With proj_size P > 0 (Sak et al. 2014): h_t = W_hr (o_t ⊙ tanh(c_t)), P features.
    """

    name = "standard"
    summary = "torch.nn.LSTM exactly: input, forget and output gates, tanh on g and c."
    gates = "ifgo"  # gates with parameters, in nn.LSTM row order
    coupled = False  # i_t = 1 - f_t
    input_activation = True  # g_t = tanh(z^g_t); False: g_t = z^g_t
    output_activation = True  # h_t = o_t ⊙ tanh(c_t); False: h_t = o_t ⊙ c_t
    gate_recurrence = False  # gates also see the previous step's i, f, o
    peephole = False  # peephole connections switched on by the variant itself


class Coupled(Variant):
    """Coupled input and forget gate, CIFG (Greff et al. 2017, Section 3, "CIFG").

        f_t = σ(z^f_t)
        i_t = 1 - f_t
        c_t = f_t ⊙ c_{t-1} + (1 - f_t) ⊙ g_t

    Differs from the standard cell: no input-gate parameters; what is forgotten is
    replaced. Greff et al. and ONNX (`input_forget=1`) couple the other way,
    f_t = 1 - i_t; since 1 - σ(z) = σ(-z), that is this cell with negated weights.
    """

    name = "coupled"
    summary = "CIFG: one gate f decides both forgetting and writing, i = 1 - f."
    gates = "fgo"
    coupled = True


class Peephole(Variant):
    """Peephole connections (Gers & Schmidhuber 2000; Greff et al.'s "vanilla" LSTM).

        i_t = σ(z^i_t + p_i ⊙ c_{t-1})
        f_t = σ(z^f_t + p_f ⊙ c_{t-1})
        o_t = σ(z^o_t + p_o ⊙ c_t)        (peephole_output="previous": p_o ⊙ c_{t-1})

    Differs from the standard cell: the gates see the cell state through diagonal
    (per-unit) weights p, stored as `weight_peephole_l{k}` with rows (p_i, p_f, p_o).
    Peepholes combine with every other variant through `peephole=True`.
    """

    name = "peephole"
    summary = "The gates also look at the cell state c through per-unit weights."
    peephole = True


class NoInputGate(Variant):
    """No input gate, NIG (Greff et al. 2017, Section 3).

        i_t = 1
        c_t = f_t ⊙ c_{t-1} + g_t

    Differs from the standard cell: everything proposed is written.
    """

    name = "no_input_gate"
    summary = "NIG: i = 1, every candidate g is written into the cell."
    gates = "fgo"


class NoForgetGate(Variant):
    """No forget gate, NFG: the original LSTM of Hochreiter & Schmidhuber 1997
    (Greff et al. 2017, Section 3).

        f_t = 1
        c_t = c_{t-1} + i_t ⊙ g_t

    Differs from the standard cell: the cell never forgets (the constant error carousel).
    """

    name = "no_forget_gate"
    summary = "NFG, the 1997 LSTM: f = 1, the cell only accumulates."
    gates = "igo"


class NoOutputGate(Variant):
    """No output gate, NOG (Greff et al. 2017, Section 3).

        o_t = 1
        h_t = tanh(c_t)

    Differs from the standard cell: the whole cell state is always exposed.
    """

    name = "no_output_gate"
    summary = "NOG: o = 1, h shows tanh(c) unfiltered."
    gates = "ifg"


class NoInputActivation(Variant):
    """No input activation function, NIAF (Greff et al. 2017, Section 3).

        g_t = z^g_t

    Differs from the standard cell: the candidate is not squashed by tanh.
    """

    name = "no_input_activation"
    summary = "NIAF: g = z, the candidate is not squashed by tanh."
    input_activation = False


class NoOutputActivation(Variant):
    """No output activation function, NOAF (Greff et al. 2017, Section 3).

        h_t = o_t ⊙ c_t

    Differs from the standard cell: h is the gated cell state itself, unbounded.
    """

    name = "no_output_activation"
    summary = "NOAF: h = o * c, no tanh on the cell state."
    output_activation = False


class FullGateRecurrence(Variant):
    """Full gate recurrence, FGR (Greff et al. 2017, Section 3; the original
    formulation of Hochreiter & Schmidhuber 1997).

        [z^i_t; z^f_t; z^o_t] += W_gg [i_{t-1}; f_{t-1}; o_{t-1}]

    Differs from the standard cell: each sigmoid gate also sees all three gates of
    the previous step through `weight_gg_l{k}`, (3H, 3H); i_{-1} = f_{-1} = o_{-1} = 0.
    """

    name = "full_gate_recurrence"
    summary = "FGR: i, f and o also see all three gates of the previous step."
    gate_recurrence = True


_ALL = (Variant, Coupled, Peephole, NoInputGate, NoForgetGate, NoOutputGate,
        NoInputActivation, NoOutputActivation, FullGateRecurrence)
REGISTRY = {v.name: v for v in _ALL}
VARIANTS = tuple(REGISTRY)


def get_variant(name):
    """The variant class registered under `name`; ValueError names the known ones."""
    if not isinstance(name, str):
        raise TypeError(f"variant: expected a name (str), got {type(name).__name__}")
    if name not in REGISTRY:
        raise ValueError(f"variant: unknown name {name!r}; expected one of {', '.join(VARIANTS)}")
    return REGISTRY[name]


def sigmoid_gates(v):
    """The sigmoid gates with parameters in variant `v`, in the order i, f, o.

    These are the rows of `weight_peephole_l{k}` when peepholes are on."""
    return "".join(k for k in "ifo" if k in v.gates)


def fusable(v, peephole):
    """True if the variant is a standard cell with some gates fixed or tied, so the
    fused kernels (cuDNN, oneDNN) can run it after a change of weights (`lstm_core.engine.fused`)."""
    return not (peephole or v.peephole or v.gate_recurrence
                or not v.input_activation or not v.output_activation)


@dataclass(frozen=True)
class Rules:
    """What a variant's cell computes, gate by gate: the one statement of each variant's
    rules that the cell, the loop, replay, the fused weights, the walkthrough and the
    app's notes all read.

    Every gate k in i, f, g, o is exactly one of
        a gate with parameters (in `gates`): k_t = act(z^k_t [+ p_k ⊙ c]),
        fixed (in `fixed`): k_t = 1, the gate is always open,
        tied (a key of `tied`): k_t = 1 - j_t for j = tied[k] (coupled: i = 1 - f).
    """

    name: str  # the variant's registry name
    gates: str  # gates with parameters, in nn.LSTM row order, e.g. "fgo"
    fixed: str  # gates fixed at 1, e.g. "i" for no_input_gate
    tied: dict  # {gate: source}: gate = 1 - source, e.g. {"i": "f"} for coupled
    peepholes: str  # sigmoid gates that see the cell state through p_k ⊙ c (rows of weight_peephole)
    peephole_output: str  # "current": o sees c_t; "previous": o sees c_{t-1}
    input_activation: bool  # g_t = tanh(z^g_t); False: g_t = z^g_t
    output_activation: bool  # h_t = o_t ⊙ tanh(c_t); False: h_t = o_t ⊙ c_t
    gate_recurrence: bool  # z^i, z^f, z^o also get W_gg [i; f; o]_{t-1}
    fusable: bool  # the fused kernels run it after a change of weights (`lstm_core.engine.fused`)

    def source(self, k):
        """How gate k is made: "param", "fixed" or "tied"."""
        return "param" if k in self.gates else "fixed" if k in self.fixed else "tied"

    def effective(self, k, made, one):
        """The effective value of gate k from `made` ({gate with parameters: activated value}).

        one: what an open gate holds (a tensor of ones, or 1). A tied gate reads its
        source from `made`, so the source (f for coupled) must be there already."""
        if k in self.gates:
            return made[k]
        if k in self.fixed:
            return one
        return 1 - made[self.tied[k]]

    def formula(self, k):
        """Gate k's equation as text, e.g. "i = 1 − f", "f = 1", "g = tanh(z_g)", "o = σ(z_o + p ⊙ c_t)"."""
        if k in self.fixed:
            return f"{k} = 1"
        if k in self.tied:
            return f"{k} = 1 − {self.tied[k]}"
        if k == "g":
            return "g = tanh(z_g)" if self.input_activation else "g = z_g"
        extra = " + W_gg [i; f; o]_{t−1}" if self.gate_recurrence else ""
        if k in self.peepholes:
            seen = "c_t" if k == "o" and self.peephole_output == "current" else "c_{t−1}"
            extra += f" + p ⊙ {seen}"
        return f"{k} = σ(z_{k}{extra})"

    def cell_update(self):
        """The update of c as text, e.g. "c_t = f ⊙ c_{t−1} + (1 − f) ⊙ g"."""
        def part(k):
            return {"fixed": "", "tied": f"(1 − {self.tied.get(k)})", "param": k}[self.source(k)]
        keep, write = part("f"), part("i")
        return (f"c_t = {keep + ' ⊙ ' if keep else ''}c_{{t−1}} + {write + ' ⊙ ' if write else ''}g")

    def hidden_update(self):
        """The update of h as text, e.g. "h_t = o ⊙ tanh(c_t)"."""
        o = "" if "o" in self.fixed else "o ⊙ "
        return f"h_t = {o}{'tanh(c_t)' if self.output_activation else 'c_t'}"


@functools.cache
def variant_rules(name, peephole=None, peephole_output="current"):
    """The `Rules` of variant `name`, with peepholes on if `peephole` (None: as the variant says).

    >>> variant_rules("coupled").formula("i")
    'i = 1 − f'
    """
    return rules_of(get_variant(name), peephole, peephole_output)


def rules_of(v, peephole=None, peephole_output="current"):
    """The `Rules` of a variant class `v` (registered or not, e.g. a mutant built for a check)."""
    peephole = v.peephole if peephole is None else bool(peephole)
    if peephole_output not in ("current", "previous"):
        raise ValueError(f"peephole_output: expected 'current' or 'previous', got {peephole_output!r}")
    tied = {"i": "f"} if v.coupled else {}
    fixed = "".join(k for k in "ifo" if k not in v.gates and k not in tied)
    return Rules(v.name, v.gates, fixed, tied, sigmoid_gates(v) if peephole else "", peephole_output,
                 v.input_activation, v.output_activation, v.gate_recurrence, fusable(v, peephole))
