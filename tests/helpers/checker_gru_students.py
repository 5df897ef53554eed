"""Student GRUs for the checker's tests: course layouts x call conventions, with one bug planted.

Written as students write them (chunk(3), nn.Linear per gate, d2l's x @ W_xr), apart from the
checker's `gru_mutants`, so that a test compares two implementations of each mistake.
`make_gru(layout, convention, bug, form)` returns a class the checker instantiates with (I, H);
form is the reset the student implements: "after" (torch) or "before" (Cho et al. 2014).
"""
import torch
from torch import nn

# bhn_folded needs an h-side bias (not d2l's one bias per gate); stale_state a loop over time
PLANTED = ("rz_swap", "gate_order", "reset_place", "update_flipped", "bhn_folded", "reset_missing", "missing_tanh",
           "activation", "weight_reuse", "bias", "transposed", "stale_state")


class GRUStudent(nn.Module):
    bug = None
    form = "after"

    def fused(self):
        """(W_ih (3H, I), W_hh (3H, H), b_ih (3H,) or None, b_hh (3H,) or None), rows r | z | n."""
        raise NotImplementedError

    def cell(self, x, h):
        W_ih, W_hh, b_ih, b_hh = self.fused()
        H = W_hh.shape[1]
        zero = torch.zeros(3 * H, dtype=x.dtype)
        b_ih, b_hh = (zero if b_ih is None else b_ih), (zero if b_hh is None else b_hh)
        W_hr, W_hz, W_hn = W_hh.chunk(3, 0)
        if self.bug == "weight_reuse":
            W_hr = W_hz  # r computed with the update gate's recurrent weights
        if self.bug == "transposed":
            W_hz = W_hz.T
        names = {"rz_swap": "zrn", "gate_order": "rnz"}.get(self.bug, "rzn")  # what each block is called
        gx = dict(zip(names, (x @ W_ih.T).chunk(3, -1)))  # (B, H) each
        gh = dict(zip(names, (W_hr, W_hz, W_hn)))
        bx, bh = dict(zip(names, b_ih.chunk(3))), dict(zip(names, b_hh.chunk(3)))
        if self.bug == "bias":  # the update gate without its biases
            bx["z"], bh["z"] = 0, 0
        r = torch.sigmoid(gx["r"] + bx["r"] + h @ gh["r"].T + bh["r"])
        z = torch.sigmoid(gx["z"] + bx["z"] + h @ gh["z"].T + bh["z"])
        form = ({"after": "before", "before": "after"}[self.form] if self.bug == "reset_place" else self.form)
        gate = 1 if self.bug == "reset_missing" else r
        if form == "after":
            if self.bug == "bhn_folded":
                pre = gx["n"] + bx["n"] + gate * (h @ gh["n"].T) + bh["n"]
            else:
                pre = gx["n"] + bx["n"] + gate * (h @ gh["n"].T + bh["n"])
        else:
            pre = gx["n"] + bx["n"] + (gate * h) @ gh["n"].T + bh["n"]
        n = pre if self.bug == "missing_tanh" else torch.sigmoid(pre) if self.bug == "activation" else torch.tanh(pre)
        return z * n + (1 - z) * h if self.bug == "update_flipped" else (1 - z) * n + z * h


# --- layouts ------------------------------------------------------------------------------------
class TorchFused(GRUStudent):
    """nn.GRUCell's names: weight_ih (3H, I), weight_hh (3H, H), bias_ih, bias_hh (3H,)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.weight_ih = nn.Parameter(torch.randn(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.randn(3 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.randn(3 * hidden_size))
        self.bias_hh = nn.Parameter(torch.randn(3 * hidden_size))

    def fused(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh


class FusedLinear(GRUStudent):
    """A pair of nn.Linear for all gates: x2h on x, h2h on h, each 3H outputs."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.x2h = nn.Linear(input_size, 3 * hidden_size)
        self.h2h = nn.Linear(hidden_size, 3 * hidden_size)

    def fused(self):
        return self.x2h.weight, self.h2h.weight, self.x2h.bias, self.h2h.bias


class PerGateLinear(GRUStudent):
    """nn.Linear per gate and side, biases on both: W_r on x, U_r on h, ... (U_n's bias is b_hn)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        for k in "rzn":
            setattr(self, f"W_{k}", nn.Linear(input_size, hidden_size))
            setattr(self, f"U_{k}", nn.Linear(hidden_size, hidden_size))

    def fused(self):
        def cat(side, what):
            return torch.cat([getattr(getattr(self, f"{side}_{k}"), what) for k in "rzn"])
        return cat("W", "weight"), cat("U", "weight"), cat("W", "bias"), cat("U", "bias")


class D2LTensors(GRUStudent):
    """Dive into Deep Learning's GRU from scratch: W_xr (I, H), W_hr (H, H), b_r, ..., the candidate
    W_xh, W_hh, b_h; plain tensors used as x @ W, one bias per gate."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        for k in "rzh":
            setattr(self, f"W_x{k}", torch.randn(input_size, hidden_size) * 0.1)
            setattr(self, f"W_h{k}", torch.randn(hidden_size, hidden_size) * 0.1)
            setattr(self, f"b_{k}", torch.zeros(hidden_size))

    def fused(self):
        return (torch.cat([getattr(self, f"W_x{k}").T for k in "rzh"]),
                torch.cat([getattr(self, f"W_h{k}").T for k in "rzh"]),
                torch.cat([getattr(self, f"b_{k}") for k in "rzh"]), None)


LAYOUTS = {"torch": TorchFused, "fused_linear": FusedLinear, "linear": PerGateLinear, "d2l": D2LTensors}


# --- call conventions ---------------------------------------------------------------------------
class CellCall:
    def forward(self, x, h):
        return self.cell(x, h)


class SequenceBatchFirst:
    def forward(self, X, h0):
        h, outs = h0, []
        for t in range(X.shape[1]):
            h = self.cell(X[:, t], h0 if self.bug == "stale_state" else h)
            outs.append(h)
        return torch.stack(outs, dim=1), h


class SequenceTimeMajor:
    """As torch.nn.GRU: X (T, B, I), h0 (1, B, H), outputs a list."""

    def forward(self, X, h0=None):
        h, outs = h0[0], []
        for x in X:
            h = self.cell(x, h0[0] if self.bug == "stale_state" else h)
            outs.append(h)
        return outs, h.unsqueeze(0)


CONVENTIONS = {"cell": CellCall, "sequence_bf": SequenceBatchFirst, "sequence_tm": SequenceTimeMajor}


def make_gru(layout, convention, bug=None, form="after"):
    """A student GRU class: this layout, this convention, this bug (None: correct), this reset form."""
    return type(f"gru_{layout}_{convention}_{bug}_{form}", (CONVENTIONS[convention], LAYOUTS[layout]),
                {"bug": bug, "form": form})
