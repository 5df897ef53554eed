"""explorer.signals and explorer.demo: generators against their definitions, parsing, every input error."""
import io

import numpy as np
import pytest
import torch

import lstm_core
from helpers import sigmoid
from explorer.logic import inputs as signals
from explorer.logic import models as demo
from explorer.logic.inputs import InputError
from explorer.logic.settings import Limits, ModelSettings

# --- generators ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(signals.GENERATORS))
def test_generator_shapes_and_reproducibility(name):
    a = signals.generate(name, 50, 3, 4, seed=7)
    b = signals.generate(name, 50, 5, 4, seed=7)
    gen = signals.GENERATORS[name]
    I = len(gen.features) if gen.features else 4
    assert a.x.shape == (50, 3, I) and a.x.dtype == np.float32
    assert a.lengths.tolist() == [50, 50, 50]
    assert len(a.feature_names) == I
    np.testing.assert_array_equal(a.x, b.x[:, :3])  # sequence b comes from its own stream (seed, b)
    assert not np.array_equal(a.x[:, 0], signals.generate(name, 50, 3, 4, seed=8).x[:, 0]) or name == "step"


def test_sine_follows_its_equation():
    s = signals.generate("sine", 200, 1, 2, period=40, amplitude=2.0, noise=0.0)
    x = s.x[:, 0]
    np.testing.assert_allclose(x[40:], x[:-40], atol=1e-5)  # period 40
    np.testing.assert_allclose(x[:-10] ** 2 + x[10:] ** 2, 4.0, rtol=1e-4)  # sin² + cos² = 1, amplitude 2
    # feature k is shifted by k/I of a period: feature 1 lags feature 0 by 20 steps
    np.testing.assert_allclose(x[20:, 0], x[:-20, 1], atol=1e-5)


def test_square_impulses_step_walk_noise():
    sq = signals.generate("square", 100, 1, 1, period=20, duty=0.25, amplitude=3.0).x[:, 0, 0]
    assert set(np.unique(sq)) == {-3.0, 3.0}
    assert (sq > 0).mean() == pytest.approx(0.25)
    imp = signals.generate("impulses", 100, 1, 1, period=25, amplitude=1.5).x[:, 0, 0]
    assert (imp > 0).sum() == 4 and set(np.unique(imp)) == {0.0, 1.5}
    assert np.all(np.diff(np.flatnonzero(imp)) == 25)
    st = signals.generate("step", 100, 1, 1, position=0.5, amplitude=2.0).x[:, 0, 0]
    k = int(np.argmax(st > 0))
    assert 40 <= k <= 60 and np.all(st[k:] == 2.0) and np.all(st[:k] == 0.0)
    walk = signals.generate("random_walk", 5000, 1, 1, step_size=0.1).x[:, 0, 0]
    assert np.diff(walk).std() == pytest.approx(0.1, rel=0.05)
    noise = signals.generate("noise", 20000, 1, 1, std=2.0).x[:, 0, 0]
    assert noise.std() == pytest.approx(2.0, rel=0.05) and abs(noise.mean()) < 0.05


def test_recall_episodes():
    s = signals.generate("recall", 300, 2, 1, delay=20, gap=10, distractors=0.0)
    for b in range(2):
        value, store, recall = s.x[:, b].T
        stores, recalls = np.flatnonzero(store), np.flatnonzero(recall)
        assert len(stores) >= 5
        np.testing.assert_array_equal(recalls, stores[:len(recalls)] + 20)  # every recall comes delay steps later
        assert np.all(np.abs(value[stores]) >= 0.4)  # the stored value is far from 0
        assert np.all(value[np.setdiff1d(np.arange(300), stores)] == 0.0)  # no distractors asked for


def test_brackets_are_well_nested():
    s = signals.generate("brackets", 400, 3, 1, max_depth=3, p_open=0.5)
    assert np.all(s.x.sum(axis=2) == 1.0)  # one-hot
    depth = np.cumsum(s.x[:, :, 0] - s.x[:, :, 1], axis=0)
    assert depth.min() >= 0 and depth.max() <= 3
    assert set(np.unique(s.labels)) == {"(", ")"}


def test_vary_lengths_pads_with_zeros():
    s = signals.generate("sine", 100, 4, 1, vary_lengths=True)
    assert s.lengths.tolist() == [100, 83, 67, 50]
    assert np.all(s.x[83:, 1] == 0.0) and np.any(s.x[:83, 1] != 0.0)
    np.testing.assert_array_equal(s.mask[:, 3], np.arange(100) < 50)


# --- text ---------------------------------------------------------------------------------------

def test_one_hot_text_by_hand():
    s = signals.one_hot_text("ab\nbca", "abc")
    assert s.x.shape == (3, 2, 3)
    want0 = [[1, 0, 0], [0, 1, 0], [0, 0, 0]]  # "ab" then padding
    want1 = [[0, 1, 0], [0, 0, 1], [1, 0, 0]]  # "bca"
    np.testing.assert_array_equal(s.x[:, 0], want0)
    np.testing.assert_array_equal(s.x[:, 1], want1)
    assert s.lengths.tolist() == [2, 3]
    assert s.labels[:, 1].tolist() == ["b", "c", "a"] and s.labels[2, 0] == ""
    assert s.feature_names == ("'a'", "'b'", "'c'")


def test_vocabulary_deduplicated_in_order():
    assert signals.one_hot_text("aab", "baab").feature_names == ("'b'", "'a'")


def test_out_of_vocabulary_offers_the_fix():
    with pytest.raises(InputError, match=r"text: 2 character\(s\) not in the vocabulary: 'H' \(line 1, column 1\), "
                                         r"'!' \(line 2, column 3\)") as e:
        signals.one_hot_text("Hi\nhi!", "hi")
    assert [(f.label, f.changes) for f in e.value.fixes] == [("Add them to the vocabulary", {"vocab": "hiH!"})]


# --- uploads ------------------------------------------------------------------------------------

def npy(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def csv_values(data, name="t.csv"):
    """The (T, I) values of a one-sequence upload."""
    sig = signals.parse_upload(name, data)
    assert sig.x.shape[1] == 1 and sig.lengths.tolist() == [sig.x.shape[0]]
    return sig.x[:, 0]


def test_csv_with_and_without_header():
    np.testing.assert_array_equal(csv_values(b"a,b\n1,2\n3.5,-4\n"), [[1, 2], [3.5, -4]])
    assert signals.parse_upload("h.csv", b"a,b\n1,2\n").feature_names == ("a", "b")  # the header names them
    np.testing.assert_array_equal(csv_values(b"1;2\n3;4\n"), [[1, 2], [3, 4]])  # a ';' locale's spreadsheet
    np.testing.assert_array_equal(csv_values(b"1\t2\n3\t4\n"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(csv_values(b"  1   2\n 3 4\n"), [[1, 2], [3, 4]])  # whitespace-aligned
    np.testing.assert_array_equal(csv_values(b"0.5\n0.25\n1\n"), [[0.5], [0.25], [1]])
    np.testing.assert_array_equal(csv_values(b"1,2,\n3,4,\n"), [[1, 2], [3, 4]])  # trailing commas
    np.testing.assert_array_equal(csv_values(b"\xef\xbb\xbfx\n1\r\n2\r\n"), [[1], [2]])  # BOM, CRLF
    np.testing.assert_array_equal(csv_values(b"1,2\n3,4\n", "t.txt"), [[1, 2], [3, 4]])  # .txt: a table too


def test_upload_signal_layout():
    s = signals.parse_upload("x.npy", npy(np.arange(6.0).reshape(3, 2)))
    assert s.x.shape == (3, 1, 2) and s.lengths.tolist() == [3] and s.feature_names == ("x0", "x1")
    np.testing.assert_array_equal(s.x[:, 0], [[0, 1], [2, 3], [4, 5]])
    assert signals.parse_upload("y.npy", npy(np.arange(4))).x.shape == (4, 1, 1)  # 1-D: one feature


def test_an_npz_batch_keeps_its_lengths():
    x = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)  # (B, T, I)
    buf = io.BytesIO()
    np.savez(buf, x=x, lengths=np.array([4, 2]))
    s = signals.parse_upload("b.npz", buf.getvalue())
    assert s.x.shape == (4, 2, 3) and s.lengths.tolist() == [4, 2]  # (T, B, I)
    np.testing.assert_array_equal(s.x[:, 0], x[0])
    np.testing.assert_array_equal(s.x[2:, 1], 0)  # padding zeroed
    assert not s.mask[2:, 1].any() and "2 sequence(s) of 2 to 4 steps" in s.note


ERRORS = [  # (call, message) every input error, einops-style; uploads read by lstm_core.io.data
    (lambda: signals.parse_upload("e.csv", b""), r"e.csv: the file is empty"),
    (lambda: signals.parse_upload("e.csv", b"\n \n"), r"e.csv: no rows"),
    (lambda: signals.parse_upload("h.csv", b"a,b\n"), r"h.csv: a header and no data rows"),
    (lambda: signals.parse_upload("r.csv", b"1,2\n3,4,5\n6,7\n"), r"r.csv: row 2 has 3 fields, expected 2 like row 1"),
    (lambda: signals.parse_upload("n.csv", b"1,2\n3,abc\n"), r"n.csv: row 2, column 2: 'abc' is not a number"),
    (lambda: signals.parse_upload("nan.csv", b"1,2\n3,nan\n"), r"nan.csv: row 2, column 2: 'nan' is not finite"),
    (lambda: signals.parse_upload("inf.csv", b"1,inf\n-inf,2\n"), r"inf.csv: row 1, column 2: 'inf' is not finite"),
    (lambda: signals.parse_upload("b.csv", b"\xff\xfe1,2"), r"b.csv: not UTF-8 text"),
    (lambda: signals.parse_upload("z.npy", b"not an array"), r"z.npy: x is not an NPY array numpy can read"),
    (lambda: signals.parse_upload("z.npy", npy(np.zeros((2, 3, 4, 5)))),
     r"z.npy: x must have shape \(B, T, I\), \(T, I\) or \(T,\), found \(2, 3, 4, 5\)"),
    (lambda: signals.parse_upload("z.npy", npy(np.zeros((0, 3)))), r"z.npy: x is empty, shape \(1, 0, 3\)"),
    (lambda: signals.parse_upload("z.npy", npy(np.array(["a", "b"]))),
     r"z.npy: x must be numbers, found dtype <U1 \(expected bool, int or float\)"),
    (lambda: signals.parse_upload("z.npy", npy(np.array([1.0, np.nan]))),
     r"z.npy: nan at sequence 0, step 1, feature 0: every value must be finite"),
    (lambda: signals.one_hot_text("", "abc"), r"text: it is empty; type at least one character"),
    (lambda: signals.one_hot_text("abc", ""), r"vocabulary: it is empty"),
    (lambda: signals.one_hot_text("a\n" * 65, "a"), r"text lines \(sequences\): expected 1..64, got 65"),
    (lambda: signals.generate("sine", 300_000, 1, 1), r"sequence length: expected 1..200,000, got 300,000"),
    (lambda: signals.generate("sine", 10, 65, 1), r"batch size: expected 1..64, got 65"),
    (lambda: signals.generate("chirp", 10, 1, 1), r"input: unknown generator 'chirp'; expected one of recall, sine"),
]


@pytest.mark.parametrize("call,message", ERRORS)
def test_input_errors(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_upload_over_the_row_limit(monkeypatch):
    monkeypatch.setattr(signals, "LIMITS", Limits(max_upload_rows=5))
    with pytest.raises(InputError, match=r"big.csv: 6 rows \(time steps\) is over this app's limit of 5$"):
        signals.parse_upload("big.csv", b"1\n" * 6)


def test_too_many_columns(monkeypatch):
    monkeypatch.setattr(signals, "LIMITS", Limits(max_features=2))
    with pytest.raises(InputError, match=r"w.csv: 3 columns \(features\) is over this app's limit of 2$"):
        signals.parse_upload("w.csv", b"1,2,3\n")


def test_too_many_sequences(monkeypatch):
    monkeypatch.setattr(signals, "LIMITS", Limits(max_batch=2))
    with pytest.raises(InputError, match=r"b.npy: 3 sequences is over this app's limit of 2$"):
        signals.parse_upload("b.npy", npy(np.zeros((3, 4, 1))))


# --- the demo model -----------------------------------------------------------------------------



def test_demo_units_do_what_their_wiring_says():
    s = signals.generate("recall", 200, 1, 3, delay=20, gap=10, distractors=0.5)
    model = demo.build(ModelSettings())
    with torch.no_grad():
        tr = model.trace(torch.from_numpy(s.x))
    i, f, g, o, c = (tr.get(k)[:, 0].numpy() for k in "ifgoc")  # (T, H)
    value, store, recall = s.x[:, 0].T
    stores, recalls = np.flatnonzero(store), np.flatnonzero(recall)
    # unit 0, memory: opens at the marker, clears and stores tanh(2 v), holds it, shows it at the cue
    np.testing.assert_allclose(i[stores, 0], sigmoid(8.0), rtol=1e-5)
    np.testing.assert_allclose(f[stores, 0], sigmoid(-7.0), rtol=1e-5)
    for sidx, ridx in zip(stores, recalls):
        held = np.tanh(2 * value[sidx])
        assert abs(c[sidx, 0] - held) < 0.01
        assert abs(c[ridx, 0] - held) < 0.03  # f = σ(7) for 20 steps loses under 2 %
        np.testing.assert_allclose(o[ridx, 0], sigmoid(8.0), rtol=1e-5)
        assert tr.get("h")[ridx, 0, 0].item() == pytest.approx(sigmoid(8.0) * np.tanh(c[ridx, 0]), rel=1e-5)
    assert o[np.setdiff1d(np.arange(200), recalls), 0].max() < 0.001
    # units 1 (counter) and 2 (tracker): c from the wiring's gates by hand, c_{-1} = 0
    gates = {1: (sigmoid(16 * recall - 8), sigmoid(7.0), np.tanh(0.25)),
             2: (sigmoid(5.0), sigmoid(-5.0), np.tanh(2 * value))}
    for unit, (i_ref, f_ref, g_ref) in gates.items():
        c_ref, prev = np.zeros(200), 0.0
        for t in range(200):
            prev = c_ref[t] = f_ref * prev + np.broadcast_to(i_ref * g_ref, (200,))[t]
        np.testing.assert_allclose(c[:, unit], c_ref, atol=1e-5)
    jumps = np.diff(c[:, 1])
    np.testing.assert_allclose(jumps[recalls - 1], sigmoid(8) * np.tanh(0.25) - (1 - sigmoid(7)) * c[recalls - 1, 1],
                               atol=1e-5)  # the counter steps up at every cue


@pytest.mark.parametrize("variant", ["coupled", "no_input_gate", "no_forget_gate", "no_output_gate", "peephole",
                                     "full_gate_recurrence"])
def test_demo_wires_every_variant(variant):
    model = demo.build(ModelSettings(variant=variant, bidirectional=True))
    H = model.hidden_size
    for d in range(2):
        w = model.layer_weights(0, d)
        for j, k in enumerate(model.cell.gates):
            assert w.w_ih[j * H, :3].tolist() == list(demo.WIRING[0][k][:3])
            assert torch.all(w.w_hh[j * H] == 0)
        if w.w_peep is not None:
            assert torch.all(w.w_peep[:, :3] == 0)


def test_demo_gru_units_do_what_their_wiring_says():
    """The GRU's wiring (models.GRU_WIRING) against its docstring, by hand: h' = (1 − z) n + z h."""
    s = signals.generate("recall", 200, 1, 3, delay=20, gap=10, distractors=0.5)
    model = demo.build(ModelSettings(variant="gru", bidirectional=True))
    assert isinstance(model, lstm_core.GRU) and model.layer_weights(0, 1)["weight_hh"][[0, 8, 16]].abs().sum() == 0
    with torch.no_grad():
        tr = model.trace(torch.from_numpy(s.x))
    z, h = tr.get("z")[:, 0].numpy(), tr.get("h")[:, 0].numpy()  # (T, H)
    value, store, recall = s.x[:, 0].T
    stores, recalls = np.flatnonzero(store), np.flatnonzero(recall)
    np.testing.assert_allclose(z[stores, 0], sigmoid(-7.0), rtol=1e-5)  # writes at the marker
    for sidx, ridx in zip(stores, recalls):  # unit 0, memory: stores tanh(2 v) and holds it to the cue
        held = np.tanh(2 * value[sidx])
        assert abs(h[sidx, 0] - held) < 0.01 and abs(h[ridx, 0] - held) < 0.03  # z = σ(7): under 2 % in 20 steps
    ref = {1: (sigmoid(8 - 7 * recall), np.tanh(5.0)), 2: (np.full(200, sigmoid(-5.0)), np.tanh(2 * value))}
    for unit, (keep, n) in ref.items():  # units 1 (counter) and 2 (tracker) by hand, h_{-1} = 0
        h_ref, prev = np.zeros(200), 0.0
        for t in range(200):
            prev = h_ref[t] = keep[t] * prev + (1 - keep[t]) * np.broadcast_to(n, (200,))[t]
        np.testing.assert_allclose(h[:, unit], h_ref, atol=1e-5)
    assert np.all(np.diff(h[recalls, 1]) > 0.05)  # the counter steps up at every cue


def test_a_random_gru_from_the_settings():
    """ModelSettings build a GRU through lstm_core.zoo: no forget bias, no projection, 4 fields a step."""
    from explorer.logic.settings import check_sizes
    ms = ModelSettings(source="random", variant="gru", hidden_size=5, num_layers=2, forget_bias=2.0, seed=3)
    model = demo.build(ms)
    assert isinstance(model, lstm_core.GRU) and model.num_layers == 2 and not model.training
    assert torch.equal(model.weight_hh_l1, lstm_core.GRU(3, 5, 2, seed=3).weight_hh_l1)  # the bias was not set
    assert ms.model_kwargs()["forget_bias"] is None and ms.declaration.title == "GRU"
    assert check_sizes(ModelSettings(variant="gru", hidden_size=1), 100, 2) == 100 * 2 * 4 * 4 + 100 * 2 * 3 * 4
    with pytest.raises(ValueError, match=r"projection P: a GRU has no projection; set P to 0, or choose an LSTM "
                                         r"variant"):
        demo.build(ModelSettings(variant="gru", hidden_size=5, proj_size=2))
    with pytest.raises(ValueError, match=r"variant: unknown name 'grux'; expected one of standard, .*, gru"):
        demo.build(ModelSettings(variant="grux"))
    assert demo.model_line(ms) == "GRU, I=3, H=5, 2 layer(s)"
    assert demo.model_line(ModelSettings(variant="peephole", bidirectional=True)).startswith("peephole LSTM, I=3")


def test_demo_needs_three_inputs():
    random = demo.build(ModelSettings(input_size=2, source="random"))
    assert torch.equal(demo.build(ModelSettings(input_size=2)).weight_ih_l0, random.weight_ih_l0)  # left random
    with pytest.raises(ValueError, match=r"the demo units read 3 input channels \(value, store, recall\); "
                                         r"input_size is 2"):
        demo.wire(random)
    with pytest.raises(ValueError, match=r"source: expected one of shipped, trained, demo, random, got 'pretrained'"):
        demo.build(ModelSettings(source="pretrained"))
    with pytest.raises(ValueError, match=r"the model 'gone' was trained in another session"):
        demo.build(ModelSettings(source="trained", checkpoint="gone@10"))


def test_the_budget_counts_the_input_too():
    from explorer.logic.settings import LimitError, check_sizes
    small = ModelSettings(hidden_size=1)
    assert check_sizes(small, 100, 2) == 100 * 2 * 6 * 4 + 100 * 2 * 3 * 4  # trace (5H + P) + input I
    with pytest.raises(LimitError, match=r"this trace would need 2,734 MiB \(T=200,000, B=64, H=1, 1 layer\(s\) "
                                         r"x 1 direction\(s\)\), over the budget of 512 MiB"):
        check_sizes(ModelSettings(hidden_size=1, input_size=50), 200_000, 64)
    with pytest.raises(LimitError, match=r"hidden size 2,000 is over this app's limit of 1,024"):
        check_sizes(ModelSettings(hidden_size=2000), 10, 1)
