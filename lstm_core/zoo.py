"""Every recurrent model the package builds, by one name: an LSTM variant or another cell family.

    build("coupled", 3, 16)   # lstm_core.LSTM(3, 16, variant="coupled")
    build("gru", 3, 16)       # lstm_core.GRU(3, 16)

The demo tasks, the checkpoints, the training loop and the app name a model's cell by
this one name (their "variant" setting), so a new cell is one entry here.
"""
from . import cells
from .gru import GRU
from .model import LSTM
from .cells.variants import VARIANTS, fusable, get_variant

# name -> (class, keyword arguments that select the cell)
_OTHERS = {"gru": (GRU, {"reset": "after"})}
ARCHITECTURES = VARIANTS + tuple(_OTHERS)


def build(architecture, input_size, hidden_size, num_layers=1, *, forget_bias=None, seed=None, **options):
    """A model of `architecture` (an LSTM variant's name or a key of the other cells), seeded.

    forget_bias: the LSTM's forget-gate bias at the start; refused for a cell without one."""
    if check(architecture) in VARIANTS:
        return LSTM(input_size, hidden_size, num_layers, architecture, forget_bias=forget_bias, seed=seed, **options)
    if forget_bias is not None:
        raise ValueError(f"forget_bias: a {architecture.upper()} has no forget gate; pass forget_bias=None")
    cls, kw = _OTHERS[architecture]
    return cls(input_size, hidden_size, num_layers, seed=seed, **kw, **options)


def architecture_of(model):
    """The name `build` takes for `model` (an lstm_core.LSTM or another cell's model)."""
    if isinstance(model, LSTM):
        return model.variant
    for name, (cls, kw) in _OTHERS.items():
        if isinstance(model, cls) and all(getattr(model, k) == v for k, v in kw.items()):
            return name
    raise ValueError(f"model: {model!r} has no name here; expected an lstm_core.LSTM or one of "
                     f"{', '.join(f'{c.__name__}({kw})' for c, kw in _OTHERS.values())}")


def declaration(architecture):
    """The `lstm_core.cells.Declaration` of `architecture`'s cell, without building a model (a picker's caption)."""
    if check(architecture) in VARIANTS:
        return cells.lstm.declaration(architecture)
    _, kw = _OTHERS[architecture]
    return cells.FAMILIES[architecture].declaration(**kw)


def check(architecture):
    """ValueError unless `build` knows `architecture`; returns it."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"variant: unknown name {architecture!r}; expected one of {', '.join(ARCHITECTURES)}")
    return architecture


def fused(architecture):
    """True if the model runs on torch's fused kernels (cuDNN, oneDNN): it trains fast."""
    if check(architecture) in VARIANTS:
        return fusable(get_variant(architecture), False)
    return True  # the GRU, reset after the matmul: torch's own GRU kernel


def has_forget_gate(architecture):
    """True if the model's cell has a forget-gate bias to set (`forget_bias`)."""
    return check(architecture) in VARIANTS and "f" in get_variant(architecture).gates
