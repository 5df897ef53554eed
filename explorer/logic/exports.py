"""Everything the app lets you take away, as bytes: one exporter for the Explore and Debug pages.

    trace_npz(tr), trace_csv(tr), trace_parquet(tr)   # every gate and state at full resolution
    lstmvis_zip(tr, tokens, name)                    # an LSTMVis project
    figure_html(fig)                                 # a standalone, offline HTML figure
    findings_csv(report.findings), report_json(report)
    view_link(url, "export", "units", query)          # the link that opens a view, from another page's URL

Pure (lstm_core.io.export and the standard library): no streamlit. The pages offer them as
deferred downloads (built when clicked), so a page never pays for an export nobody takes.
"""
import io
import json
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urlencode

from lstm_core.io import export
from lstm_core.io.lstmvis import write_lstmvis

CSV_ROWS_LIMIT = 5_000_000  # ~200 MB of CSV; above it the NPZ


def long_rows(tr):
    """Rows of the long format (layer, direction, step, batch, unit, gate, value), padding left out:
    every field the cell records (an LSTM's i, f, g, o, c, h; a GRU's r, z, n, h), each H units wide
    (h under a projection: P)."""
    return int(tr.mask.sum()) * tr.num_layers * tr.num_directions * sum(v.shape[-1] for v in tr.values.values())


def trace_npz(tr):
    """numpy.load-able: every field of the cell (i, f, g, o, c, h; r, z, n, h) (L*D, T, B, H), mask,
    lengths, h_n, and c_n where the cell has one."""
    return export.npz_bytes(tr)


def findings_csv(findings):
    return findings.to_csv(index=False).encode("utf-8")


def report_json(report):
    """The findings and every table of the report as JSON (diagnostics.Report.to_dict)."""
    return json.dumps(report.to_dict(), indent=1, allow_nan=True).encode("utf-8")


def trace_csv(trace):
    buf = io.StringIO()
    export.to_csv(trace, buf)
    return buf.getvalue().encode("utf-8")


def trace_parquet(trace):
    """The long format of trace_csv as parquet bytes (needs pyarrow): typed, compressed, fast to read."""
    buf = io.BytesIO()
    export.to_parquet(trace, buf)
    return buf.getvalue()


def lstmvis_zip(trace, tokens=None, name="lstm_core"):
    """The LSTMVis project of lstm_core.io.lstmvis.write_lstmvis (states.hdf5, train.hdf5, words.dict,
    lstm.yml, with the gates) as the bytes of a zip with one folder `name`."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / name
        write_lstmvis(trace, folder, tokens=tokens, gates=True, name=name)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(folder.iterdir()):
                z.write(f, f"{name}/{f.name}")
    return buf.getvalue()


def figure_html(fig):
    """A standalone HTML file with plotly.js inside: opens offline."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")


def view_link(url, here, there, query):
    """The link that opens page `there` (a url path; "" the default page) with `query` ({name: [values]}),
    built from `url`, the browser's URL of page `here` (st.context.url; None: a link from the app's root)."""
    root = (url or "").rstrip("/")
    if here and root.endswith("/" + here):
        root = root[: -len(here) - 1]
    return f"{root}/{there}" + ("?" + urlencode(query, doseq=True) if query else "")
