"""Initialisation schemes: their statistics, seeding, and the bias options."""
import math

import pytest
import torch

import lstm_core

H = 64


def params(init, **kw):
    return dict(lstm_core.LSTM(32, H, 2, init=init, **kw).named_parameters())


def test_pytorch_scheme_is_uniform_within_one_over_sqrt_h():
    k = 1 / math.sqrt(H)
    for name, p in params("pytorch", variant="peephole").items():
        assert p.abs().max() <= k, name
        assert abs(p.std().item() - k / math.sqrt(3)) < 0.1 * k, name  # std of U(-k, k)


def test_normal_scheme_is_standard_normal():
    w = torch.cat([p.flatten() for p in params("normal").values()])
    assert abs(w.mean().item()) < 0.02 and abs(w.std().item() - 1) < 0.02


def test_scaled_normal_has_small_weights_and_zero_biases():
    for name, p in params("scaled_normal").items():
        if name.startswith("bias"):
            assert torch.equal(p, torch.zeros_like(p))
        else:
            assert abs(p.std().item() - 0.1) < 0.01, name


def test_xavier_bounds_each_gate_block():
    p = params("xavier")
    for name, fan_in in (("weight_ih_l0", 32), ("weight_hh_l0", H)):
        bound = math.sqrt(6 / (fan_in + H))
        for block in p[name].split(H):
            assert block.abs().max() <= bound and block.abs().max() > 0.9 * bound
    assert all(torch.equal(p[n], torch.zeros_like(p[n])) for n in p if n.startswith("bias"))


def test_orthogonal_recurrent_blocks():
    p = params("orthogonal", variant="full_gate_recurrence")
    for block in p["weight_hh_l1"].split(H):
        assert torch.allclose(block.T @ block, torch.eye(H), atol=1e-5)
    assert torch.equal(p["weight_gg_l0"], torch.zeros_like(p["weight_gg_l0"]))


@pytest.mark.parametrize("init", lstm_core.INITS)
def test_seed_reproduces_and_leaves_global_rng_alone(init):
    state = torch.get_rng_state()
    a = lstm_core.LSTM(3, 5, 2, init=init, seed=11)
    assert torch.equal(state, torch.get_rng_state())
    b = lstm_core.LSTM(3, 5, 2, init=init, seed=11)
    c = lstm_core.LSTM(3, 5, 2, init=init, seed=12)
    for (n, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q), n
    assert any(not torch.equal(p, r) for p, r in zip(a.parameters(), c.parameters()) if p.abs().sum() > 0)


@pytest.mark.parametrize("variant", ["standard", "coupled", "no_output_gate"])
def test_forget_bias_sets_the_sum_of_both_biases_once(variant):
    m = lstm_core.LSTM(3, 5, 2, variant=variant, forget_bias=1.0)
    j = m.cell.gates.index("f")
    for layer in range(2):
        w = m.layer_weights(layer)
        assert torch.equal(w.b_ih[j * 5:(j + 1) * 5], torch.ones(5))
        assert torch.equal(w.b_hh[j * 5:(j + 1) * 5], torch.zeros(5))
        assert torch.allclose(w.bias[j * 5:(j + 1) * 5], torch.ones(5))


def test_chrono_biases():
    T_max = 100
    m = lstm_core.LSTM(3, 500, chrono=T_max, seed=0)
    b = m.layer_weights(0).bias
    b_i, b_f = b[:500], b[500:1000]
    assert b_f.min() >= 0 and b_f.max() <= math.log(T_max - 1)
    assert torch.allclose(b_i, -b_f)
    # log U(1, T_max - 1): the median lies near log(T_max / 2)
    assert abs(b_f.median().item() - math.log(1 + 0.5 * (T_max - 2))) < 0.15
    coupled = lstm_core.LSTM(3, 5, variant="coupled", chrono=T_max)
    assert coupled.layer_weights(0).bias[:5].min() >= 0  # f rows first: no input gate to mirror


def test_reset_parameters():
    m = lstm_core.LSTM(3, 5, init="normal", seed=1)
    m.reset_parameters("scaled_normal", seed=1)
    assert torch.equal(m.bias_ih_l0, torch.zeros(20))
