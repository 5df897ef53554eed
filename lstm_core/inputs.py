"""Checking what callers pass in, and bringing it into one layout.

Everything inside the package works on time-major, padded, batched tensors:
x (T, B, I), h0 (L*D, B, P), c0 (L*D, B, H) and lengths (B,) or None. `prepare`
gets there from every layout torch.nn.LSTM accepts (batch_first, unbatched
(T, I), PackedSequence) plus our `lengths`, and `finish` goes back. Errors name
the argument, what was expected and what arrived.
"""
import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence


@dataclass
class Prepared:
    """A call's input in the package's layout, and how to give results back."""

    x: Tensor  # (T, B, I)
    h0: Tensor  # (L*D, B, P)
    c0: Tensor | None  # (L*D, B, H); None for a cell that carries h alone
    lengths: Tensor | None  # (B,) int64 on the CPU
    batched: bool  # False for (T, I) input
    batch_first: bool
    packed: PackedSequence | None  # the caller's PackedSequence, if one came in


def _shape(t):
    return tuple(t.shape)


def _check_finite(t, name, layout, mask=None):
    """ValueError naming the first non-finite position of t, in the caller's `layout` names."""
    if mask is not None:
        mask = mask.view(*mask.shape, *[1] * (t.dim() - mask.dim()))
    valid = t if mask is None else torch.where(mask, t, 0)
    if math.isfinite(valid.sum().item()):  # one fast pass: NaN and inf survive a sum (.item(): 4x
        return                              # faster than bool(torch.isfinite(...)) on small x)
    bad = ~torch.isfinite(t)
    if mask is not None:
        bad &= mask
    if bad.any():
        pos = tuple(int(p) for p in torch.nonzero(bad)[0])
        where = ", ".join(f"{n}={p}" for n, p in zip(layout, pos))
        raise ValueError(f"{name}: non-finite value {t[pos].item()} at {where} ({name}.shape={_shape(t)}); "
                         f"pass check_finite=False to run anyway")


def _check_lengths(lengths, T, B, device):
    if not isinstance(lengths, Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"lengths: expected a 1-D tensor or list of ints, got {type(lengths).__name__}") from e
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"lengths: expected integers, got dtype {lengths.dtype}")
    if lengths.dim() != 1 or lengths.shape[0] != B:
        raise ValueError(f"lengths: expected shape ({B},), one length per sequence, got {_shape(lengths)}")
    if lengths.is_meta:  # a meta tensor has a shape but no values to copy to the CPU
        raise ValueError(f"lengths: is on the meta device, which holds no values; "
                         f"pass lengths on the CPU or the model's device ({device})")
    lengths = lengths.to("cpu", torch.int64)
    if B and (lengths.min() < 1 or lengths.max() > T):
        bad = int(torch.nonzero((lengths < 1) | (lengths > T))[0])
        raise ValueError(f"lengths: every length must be in 1..{T} (the padded length T), "
                         f"got lengths[{bad}]={int(lengths[bad])}")
    return lengths


def prepare(model, x, state=None, lengths=None, check_finite=True):
    """Validate a call of `model` and bring it into the package's layout (see module doc)."""
    LD = model.num_layers * model.num_directions
    H, P = model.hidden_size, model.proj_size or model.hidden_size
    packed = None
    if isinstance(x, PackedSequence):
        if lengths is not None:
            raise ValueError("lengths: a PackedSequence carries its own lengths; pass lengths=None")
        packed = x
        x, lengths = pad_packed_sequence(x)  # (T, B, I) in the caller's batch order
        batched, batch_first = True, False
        layout = ("t", "b", "feature")
    else:
        if not isinstance(x, Tensor):
            raise TypeError(f"x: expected a torch.Tensor or PackedSequence, got {type(x).__name__}")
        if x.dim() not in (2, 3):
            raise ValueError(f"x: expected a 3-D batch ({'B, T' if model.batch_first else 'T, B'}, "
                             f"input_size) or a 2-D sequence (T, input_size), got shape {_shape(x)}")
        batched, batch_first = x.dim() == 3, model.batch_first
        if not batched:
            if lengths is not None:
                raise ValueError("lengths: only batched (3-D) input takes lengths; "
                                 f"x has shape {_shape(x)}")
            x = x.unsqueeze(1)
            layout = ("t", "feature")
        elif batch_first:
            x = x.transpose(0, 1)
            layout = ("b", "t", "feature")
        else:
            layout = ("t", "b", "feature")
    if not x.dtype.is_floating_point:
        raise TypeError(f"x: expected a floating-point tensor of the model's dtype {model.dtype}, "
                        f"got {x.dtype}")
    if x.dtype != model.dtype:
        raise TypeError(f"x: dtype {x.dtype} does not match the model's dtype {model.dtype}; "
                        f"convert one of them (x.to({model.dtype}) or model.to({x.dtype}))")
    if x.device != model.device:
        raise ValueError(f"x: is on {x.device} but the model is on {model.device}; "
                         f"move one of them (x.to('{model.device}') or model.to('{x.device}'))")
    T, B, I = x.shape
    if I != model.input_size:
        raise ValueError(f"x: expected input_size={model.input_size} features in the last dimension, "
                         f"got {I} (x.shape={_shape(x if batched else x[:, 0])})")
    if T == 0 or B == 0:
        raise ValueError(f"x: needs at least one time step and one sequence, got shape {_shape(x)}")
    if lengths is not None:
        lengths = _check_lengths(lengths, T, B, model.device)
    if check_finite:
        mask = None if lengths is None else (torch.arange(T).unsqueeze(1) < lengths).to(x.device)
        original = x if batched else x[:, 0]
        if batched and batch_first and packed is None:
            original, mask = x.transpose(0, 1), (None if mask is None else mask.T)
        _check_finite(original, "x", layout, mask)

    names = model.state_names  # ("h0", "c0") for an LSTM, ("h0",) for a GRU
    feats = {"h0": P, "c0": H}
    if state is None:
        states = [x.new_zeros(LD, B, feats[n]) for n in names]
    else:
        if len(names) == 1 and isinstance(state, Tensor):
            state = (state,)
        if not (isinstance(state, (tuple, list)) and len(state) == len(names)):
            want = "a tensor h0" if len(names) == 1 else f"a pair ({', '.join(names)}) of tensors"
            raise TypeError(f"state: expected {want}, got {type(state).__name__}")
        states = list(state)
        for name, t in zip(names, states):
            feat = feats[name]
            want = (LD, B, feat) if batched else (LD, feat)
            if not isinstance(t, Tensor):
                raise TypeError(f"state: {name} must be a tensor, got {type(t).__name__}")
            if _shape(t) != want:
                raise ValueError(f"state: {name} expected shape {want} "
                                 f"(num_layers*num_directions, {'batch, ' if batched else ''}"
                                 f"{'proj_size' if name == 'h0' and model.proj_size else 'hidden_size'}), "
                                 f"got {_shape(t)}")
            if t.dtype != x.dtype or t.device != x.device:
                raise ValueError(f"state: {name} is {t.dtype} on {t.device}, expected {x.dtype} on {x.device} "
                                 f"like x")
            if check_finite:
                _check_finite(t, f"state {name}", ("layer", "b", "unit") if batched else ("layer", "unit"))
        if not batched:
            states = [t.unsqueeze(1) for t in states]
    h0, c0 = states[0], (states[1] if len(states) > 1 else None)
    return Prepared(x, h0, c0, lengths, batched, batch_first, packed)


def finish(p, output, h_n, c_n):
    """Results from the package's layout back into the caller's (see `prepare`).

    output (T, B, D*P), h_n (L*D, B, P), c_n (L*D, B, H) -> what torch.nn.LSTM returns;
    with c_n None (a GRU), output and h_n as torch.nn.GRU returns them.
    """
    if p.packed is not None:
        output = repack(p.packed, output)
    elif not p.batched:
        output, h_n, c_n = output[:, 0], h_n[:, 0], None if c_n is None else c_n[:, 0]
    elif p.batch_first:
        output = output.transpose(0, 1)
    return (output, h_n) if c_n is None else (output, (h_n, c_n))


def repack(like, padded):
    """A PackedSequence laid out exactly like `like`, with data from padded (T, B, F)."""
    sizes = like.batch_sizes  # (T,) sequences still running at each step, sorted order
    T = sizes.shape[0]
    sorted_b = like.sorted_indices if like.sorted_indices is not None else torch.arange(int(sizes[0]))
    t = torch.repeat_interleave(torch.arange(T), sizes)
    j = torch.cat([torch.arange(int(n)) for n in sizes])
    b = sorted_b.cpu()[j]
    data = padded[t.to(padded.device), b.to(padded.device)]
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)
