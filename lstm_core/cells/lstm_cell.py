"""The LSTM cell, written once as its equations.

`step` is the readable definition every faster path in this package is tested
against (`lstm_core.engine`). It handles every variant through the variant's
`lstm_core.cells.variants.Rules`; it allocates freely and keeps autograd history, so the
plain loop over it (`lstm_core.engine.reference`) is also the path used when
gradients through every step are wanted.
"""
import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .variants import rules_of


@dataclass(frozen=True)
class Cell:
    """What a cell computes: the variant's switches plus the model's options."""

    variant: type  # a class from lstm_core.cells.variants
    peephole: bool  # peephole weights present (variant "peephole" or peephole=True)
    peephole_output: str  # "current": o_t sees c_t (Gers); "previous": o_t sees c_{t-1}
    gate_activation: tuple = ("sigmoid",)  # or ("hard_sigmoid", alpha, beta): clip(alpha z + beta, 0, 1)

    @functools.cached_property
    def rules(self):
        """The variant's `lstm_core.cells.variants.Rules` with this cell's peephole settings."""
        return rules_of(self.variant, self.peephole, self.peephole_output)

    @property
    def gates(self):
        """Gates with parameters, in nn.LSTM row order, e.g. "ifgo"."""
        return self.variant.gates

    @property
    def fusable(self):
        """True if the fused kernels can run this cell (see `lstm_core.engine.fused`)."""
        return self.gate_activation[0] == "sigmoid" and self.rules.fusable

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
        where mask is True the value replaces what the cell computed (`lstm_core.analysis.interventions`)
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

    r = cell.rules
    z = xz + h @ w.w_hh.T  # (B, G*H)
    z = dict(zip(r.gates, z.chunk(len(r.gates), dim=1)))  # gate -> (B, H)
    if r.gate_recurrence:
        zr = prev @ w.w_gg.T  # (B, 3H)
        for k, zk in zip("ifo", zr.chunk(3, dim=1)):
            z[k] = z[k] + zk
    p = dict(zip(r.peepholes, w.w_peep)) if r.peepholes else {}  # gate -> (H,)

    def gate(k, c_seen):
        zk = z[k] + p[k] * c_seen if k in p else z[k]
        return cell.sigma(zk)

    one = torch.ones_like(c)
    made = {}  # effective gates so far, clamps applied: a tied gate follows its clamped source
    for k in "fi":  # f first, since coupled ties i to it
        made[k] = fix(k, gate(k, c) if k in r.gates else r.effective(k, made, one))
    i, f = made["i"], made["f"]
    g = fix("g", torch.tanh(z["g"]) if r.input_activation else z["g"])
    c_new = fix("c", f * c + i * g)
    if probe is not None:
        c_new = c_new + probe[0]
    seen = c_new if r.peephole_output == "current" else c
    o = fix("o", gate("o", seen) if "o" in r.gates else r.effective("o", made, one))
    h_new = o * (torch.tanh(c_new) if r.output_activation else c_new)
    if w.w_hr is not None:
        h_new = h_new @ w.w_hr.T  # (B, H) -> (B, P)
    h_new = fix("h", h_new)
    if probe is not None:
        h_new = h_new + probe[1]
    return i, f, g, o, c_new, h_new
