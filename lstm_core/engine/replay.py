"""Recording the gates of a fused run by replaying it.

The fused kernels (cuDNN, oneDNN) return every h_t but no gate. Given all h_t,
the gates of every step follow at once, because step t needs only x_t and h_{t-1}:

    Z = X W_ih^T + H_prev W_hh^T + b        one GEMM over all T*B rows
    i, f, g, o = σ, σ, tanh, σ of the four row blocks of Z

and c_t follows from the linear recurrence c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
(`lstm_core.engine.scan`). This costs one extra pass of the layer's FLOPs as a
large, efficient GEMM instead of T small ones, and a handful of calls per chunk
of steps instead of several per step.
"""
import torch

from .fused import run_fused, standard_weights
from .gemm import Linear
from .scan import linear_scan

# A chunk's gate buffer holds about this many elements (32 MiB in float32).
CHUNK_ELEMENTS = 1 << 23


@torch.no_grad()
def run_replay(cell, w, x, h0, c0, lengths=None, into=None):
    """Run one layer and direction of a fusable variant on the fused kernel, and
    record its gates and cell states by replay.

    x: (T, B, I), h0: (B, P), c0: (B, H); lengths: (B,) int64 on the CPU or None.
    into: a `Record` of buffers (T, B, 4, H), (T, B, H), (T, B, P) in any dtype, filled
        in this run's time order, or None to record nothing.
    Returns the output h (T, B, P), h_n (B, P), c_n (B, H) and `into`.
    """
    weights, has_biases = standard_weights(cell, w)
    out, h_n, c_n = run_fused(weights, has_biases, x, h0[None], c0[None], lengths)
    if into is None:
        return out, h_n[0], c_n[0], None

    rules = cell.rules
    T, B, _ = x.shape
    H = c0.shape[1]
    G = len(rules.gates)
    Tc = max(1, min(T, CHUNK_ELEMENTS // max(1, B * 4 * H)))
    x_proj = Linear(w.w_ih, w.bias, rows=Tc * B)
    h_proj = Linear(w.w_hh, rows=Tc * B)
    j = rules.gates.index("g")
    c_work = None
    if into.c.dtype != x.dtype:
        c_work = torch.empty(Tc, B, H, dtype=x.dtype, device=x.device)
    c = c0
    for t0 in range(0, T, Tc):
        n = min(Tc, T - t0)
        zf = x_proj(x[t0:t0 + n].reshape(n * B, -1))  # (n*B, G*H)
        if t0:
            h_proj.add_to(zf, out[t0 - 1:t0 + n - 1].reshape(n * B, -1))
        else:  # step 0 sees h0, the others the output of the step before
            h_proj.add_to(zf[:B], h0)
            if n > 1:
                h_proj.add_to(zf[B:], out[:n - 1].reshape((n - 1) * B, -1))
        # tanh(z) = 2 σ(2z) - 1, so one σ call over the whole buffer activates every gate.
        # Measured: σ and tanh over strided per-gate slices ran 2-4x slower.
        z = zf.view(n, B, G, H)
        z[:, :, j].mul_(2)
        zf.sigmoid_()
        z[:, :, j].mul_(2).sub_(1)
        made = {k: z[:, :, m] for m, k in enumerate(rules.gates)}  # k -> (n, B, H)
        one = torch.ones_like(made["g"]) if rules.fixed else 1
        i, f, g, o = (rules.effective(k, made, one) for k in "ifgo")
        u = g if "i" in rules.fixed else i * g
        cc = into.c[t0:t0 + n] if c_work is None else c_work[:n]
        linear_scan(f, u, c, cc)
        c = cc[n - 1].clone()
        if c_work is not None:
            into.c[t0:t0 + n].copy_(cc)
        if rules.gates == "ifgo":
            into.gates[t0:t0 + n].copy_(z)
        else:
            for slot, g_eff in enumerate((i, f, g, o)):
                into.gates[t0:t0 + n, :, slot].copy_(g_eff)
    into.h.copy_(out)
    return out, h_n[0], c_n[0], into
