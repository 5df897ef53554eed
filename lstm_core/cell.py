"""The LSTM cell, written once as its equations, and the plain reference loop.

`step` is the readable definition every faster path in this package is tested
against (`lstm_core.fastloop`, `lstm_core.replay`). It handles every variant of
`lstm_core.variants` through the variant's switches; it allocates freely and keeps
autograd history, so `run_reference` is also the path used when gradients through
every step are wanted.
"""
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .variants import fusable, sigmoid_gates


@dataclass(frozen=True)
class Cell:
    """What a cell computes: the variant's switches plus the model's options."""

    variant: type  # a class from lstm_core.variants
    peephole: bool  # peephole weights present (variant "peephole" or peephole=True)
    peephole_output: str  # "current": o_t sees c_t (Gers); "previous": o_t sees c_{t-1}
    gate_activation: tuple = ("sigmoid",)  # or ("hard_sigmoid", alpha, beta): clip(alpha z + beta, 0, 1)

    @property
    def gates(self):
        """Gates with parameters, in nn.LSTM row order, e.g. "ifgo"."""
        return self.variant.gates

    @property
    def fusable(self):
        """True if the fused kernels can run this cell (see `lstm_core.fused`)."""
        return self.gate_activation[0] == "sigmoid" and fusable(self.variant, self.peephole)

    def sigma(self, z):
        """The gate activation σ."""
        if self.gate_activation[0] == "sigmoid":
            return torch.sigmoid(z)
        _, alpha, beta = self.gate_activation
        return torch.clamp(alpha * z + beta, 0.0, 1.0)

    def sigma_(self, z):
        """σ in place on z (no autograd)."""
        if self.gate_activation[0] == "sigmoid":
            return z.sigmoid_()
        _, alpha, beta = self.gate_activation
        return z.mul_(alpha).add_(beta).clamp_(0.0, 1.0)


def gate_activation(spec):
    """Normalise a gate activation: "sigmoid", "hard_sigmoid" (clip(0.2 z + 0.5, 0, 1), as
    Keras 2 and ONNX's HardSigmoid default) or ("hard_sigmoid", alpha, beta)."""
    if spec in ("sigmoid", ("sigmoid",)):
        return ("sigmoid",)
    if spec == "hard_sigmoid":
        return ("hard_sigmoid", 0.2, 0.5)
    if (isinstance(spec, (tuple, list)) and len(spec) == 3 and spec[0] == "hard_sigmoid"
            and all(isinstance(a, (int, float)) and math.isfinite(a) for a in spec[1:])):
        return ("hard_sigmoid", float(spec[1]), float(spec[2]))
    raise ValueError(f"gate_activation: expected 'sigmoid', 'hard_sigmoid' or "
                     f"('hard_sigmoid', alpha, beta), got {spec!r}")


@dataclass
class LayerWeights:
    """The parameters of one layer and direction (shapes for G gates with parameters)."""

    w_ih: Tensor  # (G*H, I)
    w_hh: Tensor  # (G*H, P)
    b_ih: Tensor | None  # (G*H,)
    b_hh: Tensor | None  # (G*H,)
    w_hr: Tensor | None = None  # (P, H) projection, proj_size > 0
    w_peep: Tensor | None = None  # (len(sigmoid_gates), H) rows i, f, o present
    w_gg: Tensor | None = None  # (3H, 3H) full gate recurrence

    @property
    def bias(self):
        """b_ih + b_hh, (G*H,), or None: only the sum of the two biases counts."""
        if self.b_ih is None:
            return None
        return self.b_ih + self.b_hh

    def project_inputs(self, x):
        """x_t W_ih^T + b_ih + b_hh for all steps at once: (T, B, I) -> (T, B, G*H)."""
        b = self.bias
        if b is None:
            return x @ self.w_ih.T
        return torch.addmm(b, x.reshape(-1, x.shape[-1]), self.w_ih.T).view(*x.shape[:-1], -1)


def step(cell, w, xz, h, c, prev=None, clamp=None, probe=None):
    """One time step of the cell.

    xz: (B, G*H), x_t W_ih^T + b_ih + b_hh (see `LayerWeights.project_inputs`)
    h: (B, P), c: (B, H): the state at t-1
    prev: (B, 3H), [i_{t-1}, f_{t-1}, o_{t-1}], used by full gate recurrence only
    clamp: {name: (mask, values)} for names in i, f, g, o, c, h, each (B, H) (h: (B, P)):
        where mask is True the value replaces what the cell computed (`lstm_core.interventions`)
    probe: (dc, dh), (B, H) and (B, P) zeros added to c_t and h_t, so autograd gives
        the derivative of anything downstream with respect to c_t and h_t
    Returns the effective gates i, f, g, o (B, H), then c_t (B, H) and h_t (B, P).
    """
    clamp = clamp or {}

    def fix(name, t):
        if name not in clamp:
            return t
        mask, values = clamp[name]
        return torch.where(mask, values, t)

    v = cell.variant
    z = xz + h @ w.w_hh.T  # (B, G*H)
    z = dict(zip(v.gates, z.chunk(len(v.gates), dim=1)))  # gate -> (B, H)
    if v.gate_recurrence:
        zr = prev @ w.w_gg.T  # (B, 3H)
        for k, zk in zip("ifo", zr.chunk(3, dim=1)):
            z[k] = z[k] + zk
    p = dict(zip(sigmoid_gates(v), w.w_peep)) if cell.peephole else {}  # gate -> (H,)

    def gate(k, c_seen):
        zk = z[k] + p[k] * c_seen if k in p else z[k]
        return cell.sigma(zk)

    one = torch.ones_like(c)
    f = fix("f", gate("f", c) if "f" in v.gates else one)
    if v.coupled:  # with f clamped, i = 1 - f follows it
        i = 1 - f
    else:
        i = gate("i", c) if "i" in v.gates else one
    i = fix("i", i)
    g = fix("g", torch.tanh(z["g"]) if v.input_activation else z["g"])
    c_new = fix("c", f * c + i * g)
    if probe is not None:
        c_new = c_new + probe[0]
    if "o" in v.gates:
        o = gate("o", c_new if cell.peephole_output == "current" else c)
    else:
        o = one
    o = fix("o", o)
    h_new = o * (torch.tanh(c_new) if v.output_activation else c_new)
    if w.w_hr is not None:
        h_new = h_new @ w.w_hr.T  # (B, H) -> (B, P)
    h_new = fix("h", h_new)
    if probe is not None:
        h_new = h_new + probe[1]
    return i, f, g, o, c_new, h_new


def run_reference(cell, w, x, h0, c0, clamps=None, probes=None):
    """The plain time loop over `step` for one layer and one direction.

    x: (T, B, I), h0: (B, P), c0: (B, H).
    clamps: {name: (mask, values)} with (T, B, H) tensors (h: (T, B, P)), see `step`.
    probes: (dc, dh), (T, B, H) and (T, B, P), see `step`.
    Returns gates (T, B, 4, H) in the order i, f, g, o, then c (T, B, H) and h (T, B, P).
    """
    xz = w.project_inputs(x)  # (T, B, G*H)
    h, c = h0, c0
    prev = torch.zeros(h0.shape[0], 3 * c0.shape[1], dtype=c0.dtype, device=c0.device)
    gates, cs, hs = [], [], []
    for t in range(x.shape[0]):
        clamp = {k: (m[t], vals[t]) for k, (m, vals) in clamps.items()} if clamps else None
        probe = (probes[0][t], probes[1][t]) if probes is not None else None
        i, f, g, o, c, h = step(cell, w, xz[t], h, c, prev, clamp, probe)
        if cell.variant.gate_recurrence:
            prev = torch.cat([i, f, o], dim=1)  # (B, 3H)
        gates.append(torch.stack([i, f, g, o], dim=1))  # (B, 4, H)
        cs.append(c)
        hs.append(h)
    return torch.stack(gates), torch.stack(cs), torch.stack(hs)
