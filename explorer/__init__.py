"""explorer: the Streamlit app that shows an LSTM's gates over time, step by step.

Run it with `streamlit run explorer/app.py` from the repository root.

Layout (STYLE.md, "Streamlit apps with their logic kept out of the UI"), each layer importing
only the ones below it (tests/explorer/test_explorer_layers.py checks it):

    app.py       navigation only: the page list, and the shared sidebar before the Explore pages
    views/       thin page scripts, by section: explore/, train/, debug/, lessons/ (read widgets, call, render)
    ui/          the Streamlit side: sidebar.py (widgets -> settings), state.py (session keys and page
                 paths), cache.py (every st.cache_*), messages.py (an AppError and its fix buttons),
                 subjects.py (the Debug pages' uploads -> a Subject), downloads.py (the export buttons),
                 lessons.py and slides.py (a lesson's slides -> what they draw)
    logic/       pure Python and torch, no streamlit: settings, subject (model + sequences + trace),
                 models, inputs, uploads, diagnosis, exports, walkthrough, trainer, errors, example
    figures/     pure plotly, neither torch nor streamlit: heatmaps (one unit marker), lines, saturation,
                 diagnostics, text, diagram, downsample, raster, and style (colours, thresholds)

    views -> ui -> logic, figures -> lstm_core

One path for every page: the sidebar's settings (ui/cache.subject) or an upload
(ui/subjects.context) become a `logic.subject.Subject`, whose trace comes from the one trace
cache (ui/cache.trace_for) and whose slices every figure reads (ui/cache.heatmap).
Dimension letters are those of `lstm_core`: T steps, B sequences, I input features,
H hidden units, P features of h, L layers, D directions.

Adding a page: a script in views/<section>/, its path in ui/state.py, one st.Page line in
app.py's PAGES. A page on the sidebar's model calls `sidebar.current()` and
`sidebar.run_or_stop(choice)` (views/explore/gates.py); one on an upload calls
`subjects.context()` (views/debug/gates.py).
"""
