"""The standard variant against torch.nn.LSTM, over every option it has."""
import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import lstm_core
from helpers.equations import close, run_equations

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
OPTIONS = list(itertools.product(
    (1, 2),  # num_layers
    (True, False),  # bias
    (False, True),  # bidirectional
    (0, 2),  # proj_size
))
MODES = ("padded", "lengths", "packed", "unbatched")


def _pair(num_layers, bias, bidirectional, proj_size, batch_first=False, dtype=torch.float32):
    ref = nn.LSTM(3, 4, num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional,
                  proj_size=proj_size, dtype=dtype)
    return ref, lstm_core.LSTM.from_torch(ref)


def _inputs(mode, ref, batch_first, with_state, dtype):
    T, B = 6, 3
    LD = ref.num_layers * (2 if ref.bidirectional else 1)
    P = ref.proj_size or ref.hidden_size
    x = torch.randn(T, B, 3, dtype=dtype)
    lengths = torch.tensor([6, 2, 4])
    state = (torch.randn(LD, B, P, dtype=dtype), torch.randn(LD, B, 4, dtype=dtype)) if with_state else None
    if mode == "unbatched":
        x = x[:, 0]
        state = state and (state[0][:, 0], state[1][:, 0])
    elif batch_first:
        x = x.transpose(0, 1)
    return x, lengths, state


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers,bias,bidirectional,proj_size", OPTIONS)
def test_forward_and_trace_match_nn_lstm(num_layers, bias, bidirectional, proj_size, mode, dtype):
    batch_first = num_layers == 2  # both layouts appear across the grid
    for with_state in (False, True):
        ref, ours = _pair(num_layers, bias, bidirectional, proj_size, batch_first, dtype)
        x, lengths, state = _inputs(mode, ref, batch_first, with_state, dtype)
        if mode in ("lengths", "packed"):
            packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
            want_out, (want_h, want_c) = ref(packed, state)
            want_out = torch.nn.utils.rnn.pad_packed_sequence(want_out, batch_first=batch_first,
                                                              total_length=6)[0]
            call = (packed,) if mode == "packed" else (x,)
            kw = {} if mode == "packed" else {"lengths": lengths}
        else:
            want_out, (want_h, want_c) = ref(x, state)
            call, kw = (x,), {}
        got_out, (got_h, got_c) = ours(*call, state, **kw)
        with torch.no_grad():
            tr = ours.trace(*call, state, **kw)
        for out in (got_out, tr.output):
            if mode == "packed":
                assert torch.equal(out.batch_sizes, packed.batch_sizes)
                assert torch.equal(out.sorted_indices, packed.sorted_indices)
                out = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=6)[0]
            close(out, want_out, TOL[dtype])
        for h, c in ((got_h, got_c), (tr.h_n, tr.c_n)):
            close(h, want_h, TOL[dtype])
            close(c, want_c, TOL[dtype])


@pytest.mark.parametrize("num_layers,bias,bidirectional,proj_size", OPTIONS)
@pytest.mark.parametrize("method", ("replay", "loop", "reference"))
def test_trace_gates_match_equations_on_nn_lstm_weights(num_layers, bias, bidirectional, proj_size, method):
    """Gates and states recomputed, step by step, from nn.LSTM's own weights."""
    ref, ours = _pair(num_layers, bias, bidirectional, proj_size, dtype=torch.float64)
    x = torch.randn(7, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 3, 5])
    h0 = torch.randn(ref.num_layers * (1 + bidirectional), 3, ref.proj_size or 4, dtype=torch.float64)
    c0 = torch.randn(ref.num_layers * (1 + bidirectional), 3, 4, dtype=torch.float64)
    want = run_equations(dict(ref.named_parameters()), x, num_layers=num_layers, bidirectional=bidirectional,
                         h0=h0, c0=c0, lengths=lengths)
    with torch.set_grad_enabled(method == "reference"):
        tr = ours.trace(x, (h0, c0), lengths=lengths, method=method)
    for name in ("i", "f", "g", "o", "c", "h"):
        close(getattr(tr, name).detach(), want[name], 1e-10)
    for name in ("output", "h_n", "c_n"):
        close(getattr(tr, name).detach(), want[name], 1e-10)
    assert torch.equal(tr.mask, torch.arange(7)[:, None] < lengths)


def test_same_seed_same_weights_as_nn_lstm():
    torch.manual_seed(3)
    ref = nn.LSTM(5, 7, 2, bidirectional=True, proj_size=3)
    torch.manual_seed(3)
    ours = lstm_core.LSTM(5, 7, 2, bidirectional=True, proj_size=3)
    assert list(ref.state_dict()) == list(ours.state_dict())
    for a, b in zip(ref.state_dict().values(), ours.state_dict().values()):
        assert torch.equal(a, b)


def test_state_dicts_load_both_ways():
    ref = nn.LSTM(3, 4, 2, bidirectional=True)
    ours = lstm_core.LSTM(3, 4, 2, bidirectional=True, init="orthogonal")
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(5, 2, 3)
    assert torch.equal(ours(x)[0], ref(x)[0])
    back = nn.LSTM(3, 4, 2, bidirectional=True)
    back.load_state_dict(lstm_core.LSTM(3, 4, 2, bidirectional=True, seed=1).state_dict())
    assert torch.equal(back.weight_hh_l1_reverse, lstm_core.LSTM(3, 4, 2, bidirectional=True, seed=1).weight_hh_l1_reverse)


def test_dropout_between_layers_in_training_only():
    ours = lstm_core.LSTM(3, 16, 3, dropout=0.5)
    x = torch.randn(10, 4, 3)
    ours.eval()
    assert torch.equal(ours(x)[0], ours(x)[0])
    ref = ours.to_torch().eval()
    close(ours(x)[0], ref(x)[0], 1e-6)
    ours.train()
    a, b = ours(x)[0], ours(x)[0]
    assert not torch.equal(a, b)  # random masks differ between calls
    with torch.no_grad():
        assert not torch.equal(ours.trace(x).output, ours.trace(x).output)


def test_gradients_match_nn_lstm():
    ref = nn.LSTM(3, 5, 2, bidirectional=True, dtype=torch.float64)
    ours = lstm_core.LSTM.from_torch(ref)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    ref(x)[0].square().sum().backward()
    ours(x)[0].square().sum().backward()
    for (name, a), b in zip(ref.named_parameters(), ours.parameters()):
        close(a.grad, b.grad, 1e-10)
    # the per-step reference path gives the same gradients
    ours.zero_grad()
    ours.trace(x).output.square().sum().backward()
    for a, b in zip(ref.parameters(), ours.parameters()):
        close(a.grad, b.grad, 1e-10)
