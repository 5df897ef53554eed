"""One layer and direction on the compiled kernel: the path contract of `lstm_core.engine.stack`.

The inputs of a chunk of steps are projected in one GEMM (`lstm_core.engine.gemm.Linear`,
oneDNN where it pays off); the kernel then runs the chunk's steps, writing i, f, g, o
and c straight into the record and h into the output. Per call it checks that the
last step is consistent (c_T = f_T ⊙ c_{T-1} + i_T ⊙ g_T, h_T = o_T ⊙ tanh(c_T) or the
variant's form), so a kernel that goes wrong is noticed and dropped, not trusted.
"""
import torch

from ..engine.gemm import Linear
from ..variants import sigmoid_gates

# A chunk's pre-activation buffer holds about this many elements (8 MiB in float32):
# smaller than the record, so the kernel's peak memory is the record plus this.
CHUNK_ELEMENTS = 1 << 21

_FLAGS = {"coupled": 1, "input_act": 2, "output_act": 4, "peep_current": 8, "hard": 16, "fgr": 32}


class KernelMismatch(RuntimeError):
    """The kernel's last step disagrees with the cell equations: it is not used again."""


def options(cell):
    """The kernel's description of a cell: slots, peephole rows, flags, alpha, beta."""
    v = cell.variant
    slot = [v.gates.index(k) if k in v.gates else -1 for k in "ifgo"]
    sig = sigmoid_gates(v)
    peep = [sig.index(k) if cell.peephole and k in sig else -1 for k in "ifo"]
    hard = cell.gate_activation[0] != "sigmoid"
    flags = ((_FLAGS["coupled"] if v.coupled else 0) | (_FLAGS["input_act"] if v.input_activation else 0)
             | (_FLAGS["output_act"] if v.output_activation else 0)
             | (_FLAGS["peep_current"] if cell.peephole_output == "current" else 0)
             | (_FLAGS["hard"] if hard else 0) | (_FLAGS["fgr"] if v.gate_recurrence else 0))
    alpha, beta = (cell.gate_activation[1], cell.gate_activation[2]) if hard else (1.0, 0.0)
    return slot, peep, flags, alpha, beta


@torch.no_grad()
def run_compiled(ext, cell, w, x, h0, c0, lengths=None, gates_store=None, c_store=None):
    """Run one layer and direction on the kernel `ext`; the numbers of the reference path.

    x: (T, B, I), h0: (B, P), c0: (B, H), float32 on the CPU; lengths: (B,) int64 or None.
    gates_store: (T, B, 4, H) and c_store: (T, B, H), or None. Float32 contiguous stores
    are written in place; others (a float16 record) are copied into from float32 buffers.
    Returns the output h (T, B, P), h_n (B, P) and c_n (B, H).
    """
    T, B, _ = x.shape
    H, P = c0.shape[1], h0.shape[1]
    G = len(cell.variant.gates)
    slot, peep_rows, flags, alpha, beta = options(cell)
    kw = dict(dtype=torch.float32, device=x.device)
    direct = lambda s: s is not None and s.dtype == torch.float32 and s.is_contiguous()  # noqa: E731
    gates = gates_store if direct(gates_store) else torch.empty(T, B, 4, H, **kw)
    c = c_store if direct(c_store) else torch.empty(T, B, H, **kw)
    h = torch.empty(T, B, P, **kw)
    empty = torch.empty(0, **kw)
    w_hh = w.w_hh.detach().contiguous()  # detached: no autograd graph holds the record
    w_hr = empty if w.w_hr is None else w.w_hr.detach().contiguous()
    w_gg = empty if w.w_gg is None else w.w_gg.detach().contiguous()
    peep = empty if w.w_peep is None or not cell.peephole else w.w_peep.detach().contiguous()
    pk = lambda t: ext.pack(t, B) if t.numel() else empty  # noqa: E731
    prev = torch.zeros(B, 3 * H, **kw) if w_gg.numel() else empty.new_zeros(1)
    r = torch.empty(B, 3 * H, **kw) if w_gg.numel() else empty.new_zeros(1)
    hu = torch.empty(B, H, **kw) if w_hr.numel() else empty.new_zeros(1)
    whh_p, whr_p, wgg_p = pk(w_hh), pk(w_hr), pk(w_gg)
    Tc = max(1, min(T, CHUNK_ELEMENTS // max(1, B * G * H)))
    x_proj = Linear(w.w_ih.detach(), None if w.bias is None else w.bias.detach(), rows=Tc * B)
    h0, c0 = h0.detach().contiguous(), c0.detach().contiguous()
    for t0 in range(0, T, Tc):
        n = min(Tc, T - t0)
        work = x_proj(x[t0:t0 + n].reshape(n * B, -1)).view(n, B, G * H)  # (n, B, G*H)
        ext.recur(work.contiguous(), gates, c, h, h0, c0, w_hh, whh_p, w_hr, whr_p, w_gg, wgg_p, peep,
                  prev, hu, r, slot, peep_rows, flags, alpha, beta, t0)
    check_last_step(cell, w, gates[T - 1], c[T - 2] if T > 1 else c0, c[T - 1], h[T - 1])
    for store, mine in ((gates_store, gates), (c_store, c)):  # a record in another dtype (e.g. float16)
        if store is not None and store is not mine:
            store.copy_(mine)
    if lengths is None:  # c_n a copy: c may be the caller's record, which it reverses in place
        return h, h[T - 1], c[T - 1].clone()
    last = (lengths - 1).to(x.device)
    b = torch.arange(B, device=x.device)
    return h, h[last, b], c[last, b]


def check_last_step(cell, w, gates, c_prev, c, h, atol=1e-4):
    """KernelMismatch unless step T-1 obeys the cell update: gates (B, 4, H), c (B, H), h (B, P)."""
    i, f, g, o = gates.unbind(1)
    want_c = f * c_prev + i * g
    u = torch.tanh(c) if cell.variant.output_activation else c
    want_h = o * u
    if w.w_hr is not None:
        want_h = want_h @ w.w_hr.detach().T
    scale = 1 + c.abs().amax().item() if c.numel() else 1
    bad_c = (want_c - c).abs().amax().item() if c.numel() else 0.0
    bad_h = (want_h - h).abs().amax().item() if h.numel() else 0.0
    if bad_c > atol * scale or bad_h > atol * scale:  # NaN passes: non-finite input gives NaN everywhere
        raise KernelMismatch(f"last step inconsistent: |c - (f c' + i g)| = {bad_c:.3g}, "
                             f"|h - o act(c)| = {bad_h:.3g}")
