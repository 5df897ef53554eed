"""What-if runs: force a gate or state of chosen units to a value over chosen steps.

    trace = model.trace(x, interventions=[Clamp("f", 1.0, units=[3, 5], steps=range(10, 20))])

The clamped value replaces what the cell computed at those steps, and everything
downstream (later steps, higher layers, the output) follows from it. Clamping i,
f, g or o changes c_t through the cell update; clamping c or h changes the state
carried to the next step; Clamp("h", 0.0, units=...) ablates units. In the coupled
cell a clamped f also sets i = 1 - f.
"""
import math
import numbers
from dataclasses import dataclass

import torch

from ..cells import ALL_FIELDS
from ..trace import FIELDS


@dataclass(frozen=True)
class Clamp:
    """Force `target` (a field of the model's cell: i, f, g, o, c, h for an LSTM; r, z, n, h for a
    GRU) to `value` for `units` at `steps`.

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

    def __post_init__(self):
        """Types and finiteness here, at construction; ranges against the model in `compile_clamps`."""
        if not isinstance(self.target, str) or self.target not in ALL_FIELDS:
            raise ValueError(f"Clamp target: expected a field of a cell ({', '.join(ALL_FIELDS)}), "
                             f"got {self.target!r}")
        v = self.value
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ValueError(f"Clamp value: expected a finite number, got {v!r}")
        try:
            finite = math.isfinite(float(v))
        except OverflowError:  # an int beyond float64: its repr would run to hundreds of digits
            raise ValueError(f"Clamp value: expected a finite number, got an int of {len(str(abs(v)))} digits") from None
        if not finite:
            raise ValueError(f"Clamp value: expected a finite number, got {v!r}")
        for what in ("layer", "direction"):
            k = getattr(self, what)
            if not _is_int(k) or k < 0:
                raise ValueError(f"Clamp {what}: expected an int >= 0, got {k!r}")
        for what in ("units", "steps", "batch"):
            _check_spec(getattr(self, what), what)


def _is_int(i):
    return isinstance(i, numbers.Integral) and not isinstance(i, bool)


def _check_spec(spec, what):
    """TypeError / ValueError unless spec is None, an int, a range or a non-empty collection of ints."""
    expected = f"Clamp {what}: expected indices: None (all), an int, a range or a list of ints"
    if spec is None or _is_int(spec):
        return
    if isinstance(spec, (str, bytes)) or not hasattr(spec, "__iter__"):
        raise TypeError(f"{expected}, got {spec!r}")  # a str would clamp its digits: "12" is not [12]
    if isinstance(spec, range):
        if len(spec) == 0:
            raise ValueError(f"Clamp {what}: {spec!r} is empty; pass None for all, or at least one index")
        return
    if isinstance(spec, torch.Tensor):
        if spec.dtype.is_floating_point or spec.dtype.is_complex or spec.dtype == torch.bool or spec.dim() > 1:
            raise TypeError(f"{expected}, got a tensor of dtype {spec.dtype} and shape {tuple(spec.shape)}")
        spec = spec.tolist() if spec.dim() else [spec.item()]
    items = list(spec)
    bad = next((i for i in items if not _is_int(i)), None)
    if bad is not None:
        raise TypeError(f"{expected}, got {spec!r} (holds {bad!r})")
    if not items:
        raise ValueError(f"Clamp {what}: {spec!r} is empty; pass None for all, or at least one index")


def _indices(spec, n, what):
    """A sorted index list within 0..n-1 from None (all), an int, a range or an iterable."""
    _check_spec(spec, what)
    if spec is None:
        return list(range(n))
    if _is_int(spec):
        spec = [spec]
    if isinstance(spec, range) and len(spec) > n:  # more than n indices: one is out of range; say the first
        r = spec if spec.step > 0 else spec[::-1]  # ascending
        first = r[0] if r[0] < 0 or r[0] >= n else r[-(-(n - r[0]) // r.step)]
        raise ValueError(f"Clamp {what}: {first} is out of range 0..{n - 1}")
    if isinstance(spec, torch.Tensor):
        spec = spec.reshape(-1).tolist()
    idx = sorted({int(i) for i in spec})
    bad = [i for i in idx if not 0 <= i < n]
    if bad:
        raise ValueError(f"Clamp {what}: {bad[0]} is out of range 0..{n - 1}")
    return idx


def compile_clamps(clamps, *, T, B, H, P, num_layers, num_directions, device, dtype, fields=FIELDS):
    """Turn a list of Clamp into masks for `lstm_core.engine.reference.run_reference`, per layer and direction.

    Returns a list of length L*D of {name: (mask, values)} with (T, B, H) tensors (h: (T, B, P)),
    in real time order. fields: the names of the model's cell (`Declaration.names`).
    """
    out = [{} for _ in range(num_layers * num_directions)]
    for k in clamps:
        if not isinstance(k, Clamp):
            raise TypeError(f"interventions: expected lstm_core.Clamp items, got {type(k).__name__}")
        if k.target not in fields:
            raise ValueError(f"Clamp target: this model's cell records {', '.join(fields)}, got {k.target!r}")
        if not 0 <= k.layer < num_layers:
            raise ValueError(f"Clamp layer: expected 0..{num_layers - 1}, got {k.layer}")
        if not 0 <= k.direction < num_directions:
            raise ValueError(f"Clamp direction: expected 0..{num_directions - 1}, got {k.direction}")
        big = torch.finfo(dtype).max
        if abs(float(k.value)) > big:  # finite in Python, but inf once written into a float32 or float16 tensor
            raise ValueError(f"Clamp value: {float(k.value):g} does not fit the model's dtype {dtype} "
                             f"(finite values lie within ±{big:g}); pass a smaller value or run the model "
                             f"in torch.float64")
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
        ix = lambda idx: torch.tensor(idx, dtype=torch.long, device=device)  # noqa: E731
        sel[ix(steps)[:, None, None], ix(batch)[None, :, None], ix(units)[None, None, :]] = True
        mask |= sel
        values[sel] = float(k.value)
    return out
