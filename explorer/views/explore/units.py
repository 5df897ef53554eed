"""Page: saturation of every unit's gates, the chosen units' traces, and one unit's cell update."""
import streamlit as st

from explorer.figures import saturation
from explorer.ui import cache, sidebar

choice = sidebar.current()
tr = sidebar.run_or_stop(choice)
choice = sidebar.view_controls(choice, ("layer", "seq", "window"))  # the View row: sidebar.py
m, v = choice.model, choice.view
H = m.hidden_size


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
    "Understanding Recurrent Networks*, Section 4.2. A unit near the top left of *f* keeps its memory almost "
    "always; one on the diagonal is binary, switching between closed and open. "
    "**Click, box- or lasso-select points** to plot those units below.")
DEFAULT_UNITS = list(range(min(4, H)))
if any(u >= H for u in st.session_state.get("units", [])):
    st.session_state["units"] = [u for u in st.session_state["units"] if u < H]
selected = [(v.layer, v.direction, u) for u in st.session_state.get("units", DEFAULT_UNITS)]
sat = saturation.saturation(cache.saturation_groups(m, choice.input, choice.upload), selected)
st.plotly_chart(sat, key="saturation", on_select=select_units, selection_mode=("points", "box", "lasso"),
                config={"displaylogo": False})
fixed = cache.fixed_notes(m)
if fixed:  # "f is fixed at 1", "i = 1 − f": a note that is an equation takes no "is" ("i is = 1 − f": issue 21)
    st.caption("In this variant, " + "; ".join(f"{k} {'' if n.startswith('=') else 'is '}"
                                               f"{n.removesuffix(' in this variant')}" for k, n in fixed.items()) + ".")

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

st.header("Cell update")
st.markdown("What the cell state is made of at every step: the part of $c_{t-1}$ the forget gate **kept** "
            "($f_t c_{t-1}$) plus what the input gate **wrote** ($i_t g_t$); they add up to $c_t$.")
if st.session_state.get("cell_unit", 0) >= H:
    st.session_state["cell_unit"] = 0
# a model that knows its task opens on the unit the caption names (issue 10, item 9), not unit 0
found = cache.caption(m, choice.input, v.layer, v.direction)[1] if cache.knows_task(m, choice.input) else None
unit = st.selectbox("unit", range(H), index=found["unit"] if found else 0, key="cell_unit", bind="query-params")
if found:
    st.caption(f"Unit {found['unit']} is the one the caption on the Gate heatmaps page names.")
st.plotly_chart(cache.cell_figure(m, choice.input, v, unit, choice.upload), key="cell_update",
                config={"displaylogo": False})
