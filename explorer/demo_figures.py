"""Figures of the demo tasks: text coloured by a unit, the unit finder, and training curves.

Pure functions from arrays (or `lstm_core.units.UnitScore`s) to go.Figure: no streamlit,
so they are tested as plain functions. SVG traces only, as in explorer/figures.py (a
page holds several figures; browsers allow few WebGL contexts).
"""
import html

import numpy as np
import plotly.graph_objects as go

NEWLINE = "↵"  # how a newline shows in the text view, at the end of its line
POSITIVE, NEGATIVE = "#d62728", "#1f77b4"  # r > 0 and r < 0 in the ranking, as RdBu_r's ends
LATENT_COLOR = "rgba(90,90,90,0.9)"


def text_layout(text, width=80):
    """Where each character of text goes: (rows, cols) int arrays and the shown characters.

    A newline ends its row and shows as NEWLINE; a row longer than width wraps.
    """
    rows, cols, shown = [], [], []
    r = c = 0
    for ch in text:
        if c == width:
            r, c = r + 1, 0
        rows.append(r)
        cols.append(c)
        shown.append(NEWLINE if ch == "\n" else ch)
        if ch == "\n":
            r, c = r + 1, 0
        else:
            c += 1
    return np.array(rows, dtype=int), np.array(cols, dtype=int), shown


def text_view(text, values, *, label="value", width=80, zmin=None, zmax=None, title=None):
    """The characters of text on a grid, each cell coloured by values[t]; hover: step, character, value.

    text: T characters (the input of each step); values: (T,) a unit's c, h or gate,
    NaN for none. Without zmin/zmax the scale is symmetric around 0 (RdBu_r, red > 0),
    as a unit's c or h; give zmin=0, zmax=1 for a gate.
    """
    values = np.asarray(values, dtype=float)
    if values.shape != (len(text),):
        raise ValueError(f"values: expected shape ({len(text)},), one per character of text, "
                         f"got {values.shape}")
    rows, cols, shown = text_layout(text, width)
    # ints, not numpy's: Streamlit takes a layout height only when it is an int or float (else 450 px)
    R, C = (int(rows.max()) + 1 if len(text) else 1), max(1, min(width, int(cols.max()) + 1 if len(text) else 1))
    z = np.full((R, C), np.nan)
    chars = np.full((R, C), "", dtype=object)
    steps = np.full((R, C), -1)
    # Plotly reads text as its HTML subset: "a<b>c" in the source would turn bold, "&lt;" into "<".
    # Escaped, every character shows as itself in the cell and the hover.
    escaped = [html.escape(ch, quote=False) for ch in shown]
    z[rows, cols], chars[rows, cols], steps[rows, cols] = values, escaped, np.arange(len(text))
    if zmin is None or zmax is None:
        m = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
        zmin, zmax = -(m or 1.0), (m or 1.0)
    heat = go.Heatmap(z=z, text=chars, customdata=steps, texttemplate="%{text}", zmin=zmin, zmax=zmax,
                      colorscale="RdBu_r", xgap=1, ygap=1, textfont=dict(family="monospace", size=13),
                      colorbar=dict(title=dict(text=label), thickness=12),
                      hovertemplate=f"step %{{customdata}}<br>'%{{text}}'<br>{label} = %{{z:.3f}}<extra></extra>")
    fig = go.Figure(heat)
    fig.update_layout(height=60 + 22 * R, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      title=title, plot_bgcolor="white")
    fig.update_xaxes(visible=False, range=[-0.5, C - 0.5])
    fig.update_yaxes(visible=False, autorange="reversed")
    return fig


def unit_ranking(scores, *, latent, title=None):
    """Horizontal bars of r, best first at the top: the unit finder's ranking.

    scores: `lstm_core.units.UnitScore`s (anything with .field, .unit, .r, .n), best first.
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
                      yaxis2=dict(title=dict(text=latent_name), overlaying="y", side="right", showgrid=False),
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
                      yaxis2=dict(title=dict(text=metric_name), overlaying="y", side="right", showgrid=False,
                                  **(dict(type="log", dtick="D2") if log_metric else dict(type="linear"))),
                      legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"))
    return fig


TOP_MARGIN = 75  # px above a plot with a legend on top: the title above the legend, not behind it


def _title(text):
    """A title at the top of the figure, clear of a legend along the top of the plot area."""
    return dict(text=text, y=1, yref="container", yanchor="top", pad=dict(t=8)) if text else None


MARK_COLOR = "#ff9f1c"  # the saturation plot's ring for chosen units: reads on both themes


FRAME_MAX_UNITS = 16  # up to this many rows a frame around the unit's row; more, and a row is a few
                     # pixels that a frame would cover, so a tick outside the right edge points at it instead


def mark_unit(fig, unit, label=None, units=None):
    """A copy of a gate heatmap figure (explorer.heatmaps.gate_heatmaps) with one unit's row
    marked in every panel, and `label` beside it in the first: the unit a caption names.

    units: H, the rows of a panel. Up to FRAME_MAX_UNITS (or None) the row is framed;
    with more, a tick just outside each panel's right edge points at it, leaving the row's
    colours visible.
    """
    out = go.Figure(fig)
    x0, x1 = out.layout.xaxis.range
    panels = sorted(int(k[5:]) for k in out.layout.to_plotly_json() if k.startswith("yaxis") and k[5:].isdigit())
    frame = units is None or units <= FRAME_MAX_UNITS
    for n in panels:  # yaxis2.. are the panels; yaxis is the input row
        if frame:
            out.add_shape(type="rect", xref=f"x{n}", yref=f"y{n}", x0=x0, x1=x1, y0=unit - 0.5, y1=unit + 0.5,
                          line=dict(color=MARK_COLOR, width=2.5), fillcolor="rgba(0,0,0,0)", layer="above")
        else:
            out.add_shape(type="line", xref=f"x{n} domain", yref=f"y{n}", x0=1.002, x1=1.016, y0=unit, y1=unit,
                          line=dict(color=MARK_COLOR, width=4), layer="above")
    if label and panels:
        out.add_annotation(text=label, xref=f"x{panels[0]}", yref=f"y{panels[0]}", x=x1, y=unit, xanchor="right",
                           yanchor="middle", showarrow=False, font=dict(size=12, color="black"),
                           bgcolor=MARK_COLOR, borderpad=2)
    return out
