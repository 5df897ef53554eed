"""Marks the debug pages add to the shared figures: pure plotly, no streamlit.

The figures themselves come from the shared builders (heatmaps.gate_heatmaps,
figures.unit_traces / cell_update, diagnostics_figures.*); these functions only point
at the unit a finding is about, and at the data's sequence lengths, on a figure one
of them returned. Each returns the figure it was given.
"""
import plotly.graph_objects as go

from .diagnostics_figures import log_hline

MARK = "#ff9f1c"  # the ring colour of figures.saturation: reads on light and dark themes


def ring_unit(fig, sat, layer, direction, unit):
    """Ring one unit's gates on diagnostics_figures.saturation_map (sat: diagnostics.saturation's table)."""
    d = sat[(sat.layer == layer) & (sat.direction == direction) & (sat.unit == unit) & (sat.gate != "h")]
    fig.add_trace(go.Scatter(x=d.left, y=d.right, mode="markers+text", text=list(d.gate), textposition="top right",
                             name=f"unit {unit}", hoverinfo="skip",
                             marker=dict(size=20, symbol="circle-open", color=MARK, line=dict(width=3))))
    return fig


def mark_lengths(fig, lengths):
    """The shortest and longest sequence of the data on diagnostics_figures.time_constants (steps)."""
    lo, hi = int(min(lengths)), int(max(lengths))
    if hi != lo:
        log_hline(fig, hi, f"longest sequence {hi}", "top left", dash="dot")
        log_hline(fig, lo, f"shortest sequence {lo}", "bottom left", dash="dot")
    return fig


def mark_bar(fig, unit):
    """Outline one unit's bar on diagnostics_figures.time_constants."""
    fig.add_vrect(x0=unit - 0.5, x1=unit + 0.5, line=dict(color=MARK, width=3), fillcolor="rgba(0,0,0,0)")
    return fig


def mark_row(fig, unit):
    """Outline row `unit` of every panel of heatmaps.gate_heatmaps (panels are axes y2, y3, ...)."""
    for name in list(fig.layout):
        if name.startswith("yaxis") and name != "yaxis":
            k = name[len("yaxis"):]
            fig.add_shape(type="rect", xref=f"x{k} domain", yref=f"y{k}", x0=0, x1=1, y0=unit - 0.5, y1=unit + 0.5,
                          line=dict(color=MARK, width=2), fillcolor="rgba(0,0,0,0)")
    return fig
