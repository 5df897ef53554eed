"""Page: the findings of the diagnostics, most severe first; each opens the view that shows it."""
import streamlit as st

from explorer.logic import diagnosis as dr
from explorer.logic import exports
from explorer.ui import state
from explorer.ui import subjects as ds
from lstm_core.analysis import diagnostics as dg

ICONS = {dr.VIEWS_PAGE: ":material/monitoring:", dr.GATES_PAGE: ":material/grid_on:", dr.WHATIF_PAGE: ":material/science:"}
# pixel widths: "small"/"large" left every column as wide as the others, and cut `what` short
COLUMNS = {"severity": st.column_config.TextColumn("severity", width=80),
           "layer": st.column_config.NumberColumn("layer", width=60),
           "direction": st.column_config.NumberColumn("direction", width=80, help="0 forward, 1 reverse"),
           "unit": st.column_config.NumberColumn("unit", width=60),
           "gate": st.column_config.TextColumn("gate", width=60),
           "what": st.column_config.TextColumn("what", width=720),
           "view": st.column_config.TextColumn("view", width=110,
                                               help="the view that shows it: click the row, then its link")}

ctx = ds.context()
st.header("Findings")
ctx.caption()
report = ctx.report()
findings = report.findings
n = dr.counts(findings)
c1, c2, c3, c4 = st.columns(4)
c1.metric("warnings", n["warning"])
c2.metric("notes", n["info"])
c3.metric("units named", dr.units_named(report))  # with those of a row that groups several (issue 21)
gspec = ctx.gradient_spec()
c4.metric("gradient flow", "included" if gspec else "not yet")
if gspec is None:
    st.info("The gradient flow is not in these findings yet: it needs one backward pass per unit (seconds). "
            "Compute it on the Gradient flow view, bounded to a few units and sequences.")
    st.page_link(state.DEBUG_VIEWS, label="Gradient flow view", icon=":material/monitoring:",
                 query_params={"dbg_tab": "Gradient flow"})
else:
    roles = dg.roles(ctx.trace)  # an LSTM's c has its own gradient flow; a GRU's memory is its output h
    st.caption(f"Including the gradient flow of {gspec.max_units} unit(s) of h_T"
               f"{f' and of each {roles.memory}_T' if roles.memory != roles.output else ''}, over the first "
               f"{min(gspec.max_sequences or ctx.data.seqs.batch_size, ctx.data.seqs.batch_size)} sequence(s).")

if findings.empty:
    st.success("Nothing to report: no gate stuck, no dead unit"
               + ("." if dg.roles(ctx.trace).bounded else ", no growing cell state."))
    st.stop()
st.markdown("**Click a row** to open it: the links below it go to the view that shows it, with its layer and "
            "unit already chosen.")
event = st.dataframe(findings, key="dbg_findings", on_select="rerun", selection_mode="single-row", hide_index=True,
                     column_config=COLUMNS, placeholder="", selection_default={"selection": {"rows": [0]}},
                     column_order=[c for c in findings.columns if c != "direction" or ctx.directions == 2])
rows = event.selection.rows if event is not None else []
row = findings.iloc[rows[0] if rows else 0]
with st.container(border=True):
    st.markdown(f"**{row['severity']}**: {row['what']}")
    cols = st.columns(3)
    for col, link in zip(cols, dr.finding_links(row)):
        col.page_link(state.PAGES[link.page], label=link.label, query_params=dict(link.params), icon=ICONS[link.page])

st.subheader("Take the findings away")
c1, c2, _ = st.columns([1, 1, 3])
c1.download_button("findings.csv", exports.findings_csv(findings), file_name="findings.csv", mime="text/csv",
                   key="dbg_dl_findings_csv", on_click="ignore")
c2.download_button("report.json", lambda: exports.report_json(report), file_name="report.json",
                   mime="application/json", key="dbg_dl_report_json", on_click="ignore",
                   help="the findings and every table behind them (saturation, memory, cell growth, gradients)")
