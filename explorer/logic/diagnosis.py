"""Diagnostics, links to the views, what-if runs and exports of the "Debug your model" pages: pure, no streamlit.

    tr = subject.trace_of(model, seqs)                  # every gate, padding NaN (logic/subject.py)
    report = diagnose(tr)                               # lstm_core.analysis.diagnostics.Report, no gradients yet
    report = diagnose(tr, gradients(model, seqs, GradientSpec()))  # = diagnostics.diagnose(model, seqs)
    for link in finding_links(report.findings.iloc[0]): ...   # (page, label, query params)
    res = run_what_if(model, seqs, WhatIfSpec("clamp", "f", 0.0, units=(3,), start=20, stop=24))

The statistics are `lstm_core.analysis.diagnostics`'s own (saturation, memory, cell_growth,
gradient_flow, findings, what_if): this module only decides what runs when, so that
the expensive gradients run only when asked for and on a bounded number of units and
sequences, and turns the results into what the pages link to and download.
Shapes: T steps, B sequences, I features, H units, P features of h, L layers, D directions.
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from lstm_core import Clamp
from lstm_core.analysis import diagnostics as dg
from lstm_core.cells import declaration_of

TABS = ("Saturation", "Memory", "Gradient flow", "Cell state")  # the tabs of views/debug/views.py
VIEWS_PAGE, GATES_PAGE, WHATIF_PAGE = "debug_views", "debug_gates", "debug_whatif"  # ui.state.PAGES keys
VIEW_TAB = {"saturation": "Saturation", "memory": "Memory", "gradient_flow": "Gradient flow", "cell_state": "Cell state"}
LINK_KEYS = ("dbg_tab", "dbg_layer", "dbg_dir", "dbg_unit")  # query params a link may set (views' widget keys)




# --- diagnostics -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GradientSpec:
    """How much of the gradient flow to compute: one backward pass per unit of h_T and of every c_T."""

    # The defaults are lstm_core.analysis.diagnostics.diagnose's, so the page and `python -m lstm_core diagnose`
    # show the same gradient flow (issue 10, item 6): with 4 units the built-in example's layer 0 read as
    # vanishing within 16 steps, because units 0, 2, 5, 7 leave out unit 3, whose f = 1 keeps c for ever;
    # over every unit (the command line's 16 cover all 8) ‖∂c_T/∂c_t‖ stays above 1% for 39 steps back.
    max_units: int = 16  # units of h_T / c_T, spread evenly (diagnostics.gradient_flow)
    max_sequences: int | None = None  # the first ones of the batch (None: all); the norms are means over them


def gradients(model, s, spec):
    """(flow, summary) of diagnostics.gradient_flow / gradient_summary on the first sequences of `s`.

    Measured on 2 cores, one thread: a 2-layer bidirectional H=64 model on 16 x 100 steps takes
    1.6 s with 4 units, 4.5 s with 8 and 6.8 s with 16; a page must bound it.
    """
    x, lengths = s.for_model(model)
    B = s.batch_size if spec.max_sequences is None else min(spec.max_sequences, s.batch_size)
    x = x[:B] if model.batch_first else x[:, :B]
    lengths = None if lengths is None else lengths[:B]
    flow = dg.gradient_flow(model, x, lengths, max_units=spec.max_units)
    return flow, dg.gradient_summary(flow)


def diagnose(trace, grads=None):
    """The Report of `diagnostics.diagnose` from a trace: saturation, memory, cell growth, the
    findings, and the gradient flow when `grads` = (flow, summary) is given."""
    sat, mem, growth = dg.saturation(trace), dg.memory(trace), dg.cell_growth(trace)
    flow, summary = grads if grads is not None else (None, None)
    return dg.Report(dg.findings(sat, mem, growth, summary), sat, mem, growth, summary, flow)


def flagged_units(sat, layer, direction):
    """Rows of the saturation table that are stuck or dead, for one layer and direction."""
    d = sat[(sat.layer == layer) & (sat.direction == direction) & (sat.stuck | sat.dead)]
    return d[["unit", "gate", "left", "right", "mean", "range", "stuck", "dead"]].reset_index(drop=True)


# --- links from a finding to the views -----------------------------------------------------------------

@dataclass(frozen=True)
class Link:
    """A page link: st.page_link(ui.state.PAGES[page], label=label, query_params=dict(params))."""

    page: str
    label: str
    params: tuple  # (key, value) pairs, values as strings


def _where(row):
    layer, d = int(row["layer"]), int(row["direction"]) if not pd.isna(row["direction"]) else 0
    unit = None if pd.isna(row["unit"]) else int(row["unit"])
    return layer, d, unit


def finding_links(row):
    """The views a finding points at: its own view, and for a unit its gates and a what-if."""
    if pd.isna(row["layer"]):
        return [Link(VIEWS_PAGE, f"{VIEW_TAB.get(row['view'], row['view'])} view", (("dbg_tab", VIEW_TAB.get(
            row["view"], TABS[0])),))]
    layer, d, unit = _where(row)
    where = f"layer {layer}{' reverse' if d else ''}" + (f", unit {unit}" if unit is not None else "")
    params = [("dbg_layer", str(layer)), ("dbg_dir", str(d))] + ([("dbg_unit", str(unit))] if unit is not None else [])
    if row["view"] == "intervention":
        links = [Link(WHATIF_PAGE, f"What-if: {where}", tuple(params))]
    else:
        tab = VIEW_TAB[row["view"]]
        links = [Link(VIEWS_PAGE, f"{tab}: {where}", tuple([("dbg_tab", tab)] + params))]
    if unit is not None:
        links.append(Link(GATES_PAGE, f"Gates of unit {unit}", tuple(params)))
        links.append(Link(WHATIF_PAGE, f"What if unit {unit} were silenced?", tuple(params)))
    return links


def units_named(report):
    """How many (layer, direction, unit) the findings name: their unit column, and every unit of a
    finding that groups several (lstm_core.analysis.diagnostics.findings: stuck or dead gates, growing cells)."""
    sat, growth = report.saturation, report.cell_growth
    keys = ["layer", "direction", "unit"]
    named = pd.concat([report.findings.dropna(subset=["unit"])[keys].astype(int), sat[sat.stuck | sat.dead][keys],
                       growth[growth.growing][keys]])
    return len(named.drop_duplicates())


def counts(findings):
    """{severity: number of findings}, every severity present."""
    return {s: int((findings.severity == s).sum()) for s in dg.SEVERITIES}


# --- what the views draw -----------------------------------------------------------------------------









# --- what-if -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WhatIfSpec:
    """An intervention: clamp a gate or state of units to a value over steps, or silence units."""

    action: str = "clamp"  # "clamp" or "zero" (h of the units forced to 0)
    target: str = "f"  # clamp: a field of the model's cell (i, f, g, o, c, h; r, z, n, h)
    value: float = 0.0
    units: tuple = (0,)
    layer: int = 0
    direction: int = 0
    start: int = 0  # first step, in time order (both directions)
    stop: int = 0  # last step, included

    @property
    def steps(self):
        return range(self.start, self.stop + 1)

    def describe(self):
        units = ", ".join(map(str, self.units))
        where = f"unit(s) {units} of layer {self.layer}{' reverse' if self.direction else ''}, steps " \
                f"{self.start}..{self.stop}"
        return f"h of {where} set to 0" if self.action == "zero" else f"{self.target} of {where} clamped to " \
                                                                       f"{self.value:g}"


def clamp_targets(cell):
    """{field: label} of what a clamp may target, from the cell's declaration (a model, trace or
    Declaration): the keep gate first (f of an LSTM, z of a GRU), the other gates, then the rest in
    declared order: "forget gate f", ...; "update gate z (keeps h; 1 − z writes)", "reset gate r", ...
    A gate with a note says it in short: that it keeps (z), or its note ("i = 1 − f: tied to the f gate")."""
    cell = declaration_of(cell)
    r = dg.roles(cell)
    order = sorted(cell.fields, key=lambda f: (f.name != r.keep, not f.is_gate))  # sorted is stable

    def note(name):
        if name == r.keep and r.keep_writes:
            return f" (keeps {r.memory}; 1 − {name} writes)"
        return f" — {cell.notes[name]}" if name in cell.notes else ""
    return {f.name: f"{f.title} {f.name}{note(f.name)}" for f in order}


def clamp_value_help(cell):
    """What clamped values mean for this cell: "gates (i, f, o) live in 0..1 (f = 1 keeps everything,
    0 keeps nothing), g, h in -1..1"."""
    cell = declaration_of(cell)
    keep = dg.roles(cell).keep
    bounded = [f.name for f in cell.fields if f.range == (-1.0, 1.0)]
    return (f"gates ({', '.join(cell.gates)}) live in 0..1"
            + (f" ({keep} = 1 keeps everything, 0 keeps nothing)" if keep else "")
            + (f", {', '.join(bounded)} in -1..1" if bounded else ""))


def interventions(spec):
    """The lstm_core.Clamp list of a WhatIfSpec."""
    if spec.action == "zero":
        return dg.zero_units(list(spec.units), spec.layer, spec.direction, spec.steps)
    return [Clamp(spec.target, float(spec.value), units=list(spec.units), steps=spec.steps, layer=spec.layer,
                  direction=spec.direction)]


def run_what_if(model, seqs, spec):
    """diagnostics.what_if on Sequences `seqs` with the spec's intervention."""
    x, lengths = seqs.for_model(model)
    return dg.what_if(model, x, interventions(spec), lengths)


def what_if_summary(res, spec):
    """Per layer, direction and state (c, h of an LSTM; h of a GRU): the first step that changed, the
    largest |Δ| before the intervention's first step (0 for every forward direction) and from it on."""
    rows = []
    for (layer, d, name), g in res.effect.groupby(["layer", "direction", "field"], sort=False):
        moved = g[g.max_abs_change > 0]
        rows.append(dict(layer=layer, direction="reverse" if d else "forward", field=name,
                         first_changed=int(moved.step.min()) if len(moved) else None,
                         max_before=float(g[g.step < spec.start].max_abs_change.max()) if spec.start else 0.0,
                         max_after=float(g[g.step >= spec.start].max_abs_change.max())))
    out = np.asarray(res.output_change)
    rows.append(dict(layer=None, direction="", field="output", first_changed=res.first_changed_step,
                     max_before=float(out[:spec.start].max()) if spec.start else 0.0,
                     max_after=float(out[spec.start:].max())))
    return pd.DataFrame(rows)


def most_changed_units(res, top=10):
    """The units whose h changed most anywhere downstream: layer, direction, unit, max |Δh|, first step."""
    delta = (res.changed.h - res.base.h).abs()  # (L*D, T, B, P), NaN on padding
    delta = torch.nan_to_num(delta).amax(dim=2)  # (L*D, T, P)
    peak = delta.amax(dim=1)  # (L*D, P)
    D = res.base.num_directions
    rows = []
    for ld, u in zip(*np.unravel_index(np.argsort(-peak.numpy(), axis=None)[:top], tuple(peak.shape))):
        if peak[ld, u] <= 0:
            break
        steps = np.nonzero(delta[ld, :, u].numpy() > 0)[0]
        rows.append(dict(layer=int(ld // D), direction="reverse" if ld % D else "forward", unit=int(u),
                         max_abs_change=float(peak[ld, u]), first_step=int(steps[0])))
    return pd.DataFrame(rows, columns=["layer", "direction", "unit", "max_abs_change", "first_step"])


# --- take the results away -----------------------------------------------------------------------------











