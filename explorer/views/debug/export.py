"""Page: take the results away: the trace, the findings, an LSTMVis project, the figures as HTML."""
import streamlit as st

from explorer.figures import diagnostics as dfig
from explorer.figures import saturation
from explorer.logic import exports
from explorer.logic.settings import ViewSettings
from explorer.ui import cache, downloads, state
from explorer.ui import subjects as ds
from lstm_core.analysis import diagnostics as dg

ctx = ds.context()
m, tr, seqs = ctx.model, ctx.trace, ctx.data.seqs
ds.keep("dbg_layer", "dbg_dir", "dbg_unit", "dbg_seq")
layer = min(st.session_state.get("dbg_layer", 0), m.num_layers - 1)
d = min(st.session_state.get("dbg_dir", 0), ctx.directions - 1)
seq = min(st.session_state.get("dbg_seq", 0), seqs.batch_size - 1)
report = ctx.report()
stem = ctx.mf.name.split(".")[0] or "model"
st.header("Take the results away")
ctx.caption()

st.subheader("The trace")
downloads.trace_section(tr, "dbg_dl_", stem, seqs.tokens)

st.subheader("The findings")
gspec = ctx.gradient_spec()
st.markdown(f"{len(report.findings)} finding(s)"
            + ("" if gspec else "; without the gradient flow (compute it on the Gradient flow view to include it)")
            + ". The JSON holds every table behind them.")
c1, c2, _ = st.columns(3)
downloads.button(c1, "findings.csv", exports.findings_csv(report.findings), f"{stem}_findings.csv",
                 "dbg_dl_findings", "text/csv")
downloads.button(c2, "report.json", lambda: exports.report_json(report), f"{stem}_report.json", "dbg_dl_report",
                 "application/json")

st.subheader("Figures as standalone HTML")
where = f"layer {layer}{' reverse' if d else ''}"
st.markdown(f"Interactive (zoom, hover), plotly.js inside, for {where}, sequence {seq} (as chosen on the views).")
roles = dg.roles(tr)
figs = {
    "gate heatmaps": ("heatmaps", lambda: cache.heatmap(ctx.subject, ViewSettings(layer, d, seq, tr.fields), "panel")),
    "saturation": ("saturation", lambda: saturation.saturation_map(report.saturation, layer, d)),
    "memory": ("memory", lambda: dfig.time_constants(report.memory, layer, d)),
}
if not roles.bounded:  # a GRU's h stays in −1..1: no growth to draw
    figs["cell-state growth"] = ("growth", lambda: dfig.cell_state_growth(tr.get(roles.memory, layer, d).numpy(),
                                                                          report.cell_growth, layer, d))
figs["findings table"] = ("findings_fig", lambda: dfig.findings_table(report.findings))
if report.gradient_flow is not None:
    figs["gradient flow"] = ("gradients", lambda: dfig.gradient_flow(report.gradient_flow))
wspec = st.session_state.get(state.WHATIF_SPEC)
if wspec is not None and wspec.stop < tr.T and wspec.layer < m.num_layers and wspec.direction < ctx.directions:
    figs["what-if"] = ("whatif", lambda: (lambda r: dfig.intervention_effect(
        r.effect, r.output_change, roles.output, wspec.steps))(cache.what_if(ctx.mkey, ctx.spec, wspec, m,
                                                                             ctx.data)))
downloads.figure_buttons(figs, "dbg_dl_", stem)
