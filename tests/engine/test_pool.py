"""The record pool (lstm_core.engine.pool): a record's memory is reused only once nothing holds it."""
import threading

import pytest
import torch
import torch.nn as nn

import lstm_core
from lstm_core.engine import pool

# (T, B, I, H): the gates of one layer are 200*8*4*64*4 bytes = 1.6 MiB, above pool.MIN_BYTES
T, B, I, H = 200, 8, 5, 64


@pytest.fixture
def model():
    pool.POOL.clear()
    yield lstm_core.LSTM(I, H, seed=0)
    pool.POOL.clear()


def _trace(m, x):
    with torch.no_grad():
        return m.trace(x)


def _inputs(seed):
    return torch.randn(T, B, I, generator=torch.Generator().manual_seed(seed))


def test_a_dropped_record_is_reused_and_a_new_trace_is_right(model):
    x1, x2 = _inputs(1), _inputs(2)
    first = _trace(model, x1)
    ptr = first.gates.data_ptr()
    del first
    second = _trace(model, x2)
    assert second.gates.data_ptr() == ptr  # the same memory, handed out again
    ref = nn.LSTM(I, H)
    ref.load_state_dict(model.to_torch().state_dict())
    with torch.no_grad():
        out, _ = ref(x2)
    torch.testing.assert_close(second.h[0], out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(second.output, out, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("keep", ["trace", "view", "storage", "numpy", "clone_of_field"])
def test_whatever_the_caller_keeps_of_a_record_is_never_overwritten(model, keep):
    first = _trace(model, _inputs(1))
    want_f, want_c = first.f.clone(), first.c.clone()
    kept = {"trace": lambda: first, "view": lambda: first.f[0, 3:], "storage": lambda: first.gates.untyped_storage(),
            "numpy": lambda: first.gates.numpy(), "clone_of_field": lambda: None}[keep]()
    gates_ptr = first.gates.data_ptr()
    c = first.c if keep == "clone_of_field" else None  # keeps c (not gates) alive
    del first
    second = _trace(model, _inputs(2))
    if keep == "trace":
        torch.testing.assert_close(kept.f, want_f, rtol=0, atol=0)
        torch.testing.assert_close(kept.c, want_c, rtol=0, atol=0)
    elif keep == "view":
        torch.testing.assert_close(kept, want_f[0, 3:], rtol=0, atol=0)
    elif keep in ("storage", "numpy"):
        assert second.gates.data_ptr() != gates_ptr
        held = torch.from_numpy(kept) if keep == "numpy" else torch.tensor([], dtype=torch.float32).set_(kept)
        torch.testing.assert_close(held.view(1, T, B, 4, H)[..., 1, :], want_f, rtol=0, atol=0)
    else:
        torch.testing.assert_close(c, want_c, rtol=0, atol=0)
        assert second.gates.data_ptr() == gates_ptr  # gates was free: reused
    assert not torch.equal(second.f, want_f)  # a new run on other input


def test_a_miss_frees_the_unheld_buffers_first(model):
    first = _trace(model, _inputs(1))
    del first
    assert pool.POOL.held_bytes()[0] > 0  # kept, free, between calls
    other = lstm_core.LSTM(I, 2 * H, seed=0)
    second = _trace(other, _inputs(2))  # other sizes: the free buffers go before new ones are mapped
    free, held = pool.POOL.held_bytes()
    assert free == 0 and held >= second.gates.numel() * 4


def test_budget_zero_turns_the_pool_off(model, monkeypatch):
    monkeypatch.setenv(pool.ENV, "0")
    first = _trace(model, _inputs(1))
    assert first.gates.is_contiguous()
    assert pool.POOL.held_bytes() == (0, 0)


@pytest.mark.parametrize("bad", ["lots", "-1", "nan", "inf"])
def test_a_bad_budget_says_what_is_allowed(model, monkeypatch, bad):
    monkeypatch.setenv(pool.ENV, bad)
    with pytest.raises(ValueError, match=r"LSTM_CORE_POOL_MB: expected a number of MiB >= 0"):
        _trace(model, _inputs(1))


def test_threads_tracing_at_once_each_get_their_own_numbers(model):
    xs = [_inputs(k) for k in range(6)]
    want = [_trace(model, x).h.clone() for x in xs]
    got, errors = [None] * len(xs), []

    def work(k):
        try:
            for _ in range(3):
                t = _trace(model, xs[k])
                got[k] = t.h.clone()
                del t
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in range(len(xs)):
        torch.testing.assert_close(got[k], want[k], rtol=0, atol=0)


def test_small_buffers_come_from_torch_and_large_ones_from_the_pool():
    pool.POOL.clear()
    small = pool.empty((4, 4), torch.float32, "cpu")
    assert small.shape == (4, 4) and pool.POOL.held_bytes() == (0, 0)
    big = pool.empty((1 << 19,), torch.float16, "cpu")  # 1 MiB
    assert big.dtype == torch.float16 and pool.POOL.held_bytes() == (0, 1 << 20)
    del big
    assert pool.POOL.held_bytes() == (1 << 20, 0)
    pool.POOL.clear()


def test_the_self_test_passes_here():
    assert pool._self_test()


@pytest.mark.parametrize("value, says", [("", "on, keeps up to 256 MiB"), ("64", "on, keeps up to 64 MiB"),
                                          ("0", "off (LSTM_CORE_POOL_MB=0)"),
                                          ("x", "expected a number of MiB >= 0")])
def test_info_says_whether_the_pool_is_on(monkeypatch, capsys, value, says):
    from lstm_core.kernel.cli import run_info

    monkeypatch.setenv(pool.ENV, value)
    run_info()
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("record pool: "))
    assert says in line
