"""What every page looks at: a model, a batch of sequences, the trace of one on the other, and notes.

    s = subject.run(model, seqs)               # seqs: lstm_core.io.data.Sequences, x (B, T, I)
    s.rows("f", layer=0, direction=0, b=0)     # (H, T) float32 of one sequence, NaN on padding
    s.input_rows(0), s.labels(0)               # (T, I) input, (T,) the token at each step or None

A Subject is built the same way whether the model came from the sidebar's settings
(explorer/ui/cache.py: a shipped, trained, hand-wired or random model on a generated,
typed, task or uploaded input) or from an upload on the Debug pages: one trace, one way
to slice it, one way to blank padding. Pure torch and numpy, no streamlit.
Shapes: T steps, B sequences, I features, H units, P features of h, L layers, D directions.
"""
import re
from dataclasses import dataclass, field

import numpy as np
import torch

from lstm_core.cells import declaration_of


LEFT, RIGHT = 0.1, 0.9  # lstm_core.analysis.diagnostics.saturation's low= and high= (figures/style.py draws them)


def trace_of(model, seqs):
    """The detached trace of `model` on Sequences `seqs`: (L*D, T, B, H) fields, NaN on padding."""
    x, lengths = seqs.for_model(model)
    with torch.no_grad():  # with grad on, the engine takes the slow reference path
        return model.trace(x, lengths=lengths).detach()


def fixed_notes(declared):
    """{field: short note} for a panel title, from a cell's declared notes (a model, trace or
    Declaration): "fixed at 1 in this variant" (f = 1 in no_forget_gate), "= 1 − f in this
    variant" (i of the coupled cell), "z keeps" (a GRU's z). The declaration's note reads
    "<field> <what>: <why>"; a title has room for the <what> only."""
    notes = {}
    for name, note in declaration_of(declared).notes.items():
        what = note.split(":")[0].removeprefix(f"{name} ")
        if what.startswith("= 1 in "):  # a gate fixed open
            notes[name] = "fixed at 1 " + what.removeprefix("= 1 ")
        elif what.startswith("= "):  # tied to another gate
            notes[name] = what + " in this variant"
        else:
            notes[name] = f"{name} {what}"
    return notes


def gate_names(trace):
    """The gates of the trace's cell (its 0..1 fields), whose saturation is drawn: i, f, o; r, z."""
    return declaration_of(trace).gates


def memory_update(declared):
    """(memory, kept, written, equation) of a cell's memory update, from its declaration (a model,
    trace or Declaration), for figures.lines.cell_update: ("c", "f ⊙ c_{t−1}", "i ⊙ g",
    "c_t = f ⊙ c_{t−1} + i ⊙ g") for the LSTM (its variant's), ("h", "z ⊙ h_{t−1}", "(1 − z) ⊙ n", ...)
    for a GRU. The kept part is the term of the equation that holds memory_{t−1}."""
    d = declaration_of(declared)
    m = d.memory
    equation = next(e for e in d.equations if e.startswith(f"{m}_t = "))
    terms = equation.split(" = ", 1)[1].split(" + ")
    kept = next(t for t in terms if f"{m}_{{t−1}}" in t)
    written = " + ".join(t for t in terms if t is not kept)
    return m, kept, written, equation


def _tex_text(text):
    """Plain text for a LaTeX \\text{}: its subscripted names ("c_{t-1}", "h_{t−1}") as math."""
    text = re.sub(r"([A-Za-z])_\{([^}]*)\}", lambda m: f"${m.group(1)}_{{{m.group(2).replace('−', '-')}}}$", text)
    return text.replace("%", r"\%").replace("&", r"\&").replace("#", r"\#")


def equations_tex(declared):
    """The cell's equations as one LaTeX block for st.latex: each line of the declaration's `latex`,
    aligned at its "=" ("lhs &= rhs"), beside what its field is (title: meaning). Nothing here is
    written per cell: the coupled LSTM shows i_t &= 1 - f_t, a GRU its four lines (issue 20)."""
    d = declaration_of(declared)
    rows = []
    for line in d.latex:
        lhs, rhs = line.split(" = ", 1)
        name = lhs.split("_", 1)[0].strip()
        about = ""
        if name in d.names:
            f = d.field(name)
            about = rf" &\quad& \text{{{_tex_text(f'{f.title}: {f.meaning}')}}}"
        rows.append(f"{lhs} &= {rhs}{about}")
    return "\\begin{aligned}\n" + "\\\\\n".join(rows) + "\n\\end{aligned}"


def cell_sentence(declared):
    """What one step of the cell does, in a sentence for the heatmap page's introduction, from its
    declaration: its gates, candidate and memory."""
    d = declaration_of(declared)
    gates = ", ".join(f"${k}$" for k in d.gates)
    proposals = [f for f in d.fields if f.kind == "candidate" and f.name not in d.states]
    made = f"its gates {gates}" + "".join(f" and its {f.title} ${f.name}$" for f in proposals)
    m = d.field(d.memory)
    updated = (f"its {m.title} ${m.name}_t$ and output $h_t$" if m.name != "h"
               else f"its {m.title} $h_t$, which is both its memory and its output")
    return (f"At every step each unit computes {made} from the input $x_t$ and its previous output "
            f"$h_{{t-1}}$, then updates {updated} (equations below).")


@dataclass
class Subject:
    """A model, its input and its trace: what the views draw."""

    model: object  # lstm_core.LSTM or GRU, eval mode
    seqs: object  # lstm_core.io.data.Sequences: x (B, T, I), lengths (B,), feature_names, tokens
    trace: object  # lstm_core.Trace, detached, on the CPU
    about: str = ""  # one line on the model and the data, for a caption
    notes: list = field(default_factory=list)  # what was done on the way (sequences cut, weights cast)

    @property
    def directions(self):
        return self.trace.num_directions

    @property
    def gate_notes(self):
        """{field: note} of the cell's declared notes, for the panel titles (fixed_notes)."""
        return fixed_notes(self.trace)

    @property
    def declared(self):
        """{name: lstm_core.cells.Field} of the trace's fields, in display order (the figures' `declared`)."""
        return {f.name: f for f in declaration_of(self.trace).fields}

    @property
    def feature_names(self):
        return list(self.seqs.feature_names or [f"x{k}" for k in range(self.seqs.input_size)])

    def rows(self, name, layer, direction, b, window=(0, None)):
        """(U, S) float32 of field `name` for sequence b over the steps of `window`, NaN on padding;
        and the first step shown. window: (first, last) step, last None for the end."""
        start, stop = clip_window(window, self.trace.T)
        z = self.trace.get(name, layer, direction)[start:stop + 1, b].T  # (U, S)
        return z.to(torch.float32).numpy(), start

    def input_rows(self, b, window=(0, None)):
        """(S, I) float32 input of sequence b over `window`, NaN on padding: drawn blank."""
        start, stop = clip_window(window, self.trace.T)
        x = self.seqs.x[b].to(torch.float32).numpy().copy()  # (T, I)
        x[int(self.seqs.lengths[b]):] = np.nan
        return x[start:stop + 1]

    def labels(self, b, window=(0, None)):
        """(S,) the token at each step of sequence b ("" on padding), or None without tokens."""
        if not self.seqs.tokens:
            return None
        start, stop = clip_window(window, self.trace.T)
        labels = np.full(self.seqs.steps, "", dtype=object)
        labels[:len(self.seqs.tokens[b])] = self.seqs.tokens[b]
        return labels.astype(str)[start:stop + 1]

    def unit_fields(self, names, layer, direction, b, units, window=(0, None)):
        """{name: (S, U)} of chosen units for sequence b, NaN on padding (figures.lines.unit_traces)."""
        out, start = {}, 0
        for k in names:
            z, start = self.rows(k, layer, direction, b, window)
            out[k] = z[list(units)].T
        return out, start

    def cell_parts(self, layer, direction, b, unit, window=(0, None)):
        """(memory, kept, written) of one unit, each (S,), NaN on padding; and the first step. The memory
        is the declaration's (an LSTM's c = f·c_{t-1} + i·g, a GRU's h = z·h_{t-1} + (1 − z)·n)."""
        start, stop = clip_window(window, self.trace.T)
        kept, written = self.trace.cell_parts(layer, direction)  # (T, B, H) each
        c = self.trace.get(declaration_of(self.trace).memory, layer, direction)
        part = lambda a: a[start:stop + 1, b, unit].to(torch.float32).numpy()  # noqa: E731
        return part(c), part(kept), part(written), start


def clip_window(window, T):
    """(first, last) steps of a window inside 0..T-1; last None: the end."""
    start, stop = window
    stop = T - 1 if stop is None else min(stop, T - 1)
    return max(0, min(start, stop)), stop


def saturation_fractions(gate, mask):
    """Per unit, the fraction of valid steps with gate < LEFT and with gate > RIGHT.

    gate: (T, B, H); mask: (T, B) bool, False on padding. Returns (left (H,), right (H,)).
    """
    valid = mask[:, :, None]  # (T, B, 1)
    n = max(1, int(mask.sum()))
    left = ((gate < LEFT) & valid).sum(axis=(0, 1)) / n
    right = ((gate > RIGHT) & valid).sum(axis=(0, 1)) / n
    return left, right


def saturation_groups(trace):
    """Left/right saturation fractions of the cell's gates (i, f, o; r, z) for every layer and direction
    (figures.saturation.saturation)."""
    mask = trace.mask.numpy()
    groups = []
    for layer in range(trace.num_layers):
        for d in range(trace.num_directions):
            left, right = {}, {}
            for k in gate_names(trace):
                left[k], right[k] = saturation_fractions(trace.get(k, layer, d).numpy(), mask)
            groups.append(dict(layer=layer, direction=d, left=left, right=right))
    return groups
