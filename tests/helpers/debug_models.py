"""Models and data files "trained elsewhere", built at test time for the debug pages' tests.

- `Tagger`: a two-layer nn.LSTM tagger inside a larger module (embedding, encoder.rnn, head),
  with problems planted in layer 0 so the diagnostics have units to name (`PLANTED`): the
  app's built-in example, explorer/debug_example.py;
- `Seq2Seq`: two LSTMs (encoder.rnn, decoder.rnn), so the user must pick one;
- an ONNX LSTM node with peepholes written with onnx.helper (as tests/io/test_load_onnx.py);
- a Keras 2 style legacy .h5 written with h5py (as tests/io/test_load_keras.py), and a pickle
  that would run code when loaded.
Every file comes back as bytes, the way an upload arrives.
"""
import io
import json
import pickle

import h5py
import numpy as np
import torch
from torch import nn

from helpers import Payload, csv_bytes  # noqa: F401  (csv_bytes: the tests' dm.csv_bytes)
from explorer.logic.example import GATE_ROWS, H, I, PLANTED, Tagger, planted_tagger, walks  # noqa: F401


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.rnn = nn.LSTM(I, H)
        self.decoder = nn.Module()
        self.decoder.rnn = nn.LSTM(H, 4, bidirectional=True)


def tagger_with_char_rnn():
    """A larger model holding the planted Tagger (tagger.encoder.rnn) and a character LSTM
    (char_rnn): its checkpoint has two LSTMs, so the user must pick one."""
    m = nn.Module()
    m.tagger = planted_tagger()
    m.char_rnn = nn.LSTM(3, 5)
    return m


def torch_bytes(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def safetensors_bytes(module, metadata=None):
    from safetensors.torch import save
    return save({k: v.contiguous() for k, v in module.state_dict().items()}, metadata=metadata)


def npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# --- ONNX: one LSTM node with peepholes ----------------------------------------------------------------

def onnx_peephole_bytes(I_=3, H_=4, seed=0, **attrs):
    """An ONNX model of one forward LSTM node named "lstm" with W, R, B and peepholes P."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = {"W": rng.normal(size=(1, 4 * H_, I_)), "R": rng.normal(size=(1, 4 * H_, H_)) * 0.5,
         "B": rng.normal(size=(1, 8 * H_)), "P": rng.normal(size=(1, 3 * H_))}
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in w.items()]
    node = helper.make_node("LSTM", ["X", "W", "R", "B", "", "", "", "P"], ["Y", "Y_h", "Y_c"], hidden_size=H_,
                            name="lstm", **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, None, I_])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("Y", "Y_h", "Y_c")],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString()


def run_onnx(data, x):
    """ONNX Runtime's Y (T, 1, B, H) of the model bytes on x (T, B, I)."""
    import onnxruntime as ort
    s = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return s.run(None, {"X": x})


# --- Keras 2 legacy .h5 without a version: the gate activation must be asked -------------------------------

def keras2_h5_bytes(I_=3, H_=4, version=None, recurrent_activation="hard_sigmoid", seed=0):
    """A Keras 2 layout .h5 with one LSTM layer "lstm_1" (and a Dense), keras_version as given."""
    rng = np.random.default_rng(seed)
    w = {"lstm_1/kernel:0": rng.normal(size=(I_, 4 * H_)), "lstm_1/recurrent_kernel:0": rng.normal(size=(H_, 4 * H_)),
         "lstm_1/bias:0": rng.normal(size=(4 * H_,))}
    cfg = dict(name="lstm_1", units=H_, activation="tanh", recurrent_activation=recurrent_activation,
               return_sequences=True)
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "LSTM", "config": cfg}, {"class_name": "Dense", "config": {"name": "dense_1"}}]}}
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        if version:
            f.attrs["keras_version"] = np.bytes_(version)
        f.attrs["model_config"] = np.bytes_(json.dumps(config))
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = [np.bytes_("lstm_1"), np.bytes_("dense_1")]
        g = root.create_group("lstm_1")
        g.attrs["weight_names"] = [np.bytes_(n) for n in w]
        for n, v in w.items():
            g.create_dataset(n, data=v.astype(np.float32))
        root.create_group("dense_1").attrs["weight_names"] = []
    return buf.getvalue(), w


# --- a pickle that runs code when unpickled ---------------------------------------------------------------

def evil_bytes(marker):
    """A torch.save archive with real LSTM weights beside a payload."""
    return torch_bytes({"weight_ih_l0": torch.zeros(16, 2), "weight_hh_l0": torch.zeros(16, 4),
                        "hook": Payload(marker)})


def bare_pickle_bytes(marker):
    return pickle.dumps({"step": 3, "hook": Payload(marker)}, protocol=2)


# --- a GRU with planted faults (issue 20): what the GRU's findings must name ---------------------------------

GRU_ROWS = {"r": 0, "z": 1, "n": 2}  # nn.GRU's stacked (W_ir|W_iz|W_in)
# unit -> {block: bias} in layer 0, the unit's rows of W_ih and W_hh zeroed and b_hh's row 0:
#   unit 1  z = σ(12): h_t = z ⊙ h_{t-1} + (1 − z) ⊙ n keeps h_0 = 0, never writes (and so h is dead)
#   unit 3  z = σ(-12): h_t = n_t, keeps nothing
#   unit 5  r = σ(-12): n = tanh(W_in x + b_in + r ⊙ (...)) ignores h_{t-1}
#   unit 6  n = tanh(0) = 0 from h_0 = 0: h never changes (its r and z still move)
GRU_PLANTED = {1: {"z": 12.0}, 3: {"z": -12.0}, 5: {"r": -12.0}, 6: {"n": 0.0}}


def planted_gru(seed=0):
    """A one-layer nn.GRU(I, H, batch_first=True) whose units of GRU_PLANTED carry their faults."""
    torch.manual_seed(seed)
    rnn = nn.GRU(I, H, batch_first=True)
    with torch.no_grad():
        for unit, blocks in GRU_PLANTED.items():
            for block, bias in blocks.items():
                row = GRU_ROWS[block] * H + unit
                rnn.weight_ih_l0[row] = 0
                rnn.weight_hh_l0[row] = 0
                rnn.bias_ih_l0[row] = bias
                rnn.bias_hh_l0[row] = 0
    return rnn.eval()
