"""Loading GRUs: torch.nn.GRU state dicts and modules, Keras GRU layers, ONNX GRU nodes.

Each is checked against the framework itself (torch.nn.GRU, Keras 3, ONNX Runtime): the
outputs, and the recorded r, z and n against the GRU's equations recomputed in numpy from
the framework's own weights in the framework's own block order (nn.GRU r, z, n; Keras and
ONNX z, r, h), so a loader that reorders the blocks wrongly, swaps the biases or takes
the reset's place wrongly fails here.
"""
import os

import numpy as np
import pytest
import torch
from torch import nn

import lstm_core
from lstm_core.limits import Limits
from lstm_core.io.loaders import LoadError, find_candidates, load

# Keras 3 on numpy 2 warns about __array__ on every weight it saves
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
FRAMEWORK_TOL = 1e-4  # Keras and ONNX Runtime compute in their own order of operations


def reference(x, layers, reset, order, go_backwards=False):
    """The GRU's equations in numpy float64, in the framework's layout.

    x: (T, B, I); layers: per layer, per direction {"W" (3H, I), "R" (3H, H), "bi", "bh" (3H,)}
    with the blocks in `order` ("rzn" for nn.GRU, "zrn" for Keras and ONNX, whose h is n).
    Returns {(layer, direction): {"r", "z", "n", "h": (T, B, H)}} in input time order, and the
    last layer's output (T, B, D*H).
    """
    def sig(a):
        return 1 / (1 + np.exp(-a))

    record, inp = {}, np.asarray(x, np.float64)
    for k, dirs in enumerate(layers):
        outs = []
        for d, w in enumerate(dirs):
            W, R, bi, bh = (dict(zip(order, np.split(np.asarray(w[key], np.float64), 3)))
                            for key in ("W", "R", "bi", "bh"))
            T, B = inp.shape[:2]
            H = w["R"].shape[1]
            rec, h = {f: np.zeros((T, B, H)) for f in "rznh"}, np.zeros((B, H))
            for t in (range(T - 1, -1, -1) if d == 1 or go_backwards else range(T)):
                r = sig(inp[t] @ W["r"].T + bi["r"] + h @ R["r"].T + bh["r"])
                z = sig(inp[t] @ W["z"].T + bi["z"] + h @ R["z"].T + bh["z"])
                if reset == "after":
                    n = np.tanh(inp[t] @ W["n"].T + bi["n"] + r * (h @ R["n"].T + bh["n"]))
                else:
                    n = np.tanh(inp[t] @ W["n"].T + bi["n"] + (r * h) @ R["n"].T + bh["n"])
                h = (1 - z) * n + z * h
                for f, v in zip("rznh", (r, z, n, h)):
                    rec[f][t] = v
            record[k, d] = rec
            outs.append(rec["h"])
        inp = np.concatenate(outs, -1)
    return record, inp


def check_gates(model, x, record, tol):
    """The model's trace on x (its own layout) against the reference record: r, z, n and h of every
    layer and direction. Returns the largest difference."""
    with torch.no_grad():  # the fast paths a user's trace takes
        tr = model.trace(torch.as_tensor(x, dtype=model.dtype))
    assert tr.fields == ("r", "z", "n", "h")
    worst = 0.0
    for (k, d), want in record.items():
        for f in "rznh":
            got = tr.get(f, k, d).detach().double().numpy()
            assert got.shape == want[f].shape
            err = float(np.abs(got - want[f]).max())
            assert err <= tol, f"{f} of layer {k}, direction {d}: off by {err}"
            worst = max(worst, err)
    return worst


def torch_layers(sd, num_layers, bidirectional, prefix=""):
    """nn.GRU's weights as the reference takes them (rows r, z, n)."""
    H = sd[f"{prefix}weight_hh_l0"].shape[1]

    def get(name):
        return sd[name].double().numpy() if name in sd else np.zeros(3 * H)
    return [[{"W": get(f"{prefix}weight_ih_l{k}{s}"), "R": get(f"{prefix}weight_hh_l{k}{s}"),
              "bi": get(f"{prefix}bias_ih_l{k}{s}"), "bh": get(f"{prefix}bias_hh_l{k}{s}")}
             for s in (("", "_reverse") if bidirectional else ("",))] for k in range(num_layers)]


# --- PyTorch: state dicts, safetensors, modules ------------------------------------------------------

class Encoder(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.embed = nn.Linear(4, 6)
        self.rnn = nn.GRU(6, 5, **kw)


@pytest.mark.parametrize("num_layers,bidirectional,bias,dtype", [
    (1, False, True, torch.float32), (2, True, True, torch.float32), (2, False, False, torch.float32),
    (1, True, True, torch.float64), (2, True, False, torch.float64)])
@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_torch_gru_state_dict_nested(tmp_path, num_layers, bidirectional, bias, dtype, fmt):
    torch.manual_seed(0)
    enc = Encoder(num_layers=num_layers, bidirectional=bidirectional, bias=bias).to(dtype)
    sd = {f"model.{k}": v for k, v in enc.state_dict().items()}
    path = tmp_path / f"gru.{fmt}"
    if fmt == "pt":
        torch.save({"model": enc.state_dict(), "epoch": 3}, path)
    else:
        from safetensors.torch import save_file
        save_file(sd, path)
    prefix = "model.rnn."
    assert [c.summary for c in find_candidates(path)] == [
        f"GRU or LSTM(6 -> 5{', 2 layers' if num_layers > 1 else ''}{', bidirectional' if bidirectional else ''}, "
        f"3 gate blocks)"]
    with pytest.raises(LoadError, match=r"prefix 'model.rnn.': model.rnn.weight_hh_l0 has 3 gate blocks \(15 rows "
                                        r"for H = 5\): the weights of a GRU .* variant='gru'"):
        load(path)
    model = load(path, variant="gru")
    assert isinstance(model, lstm_core.GRU) and model.reset == "after" and model.dtype == dtype
    assert (model.num_layers, model.bidirectional, model.bias) == (num_layers, bidirectional, bias)
    assert model.load_info.chosen == (prefix,) and model.load_info.assumed == {"batch_first": False}
    x = torch.randn(7, 3, 6, dtype=dtype)
    out, h_n = model(x)
    want, want_h = enc.rnn(x)
    assert (out - want).abs().max() <= TOL[dtype] and (h_n - want_h).abs().max() <= TOL[dtype]
    record, _ = reference(x.numpy(), torch_layers({k: v for k, v in enc.rnn.state_dict().items()}, num_layers,
                                                  bidirectional), "after", "rzn")
    check_gates(model, x, record, TOL[dtype])


def test_torch_gru_reset_before_and_options(tmp_path):
    """A reset="before" GRU's state dict: the file cannot say where the reset acts, reset= does."""
    ours = lstm_core.GRU(3, 4, reset="before", seed=1)
    torch.save(ours.state_dict(), tmp_path / "cho.pt")
    model = load(tmp_path / "cho.pt", variant="gru", reset="before", batch_first=True)
    assert model.reset == "before" and model.batch_first and model.load_info.assumed == {}
    x = torch.randn(2, 6, 3)
    ours.batch_first = True
    assert (model(x)[0] - ours(x)[0]).abs().max() == 0
    sd = {k: v.double().numpy() for k, v in ours.state_dict().items()}
    record, _ = reference(x.transpose(0, 1).numpy(), [[{"W": sd["weight_ih_l0"], "R": sd["weight_hh_l0"],
                                                        "bi": sd["bias_ih_l0"], "bh": sd["bias_hh_l0"]}]],
                          "before", "rzn")
    model.batch_first = False  # the trace then takes (T, B, I) like the reference
    check_gates(model, x.transpose(0, 1), record, 1e-5)


def test_torch_gru_cell_state_dict_and_errors(tmp_path):
    torch.manual_seed(2)
    cell = nn.GRUCell(3, 4)
    torch.save(cell.state_dict(), tmp_path / "cell.pt")
    model = load(tmp_path / "cell.pt", variant="gru")
    x = torch.randn(5, 2, 3)
    h, outs = torch.zeros(2, 4), []
    for t in range(5):
        h = cell(x[t], h)
        outs.append(h)
    assert (model(x)[0] - torch.stack(outs)).abs().max() <= 1e-5
    lstm = nn.LSTM(3, 4)
    torch.save(lstm.state_dict(), tmp_path / "lstm.pt")
    with pytest.raises(LoadError, match=r"lstm.pt: weight_hh_l0: variant='gru' needs weight_hh of shape \(3H, H\) "
                                        r"and weight_ih \(3H, I\), found \(16, 4\) and \(16, 3\)"):
        load(tmp_path / "lstm.pt", variant="gru")
    assert isinstance(load(tmp_path / "lstm.pt"), lstm_core.LSTM)  # 4 gate blocks: an LSTM, not asked
    peep = lstm_core.LSTM(3, 4, variant="coupled", peephole=True)
    torch.save(peep.state_dict(), tmp_path / "peep.pt")
    with pytest.raises(LoadError, match=r"variant='gru', but weight_peephole_l0 is an LSTM's weight"):
        load(tmp_path / "peep.pt", variant="gru")
    with pytest.raises(LoadError, match=r"gate_activation: LSTM options; a GRU takes reset \('after' or 'before'\)"):
        load(tmp_path / "cell.pt", variant="gru", gate_activation="sigmoid")
    with pytest.raises(LoadError, match=r"cannot build the model: reset: expected 'after' \(torch.nn.GRU, cuDNN\) or "
                                        r"'before'"):
        load(tmp_path / "cell.pt", variant="gru", reset="sideways")


def test_three_block_choices_name_gru_first():
    from lstm_core.io.loaders import three_block_choices
    names = [n for n, _ in three_block_choices()]
    assert names == ["gru", "coupled", "no_input_gate", "no_forget_gate", "no_output_gate"]
    # the LSTM-only from_state_dict points a GRU's weights to the loader
    with pytest.raises(ValueError, match=r"pass variant=; a GRU's weights have 3 blocks too: "
                                         r"lstm_core.load\(..., variant='gru'\) reads them as one"):
        lstm_core.from_state_dict(nn.GRU(2, 3).state_dict())


def test_torch_modules_holding_grus():
    torch.manual_seed(3)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4)
            self.gru = nn.GRU(4, 5, 2, bidirectional=True, batch_first=True)
            self.cell = nn.GRUCell(3, 2)

    net = Net()
    assert [(c.name, c.summary) for c in find_candidates(net)] == [
        ("lstm", "LSTM(3 -> 4)"), ("gru", "GRU(4 -> 5, 2 layers, bidirectional)"), ("cell", "GRU(3 -> 2, GRUCell)")]
    with pytest.raises(LoadError, match=r"Net: holds 3 LSTMs: 'lstm' LSTM\(3 -> 4\); 'gru' GRU\(4 -> 5"):
        load(net)
    model = load(net, layer="gru")
    assert isinstance(model, lstm_core.GRU) and model.batch_first
    x = torch.randn(2, 6, 4)
    assert (model(x)[0] - net.gru(x)[0]).abs().max() <= 1e-5
    assert isinstance(load(net, layer="lstm"), lstm_core.LSTM)
    with pytest.raises(LoadError, match=r"Net: reset come from the GRU itself; leave them out"):
        load(net, layer="gru", reset="before")
    own = lstm_core.GRU(3, 2, reset="before")
    assert load(own) is own and [c.summary for c in find_candidates(own)] == ["GRU(3 -> 2, reset before)"]


def test_torch_gru_within_limits(tmp_path):
    """The resource policy holds for GRU files: declared sizes checked before anything is read."""
    from safetensors.torch import save_file
    save_file(nn.GRU(6, 5).state_dict(), tmp_path / "g.safetensors")
    with pytest.raises(LoadError, match=r"g.safetensors: bias_ih_l0: declares shape \(15,\) \(60 bytes\), over what "
                                        r"is left of the limit of 100 bytes"):
        load(tmp_path / "g.safetensors", variant="gru", limits=Limits(max_tensor_bytes=100))


def _cli(tmp_path, *extra):
    import subprocess
    import sys
    torch.manual_seed(4)
    torch.save(nn.GRU(3, 4).state_dict(), tmp_path / "gru.pt")
    np.savez(tmp_path / "x.npz", x=np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32))
    cmd = [sys.executable, "-m", "lstm_core", "trace", "--model", str(tmp_path / "gru.pt"), "--input",
           str(tmp_path / "x.npz"), "--out", str(tmp_path / "t.npz"), *extra]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_cli_asks_about_a_gru_state_dict(tmp_path):
    asked = _cli(tmp_path)
    assert asked.returncode != 0
    assert "the weights of a GRU (torch.nn.GRU) or of an LSTM with a gate less" in asked.stderr
    assert "(command line: --variant gru)" in asked.stderr


def test_cli_traces_a_gru_state_dict(tmp_path):
    """The command line loads a GRU state dict with --variant gru and writes its r, z, n, h."""
    done = _cli(tmp_path, "--variant", "gru")
    assert done.returncode == 0, done.stderr
    saved = np.load(tmp_path / "t.npz")
    x = np.load(tmp_path / "x.npz")["x"].transpose(1, 0, 2)  # (B, T, I): 2 sequences of 5 steps
    sd = torch.load(tmp_path / "gru.pt")
    record, _ = reference(x, torch_layers(sd, 1, False), "after", "rzn")
    for f in "rznh":
        assert np.abs(saved[f][0] - record[0, 0][f]).max() <= 1e-5, f


# --- Keras 3 ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras3():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras", reason="keras is not installed: the Keras GRU checks need it")


def keras_layers(layer, reset_after):
    """A Keras GRU (or Bidirectional GRU) layer's weights as the reference takes them (blocks z, r, h)."""
    w = layer.get_weights()
    dirs = []
    for kernel, rec, *bias in (w[i:i + 3] if len(w) % 3 == 0 else w[i:i + 2] for i in range(0, len(w), 3)):
        H = rec.shape[0]
        b = bias[0] if bias else np.zeros((2, 3 * H) if reset_after else 3 * H)
        bi, bh = (b[0], b[1]) if reset_after else (b, np.zeros(3 * H))
        dirs.append({"W": kernel.T, "R": rec.T, "bi": bi, "bh": bh})
    return [dirs]


@pytest.fixture(scope="module")
def keras_grus(keras3, tmp_path_factory):
    """Keras GRUs of every kind in one model, saved three ways, with their inputs and Keras's outputs."""
    k = keras3
    rng = np.random.default_rng(0)
    inp = k.Input((7, 4))
    after = k.layers.GRU(5, return_sequences=True, name="after")(inp)
    before = k.layers.GRU(5, return_sequences=True, reset_after=False, name="before")(after)
    bi = k.layers.Bidirectional(k.layers.GRU(3, return_sequences=True, reset_after=False), name="bi")(before)
    back = k.layers.GRU(4, return_sequences=True, go_backwards=True, name="back")(bi)
    m = k.Model(inp, [after, before, bi, back])
    for layer in m.layers:
        layer.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.7 for w in layer.get_weights()])
    d = tmp_path_factory.mktemp("keras_gru")
    m.save(d / "m.keras")
    m.save(d / "m.h5")
    m.save_weights(d / "m.weights.h5")
    x = rng.normal(size=(3, 7, 4)).astype(np.float32)
    outs = [np.asarray(o) for o in m.predict(x, verbose=0)]
    layers = {layer.name: layer for layer in m.layers}
    return d, dict(zip(("after", "before", "bi", "back"), zip([x] + outs[:3], outs))), layers


@pytest.mark.parametrize("file", ["m.keras", "m.h5", "m.weights.h5"])
@pytest.mark.parametrize("name,reset,bidirectional", [("after", "after", False), ("before", "before", False),
                                                      ("bi", "before", True), ("back", "after", False)])
def test_keras_gru_layers(keras_grus, file, name, reset, bidirectional):
    d, io_, layers = keras_grus
    x, want = io_[name]
    # a .weights.h5 has no config to say go_backwards (as for an LSTM): the caller says it
    model = load(d / file, layer=name, **({"go_backwards": True} if file == "m.weights.h5" and name == "back" else {}))
    assert isinstance(model, lstm_core.GRU)
    assert (model.reset, model.bidirectional, model.go_backwards, model.batch_first) == (
        reset, bidirectional, name == "back", True)
    out = model(torch.from_numpy(x))[0].detach().numpy()
    if name == "back":  # Keras returns a go_backwards layer's sequence reversed
        out = out[:, ::-1]
    assert np.abs(out - want).max() <= FRAMEWORK_TOL
    record, ref_out = reference(x.transpose(1, 0, 2), keras_layers(layers[name], reset == "after"), reset, "zrn",
                                go_backwards=name == "back")
    model.batch_first = False  # the reference and the record are time-major
    check_gates(model, x.transpose(1, 0, 2), record, 1e-5)
    if name != "back":
        assert np.abs(ref_out.transpose(1, 0, 2) - want).max() <= FRAMEWORK_TOL  # the reference is Keras's


def test_keras_gru_candidates_and_stacking(keras3, keras_grus, tmp_path):
    d, io_, _ = keras_grus
    assert [(c.name, c.summary) for c in find_candidates(d / "m.keras")] == [
        ("after", "GRU(4 -> 5)"), ("before", "GRU(5 -> 5, reset_after=False)"),
        ("bi", "GRU(5 -> 3, bidirectional, reset_after=False)"), ("back", "GRU(6 -> 4)")]
    with pytest.raises(LoadError, match=r"m.keras: layers \['after', 'before'\] differ in reset_after; load them one "
                                        r"at a time"):
        load(d / "m.keras", layer=["after", "before"])
    k = keras3
    rng = np.random.default_rng(5)
    inp = k.Input((6, 3))
    y = k.layers.GRU(4, return_sequences=True, name="g1")(inp)
    y = k.layers.Dropout(0.3)(y)
    y = k.layers.GRU(4, return_sequences=True, name="g2")(y)
    m = k.Model(inp, y)
    for layer in m.layers:
        layer.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()])
    m.save(tmp_path / "two.keras")
    x = rng.normal(size=(2, 6, 3)).astype(np.float32)
    model = load(tmp_path / "two.keras")
    assert model.num_layers == 2 and model.load_info.chosen == ("g1", "g2")
    assert np.abs(model(torch.from_numpy(x))[0].detach().numpy() - np.asarray(m.predict(x, verbose=0))).max() \
        <= FRAMEWORK_TOL
    inp = k.Input((6, 3))
    m = k.Model(inp, k.layers.GRU(4, return_sequences=True, name="g")(k.layers.LSTM(4, return_sequences=True,
                                                                                  name="l")(inp)))
    m.save(tmp_path / "mixed.keras")
    assert [c.summary for c in find_candidates(tmp_path / "mixed.keras")] == ["LSTM(3 -> 4)", "GRU(4 -> 4)"]
    with pytest.raises(LoadError, match=r"holds 2 LSTM layers that do not stack \('l' is an LSTM, 'g' is not\)"):
        load(tmp_path / "mixed.keras")
    assert isinstance(load(tmp_path / "mixed.keras", layer="g"), lstm_core.GRU)
    assert isinstance(load(tmp_path / "mixed.keras", layer="l"), lstm_core.LSTM)


def test_keras_gru_refusals(keras3, tmp_path):
    k = keras3
    m = k.Sequential([k.Input((4, 2)), k.layers.GRU(3, recurrent_activation="hard_sigmoid", name="hard")])
    m.save(tmp_path / "hard.keras")
    with pytest.raises(LoadError, match=r"layer 'hard': recurrent_activation='hard_sigmoid' is not supported: "
                                        r"lstm_core.GRU computes the gates r and z with the sigmoid"):
        load(tmp_path / "hard.keras")
    m = k.Sequential([k.Input((4, 2)), k.layers.GRU(3, use_bias=False, reset_after=False, name="nobias")])
    m.save_weights(tmp_path / "nobias.weights.h5")  # neither a bias nor a config tells the reset's place
    with pytest.raises(LoadError, match=r"layer 'nobias': a GRU without a bias or a model config does not say where "
                                        r"its reset gate acts: pass reset='after'"):
        load(tmp_path / "nobias.weights.h5")
    model = load(tmp_path / "nobias.weights.h5", reset="before")
    x = np.random.default_rng(0).normal(size=(2, 4, 2)).astype(np.float32)
    assert np.abs(model(torch.from_numpy(x))[0][:, -1].detach().numpy()
                  - np.asarray(m.predict(x, verbose=0))).max() <= FRAMEWORK_TOL
    m.save(tmp_path / "nobias.keras")
    with pytest.raises(LoadError, match=r"the reset's place is told two ways: reset_after=False \(before\), "
                                        r"reset='after' \(after\)"):
        load(tmp_path / "nobias.keras", reset="after")


@pytest.mark.parametrize("cls,bias_shape,reset", [("GRU", (9,), "before"), ("GRU", (2, 9), "after"),
                                                  ("CuDNNGRU", (18,), "after")])
def test_keras2_legacy_gru(tmp_path, cls, bias_shape, reset):
    """Keras 2 files (written here in Keras 2's layout): GRU with either reset_after, and CuDNNGRU,
    whose one bias (6H,) holds the input then the recurrent bias."""
    from test_load_keras import write_keras2
    rng = np.random.default_rng(7)
    w = {"gru_1/kernel:0": rng.normal(size=(2, 9)).astype(np.float32),
         "gru_1/recurrent_kernel:0": rng.normal(size=(3, 9)).astype(np.float32),
         "gru_1/bias:0": rng.normal(size=bias_shape).astype(np.float32)}
    config = {"name": "gru_1", "units": 3, "return_sequences": True}
    if cls == "GRU":
        config.update(activation="tanh", recurrent_activation="sigmoid", reset_after=reset == "after")
    write_keras2(tmp_path / "k2.h5", [({"class_name": cls, "config": config}, w)], version="2.2.4")
    model = load(tmp_path / "k2.h5")
    assert isinstance(model, lstm_core.GRU) and model.reset == reset
    b = w["gru_1/bias:0"].reshape(-1)
    bi, bh = (b[:9], b[9:]) if reset == "after" else (b, np.zeros(9))
    x = rng.normal(size=(5, 2, 2)).astype(np.float32)  # (T, B, I)
    record, out = reference(x, [[{"W": w["gru_1/kernel:0"].T, "R": w["gru_1/recurrent_kernel:0"].T, "bi": bi,
                                  "bh": bh}]], reset, "zrn")
    model.batch_first = False
    assert np.abs(model(torch.from_numpy(x))[0].detach().numpy() - out).max() <= 1e-5
    check_gates(model, x, record, 1e-5)
    if cls == "GRU":  # Keras 2's default gate activation, which lstm_core.GRU does not compute
        config["recurrent_activation"] = "hard_sigmoid"
        write_keras2(tmp_path / "hard.h5", [({"class_name": cls, "config": config}, w)], version="2.2.4")
        with pytest.raises(LoadError, match=r"layer 'gru_1': recurrent_activation='hard_sigmoid' is not supported"):
            load(tmp_path / "hard.h5")


def test_keras_gru_within_limits(keras_grus):
    d, _, _ = keras_grus
    with pytest.raises(LoadError, match=r"declares shape \(\d+, \d+\) \(\d+ bytes\), over what is left of the limit "
                                        r"of 64 bytes"):
        load(d / "m.keras", layer="after", limits=Limits(max_tensor_bytes=64))


# --- ONNX ---------------------------------------------------------------------------------------------

T, B, I, H = 6, 3, 4, 5


def onnx_gru(*, D=1, linear_before_reset=0, reverse=False, layout=0, bias=True, rng=None, **attrs):
    """An ONNX model of one GRU node with random constant weights: (model bytes, weights)."""
    from onnx import TensorProto, helper, numpy_helper
    rng = rng or np.random.default_rng(0)
    w = {"W": rng.normal(size=(D, 3 * H, I)), "R": rng.normal(size=(D, 3 * H, H)) * 0.6}
    if bias:
        w["B"] = rng.normal(size=(D, 6 * H))
    w = {k: v.astype(np.float32) for k, v in w.items()}
    node = helper.make_node("GRU", ["X", "W", "R", "B" if bias else ""], ["Y", "Y_h"], hidden_size=H, layout=layout,
                            linear_before_reset=linear_before_reset, name="gru",
                            direction="bidirectional" if D == 2 else "reverse" if reverse else "forward", **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT,
                                                                          [B, T, I] if layout else [T, B, I])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("Y", "Y_h")],
                              [numpy_helper.from_array(v, k) for k, v in w.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString(), w


def onnx_layers(w, D):
    B_ = w.get("B", np.zeros((D, 6 * H)))
    return [[{"W": w["W"][d], "R": w["R"][d], "bi": B_[d][:3 * H], "bh": B_[d][3 * H:]} for d in range(D)]]


@pytest.mark.parametrize("lbr", [0, 1])
@pytest.mark.parametrize("D,reverse,layout,bias", [(1, False, 0, True), (1, True, 0, True), (2, False, 0, True),
                                                   (2, False, 1, True), (1, False, 0, False)])
def test_onnx_gru_against_onnxruntime(lbr, D, reverse, layout, bias):
    pytest.importorskip("onnx", reason="onnx is not installed: the ONNX GRU checks need it")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: the ONNX GRU checks need it")
    data, w = onnx_gru(D=D, linear_before_reset=lbr, reverse=reverse, layout=layout, bias=bias)
    x = np.random.default_rng(1).normal(size=(T, B, I)).astype(np.float32)
    fed = x.transpose(1, 0, 2) if layout else x
    # ONNX Runtime runs no batch-first GRU: it runs the same weights with layout=0
    twin = onnx_gru(D=D, linear_before_reset=lbr, reverse=reverse, bias=bias)[0] if layout else data
    Y, Y_h = ort.InferenceSession(twin, providers=["CPUExecutionProvider"]).run(None, {"X": x})
    model = load(data, format="onnx")
    reset = "after" if lbr else "before"
    assert isinstance(model, lstm_core.GRU)
    assert (model.reset, model.bidirectional, model.go_backwards, model.batch_first, model.bias) == (
        reset, D == 2, reverse, bool(layout), bias)
    assert f"linear_before_reset={lbr} is reset={reset!r}" in " ".join(model.load_info.notes)
    assert isinstance(load(data, format="onnx", variant="gru"), lstm_core.GRU)  # --variant gru is no error here
    with pytest.raises(LoadError, match=r"variant: LSTM options; a GRU takes reset"):
        load(data, format="onnx", variant="coupled")
    out, h_n = model(torch.from_numpy(fed))
    if layout:
        out = out.transpose(0, 1)
    want = Y.transpose(0, 2, 1, 3).reshape(T, B, D * H)  # Y (T, D, B, H)
    assert np.abs(out.detach().numpy() - want).max() <= FRAMEWORK_TOL
    assert np.abs(h_n.detach().numpy() - Y_h).max() <= FRAMEWORK_TOL
    record, _ = reference(x, onnx_layers(w, D), reset, "zrn", go_backwards=reverse)
    model.batch_first = False
    check_gates(model, x, record, 1e-5)


def test_onnx_gru_candidates_stacking_and_refusals():
    pytest.importorskip("onnx", reason="onnx is not installed: the ONNX GRU checks need it")
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(3)
    f32 = np.float32
    inits = [numpy_helper.from_array(rng.normal(size=s).astype(f32), n) for n, s in
             (("W0", (1, 3 * H, I)), ("R0", (1, 3 * H, H)), ("W1", (1, 4 * H, H)), ("R1", (1, 4 * H, H)))]
    nodes = [helper.make_node("GRU", ["X", "W0", "R0"], ["Y0", "Yh0"], hidden_size=H, name="gru"),
             helper.make_node("Squeeze", ["Y0"], ["S0"]),
             helper.make_node("LSTM", ["S0", "W1", "R1"], ["Y1"], hidden_size=H, name="lstm")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, I])],
                              [helper.make_tensor_value_info("Y1", TensorProto.FLOAT, None)], inits)
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString()
    assert [(c.name, c.summary) for c in find_candidates(data, format="onnx")] == [
        ("gru", "GRU(4 -> 5)"), ("lstm", "LSTM(5 -> 5)")]
    with pytest.raises(LoadError, match=r"holds 2 LSTM nodes that do not stack: 'gru' GRU\(4 -> 5\); 'lstm' "
                                        r"LSTM\(5 -> 5\); choose with layer="):
        load(data, format="onnx")
    with pytest.raises(LoadError, match=r"nodes \['gru', 'lstm'\] cannot be stacked: 'gru' is a GRU, 'lstm' an LSTM"):
        load(data, format="onnx", layer=["gru", "lstm"])
    assert isinstance(load(data, format="onnx", layer="gru"), lstm_core.GRU)
    assert isinstance(load(data, format="onnx", layer="lstm"), lstm_core.LSTM)
    with pytest.raises(LoadError, match=r"GRU node 'gru': clip=3.0 is not supported: ONNX clips the gate "
                                        r"pre-activations to \[-clip, clip\], lstm_core.GRU does not"):
        load(onnx_gru(clip=3.0)[0], format="onnx")
    with pytest.raises(LoadError, match=r"GRU node 'gru': activation 'HardSigmoid' for f \(r, z\) is not supported"):
        load(onnx_gru(activations=["HardSigmoid", "Tanh"])[0], format="onnx")
    with pytest.raises(LoadError, match=r"GRU node 'gru': activations lists 3 functions, expected 2 \(f, g per "
                                        r"direction\)"):
        load(onnx_gru(activations=["Sigmoid", "Tanh", "Tanh"])[0], format="onnx")
    with pytest.raises(LoadError, match=r"over what is left of the limit of 64 bytes"):
        load(onnx_gru()[0], format="onnx", limits=Limits(max_tensor_bytes=64))
