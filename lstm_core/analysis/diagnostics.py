"""Diagnostics that point at the units worth looking at, as plain DataFrames.

    report = diagnose(model, seqs)         # everything below, and report.findings
    saturation(trace)                       # Karpathy et al. 2015: left / right saturation per gate
    memory(trace)                           # how long the memory keeps what it holds: ∏ keep gate
                                            # and 1 / (1 - its mean); f and c of an LSTM, z and h of a GRU
    cell_growth(trace)                      # units whose |c| keeps growing (an unbounded memory only)
    gradient_flow(model, x)                 # ‖∂h_T/∂x_t‖ and ‖∂c_T/∂c_t‖ over the steps back from T
    what_if(model, x, [Clamp(...)])         # the change downstream of an intervention

Any cell of lstm_core (an LSTM of any variant, a GRU): nothing here names a gate. The gates,
the memory and what each gate does to it (`roles`) are read from the cell's declaration
(`lstm_core.cells`), so a GRU's z stuck at 1 reads "never writes" and its r closed "the
candidate ignores the past", while an LSTM's findings read as they always have.

The statistics read a `Trace` over its valid steps only (padding excluded). Rows are
per (layer, direction, unit[, gate]). Steps of the reverse direction are counted in
the order it reads them, so "steps back" and "t0" mean the same for both directions
(and for a go_backwards model, whose one direction reads backwards).
Thresholds are keyword arguments with the defaults documented per function; the
findings' `view` column names the figure that shows them (`VIEWS`).
"""
import inspect
import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from ..cells import declaration_of
from ..engine import reverse_time
from .interventions import Clamp

VIEWS = {  # view name -> what it shows (figure builders: explorer/figures/diagnostics.py)
    "saturation": "left/right saturation fractions of each gate, per unit",
    "memory": "running product of the keep gate (f of an LSTM, z of a GRU) and time constants, per unit",
    "cell_state": "|c| over time of the units whose cell state grows",
    "gradient_flow": "gradient norms over the steps back from the end",
    "intervention": "the change downstream of clamping a gate or zeroing units",
}
SEVERITIES = ("error", "warning", "info")


# --- what each field does, from the cell's declaration -------------------------------------------------

@dataclass(frozen=True)
class Roles:
    """What the gates of a cell do to its memory, read from its declaration.

    memory: the field that carries the memory (c, h); output: the state a layer passes on (h).
    keep: the gate that multiplies memory_{t−1} in its update (f, z), None where it is kept whole.
    keep_writes: keep also sets the write, as 1 − keep (a GRU's z, a coupled LSTM's f): at 1 the
        cell never writes, at 0 it keeps nothing.
    past: gates that let memory_{t−1} into a candidate's equation (a GRU's r): closed, the
        candidate ignores the past.
    measured: the gates with weights of their own, whose saturation says something about training.
    """

    memory: str
    output: str
    keep: str | None
    keep_writes: bool
    past: tuple
    measured: tuple
    bounded: bool  # the memory has a fixed range (a GRU's h in −1..1): it cannot grow without bound


def roles(declared):
    """The `Roles` of a model's, trace's or declaration's cell, as its declaration states them."""
    d = declaration_of(declared)
    return Roles(d.memory, d.states[0], d.keep, d.keep_writes, d.past, tuple(g for g in d.gates if g in d.blocks),
                 d.field(d.memory).range is not None)


def _stuck_title(r, gate, side):
    """The finding's title for a gate stuck "closed" (near 0) or "open" (near 1), in its role."""
    if gate == r.keep and r.keep_writes:
        return f"{gate} stuck at 1: never writes" if side == "open" else f"{gate} stuck at 0: keeps nothing"
    if gate in r.past and side == "closed":
        return f"{gate} closed: the candidate ignores the past"
    return f"{gate} stuck {side}"


def _arrays(trace):
    """Every field as numpy (L*D, T, B, F) in reading order per direction, NaN on padding."""
    t = trace.detach()
    out = {}
    for name in t.fields:
        a = getattr(t, name).float()
        back = _backward(t)
        if any(back):  # reverse rows: each sequence in the order the reverse pass read it
            a = a.clone()
            for ld in np.nonzero(back)[0]:
                a[ld] = reverse_time(a[ld], t.lengths)
        out[name] = a.numpy()
    return out, t.mask.numpy(), t.lengths.numpy()


def _backward(trace):
    """Per row of the trace (L*D): does that direction read each sequence from its end?"""
    go_backwards = bool(trace.meta.get("go_backwards"))
    return [ld % trace.num_directions == 1 or go_backwards for ld in range(trace.num_layers * trace.num_directions)]


def _times(ratio):
    """A ratio for a sentence: "8% of", "2.5x", "5,483x"."""
    if not math.isfinite(ratio):
        return "far beyond"
    return f"{ratio:.0%} of" if ratio < 1 else f"{ratio:,.3g}x" if ratio < 1000 else f"{ratio:,.0f}x"


def _ld(trace):
    return [(ld // trace.num_directions, ld % trace.num_directions)
            for ld in range(trace.num_layers * trace.num_directions)]


def saturation(trace, *, low=0.1, high=0.9, always=0.99, still=1e-3):
    """Per unit and sigmoid gate: fractions of valid steps with the gate < low (left) and > high
    (right), after Karpathy, Johnson & Fei-Fei 2015, Section 4.2; `stuck` if one side holds for at
    least `always` of the steps; `dead` if it never moves by more than `still`. Rows with gate "h"
    (the output state) flag units whose output never moves (left/right are NaN for them).
    The gates are those with weights of their own: i, f, o of a standard LSTM, f, o of a coupled
    one, r, z of a GRU.
    """
    arrays, mask, _ = _arrays(trace)
    r = roles(trace)
    rows = []
    for ld, (layer, direction) in enumerate(_ld(trace)):
        for name in r.measured + (r.output,):
            v = arrays[name][ld][mask]  # (N, H): every valid (step, sequence)
            span = v.max(0) - v.min(0)
            left = (v < low).mean(0) if name != r.output else np.full(v.shape[1], np.nan)
            right = (v > high).mean(0) if name != r.output else np.full(v.shape[1], np.nan)
            for u in range(v.shape[1]):
                rows.append(dict(layer=layer, direction=direction, unit=u, gate=name, left=left[u], right=right[u],
                                 mean=v[:, u].mean(), std=v[:, u].std(), range=span[u],
                                 stuck=bool(left[u] >= always or right[u] >= always), dead=bool(span[u] < still)))
    out = pd.DataFrame(rows)
    out.attrs["roles"] = asdict(r)  # what `findings` reads a stuck gate's role from (plain data: it is shown)
    return out


def _keep(trace, arrays):
    """The keep gate's values (L*D, T, B, H): f of an LSTM, z of a GRU; 1 where the memory is kept
    whole (an LSTM without a forget gate), NaN on padding."""
    k = roles(trace).keep
    if k is not None:
        return arrays[k]
    m = arrays[roles(trace).memory]
    return np.where(np.isnan(m), np.nan, 1.0).astype(m.dtype)


def survival(trace, layer=0, direction=0, t0=0):
    """How much of the memory at t0 (c of an LSTM, h of a GRU) survives to step t: ∏_{s=t0+1..t}
    of the keep gate (f, z), (T, B, H) in reading order, 1 at t0, NaN before t0 and on padding."""
    arrays, _, _ = _arrays(trace)
    f = _keep(trace, arrays)[trace.index(layer, direction)]  # (T, B, H)
    out = np.full_like(f, np.nan)
    out[t0] = np.where(np.isnan(f[t0]), np.nan, 1.0)
    out[t0 + 1:] = np.cumprod(f[t0 + 1:], axis=0)
    return out


def memory(trace, *, t0=0):
    """Per unit: the mean of the keep gate (`gate`: f of an LSTM, z of a GRU, None where the
    memory is kept whole; the column is mean_f for both), time constant 1/(1 - mean f) and
    half-life ln ½ / ln(mean f) in steps; survival_end, the mean over sequences of ∏ f from t0 to
    each sequence's last step; steps_to_1e, the median number of steps after t0 until ∏ f < 1/e
    (NaN if it never does); and ratio, the time constant over the mean sequence length of the data.
    With f (or z) fixed at 0.9 the time constant is 10 steps.
    """
    arrays, mask, lengths = _arrays(trace)
    keep, gate = _keep(trace, arrays), roles(trace).keep
    rows = []
    for ld, (layer, direction) in enumerate(_ld(trace)):
        f = keep[ld]  # (T, B, H)
        mean_f = f[mask].mean(0)  # (H,)
        s = survival(trace, layer, direction, t0)
        end = s[lengths - 1, np.arange(len(lengths))]  # (B, H)
        below = (s < 1 / math.e) & ~np.isnan(s)
        first = np.where(below.any(0), below.argmax(0) - t0, np.nan)  # (B, H)
        for u in range(f.shape[-1]):
            m = float(mean_f[u])
            tau = math.inf if m >= 1 else 1 / (1 - m)
            half = math.inf if m >= 1 else (0.0 if m <= 0 else math.log(0.5) / math.log(m))
            rows.append(dict(layer=layer, direction=direction, unit=u, gate=gate, mean_f=m, time_constant=tau,
                             half_life=half,
                             survival_end=float(np.nanmean(end[:, u])),
                             steps_to_1e=float(np.nanmedian(first[:, u])) if np.isfinite(first[:, u]).any()
                             else math.nan,
                             mean_length=float(lengths.mean()), ratio=tau / float(lengths.mean())))
    return pd.DataFrame(rows)


def _fit(steps, y):
    """(slope, R²) of the least-squares line through the finite points of y; (0, 0) with fewer than 2."""
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return 0.0, 0.0
    p = np.polyfit(steps[ok], y[ok], 1)
    var = float(y[ok].var())
    return float(p[0]), (1 - float((y[ok] - np.polyval(p, steps[ok])).var()) / var) if var > 0 else 0.0


def _slope(steps, y):
    return _fit(steps, y)[0]


def cell_growth(trace, *, min_slope=0.01, min_abs=2.0, keep_up=0.5, min_rise=0.25, min_fit=0.9):
    """Per unit: slope (per step) of max over sequences of |c_t|, fitted over the second half of
    the steps, its R² (fit), and slope_end over the last quarter; max_abs and final_abs (mean |c|
    at each sequence's last step); rise, what the second half adds (slope x its steps) over max_abs.

    `growing` (without bound) when, all at once:
    - slope and slope_end exceed min_slope, and slope_end is at least keep_up x the slope of the
      quarter before (a cell settling towards a bound slows down geometrically: with f = 0.9, by
      0.9^(T/4));
    - rise >= min_rise and fit >= min_fit: the rise is a large part of the unit's own scale, and a
      steady line, not a wobble of a unit that is large anyway (issue 21: with absolute thresholds
      alone 60 of the 128 units of the shipped character model were flagged, 15 of them with a
      second half that falls);
    - |c| has passed min_abs, where tanh(c) is already 0.96: such a cell is not forgetting, and
      its h is stuck at ±o.
    A memory with a fixed range (a GRU's h, in −1..1) cannot grow: no rows.
    """
    arrays, mask, lengths = _arrays(trace)
    r = roles(trace)
    rows = []
    for ld, (layer, direction) in enumerate([] if r.bounded else _ld(trace)):
        c = np.abs(arrays[r.memory][ld])  # (T, B, H)
        top = np.nanmax(np.where(mask[:, :, None], c, np.nan), axis=1)  # (T, H)
        T = top.shape[0]
        q = np.arange(T) * 4 // max(T, 1)  # the quarter of each step, 0..3
        half, third, last = np.nonzero(q >= 2)[0], np.nonzero(q == 2)[0], np.nonzero(q == 3)[0]
        final = c[lengths - 1, np.arange(len(lengths))]  # (B, H)
        for u in range(c.shape[-1]):
            slope, fit = _fit(half, top[half, u])
            end = _slope(last, top[last, u]) if len(last) >= 2 else slope
            before = _slope(third, top[third, u]) if len(third) >= 2 else end
            peak = float(np.nanmax(top[:, u]))
            rise = slope * len(half) / peak if peak > 0 else 0.0
            rows.append(dict(layer=layer, direction=direction, unit=u, slope=slope, slope_end=end, fit=fit,
                             rise=rise, max_abs=peak, final_abs=float(final[:, u].mean()),
                             growing=bool(min(slope, end) > min_slope and end >= keep_up * before
                                          and rise >= min_rise and fit >= min_fit and peak > min_abs)))
    # typed even when empty: growth[growth.growing] must select rows, not columns
    return pd.DataFrame(rows, columns=list(GROWTH_COLUMNS)).astype(
        {"layer": int, "direction": int, "unit": int, "growing": bool})


GROWTH_COLUMNS = ("layer", "direction", "unit", "slope", "slope_end", "fit", "rise", "max_abs", "final_abs", "growing")


# --- gradients and interventions: these run the model --------------------------------------------------

class _GradientRun:
    """Only input and probe gradients are wanted: parameters stop requiring grad. On the CPU torch
    runs on one thread meanwhile: the backward of the per-step graph is thousands of tiny matrix
    products, and with 2 intra-op threads on our busy 2-core machine it took 20-60x the CPU time
    of 1 thread (6-23 s against 0.35 s for 16 backward passes over 40 steps; OpenMP workers
    spinning between tiny ops, by the look of it)."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.flags = [p.requires_grad for p in self.model.parameters()]
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.threads = torch.get_num_threads()
        if self.model.device.type == "cpu":
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.threads)
        for p, flag in zip(self.model.parameters(), self.flags):
            p.requires_grad_(flag)


def _batched(model, x):
    """x with a batch dimension (the statistics index sequences)."""
    if x.dim() == 2:
        return x.unsqueeze(0 if model.batch_first else 1)
    return x


def _units(n, max_units):
    """At most max_units unit indices spread evenly over 0..n-1."""
    return list(range(n)) if n <= max_units else sorted({round(k * (n - 1) / (max_units - 1))
                                                         for k in range(max_units)})


def _jacobian_norms(target, inputs, units):
    """Σ_k over target units of (∂ Σ_b target[b, k] / ∂ inputs)², one backward per unit; inputs (..., B, F)."""
    total = None
    for k in units:
        (g,) = torch.autograd.grad(target[:, k].sum(), inputs, retain_graph=True, allow_unused=True)
        g = torch.zeros_like(inputs) if g is None else g
        total = g.pow(2) if total is None else total + g.pow(2)
    return total


def gradient_flow(model, x, lengths=None, *, max_units=16):
    """Norms of ∂h_T/∂x_t (last layer, per direction) and ∂c_T/∂c_t (every layer and direction)
    against steps_back = how many steps before the end of the sequence (in reading order) t is.

    Each norm is the Frobenius norm over the units of h_T (or c_T), at most max_units of them
    spread evenly, and the features of x_t (or units of c_t); columns quantity, layer, direction,
    steps_back, norm (mean over sequences), norm_min, norm_max. With W_hh = 0 and f fixed,
    ‖∂c_T/∂c_t‖ = sqrt(H) f^steps_back. The memory's own gradient needs the trace's probes (zero
    leaves added to each step's state): a model whose trace has none (the GRU) gets ∂h_T/∂x_t only.
    """
    x = _batched(model, x).detach().clone()
    probes = "probes" in inspect.signature(model.trace).parameters
    m = roles(model).memory
    with torch.enable_grad(), _GradientRun(model):
        x.requires_grad_(True)
        tr = model.trace(x, lengths=lengths, **({"probes": True} if probes else {}))
        L, D = tr.num_layers, tr.num_directions
        lens, back = tr.lengths.numpy(), _backward(tr)
        rows = []
        for d in range(D):
            ld = (L - 1) * D + d
            sq = _jacobian_norms(tr.h_n[ld], x, _units(tr.h_n.shape[-1], max_units))  # like x
            if model.batch_first:
                sq = sq.transpose(0, 1)  # (B, T, I) -> (T, B, I)
            rows += _by_lag(sq.sum(-1).sqrt(), lens, "dh_T/dx_t", L - 1, d, back[ld])  # (T, B)
        final = getattr(tr, f"{m}_n")  # c_n of an LSTM: the memory's last state, (L*D, B, H)
        for ld in range(L * D if probes else 0):
            sq = _jacobian_norms(final[ld], tr.probes[m], _units(final.shape[-1], max_units))
            rows += _by_lag(sq[ld].sum(-1).sqrt(), lens, f"d{m}_T/d{m}_t", ld // D, ld % D, back[ld])
    return pd.DataFrame(rows)


def _by_lag(norms, lengths, quantity, layer, direction, backward):
    """Rows per steps_back from norms (T, B) over time; backward: the direction reads from the end."""
    norms = norms.detach().numpy()
    T = norms.shape[0]
    per_lag = {}
    for b, n in enumerate(lengths):
        for t in range(n):
            lag = t if backward else n - 1 - t
            per_lag.setdefault(lag, []).append(norms[t, b])
    return [dict(quantity=quantity, layer=layer, direction=direction, steps_back=lag, norm=float(np.mean(v)),
                 norm_min=float(np.min(v)), norm_max=float(np.max(v))) for lag, v in sorted(per_lag.items())
            if lag < T]


def gradient_summary(flow, *, vanish=1e-3, explode=1e3, keep=0.01):
    """Per quantity, layer and direction: the norm at the last step and at the furthest step back,
    their ratio, `horizon` (the furthest steps_back whose norm is still >= keep x the last-step
    norm), and the flags vanishing (ratio < vanish) and exploding (ratio > explode)."""
    rows = []
    for (q, layer, d), g in flow.groupby(["quantity", "layer", "direction"], sort=False):
        g = g.sort_values("steps_back")
        n0, n_far = float(g.norm.iloc[0]), float(g.norm.iloc[-1])
        ratio = n_far / n0 if n0 > 0 else math.nan
        kept = g.steps_back[g.norm >= keep * n0]
        rows.append(dict(quantity=q, layer=layer, direction=d, norm_last=n0, norm_first=n_far,
                         steps=int(g.steps_back.max()), ratio=ratio, horizon=int(kept.max()) if len(kept) else 0,
                         vanishing=bool(ratio < vanish), exploding=bool(ratio > explode)))
    return pd.DataFrame(rows)


@dataclass
class WhatIf:
    """A run with interventions next to the same run without them."""

    base: object  # Trace without interventions
    changed: object  # Trace with them
    effect: pd.DataFrame  # layer, direction, step, field (the states: c, h; h), mean_abs_change, max_abs_change
    output_change: np.ndarray  # (T,) mean |Δ output| per step over sequences and features

    @property
    def first_changed_step(self):
        """The first step whose output moved (None if it never did)."""
        moved = np.nonzero(self.output_change > 0)[0]
        return int(moved[0]) if moved.size else None


def zero_units(units, layer=0, direction=0, steps=None):
    """The interventions that silence units: their h forced to 0 (their c runs on unseen)."""
    return [Clamp("h", 0.0, units=units, steps=steps, layer=layer, direction=direction)]


def what_if(model, x, interventions, lengths=None):
    """Run x with and without the interventions (a list of `lstm_core.Clamp`) and measure the
    change in the states (c and h of an LSTM, h of a GRU) of every layer and direction, per step
    (mean and max |Δ| over sequences and units), and in the output. Steps are in time order."""
    x = _batched(model, x)
    with torch.no_grad():  # both on the reference path, so that only the interventions differ
        base = model.trace(x, lengths=lengths, method="reference").detach()
        changed = model.trace(x, lengths=lengths, interventions=list(interventions)).detach()
    rows = []
    mask = base.mask.numpy()
    r = roles(base)
    for ld, (layer, direction) in enumerate(_ld(base)):
        for name in dict.fromkeys((r.memory, r.output)):  # c, h of an LSTM; h of a GRU
            diff = (getattr(changed, name)[ld] - getattr(base, name)[ld]).abs().numpy()  # (T, B, F)
            for t in range(diff.shape[0]):
                v = diff[t][mask[t]]
                rows.append(dict(layer=layer, direction=direction, step=t, field=name,
                                 mean_abs_change=float(v.mean()), max_abs_change=float(v.max())))
    out_b, out_c = base.output, changed.output
    delta = (out_c - out_b).abs()
    if model.batch_first:
        delta = delta.transpose(0, 1)  # (B, T, D*P) -> (T, B, D*P)
    return WhatIf(base, changed, pd.DataFrame(rows), delta.mean(dim=(1, 2)).numpy())


# --- the summary: findings that link to the views --------------------------------------------------------

@dataclass
class Report:
    """What `diagnose` found, and the tables behind it."""

    findings: pd.DataFrame  # severity, layer, direction, unit, gate, what, view
    saturation: pd.DataFrame
    memory: pd.DataFrame
    cell_growth: pd.DataFrame
    gradients: pd.DataFrame | None  # gradient_summary; None with gradients=False
    gradient_flow: pd.DataFrame | None

    def to_dict(self):
        """Plain data for JSON: the findings and every table as lists of records."""
        def records(df):
            return None if df is None else json.loads(df.to_json(orient="records"))
        return {name: records(getattr(self, name)) for name in
                ("findings", "saturation", "memory", "cell_growth", "gradients", "gradient_flow")}


FINDING_COLUMNS = ("severity", "layer", "direction", "unit", "gate", "what", "view")


def _finding(severity, what, view, layer=None, direction=None, unit=None, gate=None):
    return dict(severity=severity, layer=layer, direction=direction, unit=unit, gate=gate, what=what, view=view)


def _unit_findings(sat, growth, cell):
    """Per unit: (severity, title, detail, strength, where, view) of each stuck or dead gate and
    growing cell; strength orders the units of one finding, the strongest first. cell: the
    `Roles` that name what a stuck gate does, or None (the gate and its side only)."""
    out, output, memory = [], cell.output if cell else "h", cell.memory if cell else "c"
    for r in sat.itertuples():
        where = dict(layer=r.layer, direction=r.direction, unit=r.unit, gate=r.gate)
        if r.gate == output and r.dead:
            out.append(("warning", f"dead unit: {output} never changes", f"range {r.range:.2g}", -r.range, where,
                        "saturation"))
        elif r.stuck:
            side, frac = ("closed", r.left) if r.left >= r.right else ("open", r.right)
            out.append(("warning", _stuck_title(cell, r.gate, side) if cell else f"{r.gate} stuck {side}",
                        f"{'left' if side == 'closed' else 'right'}-saturated at {frac:.0%} of steps", frac, where,
                        "saturation"))
        elif r.dead:
            out.append(("info", f"{r.gate} never changes", f"stays at {r.mean:.3g}", -r.range, where, "saturation"))
    for r in growth[growth.growing].itertuples():
        out.append(("warning", f"|{memory}| keeps growing", f"+{r.slope:.3g} per step, up to {r.max_abs:.3g}",
                    r.slope, dict(layer=r.layer, direction=r.direction, unit=r.unit, gate=memory), "cell_state"))
    return out


def _unit_list(units, most=12):
    shown = ", ".join(map(str, units[:most]))
    return shown + (f" and {len(units) - most} more" if len(units) > most else "")


def _grouped(unit_findings, group):
    """One row per unit finding; `group` or more units of one layer and direction with the same
    finding become one row, at its strongest unit, naming the others (issue 21: 60 rows of "|c| keeps
    growing" buried the rest of a character model's findings)."""
    by_key = {}
    for f in unit_findings:
        severity, title, _, _, where, view = f
        by_key.setdefault((severity, title, where["layer"], where["direction"], view), []).append(f)
    out = []
    for fs in by_key.values():
        if len(fs) < max(group, 2):
            out += [_finding(sev, f"{title}: {detail}" if view == "cell_state" else f"{title} ({detail})", view,
                             **where) for sev, title, detail, _, where, view in fs]
            continue
        fs = sorted(fs, key=lambda f: -f[3])
        sev, title, detail, _, where, view = fs[0]
        others = sorted(int(f[4]["unit"]) for f in fs[1:])
        out.append(_finding(sev, f"{title} in {len(fs)} units, most in unit {where['unit']} ({detail}); also units "
                                 f"{_unit_list(others)}", view, **where))
    return out


def findings(sat, mem, growth, grads=None, *, cell=None, short_memory=0.1, group=4):
    """The findings table from the diagnostics' tables, most severe first.

    cell: the model, trace or declaration the tables are of (default: the roles `saturation`
    noted in sat.attrs), which says what a stuck gate does: a GRU's "z stuck at 1: never writes"
    (h_t = (1 − z) ⊙ n + z ⊙ h_{t−1} never takes in n), "z stuck at 0: keeps nothing", "r closed:
    the candidate ignores the past"; an LSTM's "f stuck closed".

    warning: a gate stuck saturated or a unit whose h never moves; a unit whose |c| keeps growing;
        gradients vanishing or exploding; no unit of a layer remembering short_memory x the mean
        sequence length.
    info: gates that never move; the longest memory of each layer; units whose time constant
        exceeds the longest sequence; the gradient horizon.
    A finding shared by `group` or more units of one layer and direction is one row, at the unit
    where it is strongest, naming the others.
    """
    if cell is not None:
        cell = roles(cell)
    elif sat.attrs.get("roles"):
        cell = Roles(**sat.attrs["roles"])
    memory = cell.memory if cell else "c"
    out = _grouped(_unit_findings(sat, growth, cell), group)
    for (layer, d), g in mem.groupby(["layer", "direction"], sort=False):
        best = g.loc[g.time_constant.idxmax()]
        n = float(best.mean_length)
        if best.time_constant < short_memory * n:
            out.append(_finding("warning", f"short memory: no unit keeps {memory} longer than "
                                           f"{best.time_constant:.3g} steps (time constant), sequences are {n:.3g} "
                                           f"steps long", "memory", layer=layer, direction=d))
        out.append(_finding("info", f"longest memory: time constant {best.time_constant:.3g} steps "
                                    f"({_times(best.ratio)} the mean sequence length {n:.3g})", "memory",
                            layer=layer, direction=d, unit=int(best.unit), gate=best.get("gate", "f")))
    if grads is not None:
        for r in grads.itertuples():
            what = f"{r.quantity}: {r.ratio:.2g} x from the last step to {r.steps} steps back"
            if r.vanishing or r.exploding:
                out.append(_finding("warning", f"{'vanishing' if r.vanishing else 'exploding'} gradient, {what}",
                                    "gradient_flow", layer=r.layer, direction=r.direction))
            out.append(_finding("info", f"{r.quantity} stays above 1% of its last-step norm for {r.horizon} steps "
                                        f"back", "gradient_flow", layer=r.layer, direction=r.direction))
    df = pd.DataFrame(out, columns=list(FINDING_COLUMNS))
    if len(df):
        df["rank"] = df.severity.map(SEVERITIES.index)
        df = df.sort_values(["rank", "layer", "direction", "unit"], kind="stable").drop(columns="rank")
    return df.reset_index(drop=True).astype({"layer": "Int64", "direction": "Int64", "unit": "Int64"})


_FRACTIONS = ("low", "high", "always", "short_memory", "min_fit")  # thresholds in [0, 1]; the others: >= 0


def _check_arguments(model, data, gradients, max_units, thresholds):
    """TypeError / ValueError naming the argument, what is allowed and what arrived."""
    from ..gru import GRU
    from ..model import LSTM

    if not isinstance(model, (LSTM, GRU)):
        raise TypeError(f"model: expected an lstm_core.LSTM or lstm_core.GRU, got {type(model).__name__}")
    if not hasattr(data, "for_model") and not isinstance(data, torch.Tensor):
        raise TypeError(f"data: expected lstm_core.io.data.Sequences or a tensor x, got {type(data).__name__}")
    if not isinstance(gradients, bool):
        raise TypeError(f"gradients: expected True or False, got {gradients!r}")
    if not isinstance(max_units, int) or isinstance(max_units, bool) or max_units < 2:
        raise ValueError(f"max_units: expected an int >= 2 (units spread over the layer), got {max_units!r}")
    for name, v in thresholds.items():
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
        if not ok or (name in _FRACTIONS and v > 1):
            allowed = "a number in [0, 1]" if name in _FRACTIONS else "a finite number >= 0"
            raise ValueError(f"{name}: expected {allowed}, got {v!r}")


def diagnose(model, data, lengths=None, *, gradients=True, max_units=16, **thresholds):
    """Every diagnostic on `data` (a `lstm_core.io.data.Sequences`, or x in the model's layout with
    lengths), and the findings table. thresholds: low, high, always, still (saturation),
    min_slope, min_abs, keep_up, min_rise, min_fit (cell_growth), short_memory, group (findings)."""
    _check_arguments(model, data, gradients, max_units, thresholds)
    if hasattr(data, "for_model"):
        x, lengths = data.for_model(model)
    else:
        x = _batched(model, data)
    pick = lambda *names: {k: thresholds.pop(k) for k in names if k in thresholds}  # noqa: E731
    sat_kw, growth_kw, find_kw = pick("low", "high", "always", "still"), pick("min_slope", "min_abs", "keep_up",
                                                                                     "min_rise", "min_fit"), \
        pick("short_memory", "group")
    if thresholds:
        raise TypeError(f"diagnose: unknown thresholds {sorted(thresholds)}")
    with torch.no_grad():
        tr = model.trace(x, lengths=lengths)
    sat, mem, growth = saturation(tr, **sat_kw), memory(tr), cell_growth(tr, **growth_kw)
    flow = gradient_flow(model, x, lengths, max_units=max_units) if gradients else None
    grads = gradient_summary(flow) if gradients else None
    return Report(findings(sat, mem, growth, grads, cell=tr, **find_kw), sat, mem, growth, grads, flow)
