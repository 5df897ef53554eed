"""The download buttons of both export pages (Explore's and Debug's): one exporter, logic/exports.py.

Every button is deferred (`on_click="ignore"`, its bytes built when clicked), so a page
never pays for an export nobody takes. `prefix` keeps the two pages' widget keys apart.
"""
import streamlit as st

from explorer.logic import exports


def button(where, label, data, file_name, key, mime="application/octet-stream", help=None):
    where.download_button(label, data, file_name=file_name, mime=mime, key=key, on_click="ignore", help=help)


def trace_section(tr, prefix, stem="", tokens=None):
    """The trace at full resolution: NPZ, long-format CSV and parquet, and an LSTMVis project."""
    name = f"{stem}_" if stem else ""
    rows = exports.long_rows(tr)
    st.markdown(f"Every gate and state of every layer, direction, step and sequence at full resolution: "
                f"{tr.nbytes() / 2**20:,.1f} MiB in memory, {rows:,} rows in the long format "
                f"(layer, direction, step, batch, unit, gate, value; padding left out).")
    c1, c2, c3, c4 = st.columns(4)
    button(c1, "trace.npz", lambda: exports.trace_npz(tr), f"{name}trace.npz", f"{prefix}npz",
           help=f"numpy.load: {', '.join(tr.fields)} (L*D, T, B, H), mask, lengths, h_n"
                + (", c_n" if tr.c_n is not None else ""))
    if rows <= exports.CSV_ROWS_LIMIT:
        button(c2, "trace.csv (long format)", lambda: exports.trace_csv(tr), f"{name}trace.csv", f"{prefix}csv",
               "text/csv", help="layer, direction, step, batch, unit, gate, value; padding left out")
        button(c3, "trace.parquet (long format)", lambda: exports.trace_parquet(tr), f"{name}trace.parquet",
               f"{prefix}parquet", help="the CSV's columns, typed and compressed: pandas.read_parquet")
    else:
        c2.info(f"CSV and parquet are offered up to {exports.CSV_ROWS_LIMIT:,} rows; take the NPZ.")
    button(c4, "LSTMVis project (.zip)", lambda: exports.lstmvis_zip(tr, tokens, stem or "lstm_core"),
           f"{name}lstmvis.zip", f"{prefix}lstmvis", "application/zip",
           help=f"states.hdf5 ({', '.join(tr.declaration.states[::-1])} and the gates "
                f"{', '.join(tr.declaration.gates)} of every layer), train.hdf5, words.dict, lstm.yml: unzip it "
                "under LSTMVis's data directory")


def figure_buttons(figures, prefix, stem=""):
    """One standalone-HTML button per figure, four to a row: {label: (key suffix, build)} or
    {label: (key suffix, build, file name without .html)}; plotly.js is inside each file."""
    name = f"{stem}_" if stem else ""
    cols = st.columns(4)
    for j, (label, (key, build, *file)) in enumerate(figures.items()):
        button(cols[j % 4], label, lambda build=build: exports.figure_html(build()),
               f"{name}{file[0] if file else key}.html", f"{prefix}{key}", "text/html")
