"""Page: share the view (its URL, its settings); download the trace and the figures (ui/downloads.py)."""
import json
from dataclasses import asdict

import streamlit as st

from explorer.figures import saturation
from explorer.logic import exports
from explorer.ui import cache, downloads, sidebar, state

choice = sidebar.current()
tr = sidebar.run_or_stop(choice)
choice = sidebar.view_controls(choice, sidebar.VIEW_PARTS)  # the View row: sidebar.py
m, spec, v, up = choice.model, choice.input, choice.view, choice.upload

st.header("Share this view")
# The last Explore page shown, with its own controls (units, step, ...); on arriving here first, the heatmaps.
there, title, query = st.session_state.get(state.VIEWED) or ("", "Gate heatmaps", {})
query = {**query, **{k: st.query_params.get_all(k) for k in st.query_params}}  # the sidebar's, as changed here
st.markdown(f"Every control except an uploaded file lives in a page's address: whoever opens this link sees "
            f"**{title}** as you left it, computed again (or copy the URL from that page's address bar).")
st.code(exports.view_link(st.context.url, "export", there, query), language=None)
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
