"""The cells: each family declares its fields, weights, step and equations in one file.

    base    `Field` and `Declaration`: what a cell says about itself
    lstm    the LSTM and its variants (the step is `lstm_core.cells.lstm_cell`, the switches `lstm_core.cells.variants`)
    gru     the GRU, reset after (torch) or before (Cho et al. 2014) the matmul

Everything outside this package reads a cell through `declaration_of(model or trace)` and
`cell_parts`, and never names a gate.
"""
from . import gru, lstm
from .base import KINDS, Declaration, Field

FAMILIES = {"lstm": lstm, "gru": gru}
# Every field name any cell records, in first-seen order (what a Clamp may target before it meets a model).
ALL_FIELDS = tuple(dict.fromkeys(f.name for fam in (lstm.declaration(), gru.declaration()) for f in fam.fields))


def declaration_of(obj):
    """The `Declaration` of a model, a trace or a declaration."""
    if isinstance(obj, Declaration):
        return obj
    d = getattr(obj, "declaration", None)
    if isinstance(d, Declaration):
        return d
    raise TypeError(f"expected a model, trace or Declaration of lstm_core, got {type(obj).__name__}")


def cell_parts(declaration, values):
    """(kept, written) of the memory field: memory_t = kept + written, from {field: tensor}."""
    return FAMILIES[declaration.family].cell_parts(values)


def describe_step(declaration, values):
    """One step of one unit in sentences, from its numbers (see each family's `describe_step`)."""
    return FAMILIES[declaration.family].describe_step(values)


__all__ = ["Field", "Declaration", "KINDS", "FAMILIES", "ALL_FIELDS", "declaration_of", "cell_parts", "describe_step"]
