"""The record of one run: every gate and state of every layer at every step."""
from dataclasses import dataclass, field

import torch
from torch import Tensor

GATES = ("i", "f", "g", "o")
STATES = ("c", "h")
FIELDS = GATES + STATES


@dataclass
class Trace:
    """Gates and states of an LSTM run, time-major whatever the input layout.

    gates: (L*D, T, B, 4, H), the effective i, f, g, o (for a variant without an
        input gate i is all ones, for the coupled variant i = 1 - f, ...)
    c: (L*D, T, B, H) cell states; h: (L*D, T, B, P) hidden states (P = proj_size or H)
    output, h_n, c_n: what `LSTM.forward` returns for the same call
    mask: (T, B) bool, False on padding, where the record holds NaN
    lengths: (B,) int64 valid steps per sequence

    The first axis runs over layers and directions in h_n's order: index
    layer * num_directions + direction. `trace.i` ... `trace.o` are views of `gates`.
    With autograd on, the tensors keep their history.
    """

    gates: Tensor
    c: Tensor
    h: Tensor
    output: object  # Tensor or PackedSequence, as forward returns it
    h_n: Tensor
    c_n: Tensor
    mask: Tensor
    lengths: Tensor
    num_layers: int
    num_directions: int
    variant: str
    method: str  # the path that computed it: "compiled", "workspace", "replay", "loop" or "reference"
    probes: dict | None = None  # {"c", "h"}: zero leaves added to c_t, h_t (trace(probes=True))
    meta: dict = field(default_factory=dict)  # free-form notes (input name, model settings, ...)

    @property
    def i(self):
        """Input gate, (L*D, T, B, H)."""
        return self.gates[:, :, :, 0]

    @property
    def f(self):
        """Forget gate, (L*D, T, B, H)."""
        return self.gates[:, :, :, 1]

    @property
    def g(self):
        """Candidate cell values, (L*D, T, B, H)."""
        return self.gates[:, :, :, 2]

    @property
    def o(self):
        """Output gate, (L*D, T, B, H)."""
        return self.gates[:, :, :, 3]

    @property
    def T(self):
        return self.c.shape[1]

    @property
    def batch_size(self):
        return self.c.shape[2]

    @property
    def hidden_size(self):
        return self.c.shape[3]

    def index(self, layer=0, direction=0):
        """Position of (layer, direction) on the first axis, with a clear error when out of range."""
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"layer: expected 0..{self.num_layers - 1}, got {layer}")
        if not 0 <= direction < self.num_directions:
            raise ValueError(f"direction: expected 0..{self.num_directions - 1}, got {direction}")
        return layer * self.num_directions + direction

    def get(self, name, layer=0, direction=0):
        """One of i, f, g, o, c, h for one layer and direction: (T, B, H) (h: (T, B, P))."""
        if name not in FIELDS:
            raise ValueError(f"name: expected one of {', '.join(FIELDS)}, got {name!r}")
        return getattr(self, name)[self.index(layer, direction)]

    def cell_parts(self, layer=0, direction=0):
        """What c_t kept and what it wrote: (f_t ⊙ c_{t-1}, i_t ⊙ g_t), each (T, B, H).

        The kept part is taken as c_t - i_t ⊙ g_t, which is f_t ⊙ c_{t-1} by the cell
        update and needs no c_{-1}.
        """
        ld = self.index(layer, direction)
        written = self.i[ld] * self.g[ld]
        return self.c[ld] - written, written

    def detach(self):
        """A copy without autograd history, on the CPU: what views and exports use."""
        def d(t):
            return t.detach().cpu() if isinstance(t, Tensor) else t
        return Trace(d(self.gates), d(self.c), d(self.h), _detach_output(self.output), d(self.h_n),
                     d(self.c_n), d(self.mask), d(self.lengths), self.num_layers,
                     self.num_directions, self.variant, self.method, None, dict(self.meta))

    def nbytes(self):
        """Bytes held by the recorded gates and states."""
        return sum(t.numel() * t.element_size() for t in (self.gates, self.c, self.h))


def _detach_output(out):
    if isinstance(out, Tensor):
        return out.detach().cpu()
    if hasattr(out, "data"):  # PackedSequence
        return type(out)(out.data.detach().cpu(), out.batch_sizes,
                         None if out.sorted_indices is None else out.sorted_indices.cpu(),
                         None if out.unsorted_indices is None else out.unsorted_indices.cpu())
    return out


def estimate_bytes(T, B, hidden_size, proj_size=0, num_layers=1, num_directions=1, dtype=torch.float32):
    """Bytes a trace of these sizes will hold: 4 gates + c of H features and h of P features."""
    P = proj_size or hidden_size
    per_step = num_layers * num_directions * B * (5 * hidden_size + P)
    return T * per_step * torch.empty((), dtype=dtype).element_size()
