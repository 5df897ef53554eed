"""lstm_core: an LSTM that shows its gates.

`LSTM` matches torch.nn.LSTM (same arguments, parameters and numbers for the
standard variant), runs the variants of `lstm_core.variants`, and its `trace`
method records the gates i, f, g, o and the states c, h of every layer at every
step as a `Trace`. `GRU` does the same for torch.nn.GRU's r, z, n and h. Each cell
declares what it records in `lstm_core.cells`, and the rest reads the declaration.

Dimension letters used in every shape comment of this package:
    T  time steps               B  sequences in a batch
    I  input features           H  hidden size: features of c and of each gate
    P  features of h: proj_size if > 0, else H
    L  layers                   D  directions: 2 if bidirectional, else 1
    G  gates with parameters: 4 for the standard cell, 3 for a variant with one gate less
"""
from .convert import find_lstms, from_needle, from_state_dict, from_torch, to_torch
from .data import DataError
from .devices import available_devices
from .init import INITS
from .interventions import Clamp
from .limits import Limits
from .loaders import LoadError, find_candidates, load
from .gru import GRU
from .model import LSTM
from .trace import Trace
from .variants import VARIANTS

__all__ = ["LSTM", "GRU", "Trace", "Clamp", "VARIANTS", "INITS", "available_devices", "find_lstms", "from_needle",
           "from_state_dict", "from_torch", "to_torch", "load", "find_candidates", "LoadError"]
from .checker import check  # noqa: E402 - issue 14: check a student's own LSTM (lstm_core.checker)

__all__ += ["check"]
