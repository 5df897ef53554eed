"""How a student's module is called, found by trying, and one step of it as a function.

Understood without help:
    cell, torch       forward(x, (h, c)) -> (h, c), x (B, I)
    cell, needle      forward(X, h=None) with h = (h0, c0) -> (h, c)
    cell, notebook    forward(x, c, h) -> (c, h) (or forward(x, h, c) -> (h, c)), x (I,) unbatched
                      or (B, I)
    sequence          forward(X, state) -> (outputs, (h_n, c_n)), X (B, T, I) batch-first or
                      (T, B, I) time-major, state (h0, c0) of (B, H) or (1, B, H), outputs a
                      tensor or a list of T steps
    call=             your adapter: call(module, x (B, I), h (B, H), c (B, H)) -> (h, c)

Every convention is turned into `step(x, h, c) -> (first, second)`, what the module returns
in the places of (h, c); a sequence module is stepped with T = 1 from the given state, and
`run` runs it on the whole sequence too.
"""
import inspect
from dataclasses import dataclass

import torch

from .layouts import CheckError


@dataclass
class Convention:
    name: str  # e.g. "cell forward(x, (h, c)) -> (h, c)"
    step: object  # (x (B, I), h (B, H), c (B, H)) -> (h', c') in the places the module returns them
    run: object = None  # sequence modules: (X (T, B, I), h0, c0) -> (out (T, B, H), h_n, c_n)


def _params(module):
    fn = getattr(module, "forward", None) or module
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _pair(out, what):
    if not isinstance(out, (tuple, list)) or len(out) != 2 or not all(isinstance(t, torch.Tensor) for t in out):
        raise CheckError(f"{what}: expected two tensors back, got {_kind(out)}")
    return out


def _kind(v):
    if isinstance(v, torch.Tensor):
        return f"a tensor of shape {tuple(v.shape)}"
    if isinstance(v, (tuple, list)):
        return f"a {type(v).__name__} of {len(v)}: ({', '.join(_kind(e) for e in v[:3])})"
    return type(v).__name__


def _state(t, B, H):
    """(B, H) from a returned state of (B, H), (1, B, H) or (H,) with B = 1."""
    if t.dim() == 3 and t.shape[0] == 1:
        t = t[0]
    if t.dim() == 1 and B == 1:
        t = t.unsqueeze(0)
    if tuple(t.shape) != (B, H):
        raise CheckError(f"a returned state has shape {tuple(t.shape)}; expected (B, H) = {(B, H)} or (1, B, H)")
    return t


def _cell(module, order, unbatched):
    """A cell step; order "tuple": module(x, (h, c)); "ch" / "hc": module(x, c, h) / module(x, h, c)."""
    def call(x, h, c):
        if order == "tuple":
            return _pair(module(x, (h, c)), "forward(x, (h, c))")
        a, b = _pair(module(x, c, h) if order == "ch" else module(x, h, c), f"forward(x, {order[0]}, {order[1]})")
        return (b, a) if order == "ch" else (a, b)  # the places of (h, c)

    def step(x, h, c):
        B, H = h.shape
        if unbatched:
            outs = [call(x[b], h[b], c[b]) for b in range(B)]
            return tuple(torch.stack([o[j].reshape(-1) for o in outs]) for j in range(2))
        a, b = call(x, h, c)
        return _state(a, B, H), _state(b, B, H)
    return step


def _sequence(module, batch_first, stacked):
    """A sequence module: X (T, B, I) in our order; state (B, H) or (1, B, H) as the module wants it."""
    def run(X, h0, c0):
        T, B, _ = X.shape
        H = h0.shape[1]
        Xin = X.transpose(0, 1) if batch_first else X
        state = (h0.unsqueeze(0), c0.unsqueeze(0)) if stacked else (h0, c0)
        got = module(Xin, state)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckError(f"forward(X, state): expected (outputs, (h_n, c_n)) back, got {_kind(got)}")
        out, st = got
        h_n, c_n = _pair(st, "forward(X, state), its second result")
        if isinstance(out, (list, tuple)):
            out = torch.stack([o.reshape(B, H) for o in out], dim=0)
        elif out.dim() == 3 and batch_first:
            out = out.transpose(0, 1)
        if tuple(out.shape) != (T, B, H):
            raise CheckError(f"forward(X, state): outputs have shape {tuple(out.shape)}; expected "
                             f"{(B, T, H) if batch_first else (T, B, H)}")
        return out, _state(h_n, B, H), _state(c_n, B, H)

    def step(x, h, c):
        _, h_n, c_n = run(x.unsqueeze(0), h, c)
        return h_n, c_n
    return step, run


def detect(module, I, H, call=None):
    """The convention the module answers to, found by calling it on small inputs."""
    if call is not None:
        if not callable(call):
            raise CheckError(f"call: expected a function call(module, x, h, c) -> (h, c), got {type(call).__name__}")
        return Convention("your call= adapter", lambda x, h, c: tuple(_pair(call(module, x, h, c), "call=")))
    if not callable(module):
        raise CheckError(f"your {type(module).__name__} cannot be called: it needs a forward or __call__")
    names = _params(module)
    B, T = 3, 2  # T != B tells batch-first from time-major
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, I, generator=g, dtype=torch.float64)
    h = torch.randn(B, H, generator=g, dtype=torch.float64) * 0.5
    c = torch.randn(B, H, generator=g, dtype=torch.float64) * 0.5
    X = torch.randn(T, B, I, generator=g, dtype=torch.float64)
    tried = []
    second = names[1] if len(names) > 1 else ""
    if len(names) >= 3 and {names[1][:1], names[2][:1]} == {"c", "h"}:
        order = "ch" if names[1].startswith("c") else "hc"
        ret = "(c, h)" if order == "ch" else "(h, c)"
        sig = f"forward({names[0]}, {names[1]}, {names[2]}) -> {ret}"
        for unbatched in (False, True):
            step = _cell(module, order, unbatched)
            try:
                step(x, h, c)
            except Exception as e:  # noqa: BLE001 - the student's code may raise anything
                tried.append(f"{sig}{' unbatched' if unbatched else ''}: {type(e).__name__}: {e}")
                continue
            return Convention(f"cell {sig} (notebook), x {'(I,) one example at a time' if unbatched else '(B, I)'}",
                              step)
        raise CheckError("cannot call your module: " + "; ".join(tried) + ". Pass call=")
    cell = _cell(module, "tuple", False)
    try:
        a, b = _pair(module(x, (h, c)), "forward(x, (h, c))")
        is_cell = tuple(a.shape) in ((B, H), (1, B, H)) and tuple(b.shape) in ((B, H), (1, B, H))
        if is_cell:
            kind = "needle" if second == "h" else "torch"
            return Convention(f"cell forward(x, {'h=(h0, c0)' if kind == 'needle' else '(h, c)'}) -> (h, c) "
                              f"({kind})", cell)
        tried.append(f"forward(x, (h, c)): returned {_kind((a, b))}, not two (B, H) states")
    except Exception as e:  # noqa: BLE001
        tried.append(f"forward(x, (h, c)): {type(e).__name__}: {e}")
    for batch_first in (True, False):
        for stacked in (False, True):
            step, run = _sequence(module, batch_first, stacked)
            layout = "(B, T, I) batch-first" if batch_first else "(T, B, I) time-major"
            desc = (f"sequence forward(X, state) -> (outputs, (h_n, c_n)), X {layout}, "
                    f"state {'(1, B, H)' if stacked else '(B, H)'}")
            try:
                out, h_n, c_n = run(X, h, c)
                perm = torch.tensor([2, 0, 1])
                out_p, h_p, c_p = run(X[:, perm], h[perm], c[perm])
            except Exception as e:  # noqa: BLE001
                tried.append(f"{desc}: {type(e).__name__}: {e}")
                continue
            # Broadcasting lets a wrong guess run (state[0][0] of a (B, H) state is one row for all):
            # the right one gives each sequence its own result, so reordering the batch reorders them.
            if not (torch.allclose(out[:, perm], out_p) and torch.allclose(h_n[perm], h_p)
                    and torch.allclose(c_n[perm], c_p)):
                tried.append(f"{desc}: runs, but the sequences of a batch do not keep to their own states")
                continue
            return Convention(desc, step, run)
    raise CheckError("cannot call your module in any convention I know:\n  " + "\n  ".join(tried) +
                     "\nPass call=lambda module, x, h, c: ... returning (h, c)")
