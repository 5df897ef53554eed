"""The Compare page's figures: models side by side on one input, and one model's gate minus another's (issue 13).

Pure functions from arrays to go.Figure (no streamlit here):
    compare_grid(columns, panels, ...)   a column per model, its panels stacked, one step and unit marked
    difference(d, a, b, ...)             a field of one model minus that of another's aligned units

One x/y axis pair per model, its panels (i, f, o, c...) stacked on that one y axis, a gap
between them: panel r's unit u is drawn at y = r * (H + GAP) + u. A panel is a row of the
grid: columns of different cells (an LSTM beside a GRU) draw their own field in it (f beside
z), its letter left of the column, or say in it that their cell has none. (Labels in the gap
above each panel ran into the panel at a slide's 20 px: the gap is 0.8 of a unit's row.) Measured in headless
Chromium (Plotly.react of three recall models, four panels, on the shared 2-core machine):
a subplot per (model, panel), 12 axis pairs, took about 2x as long to draw as one axis
pair per model; and Plotly's per-subplot helpers (make_subplots, add_shape, update_yaxes)
took 0.5 s of Python for 12 subplots, so the layout is built here as one dict.

A click on a cell picks it: Streamlit's plotly chart reports selections, and a heatmap has
no selectable points, so an invisible marker sits on every cell (its customdata is
[column, step, unit]); they also carry the hover text, with the value. Each costs the
browser some time to draw, so at most PICK_POINTS of them a figure, on the first panels
(all of them for the shipped models). dragmode stays "zoom": with "select" or "lasso",
Streamlit sets clickmode to "event" and a click selects nothing (streamlit 1.67's PlotlyChart).

Shapes: H units, T steps; one sequence at a time.
"""
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from .style import DIVERGING, GATES01, MARK, SEQUENTIAL

PICK_POINTS = 12_000  # invisible click targets in a whole figure (3 recall models x 4 panels: 1,920)
GAP = 0.8  # rows of empty space between two panels of a column, in units
MARGIN_LEFT = 72  # px: the panel letters, then the unit numbers


@dataclass(frozen=True)
class Panel:
    """What one column draws in one row of the grid (compare_grid's columns)."""

    name: str  # the field: "z"
    range: tuple | None = None  # its declared range: (0, 1) draws a gate's scale; None: the name decides
    label: str = ""  # written in the panel where the column draws none: "— (the GRU has no i)"


def rows_of(panel, unit, H):
    """The y of `unit` in panel number `panel` of a column whose panels hold H units each."""
    return panel * (H + GAP) + unit


def _pick_marker(T):
    """The invisible click targets: as wide as a step (the hover radius), and maxdisplayed=1, so
    Plotly draws one of them yet hovers and selects them all (it looks points up in its data, not
    in the page): measured in headless Chromium, styling 1,920 invisible SVG markers was 38% of
    Plotly.react's time for three recall models."""
    return dict(size=max(4, min(30, 600 // max(T, 1))), opacity=0.0, color="black", maxdisplayed=1)


def _scale(name, z, unit=None, span=None):
    """(zmin, zmax, colorscale, followed): gates on 0..1, the others symmetric around 0, up to the
    largest |z|; of the marked `unit` only (followed), where some unit's runs past 1 (issue 21: unit 3
    of the recall model drifts to 22, and the marked unit 0, within ±0.36, was white).
    span: the field's declared range (lstm_core.cells.Field.range); without it, the name decides."""
    if (span == (0.0, 1.0)) if span is not None else name in GATES01:
        return 0.0, 1.0, SEQUENTIAL, False
    m = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    own = float(np.nanmax(np.abs(z[unit]))) if unit is not None and np.isfinite(z[unit]).any() else 0.0
    if m > 1 and own > 0:
        return -own, own, DIVERGING, True
    return -(m or 1.0), (m or 1.0), DIVERGING, False


def compare_grid(columns, panels, *, step=None, unit=None, start=0, pick=True):
    """Two to four models side by side: a column per model, its panels stacked (the panel's
    letter on the left), units (rows, 0 on top of each panel) by steps.

    columns: [(title, {panel: (H, T) array}, marked unit or None[, {panel: Panel}])]; panels: the
    rows, top to bottom. A column without a panel's array leaves it empty, with the Panel's label
    in it; a Panel names the field a column draws (its letter, on the left of the first column
    and of any column whose letter differs from the first's) and its declared range. step, unit: marked in every column (a vertical line, a
    frame in each panel): the linked highlight; `unit` overrides each column's own. With pick,
    invisible markers on the cells (up to PICK_POINTS) make a click select a (step, unit):
    customdata [column, step, unit, value].
    """
    n, P = len(columns), len(panels)
    sizes = [np.shape(col[1][name]) for col in columns for name in panels if name in col[1]]  # (H, T) each
    H, T_all = max(x[0] for x in sizes), max(x[1] for x in sizes)  # every column's stride, the steps
    space = 0.03 if n > 2 else 0.05
    width = (1 - space * (n - 1)) / n
    top = rows_of(P - 1, H, H) - 0.5  # the bottom edge of the last panel (the axis is reversed)
    budget = PICK_POINTS if pick else 0
    data, shapes, annotations, layout = [], [], [], {}
    # the letter the first column writes for each row (None where it draws nothing there)
    firsts = [((columns[0][3] if len(columns[0]) > 3 else {}).get(name) or Panel(name)).name
              if name in columns[0][1] else None for name in panels]
    for j, (title, fields, own, *extra) in enumerate(columns):
        about = extra[0] if extra else {}
        ax = "" if j == 0 else str(j + 1)
        xref, yref = "x" + ax, "y" + ax
        x0 = j * (width + space)
        marked = unit if unit is not None else own
        hx, hy, hc, ht = [], [], [], []  # the pick markers of this column: x, y, customdata, panel letter
        scales = []  # the signed panels' colour scales, written under the column
        for r, name in enumerate(panels):
            p = about.get(name) or Panel(name)
            middle = rows_of(r, (H - 1) / 2, H)
            if name not in fields:  # this column's cell has no field in the row: say so in it
                if p.label:
                    annotations.append(dict(text=p.label, xref="paper", yref=yref, x=x0 + width / 2, y=middle,
                                            showarrow=False, font=dict(size=12, color="gray")))
                continue
            if j == 0:
                # at the left edge of the margin, clear of the unit numbers whatever their size (for_room)
                annotations.append(dict(text=f"<b>{p.name}</b>", xref="paper", yref=yref, x=0, xanchor="left",
                                        xshift=-MARGIN_LEFT + 2, y=middle, showarrow=False, font=dict(size=16)))
            elif p.name != firsts[r]:  # another cell's field in this row (z beside f): its letter, in the gap
                annotations.append(dict(text=f"<b>{p.name}</b>", xref="paper", yref=yref, x=x0, xanchor="right",
                                        xshift=-16, y=middle, showarrow=False, font=dict(size=16)))  # off its axis line
            z = np.asarray(fields[name], dtype=np.float32)  # (H, T)
            h, T = z.shape
            steps = np.arange(start, start + T)
            lo, hi, scale, followed = _scale(p.name, z, marked if marked is not None and marked < h else None,
                                             p.range)
            if scale == DIVERGING:
                scales.append(f"{p.name} ±{hi:.2g}" + (f", unit {marked}'s range" if followed else ""))
            picks = budget >= h * T
            data.append(dict(type="heatmap", z=z, x0=start, dx=1, y0=rows_of(r, 0, H), dy=1, zmin=lo, zmax=hi,
                             colorscale=scale, showscale=False, xaxis=xref, yaxis=yref, name=f"{title} {p.name}",
                             hoverongaps=False,
                             **({"hoverinfo": "skip"} if picks else
                                {"hovertemplate": f"step %{{x}}<br>{p.name} = %{{z:.3f}}<extra>{p.name}</extra>"})))
            if picks:
                budget -= h * T
                tt, uu = np.meshgrid(steps, np.arange(h))  # (h, T) each
                hx.append(tt.ravel())
                hy.append(rows_of(r, uu.ravel(), H).astype(np.float32))
                hc.append(np.stack([np.full(tt.size, j), tt.ravel(), uu.ravel(), z.ravel()], 1).astype(np.float32))
                ht.append(np.full(tt.size, p.name))
            if marked is not None and marked < h:
                shapes.append(dict(type="rect", xref=xref, yref=yref, x0=start - 0.5, x1=start + T - 0.5,
                                   y0=rows_of(r, marked, H) - 0.5, y1=rows_of(r, marked, H) + 0.5,
                                   line=dict(color=MARK, width=3)))
        if hx:
            T0 = max(np.shape(fields[name])[1] for name in panels if name in fields)
            data.append(dict(type="scatter", x=np.concatenate(hx), y=np.concatenate(hy), mode="markers",
                             customdata=np.concatenate(hc), text=np.concatenate(ht), name="pick",
                             showlegend=False, xaxis=xref, yaxis=yref, marker=_pick_marker(T0),
                             hovertemplate=f"{title}<br>step %{{customdata[1]}}, unit %{{customdata[2]}}"
                                           f"<br>%{{text}} = %{{customdata[3]:.3f}}<extra></extra>"))
        if step is not None:
            shapes.append(dict(type="line", xref=xref, yref=yref, x0=step, x1=step, y0=-0.5, y1=top,
                               line=dict(color=MARK, width=3, dash="dot")))
        annotations.append(dict(text=f"<b>{title}</b>", xref="paper", yref="paper", x=x0 + width / 2, y=1.0,
                                xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=16)))
        if scales:  # which scale is in use: a marked unit's own range differs from column to column
            annotations.append(dict(text="colour scales: " + "; ".join(scales),
                                    xref="paper", yref="paper", x=x0 + width, y=0, xanchor="right", yanchor="top",
                                    yshift=-50, showarrow=False, font=dict(size=11, color="gray")))
        ticks = [rows_of(r, u, H) for r in range(P) for u in range(H)]
        layout["xaxis" + ax] = dict(domain=[x0, x0 + width], anchor=yref, title=dict(text="step t", standoff=6),
                                    range=[start - 0.5, start + T_all - 0.5],
                                    showgrid=False, zeroline=False, **({} if j == 0 else {"matches": "x"}))
        layout["yaxis" + ax] = dict(anchor=xref, range=[top, -0.5], showgrid=False, zeroline=False,
                                    tickmode="array", tickvals=ticks if H <= 16 else [],
                                    ticktext=[str(u) for _ in range(P) for u in range(H)] if H <= 16 else [],
                                    showticklabels=j == 0 and H <= 16, **({} if j == 0 else {"matches": "y"}))
    layout.update(shapes=shapes, annotations=annotations, height=150 + (150 if H <= 16 else 200) * P,
                  margin=dict(t=50, b=84, l=MARGIN_LEFT, r=20, autoexpand=False), clickmode="event+select",
                  dragmode="zoom", showlegend=False, hovermode="closest")
    return go.Figure(data=data, layout=layout)


def difference(d, a, b, *, field="f", field_b=None, pairs=None, start=0, step=None, unit=None, pick=True):
    """(H, T) `field` of model a minus `field_b` (default: the same; z of a GRU beside f of an LSTM)
    of model b's aligned units, on a scale centred at 0.

    pairs[k]: b's unit aligned to a's unit k (the row labels say which). step, unit (of a):
    marked, as in compare_grid. With pick, an invisible marker on every cell (up to PICK_POINTS):
    customdata [0, step, unit of a, value], so a click picks that step and unit of a.
    """
    H, T = d.shape
    field_b = field_b or field
    delta = f"Δ{field}" if field_b == field else f"{field} − {field_b}"
    m = float(np.nanmax(np.abs(d))) if np.isfinite(d).any() else 1.0
    steps = np.arange(start, start + T)
    labels = [f"{k} − {pairs[k]}" if pairs is not None else str(k) for k in range(H)]
    picks = pick and H * T <= PICK_POINTS
    hover = f"step %{{x}}<br>units %{{y}}<br>{delta} = %{{z:.3f}}<extra></extra>"
    data = [dict(type="heatmap", z=d, x0=start, dx=1, y0=0, dy=1, zmid=0, zmin=-(m or 1), zmax=m or 1,
                 colorscale=DIVERGING, colorbar=dict(title=dict(text=delta)), hoverongaps=False,
                 **({"hoverinfo": "skip"} if picks else {"hovertemplate": hover}))]
    if picks:
        tt, uu = np.meshgrid(steps, np.arange(H))
        data.append(dict(type="scatter", x=tt.ravel(), y=uu.ravel(), mode="markers", name="pick", showlegend=False,
                         customdata=np.stack([np.zeros(tt.size), tt.ravel(), uu.ravel(), d.ravel()], 1).astype(np.float32),
                         text=np.array(labels)[uu.ravel()], marker=_pick_marker(T),
                         hovertemplate=f"step %{{customdata[1]}}<br>units %{{text}}<br>{delta} = "
                                       f"%{{customdata[3]:.3f}}<extra></extra>"))
    shapes = []
    if step is not None:
        shapes.append(dict(type="line", x0=step, x1=step, y0=-0.5, y1=H - 0.5, line=dict(color=MARK, width=3,
                                                                                             dash="dot")))
    if unit is not None and 0 <= unit < H:
        shapes.append(dict(type="rect", x0=start - 0.5, x1=start + T - 0.5, y0=unit - 0.5, y1=unit + 0.5,
                           line=dict(color=MARK, width=3)))
    layout = dict(title=dict(text=f"{field} of {a} minus {field_b} of {b}: red where {a}'s {field} is larger",
                             subtitle=dict(text=f"rows: a unit of {a} − the unit of {b} aligned to it")),
                  height=170 + 22 * max(H, 4), margin=dict(t=70, b=60, l=90, r=90, autoexpand=False), shapes=shapes,
                  xaxis=dict(title=dict(text="step t"), range=[start - 0.5, start + T - 0.5], showgrid=False),
                  yaxis=dict(title=dict(text="units"), range=[H - 0.5, -0.5],
                             tickmode="array", tickvals=list(range(H)) if H <= 32 else [],
                             ticktext=labels if H <= 32 else [], showgrid=False, zeroline=False),
                  clickmode="event+select", dragmode="zoom", hovermode="closest")
    return go.Figure(data=data, layout=layout)
