"""The LSTM's declaration, for each of its variants.

The cell itself is `lstm_core.cells.lstm_cell.step`, its variants' switches `lstm_core.cells.variants`
and their `Rules`; this module turns a variant's `Rules` into the `Declaration` that the
trace, the exports and the pages read, so its equations are written in one place.
"""
import functools

from .base import Declaration, Field, plus
from .variants import variant_rules

_FIELDS = (
    Field("i", "input gate", "how much of the candidate g is written", "gate"),
    Field("f", "forget gate", "the fraction of c_{t-1} kept", "gate"),
    Field("g", "candidate", "the new content proposed for c", "candidate"),
    Field("o", "output gate", "how much of the cell is shown in h", "gate"),
    Field("c", "cell state", "the memory", "state"),
    Field("h", "hidden state", "the output", "candidate"),
)

_TEX_GATE = {"i": r"\sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}{extra})",
             "f": r"\sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}{extra})",
             "o": r"\sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}{extra})"}


def _tex(rules, k):
    """Gate k's equation in LaTeX, following `Rules.formula`."""
    if k in rules.fixed:
        return f"{k}_t = 1"
    if k in rules.tied:
        return f"{k}_t = 1 - {rules.tied[k]}_t"
    if k == "g":
        z = r"W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}"
        return f"g_t = \\tanh({z})" if rules.input_activation else f"g_t = {z}"
    extra = r" + W_{gg} [i; f; o]_{t-1}" if rules.gate_recurrence else ""
    if k in rules.peepholes:
        seen = "c_t" if k == "o" and rules.peephole_output == "current" else "c_{t-1}"
        extra += f" + p_{k} \\odot {seen}"
    return f"{k}_t = " + _TEX_GATE[k].replace("{extra}", extra)


def _tex_updates(rules):
    part = {"param": lambda k: f"{k}_t \\odot ", "fixed": lambda k: "",
            "tied": lambda k: f"(1 - {rules.tied[k]}_t) \\odot "}
    c = f"c_t = {part[rules.source('f')]('f')}c_{{t-1}} + {part[rules.source('i')]('i')}g_t"
    o = "" if "o" in rules.fixed else r"o_t \odot "
    shown = r"\tanh(c_t)" if rules.output_activation else "c_t"
    h = f"h_t = {o}{shown}"
    return c, h


@functools.cache
def declaration(variant="standard", peephole=None, peephole_output="current"):
    """The `Declaration` of an LSTM of `variant` (see `lstm_core.cells.variants.variant_rules`)."""
    rules = variant_rules(variant, peephole, peephole_output)
    return from_rules(rules)


def from_rules(rules):
    """The `Declaration` of the LSTM whose cell follows `rules` (a `lstm_core.cells.variants.Rules`)."""
    notes = {k: f"{k} = 1 in this variant: the gate is always open" for k in rules.fixed}
    notes.update({k: f"{k} = 1 − {s}: tied to the {s} gate" for k, s in rules.tied.items()})
    return Declaration(
        family="lstm", title=_title(rules),
        variant=rules.name, fields=_FIELDS, states=("h", "c"), memory="c", blocks=rules.gates,
        equations=tuple(rules.formula(k) for k in "ifgo") + (rules.cell_update(), rules.hidden_update()),
        latex=tuple(_tex(rules, k) for k in "ifgo") + _tex_updates(rules),
        notes=notes, summary=_SUMMARY.get(rules.name, ""), keep=None if "f" in rules.fixed else "f",
        keep_writes=rules.tied.get("i") == "f", candidate="g",
        paths=("compiled", "workspace", "replay", "loop", "reference") if rules.fusable
        else ("compiled", "loop", "reference"))


def _title(rules):
    """"LSTM", "LSTM (coupled)", "LSTM with peepholes" (peepholes on a variant without them)."""
    title = "LSTM" if rules.name == "standard" else f"LSTM ({rules.name.replace('_', ' ')})"
    return title + (" with peepholes" if rules.peepholes and rules.name != "peephole" else "")


def _summaries():
    from .variants import REGISTRY  # a variant class's one line, read where it is written
    return {name: v.summary for name, v in REGISTRY.items()}


_SUMMARY = _summaries()


def describe_step(v):
    """One step of one unit in words, from its numbers: a few sentences a lecturer can read out.

    v: {"i", "f", "g", "o", "c", "h", "c_prev"} floats, "prev" the step c_prev comes from (-1: the
    initial state), "tanh" whether h shows tanh(c) (the default), "projected" whether h is W_hr h'."""
    a = {k: float(v[k]) for k in ("i", "f", "g", "o")}
    c_prev, c, h = float(v["c_prev"]), float(v["c"]), float(v["h"])
    kept, written = a["f"] * c_prev, a["i"] * a["g"]
    prev = "the initial state (zeros)" if v.get("prev", 0) < 0 else f"step {v['prev']}"
    return [
        f"The state comes from {prev}: c = {c_prev:.3f}.",
        f"The forget gate keeps {a['f']:.1%} of it: f·c = {kept:.3f}.",
        f"The candidate is g = {a['g']:.3f} and the input gate lets {a['i']:.1%} of it in: i·g = {written:.3f}.",
        f"So c' = {plus(kept, written)} = {c:.3f}.",
        f"The output gate shows {a['o']:.1%} of {'tanh(c)' if v.get('tanh', True) else 'c'}: h' = {h:.3f}"
        + (" (before the projection W_hr)." if v.get("projected") else "."),
    ]


def cell_parts(values):
    """What c_t kept and what it wrote: (f ⊙ c_{t-1}, i ⊙ g), each (..., H).

    The kept part is c_t − i ⊙ g, which is f ⊙ c_{t-1} by the cell update and needs no c_{-1}."""
    written = values["i"] * values["g"]
    return values["c"] - written, written
