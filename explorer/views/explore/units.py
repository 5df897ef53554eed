"""Page: saturation of every unit's gates, the chosen units' traces, and one unit's memory update
(an LSTM's c = f·c + i·g, a GRU's h = z·h + (1 − z)·n: read from the cell's declaration)."""
import streamlit as st

from explorer.figures import saturation
from explorer.logic.subject import memory_update
from explorer.ui import cache, sidebar

choice = sidebar.current()
tr = sidebar.run_or_stop(choice)
choice = sidebar.view_controls(choice, ("layer", "seq", "window"))  # the View row: sidebar.py
m, v = choice.model, choice.view
H = m.hidden_size
cell = tr.declaration


def select_units():
    """Saturation points picked in the chart -> the layer, direction and units of the traces below."""
    chosen = saturation.units_from_selection(st.session_state["saturation"].selection)
    if not chosen:
        return
    (layer, direction), units = max(chosen.items(), key=lambda kv: len(kv[1]))
    st.session_state["layer"], st.session_state["units"] = layer, units[:10]
    if m.bidirectional:
        st.session_state["direction"] = sidebar.DIRECTIONS[direction]


st.header("Saturation")
st.markdown(
    "Per unit, the fraction of steps a gate is **left-saturated** (< 0.1, nearly closed) against "
    "**right-saturated** (> 0.9, nearly open), as in Karpathy, Johnson and Fei-Fei (2015), *Visualizing and "
    "Understanding Recurrent Networks*, Section 4.2. "
    + ("A unit near the top left of *f* keeps its memory almost always; " if "f" in cell.gates else
       "A unit near the top right of *z* keeps its state almost always (z is the fraction kept); " if "z" in cell.gates
       else "") +
    "one on the diagonal is binary, switching between closed and open. "
    "**Click, box- or lasso-select points** to plot those units below.")
DEFAULT_UNITS = list(range(min(4, H)))
if any(u >= H for u in st.session_state.get("units", [])):
    st.session_state["units"] = [u for u in st.session_state["units"] if u < H]
selected = [(v.layer, v.direction, u) for u in st.session_state.get("units", DEFAULT_UNITS)]
titles = {k: f"{cell.field(k).title} {k}" + (" (keeps h)" if k in cell.notes and "keeps" in cell.notes[k] else "")
          for k in cell.gates}
sat = saturation.saturation(cache.saturation_groups(m, choice.input, choice.upload), selected, titles=titles)
st.plotly_chart(sat, key="saturation", on_select=select_units, selection_mode=("points", "box", "lasso"),
                config={"displaylogo": False})
fixed = {k: n for k, n in cache.fixed_notes(m).items() if n.endswith(" in this variant")}
if fixed:  # "f is fixed at 1", "i = 1 − f": a note that is an equation takes no "is" ("i is = 1 − f": issue 21)
    st.caption("In this variant, " + "; ".join(f"{k} {'' if n.startswith('=') else 'is '}"
                                               f"{n.removesuffix(' in this variant')}" for k, n in fixed.items()) + ".")
for k, note in cell.notes.items():  # what the cell itself says of a field: a GRU's "z keeps"
    if k not in fixed:
        st.caption(f"{note}.")

st.header("Unit traces")
units = st.multiselect(f"units of layer {v.layer}{' reverse' if v.direction else ''}", range(H), DEFAULT_UNITS,
                       key="units", bind="query-params", max_selections=10)
if units:
    fig = cache.unit_figure(m, choice.input, v, tuple(sorted(units)), _upload=choice.upload)
    st.plotly_chart(fig, key="unit_traces", config={"displaylogo": False})
    if fig.layout.meta["note"]:
        st.caption(fig.layout.meta["note"])
else:
    st.info("Pick units above, or select points in the saturation plot.")

memory, kept, written, equation = memory_update(cell)
st.header("Cell update" if memory != "h" else "State update")
st.markdown(f"What the {cell.field(memory).title} is made of at every step: the part of its previous value that "
            f"was **kept**, ${kept}$, plus what was **written**, ${written}$; they add up to ${memory}_t$: "
            f"${equation}$.".replace("⊙", r"\odot ").replace("−", "-"))
if st.session_state.get("cell_unit", 0) >= H:
    st.session_state["cell_unit"] = 0
# a model that knows its task opens on the unit the caption names (issue 10, item 9), not unit 0
found = cache.caption(m, choice.input, v.layer, v.direction)[1] if cache.knows_task(m, choice.input) else None
unit = st.selectbox("unit", range(H), index=found["unit"] if found else 0, key="cell_unit", bind="query-params")
if found:
    st.caption(f"Unit {found['unit']} is the one the caption on the Gate heatmaps page names.")
st.plotly_chart(cache.cell_figure(m, choice.input, v, unit, choice.upload), key="cell_update",
                config={"displaylogo": False})
