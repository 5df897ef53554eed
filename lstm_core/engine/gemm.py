"""Matrix products y = x W^T (+ b) on the fastest kernel at hand.

On the CPU, PyTorch's addmm goes to MKL, while nn.LSTM itself runs on oneDNN
with prepacked weights. On the 2-core AMD EPYC machines we develop on, oneDNN's
linear with a prepacked weight was 1.3-1.4x faster than addmm for the large
products of a trace (T*B x H times H x 4H) and for per-step products with
H >= 512 (benchmarks/trace_speed.py). It is reached through
torch.ops.mkldnn._linear_pointwise, the op behind torch.compile's CPU linear,
which is private: if it is missing or fails its self-test, or the environment
sets LSTM_CORE_ONEDNN=0, everything falls back to addmm.
"""
import functools
import os

import torch


@functools.cache
def onednn_available():
    """True if the oneDNN linear op exists here and agrees with addmm."""
    if os.environ.get("LSTM_CORE_ONEDNN", "1") == "0":
        return False
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
        return False
    try:
        x, w, b = torch.randn(3, 5), torch.randn(4, 5), torch.randn(4)
        y = torch.ops.mkldnn._linear_pointwise(x, w.to_mkldnn(), b, "none", [], "")
        return bool(torch.allclose(y, torch.addmm(b, x, w.T), atol=1e-5))
    except (RuntimeError, TypeError, AttributeError):
        return False


class Linear:
    """x -> x W^T + b for a fixed W (N, K), on oneDNN when it pays off (see module doc).

    rows: how many rows M the caller's x will have. oneDNN wins for large products
    (M*N*K >= 2^24) and for K >= 512; smaller ones stay on addmm, which has less
    fixed cost per call (about 30 us less, measured).
    calls: how often it will be called; small products called often (a time loop) run
    faster on a contiguous copy of W^T, which is not worth making for one call.
    """

    def __init__(self, w, bias=None, rows=1, calls=1):
        self.bias = bias
        self.packed = None
        N, K = w.shape
        big = K >= 512 or rows * N * K >= 1 << 24
        if (big and w.device.type == "cpu" and w.dtype == torch.float32 and not torch.is_grad_enabled()
                and onednn_available()):
            self.packed = w.to_mkldnn()
        self.w_t = w.T.contiguous() if calls > 1 and K < 256 else w.T  # (K, N)

    def __call__(self, x):
        """x (M, K) -> (M, N)."""
        if self.packed is not None:
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")
        if self.bias is None:
            return x @ self.w_t
        return torch.addmm(self.bias, x, self.w_t)

    def add_to(self, out, x):
        """out += x W^T, in place; out (M, N), x (M, K)."""
        if self.packed is not None:
            return out.add_(torch.ops.mkldnn._linear_pointwise(x, self.packed, None, "none", [], ""))
        return out.addmm_(x, self.w_t)
