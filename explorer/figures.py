"""Line and scatter figures: unit traces, saturation, cell-update breakdown.

Pure functions from arrays to go.Figure (no streamlit). All are SVG traces
(go.Scatter), not WebGL: a page holds several figures and browsers allow only
about 8 WebGL contexts at once (issue 4). Long sequences are reduced by
downsample.minmax_line, which keeps every extreme.
"""
import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from . import downsample
from .heatmaps import FIELD_NAMES

UNIT_COLORS = qualitative.Plotly  # colour of unit k: UNIT_COLORS[k % 10], the same in every figure
LAYER_COLORS = qualitative.D3
LEFT, RIGHT = 0.1, 0.9  # saturation thresholds of Karpathy, Johnson & Fei-Fei 2015, Section 4.2
SVG_POINTS = 2000  # above this many points a scatter is WebGL (one context for the whole figure)


def unit_color(unit):
    return UNIT_COLORS[unit % len(UNIT_COLORS)]


def unit_traces(fields, units, *, start=0, columns=1200, marker_step=None, height_per_row=110):
    """Line plots of chosen units: one row per field, one colour per unit.

    fields: {name: (S, U) array} for the chosen units, NaN on padding
    units: (U,) the unit numbers, for legends and colours
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
        rng = dict(range=[-0.05, 1.05]) if name in ("i", "f", "o") else {}
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


def saturation_fractions(gate, mask):
    """Per unit, the fraction of valid steps with gate < 0.1 and with gate > 0.9.

    gate: (T, B, H); mask: (T, B) bool, False on padding. Returns (left (H,), right (H,)).
    """
    valid = mask[:, :, None]  # (T, B, 1)
    n = max(1, int(mask.sum()))
    left = ((gate < LEFT) & valid).sum(axis=(0, 1)) / n
    right = ((gate > RIGHT) & valid).sum(axis=(0, 1)) / n
    return left, right


def saturation(groups, selected=(), gates=("i", "f", "o")):
    """The saturation plot of Karpathy, Johnson & Fei-Fei 2015 (Fig. 3): one panel per gate.

    groups: list of dicts, one per layer and direction, with
        "layer", "direction": ints; "left", "right": {gate: (H,) fractions}
    selected: (layer, direction, unit) triples to ring
    Each point's customdata is [layer, direction, unit], what a selection returns.
    """
    n = len(gates)
    data, layout = [], {}
    chosen = set(map(tuple, selected))
    points = n * sum(len(g["left"][gates[0]]) for g in groups)
    Scatter = go.Scattergl if points > SVG_POINTS else go.Scatter
    for j, k in enumerate(gates):
        ax = "" if j == 0 else str(j + 1)
        for grp in groups:
            L, D = grp["layer"], grp["direction"]
            left, right = np.asarray(grp["left"][k]), np.asarray(grp["right"][k])
            H = left.shape[0]
            custom = [[L, D, u] for u in range(H)]  # a list: a typed array reaches selections as a dict
            ring = [(L, D, u) in chosen for u in range(H)]
            label = f"layer {L}" + (" reverse" if D else "")
            data.append(Scatter(
                x=left, y=right, mode="markers", name=label, legendgroup=label, showlegend=j == 0,
                customdata=custom, xaxis="x" + ax, yaxis="y" + ax,
                marker=dict(size=9, color=LAYER_COLORS[L % len(LAYER_COLORS)], opacity=0.8,
                            symbol="diamond" if D else "circle",
                            line=dict(width=[3 if s else 0 for s in ring], color="#ff9f1c")),  # reads on both themes
                hovertemplate=(f"{label}, unit %{{customdata[2]}}<br>{k} < {LEFT}: %{{x:.0%}} of steps"
                               f"<br>{k} > {RIGHT}: %{{y:.0%}} of steps<extra></extra>")))
        dom = [j / n + 0.04, (j + 1) / n - 0.04]
        layout["xaxis" + ax] = dict(domain=dom, range=[-0.04, 1.04], anchor="y" + ax, tickformat=".0%",
                                    title=dict(text=f"{k}: fraction < {LEFT}"))
        layout["yaxis" + ax] = dict(range=[-0.04, 1.04], anchor="x" + ax, tickformat=".0%",
                                    title=dict(text=f"{k}: fraction > {RIGHT}", standoff=2))
    shapes = [dict(type="line", xref="x" + ("" if j == 0 else str(j + 1)), yref="y" + ("" if j == 0 else str(j + 1)),
                   x0=0, y0=1, x1=1, y1=0, line=dict(color="rgba(128,128,128,0.5)", dash="dash"))
              for j in range(n)]
    titles = [dict(text=FIELD_NAMES[k], xref="paper", yref="paper", x=(j + 0.5) / n, y=1.0, xanchor="center",
                   yanchor="bottom", showarrow=False, font=dict(size=14)) for j, k in enumerate(gates)]
    layout.update(height=380, margin=dict(l=60, r=20, t=40, b=50), shapes=shapes, annotations=titles,
                  legend=dict(orientation="h", x=0, y=-0.25), dragmode="select", clickmode="event+select")
    return go.Figure(data=data, layout=layout)


def units_from_selection(selection):
    """{(layer, direction): sorted units} from a plotly_chart selection of the saturation figure.

    A point's customdata is [layer, direction, unit]; points without it (or malformed) are skipped.
    """
    chosen = {}
    for p in (selection or {}).get("points", []):
        cd = p.get("customdata")
        if isinstance(cd, dict):  # a typed array's row arrives as {"0": ..., "1": ..., "2": ...}
            cd = [cd[k] for k in sorted(cd, key=lambda k: int(k))]
        try:
            layer, direction, unit = (int(v) for v in cd[:3])
        except (TypeError, ValueError):
            continue
        chosen.setdefault((layer, direction), set()).add(unit)
    return {k: sorted(v) for k, v in chosen.items()}


def cell_update(c, kept, written, unit, *, start=0, columns=1200):
    """c_t of one unit, split into what was kept (f_t c_{t-1}) and what was written (i_t g_t).

    c, kept, written: (S,) with NaN on padding; c = kept + written at every step.
    """
    S = c.shape[0]
    plan = downsample.plan(S, columns)
    data = []
    for name, y, style in (("written  i·g", written, dict(color="#e4572e", width=1.2)),
                           ("kept  f·c(t-1)", kept, dict(color="#4c72b0", width=1.5)),
                           ("c  = kept + written", c, dict(color="#9b59b6", width=3))):
        steps, v = downsample.minmax_line(np.asarray(y), plan)
        fill = "tozeroy" if name.startswith("written") else None
        data.append(go.Scatter(x=steps + start, y=v, mode="lines", name=name, line=style, fill=fill,
                               hovertemplate=f"step %{{x}}<br>{name.split()[0]} = %{{y:.4f}}<extra></extra>"))
    layout = dict(height=320, margin=dict(l=60, r=20, t=40, b=40), hovermode="x unified",
                  title=dict(text=f"unit {unit}: c<sub>t</sub> = f<sub>t</sub>·c<sub>t-1</sub> + "
                                  f"i<sub>t</sub>·g<sub>t</sub>", font=dict(size=14)),
                  xaxis=dict(title=dict(text="step")), legend=dict(orientation="h", x=0, y=-0.2),
                  meta=dict(bucket=plan.bucket, note=plan.note()))
    return go.Figure(data=data, layout=layout)
