"""The constructor arguments every recurrent model shares, checked in one place."""
import warnings

import torch

from . import limits
from .devices import check_device


def check_options(what, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, *,
                  proj_size=0, go_backwards=False, seed=None, device=None, dtype=None, parameter_bound=lambda: 0):
    """ValueError or TypeError naming the first bad argument; returns the checked device.

    what: the parameters as a user would name them, e.g. "GRU(10, 20, num_layers=2): parameters",
        for the size message.
    parameter_bound: a function of nothing giving an upper bound on the parameters, called once
        the sizes are known to be ints and checked against `lstm_core.limits` before anything
        is allocated (issue 11).
    """
    for name, value, low in (("input_size", input_size, 1), ("hidden_size", hidden_size, 1),
                             ("num_layers", num_layers, 1), ("proj_size", proj_size, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    if proj_size >= hidden_size:
        raise ValueError(f"proj_size: expected less than hidden_size={hidden_size}, got {proj_size}")
    for name, value in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional),
                        ("go_backwards", go_backwards)):
        if not isinstance(value, bool) and value not in (0, 1):  # a str "no" would be truthy
            raise TypeError(f"{name}: expected True or False, got {value!r}")
    if seed is not None and not isinstance(seed, bool) and isinstance(seed, int) and not -2**63 <= seed < 2**64:
        raise ValueError(f"seed: expected an int in -2**63..2**64-1 (torch.manual_seed's range), got {seed}")
    limits.current().check("max_parameters", parameter_bound(), what)
    if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
        raise ValueError(f"dropout: expected a probability in [0, 1], got {dropout!r}")
    if dropout > 0 and num_layers == 1:
        warnings.warn(f"dropout={dropout} acts between layers, and num_layers=1 has none", stacklevel=3)
    if go_backwards and bidirectional:
        raise ValueError("go_backwards=True runs the one direction backwards; bidirectional=True already "
                         "runs both ways: choose one")
    device = check_device(device)
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype: expected a floating-point torch.dtype, got {dtype!r}")
    return device
