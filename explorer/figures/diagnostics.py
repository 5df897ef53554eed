"""Figures for the diagnostics of `lstm_core.analysis.diagnostics`: pure functions from its tables to go.Figure.

No streamlit here: the app's diagnostics page and a Jupyter notebook call the same functions.

    report = lstm_core.analysis.diagnostics.diagnose(model, seqs)
    saturation_map(report.saturation).show()           # Karpathy et al. 2015, Fig. 4
    time_constants(report.memory).show()
    gradient_flow(report.gradient_flow).show()

Each figure's name matches a `view` of the findings table (`lstm_core.analysis.diagnostics.VIEWS`):
saturation -> saturation.saturation_map, memory -> time_constants / survival_curves, cell_state ->
cell_state_growth, gradient_flow -> gradient_flow, intervention -> intervention_effect.
Colours: unit k has UNIT_COLORS[k % 10], as in the app's other figures.
"""
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .saturation import saturation_map  # noqa: F401  (the "saturation" view's figure, beside the others)
from .style import LAYER_COLORS, MARK, SEVERITY_COLORS, unit_color, unit_ticks


def log_hline(fig, y, text, position="top right", dash="dash"):
    """A labelled horizontal line at data value y on a log y axis.

    fig.add_hline(annotation_text=...) places the label at log10 coordinates read as data
    (plotly.js: annotations on a log axis take log10(y), shapes take y), so a line at 30
    steps got its label at 10^30 and the autorange followed it; the label is added here
    in log10 units, next to the line.
    """
    fig.add_hline(y=y, line=dict(color="gray", dash=dash))
    side, above = position.split()[1], position.split()[0] == "top"
    fig.add_annotation(text=text, xref="x domain", x=1.0 if side == "right" else 0.0, yref="y",
                       y=float(np.log10(y)), showarrow=False, xanchor=side, yanchor="bottom" if above else "top",
                       font=dict(size=11, color="gray"))
    return fig


def _select(df, layer, direction):
    return df[(df.layer == layer) & (df.direction == direction)]




def keep_name(mem):
    """The keep gate the memory table was measured on: "f" (LSTM), "z" (GRU); "1" where the memory is
    kept whole (an LSTM without a forget gate); "f" for a table from before it named one."""
    if "gate" not in mem.columns or not len(mem):
        return "f"
    g = mem.gate.iloc[0]
    return "1" if g is None or g != g else str(g)


def time_constants(mem, layer=0, direction=0):
    """Each unit's memory time constant 1/(1 - mean f) in steps (log scale), against the mean
    sequence length of the data (dashed line); f is the table's keep gate (z of a GRU).
    mem: the table of `diagnostics.memory`."""
    d = _select(mem, layer, direction)
    k = keep_name(mem)
    tau = np.minimum(d.time_constant.to_numpy(), 1e6)  # f = 1 exactly: infinite, drawn at the top
    n = float(d.mean_length.iloc[0]) if len(d) else 1.0
    fig = go.Figure(go.Bar(x=d.unit, y=tau, marker_color=[unit_color(u) for u in d.unit],
                           customdata=np.stack([d.mean_f, d.half_life], axis=-1),
                           hovertemplate=f"unit %{{x}}<br>time constant %{{y:.3g}} steps<br>mean {k} "
                                         f"%{{customdata[0]:.3f}}<br>half-life %{{customdata[1]:.3g}} steps"
                                         f"<extra></extra>"))
    log_hline(fig, n, f"mean sequence length {n:.3g}")
    fig.update_layout(title=f"Memory per unit, layer {layer}{' (reverse)' if direction else ''}",
                      xaxis=dict(title="unit", **unit_ticks(len(d))),
                      yaxis=dict(title=f"time constant 1/(1 - mean {k}) (steps)", type="log"),
                      height=380, margin=dict(l=60, r=20, t=50, b=50))
    return fig


def survival_curves(survival, units=None, sequence=0, t0=0, keep="f", memory="c"):
    """How much of the memory at t0 survives to each step, ∏ keep, per unit (log scale), with 1/e
    marked: ∏ f of c for an LSTM, ∏ z of h for a GRU. survival: (T, B, H) from
    `diagnostics.survival`; units: which to draw (default: all)."""
    s = np.asarray(survival)[:, sequence]  # (T, H)
    units = range(s.shape[1]) if units is None else units
    steps = np.arange(s.shape[0])
    data = [go.Scatter(x=steps[t0:], y=s[t0:, u], mode="lines", name=f"unit {u}",
                       line=dict(color=unit_color(u)),
                       hovertemplate=f"unit {u}<br>step %{{x}}<br>∏ {keep} = %{{y:.3g}}<extra></extra>")
            for u in units]
    fig = go.Figure(data)
    log_hline(fig, 1 / np.e, "1/e", dash="dot")
    fig.update_layout(title=f"What survives of {memory} at step {t0}", xaxis_title="step",
                      yaxis=dict(title=f"∏ {keep}", type="log"), height=380, margin=dict(l=60, r=20, t=50, b=50))
    return fig


def gradient_flow(flow):
    """Gradient norms against steps back from the end (log scale): one line per quantity, layer and
    direction, with the range over sequences as a band. flow: `diagnostics.gradient_flow`'s table."""
    data = []
    for k, ((q, layer, d), g) in enumerate(flow.groupby(["quantity", "layer", "direction"], sort=False)):
        g = g.sort_values("steps_back")
        color = LAYER_COLORS[k % 10]
        name = f"{q}, layer {layer}{' reverse' if d else ''}"
        data.append(go.Scatter(x=np.concatenate([g.steps_back, g.steps_back[::-1]]),
                               y=np.concatenate([g.norm_max, g.norm_min[::-1]]), fill="toself", opacity=0.15,
                               line=dict(width=0, color=color), hoverinfo="skip", showlegend=False))
        data.append(go.Scatter(x=g.steps_back, y=g.norm, mode="lines", name=name, line=dict(color=color),
                               hovertemplate=f"{name}<br>%{{x}} steps back: %{{y:.3g}}<extra></extra>"))
    return go.Figure(data, dict(title="Gradient flow", xaxis_title="steps back from the end",
                                yaxis=dict(title="norm", type="log", exponentformat="power"),
                                height=400, margin=dict(l=70, r=20, t=50, b=50)))


def cell_state_growth(c, growth, layer=0, direction=0, top=5):
    """max over sequences of |c_t| over time for the units that grow fastest (growing ones solid).
    c: (T, B, H) cell states of that layer and direction (NaN on padding), growth: the table of
    `diagnostics.cell_growth`."""
    d = _select(growth, layer, direction).sort_values("slope", ascending=False).head(top)
    peak = np.nanmax(np.abs(np.asarray(c, dtype=float)), axis=1)  # (T, H)
    data = [go.Scatter(x=np.arange(peak.shape[0]), y=peak[:, u], mode="lines", name=f"unit {u}",
                       line=dict(color=unit_color(u), dash="solid" if grow else "dot"),
                       hovertemplate=f"unit {u} (slope {s:.3g})<br>step %{{x}}<br>|c| = %{{y:.3g}}<extra></extra>")
            for u, grow, s in zip(d.unit, d.growing, d.slope)]
    return go.Figure(data, dict(title=f"Cell state growth, layer {layer}{' (reverse)' if direction else ''}",
                                xaxis_title="step", yaxis_title="max |c| over sequences",
                                height=380, margin=dict(l=60, r=20, t=50, b=50)))


def intervention_effect(effect, output_change=None, field="h", steps=None):
    """Mean |Δ| of c or h per step and layer after an intervention, and of the output; the
    intervened steps shaded. effect, output_change: from `diagnostics.what_if`."""
    d = effect[effect.field == field]
    data = []
    for k, ((layer, direction), g) in enumerate(d.groupby(["layer", "direction"], sort=False)):
        data.append(go.Scatter(x=g.step, y=g.mean_abs_change, mode="lines",
                               name=f"{field}, layer {layer}{' reverse' if direction else ''}",
                               line=dict(color=LAYER_COLORS[k % 10]),
                               hovertemplate="step %{x}<br>mean |Δ| %{y:.3g}<extra></extra>"))
    if output_change is not None:
        out = np.asarray(output_change)
        data.append(go.Scatter(x=np.arange(len(out)), y=out, mode="lines", name="output",
                               line=dict(color="black", dash="dash")))
    fig = go.Figure(data, dict(title="Change downstream of the intervention", xaxis_title="step",
                               yaxis_title="mean |Δ|", height=380, margin=dict(l=60, r=20, t=50, b=50)))
    if steps is not None and len(steps):
        fig.add_vrect(x0=min(steps) - 0.5, x1=max(steps) + 0.5, fillcolor="gray", opacity=0.15, line_width=0)
    return fig


def findings_table(findings):
    """The findings as a table, rows tinted by severity."""
    cols = ["severity", "layer", "direction", "unit", "gate", "what", "view"]
    values = [["" if pd.isna(v) else v for v in findings[c].astype(object)] for c in cols]
    fill = [[SEVERITY_COLORS.get(s, "white") for s in findings.severity]] * len(cols)
    return go.Figure(go.Table(header=dict(values=cols, align="left"),
                              cells=dict(values=values, align="left", fill_color=fill),
                              columnwidth=[1, 0.7, 0.8, 0.6, 0.6, 6, 1.5]),
                     dict(height=120 + 28 * min(len(findings), 20), margin=dict(l=10, r=10, t=10, b=10)))


def mark_lengths(fig, lengths):
    """The shortest and longest sequence of the data on diagnostics.time_constants (steps)."""
    lo, hi = int(min(lengths)), int(max(lengths))
    if hi != lo:
        log_hline(fig, hi, f"longest sequence {hi}", "top left", dash="dot")
        log_hline(fig, lo, f"shortest sequence {lo}", "bottom left", dash="dot")
    return fig


def mark_bar(fig, unit):
    """Outline one unit's bar on diagnostics.time_constants."""
    fig.add_vrect(x0=unit - 0.5, x1=unit + 0.5, line=dict(color=MARK, width=3), fillcolor="rgba(0,0,0,0)")
    return fig
