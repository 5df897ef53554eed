"""The gate heatmap figure: i, f, g, o, c, h as unit-by-step maps under the input signal.

A pure function from arrays to a go.Figure (no streamlit here). One figure, one
shared step axis: the input on top, then one panel per field, unit 0 at the top
of each. What a panel is comes from the cell's declaration (`declared`: its fields'
titles and ranges): a gate is on a fixed 0..1 sequential scale, a candidate or state on a
diverging scale centred at 0 (white = 0), symmetric around it.

Two representations, chosen by size (measurements in raster.py):
- "heatmap": float32 go.Heatmap traces, hover shows step, unit and the exact value;
  used up to EXACT_CELLS cells in all panels, or when asked for;
- "image": PNG go.Image traces coloured by raster.py, hover shows step and unit;
  the colour bars come from invisible marker traces with the same scale.
Long sequences are reduced to about `columns` display columns by downsample.py.
"""
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from . import downsample, raster
from .style import DIVERGING, FIELD_NAMES, GATES01, MARK, SEQUENTIAL, unit_ticks

# The traces and the figure are built without plotly.py's validation of every property: it was
# 85% of building this figure (the opening view: 32 ms of 38, a new figure on every view change;
# issue 12). The arguments are this module's own; tests/explorer/test_explorer_figures.py checks the
# figure. Validation also expanded colour scale names, which Plotly.js does not all know
# ("RdBu_r"): COLORSCALES holds them expanded, once, by that same validation.
FAST = dict(_validate=False)
COLORSCALES = {name: [list(stop) for stop in go.Heatmap(colorscale=name).colorscale] for name in (SEQUENTIAL, DIVERGING)}
_TEMPLATES = {}  # plotly.io's default template as a dict, by name: a new figure rebuilt it from pio.templates


def default_template():
    """The default template (pio.templates.default, whatever sets it) as a dict, built once."""
    name = pio.templates.default
    if name not in _TEMPLATES:
        _TEMPLATES[name] = pio.templates[name].to_plotly_json() if name else {}
    return _TEMPLATES[name]
EXACT_CELLS = 60_000  # up to this many cells in all panels, exact float heatmaps (hover values)
EXACT_MAX_CELLS = 1_500_000  # float heatmaps even when asked for: ~6 MB of float32, seconds to draw
MAX_INPUT_LINES = 8  # more input features than this are drawn as an image row
CHAR_TICKS_PX = 24  # room the characters above the input row take: the colour bars go above them


# The margins (px) the figure ends with in the app, given up front. Smaller ones, Plotly grows to fit
# the tick labels, the axis titles (Streamlit's template sets automargin), the legend and the shared
# colour bars, and grows them by drawing the whole figure again: in Chromium at T=500, H=128 (issue 21)
# l 70 -> 96, t 75 -> 101, b 40 -> 64, each change drawn twice (benchmarks/app_speed.py --browser).
# Larger ones Plotly keeps: a panel of 3-digit unit numbers fits; with fewer digits, a few px to spare.
MARGIN = dict(l=96, t=101, b=64)

CLIP_PERCENTILE = 99  # of |z|: the end of an unbounded field's colour scale


def span_of(name, declared=None):
    """The declared (lo, hi) of field `name`: (0, 1) a gate, (-1, 1) a candidate, None a state
    whose scale follows the data. declared: {name: lstm_core.cells.Field}, or None for the LSTM's
    names and a GRU's r, z (style.GATES01, the callers that pass no declaration)."""
    if declared is not None and name in declared:
        return declared[name].range
    return (0.0, 1.0) if name in GATES01 else (-1.0, 1.0) if name in ("g", "h", "n") else None


def value_range(name, z, follow=None, span=None):
    """(lo, hi) of a field's colour scale: 0..1 for gates, else symmetric around 0.

    span: the field's declared range (span_of; None: from its name). A candidate (g, h of
    the standard cell, a GRU's n and h) is within ±1 and keeps that scale. c, and g
    and h where a variant leaves them unbounded (NIAF, NOAF, projection), get
    ±(99th percentile of |z|): one runaway unit (a counter, an integrator) would
    otherwise wash every other unit out to white. Larger values take the end colours;
    `clipped` says when that happens. follow: a unit (row of z) whose own largest |z|
    sets such a scale instead: the unit a caption frames. In the shipped recall model
    unit 3's c drifts to 22 and the percentile was ±21.6, so unit 0, the one that holds
    the value (|c| < 2), stayed white (issue 21).
    """
    return _range(name, z, follow, span or span_of(name))[:2]


def _range(name, z, follow=None, span=None):
    """(lo, hi, followed, why): value_range's scale, whether the unit `follow` set it, and a few
    words on where it comes from. span: the field's declared range (span_of)."""
    if span == (0.0, 1.0):
        return 0.0, 1.0, False, "0..1"
    a = np.abs(z[np.isfinite(z)])
    if a.size == 0:
        return -1.0, 1.0, False, "±1"
    if span is not None and a.max() <= 1.0:
        return -1.0, 1.0, False, "±1, the range of tanh"
    if follow is not None and 0 <= follow < z.shape[0]:
        row = np.abs(z[follow][np.isfinite(z[follow])])
        if row.size and row.max() > 1e-6:  # a unit that never moves would turn every other one to end colours
            bound = float(row.max())
            return -bound, bound, True, f"±{bound:.3g}, the largest |{name}| of unit {follow}, the framed one"
    bound = max(float(np.percentile(a, CLIP_PERCENTILE)), 1e-6)
    return -bound, bound, False, f"±{bound:.3g}, the {CLIP_PERCENTILE}th percentile of |{name}| over all units"


def clipped(name, z, hi, span=None):
    """The largest |z| if the colour scale ±hi clips it, else None."""
    finite = z[np.isfinite(z)]
    m = float(np.abs(finite).max()) if finite.size else 0.0
    return m if not _is_gate(name, span) and m > hi * (1 + 1e-6) else None


def _is_gate(name, span=None):
    return (span if span is not None else span_of(name)) == (0.0, 1.0)


def scale_of(name, span=None):
    return SEQUENTIAL if _is_gate(name, span) else DIVERGING


def gate_heatmaps(fields, x, feature_names, *, start=0, columns=1200, exact=None, labels=None,
                  notes=None, title=None, panel_height=130, colorbars="shared", follow=None, declared=None):
    """The figure of `fields` under the input `x`.

    fields: {name: (U, S) float array}, in display order; U units, S steps, NaN on padding
    declared: {name: lstm_core.cells.Field} of the cell (title, range), e.g. {f.name: f for f in
        trace.declaration.fields}; None: the LSTM's fields by name (style.FIELD_NAMES, GATES01)
    x: (S, I) the input over the same steps, NaN on padding
    feature_names: (I,) names for the legend
    start: the step of column 0 (a window's first step)
    columns: display columns to reduce long sequences to (downsample.plan)
    labels: (S,) str or None, one character per step (text input) for the input row
    notes: {name: str} appended to a panel's title, e.g. "fixed at 1 in this variant"
    colorbars: "shared": two colour bars at the top (gates 0..1, signed ±r with r in each
        panel's title; short bar titles, which overlapped in the Check page's 400 px columns); "panel": one beside every panel. Measured in Chromium under load: the
        six panel bars cost 180 of the 350 ms Plotly takes to draw this figure (benchmarks/app_speed.py).
    exact: True float heatmaps (up to EXACT_MAX_CELLS), False images, None by size (EXACT_CELLS)
    follow: the unit whose own range sets the scale of c (and of unbounded g, h): the unit a lesson
        or caption frames (value_range); None: the 99th percentile over all units
    Returns a go.Figure; layout.meta holds {"representation", "bucket", "note", "clipped", "refused_exact",
    "scales"}, clipped: {name: (end of the colour scale, largest |value|)} for the fields it clips,
    scales: {name: the scale of each signed field in words}, for the page to say which is in use.
    """
    S = x.shape[0]
    plan = downsample.plan(S, columns)
    cells = sum(z.shape[0] for z in fields.values()) * min(S, columns)
    asked = exact
    exact = cells <= EXACT_CELLS if exact is None else exact and cells <= EXACT_MAX_CELLS
    names = list(fields)
    n = len(names)
    input_share = 0.7
    total = input_share + n
    gap = 0.012 if n else 0.0
    tops = np.concatenate([[1.0], 1.0 - (input_share + np.arange(n)) / total])  # (n + 1,)
    bottoms = np.concatenate([1.0 - (input_share + np.arange(n)) / total, [0.0]])
    # column j of a reduced map covers steps start + j*k/2 .. (j+1)*k/2: centre of column 0
    dx = plan.bucket / 2 if plan.reduced else 1.0
    x0 = start + (dx - 1) / 2

    data, layout, clips, scales = [], {}, {}, {}
    data += _input_traces(x, feature_names, plan, start, x0, dx, labels)
    # scaleanchor=False: Plotly gives an axis of go.Image square pixels by default, which squeezed a
    # map with more units than steps (the char model: H=128, T=100) into a narrow column
    layout["yaxis"] = dict(domain=[bottoms[0] + gap, tops[0]], title=dict(text="input"), scaleanchor=False,
                           **_feature_ticks(x.shape[1], feature_names, labels))
    char_ticks = labels is not None and S <= 200
    layout["xaxis"] = dict(anchor="y", showticklabels=char_ticks, **_char_ticks(labels, start) if char_ticks else {})
    for r, name in enumerate(names, start=1):
        ax = str(r + 1)
        z = downsample.minmax_columns(np.asarray(fields[name], np.float32), plan)  # (U, columns)
        span = span_of(name, declared)
        gate = _is_gate(name, span)
        lo, hi, followed, why = _range(name, z, follow, span)
        if not gate:
            scales[name] = why
        if (top := clipped(name, z, hi, span)) is not None:
            clips[name] = (hi, top)
        scale = scale_of(name, span)
        bar = dict(len=(tops[r] - bottoms[r]) * 0.9, y=(tops[r] + bottoms[r]) / 2, yanchor="middle",
                   thickness=12, x=1.01, tickfont=dict(size=10))
        xy = dict(xaxis="x" + ax, yaxis="y" + ax, name=name)
        hover = ("step %{x:.0f}<br>unit %{y:.0f}" + ("" if not exact else f"<br>{name} = %{{z:.4f}}")
                 + (" (bucket min/max)" if plan.reduced else "") + f"<extra>{name}</extra>")
        per_panel = colorbars == "panel"
        if exact:
            data.append(go.Heatmap(z=z, x0=x0, dx=dx, y0=0, dy=1, zmin=lo, zmax=hi, colorscale=COLORSCALES[scale],
                                   colorbar=bar, showscale=per_panel, hoverongaps=False, hovertemplate=hover,
                                   **xy, **FAST))
        else:
            data.append(go.Image(source=raster.png_data_uri(z, lo, hi, scale), x0=x0, dx=dx, y0=0, dy=1,
                                 hovertemplate=hover, **xy, **FAST))
            if per_panel:
                data.append(_bar_trace(scale, lo, hi, bar, **xy))
        own = f", unit {follow}'s" if followed else ""
        about = declared[name].title if declared and name in declared else FIELD_NAMES[name].rsplit(' ', 1)[0]
        label = f"<b>{name}</b> {about}" + (
            f"<br>±{hi:.3g}{own}" if not gate and not per_panel else "") + (
            f"<br>({notes[name]})" if notes and name in notes else "")
        layout["yaxis" + ax] = dict(domain=[bottoms[r] + gap, tops[r] - gap], autorange="reversed", scaleanchor=False,
                                    title=dict(text=label, font=dict(size=13)),
                                    zeroline=False, showgrid=False, **unit_ticks(z.shape[0]))
        last = r == n
        layout["xaxis" + ax] = dict(anchor="y" + ax, matches="x", showticklabels=last, showgrid=False,
                                    zeroline=False, **({"title": dict(text="step")} if last else {}))
    layout["xaxis"].update(range=[start - 0.5, start + S - 0.5])
    extra = CHAR_TICKS_PX if char_ticks and colorbars == "shared" else 0
    height = int(110 + panel_height * (n + input_share)) + extra
    top_margin = 40 if colorbars == "panel" else MARGIN["t"] + extra
    if colorbars == "shared":
        # above the characters along the top of the input row, when they are shown (paper units)
        lift = extra / (height - top_margin - MARGIN["b"])
        top = dict(orientation="h", y=1.0 + lift, yanchor="bottom", len=0.16, thickness=10, xanchor="center",
                   tickfont=dict(size=10))
        gates = [k for k in names if _is_gate(k, span_of(k, declared))]  # the bars name this cell's fields
        signed = [k for k in names if k not in gates]
        if gates:
            data.append(_bar_trace(SEQUENTIAL, 0.0, 1.0, dict(top, x=0.62, tickvals=[0, 0.5, 1],
                                   title=dict(text=", ".join(gates), side="top",
                                              font=dict(size=11))), xaxis="x", yaxis="y"))  # a GRU's: r, z
        if signed:
            data.append(_bar_trace(DIVERGING, -1.0, 1.0, dict(
                top, x=0.88, tickvals=[-1, 0, 1], ticktext=["−r", "0", "+r"],
                title=dict(text=", ".join(signed) + ": ±r", side="top",
                           font=dict(size=11))), xaxis="x", yaxis="y"))
    annotations = []
    if plan.reduced:
        annotations.append(dict(text=f"reduced for display: min and max of every {plan.bucket:,} steps",
                                xref="paper", yref="paper", x=1.0, y=1.0, xanchor="right",
                                yanchor="bottom", showarrow=False, font=dict(size=11)))
    if annotations:
        layout["annotations"] = annotations
    if title:
        layout["title"] = dict(text=title)
    layout.update(height=height, template=default_template(),
                  margin=dict(MARGIN, r=70 if colorbars == "panel" else 20, t=top_margin),
                  showlegend=x.shape[1] <= MAX_INPUT_LINES and labels is None,
                  legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"),
                  hovermode="closest",
                  meta=dict(representation="heatmap" if exact else "image", bucket=plan.bucket,
                            note=plan.note(), clipped=clips, refused_exact=bool(asked) and not exact,
                            scales=scales))
    return go.Figure(data=data, layout=layout, **FAST)


def _bar_trace(scale, lo, hi, colorbar, **axes):
    """An invisible marker trace whose only job is to draw a colour bar."""
    return go.Scatter(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                      marker=dict(colorscale=COLORSCALES[scale], cmin=lo, cmax=hi, color=[lo], showscale=True,
                                  colorbar=colorbar), **axes, **FAST)


def _input_traces(x, feature_names, plan, start, x0, dx, labels):
    """The input row: one line per feature, or an image when there are many (one-hot text)."""
    S, I = x.shape
    if I <= MAX_INPUT_LINES and labels is None:
        traces = []
        for k in range(I):
            steps, y = downsample.minmax_line(x[:, k], plan)
            traces.append(go.Scatter(x=steps + start, y=y, mode="lines", name=str(feature_names[k]),
                                     line=dict(width=1.5), xaxis="x", yaxis="y",
                                     hovertemplate=f"step %{{x}}<br>{feature_names[k]} = %{{y:.4f}}<extra></extra>", **FAST))
        return traces
    z = downsample.minmax_columns(np.ascontiguousarray(x.T, np.float32), plan)  # (I, columns)
    finite = z[np.isfinite(z)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scale = SEQUENTIAL if lo >= 0 else DIVERGING
    if lo < 0:
        lo, hi = -max(-lo, hi), max(-lo, hi)
    return [go.Image(source=raster.png_data_uri(z, lo, hi, scale), x0=x0, dx=dx, y0=0, dy=1,
                     xaxis="x", yaxis="y", name="input",
                     hovertemplate="step %{x:.0f}<br>feature %{y:.0f}<extra>input</extra>", **FAST)]


def _feature_ticks(I, feature_names, labels):
    """The input image's rows named by their features ("(" and ")" of the bracket task), when few."""
    if labels is None or I > MAX_INPUT_LINES:  # lines with a legend, or too many rows to name
        return {}
    return dict(tickmode="array", tickvals=list(range(I)), ticktext=[str(f) for f in feature_names])


def _char_ticks(labels, start):
    """Tick labels for the input row: the character at every step (text input)."""
    shown = [("␣" if ch == " " else ch) for ch in labels]
    return dict(tickmode="array", tickvals=list(range(start, start + len(labels))), ticktext=shown,
                side="top", tickfont=dict(size=11), tickangle=0)


FRAME_MAX_UNITS = 16  # up to this many rows a frame around the unit's row; more, and a row is a few


def mark_unit(fig, unit, label=None, units=None, inplace=False):
    """A copy of a gate heatmap figure (gate_heatmaps) with one unit's row
    marked in every panel, and `label` beside it in the first: the unit a caption names.

    units: H, the rows of a panel. Up to FRAME_MAX_UNITS (or None) the row is framed;
    with more, a row is a pixel or two: a thin frame along its edges leaves its colours
    visible, and a wide tick outside each panel's left and right edge points at it, so it is
    found at a glance in a 128-unit map (issue 10, item 9). inplace: mark `fig` itself, for a
    figure just built (copying one costs more than building it; issue 12); the shapes are
    added in one layout update, not one by one.
    """
    out = fig if inplace else go.Figure(fig.to_dict())  # to_dict only reads: safe on a cached figure
    x0, x1 = out.layout.xaxis.range
    panels = sorted(int(k[5:]) for k in out.layout.to_plotly_json() if k.startswith("yaxis") and k[5:].isdigit())
    frame = units is None or units <= FRAME_MAX_UNITS
    shapes = []
    for n in panels:  # yaxis2.. are the panels; yaxis is the input row
        shapes.append(dict(type="rect", xref=f"x{n}", yref=f"y{n}", x0=x0, x1=x1, y0=unit - 0.5, y1=unit + 0.5,
                           line=dict(color=MARK, width=2.5 if frame else 1), fillcolor="rgba(0,0,0,0)",
                           layer="above"))
        if not frame:
            for a, b in ((1.003, 1.03), (-0.03, -0.003)):  # right and left of the panel, outside it
                shapes.append(dict(type="line", xref=f"x{n} domain", yref=f"y{n}", x0=a, x1=b, y0=unit, y1=unit,
                                   line=dict(color=MARK, width=6), layer="above"))
    notes = []
    if label and panels:
        notes = [dict(text=label, xref=f"x{panels[0]}", yref=f"y{panels[0]}", x=x1, y=unit, xanchor="right",
                      yanchor="middle", showarrow=False, font=dict(size=12, color="black"), bgcolor=MARK,
                      borderpad=2)]
    out.update_layout(shapes=[*out.layout.shapes, *shapes], annotations=[*out.layout.annotations, *notes])
    return out
