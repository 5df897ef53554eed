"""The compiled trace kernel: an accelerator for `LSTM.trace`, never a requirement.

A C++ per-step loop (`trace_kernel.cpp`) that records i, f, g, o, c, h of every
variant while it runs, at about the speed of torch.nn.LSTM forward (issue 15,
docs/kernel.md). It is used when all of these hold, else `trace` takes the
fastest Python path there is (the oneDNN workspace read for fused cells,
then replay, then the loop):
- it has been built (`python -m lstm_core build-kernel`; see `build` for why
  nothing is compiled on first use) and loads;
- it passes its self-test against the reference path on first use;
- the call is float32 on the CPU and needs no gradients, interventions or probes
  (a float16 record is filled from float32 buffers);
- the environment does not say LSTM_TRACE_PATH=fallback.
Every call checks that its last step obeys the cell update; a kernel that ever
fails that is dropped for the rest of the process. Why it is not used is said once
per process in one log line, and by `python -m lstm_core info`.

    LSTM_TRACE_PATH=auto       (default) the kernel where it can run, else the fallbacks
    LSTM_TRACE_PATH=compiled   the same, but a missing or failing kernel is an error
    LSTM_TRACE_PATH=fallback   never the kernel (CI runs the engine tests both ways)
"""
import logging
import os

import torch

from . import build
from . import wrapper
from .wrapper import KernelMismatch, run_compiled

log = logging.getLogger("lstm_core.kernel")
ENV = "LSTM_TRACE_PATH"
CHOICES = ("auto", "compiled", "fallback")
HOW = "python -m lstm_core build-kernel"

_state = {"ext": None, "reason": None, "tried": False, "logged": False}


def path_choice():
    """LSTM_TRACE_PATH, checked: one of CHOICES."""
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise ValueError(f"{ENV}: expected one of {', '.join(CHOICES)}, got {value!r}")
    return value


def _load():
    """The kernel module, or None with _state["reason"] set. Tried once per process."""
    if _state["tried"]:
        return _state["ext"]
    _state["tried"] = True
    path = build.built_path()
    if path is None:
        why = build.why_not_buildable()
        _state["reason"] = (f"it cannot be built here: {why}" if why else
                            f"it is not built for this torch, compiler and CPU (run `{HOW}`, 30-60 s, once)")
        return None
    try:
        ext = build.load_built(path)
        self_test(ext)
    except build.UntrustedKernel as e:
        _state["reason"] = str(e)
        return None
    except (ImportError, OSError, RuntimeError) as e:
        _state["reason"] = f"the built kernel failed to load or its self-test ({e}); rebuild with `{HOW}`"
        return None
    _state["ext"] = ext
    return ext


def disable(reason):
    """Stop using the kernel for the rest of the process, saying why once."""
    _state.update(ext=None, tried=True, reason=reason, logged=False)


def kernel():
    """The loaded kernel, or None (then `reason()` says why)."""
    if path_choice() == "fallback":
        return None
    return _load()


def reason():
    """Why the kernel is not used, or None if it is."""
    if path_choice() == "fallback":
        return f"{ENV}=fallback"
    return None if _load() is not None else _state["reason"]


def eligible(x):
    """True if a call on input x (T, B, I) is one the kernel runs: float32 on the CPU."""
    return x.device.type == "cpu" and x.dtype == torch.float32


def available(x):
    """True if the kernel should run this call; logs once why not, when it would have been chosen."""
    if not eligible(x):
        return False
    choice = path_choice()
    if choice == "fallback":
        return False
    if kernel() is not None:
        return True
    if choice == "compiled":
        raise RuntimeError(f"{ENV}=compiled, but the compiled trace kernel cannot run: {_state['reason']}")
    if not _state["logged"]:
        _state["logged"] = True
        log.warning("lstm_core: trace runs without the compiled kernel, on the Python paths, because %s",
                    _state["reason"])
    return False


def run_path(cell, w, x, h0, c0, lengths=None, into=None):
    """The engine path "compiled" (contract of `lstm_core.engine.stack`): one layer and
    direction on the kernel. If the kernel fails its per-call check it is disabled, the
    reason logged once, and the call handed to the Python path "auto" would take
    (`lstm_core.engine.handoff.HandOff`)."""
    try:
        gates, c = (None, None) if into is None else (into.gates, into.c)
        out, h_n, c_n = run_compiled(_state["ext"], cell, w, x, h0, c0, lengths, gates, c)
        if into is not None:
            into.h.copy_(out)
        return out, h_n, c_n, into
    except (KernelMismatch, RuntimeError) as e:
        if path_choice() == "compiled":
            raise
        disable(f"it failed on a call ({e})")
        available(x)  # logs the reason once
    from ..engine.handoff import HandOff

    raise HandOff("workspace" if cell.fusable else "loop")  # workspace takes replay itself where it does not fit


def self_test(ext):
    """RuntimeError unless the kernel matches the reference path on small cases of every variant."""
    from ..cells.lstm_cell import Cell, LayerWeights
    from ..engine.reference import run_reference
    from ..cells.variants import REGISTRY, sigmoid_gates

    gen = torch.Generator().manual_seed(0)
    T, B, I, H = 7, 3, 5, 6
    cases = [(v, v.peephole, "current", ("sigmoid",), 0, None) for v in REGISTRY.values()]
    cases += [(REGISTRY["standard"], True, "previous", ("hard_sigmoid", 0.2, 0.5), 4, None),
              (REGISTRY["coupled"], True, "current", ("sigmoid",), 3, None)]
    # every per-step GEMM the rule can pick, on a cell with all three products (W_hh, W_gg, W_hr)
    cases += [(REGISTRY["full_gate_recurrence"], False, "current", ("sigmoid",), 4, wrapper.GEMMS[k])
              for k in ("mkl", "panel", "mm")]
    for v, peephole, peep_out, act, P, gemm in cases:
        cell = Cell(v, peephole, peep_out, act)
        G, Pn = len(v.gates), P or H
        r = lambda *s: torch.randn(*s, generator=gen) * 0.5  # noqa: E731
        w = LayerWeights(r(G * H, I), r(G * H, Pn), r(G * H), r(G * H), r(P, H) if P else None,
                         r(len(sigmoid_gates(v)), H) if peephole else None,
                         r(3 * H, 3 * H) if v.gate_recurrence else None)
        x, h0, c0 = r(T, B, I), r(B, Pn), r(B, H)
        gates, c, h = run_reference(cell, w, x, h0, c0)[3]
        got_g, got_c = torch.empty(T, B, 4, H), torch.empty(T, B, H)
        what = f"variant {v.name!r} (peephole={peephole}, {act[0]}, proj {P}, gemm {gemm})"
        try:
            got_h, _, _ = run_compiled(ext, cell, w, x, h0, c0, None, got_g, got_c, gemm=gemm)
        except KernelMismatch as e:
            raise RuntimeError(f"self-test: {what}: {e}") from None
        for name, a, b in (("gates", got_g, gates), ("c", got_c, c), ("h", got_h, h)):
            if not torch.allclose(a, b, atol=1e-5, rtol=1e-5):
                raise RuntimeError(f"self-test: {name} of {what} differs by {(a - b).abs().max().item():.3g}")


__all__ = ["kernel", "reason", "available", "eligible", "run_path", "disable", "self_test", "path_choice",
           "KernelMismatch", "build", "ENV", "CHOICES", "HOW"]
