"""The linear recurrence of the cell state, c_t = f_t ⊙ c_{t-1} + u_t, in few calls.

Replay (`lstm_core.engine.replay`) knows every f_t and u_t = i_t ⊙ g_t at once, so
c needs no per-step cell: only this scan.
"""
import math

import torch


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
