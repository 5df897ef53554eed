"""Weights in and out: torch.nn.LSTM, torch.nn.LSTMCell, state dicts, the needle layout.

    from_torch(nn.LSTM or nn.LSTMCell)      -> LSTM with the same options and weights
    to_torch(LSTM)                          -> torch.nn.LSTM (standard variant)
    find_lstms(state_dict)                  -> the prefixes under which LSTM weights sit
    from_state_dict(state_dict, prefix=)    -> LSTM, options read off the shapes
    from_needle(weights)                    -> LSTM from W_ih (I, 4H), W_hh (H, 4H) per layer
"""
import re

import numpy as np
import torch
from torch import nn

from ..model import LSTM
from ..cells.variants import REGISTRY, get_variant

# weight_ih_l0, encoder.rnn.weight_hh_l1_reverse, ... and LSTMCell's bare weight_ih
_KEY = re.compile(r"^(?P<prefix>(?:.*\.)?)(?P<name>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr|"
                  r"weight_peephole|weight_gg)(?P<layer>_l\d+)?(?P<rev>_reverse)?$")


from_torch = LSTM.from_torch  # (nn.LSTM or nn.LSTMCell, *, variant="standard", **options) -> LSTM
to_torch = LSTM.to_torch  # (LSTM) -> torch.nn.LSTM


def find_lstms(state_dict):
    """The prefixes ("" or ending in ".") under which a state dict holds LSTM weights, in key order."""
    prefixes = {}  # an ordered set: one pass over the keys, linear in their number (issue 11)
    for key in state_dict:
        m = _KEY.match(key)
        if m and m["name"] == "weight_ih" and m["prefix"] not in prefixes:
            if m["layer"] or f"{m['prefix']}weight_hh" in state_dict:
                prefixes[m["prefix"]] = None
    return list(prefixes)


def _infer_variant(gates_rows, has_peephole, has_gg, variant):
    """The variant name for G = gates_rows gate blocks, or a ValueError when it is ambiguous."""
    if variant is not None:
        v = get_variant(variant)
        if len(v.gates) != gates_rows:
            raise ValueError(f"variant {variant!r} has {len(v.gates)} gate blocks, the weights have {gates_rows}")
        return variant
    if has_gg:
        return "full_gate_recurrence"
    if gates_rows == 4:
        return "peephole" if has_peephole else "standard"
    fits = [name for name, v in REGISTRY.items() if len(v.gates) == gates_rows]
    if not fits:
        raise ValueError(f"weights with {gates_rows} gate blocks fit no variant: an LSTM has 4 "
                         f"(or 3 for a variant with one gate less)")
    raise ValueError(f"weights with {gates_rows} gate blocks fit several variants ({', '.join(fits)}): "
                     f"pass variant=" + ("; a GRU's weights have 3 blocks too: lstm_core.load(..., variant='gru') "
                                         "reads them as one" if gates_rows == 3 else ""))


def from_state_dict(state_dict, prefix=None, *, variant=None, **options):
    """An LSTM from the LSTM weights in a state dict, its options read off names and shapes.

    prefix: where the weights sit, e.g. "encoder.rnn."; None finds it, and is an error if
    there are several (see `find_lstms`). Keys may be nn.LSTM's (weight_ih_l0, ...) or
    nn.LSTMCell's (weight_ih, ...). Options that shapes cannot tell (batch_first, dropout,
    variant for 3 gate blocks, peephole_output) come as keyword arguments.
    """
    found = find_lstms(state_dict)
    if prefix is None:
        if not found:
            raise ValueError("state_dict: no LSTM weights found (no key ending in weight_ih_l0 or weight_ih)")
        if len(found) > 1:
            raise ValueError(f"state_dict: holds {len(found)} LSTMs, under prefixes {found}: pass prefix=")
        prefix = found[0]
    elif prefix not in found:
        raise ValueError(f"prefix: no LSTM weights under {prefix!r}; found {found or 'none'}")
    tensors = {}
    for key, value in state_dict.items():
        m = _KEY.match(key)
        if m and m["prefix"] == prefix:
            tensors[f"{m['name']}{m['layer'] or '_l0'}{m['rev'] or ''}"] = torch.as_tensor(value)
    w_ih, w_hh = tensors["weight_ih_l0"], tensors.get("weight_hh_l0")
    if w_hh is None:
        raise ValueError(f"state_dict: {prefix}weight_hh_l0 is missing")
    num_layers = 1 + max(int(re.search(r"_l(\d+)", k)[1]) for k in tensors)
    proj = tensors.get("weight_hr_l0")
    P = w_hh.shape[1]
    H = proj.shape[1] if proj is not None else P
    if w_hh.shape[0] % H:
        raise ValueError(f"{prefix}weight_hh_l0: expected (G*H, P) rows a multiple of H={H}, "
                         f"found shape {tuple(w_hh.shape)}")
    name = _infer_variant(w_hh.shape[0] // H, "weight_peephole_l0" in tensors, "weight_gg_l0" in tensors, variant)
    peephole = "weight_peephole_l0" in tensors
    if peephole and name != "peephole":
        options.setdefault("peephole", True)
    model = LSTM(w_ih.shape[1], H, num_layers, variant=name, bias="bias_ih_l0" in tensors,
                 bidirectional=any(k.endswith("_reverse") for k in tensors),
                 proj_size=P if proj is not None else 0, device=w_ih.device,
                 dtype=w_ih.dtype if w_ih.dtype.is_floating_point else None, **options)
    return model.copy_weights(tensors)


def from_needle(weights, **options):
    """An LSTM from the needle course layout: per layer W_ih (I, 4H), W_hh (H, 4H), bias_ih,
    bias_hh (4H,), gate order i, f, g, o, computing Z = X W_ih + h W_hh + b.

    weights: one layer as a mapping {"W_ih", "W_hh", "bias_ih", "bias_hh"}, a list of such
    mappings (layer 0 first), or a flat mapping with keys like "lstm_cells.0.W_ih".
    Values may be tensors or numpy arrays; biases may be absent.
    """
    if isinstance(weights, dict) and "W_ih" not in weights:
        layers = {}
        for key, value in weights.items():
            m = re.match(r"^(?:.*\.)?(\d+)\.(W_ih|W_hh|bias_ih|bias_hh)$", key)
            if not m:
                raise ValueError(f"weights: unexpected key {key!r}; expected e.g. 'lstm_cells.0.W_ih'")
            layers.setdefault(int(m[1]), {})[m[2]] = value
        weights = [layers[k] for k in sorted(layers)]
    if isinstance(weights, dict):
        weights = [weights]
    tensors = {}
    for k, layer in enumerate(weights):
        for key in ("W_ih", "W_hh"):
            if key not in layer:
                raise ValueError(f"layer {k}: {key} is missing")
        w_ih, w_hh = (torch.as_tensor(np.asarray(layer[key])) if not isinstance(layer[key], torch.Tensor)
                      else layer[key] for key in ("W_ih", "W_hh"))
        H = w_hh.shape[0]
        if w_hh.dim() != 2 or w_hh.shape[1] != 4 * H:
            raise ValueError(f"layer {k}: W_hh expected shape (H, 4H), found {tuple(w_hh.shape)}")
        if w_ih.dim() != 2 or w_ih.shape[1] != 4 * H:
            raise ValueError(f"layer {k}: W_ih expected shape (input_size, {4 * H}), found {tuple(w_ih.shape)}")
        tensors[f"weight_ih_l{k}"] = w_ih.T
        tensors[f"weight_hh_l{k}"] = w_hh.T
        for key in ("bias_ih", "bias_hh"):
            if key in layer and layer[key] is not None:
                tensors[f"{key}_l{k}"] = torch.as_tensor(np.asarray(layer[key])).reshape(-1)
    w0 = tensors["weight_ih_l0"]
    model = LSTM(w0.shape[1], w0.shape[0] // 4, len(weights), bias="bias_ih_l0" in tensors,
                 dtype=w0.dtype if w0.dtype.is_floating_point else None, **options)
    return model.copy_weights(tensors)

