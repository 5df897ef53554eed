"""The "Debug your model" pages on a torch.nn.GRU upload (issue 20): asked as a GRU, never taken
for "a 3-gate LSTM, coupled"; its findings, views, gates, what-if and exports render and say what
the GRU's gates do."""
import json

import pandas as pd
import pytest
import torch

from helpers import debug_models as dm
import lstm_core
from helpers import ok
from lstm_core.analysis import diagnostics as dg
from lstm_core.io.data import from_arrays
from test_explorer_debug_app import errors, frame, go, load_page, upload


def gru_pages():
    """The load page with the planted GRU's state dict and the example's walks uploaded, GRU chosen."""
    at = load_page()
    upload(at, "dbg_model_upload", "gru.pt", dm.torch_bytes(dm.planted_gru().state_dict()))
    q = at.selectbox(key="dbg_opt_variant")
    assert q.options[0].startswith("GRU: reset gate r, update gate z") and q.value is None
    assert "Choose the cell" in at.info[0].value and not at.success  # nothing loaded before the answer
    ok(q.select_index(0).run())
    ok(at.selectbox(key="dbg_opt_batch_first").select_index(1).run())  # nn.GRU(..., batch_first=True)
    x, lengths = dm.walks()
    at.radio(key="dbg_data_source").set_value("upload").run()
    upload(at, "dbg_data_upload", "walks.npz", dm.npz_bytes(x=x, lengths=lengths))
    return at, x, lengths


def reference(x, lengths, **kw):
    model = lstm_core.GRU.from_torch(dm.planted_gru())
    return model, dg.diagnose(model, from_arrays(x, lengths), **kw)


def test_a_gru_state_dict_is_asked_about_and_loads_as_a_gru():
    at, _, _ = gru_pages()
    assert at.success[0].value == "Loaded gru.pt: GRU, 6 -> 8, 1 layer(s)."
    table = at.table[0].value
    shown = dict(zip(table.iloc[:, 0], table.iloc[:, 1]))
    assert shown["cell"].startswith("GRU, variant after: two gates and no cell state")
    assert shown["note on z"].startswith("z keeps: h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}")
    assert not any("coupled" in str(v) for v in shown.values())
    assert "Ready." in at.markdown[-1].value and not errors(at)


def test_findings_of_a_gru_equal_lstm_core_and_name_its_gates():
    at, x, lengths = gru_pages()
    at = go(at, "findings")
    _, want = reference(x, lengths, gradients=False)
    shown = at.dataframe(key="dbg_findings").value
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), want.findings)
    assert "z stuck at 1: never writes (right-saturated at 100% of steps)" in shown.what.tolist()
    assert "r closed: the candidate ignores the past (left-saturated at 100% of steps)" in shown.what.tolist()


def test_views_gates_and_what_if_of_a_gru_render():
    at, x, lengths = gru_pages()
    for tab in ("Saturation", "Memory", "Cell state"):
        at = go(at, "views", {"dbg_tab": tab})
        assert not errors(at)
    at = go(at, "views", {"dbg_tab": "Gradient flow"})
    ok(at.button(key="dbg_grad_run").click().run())
    assert set(frame(at, "quantity", "ratio").quantity) == {"dh_T/dx_t"}
    assert "GRU(6 -> 8)" not in at.caption[0].value and "1 layer(s), GRU, after)" in at.caption[0].value
    at = go(at, "findings")
    assert any(c.value.startswith("Including the gradient flow of 8 unit(s) of h_T, over the first 5") for c in
               at.caption), [c.value for c in at.caption]
    at = go(at, "gates")
    heat = [t["name"] for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"] if t["type"] == "heatmap"]
    assert heat == ["r", "z", "n", "h"]
    at = go(at, "whatif")
    target = at.selectbox(key="dbg_wi_target")
    assert target.options == ["update gate z (keeps h; 1 − z writes)", "reset gate r", "candidate n",
                              "hidden state h"]
    assert target.help == "z: z keeps: h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}, as in torch, ONNX and Keras."
    at.radio(key="dbg_wi_action").set_value("clamp")
    target.set_value("z")
    at.number_input(key="dbg_wi_value").set_value(1.0)
    at.multiselect(key="dbg_wi_units").set_value([0])
    at.slider(key="dbg_wi_steps").set_value((10, 14))
    ok(at.button[-1].click().run())
    assert at.success[0].value == "Ran: z of unit(s) 0 of layer 0, steps 10..14 clamped to 1."
    model = lstm_core.GRU.from_torch(dm.planted_gru())  # batch_first, as uploaded
    xt, lt = torch.as_tensor(x), torch.as_tensor(lengths)  # (B, T, I)
    with torch.no_grad():  # both on the reference path, as lstm_core.analysis.diagnostics.what_if
        base = model.trace(xt, lengths=lt, method="reference")
        clamped = model.trace(xt, lengths=lt, interventions=[lstm_core.Clamp("z", 1.0, units=[0],
                                                                              steps=range(10, 15))])
    dh = torch.nan_to_num((clamped.h - base.h).abs()).amax(dim=(1, 2))  # (L*D, H)
    shown = frame(at, "unit", "max_abs_change", "first_step")
    for r in shown.itertuples():
        assert r.max_abs_change == pytest.approx(float(dh[r.layer, r.unit]), rel=1e-5)
    assert len(shown) == min(10, int((dh > 0).sum())) > 0
    assert at.metric[0].value == "10"
    assert at.radio(key="dbg_wi_field").options == ["hidden state h"]  # a GRU has no c


def test_exports_of_a_gru_trace(monkeypatch):
    """The Debug export page offers the trace, the findings and the figures of a GRU (no cell-state
    growth: its h cannot grow), and each exporter writes the GRU's fields."""
    import io
    import zipfile

    from explorer.figures import diagnostics as dfig
    from explorer.logic import exports

    at, x, lengths = gru_pages()
    at = go(at, "export")
    assert not errors(at)
    labels = {b.label for b in at.get("download_button")}
    assert {"trace.npz", "trace.csv (long format)", "trace.parquet (long format)", "LSTMVis project (.zip)",
            "findings.csv", "report.json", "gate heatmaps", "saturation", "memory", "findings table"} <= labels
    assert "cell-state growth" not in labels
    npz = next(b for b in at.get("download_button") if b.label == "trace.npz")
    assert "numpy.load: r, z, n, h (L*D, T, B, H), mask, lengths, h_n" in npz.proto.help
    model, report = reference(x, lengths, gradients=False)
    tr = model.trace(torch.as_tensor(x), lengths=torch.as_tensor(lengths)).detach()
    with __import__("numpy").load(io.BytesIO(exports.trace_npz(tr))) as z:
        assert {"r", "z", "n", "h"} <= set(z.files) and "c" not in z.files
    rows = pd.read_csv(io.BytesIO(exports.trace_csv(tr)))
    assert len(rows) == exports.long_rows(tr) == int(lengths.sum()) * 8 * 4 and set(rows.gate) == {"r", "z", "n", "h"}
    names = zipfile.ZipFile(io.BytesIO(exports.lstmvis_zip(tr, None, "gru"))).namelist()
    assert "gru/states.hdf5" in names
    fig = dfig.time_constants(report.memory)
    assert fig.layout.yaxis.title.text == "time constant 1/(1 - mean z) (steps)"
    html = exports.figure_html(fig).decode()
    assert "mean z" in html and "mean f" not in html


def test_an_onnx_gru_with_the_reset_before_loads_without_a_question():
    """ONNX's default linear_before_reset=0 is Cho's form: a GRU with reset="before", its findings in
    the GRU's words and its gates r, z, n, h equal to the model's."""
    from test_load_gru import I, onnx_gru

    raw, _ = onnx_gru(D=2, linear_before_reset=0)
    at = upload(load_page(), "dbg_model_upload", "gru.onnx", raw)
    assert at.success[0].value == "Loaded gru.onnx: GRU (reset before the matmul, Cho et al. 2014), 4 -> 5, 1 layer(s), bidirectional."
    assert not [s for s in at.selectbox if s.key and s.key.startswith("dbg_opt_variant")]
    shown = dict(zip(at.table[0].value.iloc[:, 0], at.table[0].value.iloc[:, 1]))
    assert shown["cell"].startswith("GRU (reset before the matmul, Cho et al. 2014), variant before: two gates")
    x = __import__("numpy").random.default_rng(3).normal(size=(2, 9, I)).astype("float32")
    from test_explorer_debugging import npy_bytes
    upload(at, "dbg_data_upload", "x.npy", npy_bytes(x))
    at = go(at, "findings")
    model = lstm_core.load(raw, format="onnx")
    want = dg.diagnose(model, from_arrays(x), gradients=False)
    pd.testing.assert_frame_equal(at.dataframe(key="dbg_findings").value.reset_index(drop=True), want.findings)
    at = go(at, "gates", {"dbg_dir": "1"})
    heat = [t["name"] for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"] if t["type"] == "heatmap"]
    assert heat == ["r", "z", "n", "h"] and not errors(at)
