"""Every colour, name and threshold the figures share: one place, so the pages read alike.

Pure constants (plotly's colour lists only): the heatmaps, lines, saturation, text and
diagnostics figures all take their colours from here, and the 0.1/0.9 saturation
thresholds are those of `lstm_core.analysis.diagnostics.saturation`, so a point the figure draws
as saturated is one the findings count.
"""
from plotly.colors import qualitative

FIELDS = ("i", "f", "g", "o", "c", "h")  # the panels of a gate heatmap, top to bottom
FIELD_NAMES = {"i": "input gate i", "f": "forget gate f", "g": "candidate g",
               "o": "output gate o", "c": "cell state c", "h": "hidden state h",
               "r": "reset gate r", "z": "update gate z", "n": "candidate n"}  # a GRU's too (the Check page)
GATES01 = ("i", "f", "o", "r", "z")  # on 0..1; the others are signed

# Saturation thresholds of Karpathy, Johnson & Fei-Fei 2015, Section 4.2: a gate below LEFT is
# nearly closed, above RIGHT nearly open (lstm_core.analysis.diagnostics.saturation's low= and high=).
LEFT, RIGHT = 0.1, 0.9

# Colour scales: gates live in 0..1 (sequential); g, c and h are signed (diverging, white at 0).
SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"  # red for positive, blue for negative, white at 0

UNIT_COLORS = qualitative.Plotly  # unit k: UNIT_COLORS[k % 10], the same in every figure
LAYER_COLORS = qualitative.D3
GATE_COLORS = {"i": "#2ca02c", "f": "#d62728", "o": "#1f77b4", "g": "#9467bd", "c": "#8c564b", "h": "#ff7f0e",
               "r": "#17becf", "z": "#bcbd22", "n": "#9467bd"}  # a GRU's too; its candidate n as the LSTM's g
SEVERITY_COLORS = {"error": "#fde0dd", "warning": "#fff3cd", "info": "#e8f4fd"}
MARK = "#ff9f1c"  # the marked unit (a caption's, a finding's, chosen points): reads on light and dark themes
POSITIVE, NEGATIVE = "#d62728", "#1f77b4"  # r > 0 and r < 0 in the unit ranking, as RdBu_r's ends
LATENT_COLOR = "rgba(90,90,90,0.9)"  # a task's latent beside the units, reference lines
WRITTEN, KEPT, CELL = "#e4572e", "#4c72b0", "#9b59b6"  # the cell-update plot's i·g, f·c and c


def unit_color(unit):
    return UNIT_COLORS[unit % len(UNIT_COLORS)]


# A second y axis on the right: Plotly's default template syncs its ticks to the left axis's grid,
# which put them at 0.205, -0.636, ... (issue 21); "auto" puts them at round values of its own.
RIGHT_AXIS = dict(overlaying="y", side="right", showgrid=False, tickmode="auto")

WHOLE_UNITS = 5  # up to this many units, a tick at each; from about 5 on, Plotly's own steps are whole


def unit_ticks(n):
    """Axis settings for an axis of n units: ticks at whole numbers only. With a few units (h of a
    model with projection P = 2) Plotly's own ticks fell at 0.5 and 1.5 (issue 21)."""
    return dict(tickmode="linear", tick0=0, dtick=1) if n <= WHOLE_UNITS else {}
