"""Write the example models and data of assets/examples/: the files every example in the docs reads.

    python assets/examples/make_examples.py            # write them here (same content every run)
    python assets/examples/make_examples.py --check    # exit 1 if a committed file holds other numbers

Models "trained elsewhere", one per format `lstm_core.load` reads, each taking the walks as input
(I = 6) except the char model, which reads the text:

    tagger.safetensors  a state dict: embed -> encoder.rnn (nn.LSTM 6 -> 8, 2 layers, batch-first)
                        -> head, PyTorch's initialisation (seed 0) except three layer-0 units with a
                        textbook fault each (PLANTED: one forgets at once, one never forgets and its
                        |c| grows ~1 a step, one has its output gate shut), so `diagnose` finds them
    seq2seq.pt          a checkpoint dict {"model": state_dict, "epoch": 12} holding two LSTMs,
                        model.encoder.rnn. (6 -> 16) and model.decoder.rnn. (16 -> 16): pick with --prefix
    model.keras         Keras 3: LSTM(8) -> Dropout -> LSTM(8) -> Dense(5), random weights (seed 0);
                        the two LSTM layers load as one 2-layer model
    model.onnx          one ONNX LSTM node "/lstm/LSTM" (6 -> 8, forward), random weights (seed 0)
    char.pt             a plain state dict (lstm.*, head.*) of the shipped trained character model
                        assets/models/charlm-standard (nn.LSTM 97 -> 128): its units track strings,
                        comments and indentation of Python source

Data:

    walk.csv            one random walk, 40 steps x 6 features, with a header x0..x5
    walks.csv           three walks of 40, 30 and 20 steps in one file, told apart by the column id
    walks.npz           x (5, 40, 6) float32 random walks, lengths (5,) from 40 down to 20
    code.txt            a few lines of Python source, for the char model
    vocab.json          the char model's vocabulary: a JSON list, index = position (97 characters,
                        "\\u0000" standing for any other)

Content is deterministic (seeds, no clock); zip and HDF5 containers may differ in their
timestamps, so --check compares what the files hold (weights, arrays, text), not their bytes.
Keras is imported with KERAS_BACKEND=torch (no TensorFlow). The whole folder is about 0.6 MB.
"""
import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: lstm_core and explorer from this checkout
# the walks, their sizes and the planted faults are the app's built-in example's, so the docs and
# the app show one story
from explorer.logic.example import H, I, planted_tagger, walks  # noqa: E402

CODE = '''\
def mean(values):
    """The mean of a list of numbers."""
    total = 0.0
    for v in values:  # add them up
        total += v
    return total / len(values)


class Counter:
    def __init__(self, start=0):
        self.count = start

    def step(self, by=1):
        if by < 0:
            raise ValueError("by must be >= 0, got %r" % (by,))
        self.count += by
        return self.count
'''


def tagger_state():
    """The tagger's state dict: nn.LSTM's init (seed 0) with PLANTED faults in layer 0, the
    app's built-in example itself."""
    return {k: v.contiguous() for k, v in planted_tagger().state_dict().items()}


def seq2seq_checkpoint():
    torch.manual_seed(1)
    m = nn.Module()
    m.encoder, m.decoder = nn.Module(), nn.Module()
    m.encoder.rnn = nn.LSTM(I, 16)
    m.decoder.rnn = nn.LSTM(16, 16)
    m.out = nn.Linear(16, I)
    return {"model": m.state_dict(), "epoch": 12, "optimizer": "adam"}


def write_keras(path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    rng = np.random.default_rng(0)
    inp = keras.Input((None, I))
    y = keras.layers.LSTM(H, return_sequences=True, name="lstm")(inp)
    y = keras.layers.Dropout(0.2)(y)
    y = keras.layers.LSTM(H, return_sequences=True, name="lstm_1")(y)
    y = keras.layers.Dense(5, name="head")(y)
    m = keras.Model(inp, y, name="walk_tagger")
    for layer in m.layers:
        layer.set_weights([(0.5 * rng.normal(size=w.shape)).astype(np.float32) for w in layer.get_weights()])
    m.save(path)


def onnx_bytes():
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = {"W": 0.5 * rng.normal(size=(1, 4 * H, I)), "R": 0.5 * rng.normal(size=(1, 4 * H, H)),
         "B": 0.5 * rng.normal(size=(1, 8 * H))}
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in w.items()]
    node = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h", "Y_c"], hidden_size=H, name="/lstm/LSTM")
    graph = helper.make_graph(
        [node], "walk_lstm", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "B", I])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("Y", "Y_h", "Y_c")], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                             producer_name="make_examples").SerializeToString()


def char_state():
    from safetensors.torch import load_file

    return load_file(ROOT / "assets/models/charlm-standard.safetensors")


def write_all(out):
    """Every example file into the folder out."""
    from safetensors.torch import save_file

    from lstm_core.tasks.charlm import VOCABULARY

    out.mkdir(parents=True, exist_ok=True)
    save_file(tagger_state(), out / "tagger.safetensors",
              metadata={"about": "a 2-layer tagger with planted faults in layer-0 units 1, 3 and 5"})
    torch.save(seq2seq_checkpoint(), out / "seq2seq.pt")
    torch.save(char_state(), out / "char.pt")
    write_keras(out / "model.keras")
    (out / "model.onnx").write_bytes(onnx_bytes())

    x, lengths = walks()
    np.savez(out / "walks.npz", x=x, lengths=lengths)
    header = ",".join(f"x{k}" for k in range(I))
    rows = [",".join(f"{v:.5f}" for v in step) for step in x[0]]
    (out / "walk.csv").write_text("\n".join([header] + rows) + "\n")
    rows = [f"{b},{','.join(f'{v:.5f}' for v in step)}" for b, n in enumerate((40, 30, 20)) for step in x[b, :n]]
    (out / "walks.csv").write_text("\n".join([f"id,{header}"] + rows) + "\n")
    (out / "code.txt").write_text(CODE)
    (out / "vocab.json").write_text(json.dumps(list(VOCABULARY)) + "\n")


def _content(path):
    """What a file holds, for --check: tensors of a model, arrays of an npz, else the bytes."""
    if path.suffix in (".safetensors", ".pt", ".keras", ".onnx"):
        import lstm_core

        if path.name == "seq2seq.pt":
            return {p: _content_model(lstm_core.load(path, prefix=p)) for p in ("model.encoder.rnn.", "model.decoder.rnn.")}
        return _content_model(lstm_core.load(path))
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k].tolist() for k in z.files}
    return path.read_bytes()


def _content_model(model):
    return {k: v.tolist() for k, v in model.state_dict().items()}


def check():
    """1 if a committed file is missing or holds other numbers than a fresh run writes, else 0."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        write_all(fresh)
        bad = [p.name for p in sorted(fresh.iterdir())
               if not (HERE / p.name).is_file() or _content(p) != _content(HERE / p.name)]
    print(f"differ or missing: {', '.join(bad)}" if bad else "every example file is up to date")
    return 1 if bad else 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="compare the committed files with a fresh run")
    a = p.parse_args(argv)
    if a.check:
        return check()
    write_all(HERE)
    files = sorted(f for f in HERE.iterdir() if f.is_file() and f.suffix != ".py")
    for f in files:
        print(f"{f.stat().st_size:>9,} B  {f.relative_to(ROOT)}")
    print(f"{sum(f.stat().st_size for f in files):>9,} B  in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
