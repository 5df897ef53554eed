"""What each field of a cell does in its memory update, read from the cell's declaration (issue 20).

    memory_equation(decl)      "c_t = f ⊙ c_{t−1} + i ⊙ g", or a GRU's "h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}"
    memory_latex(decl)         the same in LaTeX
    keep_gate(decl)            "f" or "z": the gate that multiplies memory_{t−1}; None where nothing does
    keeps(decl)                a caption's words on what keeps the memory (describe(keep) and notes)
    role(decl, name)           "memory", "keep", "candidate", or the field's own name
    rows(decls)                the Compare grid's rows: one field per column, aligned by role
    time_constants(trace)      (H,) 1 / (1 − mean keep gate) of every unit, in steps

Compare and the lessons put an LSTM beside a GRU: the LSTM keeps its value in c with f, the
GRU in h with z. Nothing here names a gate: the roles are the declaration's (memory, keep,
candidate), and the memory update equation is the one whose left side is the memory.

Pure (numpy, lstm_core): no streamlit here.
"""
import math
from dataclasses import dataclass
from functools import lru_cache

from lstm_core import zoo
from lstm_core.cells import declaration_of

def _update(decl):
    """(index, text) of the memory's update equation: the first whose left side is memory_t."""
    for k, line in enumerate(decl.equations):
        left = line.split("=", 1)[0].strip()
        if left in (f"{decl.memory}_t", decl.memory):
            return k, line
    raise ValueError(f"{decl.title}: no equation updates its memory {decl.memory!r}; equations: "
                     f"{'; '.join(decl.equations)}")


def memory_equation(decl):
    """The plain-text update of the cell's memory, as its declaration writes it."""
    return _update(declaration_of(decl))[1]


def memory_latex(decl):
    """The same update in LaTeX (the declaration's latex line of the same index)."""
    decl = declaration_of(decl)
    return decl.latex[_update(decl)[0]]


def keep_gate(decl):
    """The gate that multiplies memory_{t−1} in the update (f of an LSTM, z of a GRU), or None
    where the memory is kept whole (an LSTM without a forget gate: c_t = c_{t−1} + i ⊙ g)."""
    return declaration_of(decl).keep


def candidates(decl):
    """The candidate fields the update writes from (g of an LSTM, n of a GRU)."""
    decl = declaration_of(decl)
    return (decl.candidate,) if decl.candidate else ()


def role(decl, name):
    """What field `name` does: "memory", "keep" (the keep gate), "candidate", or its own name
    (a gate or state with no counterpart: an LSTM's i, o and output h, a GRU's r)."""
    decl = declaration_of(decl)
    if name == decl.memory:
        return "memory"
    if name == keep_gate(decl):
        return "keep"
    return "candidate" if name in candidates(decl) else name


def keeps(decl):
    """One line for a caption beside the memory update: what keeps the memory, in the declaration's
    own words and caveats (decl.describe), then the notes of its other fields.
    "z (update gate: the fraction of h_{t-1} kept; ...; z keeps: h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}, ...)"."""
    decl = declaration_of(decl)
    k = keep_gate(decl)
    first = decl.describe(k) if k else f"nothing gates {decl.memory}_{{t−1}}: it is kept whole"
    return " · ".join([first] + [decl.notes[n] for n in decl.names if n != k and n in decl.notes])


@dataclass(frozen=True)
class Row:
    """One panel row of the Compare grid: the field each column draws in it (None: its cell has
    no field in this role), and the key the page's panels and URL name it by."""

    key: str  # the distinct names joined by "/": "f/z", "c/h"; "f" where every column draws f
    role: str  # see `role`
    names: tuple  # one field name or None per column

    def has(self, token):
        return token == self.key or token in self.names


def rows(decls):
    """The rows of columns of these declarations (or models, traces), aligned by role.

    Each column's roles keep its declaration's order; a role met first in a later column goes
    just above the first role already placed that follows it there (the GRU's r above the keep
    row). Columns of one cell give one row per field, named by the field (i, f, g, o, c, h)."""
    decls = [declaration_of(d) for d in decls]
    order, by_role = [], {}
    for j, d in enumerate(decls):
        mine = [(role(d, f.name), f.name) for f in d.fields]
        for k, (r, name) in enumerate(mine):
            by_role.setdefault(r, [None] * len(decls))[j] = name
            if r in order:
                continue
            after = [x for x, _ in mine[k + 1:] if x in order]
            order.insert(order.index(after[0]) if after else len(order), r)
    out = []
    for r in order:
        names = tuple(by_role[r])
        out.append(Row("/".join(dict.fromkeys(n for n in names if n)), r, names))
    return tuple(out)


def pick_rows(all_rows, tokens):
    """The rows that `tokens` (row keys or field names, from a URL or a lesson) name, in the
    grid's order, each once; an exact key first, so "h" is the LSTM's output row, "c" its memory's."""
    chosen = []
    for t in tokens:
        row = next((r for r in all_rows if r.key == t), None) or next((r for r in all_rows if r.has(t)), None)
        if row is not None and row not in chosen:
            chosen.append(row)
    return [r for r in all_rows if r in chosen]


@lru_cache(maxsize=None)
def declaration_for(architecture):
    """The declaration of a model of lstm_core.zoo's `architecture` (a one-unit model built to ask)."""
    return zoo.build(architecture, 1, 1).declaration


def time_constants(trace, layer=0, direction=0):
    """(H,) list: 1 / (1 − mean keep gate) of each unit over the valid steps, in steps (inf where the
    mean is 1 or the memory is kept whole): f of an LSTM, as lstm_core.analysis.diagnostics.memory (the same
    float32 mean), z of a GRU, whose h_t keeps z ⊙ h_{t−1}."""
    k = keep_gate(trace.declaration)
    if k is None:
        return [math.inf] * trace.hidden_size
    m = trace.get(k, layer, direction).float().numpy()[trace.mask.numpy()].mean(0)  # (H,)
    return [math.inf if float(x) >= 1 else 1 / (1 - float(x)) for x in m]
