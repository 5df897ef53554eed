"""The linear recurrence c_t = f_t c_{t-1} + u_t behind the replay path."""
import pytest
import torch

from lstm_core.engine.scan import linear_scan


def loop(f, u, c0):
    out, c = [], c0
    for t in range(f.shape[0]):
        c = f[t] * c + u[t]
        out.append(c)
    return torch.stack(out)


@pytest.mark.parametrize("T,B,H", [(1, 1, 1), (5, 2, 3), (64, 1, 8), (65, 1, 8), (1000, 1, 64), (333, 2, 7), (200, 32, 256)])
def test_scan_matches_the_loop(T, B, H):
    f = torch.rand(T, B, H, dtype=torch.float64)
    u = torch.randn(T, B, H, dtype=torch.float64)
    c0 = torch.randn(B, H, dtype=torch.float64)
    got = linear_scan(f, u, c0, torch.empty_like(u))
    assert torch.allclose(got, loop(f, u, c0), atol=1e-12, rtol=0)


def test_scan_survives_forget_products_that_underflow():
    """A closed form through 1 / cumprod(f) would overflow here; the scan must not."""
    T = 900
    f = torch.full((T, 1, 4), 1e-3)  # cumprod reaches 1e-2700: far below float32's range
    f[::50] = 1.0
    u = torch.randn(T, 1, 4)
    got = linear_scan(f, u, torch.ones(1, 4), torch.empty_like(u))
    assert torch.isfinite(got).all()
    assert torch.allclose(got, loop(f, u, torch.ones(1, 4)), atol=1e-6)
