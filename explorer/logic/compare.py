"""Two to four models side by side on the same input (issue 13, the Compare page).

    spec = parse_query({"task": "recall", "variants": "standard,coupled,peephole"})   # a CompareSpec
    cols = columns(spec)                     # one Column per model: subject, best unit and r, metric, horizon
    grid = grid_rows(cols)                   # the panel rows: each column's field by role (f beside z)
    pairs = align_units(cols[0], cols[1])    # unit of a -> unit of b whose memory moves most alike
    d = difference(cols[0], cols[1], "f")    # (H, T) f of a minus f of the aligned units of b, sequence b
    d = difference(lstm, gru, "f", "z")      # a row's fields: f of the LSTM minus z of the GRU

Either shipped models of one task (every column a checkpoint of assets/models) or random
models of different cells with the same seed and sizes (source "random"), all run on the
same task sample. A column may be an LSTM variant or another cell of lstm_core.zoo (the
GRU): each draws its own fields, read from its declaration (explorer.logic.roles).
Pure (torch, numpy, scipy, lstm_core): no streamlit here.
"""
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from lstm_core import zoo
from lstm_core.tasks import TASKS

from .claims import Subject, picked, subject
from .lessons import MAX_BATCH, MAX_HIDDEN, MAX_STEPS, MAX_VARIANTS, SOURCES, View, shipped_variants
from .roles import rows, time_constants

DEFAULT_VARIANTS = ("standard", "coupled", "peephole")


class CompareError(ValueError):
    """A comparison the page cannot draw: says what was asked and what is allowed."""


@dataclass(frozen=True)
class CompareSpec:
    """What the Compare page shows; every field is in its URL (see `to_query`)."""

    task: str = "recall"  # a key of lstm_core.tasks.TASKS
    variants: tuple = DEFAULT_VARIANTS  # 2 to 4 columns
    source: str = "shipped"  # "shipped" (checkpoints of the task) or "random" (same seed and sizes)
    hidden: int = 8  # H of random models
    model_seed: int = 0  # of random models
    steps: int | None = None  # T of the sample; None: the task's length
    batch: int = 4  # B
    input_seed: int = 0

    def view(self, **changes):
        """The lessons.View of one column's model on the shared input."""
        return View(page="compare", source=self.source, task=self.task, variant=self.variants[0],
                    variants=self.variants, hidden=self.hidden, model_seed=self.model_seed, steps=self.steps,
                    batch=self.batch, input_seed=self.input_seed, **changes)


def _int(q, key, default, low, high):
    raw = q.get(key)
    if raw in (None, ""):
        return default
    try:
        v = int(str(raw))
    except ValueError:
        raise CompareError(f"{key}: expected a whole number, got {raw!r}") from None
    if not low <= v <= high:
        raise CompareError(f"{key}: {v} is out of range; expected {low}..{high}")
    return v


# The link's names for the spec's fields: task and variants as the issue writes them; the others
# differ from the sidebar's own URL names (source, hidden, steps, batch, ...), which Streamlit
# keeps bound to the sidebar's widgets on every page.
QUERY = {"source": "models", "hidden": "H", "model_seed": "model_seed", "steps": "T", "batch": "B",
         "input_seed": "input_seed"}


# Every name of the URL a CompareSpec writes: to_query leaves out the defaults (and what a shipped
# model does not use), so the page removes these names first and puts back only the spec's.
NAMES = ("task", "variants", *QUERY.values())


def available(task, source):
    """The cells a column may be: those shipped for the task, or for random models every
    architecture of lstm_core.zoo (the LSTM variants and the GRU)."""
    return shipped_variants(task) if source == "shipped" else zoo.ARCHITECTURES


def parse_query(q, fewest=2):
    """A CompareSpec from the page's URL query (a dict of strings); CompareError if a value is bad.

        task=recall&variants=standard,coupled,peephole[&models=random&H=8&model_seed=0][&T=40&B=4&input_seed=0]

    fewest: the fewest variants accepted; the page reads its own link with 0, as a page still being
    set up (one variant chosen) has a link too. H and model_seed of shipped models are ignored.
    """
    task = q.get("task") or "recall"
    if task not in TASKS:
        raise CompareError(f"task: {task!r} is not a task; expected one of {', '.join(TASKS)}")
    source = q.get("models") or "shipped"
    if source not in SOURCES:
        raise CompareError(f"models: {source!r}; expected one of {', '.join(SOURCES)}")
    allowed = available(task, source)
    asked = ",".join(DEFAULT_VARIANTS) if q.get("variants") is None else q["variants"]  # "": none chosen
    names = tuple(v.strip() for v in asked.split(",") if v.strip())
    bad = [v for v in names if v not in allowed]
    if bad:
        raise CompareError(f"variants: {', '.join(map(repr, bad))} not available for {source} models; expected "
                           f"some of {', '.join(allowed)}" + (" (models=random offers every variant)"
                                                               if source == "shipped" else ""))
    if not fewest <= len(names) <= MAX_VARIANTS or len(set(names)) != len(names):
        raise CompareError(f"variants: expected 2 to {MAX_VARIANTS} different names separated by commas, got "
                           f"{', '.join(names) or 'none'}")
    d = CompareSpec()
    hidden, seed = ((_int(q, "H", d.hidden, 1, MAX_HIDDEN), _int(q, "model_seed", d.model_seed, 0, 2**31 - 1))
                    if source == "random" else (d.hidden, d.model_seed))  # a shipped model has its own
    return CompareSpec(task, names, source, hidden, seed, _int(q, "T", None, 1, MAX_STEPS),
                       _int(q, "B", 4, 1, MAX_BATCH), _int(q, "input_seed", 0, 0, 2**31 - 1))


def to_query(spec):
    """The URL query of a CompareSpec, defaults left out, and H and model_seed of shipped models
    (issue 21, item 3: a link kept H= after the page went back to shipped): parse_query(to_query(s)) == s."""
    d, out = CompareSpec(), {"task": spec.task, "variants": ",".join(spec.variants)}
    unused = ("hidden", "model_seed") if spec.source == "shipped" else ()
    for key, name in QUERY.items():
        if key not in unused and getattr(spec, key) != getattr(d, key) and getattr(spec, key) is not None:
            out[name] = str(getattr(spec, key))
    return out


@dataclass
class Column:
    """One model of the comparison and what the page says about it."""

    variant: str
    subject: Subject
    unit: int  # the unit whose task.caption_field tracks the task's latent best
    r: float  # its Pearson r with that latent
    field: str  # where it was looked for (c for most tasks, i for adding; a GRU's memory h)
    latent: str
    metric: float
    baseline: float
    time_constant: float  # 1 / (1 - mean keep gate) of that unit, in steps (roles.time_constants: f, z)
    longest: tuple  # (unit, time constant) of the unit with the longest memory

    @property
    def hidden_size(self):
        return self.subject.trace.hidden_size

    @property
    def declaration(self):
        """The column's cell as lstm_core.cells declares it: its fields, memory, equations."""
        return self.subject.trace.declaration


def column(spec, variant, model=None, meta=None):
    """The Column of one variant (a model already loaded may be passed with its meta)."""
    return column_of(subject(spec.view(), variant, model, meta))


def column_of(s):
    """The Column of a claims.Subject already run on the comparison's sample (a cache's)."""
    p = picked(s)
    tau = time_constants(s.trace)  # layer 0, direction 0
    top = int(np.argmax(tau))
    return Column(s.variant, s, int(p["unit"]), float(p["r"]), p["field"], p["latent"], s.metric, s.baseline,
                  float(tau[p["unit"]]), (top, float(tau[top])))


def columns(spec):
    """One Column per variant of the spec, in order."""
    return [column(spec, v) for v in spec.variants]


def grid_rows(cols):
    """The Compare grid's rows for these columns: roles.rows of their declarations."""
    return rows(c.declaration for c in cols)


def align_units(a, b, sequence=None):
    """For columns of equal H: pairs[k] = the unit of b matched to unit k of a, the one-to-one
    matching that maximises the summed |r| between their memories (c of an LSTM, h of a GRU) over
    every valid step (Hungarian algorithm); None where the sizes differ, for there is no
    unit-to-unit alignment."""
    if a.hidden_size != b.hidden_size:
        return None
    ca = a.subject.trace.get(a.declaration.memory)  # (T, B, H), layer 0
    cb = b.subject.trace.get(b.declaration.memory)
    if sequence is not None:
        ca, cb = ca[:, sequence:sequence + 1], cb[:, sequence:sequence + 1]
    keep = a.subject.trace.mask if sequence is None else a.subject.trace.mask[:, sequence:sequence + 1]
    x, y = ca[keep].double().numpy(), cb[keep].double().numpy()  # (N, H)
    x, y = x - x.mean(0), y - y.mean(0)
    denom = np.sqrt((x ** 2).sum(0)[:, None] * (y ** 2).sum(0)[None, :])  # (H, H)
    r = np.where(denom > 0, x.T @ y / np.where(denom > 0, denom, 1.0), 0.0)  # (H, H)
    rows, cols = linear_sum_assignment(-np.abs(r))
    pairs = np.empty(a.hidden_size, dtype=np.int64)
    pairs[rows] = cols
    return pairs


def difference(a, b, field="f", field_b=None, sequence=0, pairs=None):
    """(H, T) `field` of a minus `field_b` (default: the same) of b's aligned units (align_units),
    for one sequence; NaN on padding. None where the sizes differ."""
    pairs = align_units(a, b) if pairs is None else pairs
    if pairs is None:
        return None
    za = a.subject.trace.get(field)[:, sequence].float().numpy()  # (T, H)
    zb = b.subject.trace.get(field_b or field)[:, sequence].float().numpy()[:, pairs]  # (T, H), in a's units
    return (za - zb).T  # (H, T)


def pick_of(point):
    """(column, step, unit) of a selected point of the Compare page's figures (their pick markers'
    customdata, a list, or an object {"0": .., "1": ..} where the browser sent a typed array), or
    None for another point or a malformed one: it comes from the browser."""
    data = point.get("customdata") if isinstance(point, dict) else None
    if isinstance(data, dict):
        data = [data.get(str(k)) for k in range(3)]
    try:
        col, step, unit = (int(v) for v in list(data)[:3])
    except (TypeError, ValueError):
        return None
    return (col, step, unit) if min(col, step, unit) >= 0 else None


def summary(col):
    """One line per column for the page: the unit, its r, the metric against the baseline, the horizon."""
    tau = "∞" if not np.isfinite(col.time_constant) else f"{col.time_constant:,.0f}"
    name = col.subject.task.metric_name
    return (f"unit {col.unit} tracks {col.latent} (r = {col.r:+.2f}, in {col.field}); {name} "
            f"{col.metric:.3g} (baseline {col.baseline:.3g}); memory: time constant {tau} steps "
            f"(longest: unit {col.longest[0]}, {col.longest[1]:,.0f})")
