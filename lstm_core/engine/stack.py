"""The stack: layers and directions, each run on one path, and the choice of that path.

A path runs one layer and one direction forward in time (see `PATHS`):

    path(cell, w, x, h0, c0, lengths, into) -> output (T, B, P), h_n (B, P), c_n (B, H), record

with x (T, B, I) in the order it runs, padding last, and `into` a `Record` of buffers
to fill (None: record nothing). It returns its record in its own time order; `settle`
(`lstm_core.engine.order`) is the one step that turns it into input order and blanks
the padding.
"""
from dataclasses import dataclass

import torch
from torch import Tensor

from .. import kernel
from .fused import run_fused, standard_weights
from .handoff import HandOff
from .loop import run_loop
from .order import blank, reverse_time, settle, valid_mask
from .record import Record, allocate
from .reference import run_reference
from .replay import run_replay
from . import generic, workspace
from .workspace import run_workspace

# The paths of one layer and direction, by method name (see the module doc).
# "compiled": the C++ trace kernel (lstm_core.kernel), where it is built; auto takes it first.
# "workspace": fusable cells on oneDNN, gates read from its training workspace; auto's next choice.
PATHS = {"compiled": kernel.run_path, "workspace": run_workspace, "replay": run_replay, "loop": run_loop, "reference": run_reference}
METHODS = ("auto",) + tuple(PATHS)

# "auto" replays fusable cells while B*H stays below this, and loops above it: with
# wide batches the loop's products are already efficient, while replay adds a second
# pass of all the layer's FLOPs (measured in benchmarks/trace_speed.py).
REPLAY_MAX_WIDTH = 4096


@dataclass
class Result:
    """What `run` returns."""

    output: Tensor  # (T, B, D*P), zeros on padding
    h_n: Tensor  # (L*D, B, P)
    c_n: Tensor  # (L*D, B, H)
    record: dict | None  # {"gates": (L*D, T, B, 4, H), "c": (L*D, T, B, H), "h": (L*D, T, B, P)}, NaN on padding
    method: str  # the path that ran: "fused" (no record), "compiled", "workspace", "replay", "loop" or "reference"
    mask: Tensor | None  # (T, B) bool, True on valid steps; None when nothing is padded


def choose_method(method, cell, wants_grad, x, hidden_size, record=True, per_step=False,
                  fits_workspace=lambda: "it was not checked"):
    """The path `method` stands for, or a ValueError for an impossible request.

    wants_grad: autograd is on and a weight or x requires grad; x: (T, B, I);
    per_step: interventions or probes were asked for, which only the reference path runs;
    fits_workspace: a function returning None if every layer of this call fits the workspace
        read, else why not (`lstm_core.engine.workspace.fits`; default: it does not); called
        only when the workspace path is a candidate.
    Without a record, "auto" runs a fusable cell's whole stack on the fused kernel ("fused").
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    if method == "auto":
        if not record and cell.fusable and not per_step:
            return "fused"
        if wants_grad or per_step:
            return "reference"
        if kernel.available(x):
            return "compiled"
        if cell.fusable and workspace.reason() is None and fits_workspace() is None:
            return "workspace"
        wide = x.shape[1] * hidden_size >= REPLAY_MAX_WIDTH and x.device.type == "cpu"
        return "replay" if cell.fusable and not wide else "loop"
    if per_step and method != "reference":
        raise ValueError(f"interventions and probes run on method='reference' (or 'auto'), got {method!r}")
    if method == "compiled" and not kernel.available(x):
        raise ValueError(f"method='compiled' needs the compiled kernel and float32 on the CPU: "
                         f"{kernel.reason() or f'this input is {x.dtype} on {x.device}'}")
    if method == "workspace":
        why = ("the cell is not one the fused kernel runs (use 'loop' or 'auto')" if not cell.fusable
               else fits_workspace() or workspace.reason())
        if why:
            raise ValueError(f"method='workspace' cannot run this call: {why}")
    if method == "replay" and not cell.fusable:
        what = "hard-sigmoid gates" if cell.gate_activation[0] != "sigmoid" else (
            "peepholes" if cell.peephole else f"variant {cell.variant.name!r}")
        raise ValueError(f"method='replay' needs a cell the fused kernel can run; one with {what} "
                         f"cannot: use 'loop' or 'auto'")
    return method


def _dispatch(path, method, cell, w, x, h0, c0, lengths, into, kw):
    """path(...) and the method that ran it: a path that raises `HandOff` gives the call to
    another, whose name the Result, and so `Trace.method`, then carries."""
    while True:
        try:
            return (*path(cell, w, x, h0, c0, lengths, into, **kw), method)
        except HandOff as h:
            method, path = h.method, PATHS[h.method]


def run(cell, weights, x, h0, c0, lengths=None, *, num_layers=1, bidirectional=False,
        go_backwards=False, dropout=0.0, training=False, record=True, store_dtype=None, method="auto",
        clamps=None, probes=None):
    """Run the whole stack on time-major input: a `Result`.

    weights: LayerWeights per layer and direction, in h_n order (layer-major, direction-minor).
    x: (T, B, I); h0: (L*D, B, P); c0: (L*D, B, H); lengths: (B,) int64 on the CPU or None.
    go_backwards: the one direction of every layer runs from each sequence's end to its
        start (ONNX direction="reverse", Keras go_backwards); everything returned stays in
        input time order.
    record: also return every gate and state, in store_dtype (default: x's dtype).
    clamps: per layer and direction, {name: (mask, values)} in input time order
        (`lstm_core.analysis.interventions.compile_clamps`); probes: per layer and direction
        (dc (T, B, H), dh (T, B, P)) added to c_t and h_t. Both need method "reference".
    Whatever x holds on padded steps never reaches the output, the states, the record's
    valid steps or a gradient: padded steps run on zeros.
    """
    if go_backwards and bidirectional:
        raise ValueError("go_backwards: a bidirectional model already runs both ways; use one or the other")
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or any(
        t is not None and t.requires_grad for w in weights for t in vars(w).values()))
    T, B, _ = x.shape
    H, P = c0.shape[-1], h0.shape[-1]
    def fits_ws():
        if not cell.fusable:
            return "the cell is not one the fused kernel runs"
        return next((why for w in weights if (why := workspace.fits(cell, w, x, h0[0], c0[0], lengths))), None)

    method = choose_method(method, cell, needs_grad, x, H, record, per_step=bool(clamps) or probes is not None,
                           fits_workspace=fits_ws)
    if method == "fused":
        mask = valid_mask(T, lengths, x.device)  # (T, B) or None
        x = blank(x, mask)
        flat, has_biases = [], False
        for w in weights:
            ws, has_biases = standard_weights(cell, w)
            flat += ws
        out, h_n, c_n = run_fused(flat, has_biases, reverse_time(x, lengths) if go_backwards else x,
                                  h0, c0, lengths, num_layers, dropout, training, bidirectional)
        return Result(settle(out, lengths, None, go_backwards, 0.0), h_n, c_n, None, method, mask)

    in_place = method != "reference"  # the fast paths fill buffers and keep no autograd history
    store = allocate(len(weights), T, B, H, P, store_dtype or x.dtype, x.device) if record and in_place else None
    r = generic.run(_layer(cell, PATHS[method]), weights, x, (h0, c0), lengths, num_layers=num_layers,
                    bidirectional=bidirectional, go_backwards=go_backwards, dropout=dropout, training=training,
                    record=record, store_dtype=store_dtype, method=method, clamps=clamps, probes=probes,
                    store=None if store is None else store._asdict())
    return Result(r.output, r.states[0], r.states[1], r.record, r.method, r.mask)


def _layer(cell, path):
    """One LSTM layer and direction on `path`, as `lstm_core.engine.generic` runs a layer."""
    def layer(w, x, states, lengths, *, record, method, into=None, **kw):
        buffers = Record(**into) if into is not None else None
        out, hn, cn, rec, ran = _dispatch(path, method, cell, w, x, states[0], states[1], lengths, buffers, kw)
        return out, (hn, cn), rec._asdict() if record else None, ran
    return layer

