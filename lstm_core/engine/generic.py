"""The stack for every declared cell: layers, directions, lengths, go_backwards, padding, the record.

A cell contributes only its layer function (`lstm_core.cells.<family>.run_layer`):

    layer(w, x, states, lengths, record, method, clamps) -> output (T, B, P), states_n, record, method

with x (T, B, I) in the order it runs, padding last, `states` a tuple of (B, X) tensors
(h first), `record` {field: (T, B, X)} in its own time order or None. This module turns
each direction's record into input time order with NaN on padding (`settle`), exactly as
the LSTM's stack does (`lstm_core.engine.stack`, which adds the LSTM's fast paths).
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .order import blank, reverse_time, settle, valid_mask


@dataclass
class Result:
    """What `run` returns."""

    output: Tensor  # (T, B, D*P), zeros on padding
    states: tuple  # each (L*D, B, X), h_n first
    record: dict | None  # field -> (L*D, T, B, X), NaN on padding, in input time order
    method: str  # the path that ran
    mask: Tensor | None  # (T, B) bool, True on valid steps; None when nothing is padded


def run(layer, weights, x, states, lengths=None, *, num_layers=1, bidirectional=False, go_backwards=False,
        dropout=0.0, training=False, record=True, store_dtype=None, method="auto", clamps=None):
    """Run the whole stack on time-major input: a `Result`.

    layer: the cell's layer function (see the module doc); weights: per layer and direction
    in h_n order (layer-major, direction-minor), whatever `layer` takes.
    x: (T, B, I); states: a tuple of (L*D, B, X) initial states, h first; lengths: (B,) int64
    on the CPU or None. clamps: per layer and direction, {field: (mask, values)} in input time order.
    """
    if go_backwards and bidirectional:
        raise ValueError("go_backwards: a bidirectional model already runs both ways; use one or the other")
    T = x.shape[0]
    D = 2 if bidirectional else 1
    mask = valid_mask(T, lengths, x.device)  # (T, B) or None
    layer_in = blank(x, mask)
    recs, finals, taken = [], [], method
    for k in range(num_layers):
        outs = []
        for d in range(D):
            ld = k * D + d
            back = d == 1 or go_backwards  # runs from each sequence's end to its start

            def turn(t):  # input order -> this direction's order (its own inverse)
                return reverse_time(t, lengths) if back else t

            kw = {}
            if clamps:
                kw["clamps"] = {name: (turn(m), turn(v)) for name, (m, v) in clamps[ld].items()}
            out, final, rec, taken = layer(weights[ld], turn(layer_in), tuple(s[ld] for s in states), lengths,
                                           record=record, method=method, **kw)
            outs.append(settle(out, lengths, mask, back, 0.0))
            if record:
                recs.append({name: settle(t, lengths, mask, back, float("nan")) for name, t in rec.items()})
            finals.append(final)
        layer_in = outs[0] if D == 1 else torch.cat(outs, dim=-1)  # (T, B, D*P)
        if dropout and training and k < num_layers - 1:
            layer_in = F.dropout(layer_in, dropout, training=True)
    rec_out = None
    if record:
        dtype = store_dtype or x.dtype
        rec_out = {name: torch.stack([r[name] for r in recs]).to(dtype) for name in recs[0]}
    states_n = tuple(torch.stack([f[j] for f in finals]) for j in range(len(states)))
    return Result(layer_in, states_n, rec_out, taken, mask)
