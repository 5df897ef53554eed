"""The LSTMVis export, read back the way LSTMVis reads it (lstmdata/data_handler.py)."""
import io

import h5py
import numpy as np
import pytest
import torch

import lstm_core
from lstm_core.io.data import load_text
from lstm_core.io.lstmvis import escape, write_lstmvis


def read_project(directory):
    """What LSTMVis's data handler does: YAML config, HDF5 files, dict lines split on whitespace."""
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((directory / "lstm.yml").read_text())
    words = {}
    for line in (directory / config["files"]["words"]).read_text().splitlines():
        k, v = line.split()
        words[int(v)] = k
    ws = config["word_sequence"]
    with h5py.File(directory / config["files"][ws["file"]]) as f:
        ids = f[ws["path"]][()]
    states = {}
    with h5py.File(directory / config["files"][config["states"]["file"]]) as f:
        for t in config["states"]["types"]:
            states[t["path"]] = f[t["path"]][()]
    return config, [words[i] for i in ids], states


def test_text_model_round_trip(tmp_path):
    seqs = load_text(io.StringIO("ab a\nba\n"), ["a", "b", " ", "\n"], lines=True)
    model = lstm_core.LSTM(4, 3, num_layers=2, bidirectional=True)
    x, lengths = seqs.for_model(model)
    tr = model.trace(x, lengths=lengths).detach()
    write_lstmvis(tr, tmp_path / "proj", tokens=seqs.tokens, gates=True, name="demo")
    config, words, states = read_project(tmp_path / "proj")
    assert config["name"] == "demo"
    assert words == ["a", "b", "<space>", "a", "b", "a"]
    N = int(lengths.sum())
    assert states["states1"].shape == (N, 3) and states["output2_reverse"].shape == (N, 3)
    want = torch.cat([tr.c[0, :4, 0], tr.c[0, :2, 1]]).numpy()  # sequence 0, then sequence 1
    np.testing.assert_allclose(states["states1"], want)
    np.testing.assert_allclose(states["gate_f2"], torch.cat([tr.f[2, :4, 0], tr.f[2, :2, 1]]).numpy())
    kinds = {t["path"]: t for t in config["states"]["types"]}
    assert kinds["output1"]["type"] == "output" and kinds["output1"]["transform"] == "none"
    assert kinds["states1"]["type"] == "state" and kinds["states1"]["layer"] == 1
    assert kinds["gate_i1"]["unsigned"] is True


def test_numeric_data_gets_step_words(tmp_path):
    tr = lstm_core.LSTM(2, 3).trace(torch.randn(4, 1, 2))
    write_lstmvis(tr, tmp_path)
    _, words, states = read_project(tmp_path)
    assert words == ["t0", "t1", "t2", "t3"] and states["states1"].shape == (4, 3)


def test_errors_and_escapes(tmp_path):
    tr = lstm_core.LSTM(2, 3).trace(torch.randn(4, 1, 2))
    with pytest.raises(ValueError, match=r"tokens: expected \[4\] tokens per sequence \(the trace's lengths\), "
                                         r"got \[3\]"):
        write_lstmvis(tr, tmp_path, tokens=[["a", "b", "c"]])
    assert [escape(t) for t in (" ", "\n", "a b", "", "\u00a0")] == ["<space>", "<newline>", "a<space>b", "<empty>",
                                                                     "<ws>"]
