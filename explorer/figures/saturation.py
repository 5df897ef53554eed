"""Gate saturation, drawn: the Explore page's panels per gate and the Debug views' map per layer.

Pure functions from fractions (or `lstm_core.diagnostics.saturation`'s table) to go.Figure.
Both draw the fraction of steps a gate is below style.LEFT (nearly closed) against above
style.RIGHT (nearly open), after Karpathy, Johnson & Fei-Fei 2015, Section 4.2 and Fig. 4.
"""
import numpy as np
import plotly.graph_objects as go

from .style import FIELD_NAMES, GATE_COLORS, LAYER_COLORS, LEFT, MARK, RIGHT

SVG_POINTS = 2000  # above this many points a scatter is WebGL (one context for the whole figure)


def _select(df, layer, direction):
    return df[(df.layer == layer) & (df.direction == direction)]


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


def saturation_map(sat, layer=0, direction=0):
    """Each gate of each unit as a point (fraction left-saturated, fraction right-saturated), as in
    Karpathy et al. 2015, Fig. 4. Points on the diagonal x + y = 1 are always saturated; stuck
    ones are drawn as crosses. sat: the table of `diagnostics.saturation`."""
    d = _select(sat, layer, direction)
    d = d[d.gate != "h"]
    data = [go.Scatter(x=[0, 1], y=[1, 0], mode="lines", line=dict(color="lightgray", dash="dot"),
                       hoverinfo="skip", showlegend=False)]
    for gate, g in d.groupby("gate", sort=False):
        data.append(go.Scatter(
            x=g.left, y=g.right, mode="markers", name=gate, customdata=np.stack([g["unit"], g["mean"]], axis=-1),
            marker=dict(color=GATE_COLORS.get(gate), size=9, opacity=0.8,
                        symbol=np.where(g.stuck, "x", "circle").tolist(), line=dict(width=0)),
            hovertemplate=f"unit %{{customdata[0]}}<br>{gate}: left %{{x:.0%}}, right %{{y:.0%}}<br>"
                          f"mean %{{customdata[1]:.3f}}<extra></extra>"))
    return go.Figure(data, dict(
        title=f"Gate saturation, layer {layer}{' (reverse)' if direction else ''}",
        xaxis=dict(title=f"fraction left-saturated (< {LEFT})", range=[-0.03, 1.03]),
        yaxis=dict(title=f"fraction right-saturated (> {RIGHT})", range=[-0.03, 1.03], scaleanchor="x"),
        height=460, margin=dict(l=60, r=20, t=50, b=50)))


def ring_unit(fig, sat, layer, direction, unit):
    """Ring one unit's gates on saturation_map (sat: diagnostics.saturation's table)."""
    d = sat[(sat.layer == layer) & (sat.direction == direction) & (sat.unit == unit) & (sat.gate != "h")]
    fig.add_trace(go.Scatter(x=d.left, y=d.right, mode="markers+text", text=list(d.gate), textposition="top right",
                             name=f"unit {unit}", hoverinfo="skip",
                             marker=dict(size=20, symbol="circle-open", color=MARK, line=dict(width=3))))
    return fig
