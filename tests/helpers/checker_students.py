"""Student LSTMs for the checker's tests: every layout x every call convention, with one bug planted.

Written as students write them (chunks, nn.Linear per gate, x @ W), apart from the checker's
mutant library, so that a test compares two implementations of each mistake.
`make(layout, convention, bug, coupled)` returns a class the checker instantiates with (I, H).
"""
import torch
from torch import nn

PLANTED = ("gate_order", "weight_reuse", "cell_update", "missing_output_tanh", "stale_cell", "activation",
           "bias", "transposed", "state_swap")
PLANTED_COUPLED = ("coupling", "gate_order", "missing_output_tanh", "state_swap")


class Student(nn.Module):
    bug = None
    coupled = False

    @property
    def gates(self):
        return "fgo" if self.coupled else "ifgo"

    def cell(self, x, h, c):
        z = self.preacts(x, h)
        f, o = torch.sigmoid(z["f"]), torch.sigmoid(z["o"])
        g = torch.sigmoid(z["g"]) if self.bug == "activation" else torch.tanh(z["g"])
        if self.coupled:
            new_c = (1 - f) * c + f * g if self.bug == "coupling" else f * c + (1 - f) * g
        else:
            i = torch.sigmoid(z["i"])
            new_c = f * i * g if self.bug == "cell_update" else f * c + i * g
        if self.bug == "missing_output_tanh":
            new_h = o * new_c
        else:
            new_h = o * torch.tanh(c if self.bug == "stale_cell" else new_c)
        return (new_c, new_h) if self.bug == "state_swap" else (new_h, new_c)


# --- layouts ------------------------------------------------------------------------------------
class TorchFused(Student):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        G = len(self.gates)
        self.weight_ih = nn.Parameter(torch.randn(G * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.randn(G * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.randn(G * hidden_size))
        self.bias_hh = nn.Parameter(torch.randn(G * hidden_size))

    def fused(self):
        """(weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,))"""
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def preacts(self, x, h):
        weight_ih, weight_hh, bias_ih, bias_hh = self.fused()
        blocks = list(weight_hh.chunk(len(self.gates), 0))
        names = self.gates
        if self.bug == "transposed":
            blocks[names.index("f")] = blocks[names.index("f")].T
        if self.bug == "weight_reuse":
            blocks[0] = blocks[names.index("f")] if names[0] != "f" else blocks[1]
        zh = torch.cat([h @ b.T for b in blocks], dim=-1)
        z = x @ weight_ih.T + bias_ih + zh + (0 if self.bug == "bias" else bias_hh)
        order = {"ifgo": "ifog", "fgo": "fog"}[names] if self.bug == "gate_order" else names
        return dict(zip(order, z.chunk(len(names), dim=-1)))


class FusedLinear(TorchFused):
    """The common course layout: one nn.Linear per side for all gates, W on x and U on h
    (w_on = "h": the reverse), chunked in torch's order i, f, g, o."""

    w_on = "x"

    def __init__(self, input_size, hidden_size):
        Student.__init__(self)
        G = len(self.gates)
        on_x, on_h = nn.Linear(input_size, G * hidden_size), nn.Linear(hidden_size, G * hidden_size)
        self.W, self.U = (on_x, on_h) if self.w_on == "x" else (on_h, on_x)

    def fused(self):
        on_x, on_h = (self.W, self.U) if self.w_on == "x" else (self.U, self.W)
        return on_x.weight, on_h.weight, on_x.bias, on_h.bias


class FusedLinearWh(FusedLinear):
    w_on = "h"


class NeedleFused(Student):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        G = len(self.gates)
        k = 1 / hidden_size ** 0.5
        self.W_ih = nn.Parameter(torch.empty(input_size, G * hidden_size).uniform_(-k, k))
        self.W_hh = nn.Parameter(torch.empty(hidden_size, G * hidden_size).uniform_(-k, k))
        self.bias_ih = nn.Parameter(torch.empty(G * hidden_size).uniform_(-k, k))
        self.bias_hh = nn.Parameter(torch.empty(G * hidden_size).uniform_(-k, k))

    def preacts(self, x, h):
        G, H = len(self.gates), self.W_hh.shape[0]
        names = self.gates
        cols = [self.W_hh[:, j * H:(j + 1) * H] for j in range(G)]
        if self.bug == "transposed":
            cols[names.index("f")] = cols[names.index("f")].T
        if self.bug == "weight_reuse":
            cols[0] = cols[names.index("f")] if names[0] != "f" else cols[1]
        second = self.bias_ih if self.bug == "bias" else self.bias_hh  # one vector used for both
        z = x @ self.W_ih + torch.cat([h @ w for w in cols], dim=-1) + self.bias_ih + second
        order = {"ifgo": "ifog", "fgo": "fog"}[names] if self.bug == "gate_order" else names
        return {k: z[..., j * H:(j + 1) * H] for j, k in enumerate(order)}


class PerGateLinear(Student):
    """nn.Linear per gate and side, c for the candidate; W on h and U on x (or the reverse)."""

    w_on = "h"

    def __init__(self, input_size, hidden_size):
        super().__init__()
        for k in self.gates:
            q = "c" if k == "g" else k
            size_w = hidden_size if self.w_on == "h" else input_size
            size_u = input_size if self.w_on == "h" else hidden_size
            setattr(self, f"W_{q}", nn.Linear(size_w, hidden_size, bias=False))
            setattr(self, f"U_{q}", nn.Linear(size_u, hidden_size, bias=False))
            setattr(self, f"b_{q}", nn.Parameter(torch.randn(hidden_size)))
        if self.coupled:
            self.W_i = self.U_i = self.b_i = None

    def parts(self, k):
        q = "c" if k == "g" else k
        W, U, b = getattr(self, f"W_{q}"), getattr(self, f"U_{q}"), getattr(self, f"b_{q}")
        return (W, U, b) if self.w_on == "h" else (U, W, b)  # (on h, on x, bias)

    def preacts(self, x, h):
        z = {}
        for k in self.gates:
            src = {"o": "g", "g": "o"}.get(k, k) if self.bug == "gate_order" else k
            on_h, on_x, b = self.parts(src)
            if self.bug == "weight_reuse" and k == self.gates[0]:
                on_h = self.parts("f" if k != "f" else "g")[0]
            hz = h @ on_h.weight if self.bug == "transposed" and k == "f" else on_h(h)
            z[k] = hz + on_x(x) + (0 if self.bug == "bias" and k == "o" else b)
        return z


class PerGateLinearWx(PerGateLinear):
    w_on = "x"


class PerGateTensors(Student):
    """Plain tensors (not Parameters), x @ W: W_xf (I, H), W_hf (H, H), b_f, c for the candidate."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        for k in self.gates:
            q = "c" if k == "g" else k
            setattr(self, f"W_x{q}", torch.randn(input_size, hidden_size) * 0.1)
            setattr(self, f"W_h{q}", torch.randn(hidden_size, hidden_size) * 0.1)
            setattr(self, f"b_{q}", torch.zeros(hidden_size))

    def t(self, kind, k):
        return getattr(self, f"{kind}_{'c' if k == 'g' else k}" if kind == "b" else f"{kind}{'c' if k == 'g' else k}")

    def preacts(self, x, h):
        z = {}
        for k in self.gates:
            src = {"o": "g", "g": "o"}.get(k, k) if self.bug == "gate_order" else k
            W_h = self.t("W_h", src)
            if self.bug == "weight_reuse" and k == self.gates[0]:
                W_h = self.t("W_h", "f" if k != "f" else "g")
            if self.bug == "transposed" and k == "f":
                W_h = W_h.T
            z[k] = x @ self.t("W_x", src) + h @ W_h + (0 if self.bug == "bias" and k == "o" else self.t("b", src))
        return z


LAYOUTS = {"torch": TorchFused, "needle": NeedleFused, "linear": PerGateLinear, "linear_wx": PerGateLinearWx,
           "tensors": PerGateTensors, "fused_linear": FusedLinear, "fused_linear_wh": FusedLinearWh}


# --- call conventions ---------------------------------------------------------------------------
class TorchCell:
    def forward(self, x, state):
        h, c = state
        return self.cell(x, h, c)


class NeedleCell:
    def forward(self, X, h=None):
        if h is None:
            z = torch.zeros(X.shape[0], self.hidden, dtype=X.dtype)
            h = (z, z)
        h0, c0 = h
        return self.cell(X, h0, c0)


class NotebookCell:
    def forward(self, x, c, h):
        if x.dim() != 1:
            raise ValueError("one example at a time")
        new_h, new_c = self.cell(x, h, c)
        return new_c, new_h


class SequenceBatchFirst:
    def forward(self, X, state):
        h, c = state
        outs = []
        for t in range(X.shape[1]):
            h, c = self.cell(X[:, t], h, c)
            outs.append(h)
        return torch.stack(outs, dim=1), (h, c)


class SequenceTimeMajor:
    def forward(self, X, state=None):
        h, c = state[0][0], state[1][0]
        outs = []
        for x in X:
            h, c = self.cell(x, h, c)
            outs.append(h)
        return torch.stack(outs), (h.unsqueeze(0), c.unsqueeze(0))


CONVENTIONS = {"torch_cell": TorchCell, "needle_cell": NeedleCell, "notebook_cell": NotebookCell,
               "sequence_bf": SequenceBatchFirst, "sequence_tm": SequenceTimeMajor}


def make(layout, convention, bug=None, coupled=False):
    """A student class: this layout, this convention, this bug (None: correct)."""
    base = LAYOUTS[layout]

    def __init__(self, input_size, hidden_size):
        base.__init__(self, input_size, hidden_size)
        self.hidden = hidden_size

    return type(f"{layout}_{convention}_{bug}", (CONVENTIONS[convention], base),
                {"bug": bug, "coupled": coupled, "__init__": __init__})
