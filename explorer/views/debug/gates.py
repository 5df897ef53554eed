"""Page: the gate heatmaps and unit traces of the uploaded model on the uploaded data."""
import streamlit as st

from explorer.figures import lines
from explorer.logic.settings import ViewSettings
from explorer.ui import cache
from explorer.ui import subjects as ds

FIELDS = ("i", "f", "g", "o", "c", "h")
CONFIG = {"displaylogo": False}

ctx = ds.context()
m, tr, seqs = ctx.model, ctx.trace, ctx.data.seqs
ds.follow_link(m.num_layers, ctx.directions, m.hidden_size)
ds.keep("dbg_layer", "dbg_dir", "dbg_unit", "dbg_seq", "dbg_panels", "dbg_units")
st.header("Gates of your model")
ctx.caption()
layer, d, unit, seq = ctx.pick(unit_label="unit to outline")
panels = st.multiselect("panels", FIELDS, list(FIELDS), key="dbg_panels")
if not panels:
    st.info("Choose at least one panel.")
    st.stop()

view = ViewSettings(layer, d, seq, tuple(k for k in FIELDS if k in panels))
fig = cache.heatmap(ctx.subject, view, highlight=(unit, f"unit {unit}"))
st.plotly_chart(fig, key="dbg_heatmaps", config=CONFIG)
notes = [fig.layout.meta["note"]] if fig.layout.meta["note"] else []
if int(seqs.lengths[seq]) < tr.T:
    notes.append(f"Blank columns are padding: sequence {seq} has {int(seqs.lengths[seq])} of the batch's {tr.T} "
                 f"steps.")
st.caption(" ".join(notes + [f"Outlined: unit {unit}. Gates from 0 (closed) to 1 (open); g, c, h signed, white at "
                             f"zero."]))

st.subheader("Unit traces")
if any(u >= m.hidden_size for u in st.session_state.get("dbg_units", [])):
    del st.session_state["dbg_units"]
units = st.multiselect("units", range(m.hidden_size), [unit], key="dbg_units", max_selections=10)
if units:
    units = sorted(units)
    P = m.proj_size or m.hidden_size
    names = [k for k in FIELDS if k != "h" or all(u < P for u in units)]
    st.plotly_chart(lines.unit_traces(ctx.subject.unit_fields(names, layer, d, seq, units)[0], units),
                    key="dbg_unit_traces", config=CONFIG)
st.subheader(f"Cell update of unit {unit}")
c, kept, written, _ = ctx.subject.cell_parts(layer, d, seq, unit)
st.plotly_chart(lines.cell_update(c, kept, written, unit),
                key="dbg_gates_cell", config=CONFIG)
