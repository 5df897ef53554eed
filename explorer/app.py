"""LSTM Gate Explorer: `streamlit run explorer/app.py` from the repository root.

The entry script only builds the navigation and its frame (STYLE.md): the shared
sidebar is drawn here, so its widgets keep their values on every page (a widget
drawn in a page script is a different widget on each page). To add a page, put
its script in explorer/views/ and one st.Page line in PAGES; a new section (the
training pages of issue 5, the debugging pages of issue 6) is one more key.
"""
import os
import sys
from pathlib import Path

import streamlit as st
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts explorer/ on the path, not the repository
    sys.path.insert(0, str(ROOT))

# One intra-op thread per computation: on a shared 2-core machine the default (one per core)
# spin-waits against other work; measured trace at T=500, H=128, L=2, B=4 under load: median
# 290 ms (outliers 3.6 s) with 2 threads, 40 ms with 1. A classroom server runs many sessions
# at once, so parallelism across sessions beats parallelism inside one. LSTM_EXPLORER_THREADS overrides.
torch.set_num_threads(int(os.environ.get("LSTM_EXPLORER_THREADS", 1)))

st.set_page_config(page_title="LSTM Gate Explorer", page_icon=":material/memory:", layout="wide",
                   initial_sidebar_state=340)  # px: room for two number inputs side by side

PAGES = {
    "Explore": [
        st.Page("views/gates.py", title="Gate heatmaps", icon=":material/grid_on:", default=True),
        st.Page("views/units.py", title="Units and saturation", icon=":material/scatter_plot:", url_path="units"),
        st.Page("views/step.py", title="Step through a cell", icon=":material/footprint:", url_path="step"),
        st.Page("views/unit_finder.py", title="Unit finder", icon=":material/manage_search:", url_path="finder"),
        st.Page("views/text_view.py", title="Text view", icon=":material/text_fields:", url_path="text"),
    ],
    "Train": [
        st.Page("views/training.py", title="Train a model", icon=":material/model_training:", url_path="train"),
    ],
    "Share": [
        st.Page("views/export.py", title="Export and share", icon=":material/download:", url_path="export"),
    ],
    # Bring your own trained model and data: these pages keep their own state
    # (explorer/debug_session.py) and have no shared sidebar; their url paths start with "debug".
    "Debug your model": [
        st.Page("views/debug_load.py", title="Load model and data", icon=":material/upload_file:", url_path="debug"),
        st.Page("views/debug_findings.py", title="Findings", icon=":material/troubleshoot:",
                url_path="debug_findings"),
        st.Page("views/debug_views.py", title="Diagnostic views", icon=":material/monitoring:", url_path="debug_views"),
        st.Page("views/debug_gates.py", title="Gates of your model", icon=":material/grid_on:", url_path="debug_gates"),
        st.Page("views/debug_whatif.py", title="What-if", icon=":material/science:", url_path="debug_whatif"),
        st.Page("views/debug_export.py", title="Take the results away", icon=":material/download:",
                url_path="debug_export"),
        st.Page("views/check.py", title="Check your implementation", icon=":material/rule:", url_path="debug_check"),
    ],
}

from explorer import controls  # noqa: E402  (after the path fix above)

page = st.navigation(PAGES, position="top")
if not page.url_path.startswith("debug"):  # the debug pages use an uploaded model, not the sidebar's
    controls.sidebar()
page.run()
