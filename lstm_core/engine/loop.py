"""The time loop of `lstm_core.cells.lstm_cell.step`, in place and without autograd.

On a CPU each PyTorch call costs a few microseconds of dispatch however small
the tensors, which dominates a per-step loop below H of a few hundred (issue 3).
So this loop
- projects the inputs of a chunk of steps in one GEMM,
- keeps the gates of present parameters in a work buffer ordered
  (sigmoid gates i, f, o that exist..., g), so one call activates all sigmoids,
- writes every result in place through views prepared once per chunk (`unbind`),
and spends about 7 calls per step on the standard cell. It is tested against
the reference path (`lstm_core.engine.reference`) for every variant.
"""
import torch

from .gemm import Linear

# A chunk's work buffers hold about this many elements (32 MiB in float32).
CHUNK_ELEMENTS = 1 << 23


def _rows(rules, order, H):
    """Row indices that reorder the G*H gate rows from nn.LSTM order into `order`."""
    pos = [rules.gates.index(k) for k in order]
    return torch.cat([torch.arange(j * H, (j + 1) * H) for j in pos])


def _ending(lengths, t0, t1):
    """Batch indices b and local steps whose last valid step len_b - 1 lies in [t0, t1)."""
    last = lengths - 1
    b = torch.nonzero((last >= t0) & (last < t1)).flatten()
    return b, last[b] - t0


@torch.no_grad()
def run_loop(cell, w, x, h0, c0, lengths=None, into=None):
    """Run one layer and direction; the same numbers as the reference path.

    x: (T, B, I), h0: (B, P), c0: (B, H).
    lengths: (B,) int64 on the CPU or None; final states are taken at step len_b - 1.
    into: a `Record` of buffers (T, B, 4, H), (T, B, H), (T, B, P) in any dtype, filled
        in this run's time order, or None to record nothing.
    Returns the output h (T, B, P), h_n (B, P), c_n (B, H) and `into`.
    """
    r = cell.rules
    T, B, _ = x.shape
    H = c0.shape[1]
    sig = "".join(k for k in "ifo" if k in r.gates)  # sigmoid gates with parameters
    order = sig + "g"  # work buffer order: sigmoid gates first, then g
    G = len(order)
    n_if = sum(k in sig for k in "if")  # sigmoid gates that come before c_t
    late_o = "o" in r.peepholes and r.peephole_output == "current"
    n_early = n_if if late_o else len(sig)  # sigmoid gates activated in one call

    Tc = max(1, min(T, CHUNK_ELEMENTS // max(1, B * G * H)))
    rows = _rows(r, order, H).to(x.device)
    w_ih, w_hh = w.w_ih[rows], w.w_hh[rows]  # (G*H, I), (G*H, P) in work order
    bias = None if w.bias is None else w.bias[rows]
    # Wide batches: tanh(z) = 2 σ(2z) - 1, so with the g rows doubled (exact) one σ call
    # over the contiguous row activates every gate; measured 1.2-1.9x faster per step
    # than σ and tanh over strided slices from B*H = 2048 up, slower below.
    one_call = (B * H >= 2048 and r.input_activation and not late_o
                and cell.gate_activation[0] == "sigmoid")
    if one_call:  # w_ih, w_hh and bias are copies already (indexed by rows)
        for t in (w_ih, w_hh) + ((bias,) if bias is not None else ()):
            t[(G - 1) * H:] *= 2
    x_proj = Linear(w_ih, bias, rows=Tc * B)
    h_proj = Linear(w_hh, rows=B, calls=T)
    if r.peepholes:
        p_if = w.w_peep[:n_if]  # (n_if, H), broadcast over (B, n_if, H)
        p_o = w.w_peep[n_if] if "o" in sig else None  # (H,)
    w_gg_t = w.w_gg.T if r.gate_recurrence else None  # (3H, 3H), rows and columns i, f, o

    h_out = torch.empty(T, B, h0.shape[1], dtype=x.dtype, device=x.device)
    c_work = torch.empty(Tc, B, H, dtype=x.dtype, device=x.device)
    tanh_c = torch.empty(B, H, dtype=x.dtype, device=x.device)
    h_unproj = torch.empty(B, H, dtype=x.dtype, device=x.device) if w.w_hr is not None else None
    h_prev, c_prev = h0.clone(), c0.clone()  # carried across chunks
    prev = torch.zeros(B, 3 * H, dtype=x.dtype, device=x.device)  # i, f, o at t-1 (FGR)
    h_n, c_n = h0.clone(), c0.clone()
    C = c_work.unbind(0)  # (B, H)
    C1 = c_work.unsqueeze(2).unbind(0)  # (B, 1, H) for broadcasting over gates
    Hs = h_out.unbind(0)  # (B, P)

    for t0 in range(0, T, Tc):
        n = min(Tc, T - t0)
        work = x_proj(x[t0:t0 + n].reshape(n * B, -1)).view(n, B, G, H)  # pre-activations
        Z = work.view(n, B, G * H).unbind(0)  # (B, G*H) pre-activations, then gates
        S = work[:, :, :n_early].unbind(0)  # (B, n_early, H) activated in one call
        Zif = work[:, :, :n_if].unbind(0)  # (B, n_if, H) peephole targets
        Zp = work.view(n, B, G * H)[:, :, :3 * H].unbind(0)  # (B, 3H) i, f, o (FGR)
        gate = {k: work[:, :, j].unbind(0) for j, k in enumerate(order)}  # k -> (B, H)
        c_prev1 = c_prev.unsqueeze(1)  # (B, 1, H)
        for s in range(n):
            h_proj.add_to(Z[s], h_prev)
            if w_gg_t is not None:
                Zp[s].addmm_(prev, w_gg_t)
            if r.peepholes:
                if n_if:
                    Zif[s].addcmul_(p_if, c_prev1)
                if p_o is not None and not late_o:
                    gate["o"][s].addcmul_(p_o, c_prev)
            g = gate["g"][s]
            if one_call:
                Z[s].sigmoid_()
                g.mul_(2).sub_(1)
            else:
                if n_early:
                    cell.sigma_(S[s])
                if r.input_activation:
                    g.tanh_()
            c = C[s]
            if r.tied:  # coupled: f c + (1 - f) g = g + f (c - g)
                torch.lerp(g, c_prev, gate["f"][s], out=c)
            elif "i" in sig and "f" in sig:
                torch.mul(gate["f"][s], c_prev, out=c)
                c.addcmul_(gate["i"][s], g)
            elif "f" in sig:  # no input gate
                torch.addcmul(g, gate["f"][s], c_prev, out=c)
            else:  # no forget gate
                torch.addcmul(c_prev, gate["i"][s], g, out=c)
            if late_o:
                cell.sigma_(gate["o"][s].addcmul_(p_o, c))
            h = Hs[t0 + s] if h_unproj is None else h_unproj
            u = c
            if r.output_activation:
                u = torch.tanh(c, out=tanh_c if "o" in sig else h)
            if "o" in sig:
                torch.mul(gate["o"][s], u, out=h)
            elif not r.output_activation:
                h.copy_(u)
            if h_unproj is not None:
                torch.mm(h_unproj, w.w_hr.T, out=Hs[t0 + s])
            h_prev, c_prev, c_prev1 = Hs[t0 + s], c, C1[s]
            if w_gg_t is not None:
                prev = Zp[s]
        if into is not None:
            _store_gates(r, order, work, into.gates[t0:t0 + n])
            into.c[t0:t0 + n].copy_(c_work[:n])
        if lengths is not None:
            b, s = _ending(lengths, t0, t0 + n)
            b, s = b.to(x.device), s.to(x.device)
            c_n[b] = c_work[s, b]
            h_n[b] = h_out[t0 + s, b]
        # c_work is reused: keep the carried state out of it
        c_prev = c_prev.clone()
    if lengths is None:
        c_n, h_n = c_prev, h_out[T - 1]
    if into is not None:
        into.h.copy_(h_out)
    return h_out, h_n, c_n, into


def _store_gates(rules, order, work, store):
    """Copy the effective gates from a work chunk (n, B, G, H) into store (n, B, 4, H)."""
    made = {k: work[:, :, j] for j, k in enumerate(order)}  # k -> (n, B, H)
    for slot, k in enumerate("ifgo"):
        value = rules.effective(k, made, None)
        if value is None:  # a fixed gate is open
            store[:, :, slot].fill_(1)
        else:
            store[:, :, slot].copy_(value)
