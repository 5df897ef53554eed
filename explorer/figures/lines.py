"""Line and scatter figures: unit traces, saturation, cell-update breakdown.

Pure functions from arrays to go.Figure (no streamlit). All are SVG traces
(go.Scatter), not WebGL: a page holds several figures and browsers allow only
about 8 WebGL contexts at once (issue 4). Long sequences are reduced by
downsample.minmax_line, which keeps every extreme.
"""
import re

import numpy as np
import plotly.graph_objects as go

from . import downsample
from .style import CELL, GATES01, KEPT, LATENT_COLOR, NEGATIVE, POSITIVE, RIGHT_AXIS, WRITTEN, unit_color


def unit_traces(fields, units, *, start=0, columns=1200, marker_step=None, height_per_row=110, gates=GATES01):
    """Line plots of chosen units: one row per field, one colour per unit.

    fields: {name: (S, U) array} for the chosen units, NaN on padding
    units: (U,) the unit numbers, for legends and colours
    gates: the fields drawn on 0..1 (the cell's declared gates)
    marker_step: a step to mark with a vertical line (the step-through view), or None
    """
    names = list(fields)
    n = max(1, len(names))
    S = next(iter(fields.values())).shape[0] if fields else 0
    plan = downsample.plan(S, columns)
    data, layout = [], {}
    for r, name in enumerate(names):
        ax = "" if r == 0 else str(r + 1)
        z = np.asarray(fields[name])
        for j, u in enumerate(units):
            steps, y = downsample.minmax_line(z[:, j], plan)
            data.append(go.Scatter(x=steps + start, y=y, mode="lines", name=f"unit {u}", legendgroup=str(u),
                                   showlegend=r == 0, line=dict(color=unit_color(u), width=1.8),
                                   xaxis="x" + ax, yaxis="y" + ax,
                                   hovertemplate=f"step %{{x}}<br>unit {u}<br>{name} = %{{y:.4f}}<extra></extra>"))
        top, bottom = 1 - r / n, 1 - (r + 1) / n
        rng = dict(range=[-0.05, 1.05]) if name in gates else {}
        layout["yaxis" + ax] = dict(domain=[bottom + 0.02, top - 0.02], title=dict(text=name, font=dict(size=14)),
                                    zeroline=True, **rng)
        layout["xaxis" + ax] = dict(anchor="y" + ax, matches=None if r == 0 else "x",
                                    showticklabels=r == n - 1, **({"title": dict(text="step")} if r == n - 1 else {}))
    shapes = []
    if marker_step is not None:
        shapes.append(dict(type="line", xref="x", yref="paper", x0=marker_step, x1=marker_step, y0=0, y1=1,
                           line=dict(color="rgba(128,128,128,0.8)", width=2, dash="dot")))
    layout.update(height=int(60 + height_per_row * n), margin=dict(l=60, r=20, t=30, b=40), shapes=shapes,
                  legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"), hovermode="x unified",
                  meta=dict(bucket=plan.bucket, note=plan.note()))
    return go.Figure(data=data, layout=layout)








LSTM_UPDATE = ("c", "f·c(t-1)", "i·g", "c_t = f_t·c_{t-1} + i_t·g_t")  # cell_update's `update` of the standard LSTM


def cell_update(c, kept, written, unit, *, start=0, columns=1200, update=LSTM_UPDATE):
    """The memory of one unit (an LSTM's c_t, a GRU's h_t), split into what was kept (f_t c_{t-1};
    z_t h_{t-1}) and what was written (i_t g_t; (1 − z_t) n_t).

    c, kept, written: (S,) with NaN on padding; c = kept + written at every step.
    update: (memory's name, kept, written, the equation), as subject.memory_update gives them
        from the cell's declaration; "_{t-1}" and "_t" in the equation are drawn as subscripts.
    """
    memory, kept_text, written_text, equation = update
    S = c.shape[0]
    plan = downsample.plan(S, columns)
    data = []
    for name, y, style in ((f"written  {_subscripts(written_text)}", written, dict(color=WRITTEN, width=1.2)),
                           (f"kept  {_subscripts(kept_text)}", kept, dict(color=KEPT, width=1.5)),
                           (f"{memory}  = kept + written", c, dict(color=CELL, width=3))):
        steps, v = downsample.minmax_line(np.asarray(y), plan)
        fill = "tozeroy" if name.startswith("written") else None
        data.append(go.Scatter(x=steps + start, y=v, mode="lines", name=name, line=style, fill=fill,
                               hovertemplate=f"step %{{x}}<br>{name.split()[0]} = %{{y:.4f}}<extra></extra>"))
    layout = dict(height=320, margin=dict(l=60, r=20, t=40, b=40), hovermode="x unified",
                  title=dict(text=f"unit {unit}: {_subscripts(equation)}", font=dict(size=14)),
                  xaxis=dict(title=dict(text="step")), legend=dict(orientation="h", x=0, y=-0.2),
                  meta=dict(bucket=plan.bucket, note=plan.note()))
    return go.Figure(data=data, layout=layout)


def _subscripts(text):
    """"c_{t−1}" and "c_t" as HTML subscripts, for a Plotly title."""
    return re.sub(r"_\{([^}]*)\}|_([A-Za-z0-9])", lambda m: f"<sub>{m.group(1) or m.group(2)}</sub>", text)


TOP_MARGIN = 75  # px above a plot with a legend on top: the title above the legend, not behind it


def _title(text):
    """A title at the top of the figure, clear of a legend along the top of the plot area."""
    return dict(text=text, y=1, yref="container", yanchor="top", pad=dict(t=8)) if text else None


def unit_ranking(scores, *, latent, title=None):
    """Horizontal bars of r, best first at the top: the unit finder's ranking.

    scores: `lstm_core.analysis.units.UnitScore`s (anything with .field, .unit, .r, .n), best first.
    Each bar's customdata is [field, unit], what a click on it selects.
    """
    labels = [f"{s.field}[{s.unit}]" for s in scores]
    r = [s.r for s in scores]
    bar = go.Bar(x=r, y=labels, orientation="h", marker_color=[POSITIVE if v >= 0 else NEGATIVE for v in r],
                 customdata=[[s.field, s.unit] for s in scores], text=[f"{v:+.2f}" for v in r],
                 textposition="outside",
                 hovertemplate=(f"%{{y}}<br>r = %{{x:.3f}} with {latent}"
                                f"<br>over {scores[0].n if scores else 0} steps<extra></extra>"))
    fig = go.Figure(bar)
    fig.update_layout(height=80 + 28 * max(1, len(scores)), margin=dict(l=60, r=40, t=40, b=40),
                      title=title or f"Units that track {latent}", bargap=0.3)
    fig.update_xaxes(range=[-1.15, 1.15], title=dict(text=f"correlation r with {latent}"), zeroline=True)
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def _level_ticks(values, most=12):
    """Ticks at the values themselves for a latent of few whole levels (a 0/1 flag, a depth): the
    default put ticks like 0.805 and 0.534 on a 0/1 axis (issue 10, item 9). {} otherwise."""
    finite = values[np.isfinite(values)]
    levels = np.unique(finite)
    if not 0 < levels.size <= most or not np.all(levels == np.round(levels)):
        return {}
    return dict(tickmode="array", tickvals=levels.tolist(), ticktext=[f"{v:g}" for v in levels],
                range=[float(levels[0]) - 0.1 * max(1.0, np.ptp(levels)), float(levels[-1]) + 0.1 * max(1.0, np.ptp(levels))])


def unit_vs_latent(series, latent, *, latent_name, title=None, start=0):
    """Chosen units over time (left axis) beside the latent (right axis, dashed), one sequence.

    series: {label: (T,) array}, e.g. {"c[7]": ...}; latent: (T,), NaN where undefined
    (drawn as gaps). start: the step number of the first value.
    """
    latent = np.asarray(latent, dtype=float)
    steps = np.arange(len(latent)) + start
    data = []
    for label, y in series.items():
        y = np.asarray(y, dtype=float)
        if y.shape != latent.shape:
            raise ValueError(f"series[{label!r}]: expected shape {latent.shape} like the latent, got {y.shape}")
        data.append(go.Scatter(x=steps, y=y, mode="lines", name=label, line=dict(width=2),
                               hovertemplate=f"step %{{x}}<br>{label} = %{{y:.3f}}<extra></extra>"))
    data.append(go.Scatter(x=steps, y=latent, mode="lines", name=latent_name, yaxis="y2", connectgaps=False,
                           line=dict(color=LATENT_COLOR, width=2, dash="dash"),
                           hovertemplate=f"step %{{x}}<br>{latent_name} = %{{y:.3f}}<extra></extra>"))
    fig = go.Figure(data)
    fig.update_layout(height=300, margin=dict(l=60, r=60, t=TOP_MARGIN, b=40), title=_title(title),
                      hovermode="x unified",
                      xaxis=dict(title=dict(text="step")), yaxis=dict(title=dict(text="unit value")),
                      yaxis2=dict(title=dict(text=latent_name), **{**RIGHT_AXIS, **_level_ticks(latent)}),
                      legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"))
    return fig


def loss_curve(losses, metrics=(), *, metric_name, baseline=None, target=None, log_metric=False, title=None):
    """Training loss per step (left axis, log) and the eval metric (right axis) as training goes.

    losses: (step, loss) pairs; metrics: (step, metric) pairs. baseline: the metric of the
    task's trivial predictor; target: the shipped model's metric. Each is a dotted line
    on the metric's axis, named in the legend. log_metric: a log axis for the metric, for
    an error that falls by decades (the recall MSE goes from 0.34 to 0.0002).
    """
    data = []
    if len(losses):
        s, v = np.asarray(losses, dtype=float).T
        data.append(go.Scatter(x=s, y=v, mode="lines", name="training loss", line=dict(color="#7f7f7f", width=1),
                               hovertemplate="step %{x}<br>loss %{y:.4g}<extra></extra>"))
    if len(metrics):
        s, v = np.asarray(metrics, dtype=float).T
        data.append(go.Scatter(x=s, y=v, mode="lines+markers", name=metric_name, yaxis="y2",
                               line=dict(color="#d62728", width=2),
                               hovertemplate=f"step %{{x}}<br>{metric_name} %{{y:.4g}}<extra></extra>"))
    last = max([p[0] for p in losses] + [p[0] for p in metrics] + [1])
    for value, name, dash in ((baseline, "baseline", "dot"), (target, "shipped model", "dash")):
        if value is not None:
            data.append(go.Scatter(x=[0, last], y=[value, value], mode="lines", name=f"{name}: {value:.4g}",
                                   yaxis="y2", line=dict(color=LATENT_COLOR, width=1.5, dash=dash),
                                   hoverinfo="skip"))
    fig = go.Figure(data)
    fig.update_layout(height=340, margin=dict(l=60, r=60, t=TOP_MARGIN, b=40), title=_title(title),
                      xaxis=dict(title=dict(text="training step")),
                      # D2: labels at 1, 2 and 5 of each decade; the default labels every digit when
                      # the range is short, a picket fence of numbers on a projector
                      yaxis=dict(title=dict(text="training loss"), type="log", dtick="D2"),
                      yaxis2=dict(title=dict(text=metric_name), **{**RIGHT_AXIS, **(
                          dict(type="log", dtick="D2") if log_metric else dict(type="linear"))}),
                      legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"))
    return fig
