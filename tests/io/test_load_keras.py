"""Loading Keras LSTMs: files written by Keras 3 itself (skipped without keras), and Keras 2
files written with h5py in Keras 2's own layout, checked against the Keras equations in numpy."""
import json
import os

import h5py
import numpy as np
import pytest
import torch

from helpers import sigmoid
from lstm_core.io.loaders import LoadError, find_candidates, load

# Keras 3 on numpy 2 warns about __array__ on every weight it saves
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def keras_lstm(x, kernel, rec, bias, gate, backwards=False):
    """The Keras LSTM in numpy: x (B, T, I), kernel (I, 4H), rec (H, 4H), gate order i, f, c, o."""
    B, T, _ = x.shape
    H = rec.shape[0]
    h, c, out = np.zeros((B, H)), np.zeros((B, H)), []
    steps = range(T - 1, -1, -1) if backwards else range(T)
    for t in steps:
        z = x[:, t] @ kernel + h @ rec + bias
        i, f, g, o = np.split(z, 4, axis=1)
        c = gate(f) * c + gate(i) * np.tanh(g)
        h = gate(o) * np.tanh(c)
        out.append(h)
    out = np.stack(out, axis=1)
    return (out[:, ::-1] if backwards else out), h, c


def hard_sigmoid_keras2(z):
    return np.clip(0.2 * z + 0.5, 0, 1)


def ours(model, x):
    out, (h, c) = model(torch.as_tensor(x, dtype=torch.float32))
    return out.detach().numpy(), h.detach().numpy(), c.detach().numpy()


# --- Keras 2 legacy .h5, written in Keras 2's layout ------------------------------------------------

def write_keras2(path, layers, version="2.2.4", weights_only=False):
    """A Keras 2 HDF5 file: layers is a list of (config dict, {weight name: array}).

    As keras/engine/saving.py wrote it: model_config and keras_version on the file,
    model_weights/<layer> with attribute weight_names, each weight at <layer>/<weight name>.
    """
    config = {"class_name": "Sequential",
              "config": {"name": "sequential_1", "layers": [{"class_name": c["class_name"], "config": c["config"]}
                                                           for c, _ in layers]}}
    with h5py.File(path, "w") as f:
        root = f
        if not weights_only:
            f.attrs["keras_version"] = np.bytes_(version)
            f.attrs["backend"] = np.bytes_("tensorflow")
            f.attrs["model_config"] = np.bytes_(json.dumps(config))
            root = f.create_group("model_weights")
        root.attrs["layer_names"] = [np.bytes_(c["config"]["name"]) for c, _ in layers]
        root.attrs["keras_version"] = np.bytes_(version)
        for c, weights in layers:
            g = root.create_group(c["config"]["name"])
            g.attrs["weight_names"] = [np.bytes_(n) for n in weights]
            for n, w in weights.items():
                g.create_dataset(n, data=w)


def lstm_config(name, units, **kw):
    cfg = dict(name=name, units=units, activation="tanh", recurrent_activation="hard_sigmoid", use_bias=True,
               return_sequences=True, go_backwards=False, unit_forget_bias=True)
    cfg.update(kw)
    return {"class_name": "LSTM", "config": cfg}


def random_lstm(rng, I, H, name_prefix):
    return {f"{name_prefix}kernel:0": rng.normal(size=(I, 4 * H)).astype(np.float32),
            f"{name_prefix}recurrent_kernel:0": rng.normal(size=(H, 4 * H)).astype(np.float32) * 0.5,
            f"{name_prefix}bias:0": rng.normal(size=(4 * H,)).astype(np.float32)}


def test_keras2_h5_with_hard_sigmoid(tmp_path):
    rng = np.random.default_rng(0)
    w = random_lstm(rng, 3, 4, "lstm_1/")
    dense = {"dense_1/kernel:0": np.zeros((4, 2), np.float32), "dense_1/bias:0": np.zeros(2, np.float32)}
    write_keras2(tmp_path / "k2.h5", [(lstm_config("lstm_1", 4), w),
                                      ({"class_name": "Dense", "config": {"name": "dense_1"}}, dense)])
    model = load(tmp_path / "k2.h5")
    assert model.load_info.format == "keras" and model.load_info.chosen == ("lstm_1",)
    assert model.gate_activation == ("hard_sigmoid", 0.2, 0.5) and model.batch_first
    assert "clip(0.2 z + 0.5, 0, 1)" in model.load_info.notes[0]
    x = rng.normal(size=(2, 6, 3))
    want_out, want_h, want_c = keras_lstm(x, *w.values(), hard_sigmoid_keras2)
    out, h, c = ours(model, x)
    np.testing.assert_allclose(out, want_out, atol=1e-5)
    np.testing.assert_allclose(h[0], want_h, atol=1e-5)
    np.testing.assert_allclose(c[0], want_c, atol=1e-5)


def test_keras2_bidirectional_and_tf_keras_names(tmp_path):
    rng = np.random.default_rng(1)
    fw = random_lstm(rng, 3, 2, "bidirectional_1/forward_lstm_1/")
    bw = random_lstm(rng, 3, 2, "bidirectional_1/backward_lstm_1/")
    cfg = {"class_name": "Bidirectional", "config": {"name": "bidirectional_1", "merge_mode": "concat",
                                                     "layer": lstm_config("lstm_1", 2, recurrent_activation="sigmoid")}}
    tf = random_lstm(rng, 4, 2, "lstm/lstm_cell/")  # tf.keras 2 names its weights lstm/lstm_cell/kernel:0
    plain = lstm_config("lstm", 2, recurrent_activation="sigmoid")
    write_keras2(tmp_path / "bi.h5", [(cfg, {**fw, **bw}), (plain, tf)], version="2.12.0")
    with pytest.raises(LoadError, match=r"holds 2 LSTM layers that do not stack \('bidirectional_1' and 'lstm' differ "
                                        r"in size or direction\): 'bidirectional_1' LSTM\(3 -> 2, bidirectional\); "
                                        r"'lstm' LSTM\(4 -> 2\)"):
        load(tmp_path / "bi.h5")
    model = load(tmp_path / "bi.h5", layer="bidirectional_1")
    x = rng.normal(size=(2, 5, 3))
    f_out, f_h, f_c = keras_lstm(x, *fw.values(), sigmoid)
    b_out, b_h, b_c = keras_lstm(x, *bw.values(), sigmoid, backwards=True)
    out, h, c = ours(model, x)
    np.testing.assert_allclose(out, np.concatenate([f_out, b_out], axis=-1), atol=1e-5)
    np.testing.assert_allclose(c, np.stack([f_c, b_c]), atol=1e-5)
    single = load(tmp_path / "bi.h5", layer=1)
    np.testing.assert_allclose(ours(single, x[..., :2].repeat(2, -1))[0],
                               keras_lstm(x[..., :2].repeat(2, -1), *tf.values(), sigmoid)[0], atol=1e-5)


def test_keras2_nested_model_stacks_its_layers(tmp_path):
    """A Sequential inside the model: one layer group holding two LSTMs' weights."""
    rng = np.random.default_rng(5)
    w1, w2 = random_lstm(rng, 3, 4, "lstm_1/"), random_lstm(rng, 4, 4, "lstm_2/")
    encoder = {"class_name": "Sequential", "config": {"name": "encoder", "layers": [
        lstm_config(name, 4, recurrent_activation="sigmoid") for name in ("lstm_1", "lstm_2")]}}
    write_keras2(tmp_path / "nested.h5", [(encoder, {**w1, **w2})])
    model = load(tmp_path / "nested.h5")
    assert model.load_info.chosen == ("lstm_1", "lstm_2") and model.num_layers == 2
    x = rng.normal(size=(2, 5, 3))
    hidden = keras_lstm(x, *w1.values(), sigmoid)[0]
    np.testing.assert_allclose(ours(model, x)[0], keras_lstm(hidden, *w2.values(), sigmoid)[0], atol=1e-5)


def test_keras2_cudnn_lstm_two_biases(tmp_path):
    rng = np.random.default_rng(2)
    w = random_lstm(rng, 3, 4, "cu_dnnlstm_1/")
    b8 = rng.normal(size=(32,)).astype(np.float32)
    w["cu_dnnlstm_1/bias:0"] = b8
    write_keras2(tmp_path / "cudnn.h5", [({"class_name": "CuDNNLSTM", "config": {"name": "cu_dnnlstm_1", "units": 4}},
                                          w)])
    model = load(tmp_path / "cudnn.h5")
    x = rng.normal(size=(1, 4, 3))
    want = keras_lstm(x, w["cu_dnnlstm_1/kernel:0"], w["cu_dnnlstm_1/recurrent_kernel:0"], b8[:16] + b8[16:], sigmoid)
    np.testing.assert_allclose(ours(model, x)[0], want[0], atol=1e-5)


def test_keras2_weights_only_file_assumes_defaults(tmp_path):
    rng = np.random.default_rng(3)
    w = random_lstm(rng, 3, 4, "lstm_1/")
    write_keras2(tmp_path / "w.h5", [(lstm_config("lstm_1", 4), w)], weights_only=True)
    model = load(tmp_path / "w.h5")
    assert model.gate_activation == ("sigmoid",)
    assert "no model config; assumed Keras's defaults" in model.load_info.notes[0]
    hard = load(tmp_path / "w.h5", gate_activation="hard_sigmoid")
    x = rng.normal(size=(2, 5, 3))
    np.testing.assert_allclose(ours(hard, x)[0], keras_lstm(x, *w.values(), hard_sigmoid_keras2)[0], atol=1e-5)


KERAS2_ERRORS = [
    (dict(activation="relu"), r"layer 'lstm_1': activation='relu' is not supported: lstm_core.LSTM computes g and h "
                              r"with tanh"),
    (dict(recurrent_activation="softsign"), r"layer 'lstm_1': recurrent_activation='softsign' is not supported: "
                                            r"expected 'sigmoid' or 'hard_sigmoid'"),
]


def test_keras2_go_backwards(tmp_path):
    rng = np.random.default_rng(3)
    w = random_lstm(rng, 3, 4, "lstm_1/")
    write_keras2(tmp_path / "k.h5", [(lstm_config("lstm_1", 4, go_backwards=True), w)])
    model = load(tmp_path / "k.h5")
    assert model.go_backwards
    x = rng.normal(size=(2, 5, 3))
    want_out, want_h, want_c = keras_lstm(x, *w.values(), hard_sigmoid_keras2, backwards=True)  # input order
    out, h, c = ours(model, x)
    np.testing.assert_allclose(out, want_out, atol=1e-5)
    np.testing.assert_allclose(h[0], want_h, atol=1e-5)
    np.testing.assert_allclose(c[0], want_c, atol=1e-5)


@pytest.mark.parametrize("config,message", KERAS2_ERRORS)
def test_keras2_refusals(tmp_path, config, message):
    write_keras2(tmp_path / "k.h5", [(lstm_config("lstm_1", 4, **config), random_lstm(np.random.default_rng(0), 3, 4,
                                                                                         "lstm_1/"))])
    with pytest.raises(LoadError, match=message):
        load(tmp_path / "k.h5")


def test_keras2_shape_mismatch_names_the_key(tmp_path):
    w = random_lstm(np.random.default_rng(0), 3, 4, "lstm_1/")
    w["lstm_1/bias:0"] = np.zeros(12, np.float32)
    write_keras2(tmp_path / "k.h5", [(lstm_config("lstm_1", 4), w)])
    with pytest.raises(LoadError, match=r"model_weights/lstm_1/lstm_1/bias:0: expected shape \(16,\) \(4H\), "
                                        r"found \(12,\)"):
        load(tmp_path / "k.h5")


def test_keras3_names_with_a_superscript_digit_load(tmp_path):
    """'²'.isdigit() is True, yet int('²') fails: the file was refused as 'not a Keras file h5py can
    read (ValueError: invalid literal for int())' (issue 21). Numbered names still sort by number."""
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "m.weights.h5", "w") as f:
        for name, H in (("lstm²", 4), ("lstm_10", 5), ("lstm_2", 6)):
            g = f.create_group(f"layers/{name}/cell/vars")
            g["0"], g["1"] = rng.normal(size=(3, 4 * H)), rng.normal(size=(H, 4 * H))
            g["²" if name == "lstm²" else "2"] = np.zeros(4 * H)
    assert [c.name for c in find_candidates(tmp_path / "m.weights.h5")] == ["lstm_2", "lstm_10", "lstm²"]
    assert load(tmp_path / "m.weights.h5", layer="lstm²").hidden_size == 4


def test_hard_sigmoid_without_a_version_asks(tmp_path):
    write_keras2(tmp_path / "k.h5", [(lstm_config("lstm_1", 4), random_lstm(np.random.default_rng(0), 3, 4,
                                                                            "lstm_1/"))], version="")
    with pytest.raises(LoadError, match=r"recurrent_activation='hard_sigmoid' differs between Keras 2 \(0.2 z \+ 0.5\) "
                                        r"and Keras 3 \(z / 6 \+ 0.5\)"):
        load(tmp_path / "k.h5")
    assert load(tmp_path / "k.h5", gate_activation=("hard_sigmoid", 0.2, 0.5)).gate_activation[1] == 0.2


def test_stacking_layers_with_and_without_bias(tmp_path):
    rng = np.random.default_rng(6)
    w1 = random_lstm(rng, 3, 4, "lstm_1/")
    w2 = {k.replace("lstm_1", "lstm_2"): v for k, v in random_lstm(rng, 4, 4, "lstm_1/").items() if "bias" not in k}
    write_keras2(tmp_path / "k.h5", [(lstm_config("lstm_1", 4), w1), (lstm_config("lstm_2", 4, use_bias=False), w2)])
    with pytest.raises(LoadError, match=r"weights do not fit LSTM\(3, 4, num_layers=2.*\): missing bias_hh_l1, "
                                        r"bias_ih_l1"):
        load(tmp_path / "k.h5")


# --- Keras 3 writing its own files (KERAS_BACKEND=torch, no TensorFlow) ------------------------------

@pytest.fixture(scope="module")
def keras3():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def _random_weights(layer, rng):
    layer.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()])


@pytest.fixture(scope="module")
def stacked(keras3, tmp_path_factory):
    """Two hard-sigmoid LSTM layers with a Dropout between, saved three ways, and Keras's output."""
    k = keras3
    rng = np.random.default_rng(0)
    inp = k.Input((7, 3))
    y = k.layers.LSTM(5, return_sequences=True, recurrent_activation="hard_sigmoid", name="first")(inp)
    y = k.layers.Dropout(0.5)(y)
    y = k.layers.LSTM(5, return_sequences=True, recurrent_activation="hard_sigmoid", name="second")(y)
    m = k.Model(inp, y)
    for layer in m.layers:
        _random_weights(layer, rng)
    d = tmp_path_factory.mktemp("keras3")
    m.save(d / "m.keras")
    m.save(d / "m.h5")
    m.save_weights(d / "m.weights.h5")
    x = rng.normal(size=(3, 7, 3)).astype(np.float32)
    return d, x, np.asarray(m.predict(x, verbose=0))


@pytest.mark.parametrize("name", ["m.keras", "m.h5"])
def test_keras3_stacked_layers(stacked, name):
    d, x, want = stacked
    model = load(d / name)
    assert model.num_layers == 2 and model.load_info.chosen == ("first", "second")
    assert model.gate_activation == ("hard_sigmoid", 1 / 6, 0.5)
    np.testing.assert_allclose(ours(model, x)[0], want, atol=1e-5)


def test_keras3_weights_file_needs_the_layers_named(stacked):
    d, x, want = stacked
    with pytest.raises(LoadError, match=r"m.weights.h5: holds 2 LSTM layers and the file has no model config to "
                                        r"tell whether they stack: 'first' LSTM\(3 -> 5\); 'second' LSTM\(5 -> 5\)"):
        load(d / "m.weights.h5")
    model = load(d / "m.weights.h5", layer=["first", "second"], gate_activation=("hard_sigmoid", 1 / 6, 0.5))
    np.testing.assert_allclose(ours(model, x)[0], want, atol=1e-5)


def test_keras3_states_and_bidirectional(keras3, tmp_path):
    k = keras3
    rng = np.random.default_rng(1)
    inp = k.Input((6, 4))
    seq, h, c = k.layers.LSTM(3, return_sequences=True, return_state=True, name="rnn")(inp)
    bi = k.layers.Bidirectional(k.layers.LSTM(2, return_sequences=True, use_bias=False), name="bi")(seq)
    m = k.Model(inp, [seq, h, c, bi])
    for layer in m.layers:
        _random_weights(layer, rng)
    m.save(tmp_path / "m.keras")
    x = rng.normal(size=(2, 6, 4)).astype(np.float32)
    seq, h, c, bi = (np.asarray(t) for t in m.predict(x, verbose=0))
    assert [c.name for c in find_candidates(tmp_path / "m.keras")] == ["rnn", "bi"]
    with pytest.raises(LoadError, match=r"'rnn' and 'bi' differ in size or direction"):
        load(tmp_path / "m.keras")
    rnn = load(tmp_path / "m.keras", layer="rnn")
    got_seq, got_h, got_c = ours(rnn, x)
    np.testing.assert_allclose(got_seq, seq, atol=1e-5)
    np.testing.assert_allclose(got_h[0], h, atol=1e-5)
    np.testing.assert_allclose(got_c[0], c, atol=1e-5)
    b = load(tmp_path / "m.keras", layer="bi")
    assert b.bidirectional and not b.bias
    np.testing.assert_allclose(ours(b, seq)[0], bi, atol=1e-5)


def test_keras3_go_backwards(keras3, tmp_path):
    """A lone go_backwards layer: Keras returns its sequence reversed, ours keeps input time order."""
    k = keras3
    rng = np.random.default_rng(2)
    inp = k.Input((6, 4))
    seq, h, c = k.layers.LSTM(3, return_sequences=True, return_state=True, go_backwards=True, name="back")(inp)
    after = k.layers.LSTM(3, return_sequences=True, name="after")(seq)
    m = k.Model(inp, [seq, h, c, after])
    for layer in m.layers:
        _random_weights(layer, rng)
    m.save(tmp_path / "m.keras")
    x = rng.normal(size=(2, 6, 4)).astype(np.float32)
    seq, h, c, _ = (np.asarray(t) for t in m.predict(x, verbose=0))
    with pytest.raises(LoadError, match=r"'back' has go_backwards=True: Keras hands the next layer its sequence "
                                        r"reversed; load such a layer alone"):
        load(tmp_path / "m.keras")
    model = load(tmp_path / "m.keras", layer="back")
    assert model.go_backwards and "Keras output[:, t] = our output[:, T-1-t]" in model.load_info.notes[-1]
    got_seq, got_h, got_c = ours(model, x)
    np.testing.assert_allclose(got_seq[:, ::-1], seq, atol=1e-5)
    np.testing.assert_allclose(got_h[0], h, atol=1e-5)
    np.testing.assert_allclose(got_c[0], c, atol=1e-5)


def test_keras3_refuses_what_it_cannot_compute(keras3, tmp_path):
    k = keras3
    m = k.Sequential([k.Input((4, 2)), k.layers.LSTM(3, activation="relu", name="relu_lstm"), k.layers.Dense(1)])
    m.save(tmp_path / "relu.keras")
    with pytest.raises(LoadError, match=r"layer 'relu_lstm': activation='relu' is not supported"):
        load(tmp_path / "relu.keras")
    g = k.Sequential([k.Input((4, 2)), k.layers.SimpleRNN(3)])  # a GRU loads: tests/io/test_load_gru.py
    g.save(tmp_path / "rnn.keras")
    with pytest.raises(LoadError, match=r"rnn.keras: no LSTM or GRU layer found"):
        load(tmp_path / "rnn.keras")


def test_layer_choice_errors(stacked):
    d, _, _ = stacked
    with pytest.raises(LoadError, match=r"no LSTM layer named 'third'; found \['first', 'second'\]"):
        load(d / "m.keras", layer="third")
    with pytest.raises(LoadError, match=r"layer index 5 out of range 0..1"):
        load(d / "m.keras", layer=5)
    with pytest.raises(LoadError, match=r"layers \['second', 'first'\] cannot be stacked: 'first' is not fed by "
                                        r"'second'"):
        load(d / "m.keras", layer=["second", "first"])
