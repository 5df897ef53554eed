"""explorer: the Streamlit app that shows an LSTM's gates over time, step by step.

Run it with `streamlit run explorer/app.py` from the repository root.

Layout (STYLE.md, "Streamlit apps with their logic kept out of the UI"):
    app.py        the entry script: page config and `st.navigation`, nothing else
    views/        one thin script per page: read widgets, call logic, render
    controls.py   the shared sidebar: widgets -> settings dataclasses
    cache.py      every st.cache_* in the app: models, inputs, traces, figures
    settings.py   the settings dataclasses and the size limits (pure)
    signals.py    input generators and upload/text parsing (pure numpy)
    demo.py       the hand-wired random model, the "demo" weights source (pure torch)
    task_models.py shipped and trained task models as the views' source and input
    trainer.py    training in a background thread for the Train page (start, view, stop)
    downsample.py min/max-preserving reduction of long sequences (pure numpy)
    raster.py     our own colouring of heatmaps into PNG images (pure numpy + PIL)
    heatmaps.py   the gate heatmap figure (pure plotly)
    figures.py    unit traces, saturation, cell update, step lines (pure plotly)
    walkthrough.py the "split Z into stripes" numbers of one step (pure torch)
    diagram.py    the cell diagram of assets/lstm_cell.svg with live values
    demo_figures.py, diagnostics_figures.py  task and diagnostics figures (pure plotly)

Only app.py, controls.py, cache.py and views/ import streamlit. Dimension letters are
those of `lstm_core`: T steps, B sequences, I input features, H hidden units,
P features of h, L layers, D directions.

Adding a page: put a script in views/ and one `st.Page` line in app.py's PAGES.
app.py draws the shared sidebar before every page; a page that needs the current
model and trace calls `controls.current()` and `controls.run_or_stop(choice)`,
as views/gates.py does.

The "Debug your model" pages (views/debug_*.py, issue 6) work on an uploaded model
instead, without the sidebar: debugging.py, debug_results.py, debug_figures.py and
debug_example.py are pure; debug_session.py (their state) and debug_cache.py (their
caches) import streamlit too. See the README's "Debug your model in the app".
"""
