"""The stack: layers, directions, padding, and the choice of a path per layer.

Each layer and direction runs on one of three paths, all filling the same record:
- "replay" (`lstm_core.replay`): the fused kernel, then the gates by replay; for
  the standard cell and the variants that only fix or tie gates;
- "loop" (`lstm_core.fastloop`): the in-place time loop, for every variant;
- "reference" (`lstm_core.cell`): the plain loop with autograd through every step;
  "auto" takes it whenever gradients are wanted.
The reverse direction runs the same code on each sequence reversed within its own
length, so padding always comes last and every path needs only the forward case.
"""
import torch
import torch.nn.functional as F

from . import cell as cell_mod
from . import kernel
from .fastloop import run_fast
from .replay import run_replay

METHODS = ("auto", "compiled", "replay", "loop", "reference")

# "auto" replays fusable cells while B*H stays below this, and loops above it: with
# wide batches the loop's products are already efficient, while replay adds a second
# pass of all the layer's FLOPs (measured in benchmarks/trace_speed.py).
REPLAY_MAX_WIDTH = 4096


def reverse_time(x, lengths):
    """Each sequence of x (T, B, ...) reversed within its own length; padding stays put."""
    if lengths is None:
        return x.flip(0)
    T, B = x.shape[:2]
    t = torch.arange(T).unsqueeze(1)  # (T, 1)
    n = lengths.unsqueeze(0)  # (1, B)
    idx = torch.where(t < n, n - 1 - t, t).to(x.device)  # (T, B)
    idx = idx.view(T, B, *[1] * (x.dim() - 2)).expand_as(x)
    return x.gather(0, idx)


def choose_method(method, cell, params_need_grad, x, per_step=False, hidden_size=None):
    """The path "auto" stands for, or a ValueError for an impossible request.

    x: (T, B, I); per_step: interventions or probes were asked for, which only the
    reference path runs.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    wants_grad = torch.is_grad_enabled() and (params_need_grad or x.requires_grad)
    if method == "auto":
        if wants_grad or per_step:
            return "reference"
        if kernel.available(x):  # the compiled kernel (lstm_core.kernel) where it is built
            return "compiled"
        wide = hidden_size is not None and x.shape[1] * hidden_size >= REPLAY_MAX_WIDTH
        return "replay" if cell.fusable and not (wide and x.device.type == "cpu") else "loop"
    if per_step and method != "reference":
        raise ValueError(f"interventions and probes run on method='reference' (or 'auto'), got {method!r}")
    if method == "compiled" and not kernel.available(x):
        raise ValueError(f"method='compiled' needs the compiled kernel and float32 on the CPU: "
                         f"{kernel.reason() or 'this input is ' + str(x.dtype) + ' on ' + str(x.device)}")
    if method == "replay" and not cell.fusable:
        what = "hard-sigmoid gates" if cell.gate_activation[0] != "sigmoid" else (
            "peepholes" if cell.peephole else f"variant {cell.variant.name!r}")
        raise ValueError(f"method='replay' needs a cell the fused kernel can run; one with {what} "
                         f"cannot: use 'loop' or 'auto'")
    return method


def reverse_record(t, lengths):
    """reverse_time for a record (L*D, T, B, ...): each sequence reversed within its own length."""
    return reverse_time(t.movedim(0, 2), lengths).movedim(2, 0)


def run(cell, weights, x, h0, c0, lengths=None, *, num_layers=1, bidirectional=False,
        go_backwards=False, dropout=0.0, training=False, record=True, store_dtype=None, method="auto",
        clamps=None, probes=None):
    """Run the whole stack on time-major input.

    go_backwards: the one direction of every layer runs from each sequence's end to its
    start (ONNX direction="reverse", Keras go_backwards); everything returned stays in
    input time order. Running the stack forward on the reversed input and reversing what
    comes out is exactly that, layer after layer.

    weights: LayerWeights per layer and direction, in h_n order (layer-major, direction-minor).
    x: (T, B, I); h0: (L*D, B, P); c0: (L*D, B, H); lengths: (B,) int64 on the CPU or None.
    Returns output (T, B, D*P) with zeros on padding, h_n (L*D, B, P), c_n (L*D, B, H) and,
    if record, the dict gates (L*D, T, B, 4, H), c (L*D, T, B, H), h (L*D, T, B, P),
    NaN on padding, in store_dtype (default: x's dtype).
    clamps: per layer and direction, {name: (mask, values)} in time order
        (`lstm_core.interventions.compile_clamps`); probes: per layer and direction
        (dc (T, B, H), dh (T, B, P)) added to c_t and h_t. Both need method "reference".
    """
    if go_backwards:
        if bidirectional:
            raise ValueError("go_backwards: a bidirectional model already runs both ways; use one or the other")
        rev = lambda t: reverse_time(t, lengths)  # noqa: E731
        clamps = clamps and [cl and {k: tuple(map(rev, mv)) for k, mv in cl.items()} for cl in clamps]
        probes = probes and [tuple(map(rev, pr)) for pr in probes]
        output, h_n, c_n, rec = run(cell, weights, rev(x), h0, c0, lengths, num_layers=num_layers,
                                    dropout=dropout, training=training, record=record, store_dtype=store_dtype,
                                    method=method, clamps=clamps, probes=probes)
        rec = rec and {k: reverse_record(t, lengths) for k, t in rec.items()}
        return rev(output), h_n, c_n, rec
    needs_grad = any(t is not None and t.requires_grad for w in weights for t in vars(w).values())
    method = choose_method(method, cell, needs_grad, x, per_step=bool(clamps) or probes is not None,
                           hidden_size=c0.shape[-1])
    T, B, _ = x.shape
    D = 2 if bidirectional else 1
    H, P = c0.shape[-1], h0.shape[-1]
    store_dtype = store_dtype or x.dtype
    mask = None if lengths is None else (torch.arange(T).unsqueeze(1) < lengths).to(x.device)  # (T, B)

    store = None
    if record and method != "reference":
        kw = dict(dtype=store_dtype, device=x.device)
        store = {"gates": torch.empty(num_layers * D, T, B, 4, H, **kw),
                 "c": torch.empty(num_layers * D, T, B, H, **kw),
                 "h": torch.empty(num_layers * D, T, B, P, **kw)}
    refs = []  # reference path: per layer and direction (gates, c, h)
    h_n, c_n = [], []
    layer_in = x
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            ld = layer * D + d
            xin = layer_in if d == 0 else reverse_time(layer_in, lengths)
            if method == "reference":
                clamp = clamps[ld] if clamps else None
                probe = probes[ld] if probes is not None else None
                if d == 1:  # clamps and probes are given in time order
                    clamp = clamp and {k: tuple(reverse_time(t, lengths) for t in mv) for k, mv in clamp.items()}
                    probe = probe and tuple(reverse_time(t, lengths) for t in probe)
                gates, c, h = cell_mod.run_reference(cell, weights[ld], xin, h0[ld], c0[ld], clamp, probe)
                out, hn, cn = h, *_final(h, c, lengths)
                if d == 1:
                    gates, c, h = (reverse_time(t, lengths) for t in (gates, c, h))
                refs.append((gates, c, h))
            else:
                run_path = {"replay": run_replay, "compiled": _run_compiled}.get(method, run_fast)
                sub = {k: s[ld] for k, s in store.items()} if store else {}
                out, hn, cn = run_path(cell, weights[ld], xin, h0[ld], c0[ld], lengths,
                                       sub.get("gates"), sub.get("c"))
                if store:
                    sub["h"].copy_(out)
                    if d == 1:
                        for s in sub.values():
                            s.copy_(reverse_time(s, lengths))
            if d == 1:
                out = reverse_time(out, lengths)
            if mask is not None:
                out = out * mask.unsqueeze(-1) if method == "reference" else out.masked_fill_(~mask.unsqueeze(-1), 0)
            outs.append(out)
            h_n.append(hn)
            c_n.append(cn)
        layer_out = outs[0] if D == 1 else torch.cat(outs, dim=-1)  # (T, B, D*P)
        if dropout and training and layer < num_layers - 1:
            layer_out = F.dropout(layer_out, dropout, training=True)
        layer_in = layer_out
    output = layer_in
    record_out = None
    if record:
        if method == "reference":
            record_out = {k: torch.stack([r[j] for r in refs]).to(store_dtype)
                          for j, k in enumerate(("gates", "c", "h"))}
            if mask is not None:
                record_out = {k: _nan_outside(t, mask) for k, t in record_out.items()}
        else:
            record_out = store
            if mask is not None:
                for t in store.values():
                    t.masked_fill_(_expand_mask(~mask, t), float("nan"))
    return output, torch.stack(h_n), torch.stack(c_n), record_out


def _run_compiled(cell, *args):
    """The compiled kernel; if it fails its per-call check, the Python path that would run."""
    res = kernel.run_layer(cell, *args)
    if res is None:
        res = (run_replay if cell.fusable else run_fast)(cell, *args)
    return res


def _final(h, c, lengths):
    """h_n (B, P) and c_n (B, H) at each sequence's last valid step, from h (T, B, P), c (T, B, H)."""
    if lengths is None:
        return h[-1], c[-1]
    last = (lengths - 1).to(h.device)
    b = torch.arange(h.shape[1], device=h.device)
    return h[last, b], c[last, b]


def _expand_mask(mask, t):
    """mask (T, B) shaped for a record tensor t (L*D, T, B, ...)."""
    return mask.view(1, *mask.shape, *[1] * (t.dim() - 3))


def _nan_outside(t, mask):
    return torch.where(_expand_mask(mask, t), t, torch.full((), float("nan"), dtype=t.dtype, device=t.device))
