"""lstm_core: an LSTM that shows its gates.

`LSTM` matches torch.nn.LSTM (same arguments, parameters and numbers for the
standard variant), runs the variants of `lstm_core.cells.variants`, and its `trace`
method records the gates i, f, g, o and the states c, h of every layer at every
step as a `Trace`. `GRU` does the same for torch.nn.GRU's r, z, n and h. Each cell
declares what it records in `lstm_core.cells`, and the rest reads the declaration.

The package, a folder a layer:
    cells/     each cell's declaration, step and equations: the LSTM (and its variants), the GRU
    engine/    running a stack of any cell on its paths, and recording it
    io/        loaders (PyTorch, safetensors, Keras, ONNX), data, checkpoints, exports, LSTMVis
    analysis/  diagnostics, the unit finder, interventions
    checker/   a student's own cell beside the reference; kernel/ the compiled trace kernel;
    tasks/     the demo tasks; train.py trains on them; model.py (LSTM), gru.py (GRU) and zoo.py
               build the models; trace.py is their record

Dimension letters used in every shape comment of this package:
    T  time steps               B  sequences in a batch
    I  input features           H  hidden size: features of c and of each gate
    P  features of h: proj_size if > 0, else H
    L  layers                   D  directions: 2 if bidirectional, else 1
    G  gates with parameters: 4 for the standard cell, 3 for a variant with one gate less
"""
from .io.convert import find_lstms, from_needle, from_state_dict, from_torch, to_torch
from .io.data import DataError
from .devices import available_devices
from .init import INITS
from .analysis.interventions import Clamp
from .limits import Limits
from .io.loaders import LoadError, find_candidates, load
from .gru import GRU
from .model import LSTM
from .trace import Trace
from .cells.variants import VARIANTS

__all__ = ["LSTM", "GRU", "Trace", "Clamp", "VARIANTS", "INITS", "available_devices", "find_lstms", "from_needle",
           "from_state_dict", "from_torch", "to_torch", "load", "find_candidates", "LoadError"]
from .checker import check  # noqa: E402 - issue 14: check a student's own LSTM (lstm_core.checker)

__all__ += ["check"]


def _keep_old_paths():
    """`lstm_core.data`, `lstm_core.loaders`, ... as before the modules were grouped into
    cells/, io/ and analysis/ (issue 20): the same module objects under their old names."""
    import importlib
    import sys

    for old, new in OLD_PATHS.items():
        module = importlib.import_module(f"{__name__}.{new}")
        sys.modules[f"{__name__}.{old}"] = module
        globals().setdefault(old, module)


OLD_PATHS = {"variants": "cells.variants", "cell": "cells.lstm_cell", "loaders": "io.loaders", "data": "io.data",
             "checkpoint": "io.checkpoint", "export": "io.export", "lstmvis": "io.lstmvis", "convert": "io.convert",
             "paths": "io.paths", "diagnostics": "analysis.diagnostics", "units": "analysis.units",
             "interventions": "analysis.interventions"}
_keep_old_paths()
