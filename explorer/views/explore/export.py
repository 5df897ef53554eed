"""Page: share the view (its URL, its settings); download the trace and the figures (ui/downloads.py)."""
import json
from dataclasses import asdict
from urllib.parse import urlencode

import streamlit as st

from explorer.figures import saturation
from explorer.ui import cache, downloads, sidebar

choice = sidebar.current()
tr = sidebar.run_or_stop(choice)
choice = sidebar.view_controls(choice, sidebar.VIEW_PARTS)  # the View row: sidebar.py
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
downloads.trace_section(tr, "dl_", tokens=cache.subject(m, spec, up).seqs.tokens)

st.header("Figures as standalone HTML")
st.markdown("Interactive (zoom, hover) and self-contained: plotly.js is inside each file.")
units = tuple(u for u in st.session_state.get("units", [0]) if u < m.hidden_size) or (0,)
unit = min(int(st.session_state.get("cell_unit", 0)), m.hidden_size - 1)
downloads.figure_buttons({
    "gate heatmaps": ("heatmaps", lambda: cache.heatmap_figure(m, spec, v, up, "panel"), "gate_heatmaps"),
    "unit traces": ("units", lambda: cache.unit_figure(m, spec, v, units, _upload=up), "unit_traces"),
    "saturation": ("saturation", lambda: saturation.saturation(cache.saturation_groups(m, spec, up))),
    "cell update": ("cell", lambda: cache.cell_figure(m, spec, v, unit, up), "cell_update"),
}, "dl_")
