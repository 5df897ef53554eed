"""Recording the gates of a fused run by replaying it.

The fused kernels (cuDNN, oneDNN) return every h_t but no gate. Given all h_t,
the gates of every step follow at once, because step t needs only x_t and h_{t-1}:

    Z = X W_ih^T + H_prev W_hh^T + b        one GEMM over all T*B rows
    i, f, g, o = σ, σ, tanh, σ of the four row blocks of Z

and c_t follows from the linear recurrence c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
(`linear_scan`). This costs one extra pass of the layer's FLOPs as a large,
efficient GEMM instead of T small ones, and a handful of calls per chunk of
steps instead of several per step.
"""
import math

import torch

from .fused import run_fused, standard_weights
from .gemm import Linear

# A chunk's gate buffer holds about this many elements (32 MiB in float32).
CHUNK_ELEMENTS = 1 << 23


def linear_scan(f, u, c0, out):
    """c_t = f_t ⊙ c_{t-1} + u_t for t = 0..T-1, from c_{-1} = c0.

    f, u: (T, B, H); c0: (B, H); out: (T, B, H), filled and returned.
    A thin batch (B*H small) uses a two-level scan of about 2 sqrt(T) calls: a
    local scan inside blocks of K steps, all blocks at once, then the carries
    between blocks, added back through the cumulative product of f inside each
    block. Only products of f appear, never quotients, so an underflow to 0 is
    the right answer and nothing overflows (the closed form through 1/cumprod(f) does).
    """
    T = f.shape[0]
    if T < 16 or f[0].numel() > 512:  # measured: here one call per step is faster
        c = c0
        for f_t, u_t, out_t in zip(f.unbind(0), u.unbind(0), out.unbind(0)):
            c = torch.addcmul(u_t, f_t, c, out=out_t)
        return out
    K = math.isqrt(T)
    n = -(-T // K)
    pad = n * K - T
    if pad:  # pad with f = 1, u = 0, which leaves c unchanged
        f = torch.cat([f, f.new_ones(pad, *f.shape[1:])])
        u = torch.cat([u, u.new_zeros(pad, *u.shape[1:])])
    fb = f.view(n, K, *f.shape[1:]).transpose(0, 1)  # (K, n, B, H)
    ub = u.view(n, K, *u.shape[1:]).transpose(0, 1)
    local = torch.empty_like(ub)  # scan inside each block from c = 0
    loc = local.unbind(0)
    loc[0].copy_(ub[0])
    for f_k, u_k, prev, out_k in zip(fb.unbind(0)[1:], ub.unbind(0)[1:], loc, loc[1:]):
        torch.addcmul(u_k, f_k, prev, out=out_k)
    prod = torch.cumprod(fb, dim=0)  # (K, n, B, H) product of f inside the block up to k
    carry = torch.empty_like(local[0])  # (n, B, H) c just before each block
    carry[0] = c0
    cs = carry.unbind(0)
    for last, p, prev, out_j in zip(loc[K - 1].unbind(0), prod[K - 1].unbind(0), cs, cs[1:]):
        torch.addcmul(last, p, prev, out=out_j)
    c = local.addcmul_(prod, carry)  # (K, n, B, H)
    out.copy_(c.transpose(0, 1).reshape(n * K, *f.shape[1:])[:T])
    return out


@torch.no_grad()
def run_replay(cell, w, x, h0, c0, lengths=None, gates_store=None, c_store=None):
    """Run one layer and direction of a fusable variant on the fused kernel, and
    record its gates and cell states by replay.

    x: (T, B, I), h0: (B, P), c0: (B, H); lengths: (B,) int64 on the CPU or None.
    gates_store: (T, B, 4, H) and c_store: (T, B, H), filled when given, in any dtype.
    Returns the output h (T, B, P), h_n (B, P) and c_n (B, H).
    """
    weights, has_biases = standard_weights(cell, w)
    out, h_n, c_n = run_fused(weights, has_biases, x, h0[None], c0[None], lengths)
    if gates_store is None and c_store is None:
        return out, h_n[0], c_n[0]

    v = cell.variant
    T, B, _ = x.shape
    H = c0.shape[1]
    G = len(v.gates)
    Tc = max(1, min(T, CHUNK_ELEMENTS // max(1, B * 4 * H)))
    x_proj = Linear(w.w_ih, w.bias, rows=Tc * B)
    h_proj = Linear(w.w_hh, rows=Tc * B)
    j = v.gates.index("g")
    c_work = None
    if c_store is None or c_store.dtype != x.dtype:
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
        gate = {k: z[:, :, m] for m, k in enumerate(v.gates)}  # k -> (n, B, H)
        one = None
        if "f" not in gate or ("i" not in gate and not v.coupled) or "o" not in gate:
            one = torch.ones_like(gate["g"])
        f = gate.get("f", one)
        i = 1 - f if v.coupled else gate.get("i", one)
        u = gate["g"] if i is one else i * gate["g"]
        cc = c_store[t0:t0 + n] if c_work is None else c_work[:n]
        linear_scan(f, u, c, cc)
        c = cc[n - 1].clone()
        if c_work is not None and c_store is not None:
            c_store[t0:t0 + n].copy_(cc)
        if gates_store is not None:
            if v.gates == "ifgo":
                gates_store[t0:t0 + n].copy_(z)
            else:
                for slot, g_eff in enumerate((i, f, gate["g"], gate.get("o", one))):
                    gates_store[t0:t0 + n, :, slot].copy_(g_eff)
    return out, h_n[0], c_n[0]
