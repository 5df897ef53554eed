"""Recording the gates of a fused run by reading oneDNN's training workspace.

oneDNN's LSTM forward in training mode keeps, for its backward pass, the activated
gates of every step and every cell state in a workspace it returns
(`torch.ops.aten.mkldnn_rnn_layer(..., train=True)`). Reading them gives the record
with no second pass of the layer's FLOPs (replay) and no build step (compiled).
The layout is private to oneDNN and was found by comparison with the reference
path (float32, one layer and direction, offsets in floats):

    gates  at 0: (T, B, ld) with ld = 4H rounded up to 16, plus 16 when that is a
           multiple of 256; the first 4H of each row are i, f, g, o, activated
    states 2 (T+1) B ld_l floats (ld_l the same rounding of max(I, H)), then
           T B ld_h (ld_h of H), each region starting on a 4 KiB page
    c      on the next page: (2, T+1, B, H) dense; c_1 .. c_{T-1} at [1, 1:T];
           c_T is only in c_n

So it is guarded as the issue asks: a self-test against the reference path on first
use in a process, a check on every call that the last step obeys the cell update
(c_T = f c_{T-1} + i g equals c_n, h_T = o tanh(c_T) equals h_n; a run whose c_n or h_n
is not finite has nothing to check by and runs on replay), and on any failure,
or any exception from the private op, the path is dropped for the process with one
log line and the call is recomputed on replay.
"""
import logging

import torch

from .fused import standard_weights
from .handoff import HandOff

log = logging.getLogger("lstm_core.engine.workspace")

OPS = ("mkldnn_rnn_layer", "onednn_rnn_layer")  # the second: the name upstream is moving to
LSTM_MODE = 2  # oneDNN's rnn kind for LSTM in the op's `mode` argument
PAGE = 1024  # floats in a 4 KiB page
TOL = 1e-4  # float32: the per-call check's tolerance on c_T and h_T
# A chunk's workspace holds about this many gate values (32 MiB in float32), as replay's.
CHUNK_ELEMENTS = 1 << 23

_state = {"ok": None, "reason": None, "logged": False}


class LayoutMismatch(RuntimeError):
    """The workspace does not hold what this module expects."""


def _round(n):
    """oneDNN's leading dimension for n floats: a multiple of 16, off multiples of 256."""
    n = -(-n // 16) * 16
    return n + 16 if n % 256 == 0 else n


def _page(n):
    return -(-n // PAGE) * PAGE


def layout(T, B, I, H):
    """(gates ld, offset of c_1) in floats, for one layer and direction."""
    ld = _round(4 * H)
    states = _page(_page(T * B * ld) + 2 * (T + 1) * B * _round(max(I, H)))
    c_base = _page(states + T * B * _round(H))
    return ld, c_base + (T + 2) * B * H


def _op():
    for name in OPS:
        op = getattr(torch.ops.aten, name, None) if hasattr(torch.ops, "aten") else None
        if op is not None:
            try:
                return op.default
            except AttributeError:
                continue
    raise LayoutMismatch(f"this torch has no {' or '.join(OPS)} op")


def _forward(weights, has_biases, x, h0, c0):
    """The op on (w_ih, w_hh[, b_ih, b_hh]): output (T, B, H), h_n, c_n, gates (T, B, 4, H)
    and c_1 .. c_{T-1} (T-1, B, H), views of the workspace."""
    w_ih, w_hh = weights[:2]
    if has_biases:
        b_ih, b_hh = weights[2:4]
    else:
        b_ih = b_hh = w_ih.new_zeros(w_ih.shape[0])
    T, B, I = x.shape
    H = c0.shape[1]
    args = [t.detach().contiguous() for t in (x, w_ih, w_hh, b_ih, b_hh, h0, c0)]
    with torch.enable_grad():  # oneDNN keeps no workspace in no-grad mode; nothing here requires grad
        out, h_n, c_n, ws = _op()(*args, False, [], LSTM_MODE, H, 1, True, False, False, True)
    if ws is None or ws.numel() == 0:
        raise LayoutMismatch("the op returned no workspace")
    ws = ws.view(torch.float32) if ws.dtype != torch.float32 else ws
    ld, c_at = layout(T, B, I, H)
    need = max(T * B * ld, c_at + (T - 1) * B * H)
    if out.shape != (T, B, H) or h_n.shape != (B, H) or c_n.shape != (B, H) or ws.numel() < need:
        raise LayoutMismatch(f"unexpected shapes: output {tuple(out.shape)}, h_n {tuple(h_n.shape)}, "
                             f"workspace {ws.numel()} floats (expected at least {need})")
    gates = ws[:T * B * ld].view(T, B, ld)[:, :, :4 * H].view(T, B, 4, H)
    cs = ws[c_at:c_at + (T - 1) * B * H].view(T - 1, B, H)
    return out, h_n, c_n, gates, cs


def _check(gates, cs, c0, h_n, c_n):
    """LayoutMismatch unless the last step obeys the cell update."""
    i, f, g, o = gates[-1].unbind(1)
    c_prev = cs[-1] if cs.shape[0] else c0
    c_T = f * c_prev + i * g
    h_T = o * torch.tanh(c_n)
    # relative on c: without a forget gate |c| grows with T, and so does its float32 rounding
    dc = ((c_T - c_n).abs() / (1 + c_n.abs())).max().item()
    dh = (h_T - h_n).abs().max().item()
    if not (dc <= TOL and dh <= TOL):  # also catches NaN
        raise LayoutMismatch(f"the last step does not obey the cell update (|dc| {dc:.3g}, |dh| {dh:.3g})")


def fits(cell, w, x, h0, c0, lengths=None):
    """None if this call is one the workspace read can run, else why not."""
    if not cell.fusable:
        return "the cell is not one the fused kernel runs"
    if x.device.type != "cpu" or x.dtype != torch.float32:
        return f"it reads oneDNN on the CPU in float32, this input is {x.dtype} on {x.device}"
    if w.w_hr is not None or h0.shape[-1] != c0.shape[-1]:
        return "oneDNN has no projection"
    if lengths is not None:
        return "padded batches (lengths) run on replay"
    if x.shape[0] == 0 or x.shape[1] == 0:
        return "empty input"
    return None


def disable(reason):
    """Stop using the workspace read for the rest of the process, saying why once."""
    _state.update(ok=False, reason=reason)
    if not _state["logged"]:
        _state["logged"] = True
        log.warning("lstm_core: trace no longer reads oneDNN's workspace (it runs on replay) because %s", reason)


def reason():
    """Why the workspace read is not used in this process, or None if it is (self-test on first call)."""
    if _state["ok"] is None:
        if not torch.backends.mkldnn.is_available():
            _state.update(ok=False, reason="this torch is built without oneDNN")
        else:
            try:
                self_test()
                _state.update(ok=True, reason=None)
            except Exception as e:  # noqa: BLE001 - a private op: any failure is a fallback
                disable(f"its self-test failed ({type(e).__name__}: {e})")
    return _state["reason"]


def available(cell, w, x, h0, c0, lengths=None):
    """True if the workspace read should run this call."""
    return fits(cell, w, x, h0, c0, lengths) is None and reason() is None


@torch.no_grad()
def run_workspace(cell, w, x, h0, c0, lengths=None, into=None):
    """Run one layer and direction of a fusable variant on oneDNN in training mode, and
    record its gates and cell states from the workspace (contract of `run_replay`).

    x: (T, B, I) float32 on the CPU, h0, c0: (B, H); lengths: must be None; no projection.
    into: a `Record` of buffers (T, B, 4, H), (T, B, H), (T, B, H) or None (then nothing is
        recorded and the inference kernel runs, as on replay).
    Returns the output h (T, B, H), h_n (B, H), c_n (B, H) and `into`. The steps run in
    chunks of about CHUNK_ELEMENTS gate values, each handing h and c on to the next, so
    the workspace stays small next to the record. A call the read cannot run, or one that
    fails its guard, runs on `run_replay` instead.
    """
    why = fits(cell, w, x, h0, c0, lengths)
    if into is None or why is not None or reason() is not None:
        return _replay(cell, w, x, h0, c0, lengths, into)
    try:
        weights, has_biases = standard_weights(cell, w)
        T, B, _ = x.shape
        H = c0.shape[1]
        Tc = max(1, min(T, CHUNK_ELEMENTS // max(1, B * 4 * H)))
        out = x.new_empty(T, B, H)
        h, c = h0, c0
        for t0 in range(0, T, Tc):
            n = min(Tc, T - t0)
            o, h_n, c_n, gates, cs = _forward(weights, has_biases, x[t0:t0 + n], h, c)
            try:
                _check(gates, cs, c, h_n, c_n)
            except LayoutMismatch:  # the finiteness test only then: 2 ops, 10 % of the smallest call
                if not (torch.isfinite(c_n).all() and torch.isfinite(h_n).all()):
                    # inf or NaN in the run itself: nothing to check the layout by; replay says the same
                    return _replay(cell, w, x, h0, c0, lengths, into)
                raise
            out[t0:t0 + n].copy_(o)
            into.gates[t0:t0 + n].copy_(gates)
            into.c[t0:t0 + n - 1].copy_(cs)
            into.c[t0 + n - 1].copy_(c_n)
            h, c = h_n, c_n
        into.h.copy_(out)
        return out, h, c, into
    except HandOff:  # a run with inf or NaN: replay says the same, and the path stays on
        raise
    except Exception as e:  # noqa: BLE001 - a private op and layout: any failure is a fallback
        disable(f"it failed on a call ({type(e).__name__}: {e})")
    return _replay(cell, w, x, h0, c0, lengths, into)


def _replay(cell, w, x, h0, c0, lengths, into):
    """Hand the call to `run_replay` through the stack (`lstm_core.engine.handoff`)."""
    raise HandOff("replay")


def self_test():
    """LayoutMismatch unless the read matches the reference path on small and odd sizes."""
    from ..cells.lstm_cell import Cell, LayerWeights
    from ..cells.variants import REGISTRY
    from .record import Record
    from .reference import run_reference

    gen = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=gen) * 0.5  # noqa: E731
    cases = [("standard", 7, 3, 5, 3), ("standard", 1, 1, 3, 1), ("standard", 5, 2, 4, 64),
             ("standard", 3, 2, 260, 20)]
    cases += [(v, 4, 2, 3, 5) for v, c in REGISTRY.items() if Cell(c, False, "current", ("sigmoid",)).fusable
              and v != "standard"]
    for name, T, B, I, H in cases:
        v = REGISTRY[name]
        cell = Cell(v, False, "current", ("sigmoid",))
        G = len(v.gates)
        w = LayerWeights(r(G * H, I), r(G * H, H), r(G * H), r(G * H), None, None, None)
        x, h0, c0 = r(T, B, I), r(B, H), r(B, H)
        want = run_reference(cell, w, x, h0, c0)[3]
        weights, has_biases = standard_weights(cell, w)
        out, h_n, c_n, gates, cs = _forward(weights, has_biases, x, h0, c0)
        _check(gates, cs, c0, h_n, c_n)
        got = Record(gates, torch.cat([cs, c_n[None]]), out)
        for field, a, b in zip(("gates", "c", "h"), got, want):
            if not torch.allclose(a, b, atol=1e-5, rtol=1e-5):
                raise LayoutMismatch(f"{field} of {name!r} (T={T}, B={B}, I={I}, H={H}) differs from the "
                                     f"reference by {(a - b).abs().max().item():.3g}")
