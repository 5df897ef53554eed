"""LSTM Gate Explorer: `streamlit run explorer/app.py` from the repository root.

The entry script only builds the navigation and its frame (STYLE.md): the page list
and, before every page but the Debug ones, the shared sidebar (ui/sidebar.py), drawn here
so its widgets keep their values on every page (a widget drawn in a page script is a
different widget on each page). To add a page, put its script under explorer/views/<section>/,
its path in ui/state.py and one st.Page line in PAGES; a new section is one more key.
"""
import os
import sys
from pathlib import Path

import streamlit as st
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts explorer/ on the path, not the repository
    sys.path.insert(0, str(ROOT))

from explorer.ui import frame, lessons, sidebar, state  # noqa: E402  (after the path fix above)

# One intra-op thread per computation: on a shared 2-core machine the default (one per core)
# spin-waits against other work; measured trace at T=500, H=128, L=2, B=4 under load: median
# 290 ms (outliers 3.6 s) with 2 threads, 40 ms with 1. A classroom server runs many sessions
# at once, so parallelism across sessions beats parallelism inside one. LSTM_EXPLORER_THREADS overrides.
torch.set_num_threads(int(os.environ.get("LSTM_EXPLORER_THREADS", 1)))

# A local PNG, served by Streamlit itself: a ":material/...:" or emoji page icon makes the browser
# fetch the favicon from an internet host, which fails offline (issue 10, item 8).
ICON = str(ROOT / "assets" / "favicon.png")
st.set_page_config(page_title="LSTM Gate Explorer", page_icon=ICON, layout="wide",
                   initial_sidebar_state=340)  # px: room for two number inputs side by side

# /?lesson=<id>&slide=<n> opens a slide (issue 13); present=1 is the presenter view, with no
# navigation and no sidebar. The page set never depends on the URL: when the lesson page was the
# default whenever the URL named a lesson, it moved to "/" and /lesson?... (every link the app hands
# out, and the URL after any slide change) opened on "page not found" (issue 21, item 1).
LESSON_FIRST = "lesson" in st.query_params or "lesson_data" in st.query_params
PRESENT = st.query_params.get("present") == "1"

PAGES = {
    "Explore": [
        st.Page(state.GATES, title="Gate heatmaps", icon=":material/grid_on:", default=True),
        st.Page(state.UNITS, title="Units and saturation", icon=":material/scatter_plot:", url_path="units"),
        st.Page(state.STEP, title="Step through a cell", icon=":material/footprint:", url_path="step"),
        st.Page(state.FINDER, title="Unit finder", icon=":material/manage_search:", url_path="finder"),
        st.Page(state.TEXT, title="Text view", icon=":material/text_fields:", url_path="text"),
    ],
    "Lessons": [
        st.Page(state.LESSONS, title="Lessons", icon=":material/school:", url_path="lessons"),
        st.Page(state.LESSON, title="Present a lesson", icon=":material/slideshow:", url_path="lesson"),
        st.Page(state.COMPARE, title="Compare models", icon=":material/view_column:", url_path="compare"),
    ],
    "Train": [
        st.Page(state.TRAIN, title="Train a model", icon=":material/model_training:", url_path="train"),
    ],
    "Share": [
        st.Page(state.EXPORT, title="Export and share", icon=":material/download:", url_path="export"),
    ],
    # Bring your own trained model and data: these pages keep their own state (ui/subjects.py)
    # and have no shared sidebar; their url paths start with state.DEBUG_URL_PREFIX.
    "Debug your model": [
        st.Page(state.DEBUG_LOAD, title="Load model and data", icon=":material/upload_file:", url_path="debug"),
        st.Page(state.DEBUG_FINDINGS, title="Findings", icon=":material/troubleshoot:", url_path="debug_findings"),
        st.Page(state.DEBUG_VIEWS, title="Diagnostic views", icon=":material/monitoring:", url_path="debug_views"),
        st.Page(state.DEBUG_GATES, title="Gates of your model", icon=":material/grid_on:", url_path="debug_gates"),
        st.Page(state.DEBUG_WHATIF, title="What-if", icon=":material/science:", url_path="debug_whatif"),
        st.Page(state.DEBUG_EXPORT, title="Take the results away", icon=":material/download:",
                url_path="debug_export"),
        st.Page(state.DEBUG_CHECK, title="Check your implementation", icon=":material/rule:", url_path="debug_check"),
    ],
}

page = st.navigation(PAGES, position="hidden" if PRESENT else "top")
if LESSON_FIRST and page.url_path == "":  # the root form of a link: on to /lesson, query and all
    st.switch_page(state.LESSON, query_params=st.query_params.to_dict())
# the debug pages use an upload, the lesson pages their own models, the Train page its own task and
# variant (beside the sidebar's, two of each: issue 21, item 11)
if not page.url_path.startswith(state.DEBUG_URL_PREFIX) and page not in PAGES["Lessons"] + PAGES["Train"]:
    sidebar.sidebar()
    lessons.save_box_for(sidebar.current(), page.url_path)  # "Save this view as a slide" (issue 13)
elif not PRESENT:
    frame.no_sidebar()  # else the sidebar of the page before stays open, empty (issue 21)
try:
    page.run()
finally:  # also after st.stop: what the page's URL holds now, for Export's link (issue 21: it opened Export)
    if page in PAGES["Explore"]:
        st.session_state[state.VIEWED] = (page.url_path, page.title,
                                          {k: st.query_params.get_all(k) for k in st.query_params})
