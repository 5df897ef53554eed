"""The record of one layer and direction, and the buffers the fast paths fill."""
from typing import NamedTuple

import torch
from torch import Tensor

FIELDS = ("gates", "c", "h")


class Record(NamedTuple):
    """Every gate and state of one run, time-major."""

    gates: Tensor  # (T, B, 4, H) the effective i, f, g, o
    c: Tensor  # (T, B, H)
    h: Tensor  # (T, B, P)


def allocate(LD, T, B, H, P, dtype, device):
    """Empty buffers for L*D records: a Record of (L*D, T, B, 4, H), (L*D, T, B, H), (L*D, T, B, P)."""
    kw = dict(dtype=dtype, device=device)
    return Record(torch.empty(LD, T, B, 4, H, **kw), torch.empty(LD, T, B, H, **kw), torch.empty(LD, T, B, P, **kw))
