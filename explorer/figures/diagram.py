"""The cell diagrams, annotated with one unit's live values: the LSTM's (assets/lstm_cell.svg,
`cell_svg`) and the GRU's (assets/gru_cell.svg, `gru_svg`: x and h_{t-1} into r, z and n; r into
n's recurrent part; z splitting h_{t-1} and n into h_t).

Each SVG is a string.Template: the function fills in the values of one unit at one
step and colours each gate box with the colour its value has in the heatmaps
(raster.py's scales), so the diagram and the heatmaps read the same way. Lines
and text use `currentColor`, which follows Streamlit's light or dark theme.
"""
from functools import lru_cache
from html import escape
from pathlib import Path
from string import Template

import numpy as np

from . import raster
from .style import DIVERGING, SEQUENTIAL

SVG_PATH = Path(__file__).resolve().parents[2] / "assets" / "lstm_cell.svg"
GRU_SVG_PATH = SVG_PATH.with_name("gru_cell.svg")


@lru_cache(maxsize=1)
def template():
    """The SVG as a Template, with each gate's activation and z line made fields of their own, so a
    gate that has no parameters reads as what it is (i = 1 − f in the coupled cell, f = 1 without a
    forget gate) instead of "σ" with "z = —" (issue 10, item 9)."""
    text = SVG_PATH.read_text(encoding="utf-8")
    for k in "ifo":
        text = text.replace(f'fill="${{ink_{k}}}">σ</text>', f'fill="${{ink_{k}}}">${{act_{k}}}</text>')
    for k in "ifgo":
        text = text.replace(f">z = ${{z_{k}}}</text>", f">${{zline_{k}}}</text>")
    return Template(text)


def gate_labels(k, z, rule=None):
    """(activation, z line) of gate k for the diagram: "σ" and "z = 0.123", or what the variant
    puts there instead ("1 − f" and "i = 1 − f", "1" and "f = 1: no gate")."""
    rule = rule or ""
    if rule.startswith("1 − f"):
        return "1 − f", f"{k} = 1 − f (coupled)"
    if rule.startswith("1"):
        return "1", f"{k} = 1: no {k} gate"
    act = "tanh" if k == "g" else ("σ" if rule.startswith("σ") or not rule else "hard σ")
    return act, f"z = {fmt(z)}"


def fmt(v, digits=3):
    """A number as the diagram shows it: fixed digits, a real minus sign."""
    if v is None or not np.isfinite(v):
        return "—"
    if abs(v) < 0.5 * 10 ** -digits:
        v = 0.0  # no "−0.000"
    return f"{v:.{digits}f}".replace("-", "−")


def fmt_vector(v, shown=3):
    """A short vector as "[a, b, c, …]" (the first `shown` entries)."""
    v = np.asarray(v).ravel()
    body = ", ".join(fmt(a, 2) for a in v[:shown])
    return f"[{body}{', …' if v.size > shown else ''}]"


def _fill(value, lo, hi, scale):
    """The heatmap colour of `value` and a text colour readable on it."""
    if value is None or not np.isfinite(value):
        return "rgba(128,128,128,0.2)", "currentColor"
    k = int(np.clip(round((value - lo) / (hi - lo) * 255), 0, 255))
    r, g, b = (int(c) for c in raster.lut(scale)[k])
    ink = "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"
    return f"rgb({r},{g},{b})", ink


def cell_svg(values, title="", footer=""):
    """The diagram with `values` filled in.

    values: floats for "i", "f", "g", "o", "c", "h", "c_prev", "h_prev", "z_i", "z_f",
        "z_g", "z_o" (a gate the variant lacks: None), and "x" (the input vector at t);
        optionally "rule_i", "rule_f", "rule_o": how each gate came about (walkthrough.Walkthrough.rule).
    """
    v = dict(values)
    kept = None if v.get("c_prev") is None else v["f"] * v["c_prev"]
    written = v["i"] * v["g"]
    fields = {k: fmt(v.get(k)) for k in ("i", "f", "g", "o", "c", "h", "c_prev", "h_prev",
                                          "z_i", "z_f", "z_g", "z_o")}
    fields.update(kept=fmt(kept), written=fmt(written), tanh_c=fmt(np.tanh(v["c"])),
                  x=fmt_vector(v["x"]), title=escape(title), footer=escape(footer))
    for k in "ifo":
        fields[f"fill_{k}"], fields[f"ink_{k}"] = _fill(v[k], 0.0, 1.0, SEQUENTIAL)
    for k in "ifgo":
        act, fields[f"zline_{k}"] = gate_labels(k, v.get(f"z_{k}"), v.get(f"rule_{k}"))
        if k != "g":
            fields[f"act_{k}"] = act
    fields["fill_g"], fields["ink_g"] = _fill(v["g"], -1.0, 1.0, DIVERGING)
    return template().substitute(fields)


@lru_cache(maxsize=1)
def gru_template():
    return Template(GRU_SVG_PATH.read_text(encoding="utf-8"))


def gru_svg(values, title="", footer=""):
    """The GRU diagram with `values` filled in.

    values: floats for "r", "z", "n", "h", "h_prev" (this unit's h_{t-1}), "a_r", "a_z", "a_n" (the
        pre-activations), "rpart" (n's recurrent part after the reset gate: r·(W_hn h + b_hn), or
        W_hn (r ⊙ h) with reset "before"), "x" (the input vector at t) and "reset" ("after"/"before").
    """
    v = dict(values)
    z, n, h_prev = v["z"], v["n"], v.get("h_prev")
    fields = {k: fmt(v.get(k)) for k in ("r", "z", "n", "h", "h_prev", "a_r", "a_z", "a_n", "rpart")}
    fields.update(kept=fmt(None if h_prev is None else z * h_prev), written=fmt((1 - z) * n),
                  one_minus_z=fmt(1 - z), x=fmt_vector(v["x"]), title=escape(title), footer=escape(footer),
                  rpart_label="r · (W_hn h + b_hn)" if v.get("reset", "after") == "after" else "W_hn (r ⊙ h) + b_hn")
    for k in "rz":
        fields[f"fill_{k}"], fields[f"ink_{k}"] = _fill(v[k], 0.0, 1.0, SEQUENTIAL)
    fields["fill_n"], fields["ink_n"] = _fill(n, -1.0, 1.0, DIVERGING)
    return gru_template().substitute(fields)


def one_line(svg):
    """The SVG on one line, so that markdown cannot read its indentation as a code block."""
    return " ".join(line.strip() for line in svg.splitlines() if not line.strip().startswith("<!--"))


def draw(declaration, values, title="", footer=""):
    """The diagram of the declaration's cell (the LSTM's or the GRU's) with `values` filled in."""
    by_family = {"lstm": cell_svg, "gru": gru_svg}
    if declaration.family not in by_family:
        raise ValueError(f"no diagram for a {declaration.title} yet; cells drawn: {', '.join(by_family)}")
    return by_family[declaration.family](values, title, footer)
