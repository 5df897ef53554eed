"""What a cell declares about itself, so that nothing outside `lstm_core.cells` names a gate.

A `Declaration` says which fields a cell records (name, title, meaning, kind), which
states it carries from step to step, how its weight rows are laid out in blocks, and
its equations as text and LaTeX. The trace, the exports, the diagnostics and the pages
read it: a GRU trace draws r, z, n and h because its declaration lists them.

Field kinds and the colour range each implies:
    gate        0..1, a fraction (σ, or an exponential gate capped at 1)
    candidate   -1..1, a proposal squashed by tanh
    state       unbounded: fit the scale to the data
    log         unbounded, a log-scale stabiliser (the sLSTM's m)
"""
from dataclasses import dataclass, field

KINDS = {"gate": (0.0, 1.0), "candidate": (-1.0, 1.0), "state": None, "log": None}


@dataclass(frozen=True)
class Field:
    """One recorded quantity of a cell, (L*D, T, B, H) in a trace (h: P features)."""

    name: str  # as in the paper: "f", "z", "c"
    title: str  # "forget gate"
    meaning: str  # one line a student can read: "how much of c_{t-1} is kept"
    kind: str  # a key of KINDS
    width: str = "H"  # "H", or "P" for h under a projection

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Field {self.name!r}: kind expected one of {', '.join(KINDS)}, got {self.kind!r}")

    @property
    def range(self):
        """(low, high) for a colour scale, or None where the scale follows the data."""
        return KINDS[self.kind]

    @property
    def is_gate(self):
        return self.kind == "gate"


@dataclass(frozen=True)
class Declaration:
    """A cell as everything outside `lstm_core.cells` sees it.

    `fields` are in display order, gates first. `states` are carried from step to step,
    h first ("h", "c" for an LSTM; "h" for a GRU). `memory` is the field a lesson calls the
    memory, and the roles of the others in its update memory_t = keep ⊙ memory_{t-1} + ...
    are declared too: `keep` (f, z), whether 1 − keep is also the write (`keep_writes`: a
    GRU's z, a coupled LSTM's f), the `candidate` it writes (g, n) and the gates that let
    the past into the candidate (`past`: a GRU's r).
    """

    family: str  # registry key: "lstm", "gru"
    title: str  # "LSTM", "GRU (reset after the matmul)"
    variant: str  # "standard", "coupled", ... for the LSTM; "after"/"before" for the GRU
    fields: tuple  # of Field
    states: tuple  # state names, h first
    memory: str  # the field that carries the memory
    blocks: str  # the gate blocks of the stacked weight rows, in order ("ifgo", "rzn")
    equations: tuple  # plain text, one equation a line
    latex: tuple  # the same equations in LaTeX
    notes: dict = field(default_factory=dict)  # field name -> a caveat shown wherever it is
    summary: str = ""  # one sentence for a model picker: what this cell does differently
    paths: tuple = ("reference",)  # the trace paths (methods) this cell runs, besides "auto"
    keep: str | None = None  # the gate that multiplies memory_{t-1}; None where it is kept whole
    keep_writes: bool = False  # the write is 1 − keep (a GRU's z, a coupled LSTM's f)
    candidate: str | None = None  # the field the update writes from (g, n)
    past: tuple = ()  # gates that let memory_{t-1} into the candidate (a GRU's r)

    @property
    def names(self):
        """The recorded fields' names, in display order."""
        return tuple(f.name for f in self.fields)

    @property
    def gates(self):
        """Names of the fields that are gates (0..1)."""
        return tuple(f.name for f in self.fields if f.is_gate)

    def field(self, name):
        """The `Field` called `name`; ValueError names the ones this cell has."""
        for f in self.fields:
            if f.name == name:
                return f
        raise ValueError(f"field: this {self.title} records {', '.join(self.names)}, got {name!r}")

    def describe(self, name):
        """"z (update gate: the fraction of h_{t-1} kept; note)" for captions and tables."""
        f = self.field(name)
        note = self.notes.get(name)
        return f"{f.name} ({f.title}: {f.meaning}{'; ' + note if note else ''})"


def plus(a, b):
    """"a + b" with b's sign written as the operator: "0.330 − 0.104", never "0.330 + -0.104"."""
    return f"{a:.3f} {'−' if b < 0 else '+'} {abs(b):.3f}"
