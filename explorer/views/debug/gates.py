"""Page: the gate heatmaps and unit traces of the uploaded model on the uploaded data; the panels are
the fields its cell declares (an LSTM's i, f, g, o, c, h; a GRU's r, z, n, h)."""
import streamlit as st

from explorer.figures import lines
from explorer.logic.settings import ViewSettings
from explorer.logic.subject import memory_update
from explorer.ui import cache
from explorer.ui import subjects as ds

CONFIG = {"displaylogo": False}

ctx = ds.context()
m, tr, seqs = ctx.model, ctx.trace, ctx.data.seqs
cell = tr.declaration
FIELDS = cell.names  # display order, gates first
if any(k not in FIELDS for k in st.session_state.get("dbg_panels", [])):  # panels of another cell's model
    del st.session_state["dbg_panels"]
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
signed = ", ".join(f.name for f in cell.fields if not f.is_gate)
st.caption(" ".join(notes + [f"Outlined: unit {unit}. Gates from 0 (closed) to 1 (open); {signed} signed, white "
                             f"at zero."] + [f"{k}: {note}." for k, note in cell.notes.items() if k in panels]))

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
update = memory_update(tr)
st.subheader(f"Memory update of unit {unit}: {update[3]}")
c, kept, written, _ = ctx.subject.cell_parts(layer, d, seq, unit)
st.plotly_chart(lines.cell_update(c, kept, written, unit, update=update),
                key="dbg_gates_cell", config=CONFIG)
