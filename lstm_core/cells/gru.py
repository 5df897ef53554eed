"""The GRU (Cho et al. 2014; the form of torch.nn.GRU and cuDNN), declared and computed.

For each step, with r the reset gate, z the update gate and n the candidate,

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))        reset="after" (torch, cuDNN)
    n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)        reset="before" (Cho et al. 2014,
                                                                      ONNX linear_before_reset=0,
                                                                      Keras reset_after=False)
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

z is the fraction of h_{t-1} kept, as in torch, ONNX and Keras (some texts write the
opposite). With reset="after", b_hn sits inside r ⊙ (...), so it cannot be folded into b_in.

Weight layout, torch.nn.GRU's: weight_ih_l{k} (3H, I) with rows (W_ir|W_iz|W_in),
weight_hh_l{k} (3H, H) with rows (W_hr|W_hz|W_hn), bias_ih_l{k} and bias_hh_l{k} (3H,).

Paths for one layer and direction (`run_layer`), all giving the same numbers to rounding:
    "replay"     reset="after": torch's fused GRU kernel gives every h_t; r, z and n of all
                 steps then follow at once from two large GEMMs, since step t needs only
                 x_t and h_{t-1}
    "loop"       either reset: an in-place time loop without autograd
    "reference"  the plain loop over `step`, with autograd and clamps
"""
import functools
import warnings

import torch
from torch import _VF

from .base import Declaration, Field, plus

RESETS = ("after", "before")
REPLAY_MAX_WIDTH = 256  # B*H from which "auto" loops rather than replays on the CPU (see run_layer)

_FIELDS = (
    Field("r", "reset gate", "how much of h_{t-1} the candidate n sees", "gate"),
    Field("z", "update gate", "the fraction of h_{t-1} kept; 1 − z is the fraction of n written", "gate"),
    Field("n", "candidate", "the new content proposed for h", "candidate"),
    Field("h", "hidden state", "the memory and the output", "candidate"),
)
_NOTE_Z = "z keeps: h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}, as in torch, ONNX and Keras"


def declaration(reset="after"):
    """The GRU's `Declaration` for `reset` "after" (torch) or "before" (Cho et al. 2014)."""
    if reset not in RESETS:
        raise ValueError(f"reset: expected 'after' (torch.nn.GRU, cuDNN) or 'before' (Cho et al. 2014), "
                         f"got {reset!r}")
    n_text = ("n = tanh(W_in x + b_in + r ⊙ (W_hn h_{t−1} + b_hn))" if reset == "after"
              else "n = tanh(W_in x + b_in + W_hn (r ⊙ h_{t−1}) + b_hn)")
    n_tex = (r"n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))" if reset == "after"
             else r"n_t = \tanh(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn})")
    return Declaration(
        family="gru", title="GRU" if reset == "after" else "GRU (reset before the matmul, Cho et al. 2014)",
        variant=reset, fields=_FIELDS, states=("h",), memory="h", blocks="rzn",
        equations=("r = σ(W_ir x + b_ir + W_hr h_{t−1} + b_hr)", "z = σ(W_iz x + b_iz + W_hz h_{t−1} + b_hz)",
                   n_text, "h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}"),
        latex=(r"r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})",
               r"z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})",
               n_tex, r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}"),
        notes={"z": _NOTE_Z}, keep="z", keep_writes=True, candidate="n", past=("r",), paths=("replay", "loop", "reference") if reset == "after" else ("loop", "reference"),
        summary=("GRU: two gates and no cell state; z keeps part of h and writes the rest from the "
                 "candidate n, r decides how much of the past n sees" + ("" if reset == "after" else
                                                                          ", r applied before the matmul")
                 + "."))


def describe_step(v):
    """One step of one unit in words, from its numbers: a few sentences a lecturer can read out.

    v: {"r", "z", "n", "h", "h_prev"} floats, "prev" the step h_prev comes from (-1: the initial state)."""
    r, z, n, h, h_prev = (float(v[k]) for k in ("r", "z", "n", "h", "h_prev"))
    prev = "the initial state (zeros)" if v.get("prev", 0) < 0 else f"step {v['prev']}"
    return [
        f"The state comes from {prev}: h = {h_prev:.3f}.",
        f"r lets {r:.0%} of the past into the candidate: n = {n:.3f}.",
        f"z keeps {z:.0%} of h and writes {1 - z:.0%} of n: z·h = {z * h_prev:.3f}, (1 − z)·n = {(1 - z) * n:.3f}.",
        f"So h' = {plus(z * h_prev, (1 - z) * n)} = {h:.3f}.",
    ]


def parameter_shapes(n_in, H, bias=True):
    """name -> shape of one layer and direction's parameters (torch.nn.GRU's names)."""
    shapes = {"weight_ih": (3 * H, n_in), "weight_hh": (3 * H, H)}
    if bias:
        shapes.update(bias_ih=(3 * H,), bias_hh=(3 * H,))
    return shapes


def cell_parts(values):
    """What h_t kept and what it wrote: (z ⊙ h_{t-1}, (1 − z) ⊙ n), each (..., H).

    values: {field: tensor}. The kept part is h_t − (1 − z) ⊙ n, which needs no h_{-1}."""
    written = (1 - values["z"]) * values["n"]
    return values["h"] - written, written


def _blocks(t, H):
    return t[:H], t[H:2 * H], t[2 * H:]


def step(w, x_t, h, reset="after", clamp=None):
    """One GRU step with autograd: the readable definition the other paths are tested against.

    w: {"weight_ih" (3H, I), "weight_hh" (3H, H), "bias_ih", "bias_hh" (3H,) or None}
    x_t: (B, I), h: (B, H) the state at t-1.
    clamp: {name: (mask, values)} for names in r, z, n, h, each (B, H): where mask is True
        the value replaces what the cell computed (`lstm_core.analysis.interventions`).
    Returns r, z, n, h_t, each (B, H).
    """
    clamp = clamp or {}

    def fix(name, t):
        return torch.where(clamp[name][0], clamp[name][1], t) if name in clamp else t

    H = h.shape[1]
    b_ih, b_hh = w.get("bias_ih"), w.get("bias_hh")
    W_ir, W_iz, W_in = _blocks(w["weight_ih"], H)
    W_hr, W_hz, W_hn = _blocks(w["weight_hh"], H)
    b_ir, b_iz, b_in = _blocks(b_ih, H) if b_ih is not None else (0, 0, 0)
    b_hr, b_hz, b_hn = _blocks(b_hh, H) if b_hh is not None else (0, 0, 0)
    r = fix("r", torch.sigmoid(x_t @ W_ir.T + b_ir + h @ W_hr.T + b_hr))
    z = fix("z", torch.sigmoid(x_t @ W_iz.T + b_iz + h @ W_hz.T + b_hz))
    if reset == "after":
        n = torch.tanh(x_t @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
    else:
        n = torch.tanh(x_t @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)
    n = fix("n", n)
    h_new = fix("h", (1 - z) * n + z * h)
    return r, z, n, h_new


def _last_valid(t, lengths):
    if lengths is None:
        return t[-1]
    return t[(lengths - 1).to(t.device), torch.arange(t.shape[1], device=t.device)]


def run_layer(w, x, states, lengths=None, *, reset="after", record=True, method="auto", clamps=None):
    """One layer and direction, forward in time, padding last (`lstm_core.engine.generic`).

    w: parameter name -> tensor (see `step`); x: (T, B, I); states: (h0,), h0 (B, H);
    lengths: (B,) int64 on the CPU or None. clamps: {name: (mask, values)}, (T, B, H) each (method "reference").
    Returns output (T, B, H), (h_n,) with h_n (B, H), the record {r, z, n, h: (T, B, H)} or
    None, and the path that ran.
    """
    h0 = states[0]
    if method == "auto" and not record and reset == "after" and not clamps:
        # a forward: torch's fused GRU, with its own backward (training runs here)
        out, _ = _fused(w, x, h0)
        return out, (_last_valid(out, lengths),), None, "fused"
    if method == "auto":
        wants_grad = torch.is_grad_enabled() and (x.requires_grad or any(
            t is not None and t.requires_grad for t in w.values()))
        # replay adds a second pass of the layer's FLOPs as two large GEMMs: cheap while the fused
        # kernel's per-step products are small and slow (B = 1), while from B*H = 256 the scripted
        # loop runs at nn.GRU's own speed (benchmarks/trace_speed.py --cells gru, 1 thread:
        # B=32, H=64: replay 2.0x, loop 0.97x; B=1, H=64: replay 1.13x, loop 1.27x)
        wide = x.shape[1] * h0.shape[1] >= REPLAY_MAX_WIDTH and x.device.type == "cpu"
        method = ("reference" if wants_grad or clamps else
                  "replay" if reset == "after" and not (wide and record) else "loop")
    if method == "replay" and reset != "after":
        raise ValueError("method='replay' runs torch's fused GRU, which resets after the matmul; "
                         "a reset='before' GRU runs on 'loop' or 'reference'")
    if clamps and method != "reference":
        raise ValueError(f"interventions run on method='reference' (or 'auto'), got {method!r}")
    if method == "reference":
        rec = {k: [] for k in "rznh"}
        h = h0
        for t in range(x.shape[0]):
            clamp = {k: (m[t], v[t]) for k, (m, v) in clamps.items()} if clamps else None
            r, z, n, h = step(w, x[t], h, reset, clamp)
            for k, v in zip("rznh", (r, z, n, h)):
                rec[k].append(v)
        rec = {k: torch.stack(v) for k, v in rec.items()}
        return rec["h"], (_last_valid(rec["h"], lengths),), rec if record else None, method
    if method not in ("replay", "loop"):
        raise ValueError(f"method: a GRU runs on 'auto', 'replay', 'loop' or 'reference', got {method!r}")
    with torch.no_grad():
        out, rec = (_replay if method == "replay" else _loop)(w, x, h0, reset, record)
    return out, (_last_valid(out, lengths),), rec, method


def _input_part(w, x):
    """x W_ih^T + b_ih for all steps at once: (T, B, I) -> (T, B, 3H)."""
    b = w.get("bias_ih")
    flat = x.reshape(-1, x.shape[-1])
    z = flat @ w["weight_ih"].T if b is None else torch.addmm(b, flat, w["weight_ih"].T)
    return z.view(*x.shape[:-1], -1)


def _gates(gi, gh, h_prev):
    """r, z, n from the input part gi and recurrent part gh (..., 3H) of reset="after"; in place on gi."""
    H = gi.shape[-1] // 3
    rz = gi[..., :2 * H].add_(gh[..., :2 * H]).sigmoid_()  # (..., 2H)
    r, z = rz[..., :H], rz[..., H:]
    n = gi[..., 2 * H:].addcmul_(r, gh[..., 2 * H:]).tanh_()  # (..., H)
    return r, z, n


def _fused(w, x, h0):
    """torch's fused GRU kernel (oneDNN, cuDNN) on one layer and direction: output (T, B, H), h_n."""
    params = [w["weight_ih"], w["weight_hh"]]
    has_bias = w.get("bias_ih") is not None
    if has_bias:
        params += [w["bias_ih"], w["bias_hh"]]
    return _VF.gru(x, h0[None], params, has_bias, 1, 0.0, False, False, False)


def _replay(w, x, h0, reset, record):
    """torch's fused GRU for every h_t, then r, z, n of all steps from two GEMMs."""
    out, _ = _fused(w, x, h0)  # (T, B, H)
    if not record:
        return out, None
    T, B, H = out.shape
    h_prev = torch.cat([h0[None], out[:-1]])  # (T, B, H): h_{t-1} for every t
    gi = _input_part(w, x)  # (T, B, 3H)
    b_hh = w.get("bias_hh")
    flat = h_prev.reshape(T * B, H)
    gh = (flat @ w["weight_hh"].T if b_hh is None else torch.addmm(b_hh, flat, w["weight_hh"].T)).view(T, B, -1)
    r, z, n = _gates(gi, gh, h_prev)
    return out, {"r": r, "z": z, "n": n, "h": out}


def _loop(w, x, h0, reset, record):
    """The time loop without autograd, for either reset. r, z, n are computed in place in the
    buffer of the input part, which then is the record: no copy per step. The steps run under
    TorchScript where it is available: the same ops without Python's cost per op, about
    nn.GRU's speed from B*H = 256 up (benchmarks/trace_speed.py --cells gru)."""
    T, B, _ = x.shape
    H = h0.shape[1]
    gi = _input_part(w, x)  # (T, B, 3H), becomes r | z | n
    W_hh, b_hh = w["weight_hh"], w.get("bias_hh")
    if b_hh is None:
        b_hh = W_hh.new_zeros(3 * H)
    out = x.new_empty(T, B, H)
    steps = _scripted()
    run = steps[reset] if steps else (_steps_after if reset == "after" else _steps_before)
    run(gi, W_hh, b_hh, h0, out)
    if not record:
        return out, None
    return out, {"r": gi[..., :H], "z": gi[..., H:2 * H], "n": gi[..., 2 * H:], "h": out}


def _steps_after(gi: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor, h0: torch.Tensor, out: torch.Tensor):
    """Every step of reset="after", in place: gi (T, B, 3H) becomes r | z | n, out (T, B, H) h."""
    H = h0.shape[1]
    w_t = w_hh.t()
    h = h0
    for t in range(gi.shape[0]):
        gh = torch.addmm(b_hh, h, w_t)  # (B, 3H)
        g = gi[t]
        rz = g[:, :2 * H].add_(gh[:, :2 * H]).sigmoid_()  # (B, 2H): r, z
        n = g[:, 2 * H:].addcmul_(rz[:, :H], gh[:, 2 * H:]).tanh_()  # (B, H)
        h = torch.lerp(n, h, rz[:, H:], out=out[t])  # (1 - z) n + z h
    return out


def _steps_before(gi: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor, h0: torch.Tensor, out: torch.Tensor):
    """Every step of reset="before" (Cho et al. 2014), in place, as `_steps_after`."""
    H = h0.shape[1]
    w_rz, w_n = w_hh[:2 * H].t(), w_hh[2 * H:].t()
    h = h0
    for t in range(gi.shape[0]):
        g = gi[t]
        rz = g[:, :2 * H].addmm_(h, w_rz).add_(b_hh[:2 * H]).sigmoid_()  # (B, 2H): r, z
        n = g[:, 2 * H:].addmm_(rz[:, :H] * h, w_n).add_(b_hh[2 * H:]).tanh_()  # (B, H)
        h = torch.lerp(n, h, rz[:, H:], out=out[t])
    return out


@functools.cache
def _scripted():
    """{reset: the steps compiled by TorchScript}, or None where it cannot compile them (TorchScript
    is deprecated in torch 2.x and may go; the same functions then run as Python)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {"after": torch.jit.script(_steps_after), "before": torch.jit.script(_steps_before)}
    except Exception:  # noqa: BLE001 - any failure to compile leaves the Python loop, which is correct
        return None
