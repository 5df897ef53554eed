"""What a slide shows, computed, and its narration's claims checked against it (issue 13).

    s = subject(view)                       # the model, its task, the sample, the trace, the readout
    unit = slide_unit(view, s)              # the slide's unit, or the one the data pick
    results = check_claims(slide)           # one ClaimResult per claim: ok, measured, a sentence
    text, values = checked_caption(task, trace, sample)   # a task's caption, shown only where it holds

A claim is checked on the very trace the slide draws (same model, task sample, seed), so
a lesson that says "unit 2's forget gate stays at 0.99 while it holds" fails its test, and
shows a cross in the app, the day a retrained checkpoint stops doing that.

Pure (torch, lstm_core): no streamlit here. Shapes: T steps, B sequences, H units.
"""
import math
import string
from dataclasses import dataclass

import torch

import lstm_core
from lstm_core.io.checkpoint import load_checkpoint, shipped_checkpoint
from lstm_core.tasks import TaskModel, get_task
from lstm_core.analysis.units import caption_values, rank_units, unit_mean

from .lessons import View
from .roles import keep_gate, time_constants


@dataclass
class Subject:
    """One model run on one task sample: everything a slide or a compare column reads."""

    view: View
    variant: str
    model: TaskModel  # in eval mode; model.lstm is the lstm_core.LSTM
    task: object  # an lstm_core.tasks.Task with the sample's settings
    sample: object  # lstm_core.tasks.Sample, split "eval"
    trace: lstm_core.Trace  # detached, CPU
    pred: torch.Tensor  # (T, B, O): the readout
    meta: dict  # the checkpoint's sidecar ({} for a random model)

    @property
    def metric(self):
        return self.task.metric(self.pred, self.sample)

    @property
    def baseline(self):
        return self.task.baseline(self.sample)

    @property
    def name(self):
        return f"{self.view.task}-{self.variant}" + (" (random)" if self.view.source == "random" else "")


def load_model(view, variant=None):
    """(TaskModel, meta) of the model a view names: a shipped checkpoint, or a random one of its task."""
    variant = variant or view.variant
    if view.source == "shipped":
        return load_checkpoint(shipped_checkpoint(view.task, variant))
    task = get_task(view.task)
    model = TaskModel.for_task(task, view.hidden, variant=variant, seed=view.model_seed)
    return model.eval(), {}


def make_task(view, meta):
    """The task of the view with the settings the model was trained on and the view's length."""
    config = dict(meta.get("task_config") or {})
    if view.steps is not None:
        config["length"] = view.steps
    return get_task(view.task, config)


def subject_key(view, variant=None):
    """What decides a view's Subject (not the page, unit, step...): a cache key shared by slides."""
    v = view
    return (v.source, v.task, variant or v.variant, v.hidden if v.source == "random" else 0,
            v.model_seed if v.source == "random" else 0, v.steps, v.batch, v.input_seed)


def subject(view, variant=None, model=None, meta=None):
    """The `Subject` of a view (for page "compare", of one of its variants). A model already
    loaded (a cache's) may be passed with its meta."""
    variant = variant or view.variant
    if model is None:
        model, meta = load_model(view, variant)
    task = make_task(view, meta or {})
    s = task.sample(view.batch, view.input_seed, split="eval")
    tr, pred = model.trace(s.x)  # no autograd: the fast path
    return Subject(view, variant, model, task, s, tr.detach(), pred, meta or {})


def picked(s):
    """The caption values of the subject (lstm_core.analysis.units.caption_values): the unit whose
    task.caption_field tracks the task's latent best, its r, the latent and the gate means.

    A cell without that field (the tasks name the LSTM's c; a GRU keeps its memory in h) is
    searched in its memory instead: then only the unit, r, field and latent are given, for a
    task's caption speaks of the LSTM's gates."""
    field = s.task.caption_field
    if field in s.trace.fields:
        return caption_values(s.task, s.trace, s.sample, s.view.layer)
    return memory_values(s.task, s.trace, s.sample, s.view.layer)


def memory_values(task, trace, sample, layer=0, direction=0):
    """{unit, r, field, latent}: the unit whose memory (the declaration's: c, or a GRU's h) tracks a
    latent of task.captions best, by |r| (lstm_core.analysis.units.rank_units)."""
    field = trace.declaration.memory
    best, latent = max(((rank_units(trace, sample.latents[name], fields=(field,), layer=layer, direction=direction,
                                    top=1)[0], name) for name in task.captions), key=lambda pair: abs(pair[0].r))
    return {"unit": best.unit, "r": best.r, "field": field, "latent": latent}


def slide_unit(view, s):
    """The slide's unit: the view's, or the one the data pick."""
    return view.unit if view.unit is not None else picked(s)["unit"]


def slide_step(view, s):
    """The slide's step: the view's, or for the recall task the first sequence's store step, else 0."""
    if view.step is not None:
        return view.step
    store = s.sample.latents.get("store")
    if store is not None and bool(store[:, view.sequence].any()):
        return int(store[:, view.sequence].argmax())
    return 0


def where_mask(s, where):
    """(T, B) bool: every step ("all"), where latent >= 0.5 ("holding"), or below ("not_holding")."""
    everywhere = torch.ones_like(s.trace.mask)
    if where == "all":
        return everywhere
    negate = where.startswith("not_")
    name = where[4:] if negate else where
    return (s.sample.latents[name] >= 0.5) ^ negate


def clamped(s, clamp, unit, layer=0):
    """(trace, pred) of the subject's model with the view's clamp applied (lstm_core.Clamp)."""
    T = s.trace.T
    stop = T - 1 if clamp.stop is None else min(clamp.stop, T - 1)
    k = lstm_core.Clamp(clamp.gate, clamp.value, units=list(clamp.units or (unit,)), steps=range(clamp.start, stop + 1),
                        layer=layer)
    with torch.no_grad():
        tr = s.model.lstm.trace(s.sample.x, interventions=[k])
        return tr.detach(), s.model.head(tr.output)


@dataclass(frozen=True)
class ClaimResult:
    claim: object  # lessons.Claim
    ok: bool
    measured: float
    text: str  # for people: what was measured against what was claimed


def _holds(x, c):
    if c.approx is not None:
        return abs(x - c.approx) <= c.tol, f"{x:.4g} (claimed {c.approx:g} ± {c.tol:g})"
    ok = {">": x > c.value, "<": x < c.value, ">=": x >= c.value, "<=": x <= c.value}[c.op]
    return ok, f"{x:.4g} (claimed {c.op} {c.value:g})"


def check_claim(c, s, unit, step, view=None):
    """The ClaimResult of claim c on subject s; unit, step and view (default s.view): the slide's."""
    view = view or s.view
    u = unit if c.unit is None else c.unit
    tr, L = s.trace, view.layer
    if c.kind == "tracks":
        scores = rank_units(tr, s.sample.latents[c.latent], fields=(c.field,), layer=L, top=None)
        r = next(x.r for x in scores if x.unit == u)
        ok = abs(r) >= c.min_r and (not c.best or scores[0].unit == u)
        best = f", the best of {len(scores)} units" if scores[0].unit == u else \
            f"; the best is unit {scores[0].unit} (r = {scores[0].r:+.3f})"
        return ClaimResult(c, ok, r, f"{c.field}[{u}] tracks {c.latent}: r = {r:+.3f} (claimed |r| ≥ {c.min_r:g}"
                                     f"{' and the best' if c.best else ''}){best}")
    if c.kind == "mean":
        x = unit_mean(tr, c.field, u, where_mask(s, c.where), L)
        what = f"mean {c.field}[{u}]" + ("" if c.where == "all" else f" where {c.where.replace('not_', 'not ')}")
    elif c.kind == "at":
        t = step if c.step is None else c.step
        x = float(tr.get(c.field, L)[t, view.sequence, u])
        what = f"{c.field}[{u}] at step {t} of sequence {view.sequence}"
    elif c.kind == "time_constant":
        x = time_constants(tr, L)[u]
        keep = keep_gate(tr.declaration) or "keep gate"
        what = f"time constant 1/(1 − mean {keep}) of unit {u}, in steps"
    elif c.kind == "metric":
        x, what = s.metric, f"{s.task.metric_name} (baseline {s.baseline:.4g})"
    elif c.kind == "baseline":
        x, what = s.baseline, f"{s.task.metric_name} of the baseline, {s.task.baseline_name}"
    else:  # what_if
        _, pred = clamped(s, view.clamp, u, L)
        x = s.task.metric(pred, s.sample)
        k = view.clamp
        what = f"{s.task.metric_name} with {k.gate} of unit(s) {list(k.units or (u,))} clamped to {k.value:g} " \
               f"(unclamped {s.metric:.4g})"
    if not math.isfinite(x):
        return ClaimResult(c, False, x, f"{what}: no value (no such steps in this sample)")
    ok, shown = _holds(x, c)
    return ClaimResult(c, ok, x, f"{what} = {shown}")


def check_claims(slide, subjects=None):
    """Every claim of a slide checked on its trace(s): a list of ClaimResult.

    subjects: a dict {subject_key: Subject} of those already computed (a cache); the missing
    ones are computed and added to it.
    """
    v, subjects = slide.view, {} if subjects is None else subjects
    out = []
    for c in slide.claims:
        key = subject_key(v, c.variant or None)
        if key not in subjects:
            subjects[key] = subject(v, c.variant or None)
        s = subjects[key]
        out.append(check_claim(c, s, slide_unit(v, s) if not v.variants else picked(s)["unit"], slide_step(v, s), v))
    return out


# --- the captions of the Explore pages, checked like the lessons' claims (issue 21) ------------------

CAPTION_MIN_R = 0.4  # |r| below this is no "tracks": of the shipped char models, no quote cell passed 0.31
CAPTION_MIN_GAP = 0.25  # a caption's "A on X and B elsewhere": |A - B| at least this x the unit's std,
CAPTION_MIN_DIFF = 0.1  # and at least this: a random model's input gate "opens" at 0.53 against 0.48


def caption_checks(task, trace, values, layer=0, direction=0):
    """[(ok, sentence)]: what a caption of task.captions claims with `values` (lstm_core.analysis.units.
    caption_values), checked on the trace: the unit tracks its latent (|r| >= CAPTION_MIN_R), and each
    pair {F_X} / {F_not_X} of its tracked field F in and out of its latent X differs in the direction
    of r, by CAPTION_MIN_GAP of the unit's std and by CAPTION_MIN_DIFF. The shipped coupled char
    model's caption read "-0.28 on indented lines and -0.29 at the margin": r = -0.82 with the
    count of spaces, and no difference between the two."""
    unit, r, field, latent = values["unit"], values["r"], values["field"], values["latent"]
    out = [(abs(r) >= CAPTION_MIN_R,
            f"{field}[{unit}]'s r with {latent} is {r:+.2f} (needed: |r| ≥ {CAPTION_MIN_R:g})")]
    keys = {k for _, k, _, _ in string.Formatter().parse(task.captions[latent]) if k}
    if f"{field}_{latent}" in keys and f"{field}_not_{latent}" in keys:
        a, b = values[f"{field}_{latent}"], values[f"{field}_not_{latent}"]
        v = trace.get(field, layer, direction)[..., unit][trace.mask].double()
        std = float(v.std()) if v.numel() > 1 else 0.0
        need = max(CAPTION_MIN_GAP * std, CAPTION_MIN_DIFF)
        ok = math.isfinite(a - b) and (a - b) * r > 0 and abs(a - b) >= need
        out.append((ok, f"{field}[{unit}] is {a:+.2f} with {latent} and {b:+.2f} without, a difference of "
                        f"{a - b:+.2f} (needed: {'+' if r > 0 else '-'}{need:.2g} or more, the sign of r, "
                        f"{CAPTION_MIN_GAP:g} x its std {std:.2f} and at least {CAPTION_MIN_DIFF:g})"))
    return out


def checked_caption(task, trace, sample, layer=0, direction=0):
    """(text, values) of the caption the trace supports: of task.captions, the one whose unit tracks
    its latent best among those whose checks hold (caption_checks). Where none holds, a sentence
    that says so and names the closest unit; values["holds"] says which, values["checks"] why."""
    if task.caption_field not in trace.fields:  # the tasks' captions speak of an LSTM's c and gates
        return memory_caption(task, trace, sample, layer, direction)
    tried, first = list(task.captions), None
    while tried:
        values = caption_values(task, trace, sample, layer, direction, latents=tried)
        checks = caption_checks(task, trace, values, layer, direction)
        first = first or (values, checks)
        if all(ok for ok, _ in checks):
            return task.captions[values["latent"]].format(**values), {**values, "holds": True, "checks": checks}
        tried.remove(values["latent"])
    return _none_holds(task, *first)


def _none_holds(task, values, checks):
    why = "; ".join(text for ok, text in checks if not ok)
    return (f"No unit's {values['field']} clearly tracks {', '.join(task.captions)} on this sample. The closest is "
            f"unit {values['unit']} with {values['latent']}, but {why}. The Unit finder ranks every unit.",
            {**values, "holds": False, "checks": checks})


def memory_caption(task, trace, sample, layer=0, direction=0):
    """checked_caption for a cell without the field the task's captions look in (a GRU, whose memory
    is h): the unit whose memory tracks a latent of the captions best, checked like a caption
    (|r| >= CAPTION_MIN_R), and how much of it its keep gate keeps a step on average."""
    d = trace.declaration
    values = memory_values(task, trace, sample, layer, direction)
    unit, r, field, latent = (values[k] for k in ("unit", "r", "field", "latent"))
    checks = caption_checks(task, trace, values, layer, direction)
    if not all(ok for ok, _ in checks):
        return _none_holds(task, values, checks)
    text = (f"Unit {unit}'s {field} tracks {latent} best (r = {r:+.2f}): a {d.title} keeps its memory in "
            f"{field}.")
    keep = keep_gate(d)
    if keep is not None:
        mean = unit_mean(trace, keep, unit, torch.ones_like(trace.mask), layer, direction)
        text += f" Its {keep} ({d.field(keep).title}) keeps {mean:.0%} of {field} a step, on average."
    return text, {**values, "holds": True, "checks": checks}
