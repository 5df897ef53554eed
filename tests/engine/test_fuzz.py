"""Generated inputs at every boundary (hypothesis): a clear ValueError / TypeError or the right answer.

Standard configurations are checked against torch.nn.LSTM; everything else must either
work or raise the package's own errors (never IndexError, RuntimeError from deep inside
torch, ...). Bounded for CI: LSTM_FUZZ_EXAMPLES examples per test (default 25); set it
to e.g. 500 for a longer local run.
"""
import io
import os

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import lstm_core
from lstm_core import Clamp, LoadError
from lstm_core.io.data import DataError, load_array, load_csv, read_vocab

EXAMPLES = int(os.environ.get("LSTM_FUZZ_EXAMPLES", "25"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not os.environ.get("LSTM_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CLEAR = (ValueError, TypeError)  # LoadError and DataError are ValueErrors

anything = st.one_of(st.none(), st.booleans(), st.integers(-3, 10), st.integers(-10 ** 30, 10 ** 30),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4),
                     st.lists(st.integers(-2, 6), max_size=3), st.just(range(0)), st.just(()))


@fuzz
@given(I=anything, H=anything, L=anything, kw=st.dictionaries(
    st.sampled_from(["bias", "batch_first", "dropout", "bidirectional", "proj_size", "forget_bias", "chrono",
                     "seed", "go_backwards", "variant", "init", "gate_activation", "peephole"]), anything, max_size=3))
def test_constructor_builds_or_says_why(I, H, L, kw):
    try:
        m = lstm_core.LSTM(I, H, L, **kw)
    except CLEAR as e:
        assert str(e)
        return
    assert m.input_size == I and m.hidden_size == H
    assert all(torch.isfinite(p).all() for p in m.parameters())


@fuzz
@given(I=st.integers(1, 4), H=st.integers(1, 5), L=st.integers(1, 2), bidirectional=st.booleans(),
       batch_first=st.booleans(), proj=st.integers(0, 3), T=st.integers(1, 5), B=st.integers(1, 3),
       data=st.data())
def test_forward_matches_torch(I, H, L, bidirectional, batch_first, proj, T, B, data):
    proj = proj if proj < H else 0
    torch.manual_seed(0)
    ref = nn.LSTM(I, H, L, bidirectional=bidirectional, batch_first=batch_first, proj_size=proj).double()
    m = lstm_core.LSTM.from_torch(ref)
    x = torch.randn(*((B, T, I) if batch_first else (T, B, I)), dtype=torch.float64)
    lengths = data.draw(st.lists(st.integers(1, T), min_size=B, max_size=B))
    lengths[0] = T
    with torch.no_grad():
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
        want, (hw, cw) = ref(packed)
        got, (hg, cg) = m(packed)
        torch.testing.assert_close(got.data, want.data)
        torch.testing.assert_close((hg, cg), (hw, cw))
        out, (h2, c2) = m(x, lengths=torch.tensor(lengths))
        torch.testing.assert_close((h2, c2), (hw, cw))
        tr = m.trace(x, lengths=torch.tensor(lengths))
        torch.testing.assert_close(tr.output, out)


shapes = st.lists(st.integers(0, 4), min_size=0, max_size=5)
dtypes = st.sampled_from([torch.float32, torch.float64, torch.float16, torch.int64, torch.bool, torch.complex64])
specials = st.sampled_from([0.0, float("nan"), float("inf"), -float("inf"), 1e38])


@fuzz
@given(shape=shapes, dtype=dtypes, special=specials, batch_first=st.booleans(), lengths=st.one_of(
    st.none(), st.lists(st.integers(-1, 6), max_size=4), st.text(max_size=2)), state=st.sampled_from(
    [None, "zeros", "wrong", "nan"]), trace=st.booleans())
def test_forward_and_trace_on_any_tensor(shape, dtype, special, batch_first, lengths, state, trace):
    m = lstm_core.LSTM(3, 2, batch_first=batch_first)
    x = torch.zeros(shape, dtype=dtype)
    if x.numel() and dtype.is_floating_point:
        x.view(-1)[0] = special
    s = None
    if state is not None:
        B = shape[0 if batch_first else 1] if len(shape) == 3 else None
        dims = (1, B, 2) if B is not None else (1, 2)
        s = (torch.zeros(dims), torch.zeros(dims)) if state != "wrong" else (torch.zeros(3), torch.zeros(3))
        if state == "nan":
            s[1].fill_(float("nan"))
    try:
        with torch.no_grad():
            out = (m.trace(x, s, lengths).output if trace else m(x, s, lengths)[0])
    except CLEAR as e:
        assert str(e)
        return
    assert torch.isfinite(out).all()  # only finite inputs run (check_finite=True)


@fuzz
@given(target=anything | st.sampled_from("ifgoch"), value=anything, units=anything, steps=anything,
       batch=anything, layer=anything)
def test_clamp_arguments(target, value, units, steps, batch, layer):
    m = lstm_core.LSTM(3, 4, 2)
    x = torch.randn(5, 2, 3)
    try:
        k = Clamp(target, value, units=units, steps=steps, batch=batch, layer=layer)
        with torch.no_grad():
            tr = m.trace(x, interventions=[k])
    except CLEAR as e:
        assert str(e)
        return
    assert isinstance(units, (int, list, range, type(None))) and not isinstance(units, bool)
    assert torch.isfinite(tr.output).all()


@fuzz
@given(raw=st.binary(max_size=400), header=st.sampled_from(["auto", True, False]))
def test_csv_reader_on_random_bytes(raw, header):
    try:
        load_csv(io.BytesIO(raw), header=header, source="f.csv")
    except DataError:
        pass


@fuzz
@given(raw=st.binary(max_size=300), npz=st.booleans())
def test_array_reader_on_random_bytes(raw, npz):
    buf = io.BytesIO()
    if npz:
        np.savez(buf, x=np.ones((2, 3, 1)))
    else:
        np.save(buf, np.ones((2, 3)))
    good = buf.getvalue()
    cut = len(raw) % max(len(good), 1)
    data = good[:cut] + raw + good[cut + len(raw):]  # a real file with a random stretch written over it
    try:
        seqs = load_array(io.BytesIO(data), source="f.npz")
    except DataError:
        return
    assert torch.isfinite(seqs.x).all()


@fuzz
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_vocab_reader_on_random_bytes(raw):
    try:
        vocab = read_vocab(io.BytesIO(raw), "v.json")
    except DataError:
        return
    assert isinstance(vocab, list) and vocab


def _model_files():
    from safetensors.torch import save
    state = {k: v.contiguous() for k, v in nn.LSTM(3, 4).state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    return {"torch": buf.getvalue(), "safetensors": save(state)}


MODEL_FILES = None


@fuzz
@given(fmt=st.sampled_from(["torch", "safetensors", "keras", "onnx", None]), raw=st.binary(max_size=64),
       where=st.integers(0, 10 ** 6))
def test_loaders_on_damaged_files(fmt, raw, where):
    global MODEL_FILES
    if MODEL_FILES is None:
        MODEL_FILES = _model_files()
    good = MODEL_FILES.get(fmt or "torch", b"")
    at = where % (len(good) + 1)
    data = good[:at] + raw + good[at + len(raw):]
    try:
        lstm_core.load(data, format=fmt)
    except LoadError:
        pass
