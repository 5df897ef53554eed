"""The record of one layer and direction, and the buffers the fast paths fill."""
from typing import NamedTuple

from torch import Tensor

from . import pool

FIELDS = ("gates", "c", "h")


class Record(NamedTuple):
    """Every gate and state of one run, time-major."""

    gates: Tensor  # (T, B, 4, H) the effective i, f, g, o
    c: Tensor  # (T, B, H)
    h: Tensor  # (T, B, P)


def allocate(LD, T, B, H, P, dtype, device):
    """Empty buffers for L*D records: a Record of (L*D, T, B, 4, H), (L*D, T, B, H), (L*D, T, B, P).

    Large CPU buffers come from `pool`: the memory of an earlier record nobody holds any
    more, which saves faulting fresh pages in (a quarter of nn.LSTM's time at B=32, H=256)."""
    return Record(*(pool.empty(shape, dtype, device) for shape in ((LD, T, B, 4, H), (LD, T, B, H), (LD, T, B, P))))
