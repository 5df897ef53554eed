"""What every page looks at: a model, a batch of sequences, the trace of one on the other, and notes.

    s = subject.run(model, seqs)               # seqs: lstm_core.data.Sequences, x (B, T, I)
    s.rows("f", layer=0, direction=0, b=0)     # (H, T) float32 of one sequence, NaN on padding
    s.input_rows(0), s.labels(0)               # (T, I) input, (T,) the token at each step or None

A Subject is built the same way whether the model came from the sidebar's settings
(explorer/ui/cache.py: a shipped, trained, hand-wired or random model on a generated,
typed, task or uploaded input) or from an upload on the Debug pages: one trace, one way
to slice it, one way to blank padding. Pure torch and numpy, no streamlit.
Shapes: T steps, B sequences, I features, H units, P features of h, L layers, D directions.
"""
from dataclasses import dataclass, field

import numpy as np
import torch

from lstm_core.variants import get_variant


GATES = ("i", "f", "o")  # the sigmoid gates whose saturation is drawn
LEFT, RIGHT = 0.1, 0.9  # lstm_core.diagnostics.saturation's low= and high= (figures/style.py draws them)


def trace_of(model, seqs):
    """The detached trace of `model` on Sequences `seqs`: (L*D, T, B, H) fields, NaN on padding."""
    x, lengths = seqs.for_model(model)
    with torch.no_grad():  # with grad on, the engine takes the slow reference path
        return model.trace(x, lengths=lengths).detach()


def fixed_notes(variant):
    """{gate: note} for the gates a variant fixes or ties, e.g. f = 1 in no_forget_gate, i = 1 − f in coupled."""
    v = get_variant(variant)
    notes = {k: "fixed at 1 in this variant" for k in "ifo" if k not in v.gates}
    if v.coupled:
        notes["i"] = "= 1 − f in this variant"
    return notes


@dataclass
class Subject:
    """A model, its input and its trace: what the views draw."""

    model: object  # lstm_core.LSTM, eval mode
    seqs: object  # lstm_core.data.Sequences: x (B, T, I), lengths (B,), feature_names, tokens
    trace: object  # lstm_core.Trace, detached, on the CPU
    about: str = ""  # one line on the model and the data, for a caption
    notes: list = field(default_factory=list)  # what was done on the way (sequences cut, weights cast)

    @property
    def directions(self):
        return self.trace.num_directions

    @property
    def gate_notes(self):
        """{gate: note} of the variant's fixed or tied gates, for the panel titles."""
        return fixed_notes(self.model.variant)

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
        """(c, kept f·c_{t-1}, written i·g) of one unit, each (S,), NaN on padding; and the first step."""
        start, stop = clip_window(window, self.trace.T)
        kept, written = self.trace.cell_parts(layer, direction)  # (T, B, H) each
        c = self.trace.get("c", layer, direction)
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
    """Left/right saturation fractions of i, f, o for every layer and direction (figures.saturation.saturation)."""
    mask = trace.mask.numpy()
    groups = []
    for layer in range(trace.num_layers):
        for d in range(trace.num_directions):
            left, right = {}, {}
            for k in GATES:
                left[k], right[k] = saturation_fractions(trace.get(k, layer, d).numpy(), mask)
            groups.append(dict(layer=layer, direction=d, left=left, right=right))
    return groups
