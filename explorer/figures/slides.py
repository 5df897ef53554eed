"""The figures of lesson slides and their look in front of a room (issue 13); the Compare page's are in compare.py.

Pure functions from arrays to go.Figure (no streamlit here):
    unit_story(gates, c, latent, ...)        one unit's i, f, o and c over time, beside a latent
    memory(survival, flow, unit, ...)        ∏ f from a step on, per unit; ‖∂c_T/∂c_t‖ by steps back
    what_if(c, c_clamped, y, y_clamped, ...) a unit's c and the answer with and without a clamp
    for_room(fig, width, height)             large fonts, thick lines, sized for a 1280x720 or 1920x1080 slide
    marks_inside(fig)                        a unit's marks on a gate heatmap inside its panel
    export_config(width, height, fmt)        plotly's own toolbar export (client-side) at slide resolution

Shapes: T steps, H units; one sequence at a time.
"""
import re

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .lines import _level_ticks  # ticks at a latent's whole levels (issue 10, item 9)
from .style import GATE_COLORS, LATENT_COLOR, MARK, unit_color

SIZES = {"1280x720": (1280, 720), "1920x1080": (1920, 1080)}  # slide resolutions
BAND = "rgba(228,87,46,0.10)"  # the steps a what-if clamps: the clamped line's colour, faint


def _steps(T, start=0):
    return np.arange(start, start + T)


def _whole_ticks(values, most=12):
    """Ticks at every whole level from the least to the greatest of `values` (a bracket depth, a
    0/1 flag, a class), where they are whole and at most `most` levels; {} otherwise."""
    finite = np.asarray(values, dtype=float)[np.isfinite(values)]
    if not finite.size or not np.all(finite == np.round(finite)) or np.ptp(finite) >= most:
        return {}
    return _level_ticks(np.arange(finite.min(), finite.max() + 1))


def unit_story(gates, c, latent=None, *, unit, latent_name="", step=None, start=0, title=None,
               memory=("c", "cell state")):
    """One unit's gates and memory over time, the latent it tracks on a second axis.

    gates: {name: (T,)} (i, f, o of an LSTM; r, z of a GRU); c: (T,) the memory, whose (name, title)
    is `memory` (h of a GRU); latent: (T,) or None, NaN where undefined.
    """
    name, what = memory
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.16, row_heights=[0.5, 0.5],
                        specs=[[{}], [{"secondary_y": True}]],
                        subplot_titles=(f"gates of unit {unit} (0 closed, 1 open)", f"{what} {name} of unit {unit}"))
    t = _steps(len(c), start)
    for n, (k, y) in enumerate(gates.items()):
        color = GATE_COLORS.get(k, unit_color(n + 5))  # a GRU's r, z: colours of their own
        fig.add_trace(go.Scatter(x=t, y=y, name=k, mode="lines", line=dict(color=color, width=2.5),
                                 hovertemplate=f"step %{{x}}<br>{k} = %{{y:.3f}}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=t, y=c, name=f"{name}[{unit}]", mode="lines",
                             line=dict(color=GATE_COLORS["c"], width=3),  # the memory's colour, c's or h's
                             hovertemplate=f"step %{{x}}<br>{name} = %{{y:.3f}}<extra></extra>"), row=2, col=1)
    if latent is not None:
        fig.add_trace(go.Scatter(x=t, y=latent, name=latent_name or "latent", mode="lines",
                                 line=dict(color=LATENT_COLOR, width=2, dash="dot"),
                                 hovertemplate=f"step %{{x}}<br>{latent_name} = %{{y:.3g}}<extra></extra>"),
                      row=2, col=1, secondary_y=True)
        # a count or a flag (the bracket depth, holding): ticks at its levels, not at 0.99, 3.06, 5.13
        fig.update_yaxes(title_text=latent_name, row=2, col=1, secondary_y=True, showgrid=False,
                         **{"tickmode": "auto", **_whole_ticks(latent)})  # not synced to the left grid (issue 21)
    fig.update_yaxes(range=[-0.03, 1.03], row=1, col=1)
    fig.update_xaxes(title_text="step t", row=2, col=1)
    _mark_step(fig, step)
    fig.update_layout(title=title, height=480, margin=dict(t=40, b=40, l=50, r=50),
                      legend=dict(orientation="v", y=0.5, x=1.08, yanchor="middle"))
    return fig


def memory(survival, flow=None, *, unit, t0=0, title=None):
    """What survives of c_t0 at each later step, ∏ f (one line per unit, `unit` thick), and, with
    `flow` (lstm_core.analysis.diagnostics.gradient_flow's table), ‖∂c_T/∂c_t‖ against steps back.

    survival: (T, H) for one sequence, NaN before t0 (lstm_core.analysis.diagnostics.survival).
    """
    cols = 2 if flow is not None else 1
    fig = make_subplots(rows=1, cols=cols, horizontal_spacing=0.1,
                        subplot_titles=(f"what is left of c at step {t0}: ∏ f", "‖∂c_T/∂c_t‖: the gradient "
                                                                                 "through the cell")[:cols])
    T, H = survival.shape
    t = np.arange(T)
    for k in sorted(range(H), key=lambda k: k == unit):  # the slide's unit drawn last, on top
        thick = k == unit
        fig.add_trace(go.Scatter(x=t, y=survival[:, k], name=f"unit {k}", mode="lines",
                                 line=dict(color=MARK if thick else unit_color(k), width=5 if thick else 1.5),
                                 opacity=1.0 if thick else 0.6,
                                 hovertemplate=f"unit {k}<br>step %{{x}}<br>∏ f = %{{y:.3f}}<extra></extra>"),
                      row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], title_text="fraction kept", row=1, col=1)
    fig.update_xaxes(title_text="step t", row=1, col=1)
    if flow is not None:
        g = flow[(flow.quantity == "dc_T/dc_t") & (flow.layer == 0) & (flow.direction == 0)].sort_values("steps_back")
        fig.add_trace(go.Scatter(x=g.steps_back, y=g.norm, name="‖∂c_T/∂c_t‖", mode="lines+markers",
                                 line=dict(color=GATE_COLORS["f"], width=3),
                                 hovertemplate="%{x} steps back<br>norm %{y:.3g}<extra></extra>"), row=1, col=2)
        fig.update_yaxes(type="log", title_text="norm (log)", row=1, col=2)
        fig.update_xaxes(title_text="steps back from the end", row=1, col=2)
    fig.update_layout(title=title, height=440, showlegend=False, margin=dict(t=60, b=50, l=60, r=30))
    return fig


def what_if(c, c_clamped, y, y_clamped, *, unit, target=None, clamp_steps=None, label="clamped", title=None,
            memory=("c", "cell state")):
    """A unit's memory and the model's answer, as trained and with a gate clamped.

    c, c_clamped: (T,) the memory; y, y_clamped: (T,) the readout; target: (T,) NaN where none counts;
    clamp_steps: (first, last) shaded; memory: the memory field's (name, title), h of a GRU.
    """
    mem, what = memory
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.16,
                        subplot_titles=(f"{what} {mem} of unit {unit}", "the model's answer"))
    t = np.arange(len(c))
    for row, (a, b, name) in enumerate(((c, c_clamped, mem), (y, y_clamped, "answer")), start=1):
        fig.add_trace(go.Scatter(x=t, y=a, name=f"{name}, as trained", mode="lines",
                                 line=dict(color="#4c72b0", width=3), legendgroup="base", showlegend=row == 1),
                      row=row, col=1)
        fig.add_trace(go.Scatter(x=t, y=b, name=f"{name}, {label}", mode="lines",
                                 line=dict(color="#e4572e", width=3, dash="dash"), legendgroup="clamp",
                                 showlegend=row == 1), row=row, col=1)
    if target is not None:
        fig.add_trace(go.Scatter(x=t, y=target, name="the right answer", mode="markers",
                                 marker=dict(symbol="star", size=16, color="black")), row=2, col=1)
    if clamp_steps is not None:  # named in the legend: written in the band it lay over both lines (issue 21)
        fig.add_vrect(x0=clamp_steps[0] - 0.5, x1=clamp_steps[1] + 0.5, fillcolor=BAND, line_width=0)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"{label} (shaded)", hoverinfo="skip",
                                 marker=dict(symbol="square", size=16, color=BAND.replace("0.10", "0.35"))))
    # a class answer (argmax) has whole levels: ticks at them
    answers = np.concatenate([np.asarray(v, dtype=float) for v in (y, y_clamped, target) if v is not None])
    fig.update_yaxes(row=2, col=1, **_whole_ticks(answers))
    fig.update_xaxes(title_text="step t", row=2, col=1)
    fig.update_layout(title=title, height=480, margin=dict(t=40, b=40, l=50, r=30),
                      legend=dict(orientation="h", y=-0.22, x=0, yanchor="top"))
    return fig


def _mark_step(fig, step, rows=None):
    if step is not None:
        fig.add_vline(x=step, line=dict(color=MARK, width=3, dash="dot"))


def for_room(fig, width=1280, height=720, *, scale=1.0, share=0.66):
    """A copy of fig readable from the back of a room: fonts of 20 px and more, lines of 4 px, sized
    for a slide of width x height (the figure takes `share` of its height: beside the narration 2/3,
    above it a little over half).

    A figure of many stacked panels (the gate heatmaps) keeps one bold letter per panel as its
    axis title (i, f, g, o, c, h): at 60 px a panel, a longer title would run into the next one.
    """
    if not 0.2 <= share <= 1:
        raise ValueError(f"share: expected the fraction of the slide's height the figure takes, 0.2..1, got {share}")
    # A copy through to_dict, which only reads: go.Figure(fig) pops each trace's "type" while it
    # copies and puts it back, so two sessions copying one cached slide figure at once made a
    # heatmap a Scatter ("Invalid property ... Scatter: 'colorscale'", seen at 1920x1080).
    out = go.Figure(fig.to_dict())
    base = 20 * scale * (height / 720) ** 0.5
    out.update_layout(font=dict(size=base), title_font=dict(size=base * 1.3), hoverlabel=dict(font_size=base),
                      height=int(share * height), legend=dict(font=dict(size=base)))
    out.update_annotations(font_size=base)
    # room under the plot for the larger tick labels and the axis title (char-cells at 1080p: the
    # "step" title sat among the tick labels)
    if (out.layout.margin.b or 0) < 2 * base + 14:
        out.layout.margin.b = int(2 * base + 14)
    # a note under the plot (Compare's colour scales) moves below the larger axis title: at 20 px
    # "colour scales: c ±0.35, unit 0's range" ran over "step t" (the lstm-gru lesson at 1280x720)
    for a in out.layout.annotations:
        if a.yref == "paper" and a.y == 0 and a.yanchor == "top" and (a.yshift or 0) < 0:
            a.yshift = -int(3 * base)  # under the tick labels (0.9 base), the standoff and the title (base)
            out.layout.margin.b = max(out.layout.margin.b, int(4.4 * base))
    out.update_xaxes(tickfont=dict(size=base * 0.9), title_font=dict(size=base), linewidth=2)
    out.update_yaxes(tickfont=dict(size=base * 0.9), title_font=dict(size=base), linewidth=2)
    layout = out.layout.to_plotly_json()
    panels = [k for k in layout if k.startswith("yaxis")]
    if len(panels) > 3 and "representation" in (layout.get("meta") or {}):  # explorer's gate heatmaps
        for k in panels:
            text = ((layout[k].get("title") or {}).get("text")) or ""
            letter = re.search(r"<b>(\w)</b>", text)
            out.layout[k].title.text = f"<b>{letter.group(1)}</b>" if letter else ("<b>x</b>" if text else "")
            out.layout[k].showticklabels = False
    for tr in out.data:
        if tr.type == "scatter" and tr.mode and "lines" in tr.mode:
            tr.line.width = max(4.0, 1.6 * (tr.line.width or 2))
        if tr.type == "scatter" and tr.marker is not None and tr.marker.size is not None and tr.name != "pick":
            tr.marker.size = max(12, tr.marker.size)
        # only a colour bar the figure has: reading tr.marker.colorbar creates one, and Plotly then
        # draws an empty bar beside the lines (forget-gate's what-if, 1920x1080)
        own = tr.to_plotly_json()
        bar = tr.colorbar if "colorbar" in own else tr.marker.colorbar if "colorbar" in (own.get("marker") or {}) else None
        if bar is not None:
            bar.tickfont.size = base * 0.8
            bar.title.font.size = base * 0.8
    for shape in out.layout.shapes:
        if shape.line is not None and shape.line.width:  # a drawn line; 0 is a shaded band's no-border
            shape.line.width = max(4, shape.line.width)
    if "representation" in (layout.get("meta") or {}):  # explorer's gate heatmaps
        marks_inside(out, base)
        if out.layout.xaxis.side == "top":  # one panel or six (char-cells slide 3 has one: it went unfitted)
            _chars_on_top(out, width)  # the characters read along the top, under the colour bars
    return out


def marks_inside(fig, font=12):
    """fig (a gate heatmap figure, changed in place) with a unit's marks kept inside its panel
    (heatmaps.mark_unit), for a slide at the desk and in the room: the pointers it draws
    beyond the left and right edges of a many-unit map go (the label names the row), and the label
    in `font` px is moved along the row's panel until it fits. Seen in char-cells slide 3 at
    1280x720: unit 127, the last row, had its label half under the plot and bars past both edges."""
    fig.layout.shapes = [s for s in fig.layout.shapes
                         if not ((s.xref or "").endswith(" domain") and (min(s.x0, s.x1) >= 1 or max(s.x0, s.x1) <= 0))]
    rows = {tr.yaxis or "y": _rows(tr.z) for tr in fig.data if tr.type == "heatmap" and tr.z is not None}  # H a panel
    plot_px = (fig.layout.height or 450) - (fig.layout.margin.t or 0) - (fig.layout.margin.b or 0)
    for note in fig.layout.annotations:
        H = rows.get(note.yref)
        if H is None or not isinstance(note.y, (int, float)):
            continue
        lo, hi = fig.layout["yaxis" + note.yref[1:]].domain or (0, 1)
        half = (1.5 * font + 4) / 2 / ((hi - lo) * plot_px / H)  # half the label's height, in rows
        note.y = float(np.clip(note.y, -0.5 + half, H - 0.5 - half)) if 2 * half < H else (H - 1) / 2


def _rows(z):
    """The rows of a heatmap's z: a list, an array, or plotly's typed array {"dtype", "bdata", "shape": "H, S"},
    which a figure copied through to_dict holds."""
    return int(str(z["shape"]).split(",")[0]) if isinstance(z, dict) else len(z)


def _chars_on_top(fig, width):
    """The characters along the top of a gate heatmap (a bracket per step): as large as a step's
    width allows (10 to 18 px), and the colour bars lifted above them. Measured in the counting
    lesson at 1280x720: the bars' ticks (0, 0.5, 1) were drawn over the brackets."""
    steps = len(fig.layout.xaxis.ticktext or ()) or 1
    step_px = (0.62 * width - 100) / steps  # the plot's width, measured: 680 px of a 1280 slide, 893 of 1600
    # A character is at most ~0.75 of its size wide ("m", "w"): no larger, or neighbours overlap (issue 21:
    # at the former 13 px least, char-cells' 100 steps at 1280x720 ran into a strip). Under 10 px: none.
    size = min(step_px / 0.75, 18)
    if size < 10:
        fig.layout.xaxis.showticklabels = False
    fig.layout.xaxis.tickfont.size = size
    for tr in fig.data:
        bar = getattr(tr.marker, "colorbar", None) if hasattr(tr, "marker") else None
        if bar is not None and bar.orientation == "h":
            ticks = bar.tickfont.size or 12  # drawn under the bar, whose y is its own bottom edge
            top = max(fig.layout.margin.t or 0, size + ticks + 60)  # characters, ticks, the bar, its title
            plot = max(fig.layout.height - top - (fig.layout.margin.b or 0), 50)
            fig.layout.margin.t = top
            bar.y, bar.yanchor = 1 + (size + ticks + 14) / plot, "bottom"


def export_config(width=1280, height=720, fmt="png", name="slide"):
    """plotly.js config whose camera button saves the figure as PNG or SVG at the slide's size,
    drawn in the browser by plotly.js itself: nothing leaves the machine."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"fmt: expected 'png' or 'svg', got {fmt!r}")
    return {"displaylogo": False, "toImageButtonOptions": {"format": fmt, "width": width, "height": height,
                                                           "scale": 1, "filename": name}}
