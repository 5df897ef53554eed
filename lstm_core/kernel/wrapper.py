"""One layer and direction on the compiled kernel: the path contract of `lstm_core.engine.stack`.

The inputs of a chunk of steps are projected in one GEMM (`lstm_core.engine.gemm.Linear`,
oneDNN where it pays off); the kernel then runs the chunk's steps, writing i, f, g, o
and c straight into the record and h into the output. Per call it checks that the
last step is consistent (c_T = f_T ⊙ c_{T-1} + i_T ⊙ g_T, h_T = o_T ⊙ tanh(c_T) or the
variant's form), so a kernel that goes wrong is noticed and dropped, not trusted.
"""
import functools
import os

import torch

from ..engine.gemm import Linear
from ..cells.variants import sigmoid_gates

# A chunk's pre-activation buffer holds about this many elements (8 MiB in float32):
# smaller than the record, so the kernel's peak memory is the record plus this.
CHUNK_ELEMENTS = 1 << 21

# The per-step GEMM (trace_kernel.cpp `pack`): "auto" is the measured choice (our panel GEMM up
# to the kernel's PANEL_MAX_ROWS batch rows where AVX2 and FMA are built in, else MKL's packed
# GEMM, else at::mm); the others force one, for the benchmark and the tests. Unset or "auto" is
# what users get.
GEMM_ENV = "LSTM_CORE_KERNEL_GEMM"
GEMMS = {"auto": 0, "mkl": 1, "panel": 2, "mm": 3}


def gemm_choice():
    """LSTM_CORE_KERNEL_GEMM as the kernel's code: ValueError for an unknown name."""
    name = os.environ.get(GEMM_ENV, "auto").strip().lower() or "auto"
    if name not in GEMMS:
        raise ValueError(f"{GEMM_ENV}: expected one of {', '.join(GEMMS)}, got {name!r}")
    return GEMMS[name]


_FLAGS = {"coupled": 1, "input_act": 2, "output_act": 4, "peep_current": 8, "hard": 16, "fgr": 32}


class KernelMismatch(RuntimeError):
    """The kernel's last step disagrees with the cell equations: it is not used again."""


@functools.lru_cache(maxsize=256)  # per call it cost 5-15 us (issue 15: per-call overhead)
def options(cell):
    """The kernel's description of a cell: slots, peephole rows, flags, alpha, beta."""
    v = cell.variant
    slot = tuple(v.gates.index(k) if k in v.gates else -1 for k in "ifgo")
    sig = sigmoid_gates(v)
    peep = tuple(sig.index(k) if cell.peephole and k in sig else -1 for k in "ifo")
    hard = cell.gate_activation[0] != "sigmoid"
    flags = ((_FLAGS["coupled"] if v.coupled else 0) | (_FLAGS["input_act"] if v.input_activation else 0)
             | (_FLAGS["output_act"] if v.output_activation else 0)
             | (_FLAGS["peep_current"] if cell.peephole_output == "current" else 0)
             | (_FLAGS["hard"] if hard else 0) | (_FLAGS["fgr"] if v.gate_recurrence else 0))
    alpha, beta = (cell.gate_activation[1], cell.gate_activation[2]) if hard else (1.0, 0.0)
    return slot, peep, flags, alpha, beta


@torch.no_grad()
def run_compiled(ext, cell, w, x, h0, c0, lengths=None, gates_store=None, c_store=None, gemm=None):
    """Run one layer and direction on the kernel `ext`; the numbers of the reference path.

    x: (T, B, I), h0: (B, P), c0: (B, H), float32 on the CPU; lengths: (B,) int64 or None.
    gates_store: (T, B, 4, H) and c_store: (T, B, H), or None. Float32 contiguous stores
    are written in place; others (a float16 record) are filled chunk by chunk from float32
    buffers of one chunk, so a float16 record costs no float32 copy of itself; without a
    store nothing of i, f, g, o, c is kept beyond a chunk.
    gemm: a value of GEMMS (default: from LSTM_CORE_KERNEL_GEMM, "auto").
    Returns the output h (T, B, P), h_n (B, P) and c_n (B, H).
    """
    # Every tensor op here costs 3-10 us, which is 1-2 % of nn.LSTM at the smallest point
    # of the grid (T=100, B=1, H=64): this function keeps to the few it needs (issue 15).
    T, B, _ = x.shape
    H, P = c0.shape[1], h0.shape[1]
    G = len(cell.variant.gates)
    slot, peep_rows, flags, alpha, beta = options(cell)
    direct = lambda s: s is not None and s.dtype == torch.float32 and s.is_contiguous()  # noqa: E731
    Tc = max(1, min(T, CHUNK_ELEMENTS // max(1, B * G * H)))  # steps per chunk
    gates = gates_store if direct(gates_store) else x.new_empty(Tc, B, 4, H)  # whole record or one chunk
    c = c_store if direct(c_store) else x.new_empty(Tc, B, H)
    whole = gates is gates_store, c is c_store
    h = x.new_empty(T, B, P)
    empty = _EMPTY
    # Weights go in as they are (no .detach(): the kernel reads memory, and no_grad keeps
    # every op here out of autograd, so no graph holds the record).
    w_hh = w.w_hh.contiguous()
    w_hr = empty if w.w_hr is None else w.w_hr.contiguous()
    fgr = w.w_gg is not None
    if fgr:
        w_gg = w.w_gg.contiguous()
        prev, r = x.new_zeros(B, 3 * H), x.new_empty(B, 3 * H)
    else:
        w_gg, prev, r = empty, empty, empty
    peep = empty if w.w_peep is None or not cell.peephole else w.w_peep.contiguous()
    hu = x.new_empty(B, H) if w.w_hr is not None else empty
    mode = gemm_choice() if gemm is None else gemm
    whh_p = ext.pack(w_hh, B, mode)
    whr_p = ext.pack(w_hr, B, mode) if w.w_hr is not None else empty
    wgg_p = ext.pack(w_gg, B, mode) if fgr else empty
    bias = w.bias  # a property that adds b_ih + b_hh: read once
    x_proj = Linear(w.w_ih, bias, rows=Tc * B)
    h_prev, c_prev = h0.contiguous(), c0.contiguous()
    last = None if lengths is None else (lengths - 1).to(x.device)  # (B,) each sequence's last step
    c_n = None if lengths is None or whole[1] else x.new_empty(B, H)
    for t0 in range(0, T, Tc):
        n = min(Tc, T - t0)
        work = x_proj(_steps(x, t0, n).reshape(n * B, -1)).view(n, B, G * H)  # (n, B, G*H), contiguous
        g_k = _steps(gates, t0 if whole[0] else 0, n)  # (n, B, 4, H): this chunk's steps
        c_k = _steps(c, t0 if whole[1] else 0, n)  # (n, B, H)
        ext.recur(work, g_k, c_k, _steps(h, t0, n), h_prev, c_prev, w_hh, whh_p, w_hr, whr_p, w_gg, wgg_p, peep,
                  prev, hu, r, slot, peep_rows, flags, alpha, beta, 0)
        for store, mine, in_place in ((gates_store, g_k, whole[0]), (c_store, c_k, whole[1])):
            if store is not None and not in_place:  # a record in another dtype (e.g. float16)
                store[t0:t0 + n].copy_(mine)
        if c_n is not None:  # sequences that end in this chunk
            ends = (last >= t0) & (last < t0 + n)
            c_n[ends] = c_k[last[ends] - t0, ends.nonzero().squeeze(1)]
        c_before = c_prev if n == 1 else c_k[n - 2]  # c_{T-2} once this is the last chunk
        h_prev = h[t0 + n - 1]
        c_prev = c_k[n - 1] if whole[1] else c_k[n - 1].clone()  # the scratch is overwritten next
    check_last_step(cell, w, g_k[n - 1], c_before, c_k[n - 1], h[T - 1], ext=ext)
    if lengths is None:  # c_n a copy: c may be the caller's record, which it reverses in place
        return h, h[T - 1], c_k[n - 1].clone()
    b = torch.arange(B, device=x.device)
    return h, h[last, b], (c[last, b] if whole[1] else c_n)


_EMPTY = torch.empty(0)  # the kernel's "absent" tensor (read-only: only its numel is looked at)


def _steps(t, t0, n):
    """t[t0:t0 + n], or t itself when that is all of it (a slice is a tensor op, ~2 us)."""
    return t if t0 == 0 and n == t.shape[0] else t[t0:t0 + n]


def check_last_step(cell, w, gates, c_prev, c, h, atol=1e-4, ext=None):
    """KernelMismatch unless step T-1 obeys the cell update: gates (B, 4, H), c (B, H), h (B, P).

    With `ext` the distances are measured by the kernel's own `step_error` (in float64, one
    call instead of a dozen tensor ops), else here. NaN passes: non-finite input gives NaN
    everywhere, which is not the kernel's fault.
    """
    if ext is not None and all(t.dtype == torch.float32 and t.is_contiguous() for t in (gates, c_prev, c, h)):
        w_hr = _EMPTY if w.w_hr is None else w.w_hr.contiguous()
        bad_c, bad_h, scale = ext.step_error(gates, c_prev, c, h, w_hr, cell.variant.output_activation)
    else:
        i, f, g, o = gates.unbind(1)
        want_c = f * c_prev + i * g
        u = torch.tanh(c) if cell.variant.output_activation else c
        want_h = o * u
        if w.w_hr is not None:
            want_h = want_h @ w.w_hr.detach().T
        scale = 1 + c.abs().amax().item() if c.numel() else 1
        bad_c = (want_c - c).abs().amax().item() if c.numel() else 0.0
        bad_h = (want_h - h).abs().amax().item() if h.numel() else 0.0
    if bad_c > atol * scale or bad_h > atol * scale:
        raise KernelMismatch(f"last step inconsistent: |c - (f c' + i g)| = {bad_c:.3g}, "
                             f"|h - o act(c)| = {bad_h:.3g}")
