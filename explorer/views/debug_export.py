"""Page: take the results away: the trace, the findings, an LSTMVis project, the figures as HTML."""
import streamlit as st

from explorer import debug_cache, heatmaps
from explorer import debug_results as dr
from explorer import debug_session as ds
from explorer import diagnostics_figures as dfig
from lstm_core import export

CSV_ROWS_LIMIT = 5_000_000  # ~200 MB of CSV; above it the NPZ

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


def download(where, label, data, file_name, key, mime="application/octet-stream", help=None):
    where.download_button(label, data, file_name=file_name, mime=mime, key=key, on_click="ignore", help=help)


st.subheader("The trace")
rows = int(tr.mask.sum()) * tr.num_layers * tr.num_directions * (5 * tr.hidden_size + tr.h.shape[-1])
st.markdown(f"Every gate and state of every layer, direction, step and sequence at full resolution "
            f"({tr.nbytes() / 2**20:,.1f} MiB in memory, {rows:,} rows in the long format).")
c1, c2, c3, c4 = st.columns(4)
download(c1, "trace.npz", lambda: export.npz_bytes(tr), f"{stem}_trace.npz", "dbg_dl_npz",
         help="numpy.load: i, f, g, o, c, h (L*D, T, B, H), mask, lengths, h_n, c_n")
if rows <= CSV_ROWS_LIMIT:
    download(c2, "trace.csv (long format)", lambda: dr.trace_csv(tr), f"{stem}_trace.csv", "dbg_dl_csv", "text/csv",
             help="layer, direction, step, batch, unit, gate, value; padding left out")
    download(c3, "trace.parquet (long format)", lambda: dr.trace_parquet(tr), f"{stem}_trace.parquet",
             "dbg_dl_parquet", help="the CSV's columns, typed and compressed: pandas.read_parquet")
else:
    c2.info(f"CSV and parquet are offered up to {CSV_ROWS_LIMIT:,} rows; take the NPZ.")
download(c4, "LSTMVis project (.zip)", lambda: dr.lstmvis_zip(tr, seqs.tokens, stem), f"{stem}_lstmvis.zip",
         "dbg_dl_lstmvis", "application/zip",
         help="states.hdf5 (c, h and the gates i, f, o of every layer), train.hdf5, words.dict, lstm.yml: unzip it "
              "under LSTMVis's data directory")

st.subheader("The findings")
gspec = ctx.gradient_spec()
st.markdown(f"{len(report.findings)} finding(s)"
            + ("" if gspec else "; without the gradient flow (compute it on the Gradient flow view to include it)")
            + ". The JSON holds every table behind them.")
c1, c2, _ = st.columns(3)
download(c1, "findings.csv", dr.findings_csv(report.findings), f"{stem}_findings.csv", "dbg_dl_findings", "text/csv")
download(c2, "report.json", lambda: dr.report_json(report), f"{stem}_report.json", "dbg_dl_report",
         "application/json")

st.subheader("Figures as standalone HTML")
where = f"layer {layer}{' reverse' if d else ''}"
st.markdown(f"Interactive (zoom, hover), plotly.js inside, for {where}, sequence {seq} (as chosen on the views).")
figs = {
    "gate heatmaps": ("dbg_dl_heatmaps", lambda: heatmaps.gate_heatmaps(
        {k: dr.field_rows(tr, k, layer, d, seq) for k in "ifgoch"}, dr.input_rows(seqs, seq),
        seqs.feature_names or [f"x{k}" for k in range(seqs.input_size)], labels=dr.step_labels(seqs, seq),
        colorbars="panel")),
    "saturation": ("dbg_dl_saturation", lambda: dfig.saturation_map(report.saturation, layer, d)),
    "memory": ("dbg_dl_memory", lambda: dfig.time_constants(report.memory, layer, d)),
    "cell-state growth": ("dbg_dl_growth", lambda: dfig.cell_state_growth(tr.get("c", layer, d).numpy(),
                                                                          report.cell_growth, layer, d)),
    "findings table": ("dbg_dl_findings_fig", lambda: dfig.findings_table(report.findings)),
}
if report.gradient_flow is not None:
    figs["gradient flow"] = ("dbg_dl_gradients", lambda: dfig.gradient_flow(report.gradient_flow))
wspec = st.session_state.get("dbg_wi_spec")
if wspec is not None and wspec.stop < tr.T and wspec.layer < m.num_layers and wspec.direction < ctx.directions:
    figs["what-if"] = ("dbg_dl_whatif", lambda: (lambda r: dfig.intervention_effect(
        r.effect, r.output_change, "h", wspec.steps))(debug_cache.what_if(ctx.mkey, ctx.spec, wspec, m, ctx.data)))
cols = st.columns(4)
for j, (label, (key, build)) in enumerate(figs.items()):
    download(cols[j % 4], label, lambda build=build: dr.figure_html(build()), f"{stem}_{key[7:]}.html", key,
             "text/html")
