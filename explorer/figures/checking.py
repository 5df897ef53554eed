"""Figures of the "Check your implementation" page: pure functions from arrays to go.Figure.

The student's and the reference's values use `heatmaps.gate_heatmaps` as they are; the
difference gets one signed scale per field (white = equal), since a gate's difference is
not on 0..1.
"""
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import DIVERGING, FIELD_NAMES, MARK, unit_ticks


def difference_heatmaps(diffs, *, panel_height=130):
    """diffs: {field: (U, T)} student - reference -> one panel per field, a symmetric scale each."""
    names = list(diffs)
    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.03,
                        subplot_titles=[f"{FIELD_NAMES[k]}: yours - ours" for k in names])
    for r, k in enumerate(names, start=1):
        z = np.asarray(diffs[k], np.float64)
        finite = np.abs(z[np.isfinite(z)])
        bound = max(float(finite.max()) if finite.size else 0.0, 1e-9)
        U, T = z.shape
        fig.add_trace(go.Heatmap(z=z, x=np.arange(T), y=np.arange(U), zmin=-bound, zmax=bound,
                                 colorscale=DIVERGING, showscale=False,
                                 hovertemplate="step %{x}, unit %{y}: %{z:.3g}<extra>" + k + "</extra>"), r, 1)
        fig.update_yaxes(autorange="reversed", title_text="unit", row=r, col=1, **unit_ticks(U))
    fig.update_xaxes(title_text="step t", row=len(names), col=1)
    fig.update_layout(height=panel_height * len(names) + 80, margin=dict(l=50, r=10, t=40, b=40))
    return fig


def mark_step(fig, t):
    """A copy of fig with a dashed vertical line at step t in every panel (every x axis of it).

    No label on the figure: in the page's three narrow columns "first difference" sat on the
    cells and the panel titles (issue 21); the page says what the line marks."""
    fig = go.Figure(fig.to_dict())  # go.Figure(fig) rewrites the source's traces while copying
    layout = fig.layout.to_plotly_json()
    axes = [k for k in layout if k.startswith("xaxis")]  # each with the y axis it is anchored to
    lines = [dict(type="line", xref="x" + k[5:], yref=f"{layout[k].get('anchor', 'y' + k[5:])} domain", x0=t, x1=t,
                  y0=0, y1=1, line=dict(color=MARK, width=2, dash="dash"), layer="above") for k in axes]
    fig.update_layout(shapes=[*fig.layout.shapes, *lines])
    return fig
