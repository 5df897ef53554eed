"""What every loader shares: the record of a load, shape checks, and the final copy.

Each framework stores the gate blocks of a layer in its own order along the rows of
W (4H or 3H, in):
    LSTM  nn.LSTM and Keras i, f, g, o (Keras calls g "c"); ONNX i, o, f, c
    GRU   nn.GRU r, z, n; Keras and ONNX z, r, h (h is our n: `zrh_as_rzn`)
A loader turns its layer into our names (weight_ih_l{k}, ... as `lstm_core.LSTM` and
`lstm_core.GRU` document them), keeping the name of the key it read each tensor from,
so a shape that does not fit is reported under the name the user sees in their file.
"""
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch

from ... import limits as _limits
from ...gru import GRU
from ...model import LSTM

WEIGHT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)  # what an LSTM computes in
_NUMPY_FLOATS = {"float16": torch.float16, "float32": torch.float32, "float64": torch.float64}


# What zipfile raises for a damaged or foreign zip (found by fuzzing: a bad version byte is
# NotImplementedError, a damaged deflate stream zlib.error)
ZIP_FAILURES = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError,
                zlib.error)


class LoadError(ValueError):
    """A model file or object that cannot be loaded, with what to do about it."""


class Budget:
    """The bytes of weight tensors a load may still materialise (`Limits.max_tensor_bytes` in all).

    Loaders call `take` with each tensor's *declared* shape and item size before reading it.
    """

    def __init__(self, label, limits=None):
        self.label, self.limits = label, _limits.current(limits)
        self.left = self.limits.max_tensor_bytes

    def take(self, shape, itemsize, key):
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise LoadError(f"{self.label}: {key}: declares a negative dimension {shape}")
        nbytes = _limits.product(shape) * int(itemsize)
        if nbytes > self.left:
            total = self.limits.max_tensor_bytes
            raise LoadError(f"{self.label}: {key}: declares shape {shape} ({nbytes:,} bytes), over what is left "
                            f"of the limit of {total:,} bytes for a model's tensors (max_tensor_bytes; set "
                            f"{_limits.PREFIX}MAX_TENSOR_BYTES to raise it for a file you trust)")
        self.left -= nbytes
        return nbytes


def check_weight(t, key):
    """LoadError naming `key` unless t holds floating-point weights (float16/bfloat16/float32/float64),
    at least one row of them, all finite: the rules every loader applies to every weight."""
    if t.dtype not in WEIGHT_DTYPES:
        raise LoadError(f"{key}: expected floating-point weights (float16, bfloat16, float32 or float64), "
                        f"found dtype {t.dtype}")
    if t.dim() == 0 or t.numel() == 0:
        raise LoadError(f"{key}: expected at least one row of weights, found shape {tuple(t.shape)}")
    bad = ~torch.isfinite(t)
    if bad.any():
        pos = tuple(int(p) for p in torch.nonzero(bad)[0])
        raise LoadError(f"{key}: non-finite weight {t[pos].item()} at index {pos}; every weight must be finite")
    return t


@dataclass(frozen=True)
class Candidate:
    """One LSTM or GRU found in a file or object."""

    name: str  # what selects it: a state-dict prefix, a Keras layer name or an ONNX node name
    summary: str  # e.g. "LSTM(6 -> 8, 2 layers, bidirectional)", "GRU(6 -> 8)"


@dataclass
class LoadInfo:
    """Where a loaded model came from; `lstm_core.load` puts it on `model.load_info`."""

    format: str  # "torch", "safetensors", "module", "keras", "keras-h5" or "onnx"
    source: str  # the path, or the type of the object passed in
    candidates: list  # every Candidate found, in file order
    chosen: tuple  # the names of the candidates loaded (several: stacked as layers)
    notes: list = field(default_factory=list)  # how the file's conventions were mapped
    extras: dict = field(default_factory=dict)  # format-specific findings, e.g. ONNX initial_h
    assumed: dict = field(default_factory=dict)  # options the file does not record, and the value taken


def describe(input_size, hidden_size, num_layers=1, bidirectional=False, extra="", cell="LSTM"):
    """The one-line summary of a candidate; cell: "LSTM", "GRU", or both for a file that does not say."""
    s = f"{cell}({input_size} -> {hidden_size}"
    if num_layers > 1:
        s += f", {num_layers} layers"
    if bidirectional:
        s += ", bidirectional"
    return s + (f", {extra}" if extra else "") + ")"


def listing_of(candidates, shown=12):
    """The candidates for a message: the first `shown` of them, then how many more."""
    text = "; ".join(f"{c.name!r} {c.summary}" for c in candidates[:shown])
    return text + (f"; ... and {len(candidates) - shown} more" if len(candidates) > shown else "")


def pick(items, names, which, label, kind):
    """The items that `which` names: a name or an index, or a list of them (to stack), in that order.

    items and names run in parallel (file order); kind is "layer" or "node", for the messages.
    """
    chosen = []
    for w in which if isinstance(which, (list, tuple)) else [which]:
        if isinstance(w, int) and not isinstance(w, bool):
            if not 0 <= w < len(names):
                raise LoadError(f"{label}: {kind} index {w} out of range 0..{len(names) - 1} ({names})")
            w = names[w]
        if w not in names:
            raise LoadError(f"{label}: no LSTM {kind} named {w!r}; found {names[:12]}"
                            f"{f' and {len(names) - 12} more' if len(names) > 12 else ''}")
        chosen.append(items[names.index(w)])
    return chosen


def as_tensor(value, key):
    """A float tensor from a numpy array or tensor read under `key`, checked by `check_weight`."""
    if not isinstance(value, torch.Tensor):
        value = np.asarray(value)
        if value.dtype.name not in _NUMPY_FLOATS:  # refused before torch sees a dtype it has no name for
            raise LoadError(f"{key}: expected floating-point weights (float16, float32 or float64), "
                            f"found dtype {value.dtype}")
        value = torch.from_numpy(np.ascontiguousarray(value))
    return check_weight(value, key)


def expect_shape(t, shape, key, meaning=""):
    """LoadError naming the key, the expected and the found shape, unless t has `shape`."""
    if tuple(t.shape) != tuple(shape):
        raise LoadError(f"{key}: expected shape {tuple(shape)}{' ' + meaning if meaning else ''}, "
                        f"found {tuple(t.shape)}")


def zrh_as_rzn(t):
    """Rows (3H, ...) in Keras's and ONNX's GRU order z, r, h as nn.GRU's r, z, n (h is our n)."""
    z, r, h = t.chunk(3)
    return torch.cat([r, z, h])


def build(params, keys, *, input_size, hidden_size, num_layers, bidirectional, bias, **options):
    """An LSTM holding `params` (our name -> tensor), read from `keys` (our name -> source key).

    options go to `lstm_core.LSTM` (variant, peephole, gate_activation, batch_first, ...).
    """
    return _filled(LSTM, params, keys, input_size, hidden_size, num_layers, bidirectional, bias, options)


def build_gru(params, keys, *, input_size, hidden_size, num_layers, bidirectional, bias, **options):
    """A GRU holding `params` (nn.GRU's names -> tensor), read from `keys` (our name -> source key).

    options go to `lstm_core.GRU` (reset, batch_first, go_backwards, device, dtype, ...).
    """
    if options.get("variant") == "gru":  # what chooses a GRU for a state dict says nothing more here
        options = {k: v for k, v in options.items() if k != "variant"}
    lstm_only = sorted(set(options) & {"variant", "peephole", "peephole_output", "gate_activation", "proj_size"})
    if lstm_only:
        raise LoadError(f"{', '.join(lstm_only)}: LSTM options; a GRU takes reset ('after' or 'before'), "
                        f"batch_first, go_backwards, device and dtype")
    return _filled(GRU, params, keys, input_size, hidden_size, num_layers, bidirectional, bias, options)


def _filled(cls, params, keys, input_size, hidden_size, num_layers, bidirectional, bias, options):
    """A `cls` (LSTM or GRU) built with these sizes and options, `params` copied in, in eval mode."""
    try:
        model = cls(input_size, hidden_size, num_layers, bias=bias, bidirectional=bidirectional, **options)
    except (TypeError, ValueError) as e:
        raise LoadError(f"cannot build the model: {e}") from e
    own = dict(model.named_parameters())
    missing, extra = sorted(set(own) - set(params)), sorted(set(params) - set(own))
    if missing or extra:
        what = [f"missing {', '.join(missing)}"] if missing else []
        what += [f"unexpected {', '.join(keys.get(k, k) for k in extra)}"] if extra else []
        raise LoadError(f"weights do not fit {cls.__name__}({model.extra_repr()}): {'; '.join(what)}")
    with torch.no_grad():
        for name, p in own.items():
            expect_shape(params[name], p.shape, keys.get(name, name), f"(for {name})")
            p.copy_(params[name].to(p.dtype))
    model.eval()  # a loaded model is for looking at: no dropout between layers
    return model
