"""The command line, called as main(argv) and once as `python -m lstm_core` in a subprocess."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import lstm_core
from helpers import Payload
from lstm_core.__main__ import DiagnoseArgs, TraceArgs, main, parse

ROOT = Path(__file__).resolve().parents[2]


class EncoderDecoder(nn.Module):
    """Two LSTMs in one checkpoint, so the CLI must be told which (conftest.Tagger has one)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 3)
        self.encoder = nn.LSTM(3, 8, 2)
        self.decoder = nn.LSTM(8, 4)


@pytest.fixture
def files(tmp_path):
    """A checkpoint with two LSTMs and a CSV batch of two sequences."""
    t = EncoderDecoder()
    torch.save({"model": t.state_dict(), "epoch": 1}, tmp_path / "tagger.pt")
    rows = ["seq,a,b,c"] + [f"{s},{v:.3f},{-v:.3f},{v * v:.3f}" for s, n in (("x", 12), ("y", 7))
                            for v in np.linspace(-1, 1, n)]
    (tmp_path / "walk.csv").write_text("\n".join(rows) + "\n")
    return tmp_path, t


def test_parse_maps_onto_dataclasses(tmp_path):
    args = parse(["trace", "--model", "m.pt", "--input", "x.csv", "--out", "t.parquet", "--layer", "0",
                  "--layer", "lstm_1"])
    assert isinstance(args, TraceArgs) and args.format == "parquet" and args.model.layer == [0, "lstm_1"]
    # '²'.isdigit() is True, yet int('²') fails: a name, as is a number too long for int()
    args = parse(["trace", "--model", "m.pt", "--input", "x.csv", "--out", "t.csv", "--layer", "\u00b2",
                  "--layer", "9" * 5000])
    assert args.model.layer == ["²", "9" * 5000]
    args = parse(["diagnose", "--model", "m.onnx", "--input", "x.npz", "--json", "--no-gradients"])
    assert isinstance(args, DiagnoseArgs) and args.json and not args.gradients


def test_trace_to_npz_matches_the_model(files, capsys):
    d, t = files
    code = main(["trace", "--model", str(d / "tagger.pt"), "--prefix", "model.encoder.", "--input", str(d / "walk.csv"),
                 "--sequence-column", "seq", "--out", str(d / "out" / "trace.npz")])
    assert code == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "2 layer(s) x 1 direction(s), 12 steps, 2 sequence(s), 8 units" in out
    saved = np.load(d / "out" / "trace.npz")
    assert saved["lengths"].tolist() == [12, 7]
    x = torch.zeros(12, 2, 3)
    for b, n in enumerate((12, 7)):
        v = torch.linspace(-1, 1, n)
        x[:n, b] = torch.stack([v, -v, v * v], -1)
    x = (x * 1000).round() / 1000  # the CSV holds 3 decimals
    with torch.no_grad():
        want = lstm_core.from_torch(t.encoder).trace(x, lengths=torch.tensor([12, 7]))
    np.testing.assert_allclose(saved["f"], want.f.numpy(), atol=1e-6)


@pytest.mark.parametrize("name", ["trace.csv", "trace.parquet"])
def test_trace_long_formats(files, name):
    pytest.importorskip("pyarrow") if name.endswith("parquet") else None
    import pandas as pd

    d, _ = files
    assert main(["trace", "--model", str(d / "tagger.pt"), "--prefix", "model.decoder.", "--input",
                 str(d / "walk.csv"), "--out", str(d / name)]) == 1  # 3 features, the decoder reads 8
    assert main(["trace", "--model", str(d / "tagger.pt"), "--prefix", "model.encoder.", "--input",
                 str(d / "walk.csv"), "--sequence-column", "seq", "--out", str(d / name)]) == 0
    frame = pd.read_csv(d / name) if name.endswith("csv") else pd.read_parquet(d / name)
    assert list(frame.columns) == ["layer", "direction", "step", "batch", "unit", "gate", "value"]
    assert len(frame) == (12 + 7) * 8 * 6 * 2  # valid steps x units x fields x layers


def test_diagnose_table_and_json(files, capsys):
    d, _ = files
    argv = ["diagnose", "--model", str(d / "tagger.pt"), "--prefix", "model.encoder.", "--input",
            str(d / "walk.csv"), "--sequence-column", "seq"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "model: LSTM(3, 8, num_layers=2" in out and "('model.encoder.' of " in out
    assert "severity" in out and "finding" in out and "view" in out and "findings:" in out
    assert main(argv + ["--json", "--no-gradients"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"]["chosen"] == ["model.encoder."] and report["data"]["lengths"] == [12, 7]
    assert report["gradients"] is None and len(report["saturation"]) == 2 * 8 * 4
    assert {f["view"] for f in report["findings"]} <= {"saturation", "memory", "cell_state", "gradient_flow"}


def test_diagnose_a_gru(tmp_path, capsys):
    """Issue 20: a torch.nn.GRU state dict with --variant gru gets the GRU's findings (it was
    "model: expected an lstm_core.LSTM, got GRU"); without --variant the 3 blocks are asked about."""
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.debug_models import planted_gru, walks

    torch.save(planted_gru().state_dict(), tmp_path / "gru.pt")
    x, lengths = walks()
    np.savez(tmp_path / "x.npz", x=x, lengths=lengths)
    argv = ["diagnose", "--model", str(tmp_path / "gru.pt"), "--input", str(tmp_path / "x.npz")]
    assert main(argv) == 1
    assert "variant='gru' for a GRU" in capsys.readouterr().err
    assert main(argv + ["--variant", "gru"]) == 0
    out = capsys.readouterr().out
    assert "model: GRU(6, 8)" in out
    for what in ("z stuck at 1: never writes", "z stuck at 0: keeps nothing",
                 "r closed: the candidate ignores the past", "dead unit: h never changes"):
        assert what in out
    assert "z: z keeps: h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}" in out  # what z means, under the table
    assert main(argv + ["--variant", "gru", "--json", "--no-gradients"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {r["gate"] for r in report["saturation"]} == {"r", "z", "h"} and report["cell_growth"] == []


def test_onnx_with_peepholes_from_the_command_line(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    H, I = 4, 3
    inits = [numpy_helper.from_array(rng.normal(size=s).astype(np.float32), n)
             for n, s in (("W", (1, 4 * H, I)), ("R", (1, 4 * H, H)), ("B", (1, 8 * H)), ("P", (1, 3 * H)))]
    node = helper.make_node("LSTM", ["X", "W", "R", "B", "", "", "", "P"], ["Y"], hidden_size=H, name="rnn")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1, I])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), tmp_path / "peep.onnx")
    np.savez(tmp_path / "x.npz", x=rng.normal(size=(2, 9, I)), lengths=np.array([9, 5]))
    assert main(["diagnose", "--model", str(tmp_path / "peep.onnx"), "--input", str(tmp_path / "x.npz")]) == 0
    assert "peephole=True" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_keras_model_from_the_command_line(tmp_path, capsys):
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    rnn = k.layers.LSTM(4, return_sequences=True, recurrent_activation="hard_sigmoid", name="rnn")
    m = k.Sequential([k.Input((9, 3)), rnn, k.layers.Dense(2)])
    m.save(tmp_path / "model.keras")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(2, 9, 3)))
    assert main(["diagnose", "--model", str(tmp_path / "model.keras"), "--input", str(tmp_path / "x.npy")]) == 0
    out = capsys.readouterr().out
    assert "gate_activation=('hard_sigmoid', 0.16666666666666666, 0.5)" in out
    assert "note: layer 'rnn': recurrent_activation='hard_sigmoid' of Keras 3" in out


def test_lstmvis_from_text(tmp_path, capsys):
    torch.save(nn.LSTM(3, 5).state_dict(), tmp_path / "char.pt")
    (tmp_path / "vocab.json").write_text(json.dumps(["a", "b", "c"]))
    (tmp_path / "text.txt").write_text("abcab\n")
    assert main(["lstmvis", "--model", str(tmp_path / "char.pt"), "--input", str(tmp_path / "text.txt"),
                 "--vocab", str(tmp_path / "vocab.json"), "--out", str(tmp_path / "vis")]) == 0
    assert (tmp_path / "vis" / "lstm.yml").exists() and "wrote an LSTMVis project" in capsys.readouterr().out
    assert (tmp_path / "vis" / "words.dict").read_text() == "a 1\nb 2\nc 3\n"


ERRORS = [
    (["trace", "--model", "{d}/nothere.pt", "--input", "{d}/walk.csv", "--out", "{d}/t.npz"],
     r"error: .*nothere.pt: no such file"),
    (["trace", "--model", "{d}/tagger.pt", "--input", "{d}/walk.csv", "--out", "{d}/t.npz"],
     r"error: .*tagger.pt: holds 2 LSTMs: 'model.encoder.' LSTM\(3 -> 8, 2 layers\); 'model.decoder.' LSTM\(8 -> 4\); "
     r"choose one with prefix= \(command line: --prefix\)"),
    (["diagnose", "--model", "{d}/tagger.pt", "--prefix", "model.decoder.", "--input", "{d}/walk.csv",
      "--sequence-column", "seq"],
     r"error: .*walk.csv: the data has 3 features per step \(columns a, b, c\), but the model expects "
     r"input_size=8"),
    (["diagnose", "--model", "{d}/tagger.pt", "--prefix", "model.encoder.", "--input", "{d}/walk.csv"],
     r"error: .*walk.csv: row 2, column 1: 'x' is not a number"),
    (["diagnose", "--model", "{d}/evil.pt", "--input", "{d}/walk.csv"], r"error: .*evil.pt: refused"),
]


@pytest.mark.parametrize("argv,message", ERRORS)
def test_errors_exit_1_with_one_line(files, capsys, argv, message):
    d, _ = files
    torch.save({"x": Payload(d / "PWNED")}, d / "evil.pt")
    assert main([a.format(d=d) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    import re
    assert re.search(message, err), err
    assert not (d / "PWNED").exists()


def test_usage_errors_exit_2(capsys):
    assert main(["trace", "--model", "m.pt", "--input", "x.csv", "--out", "t.xyz"]) == 2
    assert "--format: cannot tell it from --out t.xyz" in capsys.readouterr().err
    assert main(["explain"]) == 2


def test_python_dash_m(files):
    d, _ = files
    r = subprocess.run([sys.executable, "-m", "lstm_core", "diagnose", "--model", str(d / "nothere.onnx"),
                        "--input", str(d / "walk.csv")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr


# Every failure path of issue 11: one `error: ...` line, exit 1 (usage: 2), no traceback.
def _hostile_files(d):
    (d / "notes.pt").write_text("my notes, not a model\n")
    (d / "list.safetensors").write_bytes(b"\x06\x00\x00\x00\x00\x00\x00\x00[1, 2]")
    (d / "bad.csv").write_text("a,b\n1," + "2" * 70000 + "\n")
    (d / "vocab.json").write_text('{"a": 1000000000}')
    (d / "superscript.json").write_text('{"0": "a", "\u00b2": "b"}', encoding="utf-8")
    (d / "text.txt").write_text("aaa")
    np.save(d / "complex.npy", np.ones((4, 3), np.complex64))
    from helpers.hostile import onnx_lstm
    (d / "ext.onnx").write_bytes(onnx_lstm(external="walk.csv"))
    (d / "ext_out.onnx").write_bytes(onnx_lstm(external="../walk.csv"))


FAILURES = [
    (["--model", "{d}/notes.pt"], r"notes\.pt: not a PyTorch file torch\.load.* can read.*saved with torch\.save\?"),
    (["--model", "{d}/list.safetensors"], r"its header is a JSON list, expected an object"),
    (["--model", "{d}/ext.onnx"], r"keeps its data in an external file 'walk\.csv'.*--allow-external-data"),
    (["--model", "{d}/ext_out.onnx", "--allow-external-data"],
     r"external data location '\.\./walk\.csv' is outside the model's directory"),
    (["--model", "{d}/tagger.pt", "--prefix", "model.encoder.", "--input", "{d}/bad.csv"],
     r"row 2: characters in a field: 70,000 is over the limit of 65,536"),
    (["--model", "{d}/tagger.pt", "--prefix", "model.encoder.", "--input", "{d}/complex.npy"],
     r"x holds complex numbers \(dtype complex64\)"),
    (["--model", "{d}/tagger.pt", "--prefix", "model.encoder.", "--input", "{d}/text.txt", "--vocab", "{d}/vocab.json"],
     r"vocabulary size \(largest index \+ 1\): 1,000,000,001 is over the limit"),
    (["--model", "{d}/tagger.pt", "--prefix", "model.encoder.", "--input", "{d}/text.txt", "--vocab",
      "{d}/superscript.json"], r"superscript\.json: key '²' of a dict index -> token is not an index"),
    (["--model", "{d}/nothere.pt"], r"nothere\.pt: no such file"),
    # a folder or a device is not "no such file" (issue 21): say what it is
    (["--model", "{d}"], r": is a folder, expected a file$"),
    (["--model", "/dev/null"], r"/dev/null: is not a regular file \(a device, pipe or socket\), expected a file$"),
    (["--model", "{d}/tagger.pt", "--prefix", "model.encoder.", "--input", "{d}"], r": is a folder, expected a file$"),
    (["--model", "{d}/tagger.pt", "--prefix", "model.encoder.", "--input", "/dev/null"],
     r"/dev/null: is not a regular file"),
    (["--model", "{d}/tagger.pt", "--prefix", "model.encoder.", "--input", "{d}/text.txt", "--vocab", "{d}"],
     r": is a folder, expected a file$"),
    (["--model", "{d}/tagger.pt", "--prefix", "model.encoder.", "--input", "{d}/text.txt", "--vocab", "/dev/null"],
     r"/dev/null: is not a regular file"),
]


@pytest.mark.parametrize("argv,message", FAILURES)
def test_hostile_inputs_exit_1_with_one_line(files, capsys, argv, message):
    d, _ = files
    _hostile_files(d)
    argv = ["diagnose", "--no-gradients"] + argv
    if "--input" not in argv:
        argv += ["--input", "{d}/walk.csv", "--sequence-column", "seq"]
    assert main([a.format(d=d) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(message, err), err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_failed_write_is_an_error(files, capsys):
    d, _ = files
    base = ["trace", "--model", str(d / "tagger.pt"), "--prefix", "model.encoder.", "--input", str(d / "walk.csv"),
            "--sequence-column", "seq"]
    for out in ("/dev/full", "/proc/version/t.npz"):
        assert main(base + ["--out", out, "--format", "npz"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
    assert not Path("/dev/full.npz").exists()


def test_max_rows_must_be_positive(capsys):
    assert main(["diagnose", "--model", "m.pt", "--input", "x.csv", "--max-rows", "0"]) == 2
    assert "--max-rows: expected a whole number >= 1, got 0" in capsys.readouterr().err


def test_a_bug_is_one_line_that_says_so(files, capsys, monkeypatch):
    import lstm_core.__main__ as cli

    def broken(args):
        raise IndexError("list index out of range")

    monkeypatch.setitem(cli.RUNS, cli.DiagnoseArgs, broken)
    assert main(["diagnose", "--model", "m.pt", "--input", "x.csv"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error (IndexError: list index out of range)" in err
    monkeypatch.setenv("LSTM_CORE_TRACEBACK", "1")
    with pytest.raises(IndexError):
        main(["diagnose", "--model", "m.pt", "--input", "x.csv"])
