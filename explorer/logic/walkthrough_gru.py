"""One GRU step of one layer in numbers, recomputed from the weights (walkthrough.py's, for a GRU).

For a batch at one step, in torch.nn.GRU's layout (rows r | z | n of W_ih and W_hh),

    A = x W_ih^T + b_ih                              (B, 3H) the input part
    R = h W_hh^T + b_hh                              (B, 3H) the recurrent part
    r = σ(A_r + R_r),  z = σ(A_z + R_z)
    n = tanh(A_n + r ⊙ R_n)                          reset "after" (torch, cuDNN)
    n = tanh(A_n + (r ⊙ h) W_hn^T + b_hn)            reset "before" (Cho et al. 2014)
    h' = (1 − z) ⊙ n + z ⊙ h

The two parts stay apart, unlike the LSTM's one Z, because the reset gate multiplies only
the recurrent part of n. `walk` recomputes this in float64 from the model's weights and the
trace's h at t-1 (lstm_core.cells.gru's equations), for the rows and units the user picks,
and `max_error` compares every number with what the trace recorded.
"""
from dataclasses import dataclass, field

import numpy as np
import torch

from lstm_core.cells import describe_step

from .walkthrough import check_slice, layer_input, previous_steps


@dataclass
class GruWalkthrough:
    """The numbers of one GRU step for rows `rows` of the batch and units `units` (R rows, U units)."""

    t: int
    layer: int
    direction: int  # 0 forward, 1 reverse (its "previous" step is t + 1)
    rows: list  # (R,) batch indices b
    units: list  # (U,) unit indices
    reset: str  # "after" (torch) or "before" (Cho et al. 2014) the recurrent matmul
    H: int
    prev_step: list  # (R,) the step h comes from, -1: the initial state (zeros)
    valid: np.ndarray  # (R,) bool, False where step t is padding for that row
    x: np.ndarray  # (R, In) the layer's input at t
    h_prev: np.ndarray  # (R, H)
    columns: list  # (3U,) the shown columns of A and R, block by block
    a: np.ndarray  # (R, 3U) those columns of A = x W_ih^T + b_ih
    rec: np.ndarray  # (R, 3U) and of R = h W_hh^T + b_hh (reset "before": its n block is W_hn (r ⊙ h) + b_hn)
    pre: dict  # "r", "z", "n" -> (R, U) the argument of σ or tanh
    rpart: np.ndarray  # (R, U) n's recurrent part after the reset gate
    act: dict  # "r", "z", "n" -> (R, U)
    h: np.ndarray  # (R, U) h' = (1 − z) ⊙ n + z ⊙ h
    recorded: dict = field(default_factory=dict)  # "r", "z", "n", "h" -> (R, U) the trace's values
    blocks: str = "rzn"  # the stacked rows' blocks, in order

    @property
    def max_error(self):
        """Largest |walk-through - trace| over r, z, n and h of the valid rows."""
        mine = {**self.act, "h": self.h}
        diffs = [np.abs(mine[k][self.valid] - self.recorded[k][self.valid]) for k in mine]
        return float(max((d.max() for d in diffs if d.size), default=0.0))


def walk(model, trace, x, t, rows, units, layer=0, direction=0):
    """The GruWalkthrough of step t (see the module doc); model: the lstm_core.GRU that made `trace`."""
    H = model.hidden_size
    check_slice(trace, H, t, rows, units)
    f64 = dict(dtype=torch.float64)
    w = {k: (None if v is None else v.detach().cpu().to(**f64)) for k, v in model.layer_weights(layer, direction).items()}
    ld = trace.index(layer, direction)
    prev, valid = previous_steps(trace, t, rows, direction)

    xin = layer_input(trace, x, layer)[t, rows].to(**f64).nan_to_num(0.0)  # (R, In)
    h_prev = torch.stack([trace.h[ld, p, b] if p >= 0 else torch.zeros(H)
                          for p, b in zip(prev, rows)]).to(**f64).nan_to_num(0.0)  # (R, H)
    A = xin @ w["weight_ih"].T  # (R, 3H)
    Rh = h_prev @ w["weight_hh"].T  # (R, 3H)
    if w.get("bias_ih") is not None:
        A, Rh = A + w["bias_ih"], Rh + w["bias_hh"]
    block = {k: slice(j * H, (j + 1) * H) for j, k in enumerate("rzn")}
    r_all = torch.sigmoid(A[:, block["r"]] + Rh[:, block["r"]])  # (R, H): "before" needs every unit's r
    if model.reset == "before":  # the reset gate meets h before W_hn: n's recurrent part is recomputed
        b_hn = 0 if w.get("bias_hh") is None else w["bias_hh"][block["n"]]
        Rh = Rh.clone()
        Rh[:, block["n"]] = (r_all * h_prev) @ w["weight_hh"][block["n"]].T + b_hn
        rpart = Rh[:, block["n"]][:, units]
    else:
        rpart = (r_all * Rh[:, block["n"]])[:, units]
    pick = lambda m, k: m[:, block[k]][:, units]  # noqa: E731  (R, U)
    pre = {"r": pick(A, "r") + pick(Rh, "r"), "z": pick(A, "z") + pick(Rh, "z")}
    pre["n"] = pick(A, "n") + rpart
    act = {"r": torch.sigmoid(pre["r"]), "z": torch.sigmoid(pre["z"]), "n": torch.tanh(pre["n"])}
    h_new = (1 - act["z"]) * act["n"] + act["z"] * h_prev[:, units]
    cols = [j * H + u for j in range(3) for u in units]
    recorded = {k: trace.get(k, layer, direction)[t, rows][:, units].to(**f64).numpy() for k in "rznh"}
    n = lambda a: a.numpy()  # noqa: E731
    return GruWalkthrough(
        t=t, layer=layer, direction=direction, rows=list(rows), units=list(units), reset=model.reset, H=H,
        prev_step=prev, valid=valid, x=n(xin), h_prev=n(h_prev), columns=cols, a=n(A[:, cols]), rec=n(Rh[:, cols]),
        pre={k: n(v) for k, v in pre.items()}, rpart=n(rpart), act={k: n(v) for k, v in act.items()}, h=n(h_new),
        recorded=recorded)


def diagram_values(wt, r=0, u=0):
    """The values of row r, unit u (indices into wt.rows, wt.units) for diagram.gru_svg."""
    unit = wt.units[u]
    return dict(**{k: wt.act[k][r, u] for k in "rzn"}, h=wt.h[r, u], h_prev=wt.h_prev[r, unit],
                **{f"a_{k}": wt.pre[k][r, u] for k in "rzn"}, rpart=wt.rpart[r, u], x=wt.x[r], reset=wt.reset)


def describe(wt, declaration, r=0, u=0):
    """This step of row r, unit u in words: the GRU's own sentences (`lstm_core.cells.describe_step`)."""
    values = {k: wt.act[k][r, u] for k in "rzn"}
    values.update(h=wt.h[r, u], h_prev=wt.h_prev[r, wt.units[u]], prev=wt.prev_step[r])
    lines = describe_step(declaration, values)
    if not wt.valid[r]:
        lines.insert(0, "This step is padding for this sequence: the GRU did not run it (the trace holds NaN).")
    return lines
