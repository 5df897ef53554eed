"""The stack for every declared cell: layers, directions, lengths, go_backwards, padding, the record.

A cell contributes only its layer function (`lstm_core.cells.<family>.run_layer`):

    layer(w, x, states, lengths, record, method, clamps) -> output (T, B, P), states_n, record, method

with x (T, B, I) in the order it runs, padding last, `states` a tuple of (B, X) tensors
(h first), `record` {field: (T, B, X)} in its own time order or None. This module turns
each direction's record into input time order with NaN on padding (`settle`), exactly as
for every cell: the LSTM's stack (`lstm_core.engine.stack`) chooses among its paths and its
pooled record buffers, then runs its layers here too.
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
        dropout=0.0, training=False, record=True, store_dtype=None, method="auto", clamps=None, probes=None,
        store=None):
    """Run the whole stack on time-major input: a `Result`.

    layer: the cell's layer function (see the module doc); weights: per layer and direction
    in h_n order (layer-major, direction-minor), whatever `layer` takes.
    x: (T, B, I); states: a tuple of (L*D, B, X) initial states, h first; lengths: (B,) int64
    on the CPU or None. clamps: per layer and direction, {field: (mask, values)} in input time
    order; probes: per layer and direction, a tuple of (T, B, X) tensors in input time order.
    store: {name: (L*D, T, B, ...)} buffers to record into (the layer gets `into=` its slices and
        fills them; settled in place), or None: the layers' own records are settled and stacked.
    Whatever x holds on padded steps never reaches the output, the states, the record's valid
    steps or a gradient: padded steps run on zeros.
    """
    if go_backwards and bidirectional:
        raise ValueError("go_backwards: a bidirectional model already runs both ways; use one or the other")
    T = x.shape[0]
    D = 2 if bidirectional else 1
    mask = valid_mask(T, lengths, x.device)  # (T, B) or None
    layer_in = blank(x, mask)
    recs, finals = [], []
    taken = method  # the path that ran: `method`, or the one a layer chose or handed the call to
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
            if probes is not None:
                kw["probes"] = tuple(map(turn, probes[ld]))
            if store is not None:
                kw["into"] = {name: buf[ld] for name, buf in store.items()}
            out, final, rec, ran = layer(weights[ld], turn(layer_in), tuple(s[ld] for s in states), lengths,
                                         record=record, method=method, **kw)
            taken = ran if ran != method else taken
            outs.append(settle(out, lengths, mask, back, 0.0))  # a new tensor: h_n may be a view of out
            if record:
                in_place = store is not None
                recs.append({name: settle(t, lengths, mask, back, float("nan"), in_place) for name, t in rec.items()})
            finals.append(final)
        layer_in = outs[0] if D == 1 else torch.cat(outs, dim=-1)  # (T, B, D*P)
        if dropout and training and k < num_layers - 1:
            layer_in = F.dropout(layer_in, dropout, training=True)
    rec_out = None
    if record and store is not None:
        rec_out = dict(store)
    elif record:
        dtype = store_dtype or x.dtype
        rec_out = {name: torch.stack([r[name] for r in recs]).to(dtype) for name in recs[0]}
    states_n = tuple(torch.stack([f[j] for f in finals]) for j in range(len(states)))
    return Result(layer_in, states_n, rec_out, taken, mask)
