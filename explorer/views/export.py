"""Page: download the trace (NPZ, CSV, parquet) and the figures (standalone HTML); share the view."""
import io
import json
from dataclasses import asdict
from urllib.parse import urlencode

import streamlit as st

from explorer import cache, controls, figures
from lstm_core import export

CSV_ROWS_LIMIT = 5_000_000  # ~200 MB of CSV; above it NPZ or parquet


def html_bytes(build):
    """A deferred download: the figure built at click time, as standalone HTML with plotly.js inside
    (no internet needed to open it, e.g. in a classroom)."""
    return lambda: build().to_html(include_plotlyjs=True, full_html=True).encode("utf-8")


choice = controls.current()
tr = controls.run_or_stop(choice)
m, spec, v, up = choice.model, choice.input, choice.view, choice.upload

st.header("Share this view")
params = st.query_params.to_dict()
st.markdown("Every control except an uploaded file lives in the page's address: **copy the URL from "
            "the browser's address bar** (or below) and whoever opens it sees this view, computed again.")
base = st.context.url or ""
st.code(base + ("?" + urlencode(params, doseq=True) if params else ""), language=None)
st.download_button("settings.json", json.dumps({"model": asdict(m), "input": asdict(spec), "view": asdict(v)},
                                               indent=2), file_name="settings.json", mime="application/json",
                   key="dl_settings", on_click="ignore")

st.header("Trace data")
rows = int(tr.mask.sum()) * tr.num_layers * tr.num_directions * (5 * tr.hidden_size + tr.h.shape[-1])
st.markdown(f"Every gate and state of every layer, direction, step and sequence at full resolution: "
            f"{tr.nbytes() / 2**20:,.1f} MiB in memory, {rows:,} rows in the long format "
            f"(layer, direction, step, batch, unit, gate, value; padding left out).")
c1, c2, c3 = st.columns(3)
c1.download_button("trace.npz", lambda: export.npz_bytes(tr), file_name="trace.npz",
                   mime="application/octet-stream", key="dl_npz", on_click="ignore",
                   help="numpy.load: i, f, g, o, c, h (L*D, T, B, H), mask, lengths, h_n, c_n")


def csv_bytes():
    buf = io.StringIO()
    export.to_csv(tr, buf)
    return buf.getvalue().encode("utf-8")


def parquet_bytes():
    buf = io.BytesIO()
    export.to_parquet(tr, buf)
    return buf.getvalue()


if rows <= CSV_ROWS_LIMIT:
    c2.download_button("trace.csv (long format)", csv_bytes, file_name="trace.csv", mime="text/csv",
                       key="dl_csv", on_click="ignore")
else:
    c2.info(f"CSV is offered up to {CSV_ROWS_LIMIT:,} rows; use NPZ or parquet for this trace.")
c3.download_button("trace.parquet (long format)", parquet_bytes, file_name="trace.parquet",
                   mime="application/octet-stream", key="dl_parquet", on_click="ignore")

st.header("Figures as standalone HTML")
st.markdown("Interactive (zoom, hover) and self-contained: plotly.js is inside each file.")
units = tuple(u for u in st.session_state.get("units", [0]) if u < m.hidden_size) or (0,)
unit = min(int(st.session_state.get("cell_unit", 0)), m.hidden_size - 1)
c1, c2, c3, c4 = st.columns(4)
c1.download_button("gate heatmaps", html_bytes(lambda: cache.heatmap_figure(m, spec, v, up, "panel")),
                   file_name="gate_heatmaps.html", mime="text/html", key="dl_heatmaps", on_click="ignore")
c2.download_button("unit traces", html_bytes(lambda: cache.unit_figure(m, spec, v, units, _upload=up)),
                   file_name="unit_traces.html", mime="text/html", key="dl_units", on_click="ignore")
c3.download_button("saturation", html_bytes(lambda: figures.saturation(cache.saturation_groups(m, spec, up))),
                   file_name="saturation.html", mime="text/html", key="dl_saturation", on_click="ignore")
c4.download_button("cell update", html_bytes(lambda: cache.cell_figure(m, spec, v, unit, up)),
                   file_name="cell_update.html", mime="text/html", key="dl_cell", on_click="ignore")
