"""One step of one layer, in the numbers of the course text's "split Z into stripes".

The needle LSTMCell computes, for a batch at one step,

    Z = x W_ih^T + h W_hh^T + b                      (B, G*H), G gates with parameters
    stripes: Z[:, 0:H], Z[:, H:2H], ...              one (B, H) block per gate, in nn.LSTM order
    i, f, g, o = σ, σ, tanh, σ of their stripes
    c' = f * c + i * g
    h' = o * tanh(c')

`walk` recomputes exactly this from the model's weights and the trace's states
at t-1, in float64, for a small slice the user picks (rows b of the batch,
columns = units), as the text's example does with batch 2 and hidden 3. The
variants change it the way their docstrings in lstm_core.cells.variants say (a gate
fixed at 1, i = 1 - f, peephole and gate-recurrence terms added to z, no tanh),
and `max_error` compares every number with what the trace recorded: an
independent check of the engine that the app shows to the user.
"""
from dataclasses import dataclass, field

import numpy as np
import torch

from lstm_core.cells.gru import declaration as gru_declaration
from lstm_core.cells.lstm import describe_step
from lstm_core.cells.variants import get_variant, sigmoid_gates


@dataclass
class Walkthrough:
    """The numbers of one step for rows `rows` of the batch and units `units` (R rows, U units)."""

    t: int  # the step
    layer: int
    direction: int  # 0 forward, 1 reverse (its "previous" step is t + 1)
    rows: list  # (R,) batch indices b
    units: list  # (U,) unit indices
    gates: str  # gates with parameters, nn.LSTM order, e.g. "ifgo"
    H: int  # hidden size: the width of a stripe
    prev_step: list  # (R,) the step h and c come from, -1: the initial state (zeros)
    valid: np.ndarray  # (R,) bool, False where step t is padding for that row
    x: np.ndarray  # (R, In) the layer's input at t (layer > 0: h of the layer below)
    h_prev: np.ndarray  # (R, P)
    c_prev: np.ndarray  # (R, U)
    z_columns: list  # (G*U,) column index of each shown column in the full Z (B, G*H)
    z: np.ndarray  # (R, G*U) those columns of Z = x W_ih^T + h W_hh^T + b
    stripes: dict  # gate -> (R, U) its stripe of Z
    extra: dict  # gate -> (name, (R, U)) term added to a stripe (peephole p*c, gate recurrence)
    act: dict  # "i", "f", "g", "o" -> (R, U) the effective gate values
    rule: dict  # "i", "f", "g", "o" -> how the value came from its stripe, e.g. "σ(z)"
    c: np.ndarray  # (R, U) c' = f * c + i * g
    h: np.ndarray  # (R, U) h' = o * tanh(c') (before the projection, if any)
    h_rule: str
    recorded: dict = field(default_factory=dict)  # "i".."h" -> (R, U) the trace's values
    projected: bool = False  # proj_size > 0: the trace's h is W_hr h', not comparable per unit

    @property
    def max_error(self):
        """Largest |walk-through - trace| over every shown gate and state of the valid rows."""
        mine = {**self.act, "c": self.c, "h": self.h}
        names = [k for k in mine if not (k == "h" and self.projected)]
        diffs = [np.abs(mine[k][self.valid] - self.recorded[k][self.valid]) for k in names]
        return float(max((d.max() for d in diffs if d.size), default=0.0))


def layer_input(trace, x, layer):
    """(T, B, In): the input of `layer`, x for layer 0, else h of every direction of the layer below."""
    if layer == 0:
        return torch.as_tensor(x)
    D = trace.num_directions
    return torch.cat([trace.h[(layer - 1) * D + d] for d in range(D)], dim=-1)  # (T, B, D*P)


def check_slice(trace, H, t, rows, units):
    """ValueError unless step t, the batch rows and the units are inside the trace."""
    T, B = trace.T, trace.batch_size
    if not 0 <= t < T:
        raise ValueError(f"step: expected 0..{T - 1}, got {t}")
    for b in rows:
        if not 0 <= b < B:
            raise ValueError(f"sequence: expected 0..{B - 1}, got {b}")
    for u in units:
        if not 0 <= u < H:
            raise ValueError(f"unit: expected 0..{H - 1}, got {u}")


def previous_steps(trace, t, rows, direction):
    """((R,) the step each row's state comes from, -1 the initial state; (R,) bool, t not padding)."""
    lengths = trace.lengths.tolist()
    prev = [(t - 1 if direction == 0 else (t + 1 if t + 1 < lengths[b] else -1)) for b in rows]
    return prev, np.array([t < lengths[b] for b in rows])


def walk(model, trace, x, t, rows, units, layer=0, direction=0):
    """The Walkthrough of step t for batch rows `rows` and units `units` (see module doc); for a
    GRU, walkthrough_gru's GruWalkthrough.

    model: the lstm_core.LSTM (or GRU) that made `trace` (a detached Trace) from input x (T, B, I).
    """
    if trace.declaration.family == "gru":
        from . import walkthrough_gru  # it imports this module's helpers
        return walkthrough_gru.walk(model, trace, x, t, rows, units, layer, direction)
    H = model.hidden_size
    check_slice(trace, H, t, rows, units)
    v = get_variant(model.variant)
    ld = trace.index(layer, direction)
    f64 = dict(dtype=torch.float64)
    w = model.layer_weights(layer, direction)
    w_ih, w_hh = w.w_ih.detach().cpu().to(**f64), w.w_hh.detach().cpu().to(**f64)
    bias = None if w.bias is None else w.bias.detach().cpu().to(**f64)
    R, U, G = len(rows), len(units), len(v.gates)
    prev, valid = previous_steps(trace, t, rows, direction)

    xin = layer_input(trace, x, layer)[t, rows].to(**f64).nan_to_num(0.0)  # (R, In)
    h_prev = torch.stack([trace.h[ld, p, b] if p >= 0 else torch.zeros(trace.h.shape[-1])
                          for p, b in zip(prev, rows)]).to(**f64).nan_to_num(0.0)  # (R, P)
    c_all = torch.stack([trace.c[ld, p, b] if p >= 0 else torch.zeros(H)
                         for p, b in zip(prev, rows)]).to(**f64).nan_to_num(0.0)  # (R, H)
    Z = xin @ w_ih.T + h_prev @ w_hh.T  # (R, G*H)
    if bias is not None:
        Z = Z + bias
    cols = [j * H + u for j in range(G) for u in units]
    stripes = {k: Z[:, j * H:(j + 1) * H][:, units] for j, k in enumerate(v.gates)}  # gate -> (R, U)
    c_prev = c_all[:, units]

    extra = {}
    if v.gate_recurrence:
        g_prev = torch.stack([trace.gates[ld, p, b][[0, 1, 3]].reshape(-1) if p >= 0 else torch.zeros(3 * H)
                              for p, b in zip(prev, rows)]).to(**f64)  # (R, 3H): i, f, o of step t-1
        zr = g_prev @ w.w_gg.detach().cpu().to(**f64).T  # (R, 3H)
        for j, k in enumerate("ifo"):
            if k in v.gates:
                extra[k] = ("W_gg [i, f, o]_{t-1}", zr[:, j * H:(j + 1) * H][:, units])
    peep = {}
    if model.peephole:
        peep = dict(zip(sigmoid_gates(v), w.w_peep.detach().cpu().to(**f64)[:, units]))  # gate -> (U,)

    sigma = model.cell.sigma  # the logistic sigmoid, or the hard sigmoid of a Keras/ONNX import
    sig_rule = "σ(z)" if model.cell.gate_activation[0] == "sigmoid" else "hard σ(z) = clip(αz + β, 0, 1)"

    def pre(k, c_seen):
        z = stripes[k] + (extra[k][1] if k in extra else 0)
        if k in peep:
            z = z + peep[k] * c_seen
            name = "p ⊙ c" + ("'" if c_seen is not c_prev else "")
            extra[k] = (name if k not in extra else extra[k][0] + " + " + name,
                        z - stripes[k])
        return z

    one = torch.ones(R, U, **f64)
    act, rule = {}, {}
    act["f"], rule["f"] = (sigma(pre("f", c_prev)), sig_rule) if "f" in v.gates else (one, "1 (no forget gate)")
    if v.coupled:
        act["i"], rule["i"] = 1 - act["f"], "1 − f (coupled)"
    else:
        act["i"], rule["i"] = (sigma(pre("i", c_prev)), sig_rule) if "i" in v.gates else (one, "1 (no input gate)")
    act["g"], rule["g"] = (torch.tanh(stripes["g"]), "tanh(z)") if v.input_activation else (stripes["g"], "z (no tanh)")
    c_new = act["f"] * c_prev + act["i"] * act["g"]
    if "o" in v.gates:
        c_seen = c_new if model.peephole_output == "current" else c_prev
        act["o"], rule["o"] = sigma(pre("o", c_seen)), sig_rule
    else:
        act["o"], rule["o"] = one, "1 (no output gate)"
    h_new = act["o"] * (torch.tanh(c_new) if v.output_activation else c_new)
    h_rule = "o ⊙ tanh(c')" if v.output_activation else "o ⊙ c' (no tanh)"

    recorded = {k: trace.get(k, layer, direction)[t, rows][:, units].to(**f64).numpy()
                for k in ("i", "f", "g", "o", "c")}
    projected = bool(model.proj_size)
    recorded["h"] = (np.full((R, U), np.nan) if projected
                     else trace.get("h", layer, direction)[t, rows][:, units].to(**f64).numpy())
    n = lambda a: a.numpy()  # noqa: E731
    return Walkthrough(
        t=t, layer=layer, direction=direction, rows=list(rows), units=list(units), gates=v.gates, H=H,
        prev_step=prev, valid=valid, x=n(xin), h_prev=n(h_prev), c_prev=n(c_prev), z_columns=cols,
        z=n(Z[:, cols]), stripes={k: n(s) for k, s in stripes.items()},
        extra={k: (name, n(val)) for k, (name, val) in extra.items()},
        act={k: n(a) for k, a in act.items()}, rule=rule, c=n(c_new), h=n(h_new), h_rule=h_rule,
        recorded=recorded, projected=projected)


def diagram_values(wt, r=0, u=0):
    """The values of row r, unit u (indices into wt.rows, wt.units) for diagram.cell_svg."""
    if not isinstance(wt, Walkthrough):
        from . import walkthrough_gru
        return walkthrough_gru.diagram_values(wt, r, u)
    unit = wt.units[u]
    z = {}
    for k in "ifgo":
        if k in wt.stripes:
            z[k] = wt.stripes[k][r, u] + (wt.extra[k][1][r, u] if k in wt.extra else 0.0)
    h_prev = wt.h_prev[r, unit] if unit < wt.h_prev.shape[1] else None
    return dict(i=wt.act["i"][r, u], f=wt.act["f"][r, u], g=wt.act["g"][r, u], o=wt.act["o"][r, u],
                c=wt.c[r, u], h=wt.h[r, u], c_prev=wt.c_prev[r, u], h_prev=h_prev, x=wt.x[r],
                **{f"z_{k}": z.get(k) for k in "ifgo"}, **{f"rule_{k}": wt.rule[k] for k in "ifo"})


def describe(wt, r=0, u=0):
    """This step of row r, unit u in words: the cell's own sentences (`lstm_core.cells.describe_step`)."""
    if not isinstance(wt, Walkthrough):
        from . import walkthrough_gru
        return walkthrough_gru.describe(wt, gru_declaration(wt.reset), r, u)
    values = {k: wt.act[k][r, u] for k in "ifgo"}
    values.update(c=wt.c[r, u], h=wt.h[r, u], c_prev=wt.c_prev[r, u], prev=wt.prev_step[r],
                  tanh="tanh" in wt.h_rule, projected=wt.projected)
    lines = describe_step(values)
    if not wt.valid[r]:
        lines.insert(0, "This step is padding for this sequence: the LSTM did not run it (the trace holds NaN).")
    return lines
