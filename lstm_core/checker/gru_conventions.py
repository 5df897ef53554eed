"""How a student's GRU is called, found by trying: the GRU's counterpart of `conventions`.

Understood without help:
    cell              forward(x, h) -> h, x (B, I), h (B, H) (torch.nn.GRUCell); or one example
                      at a time, x (I,), h (H,); a returned (h,) or (output, h) is read as h
    sequence          forward(X, h0) -> (outputs, h_n), X (B, T, I) batch-first or (T, B, I)
                      time-major, h0 (B, H) or (1, B, H) (torch.nn.GRU), outputs a tensor or a
                      list of T steps
    call=             your adapter: call(module, x (B, I), h (B, H)) -> h

Every convention becomes `step(x, h) -> (h_t,)`, a one-state version of the LSTM's
`step(x, h, c) -> (h, c)`, so that `core` runs and compares both the same way.
"""
import torch

from .conventions import Convention, _kind, _state
from .layouts import CheckError


def _h(out, what, B, H):
    """h (B, H) from what a cell returned: a tensor, or (h,) / (output, h) of the same shape."""
    if isinstance(out, (tuple, list)) and 1 <= len(out) <= 2 and all(isinstance(t, torch.Tensor) for t in out):
        out = out[-1]
    if not isinstance(out, torch.Tensor):
        raise CheckError(f"{what}: expected the new h back, got {_kind(out)}")
    return _state(out, B, H)


def _cell(module, unbatched):
    def step(x, h):
        B, H = h.shape
        if unbatched:
            return (torch.stack([_h(module(x[b], h[b]), "forward(x, h)", 1, H)[0] for b in range(B)]),)
        return (_h(module(x, h), "forward(x, h)", B, H),)
    return step


def _sequence(module, batch_first, stacked):
    def run(X, h0):
        T, B, _ = X.shape
        H = h0.shape[1]
        got = module(X.transpose(0, 1) if batch_first else X, h0.unsqueeze(0) if stacked else h0)
        if not isinstance(got, (tuple, list)) or len(got) != 2 or not isinstance(got[1], torch.Tensor):
            raise CheckError(f"forward(X, h0): expected (outputs, h_n) back, got {_kind(got)}")
        out, h_n = got
        if isinstance(out, (list, tuple)):
            out = torch.stack([o.reshape(B, H) for o in out], dim=0)
        elif out.dim() == 3 and batch_first:
            out = out.transpose(0, 1)
        if tuple(out.shape) != (T, B, H):
            raise CheckError(f"forward(X, h0): outputs have shape {tuple(out.shape)}; expected "
                             f"{(B, T, H) if batch_first else (T, B, H)}")
        return out, _state(h_n, B, H)

    def step(x, h):
        return (run(x.unsqueeze(0), h)[1],)
    return step, run


def detect(module, I, H, call=None):
    """The convention the GRU answers to, found by calling it on small inputs."""
    if call is not None:
        if not callable(call):
            raise CheckError(f"call: expected a function call(module, x, h) -> h, got {type(call).__name__}")
        return Convention("your call= adapter", lambda x, h: (_h(call(module, x, h), "call=", *h.shape),))
    if not callable(module):
        raise CheckError(f"your {type(module).__name__} cannot be called: it needs a forward or __call__")
    B, T = 3, 2  # T != B tells batch-first from time-major; B != 2 refuses an LSTM's `h, c = state`
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, I, generator=g, dtype=torch.float64)
    h = torch.randn(B, H, generator=g, dtype=torch.float64) * 0.5
    X = torch.randn(T, B, I, generator=g, dtype=torch.float64)
    perm = torch.tensor([2, 0, 1])
    tried = []
    for unbatched in (False, True):
        step = _cell(module, unbatched)
        sig = "cell forward(x, h) -> h" + (", x (I,) one example at a time" if unbatched else ", x (B, I)")
        try:
            (a,) = step(x, h)
            (a_p,) = step(x[perm], h[perm])
        except Exception as e:  # noqa: BLE001 - the student's code may raise anything
            tried.append(f"{sig}: {type(e).__name__}: {e}")
            continue
        if torch.allclose(a[perm], a_p):
            return Convention(sig, step)
        tried.append(f"{sig}: runs, but the rows of a batch do not keep to their own states")
    for batch_first in (True, False):
        for stacked in (False, True):
            step, run = _sequence(module, batch_first, stacked)
            desc = (f"sequence forward(X, h0) -> (outputs, h_n), X "
                    f"{'(B, T, I) batch-first' if batch_first else '(T, B, I) time-major'}, "
                    f"h0 {'(1, B, H)' if stacked else '(B, H)'}")
            try:
                out, h_n = run(X, h)
                out_p, h_p = run(X[:, perm], h[perm])
            except Exception as e:  # noqa: BLE001
                tried.append(f"{desc}: {type(e).__name__}: {e}")
                continue
            # a wrong guess can run by broadcasting: the right one keeps each sequence to its own state
            if torch.allclose(out[:, perm], out_p) and torch.allclose(h_n[perm], h_p):
                return Convention(desc, step, run)
            tried.append(f"{desc}: runs, but the sequences of a batch do not keep to their own states")
    raise CheckError("cannot call your GRU in any convention I know:\n  " + "\n  ".join(tried) +
                     "\nPass call=lambda module, x, h: ... returning the new h")
