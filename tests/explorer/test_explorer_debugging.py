"""The pure logic behind the "Debug your model" pages (explorer/debugging.py, debug_results.py).

Every bad upload is a row of the tables below, with the message it must give; the
models, findings, what-if runs and exports are compared with lstm_core and
torch.nn.LSTM computed here, not with the pages' own code.
"""
import dataclasses
import io
import json
import re
import zipfile

import h5py
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from helpers import debug_models as dm
import lstm_core
from explorer.logic import diagnosis as dr
from explorer.logic import example as debug_example
from explorer.logic import exports, subject
from explorer.logic import uploads as debugging
from explorer.logic.uploads import DataSpec, LoadChoice, UploadError
from lstm_core.analysis import diagnostics as dg
from lstm_core.io.data import from_arrays


def npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


VOCAB = json.dumps(["a", "b", "c", " "]).encode()

# name, bytes (or a function of tmp_path for the pickles), the message: every model upload the page must refuse
BAD_MODELS = [
    ("empty.safetensors", b"", r"empty\.safetensors: the file is empty"),
    ("junk.safetensors", b"not a safetensors file", r"not a safetensors file"),
    ("walks.csv", b"1,2\n", r"this looks like data, not a model; upload it under '2\. Your data'"),
    ("model.zip", b"PK", r"\.zip is not a model format this page reads; expected safetensors \(preferred\)"),
    ("linear.safetensors", lambda: dm.safetensors_bytes(torch.nn.Linear(3, 4)),
     r"no LSTM weights found: no key ends in weight_ih_l0 or weight_ih \(keys: bias, weight\)"),
    ("junk.onnx", b"\x00\x01garbage", r"junk\.onnx: not an ONNX model"),
    ("junk.keras", b"PK garbage", r"junk\.keras: not a Keras file h5py can read"),
    ("junk.h5", b"garbage", r"junk\.h5: not a Keras file h5py can read"),
]

# name, bytes, vocabulary bytes, the message: every data upload the page must refuse
BAD_DATA = [
    ("empty.csv", b"", None, r"empty\.csv: the file is empty"),
    ("ragged.csv", b"1,2,3\n4,5\n", None, r"ragged\.csv: row 2 has 2 fields, expected 3 like row 1"),
    ("nan.csv", b"1,2\nnan,3\n", None, r"row 2, column 1: 'nan' is not finite"),
    ("words.csv", b"a,b\n1,x\n", None, r"row 2, column 2: 'x' is not a number"),
    ("nan.npz", dm.npz_bytes(x=np.full((2, 3, 6), np.nan, np.float32)), None,
     r"nan at sequence 0, step 0, feature 0: every value must be finite"),
    ("deep.npz", dm.npz_bytes(x=np.zeros((1, 2, 3, 4))), None,
     r"x must have shape \(B, T, I\), \(T, I\) or \(T,\), found \(1, 2, 3, 4\)"),
    ("lengths.npz", dm.npz_bytes(x=np.zeros((2, 5, 6), np.float32), lengths=np.array([9, 2])), None,
     r"lengths\[0\] = 9, expected 1\.\.5"),
    ("text.txt", b"a b c\n", None, r"text needs a vocabulary: upload a JSON file"),
    ("text.txt", b"a b z\n", VOCAB, r"'z' is not in the vocabulary \(4 tokens\); add it to the vocabulary file$"),
    ("text.txt", b"a b c\n", b"{not json", r"v\.json: not JSON"),
    ("text.txt", b"a b c\n", '{"0": "a", "\u00b2": "b"}'.encode(), r"v\.json: key '²' of a dict index -> token is not an"),
    ("long.npy", npy_bytes(np.zeros((1, 200_001, 1), np.float32)), None,
     r"200,001 steps, over this app's limit of 200,000"),
    ("vocab.json", b"[]", None, r"a JSON file is a vocabulary, not data"),
    ("x.parquet", b"PAR1", None, r"\.parquet is not a data format this page reads; expected \.csv"),
]


@pytest.mark.parametrize("name, raw, message", BAD_MODELS, ids=[c[0] for c in BAD_MODELS])
def test_bad_model_upload_is_a_message(name, raw, message):
    with pytest.raises(UploadError, match=message):
        debugging.inspect_model(name, raw() if callable(raw) else raw)


@pytest.mark.parametrize("make", [dm.evil_bytes, dm.bare_pickle_bytes], ids=["torch_save", "bare_pickle"])
def test_pickle_that_runs_code_is_refused_and_nothing_ran(tmp_path, make):
    marker = tmp_path / "ran"
    with pytest.raises(UploadError, match=r"refused: this file needs arbitrary unpickling \(it holds posix\.system\)"
                                          r".*state_dict\(\)"):
        debugging.inspect_model("model.pt", make(marker))
    assert not marker.exists()


@pytest.mark.parametrize("name, raw, vocab, message", BAD_DATA, ids=[f"{c[0]}-{k}" for k, c in enumerate(BAD_DATA)])
def test_bad_data_upload_is_a_message(name, raw, vocab, message):
    with pytest.raises(UploadError, match=message):
        debugging.read_data(DataSpec("upload", name=name, vocab_name="v.json"), raw, vocab)


def example_model():
    files = debug_example.files()
    raw = files[debug_example.MODEL_NAME]
    return debugging.load_model(debugging.inspect_model("t.safetensors", raw), raw, LoadChoice())


def test_example_loads_as_the_tagger_it_was_saved_from():
    model = example_model()
    tagger = debug_example.planted_tagger()
    x, lengths = debug_example.walks()
    x = torch.as_tensor(x[:1])  # (1, T, I): the full-length sequence
    want, _ = tagger.encoder.rnn(x)  # batch_first, as the tagger was trained
    got = model.trace(x.transpose(0, 1)).h[-1, :, 0]  # (T, H) of the top layer
    torch.testing.assert_close(got, want[0], atol=1e-5, rtol=1e-5)
    assert tuple(model.load_info.chosen) == ("encoder.rnn.",)
    data = debugging.read_data(DataSpec("upload", name=debug_example.DATA_NAME),
                               debug_example.files()[debug_example.DATA_NAME])
    assert data.seqs.lengths.tolist() == [40, 35, 30, 25, 20]


def test_several_lstms_wait_for_a_pick_then_load_the_one_picked():
    s2s = dm.Seq2Seq()
    raw = dm.safetensors_bytes(s2s)
    mf = debugging.inspect_model("s2s.safetensors", raw)
    assert mf.options() == [("decoder.rnn.",), ("encoder.rnn.",)]
    assert [mf.label(p) for p in mf.options()] == ["decoder.rnn.  LSTM(8 -> 4, bidirectional)",
                                                   "encoder.rnn.  LSTM(6 -> 8)"]
    assert "holds 2 LSTMs: choose the one to debug" in debugging.unanswered(mf, LoadChoice())
    model = debugging.load_model(mf, raw, LoadChoice(which=("decoder.rnn.",)))
    assert (model.input_size, model.hidden_size, model.bidirectional) == (8, 4, True)
    x = torch.randn(7, 2, 8)
    torch.testing.assert_close(model(x)[0], s2s.decoder.rnn(x)[0], atol=1e-5, rtol=1e-5)


def test_data_that_does_not_fit_says_so_and_offers_the_fixes():
    model = example_model()
    data = debugging.read_data(DataSpec("upload", name="tr.csv"), dm.csv_bytes(np.zeros((6, 4))))
    with pytest.raises(debugging.Mismatch, match=r"the data has 4 features per step, but the model expects "
                                                 r"input_size=6") as e:
        debugging.check_fit(model, data)
    assert [c for _, c in e.value.offers] == [{"transpose": True}, {"source": "generated", "input_size": 6}]
    flipped = debugging.read_data(DataSpec("upload", name="tr.csv", transpose=True), dm.csv_bytes(np.zeros((6, 4))))
    debugging.check_fit(model, flipped)  # the first offer fits


def test_findings_are_the_diagnostics_of_lstm_core():
    model = example_model()
    x, lengths = debug_example.walks()
    data = debugging.read_data(DataSpec("upload", name="w.npz"), dm.npz_bytes(x=x, lengths=lengths))
    report = dr.diagnose(subject.trace_of(model, data.seqs))
    want = dg.diagnose(lstm_core.load(dm.safetensors_bytes(dm.planted_tagger())), from_arrays(x, lengths),
                       gradients=False)
    pd.testing.assert_frame_equal(report.findings, want.findings)
    named = {(int(r.unit), r.gate) for r in report.findings.itertuples() if r.layer == 0 and r.severity == "warning"}
    assert {(1, "f"), (3, "f"), (3, "i"), (3, "c"), (5, "o"), (5, "h")} <= named  # debug_example.PLANTED


def test_finding_links_carry_layer_unit_and_tab():
    row = pd.Series(dict(severity="warning", layer=1, direction=1, unit=4, gate="f", what="", view="memory"))
    links = dr.finding_links(row)
    assert [(lk.page, lk.label) for lk in links] == [
        (dr.VIEWS_PAGE, "Memory: layer 1 reverse, unit 4"), (dr.GATES_PAGE, "Gates of unit 4"),
        (dr.WHATIF_PAGE, "What if unit 4 were silenced?")]
    assert dict(links[0].params) == {"dbg_tab": "Memory", "dbg_layer": "1", "dbg_dir": "1", "dbg_unit": "4"}


def clamped_layer0(rnn, x, gate, value, units, steps):
    """Layer 0 of nn.LSTM `rnn` on x (T, I), gate clamped by hand: (c, h) each (T, H)."""
    H = rnn.hidden_size
    h, c, cs, hs = torch.zeros(H), torch.zeros(H), [], []
    for t in range(x.shape[0]):
        z = rnn.weight_ih_l0 @ x[t] + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0  # (4H,)
        i, f, g, o = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H]), torch.tanh(z[2 * H:3 * H]), \
            torch.sigmoid(z[3 * H:])
        gates = dict(i=i, f=f, g=g, o=o)
        if t in steps:
            gates[gate] = gates[gate].clone()
            gates[gate][list(units)] = value
        c = gates["f"] * c + gates["i"] * gates["g"]
        h = gates["o"] * torch.tanh(c)
        cs.append(c)
        hs.append(h)
    return torch.stack(cs), torch.stack(hs)


def test_what_if_clamp_matches_a_hand_clamped_nn_lstm():
    model = example_model()
    x, lengths = debug_example.walks()
    data = debugging.read_data(DataSpec("upload", name="w.npz"), dm.npz_bytes(x=x, lengths=lengths))
    spec = dr.WhatIfSpec("clamp", "f", 1.0, units=(0, 2), layer=0, start=10, stop=14)
    res = dr.run_what_if(model, data.seqs, spec)
    with torch.no_grad():
        c, h = clamped_layer0(debug_example.planted_tagger().encoder.rnn, torch.as_tensor(x[0]), "f", 1.0, (0, 2),
                              range(10, 15))
    torch.testing.assert_close(res.changed.c[0, :, 0], c, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(res.changed.h[0, :, 0], h, atol=1e-5, rtol=1e-5)
    summary = dr.what_if_summary(res, spec)
    assert (summary.max_before == 0).all() and res.first_changed_step == 10  # nothing moves before step 10


def test_zero_units_silences_h_at_those_steps_only():
    model = example_model()
    x, lengths = debug_example.walks()
    data = debugging.read_data(DataSpec("upload", name="w.npz"), dm.npz_bytes(x=x, lengths=lengths))
    spec = dr.WhatIfSpec("zero", units=(4,), layer=1, start=5, stop=9)
    res = dr.run_what_if(model, data.seqs, spec)
    h = res.changed.h[1]  # (T, B, H) of layer 1
    assert torch.all(h[5:10, :, 4] == 0)
    want = model.trace(torch.as_tensor(x).transpose(0, 1), lengths=torch.as_tensor(lengths),
                       interventions=[lstm_core.Clamp("h", 0.0, units=[4], steps=range(5, 10), layer=1)])
    torch.testing.assert_close(res.changed.h, want.h.detach(), equal_nan=True)
    assert dr.most_changed_units(res).iloc[0].tolist()[:3] == [1, "forward", 4]


def example_trace():
    model = example_model()
    x, lengths = debug_example.walks()
    return subject.trace_of(model, debugging.read_data(DataSpec("upload", name="w.npz"),
                                                       dm.npz_bytes(x=x, lengths=lengths)).seqs)


def test_exports_round_trip():
    tr = example_trace()
    with np.load(io.BytesIO(lstm_core.io.export.npz_bytes(tr))) as z:
        np.testing.assert_array_equal(z["f"], tr.f.numpy())
    long = pd.read_csv(io.BytesIO(exports.trace_csv(tr)))
    row = long[(long.layer == 1) & (long.step == 3) & (long.batch == 2) & (long.unit == 5) & (long.gate == "o")]
    assert row.value.item() == pytest.approx(float(tr.o[1, 3, 2, 5]), abs=1e-6)
    assert len(long) == int(tr.mask.sum()) * 2 * 6 * 8  # padding left out
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(exports.trace_parquet(tr))).astype({"gate": str}), long,
                                  check_dtype=False, atol=1e-6)
    with zipfile.ZipFile(io.BytesIO(exports.lstmvis_zip(tr, name="ex"))) as z:
        assert sorted(z.namelist()) == ["ex/lstm.yml", "ex/states.hdf5", "ex/train.hdf5", "ex/words.dict"]
        with h5py.File(io.BytesIO(z.read("ex/states.hdf5")), "r") as f:
            states = f["states1"][:]  # layer 0's c (LSTMVis counts layers from 1), one row per valid step
        assert states.shape == (int(tr.mask.sum()), 8)
        np.testing.assert_allclose(states[:40], tr.c[0, :, 0].numpy())  # sequence 0 first, 40 steps
    report = dr.diagnose(tr)
    back = json.loads(exports.report_json(report))
    assert [r["what"] for r in back["findings"]] == list(report.findings.what)
    assert pd.read_csv(io.BytesIO(exports.findings_csv(report.findings))).what.tolist() == list(report.findings.what)
    html = exports.figure_html(go.Figure(layout=dict(title="saturation of the example"))).decode()
    assert "saturation of the example" in html and "Plotly.newPlot" in html and "<script src=" not in html  # offline


def test_a_trace_over_the_budget_is_a_message_and_many_sequences_are_cut(monkeypatch):
    model = example_model()
    x = np.zeros((70, 50, 6), np.float32)  # (B, T, I): more sequences than the app's 64
    data = debugging.read_data(DataSpec("upload", name="many.npy"), npy_bytes(x))
    assert data.seqs.batch_size == 64 and data.notes == ["the first 64 of 70 sequences are used (this app's limit)"]
    need = 2 * 64 * 50 * 8 * 6 * 4  # L*D, B, T, H, six fields, float32 (lstm_core.trace.estimate_bytes, at least)
    monkeypatch.setattr(debugging, "LIMITS", dataclasses.replace(debugging.LIMITS, trace_budget=need // 2))
    with pytest.raises(UploadError, match=r"recording every gate of this model on this data needs ([\d.]+) MiB, "
                                          r"over the app's budget of ([\d.]+) MiB: use fewer or shorter sequences") as e:
        debugging.check_fit(model, data)
    needs, budget = map(float, re.findall(r"([\d.]+) MiB", str(e.value)))
    assert needs >= 2 * budget == pytest.approx(need / 2**20, abs=0.1)  # the numbers are not rounded to the same


def test_the_peephole_question_names_the_text_it_cites():
    """'the course text's simplification' said nothing to a user: which text? (issue 21)"""
    mf = debugging.ModelFile("p.safetensors", "safetensors", (), False,
                             (("weight_ih_l0", (16, 3)), ("weight_hh_l0", (16, 4)), ("weight_peephole_l0", (3, 4))))
    q = next(q for q in debugging.questions(mf, ()) if q.option == "peephole_output")
    previous = q.labels[q.choices.index("previous")]
    assert "course text" not in previous and "LSTM notebook exercise" in previous and "peephole bonus" in previous
