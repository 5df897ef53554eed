"""The record of one run: every gate and state of every layer at every step, for any cell."""
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .cells import cell_parts as _cell_parts
from .cells.base import Declaration
from .cells.lstm import declaration as _lstm_declaration

# The LSTM's fields, in record order (kept for callers that predate other cells).
GATES = ("i", "f", "g", "o")
STATES = ("c", "h")
FIELDS = GATES + STATES


@dataclass
class Trace:
    """Gates and states of a run of any cell, time-major whatever the input layout.

    declaration: the cell's `lstm_core.cells.Declaration`: which fields there are, their
        meaning and value range. `trace.fields` lists their names, e.g. ("i", "f", "g",
        "o", "c", "h") for an LSTM, ("r", "z", "n", "h") for a GRU.
    values: field name -> (L*D, T, B, H) (h under a projection: (L*D, T, B, P)); each is
        also an attribute: `trace.f`, `trace.z`
    output, h_n, c_n: what the model's forward returns for the same call (c_n None for a
        cell with no cell state)
    mask: (T, B) bool, False on padding, where the record holds NaN
    lengths: (B,) int64 valid steps per sequence
    stacked: for an LSTM, the (L*D, T, B, 4, H) buffer of which i, f, g, o are views

    The first axis runs over layers and directions in h_n's order: index
    layer * num_directions + direction. With autograd on, the tensors keep their history.
    """

    declaration: Declaration
    values: dict
    output: object  # Tensor or PackedSequence, as forward returns it
    h_n: Tensor
    c_n: Tensor | None
    mask: Tensor
    lengths: Tensor
    num_layers: int
    num_directions: int
    method: str  # the path that computed it: "compiled", "workspace", "replay", "loop", "reference", ...
    probes: dict | None = None  # {"c", "h"}: zero leaves added to c_t, h_t (trace(probes=True))
    meta: dict = field(default_factory=dict)  # free-form notes (input name, model settings, ...)
    stacked: Tensor | None = None

    @classmethod
    def lstm(cls, gates, c, h, output, h_n, c_n, mask, lengths, num_layers, num_directions, variant, method,
             probes=None, meta=None, declaration=None):
        """An LSTM's trace from its record: gates (L*D, T, B, 4, H) in the order i, f, g, o,
        c (L*D, T, B, H), h (L*D, T, B, P)."""
        values = dict(zip(GATES, gates.unbind(3)))
        values.update(c=c, h=h)
        return cls(declaration or _lstm_declaration(variant), values, output, h_n, c_n, mask, lengths,
                   num_layers, num_directions, method, probes, dict(meta or {}), gates)

    def __getattr__(self, name):
        # only called when normal lookup fails: a field's name (trace.f, trace.z)
        values = self.__dict__.get("values")
        if values is not None and name in values:
            return values[name]
        if name.startswith("__") or values is None:
            raise AttributeError(name)
        prop = type(self).__dict__.get(name)
        if isinstance(prop, property):  # a property that raised AttributeError: its own message
            return prop.fget(self)
        raise AttributeError(f"this {self.__dict__['declaration'].title} trace has no field {name!r}; "
                             f"it records {', '.join(values)}")

    @property
    def fields(self):
        """The names of the recorded fields, in display order."""
        return self.declaration.names

    @property
    def variant(self):
        """The variant of the cell: an LSTM variant's name, or the GRU's reset ("after", "before")."""
        return self.declaration.variant

    @property
    def gates(self):
        """(L*D, T, B, 4, H): an LSTM's effective i, f, g, o stacked (for other cells, read `fields`)."""
        if self.declaration.family != "lstm":
            raise AttributeError(f"gates: a {self.declaration.title} trace has no stacked i, f, g, o; its fields "
                                 f"are {', '.join(self.fields)} (trace.get(name))")
        if self.stacked is None:
            self.stacked = torch.stack([self.values[k] for k in GATES], dim=3)
        return self.stacked

    @property
    def T(self):
        return self.values["h"].shape[1]

    @property
    def batch_size(self):
        return self.values["h"].shape[2]

    @property
    def hidden_size(self):
        return self.values[self.fields[0]].shape[3]

    def index(self, layer=0, direction=0):
        """Position of (layer, direction) on the first axis, with a clear error when out of range."""
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"layer: expected 0..{self.num_layers - 1}, got {layer}")
        if not 0 <= direction < self.num_directions:
            raise ValueError(f"direction: expected 0..{self.num_directions - 1}, got {direction}")
        return layer * self.num_directions + direction

    def get(self, name, layer=0, direction=0):
        """One field for one layer and direction: (T, B, H) (h under a projection: (T, B, P))."""
        if name not in self.values:
            raise ValueError(f"name: expected one of {', '.join(self.fields)}, got {name!r}")
        return self.values[name][self.index(layer, direction)]

    def cell_parts(self, layer=0, direction=0):
        """What the memory (c for an LSTM, h for a GRU) kept and what it wrote, each (T, B, H):
        (f ⊙ c_{t-1}, i ⊙ g) for an LSTM, (z ⊙ h_{t-1}, (1 − z) ⊙ n) for a GRU."""
        ld = self.index(layer, direction)
        return _cell_parts(self.declaration, {k: v[ld] for k, v in self.values.items()})

    def detach(self):
        """A copy without autograd history, on the CPU: what views and exports use."""
        def d(t):
            return t.detach().cpu() if isinstance(t, Tensor) else t
        stacked = d(self.stacked)
        values = {k: d(v) for k, v in self.values.items()}
        if stacked is not None:  # keep i, f, g, o views of the one buffer
            values.update(zip(GATES, stacked.unbind(3)))
        return Trace(self.declaration, values, _detach_output(self.output), d(self.h_n), d(self.c_n),
                     d(self.mask), d(self.lengths), self.num_layers, self.num_directions, self.method, None,
                     dict(self.meta), stacked)

    def nbytes(self):
        """Bytes held by the recorded gates and states."""
        tensors = list(self.values.values())
        if self.stacked is not None:
            tensors = [self.stacked] + [v for k, v in self.values.items() if k not in GATES]
        return sum(t.numel() * t.element_size() for t in tensors)


def _detach_output(out):
    if isinstance(out, Tensor):
        return out.detach().cpu()
    if hasattr(out, "data"):  # PackedSequence
        return type(out)(out.data.detach().cpu(), out.batch_sizes,
                         None if out.sorted_indices is None else out.sorted_indices.cpu(),
                         None if out.unsorted_indices is None else out.unsorted_indices.cpu())
    return out


def estimate_bytes(T, B, hidden_size, proj_size=0, num_layers=1, num_directions=1, dtype=torch.float32,
                   declaration=None):
    """Bytes a trace of these sizes will hold: every field of H features, and h of P features.

    declaration: the cell's (default: an LSTM's 4 gates, c and h)."""
    P = proj_size or hidden_size
    names = declaration.names if declaration is not None else FIELDS
    per_unit = sum(P if k == "h" else hidden_size for k in names)
    per_step = num_layers * num_directions * B * per_unit
    return T * per_step * torch.empty((), dtype=dtype).element_size()
