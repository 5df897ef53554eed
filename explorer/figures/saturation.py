"""Gate saturation, drawn: the Explore page's panels per gate and the Debug views' map per layer.

Pure functions from fractions (or `lstm_core.analysis.diagnostics.saturation`'s table) to go.Figure.
Both draw the fraction of steps a gate is below style.LEFT (nearly closed) against above
style.RIGHT (nearly open), after Karpathy, Johnson & Fei-Fei 2015, Section 4.2 and Fig. 4.
"""
import numpy as np
import plotly.graph_objects as go

from .style import FIELD_NAMES, GATE_COLORS, LAYER_COLORS, LEFT, MARK, RIGHT

SVG_POINTS = 2000  # above this many points a scatter is WebGL (one context for the whole figure)


def _select(df, layer, direction):
    return df[(df.layer == layer) & (df.direction == direction)]


STACK_DIGITS = 2  # points this close (1% of the steps on both axes) are drawn as one stack


def stacks(x, y):
    """(n,) how many of the points (x, y) sit on each one's spot: the units of a stack are drawn on
    top of one another (each stays selectable), so the stack is drawn larger and says how many it
    holds; 16 untrained units at (0%, 0%) read as one dot (issue 21)."""
    spots = np.round(np.stack([np.asarray(x, float), np.asarray(y, float)], axis=-1), STACK_DIGITS)  # (n, 2)
    if not len(spots):
        return np.zeros(0, dtype=int)
    _, inverse, counts = np.unique(spots, axis=0, return_inverse=True, return_counts=True)
    return counts[inverse.ravel()]


def _stack_size(n, size=9):
    """A marker's size for a stack of n points: its area grows with n, up to 4x the diameter."""
    return np.minimum(size * np.sqrt(n), 4 * size).tolist()


def _stack_labels(x, y, n, xref="x", yref="y"):
    """Annotations "×n" beside each stack of more than one point, once per stack, clear of its marker."""
    spots = {}
    for a, b, k in zip(x, y, n):
        if k > 1:
            spot = (round(float(a), STACK_DIGITS), round(float(b), STACK_DIGITS))
            spots.setdefault(spot, (float(a), float(b), int(k)))
    return [dict(x=a, y=b, xref=xref, yref=yref, text=f"×{k}", showarrow=False, xanchor="left", yanchor="bottom",
                 xshift=_stack_size(k) / 2, yshift=_stack_size(k) / 2 - 4, font=dict(size=11))
            for a, b, k in spots.values()]


def saturation(groups, selected=(), gates=None, titles=None):
    """The saturation plot of Karpathy, Johnson & Fei-Fei 2015 (Fig. 3): one panel per gate.

    groups: list of dicts, one per layer and direction, with
        "layer", "direction": ints; "left", "right": {gate: (H,) fractions}
    selected: (layer, direction, unit) triples to ring
    gates: the panels, in order; None: the groups' own (the cell's gates: i, f, o; r, z)
    titles: {gate: panel title}, e.g. "update gate z (keeps h)"; None: style.FIELD_NAMES
    Each point's customdata is [layer, direction, unit], what a selection returns.
    """
    gates = tuple(gates if gates is not None else groups[0]["left"] if groups else ())
    titles = titles or {}
    n = len(gates)
    data, layout, counts = [], {}, []
    chosen = set(map(tuple, selected))
    points = n * sum(len(g["left"][gates[0]]) for g in groups) if n else 0
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
            on_spot = stacks(left, right)
            custom = [c + [int(m)] for c, m in zip(custom, on_spot)]  # [layer, direction, unit, units on its spot]
            data.append(Scatter(
                x=left, y=right, mode="markers", name=label, legendgroup=label, showlegend=j == 0,
                customdata=custom, xaxis="x" + ax, yaxis="y" + ax,
                marker=dict(size=_stack_size(on_spot), color=LAYER_COLORS[L % len(LAYER_COLORS)], opacity=0.8,
                            symbol="diamond" if D else "circle",
                            line=dict(width=[3 if s else 0 for s in ring], color="#ff9f1c")),  # reads on both themes
                hovertemplate=(f"{label}, unit %{{customdata[2]}}<br>{k} < {LEFT}: %{{x:.0%}} of steps"
                               f"<br>{k} > {RIGHT}: %{{y:.0%}} of steps"
                               f"<br>%{{customdata[3]}} unit(s) of {label} on this spot<extra></extra>")))
            counts += _stack_labels(left, right, on_spot, "x" + ax, "y" + ax)
        dom = [j / n + 0.04, (j + 1) / n - 0.04]
        layout["xaxis" + ax] = dict(domain=dom, range=[-0.04, 1.04], anchor="y" + ax, tickformat=".0%",
                                    title=dict(text=f"{k}: fraction < {LEFT}"))
        layout["yaxis" + ax] = dict(range=[-0.04, 1.04], anchor="x" + ax, tickformat=".0%",
                                    title=dict(text=f"{k}: fraction > {RIGHT}", standoff=2))
    shapes = [dict(type="line", xref="x" + ("" if j == 0 else str(j + 1)), yref="y" + ("" if j == 0 else str(j + 1)),
                   x0=0, y0=1, x1=1, y1=0, line=dict(color="rgba(128,128,128,0.5)", dash="dash"))
              for j in range(n)]
    titles = [dict(text=titles.get(k) or FIELD_NAMES.get(k, k), xref="paper", yref="paper", x=(j + 0.5) / n, y=1.0, xanchor="center",
                   yanchor="bottom", showarrow=False, font=dict(size=14)) for j, k in enumerate(gates)]
    layout.update(height=380, margin=dict(l=60, r=20, t=40, b=50), shapes=shapes, annotations=titles + counts,
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


def saturation_map(sat, layer=0, direction=0):
    """Each gate of each unit as a point (fraction left-saturated, fraction right-saturated), as in
    Karpathy et al. 2015, Fig. 4. Points on the diagonal x + y = 1 are always saturated; stuck
    ones are drawn as crosses. sat: the table of `diagnostics.saturation`."""
    d = _select(sat, layer, direction)
    d = d[d.gate != "h"]
    data = [go.Scatter(x=[0, 1], y=[1, 0], mode="lines", line=dict(color="lightgray", dash="dot"),
                       hoverinfo="skip", showlegend=False)]
    for gate, g in d.groupby("gate", sort=False):
        n = stacks(g.left, g.right)
        data.append(go.Scatter(
            x=g.left, y=g.right, mode="markers", name=gate,
            customdata=np.stack([g["unit"], g["mean"], n], axis=-1),
            marker=dict(color=GATE_COLORS.get(gate), size=_stack_size(n), opacity=0.8,
                        symbol=np.where(g.stuck, "x", "circle").tolist(), line=dict(width=0)),
            hovertemplate=f"unit %{{customdata[0]}}<br>{gate}: left %{{x:.0%}}, right %{{y:.0%}}<br>"
                          f"mean %{{customdata[1]:.3f}}<br>%{{customdata[2]}} unit(s) on this spot<extra></extra>"))
    # constrain="domain": the square (scaleanchor) is made by narrowing the plot, not by widening
    # the range of x, which ran from -0.5 to 1.5 for a fraction on a wide page (issue 21)
    return go.Figure(data, dict(
        title=f"Gate saturation, layer {layer}{' (reverse)' if direction else ''}",
        xaxis=dict(title=f"fraction left-saturated (< {LEFT})", range=[-0.03, 1.03], constrain="domain",
                   tickformat=".0%"),
        yaxis=dict(title=f"fraction right-saturated (> {RIGHT})", range=[-0.03, 1.03], scaleanchor="x",
                   constrain="domain", tickformat=".0%"),
        height=460, margin=dict(l=60, r=20, t=50, b=50),
        annotations=_stack_labels(d.left, d.right, stacks(d.left, d.right))))  # a stack over all gates


def ring_unit(fig, sat, layer, direction, unit):
    """Ring one unit's gates on saturation_map (sat: diagnostics.saturation's table)."""
    d = sat[(sat.layer == layer) & (sat.direction == direction) & (sat.unit == unit) & (sat.gate != "h")]
    fig.add_trace(go.Scatter(x=d.left, y=d.right, mode="markers+text", text=list(d.gate), textposition="top right",
                             name=f"unit {unit}", hoverinfo="skip",
                             marker=dict(size=20, symbol="circle-open", color=MARK, line=dict(width=3))))
    return fig
