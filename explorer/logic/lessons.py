"""Lessons: short ordered lists of slides, read from TOML files a lecturer writes (issue 13).

    lesson = load_lesson("assets/lessons/memory.toml")     # or parse_lesson(text_or_bytes, name)
    lesson.slides[0].title, .narration, .view, .claims
    text = dump_lesson(lesson)                              # TOML again; parse_lesson(text) == lesson
    lessons = shipped_lessons()                             # {id: Lesson} of assets/lessons, in order

A lesson file (see docs/lessons.md for every key):

    format = "lstm-gate-explorer/lesson"
    version = 1
    id = "memory"                      # a-z, 0-9, "-" and "_": the ?lesson= of its link
    title = "How a memory is kept"
    order = 2                          # where it sits in the Lessons list (optional)

    [[slides]]
    title = "Store"
    narration = "Two to four sentences for students ..."
    view = { page = "gates", task = "recall", variant = "coupled", unit = 2, step = 3 }
    claims = [{ kind = "tracks", latent = "value", unit = 2, min_r = 0.9 }]

The file may come from anyone (an upload): it is parsed as data only, every key is
checked against the schema below, and every problem is a `LessonError` naming the
slide and key, what arrived and what is allowed. Sizes are capped (`MAX_*`) so a
lesson cannot ask the server for more than the Explore pages may. Whether a unit
or layer exists needs the model's sizes: `check_against_models` reads them from
the shipped checkpoints' sidecars (no weights), and `parse_lesson` calls it.

Pure (tomllib, lstm_core): no streamlit here.
"""
import base64
import math
import re
import tomllib
import zlib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from lstm_core import zoo
from lstm_core.cells import ALL_FIELDS as FIELDS
from lstm_core.io.checkpoint import SHIPPED_VARIANTS, checkpoint_paths, read_meta, shipped_checkpoint
from lstm_core.tasks import TASKS

from .roles import declaration_for, rows

FORMAT, VERSION = "lstm-gate-explorer/lesson", 1
LESSONS_DIR = Path(__file__).resolve().parents[2] / "assets" / "lessons"
# What a slide draws (explorer's lesson pages): the gate heatmaps, the cell diagram at a step,
# one unit's gates and latent over time, the memory of each unit (∏ f, time constants, gradient
# flow), a what-if that clamps a gate, two to four models side by side, the text coloured by a unit.
PAGES = ("gates", "step", "units", "memory", "whatif", "compare", "text")
# Pages whose figures are an LSTM's alone for now: the step's walk-through (logic/walkthrough.py) and
# the memory page's ∏ f and ‖∂c_T/∂c_t‖ (lstm_core.analysis.diagnostics). The others read the cell's declaration.
LSTM_ONLY = ("memory",)  # ∂c_T/∂c_t needs the LSTM's probes of c
SOURCES = ("shipped", "random")  # a checkpoint of assets/models, or an untrained model of the same task
HIGHLIGHTS = ("unit", "step")
CLAIM_KINDS = ("tracks", "mean", "at", "time_constant", "metric", "baseline", "what_if")
OPS = (">", "<", ">=", "<=")
MAX_SLIDES, MAX_CLAIMS, MAX_TEXT, MAX_FILE = 40, 12, 2000, 200_000  # per lesson, per slide, chars, bytes
MAX_STEPS, MAX_BATCH, MAX_HIDDEN, MAX_VARIANTS = 2000, 64, 256, 4  # as task_models.MAX_LENGTH, Limits
ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


class LessonError(ValueError):
    """A lesson file that does not follow the schema: says where, what arrived and what is allowed."""


def shipped_variants(task):
    """The cells shipped for `task`, in lstm_core.zoo's order: SHIPPED_VARIANTS (every task has them),
    and any other architecture whose checkpoint <task>-<name> is in assets/models (the GRUs arrive
    one task at a time, before SHIPPED_VARIANTS names them)."""
    return tuple(v for v in zoo.ARCHITECTURES
                 if v in SHIPPED_VARIANTS or checkpoint_paths(shipped_checkpoint(task, v))[1].is_file())


@dataclass(frozen=True)
class Clamp:
    """A what-if: force `gate` of `units` (default: the slide's unit) to `value` over steps
    start..stop (inclusive; stop None: to the end), in every sequence."""

    gate: str = "f"  # a field of the model's cell (lstm_core.cells.ALL_FIELDS)
    value: float = 0.0
    units: tuple = ()  # () means the slide's unit
    start: int = 0
    stop: int | None = None


@dataclass(frozen=True)
class View:
    """Everything a slide shows: which model on which input, and which slice of its trace."""

    page: str = "gates"  # one of PAGES
    source: str = "shipped"  # one of SOURCES
    task: str = "recall"  # a key of lstm_core.tasks.TASKS: the model's task and the input's
    variant: str = "coupled"  # shipped: one of shipped_variants(task); random: of lstm_core.zoo.ARCHITECTURES
    variants: tuple = ()  # page "compare": 2 to 4 variants side by side (the columns)
    hidden: int = 8  # H of a random model (a shipped model has its own)
    model_seed: int = 0  # initialisation of a random model
    steps: int | None = None  # T of the task sample; None: the task's own length
    batch: int = 4  # B, sequences in the sample
    input_seed: int = 0  # of the sample (split "eval": never seen in training)
    sequence: int = 0  # b, the sequence shown
    layer: int = 0  # l
    unit: int | None = None  # the unit the slide is about; None: the one the data pick
    step: int | None = None  # the step the slide is about (page "step": the diagram's step)
    panels: tuple = ("i", "f", "g", "o", "c", "h")  # heatmap panels, top to bottom
    window: tuple | None = None  # (first, last) step shown; None: all
    highlight: tuple = ("unit",)  # of HIGHLIGHTS: frame the unit's row, mark the step's column
    latent: str = ""  # a latent of the task to plot beside the unit ("": the task's caption latent)
    clamp: Clamp | None = None  # page "whatif"
    speed: float = 0.8  # seconds per step when the step animation plays


@dataclass(frozen=True)
class Claim:
    """Something a slide's narration says about its trace, checked by `explorer.logic.claims`.

    kinds: tracks (unit's `field` correlates with `latent`, |r| >= min_r, and is the best unit
    of that field unless best = false); mean (a unit's field averaged over steps where `where`
    holds); at (its value at one step of the shown sequence); time_constant (1 / (1 - mean f),
    in steps); metric (the model's task metric); baseline (the task's trivial predictor's); what_if (the metric with the slide's clamp).
    A number is compared either with `op` and `value` or as `approx` ± `tol`; `quote`, if given,
    must appear in the narration: the words the claim backs.
    """

    kind: str  # one of CLAIM_KINDS
    field: str = "c"  # a field of the model's cell: i, f, g, o, c, h of an LSTM, r, z, n, h of a GRU
    unit: int | None = None  # None: the slide's unit
    latent: str = ""  # tracks: the latent; mean: see `where`
    where: str = "all"  # mean: "all", a latent ("holding": where it is >= 0.5) or "not_<latent>"
    step: int | None = None  # at: the step (None: the slide's)
    min_r: float = 0.9  # tracks
    best: bool = True  # tracks: also the best |r| of every unit in `field`
    op: str = ""  # one of OPS, with value
    value: float | None = None
    approx: float | None = None  # with tol
    tol: float = 0.02
    variant: str = ""  # page compare: the column's variant ("": the slide's model)
    quote: str = ""  # text of the narration this claim backs


@dataclass(frozen=True)
class Slide:
    title: str
    narration: str
    view: View = View()
    claims: tuple = ()  # of Claim


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    slides: tuple  # of Slide, at least one
    summary: str = ""  # one line for the Lessons list
    order: int = 100  # position in the Lessons list, then id

    def slide(self, n):
        """Slide n, counted from 1 as in the URL (?slide=n), clamped into 1..len(slides)."""
        return self.slides[min(max(int(n), 1), len(self.slides)) - 1]


# --- reading: TOML -> checked dataclasses ----------------------------------------------------------

def _where(at, key):
    return f"{at}: '{key}'" if at else f"'{key}'"


def _check_keys(table, cls, at, extra=()):
    if not isinstance(table, dict):
        raise LessonError(f"{at}: expected a table of keys, got {type(table).__name__}")
    known = [f.name for f in fields(cls)] + list(extra)
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise LessonError(f"{at}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(known)}")


def _str(v, at, key, choices=None, limit=MAX_TEXT, empty=True):
    if not isinstance(v, str):
        raise LessonError(f"{_where(at, key)}: expected a string, got {type(v).__name__} {v!r:.60}")
    if len(v) > limit:
        raise LessonError(f"{_where(at, key)}: {len(v):,} characters, at most {limit:,} allowed")
    if not empty and not v.strip():
        raise LessonError(f"{_where(at, key)}: is empty; write something for the students")
    if choices is not None and v not in choices:
        raise LessonError(f"{_where(at, key)}: {v!r} is not allowed; expected one of {', '.join(choices)}")
    return v


def _int(v, at, key, low, high, none=False):
    if v is None and none:
        return None
    if not isinstance(v, int) or isinstance(v, bool):
        raise LessonError(f"{_where(at, key)}: expected a whole number, got {type(v).__name__} {v!r:.60}")
    if not low <= v <= high:
        raise LessonError(f"{_where(at, key)}: {v} is out of range; expected {low}..{high}")
    return v


def _float(v, at, key, low=-1e6, high=1e6, none=False):
    if v is None and none:
        return None
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
        raise LessonError(f"{_where(at, key)}: expected a finite number, got {type(v).__name__} {v!r:.60}")
    if not low <= v <= high:
        raise LessonError(f"{_where(at, key)}: {v} is out of range; expected {low:g}..{high:g}")
    return float(v)


def _list(v, at, key, item, low=0, high=6):
    if not isinstance(v, list):
        raise LessonError(f"{_where(at, key)}: expected a list, got {type(v).__name__} {v!r:.60}")
    if not low <= len(v) <= high:
        raise LessonError(f"{_where(at, key)}: {len(v)} item(s); expected {low} to {high}")
    return tuple(item(x) for x in v)


def _clamp(t, at):
    _check_keys(t, Clamp, at)
    c = Clamp(gate=_str(t.get("gate", "f"), at, "gate", FIELDS), value=_float(t.get("value", 0.0), at, "value"),
              units=_list(t.get("units", []), at, "units", lambda u: _int(u, at, "units", 0, MAX_HIDDEN - 1), 0, 64),
              start=_int(t.get("start", 0), at, "start", 0, MAX_STEPS - 1),
              stop=_int(t.get("stop"), at, "stop", 0, MAX_STEPS - 1, none=True))
    if c.stop is not None and c.stop < c.start:
        raise LessonError(f"{at}: stop {c.stop} is before start {c.start}")
    return c


def _view(t, at):
    _check_keys(t, View, at)
    d = View()
    g = lambda k: t[k] if k in t else (list(getattr(d, k)) if isinstance(getattr(d, k), tuple)  # noqa: E731
                                       else getattr(d, k))
    source = _str(g("source"), at, "source", SOURCES)
    task = _str(g("task"), at, "task", tuple(TASKS))
    allowed = shipped_variants(task) if source == "shipped" else zoo.ARCHITECTURES
    v = View(
        page=_str(g("page"), at, "page", PAGES), source=source, task=task,
        variant=_str(g("variant"), at, "variant", allowed),
        variants=_list(g("variants"), at, "variants", lambda s: _str(s, at, "variants", allowed), 0, MAX_VARIANTS),
        hidden=_int(g("hidden"), at, "hidden", 1, MAX_HIDDEN), model_seed=_int(g("model_seed"), at, "model_seed", 0, 2**31 - 1),
        steps=_int(g("steps"), at, "steps", 1, MAX_STEPS, none=True), batch=_int(g("batch"), at, "batch", 1, MAX_BATCH),
        input_seed=_int(g("input_seed"), at, "input_seed", 0, 2**31 - 1),
        sequence=_int(g("sequence"), at, "sequence", 0, MAX_BATCH - 1), layer=_int(g("layer"), at, "layer", 0, 7),
        unit=_int(g("unit"), at, "unit", 0, MAX_HIDDEN - 1, none=True),
        step=_int(g("step"), at, "step", 0, MAX_STEPS - 1, none=True),
        panels=_list(g("panels"), at, "panels", lambda s: _str(s, at, "panels", FIELDS), 1, 6),
        window=None if g("window") is None else _list(g("window"), at, "window",
                                                      lambda s: _int(s, at, "window", 0, MAX_STEPS - 1), 2, 2),
        highlight=_list(g("highlight"), at, "highlight", lambda s: _str(s, at, "highlight", HIGHLIGHTS), 0, 2),
        latent=_str(g("latent"), at, "latent", limit=40),
        clamp=None if t.get("clamp") is None else _clamp(t["clamp"], f"{at}.clamp"),
        speed=_float(g("speed"), at, "speed", 0.2, 5.0))
    T = v.steps or TASKS[task]().config()["length"]
    if v.sequence >= v.batch:
        raise LessonError(f"{at}: sequence {v.sequence} does not exist in a batch of {v.batch}; expected 0..{v.batch - 1}")
    for key, s in (("step", v.step), ("window", v.window and v.window[1]), ("clamp.stop", v.clamp and v.clamp.stop)):
        if s is not None and s >= T:
            raise LessonError(f"{at}: {key} {s} is past the sample's last step {T - 1} (steps = {T})")
    if v.window is not None and v.window[0] > v.window[1]:
        raise LessonError(f"{at}: window {list(v.window)} starts after it ends")
    if len(set(v.panels)) != len(v.panels):
        raise LessonError(f"{at}: panels {list(v.panels)} name a field twice")
    if v.latent and v.latent not in TASKS[task].latent_names + _CHAR_LATENTS.get(task, ()):
        raise LessonError(f"{at}: latent {v.latent!r} is not one of task {task}'s: "
                          f"{', '.join(TASKS[task].latent_names + _CHAR_LATENTS.get(task, ()))}")
    if v.page == "compare" and not 2 <= len(v.variants) <= MAX_VARIANTS:
        raise LessonError(f"{at}: page 'compare' needs 'variants', 2 to {MAX_VARIANTS} of {', '.join(allowed)}; "
                          f"got {list(v.variants)}")
    if v.page == "whatif" and v.clamp is None:
        raise LessonError(f"{at}: page 'whatif' needs a 'clamp' table, e.g. clamp = {{ gate = \"f\", value = 0.5 }}")
    if v.page == "text" and task != "charlm":
        raise LessonError(f"{at}: page 'text' shows characters: it needs task 'charlm', got {task!r}")
    return v


_CHAR_LATENTS = {"charlm": ("in_string", "in_comment", "indent", "line_position", "bracket_depth")}


def _claim(t, at, view):
    _check_keys(t, Claim, at)
    if "kind" not in t:
        raise LessonError(f"{at}: missing 'kind'; expected one of {', '.join(CLAIM_KINDS)}")
    d = Claim(kind="tracks")
    g = lambda k: t.get(k, getattr(d, k))  # noqa: E731
    latents = TASKS[view.task].latent_names + _CHAR_LATENTS.get(view.task, ())
    c = Claim(kind=_str(t["kind"], at, "kind", CLAIM_KINDS), field=_str(g("field"), at, "field", FIELDS),
              unit=_int(g("unit"), at, "unit", 0, MAX_HIDDEN - 1, none=True),
              latent=_str(g("latent"), at, "latent", ("",) + latents),
              where=_str(g("where"), at, "where", ("all",) + latents + tuple(f"not_{k}" for k in latents)),
              step=_int(g("step"), at, "step", 0, MAX_STEPS - 1, none=True),
              min_r=_float(g("min_r"), at, "min_r", 0.0, 1.0), best=g("best"),
              op=_str(g("op"), at, "op", ("",) + OPS), value=_float(g("value"), at, "value", none=True),
              approx=_float(g("approx"), at, "approx", none=True), tol=_float(g("tol"), at, "tol", 0.0, 1e6),
              variant=_str(g("variant"), at, "variant", ("",) + tuple(view.variants)),
              quote=_str(g("quote"), at, "quote", limit=200))
    if not isinstance(c.best, bool):
        raise LessonError(f"{at}: 'best': expected true or false, got {c.best!r}")
    if view.variants and not c.variant:
        raise LessonError(f"{at}: on a slide that compares {', '.join(view.variants)}, a claim names its column: "
                          f"add variant = one of those")
    if c.kind == "tracks" and not c.latent:
        raise LessonError(f"{at}: a 'tracks' claim needs 'latent', one of {', '.join(latents)}")
    if c.kind != "tracks" and (bool(c.op) + (c.approx is not None)) != 1:
        raise LessonError(f"{at}: a {c.kind!r} claim needs either 'op' and 'value' or 'approx' (and 'tol')")
    if c.op and c.value is None:
        raise LessonError(f"{at}: 'op' {c.op!r} needs a 'value' to compare with")
    if c.kind == "what_if" and view.clamp is None:
        raise LessonError(f"{at}: a 'what_if' claim needs the slide's view to have a 'clamp'")
    if c.kind == "at" and c.step is None and view.step is None:
        raise LessonError(f"{at}: an 'at' claim needs a 'step' (or the view's 'step')")
    return c


def _slide(t, at):
    _check_keys(t, Slide, at)
    for key in ("title", "narration"):
        if key not in t:
            raise LessonError(f"{at}: missing '{key}'")
    view = _view(t.get("view", {}), f"{at}.view")
    claims = t.get("claims", [])
    if not isinstance(claims, list) or len(claims) > MAX_CLAIMS:
        raise LessonError(f"{at}: 'claims': expected a list of at most {MAX_CLAIMS} tables")
    s = Slide(_str(t["title"], at, "title", limit=120, empty=False).strip(),
              _str(t["narration"], at, "narration", empty=False).strip(), view,
              tuple(_claim(c, f"{at}.claims[{k}]", view) for k, c in enumerate(claims)))
    for k, c in enumerate(s.claims):
        if c.quote and c.quote not in s.narration:
            raise LessonError(f"{at}.claims[{k}]: quote {c.quote!r} does not appear in the narration")
    return s


def _lesson(doc, name):
    _check_keys(doc, Lesson, name, extra=("format", "version"))
    if doc.get("format", FORMAT) != FORMAT or doc.get("version", VERSION) != VERSION:
        raise LessonError(f"{name}: format {doc.get('format')!r} version {doc.get('version')!r}; "
                          f"expected {FORMAT!r} version {VERSION}")
    for key in ("id", "title", "slides"):
        if key not in doc:
            raise LessonError(f"{name}: missing '{key}'")
    lid = _str(doc["id"], name, "id", limit=40)
    if not ID.fullmatch(lid):
        raise LessonError(f"{name}: 'id' {lid!r}: expected 1-40 of a-z, 0-9, '-' and '_', starting with a "
                          f"letter or digit (it goes into the link ?lesson=...)")
    slides = doc["slides"]
    if not isinstance(slides, list) or not 1 <= len(slides) <= MAX_SLIDES:
        raise LessonError(f"{name}: 'slides': expected 1 to {MAX_SLIDES} [[slides]] tables, got "
                          f"{len(slides) if isinstance(slides, list) else type(slides).__name__}")
    return Lesson(lid, _str(doc["title"], name, "title", limit=120, empty=False).strip(),
                  tuple(_slide(s, f"{name}: slide {k + 1}") for k, s in enumerate(slides)),
                  _str(doc.get("summary", ""), name, "summary", limit=300).strip(),
                  _int(doc.get("order", 100), name, "order", 0, 10_000))


def parse_lesson(data, name="lesson", *, models=True):
    """A `Lesson` from TOML text or bytes (an uploaded file); LessonError says what is wrong.

    name: how messages call the file. models: also check units and layers against the shipped
    models' sizes (`check_against_models`).
    """
    if isinstance(data, (bytes, bytearray)):
        if len(data) > MAX_FILE:
            raise LessonError(f"{name}: {len(data):,} bytes; a lesson file may have at most {MAX_FILE:,}")
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise LessonError(f"{name}: not UTF-8 text (byte {e.start}); save the lesson as UTF-8 TOML") from None
    if not isinstance(data, str):
        raise LessonError(f"{name}: expected TOML text, got {type(data).__name__}")
    if len(data) > MAX_FILE:
        raise LessonError(f"{name}: {len(data):,} characters; a lesson file may have at most {MAX_FILE:,}")
    try:
        doc = tomllib.loads(data)
    except tomllib.TOMLDecodeError as e:
        raise LessonError(f"{name}: not valid TOML ({e})") from None
    lesson = _lesson(doc, name)
    if models:
        check_against_models(lesson, name)
    return lesson


def load_lesson(path):
    """The `Lesson` in a TOML file."""
    path = Path(path)
    return parse_lesson(path.read_bytes(), path.name)


def shipped_lessons(directory=LESSONS_DIR):
    """{id: Lesson} of every *.toml in directory, by `order` then id; a file whose id differs
    from its name is refused (the link ?lesson=<id> must find its file)."""
    found = []
    for path in sorted(Path(directory).glob("*.toml")):
        lesson = load_lesson(path)
        if lesson.id != path.stem:
            raise LessonError(f"{path.name}: id {lesson.id!r} differs from the file name {path.stem!r}")
        found.append(lesson)
    return {x.id: x for x in sorted(found, key=lambda x: (x.order, x.id))}


def model_sizes(view, variant=None):
    """(H, L) of the model a view names: the checkpoint's sidecar (no weights read), or the view's."""
    if view.source == "random":
        return view.hidden, 1
    meta = read_meta(shipped_checkpoint(view.task, variant or view.variant))
    return meta["model"]["hidden_size"], meta["model"]["num_layers"]


def _page_draws(page, task, variant, where=""):
    """LessonError where `page` cannot draw the cell of `variant` (LSTM_ONLY)."""
    decl = declaration_for(variant)
    if page in LSTM_ONLY and decl.family != "lstm":
        raise LessonError(f"{where}page {page!r} draws an LSTM's cell for now, and {task}-{variant} is a "
                          f"{decl.title}; pages for every cell: {', '.join(p for p in PAGES if p not in LSTM_ONLY)}")


def check_against_models(lesson, name="lesson"):
    """LessonError where a slide names a unit, layer or field its model does not have (a GRU has
    r, z, n, h and no c: its declaration says so)."""
    for k, s in enumerate(lesson.slides):
        v = s.view
        for variant in v.variants or (v.variant,):
            try:
                H, L = model_sizes(v, variant)
            except (OSError, ValueError) as e:
                raise LessonError(f"{name}: slide {k + 1}: its model {v.task}-{variant} cannot be read: {e}") from None
            units = [] if v.variants else [("unit", v.unit)] + [("clamp.units", u) for u in
                                                              (v.clamp.units if v.clamp else ())]
            units += [(f"claims[{j}].unit", c.unit) for j, c in enumerate(s.claims)
                      if c.variant == variant or (not c.variant and not v.variants)]
            for key, u in units:
                if u is not None and u >= H:
                    raise LessonError(f"{name}: slide {k + 1}: {key} {u} does not exist in {v.task}-{variant}, "
                                      f"which has H = {H} units (0..{H - 1})")
            fields = declaration_for(variant).names
            _page_draws(v.page, v.task, variant, f"{name}: slide {k + 1}: ")
            asked = [(f"claims[{j}].field", c.field) for j, c in enumerate(s.claims)
                     if c.kind in ("tracks", "mean", "at") and (c.variant == variant or not v.variants)]
            if v.page == "gates":  # the one page besides compare that draws panels (its rows: below)
                asked += [("panels", p) for p in v.panels]
            if v.clamp and not v.variants:
                asked.append(("clamp.gate", v.clamp.gate))
            for key, field in asked:
                if field not in fields:
                    raise LessonError(f"{name}: slide {k + 1}: {key} {field!r} is not a field of {v.task}-{variant}, "
                                      f"whose cell records {', '.join(fields)}")
            if v.layer >= L:
                raise LessonError(f"{name}: slide {k + 1}: layer {v.layer} does not exist; {v.task}-{variant} "
                                  f"has {L} layer(s)")
        if v.variants:
            grid = rows(declaration_for(x) for x in v.variants)
            for p in v.panels:
                if not any(r.has(p) for r in grid):
                    raise LessonError(f"{name}: slide {k + 1}: panels: no column of {', '.join(v.variants)} records "
                                      f"{p!r}; their rows are {', '.join(r.key for r in grid)}")


# --- writing: a lesson back to TOML --------------------------------------------------------------------

def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        out = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        out = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", out)
        return f'"{out}"'
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _changed(obj):
    """The fields of a dataclass that differ from its defaults, as plain values (None left out)."""
    default = type(obj)() if not isinstance(obj, Claim) else Claim(kind=obj.kind)
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if v is None or v == getattr(default, f.name):
            continue
        out[f.name] = {k: x for k, x in _changed(v).items()} if isinstance(v, Clamp) else v
    return out


def dump_lesson(lesson):
    """The lesson as TOML text that `parse_lesson` reads back to an equal Lesson."""
    lines = [f"format = {_toml_value(FORMAT)}", f"version = {VERSION}", f"id = {_toml_value(lesson.id)}",
             f"title = {_toml_value(lesson.title)}"]
    if lesson.summary:
        lines.append(f"summary = {_toml_value(lesson.summary)}")
    lines.append(f"order = {lesson.order}")
    for s in lesson.slides:
        lines += ["", "[[slides]]", f"title = {_toml_value(s.title)}", f"narration = {_toml_value(s.narration)}",
                  f"view = {_toml_value(_changed(s.view))}"]
        if s.claims:
            lines.append("claims = [")
            lines += [f"  {_toml_value({'kind': c.kind, **_changed(c)})}," for c in s.claims]
            lines.append("]")
    return "\n".join(lines) + "\n"


def new_lesson(title="My lesson", lid="my-lesson"):
    """An empty lesson being written (no slides yet: `add_slide` appends them)."""
    return Lesson(lid, title, ())


def add_slide(lesson, title, narration, view):
    """The lesson with one more slide showing `view` (claims are written by hand in the file)."""
    if len(lesson.slides) >= MAX_SLIDES:
        raise LessonError(f"a lesson may have at most {MAX_SLIDES} slides")
    return replace(lesson, slides=lesson.slides + (Slide(title.strip() or f"Slide {len(lesson.slides) + 1}",
                                                         narration.strip() or "(narration to write)", view),))


def view_from_dict(d, at="view"):
    """A checked View from plain values (a saved view, a link's query): LessonError if one is bad."""
    return _view(dict(d), at)




# --- an Explore page's view as a slide ------------------------------------------------------------------

EXPLORE_PAGES = {"gates": "gates", "": "gates", "units": "units", "finder": "units", "step": "step", "text": "text"}


def view_from_explorer(model, inputs, view, page="gates", unit=None, step=None):
    """The View of what an Explore page shows, for "Save this view as a slide"; LessonError says
    why a view cannot be one. model, inputs, view: the sidebar's ModelSettings, InputSettings and
    ViewSettings; page: the page's url path; unit, step: the page's own (the step page's)."""
    if model.source != "shipped":
        raise LessonError("a slide shows a shipped model on a sample of its task: choose Model > Weights: shipped")
    task, _, variant = model.checkpoint.partition("-")
    if inputs.kind != "task" or inputs.task != task:
        raise LessonError(f"a slide shows the model on a sample of its own task: choose Input > task ({task})")
    lo, hi = view.window
    T = inputs.steps
    window = None if lo == 0 and (hi is None or hi >= T - 1) else [lo, min(hi if hi is not None else T - 1, T - 1)]
    page = EXPLORE_PAGES.get(page, "gates")
    if page == "text" and task != "charlm":
        page = "gates"
    _page_draws(page, task, variant)
    d = dict(page=page, task=task, variant=variant, steps=T, batch=inputs.batch, input_seed=inputs.seed,
             sequence=view.sequence, layer=view.layer, unit=unit, step=step, panels=list(view.gates or ("c",)),
             window=window, highlight=["unit", "step"] if step is not None and page == "gates" else ["unit"])
    return view_from_dict({k: v for k, v in d.items() if v is not None})


# --- a lesson in a link: ?lesson_data=<compressed TOML> ------------------------------------------------

def encode_link(lesson):
    """The lesson as a URL-safe string (zlib-compressed TOML, base64url) for ?lesson_data=."""
    return base64.urlsafe_b64encode(zlib.compress(dump_lesson(lesson).encode("utf-8"), 9)).decode("ascii")


def decode_link(data, name="the link"):
    """The Lesson of an encode_link string; LessonError if it is not one (or would inflate past MAX_FILE)."""
    if not isinstance(data, str) or len(data) > MAX_FILE:
        raise LessonError(f"{name}: lesson_data is not a lesson link (expected at most {MAX_FILE:,} characters)")
    try:
        raw = base64.urlsafe_b64decode(data.encode("ascii") + b"=" * (-len(data) % 4))
        z = zlib.decompressobj()
        text = z.decompress(raw, MAX_FILE + 1)  # a zip bomb stops here
    except (ValueError, zlib.error, UnicodeEncodeError) as e:
        raise LessonError(f"{name}: lesson_data is damaged or not a lesson link ({e})") from None
    if len(text) > MAX_FILE or z.unconsumed_tail:
        raise LessonError(f"{name}: lesson_data inflates past {MAX_FILE:,} bytes; a lesson is smaller")
    if not z.eof:
        raise LessonError(f"{name}: lesson_data is damaged or not a lesson link (it ends too early)")
    return parse_lesson(text, name)


__all__ = ["Lesson", "Slide", "View", "Claim", "Clamp", "LessonError", "parse_lesson", "load_lesson",
           "shipped_lessons", "dump_lesson", "new_lesson", "add_slide", "view_from_dict", "model_sizes",
           "check_against_models", "view_from_explorer", "replace", "encode_link", "decode_link", "PAGES", "CLAIM_KINDS", "LESSONS_DIR"]
