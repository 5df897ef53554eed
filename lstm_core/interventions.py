"""What-if runs: force a gate or state of chosen units to a value over chosen steps.

    trace = model.trace(x, interventions=[Clamp("f", 1.0, units=[3, 5], steps=range(10, 20))])

The clamped value replaces what the cell computed at those steps, and everything
downstream (later steps, higher layers, the output) follows from it. Clamping i,
f, g or o changes c_t through the cell update; clamping c or h changes the state
carried to the next step; Clamp("h", 0.0, units=...) ablates units. In the coupled
cell a clamped f also sets i = 1 - f.
"""
from dataclasses import dataclass

import torch

from .trace import FIELDS


@dataclass(frozen=True)
class Clamp:
    """Force `target` (one of i, f, g, o, c, h) to `value` for `units` at `steps`.

    units, steps: iterables of indices (e.g. range(10, 20)); None means all.
    Steps count in time, for both directions. batch: the sequences, None for all.
    """

    target: str
    value: float
    units: object = None
    steps: object = None
    layer: int = 0
    direction: int = 0
    batch: object = None


def _indices(spec, n, what):
    """A sorted index list within 0..n-1 from None (all), an int, a range or an iterable."""
    if spec is None:
        return list(range(n))
    if isinstance(spec, int):
        spec = [spec]
    try:
        idx = sorted({int(i) for i in spec})
    except (TypeError, ValueError) as e:
        raise TypeError(f"Clamp {what}: expected indices (int, range or list of ints), got {spec!r}") from e
    bad = [i for i in idx if not 0 <= i < n]
    if bad:
        raise ValueError(f"Clamp {what}: {bad[0]} is out of range 0..{n - 1}")
    return idx


def compile_clamps(clamps, *, T, B, H, P, num_layers, num_directions, device, dtype):
    """Turn a list of Clamp into masks for `cell.run_reference`, per layer and direction.

    Returns a list of length L*D of {name: (mask, values)} with (T, B, H) tensors (h: (T, B, P)),
    in real time order.
    """
    out = [{} for _ in range(num_layers * num_directions)]
    for k in clamps:
        if not isinstance(k, Clamp):
            raise TypeError(f"interventions: expected lstm_core.Clamp items, got {type(k).__name__}")
        if k.target not in FIELDS:
            raise ValueError(f"Clamp target: expected one of {', '.join(FIELDS)}, got {k.target!r}")
        if not isinstance(k.value, (int, float)) or not torch.isfinite(torch.tensor(float(k.value))):
            raise ValueError(f"Clamp value: expected a finite number, got {k.value!r}")
        if not 0 <= k.layer < num_layers:
            raise ValueError(f"Clamp layer: expected 0..{num_layers - 1}, got {k.layer}")
        if not 0 <= k.direction < num_directions:
            raise ValueError(f"Clamp direction: expected 0..{num_directions - 1}, got {k.direction}")
        F = P if k.target == "h" else H
        steps = _indices(k.steps, T, "steps")
        batch = _indices(k.batch, B, "batch")
        units = _indices(k.units, F, "units")
        d = out[k.layer * num_directions + k.direction]
        if k.target not in d:
            d[k.target] = (torch.zeros(T, B, F, dtype=torch.bool, device=device),
                           torch.zeros(T, B, F, dtype=dtype, device=device))
        mask, values = d[k.target]
        sel = torch.zeros(T, B, F, dtype=torch.bool, device=device)
        sel[torch.tensor(steps)[:, None, None], torch.tensor(batch)[None, :, None],
            torch.tensor(units)[None, None, :]] = True
        mask |= sel
        values[sel] = float(k.value)
    return out
