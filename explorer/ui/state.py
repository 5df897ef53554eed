"""Every page path and every session-state key the pages share: one place, so a name is never retyped.

Page paths are relative to explorer/app.py, as st.Page, st.page_link and st.switch_page
take them; PAGES maps the short names logic/ uses (diagnosis.Link.page) onto them. A
widget's own key stays in the page that draws it unless another page reads it.
"""

import streamlit as st


def upload_mb():
    """The one upload limit, in MB, of every file box: server.maxUploadSize of .streamlit/config.toml
    (issue 10, item 7: the model box said 200, the data box 20). A box never passes its own."""
    return int(st.get_option("server.maxUploadSize"))


def upload_help():
    return (f"up to {upload_mb():,} MB a file: server.maxUploadSize in .streamlit/config.toml, or "
            f"--server.maxUploadSize on the command line")


# --- pages --------------------------------------------------------------------------------------
GATES = "views/explore/gates.py"
UNITS = "views/explore/units.py"
STEP = "views/explore/step.py"
FINDER = "views/explore/unit_finder.py"
TEXT = "views/explore/text_view.py"
EXPORT = "views/explore/export.py"
TRAIN = "views/train/training.py"
DEBUG_LOAD = "views/debug/load.py"
DEBUG_FINDINGS = "views/debug/findings.py"
DEBUG_VIEWS = "views/debug/views.py"
DEBUG_GATES = "views/debug/gates.py"
DEBUG_WHATIF = "views/debug/whatif.py"
DEBUG_EXPORT = "views/debug/export.py"
DEBUG_CHECK = "views/debug/check.py"  # check your own LSTM implementation (issue 14)
LESSONS = "views/lessons/index.py"  # issue 13: the lessons, the slide viewer, the Compare page
LESSON = "views/lessons/slide.py"
COMPARE = "views/lessons/compare.py"
PAGES = {"gates": GATES, "units": UNITS, "step": STEP, "finder": FINDER, "text": TEXT, "export": EXPORT,
         "train": TRAIN, "debug_load": DEBUG_LOAD, "debug_findings": DEBUG_FINDINGS, "debug_views": DEBUG_VIEWS,
         "debug_gates": DEBUG_GATES, "debug_whatif": DEBUG_WHATIF, "debug_export": DEBUG_EXPORT, "debug_check": DEBUG_CHECK,
         "lessons": LESSONS, "lesson": LESSON, "compare": COMPARE}
DEBUG_URL_PREFIX = "debug"  # url paths of the pages without the shared sidebar (they use an upload)

# --- the Explore side: the sidebar ---------------------------------------------------------------
CHOICE = "explorer_choice"  # this run's sidebar.Choice
VIEWED = "explorer_viewed"  # (url path, title, {name: [values]}) of the last Explore page shown: Export's link
RUNS = "tr_runs"  # this session's training runs (trainer.Run), newest first
RUN = "tr_run"  # this session's latest run, the Train page's
# The Train page's button that makes a run's weights at a step the sidebar's model; the sidebar's
# message for "trained" weights without a run names it (it said 'Open in the explorer': issue 21, item 11).
OPEN_TRAINED = "Open step {} in the explorer"

# --- the Debug side: what was uploaded and chosen (ui/subjects.py) -------------------------------
MODEL, LOAD_CHOICE, DATA, VOCAB, SPEC, GRADIENTS = ("dbg_model_file", "dbg_choice", "dbg_data_file",
                                                    "dbg_vocab_file", "dbg_spec", "dbg_gradients")
WHATIF_SPEC = "dbg_wi_spec"  # the last what-if run: a diagnosis.WhatIfSpec
