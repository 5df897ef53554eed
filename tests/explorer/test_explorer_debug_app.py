"""The "Debug your model" pages through AppTest: real uploads (FileUploader.upload), the pick among
several LSTMs, the findings, a finding's link, the gradient flow, a what-if and a download.

What the pages show is compared with lstm_core computed here on the same files, and every
bad upload must end in its message (st.error), never an exception.
"""
import io
import json
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest
import torch
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from helpers import debug_models as dm
from helpers import APP, ok
import lstm_core
from explorer.logic import example as debug_example
from explorer.ui import state
from lstm_core.analysis import diagnostics as dg
from lstm_core.io.data import from_arrays
from test_explorer_app import decode
from test_explorer_debugging import npy_bytes
from test_load_keras import hard_sigmoid_keras2, keras_lstm

PAGES = ("findings", "views", "gates", "whatif", "export")


def load_page():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    return ok(at.switch_page(state.DEBUG_LOAD).run())


def upload(at, key, name, raw):
    at.file_uploader(key=key).upload(name, raw)
    return ok(at.run())


def with_example():
    at = load_page()
    return ok(at.button(key="dbg_example").click().run())


def go(at, page, query=None):
    at.query_params.update(query or {})
    return ok(at.switch_page(state.PAGES[f"debug_{page}"]).run())


def frame(at, *columns):
    """The first dataframe on the page with these columns (AppTest finds a dataframe by key only
    when it is selectable)."""
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


def errors(at):
    return [e.value for e in at.error]


def example_reference(gradients=False):
    """lstm_core on the example's files: the model, x (B, T, I), lengths, and diagnose's report."""
    files = debug_example.files()
    model = lstm_core.load(files[debug_example.MODEL_NAME])
    with np.load(io.BytesIO(files[debug_example.DATA_NAME])) as z:
        x, lengths = z["x"], z["lengths"]
    return model, x, lengths, dg.diagnose(model, from_arrays(x, lengths), gradients=gradients, max_units=4)


@pytest.mark.parametrize("page", PAGES)
def test_without_a_model_each_page_points_to_the_load_page(page):
    at = go(load_page(), page)
    assert "No model yet" in at.info[0].value
    assert at.get("page_link")[0].proto.page == "debug"  # the load page's url path


def test_real_uploads_then_findings_equal_lstm_core_diagnostics():
    at = load_page()
    x, lengths = debug_example.walks()
    upload(at, "dbg_model_upload", "tagger.safetensors", dm.safetensors_bytes(dm.planted_tagger()))
    assert at.success[0].value == "Loaded tagger.safetensors: LSTM, 6 -> 8, 2 layer(s)."
    at.radio(key="dbg_data_source").set_value("upload").run()
    upload(at, "dbg_data_upload", "walks.npz", dm.npz_bytes(x=x, lengths=lengths))
    assert at.success[1].value.startswith("Data: 5 sequence(s) of 20 to 40 steps (padded to 40), 6 feature(s)")
    assert "Ready." in at.markdown[-1].value
    at = go(at, "findings")
    _, _, _, want = example_reference()
    shown = at.dataframe(key="dbg_findings").value
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), want.findings)
    assert [m.value for m in at.metric][:3] == [str((want.findings.severity == s).sum()) for s in ("warning", "info")] \
        + [str(len(want.findings.dropna(subset=["unit"])[["layer", "direction", "unit"]].drop_duplicates()))]
    first = want.findings.iloc[0]
    links = [lk.proto for lk in at.get("page_link")]
    assert f"Saturation: layer {first.layer}, unit {first.unit}" in [lk.label for lk in links]


def test_a_file_with_several_lstms_waits_for_the_pick():
    at = load_page()
    s2s = dm.Seq2Seq()
    upload(at, "dbg_model_upload", "s2s.safetensors", dm.safetensors_bytes(s2s))
    assert "s2s.safetensors holds 2 LSTMs: choose the one to debug" in at.info[0].value
    assert not at.success
    pick = at.selectbox(key="dbg_pick")
    assert pick.options == ["decoder.rnn.  LSTM(8 -> 4, bidirectional)", "encoder.rnn.  LSTM(6 -> 8)"]
    ok(pick.select(("decoder.rnn.",)).run())
    assert at.success[0].value == "Loaded s2s.safetensors: LSTM, 8 -> 4, 1 layer(s), bidirectional."
    at.radio(key="dbg_data_source").set_value("generated").run()
    at = go(ok(at), "gates")
    heat = [t for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"] if t["type"] ==
            "heatmap"]
    assert len(heat) == 6 and at.radio(key="dbg_dir").options == ["forward", "reverse"]


def test_a_projection_that_is_not_a_matrix_is_the_loaders_message():
    """A 1-D weight_hr_l0 once raised IndexError in the page's questions, shown as Streamlit's
    redacted error; the page must say what lstm_core.load says (issue 21)."""
    sd = {k: v.contiguous() for k, v in torch.nn.LSTM(3, 4, proj_size=2).state_dict().items()}
    sd["weight_hr_l0"] = torch.zeros(8)
    from safetensors.torch import save
    at = upload(load_page(), "dbg_model_upload", "hr.safetensors", save(sd))
    assert any("weight_hr_l0: expected a matrix (P, H), found shape (8,)" in e for e in errors(at)), errors(at)


def test_pickle_upload_is_refused_and_nothing_ran(tmp_path):
    marker = tmp_path / "ran"
    at = upload(load_page(), "dbg_model_upload", "model.pt", dm.evil_bytes(marker))
    assert "refused: this file needs arbitrary unpickling" in errors(at)[0]
    assert not marker.exists()


BAD_DATA = [  # name, bytes, the message on the page
    ("ragged.csv", b"1,2,3,4,5,6\n4,5\n", "row 2 has 2 fields, expected 6 like row 1"),
    ("nan.npz", dm.npz_bytes(x=np.full((2, 3, 6), np.nan, np.float32)), "nan at sequence 0, step 0, feature 0"),
    ("empty.csv", b"", "empty.csv: the file is empty"),
    ("text.txt", b"a b c\n", "text needs a vocabulary"),
]


@pytest.mark.parametrize("name, raw, message", BAD_DATA, ids=[c[0] for c in BAD_DATA])
def test_bad_data_upload_is_a_message(name, raw, message):
    at = with_example()
    upload(at, "dbg_data_upload", name, raw)
    assert any(message in e for e in errors(at)), errors(at)


def test_text_outside_the_vocabulary_is_a_message():
    at = with_example()
    upload(at, "dbg_data_upload", "text.txt", b"ab z\n")
    upload(at, "dbg_vocab_upload", "vocab.json", b'["a", "b", " "]')
    assert any("'z' is not in the vocabulary (3 tokens)" in e for e in errors(at)), errors(at)


def test_data_that_does_not_fit_offers_the_fix():
    at = with_example()
    upload(at, "dbg_data_upload", "flipped.csv", dm.csv_bytes(np.zeros((6, 9))))
    assert errors(at) == ["The data does not fit the model: flipped.csv: the data has 9 features per step, but the "
                          "model expects input_size=6."]
    ok(at.button(key="dbg_offer_0").click().run())  # read rows as features
    assert not errors(at) and "Ready." in at.markdown[-1].value
    assert at.checkbox(key="dbg_transpose").value


def test_a_findings_link_preselects_tab_layer_and_unit():
    at = go(with_example(), "views", {"dbg_tab": "Memory", "dbg_layer": "0", "dbg_unit": "3"})
    assert at.selectbox(key="dbg_unit").value == 3 and at.selectbox(key="dbg_layer").value == 0
    assert any("How long each unit keeps" in m.value for m in at.markdown)
    _, _, _, want = example_reference()
    shown = frame(at, "time_constant", "half_life")
    mem = want.memory[(want.memory.layer == 0) & (want.memory.unit == 3)]
    np.testing.assert_allclose(shown.time_constant, mem.time_constant)


def test_a_link_whose_unit_is_a_superscript_digit_is_ignored():
    """'²'.isdigit() is True, yet int('²') fails: the link once raised ValueError on the page (issue 21)."""
    at = go(with_example(), "views", {"dbg_layer": "\u00b2", "dbg_unit": "\u00b9"})
    assert at.selectbox(key="dbg_unit").value == 0 and at.selectbox(key="dbg_layer").value == 0


def test_gradient_flow_on_request_joins_the_findings():
    at = go(with_example(), "views", {"dbg_tab": "Gradient flow"})
    assert any("Not computed yet" in i.value for i in at.info)
    ok(at.button(key="dbg_grad_run").click().run())
    model, x, lengths, _ = example_reference()
    # issue 10, item 6: by default the page computes what `python -m lstm_core diagnose` does
    # (lstm_core.analysis.diagnostics.diagnose: 16 units, every sequence); with 4 units it had called the
    # example's layer 0 vanishing, the command line not
    want = dg.diagnose(model, from_arrays(x, lengths), gradients=True).gradients
    pd.testing.assert_frame_equal(frame(at, *want.columns).reset_index(drop=True), want,
                                  check_exact=False, rtol=1e-4)
    asked = at.session_state["dbg_gradients"][1]
    assert (asked.max_units, asked.max_sequences) == (model.hidden_size, len(lengths))  # every unit, every sequence
    at = go(at, "findings")
    assert at.metric[3].value == "included"


def test_what_if_equals_lstm_core_with_the_clamp():
    at = go(with_example(), "whatif")
    at.radio(key="dbg_wi_action").set_value("clamp")
    at.selectbox(key="dbg_wi_target").set_value("f")
    at.number_input(key="dbg_wi_value").set_value(1.0)
    at.multiselect(key="dbg_wi_units").set_value([0, 2])
    at.slider(key="dbg_wi_steps").set_value((10, 14))
    ok(at.button[-1].click().run())  # the form's submit button
    assert at.success[0].value == "Ran: f of unit(s) 0, 2 of layer 0, steps 10..14 clamped to 1."
    model, x, lengths, _ = example_reference()
    xt, lt = torch.as_tensor(x).transpose(0, 1), torch.as_tensor(lengths)  # (T, B, I)
    with torch.no_grad():
        base = model.trace(xt, lengths=lt)
        clamped = model.trace(xt, lengths=lt, interventions=[lstm_core.Clamp("f", 1.0, units=[0, 2],
                                                                              steps=range(10, 15))])
    dh = torch.nan_to_num((clamped.h - base.h).abs()).amax(dim=(1, 2))  # (L*D, H): max |Δh| per unit
    shown = frame(at, "unit", "max_abs_change", "first_step")
    for r in shown.itertuples():
        assert r.max_abs_change == pytest.approx(float(dh[r.layer, r.unit]), rel=1e-5)
    assert len(shown) == min(10, int((dh > 0).sum()))
    assert at.metric[0].value == "10"  # the first step the output changed: the first clamped one
    assert at.metric[1].value == "0"  # nothing before it in a forward model


def test_findings_download_is_the_findings(monkeypatch):
    saved = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def keep(self, data, mimetype, kind, filename=None):
        file_id = real(self, data, mimetype, kind, filename)
        saved[file_id] = data
        return file_id

    at = with_example()
    with patch.object(MemoryMediaFileStorage, "load_and_get_id", keep):
        at = go(at, "findings")
    button = next(b for b in at.get("download_button") if b.label == "findings.csv")
    raw = saved[Path(button.proto.url).stem]
    _, _, _, want = example_reference()
    back = pd.read_csv(io.BytesIO(raw))
    assert back.what.tolist() == want.findings.what.tolist()
    assert back.unit.tolist() == pytest.approx(want.findings.unit.astype(float).tolist(), nan_ok=True)
    at = go(at, "export")
    assert {"trace.npz", "trace.csv (long format)", "trace.parquet (long format)", "LSTMVis project (.zip)",
            "findings.csv", "report.json", "gate heatmaps"} <= {b.label for b in at.get("download_button")}


def gates_h(at):
    """h (U, T) of the gate heatmaps on the gates page, as the browser gets it."""
    return next(decode(t["z"]).astype(float) for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
                if t["type"] == "heatmap" and t["name"] == "h")


def test_onnx_with_peepholes_uploads_and_its_gates_match_onnx_runtime():
    at = load_page()
    raw = dm.onnx_peephole_bytes(I_=3, H_=4)
    upload(at, "dbg_model_upload", "peephole.onnx", raw)
    assert at.success[0].value.startswith("Loaded peephole.onnx: LSTM with peepholes, 3 -> 4, 1 layer(s)")
    x = np.random.default_rng(1).normal(size=(1, 12, 3)).astype(np.float32)  # (B, T, I)
    upload(at, "dbg_data_upload", "x.npy", npy_bytes(x))
    at = go(at, "gates")
    y = dm.run_onnx(raw, x.transpose(1, 0, 2))[0]  # Y (T, D, B, H)
    np.testing.assert_allclose(gates_h(at), y[:, 0, 0, :].T, atol=1e-5)


def test_keras2_file_without_a_version_asks_the_gate_activation():
    at = load_page()
    raw, w = dm.keras2_h5_bytes(I_=3, H_=4)
    upload(at, "dbg_model_upload", "old.h5", raw)
    assert "Choose the gate activation" in at.info[0].value and not at.success
    ok(at.selectbox(key="dbg_opt_gate_activation").select(0).run())  # Keras 2: clip(0.2 z + 0.5)
    assert at.success[0].value.startswith("Loaded old.h5: LSTM, 3 -> 4")
    x = np.random.default_rng(2).normal(size=(1, 9, 3)).astype(np.float32)
    upload(at, "dbg_data_upload", "x.npy", npy_bytes(x))
    at = go(at, "gates")
    want, _, _ = keras_lstm(x, *w.values(), hard_sigmoid_keras2)  # (B, T, H)
    np.testing.assert_allclose(gates_h(at), want[0].T, atol=1e-5)


def test_one_upload_limit_everywhere():
    """Issue 10, item 7: the model box said 200 MB, the data box 20; every box now takes server.maxUploadSize."""
    import tomllib
    config = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())
    mb = config["server"]["maxUploadSize"]
    at = with_example()
    boxes = [at.file_uploader(key=k) for k in ("dbg_model_upload", "dbg_data_upload")]
    sidebar = AppTest.from_file(APP, default_timeout=60)
    sidebar.query_params.update({"source": "demo", "input": "upload"})
    boxes.append(ok(sidebar.run()).file_uploader(key="upload"))
    for box in boxes:
        assert box.proto.max_upload_size_mb == mb, box.proto.label
        assert f"up to {mb:,} MB a file: server.maxUploadSize" in box.proto.help
    assert any(f"Files up to {mb:,} MB" in c.value for c in at.caption)


def test_diagnostic_tables_leave_missing_values_blank():
    """Issue 10, item 9: the saturation tables showed "None" where h has no left/right fraction."""
    at = go(with_example(), "views")
    tables = list(at.dataframe)
    assert len(tables) >= 2 and all(t.proto.HasField("placeholder") and t.proto.placeholder == "" for t in tables)
    assert frame(at, "gate", "left").query("gate == 'h'").left.isna().all()  # the values are missing, not "None"
