"""Page: the gate heatmaps and unit traces of the uploaded model on the uploaded data."""
import streamlit as st

from explorer import debug_figures, figures, heatmaps
from explorer import debug_results as dr
from explorer import debug_session as ds

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

panels = [k for k in FIELDS if k in panels]
fields = {k: dr.field_rows(tr, k, layer, d, seq) for k in panels}  # (U, T) each, NaN on padding
names = seqs.feature_names or [f"x{k}" for k in range(seqs.input_size)]
fig = heatmaps.gate_heatmaps(fields, dr.input_rows(seqs, seq), names, labels=dr.step_labels(seqs, seq))
st.plotly_chart(debug_figures.mark_row(fig, unit), key="dbg_heatmaps", config=CONFIG)
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
    st.plotly_chart(figures.unit_traces(dr.unit_fields(tr, names, layer, d, seq, units), units),
                    key="dbg_unit_traces", config=CONFIG)
st.subheader(f"Cell update of unit {unit}")
kept, written = tr.cell_parts(layer, d)  # (T, B, H) each
part = lambda a: a[:, seq, unit].numpy()  # noqa: E731
st.plotly_chart(figures.cell_update(part(tr.get("c", layer, d)), part(kept), part(written), unit),
                key="dbg_gates_cell", config=CONFIG)
