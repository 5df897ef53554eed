"""The same numbers on CUDA (skipped where there is no GPU)."""
import pytest
import torch
from torch import nn

import lstm_core
from helpers.equations import close

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@pytest.fixture
def no_tf32():
    """cuDNN runs float32 in TF32 by default, which is not float32's precision."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


@cuda
def test_available_devices_lists_cuda():
    assert "cuda:0" in lstm_core.available_devices()


@cuda
@pytest.mark.parametrize("variant", lstm_core.VARIANTS)
def test_cuda_matches_cpu(variant, no_tf32):
    cpu = lstm_core.LSTM(5, 16, 2, variant=variant, bidirectional=True, seed=0)
    gpu = lstm_core.LSTM(5, 16, 2, variant=variant, bidirectional=True, seed=0, device="cuda")
    x = torch.randn(30, 3, 5)
    lengths = [30, 11, 4]
    with torch.no_grad():
        a = cpu.trace(x, lengths=lengths)
        b = gpu.trace(x.cuda(), lengths=lengths)
    assert b.gates.device.type == "cuda"
    for name in ("gates", "c", "h", "output", "h_n", "c_n"):
        close(getattr(b, name).cpu(), getattr(a, name), 1e-5)


@cuda
def test_cudnn_parity(no_tf32):
    ref = nn.LSTM(8, 32, 2, bidirectional=True).cuda()
    ours = lstm_core.from_torch(ref)
    x = torch.randn(50, 4, 8, device="cuda")
    close(ours(x)[0], ref(x)[0], 1e-5)


@cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_on_cuda(dtype):
    m = lstm_core.LSTM(5, 16, variant="peephole", seed=0, device="cuda", dtype=dtype)
    ref = lstm_core.LSTM(5, 16, variant="peephole", seed=0, device="cuda")
    x = torch.randn(20, 2, 5, device="cuda")
    with torch.no_grad():
        got, want = m.trace(x.to(dtype)), ref.trace(x)
    assert got.c.dtype == dtype
    close(got.h.float(), want.h, 5e-2)
