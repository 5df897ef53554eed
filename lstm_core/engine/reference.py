"""The plain reference path: a Python loop over `lstm_core.cells.lstm_cell.step`, with autograd.

The slowest path and the most general one: it keeps every step in the autograd
graph, and it alone runs interventions (clamps) and probes.
"""
import torch

from ..cells.lstm_cell import step
from .order import last_valid
from .record import Record


def run_reference(cell, w, x, h0, c0, lengths=None, into=None, clamps=None, probes=None):
    """The plain time loop over `step` for one layer and one direction.

    x: (T, B, I), h0: (B, P), c0: (B, H); lengths: (B,) int64 on the CPU or None.
    into: not used: this path's record keeps autograd history, so it is built, never
        written into buffers, and always returned.
    clamps: {name: (mask, values)} with (T, B, H) tensors (h: (T, B, P)), see `step`.
    probes: (dc, dh), (T, B, H) and (T, B, P), see `step`.
    All in this run's time order. Returns the output h (T, B, P), h_n (B, P), c_n (B, H)
    and a `Record` of gates (T, B, 4, H) in the order i, f, g, o, c (T, B, H), h (T, B, P).
    """
    xz = w.project_inputs(x)  # (T, B, G*H)
    h, c = h0, c0
    prev = torch.zeros(h0.shape[0], 3 * c0.shape[1], dtype=c0.dtype, device=c0.device)
    gates, cs, hs = [], [], []
    for t in range(x.shape[0]):
        clamp = {k: (m[t], vals[t]) for k, (m, vals) in clamps.items()} if clamps else None
        probe = (probes[0][t], probes[1][t]) if probes is not None else None
        i, f, g, o, c, h = step(cell, w, xz[t], h, c, prev, clamp, probe)
        if cell.rules.gate_recurrence:
            prev = torch.cat([i, f, o], dim=1)  # (B, 3H)
        gates.append(torch.stack([i, f, g, o], dim=1))  # (B, 4, H)
        cs.append(c)
        hs.append(h)
    rec = Record(torch.stack(gates), torch.stack(cs), torch.stack(hs))
    return rec.h, last_valid(rec.h, lengths), last_valid(rec.c, lengths), rec
