"""Figures of the demo tasks: text coloured by a unit, the unit finder, and training curves.

Pure functions from arrays (or `lstm_core.analysis.units.UnitScore`s) to go.Figure: no streamlit,
so they are tested as plain functions. SVG traces only, as in explorer/figures.py (a
page holds several figures; browsers allow few WebGL contexts).
"""
import html

import numpy as np
import plotly.graph_objects as go

NEWLINE = "↵"  # how a newline shows in the text view, at the end of its line
BAR_PX, BAR_ROOM = 260, 45  # the colour bar's length, and the room above the text it takes


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
                      # a horizontal bar above the text, three ticks: beside a one-line text the vertical bar
                      # was squashed to the line's height and its ticks overlapped (issue 10, item 9)
                      colorbar=dict(title=dict(text=label, side="right"), orientation="h", thickness=10,
                                    lenmode="pixels", len=BAR_PX, x=1.0, xanchor="right", y=1.0, yanchor="bottom",
                                    tickvals=[zmin, (zmin + zmax) / 2, zmax],
                                    tickformat=".2~f", tickfont=dict(size=11)),
                      hovertemplate=f"step %{{customdata}}<br>'%{{text}}'<br>{label} = %{{z:.3f}}<extra></extra>")
    fig = go.Figure(heat)
    fig.update_layout(height=60 + BAR_ROOM + 22 * R, margin=dict(l=10, r=10, t=(40 if title else 10) + BAR_ROOM, b=10),
                      title=title, plot_bgcolor="white")
    fig.update_xaxes(visible=False, range=[-0.5, C - 0.5])
    fig.update_yaxes(visible=False, autorange="reversed")
    return fig













                     # pixels that a frame would cover, so a tick outside the right edge points at it instead


